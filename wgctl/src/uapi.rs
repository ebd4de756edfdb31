//! Constants of the WireGuard generic netlink family (include/uapi/linux/wireguard.h).
//!
//! Linux 6.12 values plus the 6.16 allowed-IP flags attribute and this project's
//! notification extension; `docs/netlink/wireguard.yaml` is the normative description.

/// Default generic netlink family name.
pub const WG_GENL_NAME: &str = "wireguard";
/// Family version sent in every request.
pub const WG_GENL_VERSION: u8 = 1;
/// Length of every key on the wire.
pub const WG_KEY_LEN: usize = 32;

/// Commands.
pub const WG_CMD_GET_DEVICE: u8 = 0;
pub const WG_CMD_SET_DEVICE: u8 = 1;
/// Notification commands of the "peers" multicast group (project extension).
pub const WG_CMD_NOTIFY_PEER_ADDED: u8 = 2;
pub const WG_CMD_NOTIFY_PEER_REMOVED: u8 = 3;
pub const WG_CMD_NOTIFY_HANDSHAKE: u8 = 4;
pub const WG_CMD_NOTIFY_ENDPOINT: u8 = 5;
pub const WG_CMD_NOTIFY_KEYPAIR_EXPIRED: u8 = 6;
/// Name of the multicast group carrying notifications.
pub const WG_MCGRP_PEERS: &str = "peers";

/// Device flags.
pub const WGDEVICE_F_REPLACE_PEERS: u32 = 1 << 0;

/// Device attributes.
pub const WGDEVICE_A_IFINDEX: u16 = 1;
pub const WGDEVICE_A_IFNAME: u16 = 2;
pub const WGDEVICE_A_PRIVATE_KEY: u16 = 3;
pub const WGDEVICE_A_PUBLIC_KEY: u16 = 4;
pub const WGDEVICE_A_FLAGS: u16 = 5;
pub const WGDEVICE_A_LISTEN_PORT: u16 = 6;
pub const WGDEVICE_A_FWMARK: u16 = 7;
pub const WGDEVICE_A_PEERS: u16 = 8;

/// Peer flags.
pub const WGPEER_F_REMOVE_ME: u32 = 1 << 0;
pub const WGPEER_F_REPLACE_ALLOWEDIPS: u32 = 1 << 1;
pub const WGPEER_F_UPDATE_ONLY: u32 = 1 << 2;

/// Peer attributes.
pub const WGPEER_A_PUBLIC_KEY: u16 = 1;
pub const WGPEER_A_PRESHARED_KEY: u16 = 2;
pub const WGPEER_A_FLAGS: u16 = 3;
pub const WGPEER_A_ENDPOINT: u16 = 4;
pub const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL: u16 = 5;
pub const WGPEER_A_LAST_HANDSHAKE_TIME: u16 = 6;
pub const WGPEER_A_RX_BYTES: u16 = 7;
pub const WGPEER_A_TX_BYTES: u16 = 8;
pub const WGPEER_A_ALLOWEDIPS: u16 = 9;
pub const WGPEER_A_PROTOCOL_VERSION: u16 = 10;

/// Allowed-IP flags (Linux 6.16).
pub const WGALLOWEDIP_F_REMOVE_ME: u32 = 1 << 0;

/// Allowed-IP attributes.
pub const WGALLOWEDIP_A_FAMILY: u16 = 1;
pub const WGALLOWEDIP_A_IPADDR: u16 = 2;
pub const WGALLOWEDIP_A_CIDR_MASK: u16 = 3;
pub const WGALLOWEDIP_A_FLAGS: u16 = 4;

/// Address families as the kernel encodes them.
pub const AF_INET: u16 = libc::AF_INET as u16;
pub const AF_INET6: u16 = libc::AF_INET6 as u16;

/// Size of `struct sockaddr_in` and `struct sockaddr_in6`.
pub const SOCKADDR_IN_LEN: usize = 16;
pub const SOCKADDR_IN6_LEN: usize = 28;
/// Size of `struct __kernel_timespec`.
pub const TIMESPEC_LEN: usize = 16;
