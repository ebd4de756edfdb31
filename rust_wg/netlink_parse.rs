// SPDX-License-Identifier: GPL-2.0

//! Strict parsing of `WG_CMD_GET_DEVICE` and `WG_CMD_SET_DEVICE` requests into a device name and a
//! [`DeviceUpdate`].
//!
//! The whole request is parsed and validated before anything is applied, so a SET that is refused changes nothing
//! (the C driver validates peer by peer while applying). Validation is strict everywhere, like
//! `NL_VALIDATE_STRICT`: unknown attribute types and type 0 are refused, integers must have their exact size, nests
//! must carry `NLA_F_NESTED` and other attributes must not, and truncated attributes or bytes left over are refused.
//! Every refusal names the attribute in the extended ack and points at it. The errno values are those of the C
//! driver (`EINVAL`, `EOPNOTSUPP` for unknown flags, `EPFNOSUPPORT` for a protocol version other than 1, `EBADR`
//! for a request naming the device by neither or both of ifindex and ifname).

use crate::config::{AllowedIpUpdate, DeviceUpdate, IpAddr, Key, PeerUpdate};
use crate::netlink_attr::{exact, Attr, Attrs, Malformed, NLA_HDRLEN};
use crate::netlink_uapi::*;
use crate::proto::addr::SocketAddr;
use kernel::{alloc::AllocError, bindings, c_str, prelude::*};

/// A refused request: the errno, the extended-ack text and where the offending attribute starts (offset from the
/// first attribute of the request).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub errno: Error,
    pub msg: &'static CStr,
    pub offset: Option<usize>,
}

impl Refusal {
    fn at(errno: Error, msg: &'static CStr, attr: &Attr<'_>) -> Self {
        Self {
            errno,
            msg,
            offset: Some(attr.offset),
        }
    }

    fn einval(msg: &'static CStr, attr: &Attr<'_>) -> Self {
        Self::at(EINVAL, msg, attr)
    }
}

impl From<AllocError> for Refusal {
    fn from(_: AllocError) -> Self {
        Self {
            errno: ENOMEM,
            msg: c_str!("out of memory"),
            offset: None,
        }
    }
}

/// `EOPNOTSUPP`, `EPFNOSUPPORT` and `EBADR`, which `kernel::error::code` does not have.
pub(crate) fn errno(e: u32) -> Error {
    Error::from_errno(-(e as i32))
}

/// What the payload of an attribute must look like.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    U8,
    U16,
    U32,
    U64,
    /// Exactly this many bytes.
    Exact(usize),
    /// At least this many bytes.
    Min(usize),
    /// A NUL-terminated string of at most this many bytes including the NUL (`NLA_NUL_STRING`).
    Str(usize),
    /// A nest.
    Nest,
}

/// The policy of one attribute type, with the texts that name it.
struct Policy {
    kind: Kind,
    /// "<NAME>: wrong length" (also for a string without its NUL).
    bad_len: &'static CStr,
    /// "<NAME>: NLA_F_NESTED missing" for nests, "<NAME>: NLA_F_NESTED unexpected" otherwise.
    bad_flag: &'static CStr,
}

macro_rules! pol {
    ($name:ident, Nest) => {
        Some(Policy {
            kind: Kind::Nest,
            bad_len: c_str!(concat!(stringify!($name), ": wrong length")),
            bad_flag: c_str!(concat!(stringify!($name), ": NLA_F_NESTED missing")),
        })
    };
    ($name:ident, $kind:expr) => {
        Some(Policy {
            kind: $kind,
            bad_len: c_str!(concat!(stringify!($name), ": wrong length")),
            bad_flag: c_str!(concat!(stringify!($name), ": NLA_F_NESTED unexpected")),
        })
    };
}

/// One level of nesting: its policies (index = type; `None` for type 0) and texts.
struct Level {
    policies: &'static [Option<Policy>],
    unknown: &'static CStr,
    truncated: &'static CStr,
    leftover: &'static CStr,
}

