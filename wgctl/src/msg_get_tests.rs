//! GET parsing and dump coalescing on serialized messages.

use std::net::{IpAddr, Ipv4Addr};

use neli::consts::nl::NlmF;

use super::*;
use crate::fake_kernel::FakeKernel;
use crate::model::Timespec;
use crate::msg_set::build_set;

fn key(i: u32) -> Key {
    let mut k = [0u8; 32];
    k[..4].copy_from_slice(&i.to_be_bytes());
    k[31] = 0x42;
    Key(k)
}

fn through_wire(m: &GenlMsg) -> GenlMsg {
    let full = attr::wrap(0x20, NlmF::MULTI, 1, m.clone()).unwrap();
    let bytes = attr::to_vec(&full).unwrap();
    attr::parse_genl(&bytes[16..]).unwrap()
}

fn kernel_with(peers: u32, ips_per_peer: u32) -> FakeKernel {
    let mut k = FakeKernel::new("wg0");
    let dev = Device {
        name: "wg0".into(),
        private_key: Some(key(1000)),
        listen_port: Some(51820),
        fwmark: Some(0x42),
        peers: (0..peers)
            .map(|i| Peer {
                replace_allowed_ips: true,
                endpoint: Some(
                    format!("10.1.{}.{}:51820", i / 250, i % 250)
                        .parse()
                        .unwrap(),
                ),
                allowed_ips: (0..ips_per_peer)
                    .map(|j| AllowedIp {
                        addr: IpAddr::V4(Ipv4Addr::from((i << 16) | j)),
                        cidr: 32,
                        remove: false,
                    })
                    .collect(),
                ..Peer::new(key(i))
            })
            .collect(),
        ..Device::default()
    };
    for m in build_set(&dev, 4096).unwrap() {
        k.apply(&m);
    }
    k
}

fn assemble(msgs: &[GenlMsg]) -> Device {
    let mut a = DumpAssembler::default();
    for m in msgs {
        a.add(&through_wire(m)).unwrap();
    }
    a.finish()
}

#[test]
fn split_dump_is_coalesced() {
    let k = kernel_with(3, 1000);
    let msgs = k.dump(4096);
    assert!(msgs.len() >= 9, "{}", msgs.len());
    // Raw parse without coalescing shows the repeats.
    let mut raw = Device::default();
    for m in &msgs {
        parse_device(&through_wire(m), &mut raw).unwrap();
    }
    assert!(raw.peers.len() > 3);
    let dev = assemble(&msgs);
    assert_eq!(dev, k.device());
    assert_eq!(dev.peers.len(), 3);
    assert_eq!(dev.peers[1].allowed_ips.len(), 1000);
    assert_eq!(dev.name, "wg0");
    assert_eq!(dev.ifindex, 7);
    assert_eq!(dev.public_key, Some(key(1000).public()));
}

#[test]
fn many_small_peers_and_various_buffer_sizes() {
    let k = kernel_with(500, 3);
    let want = k.device();
    for limit in [400, 1000, 4096, 16384, 32768] {
        assert_eq!(assemble(&k.dump(limit)), want, "limit {limit}");
    }
}

#[test]
fn empty_device() {
    let k = FakeKernel::new("wg9");
    let dev = assemble(&k.dump(4096));
    assert_eq!(dev.name, "wg9");
    assert!(dev.peers.is_empty());
    assert_eq!(dev.private_key, None);
    assert_eq!(dev.listen_port, Some(0));
}

