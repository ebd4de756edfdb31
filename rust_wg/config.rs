// SPDX-License-Identifier: GPL-2.0

//! The configuration API that the generic netlink layer (`netlink.rs`) drives.
//!
//! netlink.rs parses and validates a `WG_CMD_SET_DEVICE` request into a [`DeviceUpdate`] and calls
//! [`Device::apply`]; a `WG_CMD_GET_DEVICE` dump takes one [`Device::snapshot`] and walks it with its own cursor
//! (peer index, allowed-IP index), so a dump that spans several messages is consistent unless the generation changed,
//! which netlink reports as an interrupted dump. [`find_device`] resolves the request's ifindex or name.
//!
//! Locking: callers hold RTNL for all three (take `RtnlGuard::lock()` first, like the C driver's `rtnl_lock()` in
//! `wg_set_device`/`wg_get_device_dump`); `apply` and `snapshot` take the device's configuration mutex inside it.
//!
//! Notifications go the other way: the data path calls the [`Hooks`] that netlink.rs installs with [`set_hooks`]
//! (no-ops until then). They may run in softirq context, so they must not sleep.

use crate::device::Device;
use crate::peer::Peer;
use crate::proto::addr::SocketAddr;
use kernel::{
    c_str,
    error::code::*,
    net::{ns::Namespace, rtnl::Rtnl},
    prelude::*,
    sync::{rcu, rcu::Rcu, Arc},
};

pub(crate) use crate::proto::addr::IpAddr;

/// A public, private or preshared key.
pub(crate) type Key = [u8; 32];

/// A validated `WG_CMD_SET_DEVICE` request. `None` fields are left unchanged.
pub(crate) struct DeviceUpdate {
    /// New private key; all zero removes it (`WGDEVICE_A_PRIVATE_KEY`).
    pub private_key: Option<Key>,
    /// New listen port, 0 for a random one (`WGDEVICE_A_LISTEN_PORT`).
    pub listen_port: Option<u16>,
    /// New firewall mark, 0 for none (`WGDEVICE_A_FWMARK`).
    pub fwmark: Option<u32>,
    /// Removes all peers before applying `peers` (`WGDEVICE_F_REPLACE_PEERS`).
    pub replace_peers: bool,
    /// Peers to add, change or remove, in order.
    pub peers: KVec<PeerUpdate>,
}

/// One peer of a [`DeviceUpdate`] (`WGDEVICE_A_PEERS` element).
pub(crate) struct PeerUpdate {
    /// The peer's identity (`WGPEER_A_PUBLIC_KEY`).
    pub public_key: Key,
    /// Removes the peer (`WGPEER_F_REMOVE_ME`); the other fields are ignored.
    pub remove: bool,
    /// Changes the peer only if it exists (`WGPEER_F_UPDATE_ONLY`).
    pub update_only: bool,
    /// New preshared key, all zero for none (`WGPEER_A_PRESHARED_KEY`).
    pub preshared_key: Option<Key>,
    /// New endpoint (`WGPEER_A_ENDPOINT`).
    pub endpoint: Option<SocketAddr>,
    /// `sin6_scope_id` of an IPv6 `endpoint` (the interface of a link-local address), else 0.
    pub endpoint_scope_id: u32,
    /// New persistent keepalive interval in seconds, 0 to disable (`WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL`).
    pub persistent_keepalive: Option<u16>,
    /// Removes all the peer's allowed IPs before applying `allowed_ips` (`WGPEER_F_REPLACE_ALLOWEDIPS`).
    pub replace_allowed_ips: bool,
    /// Allowed IPs to add or remove, in order.
    pub allowed_ips: KVec<AllowedIpUpdate>,
}

/// One allowed IP of a [`PeerUpdate`] (`WGPEER_A_ALLOWEDIPS` element).
pub(crate) struct AllowedIpUpdate {
    /// The prefix (host bits may be set; they are masked off).
    pub addr: IpAddr,
    /// The prefix length, at most 32 or 128.
    pub cidr: u8,
    /// Removes the prefix if this peer owns it (`WGALLOWEDIP_F_REMOVE_ME`, Linux 6.16).
    pub remove: bool,
}

