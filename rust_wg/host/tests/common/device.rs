// SPDX-License-Identifier: GPL-2.0

//! A single-peer WireGuard endpoint built from the proto core the way the kernel's send.c/receive.c use it, with
//! transport data encrypted by the host crypto. It is what the simulation and interop tests drive.

use super::{Rng, C};
use rust_wg_proto::addr::{IpAddr, SocketAddr};
use rust_wg_proto::cookie::{CookieChecker, CookieMaker, MacState};
use rust_wg_proto::counter::ReplayCounter;
use rust_wg_proto::crypto::Crypto;
use rust_wg_proto::messages::{
    self, CookieReply, DataHeader, Initiation, Response, COOKIE_REPLY_LEN, DATA_HEADER_LEN,
    INITIATION_LEN, MESSAGE_DATA, MESSAGE_HANDSHAKE_COOKIE, MESSAGE_HANDSHAKE_INITIATION,
    MESSAGE_HANDSHAKE_RESPONSE, RESPONSE_LEN,
};
use rust_wg_proto::noise::{self, Handshake, Keypair, Keypairs, StaticIdentity};
use rust_wg_proto::timers::Timers;

/// A keypair with the mutable data-path state the kernel keeps beside it.
pub struct Kp {
    pub kp: Keypair<C>,
    pub send_counter: u64,
    pub replay: ReplayCounter,
    pub sending_valid: bool,
}

/// Counters for assertions.
#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub initiations_sent: u64,
    pub responses_sent: u64,
    pub cookies_sent: u64,
    pub cookies_received: u64,
    pub sessions: u64,
    pub data_sent: u64,
    pub keepalives_sent: u64,
    pub data_received: u64,
    pub keepalives_received: u64,
    pub replays_dropped: u64,
    pub invalid_dropped: u64,
    pub gave_up: u64,
    pub zeroed: u64,
    pub max_keypair_age_used: u64,
}

pub struct Device {
    pub name: &'static str,
    pub identity: StaticIdentity<C>,
    pub checker: CookieChecker<C>,
    pub hs: Handshake<C>,
    pub maker: CookieMaker<C>,
    pub keypairs: Keypairs<Kp>,
    pub timers: Timers,
    pub staged: Vec<Vec<u8>>,
    pub rng: Rng,
    pub under_load: bool,
    pub addr: SocketAddr,
    /// Datagrams to put on the wire.
    pub outbox: Vec<Vec<u8>>,
    /// Plaintexts delivered to the "tun" side.
    pub inbox: Vec<Vec<u8>>,
    pub stats: Stats,
}

