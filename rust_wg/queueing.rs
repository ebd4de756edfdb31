// SPDX-License-Identifier: GPL-2.0

//! The data path pipeline: encryption and decryption spread over all CPUs, packets delivered in per-peer order
//! (the C queueing.c/queueing.h design, with owned packets instead of one skb on two lists).
//!
//! A packet takes one path, and exactly one owner holds it at every step:
//!
//! ```text
//!  producer (xmit / encap_rcv)        crypt workers (one per CPU)           consumer (one per peer and direction)
//!  reserve slot `seq` in the  ──Job──▶ device JobRing ──▶ seal/open the ──▶ slot `seq` = Ready(skb) ──▶ pop the head
//!  peer's OrderRing (Busy)             (shared, FIFO)     skb, no lock      or Failed                   while done
//! ```
//!
//! - [`OrderRing`] (per peer, one for transmit, one for receive) remembers the admission order: the producer
//!   reserves the next sequence number, the worker puts the finished packet back into that slot, the consumer takes
//!   finished packets from the head only. The ring's capacity bounds the packets a peer has in flight.
//! - [`JobRing`] (per device, one per direction) is the work list all CPUs' workers take from, so a busy CPU's work
//!   is picked up by the others. A [`Job`] owns the skb and references to its peer and keypair while it is out.
//! - [`CryptWorker`]s are per-CPU work items on the device's crypt workqueue; producers kick them round-robin
//!   ([`Device::kick_crypt`]). A worker processes at most [`WORKER_BUDGET`] jobs, then requeues itself on its CPU.
//! - The consumers are per-peer work items queued on the peer's serial CPU (`Peer::serial_cpu`), so one CPU hands
//!   a peer's packets to UDP or the stack, in order, into that CPU's backlog.
//!
//! Lock order: `Peer::{tx,rx}_ring` before `Device::crypt_{tx,rx}` before the staging queue's lock before
//! `Device::crypt_waiters`; the producer holds the first two while moving packets so that sequence (and, on
//! transmit, nonce) order equals ring order. Workers and consumers hold one lock at a time. No `Arc<Peer>` may be
//! dropped under any of them unless the caller holds another (the last one frees the peer, whose `Drop` takes its
//! rings' locks).

use crate::aqm::{Codel, InflightLimit, Sojourns};
use crate::proto::express::Express;
use crate::device::Device;
use crate::index::Keypair;
use crate::peer::Peer;
use core::sync::atomic::Ordering;
use kernel::{
    net::skbuff::SkBuff,
    prelude::*,
    sync::{rcu, Arc, SpinLockBh},
    workqueue::{OwnedQueue, Work, WorkItem},
};

/// Packets a peer may have in flight per direction (between admission and the consumer), as the C per-peer queues'
/// `MAX_QUEUED_PACKETS`; a power of two.
pub(crate) const PEER_RING: usize = 1024;
/// Slots a peer's ring gets with its first packet; it doubles when full, up to [`PEER_RING`]. A peer that has not
/// sent or received data has no slots at all, and a stopped or idle peer gives them back (see
/// [`OrderRing::release`]): 10 000 configured peers with even 64-slot rings would take 50 MB.
pub(crate) const PEER_RING_INITIAL: usize = 64;
/// Jobs a device may have waiting for a crypt worker per direction (the C `MAX_QUEUED_PACKETS`).
pub(crate) const CRYPT_RING: usize = 1024;
/// Jobs a worker processes before yielding its CPU (it requeues itself if more are waiting).
pub(crate) const WORKER_BUDGET: usize = 64;
/// Packets a consumer handles before yielding its CPU.
pub(crate) const CONSUMER_BUDGET: usize = 128;

/// A slot of an [`OrderRing`].
enum Slot {
    /// Not in use.
    Free,
    /// Reserved for a packet of this many bytes, which is out with a crypt worker.
    Busy(u32),
    /// The crypto failed (or the peer went away); the packet (of this many bytes at admission) was dropped.
    Failed(u32),
    /// Sealed or opened, waiting for the consumer; the bytes it had at admission.
    Ready(SkBuff, Arc<Keypair>, u32),
}