/// Why [`Device::apply`] failed: an errno and, if there is one, a message for the extended ack.
#[derive(Debug)]
pub(crate) struct ConfigError {
    /// The error returned to userspace.
    pub errno: Error,
    /// Text for `NL_SET_ERR_MSG`.
    pub msg: Option<&'static CStr>,
}

impl ConfigError {
    pub(crate) fn new(errno: Error, msg: &'static CStr) -> Self {
        Self {
            errno,
            msg: Some(msg),
        }
    }
}

impl From<Error> for ConfigError {
    fn from(errno: Error) -> Self {
        Self { errno, msg: None }
    }
}

/// A consistent copy of a device's configuration and peer statistics, for a GET dump.
pub(crate) struct DeviceSnapshot {
    /// `WGDEVICE_A_IFINDEX`.
    pub ifindex: i32,
    /// `WGDEVICE_A_IFNAME`, NUL-padded.
    pub ifname: [u8; 16],
    /// `WGDEVICE_A_PRIVATE_KEY` and `WGDEVICE_A_PUBLIC_KEY`, if the device has a key.
    pub keys: Option<(Key, Key)>,
    /// `WGDEVICE_A_LISTEN_PORT`: the bound port while up, else the configured one.
    pub listen_port: u16,
    /// `WGDEVICE_A_FWMARK`.
    pub fwmark: u32,
    /// The peers, in creation order.
    pub peers: KVVec<PeerSnapshot>,
}

/// One peer of a [`DeviceSnapshot`].
pub(crate) struct PeerSnapshot {
    /// `WGPEER_A_PUBLIC_KEY`.
    pub public_key: Key,
    /// `WGPEER_A_PRESHARED_KEY` (all zero if none).
    pub preshared_key: Key,
    /// `WGPEER_A_ENDPOINT`.
    pub endpoint: Option<SocketAddr>,
    /// Its `sin6_scope_id` if it is IPv6.
    pub endpoint_scope_id: u32,
    /// `WGPEER_A_LAST_HANDSHAKE_TIME` as (seconds, nanoseconds) of real time; (0, 0) for never.
    pub last_handshake: (i64, i64),
    /// `WGPEER_A_RX_BYTES`.
    pub rx_bytes: u64,
    /// `WGPEER_A_TX_BYTES`.
    pub tx_bytes: u64,
    /// `WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL`.
    pub persistent_keepalive: u16,
    /// `WGPEER_A_PROTOCOL_VERSION`: always 1.
    pub protocol_version: u32,
    /// `WGPEER_A_ALLOWEDIPS`, in the C driver's order (insertion order, a prefix inserted again last).
    pub allowed_ips: KVVec<(IpAddr, u8)>,
}

/// Notification callbacks filled in by netlink.rs. They run in any context, including softirq, and must not sleep.
pub(crate) struct Hooks {
    /// A handshake completed and a new session started with `peer`.
    pub handshake_complete: fn(&Device, &Peer),
    /// `peer`'s endpoint changed (roaming or configuration).
    pub endpoint_changed: fn(&Device, &Peer),
    /// `peer` was added to the device.
    pub peer_added: fn(&Device, &Peer),
    /// `peer` is being removed from the device.
    pub peer_removed: fn(&Device, &Peer),
    /// All keys of `peer` expired (zeroed after `REJECT_AFTER_TIME * 3`).
    pub keypair_expired: fn(&Device, &Peer),
}

/// The installed hooks; null means "no notifications".
static HOOKS: Rcu<KBox<Hooks>> = Rcu::null();

/// Installs (or with `None` removes) the notification hooks. Sleeps (waits for readers of the old ones).
pub(crate) fn set_hooks(hooks: Option<KBox<Hooks>>) {
    drop(HOOKS.replace(hooks));
}

