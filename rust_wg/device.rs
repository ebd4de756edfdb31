// SPDX-License-Identifier: GPL-2.0

//! The network device: rtnl link kind, `net_device_ops`, per-device state and the registry netlink searches.
//!
//! Two objects make up a device:
//! - [`DevPriv`], the `net_device` private area, which only holds an `Arc` of the state. The core creates and drops it
//!   with the `net_device`.
//! - [`Device`], the state itself, reference counted because sockets, timers, work items and peers refer to it from
//!   contexts that have no `net_device` in hand. It refers back to the `net_device` through [`Device::netdev`], a
//!   counted reference that is published under RCU and withdrawn in `dellink`, since a held reference would keep
//!   `unregister_netdevice` waiting forever.
//!
//! Statistics are kept here (atomics) and reported through `ndo_get_stats64`: the receive path only has the untyped
//! `net_device`, and the per-CPU statistics helpers need the typed one. The device still has per-CPU `tstats`,
//! which the UDP tunnel transmit helper writes.

use crate::config::Key;
use crate::index::IndexTable;
use crate::peer::Peer;
use crate::proto::{
    allowedips::AllowedIps,
    cookie::{CookieChecker, UnderLoad},
    noise::StaticIdentity,
    ratelimiter::{Ratelimiter, Slot},
};
use crate::queueing::{JobRing, Workers};
use crate::slots::Slots;
use crate::socket::Sockets;
use crate::{crypto::KernelCrypto, KIND};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    net::{
        dev::{self, Device as NetDevice, DeviceOps, PcpuStats, Setup, Stats64},
        napi::NapiDelBatch,
        ns::{Namespace, WeakNamespace},
        pernet::PernetOps,
        rtnl::{ExtAck, LinkOps, Rtnl},
        skbuff::{DropReason, SkBuff},
    },
    new_mutex, new_spinlock_bh,
    prelude::*,
    sync::{rcu, rcu::Rcu, Arc, Mutex, SpinLockBh},
    types::ARef,
};

/// Default MTU: 1500 minus the largest overhead (IPv6 40 + UDP 8 + WireGuard data header 16 + tag 16).
pub(crate) const DEFAULT_MTU: u32 = 1420;
/// Overhead in front of the payload: the largest IP header, UDP and the data message header.
pub(crate) const HEADROOM: u16 = 40 + 8 + 16;
/// Overhead after the payload: the tag and up to 15 bytes of padding.
pub(crate) const TAILROOM: u16 = 16 + 15;
/// Handshake packets queued for the handshake worker at most (`MAX_QUEUED_INCOMING_HANDSHAKES`).
pub(crate) const MAX_QUEUED_INCOMING_HANDSHAKES: usize = 4096;
/// Peers per device at most (`MAX_PEERS_PER_DEVICE`).
pub(crate) const MAX_PEERS_PER_DEVICE: usize = 1 << 20;

/// Allowed-IPs table: prefixes map to peers.
pub(crate) type Table = AllowedIps<crate::allowedips::PeerRef, crate::allowedips::ArcFamily>;

/// Device state that only changes under the configuration mutex.
pub(crate) struct DevConfig {
    /// Configured port; while up, the port the sockets are bound to (the C `incoming_port`).
    pub(crate) listen_port: u16,
    /// Peers in creation order (the C `peer_list`). Peers are also reachable from the allowed-IPs trie and the index
    /// table; removal takes them out of all three (see `peer::remove`).
    pub(crate) peers: crate::peer_list::PeerList,
    /// Set between `ndo_open` and `ndo_stop`.
    pub(crate) up: bool,
    /// Set by `dellink`: no more peers, sockets or work.
    pub(crate) dead: bool,
}

/// The device's own key pair and the cookie checker keyed by its public key.
pub(crate) struct Identity {
    /// The static identity, if a private key is set.
    pub(crate) identity: Option<StaticIdentity<KernelCrypto>>,
    /// Validates MACs and makes cookie replies.
    pub(crate) cookie_checker: CookieChecker<KernelCrypto>,
}

