// SPDX-License-Identifier: GPL-2.0

//! Transmit: cryptokey routing, staging, encryption and handshake initiation (the C send.c and `wg_xmit`).
//!
//! `ndo_start_xmit` finds the peer by the inner destination address, segments GSO super-packets and appends the
//! packets to the peer's staged queue, then [`send_staged`] drains it: with a usable current keypair each packet gets
//! the next nonce, padding, the data header and is sealed in place in the skb, then sent over UDP; without one the
//! packets stay staged and a handshake initiation is queued to process context.
//!
//! Encryption runs synchronously on the transmitting CPU (bottom halves disabled). Several CPUs may drain the same
//! peer at once; nonces are taken atomically, and the receiver's 8192-packet replay window absorbs the reordering.

use crate::device::{tx_drop, Device};
use crate::index::Keypair;
use crate::peer::{Peer, MAX_STAGED_PACKETS};
use crate::proto::{
    addr::IpAddr,
    messages::{self, DataHeader, DATA_HEADER_LEN, REJECT_AFTER_MESSAGES},
};
use crate::{allowedips, socket, timers};
use core::sync::atomic::Ordering;
use kernel::{
    crypto::chacha20poly1305,
    net::{
        dev::Device as NetDevice,
        skbuff::{DropReason, SkBuff, ETH_P_IP, ETH_P_IPV6},
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
        wg.stats.tx_errors.fetch_add(1, Ordering::Relaxed);
        return tx_drop(wg, skb, DropReason::UNHANDLED_PROTO);
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
    let _ = dev;
    if skb.is_gso() {
        // Segments come back with their checksums finished (no checksum features asked for).
        match skb.gso_segment(0) {
            Ok(segs) => {
                for seg in segs {
                    stage(&peer, seg);
                }
            }
            Err(_) => {
                wg.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    } else {
        stage(&peer, skb);
    }
    // Bound the staged queue, dropping the oldest, as the C driver does.
    while peer.staged.len() > MAX_STAGED_PACKETS {
        match peer.staged.dequeue() {
            Some(old) => tx_drop(wg, old, DropReason::FULL_RING),
            None => break,
        }
    }
    send_staged(&peer);
}

/// Drops a packet there is no peer or no endpoint for, telling its sender with ICMP "host unreachable", as the C
/// `wg_xmit` does.
fn unreachable(wg: &Device, mut skb: SkBuff) {
    wg.stats.tx_errors.fetch_add(1, Ordering::Relaxed);
    skb.icmp_host_unreachable();
    tx_drop(wg, skb, DropReason::IP_OUTNOROUTES);
}

/// Appends a packet to the peer's staged queue.
fn stage(peer: &Peer, mut skb: SkBuff) {
    // The inner route is of no use any more (the C driver keeps it only for ICMP errors); the socket owner stays, so
    // TCP small queues still pace the sender.
    skb.scrub_packet(false);
    peer.staged.enqueue(skb);
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

/// Sends the staged packets if there is a session, else asks for a handshake (`wg_packet_send_staged_packets`).
pub(crate) fn send_staged(peer: &Arc<Peer>) {
    if peer.dead.load(Ordering::Relaxed) {
        return;
    }
    let Some(kp) = sending_keypair(peer) else {
        if !peer.staged.is_empty() {
            queue_initiation(peer, false);
        }
        return;
    };
    let mtu = peer.device.netdev().map_or(0, |d| d.mtu() as usize);
    let mut sent_data = false;
    let mut rekey = false;
    while let Some(skb) = peer.staged.dequeue() {
        let nonce = kp.sending_counter.fetch_add(1, Ordering::Relaxed);
        if nonce >= REJECT_AFTER_MESSAGES {
            kp.sending_valid.store(false, Ordering::Relaxed);
            tx_drop(&peer.device, skb, DropReason::NOT_SPECIFIED);
            rekey = true;
            break;
        }
        let is_data = !skb.is_empty();
        // Statistics are counted per message sent, in `socket::send_to_peer`.
        match seal_and_send(peer, &kp, skb, nonce, mtu) {
            Ok(()) => {
                if is_data {
                    sent_data = true;
                }
            }
            Err(_) => {
                peer.device.stats.tx_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let now = timers::now();
    timers::event(peer, |t| {
        t.any_authenticated_packet_traversal(now);
        t.any_authenticated_packet_sent();
        if sent_data {
            t.data_sent(now, kernel::crypto::get_random_u32());
        }
    });
    if rekey || kp.kp.wants_rekey_on_send(now, kp.sending_counter.load(Ordering::Relaxed)) {
        queue_initiation(peer, false);
    }
}

/// Pads, seals and sends one packet with `nonce`.
fn seal_and_send(peer: &Peer, kp: &Keypair, mut skb: SkBuff, nonce: u64, mtu: usize) -> Result {
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
    chacha20poly1305::encrypt_skb(&mut skb, DATA_HEADER_LEN, plain + pad, nonce, kp.kp.sending_key())?;
    skb.clear_hash();
    socket::send_to_peer(peer, skb)
}

/// Sends a keepalive (an empty data packet), staging it if there is no session yet.
pub(crate) fn send_keepalive(peer: &Arc<Peer>) {
    if peer.staged.is_empty() {
        // Empty, with headroom for the headers and tailroom for the tag.
        let Ok(mut skb) = SkBuff::alloc(SEND_HEADROOM + 32, GFP_ATOMIC) else {
            return;
        };
        if skb.reserve(SEND_HEADROOM).is_err() {
            return;
        }
        peer.staged.enqueue(skb);
    }
    send_staged(peer);
}

/// Queues a handshake initiation to process context, unless rate limited (`wg_packet_send_queued_handshake_initiation`).
pub(crate) fn queue_initiation(peer: &Arc<Peer>, is_retry: bool) {
    let now = timers::now();
    if !peer.timers.lock().want_handshake(now, is_retry) {
        return;
    }
    if peer.dead.load(Ordering::Relaxed) {
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
        if !this.timers.lock().may_send_handshake(now) {
            return;
        }
        let msg = match crate::handshake::create_initiation(&this) {
            Ok(m) => m,
            Err(e) => {
                crate::wg_debug!(this.device, "Failed to create handshake initiation for peer {}: {:?}", this.id, e);
                return;
            }
        };
        wg_debug_send(&this);
        timers::event(&this, |t| {
            t.handshake_sent(now);
            t.any_authenticated_packet_traversal(now);
            t.any_authenticated_packet_sent();
        });
        match crate::handshake::send_buffer(&this, &msg) {
            Ok(()) => timers::event(&this, |t| t.handshake_initiated(now, kernel::crypto::get_random_u32())),
            Err(e) => crate::wg_debug!(this.device, "Failed to send handshake initiation to peer {}: {:?}", this.id, e),
        }
    }
}

fn wg_debug_send(peer: &Peer) {
    crate::wg_debug!(peer.device, "Sending handshake initiation to peer {}", peer.id);
}

impl WorkItem<2> for Peer {
    type Pointer = Arc<Peer>;

    /// Zeroes all key material after `REJECT_AFTER_TIME * 3` without a new session (the C `wg_queued_expired_zero_key_material`).
    fn run(this: Arc<Peer>) {
        this.clear_keys();
        crate::config::notify(|h| h.keypair_expired, &this.device, &this);
    }
}
