//! SET building and splitting, checked on serialized bytes and against a kernel model.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neli::consts::nl::NlmF;

use super::*;
use crate::fake_kernel::FakeKernel;
use crate::key::Key;
use crate::model::{AllowedIp, Device, Peer};
use crate::msg_get::parse_device;

fn key(i: u32) -> Key {
    let mut k = [0u8; 32];
    k[..4].copy_from_slice(&i.to_be_bytes());
    k[31] = 0x55;
    Key(k)
}

fn v4(i: u32, cidr: u8) -> AllowedIp {
    AllowedIp {
        addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i)),
        cidr,
        remove: false,
    }
}

fn v6(i: u32) -> AllowedIp {
    AllowedIp {
        addr: IpAddr::V6(Ipv6Addr::new(
            0xfd00,
            0,
            0,
            0,
            0,
            0,
            (i >> 16) as u16,
            i as u16,
        )),
        cidr: 128,
        remove: false,
    }
}

/// Serializes each message as the socket would and checks the size bound; returns the
/// messages as parsed back from those bytes.
fn wire(msgs: &[GenlMsg], limit: usize) -> Vec<GenlMsg> {
    msgs.iter()
        .map(|m| {
            let full = crate::attr::wrap(0x20, NlmF::REQUEST | NlmF::ACK, 1, m.clone()).unwrap();
            let bytes = crate::attr::to_vec(&full).unwrap();
            assert!(
                bytes.len() <= limit,
                "message of {} bytes over limit {limit}",
                bytes.len()
            );
            assert_eq!(
                u32::from_ne_bytes(bytes[0..4].try_into().unwrap()) as usize,
                bytes.len()
            );
            crate::attr::parse_genl(&bytes[16..]).unwrap()
        })
        .collect()
}

fn apply(kernel: &mut FakeKernel, dev: &Device, limit: usize) -> usize {
    let msgs = build_set(dev, limit).unwrap();
    let parsed = wire(&msgs, limit);
    for m in &parsed {
        kernel.apply(m);
    }
    parsed.len()
}

fn setconf_device(peers: Vec<Peer>) -> Device {
    Device {
        name: "wg0".into(),
        private_key: Some(key(999)),
        listen_port: Some(51820),
        fwmark: Some(0),
        replace_peers: true,
        peers,
        ..Device::default()
    }
}

#[test]
fn small_config_is_one_message_with_everything() {
    let mut p = Peer::new(key(1));
    p.replace_allowed_ips = true;
    p.preshared_key = Some(key(2));
    p.endpoint = Some("1.2.3.4:5".parse().unwrap());
    p.persistent_keepalive = Some(25);
    p.allowed_ips = vec![v4(1, 32), v6(1)];
    let dev = setconf_device(vec![p.clone()]);
    let msgs = build_set(&dev, 4096).unwrap();
    assert_eq!(msgs.len(), 1);
    let mut back = Device::default();
    parse_device(&wire(&msgs, 4096)[0], &mut back).unwrap();
    assert_eq!(back.name, "wg0");
    assert_eq!(back.private_key, Some(key(999)));
    assert_eq!(back.listen_port, Some(51820));
    assert_eq!(back.fwmark, Some(0));
    assert!(back.replace_peers);
    assert_eq!(back.peers, vec![p]);
}

#[test]
fn no_peers_and_bad_names() {
    let dev = Device {
        name: "wg0".into(),
        listen_port: Some(1),
        ..Device::default()
    };
    let msgs = build_set(&dev, 4096).unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].attrs().len(), 2);
    for name in ["", "0123456789abcdef", "a\0b"] {
        let dev = Device {
            name: name.into(),
            ..Device::default()
        };
        assert!(matches!(build_set(&dev, 4096), Err(BuildError::BadName(_))));
    }
}

#[test]
fn limit_too_small_is_an_error_not_a_loop() {
    let mut p = Peer::new(key(1));
    p.allowed_ips = vec![v4(1, 32)];
    let dev = setconf_device(vec![p]);
    for limit in [0, 20, 40, 80, 100] {
        assert!(
            matches!(build_set(&dev, limit), Err(BuildError::LimitTooSmall(_))),
            "limit {limit}"
        );
    }
    // The device attributes go alone in the first message when the peer cannot follow.
    assert_eq!(build_set(&dev, 120).unwrap().len(), 2);
    assert_eq!(build_set(&dev, 140).unwrap().len(), 2);
    assert_eq!(build_set(&dev, 256).unwrap().len(), 1);
}