/// What the consumer finds at the head of an [`OrderRing`].
pub(crate) enum Done {
    /// The next packet in order, with the keypair it was processed with.
    Packet(SkBuff, Arc<Keypair>),
    /// The next packet in order was dropped by its worker.
    Failed,
}

/// Admission order of a peer's packets in one direction.
///
/// # Invariants
///
/// `tail - head` (wrapping) is at most `slots.len()`; `initial` and `max` are powers of two, `slots.len()` is zero
/// (no memory yet, or given back: then `head == tail`) or a power of two from `initial` to `max`, and
/// `stamps.len() == slots.len()`. The slot of sequence number `seq` is `slots[seq % slots.len()]` (and its
/// admission time `stamps[seq % slots.len()]`). The slots from `head` up to `tail` are `Busy`, `Failed` or `Ready`,
/// the others `Free`; `bytes` is the sum of their admission lengths, `stamps` their admission times. `handed_on` is
/// at most `head` (wrapping). Every packet admitted since `express` was created and not yet seen consumed is
/// recorded in it, or is at or before the sequence number it was created waiting for (`Express::waiting_for`).
pub(crate) struct OrderRing {
    slots: KVec<Slot>,
    stamps: KVec<u64>,
    initial: usize,
    max: usize,
    head: u32,
    tail: u32,
    /// Every packet before this one was taken by the consumer and handed on (sent or queued for delivery): the
    /// consumer takes the next one only after it finished the previous, so `pop` moves it to `head`.
    handed_on: u32,
    bytes: usize,
    /// Receive: when to drop at admission, from the sojourn of the packets that leave (`aqm.rs`).
    pub(crate) codel: Codel,
    /// Transmit: how many bytes may be admitted (`aqm.rs`).
    pub(crate) inflight: InflightLimit,
    /// How long the packets that left were in the ring.
    pub(crate) sojourns: Sojourns,
    /// Which packets may skip the ring (`proto::express`): the caller reports the admissions of keyed packets
    /// ([`OrderRing::express_admitted`]). Allocated by the first [`OrderRing::may_express`] and given back with the
    /// slots: about 800 bytes, which configured peers that never send small packets (most of a concentrator's)
    /// need not pay.
    express: Option<KBox<Express>>,
    /// Packets that took the express lane, of the `Express` states given back (for statistics).
    express_passed: u64,
}

/// The clock the pipeline's queue management reads (monotonic ns, fine-grained: sojourns are milliseconds).
pub(crate) fn clock() -> u64 {
    kernel::time::ktime_get_boottime_ns()
}

fn free_slots(n: usize, flags: kernel::alloc::Flags) -> Result<KVec<Slot>> {
    let mut slots = KVec::with_capacity(n, flags)?;
    for _ in 0..n {
        slots.push(Slot::Free, flags)?;
    }
    Ok(slots)
}

/// A boxed [`Express`] state waiting for `last` (atomic context: under a ring's lock).
///
/// Out of line and cold: the state's ~800-byte initial value is built on the stack before it is moved into the box,
/// and inlined it would be in the frame of every [`OrderRing::may_express`], which runs in `ndo_start_xmit` (nested
/// once per stacked device) for every small packet, while this runs once per ring.
#[cold]
#[inline(never)]
fn new_express(last: u32) -> Option<KBox<Express>> {
    KBox::new(Express::waiting_for(last), GFP_ATOMIC).ok()
}

