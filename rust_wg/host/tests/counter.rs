// SPDX-License-Identifier: GPL-2.0

//! The C driver's selftest/counter.c, case by case, plus randomized checks against a naive set-based model.

mod common;

use common::Rng;
use rust_wg_proto::counter::ReplayCounter;
use rust_wg_proto::messages::{COUNTER_WINDOW_SIZE, REJECT_AFTER_MESSAGES};

const T_LIM: u64 = COUNTER_WINDOW_SIZE + 1;

// (counter, expected) in order, from selftest/counter.c's first block.
const TABLE: [(u64, bool); 34] = [
    (0, true),
    (1, true),
    (1, false),
    (9, true),
    (8, true),
    (7, true),
    (7, false),
    (T_LIM, true),
    (T_LIM - 1, true),
    (T_LIM - 1, false),
    (T_LIM - 2, true),
    (2, true),
    (2, false),
    (T_LIM + 16, true),
    (3, false),
    (T_LIM + 16, false),
    (T_LIM * 4, true),
    (T_LIM * 4 - (T_LIM - 1), true),
    (10, false),
    (T_LIM * 4 - T_LIM, false),
    (T_LIM * 4 - (T_LIM + 1), false),
    (T_LIM * 4 - (T_LIM - 2), true),
    (T_LIM * 4 + 1 - T_LIM, false),
    (0, false),
    (REJECT_AFTER_MESSAGES, false),
    (REJECT_AFTER_MESSAGES - 1, true),
    (REJECT_AFTER_MESSAGES, false),
    (REJECT_AFTER_MESSAGES - 1, false),
    (REJECT_AFTER_MESSAGES - 2, true),
    (REJECT_AFTER_MESSAGES + 1, false),
    (REJECT_AFTER_MESSAGES + 2, false),
    (REJECT_AFTER_MESSAGES - 2, false),
    (REJECT_AFTER_MESSAGES - 3, true),
    (0, false),
];

/// Replays the table up to and including case `n` (1-based) and checks that case.
fn table_case(n: usize) {
    let mut c = ReplayCounter::new();
    for (i, (v, expect)) in TABLE.iter().enumerate().take(n) {
        let got = c.validate(*v);
        if i + 1 == n {
            assert_eq!(got, *expect, "case {n}: counter {v}");
        }
    }
}

macro_rules! table_tests {
    ($($name:ident: $n:expr,)*) => {$(
        #[test]
        fn $name() {
            table_case($n);
        }
    )*};
}

table_tests! {
    counter_case_01: 1, counter_case_02: 2, counter_case_03: 3, counter_case_04: 4, counter_case_05: 5,
    counter_case_06: 6, counter_case_07: 7, counter_case_08: 8, counter_case_09: 9, counter_case_10: 10,
    counter_case_11: 11, counter_case_12: 12, counter_case_13: 13, counter_case_14: 14, counter_case_15: 15,
    counter_case_16: 16, counter_case_17: 17, counter_case_18: 18, counter_case_19: 19, counter_case_20: 20,
    counter_case_21: 21, counter_case_22: 22, counter_case_23: 23, counter_case_24: 24, counter_case_25: 25,
    counter_case_26: 26, counter_case_27: 27, counter_case_28: 28, counter_case_29: 29, counter_case_30: 30,
    counter_case_31: 31, counter_case_32: 32, counter_case_33: 33, counter_case_34: 34,
}

#[test]
fn whole_table_in_sequence() {
    let mut c = ReplayCounter::new();
    for (i, (v, expect)) in TABLE.iter().enumerate() {
        assert_eq!(c.validate(*v), *expect, "case {}", i + 1);
    }
}

#[test]
fn window_ascending_then_zero() {
    let mut c = ReplayCounter::new();
    for i in 1..=COUNTER_WINDOW_SIZE {
        assert!(c.validate(i));
    }
    assert!(c.validate(0));
    assert!(!c.validate(0));
}

#[test]
fn window_from_two_then_one() {
    let mut c = ReplayCounter::new();
    for i in 2..=COUNTER_WINDOW_SIZE + 1 {
        assert!(c.validate(i));
    }
    assert!(c.validate(1));
    assert!(!c.validate(0));
}

#[test]
fn window_descending_from_limit() {
    let mut c = ReplayCounter::new();
    for i in (0..=COUNTER_WINDOW_SIZE).rev() {
        assert!(c.validate(i), "{i}");
    }
}

#[test]
fn window_descending_then_zero_too_old() {
    let mut c = ReplayCounter::new();
    for i in (1..=COUNTER_WINDOW_SIZE + 1).rev() {
        assert!(c.validate(i));
    }
    assert!(!c.validate(0));
}

#[test]
fn window_descending_then_top_then_zero() {
    let mut c = ReplayCounter::new();
    for i in (1..=COUNTER_WINDOW_SIZE).rev() {
        assert!(c.validate(i));
    }
    assert!(c.validate(COUNTER_WINDOW_SIZE + 1));
    assert!(!c.validate(0));
}

#[test]
fn window_descending_then_zero_then_top() {
    let mut c = ReplayCounter::new();
    for i in (1..=COUNTER_WINDOW_SIZE).rev() {
        assert!(c.validate(i));
    }
    assert!(c.validate(0));
    assert!(c.validate(COUNTER_WINDOW_SIZE + 1));
}

#[test]
fn exhausted_and_max() {
    let mut c = ReplayCounter::new();
    assert_eq!(c.max(), 0);
    assert!(c.validate(41));
    assert_eq!(c.max(), 42);
    assert!(!c.exhausted());
    assert!(c.validate(REJECT_AFTER_MESSAGES - 1));
    assert!(c.exhausted());
}

/// A model that remembers everything: accept if unseen, not beyond the limit, and within the window of the max.
fn model_check(seed: u64, spread: u64, n: usize) {
    let mut rng = Rng(seed);
    let mut c = ReplayCounter::new();
    let mut seen = std::collections::HashSet::new();
    let mut max: Option<u64> = None;
    let mut base = 0u64;
    for _ in 0..n {
        if rng.chance(2) {
            base += rng.below(20_000);
        }
        let v = base + rng.below(spread);
        let too_old = max.is_some_and(|m| v + COUNTER_WINDOW_SIZE < m);
        let expect = !too_old && !seen.contains(&v);
        assert_eq!(c.validate(v), expect, "seed {seed} value {v} max {max:?}");
        if expect {
            seen.insert(v);
            max = Some(max.map_or(v, |m| m.max(v)));
        }
    }
}

macro_rules! model_tests {
    ($($name:ident: $seed:expr, $spread:expr,)*) => {$(
        #[test]
        fn $name() {
            model_check($seed, $spread, 20_000);
        }
    )*};
}

model_tests! {
    model_narrow_1: 1, 100,
    model_narrow_2: 2, 500,
    model_window_1: 3, 8000,
    model_window_2: 4, 8200,
    model_wide_1: 5, 20_000,
    model_wide_2: 6, 100_000,
    model_huge: 7, 1 << 40,
}
