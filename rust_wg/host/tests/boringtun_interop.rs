// SPDX-License-Identifier: GPL-2.0

//! Interoperability with an independent implementation: boringtun (Cloudflare's userspace WireGuard) talks to the
//! proto core in both roles, with and without preshared key and cookies, and transport data round-trips.

mod common;

use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use common::{Rng, C};
use rust_wg_proto::addr::{IpAddr, SocketAddr};
use rust_wg_proto::cookie::{CookieChecker, CookieMaker, MacState};
use rust_wg_proto::crypto::Crypto;
use rust_wg_proto::messages::*;
use rust_wg_proto::noise::{self, Handshake, Keypair, StaticIdentity};
use std::net::Ipv4Addr;
use std::sync::Arc;

const SEC: u64 = 1_000_000_000;

struct Ours {
    id: StaticIdentity<C>,
    hs: Handshake<C>,
    checker: CookieChecker<C>,
    maker: CookieMaker<C>,
}

fn setup(seed: u64, psk: Option<[u8; 32]>, limiter: bool) -> (Ours, Tunn, [u8; 32]) {
    let mut rng = Rng(seed);
    let our_priv: [u8; 32] = rng.bytes();
    let bt_priv: [u8; 32] = rng.bytes();
    let id = StaticIdentity::<C>::new(&our_priv).unwrap();
    let bt_secret = StaticSecret::from(bt_priv);
    let bt_pub = *PublicKey::from(&bt_secret).as_bytes();
    let rl = limiter.then(|| Arc::new(RateLimiter::new(&PublicKey::from(&bt_secret), 0)));
    let tunn = Tunn::new(
        bt_secret,
        PublicKey::from(*id.public_key()),
        psk,
        None,
        7,
        rl,
    )
    .unwrap();
    let ours = Ours {
        hs: Handshake::new(Some(&id), bt_pub, psk.as_ref()),
        checker: CookieChecker::new(Some(id.public_key()), &rng.bytes(), 0).unwrap(),
        maker: CookieMaker::new(&bt_pub).unwrap(),
        id,
    };
    (ours, tunn, bt_pub)
}

