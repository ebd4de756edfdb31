// SPDX-License-Identifier: GPL-2.0

//! rust_wg: WireGuard secure network tunnel, written in Rust for Linux.
//!
//! The crate is split by protocol concern. Everything that touches raw kernel objects lives in the `kernel`
//! crate's abstractions (see `patches/`); this crate is safe Rust.
//!
//! | module | concern |
//! | --- | --- |
//! | `device` | rtnl link kind, `net_device_ops`, per-device state, teardown order, the device registry |
//! | `config` | the configuration API netlink drives: `Device::apply`, `Device::snapshot`, `find_device`, hooks |
//! | `peer` | per-peer state and removal |
//! | `index` | keypairs and the index table |
//! | `allowedips` | RCU publication of the persistent trie |
//! | `handshake` | Noise/cookie glue in process context (the handshake worker) |
//! | `send`, `receive` | data path |
//! | `queueing` | the parallel crypto pipeline with per-peer order |
//! | `staging` | the per-peer staging queue, fair between flows |
//! | `socket` | the UDP sockets |
//! | `timers` | one kernel timer per peer over `proto::timers` |
//! | `crypto` | `proto::crypto::Crypto` over lib/crypto |
//!
//! Two modules are built from these sources (see `Kbuild`): `rust_wg.ko`, a drop-in for the C driver with link kind
//! and genl family "wireguard", and `rustwg_alt.ko`, built with `--cfg rustwg_alt`, whose link kind and family are
//! "rustwg", so it can be loaded next to the C `wireguard.ko` for interop tests and benchmarks
//! (`ip link add rwg0 type rustwg`).

#![deny(unsafe_code)]
#![recursion_limit = "256"]

use kernel::{
    net::{pernet, rtnl},
    prelude::*,
    str::CStr,
};

mod allowedips;
mod aqm;
mod config;
mod crypto;
mod device;
mod handshake;
mod index;
mod netlink;
mod netlink_attr;
mod netlink_dump;
mod netlink_parse;
mod netlink_uapi;
mod peer;
mod peer_list;
// The protocol core is also the host crate's public API, hence `pub` items that are crate-internal here, and items
// only the host crate's tests and tools use (e.g. `messages::classify`, the trie's iterators).
#[allow(unreachable_pub, dead_code)]
mod proto;
mod queueing;
mod receive;
mod send;
mod slots;
mod socket;
mod staging;
mod timers;

/// The `module!` of both builds (`rust_wg` and the side-by-side `rustwg_alt`, see `Kbuild`): they differ in name,
/// description and aliases only.
macro_rules! rust_wg_module {
    ($name:tt, $description:tt, $aliases:tt) => {
        module! {
            type: RustWg,
            name: $name,
            author: "rust_wg developers",
            description: $description,
            license: "GPL",
            alias: $aliases,
            params: {
                express: bool {
                    default: true,
                    permissions: 0o644,
                    description: "Small packets of sparse flows skip the parallel crypto pipeline (express lane); N: every packet takes the pipeline, as in the C driver. Read per packet: a write takes effect at once",
                },
                crypt_nice: i32 {
                    default: crate::queueing::CRYPT_NICE,
                    range: -20..=19,
                    permissions: 0o444,
                    description: "Nice level of the crypt workers, -20..19 (other values fail the load). Read when a device is created",
                },
            },
        }
    };
}

#[cfg(not(rustwg_alt))]
rust_wg_module!(
    "rust_wg",
    "WireGuard secure network tunnel (Rust)",
    ["rtnl-link-wireguard", "net-pf-16-proto-16-family-wireguard"]
);

#[cfg(rustwg_alt)]
rust_wg_module!(
    "rustwg_alt",
    "WireGuard secure network tunnel (Rust), side-by-side variant",
    ["rtnl-link-rustwg", "net-pf-16-proto-16-family-rustwg"]
);

/// Whether small packets of sparse flows may take the express lane (`proto::express`; module parameter `express`,
/// writable in `/sys/module/<module>/parameters/`). Asked per packet: a relaxed atomic load.
pub(crate) fn express_enabled() -> bool {
    module_parameters::EXPRESS.get()
}

/// The nice level of a new device's crypt workers (module parameter `crypt_nice`, read-only after load, checked to
/// be within -20..=19 when the module is loaded).
pub(crate) fn crypt_nice() -> i32 {
    module_parameters::CRYPT_NICE.get()
}

/// The rtnl link kind (`ip link add ... type KIND`).
#[cfg(not(rustwg_alt))]
pub(crate) const KIND: &CStr = kernel::c_str!("wireguard");
/// The rtnl link kind (`ip link add ... type KIND`).
#[cfg(rustwg_alt)]
pub(crate) const KIND: &CStr = kernel::c_str!("rustwg");

/// The generic netlink family name netlink.rs registers.
pub(crate) const GENL_FAMILY: &CStr = KIND;

/// Version reported at load time and, later, through the netlink interface.
const VERSION: &str = "0.1.0";

struct RustWg {
    /// Dropped first in `drop`: unregistering the link kind deletes every device.
    link: Option<rtnl::Registration<device::DevPriv>>,
    /// Closes the sockets of devices whose creating namespace goes away. Registered before the link kind, so that
    /// no device exists without it.
    net_hooks: Option<pernet::Registration<device::NetHooks>>,
}

impl kernel::Module for RustWg {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        device::registry_init()?;
        let net_hooks = match pernet::Registration::register_device() {
            Ok(h) => h,
            Err(e) => {
                device::registry_exit();
                return Err(e);
            }
        };
        let link = match rtnl::Registration::register() {
            Ok(l) => l,
            Err(e) => {
                drop(net_hooks);
                device::registry_exit();
                return Err(e);
            }
        };
        if let Err(e) = netlink::init(_module) {
            drop(link);
            drop(net_hooks);
            device::registry_exit();
            return Err(e);
        }
        pr_info!("WireGuard (rust_wg) {} loaded.\n", VERSION);
        Ok(RustWg {
            link: Some(link),
            net_hooks: Some(net_hooks),
        })
    }
}

impl Drop for RustWg {
    fn drop(&mut self) {
        // 0. No more configuration requests or notifications (the C driver's `wg_genetlink_uninit()` comes first).
        netlink::exit();
        // 1. Delete all devices (dellink tears each down: sockets closed, peers removed, work drained) and wait
        //    until they are freed.
        drop(self.link.take());
        drop(self.net_hooks.take());
        // 2. Hooks may still point into netlink.rs: forget them.
        config::set_hooks(None);
        // 3. Run RCU callbacks that free our objects (allowed-IPs versions) before the code goes away.
        kernel::sync::rcu::barrier();
        device::registry_exit();
        pr_info!("WireGuard (rust_wg) {} unloaded.\n", VERSION);
    }
}
