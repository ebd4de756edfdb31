// SPDX-License-Identifier: GPL-2.0

//! The attributes of `WG_CMD_GET_DEVICE` dump messages and of peer notifications.
//!
//! A dump walks one [`DeviceSnapshot`] with a [`Cursor`], exactly like the C driver's `dump_ctx` walks the live
//! peer list: the first message carries the device attributes, then as many peers as fit; a peer whose allowed IPs
//! do not all fit ends the message after the ones that did and is repeated at the start of the next message with
//! only its public key and the remaining allowed IPs; a peer whose fixed attributes do not fit is sent whole in the
//! next message. Attribute order is the C driver's, so the bytes match it too.

use crate::config::{DeviceSnapshot, IpAddr, Key, PeerSnapshot};
use crate::netlink_attr::{Full, Writer};
use crate::netlink_uapi::*;
use crate::proto::addr::SocketAddr;

/// Where the next dump message starts.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct Cursor {
    /// Whether the device attributes were sent (they go in the first message only).
    pub device_sent: bool,
    /// Index of the next peer to send.
    pub peer: usize,
    /// Index of the next allowed IP of that peer if the peer was cut short, `None` if it starts afresh.
    pub allowed_ip: Option<usize>,
}

/// What a dump message ended with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Filled {
    /// Everything is sent.
    Done,
    /// The message is full; more follows.
    More,
}

/// Writes a `struct sockaddr_in` or `struct sockaddr_in6` (with `scope_id`) for `ep` into `buf`, returning its
/// length.
pub(crate) fn sockaddr(ep: &SocketAddr, scope_id: u32, buf: &mut [u8; SOCKADDR_IN6_LEN]) -> usize {
    buf.fill(0);
    buf[2..4].copy_from_slice(&ep.port.to_be_bytes());
    match &ep.addr {
        IpAddr::V4(a) => {
            buf[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
            buf[4..8].copy_from_slice(a);
            SOCKADDR_IN_LEN
        }
        IpAddr::V6(a) => {
            buf[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
            buf[8..24].copy_from_slice(a);
            buf[24..28].copy_from_slice(&scope_id.to_ne_bytes());
            SOCKADDR_IN6_LEN
        }
    }
}

/// Writes `WGPEER_A_ENDPOINT`.
fn put_endpoint(w: &mut Writer<'_>, ep: &SocketAddr, scope_id: u32) -> Result<(), Full> {
    let mut sa = [0u8; SOCKADDR_IN6_LEN];
    let len = sockaddr(ep, scope_id, &mut sa);
    w.put(WGPEER_A_ENDPOINT, &sa[..len])
}

/// Writes `WGPEER_A_LAST_HANDSHAKE_TIME` (`struct __kernel_timespec`).
fn put_handshake_time(w: &mut Writer<'_>, (sec, nsec): (i64, i64)) -> Result<(), Full> {
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&sec.to_ne_bytes());
    ts[8..].copy_from_slice(&nsec.to_ne_bytes());
    w.put(WGPEER_A_LAST_HANDSHAKE_TIME, &ts)
}

/// Writes `WGDEVICE_A_IFNAME` from a NUL-padded name (`nla_put_string()`: the string and its NUL).
fn put_ifname(w: &mut Writer<'_>, name: &[u8; 16]) -> Result<(), Full> {
    let len = name.iter().position(|&c| c == 0).unwrap_or(15);
    let mut s = [0u8; 16];
    s[..len].copy_from_slice(&name[..len]);
    w.put(WGDEVICE_A_IFNAME, &s[..len + 1])
}

/// Writes one allowed-IP nest (the C `get_allowedips`), all or nothing.
fn put_allowed_ip(w: &mut Writer<'_>, (addr, cidr): &(IpAddr, u8)) -> Result<(), Full> {
    let nest = w.nest_start(0)?;
    let family = match addr {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    };
    let r = w
        .put_u8(WGALLOWEDIP_A_CIDR_MASK, *cidr)
        .and_then(|_| w.put_u16(WGALLOWEDIP_A_FAMILY, family))
        .and_then(|_| w.put(WGALLOWEDIP_A_IPADDR, addr.octets()));
    match r {
        Ok(()) => w.nest_end(nest),
        Err(e) => {
            w.nest_cancel(nest);
            Err(e)
        }
    }
}

/// Writes one peer nest (the C `get_peer`), continuing at `*next_ip` if it is set.
///
/// On [`Full`] either nothing of the peer was written (`*next_ip` unchanged) or the peer was written up to the
/// allowed IP `*next_ip`, which then says where to continue.
fn put_peer(w: &mut Writer<'_>, p: &PeerSnapshot, next_ip: &mut Option<usize>) -> Result<(), Full> {
    let peer_nest = w.nest_start(0)?;
    let fixed = (|| {
        w.put(WGPEER_A_PUBLIC_KEY, &p.public_key)?;
        if next_ip.is_none() {
            w.put(WGPEER_A_PRESHARED_KEY, &p.preshared_key)?;
            put_handshake_time(w, p.last_handshake)?;
            w.put_u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p.persistent_keepalive)?;
            w.put_u64(WGPEER_A_TX_BYTES, p.tx_bytes)?;
            w.put_u64(WGPEER_A_RX_BYTES, p.rx_bytes)?;
            w.put_u32(WGPEER_A_PROTOCOL_VERSION, p.protocol_version)?;
            if let Some(ep) = &p.endpoint {
                put_endpoint(w, ep, p.endpoint_scope_id)?;
            }
        }
        Ok(())
    })();
    if let Err(e) = fixed {
        w.nest_cancel(peer_nest);
        return Err(e);
    }
    let first = next_ip.unwrap_or(0);
    if first < p.allowed_ips.len() {
        let Ok(ips_nest) = w.nest_start(WGPEER_A_ALLOWEDIPS) else {
            w.nest_cancel(peer_nest);
            return Err(Full);
        };
        for (i, ip) in p.allowed_ips.iter().enumerate().skip(first) {
            if put_allowed_ip(w, ip).is_err() {
                // Keep what fit; the next message repeats the peer from here.
                let _ = w.nest_end(ips_nest);
                let _ = w.nest_end(peer_nest);
                *next_ip = Some(i);
                return Err(Full);
            }
        }
        w.nest_end(ips_nest)?;
    }
    w.nest_end(peer_nest)?;
    *next_ip = None;
    Ok(())
}

