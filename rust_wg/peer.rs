// SPDX-License-Identifier: GPL-2.0

//! Peers: per-peer state and its lifetime.
//!
//! A peer is created by configuration, listed in its device's `cfg.peers`, and referenced by the allowed-IPs trie and
//! the index table. [`remove`] takes it out of all three; the `Arc`s that packets and work items still hold keep the
//! memory alive until they finish, and the last one prints the "destroyed" line.

use crate::allowedips::PeerPrefixes;
use crate::crypto::KernelCrypto;
use crate::device::{Device, OBJECT_IDS};
use crate::index::Keypair;
use crate::proto::{
    addr::{IpAddr, SocketAddr},
    cookie::CookieMaker,
    noise,
    timers::Timers,
};
use crate::queueing::{OrderRing, PEER_RING, PEER_RING_INITIAL};
use crate::receive::Source;
use crate::staging::Staging;
use crate::wg_debug;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::{
    net::{
        napi::{Napi, NapiDelBatch, POLL_WEIGHT},
        skbuff::SkBuffHead,
        udp_tunnel::DstCache,
    },
    new_mutex, new_spinlock_bh,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, Mutex, SpinLockBh,
    },
    time::timer::Timer,
};


/// Handshake state of a peer.
pub(crate) struct HandshakeState {
    /// The Noise handshake.
    pub(crate) hs: noise::Handshake<KernelCrypto>,
    /// Adds MACs to our handshake messages and keeps the cookie the peer sent us.
    pub(crate) cookie: CookieMaker<KernelCrypto>,
}

/// The handshake state of a peer that has not been removed, locked.
///
/// The only way to register an index for a peer or to install a keypair on it (see `index::Entry::new` and
/// `handshake::install_keypair`): it exists only while `Peer::handshake` is held and the peer was not dead when the
/// lock was taken. [`remove`] marks the peer dead under the same lock and then clears what is registered, so after
/// it nothing in the device refers to the peer any more and nothing can start to (see [`remove`]).
pub(crate) struct LiveHandshake<'a> {
    peer: &'a Arc<Peer>,
    guard: Guard<'a, HandshakeState, MutexBackend>,
}

impl LiveHandshake<'_> {
    /// The peer whose handshake this is.
    pub(crate) fn peer(&self) -> &Arc<Peer> {
        self.peer
    }
}

impl core::ops::Deref for LiveHandshake<'_> {
    type Target = HandshakeState;

    fn deref(&self) -> &HandshakeState {
        &self.guard
    }
}

impl core::ops::DerefMut for LiveHandshake<'_> {
    fn deref_mut(&mut self) -> &mut HandshakeState {
        &mut self.guard
    }
}

/// Where to send and from which source address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The peer's address, once known.
    pub(crate) addr: Option<SocketAddr>,
    /// The local address its last authenticated packet was sent to, our source address towards it (0 for "let
    /// routing choose"). Only learnt from received packets and forgotten when no longer usable, never set from the
    /// source a route lookup chose (as the C `endpoint.src4`): the route cache remembers that one, and forgets it
    /// when routes or addresses change.
    pub(crate) src4: [u8; 4],
    /// The interface `src4` belongs to (where that packet arrived), 0 if none (the C `src_if4`): when the route to
    /// the peer leaves through another interface, `src4` is forgotten.
    pub(crate) src_if4: i32,
    /// The IPv6 counterpart of `src4`.
    pub(crate) src6: [u8; 16],
    /// The interface to reach an IPv6 link-local `addr` through (`sin6_scope_id`), 0 otherwise.
    pub(crate) scope_id: u32,
    /// The last send came back with another source than ours, and the route cache was reset to tell whether the
    /// route helper gave ours up or the cache held a route for another source (see `socket::send_to_peer`).
    pub(crate) src_suspect: bool,
}

impl Endpoint {
    pub(crate) const NONE: Self = Self {
        addr: None,
        src4: [0; 4],
        src_if4: 0,
        src6: [0; 16],
        scope_id: 0,
        src_suspect: false,
    };

    /// The endpoint an authenticated packet from `src` teaches: reply to its sender, from the address it was sent
    /// to (the C `wg_socket_endpoint_from_skb`).
    pub(crate) fn from_source(src: &Source) -> Self {
        let mut e = Self {
            addr: Some(src.from),
            scope_id: src.scope_id,
            ..Self::NONE
        };
        match src.local {
            IpAddr::V4(a) => {
                e.src4 = a;
                e.src_if4 = src.iif;
            }
            IpAddr::V6(a) => e.src6 = a,
        }
        e
    }
}