#[test]
fn handcrafted_split_peer() {
    // Message 1: device + peer A with two IPs; message 2: peer A again with one more IP,
    // then peer B. Only adjacent repeats merge.
    let ip = |a: u8| {
        let mut n = attr::nest(0).unwrap();
        n = attr::push(n, &attr::u16(WGALLOWEDIP_A_FAMILY, AF_INET).unwrap()).unwrap();
        n = attr::push(
            n,
            &attr::bytes(WGALLOWEDIP_A_IPADDR, &[10, 0, 0, a]).unwrap(),
        )
        .unwrap();
        attr::push(n, &attr::u8(WGALLOWEDIP_A_CIDR_MASK, 32).unwrap()).unwrap()
    };
    let peer = |k: Key, ips: &[u8], hs: Option<i64>| {
        let mut n = attr::nest(0).unwrap();
        n = attr::push(n, &attr::bytes(WGPEER_A_PUBLIC_KEY, &k.0).unwrap()).unwrap();
        if let Some(s) = hs {
            let t = Timespec { sec: s, nsec: 0 };
            n = attr::push(
                n,
                &attr::bytes(WGPEER_A_LAST_HANDSHAKE_TIME, &sockaddr::encode_timespec(&t)).unwrap(),
            )
            .unwrap();
            n = attr::push(n, &attr::bytes(WGPEER_A_PRESHARED_KEY, &[0; 32]).unwrap()).unwrap();
        }
        let mut l = attr::nest(WGPEER_A_ALLOWEDIPS).unwrap();
        for &i in ips {
            l = attr::push(l, &ip(i)).unwrap();
        }
        attr::push(n, &l).unwrap()
    };
    let mut a1 = Attrs::new();
    a1.push(attr::strz(WGDEVICE_A_IFNAME, "wg0").unwrap());
    a1.push(attr::u16(WGDEVICE_A_LISTEN_PORT, 1).unwrap());
    a1.push(
        attr::push(
            attr::nest(WGDEVICE_A_PEERS).unwrap(),
            &peer(key(1), &[1, 2], Some(100)),
        )
        .unwrap(),
    );
    let mut a2 = Attrs::new();
    let mut ps = attr::nest(WGDEVICE_A_PEERS).unwrap();
    ps = attr::push(ps, &peer(key(1), &[3], None)).unwrap();
    ps = attr::push(ps, &peer(key(2), &[4], Some(5))).unwrap();
    a2.push(ps);
    let m1 = attr::genl(WG_CMD_GET_DEVICE, 1, a1).unwrap();
    let m2 = attr::genl(WG_CMD_GET_DEVICE, 1, a2).unwrap();
    let dev = assemble(&[m1, m2]);
    assert_eq!(dev.peers.len(), 2);
    assert_eq!(dev.peers[0].allowed_ips.len(), 3);
    assert_eq!(
        dev.peers[0].last_handshake.sec, 100,
        "first fragment's fields are kept"
    );
    assert_eq!(
        dev.peers[0].preshared_key, None,
        "zero preshared key means none"
    );
    assert_eq!(dev.peers[1].allowed_ips.len(), 1);
}

#[test]
fn malformed_peer_is_an_error() {
    let mut a = Attrs::new();
    let n = attr::push(
        attr::nest(0).unwrap(),
        &attr::u16(WGPEER_A_FLAGS, 1).unwrap(),
    )
    .unwrap();
    a.push(attr::push(attr::nest(WGDEVICE_A_PEERS).unwrap(), &n).unwrap());
    let m = attr::genl(WG_CMD_GET_DEVICE, 1, a).unwrap();
    let mut d = Device::default();
    assert!(parse_device(&m, &mut d).is_err());
}

/// The dump as wgctl receives it (generic netlink payloads, parsed in place) gives the same device, and every
/// truncation of such a payload is refused or parsed without panicking.
#[test]
fn received_payloads_parse_in_place() {
    let k = kernel_with(20, 300);
    let msgs = k.dump(4096);
    let payloads: Vec<Vec<u8>> = msgs
        .iter()
        .map(|m| {
            attr::to_vec(&attr::wrap(0x20, NlmF::MULTI, 1, m.clone()).unwrap()).unwrap()[16..]
                .to_vec()
        })
        .collect();
    let mut a = DumpAssembler::default();
    for p in &payloads {
        a.add_bytes(p).unwrap();
    }
    assert_eq!(a.finish(), k.device());
    let p = &payloads[0];
    let mut refused = 0;
    for cut in 0..p.len().min(600) {
        let mut d = Device::default();
        if DumpAssembler::default().add_bytes(&p[..cut]).is_err()
            || parse_device_bytes(p.get(4..cut).unwrap_or(&[]), &mut d).is_err()
        {
            refused += 1;
        }
    }
    assert!(refused > 0);
    let mut bad = p.clone();
    bad[4..6].copy_from_slice(&3u16.to_ne_bytes()); // an attribute shorter than its header
    assert!(DumpAssembler::default().add_bytes(&bad).is_err());
}
