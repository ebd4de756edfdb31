//! `show` outputs: pretty (colored), `dump` and the single-field forms, byte for byte as
//! wg prints them. Functions return strings so they can be checked against goldens.

use std::fmt::Write;

use crate::key::Key;
use crate::model::{AllowedIp, Device, Peer};
use crate::textfmt::{self, BOLD, CYAN, GREEN, RESET, YELLOW};

/// The fields `show <iface> <field>` accepts.
pub const FIELDS: &[&str] = &[
    "public-key",
    "private-key",
    "listen-port",
    "fwmark",
    "peers",
    "preshared-keys",
    "endpoints",
    "allowed-ips",
    "latest-handshakes",
    "transfer",
    "persistent-keepalive",
    "dump",
];

fn maybe_key(k: &Option<Key>) -> String {
    k.map_or_else(|| "(none)".to_string(), |k| k.to_base64())
}

/// Appends `ips` as `addr/cidr` joined by `sep`, without a string per entry (10 000 peers
/// can have 100 000 of them).
fn push_allowed_ips(s: &mut String, ips: &[AllowedIp], sep: &str) {
    for (i, a) in ips.iter().enumerate() {
        if i != 0 {
            s.push_str(sep);
        }
        textfmt::push_ip(s, &a.addr);
        s.push('/');
        textfmt::push_u32(s, a.cidr.into());
    }
}

/// A rough size of `dev`'s text forms, to allocate the output once.
fn size_hint(dev: &Device) -> usize {
    dev.peers
        .iter()
        .map(|p| 256 + 24 * p.allowed_ips.len())
        .sum::<usize>()
        + 256
}

fn fwmark(m: Option<u32>) -> String {
    match m {
        Some(m) if m != 0 => format!("0x{m:x}"),
        _ => "off".to_string(),
    }
}

fn endpoint_or_none(p: &Peer) -> String {
    p.endpoint
        .as_ref()
        .map_or_else(|| "(none)".to_string(), textfmt::endpoint)
}

/// Peers sorted as wg's pretty output: most recent handshake first, never-handshaken last,
/// otherwise in kernel order.
fn sorted_peers(dev: &Device) -> Vec<&Peer> {
    let mut v: Vec<&Peer> = dev.peers.iter().collect();
    v.sort_by(|a, b| {
        let (ta, tb) = (&a.last_handshake, &b.last_handshake);
        match (ta.is_zero(), tb.is_zero()) {
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ => (tb.sec, tb.nsec).cmp(&(ta.sec, ta.nsec)),
        }
    });
    v
}

/// The human-readable form, with ANSI colors (strip them with [`textfmt::strip_ansi`]).
/// `now` is the current time in seconds; `show_keys` is WG_HIDE_KEYS=never.
pub fn pretty(dev: &Device, now: i64, show_keys: bool) -> String {
    let mut s = String::new();
    let masked = |k: &Key| {
        if show_keys {
            k.to_base64()
        } else {
            "(hidden)".to_string()
        }
    };
    s.push_str(RESET);
    let _ = writeln!(
        s,
        "{GREEN}{BOLD}interface{RESET}: {GREEN}{}{RESET}",
        dev.name
    );
    if let Some(k) = &dev.public_key {
        let _ = writeln!(s, "  {BOLD}public key{RESET}: {k}");
    }
    if let Some(k) = &dev.private_key {
        let _ = writeln!(s, "  {BOLD}private key{RESET}: {}", masked(k));
    }
    if let Some(p) = dev.listen_port.filter(|&p| p != 0) {
        let _ = writeln!(s, "  {BOLD}listening port{RESET}: {p}");
    }
    if let Some(m) = dev.fwmark.filter(|&m| m != 0) {
        let _ = writeln!(s, "  {BOLD}fwmark{RESET}: 0x{m:x}");
    }
    let peers = sorted_peers(dev);
    if !peers.is_empty() {
        s.push('\n');
    }
    for (i, p) in peers.iter().enumerate() {
        let _ = writeln!(
            s,
            "{YELLOW}{BOLD}peer{RESET}: {YELLOW}{}{RESET}",
            p.public_key
        );
        if let Some(k) = &p.preshared_key {
            let _ = writeln!(s, "  {BOLD}preshared key{RESET}: {}", masked(k));
        }
        if let Some(e) = &p.endpoint {
            let _ = writeln!(s, "  {BOLD}endpoint{RESET}: {}", textfmt::endpoint(e));
        }
        let _ = write!(s, "  {BOLD}allowed ips{RESET}: ");
        if p.allowed_ips.is_empty() {
            s.push_str("(none)\n");
        } else {
            let ips: Vec<String> = p
                .allowed_ips
                .iter()
                .map(|a| format!("{}{CYAN}/{RESET}{}", textfmt::ip(&a.addr), a.cidr))
                .collect();
            let _ = writeln!(s, "{}", ips.join(", "));
        }
        if p.last_handshake.sec != 0 {
            let _ = writeln!(
                s,
                "  {BOLD}latest handshake{RESET}: {}",
                textfmt::ago(p.last_handshake.sec, now)
            );
        }
        if p.rx_bytes != 0 || p.tx_bytes != 0 {
            let _ = writeln!(
                s,
                "  {BOLD}transfer{RESET}: {} received, {} sent",
                textfmt::bytes(p.rx_bytes),
                textfmt::bytes(p.tx_bytes)
            );
        }
        if let Some(k) = p.persistent_keepalive.filter(|&k| k != 0) {
            let _ = writeln!(
                s,
                "  {BOLD}persistent keepalive{RESET}: {}",
                textfmt::every(k)
            );
        }
        if i + 1 < peers.len() {
            s.push('\n');
        }
    }
    s
}

