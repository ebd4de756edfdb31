// SPDX-License-Identifier: GPL-2.0

//! Two devices talk over a lossy, duplicating, reordering network under a fake clock for simulated hours, driven by
//! the timer state machine; checks delivery, rekeying cadence, keypair age limits and replay protection.

mod common;

use common::device::{payload, seq_of, Device};
use common::{Rng, C};
use rust_wg_proto::messages::{REJECT_AFTER_TIME, REKEY_AFTER_TIME};
use rust_wg_proto::noise::StaticIdentity;
use std::collections::{BTreeMap, HashSet};

const SEC: u64 = 1_000_000_000;

#[derive(Clone, Copy)]
struct Net {
    loss: u64,
    dup: u64,
    max_delay_ms: u64,
}

struct Sim {
    a: Device,
    b: Device,
    net: Net,
    rng: Rng,
    /// (deliver_at, seq) -> (to_b, bytes)
    wire: BTreeMap<(u64, u64), (bool, Vec<u8>)>,
    wire_seq: u64,
    now: u64,
    sent_a: HashSet<u64>,
    sent_b: HashSet<u64>,
    /// Periods during which the network drops everything.
    outages: Vec<(u64, u64)>,
}

impl Sim {
    fn new(seed: u64, net: Net) -> Self {
        let mut rng = Rng(seed);
        let ka: [u8; 32] = rng.bytes();
        let kb: [u8; 32] = rng.bytes();
        let pa = *StaticIdentity::<C>::new(&ka).unwrap().public_key();
        let pb = *StaticIdentity::<C>::new(&kb).unwrap().public_key();
        let psk = if seed.is_multiple_of(2) {
            Some(rng.bytes())
        } else {
            None
        };
        Sim {
            a: Device::new("a", ka, pb, psk, seed ^ 0xa),
            b: Device::new("b", kb, pa, psk, seed ^ 0xb),
            net,
            rng,
            wire: BTreeMap::new(),
            wire_seq: 0,
            now: 1000 * SEC,
            sent_a: HashSet::new(),
            sent_b: HashSet::new(),
            outages: Vec::new(),
        }
    }

    fn flush(&mut self) {
        let out_a = std::mem::take(&mut self.a.outbox);
        let out_b = std::mem::take(&mut self.b.outbox);
        let down = self
            .outages
            .iter()
            .any(|(s, e)| (*s..*e).contains(&self.now));
        for (to_b, p) in out_a
            .into_iter()
            .map(|p| (true, p))
            .chain(out_b.into_iter().map(|p| (false, p)))
        {
            if down || self.rng.chance(self.net.loss) {
                continue;
            }
            let copies = if self.rng.chance(self.net.dup) { 2 } else { 1 };
            for _ in 0..copies {
                let delay = self.rng.below(self.net.max_delay_ms * 1_000_000 + 1);
                self.wire_seq += 1;
                self.wire
                    .insert((self.now + delay, self.wire_seq), (to_b, p.clone()));
            }
        }
    }

