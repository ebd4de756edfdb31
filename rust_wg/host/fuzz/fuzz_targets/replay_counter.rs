// SPDX-License-Identifier: GPL-2.0

//! The replay window against a model that remembers every accepted counter.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_wg_proto::counter::ReplayCounter;
use rust_wg_proto::messages::{COUNTER_WINDOW_SIZE, REJECT_AFTER_MESSAGES};
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let mut c = ReplayCounter::new();
    let mut seen = HashSet::new();
    let mut max: Option<u64> = None;
    let mut base = 0u64;
    for chunk in data.chunks_exact(3) {
        // Two bytes of offset around a base that jumps, so the fuzzer reaches window edges and huge values.
        let off = u64::from(u16::from_le_bytes([chunk[0], chunk[1]]));
        match chunk[2] {
            0 => base = base.wrapping_add(off << 16),
            1 => base = REJECT_AFTER_MESSAGES.wrapping_sub(off),
            _ => {}
        }
        let v = base.wrapping_add(off);
        let too_old = max.is_some_and(|m| v.saturating_add(COUNTER_WINDOW_SIZE) < m);
        let expect = v < REJECT_AFTER_MESSAGES && !too_old && !seen.contains(&v);
        assert_eq!(c.validate(v), expect);
        if expect {
            seen.insert(v);
            max = Some(max.map_or(v, |m| m.max(v)));
        }
    }
});
