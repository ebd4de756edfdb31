// SPDX-License-Identifier: GPL-2.0

//! The per-peer staging queue with per-flow fairness (issue 10: latency under load).
//!
//! The C driver stages packets in one FIFO and moves all of them into the crypt queues at once, so a bulk flow's
//! burst (a 64 KiB GSO super-packet is 46 packets) sits in front of every packet of a small flow through the same
//! peer. Here staged packets are kept in [`FLOWS`] queues by flow hash and leave in deficit round-robin order with
//! priority for flows that just became active (the fq_codel scheduler, without CoDel): a flow that sends a packet
//! now and then (a voice call, DNS, ACKs of the other direction) always finds its queue empty, so its packet is
//! taken next. How much leaves the staging queue at once is bounded by the peer's in-flight limit (see
//! `send::send_staged`), so the standing queue of a bulk flow stays here, where the small flows can pass it.
//!
//! The total is bounded by [`MAX_STAGED_PACKETS`]; over it, the head of the longest queue is dropped (as fq_codel
//! does), which is the bulk flow's, not the small flow's.
//!
//! Staged packets keep their socket owner while they wait for room in the pipeline (TCP small queues then pace the
//! sender), but not while the peer has no session ([`Staging::wait_for_session`]): a handshake may take up to 90 s
//! to fail, and the packets' memory must not block their sockets meanwhile (the C driver orphans them then too).

use crate::proto::express::StagedHashes;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    new_spinlock_bh,
    net::skbuff::{SkBuff, SkBuffHead},
    prelude::*,
    sync::SpinLockBh,
};

/// Flow queues per peer.
pub(crate) const FLOWS: usize = 32;
/// Packets staged per peer at most (the C `MAX_STAGED_PACKETS` is 128; one GSO super-packet alone can be 46).
pub(crate) const MAX_STAGED_PACKETS: usize = 256;
/// Bytes a flow may send per round (one MTU-sized packet, as fq_codel's default quantum).
const QUANTUM: i32 = 1514;

/// A small FIFO of flow numbers (each flow is on at most one list, so `FLOWS` entries suffice).
struct FlowList {
    ids: [u8; FLOWS],
    head: usize,
    len: usize,
}

impl FlowList {
    const fn new() -> Self {
        Self {
            ids: [0; FLOWS],
            head: 0,
            len: 0,
        }
    }

    fn front(&self) -> Option<usize> {
        (self.len > 0).then(|| usize::from(self.ids[self.head]))
    }

    fn pop(&mut self) -> Option<usize> {
        let f = self.front()?;
        self.head = (self.head + 1) % FLOWS;
        self.len -= 1;
        Some(f)
    }

    fn push(&mut self, f: usize) {
        if self.len < FLOWS {
            self.ids[(self.head + self.len) % FLOWS] = f as u8;
            self.len += 1;
        }
    }
}

/// Where a flow is scheduled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On {
    /// Empty and on no list.
    None,
    /// On the new-flows list (served first).
    New,
    /// On the old-flows list.
    Old,
}

/// Scheduler state of the flow queues.
struct Flows {
    /// The flow hashes of each flow queue's packets (see [`Staging::holds_hash`]).
    hashes: [StagedHashes; FLOWS],
    on: [On; FLOWS],
    deficit: [i32; FLOWS],
    bytes: [u32; FLOWS],
    new_flows: FlowList,
    old_flows: FlowList,
}

/// The flow queues, allocated with the first staged packet (a peer that never sends costs no 1.8 KiB of queues).
struct Queues {
    flows: KBox<Flows>,
    heads: Pin<KBox<[SkBuffHead; FLOWS]>>,
}

impl Queues {
    /// Empty queues (atomic context: called under the staging lock on the transmit path).
    fn new() -> Result<Self> {
        let flows = KBox::new(
            Flows {
                hashes: [StagedHashes::EMPTY; FLOWS],
                on: [On::None; FLOWS],
                deficit: [0; FLOWS],
                bytes: [0; FLOWS],
                new_flows: FlowList::new(),
                old_flows: FlowList::new(),
            },
            GFP_ATOMIC,
        )?;
        let heads = KBox::pin_init(
            kernel::init::pin_init_array_from_fn::<_, FLOWS, SkBuffHead, core::convert::Infallible>(|_| {
                SkBuffHead::new()
            }),
            GFP_ATOMIC,
        )?;
        Ok(Self { flows, heads })
    }
}

/// See [`Staging`].
struct Sched {
    /// Packets in all flows.
    packets: usize,
    /// `None` until a packet is staged, and again after [`Staging::purge`] or [`Staging::release`].
    queues: Option<Queues>,
}

/// A peer's staged packets (the C `staged_packet_queue`), by flow.
///
/// # Invariants
///
/// Changed only under `sched`: with `queues`, `heads[f]` holds `flows.bytes[f]` bytes and packets of the flow hashes
/// `flows.hashes[f]` counts, and a non-empty flow is on exactly one of the lists; `packets` is the number of packets
/// in all flows (0 without `queues`).
#[pin_data]
pub(crate) struct Staging {
    #[pin]
    sched: SpinLockBh<Sched>,
    /// Set while the peer has no session to send with: packets are orphaned as they are staged (see the module
    /// docs). Set before `sched` is taken to orphan what is queued, read by `enqueue` under `sched`, so no packet
    /// is missed; cleared without the lock (a packet staged as a session appears may lose its owner needlessly).
    no_session: AtomicBool,
}