/// Slot storage of the handshake ratelimiter.
pub(crate) struct SlotBuf(KVec<Slot>);

impl AsRef<[Slot]> for SlotBuf {
    fn as_ref(&self) -> &[Slot] {
        &self.0
    }
}
impl AsMut<[Slot]> for SlotBuf {
    fn as_mut(&mut self) -> &mut [Slot] {
        &mut self.0
    }
}

/// Sources tracked by a device's ratelimiter: the C driver sizes its global table by memory, at most 8192 buckets;
/// per device, 1024 slots (512 sources) is plenty and costs 40 KiB.
const RATELIMITER_SLOTS: usize = 1024;

/// The interface's statistics counters, both directions (no per-CPU abstraction for the untyped device; see the
/// module docs).
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) rx_packets: AtomicU64,
    pub(crate) rx_bytes: AtomicU64,
    pub(crate) tx_packets: AtomicU64,
    pub(crate) tx_bytes: AtomicU64,
    pub(crate) rx_dropped: AtomicU64,
    pub(crate) tx_dropped: AtomicU64,
    /// Authenticated packets with a bad inner packet (the C `dishonest_packet_*`); includes the next two.
    pub(crate) rx_errors: AtomicU64,
    /// ... whose inner length is wrong.
    pub(crate) rx_length_errors: AtomicU64,
    /// ... which are not IP, or come from a source outside the peer's allowed IPs.
    pub(crate) rx_frame_errors: AtomicU64,
    /// Packets that could not be sent: not IP, no peer for the destination, no endpoint, segmentation or
    /// encryption failed, UDP refused it.
    pub(crate) tx_errors: AtomicU64,
}

/// The state of one device.
#[pin_data]
pub(crate) struct Device {
    /// Serialises configuration changes, up/down and teardown (the C `device_update_lock`). Taken under RTNL; never
    /// taken from the data path except by the handshake worker to look a peer up by public key.
    #[pin]
    pub(crate) cfg: Mutex<DevConfig>,
    /// The static identity (the C `static_identity.lock`): written by configuration, read by the handshake worker
    /// and the handshake transmit work. Lock order: `cfg` before `identity`.
    #[pin]
    pub(crate) identity: Mutex<Identity>,
    /// Rate limits handshake processing per source under load (the C `ratelimiter.c`, per device here, which is
    /// what the C driver's per-namespace scope amounts to). Handshake worker only.
    #[pin]
    pub(crate) ratelimiter: Mutex<Ratelimiter<SlotBuf>>,
    /// Whether handshake processing is under load (cookies demanded), remembered for a second. Handshake worker
    /// only.
    #[pin]
    pub(crate) under_load: Mutex<UnderLoad>,
    /// Sender indices of handshakes and keypairs; looked up from softirq without a lock (RCU).
    #[pin]
    pub(crate) index: IndexTable,
    /// Incoming handshake messages, processed by `handshake_work` (`handshake.rs`). Bounded by
    /// [`MAX_QUEUED_INCOMING_HANDSHAKES`].
    #[pin]
    pub(crate) incoming_handshakes: kernel::net::skbuff::SkBuffHead,
    /// Interface name as of the last RTNL-held callback, for log lines from any context.
    #[pin]
    name: SpinLockBh<[u8; 16]>,
    /// The `net_device`, published while registered; cleared by `dellink` (see the module docs).
    pub(crate) netdev: Rcu<KBox<ARef<NetDevice>>>,
    /// The namespace the device was created in: its sockets live there, also after the device moved to another
    /// namespace. A passive reference, since a counted one would keep the namespace from ever being dismantled; when
    /// it is, [`NetHooks::pre_exit`] closes the sockets (the C `wg_netns_pre_exit`), and they cannot be opened again.
    creating_net: WeakNamespace,
    /// The UDP sockets while up. Written under `cfg`, read under RCU by the transmit path.
    pub(crate) sockets: Rcu<Arc<Sockets>>,
    /// The allowed-IPs trie. Written under `cfg` (copy on write), read under RCU.
    pub(crate) allowedips: Rcu<KBox<Table>>,
    /// Firewall mark for outgoing packets.
    pub(crate) fwmark: AtomicU32,
    /// Bumped on every configuration change.
    pub(crate) generation: AtomicU64,
    /// Counters reported by `ndo_get_stats64`.
    pub(crate) stats: Stats,
    /// Source of the ratelimiter's per-device scope, and of handshake work item identities.
    pub(crate) ratelimit_scope: u64,
    /// The handshake receive work; see `handshake.rs`.
    #[pin]
    pub(crate) handshake_work: kernel::workqueue::Work<Device, 0>,
    /// Packets waiting for encryption by any CPU (the C `encrypt_queue`); see `queueing.rs`.
    #[pin]
    pub(crate) crypt_tx: SpinLockBh<JobRing>,
    /// Packets waiting for decryption by any CPU (the C `decrypt_queue`).
    #[pin]
    pub(crate) crypt_rx: SpinLockBh<JobRing>,
    /// The workqueues (handshakes, initiations, key zeroing and consumers on one, bound to CPUs; the crypt workers
    /// on another, unbound, at a lower priority) and the per-CPU crypt workers; set when the device first goes up
    /// (a device that never does costs no workqueue and no grace period at deletion), cleared and drained by
    /// teardown (which breaks the device → worker → device cycle). Enqueuers read it under RCU, so nothing is queued
    /// after the teardown's grace period; while it is unset, work is not queued (there are no sockets then either,
    /// so there is nothing to handshake or send).
    pub(crate) workers: Rcu<KBox<Workers>>,
    /// The CPU the next crypt worker is kicked on.
    pub(crate) crypt_cpu: kernel::cpu::RoundRobin,
    /// Peers with staged packets that found `crypt_tx` full (see `Device::wait_for_crypt_room`). Each is listed at
    /// most once (`Peer::crypt_waiting`); taken by the next worker that makes room, and at teardown.
    #[pin]
    pub(crate) crypt_waiters: SpinLockBh<Slots<Arc<Peer>>>,
    /// Set while `crypt_waiters` may be non-empty, so workers need not take its lock for every job.
    pub(crate) crypt_wake: AtomicBool,
}

