//! WG_CMD_SET_DEVICE requests, split across messages at allowed-IP granularity.
//!
//! Like wireguard-tools' ipc-linux.h: the device attributes and WGDEVICE_F_REPLACE_PEERS
//! go in the first message only; when a peer does not fit, the message is closed and the
//! next one starts again with that peer. A peer continued in a later message carries
//! only its public key, WGPEER_F_REMOVE_ME if set, and the allowed IPs not yet sent; in
//! particular it never carries WGPEER_F_REPLACE_ALLOWEDIPS again, so the kernel adds the
//! rest to what the earlier message installed.

use std::net::IpAddr;

use neli::err::SerError;

use crate::attr::{self, Attr, Attrs, GenlMsg, GENL_MSG_OVERHEAD};
use crate::model::{AllowedIp, Device, Peer};
use crate::sockaddr;
use crate::uapi::*;

/// Errors while building SET messages.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("interface name {0:?} is not valid")]
    BadName(String),
    #[error("message size limit {0} is too small to make progress")]
    LimitTooSmall(usize),
    #[error("serializing a netlink attribute: {0}")]
    Ser(#[from] SerError),
}

/// The message size wireguard-tools uses (libmnl's ideal buffer: min(page size, 8192)).
pub fn default_limit() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page <= 0 {
        4096
    } else {
        (page as usize).min(8192)
    }
}

fn allowed_ip_attr(a: &AllowedIp) -> Result<Attr, SerError> {
    let (family, octets): (u16, Vec<u8>) = match a.addr {
        IpAddr::V4(v4) => (AF_INET, v4.octets().to_vec()),
        IpAddr::V6(v6) => (AF_INET6, v6.octets().to_vec()),
    };
    let mut n = attr::nest(0)?;
    n = attr::push(n, &attr::u16(WGALLOWEDIP_A_FAMILY, family)?)?;
    n = attr::push(n, &attr::bytes(WGALLOWEDIP_A_IPADDR, &octets)?)?;
    n = attr::push(n, &attr::u8(WGALLOWEDIP_A_CIDR_MASK, a.cidr)?)?;
    if a.remove {
        n = attr::push(n, &attr::u32(WGALLOWEDIP_A_FLAGS, WGALLOWEDIP_F_REMOVE_ME)?)?;
    }
    Ok(n)
}

/// The peer attributes other than allowed IPs: all of them for a peer's first
/// appearance, only key and REMOVE_ME for a continuation.
fn peer_head(peer: &Peer, continuation: bool) -> Result<Vec<Attr>, SerError> {
    let mut v = vec![attr::bytes(WGPEER_A_PUBLIC_KEY, &peer.public_key.0)?];
    let mut flags = 0;
    if peer.remove {
        flags |= WGPEER_F_REMOVE_ME;
    }
    if !continuation {
        if peer.replace_allowed_ips {
            flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
        }
        if peer.update_only {
            flags |= WGPEER_F_UPDATE_ONLY;
        }
        if let Some(psk) = &peer.preshared_key {
            v.push(attr::bytes(WGPEER_A_PRESHARED_KEY, &psk.0)?);
        }
        if let Some(ep) = &peer.endpoint {
            v.push(attr::bytes(WGPEER_A_ENDPOINT, &sockaddr::encode(ep))?);
        }
        if let Some(k) = peer.persistent_keepalive {
            v.push(attr::u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, k)?);
        }
    }
    if flags != 0 {
        v.push(attr::u32(WGPEER_A_FLAGS, flags)?);
    }
    Ok(v)
}

fn device_head(dev: &Device) -> Result<Vec<Attr>, SerError> {
    let mut v = Vec::new();
    if let Some(k) = &dev.private_key {
        v.push(attr::bytes(WGDEVICE_A_PRIVATE_KEY, &k.0)?);
    }
    if let Some(p) = dev.listen_port {
        v.push(attr::u16(WGDEVICE_A_LISTEN_PORT, p)?);
    }
    if let Some(m) = dev.fwmark {
        v.push(attr::u32(WGDEVICE_A_FWMARK, m)?);
    }
    if dev.replace_peers {
        v.push(attr::u32(WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS)?);
    }
    Ok(v)
}

/// Where the next message resumes: a peer index and, inside it, an allowed-IP index
/// (`None` when the peer has not been started yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    peer: usize,
    allowed_ip: Option<usize>,
}