impl OrderRing {
    /// An empty ring without memory; the first admission gives it `cap` slots, and it grows up to `max` (both
    /// powers of two).
    pub(crate) fn new(cap: usize, max: usize) -> Result<Self> {
        if !cap.is_power_of_two() || !max.is_power_of_two() || cap > max || max > 1 << 31 {
            return Err(EINVAL);
        }
        Ok(Self {
            slots: KVec::new(),
            stamps: KVec::new(),
            initial: cap,
            max,
            head: 0,
            tail: 0,
            handed_on: 0,
            bytes: 0,
            codel: Codel::new(),
            inflight: InflightLimit::new(),
            sojourns: Sojourns::new(),
            express: None,
            express_passed: 0,
        })
    }

    /// Doubles the slots (or allocates the first ones), if allowed and memory permits (atomic context: called under
    /// the ring's lock).
    fn grow(&mut self) -> bool {
        let n = match self.slots.len() {
            0 => self.initial,
            l => l * 2,
        };
        if n > self.max {
            return false;
        }
        let Ok(mut slots) = free_slots(n, GFP_ATOMIC) else {
            return false;
        };
        let Ok(mut stamps) = KVec::from_elem(0, n, GFP_ATOMIC) else {
            return false;
        };
        // Every sequence number keeps its slot under the new modulus (2^32 is a multiple of both sizes).
        let mut seq = self.head;
        while seq != self.tail {
            let old = self.index(seq);
            let new = seq as usize & (n - 1);
            slots[new] = core::mem::replace(&mut self.slots[old], Slot::Free);
            stamps[new] = self.stamps[old];
            seq = seq.wrapping_add(1);
        }
        self.slots = slots;
        self.stamps = stamps;
        true
    }

    /// Gives the slots back if the ring is empty (a stopped or idle peer); the next admission allocates them again.
    pub(crate) fn release(&mut self) {
        if self.head == self.tail && !self.slots.is_empty() {
            self.slots = KVec::new();
            self.stamps = KVec::new();
            if let Some(e) = self.express.take() {
                self.express_passed += e.passed;
            }
        }
    }

    /// The slot of `seq`; only for a ring with slots (`head != tail`, or after [`OrderRing::has_room`]).
    fn index(&self, seq: u32) -> usize {
        seq as usize & (self.slots.len() - 1)
    }

