// SPDX-License-Identifier: GPL-2.0

//! The generic netlink family "wireguard", version 1: the uapi of the C driver (`drivers/net/wireguard/netlink.c`),
//! the Linux 6.16 allowed-IP flags, and peer notifications (multicast group "peers").
//!
//! `docs/netlink/wireguard.yaml` specifies the family. The layers:
//! - `netlink_attr`: attributes over byte slices (strict reader, bounded writer);
//! - `netlink_parse`: a whole SET request into a [`DeviceUpdate`], or a GET request into a device name, refusing
//!   anything malformed with an extended-ack text naming the attribute;
//! - `netlink_dump`: dump messages from a [`DeviceSnapshot`] with the C driver's cursor semantics, and
//!   notification payloads;
//! - this file: the family registration, the handlers, and the notification hooks.
//!
//! Both commands are `GENL_UNS_ADMIN_PERM` (CAP_NET_ADMIN in the user namespace owning the requester's network
//! namespace, which is where the device is looked up), like the C driver. Handlers take RTNL first, then
//! [`Device::apply`] and [`Device::snapshot`] take the device's configuration mutex, as `wg_set_device` and
//! `wg_get_device_dump` do.

use crate::config::{self, DeviceSnapshot, DeviceUpdate, Hooks};
use crate::device::Device;
use crate::netlink_attr::Writer;
use crate::netlink_dump::{self, Cursor, Filled, PeerEvent};
use crate::netlink_parse::{self, Refusal, Target};
use crate::netlink_uapi::*;
use crate::peer::Peer;
use core::sync::atomic::Ordering;
use kernel::{
    bindings, c_str,
    crypto::memzero_explicit,
    net::{
        genl::{self, Dump, DumpProgress, McGroup, OpDesc, Registration, Request},
        rtnl::{Rtnl, RtnlGuard},
    },
    prelude::*,
    str::CStr,
    sync::{rcu, rcu::Rcu, Arc},
};

/// Index of the "peers" group in [`WgFamily::MCGRPS`].
const GROUP_PEERS: u32 = 0;

// The uapi's address family numbers are the kernel's.
const _: () = assert!(AF_INET as u32 == bindings::AF_INET && AF_INET6 as u32 == bindings::AF_INET6);

/// The family, registered while the module is loaded; notifications read it under RCU.
static FAMILY: Rcu<KBox<Registration<WgFamily>>> = Rcu::null();

/// Registers the family and installs the notification hooks. Called once at module load, after the link kind.
pub(crate) fn init(module: &'static ThisModule) -> Result {
    let reg = KBox::new(Registration::<WgFamily>::register(module)?, GFP_KERNEL)?;
    drop(FAMILY.replace(Some(reg)));
    config::set_hooks(Some(KBox::new(
        Hooks {
            handshake_complete,
            endpoint_changed,
            peer_added,
            peer_removed,
            keypair_expired,
        },
        GFP_KERNEL,
    )?));
    Ok(())
}

/// Removes the hooks and unregisters the family (waiting for notifications in flight). Called at module unload,
/// before the devices go, like `wg_genetlink_uninit()`.
pub(crate) fn exit() {
    config::set_hooks(None);
    drop(FAMILY.replace(None).into_inner());
}

/// The `wireguard` family (or `rustwg` for the side-by-side module).
struct WgFamily;

impl genl::Family for WgFamily {
    const NAME: &'static CStr = crate::GENL_FAMILY;
    const VERSION: u32 = WG_GENL_VERSION;
    const NETNSOK: bool = true;
    const OPS: &'static [OpDesc] = &[
        OpDesc::dump(WG_CMD_GET_DEVICE, genl::UNS_ADMIN_PERM),
        OpDesc::doit(WG_CMD_SET_DEVICE, genl::UNS_ADMIN_PERM),
    ];
    const MCGRPS: &'static [McGroup] = &[McGroup::new(c_str!("peers"), genl::MCAST_CAP_NET_ADMIN)];

    type DumpState = DumpState;

    fn doit(_cmd: u8, req: &mut Request<'_>) -> Result {
        set_device(req)
    }

    fn start(_cmd: u8, req: &mut Request<'_>) -> Result<DumpState> {
        get_device_start(req)
    }

    fn dumpit(state: &mut DumpState, dump: &mut Dump<'_>) -> Result<DumpProgress> {
        get_device_dump(state, dump)
    }
}