kernel::impl_has_work! {
    impl HasWork<Device, 0> for Device { self.handshake_work }
}

/// Peer and keypair ids, unique across devices (the C `peer_counter` and keypair counter).
pub(crate) static OBJECT_IDS: AtomicU64 = AtomicU64::new(0);

impl Device {
    /// Returns the interface name last seen under RTNL.
    pub(crate) fn name(&self) -> [u8; 16] {
        *self.name.lock()
    }

    /// Refreshes the cached name; the caller holds RTNL.
    fn refresh_name(&self, dev: &NetDevice, rtnl: &Rtnl) {
        let mut n = [0u8; 16];
        let b = dev.name(rtnl).as_bytes();
        let l = b.len().min(15);
        n[..l].copy_from_slice(&b[..l]);
        *self.name.lock() = n;
    }

    /// Returns a counted reference to the `net_device`, unless it is being deleted.
    pub(crate) fn netdev(&self) -> Option<ARef<NetDevice>> {
        let g = rcu::read_lock();
        self.netdev.get(&g).map(|d| (*d).clone())
    }

    /// Queues `w` on the device's workqueue unless the device is being torn down. Returns whether it was queued.
    pub(crate) fn queue_work<W>(&self, w: W) -> bool
    where
        W: kernel::workqueue::RawWorkItem<0, EnqueueOutput = Result<(), W>> + Send + 'static,
    {
        // A refused item is dropped after the read-side section (it may hold the last reference to something).
        let r = {
            let g = rcu::read_lock();
            match self.workers.get(&g) {
                Some(ws) => ws.wq.enqueue(w),
                None => Err(w),
            }
        };
        r.is_ok()
    }

