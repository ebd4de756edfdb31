//! Golden outputs in wg's formats (show.c / showconf.c), for one fixed device.

use super::*;
use crate::model::{AllowedIp, Timespec};
use crate::textfmt::strip_ansi;

const PRIV: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PUB: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const P1: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const P2: &str = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
const P3: &str = "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=";
const PSK: &str = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=";

fn k(s: &str) -> Key {
    Key::from_base64(s).unwrap()
}

fn ips(list: &[&str]) -> Vec<AllowedIp> {
    list.iter()
        .map(|s| {
            let (a, c) = s.split_once('/').unwrap();
            AllowedIp {
                addr: a.parse().unwrap(),
                cidr: c.parse().unwrap(),
                remove: false,
            }
        })
        .collect()
}

const NOW: i64 = 1_700_000_000;

fn device() -> Device {
    Device {
        name: "wg0".into(),
        ifindex: 4,
        private_key: Some(k(PRIV)),
        public_key: Some(k(PUB)),
        listen_port: Some(51820),
        fwmark: Some(0x1234),
        replace_peers: false,
        peers: vec![
            // Never handshaken: sorted last in pretty output.
            Peer {
                allowed_ips: vec![],
                persistent_keepalive: Some(0),
                ..Peer::new(k(P1))
            },
            Peer {
                preshared_key: Some(k(PSK)),
                endpoint: Some("192.95.5.67:1234".parse().unwrap()),
                allowed_ips: ips(&["10.192.122.3/32", "10.192.124.0/24"]),
                last_handshake: Timespec {
                    sec: NOW - 62,
                    nsec: 5,
                },
                rx_bytes: 1152,
                tx_bytes: 3_670_016,
                persistent_keepalive: Some(25),
                ..Peer::new(k(P2))
            },
            Peer {
                endpoint: Some("[2607:5300:60:6b0::c05f:543]:2468".parse().unwrap()),
                allowed_ips: ips(&["10.192.122.4/32", "::/0", "fd00::/8"]),
                last_handshake: Timespec {
                    sec: NOW - 3600 * 25,
                    nsec: 0,
                },
                rx_bytes: 0,
                tx_bytes: 100,
                persistent_keepalive: Some(0),
                ..Peer::new(k(P3))
            },
        ],
    }
}

#[test]
fn pretty_golden() {
    let want = format!(
        "interface: wg0
  public key: {PUB}
  private key: (hidden)
  listening port: 51820
  fwmark: 0x1234

peer: {P2}
  preshared key: (hidden)
  endpoint: 192.95.5.67:1234
  allowed ips: 10.192.122.3/32, 10.192.124.0/24
  latest handshake: 1 minute, 2 seconds ago
  transfer: 1.12 KiB received, 3.50 MiB sent
  persistent keepalive: every 25 seconds

peer: {P3}
  endpoint: [2607:5300:60:6b0::c05f:543]:2468
  allowed ips: 10.192.122.4/32, ::/0, fd00::/8
  latest handshake: 1 day, 1 hour ago
  transfer: 0 B received, 100 B sent

peer: {P1}
  allowed ips: (none)
"
    );
    assert_eq!(strip_ansi(&pretty(&device(), NOW, false)), want);
    let shown = strip_ansi(&pretty(&device(), NOW, true));
    assert!(shown.contains(&format!("  private key: {PRIV}\n")));
    assert!(shown.contains(&format!("  preshared key: {PSK}\n")));
}

#[test]
fn pretty_colors_golden() {
    let d = Device {
        name: "wg1".into(),
        listen_port: Some(0),
        peers: vec![],
        ..Device::default()
    };
    assert_eq!(
        pretty(&d, NOW, false),
        "\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg1\x1b[0m\n"
    );
    let d = Device {
        name: "wg1".into(),
        peers: vec![Peer {
            allowed_ips: ips(&["10.0.0.1/32"]),
            ..Peer::new(k(P1))
        }],
        ..Device::default()
    };
    assert_eq!(
        pretty(&d, NOW, false),
        format!(
            "\x1b[0m\x1b[32m\x1b[1minterface\x1b[0m: \x1b[32mwg1\x1b[0m\n\n\
             \x1b[33m\x1b[1mpeer\x1b[0m: \x1b[33m{P1}\x1b[0m\n  \x1b[1mallowed ips\x1b[0m: 10.0.0.1\x1b[36m/\x1b[0m32\n"
        )
    );
}