static DEVICE: Level = Level {
    policies: &[
        None,
        pol!(WGDEVICE_A_IFINDEX, Kind::U32),
        pol!(WGDEVICE_A_IFNAME, Kind::Str(IFNAMSIZ)),
        pol!(WGDEVICE_A_PRIVATE_KEY, Kind::Exact(32)),
        pol!(WGDEVICE_A_PUBLIC_KEY, Kind::Exact(32)),
        pol!(WGDEVICE_A_FLAGS, Kind::U32),
        pol!(WGDEVICE_A_LISTEN_PORT, Kind::U16),
        pol!(WGDEVICE_A_FWMARK, Kind::U32),
        pol!(WGDEVICE_A_PEERS, Nest),
    ],
    unknown: c_str!("WGDEVICE_A_*: unknown attribute type"),
    truncated: c_str!("WGDEVICE_A_*: attribute truncated or of bad length"),
    leftover: c_str!("WGDEVICE_A_*: bytes leftover after parsing attributes"),
};

static PEER: Level = Level {
    policies: &[
        None,
        pol!(WGPEER_A_PUBLIC_KEY, Kind::Exact(32)),
        pol!(WGPEER_A_PRESHARED_KEY, Kind::Exact(32)),
        pol!(WGPEER_A_FLAGS, Kind::U32),
        pol!(WGPEER_A_ENDPOINT, Kind::Min(SOCKADDR_IN_LEN)),
        pol!(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, Kind::U16),
        pol!(WGPEER_A_LAST_HANDSHAKE_TIME, Kind::Exact(16)),
        pol!(WGPEER_A_RX_BYTES, Kind::U64),
        pol!(WGPEER_A_TX_BYTES, Kind::U64),
        pol!(WGPEER_A_ALLOWEDIPS, Nest),
        pol!(WGPEER_A_PROTOCOL_VERSION, Kind::U32),
    ],
    unknown: c_str!("WGPEER_A_*: unknown attribute type"),
    truncated: c_str!("WGPEER_A_*: attribute truncated or of bad length"),
    leftover: c_str!("WGPEER_A_*: bytes leftover after parsing attributes"),
};

static ALLOWEDIP: Level = Level {
    policies: &[
        None,
        pol!(WGALLOWEDIP_A_FAMILY, Kind::U16),
        pol!(WGALLOWEDIP_A_IPADDR, Kind::Min(4)),
        pol!(WGALLOWEDIP_A_CIDR_MASK, Kind::U8),
        pol!(WGALLOWEDIP_A_FLAGS, Kind::U32),
    ],
    unknown: c_str!("WGALLOWEDIP_A_*: unknown attribute type"),
    truncated: c_str!("WGALLOWEDIP_A_*: attribute truncated or of bad length"),
    leftover: c_str!("WGALLOWEDIP_A_*: bytes leftover after parsing attributes"),
};

/// The entries of an array nest (`WGDEVICE_A_PEERS`, `WGPEER_A_ALLOWEDIPS`): nests of any type.
struct Array {
    not_nest: &'static CStr,
    truncated: &'static CStr,
    leftover: &'static CStr,
}

static PEERS: Array = Array {
    not_nest: c_str!("WGDEVICE_A_PEERS: entry without NLA_F_NESTED"),
    truncated: c_str!("WGDEVICE_A_PEERS: entry truncated or of bad length"),
    leftover: c_str!("WGDEVICE_A_PEERS: bytes leftover after the last entry"),
};

static ALLOWEDIPS: Array = Array {
    not_nest: c_str!("WGPEER_A_ALLOWEDIPS: entry without NLA_F_NESTED"),
    truncated: c_str!("WGPEER_A_ALLOWEDIPS: entry truncated or of bad length"),
    leftover: c_str!("WGPEER_A_ALLOWEDIPS: bytes leftover after the last entry"),
};

/// Maps a malformation at the end of `it` to a refusal.
fn malformed(m: Malformed, it: &Attrs<'_>, truncated: &'static CStr, leftover: &'static CStr) -> Refusal {
    Refusal {
        errno: EINVAL,
        msg: match m {
            Malformed::BadLength => truncated,
            Malformed::Leftover => leftover,
        },
        offset: Some(it.offset()),
    }
}

/// The attributes of one level, by type; the last one wins if a type repeats (like `nla_parse()`).
type Table<'a> = [Option<Attr<'a>>; 11];

