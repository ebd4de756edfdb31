// SPDX-License-Identifier: GPL-2.0

//! The device's UDP sockets: one IPv4 and one IPv6 socket bound to the same port in the creating namespace (the C
//! socket.c), and sending a finished datagram to a peer's endpoint.

use crate::device::Device;
use crate::peer::{Endpoint, Peer};
use crate::proto::addr::{IpAddr, SocketAddr};
use crate::receive::Source;
use kernel::{
    error::code::*,
    net::{
        ns::Namespace,
        skbuff::SkBuff,
        udp_tunnel::{EncapRcv, Family, Src4, UdpTunnelSocket},
    },
    prelude::*,
    sync::{rcu, Arc, ArcBorrow},
};

/// The bound sockets.
pub(crate) struct Sockets {
    v4: UdpTunnelSocket<Device>,
    /// `None` if IPv6 is disabled in the namespace.
    v6: Option<UdpTunnelSocket<Device>>,
}

impl Sockets {
    /// Binds both sockets to `port` (0: a random port, retried if IPv6 finds it taken, as `wg_socket_init`).
    ///
    /// The sockets do not keep `ns` alive: when it starts to be dismantled they are closed (see
    /// `device::NetHooks`).
    pub(crate) fn open(ns: &Namespace, port: u16, handler: Arc<Device>) -> Result<Self> {
        let mut attempt = 0;
        loop {
            let v4 = UdpTunnelSocket::new_unpinned(ns, Family::V4, port, handler.clone())?;
            match UdpTunnelSocket::new_unpinned(ns, Family::V6, v4.port(), handler.clone()) {
                Ok(v6) => return Ok(Self { v4, v6: Some(v6) }),
                Err(e) if e == EAFNOSUPPORT => return Ok(Self { v4, v6: None }),
                Err(e) if e == EADDRINUSE && port == 0 && attempt < 100 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The bound port.
    pub(crate) fn port(&self) -> u16 {
        self.v4.port()
    }
}

impl EncapRcv for Device {
    fn encap_rcv(this: ArcBorrow<'_, Self>, skb: SkBuff) {
        crate::receive::receive(&Arc::from(this), skb);
    }
}

/// Sends `skb` (payload only; headroom for IP and UDP) to `peer`'s endpoint (the C `wg_socket_send_skb_to_peer`).
///
/// The endpoint's source address is used as it is, and only ever forgotten here (when it is no longer local, or, for
/// IPv4, when the route leaves through another interface than the one it was learnt on), never set to the source the
/// route chose: that one lives in the route cache, which is invalidated when routes or addresses change. Storing it
/// would pin a source chosen in a transient state (e.g. another interface's address while this one's was tentative).
///
/// `ds` is the outer IPv4 DS field / IPv6 traffic class.
pub(crate) fn send_to_peer(peer: &Peer, skb: SkBuff, ds: u8) -> Result {
    let wg = &*peer.device;
    let ep = peer.endpoint();
    let Some(addr) = ep.addr else {
        return Err(EDESTADDRREQ);
    };
    let len = skb.len() as u64;
    let mark = wg.fwmark.load(core::sync::atomic::Ordering::Relaxed);
    let mut src4 = Src4 {
        addr: ep.src4,
        ifindex: ep.src_if4,
    };
    let mut src6 = ep.src6;
    let g = rcu::read_lock_bh();
    let (Some(socks), Some(dev)) = (wg.sockets.get(&g), wg.netdev.get(&g)) else {
        return Err(ENETDOWN);
    };
    let cache = Some(&peer.dst_cache);
    let r = match addr.addr {
        IpAddr::V4(a) => socks.v4.send4_src(Some(&dev), skb, cache, &mut src4, a, addr.port, mark, ds),
        IpAddr::V6(a) => match &socks.v6 {
            Some(s6) => s6.send6(Some(&dev), skb, cache, &mut src6, &a, addr.port, ep.scope_id, mark, ds),
            None => Err(EAFNOSUPPORT),
        },
    };
    drop(g);
    if r.is_ok() {
        peer.tx_stats(len as usize);
    }
    source_outcome(peer, &ep, addr, src4, src6);
    r
}

/// Keeps or forgets the endpoint's source address after a send that started from the snapshot `ep`, from what the
/// route helper handed back (`src4`, `src6`).
///
/// Only a source the helper gave up is forgotten (the C driver forgets it at exactly those points). IPv4 with a
/// known interface says so exactly: the helper zeroes the interface when it gives the source up, and never
/// otherwise. Elsewhere (IPv6, IPv4 learnt without an interface) a different source comes back both when the helper
/// gave ours up (no longer local) and when the route cache held a route filled for another source: a send that
/// started before the endpoint changed can fill the cache after the change reset it, and a cached route comes back
/// with the source it was filled for. So a first mismatch only resets the cache and marks the source suspect; the
/// next send looks the route up with our source, and only if that one gives it up too is it forgotten. A cache
/// holding another source's route (also in the exact IPv4 case) is reset, so that ours is used again.
fn source_outcome(peer: &Peer, ep: &Endpoint, addr: SocketAddr, src4: Src4, src6: [u8; 16]) {
    let mut stale_cache = false;
    let (mut gave_up4, mut maybe4) = (false, false);
    if ep.src4 != [0; 4] {
        if ep.src_if4 != 0 {
            gave_up4 = src4.ifindex == 0;
            stale_cache = !gave_up4 && src4.addr != ep.src4;
        } else {
            maybe4 = src4.addr != ep.src4;
        }
    }
    let maybe6 = ep.src6 != [0; 16] && src6 != ep.src6;
    let maybe = maybe4 || maybe6;
    if !(gave_up4 || maybe || stale_cache || ep.src_suspect) {
        return;
    }
    {
        let mut e = peer.endpoint.lock();
        // Only the endpoint the send started from is judged (it may have been relearnt meanwhile).
        if e.addr != Some(addr) || e.src4 != ep.src4 || e.src_if4 != ep.src_if4 || e.src6 != ep.src6 {
            return;
        }
        if gave_up4 {
            e.src4 = [0; 4];
            e.src_if4 = 0;
        }
        if maybe {
            if e.src_suspect {
                // Given up again by a send that looked the route up with it: gone for good.
                if maybe4 {
                    e.src4 = [0; 4];
                }
                if maybe6 {
                    e.src6 = [0; 16];
                }
                e.src_suspect = false;
            } else {
                e.src_suspect = true;
                stale_cache = true;
            }
        } else {
            // Ours came back: it was the cache.
            e.src_suspect = false;
        }
    }
    if stale_cache {
        peer.dst_cache.reset();
    }
}

/// Sends `skb` back to where a datagram came from, without a peer (cookie replies), from the local address that
/// datagram was sent to (the C `wg_socket_send_buffer_as_reply_to_skb`), with no route cache.
pub(crate) fn send_reply(wg: &Device, skb: SkBuff, to: &Source) -> Result {
    let mark = wg.fwmark.load(core::sync::atomic::Ordering::Relaxed);
    let g = rcu::read_lock_bh();
    let (Some(socks), Some(dev)) = (wg.sockets.get(&g), wg.netdev.get(&g)) else {
        return Err(ENETDOWN);
    };
    let addr = to.from;
    match (addr.addr, to.local) {
        (IpAddr::V4(a), IpAddr::V4(mut local)) => socks.v4.send4(Some(&dev), skb, None, &mut local, a, addr.port, mark, 0),
        (IpAddr::V6(a), IpAddr::V6(mut local)) => match &socks.v6 {
            Some(s6) => s6.send6(Some(&dev), skb, None, &mut local, &a, addr.port, to.scope_id, mark, 0),
            None => Err(EAFNOSUPPORT),
        },
        _ => Err(EAFNOSUPPORT),
    }
}