impl Staging {
    /// An empty staging queue.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            sched <- new_spinlock_bh!(Sched {
                packets: 0,
                queues: None,
            }),
            no_session: AtomicBool::new(false),
        }? Error)
    }

    /// The peer has no session to send with: orphans the packets staged (once, when this changes) and from now on
    /// every packet as it is staged, until [`Staging::session_ready`].
    pub(crate) fn wait_for_session(&self) {
        if self.no_session.swap(true, Ordering::Relaxed) {
            return;
        }
        let guard = self.sched.lock();
        let Some(q) = guard.queues.as_ref() else {
            return;
        };
        for head in q.heads.iter() {
            // Round once through the queue, which keeps its order.
            for _ in 0..head.len() {
                let Some(mut skb) = head.dequeue() else { break };
                skb.orphan();
                head.enqueue(skb);
            }
        }
    }

    /// The peer has a session again: staged packets keep their socket owner.
    pub(crate) fn session_ready(&self) {
        if self.no_session.load(Ordering::Relaxed) {
            self.no_session.store(false, Ordering::Relaxed);
        }
    }

    /// Appends `skb` to the queue of its flow; over the bound (or without memory for the queues), drops from the
    /// longest flow and returns the dropped packet.
    pub(crate) fn enqueue(&self, mut skb: SkBuff) -> Option<SkBuff> {
        let hash = skb.hash();
        let f = Self::flow_of(hash);
        let len = skb.len() as u32;
        let mut guard = self.sched.lock();
        // Read under the lock: a packet staged while `wait_for_session` starts is either seen by its walk or sees
        // the flag.
        if self.no_session.load(Ordering::Relaxed) {
            skb.orphan();
        }
        let Sched { packets, queues } = &mut *guard;
        if queues.is_none() {
            match Queues::new() {
                Ok(q) => *queues = Some(q),
                Err(_) => return Some(skb),
            }
        }
        let Some(Queues { flows: s, heads }) = queues.as_mut() else {
            return Some(skb);
        };
        s.hashes[f].added(hash);
        heads[f].enqueue(skb);
        s.bytes[f] = s.bytes[f].saturating_add(len);
        *packets += 1;
        if s.on[f] == On::None {
            s.on[f] = On::New;
            s.deficit[f] = QUANTUM;
            s.new_flows.push(f);
        }
        if *packets <= MAX_STAGED_PACKETS {
            return None;
        }
        // The fattest flow pays (its head is the oldest packet).
        let fat = (0..FLOWS).max_by_key(|&i| s.bytes[i]).unwrap_or(f);
        let mut old = heads[fat].dequeue()?;
        s.hashes[fat].removed(old.hash());
        s.bytes[fat] = s.bytes[fat].saturating_sub(old.len() as u32);
        *packets -= 1;
        // An emptied flow stays on its list; `dequeue` takes it off.
        Some(old)
    }

    /// The flow queue of packets with flow hash `hash`.
    fn flow_of(hash: u32) -> usize {
        hash as usize % FLOWS
    }

    /// Whether packets with flow hash `hash` may be staged. Exact while at most two flows have packets in its flow
    /// queue (`StagedHashes`); with more it says yes, so the answer errs only towards "staged".
    pub(crate) fn holds_hash(&self, hash: u32) -> bool {
        let f = Self::flow_of(hash);
        let s = self.sched.lock();
        s.queues.as_ref().is_some_and(|q| q.flows.hashes[f].may_hold(hash))
    }

    /// Takes the next packet in fair order, with its flow hash.
    pub(crate) fn dequeue(&self) -> Option<(SkBuff, u32)> {
        let mut guard = self.sched.lock();
        let Sched { packets, queues } = &mut *guard;
        let Queues { flows: s, heads } = queues.as_mut()?;
        loop {
            let (f, from_new) = match s.new_flows.front() {
                Some(f) => (f, true),
                None => (s.old_flows.front()?, false),
            };
            if s.deficit[f] <= 0 {
                // Used up its share this round: to the back of the old flows.
                s.deficit[f] += QUANTUM;
                if from_new {
                    s.new_flows.pop();
                } else {
                    s.old_flows.pop();
                }
                s.on[f] = On::Old;
                s.old_flows.push(f);
                continue;
            }
            match heads[f].dequeue() {
                Some(mut skb) => {
                    let len = skb.len() as u32;
                    s.bytes[f] = s.bytes[f].saturating_sub(len);
                    s.deficit[f] -= len as i32;
                    *packets -= 1;
                    // Computed at `enqueue`: read back from the skb.
                    let hash = skb.hash();
                    s.hashes[f].removed(hash);
                    return Some((skb, hash));
                }
                None => {
                    if from_new {
                        s.new_flows.pop();
                        // As fq_codel: an emptied new flow goes to the old list once, so that a flow cannot stay
                        // "new" by always emptying its queue.
                        if s.old_flows.len > 0 {
                            s.on[f] = On::Old;
                            s.old_flows.push(f);
                        } else {
                            s.on[f] = On::None;
                        }
                    } else {
                        s.old_flows.pop();
                        s.on[f] = On::None;
                    }
                }
            }
        }
    }

    /// Packets staged.
    pub(crate) fn len(&self) -> usize {
        self.sched.lock().packets
    }

    /// Whether nothing is staged.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives the queues' memory back if nothing is staged (an idle peer; the next staged packet allocates it again).
    pub(crate) fn release(&self) {
        let q = {
            let mut s = self.sched.lock();
            if s.packets != 0 {
                return;
            }
            s.queues.take()
        };
        drop(q);
    }

    /// Drops everything staged, and the queues' memory (the next staged packet allocates it again). Returns how
    /// many packets were dropped.
    pub(crate) fn purge(&self) -> usize {
        let (n, q) = {
            let mut s = self.sched.lock();
            (core::mem::replace(&mut s.packets, 0), s.queues.take())
        };
        // Outside the lock: dropping the queues frees their packets.
        drop(q);
        n
    }
}