/// Parses and type-checks the attributes in `it` against `level`.
fn parse_level<'a>(mut it: Attrs<'a>, level: &Level) -> Result<Table<'a>, Refusal> {
    let mut tb: Table<'a> = [None; 11];
    loop {
        let a = match it.next() {
            None => break,
            Some(Ok(a)) => a,
            Some(Err(m)) => return Err(malformed(m, &it, level.truncated, level.leftover)),
        };
        let Some(Some(p)) = level.policies.get(a.ty as usize) else {
            return Err(Refusal::einval(level.unknown, &a));
        };
        let n = a.payload.len();
        let len_ok = match p.kind {
            Kind::U8 => n == 1,
            Kind::U16 => n == 2,
            Kind::U32 => n == 4,
            Kind::U64 => n == 8,
            Kind::Exact(l) => n == l,
            Kind::Min(l) => n >= l,
            Kind::Str(max) => n >= 1 && n <= max && a.payload.contains(&0),
            Kind::Nest => true,
        };
        if !len_ok {
            return Err(Refusal::einval(p.bad_len, &a));
        }
        if a.nested != (p.kind == Kind::Nest) {
            return Err(Refusal::einval(p.bad_flag, &a));
        }
        tb[a.ty as usize] = Some(a);
    }
    Ok(tb)
}

/// Calls `f` on every entry of an array nest, checking that entries are well-formed nests.
fn for_each_entry<'a>(
    nest: &Attr<'a>,
    array: &Array,
    mut f: impl FnMut(&Attr<'a>) -> Result<(), Refusal>,
) -> Result<(), Refusal> {
    let mut it = Attrs::nested(nest);
    loop {
        match it.next() {
            None => return Ok(()),
            Some(Ok(e)) if !e.nested => return Err(Refusal::einval(array.not_nest, &e)),
            Some(Ok(e)) => f(&e)?,
            Some(Err(m)) => return Err(malformed(m, &it, array.truncated, array.leftover)),
        }
    }
}

fn get_u8(a: &Attr<'_>) -> u8 {
    a.payload[0]
}

fn get_u16(a: &Attr<'_>) -> u16 {
    exact::<2>(a.payload).map_or(0, u16::from_ne_bytes)
}

fn get_u32(a: &Attr<'_>) -> u32 {
    exact::<4>(a.payload).map_or(0, u32::from_ne_bytes)
}

fn get_key(a: &Attr<'_>) -> Key {
    exact::<32>(a.payload).unwrap_or([0; 32])
}

/// The device a request names: by index, or by a name of at most 15 bytes (`IFNAMSIZ` with its NUL).
#[derive(Clone, Copy)]
pub(crate) enum Target {
    Index(i32),
    Name([u8; IFNAMSIZ]),
}

/// Reads the device name of a request; exactly one of ifindex and ifname (the C `lookup_interface`).
fn target(tb: &Table<'_>) -> Result<Target, Refusal> {
    let idx = tb[WGDEVICE_A_IFINDEX as usize].as_ref();
    let name = tb[WGDEVICE_A_IFNAME as usize].as_ref();
    match (idx, name) {
        (Some(a), None) => Ok(Target::Index(get_u32(a) as i32)),
        (None, Some(a)) => {
            let mut n = [0u8; IFNAMSIZ];
            let len = a.payload.iter().position(|&c| c == 0).unwrap_or(0);
            n[..len].copy_from_slice(&a.payload[..len]);
            Ok(Target::Name(n))
        }
        (Some(a), Some(_)) => Err(Refusal::at(
            errno(bindings::EBADR),
            c_str!("WGDEVICE_A_IFINDEX and WGDEVICE_A_IFNAME: give only one"),
            a,
        )),
        (None, None) => Err(Refusal {
            errno: errno(bindings::EBADR),
            msg: c_str!("WGDEVICE_A_IFINDEX or WGDEVICE_A_IFNAME is required"),
            offset: None,
        }),
    }
}

/// Parses a GET request (`payload` = the attributes after the generic netlink header).
///
/// Device attributes other than ifindex and ifname are type-checked and ignored, as in the C driver.
pub(crate) fn parse_get(payload: &[u8]) -> Result<Target, Refusal> {
    let tb = parse_level(Attrs::new(payload, 0), &DEVICE)?;
    target(&tb)
}