/// Reports a refused request through the extended ack and returns its errno.
fn refuse(req: &mut Request<'_>, r: Refusal) -> Error {
    req.set_err_msg(r.msg);
    if let Some(off) = r.offset {
        req.set_bad_attr(off);
    }
    r.errno
}

/// Looks the requested device up in the requester's namespace (the C `lookup_interface`): `ENODEV` if no device has
/// that index or name there, `EOPNOTSUPP` if one has but it is not ours (another kind, or the other build of this
/// module: each build's registry holds only its own devices).
fn lookup(req: &mut Request<'_>, rtnl: &Rtnl, target: &Target) -> Result<Arc<Device>> {
    let ns = req.net();
    let (found, exists) = match target {
        Target::Index(i) => match config::find_device(rtnl, ns, Some(*i), None) {
            Some(d) => (Some(d), true),
            None => (None, ns.dev_by_index(rtnl, *i).is_some()),
        },
        Target::Name(n) => {
            let len = n.iter().position(|&c| c == 0).unwrap_or(n.len() - 1);
            let name = CStr::from_bytes_with_nul(&n[..=len]).map_err(|_| EINVAL)?;
            match config::find_device(rtnl, ns, None, Some(name)) {
                Some(d) => (Some(d), true),
                None => (None, ns.dev_by_name(rtnl, name).is_some()),
            }
        }
    };
    if let Some(d) = found {
        return Ok(d);
    }
    if exists {
        req.set_err_msg(c_str!(
            "WGDEVICE_A_IFINDEX/WGDEVICE_A_IFNAME: the device is not a WireGuard device"
        ));
        Err(EOPNOTSUPP)
    } else {
        req.set_err_msg(c_str!(
            "WGDEVICE_A_IFINDEX/WGDEVICE_A_IFNAME: no such device in this namespace"
        ));
        Err(ENODEV)
    }
}

/// Zeroes the secrets of a parsed update once it is applied or refused.
fn scrub_update(u: &mut DeviceUpdate) {
    if let Some(k) = u.private_key.as_mut() {
        memzero_explicit(k);
    }
    for p in u.peers.iter_mut() {
        if let Some(k) = p.preshared_key.as_mut() {
            memzero_explicit(k);
        }
    }
}

/// `WG_CMD_SET_DEVICE`: parse and validate the whole message, then apply it under RTNL.
fn set_device(req: &mut Request<'_>) -> Result {
    let r = match netlink_parse::parse_set(req.payload()) {
        Err(refusal) => Err(refuse(req, refusal)),
        Ok((target, mut update)) => {
            let r = (|| {
                let rtnl = RtnlGuard::lock();
                let dev = lookup(req, &rtnl, &target)?;
                dev.apply(&rtnl, &update).map_err(|e| {
                    if let Some(m) = e.msg {
                        req.set_err_msg(m);
                    }
                    e.errno
                })
            })();
            scrub_update(&mut update);
            r
        }
    };
    netlink_parse::scrub_keys(req.payload_mut(), memzero_explicit);
    r
}

/// The state of one GET dump, from `start` to `done`.
pub(crate) struct DumpState {
    dev: Arc<Device>,
    /// Taken by the first message; later messages walk it with `cursor`.
    snap: Option<DeviceSnapshot>,
    cursor: Cursor,
    /// Where a message's attributes are built before they go into the skb.
    buf: KVVec<u8>,
}

impl Drop for DumpState {
    fn drop(&mut self) {
        // The snapshot and the message buffer hold the private and preshared keys.
        memzero_explicit(self.buf.as_mut_slice());
        if let Some(s) = self.snap.as_mut() {
            if let Some((private, _)) = s.keys.as_mut() {
                memzero_explicit(private);
            }
            for p in s.peers.iter_mut() {
                memzero_explicit(&mut p.preshared_key);
            }
        }
    }
}

/// `WG_CMD_GET_DEVICE` start: parse the request and find the device (the C `wg_get_device_start`).
fn get_device_start(req: &mut Request<'_>) -> Result<DumpState> {
    let target = netlink_parse::parse_get(req.payload()).map_err(|r| refuse(req, r))?;
    let rtnl = RtnlGuard::lock();
    let dev = lookup(req, &rtnl, &target)?;
    drop(rtnl);
    Ok(DumpState {
        dev,
        snap: None,
        cursor: Cursor::default(),
        buf: KVVec::new(),
    })
}

