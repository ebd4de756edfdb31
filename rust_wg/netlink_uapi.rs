// SPDX-License-Identifier: GPL-2.0

//! The numbers of the `wireguard` generic netlink family: `include/uapi/linux/wireguard.h` of Linux 6.12, the
//! allowed-IP flags of Linux 6.16, and this project's notification commands (`docs/netlink/wireguard.yaml`).

/// `WG_GENL_VERSION`.
pub(crate) const WG_GENL_VERSION: u32 = 1;

/// Commands (`enum wg_cmd`, then the notifications).
pub(crate) const WG_CMD_GET_DEVICE: u8 = 0;
pub(crate) const WG_CMD_SET_DEVICE: u8 = 1;
pub(crate) const WG_CMD_NOTIFY_PEER_ADDED: u8 = 2;
pub(crate) const WG_CMD_NOTIFY_PEER_REMOVED: u8 = 3;
pub(crate) const WG_CMD_NOTIFY_HANDSHAKE: u8 = 4;
pub(crate) const WG_CMD_NOTIFY_ENDPOINT: u8 = 5;
pub(crate) const WG_CMD_NOTIFY_KEYPAIR_EXPIRED: u8 = 6;

// Attribute types and flags of include/uapi/linux/wireguard.h (Linux 6.12, plus WGALLOWEDIP_A_FLAGS of 6.16).
pub(crate) const WGDEVICE_A_IFINDEX: u16 = 1;
pub(crate) const WGDEVICE_A_IFNAME: u16 = 2;
pub(crate) const WGDEVICE_A_PRIVATE_KEY: u16 = 3;
pub(crate) const WGDEVICE_A_PUBLIC_KEY: u16 = 4;
pub(crate) const WGDEVICE_A_FLAGS: u16 = 5;
pub(crate) const WGDEVICE_A_LISTEN_PORT: u16 = 6;
pub(crate) const WGDEVICE_A_FWMARK: u16 = 7;
pub(crate) const WGDEVICE_A_PEERS: u16 = 8;

pub(crate) const WGPEER_A_PUBLIC_KEY: u16 = 1;
pub(crate) const WGPEER_A_PRESHARED_KEY: u16 = 2;
pub(crate) const WGPEER_A_FLAGS: u16 = 3;
pub(crate) const WGPEER_A_ENDPOINT: u16 = 4;
pub(crate) const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL: u16 = 5;
pub(crate) const WGPEER_A_LAST_HANDSHAKE_TIME: u16 = 6;
pub(crate) const WGPEER_A_RX_BYTES: u16 = 7;
pub(crate) const WGPEER_A_TX_BYTES: u16 = 8;
pub(crate) const WGPEER_A_ALLOWEDIPS: u16 = 9;
pub(crate) const WGPEER_A_PROTOCOL_VERSION: u16 = 10;

pub(crate) const WGALLOWEDIP_A_FAMILY: u16 = 1;
pub(crate) const WGALLOWEDIP_A_IPADDR: u16 = 2;
pub(crate) const WGALLOWEDIP_A_CIDR_MASK: u16 = 3;
pub(crate) const WGALLOWEDIP_A_FLAGS: u16 = 4;

pub(crate) const WGDEVICE_F_REPLACE_PEERS: u32 = 1 << 0;
pub(crate) const WGDEVICE_F_ALL: u32 = WGDEVICE_F_REPLACE_PEERS;
pub(crate) const WGPEER_F_REMOVE_ME: u32 = 1 << 0;
pub(crate) const WGPEER_F_REPLACE_ALLOWEDIPS: u32 = 1 << 1;
pub(crate) const WGPEER_F_UPDATE_ONLY: u32 = 1 << 2;
pub(crate) const WGPEER_F_ALL: u32 = WGPEER_F_REMOVE_ME | WGPEER_F_REPLACE_ALLOWEDIPS | WGPEER_F_UPDATE_ONLY;
pub(crate) const WGALLOWEDIP_F_REMOVE_ME: u32 = 1 << 0;
pub(crate) const WGALLOWEDIP_F_ALL: u32 = WGALLOWEDIP_F_REMOVE_ME;

/// Address families as Linux numbers them (checked against the kernel's in `netlink.rs`).
pub(crate) const AF_INET: u16 = 2;
pub(crate) const AF_INET6: u16 = 10;
/// `sizeof(struct sockaddr_in)` and `sizeof(struct sockaddr_in6)`.
pub(crate) const SOCKADDR_IN_LEN: usize = 16;
pub(crate) const SOCKADDR_IN6_LEN: usize = 28;
/// `IFNAMSIZ`: names are at most 15 bytes and a NUL.
pub(crate) const IFNAMSIZ: usize = 16;

