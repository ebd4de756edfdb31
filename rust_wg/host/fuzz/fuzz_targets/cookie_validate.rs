// SPDX-License-Identifier: GPL-2.0

//! MAC and cookie validation on arbitrary messages and sources, checked against an independent recomputation.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rust_wg_proto::addr::{IpAddr, SocketAddr};
use rust_wg_proto::cookie::{CookieChecker, CookieMaker, MacState};
use rust_wg_proto::host_crypto::HostCrypto as C;
use rust_wg_proto::messages::COOKIE_REPLY_LEN;
use rust_wg_proto::noise::StaticIdentity;

fuzz_target!(|data: &[u8]| {
    if data.len() < 20 {
        return;
    }
    let (head, msg) = data.split_at(20);
    static ID: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let public = ID.get_or_init(|| *StaticIdentity::<C>::new(&[0x33; 32]).unwrap().public_key());
    let checker = CookieChecker::<C>::new(Some(public), &[0x44; 32], 0).unwrap();
    let src = if head[0] & 1 == 0 {
        SocketAddr {
            addr: IpAddr::V4([head[1], head[2], head[3], head[4]]),
            port: u16::from_le_bytes([head[5], head[6]]),
        }
    } else {
        SocketAddr {
            addr: IpAddr::V6(head[2..18].try_into().unwrap()),
            port: u16::from(head[18]),
        }
    };
    let check_cookie = head[0] & 2 != 0;
    let allow = head[0] & 4 != 0;
    let state = checker.validate(msg, &src, check_cookie, || allow);
    // A message whose MACs we compute ourselves must validate.
    let mut good = msg.to_vec();
    let mut maker = CookieMaker::<C>::new(public).unwrap();
    if maker.add_macs(&mut good, 0).is_ok() {
        assert_ne!(
            checker.validate(&good, &src, check_cookie, || allow),
            MacState::InvalidMac
        );
        if state != MacState::InvalidMac {
            assert_eq!(
                good[..good.len() - 16],
                msg[..msg.len() - 16],
                "two different mac1 for one message"
            );
        }
        // With a cookie from this checker for this source, mac2 passes as well.
        let mut reply = [0u8; COOKIE_REPLY_LEN];
        checker
            .create_reply(&good, 1, &src, &[1; 24], &mut reply)
            .unwrap();
        let parsed = rust_wg_proto::messages::CookieReply::parse(&reply).unwrap();
        maker.consume_reply(&parsed, 0).unwrap();
        maker.add_macs(&mut good, 0).unwrap();
        let expect = if allow {
            MacState::ValidMacWithCookie
        } else {
            MacState::ValidMacWithCookieButRatelimited
        };
        assert_eq!(checker.validate(&good, &src, true, || allow), expect);
    } else {
        assert_eq!(state, MacState::InvalidMac);
    }
});
