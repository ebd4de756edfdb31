// SPDX-License-Identifier: GPL-2.0

//! Receive: UDP `encap_rcv`, message dispatch, data decryption and delivery (the C receive.c).
//!
//! Handshake messages are queued for the device's handshake worker (bounded); data messages are matched to their
//! keypair here in softirq and admitted to the pipeline (`queueing.rs`): the crypt workers of all CPUs open them
//! ([`decrypt`]), and the peer's receive consumer checks them in arrival order against the replay window and the
//! peer's allowed IPs and hands them to the stack.

use crate::device::{Device, MAX_QUEUED_INCOMING_HANDSHAKES};
use crate::index::Keypair;
use crate::peer::Peer;
use crate::queueing::{clock, Done, Job, CONSUMER_BUDGET};
use crate::proto::{
    addr::{IpAddr, SocketAddr},
    crypto::TAG_LEN,
    express::EXPRESS_MAX_LEN,
    messages::{self, DataHeader, DATA_HEADER_LEN},
};
use crate::{allowedips, send, timers};
use core::sync::atomic::Ordering;
use kernel::{
    crypto::chacha20poly1305,
    net::skbuff::{DropReason, InetAddr, SkBuff, SkBuffRef, ETH_P_IP, ETH_P_IPV6},
    net::napi::{NapiPoll, PollContext},
    prelude::*,
    sync::{rcu, Arc},
    workqueue::WorkItem,
};

/// Where a received datagram came from, and where it was sent to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Source {
    /// The sender's address and port: where replies go, what cookies are bound to.
    pub(crate) from: SocketAddr,
    /// The local address it was sent to: the source address for replies.
    pub(crate) local: IpAddr,
    /// The interface to reach an IPv6 link-local sender through, 0 otherwise.
    pub(crate) scope_id: u32,
    /// The interface it arrived on (the interface `local` belongs to), 0 if unknown.
    pub(crate) iif: i32,
}

/// Returns where a received datagram came from, read from its outer IP and UDP headers (which lie in front of the
/// data pointer in the receive path), or `None` if they cannot be read.
pub(crate) fn source(skb: &SkBuffRef) -> Option<Source> {
    let a = skb.udp_addrs()?;
    let addr = |x: InetAddr| match x {
        InetAddr::V4(v) => IpAddr::V4(v),
        InetAddr::V6(v) => IpAddr::V6(v),
    };
    Some(Source {
        from: SocketAddr {
            addr: addr(a.saddr),
            port: a.sport,
        },
        local: addr(a.daddr),
        scope_id: a.scope_id(),
        iif: a.iif,
    })
}

/// Entry from the UDP socket, with data at the UDP header. Softirq, under RCU.
pub(crate) fn receive(wg: &Arc<Device>, mut skb: SkBuff) {
    if skb.pull(8).is_err() || skb.may_pull(4).is_err() {
        return drop_rx(wg, skb, DropReason::PKT_TOO_SMALL);
    }
    let d = skb.data();
    let ty = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
    let len = skb.len();
    match ty {
        messages::MESSAGE_HANDSHAKE_INITIATION
        | messages::MESSAGE_HANDSHAKE_RESPONSE
        | messages::MESSAGE_HANDSHAKE_COOKIE => {
            let want = match ty {
                messages::MESSAGE_HANDSHAKE_INITIATION => messages::INITIATION_LEN,
                messages::MESSAGE_HANDSHAKE_RESPONSE => messages::RESPONSE_LEN,
                _ => messages::COOKIE_REPLY_LEN,
            };
            crate::wg_debug_ratelimited!(wg, "Receiving handshake message type {} ({} bytes)", ty, len);
            if len != want {
                return drop_rx(wg, skb, DropReason::NOT_SPECIFIED);
            }
            if wg.incoming_handshakes.len() >= MAX_QUEUED_INCOMING_HANDSHAKES {
                return drop_rx(wg, skb, DropReason::FULL_RING);
            }
            wg.incoming_handshakes.enqueue(skb);
            let _ = wg.queue_work(wg.clone());
        }
        messages::MESSAGE_DATA if len >= messages::MESSAGE_MINIMUM_LENGTH => receive_data(wg, skb),
        _ => {
            crate::wg_debug_ratelimited!(wg, "Invalid packet type {} ({} bytes)", ty, len);
            drop_rx(wg, skb, DropReason::UNHANDLED_PROTO)
        }
    }
}

fn drop_rx(wg: &Device, skb: SkBuff, reason: DropReason) {
    wg.stats.rx_dropped.fetch_add(1, Ordering::Relaxed);
    skb.drop_reason(reason);
}

