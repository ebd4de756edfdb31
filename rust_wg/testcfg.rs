// SPDX-License-Identifier: GPL-2.0

//! TEST ONLY: configuration over a loopback UDP datagram, until the generic netlink family (netlink.rs) exists.
//!
//! Compiled only into `rustwg_test.ko` (`--cfg rustwg_testcfg`, see `Kbuild`), never into `rust_wg.ko` or
//! `rustwg_alt.ko`: anyone on the host who can send a UDP datagram from 127.0.0.1 to the device's port can
//! reconfigure the device. It exists so the data path can be tested end to end without netlink, and drives exactly
//! the API netlink.rs uses ([`Device::apply`]). Remove it once netlink.rs lands.
//!
//! A datagram from 127.0.0.1 to the device's listen port whose payload starts with `RWGTESTCFG\n` carries one update,
//! one directive per line (keys in base64, as `wg` prints them):
//!
//! ```text
//! private_key KEY | listen_port N | fwmark N | replace_peers
//! peer KEY                        (starts a peer; the lines after it apply to it)
//! remove | update_only | preshared_key KEY | endpoint A.B.C.D:PORT | endpoint [V6]:PORT
//! persistent_keepalive N | replace_allowed_ips | allowed_ip ADDR/CIDR | remove_allowed_ip ADDR/CIDR
//! ```

use crate::config::{AllowedIpUpdate, DeviceUpdate, IpAddr, Key, PeerUpdate};
use crate::device::Device;
use crate::proto::addr::SocketAddr;
use kernel::{net::rtnl::RtnlGuard, net::skbuff::SkBuff, prelude::*, sync::Arc};

/// The payload prefix.
const MAGIC: &[u8] = b"RWGTESTCFG\n";

/// Takes a datagram (data at the UDP payload) if it is a test configuration from loopback; returns it otherwise.
///
/// The source should be checked to be 127.0.0.1, but the receive path cannot read it yet (see `receive::source`); so
/// any datagram with the prefix is taken, which is one more reason this never goes into a real module.
pub(crate) fn intercept(wg: &Arc<Device>, skb: SkBuff, src: Option<&SocketAddr>) -> Option<SkBuff> {
    if src.is_some_and(|s| s.addr != IpAddr::V4([127, 0, 0, 1])) || skb.len() < MAGIC.len() || skb.len() > 4096 {
        return Some(skb);
    }
    let mut skb = skb;
    if skb.may_pull(skb.len()).is_err() || !skb.data().starts_with(MAGIC) {
        return Some(skb);
    }
    let mut text = KVec::new();
    if text.extend_from_slice(&skb.data()[MAGIC.len()..], GFP_ATOMIC).is_err() {
        return None;
    }
    skb.consume();
    let dev = wg.clone();
    let q = wg.wq.lock();
    if let Some(q) = &*q {
        let _ = q.try_spawn(GFP_ATOMIC, move || {
            let r = parse(&text).map_err(|m| m).and_then(|u| {
                let rtnl = RtnlGuard::lock();
                dev.apply(&rtnl, &u).map_err(|e| e.msg.map_or("apply failed", |m| m.to_str().unwrap_or("?")))
            });
            match r {
                Ok(()) => pr_info!("rust_wg: test configuration applied\n"),
                Err(m) => pr_warn!("rust_wg: test configuration rejected: {}\n", m),
            }
        });
    }
    None
}

fn b64(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decodes a 44-character base64 key.
fn key(s: &[u8]) -> Result<Key, &'static str> {
    if s.len() != 44 || s[43] != b'=' {
        return Err("bad key");
    }
    let mut out = [0u8; 32];
    let mut acc = 0u32;
    let mut bits = 0;
    let mut n = 0;
    for &c in &s[..43] {
        acc = (acc << 6) | b64(c).ok_or("bad key")?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n < 32 {
                out[n] = (acc >> bits) as u8;
            }
            n += 1;
        }
    }
    Ok(out)
}

fn num(s: &[u8]) -> Result<u64, &'static str> {
    let t = core::str::from_utf8(s).map_err(|_| "bad number")?;
    t.parse::<u64>().map_err(|_| "bad number")
}

