// SPDX-License-Identifier: GPL-2.0

//! IP addresses as raw network-order bytes, shared by the cookie, ratelimiter and allowedips code.
//!
//! `core::net` types would do, but raw arrays match what the kernel reads out of `iphdr`/`ipv6hdr` without conversion.

/// An IPv4 or IPv6 address in network byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpAddr {
    /// An IPv4 address.
    V4([u8; 4]),
    /// An IPv6 address.
    V6([u8; 16]),
}

impl IpAddr {
    /// Returns the address bytes (4 or 16 of them).
    pub fn octets(&self) -> &[u8] {
        match self {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => a,
        }
    }

    /// Returns the number of bits in an address of this family (32 or 128).
    pub fn bits(&self) -> u8 {
        match self {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }
}

/// A UDP source or destination: an address and a port in host byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketAddr {
    /// The IP address.
    pub addr: IpAddr,
    /// The UDP port, host byte order.
    pub port: u16,
}
