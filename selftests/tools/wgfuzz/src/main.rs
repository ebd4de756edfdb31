// SPDX-License-Identifier: GPL-2.0

//! `wgfuzz`: hostile input for a live WireGuard interface, run inside the test VM.
//!
//! - `wgfuzz packets`: random, truncated, mutated and replayed WireGuard messages sent over UDP at a device
//!   (see [`packets`]).
//! - `wgfuzz netlink`: malformed generic-netlink messages to the `wireguard` family (see [`netlink`]).
//!
//! Both print a final summary line `key=value ...` that the VM tests parse.

mod netlink;
mod packets;
mod rng;

use std::collections::HashMap;
use std::process::exit;

/// `--key value` arguments after the subcommand.
pub(crate) struct Args(HashMap<String, String>);

impl Args {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut m = HashMap::new();
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let Some(k) = k.strip_prefix("--") else {
                return Err(format!("unexpected argument {k}"));
            };
            let v = it.next().ok_or_else(|| format!("--{k} needs a value"))?;
            m.insert(k.to_string(), v.clone());
        }
        Ok(Self(m))
    }

    pub(crate) fn str(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    pub(crate) fn num(&self, k: &str, default: u64) -> Result<u64, String> {
        match self.0.get(k) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{k}: not a number: {v}")),
        }
    }

    pub(crate) fn need(&self, k: &str) -> Result<&str, String> {
        self.str(k).ok_or_else(|| format!("--{k} is required"))
    }
}

const USAGE: &str = "usage:
  wgfuzz packets --target IP:PORT --pubkey BASE64 [--count N] [--seconds S] [--seed N] [--capture-if IFNAME]
                 [--flood-pct P] [--batch N] [--pps N]
  wgfuzz netlink --ifname NAME [--count N] [--seconds S] [--seed N]";

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let r = match argv.get(1).map(String::as_str) {
        Some("packets") => Args::parse(&argv[2..]).and_then(|a| packets::run(&a)),
        Some("netlink") => Args::parse(&argv[2..]).and_then(|a| netlink::run(&a)),
        _ => Err(USAGE.to_string()),
    };
    if let Err(e) = r {
        eprintln!("wgfuzz: {e}");
        exit(2);
    }
}

/// Decodes standard base64 (with padding), as `wg` prints keys.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim().bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Seconds since the epoch as a seed when none is given.
pub(crate) fn seed(a: &Args) -> Result<u64, String> {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    a.num("seed", t)
}
