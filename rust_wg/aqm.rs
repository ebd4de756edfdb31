// SPDX-License-Identifier: GPL-2.0

//! Queue management of the data path pipeline (issue 10: latency under load): how much a peer may have in flight on
//! transmit ([`InflightLimit`]) and when the receive pipeline drops to keep its standing queue short ([`Codel`]).
//!
//! Plain `core` Rust without clock or locks: the caller passes the time (monotonic ns) and holds the ring lock the
//! state lives under. The host crate compiles this file too, for its tests.
//!
//! Why both: a bulk TCP flow's sender is held back by TCP small queues (its packets below the socket are few), so the
//! excess of its congestion window stands at the bottleneck. Under the usual load that is the receiving peer's
//! decryption: a FIFO of encrypted packets, in which a voice packet waits behind the bulk flow's, and which cannot
//! be scheduled per flow before the packets are opened. The only lever there is to tell the bulk flow early that
//! it sends too much: drop when the packets' sojourn stays above a target (CoDel, RFC 8289). On transmit the queue
//! is scheduled per flow (`staging.rs`), so the bound on what has left the staging queue only needs to keep the
//! crypt workers busy: sized like the kernel's DQL, it grows when the workers ran dry while packets were staged and
//! shrinks by the slack it had over an interval.

/// Sojourn time above which the receive pipeline starts to drop (CoDel's target).
pub(crate) const TARGET_NS: u64 = 5_000_000;
/// How long the sojourn must stay above the target before the first drop, and the base of the drop spacing.
pub(crate) const INTERVAL_NS: u64 = 100_000_000;
/// Packets shorter than this (outer length) are never dropped: acknowledgements, voice, DNS do not build the queue,
/// and a drop costs such a flow far more than the bytes it frees.
pub(crate) const MIN_DROP_LEN: usize = 512;
/// Backlog (bytes) under which the queue counts as empty whatever the sojourn (CoDel's "one MTU" rule): a lone
/// packet that waited for a descheduled CPU is no standing queue.
pub(crate) const EMPTY_BYTES: usize = 1500;

/// CoDel's state for one queue; the drops happen at admission (the packet is not opened, which saves the CPU the
/// bottleneck is short of), the sojourn is measured where packets leave.
pub(crate) struct Codel {
    /// When the sojourn first went over the target in the current period plus [`INTERVAL_NS`], or 0.
    first_above: u64,
    /// When the next drop is due while dropping.
    drop_next: u64,
    /// Drops in the current dropping period.
    count: u32,
    /// `count` at the end of the previous dropping period.
    last_count: u32,
    /// Whether the queue is in the dropping state.
    dropping: bool,
    /// Drops so far (for statistics).
    pub(crate) drops: u64,
}

/// `INTERVAL_NS / sqrt(count)`: the spacing of drops (CoDel's control law).
fn control_law(count: u32) -> u64 {
    let c = u64::from(count.max(1));
    // Integer square root by Newton's method (count is small).
    let mut x = c;
    let mut y = (x + 1) / 2;
    while y < x {
        x = y;
        y = (x + c / x) / 2;
    }
    INTERVAL_NS / x.max(1)
}

impl Codel {
    /// A queue that has not been over its target.
    pub(crate) const fn new() -> Self {
        Self {
            first_above: 0,
            drop_next: 0,
            count: 0,
            last_count: 0,
            dropping: false,
            drops: 0,
        }
    }

    /// A packet that waited `sojourn` ns left the queue at `now`; `backlog` bytes are still in it.
    pub(crate) fn dequeued(&mut self, now: u64, sojourn: u64, backlog: usize) {
        if sojourn < TARGET_NS || backlog <= EMPTY_BYTES {
            self.first_above = 0;
            self.dropping = false;
            return;
        }
        if self.first_above == 0 {
            self.first_above = now.saturating_add(INTERVAL_NS).max(1);
            return;
        }
        if !self.dropping && now >= self.first_above {
            self.dropping = true;
            // As CoDel: a queue that was dropping recently resumes near the rate it had reached.
            let delta = self.count.wrapping_sub(self.last_count);
            self.count = if delta > 1 && now.saturating_sub(self.drop_next) < 16 * INTERVAL_NS {
                delta
            } else {
                1
            };
            self.last_count = self.count;
            self.drop_next = now;
        }
    }

    /// Whether a packet of `len` bytes arriving at `now` is to be dropped.
    pub(crate) fn drop_on_admit(&mut self, now: u64, len: usize) -> bool {
        if !self.dropping || len < MIN_DROP_LEN || now < self.drop_next {
            return false;
        }
        self.count = self.count.saturating_add(1);
        self.drop_next = now.saturating_add(control_law(self.count));
        self.drops += 1;
        true
    }

    /// Whether the queue is in the dropping state (tests only).
    #[cfg(test)]
    pub(crate) fn dropping(&self) -> bool {
        self.dropping
    }
}

/// Sojourn times of the packets that left a queue (for the statistics line at peer removal).
pub(crate) struct Sojourns {
    /// Sum (ns) and number of the sojourns, and the longest.
    pub(crate) sum: u64,
    pub(crate) n: u64,
    pub(crate) max: u64,
}

impl Sojourns {
    /// None yet.
    pub(crate) const fn new() -> Self {
        Self { sum: 0, n: 0, max: 0 }
    }

    /// Counts one.
    pub(crate) fn add(&mut self, sojourn: u64) {
        self.sum = self.sum.saturating_add(sojourn);
        self.n += 1;
        self.max = self.max.max(sojourn);
    }

