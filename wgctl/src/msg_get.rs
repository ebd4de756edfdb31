//! WG_CMD_GET_DEVICE: the dump request, parsing of replies (and of any message using the
//! device attribute layout, such as SET requests and notifications), and coalescing.
//!
//! The kernel dump puts the device attributes in the first message only and, when a peer's
//! allowed IPs do not fit, ends the message and repeats that peer (public key plus the
//! remaining allowed IPs) at the start of the next one. [`DumpAssembler`] merges those
//! repeats back into one peer, like wireguard-tools' coalesce_peers().

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neli::err::{DeError, SerError};

use crate::attr::{self, Attr, Attrs, GenlMsg};
use crate::key::Key;
use crate::model::{AllowedIp, Device, Peer};
use crate::sockaddr;
use crate::uapi::*;

/// A malformed message from the kernel.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("malformed netlink attributes: {0}")]
    De(#[from] DeError),
    #[error("malformed {0} attribute")]
    Bad(&'static str),
}

/// The GET request for one interface (sent with NLM_F_DUMP).
pub fn get_request(ifname: &str) -> Result<GenlMsg, SerError> {
    let mut attrs = Attrs::new();
    attrs.push(attr::strz(WGDEVICE_A_IFNAME, ifname)?);
    attr::genl(WG_CMD_GET_DEVICE, WG_GENL_VERSION, attrs)
}

/// The attributes of a byte buffer, `(type without the NESTED/BYTEORDER bits, payload)`, read in place: a dump of
/// 100 000 allowed IPs is about 600 000 attributes, and building a neli value (with its own copy of the payload)
/// for each cost seconds.
struct RawAttrs<'a>(&'a [u8]);

impl<'a> Iterator for RawAttrs<'a> {
    type Item = Result<(u16, &'a [u8]), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let b = self.0;
        let (len, ty) = match (b.get(0..2), b.get(2..4)) {
            (Some(l), Some(t)) => (
                usize::from(u16::from_ne_bytes([l[0], l[1]])),
                u16::from_ne_bytes([t[0], t[1]]) & 0x3fff,
            ),
            _ => {
                self.0 = &[];
                return Some(Err(ParseError::Bad("truncated")));
            }
        };
        if len < 4 || len > b.len() {
            self.0 = &[];
            return Some(Err(ParseError::Bad("truncated")));
        }
        self.0 = b.get((len + 3) & !3..).unwrap_or(&[]);
        Some(Ok((ty, &b[4..len])))
    }
}

fn raw(b: &[u8]) -> RawAttrs<'_> {
    RawAttrs(b)
}

fn key_of(p: &[u8], what: &'static str) -> Result<Key, ParseError> {
    let b: [u8; WG_KEY_LEN] = p.try_into().map_err(|_| ParseError::Bad(what))?;
    Ok(Key(b))
}

fn u8_of(p: &[u8]) -> Option<u8> {
    <[u8; 1]>::try_from(p).ok().map(|[v]| v)
}
fn u16_of(p: &[u8]) -> Option<u16> {
    p.try_into().ok().map(u16::from_ne_bytes)
}
fn u32_of(p: &[u8]) -> Option<u32> {
    p.try_into().ok().map(u32::from_ne_bytes)
}
fn u64_of(p: &[u8]) -> Option<u64> {
    p.try_into().ok().map(u64::from_ne_bytes)
}

fn parse_allowed_ip(nest: &[u8]) -> Result<AllowedIp, ParseError> {
    let mut family = None;
    let mut addr: Option<&[u8]> = None;
    let mut cidr = None;
    let mut remove = false;
    for x in raw(nest) {
        let (ty, p) = x?;
        match ty {
            WGALLOWEDIP_A_FAMILY => family = u16_of(p),
            WGALLOWEDIP_A_IPADDR => addr = Some(p),
            WGALLOWEDIP_A_CIDR_MASK => cidr = u8_of(p),
            WGALLOWEDIP_A_FLAGS => remove = u32_of(p).unwrap_or(0) & WGALLOWEDIP_F_REMOVE_ME != 0,
            _ => {}
        }
    }
    let addr = match (family, addr) {
        (Some(AF_INET), Some(b)) => match <[u8; 4]>::try_from(b) {
            Ok(a) => IpAddr::V4(Ipv4Addr::from(a)),
            Err(_) => return Err(ParseError::Bad("WGPEER_A_ALLOWEDIPS")),
        },
        (Some(AF_INET6), Some(b)) => match <[u8; 16]>::try_from(b) {
            Ok(a) => IpAddr::V6(Ipv6Addr::from(a)),
            Err(_) => return Err(ParseError::Bad("WGPEER_A_ALLOWEDIPS")),
        },
        _ => return Err(ParseError::Bad("WGPEER_A_ALLOWEDIPS")),
    };
    let cidr = cidr
        .filter(|&c| c <= AllowedIp::max_cidr(&addr))
        .ok_or(ParseError::Bad("WGALLOWEDIP_A_CIDR_MASK"))?;
    Ok(AllowedIp { addr, cidr, remove })
}

/// Parses one peer nest.
pub fn parse_peer(a: &Attr) -> Result<Peer, ParseError> {
    parse_peer_bytes(attr::payload(a))
}

