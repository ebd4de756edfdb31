// SPDX-License-Identifier: GPL-2.0

//! Handshake glue: creating and consuming handshake messages with `proto::noise` and `proto::cookie`, in process
//! context (the C `wg_packet_handshake_receive_worker` and the handshake halves of send.c).
//!
//! Locks, in order: `Device::cfg` (peer lookup only, released before the next), `Device::identity` (with
//! `Device::ratelimiter` inside it, for mac2 checks), `Peer::handshake`, `Device::index` (a mutex: the table's
//! writers are all in process context). The BH spinlocks (`Peer::keypairs`, `Peer::timers`, `Peer::endpoint`) come
//! last and are never held while taking any of these. `Device::under_load` is taken alone.

use crate::device::Device;
use crate::index::{Entry, Keypair};
use crate::peer::{LiveHandshake, Peer};
use crate::receive::Source;
use crate::proto::{
    cookie::MacState,
    messages::{self, CookieReply, Initiation, Response},
    noise,
};
use crate::{config, send, socket, timers};
use core::sync::atomic::Ordering;
use kernel::{
    crypto::{get_random_bytes, memzero_explicit},
    net::skbuff::SkBuff,
    prelude::*,
    sync::Arc,
    time::ktime_get_real_ts64,
    workqueue::WorkItem,
};

/// Handshake messages are dropped or answered with cookies once this many wait (the C "under load" threshold).
const UNDER_LOAD: usize = crate::device::MAX_QUEUED_INCOMING_HANDSHAKES / 8;

/// Handshake messages the worker processes before it queues itself again: a flood then does not keep one work item
/// running for as long as messages arrive (the C worker calls `cond_resched()` after each message; on a kernel
/// without preemption a loop without it stalls its CPU).
const HANDSHAKE_BUDGET: usize = 64;

fn timestamp() -> [u8; messages::TIMESTAMP_LEN] {
    let (s, ns) = ktime_get_real_ts64();
    noise::tai64n(s as u64, ns as u32)
}

fn random_secret() -> [u8; 32] {
    let mut k = [0u8; 32];
    get_random_bytes(&mut k);
    k
}

/// Creates an initiation to `peer` with MACs, registering a fresh index for it. Fails with `ENOENT` once the peer
/// was removed.
pub(crate) fn create_initiation(peer: &Arc<Peer>) -> Result<[u8; messages::INITIATION_LEN]> {
    let wg = &peer.device;
    let id = wg.identity.lock();
    let identity = id.identity.as_ref().ok_or(EINVAL)?;
    let mut hs = peer.handshake_live().ok_or(ENOENT)?;
    let idx = wg.index.lock().insert_new(Entry::new(&hs, None))?;
    let mut eph = random_secret();
    let mut out = [0u8; messages::INITIATION_LEN];
    let old = hs.hs.local_index();
    let r = hs.hs.create_initiation(identity, &eph, &timestamp(), idx, &mut out);
    memzero_explicit(&mut eph);
    let stale = if r.is_ok() { old } else { Some(idx) };
    let gone = stale.and_then(|i| wg.index.lock().remove(i));
    drop(gone);
    r.map_err(|_| EINVAL)?;
    hs.cookie.add_macs(&mut out, timers::now()).map_err(|_| EINVAL)?;
    Ok(out)
}

/// The outer DS field of handshake messages (AF41, the C `HANDSHAKE_DSCP`).
const HANDSHAKE_DSCP: u8 = 0x88;

/// Sends a handshake message to `peer`'s endpoint.
pub(crate) fn send_buffer(peer: &Peer, msg: &[u8]) -> Result {
    socket::send_to_peer(peer, buffer_skb(msg)?, HANDSHAKE_DSCP)
}

/// Copies a handshake message into a new skb with headroom for IPv6 and UDP headers.
fn buffer_skb(msg: &[u8]) -> Result<SkBuff> {
    const HEAD: usize = 40 + 8 + 16;
    let mut skb = SkBuff::alloc(HEAD + msg.len(), GFP_KERNEL)?;
    skb.reserve(HEAD)?;
    // Copied bytewise: `copy_from_slice` keeps a length-mismatch panic the compiler cannot rule out (the length of
    // `put`'s slice is not visible to it), and objtool does not know that panic as noreturn.
    for (d, s) in skb.put(msg.len())?.iter_mut().zip(msg) {
        *d = *s;
    }
    Ok(skb)
}

/// Records a completed handshake: timers, wall-clock time, notification.
pub(crate) fn handshake_done(peer: &Arc<Peer>) {
    if !peer.alive() {
        return;
    }
    timers::event(peer, |t| t.handshake_complete());
    *peer.last_handshake.lock() = ktime_get_real_ts64();
    config::notify(|h| h.handshake_complete, &peer.device, peer);
}

