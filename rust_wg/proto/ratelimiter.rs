// SPDX-License-Identifier: GPL-2.0

//! Per-source token-bucket rate limiting of handshake messages under load, as the C driver's ratelimiter.c.
//!
//! Each source (an IPv4 address, or the /64 of an IPv6 address, within a caller-chosen scope such as a network
//! namespace) may send [`PACKETS_PER_SECOND`] handshakes per second with a burst of [`PACKETS_BURSTABLE`]. Entries idle
//! for more than a second are dropped by [`Ratelimiter::gc`]; [`Ratelimiter::gc_if_due`] runs it at most once a second
//! (the C driver's gc work runs every second), so a caller may call that before every [`Ratelimiter::allow`].
//!
//! Storage is supplied by the caller as a slice of [`Slot`]s (the kernel allocates it with `kvmalloc`), used as an
//! open-addressing hash table with linear probing and backward-shift deletion. At most half the slots are used, so
//! probe sequences stay short; beyond that new sources are refused, as the C driver refuses beyond `max_entries`.
//! Slots are chosen by SipHash-2-4 under a random key from the caller, so an attacker cannot aim at one probe chain.
//! There is no lock inside: the caller serialises calls (a spinlock in the kernel).

use super::addr::IpAddr;
use super::messages::NSEC_PER_SEC;

/// Handshakes per second allowed per source.
pub const PACKETS_PER_SECOND: u64 = 20;
/// Handshakes allowed in a burst.
pub const PACKETS_BURSTABLE: u64 = 5;
/// Token cost of one packet, in nanoseconds of accumulated allowance.
pub const PACKET_COST: u64 = NSEC_PER_SEC / PACKETS_PER_SECOND;
/// Largest token balance.
pub const TOKEN_MAX: u64 = PACKET_COST * PACKETS_BURSTABLE;

/// One table slot; the caller allocates `[Slot::EMPTY; N]` or equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Source key (address or /64, and family); meaningful only when `used`.
    ip: u64,
    scope: u64,
    is_v6: bool,
    used: bool,
    last_time_ns: u64,
    tokens: u64,
}

impl Slot {
    /// An unused slot.
    pub const EMPTY: Slot = Slot {
        ip: 0,
        scope: 0,
        is_v6: false,
        used: false,
        last_time_ns: 0,
        tokens: 0,
    };
}