#[test]
fn dump_golden() {
    let want = format!(
        "{PRIV}\t{PUB}\t51820\t0x1234
{P1}\t(none)\t(none)\t(none)\t0\t0\t0\toff
{P2}\t{PSK}\t192.95.5.67:1234\t10.192.122.3/32,10.192.124.0/24\t{}\t1152\t3670016\t25
{P3}\t(none)\t[2607:5300:60:6b0::c05f:543]:2468\t10.192.122.4/32,::/0,fd00::/8\t{}\t0\t100\toff
",
        NOW - 62,
        NOW - 90000
    );
    assert_eq!(dump(&device(), false), want);
    let all = dump(&device(), true);
    assert!(all.lines().all(|l| l.starts_with("wg0\t")));
    assert_eq!(all.lines().count(), 4);
    let empty = Device {
        name: "wg2".into(),
        listen_port: Some(0),
        fwmark: Some(0),
        ..Device::default()
    };
    assert_eq!(dump(&empty, false), "(none)\t(none)\t0\toff\n");
}

#[test]
fn fields_golden() {
    let d = device();
    let f = |p: &str| field(&d, p, false).unwrap();
    assert_eq!(f("public-key"), format!("{PUB}\n"));
    assert_eq!(f("private-key"), format!("{PRIV}\n"));
    assert_eq!(f("listen-port"), "51820\n");
    assert_eq!(f("fwmark"), "0x1234\n");
    assert_eq!(f("peers"), format!("{P1}\n{P2}\n{P3}\n"));
    assert_eq!(
        f("preshared-keys"),
        format!("{P1}\t(none)\n{P2}\t{PSK}\n{P3}\t(none)\n")
    );
    assert_eq!(
        f("endpoints"),
        format!("{P1}\t(none)\n{P2}\t192.95.5.67:1234\n{P3}\t[2607:5300:60:6b0::c05f:543]:2468\n")
    );
    assert_eq!(
        f("allowed-ips"),
        format!("{P1}\t(none)\n{P2}\t10.192.122.3/32 10.192.124.0/24\n{P3}\t10.192.122.4/32 ::/0 fd00::/8\n")
    );
    assert_eq!(
        f("latest-handshakes"),
        format!("{P1}\t0\n{P2}\t{}\n{P3}\t{}\n", NOW - 62, NOW - 90000)
    );
    assert_eq!(
        f("transfer"),
        format!("{P1}\t0\t0\n{P2}\t1152\t3670016\n{P3}\t0\t100\n")
    );
    assert_eq!(
        f("persistent-keepalive"),
        format!("{P1}\toff\n{P2}\t25\n{P3}\toff\n")
    );
    assert_eq!(f("dump"), dump(&d, false));
    assert_eq!(field(&d, "fwmark", true).unwrap(), "wg0\t0x1234\n");
    assert_eq!(
        field(&d, "peers", true).unwrap().lines().next().unwrap(),
        format!("wg0\t{P1}")
    );
    assert!(field(&d, "bogus", false).is_none());
    let none = Device {
        name: "x".into(),
        ..Device::default()
    };
    assert_eq!(field(&none, "public-key", false).unwrap(), "(none)\n");
    assert_eq!(field(&none, "fwmark", false).unwrap(), "off\n");
}

#[test]
fn showconf_golden() {
    let want = format!(
        "[Interface]
ListenPort = 51820
FwMark = 0x1234
PrivateKey = {PRIV}

[Peer]
PublicKey = {P1}

[Peer]
PublicKey = {P2}
PresharedKey = {PSK}
AllowedIPs = 10.192.122.3/32, 10.192.124.0/24
Endpoint = 192.95.5.67:1234
PersistentKeepalive = 25

[Peer]
PublicKey = {P3}
AllowedIPs = 10.192.122.4/32, ::/0, fd00::/8
Endpoint = [2607:5300:60:6b0::c05f:543]:2468
"
    );
    assert_eq!(showconf(&device()), want);
    let empty = Device {
        name: "wg2".into(),
        listen_port: Some(0),
        fwmark: Some(0),
        ..Device::default()
    };
    assert_eq!(showconf(&empty), "[Interface]\n\n");
}

#[test]
fn showconf_round_trips_through_the_parser() {
    let text = showconf(&device());
    let parsed = crate::config::parse_config(
        text.as_bytes(),
        "x",
        false,
        &crate::resolve::NumericResolver,
    )
    .unwrap();
    let d = parsed.device;
    assert_eq!(d.private_key, Some(k(PRIV)));
    assert_eq!(d.listen_port, Some(51820));
    assert_eq!(d.fwmark, Some(0x1234));
    let orig = device();
    assert_eq!(d.peers.len(), 3);
    for (a, b) in d.peers.iter().zip(&orig.peers) {
        assert_eq!(a.public_key, b.public_key);
        assert_eq!(a.preshared_key, b.preshared_key);
        assert_eq!(a.endpoint, b.endpoint);
        assert_eq!(a.allowed_ips, b.allowed_ips);
        assert_eq!(
            a.persistent_keepalive.unwrap_or(0),
            b.persistent_keepalive.unwrap_or(0)
        );
    }
}
