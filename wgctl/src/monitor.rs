//! `monitor`: peer events from the "peers" multicast group (project extension).
//!
//! Each notification is a genetlink message whose command says what happened and whose
//! attributes follow the GET layout: WGDEVICE_A_IFINDEX, WGDEVICE_A_IFNAME and a
//! WGDEVICE_A_PEERS nest holding exactly one peer with WGPEER_A_PUBLIC_KEY and, where
//! meaningful, WGPEER_A_ENDPOINT and WGPEER_A_LAST_HANDSHAKE_TIME.

use std::io::Write;
use std::net::SocketAddr;

use neli::{nl::NlPayload, types::Buffer};

use crate::attr::{self, GenlMsg};
use crate::json;
use crate::key::Key;
use crate::model::{Device, Timespec};
use crate::msg_get::{parse_device, ParseError};
use crate::netlink::{Genl, NlError};
use crate::textfmt;
use crate::uapi::*;

/// What happened to a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Added,
    Removed,
    Handshake,
    Endpoint,
    KeypairExpired,
}

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub ifindex: u32,
    pub ifname: String,
    pub peer: Key,
    pub endpoint: Option<SocketAddr>,
    pub last_handshake: Timespec,
}

/// Parses a notification; `Ok(None)` for commands this version does not know.
pub fn parse_event(msg: &GenlMsg) -> Result<Option<Event>, ParseError> {
    let kind = match *msg.cmd() {
        WG_CMD_NOTIFY_PEER_ADDED => Kind::Added,
        WG_CMD_NOTIFY_PEER_REMOVED => Kind::Removed,
        WG_CMD_NOTIFY_HANDSHAKE => Kind::Handshake,
        WG_CMD_NOTIFY_ENDPOINT => Kind::Endpoint,
        WG_CMD_NOTIFY_KEYPAIR_EXPIRED => Kind::KeypairExpired,
        _ => return Ok(None),
    };
    let mut d = Device::default();
    parse_device(msg, &mut d)?;
    if d.peers.len() != 1 {
        return Err(ParseError::Bad("WGDEVICE_A_PEERS (want exactly one peer)"));
    }
    let p = d.peers.remove(0);
    Ok(Some(Event {
        kind,
        ifindex: d.ifindex,
        ifname: d.name,
        peer: p.public_key,
        endpoint: p.endpoint,
        last_handshake: p.last_handshake,
    }))
}

/// `<iface> <peer> handshake|endpoint <addr>|added|removed|keypair-expired`.
pub fn line(e: &Event) -> String {
    let what = match e.kind {
        Kind::Added => "added".to_string(),
        Kind::Removed => "removed".to_string(),
        Kind::Handshake => "handshake".to_string(),
        Kind::KeypairExpired => "keypair-expired".to_string(),
        Kind::Endpoint => format!(
            "endpoint {}",
            e.endpoint
                .as_ref()
                .map_or_else(|| "(none)".to_string(), textfmt::endpoint)
        ),
    };
    format!("{} {} {}", e.ifname, e.peer, what)
}

pub fn json_line(e: &Event) -> String {
    let event = match e.kind {
        Kind::Added => "added",
        Kind::Removed => "removed",
        Kind::Handshake => "handshake",
        Kind::Endpoint => "endpoint",
        Kind::KeypairExpired => "keypair-expired",
    };
    format!(
        "{{\"event\":\"{event}\",\"interface\":{},\"ifindex\":{},\"peer\":{},\"endpoint\":{},\"latest_handshake\":{},\"latest_handshake_nsec\":{}}}",
        json::string(&e.ifname),
        e.ifindex,
        json::string(&e.peer.to_base64()),
        e.endpoint.as_ref().map_or_else(|| "null".into(), |a| json::string(&textfmt::endpoint(a))),
        e.last_handshake.sec,
        e.last_handshake.nsec
    )
}

