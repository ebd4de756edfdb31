// SPDX-License-Identifier: GPL-2.0

//! The timer state machine event by event, against timers.c semantics.

use rust_wg_proto::messages::*;
use rust_wg_proto::timers::{TimerActions, Timers};

const SEC: u64 = 1_000_000_000;

fn running() -> Timers {
    let mut t = Timers::new();
    t.set_running(true);
    t
}

#[test]
fn nothing_pending_initially() {
    let mut t = running();
    assert_eq!(t.next_deadline(), None);
    assert!(t.on_timeout(u64::MAX).is_empty());
}

#[test]
fn data_sent_arms_new_handshake_once() {
    let mut t = running();
    t.data_sent(0, 0);
    assert_eq!(
        t.next_deadline(),
        Some((KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * SEC)
    );
    // Not re-armed while pending.
    t.data_sent(5 * SEC, 0);
    assert_eq!(t.next_deadline(), Some(15 * SEC));
    let a = t.on_timeout(15 * SEC);
    assert_eq!(
        a,
        TimerActions {
            new_handshake: true,
            ..Default::default()
        }
    );
    t.data_sent(20 * SEC, 0);
    assert_eq!(t.next_deadline(), Some(35 * SEC));
}

#[test]
fn data_sent_jitter_is_bounded() {
    for r in [1u32, 1000, 333_333_332, 333_333_333, u32::MAX] {
        let mut t = running();
        t.data_sent(0, r);
        let d = t.next_deadline().unwrap() - 15 * SEC;
        assert!(d < REKEY_TIMEOUT_JITTER_MAX_NS, "{d}");
    }
}

#[test]
fn authenticated_receive_cancels_new_handshake() {
    let mut t = running();
    t.data_sent(0, 0);
    t.any_authenticated_packet_received();
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn data_received_arms_keepalive_and_needs_another() {
    let mut t = running();
    t.data_received(0);
    assert_eq!(t.next_deadline(), Some(10 * SEC));
    t.data_received(3 * SEC);
    assert_eq!(t.next_deadline(), Some(10 * SEC), "not pushed back");
    let a = t.on_timeout(10 * SEC);
    assert!(a.send_keepalive);
    // need_another_keepalive re-arms it once.
    assert_eq!(t.next_deadline(), Some(20 * SEC));
    let a = t.on_timeout(20 * SEC);
    assert!(a.send_keepalive);
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn sending_cancels_keepalive() {
    let mut t = running();
    t.data_received(0);
    t.any_authenticated_packet_sent();
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn handshake_initiated_always_rearms() {
    let mut t = running();
    t.handshake_initiated(0, 0);
    assert_eq!(t.next_deadline(), Some(5 * SEC));
    t.handshake_initiated(2 * SEC, 7);
    assert_eq!(t.next_deadline(), Some(7 * SEC + 7));
    t.handshake_complete();
    assert_eq!(t.next_deadline(), None);
}

#[test]
fn retransmits_then_gives_up() {
    let mut t = running();
    let mut now = 0;
    assert!(t.want_handshake(now, false));
    t.handshake_sent(now);
    t.handshake_initiated(now, 0);
    let mut retries = 0;
    loop {
        now = t.next_deadline().unwrap();
        let a = t.on_timeout(now);
        if a.purge_staged_packets {
            assert!(!a.retransmit_handshake);
            break;
        }
        assert!(a.retransmit_handshake);
        retries += 1;
        assert!(
            t.want_handshake(now, true),
            "5 s passed, the rate limit allows it"
        );
        t.handshake_sent(now);
        t.handshake_initiated(now, 0);
    }
    assert_eq!(retries, MAX_TIMER_HANDSHAKES + 1);
    assert_eq!(t.handshake_attempts(), MAX_TIMER_HANDSHAKES + 1);
    assert_eq!(t.next_deadline(), Some(now + 3 * REJECT_AFTER_TIME * SEC));
    assert!(
        t.on_timeout(now + 3 * REJECT_AFTER_TIME * SEC)
            .zero_key_material
    );
}

#[test]
fn give_up_keeps_pending_zero_timer_and_kills_keepalive() {
    let mut t = running();
    t.session_derived(0);
    for _ in 0..=MAX_TIMER_HANDSHAKES {
        t.handshake_initiated(0, 0);
        t.on_timeout(5 * SEC);
    }
    t.data_received(5 * SEC);
    t.handshake_initiated(5 * SEC, 0);
    let a = t.on_timeout(10 * SEC);
    assert!(a.purge_staged_packets);
    assert!(!a.send_keepalive, "keepalive timer deleted on give-up");
    assert_eq!(
        t.next_deadline(),
        Some(3 * REJECT_AFTER_TIME * SEC),
        "zero timer not pushed back"
    );
}

#[test]
fn non_retry_request_resets_attempts_and_rate_limits() {
    let mut t = running();
    t.handshake_initiated(0, 0);
    t.on_timeout(5 * SEC);
    t.on_timeout(5 * SEC);
    assert_eq!(t.handshake_attempts(), 1);
    t.handshake_sent(5 * SEC);
    assert!(!t.want_handshake(6 * SEC, false));
    assert_eq!(t.handshake_attempts(), 0);
    assert!(!t.want_handshake(10 * SEC - 1, true));
    assert!(t.want_handshake(10 * SEC, true));
    t.reset_last_sent_handshake();
    assert!(t.may_send_handshake(6 * SEC));
}

#[test]
fn handshake_complete_resets_state() {
    let mut t = running();
    t.set_sent_lastminute_handshake();
    t.handshake_initiated(0, 0);
    t.on_timeout(5 * SEC);
    t.handshake_complete();
    assert_eq!(t.handshake_attempts(), 0);
    assert!(!t.sent_lastminute_handshake());
}

#[test]
fn session_derived_arms_zero_key_material() {
    let mut t = running();
    t.session_derived(SEC);
    t.session_derived(2 * SEC);
    assert_eq!(
        t.next_deadline(),
        Some(2 * SEC + 3 * REJECT_AFTER_TIME * SEC)
    );
    assert!(t.on_timeout(2 * SEC + 540 * SEC).zero_key_material);
}

#[test]
fn persistent_keepalive() {
    let mut t = running();
    t.any_authenticated_packet_traversal(0);
    assert_eq!(t.next_deadline(), None, "off by default");
    assert!(t.set_persistent_keepalive_interval(25));
    t.any_authenticated_packet_traversal(SEC);
    assert_eq!(t.next_deadline(), Some(26 * SEC));
    t.any_authenticated_packet_traversal(2 * SEC);
    assert_eq!(
        t.next_deadline(),
        Some(27 * SEC),
        "re-armed on every traversal"
    );
    assert!(t.on_timeout(27 * SEC).send_keepalive);
    t.any_authenticated_packet_traversal(27 * SEC);
    assert!(!t.set_persistent_keepalive_interval(0));
    assert!(
        !t.on_timeout(52 * SEC).send_keepalive,
        "turned off before it fired"
    );
    assert_eq!(t.persistent_keepalive_interval(), 0);
}

#[test]
fn stopped_timers_arm_nothing() {
    let mut t = Timers::new();
    t.data_sent(0, 0);
    t.data_received(0);
    t.handshake_initiated(0, 0);
    t.session_derived(0);
    assert!(
        !t.set_persistent_keepalive_interval(25),
        "no keepalive when down"
    );
    t.any_authenticated_packet_traversal(0);
    assert_eq!(t.next_deadline(), None);
    let mut r = running();
    r.data_sent(0, 0);
    r.session_derived(0);
    r.set_running(false);
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn several_timers_fire_together() {
    let mut t = running();
    t.data_sent(0, 0);
    t.data_received(5 * SEC);
    t.session_derived(0);
    let a = t.on_timeout(15 * SEC);
    assert!(a.new_handshake && a.send_keepalive && !a.zero_key_material);
    assert_eq!(t.next_deadline(), Some(540 * SEC));
}

#[test]
fn deadlines_saturate() {
    let mut t = running();
    t.data_sent(u64::MAX - 1, u32::MAX);
    assert_eq!(t.next_deadline(), Some(u64::MAX));
}

#[test]
fn reply_before_data_sent_report_arms_nothing() {
    // The send began, the reply was handled (on another CPU) before the sender reported: no new-handshake timer
    // that the reply would have cancelled.
    let mut t = running();
    let mark = t.send_mark();
    t.any_authenticated_packet_received();
    t.data_sent_after(mark, 0, 0);
    assert_eq!(t.next_deadline(), None);
    assert!(t.on_timeout(u64::MAX).is_empty());
    // Nothing received during the send: armed as by `data_sent`.
    let mark = t.send_mark();
    t.data_sent_after(mark, SEC, 0);
    assert_eq!(t.next_deadline(), Some(SEC + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * SEC));
    // And a receive after the report cancels it, as before.
    t.any_authenticated_packet_received();
    assert_eq!(t.next_deadline(), None);
}
