// SPDX-License-Identifier: GPL-2.0

//! One kernel timer per peer, driven by `proto::timers`.
//!
//! The data path reports events to the peer's [`Timers`] (under its BH lock) and then calls [`rearm`], which points
//! the kernel timer at the state machine's earliest deadline. When it fires, [`TimerCallback::run`] asks the state
//! machine what is due and acts. Arming after `set_running(false)` is a no-op in the state machine, and `rearm` then
//! finds no deadline, so a stopped peer's timer stays off once `delete_sync` returned.

use crate::peer::Peer;
use crate::proto::{messages::MAX_TIMER_HANDSHAKES, timers::Timers};
use crate::{send, wg_debug};
use core::sync::atomic::Ordering;
use kernel::{
    sync::Arc,
    time::{self, timer::Timer, timer::TimerCallback},
};

/// Current monotonic time as the protocol core wants it.
pub(crate) fn now() -> u64 {
    time::ktime_get_coarse_boottime_ns()
}

/// Arms the peer's kernel timer at the state machine's next deadline. Caller holds `peer.timers` (passed as `t`).
pub(crate) fn rearm(peer: &Arc<Peer>, t: &Timers) {
    let Some(deadline) = t.next_deadline() else {
        return;
    };
    if peer.dead.load(Ordering::Relaxed) {
        return;
    }
    let delta_ms = deadline.saturating_sub(now()) / 1_000_000 + 1;
    let delta = time::msecs_to_jiffies(delta_ms.min(u64::from(u32::MAX)) as u32);
    Timer::<Peer>::mod_timer(peer, time::jiffies().wrapping_add(delta));
}

/// Reports an event to the peer's timers and rearms: `event(peer, |t| t.data_sent(now, rnd))`.
pub(crate) fn event(peer: &Arc<Peer>, f: impl FnOnce(&mut Timers)) {
    let mut t = peer.timers.lock();
    f(&mut t);
    rearm(peer, &t);
}

impl TimerCallback for Peer {
    fn run(this: Arc<Self>) {
        let act = {
            let mut t = this.timers.lock();
            let act = t.on_timeout(now());
            rearm(&this, &t);
            act
        };
        if this.dead.load(Ordering::Relaxed) || act.is_empty() {
            return;
        }
        if act.purge_staged_packets {
            wg_debug!(
                this.device,
                "Handshake for peer {} did not complete after {} attempts, giving up",
                this.id,
                MAX_TIMER_HANDSHAKES + 2
            );
            this.purge_staged();
        }
        // Both retries first forget the source address of our packets to the peer, in case it is the cause of the
        // trouble (as the C `wg_expired_retransmit_handshake` and `wg_expired_new_handshake` do).
        if act.retransmit_handshake {
            wg_debug!(this.device, "Handshake for peer {} did not complete, retrying", this.id);
            this.clear_endpoint_src();
            send::queue_initiation(&this, true);
        }
        if act.new_handshake {
            wg_debug!(
                this.device,
                "Retrying handshake with peer {} because we stopped hearing back",
                this.id
            );
            this.clear_endpoint_src();
            send::queue_initiation(&this, false);
        }
        if act.send_keepalive {
            send::send_keepalive(&this);
        }
        if act.zero_key_material {
            wg_debug!(this.device, "Zeroing out all keys for peer {}", this.id);
            // Clearing takes the handshake mutex, so it runs in process context.
            this.device.queue_peer_work::<2>(this.clone());
        }
    }
}