#[test]
fn one_peer_100k_allowed_ips() {
    let mut p = Peer::new(key(1));
    p.replace_allowed_ips = true;
    p.endpoint = Some("[fd00::1]:51820".parse().unwrap());
    p.allowed_ips = (0..100_000)
        .map(|i| if i % 4 == 0 { v6(i) } else { v4(i, 32) })
        .collect();
    let dev = setconf_device(vec![p.clone()]);
    let limit = 4096;
    let msgs = build_set(&dev, limit).unwrap();
    assert!(msgs.len() > 600, "{} messages", msgs.len());
    let parsed = wire(&msgs, limit);

    // Only the first message carries device attributes and REPLACE flags.
    let mut total = 0;
    for (i, m) in parsed.iter().enumerate() {
        let mut d = Device::default();
        parse_device(m, &mut d).unwrap();
        assert_eq!(d.name, "wg0");
        assert_eq!(d.private_key.is_some(), i == 0);
        assert_eq!(d.replace_peers, i == 0);
        assert_eq!(d.peers.len(), 1);
        assert_eq!(d.peers[0].public_key, key(1));
        assert_eq!(d.peers[0].replace_allowed_ips, i == 0);
        assert_eq!(d.peers[0].endpoint.is_some(), i == 0);
        total += d.peers[0].allowed_ips.len();
    }
    assert_eq!(total, 100_000);

    // Applied in order, the union equals the configuration.
    let mut k = FakeKernel::new("wg0");
    k.apply(&parsed[0]);
    // Pre-existing state on the peer is replaced by the first message only.
    for m in &parsed[1..] {
        k.apply(m);
    }
    let got = k.device();
    let mut want: Vec<_> = p.allowed_ips.clone();
    want.sort();
    let mut have = got.peers[0].allowed_ips.clone();
    have.sort();
    assert_eq!(have, want);
}

#[test]
fn ten_thousand_peers() {
    let peers: Vec<Peer> = (0..10_000)
        .map(|i| {
            let mut p = Peer::new(key(i));
            p.replace_allowed_ips = true;
            p.preshared_key = Some(key(i + 50_000));
            p.persistent_keepalive = Some((i % 100) as u16);
            p.endpoint = Some(
                format!("192.0.2.{}:{}", i % 250, 1000 + i % 5000)
                    .parse()
                    .unwrap(),
            );
            p.allowed_ips = vec![v4(i * 4, 30), v6(i)];
            p
        })
        .collect();
    let dev = setconf_device(peers.clone());
    let mut k = FakeKernel::new("wg0");
    // Stale peers and allowed IPs that REPLACE_PEERS must wipe.
    k.apply(
        &build_set(
            &setconf_device(vec![Peer {
                allowed_ips: vec![v4(4, 30)],
                ..Peer::new(key(77_777))
            }]),
            4096,
        )
        .unwrap()[0],
    );
    let n = apply(&mut k, &dev, 4096);
    assert!(n > 100, "{n} messages");
    let got = k.device();
    assert_eq!(got.peers.len(), 10_000);
    for (g, w) in got.peers.iter().zip(&peers) {
        assert_eq!(g.public_key, w.public_key);
        assert_eq!(g.preshared_key, w.preshared_key);
        assert_eq!(g.endpoint, w.endpoint);
        assert_eq!(g.persistent_keepalive, w.persistent_keepalive);
        let mut a = g.allowed_ips.clone();
        let mut b = w.allowed_ips.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }
}

#[test]
fn split_keeps_increments_and_removals() {
    // Existing state: peer 1 owns 10.0.0.1-100; an incremental update in a tiny buffer
    // adds and removes entries across several messages without wiping the rest.
    let mut k = FakeKernel::new("wg0");
    let mut p = Peer::new(key(1));
    p.replace_allowed_ips = true;
    p.allowed_ips = (1..=100).map(|i| v4(i, 32)).collect();
    apply(
        &mut k,
        &Device {
            name: "wg0".into(),
            peers: vec![p],
            ..Device::default()
        },
        4096,
    );

    let mut upd = Peer::new(key(1));
    upd.allowed_ips = (101..=150).map(|i| v4(i, 32)).collect();
    upd.allowed_ips.extend((1..=50).map(|i| AllowedIp {
        remove: true,
        ..v4(i, 32)
    }));
    let dev = Device {
        name: "wg0".into(),
        peers: vec![upd],
        ..Device::default()
    };
    let n = apply(&mut k, &dev, 300);
    assert!(n > 5, "{n}");
    let got = &k.device().peers[0].allowed_ips;
    let want: Vec<AllowedIp> = (51..=150).map(|i| v4(i, 32)).collect();
    let mut g = got.clone();
    g.sort();
    assert_eq!(g, want);
}

#[test]
fn every_limit_from_small_to_large_is_respected() {
    let peers: Vec<Peer> = (0..20)
        .map(|i| {
            let mut p = Peer::new(key(i));
            p.replace_allowed_ips = true;
            p.remove = i == 3;
            p.allowed_ips = (0..(i * 7)).map(|j| v4(i * 1000 + j, 32)).collect();
            p
        })
        .collect();
    let dev = setconf_device(peers);
    let mut reference = FakeKernel::new("wg0");
    apply(&mut reference, &dev, 65535);
    for limit in (200..2000).step_by(37) {
        let mut k = FakeKernel::new("wg0");
        apply(&mut k, &dev, limit);
        assert_eq!(k.device(), reference.device(), "limit {limit}");
    }
}
