// SPDX-License-Identifier: GPL-2.0

//! Wire format round trips, layout offsets, padding, and never-panic parsing of random and mutated input.

mod common;

use common::device::Device;
use common::{Rng, C};
use rust_wg_proto::addr::{IpAddr, SocketAddr};
use rust_wg_proto::cookie::{CookieChecker, CookieMaker};
use rust_wg_proto::messages::*;
use rust_wg_proto::noise::{self, Handshake, StaticIdentity};

#[test]
fn sizes_match_the_protocol() {
    assert_eq!(INITIATION_LEN, 4 + 4 + 32 + 48 + 28 + 16 + 16);
    assert_eq!(RESPONSE_LEN, 4 + 4 + 4 + 32 + 16 + 16 + 16);
    assert_eq!(COOKIE_REPLY_LEN, 4 + 4 + 24 + 32);
    assert_eq!(MESSAGE_MINIMUM_LENGTH, 32);
    assert_eq!(REJECT_AFTER_MESSAGES, u64::MAX - 8128 - 1);
    assert_eq!(MAX_TIMER_HANDSHAKES, 18);
    assert_eq!(REKEY_AFTER_MESSAGES, 1 << 60);
}

fn random_initiation(rng: &mut Rng) -> Vec<u8> {
    let mut b = vec![0; INITIATION_LEN];
    rng.fill(&mut b);
    b[..4].copy_from_slice(&1u32.to_le_bytes());
    b
}

macro_rules! round_trips {
    ($($name:ident: $seed:expr,)*) => {$(
        #[test]
        fn $name() {
            let mut rng = Rng($seed);
            for _ in 0..64 {
                let b = random_initiation(&mut rng);
                let m = Initiation::parse(&b).unwrap();
                let mut out = vec![0; INITIATION_LEN];
                m.emit(&mut out).unwrap();
                assert_eq!(out, b);
                assert_eq!(m.sender_index, u32::from_le_bytes(b[4..8].try_into().unwrap()));
                assert_eq!(&m.ephemeral[..], &b[8..40]);
                assert_eq!(&m.encrypted_static[..], &b[40..88]);
                assert_eq!(&m.encrypted_timestamp[..], &b[88..116]);
                assert_eq!(&m.mac1[..], &b[116..132]);
                assert_eq!(&m.mac2[..], &b[132..148]);

                let mut r = vec![0; RESPONSE_LEN];
                rng.fill(&mut r);
                r[..4].copy_from_slice(&2u32.to_le_bytes());
                let m = Response::parse(&r).unwrap();
                let mut out = vec![0; RESPONSE_LEN];
                m.emit(&mut out).unwrap();
                assert_eq!(out, r);
                assert_eq!(m.receiver_index, u32::from_le_bytes(r[8..12].try_into().unwrap()));
                assert_eq!(&m.ephemeral[..], &r[12..44]);
                assert_eq!(&m.mac1[..], &r[60..76]);

                let mut c = vec![0; COOKIE_REPLY_LEN];
                rng.fill(&mut c);
                c[..4].copy_from_slice(&3u32.to_le_bytes());
                let m = CookieReply::parse(&c).unwrap();
                let mut out = vec![0; COOKIE_REPLY_LEN];
                m.emit(&mut out).unwrap();
                assert_eq!(out, c);
                assert_eq!(&m.nonce[..], &c[8..32]);

                let len = MESSAGE_MINIMUM_LENGTH + rng.below(1500) as usize;
                let mut d = vec![0; len];
                rng.fill(&mut d);
                d[..4].copy_from_slice(&4u32.to_le_bytes());
                let (h, rest) = DataHeader::parse(&d).unwrap();
                assert_eq!(rest, &d[16..]);
                assert_eq!(h.counter, u64::from_le_bytes(d[8..16].try_into().unwrap()));
                let mut out = vec![0; 16];
                h.emit(&mut out).unwrap();
                assert_eq!(out, &d[..16]);
                assert_eq!(classify(&d), Some(MESSAGE_DATA));
                assert_eq!(classify(&b), Some(MESSAGE_HANDSHAKE_INITIATION));
                assert_eq!(classify(&r), Some(MESSAGE_HANDSHAKE_RESPONSE));
                assert_eq!(classify(&c), Some(MESSAGE_HANDSHAKE_COOKIE));
            }
        }
    )*};
}

round_trips! {
    round_trip_1: 1, round_trip_2: 2, round_trip_3: 3, round_trip_4: 4,
    round_trip_5: 5, round_trip_6: 6, round_trip_7: 7, round_trip_8: 8,
}

