//! wgctl: a wg(8)-compatible tool for WireGuard devices over generic netlink.
pub mod attr;
pub mod config;
#[cfg(test)]
mod fake_kernel;
pub mod key;
pub mod model;
pub mod msg_get;
pub mod msg_set;
pub mod resolve;
pub mod sockaddr;
pub mod uapi;
pub mod values;