    /// Queues a per-peer work item (`ID` selects which of the peer's works).
    pub(crate) fn queue_peer_work<const ID: u64>(&self, p: Arc<Peer>) -> bool
    where
        Arc<Peer>: kernel::workqueue::RawWorkItem<ID, EnqueueOutput = Result<(), Arc<Peer>>>,
    {
        let r = {
            let g = rcu::read_lock();
            match self.workers.get(&g) {
                Some(ws) => ws.wq.enqueue::<Arc<Peer>, ID>(p),
                None => Err(p),
            }
        };
        r.is_ok()
    }

    /// Opens the sockets on `port` in the creating namespace (the C `wg_socket_init`).
    pub(crate) fn open_sockets(self: &Arc<Self>, _rtnl: &Rtnl, port: u16) -> Result<u16> {
        // Held only while binding: the sockets themselves do not keep the namespace alive.
        let ns = self.creating_net.upgrade().ok_or(ENONET)?;
        let socks = Sockets::open(&ns, port, self.clone())?;
        let port = socks.port();
        // The old sockets (if rebinding) are released after a grace period and after receive callbacks finish.
        drop(self.sockets.replace(Some(Arc::new(socks, GFP_KERNEL)?)).into_inner());
        Ok(port)
    }

    /// Closes the sockets; waits for receive callbacks in flight.
    pub(crate) fn close_sockets(&self) {
        drop(self.sockets.replace(None).into_inner());
    }
}

/// Prints a debug line prefixed with the device name, like the C driver's `pr_debug("%s: ...", dev->name)`.
///
/// 6.12's `pr_debug!` compiles to nothing without `CONFIG_RUST_DEBUG_ASSERTIONS` and has no dynamic debug hook, so
/// these lines are always printed at `KERN_DEBUG` (the console hides them; `/dev/kmsg`, which netns.sh reads, has
/// them).
#[macro_export]
macro_rules! wg_debug {
    ($dev:expr, $fmt:literal $($arg:tt)*) => {{
        let n = $dev.name();
        let l = n.iter().position(|&c| c == 0).unwrap_or(n.len());
        let s = core::str::from_utf8(&n[..l]).unwrap_or("?");
        kernel::print_macro!(kernel::print::format_strings::DEBUG, false, concat!("{}: ", $fmt, "\n"), s $($arg)*);
    }};
}

/// Like [`wg_debug!`], for lines that received packets can trigger at any rate: at most
/// [`Ratelimit::BURST`] lines per call site every [`Ratelimit::INTERVAL_NS`] (the C driver's
/// `net_dbg_ratelimited`, with printk's default limits).
#[macro_export]
macro_rules! wg_debug_ratelimited {
    ($dev:expr, $($arg:tt)*) => {{
        static LIMIT: $crate::device::Ratelimit = $crate::device::Ratelimit::new();
        if LIMIT.allow() {
            $crate::wg_debug!($dev, $($arg)*);
        }
    }};
}

/// The state of one [`wg_debug_ratelimited!`] call site.
pub(crate) struct Ratelimit {
    /// Start of the current interval (monotonic ns; 0 before the first line).
    start: AtomicU64,
    /// Lines asked for in the current interval.
    count: AtomicU32,
}

impl Ratelimit {
    /// Lines per interval (`DEFAULT_RATELIMIT_BURST`).
    pub(crate) const BURST: u32 = 10;
    /// The interval (`DEFAULT_RATELIMIT_INTERVAL`, 5 s).
    pub(crate) const INTERVAL_NS: u64 = 5_000_000_000;

    pub(crate) const fn new() -> Self {
        Self {
            start: AtomicU64::new(0),
            count: AtomicU32::new(0),
        }
    }

    /// Whether a line may be printed now. Racy by design: concurrent callers may let a line or two more through.
    pub(crate) fn allow(&self) -> bool {
        let now = crate::timers::now().max(1);
        let start = self.start.load(Ordering::Relaxed);
        if (start == 0 || now.saturating_sub(start) >= Self::INTERVAL_NS)
            && self
                .start
                .compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.count.store(0, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed) < Self::BURST
    }
}

