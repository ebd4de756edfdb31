// SPDX-License-Identifier: GPL-2.0

//! Sans-IO WireGuard protocol core shared by the kernel module and the host tests.
//!
//! Everything in here is plain `core` Rust without `unsafe`, without allocation, clocks, random number generators or
//! locks: the caller passes the current monotonic time in nanoseconds (`now`), wall-clock TAI64N timestamps, random
//! bytes (ephemeral secrets, sender indices, cookie secrets, jitter) and storage. All cryptography goes through the
//! [`crypto::Crypto`] trait, which the kernel implements over lib/crypto and the host crate over RustCrypto.
//!
//! The same files are compiled twice: as `mod proto` of the kernel module crate (rustc 1.96, edition 2021) and, through
//! a `#[path]` module, by the host crate `rust_wg_proto` in `rust_wg/host`, which carries the tests and fuzz targets.
//!
//! Locking is the caller's job. Each type says which of its methods mutate; the kernel wraps per-peer state
//! ([`noise::Handshake`], [`cookie::CookieMaker`], [`timers::Timers`], [`noise::Keypairs`]) in its own locks, and
//! publishes [`allowedips::AllowedIps`] snapshots under RCU so lookups never block.
//!
//! Secret material lives in [`crypto::Secret`], which zeroes itself on drop through
//! [`crypto::Crypto::memzero_explicit`] (the kernel's `memzero_explicit`), since zeroing that the optimiser cannot elide
//! needs `unsafe` (volatile writes) and proto has none.

pub mod addr;
pub mod allowedips;
pub mod cookie;
pub mod counter;
pub mod crypto;
pub mod express;
pub mod messages;
pub mod noise;
pub mod ratelimiter;
pub mod timers;