fn ip(s: &[u8]) -> Result<IpAddr, &'static str> {
    let t = core::str::from_utf8(s).map_err(|_| "bad address")?;
    if let Ok(a) = t.parse::<core::net::Ipv4Addr>() {
        return Ok(IpAddr::V4(a.octets()));
    }
    t.parse::<core::net::Ipv6Addr>()
        .map(|a| IpAddr::V6(a.octets()))
        .map_err(|_| "bad address")
}

fn endpoint(s: &[u8]) -> Result<SocketAddr, &'static str> {
    let t = core::str::from_utf8(s).map_err(|_| "bad endpoint")?;
    let a: core::net::SocketAddr = t.parse().map_err(|_| "bad endpoint")?;
    Ok(SocketAddr {
        addr: match a.ip() {
            core::net::IpAddr::V4(v) => IpAddr::V4(v.octets()),
            core::net::IpAddr::V6(v) => IpAddr::V6(v.octets()),
        },
        port: a.port(),
    })
}

fn prefix(s: &[u8], remove: bool) -> Result<AllowedIpUpdate, &'static str> {
    let slash = s.iter().position(|&c| c == b'/').ok_or("bad prefix")?;
    Ok(AllowedIpUpdate {
        addr: ip(&s[..slash])?,
        cidr: u8::try_from(num(&s[slash + 1..])?).map_err(|_| "bad prefix")?,
        remove,
    })
}

fn parse(text: &[u8]) -> Result<DeviceUpdate, &'static str> {
    let mut u = DeviceUpdate {
        private_key: None,
        listen_port: None,
        fwmark: None,
        replace_peers: false,
        peers: KVec::new(),
    };
    let mut cur: Option<PeerUpdate> = None;
    for line in text.split(|&c| c == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let (k, v) = match line.iter().position(|&c| c == b' ') {
            Some(i) => (&line[..i], line[i + 1..].trim_ascii()),
            None => (line, &b""[..]),
        };
        match (k, cur.as_mut()) {
            (b"peer", _) => {
                if let Some(p) = cur.take() {
                    u.peers.push(p, GFP_KERNEL).map_err(|_| "no memory")?;
                }
                cur = Some(PeerUpdate {
                    public_key: key(v)?,
                    remove: false,
                    update_only: false,
                    preshared_key: None,
                    endpoint: None,
                    endpoint_scope_id: 0,
                    persistent_keepalive: None,
                    replace_allowed_ips: false,
                    allowed_ips: KVec::new(),
                });
            }
            (b"private_key", None) => u.private_key = Some(key(v)?),
            (b"listen_port", None) => u.listen_port = Some(u16::try_from(num(v)?).map_err(|_| "bad port")?),
            (b"fwmark", None) => u.fwmark = Some(u32::try_from(num(v)?).map_err(|_| "bad mark")?),
            (b"replace_peers", None) => u.replace_peers = true,
            (b"remove", Some(p)) => p.remove = true,
            (b"update_only", Some(p)) => p.update_only = true,
            (b"preshared_key", Some(p)) => p.preshared_key = Some(key(v)?),
            (b"endpoint", Some(p)) => p.endpoint = Some(endpoint(v)?),
            (b"persistent_keepalive", Some(p)) => {
                p.persistent_keepalive = Some(u16::try_from(num(v)?).map_err(|_| "bad interval")?)
            }
            (b"replace_allowed_ips", Some(p)) => p.replace_allowed_ips = true,
            (b"allowed_ip", Some(p)) => p.allowed_ips.push(prefix(v, false)?, GFP_KERNEL).map_err(|_| "no memory")?,
            (b"remove_allowed_ip", Some(p)) => {
                p.allowed_ips.push(prefix(v, true)?, GFP_KERNEL).map_err(|_| "no memory")?
            }
            _ => return Err("unknown directive"),
        }
    }
    if let Some(p) = cur.take() {
        u.peers.push(p, GFP_KERNEL).map_err(|_| "no memory")?;
    }
    Ok(u)
}