// ---- The registry of live devices, for netlink lookups ----

/// All devices of this module, in every namespace.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    devices: Mutex<Slots<Arc<Device>>>,
}

/// Set while the module is loaded.
static REGISTRY: Rcu<Arc<Registry>> = Rcu::null();

/// Creates the registry at module load.
pub(crate) fn registry_init() -> Result {
    let r = Arc::pin_init(
        pin_init!(Registry { devices <- new_mutex!(Slots::new()) }),
        GFP_KERNEL,
    )?;
    drop(REGISTRY.replace(Some(r)));
    Ok(())
}

/// Removes the registry at module unload, after every device is gone.
pub(crate) fn registry_exit() {
    drop(REGISTRY.replace(None).into_inner());
}

fn registry() -> Option<Arc<Registry>> {
    let g = rcu::read_lock();
    REGISTRY.get(&g).map(Arc::from)
}

/// See [`crate::config::find_device`].
pub(crate) fn registry_find(
    rtnl: &Rtnl,
    ns: &Namespace,
    ifindex: Option<i32>,
    name: Option<&CStr>,
) -> Option<Arc<Device>> {
    let reg = registry()?;
    let list = reg.devices.lock();
    for d in list.iter() {
        let Some(nd) = d.netdev() else { continue };
        if !nd.net(rtnl).is(ns) {
            continue;
        }
        let hit = match (ifindex, name) {
            (Some(i), _) if i != 0 => nd.ifindex() == i,
            (_, Some(n)) => nd.name(rtnl).as_bytes() == n.as_bytes(),
            _ => false,
        };
        if hit {
            return Some(d.clone());
        }
    }
    None
}

fn registry_add(d: &Arc<Device>) -> Result {
    let reg = registry().ok_or(ENODEV)?;
    reg.devices.lock().insert(d.clone(), true, GFP_KERNEL)?;
    Ok(())
}

fn registry_remove(d: &Device) {
    if let Some(reg) = registry() {
        let mut list = reg.devices.lock();
        let gone = list.remove_if(|x| core::ptr::eq(&**x, d));
        drop(list);
        drop(gone);
    }
}

// ---- Namespaces going away ----

/// Per-namespace hooks of the module.
pub(crate) struct NetHooks;

#[vtable]
impl PernetOps for NetHooks {
    /// A namespace starts to be dismantled: devices created in it (which may live elsewhere now) lose their sockets
    /// for good and their carrier, as in the C `wg_netns_pre_exit`. The socket abstraction has already released
    /// the sockets themselves by then or does so right after; this drops our handles on them.
    fn pre_exit(net: &Namespace) {
        let Some(reg) = registry() else { return };
        let devs = {
            let list = reg.devices.lock();
            let mut v = KVec::new();
            for d in list.iter().filter(|d| d.creating_net.is(net)) {
                if v.push(d.clone(), GFP_KERNEL).is_err() {
                    break;
                }
            }
            v
        };
        for d in devs.iter() {
            d.close_sockets();
            if let Some(nd) = d.netdev() {
                nd.carrier_off();
            }
        }
    }
}

// ---- The net_device private area and its callbacks ----

/// The `net_device` private area.
#[pin_data(PinnedDrop)]
pub(crate) struct DevPriv {
    wg: Arc<Device>,
}

#[pinned_drop]
impl PinnedDrop for DevPriv {
    fn drop(self: Pin<&mut Self>) {
        // Normally `dellink` unlinked the device already; if registration failed after `newlink`, it did not.
        unlink(&self.wg);
        destroy(&self.wg);
    }
}

