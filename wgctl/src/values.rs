//! Parsers for single configuration values, shared by config files and `set` arguments.
//!
//! Each returns a message without location; callers add file, line and field.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::key::{is_space, Key, KEY_BASE64_LEN};
use crate::model::{AllowedIp, Peer};
use crate::resolve::Resolver;

/// Quotes user text for an error message, escaping control and non-ASCII bytes.
pub fn quote(s: &[u8]) -> String {
    format!("\"{}\"", s.escape_ascii())
}

fn ascii(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value).ok()
}

/// A base64 key.
pub fn key(value: &[u8]) -> Result<Key, String> {
    ascii(value)
        .and_then(Key::from_base64)
        .ok_or_else(|| format!("invalid key {}", quote(value)))
}

/// The contents of a key file: empty means the zero key; otherwise 44 characters of
/// base64 optionally followed by whitespace.
pub fn key_file(contents: &[u8]) -> Result<Key, String> {
    if contents.is_empty() {
        return Ok(Key::ZERO);
    }
    if contents.len() < KEY_BASE64_LEN {
        return Err("invalid length key in key file".to_string());
    }
    let (text, rest) = contents.split_at(KEY_BASE64_LEN);
    if let Some(&c) = rest.iter().find(|&&c| !is_space(c)) {
        return Err(format!(
            "found trailing character in key file: {}",
            quote(&[c])
        ));
    }
    key(text)
}

/// Decimal digits only, as a u64 that saturates instead of overflowing.
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// ListenPort: a port number or UDP service name.
pub fn port(value: &[u8], resolver: &dyn Resolver) -> Result<u16, String> {
    if value.is_empty() {
        return Err("unable to parse empty port".to_string());
    }
    let s = ascii(value).ok_or_else(|| format!("invalid port {}", quote(value)))?;
    resolver
        .port(s)
        .map_err(|e| format!("invalid port {}: {e}", quote(value)))
}

/// FwMark: `off`, decimal or `0x` hexadecimal up to 0xffffffff.
pub fn fwmark(value: &[u8]) -> Result<u32, String> {
    let err = || format!("fwmark is neither 0/off nor 0-0xffffffff: {}", quote(value));
    if value.eq_ignore_ascii_case(b"off") {
        return Ok(0);
    }
    let n = if value.len() > 2 && value.starts_with(b"0x") {
        let hex = &value[2..];
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(err());
        }
        hex.iter().try_fold(0u64, |acc, &d| {
            let v = (d as char).to_digit(16)?;
            let n = acc * 16 + u64::from(v);
            (n <= u64::from(u32::MAX)).then_some(n)
        })
    } else {
        decimal(value)
    };
    n.and_then(|n| u32::try_from(n).ok()).ok_or_else(err)
}

/// PersistentKeepalive: `off` or 0-65535 seconds.
pub fn keepalive(value: &[u8]) -> Result<u16, String> {
    if value.eq_ignore_ascii_case(b"off") {
        return Ok(0);
    }
    decimal(value)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| {
            format!(
                "persistent keepalive interval is neither 0/off nor 1-65535: {}",
                quote(value)
            )
        })
}

/// Endpoint: `host:port` or `[v6-host]:port`, resolved.
pub fn endpoint(value: &[u8], resolver: &dyn Resolver) -> Result<SocketAddr, String> {
    if value.is_empty() {
        return Err("unable to parse empty endpoint".to_string());
    }
    let s = ascii(value).ok_or_else(|| format!("invalid endpoint {}", quote(value)))?;
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("unable to find matching brace of endpoint {}", quote(value)))?;
        let port = rest[close + 1..]
            .strip_prefix(':')
            .filter(|p| !p.is_empty())
            .ok_or_else(|| format!("unable to find port of endpoint {}", quote(value)))?;
        (&rest[..close], port)
    } else {
        match s.rfind(':') {
            Some(i) if i + 1 < s.len() => (&s[..i], &s[i + 1..]),
            _ => return Err(format!("unable to find port of endpoint {}", quote(value))),
        }
    };
    resolver
        .endpoint(host, port)
        .map_err(|e| format!("{e}: {}", quote(value)))
}