/// A minimal IPv4 packet, which boringtun checks before handing it to its tunnel side.
fn ipv4_packet(seq: u32, len: usize) -> Vec<u8> {
    let len = len.max(28);
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p[20..24].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in p[24..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

fn encrypt(kp: &Keypair<C>, counter: u64, plain: &[u8]) -> Vec<u8> {
    let pad = padding_len(plain.len(), 1420);
    let mut padded = plain.to_vec();
    padded.resize(plain.len() + pad, 0);
    let mut out = vec![0; DATA_HEADER_LEN + padded.len() + 16];
    DataHeader {
        receiver_index: kp.remote_index,
        counter,
    }
    .emit(&mut out)
    .unwrap();
    C::chacha20poly1305_encrypt(
        &mut out[DATA_HEADER_LEN..],
        &padded,
        &[],
        counter,
        kp.sending_key(),
    )
    .unwrap();
    out
}

fn decrypt(kp: &Keypair<C>, packet: &[u8]) -> (u64, Vec<u8>) {
    let (h, ct) = DataHeader::parse(packet).unwrap();
    assert_eq!(h.receiver_index, kp.local_index);
    let mut plain = vec![0; ct.len() - 16];
    C::chacha20poly1305_decrypt(&mut plain, ct, &[], h.counter, kp.receiving_key())
        .expect("boringtun data decrypts");
    (h.counter, plain)
}

fn exchange_data(kp: &Keypair<C>, tunn: &mut Tunn, first_counter_from_bt: u64) {
    let mut buf = vec![0u8; 2048];
    for i in 0..20u32 {
        // First us -> boringtun: a responder only sends once the initiator's first data confirmed the session.
        // us -> boringtun
        let pkt = ipv4_packet(1000 + i, 30 + 51 * i as usize);
        let wire = encrypt(kp, u64::from(i), &pkt);
        match tunn.decapsulate(None, &wire, &mut buf) {
            TunnResult::WriteToTunnelV4(p, src) => {
                assert_eq!(p, &pkt[..]);
                assert_eq!(src, Ipv4Addr::new(10, 0, 0, 1));
            }
            _ => panic!("boringtun refused our data packet {i}"),
        }
        // boringtun -> us
        let pkt = ipv4_packet(i, 40 + 67 * i as usize);
        let wire = match tunn.encapsulate(&pkt, &mut buf) {
            TunnResult::WriteToNetwork(w) => w.to_vec(),
            _ => panic!("boringtun did not encapsulate"),
        };
        let (counter, plain) = decrypt(kp, &wire);
        assert_eq!(counter, first_counter_from_bt + u64::from(i));
        assert_eq!(&plain[..pkt.len()], &pkt[..]);
    }
}

fn boringtun_initiates(seed: u64, psk: Option<[u8; 32]>) {
    let (mut ours, mut tunn, bt_pub) = setup(seed, psk, false);
    let mut buf = vec![0u8; 2048];
    let init = match tunn.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(w) => w.to_vec(),
        _ => panic!("no initiation"),
    };
    let src = SocketAddr {
        addr: IpAddr::V4([192, 0, 2, 1]),
        port: 5000,
    };
    assert_eq!(
        ours.checker.validate(&init, &src, false, || true),
        MacState::ValidMacButNoCookie
    );
    let cand = noise::consume_initiation(&ours.id, &Initiation::parse(&init).unwrap()).unwrap();
    assert_eq!(cand.remote_static(), &bt_pub);
    ours.hs.consume_initiation(cand, 10 * SEC).unwrap();
    let mut resp = [0u8; RESPONSE_LEN];
    ours.hs
        .create_response(&Rng(seed + 1).bytes(), 0x5151, &mut resp)
        .unwrap();
    ours.maker.add_macs(&mut resp, 10 * SEC).unwrap();
    let kp = ours.hs.begin_session(10 * SEC).unwrap();
    assert!(!kp.is_initiator);
    // boringtun answers a response with a keepalive that confirms the session.
    let ka = match tunn.decapsulate(None, &resp, &mut buf) {
        TunnResult::WriteToNetwork(w) => w.to_vec(),
        _ => panic!("boringtun refused our response"),
    };
    let (counter, plain) = decrypt(&kp, &ka);
    assert_eq!(counter, 0);
    assert!(plain.is_empty());
    exchange_data(&kp, &mut tunn, 1);
}

fn we_initiate(seed: u64, psk: Option<[u8; 32]>) {
    let (mut ours, mut tunn, _) = setup(seed, psk, false);
    let mut buf = vec![0u8; 2048];
    let mut init = [0u8; INITIATION_LEN];
    let ts = noise::tai64n(1_700_000_000, 0);
    ours.hs
        .create_initiation(&ours.id, &Rng(seed + 2).bytes(), &ts, 0xabcd, &mut init)
        .unwrap();
    ours.maker.add_macs(&mut init, 0).unwrap();
    let resp = match tunn.decapsulate(None, &init, &mut buf) {
        TunnResult::WriteToNetwork(w) => w.to_vec(),
        _ => panic!("boringtun refused our initiation"),
    };
    let src = SocketAddr {
        addr: IpAddr::V4([192, 0, 2, 1]),
        port: 5000,
    };
    assert_eq!(
        ours.checker.validate(&resp, &src, false, || true),
        MacState::ValidMacButNoCookie
    );
    let r = Response::parse(&resp).unwrap();
    assert_eq!(r.receiver_index, 0xabcd);
    ours.hs.consume_response(&ours.id, &r).unwrap();
    let kp = ours.hs.begin_session(SEC).unwrap();
    assert!(kp.is_initiator);
    exchange_data(&kp, &mut tunn, 0);
}

#[test]
fn boringtun_initiates_no_psk() {
    boringtun_initiates(1, None);
}

#[test]
fn boringtun_initiates_with_psk() {
    boringtun_initiates(2, Some([0x42; 32]));
}

#[test]
fn we_initiate_no_psk() {
    we_initiate(3, None);
}

#[test]
fn we_initiate_with_psk() {
    we_initiate(4, Some([0x24; 32]));
}

macro_rules! many_keys {
    ($($name:ident: $seed:expr,)*) => {$(
        #[test]
        fn $name() {
            boringtun_initiates($seed, if $seed % 2 == 0 { Some([$seed as u8; 32]) } else { None });
            we_initiate($seed + 100, if $seed % 3 == 0 { Some([$seed as u8; 32]) } else { None });
        }
    )*};
}

many_keys! {
    interop_keys_10: 10, interop_keys_11: 11, interop_keys_12: 12, interop_keys_13: 13,
    interop_keys_14: 14, interop_keys_15: 15, interop_keys_16: 16, interop_keys_17: 17,
}

#[test]
fn psk_mismatch_is_detected_by_both() {
    let (mut ours, mut tunn, _) = setup(5, Some([1; 32]), false);
    ours.hs.set_preshared_key(&[2; 32]);
    let mut buf = vec![0u8; 2048];
    let mut init = [0u8; INITIATION_LEN];
    ours.hs
        .create_initiation(&ours.id, &[9; 32], &noise::tai64n(1, 0), 1, &mut init)
        .unwrap();
    ours.maker.add_macs(&mut init, 0).unwrap();
    // The initiation does not involve the psk, so boringtun answers; the response then fails for us.
    let resp = match tunn.decapsulate(None, &init, &mut buf) {
        TunnResult::WriteToNetwork(w) => w.to_vec(),
        _ => panic!("boringtun refused our initiation"),
    };
    assert!(ours
        .hs
        .consume_response(&ours.id, &Response::parse(&resp).unwrap())
        .is_err());
}

#[test]
fn boringtun_cookie_reply_is_understood() {
    // boringtun under load (limit 0) answers with a cookie reply; we take the cookie and retry with mac2.
    let (mut ours, mut tunn, _) = setup(6, None, true);
    let mut buf = vec![0u8; 2048];
    let src = Some(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)));
    let mut init = [0u8; INITIATION_LEN];
    ours.hs
        .create_initiation(&ours.id, &[9; 32], &noise::tai64n(1, 0), 77, &mut init)
        .unwrap();
    ours.maker.add_macs(&mut init, 0).unwrap();
    let reply = match tunn.decapsulate(src, &init, &mut buf) {
        TunnResult::WriteToNetwork(w) => w.to_vec(),
        _ => panic!("expected a cookie reply"),
    };
    let reply = CookieReply::parse(&reply).expect("a cookie reply");
    assert_eq!(reply.receiver_index, 77);
    ours.maker.consume_reply(&reply, SEC).unwrap();
    ours.hs
        .create_initiation(&ours.id, &[8; 32], &noise::tai64n(2, 0), 78, &mut init)
        .unwrap();
    ours.maker.add_macs(&mut init, SEC).unwrap();
    assert_ne!(init[132..], [0; 16]);
    match tunn.decapsulate(src, &init, &mut buf) {
        TunnResult::WriteToNetwork(w) => {
            let r = Response::parse(w).expect("a handshake response after the cookie");
            ours.hs.consume_response(&ours.id, &r).unwrap();
        }
        _ => panic!("boringtun refused the initiation with mac2"),
    }
}

