//! wgctl: a wg(8)-compatible tool for WireGuard devices over generic netlink.
pub mod attr;
pub mod cli;
pub mod config;
#[cfg(test)]
mod fake_kernel;
pub mod json;
pub mod key;
pub mod model;
pub mod monitor;
pub mod msg_get;
pub mod msg_set;
pub mod netlink;
pub mod resolve;
pub mod show;
pub mod sockaddr;
pub mod syncconf;
pub mod textfmt;
pub mod uapi;
pub mod values;
