// SPDX-License-Identifier: GPL-2.0

//! Kernel glue for the persistent allowed-IPs trie of `proto::allowedips`, and each peer's prefix list.
//!
//! Nodes are kernel `Arc`s; a table version is published in [`crate::device::Device::allowedips`] under RCU, so the
//! transmit and receive paths look prefixes up without a lock. Configuration changes it through one [`Update`] per
//! netlink message (under the device's `cfg` mutex): every insertion and removal of the message goes into one
//! [`Batch`], published once at the end. The old version is dropped after a grace period, which frees exactly the
//! nodes the change replaced.
//!
//! Each peer also keeps its prefixes in a [`PeerPrefixes`] list, in the order the C driver's per-peer
//! `allowedips_list` has them (insertion order; a prefix inserted again moves to the end), so that GET lists them
//! in the same order as the C driver and removing a peer's prefixes does not walk the whole trie. The list is
//! append-only: an entry carries a stamp that the trie node stores too, and an entry whose prefix was since removed
//! or inserted again no longer matches the node's stamp, so it is stale and skipped. Stale entries are counted and
//! dropped once they outnumber the live ones.

use crate::device::{Device, Table};
use crate::peer::Peer;
use crate::proto::addr::IpAddr;
use crate::proto::allowedips::{self as trie, AllocError, AllowedIpsError, SharedPtr};
use kernel::{
    alloc::KVVec,
    error::code::*,
    prelude::*,
    sync::{rcu, Arc, UniqueArc},
};

/// Kernel `UniqueArc`/`Arc` as the trie's node pointers.
pub(crate) struct ArcFamily;

impl SharedPtr for ArcFamily {
    type Ptr<T> = Arc<T>;
    type Unique<T> = UniqueArc<T>;

    fn try_new<T>(value: T) -> Result<UniqueArc<T>, AllocError> {
        UniqueArc::new(value, GFP_KERNEL).map_err(|_| AllocError)
    }

    fn share<T>(value: UniqueArc<T>) -> Arc<T> {
        value.into()
    }

    fn drop_last<T: Unpin, R>(ptr: Arc<T>, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        ptr.into_unique_or_drop().map(|mut u| f(&mut u))
    }
}

/// A peer as a trie value: compared by identity, not by contents. `stamp` ties the node to one entry of the peer's
/// [`PeerPrefixes`].
#[derive(Clone)]
pub(crate) struct PeerRef {
    pub(crate) peer: Arc<Peer>,
    stamp: u64,
}

impl PartialEq for PeerRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.peer, &other.peer)
    }
}
impl Eq for PeerRef {}

/// One entry of a peer's prefix list: the masked prefix and the stamp of its insertion, in 24 bytes (an `IpAddr`
/// and a `u64` took 32), so that a peer's ten prefixes take a 256-byte allocation, not a 512-byte one.
#[derive(Clone, Copy)]
struct Listed {
    /// The address bytes (the first 4 for IPv4).
    key: [u8; 16],
    cidr: u8,
    v6: bool,
    /// The low 48 bits of the stamp. Only compared for equality with the stamp of the prefix's node: a stale entry
    /// could be taken for live only if its peer inserted 2^48 prefixes meanwhile (years at a million a second).
    stamp: [u8; 6],
}

impl Listed {
    fn new(addr: &IpAddr, cidr: u8, stamp: u64) -> Self {
        let mut key = [0; 16];
        for (d, s) in key.iter_mut().zip(addr.octets()) {
            *d = *s;
        }
        Self {
            key,
            cidr,
            v6: matches!(addr, IpAddr::V6(_)),
            stamp: stamp48(stamp),
        }
    }

    fn addr(&self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(self.key)
        } else {
            let mut a = [0; 4];
            a.copy_from_slice(&self.key[..4]);
            IpAddr::V4(a)
        }
    }

    /// Whether this entry is the insertion that gave the prefix's node `owner` (see [`owner_in`]): the node is the
    /// peer's and carries this entry's stamp.
    fn is_live(&self, owner: Option<(bool, u64)>) -> bool {
        matches!(owner, Some((true, s)) if stamp48(s) == self.stamp)
    }
}