#[test]
fn our_cookie_reply_is_understood_by_boringtun() {
    let (mut ours, mut tunn, _) = setup(7, None, false);
    let mut buf = vec![0u8; 2048];
    let init = match tunn.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(w) => w.to_vec(),
        _ => panic!(),
    };
    let src = SocketAddr {
        addr: IpAddr::V4([192, 0, 2, 1]),
        port: 5000,
    };
    assert_eq!(
        ours.checker.validate(&init, &src, true, || true),
        MacState::ValidMacButNoCookie
    );
    let idx = Initiation::parse(&init).unwrap().sender_index;
    let mut reply = [0u8; COOKIE_REPLY_LEN];
    ours.checker
        .create_reply(&init, idx, &src, &[3; 24], &mut reply)
        .unwrap();
    match tunn.decapsulate(None, &reply, &mut buf) {
        TunnResult::Done => {}
        TunnResult::Err(e) => panic!("boringtun refused our cookie reply: {e:?}"),
        _ => panic!("unexpected"),
    }
    // Its next initiation carries a mac2 our checker accepts.
    let init = match tunn.format_handshake_initiation(&mut buf, true) {
        TunnResult::WriteToNetwork(w) => w.to_vec(),
        _ => panic!(),
    };
    assert_eq!(
        ours.checker.validate(&init, &src, true, || true),
        MacState::ValidMacWithCookie
    );
    let cand = noise::consume_initiation(&ours.id, &Initiation::parse(&init).unwrap()).unwrap();
    ours.hs.consume_initiation(cand, SEC).unwrap();
}