/// Drops an authenticated packet whose inner packet is not an IP packet, or whose source is not among its peer's
/// allowed IPs: a receive error (`rx_frame_errors`), as in the C driver.
fn rx_frame_error(wg: &Device, skb: SkBuff) {
    wg.stats.rx_errors.fetch_add(1, Ordering::Relaxed);
    wg.stats.rx_frame_errors.fetch_add(1, Ordering::Relaxed);
    skb.drop_reason(DropReason::UNHANDLED_PROTO);
}

/// Drops an authenticated packet whose inner packet's length is wrong: a receive error (`rx_length_errors`).
fn rx_length_error(wg: &Device, skb: SkBuff) {
    wg.stats.rx_errors.fetch_add(1, Ordering::Relaxed);
    wg.stats.rx_length_errors.fetch_add(1, Ordering::Relaxed);
    skb.drop_reason(DropReason::PKT_TOO_SMALL);
}

/// Finds the keypair a data message is for.
fn lookup_keypair(wg: &Device, index: u32) -> Option<(Arc<Peer>, Arc<Keypair>)> {
    let e = wg.index.lookup(index)?;
    Some((e.peer, e.keypair?))
}

/// Authenticates, decrypts and delivers a data message (`wg_packet_decrypt_worker` + `wg_packet_rx_poll`).
fn receive_data(wg: &Arc<Device>, mut skb: SkBuff) {
    if skb.may_pull(DATA_HEADER_LEN).is_err() {
        return drop_rx(wg, skb, DropReason::PKT_TOO_SMALL);
    }
    let d = skb.data();
    let hdr = DataHeader {
        receiver_index: u32::from_le_bytes([d[4], d[5], d[6], d[7]]),
        counter: u64::from_le_bytes([d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]]),
    };
    receive_with(wg, skb, hdr)
}

/// Whether the receive pipeline drops by CoDel (`aqm::Codel`; off, see `receive_with`).
const AQM_DROPS: bool = false;

/// Admits a data message to the pipeline: a slot in its peer's receive ring and a job for the crypt workers.
fn receive_with(wg: &Arc<Device>, skb: SkBuff, hdr: DataHeader) {
    let Some((peer, kp)) = lookup_keypair(wg, hdr.receiver_index) else {
        return drop_rx(wg, skb, DropReason::NOT_SPECIFIED);
    };
    let max = kp.replay.lock().max();
    if !kp.kp.can_receive(timers::now(), max) {
        return drop_rx(wg, skb, DropReason::NOT_SPECIFIED);
    }
    let now = clock();
    // Small messages may be opened here (`proto::express`): in order among the messages of their length class (the
    // key), while the delivery queue has room and the keypair needs no confirmation: promoting it takes the index
    // table's mutex, so only the consumer (process context) does it. A keypair that is not `next` now does not become
    // it later: an initiator only has its keys from our response, which we send after installing the keypair as `next`.
    let small = skb.len() <= EXPRESS_MAX_WIRE_LEN && crate::express_enabled();
    let key = rx_express_key(skb.len());
    if small && peer.deliver.len() < MAX_DELIVER && !is_next(&peer, &kp) && peer.rx_ring.lock().may_express(key, now) {
        return express(wg, &peer, kp, skb, hdr.counter);
    }
    let mut head_failed = false;
    let refused = {
        let mut ring = peer.rx_ring.lock();
        let mut jobs = wg.crypt_rx.lock();
        // CoDel's drops (`ring.codel.drop_on_admit`) are off: measured, they did not shorten the small flow's RTT
        // (the sojourn is mostly the work items' scheduling, not a standing queue), and under a loaded host they
        // cost a bulk transfer over 1% of its packets. The sojourn is still measured (`OrderRing::pop`).
        if !jobs.has_room() || (AQM_DROPS && ring.codel.drop_on_admit(now, skb.len())) {
            Some(skb)
        } else {
            match ring.reserve(skb.len(), now) {
                None => Some(skb),
                Some(seq) => {
                    if small {
                        // Later small messages of its length class wait for this one (they may be of its flow).
                        ring.express_admitted(key, seq, now);
                    }
                    let job = Job {
                        peer: peer.clone(),
                        keypair: kp,
                        skb,
                        seq,
                        mtu: 0,
                        nonce: hdr.counter,
                    };
                    match jobs.push(job) {
                        Ok(()) => None,
                        Err(job) => {
                            // Not reached (room was checked under this lock). Were it, the slot fails, and if it is
                            // the head the consumer must be told, or the ring would never move again.
                            head_failed = matches!(ring.complete(seq, None), Ok(true));
                            Some(job.skb)
                        }
                    }
                }
            }
        }
    };
    if head_failed {
        peer.kick_rx();
    }
    match refused {
        Some(skb) => drop_rx(wg, skb, DropReason::FULL_RING),
        None => wg.kick_crypt(1),
    }
}

