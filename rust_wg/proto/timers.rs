// SPDX-License-Identifier: GPL-2.0

//! The per-peer timer state machine of timers.c, driven by events and by the caller's clock.
//!
//! The data path reports events ("data sent", "authenticated packet received", "handshake initiated", ...); the
//! state machine decides which of the five protocol timers to arm or cancel, exactly as the C driver does (for
//! example, the keepalive and new-handshake timers are only armed when not already pending, and retransmissions
//! get up to a third of a second of jitter). The caller arms one host timer at [`Timers::next_deadline`] and calls
//! [`Timers::on_timeout`] when it fires, then carries out the returned [`TimerActions`].
//!
//! Randomness is an argument: every method that jitters takes a random `u32` from the caller and reduces it below
//! [`REKEY_TIMEOUT_JITTER_MAX_NS`]. Times are monotonic nanoseconds.
//!
//! Like `mod_peer_timer()`, arming does nothing while the state machine is not running (device down or peer being
//! removed); see [`Timers::set_running`].
//!
//! Events about a send that arm a timer a reply cancels are reported so that the reply cannot come first: an
//! initiation is reported before it is sent ([`Timers::handshake_initiated`]), and data, whose report depends on
//! whether the send worked, after it, with a [`SendMark`] taken before ([`Timers::data_sent_after`]). The C driver
//! reports both after the send; there the window is a few instructions, here a send can be a batch, or a worker
//! preempted after it, and the reply, handled on another CPU, came first: the retransmission or new-handshake timer
//! was then armed after the reply and fired a handshake seconds later, from wherever the endpoint was by then.

use super::messages::{
    KEEPALIVE_TIMEOUT, MAX_TIMER_HANDSHAKES, NSEC_PER_SEC, REJECT_AFTER_TIME, REKEY_TIMEOUT,
    REKEY_TIMEOUT_JITTER_MAX_NS,
};
use super::noise::birthdate_has_expired;

/// What the caller must do after [`Timers::on_timeout`]; several may be set at once, handle them in field order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TimerActions {
    /// Give up on the handshake: drop the staged packets (`wg_packet_purge_staged_packets()`).
    pub purge_staged_packets: bool,
    /// Retransmit the handshake: clear the endpoint's source address, then send an initiation with
    /// `is_retry = true` (see [`Timers::want_handshake`]).
    pub retransmit_handshake: bool,
    /// We stopped hearing back after sending data: clear the endpoint's source address, then send an initiation with
    /// `is_retry = false`.
    pub new_handshake: bool,
    /// Send a keepalive (an empty data message), from the keepalive or the persistent-keepalive timer.
    pub send_keepalive: bool,
    /// Zero all key material: clear the handshake and all keypairs.
    pub zero_key_material: bool,
}

impl TimerActions {
    /// Tells whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a sender notes before it sends data, for [`Timers::data_sent_after`]: how many authenticated packets had been
/// received by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendMark(u32);

/// Timer state of one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timers {
    running: bool,
    retransmit_handshake: Option<u64>,
    send_keepalive: Option<u64>,
    new_handshake: Option<u64>,
    zero_key_material: Option<u64>,
    persistent_keepalive: Option<u64>,
    handshake_attempts: u32,
    need_another_keepalive: bool,
    sent_lastminute_handshake: bool,
    persistent_keepalive_interval: u16,
    last_sent_handshake: Option<u64>,
    /// Authenticated packets received (wrapping): tells [`Timers::data_sent_after`] whether one came during a send.
    received: u32,
}

impl Default for Timers {
    fn default() -> Self {
        Self::new()
    }
}

fn secs(s: u64) -> u64 {
    s.saturating_mul(NSEC_PER_SEC)
}

fn jitter_ns(random: u32) -> u64 {
    u64::from(random) % REKEY_TIMEOUT_JITTER_MAX_NS
}

impl Timers {
    /// Returns a stopped state machine with nothing pending.
    pub const fn new() -> Self {
        Self {
            running: false,
            retransmit_handshake: None,
            send_keepalive: None,
            new_handshake: None,
            zero_key_material: None,
            persistent_keepalive: None,
            handshake_attempts: 0,
            need_another_keepalive: false,
            sent_lastminute_handshake: false,
            persistent_keepalive_interval: 0,
            last_sent_handshake: None,
            received: 0,
        }
    }