    /// Packets admitted and not yet consumed.
    pub(crate) fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head) as usize
    }

    /// Bytes admitted and not yet consumed (at their admission lengths).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether a packet of `key` may take the express lane at `now` (none of the key's packets is in the ring, and
    /// the key's rate allows it); if so, it is counted.
    pub(crate) fn may_express(&mut self, key: u32, now: u64) -> bool {
        // Not the head: a packet the consumer popped may still be on its way, and must not be overtaken.
        let (from, tail) = (self.handed_on, self.tail);
        let e = match &mut self.express {
            Some(e) => e,
            None => {
                // The admissions before now were not recorded: every key waits for the last of them. Without
                // memory, the packet takes the pipeline.
                let Some(e) = new_express(tail.wrapping_sub(1)) else {
                    return false;
                };
                self.express.insert(e)
            }
        };
        e.may_pass(key, now, from, tail)
    }

    /// A packet of `key` was admitted as `seq` at `now` (see [`OrderRing::may_express`]; without an `Express` state
    /// yet, the one created later waits for it anyway).
    pub(crate) fn express_admitted(&mut self, key: u32, seq: u32, now: u64) {
        let from = self.handed_on;
        if let Some(e) = &mut self.express {
            e.admitted(key, seq, now, from);
        }
    }

    /// Packets that took the express lane.
    pub(crate) fn express_passed(&self) -> u64 {
        self.express_passed + self.express.as_ref().map_or(0, |e| e.passed)
    }

    /// Whether another packet may be admitted (growing the ring if it is full).
    pub(crate) fn has_room(&mut self) -> bool {
        self.len() < self.slots.len() || self.grow()
    }

    /// Reserves the next slot for a packet of `len` bytes admitted at `now` ([`clock`]), returning its sequence
    /// number.
    pub(crate) fn reserve(&mut self, len: usize, now: u64) -> Option<u32> {
        if !self.has_room() {
            return None;
        }
        let seq = self.tail;
        let i = self.index(seq);
        let len = len.min(u32::MAX as usize) as u32;
        self.slots[i] = Slot::Busy(len);
        self.stamps[i] = now;
        self.bytes += len as usize;
        self.tail = seq.wrapping_add(1);
        Some(seq)
    }

    /// Puts the outcome of slot `seq` back. Returns whether the consumer should run, i.e. `seq` is at the head.
    ///
    /// A `seq` that is not reserved (the ring was reset meanwhile) gives the packet back as `Err`.
    pub(crate) fn complete(
        &mut self,
        seq: u32,
        done: Option<(SkBuff, Arc<Keypair>)>,
    ) -> core::result::Result<bool, Option<(SkBuff, Arc<Keypair>)>> {
        if seq.wrapping_sub(self.head) >= self.tail.wrapping_sub(self.head) {
            return Err(done);
        }
        let i = self.index(seq);
        let Slot::Busy(len) = self.slots[i] else {
            return Err(done);
        };
        self.slots[i] = match done {
            Some((skb, kp)) => Slot::Ready(skb, kp, len),
            None => Slot::Failed(len),
        };
        Ok(seq == self.head)
    }

    /// Takes the head if its packet is done, at `now` ([`clock`]); its sojourn feeds [`OrderRing::codel`].
    pub(crate) fn pop(&mut self, now: u64) -> Option<Done> {
        // The consumer finished with what it took before.
        self.handed_on = self.head;
        if self.head == self.tail {
            return None;
        }
        let i = self.index(self.head);
        let (d, len) = match core::mem::replace(&mut self.slots[i], Slot::Free) {
            Slot::Ready(skb, kp, len) => (Done::Packet(skb, kp), len),
            Slot::Failed(len) => (Done::Failed, len),
            other => {
                self.slots[i] = other;
                return None;
            }
        };
        self.bytes -= len as usize;
        self.head = self.head.wrapping_add(1);
        let bytes = self.bytes;
        let sojourn = now.saturating_sub(self.stamps[i]);
        self.sojourns.add(sojourn);
        self.codel.dequeued(now, sojourn, bytes);
        Some(d)
    }
}

/// A packet out for encryption or decryption.
pub(crate) struct Job {
    /// Whose packet it is; its ring has slot `seq` reserved for it.
    pub(crate) peer: Arc<Peer>,
    /// The session it is sealed or opened with.
    pub(crate) keypair: Arc<Keypair>,
    /// The packet: plaintext with room for the header (transmit), or the whole data message (receive).
    pub(crate) skb: SkBuff,
    /// The slot in the peer's ring.
    pub(crate) seq: u32,
    /// The MTU to pad against (transmit): the route's when the packet had one, else the device's at admission.
    pub(crate) mtu: u32,
    /// The nonce: transmit takes it at admission; receive reads it from the message's header at admission (the
    /// consumer's replay check reads it again from the opened message).
    pub(crate) nonce: u64,
}

/// A device's FIFO of jobs for one direction.
///
/// # Invariants
///
/// `len <= buf.len()`; the `len` slots from `head` (wrapping) are `Some`, the others `None`.
pub(crate) struct JobRing {
    buf: KVVec<Option<Job>>,
    head: usize,
    len: usize,
}

impl JobRing {
    /// A ring without room, until the device first goes up (`Device::start_workers`).
    pub(crate) const fn empty() -> Self {
        Self {
            buf: KVVec::new(),
            head: 0,
            len: 0,
        }
    }

    /// An empty ring with room for `cap` jobs.
    pub(crate) fn new(cap: usize) -> Result<Self> {
        let mut buf = KVVec::with_capacity(cap, GFP_KERNEL)?;
        for _ in 0..cap {
            buf.push(None, GFP_KERNEL)?;
        }
        Ok(Self { buf, head: 0, len: 0 })
    }

