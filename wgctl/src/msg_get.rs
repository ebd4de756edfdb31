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

fn key_of(a: &Attr, what: &'static str) -> Result<Key, ParseError> {
    let b: [u8; WG_KEY_LEN] = attr::payload(a)
        .try_into()
        .map_err(|_| ParseError::Bad(what))?;
    Ok(Key(b))
}

fn parse_allowed_ip(a: &Attr) -> Result<AllowedIp, ParseError> {
    let mut family = None;
    let mut addr = None;
    let mut cidr = None;
    let mut remove = false;
    for x in attr::nested(a)?.iter() {
        match attr::ty(x) {
            WGALLOWEDIP_A_FAMILY => family = attr::get_u16(x),
            WGALLOWEDIP_A_IPADDR => addr = Some(attr::payload(x).to_vec()),
            WGALLOWEDIP_A_CIDR_MASK => cidr = attr::get_u8(x),
            WGALLOWEDIP_A_FLAGS => {
                remove = attr::get_u32(x).unwrap_or(0) & WGALLOWEDIP_F_REMOVE_ME != 0
            }
            _ => {}
        }
    }
    let addr = match (family, addr.as_deref()) {
        (Some(AF_INET), Some(b)) if b.len() == 4 => IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(b).map_err(|_| ParseError::Bad("WGALLOWEDIP_A_IPADDR"))?,
        )),
        (Some(AF_INET6), Some(b)) if b.len() == 16 => IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(b).map_err(|_| ParseError::Bad("WGALLOWEDIP_A_IPADDR"))?,
        )),
        _ => return Err(ParseError::Bad("WGPEER_A_ALLOWEDIPS")),
    };
    let cidr = cidr
        .filter(|&c| c <= AllowedIp::max_cidr(&addr))
        .ok_or(ParseError::Bad("WGALLOWEDIP_A_CIDR_MASK"))?;
    Ok(AllowedIp { addr, cidr, remove })
}

/// Parses one peer nest.
pub fn parse_peer(a: &Attr) -> Result<Peer, ParseError> {
    let mut p = Peer::default();
    let mut has_key = false;
    for x in attr::nested(a)?.iter() {
        match attr::ty(x) {
            WGPEER_A_PUBLIC_KEY => {
                p.public_key = key_of(x, "WGPEER_A_PUBLIC_KEY")?;
                has_key = true;
            }
            WGPEER_A_PRESHARED_KEY => {
                let k = key_of(x, "WGPEER_A_PRESHARED_KEY")?;
                // The kernel reports an unset preshared key as zeros.
                p.preshared_key = Some(k);
            }
            WGPEER_A_FLAGS => {
                let f = attr::get_u32(x).ok_or(ParseError::Bad("WGPEER_A_FLAGS"))?;
                p.remove = f & WGPEER_F_REMOVE_ME != 0;
                p.replace_allowed_ips = f & WGPEER_F_REPLACE_ALLOWEDIPS != 0;
                p.update_only = f & WGPEER_F_UPDATE_ONLY != 0;
            }
            WGPEER_A_ENDPOINT => p.endpoint = sockaddr::decode(attr::payload(x)),
            WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL => {
                p.persistent_keepalive = attr::get_u16(x);
            }
            WGPEER_A_LAST_HANDSHAKE_TIME => {
                p.last_handshake = sockaddr::decode_timespec(attr::payload(x)).unwrap_or_default();
            }
            WGPEER_A_RX_BYTES => p.rx_bytes = attr::get_u64(x).unwrap_or(0),
            WGPEER_A_TX_BYTES => p.tx_bytes = attr::get_u64(x).unwrap_or(0),
            WGPEER_A_PROTOCOL_VERSION => p.protocol_version = attr::get_u32(x),
            WGPEER_A_ALLOWEDIPS => {
                for ip in attr::nested(x)?.iter() {
                    p.allowed_ips.push(parse_allowed_ip(ip)?);
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
    for a in msg.attrs().iter() {
        match attr::ty(a) {
            WGDEVICE_A_IFINDEX => {
                dev.ifindex = attr::get_u32(a).ok_or(ParseError::Bad("WGDEVICE_A_IFINDEX"))?
            }
            WGDEVICE_A_IFNAME => {
                dev.name = attr::get_str(a).ok_or(ParseError::Bad("WGDEVICE_A_IFNAME"))?
            }
            WGDEVICE_A_PRIVATE_KEY => dev.private_key = Some(key_of(a, "WGDEVICE_A_PRIVATE_KEY")?),
            WGDEVICE_A_PUBLIC_KEY => dev.public_key = Some(key_of(a, "WGDEVICE_A_PUBLIC_KEY")?),
            WGDEVICE_A_FLAGS => {
                let f = attr::get_u32(a).ok_or(ParseError::Bad("WGDEVICE_A_FLAGS"))?;
                dev.replace_peers = f & WGDEVICE_F_REPLACE_PEERS != 0;
            }
            WGDEVICE_A_LISTEN_PORT => {
                dev.listen_port =
                    Some(attr::get_u16(a).ok_or(ParseError::Bad("WGDEVICE_A_LISTEN_PORT"))?)
            }
            WGDEVICE_A_FWMARK => {
                dev.fwmark = Some(attr::get_u32(a).ok_or(ParseError::Bad("WGDEVICE_A_FWMARK"))?)
            }
            WGDEVICE_A_PEERS => {
                for p in attr::nested(a)?.iter() {
                    dev.peers.push(parse_peer(p)?);
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