fn parse_peer_bytes(nest: &[u8]) -> Result<Peer, ParseError> {
    let mut p = Peer::default();
    let mut has_key = false;
    for x in raw(nest) {
        let (ty, v) = x?;
        match ty {
            WGPEER_A_PUBLIC_KEY => {
                p.public_key = key_of(v, "WGPEER_A_PUBLIC_KEY")?;
                has_key = true;
            }
            WGPEER_A_PRESHARED_KEY => {
                let k = key_of(v, "WGPEER_A_PRESHARED_KEY")?;
                // The kernel reports an unset preshared key as zeros.
                p.preshared_key = Some(k);
            }
            WGPEER_A_FLAGS => {
                let f = u32_of(v).ok_or(ParseError::Bad("WGPEER_A_FLAGS"))?;
                p.remove = f & WGPEER_F_REMOVE_ME != 0;
                p.replace_allowed_ips = f & WGPEER_F_REPLACE_ALLOWEDIPS != 0;
                p.update_only = f & WGPEER_F_UPDATE_ONLY != 0;
            }
            WGPEER_A_ENDPOINT => p.endpoint = sockaddr::decode(v),
            WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL => p.persistent_keepalive = u16_of(v),
            WGPEER_A_LAST_HANDSHAKE_TIME => {
                p.last_handshake = sockaddr::decode_timespec(v).unwrap_or_default();
            }
            WGPEER_A_RX_BYTES => p.rx_bytes = u64_of(v).unwrap_or(0),
            WGPEER_A_TX_BYTES => p.tx_bytes = u64_of(v).unwrap_or(0),
            WGPEER_A_PROTOCOL_VERSION => p.protocol_version = u32_of(v),
            WGPEER_A_ALLOWEDIPS => {
                for ip in raw(v) {
                    p.allowed_ips.push(parse_allowed_ip(ip?.1)?);
                }
            }
            _ => {}
        }
    }
    if !has_key {
        return Err(ParseError::Bad("WGPEER_A_PUBLIC_KEY"));
    }
    Ok(p)
}

/// Merges the attributes of one message into `dev`; peers are appended.
pub fn parse_device(msg: &GenlMsg, dev: &mut Device) -> Result<(), ParseError> {
    let bytes = attr::to_vec(msg.attrs()).map_err(|_| ParseError::Bad("unserializable"))?;
    parse_device_bytes(&bytes, dev)
}

/// [`parse_device`] on the attributes of a message as received (after the generic netlink header).
pub fn parse_device_bytes(attrs: &[u8], dev: &mut Device) -> Result<(), ParseError> {
    for a in raw(attrs) {
        let (ty, v) = a?;
        match ty {
            WGDEVICE_A_IFINDEX => {
                dev.ifindex = u32_of(v).ok_or(ParseError::Bad("WGDEVICE_A_IFINDEX"))?
            }
            WGDEVICE_A_IFNAME => {
                let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
                dev.name = std::str::from_utf8(&v[..end])
                    .map_err(|_| ParseError::Bad("WGDEVICE_A_IFNAME"))?
                    .to_string();
            }
            WGDEVICE_A_PRIVATE_KEY => dev.private_key = Some(key_of(v, "WGDEVICE_A_PRIVATE_KEY")?),
            WGDEVICE_A_PUBLIC_KEY => dev.public_key = Some(key_of(v, "WGDEVICE_A_PUBLIC_KEY")?),
            WGDEVICE_A_FLAGS => {
                let f = u32_of(v).ok_or(ParseError::Bad("WGDEVICE_A_FLAGS"))?;
                dev.replace_peers = f & WGDEVICE_F_REPLACE_PEERS != 0;
            }
            WGDEVICE_A_LISTEN_PORT => {
                dev.listen_port = Some(u16_of(v).ok_or(ParseError::Bad("WGDEVICE_A_LISTEN_PORT"))?)
            }
            WGDEVICE_A_FWMARK => {
                dev.fwmark = Some(u32_of(v).ok_or(ParseError::Bad("WGDEVICE_A_FWMARK"))?)
            }
            WGDEVICE_A_PEERS => {
                for p in raw(v) {
                    dev.peers.push(parse_peer_bytes(p?.1)?);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Merges each peer into the one before it when both have the same public key.
pub fn coalesce(dev: &mut Device) {
    let mut out: Vec<Peer> = Vec::with_capacity(dev.peers.len());
    for p in dev.peers.drain(..) {
        match out.last_mut() {
            Some(last) if last.public_key == p.public_key => last.allowed_ips.extend(p.allowed_ips),
            _ => out.push(p),
        }
    }
    dev.peers = out;
}

/// Collects the messages of one dump into a device.
#[derive(Default)]
pub struct DumpAssembler {
    dev: Device,
}

impl DumpAssembler {
    pub fn add(&mut self, msg: &GenlMsg) -> Result<(), ParseError> {
        parse_device(msg, &mut self.dev)
    }

    /// [`Self::add`] on a received generic netlink payload (header and attributes), parsed in place.
    pub fn add_bytes(&mut self, genl: &[u8]) -> Result<(), ParseError> {
        let attrs = genl
            .get(4..)
            .ok_or(ParseError::Bad("generic netlink header"))?;
        parse_device_bytes(attrs, &mut self.dev)
    }

    /// The device with split peers merged; a zero preshared key becomes "none".
    pub fn finish(mut self) -> Device {
        coalesce(&mut self.dev);
        for p in &mut self.dev.peers {
            if p.preshared_key.is_some_and(|k| k.is_zero()) {
                p.preshared_key = None;
            }
        }
        self.dev
    }
}

#[cfg(test)]
#[path = "msg_get_tests.rs"]
mod tests;
