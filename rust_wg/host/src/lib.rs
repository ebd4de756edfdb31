// SPDX-License-Identifier: GPL-2.0

//! Host build of the rust_wg protocol core (`rust_wg/proto`), with a RustCrypto implementation of its crypto trait.
//!
//! The core itself is `no_std` and allocation-free; this crate only adds [`host_crypto::HostCrypto`] and
//! [`host_crypto::ArcPtr`], and carries the tests (`tests/`) and fuzz targets (`fuzz/`).

#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

extern crate alloc;

#[path = "../../proto/mod.rs"]
mod proto;

pub use proto::*;

// The data path's queue management (plain `core` Rust), compiled here for its unit tests.
#[path = "../../aqm.rs"]
#[allow(dead_code)]
mod aqm;

pub mod host_crypto;