    /// Whether another job fits.
    pub(crate) fn has_room(&self) -> bool {
        self.len < self.buf.len()
    }

    /// Appends `job`, or gives it back if the ring is full.
    pub(crate) fn push(&mut self, job: Job) -> core::result::Result<(), Job> {
        if !self.has_room() {
            return Err(job);
        }
        let i = (self.head + self.len) % self.buf.len();
        self.buf[i] = Some(job);
        self.len += 1;
        Ok(())
    }

    /// Takes the oldest job.
    pub(crate) fn pop(&mut self) -> Option<Job> {
        if self.len == 0 {
            return None;
        }
        let job = self.buf[self.head].take();
        self.head = (self.head + 1) % self.buf.len();
        self.len -= 1;
        job
    }
}

/// The nice level of the crypt workers. At the level of the tasks whose packets they carry, a bulk transfer's
/// encryption and decryption took its share of every CPU from a voice or game flow's sender and receiver, which then
/// waited behind it for their CPU on every leg of a round trip (the small flow's packets themselves skip the workers,
/// see `proto::express`). At 10 the workers still have every idle cycle, and a tenth of a CPU that a nice-0 task
/// wants too; the consumers, which keep each peer's packets in order on its serial CPU, stay at nice 0. This is the
/// default of the module parameter `crypt_nice` ([`crate::crypt_nice`]), which a device reads when it is created.
pub(crate) const CRYPT_NICE: i32 = 10;

/// The device's workqueues and one crypt worker per possible CPU, published in `Device::workers` while the device
/// exists.
///
/// The workers refer to the device; the device refers to this object through an RCU pointer that teardown clears,
/// which breaks the cycle. Teardown clears it before it drops this object, so no work item queues anything on
/// either queue while they drain (a kick finds no workers and drops its item).
pub(crate) struct Workers {
    /// The crypt workers' queue: unbound, at [`crate::crypt_nice`] (default [`CRYPT_NICE`]). Dropped first (it drains
    /// the workers, while `cpus` is still alive).
    crypt: OwnedQueue,
    /// Handshakes, initiations, key zeroing and the consumers, bound to CPUs (work runs where it is queued).
    pub(crate) wq: OwnedQueue,
    /// Indexed by CPU number.
    cpus: KVec<Arc<CryptWorker>>,
}

impl Workers {
    /// Allocates the queue and workers of `wg`.
    pub(crate) fn new(wg: &Arc<Device>) -> Result<KBox<Self>> {
        // Bound to CPUs (work runs where it is queued), CPU intensive (no concurrency management delays). No
        // WQ_MEM_RECLAIM (the C driver's queues have it): a rescuer thread per device made `ip link add` take
        // seconds under TCG. Handshakes can wait for memory; nothing in the reclaim path depends on them.
        let wq = OwnedQueue::new(
            kernel::c_str!("wg-rust"),
            kernel::workqueue::flags::CPU_INTENSIVE,
            0,
        )?;
        // Unbound: a worker queued "on" a CPU runs on any CPU of its pod (the crypt workers need no particular CPU,
        // only as many running at once as there are CPUs).
        let crypt = OwnedQueue::new_unbound(kernel::c_str!("wg-rust-crypt"), 0, 0, crate::crypt_nice())?;
        let n = kernel::cpu::nr_cpu_ids();
        let mut cpus = KVec::with_capacity(n as usize, GFP_KERNEL)?;
        for cpu in 0..n {
            let w = Arc::pin_init(
                pin_init!(CryptWorker {
                    wg: wg.clone(),
                    cpu,
                    work <- kernel::new_work!("wg-rust-crypt-worker"),
                }),
                GFP_KERNEL,
            )?;
            cpus.push(w, GFP_KERNEL)?;
        }
        Ok(KBox::new(Self { crypt, wq, cpus }, GFP_KERNEL)?)
    }
}