/// Calls one hook if hooks are installed.
pub(crate) fn notify(which: impl FnOnce(&Hooks) -> fn(&Device, &Peer), dev: &Device, peer: &Peer) {
    let g = rcu::read_lock();
    if let Some(h) = HOOKS.get(&g) {
        which(&h)(dev, peer);
    }
}

/// Finds a live device of this module in `ns` by `ifindex` (preferred) or `name`, like the C `lookup_interface`.
///
/// Returns `None` if there is no such device or it is not one of ours (the netlink caller tells the two apart with
/// the namespace's own device lookup: `ENODEV` or `EOPNOTSUPP`).
pub(crate) fn find_device(
    rtnl: &Rtnl,
    ns: &Namespace,
    ifindex: Option<i32>,
    name: Option<&CStr>,
) -> Option<Arc<Device>> {
    crate::device::registry_find(rtnl, ns, ifindex, name)
}

/// Errors for the messages the C driver also reports.
pub(crate) fn einval(msg: &'static CStr) -> ConfigError {
    ConfigError::new(EINVAL, msg)
}

// ---- Applying updates and taking snapshots ----

use crate::allowedips;
use crate::device::MAX_PEERS_PER_DEVICE;
use crate::proto::noise::StaticIdentity;
use core::sync::atomic::Ordering;

impl Device {
    /// Applies a validated update (the C `wg_set_device` and `set_peer`). The caller holds RTNL.
    ///
    /// Like the C driver, changes are not transactional: on an error, what was applied before it stays applied.
    /// All allowed-IP changes of the update are published as one new trie version at the end, errors included.
    pub(crate) fn apply(self: &Arc<Self>, rtnl: &Rtnl, update: &DeviceUpdate) -> Result<(), ConfigError> {
        let mut c = self.cfg.lock();
        if c.dead {
            return Err(ENODEV.into());
        }
        self.generation.fetch_add(1, Ordering::Relaxed);
        let mut ips = allowedips::Update::begin(self)?;
        let r = self.apply_locked(rtnl, &mut c, &mut ips, update);
        ips.commit();
        r
    }

    fn apply_locked(
        self: &Arc<Self>,
        rtnl: &Rtnl,
        c: &mut crate::device::DevConfig,
        ips: &mut allowedips::Update<'_>,
        update: &DeviceUpdate,
    ) -> Result<(), ConfigError> {
        if let Some(mark) = update.fwmark {
            self.fwmark.store(mark, Ordering::Relaxed);
            for p in c.peers.iter() {
                p.clear_endpoint_src();
            }
        }

        if let Some(port) = update.listen_port {
            if port != c.listen_port || (port == 0 && !c.up) {
                for p in c.peers.iter() {
                    p.clear_endpoint_src();
                }
                if c.up {
                    // Rebind: on failure the old sockets stay (the C `wg_socket_init` error path).
                    let bound = self
                        .open_sockets(rtnl, port)
                        .map_err(|e| ConfigError { errno: e, msg: None })?;
                    c.listen_port = bound;
                } else {
                    c.listen_port = port;
                }
            }
        }

        if update.replace_peers {
            // Every peer goes, so the new table is empty (the C `wg_peer_remove_all` frees the whole trie too).
            let old = c.peers.take();
            ips.clear();
            let mut napis = kernel::net::napi::NapiDelBatch::new();
            for p in old.iter() {
                crate::peer::remove_into(self, p, &mut napis);
            }
        }

        if let Some(private) = &update.private_key {
            self.set_private_key(c, ips, private)?;
        }

        for pu in update.peers.iter() {
            self.set_peer(c, ips, pu)?;
        }
        Ok(())
    }