/// A peer.
#[pin_data(PinnedDrop)]
pub(crate) struct Peer {
    /// Log id (the C `internal_id`).
    pub(crate) id: u64,
    /// The owning device. This reference is a cycle (the device lists the peer) that [`remove`] breaks.
    pub(crate) device: Arc<Device>,
    /// The peer's static public key; never changes.
    pub(crate) public_key: [u8; 32],
    /// Handshake and cookie state (the C `handshake.lock`): used by the handshake worker and the initiation work,
    /// both in process context.
    #[pin]
    pub(crate) handshake: Mutex<HandshakeState>,
    /// Previous, current and next keypair (the C `keypairs.keypair_update_lock`); read in softirq.
    #[pin]
    pub(crate) keypairs: SpinLockBh<noise::Keypairs<Arc<Keypair>>>,
    /// The endpoint (the C `endpoint_lock`).
    #[pin]
    pub(crate) endpoint: SpinLockBh<Endpoint>,
    /// Routes towards the endpoint; reset when it changes.
    #[pin]
    pub(crate) dst_cache: DstCache,
    /// The timer state machine; its deadline arms `timer`. Taken in softirq.
    #[pin]
    pub(crate) timers: SpinLockBh<Timers>,
    /// The one kernel timer of the peer.
    #[pin]
    pub(crate) timer: Timer<Peer>,
    /// Packets waiting for a session or for room in the pipeline (the C `staged_packet_queue`), by flow.
    #[pin]
    pub(crate) staged: Staging,
    /// Sends a handshake initiation from process context (the C `transmit_handshake_work`).
    #[pin]
    pub(crate) initiation_work: kernel::workqueue::Work<Peer, 1>,
    /// Zeroes key material from process context (the C `clear_peer_work`).
    #[pin]
    pub(crate) clear_work: kernel::workqueue::Work<Peer, 2>,
    /// Packets admitted for encryption, in transmit order (the C `tx_queue`); see `queueing.rs`.
    #[pin]
    pub(crate) tx_ring: SpinLockBh<OrderRing>,
    /// Packets admitted for decryption, in arrival order (the C `rx_queue`).
    #[pin]
    pub(crate) rx_ring: SpinLockBh<OrderRing>,
    /// Hands sealed packets to UDP in order (the C `transmit_packet_work`).
    #[pin]
    pub(crate) tx_work: kernel::workqueue::Work<Peer, 3>,
    /// Hands opened packets to the stack in order (the C per-peer NAPI poll).
    #[pin]
    pub(crate) rx_work: kernel::workqueue::Work<Peer, 4>,
    /// Delivers received packets to GRO in order (the C `napi`); added to the device while the peer is listed.
    #[pin]
    pub(crate) napi: Napi<Peer>,
    /// Packets the receive consumer checked, waiting for the NAPI poll.
    #[pin]
    pub(crate) deliver: SkBuffHead,
    /// The receive consumer, parked while `deliver` is full: a reference to the peer itself, which the NAPI poll
    /// (it gets no `Arc`) uses to queue the consumer once it has made room (`receive::park_rx`). Set only while the
    /// peer is alive, under this lock; [`remove`] takes it, breaking the cycle.
    #[pin]
    pub(crate) rx_parked: SpinLockBh<Option<Arc<Peer>>>,
    /// The CPU the consumers run on (the C `serial_work_cpu`), so that a peer's packets enter one CPU's backlog.
    pub(crate) serial_cpu: u32,
    /// Bytes received and sent, for netlink.
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    /// Real time of the last completed handshake (seconds, nanoseconds).
    #[pin]
    pub(crate) last_handshake: SpinLockBh<(i64, i64)>,
    /// Listed in the device's `crypt_waiters` (see `Device::wait_for_crypt_room`).
    pub(crate) crypt_waiting: AtomicBool,
    /// Set once removed: no more timers, work or sends. Set under `handshake` (see [`LiveHandshake`]); read
    /// anywhere.
    pub(crate) dead: AtomicBool,
    /// The peer's allowed IPs in listing order (see `allowedips`). Changed under the device's `cfg` mutex only;
    /// this lock just gives interior mutability and is taken last.
    #[pin]
    pub(crate) allowed_ips: Mutex<PeerPrefixes>,
}

