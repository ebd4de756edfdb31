// SPDX-License-Identifier: GPL-2.0

//! Transmit: cryptokey routing, staging, encryption and handshake initiation (the C send.c and `wg_xmit`).
//!
//! `ndo_start_xmit` finds the peer by the inner destination address, segments GSO super-packets and appends the
//! packets to the peer's staged queue, then [`send_staged`] drains it: with a usable current keypair each packet gets
//! the next nonce and a slot in the peer's transmit ring and goes to the crypt workers of all CPUs ([`encrypt`]:
//! padding, data header, sealed in place); the peer's transmit consumer sends them over UDP in ring order. Without a
//! keypair the packets stay staged and a handshake initiation is queued to process context. See `queueing.rs`.

use crate::device::{tx_drop, tx_error, Device};
use crate::index::Keypair;
use crate::peer::Peer;
use crate::queueing::{clock, Done, Job, CONSUMER_BUDGET};
use crate::proto::{
    addr::IpAddr,
    express::EXPRESS_MAX_LEN,
    messages::{self, DataHeader, DATA_HEADER_LEN, REJECT_AFTER_MESSAGES},
};
use crate::{allowedips, socket, timers};
use core::sync::atomic::Ordering;
use kernel::{
    crypto::chacha20poly1305,
    net::{
        dev::Device as NetDevice,
        skbuff::{DropReason, SkBuff, ETH_P_IP, ETH_P_IPV6},
        udp_tunnel::{self, TUNNEL_RECURSION_LIMIT},
    },
    prelude::*,
    sync::{rcu, Arc},
    workqueue::WorkItem,
};

/// Headroom we want in front of a sealed packet: data header, UDP, IPv6.
const SEND_HEADROOM: usize = DATA_HEADER_LEN + 8 + 40 + 16;

/// Reads the inner destination address of a packet (IPv4 or IPv6 header at `data`).
fn inner_dst(skb: &mut SkBuff) -> Option<IpAddr> {
    match skb.protocol() {
        ETH_P_IP => {
            skb.may_pull(20).ok()?;
            let d = skb.data();
            (d[0] >> 4 == 4).then(|| IpAddr::V4([d[16], d[17], d[18], d[19]]))
        }
        ETH_P_IPV6 => {
            skb.may_pull(40).ok()?;
            let d = skb.data();
            let mut a = [0u8; 16];
            a.copy_from_slice(&d[24..40]);
            (d[0] >> 4 == 6).then_some(IpAddr::V6(a))
        }
        _ => None,
    }
}