    /// Advances to `until`, delivering packets and firing timers in time order.
    fn run_until(&mut self, until: u64) {
        loop {
            self.flush();
            let next_pkt = self.wire.keys().next().map(|k| k.0);
            let next = [
                next_pkt,
                self.a.timers.next_deadline(),
                self.b.timers.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(t) = next.filter(|t| *t <= until) else {
                self.now = until;
                return;
            };
            assert!(t >= self.now, "time went backwards");
            self.now = t;
            if next_pkt == Some(t) {
                let (k, (to_b, p)) = self.wire.pop_first().unwrap();
                let _ = k;
                if to_b {
                    let src = self.a.addr;
                    self.b.receive(self.now, src, &p);
                } else {
                    let src = self.b.addr;
                    self.a.receive(self.now, src, &p);
                }
            } else {
                if self.a.timers.next_deadline() == Some(t) {
                    self.a.tick(t);
                }
                if self.b.timers.next_deadline() == Some(t) {
                    self.b.tick(t);
                }
            }
        }
    }

    fn send(&mut self, from_a: bool, seq: u64, len: usize) {
        let p = payload(seq, len);
        if from_a {
            self.sent_a.insert(seq);
            self.a.send(self.now, &p);
        } else {
            self.sent_b.insert(seq);
            self.b.send(self.now, &p);
        }
    }
}

fn check_integrity(sim: &Sim) {
    for (inbox, sent) in [(&sim.b.inbox, &sim.sent_a), (&sim.a.inbox, &sim.sent_b)] {
        let mut seen = HashSet::new();
        for p in inbox {
            let s = seq_of(p);
            assert!(sent.contains(&s), "delivered something never sent");
            assert!(
                seen.insert(s),
                "duplicate delivery of {s}: replay protection failed"
            );
            assert_eq!(p, &payload(s, p.len()), "payload corrupted");
        }
    }
    for d in [&sim.a, &sim.b] {
        assert!(
            d.stats.max_keypair_age_used < REJECT_AFTER_TIME * SEC,
            "{} sent with a keypair older than REJECT_AFTER_TIME",
            d.name
        );
    }
}

/// Both sides chat every few seconds for `hours`; returns the simulation for more checks.
fn chat(seed: u64, net: Net, hours: u64) -> Sim {
    let mut sim = Sim::new(seed, net);
    let end = sim.now + hours * 3600 * SEC;
    let mut seq = 0;
    while sim.now < end {
        let step = 1 + sim.rng.below(4 * SEC);
        let t = sim.now + step;
        sim.run_until(t);
        seq += 1;
        let from_a = sim.rng.chance(60);
        let len = 10 + sim.rng.below(1300) as usize;
        sim.send(from_a, seq, len);
    }
    sim.run_until(end + 30 * SEC);
    check_integrity(&sim);
    sim
}

fn delivered_ratio(sim: &Sim) -> f64 {
    let sent = (sim.sent_a.len() + sim.sent_b.len()) as f64;
    (sim.a.inbox.len() + sim.b.inbox.len()) as f64 / sent
}

#[test]
fn perfect_network_two_hours() {
    let sim = chat(
        1,
        Net {
            loss: 0,
            dup: 0,
            max_delay_ms: 1,
        },
        2,
    );
    assert!(
        delivered_ratio(&sim) > 0.999,
        "ratio {}",
        delivered_ratio(&sim)
    );
    // Rekey every REKEY_AFTER_TIME: about 60 sessions in two hours, not hundreds.
    let sessions = sim.a.stats.sessions;
    assert!(
        (2 * 3600 / REKEY_AFTER_TIME - 5..=2 * 3600 / REKEY_AFTER_TIME + 30).contains(&sessions),
        "{sessions}"
    );
    assert_eq!(sim.a.stats.replays_dropped + sim.b.stats.replays_dropped, 0);
    assert_eq!(sim.a.stats.gave_up + sim.b.stats.gave_up, 0);
}

#[test]
fn lossy_reordering_network_three_hours() {
    let sim = chat(
        2,
        Net {
            loss: 10,
            dup: 5,
            max_delay_ms: 80,
        },
        3,
    );
    let r = delivered_ratio(&sim);
    assert!(r > 0.80, "ratio {r}");
    assert!(
        sim.a.stats.replays_dropped + sim.b.stats.replays_dropped > 0,
        "duplicates must be seen and dropped"
    );
    assert!(sim.a.stats.sessions >= 3 * 3600 / REKEY_AFTER_TIME - 10);
}

#[test]
fn very_lossy_network_one_hour() {
    let sim = chat(
        3,
        Net {
            loss: 35,
            dup: 10,
            max_delay_ms: 300,
        },
        1,
    );
    let r = delivered_ratio(&sim);
    assert!(r > 0.4, "ratio {r}");
}

macro_rules! seeded_sims {
    ($($name:ident: $seed:expr,)*) => {$(
        #[test]
        fn $name() {
            let sim = chat($seed, Net { loss: 5 + $seed % 15, dup: $seed % 7, max_delay_ms: 10 + $seed * 13 % 200 }, 1);
            assert!(delivered_ratio(&sim) > 0.6, "ratio {}", delivered_ratio(&sim));
        }
    )*};
}

seeded_sims! {
    seeded_sim_10: 10,
    seeded_sim_11: 11,
    seeded_sim_12: 12,
    seeded_sim_13: 13,
    seeded_sim_14: 14,
    seeded_sim_15: 15,
    seeded_sim_16: 16,
    seeded_sim_17: 17,
}

#[test]
fn outage_gives_up_then_recovers() {
    let mut sim = Sim::new(
        4,
        Net {
            loss: 0,
            dup: 0,
            max_delay_ms: 5,
        },
    );
    sim.send(true, 1, 100);
    sim.run_until(sim.now + 10 * SEC);
    assert_eq!(sim.b.inbox.len(), 1);
    // Ten-minute outage: the handshake retries run out after 90 s worth of attempts.
    let start = sim.now;
    sim.outages.push((start, start + 600 * SEC));
    sim.run_until(start + 200 * SEC);
    sim.send(true, 2, 100);
    sim.run_until(start + 600 * SEC);
    assert!(sim.a.stats.gave_up >= 1, "{:?}", sim.a.stats);
    // Keys were zeroed after 3 * REJECT_AFTER_TIME without a new session.
    assert!(sim.a.stats.zeroed >= 1 || sim.b.stats.zeroed >= 1);
    // After the outage, new traffic brings the tunnel back.
    sim.send(true, 3, 100);
    sim.run_until(sim.now + 30 * SEC);
    assert!(sim.b.inbox.iter().any(|p| seq_of(p) == 3));
    check_integrity(&sim);
}

#[test]
fn persistent_keepalive_keeps_sending() {
    let mut sim = Sim::new(
        5,
        Net {
            loss: 0,
            dup: 0,
            max_delay_ms: 1,
        },
    );
    assert!(sim.a.timers.set_persistent_keepalive_interval(25));
    assert!(
        !sim.a.timers.set_persistent_keepalive_interval(25),
        "only the first enable sends at once"
    );
    sim.send(true, 1, 100);
    sim.run_until(sim.now + 3600 * SEC);
    // One keepalive every 25 s for an hour, give or take handshakes.
    let k = sim.a.stats.keepalives_sent;
    assert!((3600 / 25 - 10..=3600 / 25 + 80).contains(&k), "{k}");
    // Sessions continue to be renewed although only keepalives flow.
    assert!(
        sim.a.stats.sessions >= 3600 / REKEY_AFTER_TIME - 5,
        "{:?}",
        sim.a.stats
    );
}

#[test]
fn idle_tunnel_goes_quiet() {
    let mut sim = Sim::new(
        6,
        Net {
            loss: 0,
            dup: 0,
            max_delay_ms: 1,
        },
    );
    sim.send(true, 1, 100);
    sim.send(false, 2, 100);
    sim.run_until(sim.now + 60 * SEC);
    let early = sim.a.stats.initiations_sent + sim.b.stats.initiations_sent;
    // Both sides start a handshake at once (they cross), perhaps one more to settle.
    assert!((1..=4).contains(&early), "{early}");
    sim.run_until(sim.now + 3600 * SEC);
    // Without traffic and persistent keepalive, after the keepalive exchange nothing is sent and keys get zeroed.
    let sent = sim.a.stats.initiations_sent + sim.b.stats.initiations_sent;
    assert_eq!(sent, early);
    assert_eq!(sim.a.stats.zeroed, 1);
    assert_eq!(sim.b.stats.zeroed, 1);
    assert!(sim.a.keypairs.iter().next().is_none());
    assert_eq!(sim.a.timers.next_deadline(), None);
}
