//! `struct sockaddr_in` / `sockaddr_in6` and `__kernel_timespec` as the kernel sends them.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::model::Timespec;
use crate::uapi::{AF_INET, AF_INET6, SOCKADDR_IN6_LEN, SOCKADDR_IN_LEN, TIMESPEC_LEN};

/// Encodes an endpoint (family in host order, port and flow info in network order).
pub fn encode(addr: &SocketAddr) -> Vec<u8> {
    match addr {
        SocketAddr::V4(a) => {
            let mut v = Vec::with_capacity(SOCKADDR_IN_LEN);
            v.extend_from_slice(&AF_INET.to_ne_bytes());
            v.extend_from_slice(&a.port().to_be_bytes());
            v.extend_from_slice(&a.ip().octets());
            v.resize(SOCKADDR_IN_LEN, 0);
            v
        }
        SocketAddr::V6(a) => {
            let mut v = Vec::with_capacity(SOCKADDR_IN6_LEN);
            v.extend_from_slice(&AF_INET6.to_ne_bytes());
            v.extend_from_slice(&a.port().to_be_bytes());
            v.extend_from_slice(&a.flowinfo().to_be_bytes());
            v.extend_from_slice(&a.ip().octets());
            v.extend_from_slice(&a.scope_id().to_ne_bytes());
            v
        }
    }
}

/// Decodes an endpoint; anything but a full sockaddr_in or sockaddr_in6 is `None`.
pub fn decode(b: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes(b.get(0..2)?.try_into().ok()?);
    let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
    if family == AF_INET && b.len() == SOCKADDR_IN_LEN {
        let ip: [u8; 4] = b[4..8].try_into().ok()?;
        Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
    } else if family == AF_INET6 && b.len() == SOCKADDR_IN6_LEN {
        let flow = u32::from_be_bytes(b[4..8].try_into().ok()?);
        let ip: [u8; 16] = b[8..24].try_into().ok()?;
        let scope = u32::from_ne_bytes(b[24..28].try_into().ok()?);
        Some(SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            port,
            flow,
            scope,
        )))
    } else {
        None
    }
}

pub fn encode_timespec(t: &Timespec) -> Vec<u8> {
    let mut v = t.sec.to_ne_bytes().to_vec();
    v.extend_from_slice(&t.nsec.to_ne_bytes());
    v
}

pub fn decode_timespec(b: &[u8]) -> Option<Timespec> {
    if b.len() != TIMESPEC_LEN {
        return None;
    }
    Some(Timespec {
        sec: i64::from_ne_bytes(b[0..8].try_into().ok()?),
        nsec: i64::from_ne_bytes(b[8..16].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in ["1.2.3.4:51820", "[fd00::1]:1", "[::ffff:1.2.3.4]:65535"] {
            let a: SocketAddr = s.parse().unwrap();
            let e = encode(&a);
            assert_eq!(decode(&e), Some(a));
        }
        let a = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 5, 7, 3));
        assert_eq!(encode(&a).len(), 28);
        assert_eq!(decode(&encode(&a)), Some(a));
        assert_eq!(
            &encode(&"1.2.3.4:258".parse().unwrap())[2..8],
            &[1, 2, 1, 2, 3, 4]
        );
        assert_eq!(decode(&[0; 16]), None);
        assert_eq!(decode(&[2, 0]), None);
        let t = Timespec {
            sec: 1700000000,
            nsec: 5,
        };
        assert_eq!(decode_timespec(&encode_timespec(&t)), Some(t));
    }
}
