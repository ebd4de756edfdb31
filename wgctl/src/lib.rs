//! wgctl: a wg(8)-compatible tool for WireGuard devices over generic netlink.
pub mod config;
pub mod key;
pub mod model;
pub mod resolve;
pub mod uapi;
pub mod values;
