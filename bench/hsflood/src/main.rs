// SPDX-License-Identifier: GPL-2.0
//! Handshake flood for the rust_wg benchmark: valid WireGuard initiations from many peers and source addresses.
//!
//! ```text
//! hsflood keys N > ids.txt      # N initiator identities: "privkey pubkey" lines (base64)
//! hsflood flood VICTIM_PUB HOST:PORT IDS_FILE SRC_PREFIX SECONDS FRESH_RATE [SNAPFILE] > result.txt
//! hsflood fresh ...same arguments...        # only the fresh initiations, no flood: the baseline
//! ```
//!
//! `fresh` (the baseline: the victim's handshake capacity without a flood) keeps receiving after the sending window
//! until no response came for 2 s (at most 30 s), and divides the responses by the time to the last one.
//!
//! Identity i (line i of IDS_FILE; the victim has it as a peer with endpoint SRC_PREFIX<i+1>:40000) always sends
//! from that address and port, so each is one initiator on one address. Two kinds of handshake initiations go to
//! HOST:PORT, all with a correct mac1 (keyed BLAKE2s-128, key BLAKE2s-256("mac1----" || victim public key)):
//!
//! - fresh ones, FRESH_RATE per second in all, round-robin over the identities: Noise IKpsk2 initiations with a
//!   new TAI64N timestamp, which the victim completes with a handshake response. When the victim, under load,
//!   answers with a cookie reply, the identity decrypts the cookie (XChaCha20-Poly1305 under
//!   BLAKE2s-256("cookie--" || victim public key), the initiation's mac1 as associated data) and puts mac2 on its
//!   later initiations, as a real initiator does;
//! - the flood: as many replays as the flooder can send, round-robin, each identity's one precomputed initiation
//!   with an all-zero timestamp, which a victim that processes it rejects as a replay only after its
//!   Diffie-Hellman work, and which a victim under load answers with a cheap cookie reply instead.
//!
//! Completed handshakes are the handshake responses received within the sending window. An identity uses one
//! ephemeral key for all its initiations (the responder does not track ephemerals), so that a fresh initiation
//! costs the flooder one small AEAD and three BLAKE2s: valid, though not what a real initiator does. All keys are
//! throwaway benchmark data.
//!
//! With SNAPFILE, two CPU snapshots bracket the sending window, in bench/guest.sh's cpu_snap format ("/proc/stat
//! cpu fields | kworker utime+stime | daemon utime+stime | 0 | wall clock"); daemon PIDs come from
//! $FLOOD_DAEMON_PIDS. Output: "key value" lines.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use blake2::digest::consts::U16;
use blake2::digest::{FixedOutput, Mac, Update};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use x25519_dalek::{PublicKey, StaticSecret};

const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
const PORT: u16 = 40000;
const INIT_LEN: usize = 148;
const REPLAY_INDEX: u32 = 0xFFFF_0000;

type Result<T> = std::result::Result<T, String>;

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = blake2::Blake2s256::default();
    for p in parts {
        Update::update(&mut h, p);
    }
    h.finalize_fixed().into()
}

fn mac16(key: &[u8], data: &[u8]) -> [u8; 16] {
    // Keys are 16 or 32 bytes here, always valid for BLAKE2s.
    let mut m = <blake2::Blake2sMac<U16> as Mac>::new_from_slice(key).expect("BLAKE2s key length");
    Mac::update(&mut m, data);
    m.finalize_fixed().into()
}

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let mut inner_parts: Vec<&[u8]> = vec![&ipad];
    inner_parts.extend_from_slice(parts);
    let inner = hash(&inner_parts);
    hash(&[&opad, &inner])
}

