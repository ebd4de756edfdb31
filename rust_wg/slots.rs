// SPDX-License-Identifier: GPL-2.0

//! A growable list with stable slots: 6.12's `KVec` can push but not remove, so removed entries leave a `None` that
//! the next insertion reuses. Iteration order is slot order, which is insertion order as long as nothing was removed.

use kernel::{alloc::Flags, prelude::*};

/// See the module docs.
pub(crate) struct Slots<T> {
    v: KVec<Option<T>>,
    len: usize,
}

impl<T> Slots<T> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self {
            v: KVec::new(),
            len: 0,
        }
    }

    /// Appends `x` at the end; reuses a free slot only if `reuse` (order then no longer follows insertion).
    pub(crate) fn insert(&mut self, x: T, reuse: bool, flags: Flags) -> Result {
        if reuse {
            if let Some(s) = self.v.iter_mut().find(|s| s.is_none()) {
                *s = Some(x);
                self.len += 1;
                return Ok(());
            }
        }
        self.v.push(Some(x), flags)?;
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the first entry for which `f` is true.
    pub(crate) fn remove_if(&mut self, mut f: impl FnMut(&T) -> bool) -> Option<T> {
        let s = self.v.iter_mut().find(|s| s.as_ref().is_some_and(&mut f))?;
        self.len -= 1;
        s.take()
    }

    /// Iterates over the entries.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.v.iter().filter_map(|s| s.as_ref())
    }
}