/// The largest data message the express lane opens: a header, [`EXPRESS_MAX_LEN`] bytes and the tag.
const EXPRESS_MAX_WIRE_LEN: usize = DATA_HEADER_LEN + EXPRESS_MAX_LEN + TAG_LEN;

/// The receive express lane's key of a data message of `wire_len` bytes: its padded length class (plaintexts are
/// padded to 16 bytes, so 17 classes up to [`EXPRESS_MAX_LEN`]).
///
/// Inner flows are unknown before opening. With one key per peer, a dense stream of small packets (the TCP
/// acknowledgements of a bulk transfer the other way, thousands per second) used up the key's rate and kept it in
/// the pipeline, and a voice packet behind them waited there too. Packets of different lengths are mostly of
/// different flows; within a flow only small packets of different lengths can swap (one taking the pipeline, a later
/// one of another length the express lane), which TCP and datagram protocols tolerate.
fn rx_express_key(wire_len: usize) -> u32 {
    (wire_len.saturating_sub(DATA_HEADER_LEN + TAG_LEN) / 16) as u32
}

/// Whether `kp` is the peer's unconfirmed "next" keypair (its first packet promotes it, in process context).
fn is_next(peer: &Peer, kp: &Arc<Keypair>) -> bool {
    peer.keypairs.lock().next.as_ref().is_some_and(|n| Arc::ptr_eq(n, kp))
}

/// The receive express lane: opens a small message in softirq and delivers it through the peer's NAPI context at
/// once, instead of through the crypt workers and the receive consumer.
fn express(wg: &Arc<Device>, peer: &Arc<Peer>, kp: Arc<Keypair>, mut skb: SkBuff, nonce: u64) {
    let sealed = skb.len().saturating_sub(DATA_HEADER_LEN);
    if chacha20poly1305::decrypt_skb(&mut skb, DATA_HEADER_LEN, sealed, nonce, kp.kp.receiving_key()).is_err() {
        return drop_rx(wg, skb, DropReason::NOT_SPECIFIED);
    }
    consume_data(peer, &kp, skb);
    if !peer.deliver.is_empty() {
        let _bh = rcu::read_lock_bh();
        peer.napi.schedule();
    }
}

/// Opens a job's packet and puts it back into its peer's ring (crypt worker, any CPU).
pub(crate) fn decrypt(job: Job) {
    let Job {
        peer,
        keypair,
        mut skb,
        seq,
        nonce,
        ..
    } = job;
    let sealed = skb.len().saturating_sub(DATA_HEADER_LEN);
    let opened = peer.alive()
        && chacha20poly1305::decrypt_skb(&mut skb, DATA_HEADER_LEN, sealed, nonce, keypair.kp.receiving_key()).is_ok();
    let done = if opened {
        Some((skb, keypair))
    } else {
        // Not authentic (or the peer went away): dropped, not an interface error (as in the C driver).
        drop_rx(&peer.device, skb, DropReason::NOT_SPECIFIED);
        None
    };
    let r = peer.rx_ring.lock().complete(seq, done);
    match r {
        Ok(true) => peer.kick_rx(),
        Ok(false) => {}
        Err(done) => drop(done),
    }
}

/// Checked packets a peer may have waiting for its NAPI poll. While that many wait, the receive consumer leaves the
/// opened packets in the ring, which then fills, and further packets are dropped at admission (the C driver's
/// bound on its per-peer receive queue, which its poll empties, covers both).
pub(crate) const MAX_DELIVER: usize = crate::queueing::PEER_RING;

/// A consumer parked on a full delivery queue is woken by the poll that takes the queue below this.
const RESUME_DELIVER: usize = MAX_DELIVER / 2;