/// WireGuard's KDF with two outputs.
fn kdf2(ck: &[u8; 32], input: &[u8]) -> ([u8; 32], [u8; 32]) {
    let t0 = hmac(ck, &[input]);
    let t1 = hmac(&t0, &[&[1]]);
    let t2 = hmac(&t0, &[&t1, &[2]]);
    (t1, t2)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64encode(data: &[u8]) -> String {
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64key(s: &str) -> Result<[u8; 32]> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for ch in s.trim().bytes().take_while(|&b| b != b'=') {
        let v = B64.iter().position(|&b| b == ch).ok_or_else(|| format!("bad base64 key {s}"))? as u32;
        bits = bits << 6 | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
        }
    }
    out.try_into().map_err(|_| format!("key {s} is not 32 bytes"))
}

fn random32() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(b)
}

fn tai64n(ns: u128) -> [u8; 12] {
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&(0x4000_0000_0000_000Au64 + (ns / 1_000_000_000) as u64).to_be_bytes());
    t[8..].copy_from_slice(&((ns % 1_000_000_000) as u32).to_be_bytes());
    t
}

/// An initiator the victim knows; the handshake state up to the timestamp is fixed (one ephemeral key).
struct Identity {
    /// Bytes 8..88 of every initiation: ephemeral public key and encrypted static key.
    prefix: [u8; 80],
    ts_aead: ChaCha20Poly1305,
    h: [u8; 32],
}

impl Identity {
    fn new(private: [u8; 32], victim: &PublicKey) -> Result<Self> {
        let s = StaticSecret::from(private);
        let e = StaticSecret::from(random32()?);
        let epub = PublicKey::from(&e);
        let mut ck = hash(&[CONSTRUCTION]);
        let mut h = hash(&[&ck, IDENTIFIER]);
        h = hash(&[&h, victim.as_bytes()]);
        ck = hmac(&hmac(&ck, &[epub.as_bytes()]), &[&[1]]);
        h = hash(&[&h, epub.as_bytes()]);
        let (ck2, k) = kdf2(&ck, e.diffie_hellman(victim).as_bytes());
        let static_ct = ChaCha20Poly1305::new((&k).into())
            .encrypt((&[0u8; 12]).into(), Payload { msg: PublicKey::from(&s).as_bytes(), aad: &h })
            .map_err(|_| "seal static")?;
        h = hash(&[&h, &static_ct]);
        let (_, k) = kdf2(&ck2, s.diffie_hellman(victim).as_bytes());
        let mut prefix = [0u8; 80];
        prefix[..32].copy_from_slice(epub.as_bytes());
        prefix[32..].copy_from_slice(&static_ct);
        Ok(Identity { prefix, ts_aead: ChaCha20Poly1305::new((&k).into()), h })
    }

    /// An initiation up to and including mac1; mac2 is appended by the caller.
    fn initiation(&self, index: u32, timestamp: &[u8; 12], mac1_key: &[u8; 32]) -> ([u8; INIT_LEN], [u8; 16]) {
        let mut m = [0u8; INIT_LEN];
        m[0] = 1;
        m[4..8].copy_from_slice(&index.to_le_bytes());
        m[8..88].copy_from_slice(&self.prefix);
        let ts = self
            .ts_aead
            .encrypt((&[0u8; 12]).into(), Payload { msg: timestamp, aad: &self.h })
            .expect("seal timestamp");
        m[88..116].copy_from_slice(&ts);
        let mac1 = mac16(mac1_key, &m[..116]);
        m[116..132].copy_from_slice(&mac1);
        (m, mac1)
    }
}

fn cpu_snapshot(daemons: &[String]) -> String {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat.lines().next().unwrap_or("").split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
    let ticks = |path: &str| -> Option<(String, u64)> {
        let s = std::fs::read_to_string(path).ok()?;
        let (open, close) = (s.find('(')?, s.rfind(')')?);
        let f: Vec<&str> = s.get(close + 2..)?.split(' ').collect();
        Some((s[open + 1..close].to_string(), f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
    };
    let mut kworker = 0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.bytes().all(|b| b.is_ascii_digit()) {
                if let Some((comm, t)) = ticks(&format!("/proc/{name}/stat")) {
                    if comm.starts_with("kworker") {
                        kworker += t;
                    }
                }
            }
        }
    }
    let daemon: u64 = daemons.iter().filter_map(|p| ticks(&format!("/proc/{p}/stat")).map(|x| x.1)).sum();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{cpu} | {kworker} | {daemon} | 0 | {}.{:06}\n", now.as_secs(), now.subsec_micros())
}