/// Parses an endpoint: a `struct sockaddr_in` or `struct sockaddr_in6` of exactly its size.
///
/// Returns the address and, for IPv6, `sin6_scope_id` (the interface of a link-local address); `sin6_flowinfo` is
/// not kept.
fn endpoint(a: &Attr<'_>) -> Result<(SocketAddr, u32), Refusal> {
    let p = a.payload;
    let family = u16::from_ne_bytes([p[0], p[1]]);
    let port = u16::from_be_bytes([p[2], p[3]]);
    if family == AF_INET && p.len() == SOCKADDR_IN_LEN {
        let mut v4 = [0u8; 4];
        v4.copy_from_slice(&p[4..8]);
        return Ok((
            SocketAddr {
                addr: IpAddr::V4(v4),
                port,
            },
            0,
        ));
    }
    if family == AF_INET6 && p.len() == SOCKADDR_IN6_LEN {
        let mut v6 = [0u8; 16];
        v6.copy_from_slice(&p[8..24]);
        let scope_id = u32::from_ne_bytes([p[24], p[25], p[26], p[27]]);
        return Ok((
            SocketAddr {
                addr: IpAddr::V6(v6),
                port,
            },
            scope_id,
        ));
    }
    Err(Refusal::at(
        errno(bindings::EAFNOSUPPORT),
        c_str!("WGPEER_A_ENDPOINT: not a struct sockaddr_in or sockaddr_in6"),
        a,
    ))
}

/// Parses one allowed-IP nest.
fn allowed_ip(e: &Attr<'_>) -> Result<AllowedIpUpdate, Refusal> {
    let tb = parse_level(Attrs::nested(e), &ALLOWEDIP)?;
    let (Some(fam), Some(ip), Some(cidr)) = (
        tb[WGALLOWEDIP_A_FAMILY as usize].as_ref(),
        tb[WGALLOWEDIP_A_IPADDR as usize].as_ref(),
        tb[WGALLOWEDIP_A_CIDR_MASK as usize].as_ref(),
    ) else {
        return Err(Refusal::einval(
            c_str!("WGPEER_A_ALLOWEDIPS: entry needs WGALLOWEDIP_A_FAMILY, _IPADDR and _CIDR_MASK"),
            e,
        ));
    };
    let mut remove = false;
    if let Some(f) = tb[WGALLOWEDIP_A_FLAGS as usize].as_ref() {
        let flags = get_u32(f);
        if flags & !WGALLOWEDIP_F_ALL != 0 {
            return Err(Refusal::einval(c_str!("WGALLOWEDIP_A_FLAGS: unknown flags"), f));
        }
        remove = flags & WGALLOWEDIP_F_REMOVE_ME != 0;
    }
    let addr = match get_u16(fam) {
        AF_INET => exact::<4>(ip.payload).map(IpAddr::V4),
        AF_INET6 => exact::<16>(ip.payload).map(IpAddr::V6),
        _ => {
            return Err(Refusal::einval(
                c_str!("WGALLOWEDIP_A_FAMILY: not AF_INET or AF_INET6"),
                fam,
            ))
        }
    };
    let Some(addr) = addr else {
        return Err(Refusal::einval(
            c_str!("WGALLOWEDIP_A_IPADDR: wrong length for the family"),
            ip,
        ));
    };
    let cidr_v = get_u8(cidr);
    if cidr_v > addr.bits() {
        return Err(Refusal::einval(
            c_str!("WGALLOWEDIP_A_CIDR_MASK: longer than the address"),
            cidr,
        ));
    }
    Ok(AllowedIpUpdate {
        addr,
        cidr: cidr_v,
        remove,
    })
}

