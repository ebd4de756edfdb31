// SPDX-License-Identifier: GPL-2.0

//! The C driver's selftest/ratelimiter.c under a fake clock (so its timing test is exact), plus capacity, GC and
//! probing checks of the caller-storage hash table.

mod common;

use common::Rng;
use rust_wg_proto::addr::IpAddr;
use rust_wg_proto::ratelimiter::{Ratelimiter, Slot, PACKETS_BURSTABLE, PACKETS_PER_SECOND};

const MS: u64 = 1_000_000;

fn rl(slots: usize) -> Ratelimiter<Vec<Slot>> {
    Ratelimiter::new(vec![Slot::EMPTY; slots], [0x0123_4567, 0x89ab_cdef])
}

/// (expected result, milliseconds to sleep before), as `expected_results[]`.
fn expected() -> Vec<(bool, u64)> {
    let mut v = vec![(true, 0); PACKETS_BURSTABLE as usize];
    v.push((false, 0));
    v.push((true, 1000 / PACKETS_PER_SECOND));
    v.push((false, 0));
    v.push((true, 1000 / PACKETS_PER_SECOND * 2));
    v.push((true, 0));
    v.push((false, 0));
    v
}

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(n.to_be_bytes())
}

fn v6(w: [u32; 4]) -> IpAddr {
    let mut o = [0; 16];
    for (i, x) in w.iter().enumerate() {
        o[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    IpAddr::V6(o)
}

/// The timings test: the same source follows the table, a fresh source is always allowed.
fn timings(start: u64, scope: u64) {
    let mut r = rl(1024);
    let mut now = start;
    let base4 = 8182u32;
    let mut w6 = [1212, 289188, 0, 0];
    for (i, (result, sleep)) in expected().into_iter().enumerate() {
        now += sleep * MS;
        assert_eq!(r.allow(now, scope, &v4(base4)), result, "v4 step {i}");
        assert!(
            r.allow(now, scope, &v4(base4 + i as u32 + 1)),
            "fresh v4 {i}"
        );
        w6[2] = i as u32;
        w6[3] = i as u32;
        assert_eq!(
            r.allow(now, scope, &v6(w6)),
            result,
            "v6 step {i}: the /64 is what counts"
        );
        let mut other = w6;
        other[0] += i as u32 + 1;
        assert!(r.allow(now, scope, &v6(other)), "fresh v6 {i}");
    }
}

#[test]
fn timings_from_zero() {
    timings(0, 0);
}

#[test]
fn timings_from_late_clock() {
    timings(1 << 50, 3);
}

#[test]
fn timings_in_other_scope() {
    timings(12345 * MS, 0xdead_beef);
}

#[test]
fn capacity_test() {
    let mut r = rl(8192);
    assert!(r.is_empty());
    let max = r.capacity();
    for i in 0..=max {
        assert_eq!(r.allow(0, 0, &v4(i as u32)), i != max, "entry {i}");
    }
    assert_eq!(r.len(), max);
    // Known sources are still served at capacity.
    assert!(r.allow(0, 0, &v4(1)));
}

#[test]
fn gc_drops_idle_entries() {
    let mut r = rl(64);
    for i in 0..32 {
        assert!(r.allow(0, 0, &v4(i)));
    }
    assert!(!r.allow(0, 0, &v4(999)), "full");
    r.gc(1_000_000_000);
    assert_eq!(r.len(), 32, "idle for exactly one second is kept");
    for i in 0..16 {
        r.allow(1_500_000_000, 0, &v4(i));
    }
    r.gc(2_000_000_001);
    assert_eq!(r.len(), 16);
    // Survivors remain findable after backward-shift deletion: their bucket state persists.
    for i in 0..16 {
        assert!(r.allow(2_000_000_001, 0, &v4(i)));
    }
    assert_eq!(r.len(), 16);
    r.gc(u64::MAX);
    assert!(r.is_empty());
    r.clear();
    assert!(r.allow(0, 0, &v4(5)));
}

#[test]
fn gc_if_due_runs_once_a_second() {
    let mut r = rl(64);
    for i in 0..8 {
        assert!(r.allow(0, 0, &v4(i)));
    }
    r.gc_if_due(0);
    assert_eq!(r.len(), 8, "nothing idle yet");
    assert!(r.allow(100 * MS, 0, &v4(100)));
    // Within a second of the last pass nothing is collected, stale or not.
    r.gc_if_due(500 * MS);
    r.gc_if_due(999 * MS);
    assert_eq!(r.len(), 9);
    // A second later: the sources idle for more than a second go, the one seen at 100 ms stays.
    r.gc_if_due(1050 * MS);
    assert_eq!(r.len(), 1);
    r.gc_if_due(1500 * MS);
    assert_eq!(r.len(), 1, "stale since 1100 ms, but the last pass was at 1050 ms");
    r.gc_if_due(2060 * MS);
    assert!(r.is_empty());
}

#[test]
fn burst_then_steady_rate() {
    let mut r = rl(64);
    let src = v4(7);
    let mut allowed = 0;
    // Over ten seconds at 1000 packets/s, about burst + 20/s get through.
    for ms in 0..10_000u64 {
        if r.allow(ms * MS, 0, &src) {
            allowed += 1;
        }
    }
    let expect = PACKETS_BURSTABLE + 10 * PACKETS_PER_SECOND;
    assert!((expect - 2..=expect + 1).contains(&allowed), "{allowed}");
}

#[test]
fn scopes_are_separate() {
    let mut r = rl(64);
    for _ in 0..PACKETS_BURSTABLE {
        assert!(r.allow(0, 1, &v4(1)));
    }
    assert!(!r.allow(0, 1, &v4(1)));
    assert!(r.allow(0, 2, &v4(1)));
    // v4 and v6 with the same leading bits do not collide either.
    assert!(r.allow(0, 1, &v6([0, 1, 0, 0])));
}

#[test]
fn random_churn_matches_model() {
    let mut rng = Rng(3);
    let mut r = rl(512);
    let mut model: std::collections::HashMap<u32, (u64, u64)> = Default::default();
    let mut now = 0u64;
    for step in 0..50_000 {
        now += rng.below(20 * MS);
        if step % 1000 == 0 {
            r.gc(now);
            model.retain(|_, (t, _)| now - *t <= 1_000_000_000);
        }
        let ip = rng.below(300) as u32;
        let got = r.allow(now, 0, &v4(ip));
        let cost = 1_000_000_000 / PACKETS_PER_SECOND;
        let max = cost * PACKETS_BURSTABLE;
        let len = model.len();
        let expect = match model.get_mut(&ip) {
            Some((t, tokens)) => {
                let tk = (*tokens + (now - *t)).min(max);
                *t = now;
                let ok = tk >= cost;
                *tokens = if ok { tk - cost } else { tk };
                ok
            }
            None if len < r.capacity() => {
                model.insert(ip, (now, max - cost));
                true
            }
            None => false,
        };
        assert_eq!(got, expect, "step {step}");
        assert_eq!(r.len(), model.len());
    }
}

#[test]
fn empty_storage_refuses() {
    let mut r = Ratelimiter::new([Slot::EMPTY; 0], [1, 2]);
    assert!(!r.allow(0, 0, &v4(1)));
    r.gc(5);
    let mut fixed = Ratelimiter::new([Slot::EMPTY; 8], [1, 2]);
    assert!(fixed.allow(0, 0, &v4(1)));
}