fn stamp48(stamp: u64) -> [u8; 6] {
    let b = stamp.to_le_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

/// A peer's prefixes in the C driver's order (see the module docs). Protected by the device's `cfg` mutex; the
/// peer's own lock around it only provides interior mutability.
pub(crate) struct PeerPrefixes {
    entries: KVVec<Listed>,
    /// Entries known not to match the trie any more; `entries.len()` when unknown (after a failed removal).
    stale: usize,
    /// The stamp of the next insertion.
    next: u64,
}

impl PeerPrefixes {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self {
            entries: KVVec::new(),
            stale: 0,
            next: 1,
        }
    }
}

fn map_err(e: AllowedIpsError) -> Error {
    match e {
        AllowedIpsError::Alloc => ENOMEM,
        AllowedIpsError::Cidr => EINVAL,
    }
}

/// Owner and stamp of `addr/cidr` in `b`, relative to `peer`.
fn owner_in(b: &trie::Batch<PeerRef, ArcFamily>, peer: &Arc<Peer>, addr: &IpAddr, cidr: u8) -> Option<(bool, u64)> {
    b.get_exact(addr, cidr)
        .map(|o| (Arc::ptr_eq(&o.peer, peer), o.stamp))
}

/// Nodes a new version may replace before [`Update::commit`] frees the previous version itself, after waiting for a
/// grace period, instead of from an RCU callback: an RCU callback runs in softirq context, where freeing tens of
/// thousands of nodes (a peer with many prefixes removed, a configuration replaced) stalled the CPU (a 26 s soft
/// lockup on the debug kernel in session 10, test 61).
const BULK_NODES: usize = 1024;

/// The trie changes of one configuration message, published together by [`Update::commit`]. Caller holds `cfg`.
pub(crate) struct Update<'a> {
    wg: &'a Device,
    batch: trie::Batch<PeerRef, ArcFamily>,
    /// Allocated up front so that publishing cannot fail.
    slot: KBox<Table>,
    changed: bool,
}

impl<'a> Update<'a> {
    /// Starts from the published version.
    pub(crate) fn begin(wg: &'a Device) -> Result<Self> {
        let slot = KBox::new(Table::new(), GFP_KERNEL)?;
        let batch = {
            let g = rcu::read_lock();
            let cur = wg.allowedips.get(&g).ok_or(ENODEV)?;
            cur.edit()
        };
        Ok(Self {
            wg,
            batch,
            slot,
            changed: false,
        })
    }

    /// Makes room in `peer`'s list for `n` more prefixes at once (the ones a message adds), so that the list is
    /// not left with the spare room of growing one at a time (ten prefixes would take 16 entries' room).
    pub(crate) fn reserve(&mut self, peer: &Arc<Peer>, n: usize) -> Result {
        peer.allowed_ips.lock().entries.reserve(n, GFP_KERNEL)?;
        Ok(())
    }

    /// Makes `addr/cidr` belong to `peer` (the C `wg_allowedips_insert_v4/v6`), at the end of its list.
    pub(crate) fn insert(&mut self, peer: &Arc<Peer>, addr: &IpAddr, cidr: u8) -> Result {
        let mut list = peer.allowed_ips.lock();
        // Room first, so that the trie and the list change together or not at all.
        list.entries.reserve(1, GFP_KERNEL)?;
        let stamp = list.next;
        let old = self
            .batch
            .insert(
                addr,
                cidr,
                PeerRef {
                    peer: peer.clone(),
                    stamp,
                },
            )
            .map_err(map_err)?;
        self.changed = true;
        list.next += 1;
        list.entries.push(
            Listed::new(&trie::masked(addr, cidr), cidr, stamp),
            GFP_KERNEL,
        )?;
        let Some(old) = old else {
            return Ok(());
        };
        if Arc::ptr_eq(&old.peer, peer) {
            list.stale += 1;
            self.compact(peer, &mut list);
            return Ok(());
        }
        drop(list);
        let mut other = old.peer.allowed_ips.lock();
        other.stale += 1;
        self.compact(&old.peer, &mut other);
        Ok(())
    }

    /// Removes `addr/cidr` if `peer` owns it (`WGALLOWEDIP_F_REMOVE_ME`).
    pub(crate) fn remove(&mut self, peer: &Arc<Peer>, addr: &IpAddr, cidr: u8) -> Result {
        let key = PeerRef {
            peer: peer.clone(),
            stamp: 0,
        };
        if self.batch.remove(addr, cidr, &key).map_err(map_err)? {
            self.changed = true;
            let mut list = peer.allowed_ips.lock();
            list.stale += 1;
            self.compact(peer, &mut list);
        }
        Ok(())
    }

