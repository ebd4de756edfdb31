// SPDX-License-Identifier: GPL-2.0

//! Handshake consumption on random bytes and on mutations of valid initiations, responses and cookie replies.
//!
//! The first byte picks the mode; the rest is either the message itself or an XOR mask over a valid one. A mutated
//! message must be refused unless the mask left every authenticated byte unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_wg_proto::cookie::{CookieChecker, CookieMaker};
use rust_wg_proto::host_crypto::HostCrypto as C;
use rust_wg_proto::messages::*;
use rust_wg_proto::noise::{self, Handshake, StaticIdentity};
use std::sync::OnceLock;

const A: [u8; 32] = [0x11; 32];
const B: [u8; 32] = [0x22; 32];

fn xor(msg: &mut [u8], mask: &[u8]) -> bool {
    let mut changed = false;
    for (m, k) in msg.iter_mut().zip(mask) {
        changed |= *k != 0;
        *m ^= k;
    }
    changed
}

/// Identities and one valid response, computed once: scalar multiplications dominate the cost of a run.
struct Fixture {
    a: StaticIdentity<C>,
    b: StaticIdentity<C>,
    init: [u8; INITIATION_LEN],
    resp: [u8; RESPONSE_LEN],
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let a = StaticIdentity::<C>::new(&A).unwrap();
        let b = StaticIdentity::<C>::new(&B).unwrap();
        let mut ha = Handshake::new(Some(&a), *b.public_key(), Some(&[7; 32]));
        let mut hb = Handshake::new(Some(&b), *a.public_key(), Some(&[7; 32]));
        let mut init = [0u8; INITIATION_LEN];
        ha.create_initiation(&a, &[3; 32], &noise::tai64n(100, 0), 1, &mut init)
            .unwrap();
        let c = noise::consume_initiation(&b, &Initiation::parse(&init).unwrap()).unwrap();
        hb.consume_initiation(c, 1).unwrap();
        let mut resp = [0u8; RESPONSE_LEN];
        hb.create_response(&[4; 32], 2, &mut resp).unwrap();
        Fixture { a, b, init, resp }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Fixture { a, b, init, resp } = fixture();
    let mut init = *init;
    // Handshakes are built per mode, as each costs scalar multiplications.
    let responder = || Handshake::new(Some(b), *a.public_key(), Some(&[7; 32]));
    let initiator = || {
        let mut ha = Handshake::new(Some(a), *b.public_key(), Some(&[7; 32]));
        // Deterministic: the fixture's ephemeral key, so its response answers this initiation.
        let mut again = [0u8; INITIATION_LEN];
        ha.create_initiation(a, &[3; 32], &noise::tai64n(100, 0), 1, &mut again)
            .unwrap();
        ha
    };
    let now = 1_000_000_000;
    match mode % 4 {
        0 => {
            // Raw bytes as every handshake message.
            if let Ok(m) = Initiation::parse(rest) {
                if let Ok(c) = noise::consume_initiation(b, &m) {
                    let _ = responder().consume_initiation(c, now);
                }
            }
            if let Ok(m) = Response::parse(rest) {
                let _ = initiator().consume_response(a, &m);
            }
            let mut maker = CookieMaker::<C>::new(b.public_key()).unwrap();
            maker.add_macs(&mut init, 0).unwrap();
            if let Ok(m) = CookieReply::parse(rest) {
                let _ = maker.consume_reply(&m, 0);
            }
        }
        1 => {
            let mut bad = init;
            let changed = xor(&mut bad[..116], rest);
            // The sender index (bytes 4..8) is not authenticated by Noise.
            let auth_changed = bad[..4] != init[..4] || bad[8..116] != init[8..116];
            let res = Initiation::parse(&bad)
                .map_err(|_| noise::NoiseError::Message)
                .and_then(|m| noise::consume_initiation(b, &m))
                .and_then(|c| responder().consume_initiation(c, now));
            assert_eq!(res.is_ok(), !auth_changed, "changed {changed}");
        }
        2 => {
            let resp = *resp;
            let mut ha = initiator();
            let mut bad = resp;
            xor(&mut bad[..60], rest);
            let auth_changed = bad[..4] != resp[..4] || bad[8..60] != resp[8..60];
            let res = Response::parse(&bad)
                .map_err(|_| noise::NoiseError::Message)
                .and_then(|m| ha.consume_response(a, &m));
            assert_eq!(res.is_ok(), !auth_changed);
            if res.is_ok() {
                ha.begin_session(now).unwrap();
            }
        }
        _ => {
            let checker = CookieChecker::<C>::new(Some(b.public_key()), &[9; 32], 0).unwrap();
            let mut maker = CookieMaker::<C>::new(b.public_key()).unwrap();
            maker.add_macs(&mut init, 0).unwrap();
            let src = rust_wg_proto::addr::SocketAddr {
                addr: rust_wg_proto::addr::IpAddr::V4([1, 2, 3, 4]),
                port: 5,
            };
            let mut reply = [0u8; COOKIE_REPLY_LEN];
            checker
                .create_reply(&init, 1, &src, &[5; 24], &mut reply)
                .unwrap();
            let mut bad = reply;
            xor(&mut bad, rest);
            let auth_changed = bad[..4] != reply[..4] || bad[8..] != reply[8..];
            let res = CookieReply::parse(&bad)
                .map_err(|_| rust_wg_proto::cookie::CookieError::Message)
                .and_then(|m| maker.consume_reply(&m, 0));
            assert_eq!(res.is_ok(), !auth_changed);
        }
    }
});