/// Writes the device attributes (first message only), in the C driver's order.
fn put_device(w: &mut Writer<'_>, s: &DeviceSnapshot) -> Result<(), Full> {
    w.put_u16(WGDEVICE_A_LISTEN_PORT, s.listen_port)?;
    w.put_u32(WGDEVICE_A_FWMARK, s.fwmark)?;
    w.put_u32(WGDEVICE_A_IFINDEX, s.ifindex as u32)?;
    put_ifname(w, &s.ifname)?;
    if let Some((private, public)) = &s.keys {
        w.put(WGDEVICE_A_PRIVATE_KEY, private)?;
        w.put(WGDEVICE_A_PUBLIC_KEY, public)?;
    }
    Ok(())
}

/// Fills the attributes of one dump message (after its generic netlink header) and advances `c`.
///
/// `Err(Full)` means not even the device attributes or the peers nest fit: the dump fails with `EMSGSIZE`, as in
/// the C driver (a message is at least a page, so this does not happen).
pub(crate) fn fill(w: &mut Writer<'_>, s: &DeviceSnapshot, c: &mut Cursor) -> Result<Filled, Full> {
    if !c.device_sent {
        put_device(w, s)?;
    }
    let peers_nest = w.nest_start(WGDEVICE_A_PEERS)?;
    if c.peer >= s.peers.len() {
        w.nest_cancel(peers_nest);
        c.device_sent = true;
        return Ok(Filled::Done);
    }
    let mut filled = Filled::Done;
    while let Some(p) = s.peers.get(c.peer) {
        if put_peer(w, p, &mut c.allowed_ip).is_err() {
            filled = Filled::More;
            break;
        }
        c.peer += 1;
    }
    w.nest_end(peers_nest)?;
    c.device_sent = true;
    Ok(filled)
}

/// The peer of a notification: public key, and where meaningful endpoint and last handshake time.
pub(crate) struct PeerEvent {
    pub public_key: Key,
    pub endpoint: Option<SocketAddr>,
    pub endpoint_scope_id: u32,
    pub last_handshake: Option<(i64, i64)>,
}

/// Fills the attributes of a notification: ifindex, ifname and a peers nest with exactly one peer.
pub(crate) fn fill_event(
    w: &mut Writer<'_>,
    ifindex: i32,
    ifname: &[u8; 16],
    p: &PeerEvent,
) -> Result<(), Full> {
    w.put_u32(WGDEVICE_A_IFINDEX, ifindex as u32)?;
    put_ifname(w, ifname)?;
    let peers = w.nest_start(WGDEVICE_A_PEERS)?;
    let peer = w.nest_start(0)?;
    w.put(WGPEER_A_PUBLIC_KEY, &p.public_key)?;
    if let Some(ep) = &p.endpoint {
        put_endpoint(w, ep, p.endpoint_scope_id)?;
    }
    if let Some(t) = p.last_handshake {
        put_handshake_time(w, t)?;
    }
    w.nest_end(peer)?;
    w.nest_end(peers)
}