/// Listens in the caller's network namespace until an error; prints one line per event.
pub fn run(genl: Genl, iface: Option<&str>, as_json: bool) -> Result<(), NlError> {
    let sock = genl.subscribe(WG_MCGRP_PEERS)?;
    let stdout = std::io::stdout();
    loop {
        let (iter, _) = match sock.recv::<u16, Buffer>() {
            Ok(r) => r,
            Err(neli::err::SocketError::Io(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                eprintln!("wgctl: monitor: receive buffer overrun, events were lost");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for m in iter {
            let m = m?;
            let NlPayload::Payload(b) = m.nl_payload() else {
                continue;
            };
            let msg = attr::parse_genl(b.as_ref())?;
            let ev = match parse_event(&msg) {
                Ok(Some(ev)) => ev,
                Ok(None) => continue,
                Err(e) => {
                    eprintln!("wgctl: monitor: ignoring malformed notification: {e}");
                    continue;
                }
            };
            if iface.is_some_and(|i| i != ev.ifname) {
                continue;
            }
            let text = if as_json { json_line(&ev) } else { line(&ev) };
            let mut out = stdout.lock();
            if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attrs;
    use crate::sockaddr;

    fn notif(cmd: u8, endpoint: Option<&str>, hs: Option<i64>) -> GenlMsg {
        let mut a = Attrs::new();
        a.push(attr::u32(WGDEVICE_A_IFINDEX, 5).unwrap());
        a.push(attr::strz(WGDEVICE_A_IFNAME, "wg0").unwrap());
        let mut p = attr::nest(0).unwrap();
        p = attr::push(p, &attr::bytes(WGPEER_A_PUBLIC_KEY, &[7; 32]).unwrap()).unwrap();
        if let Some(e) = endpoint {
            p = attr::push(
                p,
                &attr::bytes(WGPEER_A_ENDPOINT, &sockaddr::encode(&e.parse().unwrap())).unwrap(),
            )
            .unwrap();
        }
        if let Some(s) = hs {
            let t = Timespec { sec: s, nsec: 9 };
            p = attr::push(
                p,
                &attr::bytes(WGPEER_A_LAST_HANDSHAKE_TIME, &sockaddr::encode_timespec(&t)).unwrap(),
            )
            .unwrap();
        }
        a.push(attr::push(attr::nest(WGDEVICE_A_PEERS).unwrap(), &p).unwrap());
        let m = attr::genl(cmd, 1, a).unwrap();
        // Through the wire format and back.
        let full = attr::wrap(0x22, neli::consts::nl::NlmF::empty(), 0, m).unwrap();
        attr::parse_genl(&attr::to_vec(&full).unwrap()[16..]).unwrap()
    }

    #[test]
    fn lines() {
        let k = Key([7; 32]).to_base64();
        let cases = [
            (
                WG_CMD_NOTIFY_PEER_ADDED,
                None,
                None,
                format!("wg0 {k} added"),
            ),
            (
                WG_CMD_NOTIFY_PEER_REMOVED,
                None,
                None,
                format!("wg0 {k} removed"),
            ),
            (
                WG_CMD_NOTIFY_HANDSHAKE,
                Some("1.2.3.4:5"),
                Some(100),
                format!("wg0 {k} handshake"),
            ),
            (
                WG_CMD_NOTIFY_ENDPOINT,
                Some("[fd00::1]:51820"),
                None,
                format!("wg0 {k} endpoint [fd00::1]:51820"),
            ),
            (
                WG_CMD_NOTIFY_KEYPAIR_EXPIRED,
                None,
                None,
                format!("wg0 {k} keypair-expired"),
            ),
        ];
        for (cmd, ep, hs, want) in cases {
            let ev = parse_event(&notif(cmd, ep, hs)).unwrap().unwrap();
            assert_eq!(ev.ifindex, 5);
            assert_eq!(line(&ev), want);
        }
        let ev = parse_event(&notif(
            WG_CMD_NOTIFY_HANDSHAKE,
            Some("1.2.3.4:5"),
            Some(100),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            json_line(&ev),
            format!("{{\"event\":\"handshake\",\"interface\":\"wg0\",\"ifindex\":5,\"peer\":\"{k}\",\"endpoint\":\"1.2.3.4:5\",\"latest_handshake\":100,\"latest_handshake_nsec\":9}}")
        );
        assert_eq!(parse_event(&notif(99, None, None)).unwrap(), None);
    }

    #[test]
    fn notification_needs_one_peer() {
        let mut a = Attrs::new();
        a.push(attr::strz(WGDEVICE_A_IFNAME, "wg0").unwrap());
        let m = attr::genl(WG_CMD_NOTIFY_HANDSHAKE, 1, a).unwrap();
        assert!(parse_event(&m).is_err());
    }
}