#[test]
fn wrong_lengths_and_types_are_refused() {
    let b = random_initiation(&mut Rng(1));
    assert_eq!(Initiation::parse(&b[..147]), Err(MessageError::Length));
    assert_eq!(
        Initiation::parse(&[b.clone(), vec![0]].concat()),
        Err(MessageError::Length)
    );
    let mut t = b.clone();
    t[0] = 2;
    assert_eq!(Initiation::parse(&t), Err(MessageError::Type));
    t[0] = 1;
    t[1] = 1; // reserved bytes must be zero: the type is one little-endian u32
    assert_eq!(Initiation::parse(&t), Err(MessageError::Type));
    assert_eq!(classify(&t), None);
    assert_eq!(classify(&[]), None);
    assert_eq!(classify(&[4, 0, 0, 0]), None);
    assert_eq!(
        classify(&[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        None,
        "data without tag"
    );
    assert_eq!(classify(&[5; 200]), None);
    assert_eq!(
        DataHeader::parse(&[4, 0, 0, 0]).err(),
        Some(MessageError::Length)
    );
    assert!(Initiation::parse(&b).unwrap().emit(&mut [0; 100]).is_err());
    assert!(DataHeader {
        receiver_index: 1,
        counter: 2
    }
    .emit(&mut [0; 15])
    .is_err());
}

#[test]
fn padding_matches_c() {
    // (len, mtu, padding)
    let cases = [
        (0, 1420, 0),
        (1, 1420, 15),
        (15, 1420, 1),
        (16, 1420, 0),
        (17, 1420, 15),
        (1419, 1420, 1),
        (1420, 1420, 0),
        (1410, 1412, 2),
        (1411, 1412, 1),
        (1500, 1420, 0), // GSO: last unit 80 is aligned
        (1501, 1420, 15),
        (30, 0, 2),
        (usize::MAX, 0, 0),
    ];
    for (len, mtu, pad) in cases {
        assert_eq!(padding_len(len, mtu), pad, "len {len} mtu {mtu}");
    }
    for len in 0..3000 {
        let p = padding_len(len, 1420);
        assert!(p < 16);
        if len <= 1420 {
            assert!(len + p <= 1420);
        }
    }
}

fn never_panics(seed: u64) {
    let mut rng = Rng(seed);
    let id = StaticIdentity::<C>::new(&rng.bytes()).unwrap();
    let peer = StaticIdentity::<C>::new(&rng.bytes()).unwrap();
    let mut hs = Handshake::new(Some(&id), *peer.public_key(), None);
    let checker = CookieChecker::<C>::new(Some(id.public_key()), &rng.bytes(), 0).unwrap();
    let mut maker = CookieMaker::<C>::new(peer.public_key()).unwrap();
    let src = SocketAddr {
        addr: IpAddr::V4([1, 2, 3, 4]),
        port: 1,
    };
    for i in 0..300 {
        let len = match i % 5 {
            0 => INITIATION_LEN,
            1 => RESPONSE_LEN,
            2 => COOKIE_REPLY_LEN,
            _ => rng.below(300) as usize,
        };
        let mut b = vec![0; len];
        rng.fill(&mut b);
        if len >= 4 && rng.chance(70) {
            b[..4].copy_from_slice(&(1 + (i % 4) as u32).to_le_bytes());
            b[1..4].fill(0);
        }
        let _ = classify(&b);
        let _ = checker.validate(&b, &src, rng.chance(50), || true);
        if let Ok(m) = Initiation::parse(&b) {
            if let Ok(c) = noise::consume_initiation(&id, &m) {
                let _ = hs.consume_initiation(c, i);
            }
        }
        if let Ok(m) = Response::parse(&b) {
            let _ = hs.consume_response(&id, &m);
        }
        if let Ok(m) = CookieReply::parse(&b) {
            let _ = maker.consume_reply(&m, i);
        }
        let _ = DataHeader::parse(&b);
        let _ = mac1_parts(&b);
        let _ = mac2_parts(&b);
        let _ = maker.add_macs(&mut b, i);
        let mut out = [0u8; COOKIE_REPLY_LEN];
        let _ = checker.create_reply(&b, 1, &src, &[0; 24], &mut out);
    }
}

macro_rules! never_panic_tests {
    ($($name:ident: $seed:expr,)*) => {$(
        #[test]
        fn $name() {
            never_panics($seed);
        }
    )*};
}

never_panic_tests! {
    never_panic_01: 1, never_panic_02: 2, never_panic_03: 3, never_panic_04: 4, never_panic_05: 5,
    never_panic_06: 6, never_panic_07: 7, never_panic_08: 8, never_panic_09: 9, never_panic_10: 10,
    never_panic_11: 11, never_panic_12: 12, never_panic_13: 13, never_panic_14: 14, never_panic_15: 15,
    never_panic_16: 16,
}

/// Random garbage into a whole device (the receive path) never panics and never delivers anything.
#[test]
fn device_survives_garbage() {
    let mut rng = Rng(5);
    let mut d = Device::new("x", rng.bytes(), rng.bytes(), None, 9);
    let src = SocketAddr {
        addr: IpAddr::V6([1; 16]),
        port: 9,
    };
    for i in 0..3000 {
        let len = rng.below(200) as usize;
        let mut b = vec![0; len];
        rng.fill(&mut b);
        if len >= 4 {
            b[..4].copy_from_slice(&(1 + (i % 4) as u32).to_le_bytes());
        }
        d.receive(i, src, &b);
    }
    assert!(d.inbox.is_empty());
    assert_eq!(d.stats.sessions, 0);
}
