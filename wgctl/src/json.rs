//! `--json` output of `show` and `monitor`, written by hand (no serde dependency).

use std::fmt::Write;

use crate::model::{Device, Peer};
use crate::textfmt;

/// A JSON string literal.
pub fn string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn opt_str(v: Option<String>) -> String {
    v.map_or_else(|| "null".to_string(), |s| string(&s))
}

fn peer(p: &Peer) -> String {
    let ips: Vec<String> = p
        .allowed_ips
        .iter()
        .map(|a| string(&format!("{}/{}", textfmt::ip(&a.addr), a.cidr)))
        .collect();
    format!(
        "{{\"public_key\":{},\"preshared_key\":{},\"endpoint\":{},\"allowed_ips\":[{}],\
         \"latest_handshake\":{},\"latest_handshake_nsec\":{},\"rx_bytes\":{},\"tx_bytes\":{},\
         \"persistent_keepalive\":{},\"protocol_version\":{}}}",
        string(&p.public_key.to_base64()),
        opt_str(p.preshared_key.map(|k| k.to_base64())),
        opt_str(p.endpoint.as_ref().map(textfmt::endpoint)),
        ips.join(","),
        p.last_handshake.sec,
        p.last_handshake.nsec,
        p.rx_bytes,
        p.tx_bytes,
        p.persistent_keepalive.unwrap_or(0),
        p.protocol_version
            .map_or_else(|| "null".to_string(), |v| v.to_string()),
    )
}

/// One device as a JSON object (keys included, as in `dump`).
pub fn device(d: &Device) -> String {
    let peers: Vec<String> = d.peers.iter().map(peer).collect();
    format!(
        "{{\"interface\":{},\"ifindex\":{},\"private_key\":{},\"public_key\":{},\"listen_port\":{},\
         \"fwmark\":{},\"peers\":[{}]}}",
        string(&d.name),
        d.ifindex,
        opt_str(d.private_key.map(|k| k.to_base64())),
        opt_str(d.public_key.map(|k| k.to_base64())),
        d.listen_port.unwrap_or(0),
        d.fwmark.unwrap_or(0),
        peers.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use crate::model::Timespec;

    #[test]
    fn escapes() {
        assert_eq!(string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    #[test]
    fn golden_device() {
        let d = Device {
            name: "wg0".into(),
            ifindex: 3,
            listen_port: Some(51820),
            fwmark: Some(0),
            peers: vec![Peer {
                endpoint: Some("1.2.3.4:5".parse().unwrap()),
                allowed_ips: vec![crate::model::AllowedIp {
                    addr: "10.0.0.0".parse().unwrap(),
                    cidr: 8,
                    remove: false,
                }],
                last_handshake: Timespec { sec: 10, nsec: 20 },
                rx_bytes: 1,
                tx_bytes: 2,
                persistent_keepalive: Some(25),
                protocol_version: Some(1),
                ..Peer::new(Key::ZERO)
            }],
            ..Device::default()
        };
        assert_eq!(
            device(&d),
            "{\"interface\":\"wg0\",\"ifindex\":3,\"private_key\":null,\"public_key\":null,\"listen_port\":51820,\
             \"fwmark\":0,\"peers\":[{\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\
             \"preshared_key\":null,\"endpoint\":\"1.2.3.4:5\",\"allowed_ips\":[\"10.0.0.0/8\"],\
             \"latest_handshake\":10,\"latest_handshake_nsec\":20,\"rx_bytes\":1,\"tx_bytes\":2,\
             \"persistent_keepalive\":25,\"protocol_version\":1}]}"
        );
    }
}