/// `ndo_start_xmit`.
pub(crate) fn xmit(wg: &Arc<Device>, dev: &NetDevice, mut skb: SkBuff) {
    let Some(dst) = inner_dst(&mut skb) else {
        return tx_error(wg, skb, DropReason::UNHANDLED_PROTO);
    };
    let peer = {
        let g = rcu::read_lock();
        allowedips::lookup(wg, &g, &dst)
    };
    let Some(peer) = peer.filter(|p| !p.dead.load(Ordering::Relaxed)) else {
        return unreachable(wg, skb);
    };
    if peer.endpoint().addr.is_none() {
        return unreachable(wg, skb);
    }
    // Padding is computed against the route's MTU, which may be below the device's (`ip route ... mtu 1299`); the
    // route is dropped when the packet is staged, so the MTU travels with it.
    let mtu = skb.dst_mtu().unwrap_or_else(|| dev.mtu());
    if skb.is_gso() {
        // Segments come back with their checksums finished (no checksum features asked for).
        match skb.gso_segment(0) {
            Ok(segs) => {
                for seg in segs {
                    express_or_stage(&peer, seg, mtu);
                }
            }
            Err(_) => {
                // The skb is freed; an error as in the C driver.
                wg.stats.tx_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    } else {
        express_or_stage(&peer, skb, mtu);
    }
    if !peer.staged.is_empty() {
        send_staged(&peer);
    }
}

/// Sends a small packet of a sparse flow right away (the express lane, `proto::express`), else stages it.
fn express_or_stage(peer: &Arc<Peer>, skb: SkBuff, mtu: u32) {
    if let Err(skb) = express(peer, skb, mtu) {
        stage(peer, skb, mtu);
    }
}

/// The deepest transmit nesting (`udp_tunnel::xmit_recursion_level`) at which the express lane is taken. It seals and
/// sends in its caller's context, so with devices stacked (WireGuard inside WireGuard, or a VXLAN or GRE tunnel over
/// one) the transmits of all of them nest on one stack, and the kernel drops a tunnel transmit nested deeper than
/// `TUNNEL_RECURSION_LIMIT` (5) as a routing loop: each device's `dev_queue_xmit` and each tunnel's send count one.
/// Up to 3 (this device's own transmit, and one tunnel device above it) our send is at most the 4th, and below that a
/// rust_wg device takes the pipeline, whose workers send at level 0 again, while another tunnel still fits. A packet
/// the lane sends that is routed into the same device again (a route loop) comes back at level 3 at least, so the
/// lane nests at most twice. The C driver always defers to workers.
const EXPRESS_MAX_NESTING: u32 = TUNNEL_RECURSION_LIMIT - 2;

/// The express lane: seals and sends `skb` in the caller's context if it is small, its flow has nothing staged or in
/// the pipeline (so it is not handed to UDP before an earlier packet of its flow; see `proto::express` for what
/// that means on the wire), the flow's express rate allows it and there is a session. Gives the packet back
/// otherwise.
///
/// Its nonce is taken under the transmit ring's lock like the pipeline's, so it is ahead of packets still being
/// sealed; the receiver's replay window accepts that order.
fn express(peer: &Arc<Peer>, mut skb: SkBuff, mtu: u32) -> core::result::Result<(), SkBuff> {
    if skb.len() > EXPRESS_MAX_LEN || !crate::express_enabled() || !peer.alive() {
        return Err(skb);
    }
    let Some(kp) = sending_keypair(peer) else {
        return Err(skb);
    };
    if udp_tunnel::xmit_recursion_level() > EXPRESS_MAX_NESTING {
        return Err(skb);
    }
    let wg = &peer.device;
    let hash = skb.hash();
    let nonce = {
        let mut ring = peer.tx_ring.lock();
        if !peer.staged.holds_hash(hash) && ring.may_express(hash, clock()) {
            let n = kp.sending_counter.fetch_add(1, Ordering::Relaxed);
            // At the limit: the pipeline's path (staged, then `send_staged` asks for a new session).
            (n < REJECT_AFTER_MESSAGES).then_some(n)
        } else {
            None
        }
    };
    let Some(nonce) = nonce else {
        return Err(skb);
    };
    skb.scrub_packet(false);
    // ECN as for staged packets (see `stage`).
    let ds = skb.ecn_encap_dsfield(0);
    let mark = peer.timers.lock().send_mark();
    let sent = match seal(&kp, &mut skb, nonce, mtu as usize) {
        Ok(()) => socket::send_to_peer(peer, skb, ds).is_ok(),
        Err(_) => {
            skb.drop_reason(DropReason::NOT_SPECIFIED);
            false
        }
    };
    if !sent {
        // Counted once, as an error (the pipeline counts the same way).
        wg.stats.tx_errors.fetch_add(1, Ordering::Relaxed);
    }
    let now = timers::now();
    if sent {
        timers::event(peer, |t| {
            t.any_authenticated_packet_traversal(now);
            t.any_authenticated_packet_sent();
            t.data_sent_after(mark, now, kernel::crypto::get_random_u32());
        });
    }
    if kp.kp.wants_rekey_on_send(now, kp.sending_counter.load(Ordering::Relaxed)) {
        queue_initiation(peer, false);
    }
    Ok(())
}

/// Drops a packet there is no peer or no endpoint for, telling its sender with ICMP "host unreachable", as the C
/// `wg_xmit` does.
fn unreachable(wg: &Device, mut skb: SkBuff) {
    skb.icmp_host_unreachable();
    tx_error(wg, skb, DropReason::IP_OUTNOROUTES);
}

/// What a staged packet carries in its control block from staging to sending (new skbs, e.g. keepalives, have a
/// zeroed one): [0] the MTU it is padded against (the C `PACKET_CB(skb)->mtu`), 0 meaning the device's; [1] the
/// outer DS field (the C `PACKET_CB(skb)->ds`): the inner packet's ECN bits, read before it becomes ciphertext.
type TxCb = [u32; 2];

fn set_tx_cb(skb: &mut SkBuff, mtu: u32, ds: u8) {
    *skb.cb_mut::<TxCb>() = [mtu, u32::from(ds)];
}

fn tx_mtu(skb: &SkBuff, dev_mtu: u32) -> u32 {
    match skb.cb::<TxCb>()[0] {
        0 => dev_mtu,
        m => m,
    }
}

fn tx_ds(skb: &SkBuff) -> u8 {
    skb.cb::<TxCb>()[1] as u8
}

/// Appends a packet to the peer's staged queue, which drops from its longest flow when full; `mtu` is what its
/// padding is computed against.
fn stage(peer: &Peer, mut skb: SkBuff, mtu: u32) {
    // The inner route is of no use any more (the C driver keeps it only for ICMP errors); the socket owner stays, so
    // TCP small queues still pace the sender.
    skb.scrub_packet(false);
    // ECN: the outer header gets the inner one's ECN bits (CE as ECT(0)) and no DSCP, as `ip_tunnel_ecn_encap(0,
    // ..)` in the C `wg_packet_send_staged_packets`.
    let ds = skb.ecn_encap_dsfield(0);
    set_tx_cb(&mut skb, mtu, ds);
    if let Some(old) = peer.staged.enqueue(skb) {
        tx_drop(&peer.device, old, DropReason::FULL_RING);
    }
}

/// Returns the current keypair if it may send now.
fn sending_keypair(peer: &Peer) -> Option<Arc<Keypair>> {
    let kps = peer.keypairs.lock();
    let k = kps.current.as_ref()?;
    if !k.sending_valid.load(Ordering::Relaxed) {
        return None;
    }
    let now = timers::now();
    if !k.kp.can_send(now, k.sending_counter.load(Ordering::Relaxed)) {
        return None;
    }
    Some(k.clone())
}

/// Moves staged packets into the pipeline if there is a session, else asks for a handshake
/// (`wg_packet_send_staged_packets`).
///
/// Each packet gets the next nonce and the next slot of the peer's transmit ring under the ring's lock, so nonce
/// order is transmit order; packets that find the ring or the device's crypt queue full stay staged until the
/// transmit consumer has made room.
pub(crate) fn send_staged(peer: &Arc<Peer>) {
    if !peer.alive() {
        return;
    }
    let Some(kp) = sending_keypair(peer) else {
        if !peer.staged.is_empty() {
            // They may wait for the handshake for long: their sockets must not (the C `skb_orphan` at `out_nokey`).
            peer.staged.wait_for_session();
            queue_initiation(peer, false);
        }
        return;
    };
    peer.staged.session_ready();
    let wg = &peer.device;
    let dev_mtu = wg.netdev().map_or(0, |d| d.mtu());
    let mut queued = 0;
    let mut rekey = false;
    {
        let mut ring = peer.tx_ring.lock();
        let mut jobs = wg.crypt_tx.lock();
        let now = clock();
        // The in-flight bound (adaptive, `aqm::InflightLimit`: as much as keeps the crypt workers busy) keeps the
        // standing queue in the staging queue, where flows are scheduled fairly. When it stops the loop, the
        // consumer calls again when it made room; when the device's queue does, its workers do (see
        // `Device::wait_for_crypt_room`).
        let limit = ring.inflight.limit();
        while ring.bytes() < limit && ring.has_room() {
            if !jobs.has_room() {
                if !peer.staged.is_empty() {
                    wg.wait_for_crypt_room(peer);
                }
                break;
            }
            let Some((skb, hash)) = peer.staged.dequeue() else {
                break;
            };
            let nonce = kp.sending_counter.fetch_add(1, Ordering::Relaxed);
            if nonce >= REJECT_AFTER_MESSAGES {
                kp.sending_valid.store(false, Ordering::Relaxed);
                tx_drop(wg, skb, DropReason::NOT_SPECIFIED);
                rekey = true;
                break;
            }
            // Statistics are counted per message sent, in `socket::send_to_peer`.
            let Some(seq) = ring.reserve(skb.len(), now) else {
                // Cannot happen (checked above); counted as an error rather than trusted.
                tx_drop(wg, skb, DropReason::FULL_RING);
                break;
            };
            // The flow's later packets do not take the express lane before this one is sent.
            ring.express_admitted(hash, seq, now);
            let job = Job {
                peer: peer.clone(),
                keypair: kp.clone(),
                mtu: tx_mtu(&skb, dev_mtu),
                skb,
                seq,
                nonce,
            };
            if let Err(job) = jobs.push(job) {
                // Cannot happen either; the slot completes as failed, and a failed head must be consumed, or the
                // ring would stall behind it.
                if let Ok(true) = ring.complete(seq, None) {
                    peer.kick_tx();
                }
                tx_drop(wg, job.skb, DropReason::FULL_RING);
                break;
            }
            queued += 1;
        }
    }
    if queued > 0 {
        wg.kick_crypt(queued);
    }
    if rekey || kp.kp.wants_rekey_on_send(timers::now(), kp.sending_counter.load(Ordering::Relaxed)) {
        queue_initiation(peer, false);
    }
}

/// Seals a job's packet and puts it back into its peer's ring (crypt worker, any CPU).
pub(crate) fn encrypt(job: Job) {
    let Job {
        peer,
        keypair,
        mut skb,
        seq,
        mtu,
        nonce,
    } = job;
    let done = if !peer.alive() {
        tx_drop(&peer.device, skb, DropReason::NOT_SPECIFIED);
        None
    } else if seal(&keypair, &mut skb, nonce, mtu as usize).is_err() {
        tx_error(&peer.device, skb, DropReason::NOT_SPECIFIED);
        None
    } else {
        Some((skb, keypair))
    };
    let r = peer.tx_ring.lock().complete(seq, done);
    match r {
        Ok(true) => peer.kick_tx(),
        Ok(false) => {}
        // The ring was purged meanwhile: the packet has no place in line any more.
        Err(done) => drop(done),
    }
}

/// Pads, adds the data header and seals one packet with `nonce` in place.
fn seal(kp: &Keypair, skb: &mut SkBuff, nonce: u64, mtu: usize) -> Result {
    // The inner checksum of a CHECKSUM_PARTIAL packet (the device advertises HW_CSUM) is finished before the packet
    // becomes ciphertext and before padding is appended, as in the C `encrypt_packet`.
    skb.checksum_help()?;
    let plain = skb.len();
    let pad = messages::padding_len(plain, mtu);
    // Private data with room for padding and the tag after it (zeroed), and headers before it.
    skb.cow_data(pad + messages::ENCRYPTED_NOTHING_LEN)?;
    skb.cow_head(SEND_HEADROOM)?;
    let hdr = DataHeader {
        receiver_index: kp.kp.remote_index,
        counter: nonce,
    };
    hdr.emit(skb.push(DATA_HEADER_LEN)?).map_err(|_| EINVAL)?;
    chacha20poly1305::encrypt_skb(skb, DATA_HEADER_LEN, plain + pad, nonce, kp.kp.sending_key())?;
    // The inner packet's flow hash stays with the outer one (the C `wg_reset_packet(skb, true)`): below UDP, a flow
    // queueing qdisc (fq_codel) on the outer device then tells the tunnel's inner flows apart, instead of seeing one
    // flow per peer (UDP keeps an L4 hash, see `iptunnel_xmit`).
    Ok(())
}

/// The transmit consumer (the C `wg_packet_tx_worker`): sends the peer's sealed packets in order, on its serial CPU.
fn transmit_in_order(peer: &Arc<Peer>) {
    let mut sent_any = false;
    let mut sent_data = false;
    let mut done = 0;
    // A reply to the first packet of the pass may be handled before the pass ends and reports what it sent.
    let mark = peer.timers.lock().send_mark();
    while done < CONSUMER_BUDGET {
        let d = peer.tx_ring.lock().pop(clock());
        let Some(d) = d else {
            // The pass ends: tell the in-flight bound what is still out and whether packets wait for it.
            let staged = !peer.staged.is_empty();
            let mut ring = peer.tx_ring.lock();
            let inflight = ring.bytes();
            ring.inflight.completed(clock(), inflight, staged);
            break;
        };
        done += 1;
        let Done::Packet(skb, _kp) = d else { continue };
        if !peer.alive() {
            tx_drop(&peer.device, skb, DropReason::NOT_SPECIFIED);
            continue;
        }
        // A keepalive is a header and a tag (no padding for zero bytes).
        let is_data = skb.len() > messages::MESSAGE_MINIMUM_LENGTH;
        let ds = tx_ds(&skb);
        match socket::send_to_peer(peer, skb, ds) {
            Ok(()) => {
                sent_any = true;
                sent_data |= is_data;
            }
            Err(_) => {
                peer.device.stats.tx_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    if sent_any {
        let now = timers::now();
        timers::event(peer, |t| {
            t.any_authenticated_packet_traversal(now);
            t.any_authenticated_packet_sent();
            if sent_data {
                t.data_sent_after(mark, now, kernel::crypto::get_random_u32());
            }
        });
    }
    if done == CONSUMER_BUDGET {
        // More may be ready: yield, then continue.
        peer.kick_tx();
    }
    if !peer.staged.is_empty() {
        // Room was made in the ring.
        send_staged(peer);
    }
}

impl WorkItem<3> for Peer {
    type Pointer = Arc<Peer>;

    fn run(this: Arc<Peer>) {
        transmit_in_order(&this);
    }
}

/// Sends a keepalive (an empty data packet), staging it if there is no session yet.
pub(crate) fn send_keepalive(peer: &Arc<Peer>) {
    if !peer.alive() {
        return;
    }
    if peer.staged.is_empty() {
        // Empty, with headroom for the headers and tailroom for the tag.
        let Ok(mut skb) = SkBuff::alloc(SEND_HEADROOM + 32, GFP_ATOMIC) else {
            return;
        };
        if skb.reserve(SEND_HEADROOM).is_err() {
            return;
        }
        if let Some(old) = peer.staged.enqueue(skb) {
            tx_drop(&peer.device, old, DropReason::FULL_RING);
        }
    }
    send_staged(peer);
}

/// Queues a handshake initiation to process context, unless rate limited (`wg_packet_send_queued_handshake_initiation`).
pub(crate) fn queue_initiation(peer: &Arc<Peer>, is_retry: bool) {
    let now = timers::now();
    if !peer.timers.lock().want_handshake(now, is_retry) {
        return;
    }
    if !peer.alive() {
        return;
    }
    peer.device.queue_peer_work::<1>(peer.clone());
}

impl WorkItem<1> for Peer {
    type Pointer = Arc<Peer>;

    /// Creates and sends an initiation (`wg_packet_send_handshake_initiation`).
    fn run(this: Arc<Peer>) {
        if this.dead.load(Ordering::Relaxed) {
            return;
        }
        let now = timers::now();
        {
            // The rate limit counts the attempt even if no initiation can be made (no private key yet), as the C
            // driver sets `last_sent_handshake` first: else every packet staged meanwhile queues this work again.
            let mut t = this.timers.lock();
            if !t.may_send_handshake(now) {
                return;
            }
            t.handshake_sent(now);
        }
        let msg = match crate::handshake::create_initiation(&this) {
            Ok(m) => m,
            Err(e) => {
                crate::wg_debug_ratelimited!(this.device, "Failed to create handshake initiation for peer {}: {:?}", this.id, e);
                return;
            }
        };
        wg_debug_send(&this);
        // Creating it can take a while (X25519): the rate limit and the retransmission count from now, as in C.
        // The retransmission is armed before the send, not after as in C: the response can be handled on another
        // CPU before this worker runs again, and a timer armed after it would retransmit an initiation 5 s later
        // (see `proto::timers`). Armed also when the send fails (no route to the endpoint yet, say), as in the C
        // driver: the retries, and giving up (purging the staged packets) after the last, must not depend on a
        // later packet to send.
        let now = timers::now();
        timers::event(&this, |t| {
            t.handshake_sent(now);
            t.any_authenticated_packet_traversal(now);
            t.any_authenticated_packet_sent();
            t.handshake_initiated(now, kernel::crypto::get_random_u32());
        });
        if let Err(e) = crate::handshake::send_buffer(&this, &msg) {
            crate::wg_debug_ratelimited!(this.device, "Failed to send handshake initiation to peer {}: {:?}", this.id, e);
        }
    }
}

fn wg_debug_send(peer: &Peer) {
    crate::wg_debug_ratelimited!(peer.device, "Sending handshake initiation to peer {}", peer.id);
}

impl WorkItem<2> for Peer {
    type Pointer = Arc<Peer>;

    /// Zeroes all key material after `REJECT_AFTER_TIME * 3` without a new session (the C `wg_queued_expired_zero_key_material`).
    fn run(this: Arc<Peer>) {
        if !this.alive() {
            // Queued before the peer was removed: removal cleared the keys and told listeners the peer is gone.
            return;
        }
        this.clear_keys();
        // Idle for that long: the rings and the staging queues give their memory back (if empty; the next packet
        // allocates it again).
        this.tx_ring.lock().release();
        this.rx_ring.lock().release();
        this.staged.release();
        crate::config::notify(|h| h.keypair_expired, &this.device, &this);
    }
}
