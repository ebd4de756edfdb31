// SPDX-License-Identifier: GPL-2.0

//! rust_wg: WireGuard secure network tunnel, written in Rust for Linux.
//!
//! The crate is split by protocol concern. Everything that touches raw kernel objects lives in the `kernel`
//! crate's abstractions (see `patches/`); this crate is safe Rust.

#![deny(unsafe_code)]

use kernel::prelude::*;

module! {
    type: RustWg,
    name: "rust_wg",
    author: "rust_wg developers",
    description: "WireGuard secure network tunnel (Rust)",
    license: "GPL",
}

/// Version reported at load time and, later, through the netlink interface.
const VERSION: &str = "0.1.0";

struct RustWg;

impl kernel::Module for RustWg {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("WireGuard (rust_wg) {} loaded.\n", VERSION);
        Ok(RustWg)
    }
}

impl Drop for RustWg {
    fn drop(&mut self) {
        pr_info!("WireGuard (rust_wg) {} unloaded.\n", VERSION);
    }
}