/// The stable tab-separated form (`show <iface> dump`, or `show all dump` with the
/// interface name in front of each line).
pub fn dump(dev: &Device, with_interface: bool) -> String {
    let mut s = String::with_capacity(size_hint(dev));
    let pre = |s: &mut String| {
        if with_interface {
            s.push_str(&dev.name);
            s.push('\t');
        }
    };
    pre(&mut s);
    let _ = writeln!(
        s,
        "{}\t{}\t{}\t{}",
        maybe_key(&dev.private_key),
        maybe_key(&dev.public_key),
        dev.listen_port.unwrap_or(0),
        fwmark(dev.fwmark)
    );
    for p in &dev.peers {
        pre(&mut s);
        let _ = write!(
            s,
            "{}\t{}\t{}\t",
            p.public_key,
            maybe_key(&p.preshared_key),
            endpoint_or_none(p),
        );
        if p.allowed_ips.is_empty() {
            s.push_str("(none)");
        } else {
            push_allowed_ips(&mut s, &p.allowed_ips, ",");
        }
        let _ = writeln!(
            s,
            "\t{}\t{}\t{}\t{}",
            p.last_handshake.sec,
            p.rx_bytes,
            p.tx_bytes,
            p.persistent_keepalive
                .filter(|&k| k != 0)
                .map_or_else(|| "off".to_string(), |k| k.to_string())
        );
    }
    s
}

/// One of the single-field forms; `None` for an unknown field name.
pub fn field(dev: &Device, param: &str, with_interface: bool) -> Option<String> {
    let mut s = String::new();
    let pre = |s: &mut String| {
        if with_interface {
            s.push_str(&dev.name);
            s.push('\t');
        }
    };
    match param {
        "public-key" | "private-key" | "listen-port" | "fwmark" => {
            pre(&mut s);
            let v = match param {
                "public-key" => maybe_key(&dev.public_key),
                "private-key" => maybe_key(&dev.private_key),
                "listen-port" => dev.listen_port.unwrap_or(0).to_string(),
                _ => fwmark(dev.fwmark),
            };
            let _ = writeln!(s, "{v}");
        }
        "endpoints"
        | "allowed-ips"
        | "latest-handshakes"
        | "transfer"
        | "persistent-keepalive"
        | "preshared-keys"
        | "peers" => {
            for p in &dev.peers {
                pre(&mut s);
                let k = p.public_key;
                let _ = match param {
                    "endpoints" => writeln!(s, "{k}\t{}", endpoint_or_none(p)),
                    "allowed-ips" => {
                        let _ = write!(s, "{k}\t");
                        if p.allowed_ips.is_empty() {
                            s.push_str("(none)");
                        } else {
                            push_allowed_ips(&mut s, &p.allowed_ips, " ");
                        }
                        writeln!(s)
                    }
                    "latest-handshakes" => writeln!(s, "{k}\t{}", p.last_handshake.sec),
                    "transfer" => writeln!(s, "{k}\t{}\t{}", p.rx_bytes, p.tx_bytes),
                    "persistent-keepalive" => match p.persistent_keepalive.filter(|&k| k != 0) {
                        Some(v) => writeln!(s, "{k}\t{v}"),
                        None => writeln!(s, "{k}\toff"),
                    },
                    "preshared-keys" => writeln!(s, "{k}\t{}", maybe_key(&p.preshared_key)),
                    _ => writeln!(s, "{k}"),
                };
            }
        }
        "dump" => return Some(dump(dev, with_interface)),
        _ => return None,
    }
    Some(s)
}

/// The `showconf` form, byte for byte as `wg showconf`.
pub fn showconf(dev: &Device) -> String {
    let mut s = String::with_capacity(size_hint(dev));
    s.push_str("[Interface]\n");
    if let Some(p) = dev.listen_port.filter(|&p| p != 0) {
        let _ = writeln!(s, "ListenPort = {p}");
    }
    if let Some(m) = dev.fwmark.filter(|&m| m != 0) {
        let _ = writeln!(s, "FwMark = 0x{m:x}");
    }
    if let Some(k) = &dev.private_key {
        let _ = writeln!(s, "PrivateKey = {k}");
    }
    s.push('\n');
    for (i, p) in dev.peers.iter().enumerate() {
        let _ = writeln!(s, "[Peer]\nPublicKey = {}", p.public_key);
        if let Some(k) = &p.preshared_key {
            let _ = writeln!(s, "PresharedKey = {k}");
        }
        if !p.allowed_ips.is_empty() {
            s.push_str("AllowedIPs = ");
            push_allowed_ips(&mut s, &p.allowed_ips, ", ");
            s.push('\n');
        }
        if let Some(e) = &p.endpoint {
            let _ = writeln!(s, "Endpoint = {}", textfmt::endpoint(e));
        }
        if let Some(k) = p.persistent_keepalive.filter(|&k| k != 0) {
            let _ = writeln!(s, "PersistentKeepalive = {k}");
        }
        if i + 1 < dev.peers.len() {
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
#[path = "show_tests.rs"]
mod tests;
