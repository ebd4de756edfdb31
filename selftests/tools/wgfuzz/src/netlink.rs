// SPDX-License-Identifier: GPL-2.0

//! The netlink fuzzer: generic-netlink messages to the `wireguard` family that must all be refused.
//!
//! Each message is a well-formed GET or SET request for the device (random keys, ports, fwmarks, peers, endpoints,
//! allowed IPs, flags, with edge values) into which one to three [`Defect`]s are planted, each of which alone makes
//! the request invalid: unknown attribute types (and type 0) at every level, wrong lengths of fixed-size
//! attributes, NLA_F_NESTED missing or unexpected, attributes truncated or claiming more bytes than their nest
//! holds, bytes left over, peers without a key, out-of-range or unknown values (CIDR, address family, flag bits,
//! protocol version), bad device selectors, unknown commands and wrong flags. Some messages are random bytes
//! after a genl header instead. The reply to every message must be an error; a planted-defect message that is
//! accepted is printed and fails the run. A valid GET every 1000 messages checks that the family still answers.

use crate::rng::Rng;
use crate::{seed, Args};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const NETLINK_GENERIC: i32 = 16;
const SOL_NETLINK: i32 = 270;
const NETLINK_CAP_ACK: i32 = 10;
const NETLINK_EXT_ACK: i32 = 11;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLA_F_NESTED: u16 = 0x8000;
const GENL_ID_CTRL: u16 = 0x10;

const CMD_GET: u8 = 0;
const CMD_SET: u8 = 1;

/// An attribute tree node.
#[derive(Clone)]
enum Node {
    Leaf(u16, Vec<u8>),
    Nest(u16, bool, Vec<Node>),
    /// Bytes emitted as they are (defects: lying headers, leftovers).
    Raw(Vec<u8>),
}

fn put(out: &mut Vec<u8>, n: &Node) {
    match n {
        Node::Leaf(t, d) => {
            let len = 4 + d.len();
            out.extend_from_slice(&(len as u16).to_ne_bytes());
            out.extend_from_slice(&t.to_ne_bytes());
            out.extend_from_slice(d);
            out.resize(out.len() + (len.wrapping_neg() & 3), 0);
        }
        Node::Nest(t, nested, kids) => {
            let start = out.len();
            out.extend_from_slice(&[0; 4]);
            for k in kids {
                put(out, k);
            }
            let len = out.len() - start;
            let t = if *nested { t | NLA_F_NESTED } else { *t };
            out[start..start + 2].copy_from_slice(&(len as u16).to_ne_bytes());
            out[start + 2..start + 4].copy_from_slice(&t.to_ne_bytes());
        }
        Node::Raw(b) => out.extend_from_slice(b),
    }
}

/// What makes a message invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Defect {
    UnknownType,
    WrongLength,
    NestFlag,
    Truncated,
    Leftover,
    PeerWithoutKey,
    AllowedIpIncomplete,
    BadCidr,
    BadFamily,
    UnknownFlags,
    BadVersion,
    BadEndpoint,
    BadSelector,
    BadCommand,
    BadNlFlags,
    RandomPayload,
}

const DEFECTS: [Defect; 15] = [
    Defect::UnknownType,
    Defect::WrongLength,
    Defect::NestFlag,
    Defect::Truncated,
    Defect::Leftover,
    Defect::PeerWithoutKey,
    Defect::AllowedIpIncomplete,
    Defect::BadCidr,
    Defect::BadFamily,
    Defect::UnknownFlags,
    Defect::BadVersion,
    Defect::BadEndpoint,
    Defect::BadSelector,
    Defect::BadCommand,
    Defect::BadNlFlags,
];

/// A generated request.
struct Msg {
    cmd: u8,
    flags: u16,
    version: u8,
    attrs: Vec<Node>,
    defects: Vec<Defect>,
    /// Raw payload instead of `attrs` (random bytes).
    raw: Option<Vec<u8>>,
}

struct Gen<'a> {
    r: Rng,
    ifname: &'a str,
    ifindex: u32,
}