/// Unlinks the device from everything that can reach it or that it holds (the C `wg_destruct` up to freeing the
/// allowed-IPs table); idempotent. `dellink`, under RTNL, or the device unreachable.
///
/// Order matters:
/// 1. Mark dead under `cfg`, so configuration and `open` stop adding peers and sockets.
/// 2. Take it out of the registry, so netlink cannot find it any more.
/// 3. Close the sockets: no new packets arrive; waits for receive callbacks in flight.
/// 4. Remove every peer (see `peer::remove`: stops its timer, drops its keys and index entries and queued packets,
///    and deletes its NAPI context, which holds a `net_device` reference; one grace period for all the contexts).
/// 5. Take the workqueue out and drop it, which drains work already queued (work never takes RTNL or `cfg` for
///    longer than a lookup, so this cannot deadlock); nothing can be queued after the take. Then the same for the
///    crypt workqueue (`stop_workers`), dropping the jobs left, the packets that came back to the peers' rings and
///    those a consumer queued for delivery after its peer's removal.
/// 6. Drop the incoming handshakes still queued and any index entry left, and withdraw the `net_device` reference
///    after a grace period (so no RCU reader still uses it), which lets `unregister_netdevice` finish.
///
/// Every step costs a bounded amount per peer. The allowed-IPs table, which may have hundreds of thousands of
/// nodes, stays: freeing it under RTNL stalled every other RTNL user for minutes on the debug kernel (netns.sh's
/// 130560-prefix peer). [`destroy`] frees it once RTNL is released.
fn unlink(wg: &Arc<Device>) {
    let peers = {
        let mut c = wg.cfg.lock();
        if c.dead {
            return;
        }
        c.dead = true;
        c.up = false;
        c.peers.take()
    };
    registry_remove(wg);
    wg.close_sockets();
    let mut napis = NapiDelBatch::new();
    for p in peers.iter() {
        crate::peer::remove_into(wg, p, &mut napis);
    }
    // One grace period for all the NAPI contexts; their `net_device` references go with it.
    drop(napis);
    // No more packets are admitted (sockets closed, peers dead): drain the workqueue (handshakes and the
    // pipeline), then drop what came back.
    wg.stop_workers();
    // Take the list out first and drop it after the guard: the last reference to a removed peer may be in it, and
    // `Peer::drop` takes the peer's rings, which rank before crypt_waiters (tx_ring -> crypt_tx -> crypt_waiters).
    let waiters = core::mem::replace(&mut *wg.crypt_waiters.lock(), Slots::new());
    drop(waiters);
    for p in peers.iter() {
        p.purge_rings();
        // A receive consumer that was running while `remove` purged the delivery queue may have queued packets
        // after it (its NAPI context is gone, so nothing takes them): they point at the `net_device`, which is
        // about to go, without a reference. Nothing adds to the queue any more.
        p.deliver.purge();
    }
    drop(peers);
    wg.incoming_handshakes.purge();
    // Every peer is removed, so no index entry is left (see `peer::remove`). Should one be, it would keep its peer
    // and this device alive for ever (a reference cycle): drop it, and say so.
    let n = wg.index.lock().clear();
    if n != 0 {
        pr_warn!("rust_wg: {} index entries left at teardown\n", n);
    }
    // Freed from an RCU callback (the module's exit waits for it with `rcu::barrier`): grace periods are slow, and
    // unregistering waits for the reference anyway.
    if let Err(old) = wg.netdev.replace(None).free_deferred(GFP_KERNEL) {
        drop(old.into_inner());
    }
}

/// Frees what [`unlink`] left: the allowed-IPs table, whose nodes hold the last references to the removed peers.
/// The private data's destructor: process context, after the last `net_device` reference is gone and RTNL is
/// released (`netdev_run_todo`), like the C `wg_destruct`.
fn destroy(wg: &Device) {
    // An empty table is freed from an RCU callback; one with prefixes (the peers were removed without touching it)
    // may have many thousands of nodes, too many to free in softirq context (see `allowedips::Update::commit`), so
    // here after a grace period.
    let bulk = wg.allowedips.get(&rcu::read_lock()).is_some_and(|t| !t.is_empty());
    crate::allowedips::free_old(wg.allowedips.replace(None), bulk);
    crate::wg_debug!(wg, "Interface destroyed");
}