    /// Removes all of `peer`'s prefixes, going through its list (the C `wg_allowedips_remove_by_peer`).
    pub(crate) fn remove_peer(&mut self, peer: &Arc<Peer>) -> Result {
        let list = core::mem::replace(&mut *peer.allowed_ips.lock(), PeerPrefixes::new());
        let key = PeerRef {
            peer: peer.clone(),
            stamp: 0,
        };
        for e in list.entries.iter() {
            match self.batch.remove(&e.addr(), e.cidr, &key) {
                Ok(removed) => self.changed |= removed,
                Err(err) => {
                    // Keep the list (some entries are now stale, how many is unknown) for a later attempt.
                    let mut l = peer.allowed_ips.lock();
                    *l = list;
                    l.stale = l.entries.len();
                    return Err(map_err(err));
                }
            }
        }
        Ok(())
    }

    /// Removes every prefix of every peer; the caller resets the lists of the peers it keeps.
    pub(crate) fn clear(&mut self) {
        self.batch.clear();
        self.changed = true;
    }

    /// Drops stale entries once they outnumber the live ones (amortized O(1) per change).
    fn compact(&self, peer: &Arc<Peer>, list: &mut PeerPrefixes) {
        if list.stale <= 16 || list.stale * 2 <= list.entries.len() {
            return;
        }
        let live = list.entries.len().saturating_sub(list.stale);
        let Ok(mut kept) = KVVec::with_capacity(live, GFP_KERNEL) else {
            return;
        };
        for e in list.entries.iter() {
            if e.is_live(owner_in(&self.batch, peer, &e.addr(), e.cidr))
                && kept.push(*e, GFP_KERNEL).is_err()
            {
                return;
            }
        }
        list.entries = kept;
        list.stale = 0;
    }

    /// Publishes the batch if anything changed; the previous version is freed after a grace period. Sleeps.
    pub(crate) fn commit(self) {
        if !self.changed {
            return;
        }
        let bulk = self.batch.replaced() >= BULK_NODES;
        let mut slot = self.slot;
        *slot = self.batch.finish();
        let old = self.wg.allowedips.replace(Some(slot));
        free_old(old, bulk);
    }
}

/// Frees a table version that was just replaced, once no reader can hold it. A `bulk` one (many nodes) here, in
/// process context, after a grace period (the C driver waits for one per removed peer); a few copied paths from an
/// RCU callback (nodes only hold `Arc`s, whose drop never sleeps), or here if that cannot be allocated. Sleeps.
pub(crate) fn free_old(old: rcu::RcuOld<KBox<Table>>, bulk: bool) {
    if bulk {
        drop(old.into_inner());
    } else if let Err(old) = old.free_deferred(GFP_KERNEL) {
        drop(old.into_inner());
    }
}

/// Returns the peer owning the longest prefix that contains `addr`. Caller is in an RCU read-side section.
pub(crate) fn lookup(wg: &Device, g: &rcu::Guard, addr: &IpAddr) -> Option<Arc<Peer>> {
    let t = wg.allowedips.get(g)?;
    t.lookup(addr).map(|p| p.peer.clone())
}

/// Returns `peer`'s prefixes in the C driver's order. Caller holds `cfg`, so the published version is current.
pub(crate) fn of_peer(wg: &Device, peer: &Arc<Peer>) -> Result<KVVec<(IpAddr, u8)>> {
    let list = peer.allowed_ips.lock();
    let mut v = KVVec::with_capacity(list.entries.len() - list.stale.min(list.entries.len()), GFP_KERNEL)?;
    if list.stale == 0 {
        for e in list.entries.iter() {
            v.push((e.addr(), e.cidr), GFP_KERNEL)?;
        }
        return Ok(v);
    }
    let g = rcu::read_lock();
    let Some(t) = wg.allowedips.get(&g) else {
        return Ok(v);
    };
    for e in list.entries.iter() {
        let owner = t
            .get_exact(&e.addr(), e.cidr)
            .map(|o| (Arc::ptr_eq(&o.peer, peer), o.stamp));
        if e.is_live(owner) {
            // Under the RCU read lock: no sleeping allocation (room is reserved for the live entries, unless
            // their number is unknown after a failed removal).
            v.push((e.addr(), e.cidr), GFP_ATOMIC)?;
        }
    }
    Ok(v)
}
