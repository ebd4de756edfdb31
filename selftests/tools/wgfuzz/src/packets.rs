// SPDX-License-Identifier: GPL-2.0

//! The packet fuzzer: WireGuard messages that must all be dropped, sent at a live device while a real flow runs.
//!
//! Every datagram belongs to one [`Class`]: random bytes; valid type bytes with wrong lengths; initiations and
//! responses with bad MACs; initiation floods with a valid mac1 (so the device's cookie machinery engages), with a
//! valid mac2 too once a cookie reply was received and decrypted; forged cookie replies (to indices the device really
//! uses, learnt by capture); random data messages; and replays of the real flow's datagrams captured on an interface
//! (`--capture-if`, AF_PACKET): verbatim (stale counters), with the counter moved forward or back, bit-flipped (bad
//! Poly1305 tag) and truncated. Datagrams leave in `sendmmsg` batches from one unconnected-to-anything-else UDP
//! socket; cookie replies that come back to it are counted and used.

use crate::rng::Rng;
use crate::{base64_decode, seed, Args};
use blake2::digest::{consts::U16, Digest, KeyInit, Mac};
use blake2::{Blake2s256, Blake2sMac};
use chacha20poly1305::aead::{AeadInPlace, KeyInit as AeadKeyInit};
use chacha20poly1305::XChaCha20Poly1305;
use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Set by SIGTERM or SIGINT: stop sending and print the summary (a test stops a flood once it has seen enough).
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn stop_on_signals() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
}

const INIT_LEN: usize = 148;
const RESP_LEN: usize = 92;
const COOKIE_LEN: usize = 64;
const DATA_MIN: usize = 32;

#[derive(Clone, Copy, Debug)]
enum Class {
    Random,
    WrongLength,
    InitBadMac,
    InitFlood,
    InitFloodMac2,
    RespBadMac,
    RespValidMac1,
    ForgedCookie,
    DataRandom,
    ReplayVerbatim,
    ReplayCounter,
    ReplayBitflip,
    ReplayTruncated,
}

const CLASSES: [Class; 13] = [
    Class::Random,
    Class::WrongLength,
    Class::InitBadMac,
    Class::InitFlood,
    Class::InitFloodMac2,
    Class::RespBadMac,
    Class::RespValidMac1,
    Class::ForgedCookie,
    Class::DataRandom,
    Class::ReplayVerbatim,
    Class::ReplayCounter,
    Class::ReplayBitflip,
    Class::ReplayTruncated,
];

fn name(c: Class) -> &'static str {
    match c {
        Class::Random => "random",
        Class::WrongLength => "wrong_length",
        Class::InitBadMac => "init_bad_mac",
        Class::InitFlood => "init_flood_mac1",
        Class::InitFloodMac2 => "init_flood_mac2",
        Class::RespBadMac => "resp_bad_mac",
        Class::RespValidMac1 => "resp_valid_mac1",
        Class::ForgedCookie => "forged_cookie",
        Class::DataRandom => "data_random",
        Class::ReplayVerbatim => "replay_verbatim",
        Class::ReplayCounter => "replay_counter",
        Class::ReplayBitflip => "replay_bitflip",
        Class::ReplayTruncated => "replay_truncated",
    }
}

fn hash(label: &[u8], key: &[u8]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    h.update(label);
    h.update(key);
    h.finalize().into()
}

fn mac16(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(key).expect("key length");
    Mac::update(&mut m, data);
    m.finalize().into_bytes().into()
}

/// What the capture thread saw on the wire.
#[derive(Default)]
struct Captured {
    /// Datagrams sent to the target by someone else (the real peer): replay material.
    to_target: Vec<Vec<u8>>,
    /// Sender indices the target put in its own handshake messages: targets for forged cookie replies and responses.
    target_indices: Vec<u32>,
    seen: u64,
}