#[vtable]
impl DeviceOps for DevPriv {
    // The UDP tunnel transmit path (`iptunnel_xmit`) counts into the tunnel device's per-CPU `tstats`, so they
    // must exist, as in the C driver. What we report comes from our own counters (`get_stats64`), because the
    // receive path cannot reach the typed device's statistics helpers.
    const PCPU_STATS: PcpuStats = PcpuStats::Tstats;

    fn open(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let wg = dev.data().wg.clone();
        wg.refresh_name(dev.untyped(), rtnl);
        wg.start_workers(rtnl)?;
        let port = wg.cfg.lock().listen_port;
        let bound = wg.open_sockets(rtnl, port)?;
        // Under `cfg`, as configuration changes peers (a copy of the list would need memory, for 8 bytes a peer).
        let mut c = wg.cfg.lock();
        c.listen_port = bound;
        c.up = true;
        for p in c.peers.iter() {
            p.set_running(true);
            crate::send::send_staged(p);
            if p.persistent_keepalive() != 0 {
                crate::send::send_keepalive(p);
            }
        }
        Ok(())
    }

    fn stop(dev: &NetDevice<Self>, rtnl: &Rtnl) -> Result {
        let wg = dev.data().wg.clone();
        wg.refresh_name(dev.untyped(), rtnl);
        {
            // Cannot fail: the core ignores an error here, and peers left running would keep their timers and keys
            // while the device is down.
            let mut c = wg.cfg.lock();
            c.up = false;
            for p in c.peers.iter() {
                p.stop();
            }
        }
        wg.close_sockets();
        wg.incoming_handshakes.purge();
        Ok(())
    }

    fn start_xmit(dev: &NetDevice<Self>, skb: SkBuff) {
        let wg = &dev.data().wg;
        crate::send::xmit(wg, dev.untyped(), skb);
    }

    fn get_stats64(dev: &NetDevice<Self>, stats: &mut Stats64) {
        let s = &dev.data().wg.stats;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        stats.set_rx(r(&s.rx_packets), r(&s.rx_bytes));
        stats.set_tx(r(&s.tx_packets), r(&s.tx_bytes));
        stats.set_dropped(r(&s.rx_dropped), r(&s.tx_dropped));
        stats.set_errors(r(&s.rx_errors), r(&s.tx_errors));
        stats.set_rx_error_details(r(&s.rx_length_errors), r(&s.rx_frame_errors));
    }
}

#[vtable]
impl LinkOps for DevPriv {
    const KIND: &'static CStr = KIND;

    fn setup(dev: &mut Setup<'_>) {
        // Like the C `wg_setup`: a layer-3 tunnel without ARP or a queue, lockless transmit, GSO in software.
        dev.set_type(dev::ARPHRD_NONE);
        dev.set_flags(dev::flags::NOARP | dev::flags::POINTOPOINT);
        dev.add_priv_flags(dev::priv_flags::NO_QUEUE);
        dev.set_lltx();
        dev.set_ip_tunnel_header_ops();
        dev.set_hard_header_len(0);
        dev.set_addr_len(0);
        dev.set_needed_headroom(HEADROOM);
        dev.set_needed_tailroom(TAILROOM);
        dev.set_mtu(DEFAULT_MTU);
        dev.set_min_mtu(68);
        dev.set_max_mtu(65535 - 40 - 8 - 32);
        dev.keep_dst();
        // Like the C driver: the stack may hand us CHECKSUM_PARTIAL packets and TSO/GSO super-packets (HW_CSUM lets
        // the core keep TSO on); `xmit` segments in software and `seal` finishes the inner checksum before
        // encrypting (test 59 sends TCP over outer veths without checksum offload).
        dev.add_features(
            dev::features::SG
                | dev::features::HW_CSUM
                | dev::features::RXCSUM
                | dev::features::HIGHDMA
                | dev::features::GSO
                | dev::features::GSO_SOFTWARE,
        );
    }