/// Builds the SET messages for `dev`, each at most `limit` bytes including the netlink
/// and genetlink headers.
pub fn build_set(dev: &Device, limit: usize) -> Result<Vec<GenlMsg>, BuildError> {
    if dev.name.is_empty() || dev.name.len() >= 16 || dev.name.contains('\0') {
        return Err(BuildError::BadName(dev.name.clone()));
    }
    // nla_len is 16 bits wide, so no nest may grow past 64 KiB.
    let limit = limit.min(usize::from(u16::MAX));
    let mut msgs = Vec::new();
    let mut cur = Cursor {
        peer: 0,
        allowed_ip: None,
    };
    let mut first = true;
    loop {
        let mut attrs = Attrs::new();
        let mut size = GENL_MSG_OVERHEAD;
        let add = |attrs: &mut Attrs, size: &mut usize, a: Attr| {
            *size += attr::space(&a);
            attrs.push(a);
        };
        add(
            &mut attrs,
            &mut size,
            attr::strz(WGDEVICE_A_IFNAME, &dev.name)?,
        );
        if first {
            for a in device_head(dev)? {
                add(&mut attrs, &mut size, a);
            }
        }
        if size > limit {
            return Err(BuildError::LimitTooSmall(limit));
        }
        let start = cur;
        let done = if dev.peers.is_empty() {
            true
        } else {
            let (peers, next) = fill_peers(dev, cur, limit - size)?;
            // The first message makes progress with the device attributes alone.
            if !first && next == Some(start) {
                return Err(BuildError::LimitTooSmall(limit));
            }
            if let Some(p) = peers {
                add(&mut attrs, &mut size, p);
            }
            match next {
                Some(n) => {
                    cur = n;
                    false
                }
                None => true,
            }
        };
        msgs.push(attr::genl(WG_CMD_SET_DEVICE, WG_GENL_VERSION, attrs)?);
        first = false;
        if done {
            return Ok(msgs);
        }
    }
}

/// Fills one WGDEVICE_A_PEERS nest within `room` bytes starting at `cur`. Returns the
/// nest (if anything fit) and where to resume (`None` when all is sent).
fn fill_peers(
    dev: &Device,
    mut cur: Cursor,
    room: usize,
) -> Result<(Option<Attr>, Option<Cursor>), SerError> {
    let mut peers = attr::nest(WGDEVICE_A_PEERS)?;
    let mut used = attr::attr_space(0);
    let mut any = false;
    if used > room {
        return Ok((None, Some(cur)));
    }
    while cur.peer < dev.peers.len() {
        let peer = &dev.peers[cur.peer];
        let head = peer_head(peer, cur.allowed_ip.is_some())?;
        let mut nest = attr::nest(0)?;
        for a in &head {
            nest = attr::push(nest, a)?;
        }
        let mut peer_size = attr::space(&nest);
        if used + peer_size > room {
            // The peer does not fit at all: resend it whole in the next message.
            return Ok((any.then_some(peers), Some(cur)));
        }
        let mut next_ip = cur.allowed_ip.unwrap_or(0);
        let mut split = false;
        if next_ip < peer.allowed_ips.len() {
            let mut ips = attr::nest(WGPEER_A_ALLOWEDIPS)?;
            if used + peer_size + attr::space(&ips) > room {
                split = true;
            } else {
                let mut ips_size = attr::space(&ips);
                while next_ip < peer.allowed_ips.len() {
                    let a = allowed_ip_attr(&peer.allowed_ips[next_ip])?;
                    if used + peer_size + ips_size + attr::space(&a) > room {
                        split = true;
                        break;
                    }
                    ips_size += attr::space(&a);
                    ips = attr::push(ips, &a)?;
                    next_ip += 1;
                }
                peer_size += attr::space(&ips);
                nest = attr::push(nest, &ips)?;
            }
        }
        used += peer_size;
        peers = attr::push(peers, &nest)?;
        any = true;
        if split {
            // Continue this peer in the next message, from the first unsent allowed IP.
            return Ok((
                Some(peers),
                Some(Cursor {
                    peer: cur.peer,
                    allowed_ip: Some(next_ip),
                }),
            ));
        }
        cur = Cursor {
            peer: cur.peer + 1,
            allowed_ip: None,
        };
    }
    Ok((Some(peers), None))
}

#[cfg(test)]
#[path = "msg_set_tests.rs"]
mod tests;