/// The receive consumer (the C `wg_packet_rx_poll`): takes the peer's opened packets in order, on its serial CPU.
fn receive_in_order(peer: &Arc<Peer>) {
    let mut done = 0;
    let mut full = false;
    while done < CONSUMER_BUDGET {
        if peer.deliver.len() >= MAX_DELIVER {
            full = true;
            break;
        }
        let d = peer.rx_ring.lock().pop(clock());
        let Some(d) = d else { break };
        done += 1;
        if let Done::Packet(skb, kp) = d {
            consume_data(peer, &kp, skb);
        }
    }
    if !peer.deliver.is_empty() {
        // With bottom halves off, the poll runs on this CPU as soon as they are on again.
        let _bh = rcu::read_lock_bh();
        peer.napi.schedule();
    }
    if full {
        // The poll wakes the consumer once it has made room (requeueing here until then would spin against the
        // poll, which may be left to ksoftirqd, on the same CPU).
        if !park_rx(peer) {
            peer.kick_rx();
        }
    } else if done == CONSUMER_BUDGET {
        // More may be ready: yield (to the poll, too), then continue.
        peer.kick_rx();
    }
}

/// Parks the receive consumer of `peer` until its poll has taken the delivery queue below [`RESUME_DELIVER`].
/// Returns `false` if the queue already is below (the caller continues), `true` if parked or the peer is dead.
///
/// No lost wakeup: the poll dequeues before it looks at `rx_parked`, under that lock, and the check here is made
/// under the same lock. No cycle left behind: a dead peer is not parked (checked under the lock), and `remove`,
/// having marked the peer dead, takes what was parked before.
fn park_rx(peer: &Arc<Peer>) -> bool {
    let mut parked = peer.rx_parked.lock();
    if !peer.alive() {
        return true;
    }
    if peer.deliver.len() < RESUME_DELIVER {
        return false;
    }
    *parked = Some(peer.clone());
    true
}

impl WorkItem<4> for Peer {
    type Pointer = Arc<Peer>;

    fn run(this: Arc<Peer>) {
        receive_in_order(&this);
    }
}

/// Checks an authenticated packet against the replay window, learns from it and delivers it
/// (`wg_packet_consume_data_done`).
fn consume_data(peer: &Arc<Peer>, kp: &Arc<Keypair>, skb: SkBuff) {
    let wg = &peer.device;
    if !peer.alive() {
        return drop_rx(wg, skb, DropReason::NOT_SPECIFIED);
    }
    let d = skb.data();
    let wire_len = skb.len();
    // Admission checked the minimum length (header and tag).
    let (Some(hdr), Some(plain)) = (d.get(..DATA_HEADER_LEN), wire_len.checked_sub(DATA_HEADER_LEN + TAG_LEN)) else {
        return drop_rx(wg, skb, DropReason::PKT_TOO_SMALL);
    };
    let counter = u64::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15]]);
    if !kp.replay.lock().validate(counter) {
        // A replayed or too old counter: dropped, not an interface error (as in the C driver).
        return drop_rx(wg, skb, DropReason::NOT_SPECIFIED);
    }
    // The outer headers are still in front of the data: decryption works in place.
    let src = source(&skb);
    // Its ECN bits go to the inner packet (the C `PACKET_CB(skb)->ds`, read in `wg_packet_receive`).
    let outer_ds = skb.network_dsfield().unwrap_or(0);
    let mut skb = skb;
    if skb.pull(DATA_HEADER_LEN).is_err() || skb.trim(plain).is_err() {
        return drop_rx(wg, skb, DropReason::NOMEM);
    }
    // Authenticated: roam to where it came from, confirm a responder's new session, feed the timers.
    if let Some(src) = src {
        if peer.learn_endpoint(&src) {
            crate::config::notify(|h| h.endpoint_changed, wg, peer);
        }
    }
    let now = timers::now();
    let stale = confirm_keypair(wg, peer, kp, now);
    let keepalive = skb.is_empty();
    let rekey = {
        let mut t = peer.timers.lock();
        t.any_authenticated_packet_received();
        t.any_authenticated_packet_traversal(now);
        if !keepalive {
            // Whatever the inner packet turns out to be, as in the C driver.
            t.data_received(now);
        }
        let r = stale && !t.sent_lastminute_handshake();
        if r {
            t.set_sent_lastminute_handshake();
        }
        crate::timers::rearm(peer, &t);
        r
    };
    if rekey {
        send::queue_initiation(peer, false);
    }
    if keepalive {
        peer.rx_stats(wire_len);
        skb.consume();
        return;
    }
    deliver(wg, peer, skb, wire_len, outer_ds);
}