fn capture(ifname: &str, target: SocketAddrV4, own_port: u16, out: Arc<Mutex<Captured>>, stop: Arc<AtomicBool>) -> Result<(), String> {
    let cname = std::ffi::CString::new(ifname).map_err(|_| "bad interface name")?;
    // SAFETY: plain libc calls on a socket we own; the sockaddr is fully initialised.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, (libc::ETH_P_ALL as u16).to_be() as i32) };
    if fd < 0 {
        return Err(format!("AF_PACKET socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: as above.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no interface {ifname}"));
    }
    // SAFETY: zeroed sockaddr_ll is valid; fields set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = ifindex as i32;
    // Keep our own datagrams out of the capture in the kernel (a wake-up per sent datagram would halve the rate):
    // IPv4 with a 20-byte header, UDP, source port not ours.
    let prog = [
        libc::sock_filter { code: 0x30, jt: 0, jf: 0, k: 0 },          // ldb [0]
        libc::sock_filter { code: 0x15, jt: 0, jf: 5, k: 0x45 },       // jeq #0x45 else drop
        libc::sock_filter { code: 0x30, jt: 0, jf: 0, k: 9 },          // ldb [9]
        libc::sock_filter { code: 0x15, jt: 0, jf: 3, k: 17 },         // jeq #udp else drop
        libc::sock_filter { code: 0x28, jt: 0, jf: 0, k: 20 },         // ldh [20]
        libc::sock_filter { code: 0x15, jt: 1, jf: 0, k: u32::from(own_port) }, // jeq #own -> drop
        libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0xffff },     // ret accept
        libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0 },          // ret drop
    ];
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: fprog points at prog, alive for the call.
    if unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog as *const _ as *const libc::c_void, std::mem::size_of::<libc::sock_fprog>() as u32) } < 0 {
        return Err(format!("SO_ATTACH_FILTER: {}", std::io::Error::last_os_error()));
    }
    let tv = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
    // SAFETY: valid pointers and lengths.
    unsafe {
        if libc::bind(fd, &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32) < 0 {
            return Err(format!("bind AF_PACKET: {}", std::io::Error::last_os_error()));
        }
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv as *const _ as *const libc::c_void, std::mem::size_of::<libc::timeval>() as u32);
    }
    let mut buf = vec![0u8; 65536];
    let mut rng = Rng::new(7);
    let tip = target.ip().octets();
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n <= 0 {
            continue;
        }
        let p = &buf[..n as usize];
        if p.len() < 28 || p[0] >> 4 != 4 || p[9] != 17 {
            continue;
        }
        let ihl = usize::from(p[0] & 15) * 4;
        if p.len() < ihl + 8 {
            continue;
        }
        let sport = u16::from_be_bytes([p[ihl], p[ihl + 1]]);
        let dport = u16::from_be_bytes([p[ihl + 2], p[ihl + 3]]);
        let payload = &p[ihl + 8..];
        if payload.len() < 4 {
            continue;
        }
        let mut c = out.lock().unwrap_or_else(|e| e.into_inner());
        c.seen += 1;
        if p[16..20] == tip && dport == target.port() && sport != own_port {
            if c.to_target.len() < 512 {
                c.to_target.push(payload.to_vec());
            } else {
                let i = rng.below(512);
                c.to_target[i] = payload.to_vec();
            }
        } else if p[12..16] == tip && sport == target.port() && (payload[0] == 1 || payload[0] == 2) && payload.len() >= 8 {
            let idx = u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]);
            if c.target_indices.len() >= 64 {
                c.target_indices.remove(0);
            }
            c.target_indices.push(idx);
        }
    }
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    Ok(())
}

struct Gen {
    rng: Rng,
    mac1_key: [u8; 32],
    cookie_key: [u8; 32],
    /// mac1 of recent flood initiations by sender index, to open the cookie replies they earn.
    sent_mac1: HashMap<u32, [u8; 16]>,
    cookie: Option<([u8; 16], Instant)>,
    replay: Vec<Vec<u8>>,
    indices: Vec<u32>,
    flood_pct: u32,
}