kernel::impl_has_work! {
    impl HasWork<Peer, 1> for Peer { self.initiation_work }
    impl HasWork<Peer, 2> for Peer { self.clear_work }
    impl HasWork<Peer, 3> for Peer { self.tx_work }
    impl HasWork<Peer, 4> for Peer { self.rx_work }
}

kernel::time::timer::impl_has_timer! {
    impl HasTimer<0> for Peer { self.timer }
}

#[pinned_drop]
impl PinnedDrop for Peer {
    fn drop(self: Pin<&mut Self>) {
        {
            // The pipeline's queueing (issue 10), for benchmarks: mean and longest time between admission and the
            // consumer per direction, the transmit bound reached, the receive drops to keep the sojourn short.
            let tx = self.tx_ring.lock();
            let rx = self.rx_ring.lock();
            wg_debug!(
                self.device,
                "Peer {} queues: tx {} packets, sojourn mean {} us max {} us, in-flight limit {} B (grown {}x), {} express; rx {} packets, sojourn mean {} us max {} us, {} AQM drops, {} express",
                self.id,
                tx.sojourns.n,
                tx.sojourns.mean_us(),
                tx.sojourns.max / 1000,
                tx.inflight.limit(),
                tx.inflight.grown,
                tx.express_passed(),
                rx.sojourns.n,
                rx.sojourns.mean_us(),
                rx.sojourns.max / 1000,
                rx.codel.drops,
                rx.express_passed()
            );
        }
        wg_debug!(self.device, "Peer {} destroyed", self.id);
    }
}

impl Peer {
    /// Creates a peer of `wg` (not yet listed anywhere). Caller holds `wg.cfg`.
    pub(crate) fn new(wg: &Arc<Device>, public_key: [u8; 32], psk: Option<&[u8; 32]>) -> Result<Arc<Self>> {
        let hs = {
            let id = wg.identity.lock();
            noise::Handshake::new(id.identity.as_ref(), public_key, psk)
        };
        let cookie = CookieMaker::new(&public_key).map_err(|_| EINVAL)?;
        let id = OBJECT_IDS.fetch_add(1, Ordering::Relaxed);
        let tx_ring = OrderRing::new(PEER_RING_INITIAL, PEER_RING)?;
        let rx_ring = OrderRing::new(PEER_RING_INITIAL, PEER_RING)?;
        let online = kernel::cpu::num_online_cpus().max(1);
        let serial_cpu = kernel::cpu::online_cpus().nth((id % u64::from(online)) as usize).unwrap_or(0);
        let p = Arc::pin_init(
            try_pin_init!(Peer {
                id,
                device: wg.clone(),
                public_key,
                handshake <- new_mutex!(HandshakeState { hs, cookie }),
                keypairs <- new_spinlock_bh!(noise::Keypairs::new()),
                endpoint <- new_spinlock_bh!(Endpoint::NONE),
                dst_cache <- DstCache::new(GFP_KERNEL),
                timers <- new_spinlock_bh!(Timers::new()),
                timer <- kernel::new_timer!("wg-rust-peer"),
                staged <- Staging::new(),
                initiation_work <- kernel::new_work!("wg-rust-initiation"),
                clear_work <- kernel::new_work!("wg-rust-clear"),
                tx_ring <- new_spinlock_bh!(tx_ring),
                rx_ring <- new_spinlock_bh!(rx_ring),
                tx_work <- kernel::new_work!("wg-rust-tx"),
                napi <- Napi::new(),
                deliver <- SkBuffHead::new(),
                rx_parked <- new_spinlock_bh!(None),
                rx_work <- kernel::new_work!("wg-rust-rx"),
                serial_cpu,
                rx_bytes: AtomicU64::new(0),
                tx_bytes: AtomicU64::new(0),
                last_handshake <- new_spinlock_bh!((0, 0)),
                crypt_waiting: AtomicBool::new(false),
                dead: AtomicBool::new(false),
                allowed_ips <- new_mutex!(PeerPrefixes::new()),
            }? Error),
            GFP_KERNEL,
        )?;
        wg_debug!(wg, "Peer {} created", id);
        Ok(p)
    }