impl Default for Slot {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// A token-bucket table over caller storage `S` (for instance `[Slot; N]`, `&mut [Slot]` or a vector).
pub struct Ratelimiter<S> {
    slots: S,
    key: [u64; 2],
    entries: usize,
    /// When [`Ratelimiter::gc_if_due`] last ran [`Ratelimiter::gc`].
    last_gc: Option<u64>,
}

fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 of three 64-bit words.
fn siphash(key: &[u64; 2], words: [u64; 3]) -> u64 {
    let mut v = [
        key[0] ^ 0x736f_6d65_7073_6575,
        key[1] ^ 0x646f_7261_6e64_6f6d,
        key[0] ^ 0x6c79_6765_6e65_7261,
        key[1] ^ 0x7465_6462_7974_6573,
    ];
    let len_word = 24u64 << 56;
    for m in words.into_iter().chain(core::iter::once(len_word)) {
        v[3] ^= m;
        sipround(&mut v);
        sipround(&mut v);
        v[0] ^= m;
    }
    v[2] ^= 0xff;
    for _ in 0..4 {
        sipround(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn source_key(addr: &IpAddr) -> (u64, bool) {
    match addr {
        IpAddr::V4(a) => (u64::from(u32::from_be_bytes(*a)), false),
        IpAddr::V6(a) => {
            // Only the /64 counts, so one host cannot escape by walking its own subnet.
            let (prefix, _) = a
                .split_first_chunk::<8>()
                .map_or(([0; 8], ()), |(p, _)| (*p, ()));
            (u64::from_be_bytes(prefix), true)
        }
    }
}

impl<S: AsRef<[Slot]> + AsMut<[Slot]>> Ratelimiter<S> {
    /// Creates a ratelimiter over `slots` (all must be [`Slot::EMPTY`]) hashed under the random `key`.
    pub fn new(slots: S, key: [u64; 2]) -> Self {
        let mut rl = Self {
            slots,
            key,
            entries: 0,
            last_gc: None,
        };
        rl.clear();
        rl
    }

    /// Returns how many sources may be tracked at once: half the slots.
    pub fn capacity(&self) -> usize {
        self.slots.as_ref().len() / 2
    }

    /// Returns how many sources are tracked.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Tells whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    fn home(&self, ip: u64, is_v6: bool, scope: u64) -> usize {
        let n = self.slots.as_ref().len();
        if n == 0 {
            return 0;
        }
        (siphash(&self.key, [ip, scope, u64::from(is_v6)]) % n as u64) as usize
    }

    /// Decides whether a handshake from `src` in `scope` may be processed at time `now` (nanoseconds).
    pub fn allow(&mut self, now: u64, scope: u64, src: &IpAddr) -> bool {
        let (ip, is_v6) = source_key(src);
        let n = self.slots.as_ref().len();
        if n == 0 {
            return false;
        }
        let mut i = self.home(ip, is_v6, scope);
        let capacity = self.capacity();
        for _ in 0..n {
            let entries = self.entries;
            let Some(slot) = self.slots.as_mut().get_mut(i) else {
                return false;
            };
            if !slot.used {
                if entries >= capacity {
                    return false;
                }
                *slot = Slot {
                    ip,
                    scope,
                    is_v6,
                    used: true,
                    last_time_ns: now,
                    tokens: TOKEN_MAX - PACKET_COST,
                };
                self.entries = entries.saturating_add(1);
                return true;
            }
            if slot.ip == ip && slot.is_v6 == is_v6 && slot.scope == scope {
                // The burst is part of the maximum balance rather than of the rate, as in the C driver.
                let tokens = TOKEN_MAX.min(
                    slot.tokens
                        .saturating_add(now.saturating_sub(slot.last_time_ns)),
                );
                slot.last_time_ns = now;
                let ok = tokens >= PACKET_COST;
                slot.tokens = if ok { tokens - PACKET_COST } else { tokens };
                return ok;
            }
            i = (i + 1) % n;
        }
        false
    }

    /// Drops entries idle for more than a second.
    pub fn gc(&mut self, now: u64) {
        let n = self.slots.as_ref().len();
        let mut i = 0;
        while i < n {
            let stale = self
                .slots
                .as_ref()
                .get(i)
                .is_some_and(|s| s.used && now.saturating_sub(s.last_time_ns) > NSEC_PER_SEC);
            if stale {
                self.remove_at(i);
                // The slot now holds a shifted-back entry (or is empty): look at it again.
            } else {
                i += 1;
            }
        }
    }

    /// Runs [`Ratelimiter::gc`] if it did not run in the last second (a pass visits every slot, too much for
    /// every packet of a flood).
    pub fn gc_if_due(&mut self, now: u64) {
        if self.last_gc.is_some_and(|t| now.saturating_sub(t) < NSEC_PER_SEC) {
            return;
        }
        self.last_gc = Some(now);
        self.gc(now);
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.slots.as_mut().fill(Slot::EMPTY);
        self.entries = 0;
    }

    /// Empties slot `hole` and shifts later members of its probe run back, so lookups need no tombstones.
    fn remove_at(&mut self, mut hole: usize) {
        let n = self.slots.as_ref().len();
        if let Some(s) = self.slots.as_mut().get_mut(hole) {
            *s = Slot::EMPTY;
        }
        self.entries = self.entries.saturating_sub(1);
        let mut j = hole;
        for _ in 0..n {
            j = (j + 1) % n;
            let Some(cur) = self.slots.as_ref().get(j).copied() else {
                return;
            };
            if !cur.used {
                return;
            }
            let home = self.home(cur.ip, cur.is_v6, cur.scope);
            // Move `cur` into the hole unless its home lies cyclically in (hole, j].
            let dist_home = (j + n - home) % n;
            let dist_hole = (j + n - hole) % n;
            if dist_home >= dist_hole {
                let slots = self.slots.as_mut();
                if let Some(h) = slots.get_mut(hole) {
                    *h = cur;
                }
                if let Some(c) = slots.get_mut(j) {
                    *c = Slot::EMPTY;
                }
                hole = j;
            }
        }
    }
}