/// Installs a new session's keypair: index entry, rotation, unregistering what rotation released.
///
/// Runs within the `LiveHandshake` in which the session began, so the peer cannot be removed in between: the
/// handshake's index, which the keypair takes over, is always named by the handshake or the keypair when removal
/// clears them (see `peer::remove`).
fn install_keypair(
    wg: &Device,
    hs: &LiveHandshake<'_>,
    kp: noise::Keypair<crate::crypto::KernelCrypto>,
) -> Result<Arc<Keypair>> {
    let peer = hs.peer();
    let initiator = kp.is_initiator;
    let index = kp.local_index;
    let kp = match Keypair::new(peer, kp) {
        Ok(k) => k,
        Err(e) => {
            // The session's index is named by nothing any more.
            drop(wg.index.lock().remove(index));
            return Err(e);
        }
    };
    let old_entry = wg.index.lock().replace(index, Entry::new(hs, Some(kp.clone())));
    if old_entry.is_none() {
        // No memory to repoint the index at the keypair: a session whose index finds no keypair could never
        // receive, so give it up like a failed allocation above (the next handshake makes a new one).
        drop(wg.index.lock().remove(index));
        return Err(ENOMEM);
    }
    drop(old_entry);
    let released = peer.keypairs.lock().add(kp.clone(), initiator);
    {
        let mut idx = wg.index.lock();
        for k in released.keypairs.iter().flatten() {
            k.sending_valid.store(false, Ordering::Relaxed);
            if k.kp.local_index != index {
                drop(idx.remove(k.kp.local_index));
            }
        }
    }
    drop(released);
    let now = timers::now();
    timers::event(peer, |t| t.session_derived(now));
    Ok(kp)
}

impl WorkItem<0> for Device {
    type Pointer = Arc<Device>;

    /// Processes queued handshake messages, at most [`HANDSHAKE_BUDGET`] of them per run.
    fn run(this: Arc<Device>) {
        for _ in 0..HANDSHAKE_BUDGET {
            let Some(skb) = this.incoming_handshakes.dequeue() else {
                return;
            };
            let now = timers::now();
            // The queue length counts this message too, as the C driver's `handshake_queue_len` does.
            let waiting = this.incoming_handshakes.len() + 1;
            let under_load = this.under_load.lock().update(waiting >= UNDER_LOAD, now);
            process(&this, skb, under_load, now);
        }
        if !this.incoming_handshakes.is_empty() {
            // Not queued once teardown took the workqueue; it drops what is left.
            let _ = this.queue_work(this.clone());
        }
    }
}

fn process(wg: &Arc<Device>, skb: SkBuff, under_load: bool, now: u64) {
    let mut skb = skb;
    // The UDP stack only hands us datagrams whose headers it parsed, so the source is always there.
    let Some(src) = crate::receive::source(&skb) else {
        return;
    };
    let len = skb.len();
    if skb.may_pull(len).is_err() {
        return;
    }
    let mut buf = [0u8; messages::INITIATION_LEN];
    let Some(msg) = buf.get_mut(..len) else { return };
    msg.copy_from_slice(&skb.data()[..len]);
    skb.consume();
    let msg = &buf[..len];
    let ty = u32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);

    if ty == messages::MESSAGE_HANDSHAKE_COOKIE {
        let Ok(reply) = CookieReply::parse(msg) else { return };
        let peer = wg.index.lookup(reply.receiver_index).map(|e| e.peer);
        if let Some(peer) = peer {
            let _ = peer.handshake.lock().cookie.consume_reply(&reply, now);
        }
        return;
    }

    let state = {
        let mut id = wg.identity.lock();
        // Under load cookies are computed (to check mac2, or for a reply): first rotate the secret if it is too
        // old, as the C `make_cookie` does before computing one.
        if under_load && id.cookie_checker.secret_expired(now) {
            let mut secret = random_secret();
            id.cookie_checker.rotate_secret(&secret, now);
            memzero_explicit(&mut secret);
        }
        id.cookie_checker.validate(msg, &src.from, under_load, || {
            let mut rl = wg.ratelimiter.lock();
            rl.gc_if_due(now);
            rl.allow(now, wg.ratelimit_scope, &src.from.addr)
        })
    };
    match state {
        MacState::InvalidMac => {
            crate::wg_debug_ratelimited!(wg, "Invalid MAC of handshake, dropping packet");
            return;
        }
        MacState::ValidMacWithCookieButRatelimited => return,
        MacState::ValidMacButNoCookie if under_load => {
            send_cookie_reply(wg, msg, &src);
            return;
        }
        _ => {}
    }

    let peer = match ty {
        messages::MESSAGE_HANDSHAKE_INITIATION => consume_initiation(wg, msg, now),
        messages::MESSAGE_HANDSHAKE_RESPONSE => consume_response(wg, msg, now),
        _ => None,
    };
    let Some(peer) = peer else {
        crate::wg_debug_ratelimited!(wg, "Invalid handshake message (type {}), dropping packet", ty);
        return;
    };
    peer.rx_stats(len);
    // Authenticated: answer (and later send) to where it came from.
    if peer.learn_endpoint(&src) {
        config::notify(|h| h.endpoint_changed, wg, &peer);
    }
    timers::event(&peer, |t| {
        t.any_authenticated_packet_received();
        t.any_authenticated_packet_traversal(now);
    });
    if ty == messages::MESSAGE_HANDSHAKE_INITIATION {
        send_response(wg, &peer);
    } else {
        handshake_done(&peer);
        // Sends staged packets, or a keepalive to confirm the session at once.
        send::send_keepalive(&peer);
    }
}