    /// Allows or forbids arming timers (interface up and peer alive); stopping also cancels everything pending.
    pub fn set_running(&mut self, running: bool) {
        self.running = running;
        if !running {
            self.stop();
        }
    }

    /// Cancels all timers, as `wg_timers_stop()`.
    pub fn stop(&mut self) {
        self.retransmit_handshake = None;
        self.send_keepalive = None;
        self.new_handshake = None;
        self.zero_key_material = None;
        self.persistent_keepalive = None;
    }

    fn arm(running: bool, timer: &mut Option<u64>, at: u64) {
        if running {
            *timer = Some(at);
        }
    }

    /// Returns the earliest pending deadline, for the caller's single timer.
    pub fn next_deadline(&self) -> Option<u64> {
        [
            self.retransmit_handshake,
            self.send_keepalive,
            self.new_handshake,
            self.zero_key_material,
            self.persistent_keepalive,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Returns the number of retransmissions of the current handshake so far.
    pub fn handshake_attempts(&self) -> u32 {
        self.handshake_attempts
    }

    /// Returns the persistent keepalive interval in seconds (0 is off).
    pub fn persistent_keepalive_interval(&self) -> u16 {
        self.persistent_keepalive_interval
    }

    /// Fires every timer due at `now` and returns what to do.
    pub fn on_timeout(&mut self, now: u64) -> TimerActions {
        let mut act = TimerActions::default();
        let due = |t: &mut Option<u64>| -> bool {
            if t.is_some_and(|d| d <= now) {
                *t = None;
                true
            } else {
                false
            }
        };
        if due(&mut self.retransmit_handshake) {
            if self.handshake_attempts > MAX_TIMER_HANDSHAKES {
                // Give up: drop staged packets and do not try again, but destroy any residue of the partial
                // exchange later.
                self.send_keepalive = None;
                act.purge_staged_packets = true;
                if self.zero_key_material.is_none() {
                    Self::arm(
                        self.running,
                        &mut self.zero_key_material,
                        now.saturating_add(secs(REJECT_AFTER_TIME * 3)),
                    );
                }
            } else {
                self.handshake_attempts = self.handshake_attempts.saturating_add(1);
                act.retransmit_handshake = true;
            }
        }
        if due(&mut self.send_keepalive) {
            act.send_keepalive = true;
            if self.need_another_keepalive {
                self.need_another_keepalive = false;
                Self::arm(
                    self.running,
                    &mut self.send_keepalive,
                    now.saturating_add(secs(KEEPALIVE_TIMEOUT)),
                );
            }
        }
        if due(&mut self.new_handshake) {
            act.new_handshake = true;
        }
        if due(&mut self.zero_key_material) {
            act.zero_key_material = true;
        }
        if due(&mut self.persistent_keepalive) && self.persistent_keepalive_interval != 0 {
            act.send_keepalive = true;
        }
        act
    }

    /// Decides whether to queue a handshake initiation, as `wg_packet_send_queued_handshake_initiation()`.
    ///
    /// A non-retry request (data waiting, no usable keypair) restarts the attempt count. Returns false if an
    /// initiation went out less than [`REKEY_TIMEOUT`] ago.
    pub fn want_handshake(&mut self, now: u64, is_retry: bool) -> bool {
        if !is_retry {
            self.handshake_attempts = 0;
        }
        self.may_send_handshake(now)
    }

    /// Tells whether the [`REKEY_TIMEOUT`] rate limit on sending initiations allows one now.
    pub fn may_send_handshake(&self, now: u64) -> bool {
        self.last_sent_handshake
            .is_none_or(|t| birthdate_has_expired(t, REKEY_TIMEOUT, now))
    }

    /// Records that an initiation is being sent now, for the rate limit.
    pub fn handshake_sent(&mut self, now: u64) {
        self.last_sent_handshake = Some(now);
    }

    /// Forgets when the last initiation was sent, so the next may go at once (`wg_noise_reset_last_sent_handshake()`).
    pub fn reset_last_sent_handshake(&mut self) {
        self.last_sent_handshake = None;
    }

    /// Event: a data packet (not a keepalive) was sent; expect to hear back within a keepalive and a rekey timeout.
    pub fn data_sent(&mut self, now: u64, random: u32) {
        if self.new_handshake.is_none() {
            let at = now
                .saturating_add(secs(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT))
                .saturating_add(jitter_ns(random));
            Self::arm(self.running, &mut self.new_handshake, at);
        }
    }

    /// Notes, before sending data, what [`Timers::data_sent_after`] compares with.
    pub fn send_mark(&self) -> SendMark {
        SendMark(self.received)
    }

    /// Event: data (not only keepalives) was sent by a send that began at `mark`. As [`Timers::data_sent`], unless an
    /// authenticated packet was received since `mark`: we already heard back, and a reply that overtook this report
    /// must not be followed by a timer it would have cancelled.
    pub fn data_sent_after(&mut self, mark: SendMark, now: u64, random: u32) {
        if mark.0 == self.received {
            self.data_sent(now, random);
        }
    }

    /// Event: a data packet (not a keepalive) was received; answer with a keepalive if we send nothing soon.
    pub fn data_received(&mut self, now: u64) {
        if !self.running {
            return;
        }
        if self.send_keepalive.is_none() {
            Self::arm(
                self.running,
                &mut self.send_keepalive,
                now.saturating_add(secs(KEEPALIVE_TIMEOUT)),
            );
        } else {
            self.need_another_keepalive = true;
        }
    }

    /// Event: any authenticated packet (data, keepalive, handshake) was sent; no keepalive is needed.
    pub fn any_authenticated_packet_sent(&mut self) {
        self.send_keepalive = None;
    }

    /// Event: any authenticated packet was received; the peer is alive.
    pub fn any_authenticated_packet_received(&mut self) {
        self.new_handshake = None;
        self.received = self.received.wrapping_add(1);
    }

    /// Event: an initiation is about to be sent; retransmit if no response comes within [`REKEY_TIMEOUT`] plus jitter.
    /// Report it before the send (see the module doc), and also when the send then fails, as the C driver does.
    pub fn handshake_initiated(&mut self, now: u64, random: u32) {
        let at = now
            .saturating_add(secs(REKEY_TIMEOUT))
            .saturating_add(jitter_ns(random));
        Self::arm(self.running, &mut self.retransmit_handshake, at);
    }

    /// Event: a handshake completed (response consumed, or first data on a responder's keypair).
    pub fn handshake_complete(&mut self) {
        self.retransmit_handshake = None;
        self.handshake_attempts = 0;
        self.sent_lastminute_handshake = false;
    }

    /// Event: a keypair was derived; zero all keys if no new one comes within three [`REJECT_AFTER_TIME`]s.
    pub fn session_derived(&mut self, now: u64) {
        Self::arm(
            self.running,
            &mut self.zero_key_material,
            now.saturating_add(secs(REJECT_AFTER_TIME * 3)),
        );
    }

    /// Event: any authenticated packet was sent or received; restart the persistent keepalive.
    pub fn any_authenticated_packet_traversal(&mut self, now: u64) {
        if self.persistent_keepalive_interval != 0 {
            let at = now.saturating_add(secs(u64::from(self.persistent_keepalive_interval)));
            Self::arm(self.running, &mut self.persistent_keepalive, at);
        }
    }

    /// Sets the persistent keepalive interval (seconds, 0 off); returns true if a keepalive should be sent now
    /// because it was just turned on, as netlink's set_peer does.
    pub fn set_persistent_keepalive_interval(&mut self, interval: u16) -> bool {
        let send_now = self.persistent_keepalive_interval == 0 && interval != 0 && self.running;
        self.persistent_keepalive_interval = interval;
        send_now
    }

    /// Tells whether receive.c's last-minute handshake was already sent for the current keypair.
    pub fn sent_lastminute_handshake(&self) -> bool {
        self.sent_lastminute_handshake
    }

    /// Records that the last-minute handshake was sent.
    pub fn set_sent_lastminute_handshake(&mut self) {
        self.sent_lastminute_handshake = true;
    }
}