    /// Adds the peer's NAPI context to the device and enables it, once the peer is listed (the context and the peer
    /// then refer to each other until [`remove`] deletes the context).
    pub(crate) fn start_napi(self: &Arc<Self>) -> Result {
        let dev = self.device.netdev().ok_or(ENODEV)?;
        self.napi.add_counted(self.clone(), dev, POLL_WEIGHT)?;
        if let Err(e) = self.napi.enable() {
            self.napi.del();
            return Err(e);
        }
        Ok(())
    }

    /// Locks the handshake state unless the peer was removed (see [`LiveHandshake`]).
    pub(crate) fn handshake_live(self: &Arc<Self>) -> Option<LiveHandshake<'_>> {
        let guard = self.handshake.lock();
        if self.dead.load(Ordering::Relaxed) {
            return None;
        }
        Some(LiveHandshake { peer: self, guard })
    }

    /// The persistent keepalive interval in seconds.
    pub(crate) fn persistent_keepalive(&self) -> u16 {
        self.timers.lock().persistent_keepalive_interval()
    }

    /// Lets the timers run (device up) or not.
    pub(crate) fn set_running(self: &Arc<Self>, running: bool) {
        let mut t = self.timers.lock();
        t.set_running(running && !self.dead.load(Ordering::Relaxed));
        crate::timers::rearm(self, &t);
    }

    /// Device going down (the per-peer part of the C `wg_stop`): stop timers, forget handshake and keys, drop staged
    /// packets.
    pub(crate) fn stop(self: &Arc<Self>) {
        {
            let mut t = self.timers.lock();
            t.stop();
            t.set_running(false);
        }
        Timer::delete_sync(&**self);
        self.clear_keys();
        self.timers.lock().reset_last_sent_handshake();
        self.purge_staged();
        self.purge_rings();
    }

    /// Drops the staged packets, counting them in `tx_dropped` (the C `wg_packet_purge_staged_packets`).
    pub(crate) fn purge_staged(&self) {
        let n = self.staged.purge();
        self.device.stats.tx_dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Forgets the handshake in progress and all keypairs, unregistering their indices.
    pub(crate) fn clear_keys(&self) {
        // Held throughout, so that no handshake completes between clearing the handshake and the keypairs (it would
        // leave an index registered that neither of them names any more).
        let mut hs = self.handshake.lock();
        let hs_index = hs.hs.clear();
        let released = self.keypairs.lock().clear();
        let mut gone = KVec::new();
        {
            let mut idx = self.device.index.lock();
            if let Some(i) = hs_index {
                let _ = gone.push(idx.remove(i), GFP_ATOMIC);
            }
            for k in released.keypairs.iter().flatten() {
                k.sending_valid.store(false, Ordering::Relaxed);
                let _ = gone.push(idx.remove(k.kp.local_index), GFP_ATOMIC);
            }
        }
        drop(hs);
        // Entries and keypairs are dropped here, outside the locks (their log lines take the name lock).
        drop(gone);
        drop(released);
    }

    /// Counts `len` bytes received from this peer (a whole WireGuard message: handshake, keepalive or data with its
    /// header and tag), in the peer's transfer counters and the device statistics, as the C `update_rx_stats` does;
    /// netns.sh checks that both agree.
    pub(crate) fn rx_stats(&self, len: usize) {
        self.rx_bytes.fetch_add(len as u64, Ordering::Relaxed);
        let s = &self.device.stats;
        s.rx_packets.fetch_add(1, Ordering::Relaxed);
        s.rx_bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// The transmit counterpart of [`Peer::rx_stats`], for every message sent to the peer (the C driver counts the
    /// device side in the UDP tunnel transmit helper, per message).
    pub(crate) fn tx_stats(&self, len: usize) {
        self.tx_bytes.fetch_add(len as u64, Ordering::Relaxed);
        let s = &self.device.stats;
        s.tx_packets.fetch_add(1, Ordering::Relaxed);
        s.tx_bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// Returns the endpoint.
    pub(crate) fn endpoint(&self) -> Endpoint {
        *self.endpoint.lock()
    }

    /// Sets the endpoint from configuration (`scope_id`: the interface of an IPv6 link-local address, else 0),
    /// forgetting the source address and cached routes.
    pub(crate) fn set_endpoint(&self, addr: SocketAddr, scope_id: u32) -> bool {
        let changed = {
            let mut e = self.endpoint.lock();
            let changed = e.addr != Some(addr) || e.scope_id != scope_id;
            if changed {
                *e = Endpoint {
                    addr: Some(addr),
                    scope_id,
                    ..Endpoint::NONE
                };
            }
            changed
        };
        if changed {
            self.dst_cache.reset();
        }
        changed
    }

    /// Roams to where an authenticated packet came from (the C `wg_socket_set_peer_endpoint_from_skb`), keeping the
    /// local address it was sent to as the source of our replies. Returns whether the peer's address changed.
    pub(crate) fn learn_endpoint(&self, src: &Source) -> bool {
        let new = Endpoint::from_source(src);
        let (changed, addr_changed) = {
            let mut e = self.endpoint.lock();
            let changed = e.addr != new.addr || e.scope_id != new.scope_id || {
                // A change of the local address the peer sends to counts, as in the C `endpoint_eq`; unlike it, not
                // a change of the interface it arrives on alone (C compares `src_if4` too): `src_if4` is then only
                // renewed with the address, and a route leaving elsewhere makes the send forget both.
                match src.local {
                    IpAddr::V4(a) => e.src4 != a,
                    IpAddr::V6(a) => e.src6 != a,
                }
            };
            let addr_changed = e.addr != new.addr;
            if changed {
                *e = new;
            }
            (changed, addr_changed)
        };
        if changed {
            self.dst_cache.reset();
        }
        addr_changed
    }

    /// Forgets the source address (fwmark or port change), like `wg_socket_clear_peer_endpoint_src`.
    pub(crate) fn clear_endpoint_src(&self) {
        {
            let mut e = self.endpoint.lock();
            e.src4 = [0; 4];
            e.src_if4 = 0;
            e.src6 = [0; 16];
            e.src_suspect = false;
        }
        self.dst_cache.reset();
    }
}

/// Removes `peer` from `wg` (the C `peer_remove_after_dead` sequence). Process context; the caller already took it
/// off `cfg.peers` and removed its prefixes from the allowed-IPs batch it publishes afterwards.
///
/// 1. Mark it dead under its handshake lock, so no new timers, work or sends start (until the caller publishes the
///    trie without it, the data path still finds it there, and drops what it finds dead), and no handshake
///    registers an index or installs a keypair any more: they do so only through a [`LiveHandshake`], i.e. under
///    that lock and after seeing the peer alive.
/// 2. Stop the timer (waiting for a running callback) and clear its keys and handshake, unregistering their
///    indices, so received packets no longer find it. After step 1, this removes every index entry naming the peer
///    for good: an entry made before it is named by the handshake or a keypair (a handshake becomes a keypair
///    within one `LiveHandshake`), and no entry is made after it. So the device's index table, the one device
///    structure that outlives `remove` and refers to peers, cannot keep the peer (and through it the device) alive.
/// 3. The timer cannot be armed again: `Timers::set_running(false)` (in `stop`, under the timers lock) leaves the
///    state machine without deadlines, and `set_running(true)` refuses a dead peer under the same lock.
/// 4. Drop staged packets. Work still queued holds its own reference and finds the peer dead; nothing requeues
///    work or schedules the NAPI context for a dead peer, and the context is deleted last.
pub(crate) fn remove(wg: &Device, peer: &Arc<Peer>) {
    remove_into(wg, peer, &mut NapiDelBatch::new());
}

/// [`remove`] for one of many peers going at once: the NAPI context is deleted into `batch`, which waits for one
/// grace period for all of them when the caller drops it (instead of one per peer, an expedited one under RTNL:
/// seconds for a few thousand peers) and holds their last references until then.
pub(crate) fn remove_into(wg: &Device, peer: &Arc<Peer>, batch: &mut NapiDelBatch<Peer>) {
    crate::config::notify(|h| h.peer_removed, wg, peer);
    {
        let _hs = peer.handshake.lock();
        peer.dead.store(true, Ordering::Relaxed);
    }
    peer.stop();
    // Waits for a running poll; the batch drops the context's references to the peer and the device.
    peer.napi.del_into(batch);
    peer.deliver.purge();
    // A consumer parked before the peer died (none parks after: `park_rx` checks under this lock).
    let parked = peer.rx_parked.lock().take();
    drop(parked);
}