fn find_peer(wg: &Device, key: &[u8; 32]) -> Option<Arc<Peer>> {
    let c = wg.cfg.lock();
    c.peers.find_key(key).cloned()
}

fn consume_initiation(wg: &Device, msg: &[u8], now: u64) -> Option<Arc<Peer>> {
    let init = Initiation::parse(msg).ok()?;
    let cand = {
        let id = wg.identity.lock();
        noise::consume_initiation(id.identity.as_ref()?, &init).ok()?
    };
    let peer = find_peer(wg, cand.remote_static())?;
    let old = {
        let _id = wg.identity.lock();
        let mut hs = peer.handshake_live()?;
        let old = hs.hs.local_index();
        hs.hs.consume_initiation(cand, now).ok()?;
        old
    };
    // Our own initiation in flight is superseded: its index must go, or its entry (which holds the peer, which
    // holds the device) would stay in the table forever (the C handshake has one entry that moves instead).
    drop(old.and_then(|i| wg.index.lock().remove(i)));
    Some(peer)
}

fn consume_response(wg: &Device, msg: &[u8], now: u64) -> Option<Arc<Peer>> {
    let resp = Response::parse(msg).ok()?;
    let e = wg.index.lookup(resp.receiver_index)?;
    if e.keypair.is_some() {
        return None;
    }
    let peer = e.peer;
    {
        let id = wg.identity.lock();
        let mut hs = peer.handshake_live()?;
        hs.hs.consume_response(id.identity.as_ref()?, &resp).ok()?;
        let kp = hs.hs.begin_session(now).ok()?;
        install_keypair(wg, &hs, kp).ok()?;
    }
    Some(peer)
}

fn send_response(wg: &Device, peer: &Arc<Peer>) {
    let now = timers::now();
    let mut out = [0u8; messages::RESPONSE_LEN];
    {
        let _id = wg.identity.lock();
        let Some(mut hs) = peer.handshake_live() else {
            return;
        };
        let Ok(idx) = wg.index.lock().insert_new(Entry::new(&hs, None)) else {
            return;
        };
        let old = hs.hs.local_index();
        let mut eph = random_secret();
        let r = hs.hs.create_response(&eph, idx, &mut out);
        memzero_explicit(&mut eph);
        let stale = if r.is_ok() { old } else { Some(idx) };
        drop(stale.and_then(|i| wg.index.lock().remove(i)));
        if r.is_err() || hs.cookie.add_macs(&mut out, now).is_err() {
            return;
        }
        let Ok(kp) = hs.hs.begin_session(now) else {
            return;
        };
        if install_keypair(wg, &hs, kp).is_err() {
            return;
        }
    }
    timers::event(peer, |t| {
        t.any_authenticated_packet_traversal(now);
        t.any_authenticated_packet_sent();
        // A response counts as a handshake sent (the C `last_sent_handshake`): until the initiator's first data
        // confirms this session, our own staged packets find no current keypair, and without this they would send
        // an initiation of ours that crosses the exchange in progress and replaces its keys.
        t.handshake_sent(now);
    });
    let _ = send_buffer(peer, &out);
}

fn send_cookie_reply(wg: &Device, msg: &[u8], src: &Source) {
    let sender = u32::from_le_bytes([msg[4], msg[5], msg[6], msg[7]]);
    let mut nonce = [0u8; 24];
    get_random_bytes(&mut nonce);
    let mut out = [0u8; messages::COOKIE_REPLY_LEN];
    {
        let id = wg.identity.lock();
        if id.cookie_checker.create_reply(msg, sender, &src.from, &nonce, &mut out).is_err() {
            return;
        }
    }
    if let Ok(skb) = buffer_skb(&out) {
        let _ = socket::send_reply(wg, skb, src);
    }
}
