// SPDX-License-Identifier: GPL-2.0

//! A device's peers in creation order, with an index by public key (the C driver's `peer_list` and
//! `pubkey_hashtable` in one), so that a configuration message with 10 000 peers does not compare keys 50 million
//! times.
//!
//! Peers live in slots of a vector (removal leaves a hole, compacted once holes outnumber the peers); the index is
//! open addressing with linear probing over slot numbers. Public keys are chosen by the administrator, not by the
//! network, so a plain fold of the key bytes is a good enough hash.

use crate::peer::Peer;
use kernel::{alloc::Flags, prelude::*, sync::Arc};

/// An empty index cell.
const EMPTY: u32 = 0;
/// A cell whose peer was removed; probing continues past it.
const GONE: u32 = u32::MAX;

/// See the module docs.
pub(crate) struct PeerList {
    /// Peers in creation order; `None` is a removed peer's hole.
    slots: KVVec<Option<Arc<Peer>>>,
    len: usize,
    /// Slot number + 1, [`EMPTY`] or [`GONE`]; its length is zero or a power of two.
    index: KVVec<u32>,
    /// Cells that are not [`EMPTY`].
    used: usize,
}

fn hash(key: &[u8; 32]) -> usize {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for c in key.chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_ne_bytes(w)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 29;
    }
    h as usize
}

impl PeerList {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self {
            slots: KVVec::new(),
            len: 0,
            index: KVVec::new(),
            used: 0,
        }
    }

    /// Number of peers.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The index cell of `key`'s peer, if listed.
    fn cell_of(&self, key: &[u8; 32]) -> Option<usize> {
        let n = self.index.len();
        if n == 0 {
            return None;
        }
        let mut i = hash(key) & (n - 1);
        for _ in 0..n {
            match self.index.get(i).copied() {
                None | Some(EMPTY) => return None,
                Some(GONE) => {}
                Some(s) => {
                    let slot = self.slots.get(s as usize - 1).and_then(|p| p.as_ref());
                    if slot.is_some_and(|p| p.public_key == *key) {
                        return Some(i);
                    }
                }
            }
            i = (i + 1) & (n - 1);
        }
        None
    }

    /// Records slot `slot` for `key` in the index, which has room.
    fn index_put(&mut self, key: &[u8; 32], slot: usize) {
        let n = self.index.len();
        let mut i = hash(key) & (n - 1);
        for _ in 0..n {
            if let Some(c) = self.index.get_mut(i) {
                if *c == EMPTY || *c == GONE {
                    if *c == EMPTY {
                        self.used += 1;
                    }
                    *c = slot as u32 + 1;
                    return;
                }
            }
            i = (i + 1) & (n - 1);
        }
    }

    /// Rebuilds slots (without holes) and index for `want` peers.
    fn rebuild(&mut self, want: usize, flags: Flags) -> Result {
        let mut cells = 16usize;
        while cells < want.saturating_mul(2) {
            cells = cells.checked_mul(2).ok_or(ENOMEM)?;
        }
        let mut slots = KVVec::with_capacity(want, flags)?;
        for p in self.slots.iter().flatten() {
            slots.push(Some(p.clone()), flags)?;
        }
        let index = KVVec::from_elem(EMPTY, cells, flags)?;
        self.slots = slots;
        self.index = index;
        self.used = 0;
        for s in 0..self.slots.len() {
            let key = match self.slots.get(s) {
                Some(Some(p)) => p.public_key,
                _ => continue,
            };
            self.index_put(&key, s);
        }
        Ok(())
    }

    /// Appends `p` (whose key is not listed yet) after the other peers.
    pub(crate) fn insert(&mut self, p: Arc<Peer>, flags: Flags) -> Result {
        if (self.used + 1) * 2 > self.index.len() || self.slots.len() >= u32::MAX as usize - 1 {
            self.rebuild(self.len + 1, flags)?;
        }
        self.slots.reserve(1, flags)?;
        let key = p.public_key;
        let slot = self.slots.len();
        self.slots.push(Some(p), flags)?;
        self.len += 1;
        self.index_put(&key, slot);
        Ok(())
    }

    /// Returns the peer with public key `key`.
    pub(crate) fn find_key(&self, key: &[u8; 32]) -> Option<&Arc<Peer>> {
        let cell = self.cell_of(key)?;
        let s = *self.index.get(cell)? as usize;
        self.slots.get(s - 1)?.as_ref()
    }

    /// Removes and returns the peer with public key `key`.
    pub(crate) fn remove_key(&mut self, key: &[u8; 32]) -> Option<Arc<Peer>> {
        let cell = self.cell_of(key)?;
        let c = self.index.get_mut(cell)?;
        let s = *c as usize;
        *c = GONE;
        let p = self.slots.get_mut(s - 1)?.take();
        self.len -= 1;
        let holes = self.slots.len() - self.len;
        if holes > 64 && holes > self.len {
            // Best effort: without memory the holes stay, which costs only iteration time.
            let _ = self.rebuild(self.len, GFP_KERNEL);
        }
        p
    }

    /// Removes and returns the first peer for which `f` is true.
    pub(crate) fn remove_if(&mut self, f: impl FnMut(&Arc<Peer>) -> bool) -> Option<Arc<Peer>> {
        let key = self.find(f)?.public_key;
        self.remove_key(&key)
    }

    /// Returns the first peer for which `f` is true (a linear search; see [`PeerList::find_key`]).
    pub(crate) fn find(&self, mut f: impl FnMut(&Arc<Peer>) -> bool) -> Option<&Arc<Peer>> {
        self.iter().find(|x| f(x))
    }

    /// Iterates over the peers in creation order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Peer>> {
        self.slots.iter().filter_map(|s| s.as_ref())
    }

    /// Takes all peers out, leaving the list empty.
    pub(crate) fn take(&mut self) -> Self {
        core::mem::replace(self, Self::new())
    }
}
