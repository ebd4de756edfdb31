// SPDX-License-Identifier: GPL-2.0

//! Keypairs and the index table (the C `index_hashtable` and `struct noise_keypair` bookkeeping).
//!
//! Every handshake in flight and every live keypair has a random 32-bit local index, which the peer puts in the
//! receiver field of its messages. The table maps it back to the peer (for responses and cookie replies) and to the
//! keypair (for data). Data messages are matched in softirq, so lookups take no lock (RCU); see [`IndexTable`].
//! Entries hold `Arc`s, so a lookup result stays valid after the read-side critical section.

use crate::crypto::KernelCrypto;
use crate::device::{Device, OBJECT_IDS};
use crate::peer::{LiveHandshake, Peer};
use crate::proto::{counter::ReplayCounter, noise};
use crate::wg_debug;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::{
    new_mutex, new_spinlock_bh,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        rcu::{self, Rcu},
        Arc, Mutex, SpinLockBh,
    },
};

/// Buckets of the index table (the C `INDEX_HASHTABLE_BITS`, 2^13); indices are uniformly random, so the low bits
/// spread them. A device has up to four entries a peer (a handshake and three keypairs), and every data message
/// scans its bucket in softirq while every handshake copies one: 256 buckets made that a few hundred entries per
/// bucket at 10 000 peers.
const BUCKETS: usize = 1 << 13;

/// A session's keys plus the mutable state the data path keeps beside them.
#[pin_data(PinnedDrop)]
pub(crate) struct Keypair {
    /// The immutable keys, indices and birthdate.
    pub(crate) kp: noise::Keypair<KernelCrypto>,
    /// Next nonce to send; incremented atomically by every sender.
    pub(crate) sending_counter: AtomicU64,
    /// Replay window of received nonces; taken in softirq.
    #[pin]
    pub(crate) replay: SpinLockBh<ReplayCounter>,
    /// Cleared when the keypair is superseded or expired, so senders stop using it before it is dropped.
    pub(crate) sending_valid: AtomicBool,
    /// Log id.
    pub(crate) id: u64,
    /// For the "destroyed" log line.
    peer_id: u64,
    dev: Arc<Device>,
}

#[pinned_drop]
impl PinnedDrop for Keypair {
    fn drop(self: Pin<&mut Self>) {
        wg_debug!(self.dev, "Keypair {} destroyed for peer {}", self.id, self.peer_id);
    }
}

impl Keypair {
    /// Wraps a freshly derived keypair of `peer`.
    pub(crate) fn new(peer: &Peer, kp: noise::Keypair<KernelCrypto>) -> Result<Arc<Self>> {
        let id = OBJECT_IDS.fetch_add(1, Ordering::Relaxed);
        let k = Arc::pin_init(
            pin_init!(Keypair {
                kp,
                sending_counter: AtomicU64::new(0),
                replay <- new_spinlock_bh!(ReplayCounter::new()),
                sending_valid: AtomicBool::new(true),
                id,
                peer_id: peer.id,
                dev: peer.device.clone(),
            }),
            GFP_KERNEL,
        )?;
        wg_debug!(peer.device, "Keypair {} created for peer {}", id, peer.id);
        Ok(k)
    }
}

/// What an index names.
///
/// Made only by [`Entry::new`], from a [`LiveHandshake`]: so an entry naming a peer is never made after the peer's
/// removal started (see `peer::remove`), which would keep the peer, and through it the device, alive forever.
#[derive(Clone)]
pub(crate) struct Entry {
    /// The peer whose handshake or keypair this is.
    pub(crate) peer: Arc<Peer>,
    /// The keypair, once the handshake became a session.
    pub(crate) keypair: Option<Arc<Keypair>>,
    /// Keeps other modules from building entries without a `LiveHandshake`.
    _live: (),
}

impl Entry {
    /// An entry naming the peer of `hs` and, once the handshake became a session, its keypair.
    pub(crate) fn new(hs: &LiveHandshake<'_>, keypair: Option<Arc<Keypair>>) -> Self {
        Self {
            peer: hs.peer().clone(),
            keypair,
            _live: (),
        }
    }
}

/// The entries of one bucket: an immutable copy, replaced as a whole by writers. `None` is a removed entry left
/// in place when there was no memory for a copy (see [`IndexWriter::remove`]).
type Bucket = KVec<(u32, Option<Entry>)>;

/// Index → entry: read under RCU without a lock (the receive path looks every data message up), written under a
/// mutex (only handshakes, key changes and removal write, all in process context).
///
/// Each bucket is an immutable vector behind an RCU pointer; a writer publishes a modified copy and frees the old
/// one after a grace period. An entry holds counted references, so a reader that found one in its read-side
/// critical section may take its own references from it (the old copy still holds them until the grace period
/// ends).
#[pin_data]
pub(crate) struct IndexTable {
    /// Serialises writers.
    #[pin]
    write: Mutex<()>,
    /// `BUCKETS` pointers (64 KiB, hence kvmalloc), fixed at creation; an empty bucket is null.
    buckets: KVVec<Rcu<KBox<Bucket>>>,
}