fn flood(args: &[String], with_replays: bool) -> Result<()> {
    if args.len() < 6 {
        return Err("flood VICTIM_PUB HOST:PORT IDS_FILE SRC_PREFIX SECONDS FRESH_RATE [SNAPFILE]".into());
    }
    let victim = PublicKey::from(b64key(&args[0])?);
    let dst: SocketAddr = args[1].parse().map_err(|e| format!("{}: {e}", args[1]))?;
    let ids_text = std::fs::read_to_string(&args[2]).map_err(|e| format!("{}: {e}", args[2]))?;
    let prefix = &args[3];
    let seconds: f64 = args[4].parse().map_err(|_| "SECONDS")?;
    let fresh_rate: f64 = args[5].parse().map_err(|_| "FRESH_RATE")?;
    let mut snap = match args.get(6) {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
        None => None,
    };
    let daemons: Vec<String> =
        std::env::var("FLOOD_DAEMON_PIDS").unwrap_or_default().split_whitespace().map(String::from).collect();

    let mac1_key = hash(&[b"mac1----", victim.as_bytes()]);
    let cookie_key = hash(&[b"cookie--", victim.as_bytes()]);
    let ids = ids_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Identity::new(b64key(l.split_whitespace().next().unwrap_or(""))?, &victim))
        .collect::<Result<Vec<_>>>()?;
    let n = ids.len();
    if n == 0 {
        return Err("no identities".into());
    }
    let mut socks = Vec::with_capacity(n);
    for i in 0..n {
        let a = format!("{prefix}{}:{PORT}", i + 1);
        let s = UdpSocket::bind(&a).map_err(|e| format!("bind {a}: {e}"))?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        socks.push(s);
    }
    // The flood: each identity's initiation with an all-zero timestamp, always a replay for the victim.
    let mut replays = Vec::with_capacity(n);
    let mut replay_mac1 = Vec::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
        let (m, mac1) = id.initiation(REPLAY_INDEX | i as u32, &[0; 12], &mac1_key);
        replays.push(m);
        replay_mac1.push(mac1);
    }

    let mut cookies: Vec<Option<([u8; 16], Instant)>> = vec![None; n];
    let mut mac1_of: HashMap<u32, [u8; 16]> = HashMap::new();
    let (mut fresh, mut with_mac2, mut sent_replays, mut send_errors) = (0u64, 0u64, 0u64, 0u64);
    let (mut responses, mut cookie_replies, mut cookies_taken, mut invalid) = (0u64, 0u64, 0u64, 0u64);
    let mut ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut seq = 0u32;
    let mut fresh_tried = 0u64;
    let mut next = 0usize;
    let mut buf = [0u8; 256];

    if let Some(f) = snap.as_mut() {
        f.write_all(cpu_snapshot(&daemons).as_bytes()).map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Fresh initiations that are due, then one replay per identity, then whatever came back.
        let due = ((now - start).as_secs_f64() * fresh_rate) as u64;
        let mut burst = 0;
        while fresh_tried < due && burst < n {
            burst += 1;
            fresh_tried += 1;
            let i = next;
            next = (next + 1) % n;
            seq = seq.wrapping_add(1);
            ts += 1000;
            let idx = (seq & 0xFFFF) << 8 | (i as u32 & 0xFF);
            let (mut m, mac1) = ids[i].initiation(idx, &tai64n(ts), &mac1_key);
            mac1_of.insert(idx, mac1);
            if let Some((cookie, t)) = cookies[i] {
                if now.duration_since(t) < Duration::from_secs(110) {
                    let mac2 = mac16(&cookie, &m[..132]);
                    m[132..].copy_from_slice(&mac2);
                    with_mac2 += 1;
                }
            }
            match socks[i].send_to(&m, dst) {
                Ok(_) => fresh += 1,
                Err(_) => send_errors += 1,
            }
        }
        if !with_replays {
            std::thread::sleep(Duration::from_millis(2));
        }
        for (s, m) in socks.iter().zip(&replays).filter(|_| with_replays) {
            match s.send_to(m, dst) {
                Ok(_) => sent_replays += 1,
                Err(_) => send_errors += 1,
            }
        }
        for (si, s) in socks.iter().enumerate() {
            loop {
                let len = match s.recv(&mut buf) {
                    Ok(len) => len,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                };
                match (len, buf[0]) {
                    (92, 2) => responses += 1,
                    (64, 3) => {
                        cookie_replies += 1;
                        if let Some((_, t)) = cookies[si] {
                            if t.elapsed() < Duration::from_secs(60) {
                                continue; // still fresh: no need to pay for the decryption
                            }
                        }
                        let ridx = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
                        let mac1 = if ridx == REPLAY_INDEX | si as u32 {
                            Some(replay_mac1[si])
                        } else {
                            mac1_of.get(&ridx).copied()
                        };
                        let cookie = mac1.and_then(|m1| {
                            XChaCha20Poly1305::new((&cookie_key).into())
                                .decrypt((&buf[8..32]).into(), Payload { msg: &buf[32..64], aad: &m1 })
                                .ok()
                        });
                        match cookie.and_then(|c| <[u8; 16]>::try_from(c).ok()) {
                            Some(c) => {
                                cookies[si] = Some((c, Instant::now()));
                                cookies_taken += 1;
                            }
                            None => invalid += 1,
                        }
                    }
                    _ => invalid += 1,
                }
            }
        }
        if mac1_of.len() > 65536 {
            mac1_of.clear();
        }
    }
    let mut secs = start.elapsed().as_secs_f64();
    if !with_replays {
        let mut last = Instant::now();
        let give_up = last + Duration::from_secs(30);
        while last.elapsed() < Duration::from_secs(2) && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(20));
            for s in &socks {
                while let Ok(len) = s.recv(&mut buf) {
                    if len == 92 && buf[0] == 2 {
                        responses += 1;
                        last = Instant::now();
                    }
                }
            }
        }
        if responses > 0 {
            secs = secs.max((last - start).as_secs_f64());
        }
    }
    if let Some(f) = snap.as_mut() {
        f.write_all(cpu_snapshot(&daemons).as_bytes()).map_err(|e| e.to_string())?;
    }
    println!("seconds {secs:.3}");
    println!("identities {n}");
    println!("fresh_rate {fresh_rate:.1}");
    println!("fresh {fresh}");
    println!("fresh_with_mac2 {with_mac2}");
    println!("replays {sent_replays}");
    println!("send_errors {send_errors}");
    println!("responses {responses}");
    println!("cookie_replies {cookie_replies}");
    println!("cookies_taken {cookies_taken}");
    println!("invalid_replies {invalid}");
    println!("sent_per_s {:.3}", (fresh + sent_replays) as f64 / secs);
    println!("fresh_per_s {:.3}", fresh as f64 / secs);
    println!("responses_per_s {:.3}", responses as f64 / secs);
    println!("cookie_replies_per_s {:.3}", cookie_replies as f64 / secs);
    Ok(())
}

fn keys(args: &[String]) -> Result<()> {
    let n: usize = args.first().and_then(|a| a.parse().ok()).ok_or("keys N")?;
    for _ in 0..n {
        let k = random32()?;
        let s = StaticSecret::from(k);
        println!("{} {}", b64encode(&s.to_bytes()), b64encode(PublicKey::from(&s).as_bytes()));
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("keys") => keys(&args[1..]),
        Some("flood") => flood(&args[1..], true),
        Some("fresh") => flood(&args[1..], false),
        _ => Err("usage: hsflood keys N | hsflood flood|fresh VICTIM_PUB HOST:PORT IDS_FILE SRC_PREFIX SECONDS \
                  FRESH_RATE [SNAPFILE]"
            .into()),
    };
    if let Err(e) = r {
        eprintln!("hsflood: {e}");
        std::process::exit(1);
    }
}
