// SPDX-License-Identifier: GPL-2.0

//! Kernel glue for the persistent allowed-IPs trie of `proto::allowedips`.
//!
//! Nodes are kernel `Arc`s; a table version is published in [`crate::device::Device::allowedips`] under RCU and
//! replaced as a whole by configuration (under the device's `cfg` mutex), so the transmit and receive paths look
//! prefixes up without a lock. The old version is dropped after a grace period, which frees exactly the nodes the
//! change replaced.

use crate::device::{Device, Table};
use crate::peer::Peer;
use crate::proto::addr::IpAddr;
use crate::proto::allowedips::{AllocError, AllowedIpsError, SharedPtr};
use kernel::{
    error::code::*,
    prelude::*,
    sync::{rcu, Arc},
};

/// Kernel `Arc` as the trie's node pointer.
pub(crate) struct ArcFamily;

impl SharedPtr for ArcFamily {
    type Ptr<T> = Arc<T>;

    fn try_new<T>(value: T) -> Result<Arc<T>, AllocError> {
        Arc::new(value, GFP_KERNEL).map_err(|_| AllocError)
    }
}

/// A peer as a trie value: compared by identity, not by contents.
#[derive(Clone)]
pub(crate) struct PeerRef(pub(crate) Arc<Peer>);

impl PartialEq for PeerRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for PeerRef {}

fn map_err(e: AllowedIpsError) -> Error {
    match e {
        AllowedIpsError::Alloc => ENOMEM,
        AllowedIpsError::Cidr => EINVAL,
    }
}

/// Applies `f` to the current table and publishes the result. Caller holds `wg.cfg`.
pub(crate) fn update(wg: &Device, f: impl FnOnce(&Table) -> Result<Table, AllowedIpsError>) -> Result {
    let new = {
        let g = rcu::read_lock();
        let cur = wg.allowedips.get(&g).ok_or(ENODEV)?;
        f(&cur).map_err(map_err)?
    };
    let old = wg.allowedips.replace(Some(KBox::new(new, GFP_KERNEL)?));
    // Freed from an RCU callback: nodes only hold `Arc`s, whose drop never sleeps. Fall back to waiting.
    if let Err(old) = old.free_deferred(GFP_KERNEL) {
        drop(old.into_inner());
    }
    Ok(())
}

/// Returns the peer owning the longest prefix that contains `addr`. Caller is in an RCU read-side section.
pub(crate) fn lookup(wg: &Device, g: &rcu::Guard, addr: &IpAddr) -> Option<Arc<Peer>> {
    let t = wg.allowedips.get(g)?;
    t.lookup(addr).map(|p| p.0.clone())
}

/// Returns `peer`'s prefixes in stable order.
pub(crate) fn of_peer(wg: &Device, peer: &Arc<Peer>) -> Result<KVec<(IpAddr, u8)>> {
    let g = rcu::read_lock();
    let mut v = KVec::new();
    if let Some(t) = wg.allowedips.get(&g) {
        let key = PeerRef(peer.clone());
        for e in t.iter_peer(&key) {
            v.push((e.addr, e.cidr), GFP_ATOMIC)?;
        }
    }
    Ok(v)
}