/// Promotes `kp` if it is the peer's "next" keypair (the responder's first data on a new session). Returns whether
/// the current keypair is one we initiated that expires soon, so that a last-minute handshake is due (the C
/// `keep_key_fresh`, which judges the keypair we send with, not the one the packet came with).
fn confirm_keypair(wg: &Device, peer: &Arc<Peer>, kp: &Arc<Keypair>, now: u64) -> bool {
    let (released, stale) = {
        let mut k = peer.keypairs.lock();
        let released = k.received_with(|k| Arc::ptr_eq(k, kp));
        let stale = k
            .current
            .as_ref()
            .is_some_and(|c| c.sending_valid.load(Ordering::Relaxed) && c.kp.wants_rekey_on_receive(now));
        (released, stale)
    };
    let Some(released) = released else {
        return stale;
    };
    {
        let mut idx = wg.index.lock();
        for k in released.keypairs.iter().flatten() {
            k.sending_valid.store(false, Ordering::Relaxed);
            drop(idx.remove(k.kp.local_index));
        }
    }
    drop(released);
    crate::handshake::handshake_done(peer);
    send::send_staged(peer);
    stale
}

/// Checks the inner packet and hands it to the stack; `wire_len` is the length of the data message it came in,
/// `outer_ds` the DS field of the outer IP header.
fn deliver(wg: &Arc<Device>, peer: &Arc<Peer>, mut skb: SkBuff, wire_len: usize, outer_ds: u8) {
    let len = skb.len();
    if skb.may_pull(1).is_err() {
        return rx_length_error(wg, skb);
    }
    let (proto, hlen) = match skb.data()[0] >> 4 {
        4 => (ETH_P_IP, 20),
        6 => (ETH_P_IPV6, 40),
        _ => return rx_frame_error(wg, skb),
    };
    if skb.may_pull(hlen).is_err() {
        return rx_length_error(wg, skb);
    }
    let d = skb.data();
    let (src, total) = if proto == ETH_P_IP {
        (IpAddr::V4([d[12], d[13], d[14], d[15]]), usize::from(u16::from_be_bytes([d[2], d[3]])))
    } else {
        let mut a = [0u8; 16];
        a.copy_from_slice(&d[8..24]);
        (IpAddr::V6(a), usize::from(u16::from_be_bytes([d[4], d[5]])) + 40)
    };
    if total < hlen || total > len || skb.trim(total).is_err() {
        return rx_length_error(wg, skb);
    }
    let routed = {
        let g = rcu::read_lock();
        allowedips::lookup(wg, &g, &src)
    };
    if !routed.is_some_and(|p| Arc::ptr_eq(&p, peer)) {
        // "Packet has unallowed src IP".
        return rx_frame_error(wg, skb);
    }
    // A new packet, as the C `wg_reset_packet(skb, false)` makes it: nothing of the outer packet's handling carries
    // over, in particular not its mark (wg-quick restores the connection mark onto incoming UDP; an inner packet
    // keeping it would be routed by the rules for the tunnel's own traffic, and fail a strict reverse-path check) or
    // its flow hash (the outer UDP flow's, the same for all inner flows of the peer).
    skb.scrub_packet(true);
    skb.clear_hash();
    skb.set_protocol(proto);
    skb.reset_mac_header();
    skb.reset_network_header();
    skb.reset_transport_header();
    // RFC 6040 decapsulation (`INET_ECN_decapsulate`): a CE mark on the outer header carries over to an ECN-capable
    // inner packet. Like the C driver, a CE outer over a Not-ECT inner packet is not dropped (the result is ignored).
    let _ = skb.ecn_decapsulate(outer_ds);
    skb.set_csum_unnecessary();
    let Some(dev) = wg.netdev() else {
        return drop_rx(wg, skb, DropReason::DEV_READY);
    };
    dev.set_skb_dev(&mut skb);
    // Only packets handed on count as received, and keepalives (the C `update_rx_stats`), not dishonest ones.
    peer.rx_stats(wire_len);
    // To GRO through the peer's NAPI context, scheduled when the consumer pass ends.
    peer.deliver.enqueue(skb);
}

impl NapiPoll for Peer {
    /// Hands the peer's checked packets to GRO, in order (the delivery half of the C `wg_packet_rx_poll`).
    fn poll(this: Pin<&Self>, ctx: &mut PollContext<'_, Self>, budget: i32) -> i32 {
        if budget <= 0 {
            // netpoll (netconsole) polls with no budget, possibly with interrupts off: no packets, no locks, and
            // not complete (as the C driver).
            return 0;
        }
        let mut n = 0;
        while n < budget {
            let Some(skb) = this.deliver.dequeue() else {
                break;
            };
            ctx.gro_receive(skb);
            n += 1;
        }
        if this.deliver.len() < RESUME_DELIVER {
            // Room again: wake the consumer if it waits for that (see `park_rx`).
            let parked = this.rx_parked.lock().take();
            if let Some(peer) = parked {
                peer.kick_rx();
            }
        }
        if n < budget {
            ctx.complete_done(n);
        }
        n
    }
}