/// The crypt worker of one CPU (the C `multicore_worker`).
#[pin_data]
pub(crate) struct CryptWorker {
    wg: Arc<Device>,
    cpu: u32,
    #[pin]
    work: Work<CryptWorker>,
}

kernel::impl_has_work! {
    impl HasWork<CryptWorker> for CryptWorker { self.work }
}

impl WorkItem for CryptWorker {
    type Pointer = Arc<CryptWorker>;

    /// Takes jobs from both directions alternately until none are left or the budget is spent.
    fn run(this: Arc<CryptWorker>) {
        let wg = &this.wg;
        let mut idle = false;
        for i in 0..WORKER_BUDGET {
            // Alternate which direction goes first, so neither starves the other.
            let rx_first = i % 2 == 0;
            let job = if rx_first {
                pop(&wg.crypt_rx, true).or_else(|| pop(&wg.crypt_tx, false))
            } else {
                pop(&wg.crypt_tx, false).or_else(|| pop(&wg.crypt_rx, true))
            };
            match job {
                Some((true, job)) => crate::receive::decrypt(job),
                Some((false, job)) => {
                    // Room was made: peers that found the ring full may go on.
                    wg.wake_crypt_waiters();
                    crate::send::encrypt(job)
                }
                None => {
                    idle = true;
                    break;
                }
            }
        }
        if !idle {
            let wg = this.wg.clone();
            let cpu = this.cpu;
            wg.queue_on(cpu, this);
        }
    }
}

/// Takes the oldest job of `ring`, tagged with `is_rx`.
fn pop(ring: &SpinLockBh<JobRing>, is_rx: bool) -> Option<(bool, Job)> {
    let job = ring.lock().pop();
    job.map(|j| (is_rx, j))
}

impl Device {
    /// Queues `w` on the crypt workqueue on `cpu`, unless the device is being torn down or `w` is already queued.
    pub(crate) fn queue_on<W>(&self, cpu: u32, w: W)
    where
        W: kernel::workqueue::RawWorkItem<0, EnqueueOutput = core::result::Result<(), W>> + Send + 'static,
    {
        // A refused item is dropped after the read-side section (it may hold the last reference to something).
        let refused = {
            let g = rcu::read_lock();
            match self.workers.get(&g) {
                Some(ws) => ws.crypt.enqueue_on(cpu, w).err(),
                None => Some(w),
            }
        };
        drop(refused);
    }

    /// Queues a per-peer work item `ID` (a consumer) on the device's bound workqueue on `cpu`.
    pub(crate) fn queue_peer_on<const ID: u64>(&self, cpu: u32, p: Arc<Peer>)
    where
        Arc<Peer>: kernel::workqueue::RawWorkItem<ID, EnqueueOutput = core::result::Result<(), Arc<Peer>>>,
    {
        let refused = {
            let g = rcu::read_lock();
            match self.workers.get(&g) {
                Some(ws) => ws.wq.enqueue_on::<Arc<Peer>, ID>(cpu, p).err(),
                None => Some(p),
            }
        };
        drop(refused);
    }

    /// Wakes up to `n` crypt workers, on the next CPUs round-robin.
    pub(crate) fn kick_crypt(&self, n: usize) {
        let g = rcu::read_lock();
        let Some(ws) = self.workers.get(&g) else {
            return;
        };
        let n = n.min(kernel::cpu::num_online_cpus() as usize).max(1);
        for _ in 0..n {
            let cpu = self.crypt_cpu.next();
            if let Some(w) = ws.cpus.get(cpu as usize) {
                // Already queued is fine: it will find the new jobs.
                let _ = ws.crypt.enqueue_on(cpu, w.clone());
            }
        }
    }

