// SPDX-License-Identifier: GPL-2.0

//! The receive-side replay window: an 8192-bit sliding bitmap as in RFC 6479 and the C driver's `counter_validate()`.
//!
//! The window is kept as 128 words of 64 bits used as a ring. One word is always the one being recycled as the
//! window slides, so [`COUNTER_WINDOW_SIZE`] (8128) counters behind the highest one are tracked exactly. Validation
//! is O(1) amortised: sliding clears at most the whole ring once.
//!
//! The caller serialises access (the kernel holds a per-keypair spinlock), and must only call [`ReplayCounter::validate`]
//! after the packet authenticated, or an attacker could advance the window with forged counters.

use super::messages::{COUNTER_WINDOW_SIZE, REJECT_AFTER_MESSAGES};

/// Total bits in the ring.
pub const COUNTER_BITS_TOTAL: u64 = 8192;
const WORD_BITS: u64 = u64::BITS as u64;
const WORDS: usize = (COUNTER_BITS_TOTAL / WORD_BITS) as usize;

/// Replay protection state of one receiving keypair.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayCounter {
    /// One more than the highest counter accepted so far (0 when none was).
    counter: u64,
    backtrack: [u64; WORDS],
}

impl Default for ReplayCounter {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for ReplayCounter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayCounter")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl ReplayCounter {
    /// Returns an empty window.
    pub const fn new() -> Self {
        Self {
            counter: 0,
            backtrack: [0; WORDS],
        }
    }

    /// Returns one more than the highest counter accepted, the value the C driver reports in its debug message.
    pub fn max(&self) -> u64 {
        self.counter
    }

    /// Tells whether the keypair has received so many messages that it must no longer be used.
    pub fn exhausted(&self) -> bool {
        self.counter >= REJECT_AFTER_MESSAGES
    }

    /// Accepts `their_counter` if it was not seen before and is not too old, and records it.
    pub fn validate(&mut self, their_counter: u64) -> bool {
        if self.counter >= REJECT_AFTER_MESSAGES.wrapping_add(1)
            || their_counter >= REJECT_AFTER_MESSAGES
        {
            return false;
        }
        // Counters are stored off by one so that 0 means "nothing received yet"; this cannot overflow given the
        // check above.
        let their = their_counter.wrapping_add(1);
        if COUNTER_WINDOW_SIZE.saturating_add(their) < self.counter {
            return false;
        }
        let index = their / WORD_BITS;
        if their > self.counter {
            let index_current = self.counter / WORD_BITS;
            let top = index.wrapping_sub(index_current).min(WORDS as u64);
            for i in 1..=top {
                let slot = (i.wrapping_add(index_current) % WORDS as u64) as usize;
                if let Some(w) = self.backtrack.get_mut(slot) {
                    *w = 0;
                }
            }
            self.counter = their;
        }
        let bit = 1u64 << (their % WORD_BITS);
        match self.backtrack.get_mut((index % WORDS as u64) as usize) {
            Some(w) => {
                let seen = *w & bit != 0;
                *w |= bit;
                !seen
            }
            None => false,
        }
    }
}
