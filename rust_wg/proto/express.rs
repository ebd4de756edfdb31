// SPDX-License-Identifier: GPL-2.0

//! The express lane: small packets of sparse flows skip the parallel crypto pipeline (issue 10, latency under load).
//!
//! In the pipeline a packet waits for a crypt worker (behind every job of the device, FIFO), then for the packets
//! admitted before it to its peer's ring (the consumer sends and delivers in order), then for the consumer work item,
//! on each of the four legs of a round trip. While a bulk flow keeps the workers busy, a voice packet through the same
//! peer waits behind the bulk flow's packets at every one of these places. Sealing or opening a packet of a few
//! hundred bytes costs less than one such wait, so the express lane does it inline: transmit in `ndo_start_xmit`
//! right after the allowed-IPs lookup, receive in `encap_rcv` right after the index lookup, and the packet goes on
//! in the same context (to UDP, or to the peer's NAPI delivery).
//!
//! Order. WireGuard does not need nonce order on the wire (the receiver's replay window takes any order within 8192
//! messages), so the nonce an express packet takes ahead of packets still in the pipeline is fine. What must not
//! happen is that a packet overtakes an earlier packet *of its own flow*. [`Express`] tracks, per tag, the last
//! sequence number admitted to the ordered pipeline, and allows the express lane only when that one has left the
//! ring (the tag's packets are all out):
//! - transmit: the tag is the flow bucket of the staging queue (`staging.rs`, by the skb's flow hash), and the
//!   caller also checks that the bucket has nothing staged. So a packet is handed to UDP only after the earlier
//!   packets of its flow were (a flow that keeps packets in the pipeline, a bulk flow or a flood, stays in it). Not
//!   necessarily in wire order: the pipeline sends on the peer's serial CPU, the express lane on the sending CPU,
//!   and the layers below UDP keep order per CPU only (NIC queue, backlog).
//! - receive: the flows are not known before the packets are opened, so the tag is "small packet" (one tag per
//!   peer): small packets keep their order among themselves; a small packet may overtake large ones of its peer
//!   that are still being opened. Within one flow that is a short reordering of a small segment after large ones
//!   (the last segment of a TCP burst), which TCP's reordering detection (RACK) absorbs without a retransmission.
//!
//! Cost. Each tag passes at most [`EXPRESS_RATE`] packets per second (a burst of [`EXPRESS_BURST`]), a GCRA token
//! bucket; over it, packets take the pipeline, whose workers spread the crypto over all CPUs. A small-packet flood
//! thus stays parallel, and the inline crypto done in softirq by the receive side is bounded per peer. Every packet
//! of a tag counts against its rate, also one that is refused (up to [`EXPRESS_DEBT_NS`] in advance): a flow that
//! offers more than the rate (a flood) then takes the pipeline as a whole, instead of having the rate's worth of its
//! packets, and a burst each time its ring drains, sealed and opened inline. Measured (session 6, 64-byte UDP flood
//! under TCG), that share cost the flood about half of its packets per second: the inline packets are worked off
//! one at a time on the sending CPU (seal, UDP, the receiver's softirq, one NAPI poll and socket wakeup each).
//!
//! Plain `core` Rust without clock or locks: the caller passes the time (monotonic ns) and holds the lock the state
//! lives under.

/// Inner (plaintext) packets up to this many bytes may take the express lane: voice (G.711 at 20 ms is 200 bytes
/// with IP, UDP and RTP), DNS, TCP acknowledgements, interactive keystrokes.
pub const EXPRESS_MAX_LEN: usize = 256;
/// Express packets per second per tag.
pub const EXPRESS_RATE: u64 = 500;
/// Express packets a tag may pass at once after a pause.
pub const EXPRESS_BURST: u64 = 16;
/// Tags per [`Express`] (the transmit side's flow buckets; a bit mask holds which are in the pipeline).
pub const EXPRESS_TAGS: usize = 32;

/// How far ahead of the present a tag's rate may be used up: a tag whose packets keep coming faster than
/// [`EXPRESS_RATE`] stays closed, and opens again at most this long (plus the burst) after they slow down.
pub const EXPRESS_DEBT_NS: u64 = 100_000_000;

/// The `pending` mask with every tag set.
const ALL_TAGS: u32 = if EXPRESS_TAGS >= 32 { u32::MAX } else { (1 << EXPRESS_TAGS) - 1 };

/// The nanoseconds one packet uses of its tag's rate.
const COST_NS: u64 = 1_000_000_000 / EXPRESS_RATE;

/// Whether `seq` is in the ring window `[head, tail)` (sequence numbers wrap).
fn in_window(seq: u32, head: u32, tail: u32) -> bool {
    seq.wrapping_sub(head) < tail.wrapping_sub(head)
}

/// Express-lane state of one ordered ring (a peer's transmit or receive pipeline).
///
/// # Invariants
///
/// Bit `t` of `pending` is set iff a packet of tag `t` was admitted to the ring as `last[t]` and was not seen
/// consumed yet.
pub struct Express {
    /// GCRA theoretical arrival time per tag: the next packet conforms if `now + burst * cost >= tat`.
    tat: [u64; EXPRESS_TAGS],
    /// Sequence number of the last packet of each tag admitted to the ring.
    last: [u32; EXPRESS_TAGS],
    /// Tags with a packet possibly still in the ring.
    pending: u32,
    /// Packets that took the express lane (for statistics).
    pub passed: u64,
}