    /// The mean in microseconds.
    pub(crate) fn mean_us(&self) -> u64 {
        self.sum / self.n.max(1) / 1000
    }
}

/// The transmit in-flight bound's range and start (bytes). 16 KiB is eleven full-sized packets, enough for two CPUs'
/// workers; 1 MiB is far over what TCP small queues let one socket have below it.
pub(crate) const INFLIGHT_MIN: usize = 16 * 1024;
pub(crate) const INFLIGHT_START: usize = 64 * 1024;
pub(crate) const INFLIGHT_MAX: usize = 1024 * 1024;
/// How long the slack is observed before the limit shrinks by it.
pub(crate) const SLACK_INTERVAL_NS: u64 = 100_000_000;

/// A DQL-style adaptive bound on the bytes a peer has between staging and the transmit consumer.
///
/// The consumer reports after each pass how many bytes are still out with the workers and whether packets wait in
/// staging. Nothing out while packets wait means the workers ran dry because of the bound: it grows by half. While
/// packets wait, the least that was still out at the end of a pass over an interval is slack the bound did not need:
/// it shrinks by half of it. With nothing staged the bound was not what limited, and nothing is learnt.
pub(crate) struct InflightLimit {
    limit: usize,
    /// Least in flight at the end of a pass while packets were staged, in the current interval.
    slack: usize,
    /// When the current interval started.
    since: u64,
    /// Times the bound grew (for statistics).
    pub(crate) grown: u64,
}

impl InflightLimit {
    /// The starting bound.
    pub(crate) const fn new() -> Self {
        Self {
            limit: INFLIGHT_START,
            slack: usize::MAX,
            since: 0,
            grown: 0,
        }
    }

    /// The bound now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The consumer finished a pass at `now` with `inflight` bytes still admitted; `staged` whether packets wait.
    pub(crate) fn completed(&mut self, now: u64, inflight: usize, staged: bool) {
        if !staged {
            return;
        }
        if inflight == 0 {
            self.limit = (self.limit + self.limit / 2).min(INFLIGHT_MAX);
            self.grown += 1;
            self.slack = usize::MAX;
            self.since = now;
            return;
        }
        self.slack = self.slack.min(inflight);
        if now.saturating_sub(self.since) >= SLACK_INTERVAL_NS {
            if self.slack != usize::MAX {
                self.limit = self.limit.saturating_sub(self.slack / 2).max(INFLIGHT_MIN);
            }
            self.slack = usize::MAX;
            self.since = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn codel_waits_an_interval_then_drops_faster() {
        let mut c = Codel::new();
        let mut now = 1000 * MS;
        // A standing queue: every packet waited 20 ms, 64 KiB stay behind.
        let mut drops = alloc::vec::Vec::new();
        for _ in 0..1000 {
            c.dequeued(now, 20 * MS, 64 * 1024);
            if c.drop_on_admit(now, 1400) {
                drops.push(now);
            }
            now += MS;
        }
        // Nothing in the first interval.
        assert!(drops[0] >= 1100 * MS, "{:?}", &drops[..3]);
        // Then ever closer drops.
        assert!(drops.len() > 5);
        let gaps: alloc::vec::Vec<u64> = drops.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps[0] > *gaps.last().unwrap());
        assert_eq!(c.drops, drops.len() as u64);
    }

    #[test]
    fn codel_spares_small_packets_and_short_queues() {
        let mut c = Codel::new();
        let mut now = MS;
        for _ in 0..500 {
            c.dequeued(now, 50 * MS, 64 * 1024);
            assert!(!c.drop_on_admit(now, 200), "a voice packet was dropped");
            now += MS;
        }
        assert!(c.dropping());
        // A long sojourn with (almost) nothing behind it is no standing queue.
        c.dequeued(now, 50 * MS, 1000);
        assert!(!c.dropping());
        assert!(!c.drop_on_admit(now, 1400));
        // Nor is a short sojourn.
        for _ in 0..500 {
            c.dequeued(now, 1 * MS, 64 * 1024);
            assert!(!c.drop_on_admit(now, 1400));
            now += MS;
        }
    }

    #[test]
    fn control_law_is_interval_over_sqrt() {
        assert_eq!(control_law(1), INTERVAL_NS);
        assert_eq!(control_law(4), INTERVAL_NS / 2);
        assert_eq!(control_law(100), INTERVAL_NS / 10);
        assert_eq!(control_law(0), INTERVAL_NS);
    }

    #[test]
    fn inflight_grows_when_starved_and_shrinks_by_slack() {
        let mut l = InflightLimit::new();
        assert_eq!(l.limit(), INFLIGHT_START);
        // Nothing staged: nothing learnt.
        l.completed(0, 0, false);
        assert_eq!(l.limit(), INFLIGHT_START);
        // Starved while packets wait: grows, up to the maximum.
        l.completed(MS, 0, true);
        assert_eq!(l.limit(), INFLIGHT_START * 3 / 2);
        for i in 0..100 {
            l.completed(2 * MS + i, 0, true);
        }
        assert_eq!(l.limit(), INFLIGHT_MAX);
        // Always at least 200 KiB out over intervals: shrinks, down to the minimum.
        let mut now = 10 * MS;
        for _ in 0..1000 {
            l.completed(now, l.limit().min(200 * 1024), true);
            now += 10 * MS;
        }
        assert!(l.limit() < INFLIGHT_MAX);
        for _ in 0..1000 {
            l.completed(now, l.limit() / 2, true);
            now += 10 * MS;
        }
        assert_eq!(l.limit(), INFLIGHT_MIN);
    }
}