/// Parses one peer nest.
fn peer(e: &Attr<'_>) -> Result<PeerUpdate, Refusal> {
    let tb = parse_level(Attrs::nested(e), &PEER)?;
    let Some(pk) = tb[WGPEER_A_PUBLIC_KEY as usize].as_ref() else {
        return Err(Refusal::einval(c_str!("WGPEER_A_PUBLIC_KEY: missing"), e));
    };
    let mut flags = 0;
    if let Some(f) = tb[WGPEER_A_FLAGS as usize].as_ref() {
        flags = get_u32(f);
        if flags & !WGPEER_F_ALL != 0 {
            return Err(Refusal::at(
                errno(bindings::EOPNOTSUPP),
                c_str!("WGPEER_A_FLAGS: unknown flags"),
                f,
            ));
        }
    }
    if let Some(v) = tb[WGPEER_A_PROTOCOL_VERSION as usize].as_ref() {
        if get_u32(v) != 1 {
            return Err(Refusal::at(
                errno(bindings::EPFNOSUPPORT),
                c_str!("WGPEER_A_PROTOCOL_VERSION: only version 1 is supported"),
                v,
            ));
        }
    }
    let (endpoint, endpoint_scope_id) = match tb[WGPEER_A_ENDPOINT as usize].as_ref() {
        Some(a) => {
            let (ep, scope) = endpoint(a)?;
            (Some(ep), scope)
        }
        None => (None, 0),
    };
    let mut allowed_ips = KVec::new();
    if let Some(ips) = tb[WGPEER_A_ALLOWEDIPS as usize].as_ref() {
        for_each_entry(ips, &ALLOWEDIPS, |e| {
            allowed_ips.push(allowed_ip(e)?, GFP_KERNEL)?;
            Ok(())
        })?;
    }
    Ok(PeerUpdate {
        public_key: get_key(pk),
        remove: flags & WGPEER_F_REMOVE_ME != 0,
        update_only: flags & WGPEER_F_UPDATE_ONLY != 0,
        preshared_key: tb[WGPEER_A_PRESHARED_KEY as usize].as_ref().map(get_key),
        endpoint,
        endpoint_scope_id,
        persistent_keepalive: tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL as usize]
            .as_ref()
            .map(get_u16),
        replace_allowed_ips: flags & WGPEER_F_REPLACE_ALLOWEDIPS != 0,
        allowed_ips,
    })
}

/// Parses a whole SET request (`payload` = the attributes after the generic netlink header).
///
/// `WGDEVICE_A_PUBLIC_KEY` and the peers' statistics attributes are type-checked and ignored, as in the C driver.
pub(crate) fn parse_set(payload: &[u8]) -> Result<(Target, DeviceUpdate), Refusal> {
    let tb = parse_level(Attrs::new(payload, 0), &DEVICE)?;
    let target = target(&tb)?;
    let mut flags = 0;
    if let Some(f) = tb[WGDEVICE_A_FLAGS as usize].as_ref() {
        flags = get_u32(f);
        if flags & !WGDEVICE_F_ALL != 0 {
            return Err(Refusal::at(
                errno(bindings::EOPNOTSUPP),
                c_str!("WGDEVICE_A_FLAGS: unknown flags"),
                f,
            ));
        }
    }
    let mut peers = KVec::new();
    if let Some(p) = tb[WGDEVICE_A_PEERS as usize].as_ref() {
        for_each_entry(p, &PEERS, |e| {
            peers.push(peer(e)?, GFP_KERNEL)?;
            Ok(())
        })?;
    }
    let update = DeviceUpdate {
        private_key: tb[WGDEVICE_A_PRIVATE_KEY as usize].as_ref().map(get_key),
        listen_port: tb[WGDEVICE_A_LISTEN_PORT as usize].as_ref().map(get_u16),
        fwmark: tb[WGDEVICE_A_FWMARK as usize].as_ref().map(get_u32),
        replace_peers: flags & WGDEVICE_F_REPLACE_PEERS != 0,
        peers,
    };
    Ok((target, update))
}

/// Zeroes the payloads of the key attributes in a SET request (the C driver's `memzero_explicit` on the
/// `WGDEVICE_A_PRIVATE_KEY` and `WGPEER_A_PRESHARED_KEY` attributes), so that neither the request skb nor the
/// copy of it that an error ack echoes keeps them. Walks leniently, so it also runs after a refusal; if it cannot
/// allocate its list of places, it zeroes the whole payload instead.
pub(crate) fn scrub_keys(payload: &mut [u8], zero: fn(&mut [u8])) {
    let mut places: KVec<(usize, usize)> = KVec::new();
    let mut ok = true;
    let mut note = |a: &Attr<'_>| {
        let start = a.offset + NLA_HDRLEN;
        ok &= places.push((start, start + a.payload.len()), GFP_KERNEL).is_ok();
    };
    for a in Attrs::new(payload, 0).map_while(|r| r.ok()) {
        match a.ty {
            WGDEVICE_A_PRIVATE_KEY => note(&a),
            WGDEVICE_A_PEERS => {
                for e in Attrs::nested(&a).map_while(|r| r.ok()) {
                    for k in Attrs::nested(&e).map_while(|r| r.ok()) {
                        if k.ty == WGPEER_A_PRESHARED_KEY {
                            note(&k);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if !ok {
        zero(payload);
        return;
    }
    for &(s, e) in places.iter() {
        zero(&mut payload[s..e]);
    }
}