fn bucket_of(i: u32) -> usize {
    i as usize % BUCKETS
}

impl IndexTable {
    /// An empty table.
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        let mut buckets = KVVec::with_capacity(BUCKETS, GFP_KERNEL)?;
        for _ in 0..BUCKETS {
            buckets.push(Rcu::null(), GFP_KERNEL)?;
        }
        Ok(try_pin_init!(Self {
            write <- new_mutex!(()),
            buckets,
        }? Error))
    }

    /// Looks `index` up, from any context, without a lock (the C `wg_index_hashtable_lookup`).
    pub(crate) fn lookup(&self, index: u32) -> Option<Entry> {
        let g = rcu::read_lock();
        let b = self.buckets.get(bucket_of(index))?.get(&g)?;
        b.iter().find(|(i, e)| *i == index && e.is_some())?.1.clone()
    }

    /// Locks the table for writing. Process context.
    pub(crate) fn lock(&self) -> IndexWriter<'_> {
        IndexWriter {
            table: self,
            _guard: self.write.lock(),
        }
    }
}

/// The index table locked for writing.
pub(crate) struct IndexWriter<'a> {
    table: &'a IndexTable,
    _guard: Guard<'a, (), MutexBackend>,
}

impl IndexWriter<'_> {
    /// Publishes `new` as bucket `b`; the old copy is freed after a grace period.
    fn publish(&self, b: usize, new: Option<KBox<Bucket>>) {
        let Some(slot) = self.table.buckets.get(b) else { return };
        let old = slot.replace(new);
        if let Err(old) = old.free_deferred(GFP_KERNEL) {
            // No memory for the callback: wait for the grace period here (process context).
            drop(old.into_inner());
        }
    }

    /// A copy of bucket `b` with room for one more entry, without the entry `skip` (if given) and removed ones.
    fn copy(&self, b: usize, skip: Option<u32>) -> Result<Bucket> {
        let g = rcu::read_lock();
        let cur = self.table.buckets.get(b).and_then(|s| s.get(&g));
        let n = cur.map_or(0, |c| c.len());
        // Under the read lock: no sleeping allocation.
        let mut v = KVec::with_capacity(n + 1, GFP_ATOMIC)?;
        for (i, e) in cur.into_iter().flatten() {
            if Some(*i) != skip && e.is_some() {
                v.push((*i, e.clone()), GFP_ATOMIC)?;
            }
        }
        Ok(v)
    }

    /// Publishes a copy of bucket `b` without `skip`, plus `add`.
    fn rewrite(&self, b: usize, skip: Option<u32>, add: Option<(u32, Entry)>) -> Result {
        let mut v = self.copy(b, skip)?;
        if let Some((i, e)) = add {
            v.push((i, Some(e)), GFP_ATOMIC)?;
        }
        let new = if v.is_empty() { None } else { Some(KBox::new(v, GFP_KERNEL)?) };
        self.publish(b, new);
        Ok(())
    }

    /// Looks `index` up.
    pub(crate) fn get(&self, index: u32) -> Option<Entry> {
        self.table.lookup(index)
    }

    /// Inserts `entry` under a fresh random index and returns it.
    pub(crate) fn insert_new(&mut self, entry: Entry) -> Result<u32> {
        loop {
            let i = kernel::crypto::get_random_u32();
            if self.get(i).is_none() {
                self.rewrite(bucket_of(i), None, Some((i, entry)))?;
                return Ok(i);
            }
        }
    }

    /// Points `index` at a new entry (a handshake index becoming its session's keypair index). Returns the old one,
    /// or `None` (and drops `entry`) if `index` is not registered or there is no memory.
    pub(crate) fn replace(&mut self, index: u32, entry: Entry) -> Option<Entry> {
        let old = self.get(index)?;
        self.rewrite(bucket_of(index), Some(index), Some((index, entry))).ok()?;
        Some(old)
    }

    /// Removes `index`, returning its entry. Never fails: an entry left behind would keep its peer (and the device)
    /// alive.
    pub(crate) fn remove(&mut self, index: u32) -> Option<Entry> {
        let old = self.get(index)?;
        let b = bucket_of(index);
        if self.rewrite(b, Some(index), None).is_err() {
            // No memory for a copy: take the bucket away from readers, and once none can see it, remove the entry
            // in place and put the bucket back.
            let slot = self.table.buckets.get(b)?;
            if let Some(mut cur) = slot.replace(None).into_inner() {
                for (i, e) in cur.iter_mut() {
                    if *i == index {
                        drop(e.take());
                    }
                }
                self.publish(b, Some(cur));
            }
        }
        Some(old)
    }

    /// Removes all entries (device teardown, no readers left) and returns how many there were.
    pub(crate) fn clear(&mut self) -> usize {
        let mut n = 0;
        for slot in self.table.buckets.iter() {
            let old = slot.replace(None);
            n += old.into_inner().map_or(0, |v| v.iter().filter(|(_, e)| e.is_some()).count());
        }
        n
    }
}