    fn newlink(
        dev: &NetDevice,
        src_net: &Namespace,
        rtnl: &Rtnl,
        _extack: &mut ExtAck,
    ) -> Result<impl PinInit<Self, Error>> {
        let now = kernel::time::ktime_get_coarse_boottime_ns();
        let mut secret = [0u8; 32];
        kernel::crypto::get_random_bytes(&mut secret);
        let checker = CookieChecker::new(None, &secret, now).map_err(|_| EINVAL)?;
        kernel::crypto::memzero_explicit(&mut secret);
        let creating_net = WeakNamespace::new(src_net);
        let netdev = KBox::new(ARef::from(dev), GFP_KERNEL)?;
        let slots = SlotBuf(KVec::from_elem(Slot::EMPTY, RATELIMITER_SLOTS, GFP_KERNEL)?);
        let mut rl_key = [0u8; 16];
        kernel::crypto::get_random_bytes(&mut rl_key);
        let rl_key = [
            u64::from_ne_bytes(rl_key[..8].try_into().unwrap_or([0; 8])),
            u64::from_ne_bytes(rl_key[8..].try_into().unwrap_or([0; 8])),
        ];
        let table = KBox::new(Table::new(), GFP_KERNEL)?;
        let index = IndexTable::new()?;
        let wg = Arc::pin_init(
            try_pin_init!(Device {
                cfg <- new_mutex!(DevConfig {
                    listen_port: 0,
                    peers: crate::peer_list::PeerList::new(),
                    up: false,
                    dead: false,
                }),
                identity <- new_mutex!(Identity { identity: None, cookie_checker: checker }),
                ratelimiter <- new_mutex!(Ratelimiter::new(slots, rl_key)),
                under_load <- new_mutex!(UnderLoad::new()),
                index <- index,
                incoming_handshakes <- kernel::net::skbuff::SkBuffHead::new(),
                name <- new_spinlock_bh!([0u8; 16]),
                netdev: Rcu::new(Some(netdev)),
                creating_net,
                sockets: Rcu::null(),
                allowedips: Rcu::new(Some(table)),
                fwmark: AtomicU32::new(0),
                generation: AtomicU64::new(0),
                stats: Stats::default(),
                ratelimit_scope: OBJECT_IDS.fetch_add(1, Ordering::Relaxed),
                handshake_work <- kernel::new_work!("wg-rust-handshake"),
                crypt_tx <- new_spinlock_bh!(JobRing::empty()),
                crypt_rx <- new_spinlock_bh!(JobRing::empty()),
                workers: Rcu::null(),
                crypt_cpu: kernel::cpu::RoundRobin::new(),
                crypt_waiters <- new_spinlock_bh!(Slots::new()),
                crypt_wake: AtomicBool::new(false),
            }? Error),
            GFP_KERNEL,
        )?;
        wg.refresh_name(dev, rtnl);
        registry_add(&wg)?;
        wg_debug!(wg, "Interface created");
        Ok(try_pin_init!(DevPriv { wg }? Error))
    }

    fn dellink(dev: &NetDevice<Self>, rtnl: &Rtnl) {
        let wg = dev.data().wg.clone();
        wg.refresh_name(dev.untyped(), rtnl);
        unlink(&wg);
    }
}

/// Drops `skb` that could not be sent for want of room or of a peer that still exists (`tx_dropped`).
pub(crate) fn tx_drop(wg: &Device, skb: SkBuff, reason: DropReason) {
    wg.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
    skb.drop_reason(reason);
}

/// Drops `skb` that cannot be sent at all: not IP, no peer or endpoint for it, encryption failed (`tx_errors` only,
/// as the C driver counts these).
pub(crate) fn tx_error(wg: &Device, skb: SkBuff, reason: DropReason) {
    wg.stats.tx_errors.fetch_add(1, Ordering::Relaxed);
    skb.drop_reason(reason);
}

/// Returns the device's public key, if it has an identity.
pub(crate) fn public_key(wg: &Device) -> Option<Key> {
    wg.identity.lock().identity.as_ref().map(|i| *i.public_key())
}