impl Default for Express {
    fn default() -> Self {
        Self::new()
    }
}

impl Express {
    /// No tag in the pipeline, every tag with its full burst.
    pub const fn new() -> Self {
        Self {
            tat: [0; EXPRESS_TAGS],
            last: [0; EXPRESS_TAGS],
            pending: 0,
            passed: 0,
        }
    }

    /// The state for a ring whose earlier admissions were not recorded (created lazily, when the ring may hold
    /// packets already): every tag waits until `last`, the last sequence number admitted so far, has left the ring,
    /// so no packet can overtake one of its tag that was not recorded. Every tag has its full burst.
    pub const fn waiting_for(last: u32) -> Self {
        Self {
            tat: [0; EXPRESS_TAGS],
            last: [last; EXPRESS_TAGS],
            pending: ALL_TAGS,
            passed: 0,
        }
    }

    /// A packet of `tag` was admitted to the ordered ring as `seq`.
    pub fn admitted(&mut self, tag: usize, seq: u32) {
        let t = tag % EXPRESS_TAGS;
        self.last[t] = seq;
        self.pending |= 1 << t;
    }

    /// Whether a packet of `tag` may take the express lane at `now`, given that the ring holds the sequence numbers
    /// `[head, tail)`. Its share of the rate is taken either way (see the module docs: a flood stays in the pipeline).
    pub fn may_pass(&mut self, tag: usize, now: u64, head: u32, tail: u32) -> bool {
        let t = tag % EXPRESS_TAGS;
        let tat = self.tat[t].max(now);
        let limit = now.saturating_add(EXPRESS_BURST * COST_NS);
        self.tat[t] = tat.saturating_add(COST_NS).min(limit.saturating_add(EXPRESS_DEBT_NS));
        if tat > limit {
            return false;
        }
        if self.pending & (1 << t) != 0 {
            if in_window(self.last[t], head, tail) {
                return false;
            }
            self.pending &= !(1 << t);
        }
        self.passed += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_tag_waits_for_its_packets_in_the_ring() {
        let mut e = Express::new();
        // Ring holds 10..20; tag 3's last packet is 15.
        e.admitted(3, 15);
        assert!(!e.may_pass(3, MS, 10, 20));
        // Other tags are free.
        assert!(e.may_pass(4, MS, 10, 20));
        // 15 left the ring.
        assert!(e.may_pass(3, MS, 16, 20));
        // And stays free once seen out, even when the window wraps round to it again much later.
        assert!(e.may_pass(3, 2 * MS, 10, 20));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut e = Express::new();
        e.admitted(0, u32::MAX);
        assert!(!e.may_pass(0, MS, u32::MAX - 3, 5));
        assert!(e.may_pass(0, MS, 0, 5));
        e.admitted(1, 2);
        assert!(!e.may_pass(1, MS, u32::MAX, 3));
        // Empty ring: nothing pending.
        assert!(e.may_pass(1, MS, 3, 3));
    }

    #[test]
    fn a_lazy_state_waits_for_what_the_ring_held() {
        // Created when the ring holds 10..20 (unrecorded tags): every tag waits for 19 to leave.
        let mut e = Express::waiting_for(19);
        assert!(!e.may_pass(0, MS, 10, 20));
        assert!(!e.may_pass(31, MS, 19, 25));
        assert!(e.may_pass(0, MS, 20, 25));
        assert!(e.may_pass(31, MS, 20, 25));
        // Created on an empty ring: nothing to wait for.
        let mut e = Express::waiting_for(6);
        assert!(e.may_pass(5, MS, 7, 7));
    }

    #[test]
    fn rate_is_bounded_per_tag() {
        let mut e = Express::new();
        let now = 1000 * MS;
        let mut n = 0;
        while e.may_pass(7, now, 0, 0) {
            n += 1;
            assert!(n < 1000);
        }
        // The burst (and the one packet the current instant allows).
        assert_eq!(n, EXPRESS_BURST + 1);
        // Another tag has its own budget.
        assert!(e.may_pass(8, now, 0, 0));
        // A flood (100 000 packets per second offered for a second) keeps the tag closed: refused packets use up
        // the rate too.
        let mut passed = 0;
        let mut t = now;
        for _ in 0..100_000 {
            t += 10_000;
            if e.may_pass(7, t, 0, 0) {
                passed += 1;
            }
        }
        assert_eq!(passed, 0);
        assert_eq!(e.passed, n + 1);
        // Once it stops, the tag opens again after the debt and the burst have run down.
        assert!(!e.may_pass(7, t + EXPRESS_DEBT_NS / 2, 0, 0));
        assert!(e.may_pass(7, t + EXPRESS_DEBT_NS + 2 * EXPRESS_BURST * COST_NS, 0, 0));
    }

    #[test]
    fn a_flow_under_the_rate_passes() {
        let mut e = Express::new();
        let mut t = MS;
        let mut passed = 0;
        for _ in 0..4000 {
            // 400 packets per second, under the rate: all pass.
            t += 2_500_000;
            if e.may_pass(5, t, 0, 0) {
                passed += 1;
            }
        }
        assert_eq!(passed, 4000);
    }

    #[test]
    fn sparse_flow_always_passes() {
        let mut e = Express::new();
        let mut t = MS;
        for seq in 0..1000u32 {
            // A voice flow: 50 packets per second, while the ring is busy with others.
            assert!(e.may_pass(2, t, seq, seq + 64));
            t += 20 * MS;
        }
    }
}
