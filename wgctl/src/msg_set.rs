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

/// Attributes written straight into a nest's payload: building one neli `Nlattr` per
/// allowed IP (and re-serializing it into every enclosing nest) made `setconf` of 100 000
/// allowed IPs spend most of its time in the allocator.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn put(&mut self, ty: u16, payload: &[u8]) {
        let len = attr::NLA_HDRLEN + payload.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.0.resize(self.0.len() + (attr::align4(len) - len), 0);
    }

    /// Starts a nest (NLA_F_NESTED set); returns its offset for [`Raw::end`].
    fn start(&mut self, ty: u16) -> usize {
        let at = self.0.len();
        self.0.extend_from_slice(&[0, 0]);
        self.0.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end(&mut self, at: usize) {
        let len = (self.0.len() - at) as u16;
        self.0[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn truncate(&mut self, at: usize) {
        self.0.truncate(at);
    }
}

/// `NLA_F_NESTED`, which neli sets on every nest too.
const NLA_F_NESTED: u16 = 1 << 15;

/// Space one allowed-IP nest takes.
fn allowed_ip_space(a: &AllowedIp) -> usize {
    let ip = match a.addr {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    };
    let flags = if a.remove { attr::attr_space(4) } else { 0 };
    attr::attr_space(attr::attr_space(2) + attr::attr_space(ip) + attr::attr_space(1) + flags)
}

fn put_allowed_ip(w: &mut Raw, a: &AllowedIp) {
    let n = w.start(0);
    match a.addr {
        IpAddr::V4(v4) => {
            w.put(WGALLOWEDIP_A_FAMILY, &AF_INET.to_ne_bytes());
            w.put(WGALLOWEDIP_A_IPADDR, &v4.octets());
        }
        IpAddr::V6(v6) => {
            w.put(WGALLOWEDIP_A_FAMILY, &AF_INET6.to_ne_bytes());
            w.put(WGALLOWEDIP_A_IPADDR, &v6.octets());
        }
    }
    w.put(WGALLOWEDIP_A_CIDR_MASK, &[a.cidr]);
    if a.remove {
        w.put(WGALLOWEDIP_A_FLAGS, &WGALLOWEDIP_F_REMOVE_ME.to_ne_bytes());
    }
    w.end(n);
}

/// The peer attributes other than allowed IPs: all of them for a peer's first
/// appearance, only key and REMOVE_ME for a continuation.
fn put_peer_head(w: &mut Raw, peer: &Peer, continuation: bool) {
    w.put(WGPEER_A_PUBLIC_KEY, &peer.public_key.0);
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
            w.put(WGPEER_A_PRESHARED_KEY, &psk.0);
        }
        if let Some(ep) = &peer.endpoint {
            w.put(WGPEER_A_ENDPOINT, &sockaddr::encode(ep));
        }
        if let Some(k) = peer.persistent_keepalive {
            w.put(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, &k.to_ne_bytes());
        }
    }
    if flags != 0 {
        w.put(WGPEER_A_FLAGS, &flags.to_ne_bytes());
    }
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
    // The payload of the peers nest; its own header counts against `room` too.
    let mut w = Raw::default();
    let hdr = attr::attr_space(0);
    if hdr > room {
        return Ok((None, Some(cur)));
    }
    let room = room - hdr;
    let done = |w: Raw, next: Option<Cursor>| -> Result<(Option<Attr>, Option<Cursor>), SerError> {
        if w.len() == 0 && next.is_some() {
            return Ok((None, next));
        }
        Ok((Some(attr::nest_raw(WGDEVICE_A_PEERS, w.0)?), next))
    };
    while cur.peer < dev.peers.len() {
        let peer = &dev.peers[cur.peer];
        let at = w.len();
        let nest = w.start(0);
        put_peer_head(&mut w, peer, cur.allowed_ip.is_some());
        if w.len() > room {
            // The peer does not fit at all: resend it whole in the next message.
            w.truncate(at);
            return done(w, Some(cur));
        }
        let mut next_ip = cur.allowed_ip.unwrap_or(0);
        let mut split = false;
        if next_ip < peer.allowed_ips.len() {
            if w.len() + attr::attr_space(0) > room {
                split = true;
            } else {
                let ips = w.start(WGPEER_A_ALLOWEDIPS);
                while let Some(a) = peer.allowed_ips.get(next_ip) {
                    if w.len() + allowed_ip_space(a) > room {
                        split = true;
                        break;
                    }
                    put_allowed_ip(&mut w, a);
                    next_ip += 1;
                }
                w.end(ips);
            }
        }
        w.end(nest);
        if split {
            // Continue this peer in the next message, from the first unsent allowed IP.
            return done(
                w,
                Some(Cursor {
                    peer: cur.peer,
                    allowed_ip: Some(next_ip),
                }),
            );
        }
        cur = Cursor {
            peer: cur.peer + 1,
            allowed_ip: None,
        };
    }
    done(w, None)
}

#[cfg(test)]
#[path = "msg_set_tests.rs"]
mod tests;