impl Device {
    pub fn new(
        name: &'static str,
        private: [u8; 32],
        peer_public: [u8; 32],
        psk: Option<[u8; 32]>,
        seed: u64,
    ) -> Self {
        let identity = StaticIdentity::<C>::new(&private).unwrap();
        let mut rng = Rng(seed);
        let checker = CookieChecker::new(Some(identity.public_key()), &rng.bytes(), 0).unwrap();
        let hs = Handshake::new(Some(&identity), peer_public, psk.as_ref());
        let maker = CookieMaker::new(&peer_public).unwrap();
        let mut timers = Timers::new();
        timers.set_running(true);
        let last = (seed & 0xff) as u8;
        Self {
            name,
            identity,
            checker,
            hs,
            maker,
            keypairs: Keypairs::new(),
            timers,
            staged: Vec::new(),
            rng,
            under_load: false,
            addr: SocketAddr {
                addr: IpAddr::V4([10, 0, 0, last]),
                port: 51820,
            },
            outbox: Vec::new(),
            inbox: Vec::new(),
            stats: Stats::default(),
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        *self.identity.public_key()
    }

    /// Queues application data and tries to send it (`wg_packet_send_staged_packets()`).
    pub fn send(&mut self, now: u64, payload: &[u8]) {
        if self.staged.len() >= messages::MAX_STAGED_PACKETS {
            self.staged.remove(0);
        }
        self.staged.push(payload.to_vec());
        self.send_staged(now);
    }

    pub fn send_keepalive(&mut self, now: u64) {
        if self.staged.is_empty() {
            self.staged.push(Vec::new());
        }
        self.send_staged(now);
    }

    fn usable_current(&self, now: u64) -> bool {
        self.keypairs
            .current
            .as_ref()
            .is_some_and(|k| k.sending_valid && k.kp.can_send(now, k.send_counter))
    }

    pub fn send_staged(&mut self, now: u64) {
        if !self.usable_current(now) {
            if let Some(k) = self.keypairs.current.as_mut() {
                k.sending_valid = false;
            }
            self.send_queued_handshake_initiation(now, false);
            return;
        }
        let packets = std::mem::take(&mut self.staged);
        let mut rekey = false;
        for p in packets {
            let k = self.keypairs.current.as_mut().unwrap();
            let counter = k.send_counter;
            k.send_counter += 1;
            let age = now - k.kp.birthdate;
            self.stats.max_keypair_age_used = self.stats.max_keypair_age_used.max(age);
            let pad = messages::padding_len(p.len(), 1420);
            let mut plain = p.clone();
            plain.resize(p.len() + pad, 0);
            let mut out = vec![0; DATA_HEADER_LEN + plain.len() + 16];
            DataHeader {
                receiver_index: k.kp.remote_index,
                counter,
            }
            .emit(&mut out)
            .unwrap();
            C::chacha20poly1305_encrypt(
                &mut out[DATA_HEADER_LEN..],
                &plain,
                &[],
                counter,
                k.kp.sending_key(),
            )
            .unwrap();
            rekey |= k.kp.wants_rekey_on_send(now, k.send_counter);
            self.outbox.push(out);
            self.timers.any_authenticated_packet_traversal(now);
            self.timers.any_authenticated_packet_sent();
            if p.is_empty() {
                self.stats.keepalives_sent += 1;
            } else {
                self.stats.data_sent += 1;
                let r = self.rng.next_u32();
                self.timers.data_sent(now, r);
            }
        }
        if rekey {
            self.send_queued_handshake_initiation(now, false);
        }
    }

    pub fn send_queued_handshake_initiation(&mut self, now: u64, is_retry: bool) {
        if !self.timers.want_handshake(now, is_retry) {
            return;
        }
        self.send_handshake_initiation(now);
    }

    fn send_handshake_initiation(&mut self, now: u64) {
        if !self.timers.may_send_handshake(now) {
            return;
        }
        self.timers.handshake_sent(now);
        let mut msg = [0u8; INITIATION_LEN];
        let eph = self.rng.bytes::<32>();
        let index = self.rng.next_u32();
        let ts = noise::tai64n(
            1_700_000_000 + now / 1_000_000_000,
            (now % 1_000_000_000) as u32,
        );
        if self
            .hs
            .create_initiation(&self.identity, &eph, &ts, index, &mut msg)
            .is_err()
        {
            return;
        }
        self.maker.add_macs(&mut msg, now).unwrap();
        self.timers.any_authenticated_packet_traversal(now);
        self.timers.any_authenticated_packet_sent();
        self.outbox.push(msg.to_vec());
        self.stats.initiations_sent += 1;
        let r = self.rng.next_u32();
        self.timers.handshake_initiated(now, r);
    }

    fn find_keypair(&mut self, index: u32) -> Option<&mut Kp> {
        let Keypairs {
            previous,
            current,
            next,
        } = &mut self.keypairs;
        [current, previous, next]
            .into_iter()
            .filter_map(|k| k.as_mut())
            .find(|k| k.kp.local_index == index)
    }

    /// Handles one datagram from `src` (`wg_packet_receive()` and the handshake worker).
    pub fn receive(&mut self, now: u64, src: SocketAddr, packet: &[u8]) {
        match messages::classify(packet) {
            Some(MESSAGE_HANDSHAKE_INITIATION | MESSAGE_HANDSHAKE_RESPONSE) => {
                self.receive_handshake(now, src, packet)
            }
            Some(MESSAGE_HANDSHAKE_COOKIE) => {
                let reply = CookieReply::parse(packet).unwrap();
                let known = self.hs.local_index() == Some(reply.receiver_index)
                    || self.find_keypair(reply.receiver_index).is_some();
                if known && self.maker.consume_reply(&reply, now).is_ok() {
                    self.stats.cookies_received += 1;
                }
            }
            Some(MESSAGE_DATA) => self.receive_data(now, packet),
            _ => self.stats.invalid_dropped += 1,
        }
    }

    fn receive_handshake(&mut self, now: u64, src: SocketAddr, packet: &[u8]) {
        let state = self
            .checker
            .validate(packet, &src, self.under_load, || true);
        match state {
            MacState::InvalidMac => {
                self.stats.invalid_dropped += 1;
                return;
            }
            MacState::ValidMacButNoCookie if self.under_load => {
                // Sender index of either handshake message is at offset 4.
                let idx = u32::from_le_bytes(packet[4..8].try_into().unwrap());
                let mut out = [0u8; COOKIE_REPLY_LEN];
                let nonce = self.rng.bytes::<24>();
                self.checker
                    .create_reply(packet, idx, &src, &nonce, &mut out)
                    .unwrap();
                self.outbox.push(out.to_vec());
                self.stats.cookies_sent += 1;
                return;
            }
            MacState::ValidMacWithCookieButRatelimited => return,
            _ => {}
        }
        if packet.len() == INITIATION_LEN {
            let msg = Initiation::parse(packet).unwrap();
            let Ok(cand) = noise::consume_initiation(&self.identity, &msg) else {
                self.stats.invalid_dropped += 1;
                return;
            };
            if cand.remote_static() != self.hs.remote_static() {
                self.stats.invalid_dropped += 1;
                return;
            }
            if self.hs.consume_initiation(cand, now).is_err() {
                self.stats.invalid_dropped += 1;
                return;
            }
            // wg_packet_send_handshake_response()
            let mut out = [0u8; RESPONSE_LEN];
            let eph = self.rng.bytes::<32>();
            let index = self.rng.next_u32();
            self.hs.create_response(&eph, index, &mut out).unwrap();
            self.maker.add_macs(&mut out, now).unwrap();
            let kp = self.hs.begin_session(now).unwrap();
            self.install(kp, now);
            self.timers.any_authenticated_packet_traversal(now);
            self.timers.any_authenticated_packet_sent();
            self.outbox.push(out.to_vec());
            self.stats.responses_sent += 1;
        } else {
            let msg = Response::parse(packet).unwrap();
            if self.hs.local_index() != Some(msg.receiver_index)
                || self.hs.consume_response(&self.identity, &msg).is_err()
            {
                self.stats.invalid_dropped += 1;
                return;
            }
            let kp = self.hs.begin_session(now).unwrap();
            self.install(kp, now);
            self.timers.handshake_complete();
            // Confirm the session to the responder right away.
            self.send_keepalive(now);
        }
        self.timers.any_authenticated_packet_received();
        self.timers.any_authenticated_packet_traversal(now);
    }

    fn install(&mut self, kp: Keypair<C>, now: u64) {
        let init = kp.is_initiator;
        let _released = self.keypairs.add(
            Kp {
                kp,
                send_counter: 0,
                replay: ReplayCounter::new(),
                sending_valid: true,
            },
            init,
        );
        self.stats.sessions += 1;
        self.timers.session_derived(now);
    }

    fn receive_data(&mut self, now: u64, packet: &[u8]) {
        let Ok((hdr, ct)) = DataHeader::parse(packet) else {
            self.stats.invalid_dropped += 1;
            return;
        };
        let Some(k) = self.find_keypair(hdr.receiver_index) else {
            self.stats.invalid_dropped += 1;
            return;
        };
        if !k.kp.can_receive(now, k.replay.max()) {
            self.stats.invalid_dropped += 1;
            return;
        }
        let mut plain = vec![0; ct.len() - 16];
        if C::chacha20poly1305_decrypt(&mut plain, ct, &[], hdr.counter, k.kp.receiving_key())
            .is_err()
        {
            self.stats.invalid_dropped += 1;
            return;
        }
        if !k.replay.validate(hdr.counter) {
            self.stats.replays_dropped += 1;
            return;
        }
        let local = k.kp.local_index;
        if self
            .keypairs
            .received_with(|n| n.kp.local_index == local)
            .is_some()
        {
            self.timers.handshake_complete();
            self.send_staged(now);
        }
        // receive.c keep_key_fresh()
        if !self.timers.sent_lastminute_handshake()
            && self
                .keypairs
                .current
                .as_ref()
                .is_some_and(|c| c.sending_valid && c.kp.wants_rekey_on_receive(now))
        {
            self.timers.set_sent_lastminute_handshake();
            self.send_queued_handshake_initiation(now, false);
        }
        self.timers.any_authenticated_packet_received();
        self.timers.any_authenticated_packet_traversal(now);
        // Strip the padding: payloads in the tests start with a 2-byte length.
        if plain.iter().all(|b| *b == 0) {
            self.stats.keepalives_received += 1;
            return;
        }
        self.timers.data_received(now);
        let len = u16::from_le_bytes([plain[0], plain[1]]) as usize;
        plain.truncate(len);
        self.stats.data_received += 1;
        self.inbox.push(plain);
    }

    /// Runs the timers due at `now` (the kernel's timer callbacks).
    pub fn tick(&mut self, now: u64) {
        let act = self.timers.on_timeout(now);
        if act.purge_staged_packets {
            self.staged.clear();
            self.stats.gave_up += 1;
        }
        if act.retransmit_handshake {
            self.send_queued_handshake_initiation(now, true);
        }
        if act.new_handshake {
            self.send_queued_handshake_initiation(now, false);
        }
        if act.send_keepalive {
            self.send_keepalive(now);
        }
        if act.zero_key_material {
            self.hs.clear();
            self.keypairs.clear();
            self.stats.zeroed += 1;
        }
    }
}

/// Builds a test payload: 2-byte length, then the sequence number and filler.
pub fn payload(seq: u64, len: usize) -> Vec<u8> {
    let len = len.max(10);
    let mut p = vec![0xa5; len];
    p[..2].copy_from_slice(&(len as u16).to_le_bytes());
    p[2..10].copy_from_slice(&seq.to_le_bytes());
    p
}

pub fn seq_of(p: &[u8]) -> u64 {
    u64::from_le_bytes(p[2..10].try_into().unwrap())
}