fn ip(text: &[u8]) -> Option<IpAddr> {
    let s = ascii(text)?;
    if s.contains(':') {
        s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        s.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// AllowedIPs: comma-separated `[+|-]addr[/cidr]`, appended to `peer`.
///
/// Like wireguard-tools, each value turns on replace semantics for the peer, and any
/// entry with a `+` or `-` prefix turns them off again (an incremental change).
/// Returns warnings (nonzero host bits) alongside.
pub fn allowed_ips(peer: &mut Peer, value: &[u8]) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    peer.replace_allowed_ips = true;
    if value.is_empty() {
        return Ok(warnings);
    }
    for entry in value.split(|&c| c == b',') {
        let mut e = entry;
        let mut remove = false;
        match e.first() {
            Some(b'-') => {
                remove = true;
                peer.replace_allowed_ips = false;
                e = &e[1..];
            }
            Some(b'+') => {
                peer.replace_allowed_ips = false;
                e = &e[1..];
            }
            _ => {}
        }
        let bad = || format!("invalid allowed IP {}", quote(entry));
        let (addr_text, mask) = match e.iter().position(|&c| c == b'/') {
            Some(i) => (&e[..i], Some(&e[i + 1..])),
            None => (e, None),
        };
        let addr = ip(addr_text).ok_or_else(bad)?;
        let max = AllowedIp::max_cidr(&addr);
        let cidr = match mask {
            None => max,
            Some(m) => match decimal(m) {
                Some(n) if n <= u64::from(max) => n as u8,
                _ => return Err(bad()),
            },
        };
        let aip = AllowedIp { addr, cidr, remove };
        if !aip.host_bits_zero() {
            warnings.push(format!(
                "AllowedIP has nonzero host part: {}",
                String::from_utf8_lossy(e)
            ));
        }
        peer.allowed_ips.push(aip);
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::NumericResolver;

    #[test]
    fn fwmark_table() {
        let ok: &[(&str, u32)] = &[
            ("off", 0),
            ("OFF", 0),
            ("0", 0),
            ("42", 42),
            ("0x2a", 42),
            ("0xFFFFFFFF", u32::MAX),
            ("4294967295", u32::MAX),
            ("0042", 42),
        ];
        for &(s, v) in ok {
            assert_eq!(fwmark(s.as_bytes()), Ok(v), "{s}");
        }
        for s in [
            "",
            "-1",
            "+1",
            "0x",
            "0x1g",
            "4294967296",
            "0x100000000",
            "x1",
            "1 ",
            "0X10",
            "99999999999999999999999",
        ] {
            assert!(fwmark(s.as_bytes()).is_err(), "{s}");
        }
    }

    #[test]
    fn keepalive_table() {
        for (s, v) in [
            ("off", 0),
            ("Off", 0),
            ("0", 0),
            ("25", 25),
            ("65535", 65535),
        ] {
            assert_eq!(keepalive(s.as_bytes()), Ok(v), "{s}");
        }
        for s in ["", "65536", "-1", "1s", "on", "0x10"] {
            assert!(keepalive(s.as_bytes()).is_err(), "{s}");
        }
    }

    #[test]
    fn endpoint_table() {
        let r = NumericResolver;
        let ok = [
            ("1.2.3.4:51820", "1.2.3.4:51820"),
            ("[::1]:1", "[::1]:1"),
            ("[fd00::1]:65535", "[fd00::1]:65535"),
            ("::1:5", "[::1]:5"), // last colon splits, like wg
        ];
        for (s, v) in ok {
            assert_eq!(endpoint(s.as_bytes(), &r), Ok(v.parse().unwrap()), "{s}");
        }
        for s in [
            "",
            "1.2.3.4",
            "1.2.3.4:",
            "[::1]",
            "[::1]:",
            "[::1:5",
            "host:1",
            "1.2.3.4:99999",
            "1.2.3.4:x",
        ] {
            assert!(endpoint(s.as_bytes(), &r).is_err(), "{s}");
        }
    }

    #[test]
    fn allowed_ips_table() {
        let mut p = Peer::default();
        let w = allowed_ips(&mut p, b"10.0.0.0/8,fd00::/64,1.2.3.4,::1").unwrap();
        assert!(w.is_empty());
        assert!(p.replace_allowed_ips);
        let got: Vec<String> = p
            .allowed_ips
            .iter()
            .map(|a| format!("{}/{}", a.addr, a.cidr))
            .collect();
        assert_eq!(got, ["10.0.0.0/8", "fd00::/64", "1.2.3.4/32", "::1/128"]);

        let mut p = Peer::default();
        allowed_ips(&mut p, b"+10.0.0.1/32,-10.0.0.2/32").unwrap();
        assert!(!p.replace_allowed_ips);
        assert!(!p.allowed_ips[0].remove);
        assert!(p.allowed_ips[1].remove);

        let mut p = Peer::default();
        let w = allowed_ips(&mut p, b"10.0.0.1/8").unwrap();
        assert_eq!(w.len(), 1);

        for bad in [
            "10.0.0.1/33",
            "fd00::/129",
            "10.0.0.1/",
            "10.0.0.1/x",
            "10.0.0.256",
            "1.2.3.4,",
            ",",
            "010.0.0.1",
            "10.0.0.1/-1",
            "10.0.0.1/+1",
            "--10.0.0.1",
            "fe80::1%eth0",
            "host",
            "1.2.3.4/99999999999999999999999",
        ] {
            let mut p = Peer::default();
            assert!(allowed_ips(&mut p, bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_file_table() {
        let k = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
        assert_eq!(key_file(b""), Ok(Key::ZERO));
        assert!(key_file(k.as_bytes()).is_ok());
        assert!(key_file(format!("{k}\n").as_bytes()).is_ok());
        assert!(key_file(format!("{k} \t\n\n").as_bytes()).is_ok());
        assert!(key_file(format!("{k}x").as_bytes()).is_err());
        assert!(key_file(&k.as_bytes()[..40]).is_err());
        assert!(key_file(format!(" {k}").as_bytes()).is_err());
    }
}