impl Gen {
    fn pick(&mut self) -> Class {
        if self.rng.pct(self.flood_pct) {
            return if self.cookie.is_some_and(|(_, t)| t.elapsed() < Duration::from_secs(110)) && self.rng.pct(50) {
                Class::InitFloodMac2
            } else {
                Class::InitFlood
            };
        }
        loop {
            let c = CLASSES[self.rng.below(CLASSES.len())];
            match c {
                Class::InitFlood | Class::InitFloodMac2 => continue,
                Class::ReplayVerbatim | Class::ReplayCounter | Class::ReplayBitflip | Class::ReplayTruncated
                    if self.replay.is_empty() => return Class::DataRandom,
                _ => return c,
            }
        }
    }

    fn index(&mut self) -> u32 {
        if !self.indices.is_empty() && self.rng.pct(60) {
            self.indices[self.rng.below(self.indices.len())]
        } else {
            self.rng.edgy_u32()
        }
    }

    fn set_type(b: &mut [u8], t: u8) {
        if b.len() >= 4 {
            b[..4].copy_from_slice(&[t, 0, 0, 0]);
        }
    }

    fn make(&mut self, c: Class, b: &mut Vec<u8>) {
        b.clear();
        let r = &mut self.rng;
        match c {
            Class::Random => {
                b.resize(r.range(0, 256), 0);
                r.fill(b);
            }
            Class::WrongLength => {
                let t = r.range(1, 4) as u8;
                let exact = [0, INIT_LEN, RESP_LEN, COOKIE_LEN, 0][t as usize];
                let mut len = r.range(4, 200);
                if t == 4 {
                    len = r.range(4, DATA_MIN - 1);
                } else if len == exact {
                    len += 1;
                }
                b.resize(len, 0);
                r.fill(b);
                Self::set_type(b, t);
                if r.pct(30) {
                    b[1] = r.range(1, 255) as u8; // reserved bytes set: not a WireGuard type at all
                }
            }
            Class::InitBadMac | Class::InitFlood | Class::InitFloodMac2 => {
                b.resize(INIT_LEN, 0);
                r.fill(b);
                Self::set_type(b, 1);
                if !matches!(c, Class::InitBadMac) {
                    let mac1 = mac16(&self.mac1_key, &b[..116]);
                    b[116..132].copy_from_slice(&mac1);
                    let sender = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                    if self.sent_mac1.len() > 8192 {
                        self.sent_mac1.clear();
                    }
                    self.sent_mac1.insert(sender, mac1);
                    match (c, self.cookie) {
                        (Class::InitFloodMac2, Some((cookie, _))) => {
                            let mac2 = mac16(&cookie, &b[..132]);
                            b[132..148].copy_from_slice(&mac2);
                        }
                        _ => b[132..148].fill(0),
                    }
                }
            }
            Class::RespBadMac | Class::RespValidMac1 => {
                b.resize(RESP_LEN, 0);
                r.fill(b);
                Self::set_type(b, 2);
                let idx = self.index();
                b[8..12].copy_from_slice(&idx.to_le_bytes());
                if matches!(c, Class::RespValidMac1) {
                    let mac1 = mac16(&self.mac1_key, &b[..60]);
                    b[60..76].copy_from_slice(&mac1);
                    b[76..92].fill(0);
                }
            }
            Class::ForgedCookie => {
                b.resize(COOKIE_LEN, 0);
                self.rng.fill(b);
                Self::set_type(b, 3);
                let idx = self.index();
                b[4..8].copy_from_slice(&idx.to_le_bytes());
            }
            Class::DataRandom => {
                let len = 16 * self.rng.range(2, 40);
                b.resize(len, 0);
                self.rng.fill(b);
                Self::set_type(b, 4);
                let idx = self.index();
                b[4..8].copy_from_slice(&idx.to_le_bytes());
            }
            Class::ReplayVerbatim | Class::ReplayCounter | Class::ReplayBitflip | Class::ReplayTruncated => {
                let i = r.below(self.replay.len());
                b.extend_from_slice(&self.replay[i]);
                let is_data = b[0] == 4 && b.len() >= DATA_MIN;
                match c {
                    Class::ReplayCounter if is_data => {
                        let ctr = u64::from_le_bytes(b[8..16].try_into().unwrap_or([0; 8]));
                        let n = match r.below(4) {
                            0 => ctr.wrapping_add(r.range(1, 10_000) as u64), // future
                            1 => ctr.saturating_sub(r.range(1, 10_000) as u64), // stale
                            2 => u64::MAX - r.below(3) as u64,               // the rejected top
                            _ => r.u64(),
                        };
                        b[8..16].copy_from_slice(&n.to_le_bytes());
                    }
                    Class::ReplayCounter | Class::ReplayBitflip => {
                        for _ in 0..r.range(1, 4) {
                            let p = r.range(4.min(b.len() - 1), b.len() - 1);
                            b[p] ^= 1 << r.below(8);
                        }
                    }
                    Class::ReplayTruncated => {
                        let len = r.range(4, b.len().saturating_sub(1).max(4));
                        b.truncate(len);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Opens a cookie reply to one of our initiations; returns whether it was valid.
    fn take_cookie(&mut self, m: &[u8]) -> bool {
        if m.len() != COOKIE_LEN || m[..4] != [3, 0, 0, 0] {
            return false;
        }
        let idx = u32::from_le_bytes([m[4], m[5], m[6], m[7]]);
        let Some(mac1) = self.sent_mac1.get(&idx) else { return false };
        let aead = <XChaCha20Poly1305 as AeadKeyInit>::new((&self.cookie_key).into());
        let mut cookie = [0u8; 16];
        cookie.copy_from_slice(&m[32..48]);
        let ok = aead
            .decrypt_in_place_detached(m[8..32].into(), mac1, &mut cookie, m[48..64].into())
            .is_ok();
        if ok {
            self.cookie = Some((cookie, Instant::now()));
        }
        ok
    }
}

pub(crate) fn run(a: &Args) -> Result<(), String> {
    let target: SocketAddrV4 = a.need("target")?.parse().map_err(|_| "--target: want IPv4:PORT")?;
    let pubkey = base64_decode(a.need("pubkey")?).filter(|k| k.len() == 32).ok_or("--pubkey: want a base64 key")?;
    let count = a.num("count", 1_000_000)?;
    let seconds = a.num("seconds", 0)?;
    let batch = a.num("batch", 64)?.clamp(1, 1024) as usize;
    let pps = a.num("pps", 0)?;
    let seed = seed(a)?;
    let sock = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("bind: {e}"))?;
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let own_port = sock.local_addr().map_err(|e| e.to_string())?.port();

    let cap = Arc::new(Mutex::new(Captured::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let cap_thread = a.str("capture-if").map(|ifn| {
        let (ifn, cap, stop) = (ifn.to_string(), cap.clone(), stop.clone());
        std::thread::spawn(move || capture(&ifn, target, own_port, cap, stop))
    });

    let mut g = Gen {
        rng: Rng::new(seed),
        mac1_key: hash(b"mac1----", &pubkey),
        cookie_key: hash(b"cookie--", &pubkey),
        sent_mac1: HashMap::new(),
        cookie: None,
        replay: Vec::new(),
        indices: Vec::new(),
        flood_pct: a.num("flood-pct", 30)?.min(100) as u32,
    };
    let dst = SocketAddr::V4(target);
    let (dst_raw, dst_len) = sockaddr_in(&target);
    let _ = dst;
    let mut bufs: Vec<Vec<u8>> = (0..batch).map(|_| Vec::with_capacity(2048)).collect();
    let mut per_class = [0u64; CLASSES.len()];
    let (mut sent, mut send_errors, mut cookies_rx, mut cookies_valid, mut other_rx) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut last_report = start;
    let mut rbuf = [0u8; 2048];
    println!("# wgfuzz packets: seed {seed}, target {target}, count {count}, batch {batch}");
    stop_on_signals();
    while sent < count && (seconds == 0 || start.elapsed().as_secs() < seconds) && !STOP.load(Ordering::Relaxed) {
        if sent % 4096 < batch as u64 {
            let c = cap.lock().unwrap_or_else(|e| e.into_inner());
            g.replay.clone_from(&c.to_target);
            g.indices.clone_from(&c.target_indices);
        }
        let n = batch.min((count - sent) as usize);
        for b in bufs.iter_mut().take(n) {
            let c = g.pick();
            per_class[c as usize] += 1;
            g.make(c, b);
        }
        match sendmmsg(sock.as_raw_fd(), &bufs[..n], &dst_raw, dst_len) {
            Ok(k) => {
                sent += k as u64;
                if k < n {
                    send_errors += 1;
                }
            }
            Err(_) => {
                send_errors += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        // Whatever came back: cookie replies to our floods (others are counted, not expected).
        while let Ok(m) = sock.recv(&mut rbuf) {
            if m == COOKIE_LEN && rbuf[0] == 3 {
                cookies_rx += 1;
                if g.take_cookie(&rbuf[..m]) {
                    cookies_valid += 1;
                }
            } else {
                other_rx += 1;
            }
        }
        if pps > 0 {
            let due = Duration::from_secs_f64(sent as f64 / pps as f64);
            if let Some(w) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(w);
            }
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            let s = start.elapsed().as_secs_f64();
            println!("# {sent} sent in {s:.0} s ({:.0}/s), cookie replies {cookies_rx}", sent as f64 / s);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    // Late cookie replies.
    std::thread::sleep(Duration::from_millis(500));
    while let Ok(m) = sock.recv(&mut rbuf) {
        if m == COOKIE_LEN && rbuf[0] == 3 {
            cookies_rx += 1;
            if g.take_cookie(&rbuf[..m]) {
                cookies_valid += 1;
            }
        } else {
            other_rx += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = cap_thread {
        if let Ok(Err(e)) = t.join() {
            eprintln!("# capture: {e}");
        }
    }
    let c = cap.lock().unwrap_or_else(|e| e.into_inner());
    let classes: Vec<String> = CLASSES.iter().map(|&k| format!("{}={}", name(k), per_class[k as usize])).collect();
    println!("# per class: {}", classes.join(" "));
    println!(
        "sent={sent} seconds={secs:.1} rate={:.0} send_errors={send_errors} cookie_replies={cookies_rx} cookies_valid={cookies_valid} other_rx={other_rx} captured={} replay_pool={} target_indices={} seed={seed}",
        sent as f64 / secs,
        c.seen,
        c.to_target.len(),
        c.target_indices.len()
    );
    Ok(())
}

fn sockaddr_in(a: &SocketAddrV4) -> (libc::sockaddr_in, u32) {
    // SAFETY: an all-zero sockaddr_in is valid.
    let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    s.sin_family = libc::AF_INET as u16;
    s.sin_port = a.port().to_be();
    s.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
    (s, std::mem::size_of::<libc::sockaddr_in>() as u32)
}

/// Sends every buffer as one datagram to `dst` with one `sendmmsg` call; returns how many went.
fn sendmmsg(fd: i32, bufs: &[Vec<u8>], dst: &libc::sockaddr_in, dst_len: u32) -> std::io::Result<usize> {
    let mut iovs: Vec<libc::iovec> = bufs
        .iter()
        .map(|b| libc::iovec { iov_base: b.as_ptr() as *mut libc::c_void, iov_len: b.len() })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .map(|iov| {
            // SAFETY: an all-zero msghdr is valid; the pointers set stay alive for the call.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_name = dst as *const _ as *mut libc::c_void;
            h.msg_namelen = dst_len;
            h.msg_iov = iov;
            h.msg_iovlen = 1;
            libc::mmsghdr { msg_hdr: h, msg_len: 0 }
        })
        .collect();
    // SAFETY: msgs points at valid headers whose buffers outlive the call.
    let r = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), msgs.len() as u32, 0) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}