/// The dump's consistency sequence for a generation; never 0, which `nl_dump_check_consistent` ignores.
fn dump_seq(generation: u64) -> u32 {
    (generation % u64::from(u32::MAX)) as u32 + 1
}

/// `WG_CMD_GET_DEVICE` dump: one message (the C `wg_get_device_dump`).
///
/// The first call takes a snapshot of the device; every call sets the dump's sequence to the device's current
/// configuration generation, so a message produced after a change is flagged `NLM_F_DUMP_INTR` and the reader
/// starts over, as with the C driver.
fn get_device_dump(st: &mut DumpState, dump: &mut Dump<'_>) -> Result<DumpProgress> {
    {
        let rtnl = RtnlGuard::lock();
        if st.snap.is_none() {
            st.snap = Some(st.dev.snapshot(&rtnl)?);
        }
        dump.set_seq(dump_seq(st.dev.generation.load(Ordering::Relaxed)));
    }
    let Some(snap) = st.snap.as_ref() else {
        return Err(EINVAL);
    };
    let mut msg = dump.begin(WG_CMD_GET_DEVICE)?;
    let room = msg.tailroom();
    if st.buf.len() < room {
        memzero_explicit(st.buf.as_mut_slice());
        st.buf = KVVec::from_elem(0u8, room, GFP_KERNEL)?;
    }
    let mut w = Writer::new(&mut st.buf.as_mut_slice()[..room]);
    let filled = netlink_dump::fill(&mut w, snap, &mut st.cursor).map_err(|_| EMSGSIZE)?;
    msg.put_raw(w.written())?;
    msg.end();
    Ok(match filled {
        Filled::Done => DumpProgress::Done,
        Filled::More => DumpProgress::More,
    })
}

// ---- Notifications ----

/// Sends one notification about `peer` to the "peers" group in the device's namespace.
///
/// Runs in any context (softirq included): allocates with `GFP_ATOMIC` and never sleeps. Failures (no memory, no
/// listener) are dropped: a listener that misses events re-reads the state with GET.
fn notify(cmd: u8, dev: &Device, peer: &Peer, with_endpoint: bool, with_handshake: bool) {
    let g = rcu::read_lock();
    let Some(family) = FAMILY.get(&g) else {
        return;
    };
    let Some(nd) = dev.netdev() else {
        return;
    };
    // Not while the namespace is being dismantled (devices are deleted then): nobody listens, and taking a
    // reference would be a use-after-free.
    let Some(net) = nd.net_try_get() else {
        return;
    };
    if !family.has_listeners(&net, GROUP_PEERS) {
        return;
    }
    let ep = peer.endpoint();
    let ev = PeerEvent {
        public_key: peer.public_key,
        endpoint: if with_endpoint { ep.addr } else { None },
        endpoint_scope_id: ep.scope_id,
        last_handshake: if with_handshake {
            Some(*peer.last_handshake.lock())
        } else {
            None
        },
    };
    let mut buf = [0u8; 192];
    let mut w = Writer::new(&mut buf);
    if netlink_dump::fill_event(&mut w, nd.ifindex(), &dev.name(), &ev).is_err() {
        return;
    }
    let Ok(mut msg) = family.event(cmd, w.len(), GFP_ATOMIC) else {
        return;
    };
    if msg.put_raw(w.written()).is_ok() {
        let _ = msg.send(&net, GROUP_PEERS, GFP_ATOMIC);
    }
}

fn peer_added(dev: &Device, peer: &Peer) {
    notify(WG_CMD_NOTIFY_PEER_ADDED, dev, peer, true, false);
}

fn peer_removed(dev: &Device, peer: &Peer) {
    notify(WG_CMD_NOTIFY_PEER_REMOVED, dev, peer, false, false);
}

fn handshake_complete(dev: &Device, peer: &Peer) {
    notify(WG_CMD_NOTIFY_HANDSHAKE, dev, peer, true, true);
}

fn endpoint_changed(dev: &Device, peer: &Peer) {
    notify(WG_CMD_NOTIFY_ENDPOINT, dev, peer, true, false);
}

fn keypair_expired(dev: &Device, peer: &Peer) {
    notify(WG_CMD_NOTIFY_KEYPAIR_EXPIRED, dev, peer, false, false);
}