fn u8a(t: u16, v: u8) -> Node {
    Node::Leaf(t, vec![v])
}
fn u16a(t: u16, v: u16) -> Node {
    Node::Leaf(t, v.to_ne_bytes().to_vec())
}
fn u32a(t: u16, v: u32) -> Node {
    Node::Leaf(t, v.to_ne_bytes().to_vec())
}

impl Gen<'_> {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.r.fill(&mut v);
        v
    }

    fn allowed_ip(&mut self) -> Node {
        let v6 = self.r.pct(40);
        let mut kids = vec![
            u16a(1, if v6 { 10 } else { 2 }),
            Node::Leaf(2, self.bytes(if v6 { 16 } else { 4 })),
            u8a(3, self.r.range(0, if v6 { 128 } else { 32 }) as u8),
        ];
        if self.r.pct(20) {
            kids.push(u32a(4, self.r.below(2) as u32));
        }
        self.shuffle(&mut kids);
        Node::Nest(0, true, kids)
    }

    fn peer(&mut self) -> Node {
        let mut kids = vec![Node::Leaf(1, self.bytes(32))];
        if self.r.pct(30) {
            kids.push(Node::Leaf(2, self.bytes(32)));
        }
        if self.r.pct(40) {
            kids.push(u32a(3, self.r.below(8) as u32));
        }
        if self.r.pct(40) {
            let mut sa = if self.r.pct(50) {
                let mut s = vec![0u8; 16];
                s[..2].copy_from_slice(&2u16.to_ne_bytes());
                s
            } else {
                let mut s = vec![0u8; 28];
                s[..2].copy_from_slice(&10u16.to_ne_bytes());
                s
            };
            let mut rest = self.bytes(sa.len() - 2);
            if sa.len() == 16 {
                rest[6..].fill(0);
            }
            sa[2..].copy_from_slice(&rest);
            kids.push(Node::Leaf(4, sa));
        }
        if self.r.pct(30) {
            let v = self.r.edgy_u32() as u16;
            kids.push(u16a(5, v));
        }
        if self.r.pct(10) {
            kids.push(Node::Leaf(6, self.bytes(16)));
        }
        if self.r.pct(10) {
            kids.push(Node::Leaf(7, self.bytes(8)));
        }
        if self.r.pct(10) {
            kids.push(Node::Leaf(8, self.bytes(8)));
        }
        if self.r.pct(20) {
            kids.push(u32a(10, 1));
        }
        if self.r.pct(60) {
            let n = self.r.range(0, 4);
            let ips = (0..n).map(|_| self.allowed_ip()).collect();
            kids.push(Node::Nest(9, true, ips));
        }
        self.shuffle(&mut kids);
        Node::Nest(0, true, kids)
    }

    fn shuffle(&mut self, v: &mut [Node]) {
        for i in (1..v.len()).rev() {
            let j = self.r.below(i + 1);
            v.swap(i, j);
        }
    }

    fn selector(&mut self) -> Node {
        if self.r.pct(70) {
            let mut n = self.ifname.as_bytes().to_vec();
            n.push(0);
            Node::Leaf(2, n)
        } else {
            u32a(1, self.ifindex)
        }
    }

    fn valid(&mut self) -> Msg {
        let set = self.r.pct(80);
        let mut attrs = vec![self.selector()];
        if set {
            if self.r.pct(30) {
                attrs.push(Node::Leaf(3, self.bytes(32)));
            }
            if self.r.pct(10) {
                attrs.push(Node::Leaf(4, self.bytes(32)));
            }
            if self.r.pct(30) {
                attrs.push(u32a(5, self.r.below(2) as u32));
            }
            if self.r.pct(30) {
                let v = self.r.edgy_u32() as u16;
                attrs.push(u16a(6, v));
            }
            if self.r.pct(30) {
                let v = self.r.edgy_u32();
                attrs.push(u32a(7, v));
            }
            if self.r.pct(70) {
                let n = self.r.range(0, 3);
                let peers = (0..n).map(|_| self.peer()).collect();
                attrs.push(Node::Nest(8, true, peers));
            }
            self.shuffle(&mut attrs);
        }
        Msg {
            cmd: if set { CMD_SET } else { CMD_GET },
            flags: NLM_F_REQUEST | NLM_F_ACK | if set { 0 } else { NLM_F_DUMP },
            version: 1,
            attrs,
            defects: Vec::new(),
            raw: None,
        }
    }

    /// Containers of a level: paths (indices into nested kid lists) to nests at `depth` 0 = device, 1 = peer,
    /// 2 = allowed IP.
    fn containers(attrs: &[Node], depth: usize) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        if depth == 0 {
            out.push(Vec::new());
            return out;
        }
        for (i, a) in attrs.iter().enumerate() {
            if let Node::Nest(8, _, peers) = a {
                for (j, p) in peers.iter().enumerate() {
                    if depth == 1 {
                        out.push(vec![i, j]);
                    } else if let Node::Nest(_, _, pk) = p {
                        for (k, x) in pk.iter().enumerate() {
                            if let Node::Nest(9, _, ips) = x {
                                for l in 0..ips.len() {
                                    out.push(vec![i, j, k, l]);
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn kids_at<'n>(attrs: &'n mut Vec<Node>, path: &[usize]) -> &'n mut Vec<Node> {
        let mut cur = attrs;
        for &i in path {
            cur = match &mut cur[i] {
                Node::Nest(_, _, k) => k,
                _ => unreachable!("paths lead through nests"),
            };
        }
        cur
    }

    /// A random container of the message (device, a peer or an allowed IP), with its depth.
    fn some_container(&mut self, attrs: &[Node]) -> (Vec<usize>, usize) {
        let mut all: Vec<(Vec<usize>, usize)> = Vec::new();
        for d in 0..3 {
            all.extend(Self::containers(attrs, d).into_iter().map(|p| (p, d)));
        }
        all.swap_remove(self.r.below(all.len()))
    }

    /// Plants `d` in `m`; returns false if the message has no place for it.
    fn plant(&mut self, m: &mut Msg, d: Defect) -> bool {
        let is_set = m.cmd == CMD_SET;
        // GET parses only the device level.
        if !is_set && !matches!(d, Defect::UnknownType | Defect::BadSelector | Defect::BadCommand | Defect::BadNlFlags | Defect::Truncated | Defect::Leftover | Defect::WrongLength) {
            return false;
        }
        match d {
            Defect::UnknownType => {
                let (path, depth) = if is_set { self.some_container(&m.attrs) } else { (Vec::new(), 0) };
                let max = [8, 10, 4][depth];
                let t = if self.r.pct(20) { 0 } else { self.r.range(max + 1, 0x3fff) as u16 };
                let t = if self.r.pct(20) { t | NLA_F_NESTED } else { t };
                let n = self.r.range(0, 24);
                let leaf = Node::Leaf(t, self.bytes(n));
                let kids = Self::kids_at(&mut m.attrs, &path);
                let at = self.r.range(0, kids.len());
                kids.insert(at, leaf);
            }
            Defect::WrongLength => {
                let (path, depth) = if is_set { self.some_container(&m.attrs) } else { (Vec::new(), 0) };
                // Exact sizes per level and type.
                let exact: &[(u16, usize)] = match depth {
                    0 => &[(1, 4), (3, 32), (4, 32), (5, 4), (6, 2), (7, 4)],
                    1 => &[(1, 32), (2, 32), (3, 4), (5, 2), (6, 16), (7, 8), (8, 8), (10, 4)],
                    _ => &[(1, 2), (3, 1), (4, 4)],
                };
                let (t, len) = exact[self.r.below(exact.len())];
                let mut n = self.r.range(0, 40);
                if n == len {
                    n += 1;
                }
                let leaf = Node::Leaf(t, self.bytes(n));
                let kids = Self::kids_at(&mut m.attrs, &path);
                if let Some(i) = kids.iter().position(|k| matches!(k, Node::Leaf(kt, _) if *kt == t)) {
                    kids[i] = leaf;
                } else {
                    let at = self.r.range(0, kids.len());
                    kids.insert(at, leaf);
                }
            }
            Defect::NestFlag => {
                // Drop NLA_F_NESTED from a nest, or set it on a leaf.
                let (path, _) = self.some_container(&m.attrs);
                let kids = Self::kids_at(&mut m.attrs, &path);
                let nests: Vec<usize> = kids.iter().enumerate().filter(|(_, k)| matches!(k, Node::Nest(..))).map(|(i, _)| i).collect();
                let leaves: Vec<usize> = kids.iter().enumerate().filter(|(_, k)| matches!(k, Node::Leaf(..))).map(|(i, _)| i).collect();
                if !nests.is_empty() && (leaves.is_empty() || self.r.pct(50)) {
                    let i = nests[self.r.below(nests.len())];
                    if let Node::Nest(_, f, _) = &mut kids[i] {
                        *f = false;
                    }
                } else if !leaves.is_empty() {
                    let i = leaves[self.r.below(leaves.len())];
                    if let Node::Leaf(t, _) = &mut kids[i] {
                        *t |= NLA_F_NESTED;
                    }
                } else {
                    return false;
                }
            }
            Defect::Truncated => {
                let (path, _) = if is_set { self.some_container(&m.attrs) } else { (Vec::new(), 0) };
                let t = self.r.range(1, 10) as u16;
                let pay = self.r.range(0, 8);
                let mut raw = Vec::new();
                let claimed = if self.r.pct(30) {
                    self.r.range(0, 3) // shorter than a header
                } else {
                    4 + pay + self.r.range(1, 2000) // more than there is
                };
                raw.extend_from_slice(&(claimed as u16).to_ne_bytes());
                raw.extend_from_slice(&t.to_ne_bytes());
                raw.extend(self.bytes(pay));
                Self::kids_at(&mut m.attrs, &path).push(Node::Raw(raw));
            }
            Defect::Leftover => {
                let (path, _) = if is_set { self.some_container(&m.attrs) } else { (Vec::new(), 0) };
                let n = self.r.range(1, 3);
                let b = self.bytes(n);
                Self::kids_at(&mut m.attrs, &path).push(Node::Raw(b));
            }
            Defect::PeerWithoutKey => {
                let peers = Self::containers(&m.attrs, 1);
                if peers.is_empty() {
                    return false;
                }
                let p = &peers[self.r.below(peers.len())];
                Self::kids_at(&mut m.attrs, p).retain(|k| !matches!(k, Node::Leaf(1, _)));
            }
            Defect::AllowedIpIncomplete => {
                let ips = Self::containers(&m.attrs, 2);
                if ips.is_empty() {
                    return false;
                }
                let p = &ips[self.r.below(ips.len())];
                let t = self.r.range(1, 3) as u16;
                Self::kids_at(&mut m.attrs, p).retain(|k| !matches!(k, Node::Leaf(kt, _) if *kt == t));
            }
            Defect::BadCidr | Defect::BadFamily => {
                // Rewriting the family or CIDR leaf could undo a wrong length planted there.
                if m.defects.contains(&Defect::WrongLength) {
                    return false;
                }
                let ips = Self::containers(&m.attrs, 2);
                if ips.is_empty() {
                    return false;
                }
                let p = ips[self.r.below(ips.len())].clone();
                let bad_cidr = d == Defect::BadCidr;
                let fam_pick = self.r.range(0, 0xffff) as u16;
                let cidr_pick = self.r.range(129, 255) as u8;
                let cidr_v4 = self.r.range(33, 255) as u8;
                let swap_len = self.r.pct(50);
                let kids = Self::kids_at(&mut m.attrs, &p);
                let fam = kids.iter().find_map(|k| match k {
                    Node::Leaf(1, v) if v.len() == 2 => Some(u16::from_ne_bytes([v[0], v[1]])),
                    _ => None,
                });
                for k in kids.iter_mut() {
                    match k {
                        Node::Leaf(3, v) if bad_cidr && v.len() == 1 => v[0] = if fam == Some(2) { cidr_v4 } else { cidr_pick },
                        Node::Leaf(1, v) if !bad_cidr => {
                            let f = if swap_len {
                                // The other family: the address length no longer matches.
                                if fam == Some(2) { 10 } else { 2 }
                            } else if fam_pick == 2 || fam_pick == 10 {
                                3
                            } else {
                                fam_pick
                            };
                            *v = f.to_ne_bytes().to_vec();
                        }
                        _ => {}
                    }
                }
            }
            Defect::UnknownFlags => {
                let (path, depth) = self.some_container(&m.attrs);
                let (t, known) = [(5u16, 1u32), (3, 7), (4, 1)][depth];
                let mut v = self.r.edgy_u32() & !known;
                if v == 0 {
                    v = 1 << self.r.range(known.count_ones() as usize, 31);
                }
                v |= self.r.u32() & known;
                let kids = Self::kids_at(&mut m.attrs, &path);
                kids.retain(|k| !matches!(k, Node::Leaf(kt, _) if *kt == t));
                kids.push(u32a(t, v));
            }
            Defect::BadVersion => {
                let peers = Self::containers(&m.attrs, 1);
                if peers.is_empty() {
                    return false;
                }
                let p = peers[self.r.below(peers.len())].clone();
                let mut v = self.r.edgy_u32();
                if v == 1 {
                    v = 2;
                }
                let kids = Self::kids_at(&mut m.attrs, &p);
                kids.retain(|k| !matches!(k, Node::Leaf(10, _)));
                kids.push(u32a(10, v));
            }
            Defect::BadEndpoint => {
                let peers = Self::containers(&m.attrs, 1);
                if peers.is_empty() {
                    return false;
                }
                let p = peers[self.r.below(peers.len())].clone();
                // At least a struct sockaddr, but not a sockaddr_in/_in6 of exactly its size.
                let (fam, len) = match self.r.below(3) {
                    0 => (2u16, self.r.range(17, 64)),
                    1 => (10, if self.r.pct(50) { self.r.range(16, 27) } else { self.r.range(29, 64) }),
                    _ => {
                        let f = self.r.range(0, 0xffff) as u16;
                        (if f == 2 || f == 10 { 0 } else { f }, self.r.range(16, 64))
                    }
                };
                let mut sa = self.bytes(len);
                sa[..2].copy_from_slice(&fam.to_ne_bytes());
                let kids = Self::kids_at(&mut m.attrs, &p);
                kids.retain(|k| !matches!(k, Node::Leaf(4, _)));
                kids.push(Node::Leaf(4, sa));
            }
            Defect::BadSelector => {
                m.attrs.retain(|k| !matches!(k, Node::Leaf(1 | 2, _)));
                match self.r.below(5) {
                    0 => {}
                    1 => {
                        let mut n = self.ifname.as_bytes().to_vec();
                        n.push(0);
                        m.attrs.push(Node::Leaf(2, n));
                        m.attrs.push(u32a(1, self.ifindex));
                    }
                    2 => {
                        // A name that is no WireGuard device here.
                        let names: [&[u8]; 4] = [b"nonexistent0\0", b"lo\0", b"\0", b"wg-nothere\0"];
                        let n = names[self.r.below(names.len())].to_vec();
                        m.attrs.push(Node::Leaf(2, n));
                    }
                    3 => {
                        // Not NUL-terminated, or too long.
                        let n = if self.r.pct(50) {
                            self.ifname.as_bytes().to_vec()
                        } else {
                            let mut v = vec![b'a'; self.r.range(16, 40)];
                            v.push(0);
                            v
                        };
                        m.attrs.push(Node::Leaf(2, n));
                    }
                    _ => {
                        // An ifindex that is not a WireGuard device: 0, 1 (lo) or absurd.
                        let i = [0u32, 1, 0x7fff_ffff, 0xffff_ffff][self.r.below(4)];
                        m.attrs.push(u32a(1, i));
                    }
                }
                self.shuffle(&mut m.attrs);
            }
            Defect::BadCommand => {
                m.cmd = self.r.range(2, 255) as u8;
            }
            Defect::BadNlFlags => {
                // GET has only a dump handler, SET only a doit one.
                if is_set {
                    m.flags |= NLM_F_DUMP;
                } else {
                    m.flags &= !NLM_F_DUMP;
                }
            }
            Defect::RandomPayload => unreachable!(),
        }
        m.defects.push(d);
        true
    }

    fn next(&mut self) -> Msg {
        if self.r.pct(5) {
            let n = self.r.range(0, 256);
            let raw = self.bytes(n);
            let cmd = if self.r.pct(50) { CMD_SET } else { self.r.below(256) as u8 };
            return Msg {
                cmd,
                flags: NLM_F_REQUEST | NLM_F_ACK,
                version: self.r.below(4) as u8,
                attrs: Vec::new(),
                defects: vec![Defect::RandomPayload],
                raw: Some(raw),
            };
        }
        let mut m = self.valid();
        if self.r.pct(10) {
            m.version = self.r.below(256) as u8; // the version byte is not checked: not a defect
        }
        let want = self.r.range(1, 3);
        let mut tries = 0;
        while m.defects.len() < want && tries < 20 {
            tries += 1;
            let d = DEFECTS[self.r.below(DEFECTS.len())];
            if m.defects.contains(&d) {
                continue;
            }
            self.plant(&mut m, d);
        }
        if m.defects.is_empty() {
            self.plant(&mut m, Defect::BadCommand);
        }
        m
    }
}

struct Sock {
    fd: i32,
    seq: u32,
    buf: Vec<u8>,
}

impl Sock {
    fn open() -> Result<Self, String> {
        // SAFETY: plain socket calls on an fd we own, with valid option pointers.
        unsafe {
            let fd = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, NETLINK_GENERIC);
            if fd < 0 {
                return Err(format!("netlink socket: {}", std::io::Error::last_os_error()));
            }
            let one: i32 = 1;
            for o in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
                libc::setsockopt(fd, SOL_NETLINK, o, &one as *const _ as *const libc::c_void, 4);
            }
            let tv = libc::timeval { tv_sec: 2, tv_usec: 0 };
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv as *const _ as *const libc::c_void, std::mem::size_of::<libc::timeval>() as u32);
            Ok(Self { fd, seq: 1, buf: vec![0; 1 << 16] })
        }
    }

    /// Sends one message; returns its sequence number.
    fn send(&mut self, ty: u16, flags: u16, cmd: u8, version: u8, payload: &[u8]) -> Result<u32, String> {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let len = 20 + payload.len();
        let mut m = Vec::with_capacity(len);
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&[cmd, version, 0, 0]);
        m.extend_from_slice(payload);
        // SAFETY: m is valid for its length.
        let r = unsafe { libc::send(self.fd, m.as_ptr() as *const libc::c_void, m.len(), 0) };
        if r < 0 {
            return Err(format!("send: {}", std::io::Error::last_os_error()));
        }
        Ok(seq)
    }

    /// Reads until the final message (ERROR or DONE) for `seq`: (errno, messages before it); None on timeout.
    fn wait(&mut self, seq: u32) -> Result<Option<(i32, usize, Vec<u8>)>, String> {
        let mut msgs = 0;
        let mut first = Vec::new();
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe { libc::recv(self.fd, self.buf.as_mut_ptr() as *mut libc::c_void, self.buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(None),
                    Some(libc::ENOBUFS) => continue,
                    _ => Err(format!("recv: {e}")),
                };
            }
            let data = &self.buf[..n as usize];
            let mut off = 0;
            while off + 16 <= data.len() {
                let len = u32::from_ne_bytes(data[off..off + 4].try_into().unwrap_or([0; 4])) as usize;
                let ty = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
                let s = u32::from_ne_bytes(data[off + 8..off + 12].try_into().unwrap_or([0; 4]));
                if len < 16 || off + len > data.len() {
                    break;
                }
                let body = &data[off + 16..off + len];
                if s == seq {
                    if ty == NLMSG_ERROR || ty == NLMSG_DONE {
                        let e = body.get(..4).map(|b| i32::from_ne_bytes(b.try_into().unwrap_or([0; 4]))).unwrap_or(0);
                        return Ok(Some((-e, msgs, first)));
                    }
                    if msgs == 0 {
                        first = body.to_vec();
                    }
                    msgs += 1;
                }
                off += (len + 3) & !3;
            }
        }
    }
}

