// SPDX-License-Identifier: GPL-2.0

//! Keypairs and the index table (the C `index_hashtable` and `struct noise_keypair` bookkeeping).
//!
//! Every handshake in flight and every live keypair has a random 32-bit local index, which the peer puts in the
//! receiver field of its messages. The table maps it back to the peer (for responses and cookie replies) and to the
//! keypair (for data). It lives under the device's `index` BH spinlock because data messages are matched in
//! softirq. Entries hold `Arc`s, so a lookup result stays valid after the lock is dropped.

use crate::crypto::KernelCrypto;
use crate::device::{Device, OBJECT_IDS};
use crate::peer::Peer;
use crate::proto::{counter::ReplayCounter, noise};
use crate::slots::Slots;
use crate::wg_debug;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use kernel::{new_spinlock_bh, prelude::*, sync::Arc, sync::SpinLockBh};

/// Buckets of the index table; indices are uniformly random, so the low bits spread them.
const BUCKETS: usize = 256;

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
#[derive(Clone)]
pub(crate) struct Entry {
    /// The peer whose handshake or keypair this is.
    pub(crate) peer: Arc<Peer>,
    /// The keypair, once the handshake became a session.
    pub(crate) keypair: Option<Arc<Keypair>>,
}

/// Index → entry.
pub(crate) struct IndexTable {
    buckets: KVec<Slots<(u32, Entry)>>,
}

impl IndexTable {
    /// An empty table; buckets are allocated on first insert.
    pub(crate) const fn new() -> Self {
        Self {
            buckets: KVec::new(),
        }
    }

    fn bucket(i: u32) -> usize {
        i as usize % BUCKETS
    }

    /// Looks `index` up.
    pub(crate) fn get(&self, index: u32) -> Option<&Entry> {
        self.buckets
            .get(Self::bucket(index))?
            .find(|(i, _)| *i == index)
            .map(|(_, e)| e)
    }

    /// Inserts `entry` under a fresh random index and returns it. Atomic context allowed.
    pub(crate) fn insert_new(&mut self, entry: Entry) -> Result<u32> {
        if self.buckets.is_empty() {
            self.buckets.reserve(BUCKETS, GFP_ATOMIC)?;
            for _ in 0..BUCKETS {
                self.buckets.push(Slots::new(), GFP_ATOMIC)?;
            }
        }
        loop {
            let i = kernel::crypto::get_random_u32();
            if self.get(i).is_none() {
                self.buckets[Self::bucket(i)].insert((i, entry), true, GFP_ATOMIC)?;
                return Ok(i);
            }
        }
    }

    /// Points `index` at a new entry (a handshake index becoming its session's keypair index).
    pub(crate) fn replace(&mut self, index: u32, entry: Entry) -> Option<Entry> {
        let b = self.buckets.get_mut(Self::bucket(index))?;
        let slot = b.iter_mut().find(|(i, _)| *i == index)?;
        Some(core::mem::replace(&mut slot.1, entry))
    }

    /// Removes `index`, returning its entry so the caller drops it outside the lock.
    /// Takes every entry out (device teardown), for the caller to drop outside the lock.
    pub(crate) fn take_all(&mut self) -> KVec<Slots<(u32, Entry)>> {
        core::mem::replace(&mut self.buckets, KVec::new())
    }

    pub(crate) fn remove(&mut self, index: u32) -> Option<Entry> {
        let b = self.buckets.get_mut(Self::bucket(index))?;
        b.remove_if(|(i, _)| *i == index).map(|(_, e)| e)
    }
}