    /// Sets or (all zero) removes the private key, as `wg_set_device`'s key branch.
    fn set_private_key(
        self: &Arc<Self>,
        c: &mut crate::device::DevConfig,
        ips: &mut allowedips::Update<'_>,
        private: &Key,
    ) -> Result<(), ConfigError> {
        let zero = private.iter().all(|&b| b == 0);
        let new = if zero {
            None
        } else {
            Some(StaticIdentity::new(private).map_err(|_| einval(c_str!("Invalid private key")))?)
        };
        {
            let id = self.identity.lock();
            if let (Some(a), Some(b)) = (&id.identity, &new) {
                if a.private_key() == b.private_key() {
                    return Ok(());
                }
            }
        }
        // A peer with our own new public key is removed: we would never handshake with ourselves.
        if let Some(n) = &new {
            let pk = *n.public_key();
            if let Some(p) = c.peers.remove_key(&pk) {
                self.remove_listed_peer(ips, &p)?;
            }
        }
        let mut id = self.identity.lock();
        // Packets staged while there was no identity (a keepalive queued at up, say) can go now (the C
        // `send_staged_packets` of `wg_set_device`).
        let send_staged = id.identity.is_none() && new.is_some() && c.up;
        let public = new.as_ref().map(|n| *n.public_key());
        id.cookie_checker
            .set_public_key(public.as_ref())
            .map_err(|_| einval(c_str!("Invalid private key")))?;
        id.identity = new;
        for p in c.peers.iter() {
            p.handshake.lock().hs.set_identity(id.identity.as_ref());
        }
        drop(id);
        // Keys derived with the old identity are useless now.
        for p in c.peers.iter() {
            p.clear_keys();
            // The next initiation may go at once (the C `wg_noise_expire_current_peer_keypairs`).
            p.timers.lock().reset_last_sent_handshake();
            if send_staged {
                crate::send::send_staged(p);
            }
        }
        Ok(())
    }

    /// Creates, changes or removes one peer, as the C `set_peer`.
    fn set_peer(
        self: &Arc<Self>,
        c: &mut crate::device::DevConfig,
        ips: &mut allowedips::Update<'_>,
        u: &PeerUpdate,
    ) -> Result<(), ConfigError> {
        if u.remove {
            if let Some(p) = c.peers.remove_key(&u.public_key) {
                self.remove_listed_peer(ips, &p)?;
            }
            return Ok(());
        }
        let existing = c.peers.find_key(&u.public_key).cloned();
        let (peer, created) = match existing {
            Some(p) => (p, false),
            None if u.update_only => return Ok(()),
            None => {
                // Peers with the device's own public key are silently ignored.
                if crate::device::public_key(self) == Some(u.public_key) {
                    return Ok(());
                }
                if c.peers.len() >= MAX_PEERS_PER_DEVICE {
                    return Err(ConfigError::new(ENOSPC, c_str!("Too many peers")));
                }
                let p = crate::peer::Peer::new(self, u.public_key, u.preshared_key.as_ref())
                    .map_err(ConfigError::from)?;
                c.peers.insert(p.clone(), GFP_KERNEL)?;
                if let Err(e) = p.start_napi() {
                    drop(c.peers.remove_if(|x| Arc::ptr_eq(x, &p)));
                    return Err(e.into());
                }
                (p, true)
            }
        };

        let r = self.set_peer_addresses(ips, &peer, u);
        if created {
            // Also when the allowed IPs failed: the peer is listed now and must run like any other (a listed peer
            // whose timers never run would keep its keys for ever).
            peer.set_running(c.up);
            notify(|h| h.peer_added, self, &peer);
        }
        r?;
        if let Some(ka) = u.persistent_keepalive {
            let send_now = {
                let mut t = peer.timers.lock();
                t.set_persistent_keepalive_interval(ka)
            };
            if send_now && c.up {
                crate::send::send_keepalive(&peer);
            }
        }
        if c.up {
            crate::send::send_staged(&peer);
        }
        Ok(())
    }

