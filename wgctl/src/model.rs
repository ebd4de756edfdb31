//! In-memory device, peer and allowed-IP state: a partial update (SET) or a reading (GET).
//!
//! `Option` fields are the "has" flags of wireguard-tools: `None` means "leave as is" in
//! an update and "not reported" in a reading.

use std::net::{IpAddr, SocketAddr};

use crate::key::Key;

/// One allowed-IP entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllowedIp {
    pub addr: IpAddr,
    pub cidr: u8,
    /// Sent with WGALLOWEDIP_F_REMOVE_ME (written `-addr/cidr`).
    pub remove: bool,
}

impl AllowedIp {
    /// Largest prefix length for the address family.
    pub fn max_cidr(addr: &IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// True if no address bit beyond the prefix length is set.
    pub fn host_bits_zero(&self) -> bool {
        let (bits, width): (u128, u32) = match self.addr {
            IpAddr::V4(a) => (u32::from(a).into(), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        };
        let cidr = u32::from(self.cidr).min(width);
        let host = width - cidr;
        let mask = 1u128.checked_shl(host).map_or(u128::MAX, |m| m - 1);
        bits & mask == 0
    }
}

/// The last handshake time as `struct __kernel_timespec`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

impl Timespec {
    pub fn is_zero(&self) -> bool {
        self.sec == 0 && self.nsec == 0
    }
}

/// A peer, as configured or as read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peer {
    pub public_key: Key,
    /// `Some(Key::ZERO)` removes the preshared key.
    pub preshared_key: Option<Key>,
    pub endpoint: Option<SocketAddr>,
    /// `Some(0)` turns persistent keepalive off.
    pub persistent_keepalive: Option<u16>,
    pub allowed_ips: Vec<AllowedIp>,
    /// WGPEER_F_REPLACE_ALLOWEDIPS.
    pub replace_allowed_ips: bool,
    /// WGPEER_F_REMOVE_ME.
    pub remove: bool,
    /// WGPEER_F_UPDATE_ONLY.
    pub update_only: bool,
    pub last_handshake: Timespec,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub protocol_version: Option<u32>,
}

impl Peer {
    /// A peer entry carrying only its public key.
    pub fn new(public_key: Key) -> Peer {
        Peer {
            public_key,
            ..Peer::default()
        }
    }
}

/// A device, as configured or as read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub ifindex: u32,
    /// `Some(Key::ZERO)` removes the private key.
    pub private_key: Option<Key>,
    pub public_key: Option<Key>,
    pub listen_port: Option<u16>,
    /// `Some(0)` removes the mark.
    pub fwmark: Option<u32>,
    /// WGDEVICE_F_REPLACE_PEERS.
    pub replace_peers: bool,
    pub peers: Vec<Peer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_bits() {
        let t = |s: &str, cidr, want| {
            let ip = AllowedIp {
                addr: s.parse().unwrap(),
                cidr,
                remove: false,
            };
            assert_eq!(ip.host_bits_zero(), want, "{s}/{cidr}");
        };
        t("10.0.0.0", 8, true);
        t("10.0.0.1", 8, false);
        t("10.0.0.1", 32, true);
        t("0.0.0.0", 0, true);
        t("1.0.0.0", 0, false);
        t("fd00::", 8, true);
        t("fd00::1", 64, false);
        t("fd00::1", 128, true);
        t("::", 0, true);
    }
}