fn family_id(s: &mut Sock, name: &str) -> Result<u16, String> {
    let mut p = Vec::new();
    let mut n = name.as_bytes().to_vec();
    n.push(0);
    put(&mut p, &Node::Leaf(2, n));
    let seq = s.send(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 3, 1, &p)?;
    let (e, msgs, body) = s.wait(seq)?.ok_or("no reply from nlctrl")?;
    if e != 0 || msgs == 0 {
        return Err(format!("family {name}: errno {e}"));
    }
    let mut a = &body[4..];
    while a.len() >= 4 {
        let l = u16::from_ne_bytes([a[0], a[1]]) as usize;
        let t = u16::from_ne_bytes([a[2], a[3]]) & 0x3fff;
        if l < 4 || l > a.len() {
            break;
        }
        if t == 1 && l >= 6 {
            return Ok(u16::from_ne_bytes([a[4], a[5]]));
        }
        a = &a[((l + 3) & !3).min(a.len())..];
    }
    Err("no family id in the reply".into())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn run(a: &Args) -> Result<(), String> {
    let ifname = a.need("ifname")?;
    let count = a.num("count", 1_000_000)?;
    let seconds = a.num("seconds", 0)?;
    let seed = seed(a)?;
    let cname = std::ffi::CString::new(ifname).map_err(|_| "bad name")?;
    // SAFETY: valid C string.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no interface {ifname}"));
    }
    let mut s = Sock::open()?;
    let fam = family_id(&mut s, a.str("family").unwrap_or("wireguard"))?;
    let mut g = Gen { r: Rng::new(seed), ifname, ifindex };
    println!("# wgfuzz netlink: seed {seed}, family id {fam}, {ifname} (ifindex {ifindex}), count {count}");
    let mut errnos: BTreeMap<i32, u64> = BTreeMap::new();
    let mut per_defect: BTreeMap<Defect, u64> = BTreeMap::new();
    let (mut sent, mut accepted, mut random_accepted, mut timeouts, mut sanity) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut last = start;
    let mut payload = Vec::with_capacity(4096);
    while sent < count && (seconds == 0 || start.elapsed().as_secs() < seconds) {
        if sent % 1000 == 999 {
            // The family still answers a valid request.
            payload.clear();
            let mut n = ifname.as_bytes().to_vec();
            n.push(0);
            put(&mut payload, &Node::Leaf(2, n));
            let seq = s.send(fam, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP, CMD_GET, 1, &payload)?;
            match s.wait(seq)? {
                Some((0, m, _)) if m > 0 => sanity += 1,
                other => return Err(format!("a valid GET after {sent} messages failed: {:?}", other.map(|o| (o.0, o.1)))),
            }
        }
        let m = g.next();
        payload.clear();
        match &m.raw {
            Some(r) => payload.extend_from_slice(r),
            None => {
                for n in &m.attrs {
                    put(&mut payload, n);
                }
            }
        }
        if payload.len() > 60000 {
            continue;
        }
        for d in &m.defects {
            *per_defect.entry(*d).or_default() += 1;
        }
        let seq = s.send(fam, m.flags, m.cmd, m.version, &payload)?;
        sent += 1;
        match s.wait(seq)? {
            None => timeouts += 1,
            Some((e, _, _)) => {
                *errnos.entry(e).or_default() += 1;
                if e == 0 {
                    if m.defects == [Defect::RandomPayload] {
                        random_accepted += 1;
                    } else {
                        accepted += 1;
                        if accepted <= 10 {
                            println!("ACCEPTED cmd {} flags {:#x} defects {:?}: {}", m.cmd, m.flags, m.defects, hex(&payload));
                        }
                    }
                }
            }
        }
        if last.elapsed() > Duration::from_secs(30) {
            last = Instant::now();
            let t = start.elapsed().as_secs_f64();
            println!("# {sent} sent in {t:.0} s ({:.0}/s)", sent as f64 / t);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let errs: Vec<String> = errnos.iter().map(|(e, n)| format!("{e}:{n}")).collect();
    let defs: Vec<String> = per_defect.iter().map(|(d, n)| format!("{d:?}={n}")).collect();
    println!("# errnos (errno:count): {}", errs.join(" "));
    println!("# defects planted: {}", defs.join(" "));
    println!(
        "sent={sent} seconds={secs:.1} rate={:.0} accepted={accepted} random_accepted={random_accepted} timeouts={timeouts} sanity_gets={sanity} seed={seed}",
        sent as f64 / secs
    );
    if accepted > 0 || timeouts > 0 {
        return Err(format!("{accepted} invalid messages accepted, {timeouts} unanswered"));
    }
    Ok(())
}