    /// Sets `peer`'s preshared key, endpoint and allowed IPs from `u` (the part of `set_peer` that may fail
    /// halfway).
    fn set_peer_addresses(
        &self,
        ips: &mut allowedips::Update<'_>,
        peer: &Arc<Peer>,
        u: &PeerUpdate,
    ) -> Result<(), ConfigError> {
        if let Some(psk) = &u.preshared_key {
            peer.handshake.lock().hs.set_preshared_key(psk);
        }
        if let Some(ep) = u.endpoint {
            let scope = if matches!(ep.addr, IpAddr::V6(_)) { u.endpoint_scope_id } else { 0 };
            if peer.set_endpoint(ep, scope) {
                notify(|h| h.endpoint_changed, self, peer);
            }
        }
        if u.replace_allowed_ips {
            ips.remove_peer(peer)?;
        }
        ips.reserve(peer, u.allowed_ips.iter().filter(|a| !a.remove).count())?;
        for a in u.allowed_ips.iter() {
            if a.cidr > a.addr.bits() {
                return Err(einval(c_str!("Invalid allowed IP prefix length")));
            }
            if a.remove {
                ips.remove(peer, &a.addr, a.cidr)?;
            } else {
                ips.insert(peer, &a.addr, a.cidr)?;
            }
        }
        Ok(())
    }

    /// Removes `p`, which the caller just took off `cfg.peers`: its prefixes, then the peer itself.
    ///
    /// The peer is removed even if its prefixes could not be (no memory for the trie's path copies): a peer that is
    /// no longer listed but still alive would keep its timer, work and NAPI context, and its index entries, which
    /// hold the device, for ever (and the timer would fire after the module is gone). Prefixes left behind then
    /// lead to a dead peer, whose packets are dropped, until they are replaced or the device goes.
    fn remove_listed_peer(&self, ips: &mut allowedips::Update<'_>, p: &Arc<Peer>) -> Result<(), ConfigError> {
        let r = ips.remove_peer(p);
        crate::peer::remove(self, p);
        r.map_err(ConfigError::from)
    }

    /// Copies the configuration and peer statistics for a GET dump. The caller holds RTNL.
    pub(crate) fn snapshot(&self, rtnl: &Rtnl) -> Result<DeviceSnapshot> {
        let c = self.cfg.lock();
        let nd = self.netdev().ok_or(ENODEV)?;
        let mut ifname = [0u8; 16];
        let n = nd.name(rtnl).as_bytes();
        let l = n.len().min(15);
        ifname[..l].copy_from_slice(&n[..l]);
        let keys = {
            let id = self.identity.lock();
            id.identity.as_ref().map(|i| (*i.private_key(), *i.public_key()))
        };
        // About 160 bytes a peer: beyond some 25 000 peers more than kmalloc gives.
        let mut peers = KVVec::with_capacity(c.peers.len(), GFP_KERNEL)?;
        for p in c.peers.iter() {
            // One lock at a time, each guard dropped at the end of its own statement: `of_peer` takes the peer's
            // allowed-IPs mutex, which must not be taken under a (BH-disabling) spinlock such as last_handshake.
            let preshared_key = *p.handshake.lock().hs.preshared_key();
            let last_handshake = *p.last_handshake.lock();
            let allowed_ips = allowedips::of_peer(self, p)?;
            let ep = p.endpoint();
            peers.push(
                PeerSnapshot {
                    public_key: p.public_key,
                    preshared_key,
                    endpoint: ep.addr,
                    endpoint_scope_id: ep.scope_id,
                    last_handshake,
                    rx_bytes: p.rx_bytes.load(Ordering::Relaxed),
                    tx_bytes: p.tx_bytes.load(Ordering::Relaxed),
                    persistent_keepalive: p.persistent_keepalive(),
                    protocol_version: 1,
                    allowed_ips,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(DeviceSnapshot {
            ifindex: nd.ifindex(),
            ifname,
            keys,
            listen_port: c.listen_port,
            fwmark: self.fwmark.load(Ordering::Relaxed),
            peers,
        })
    }
}