    /// Lists `peer` to be kicked when a worker takes a job from `crypt_tx`, which `send_staged` found full with
    /// packets left staged: else nothing might move them, since the peer's own ring can be empty (no consumer pass
    /// will come) and no new packet may arrive (a TCP sender waiting for acknowledgements of the staged ones).
    ///
    /// Called with `crypt_tx` locked, so the next worker to take a job (which needs that lock) finds the peer
    /// listed.
    pub(crate) fn wait_for_crypt_room(&self, peer: &Arc<Peer>) {
        if peer.crypt_waiting.swap(true, Ordering::AcqRel) {
            return;
        }
        let listed = self.crypt_waiters.lock().insert(peer.clone(), true, GFP_ATOMIC);
        if listed.is_err() {
            // No memory to wait: retry from the consumer instead, which runs soon.
            peer.crypt_waiting.store(false, Ordering::Release);
            peer.kick_tx();
            return;
        }
        self.crypt_wake.store(true, Ordering::Release);
    }

    /// Kicks the transmit consumers of the peers waiting for room in `crypt_tx` (crypt worker, after taking a job).
    fn wake_crypt_waiters(&self) {
        if !self.crypt_wake.load(Ordering::Acquire) || !self.crypt_wake.swap(false, Ordering::AcqRel) {
            return;
        }
        let waiters = core::mem::replace(&mut *self.crypt_waiters.lock(), crate::slots::Slots::new());
        for p in waiters.iter() {
            // Cleared before the kick: the consumer's `send_staged` lists the peer again if it is still blocked.
            p.crypt_waiting.store(false, Ordering::Release);
            p.kick_tx();
        }
    }

    /// Creates the workqueue, the crypt workers and the crypt rings when the device first goes up (under RTNL, which
    /// serialises this with teardown).
    pub(crate) fn start_workers(self: &Arc<Self>, _rtnl: &kernel::net::rtnl::Rtnl) -> Result {
        if self.cfg.lock().dead || !self.workers.is_none() {
            return Ok(());
        }
        for ring in [&self.crypt_tx, &self.crypt_rx] {
            let r = JobRing::new(CRYPT_RING)?;
            // Empty until now: nothing is dropped.
            *ring.lock() = r;
        }
        drop(self.workers.replace(Some(Workers::new(self)?)).into_inner());
        Ok(())
    }

    /// Stops all work at teardown: destroys the workqueue (draining it) and drops the crypt jobs left.
    pub(crate) fn stop_workers(&self) {
        // Waits for a grace period, so no kicker still uses the queue; dropping it drains queued work, which can no
        // longer requeue itself. A device that was never up has none and waits for nothing.
        if !self.workers.is_none() {
            drop(self.workers.replace(None).into_inner());
        }
        for ring in [&self.crypt_tx, &self.crypt_rx] {
            loop {
                let job = ring.lock().pop();
                match job {
                    Some(j) => drop(j),
                    None => break,
                }
            }
        }
    }
}

impl Peer {
    /// Runs the transmit consumer on the peer's serial CPU.
    pub(crate) fn kick_tx(self: &Arc<Self>) {
        self.device.queue_peer_on::<3>(self.serial_cpu, self.clone());
    }

    /// Runs the receive consumer on the peer's serial CPU.
    pub(crate) fn kick_rx(self: &Arc<Self>) {
        self.device.queue_peer_on::<4>(self.serial_cpu, self.clone());
    }

    /// Drops what the consumers have not taken yet (device down, peer removal). Packets still with a worker are
    /// dropped when they come back (the consumer finds the peer dead or the sockets closed).
    pub(crate) fn purge_rings(&self) {
        for ring in [&self.tx_ring, &self.rx_ring] {
            loop {
                let d = {
                    let mut r = ring.lock();
                    let d = r.pop(clock());
                    if d.is_none() {
                        // Packets still with a worker keep the ring's memory until the peer is freed.
                        r.release();
                    }
                    d
                };
                match d {
                    Some(d) => drop(d),
                    None => break,
                }
            }
        }
    }

    /// Whether the peer still takes packets.
    pub(crate) fn alive(&self) -> bool {
        !self.dead.load(Ordering::Relaxed)
    }
}
