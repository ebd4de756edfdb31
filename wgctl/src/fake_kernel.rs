//! A model of the kernel side of the family, for host tests: applies SET messages with
//! the semantics of drivers/net/wireguard/netlink.c and produces split GET dumps.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use crate::attr::{self, Attr, Attrs, GenlMsg, GENL_MSG_OVERHEAD};
use crate::key::Key;
use crate::model::{AllowedIp, Device, Peer};
use crate::msg_get::parse_device;
use crate::sockaddr;
use crate::uapi::*;

type Prefix = (IpAddr, u8);

#[derive(Default, Clone)]
pub struct KPeer {
    pub peer: Peer,
    pub ips: BTreeSet<Prefix>,
}

/// Device state as the kernel holds it.
#[derive(Default, Clone)]
pub struct FakeKernel {
    pub name: String,
    pub ifindex: u32,
    pub private_key: Option<Key>,
    pub listen_port: u16,
    pub fwmark: u32,
    pub order: Vec<Key>,
    pub peers: BTreeMap<Key, KPeer>,
    owner: HashMap<Prefix, Key>,
}

impl FakeKernel {
    pub fn new(name: &str) -> Self {
        FakeKernel {
            name: name.into(),
            ifindex: 7,
            ..Default::default()
        }
    }

    fn remove_peer(&mut self, k: &Key) {
        if let Some(p) = self.peers.remove(k) {
            for ip in p.ips {
                self.owner.remove(&ip);
            }
            self.order.retain(|x| x != k);
        }
    }

    /// Applies one WG_CMD_SET_DEVICE message.
    pub fn apply(&mut self, msg: &GenlMsg) {
        assert_eq!(*msg.cmd(), WG_CMD_SET_DEVICE);
        let mut upd = Device::default();
        parse_device(msg, &mut upd).expect("SET message parses");
        assert_eq!(upd.name, self.name, "every message names the interface");
        if let Some(k) = upd.private_key {
            self.private_key = (!k.is_zero()).then_some(k);
        }
        if let Some(p) = upd.listen_port {
            self.listen_port = p;
        }
        if let Some(m) = upd.fwmark {
            self.fwmark = m;
        }
        if upd.replace_peers {
            let keys: Vec<Key> = self.order.clone();
            for k in keys {
                self.remove_peer(&k);
            }
        }
        for p in upd.peers {
            let k = p.public_key;
            if p.remove {
                self.remove_peer(&k);
                continue;
            }
            let is_new = !self.peers.contains_key(&k);
            if is_new && p.update_only {
                continue;
            }
            if is_new {
                self.order.push(k);
            }
            self.peers.entry(k).or_insert_with(|| KPeer {
                peer: Peer::new(k),
                ips: BTreeSet::new(),
            });
            if p.replace_allowed_ips {
                let old = std::mem::take(&mut self.peers.get_mut(&k).unwrap().ips);
                for ip in old {
                    self.owner.remove(&ip);
                }
            }
            for a in &p.allowed_ips {
                let pre = (a.addr, a.cidr);
                if a.remove {
                    if self.owner.get(&pre) == Some(&k) {
                        self.owner.remove(&pre);
                        self.peers.get_mut(&k).unwrap().ips.remove(&pre);
                    }
                    continue;
                }
                if let Some(prev) = self.owner.insert(pre, k) {
                    if prev != k {
                        self.peers.get_mut(&prev).unwrap().ips.remove(&pre);
                    }
                }
                self.peers.get_mut(&k).unwrap().ips.insert(pre);
            }
            let kp = &mut self.peers.get_mut(&k).unwrap().peer;
            if let Some(psk) = p.preshared_key {
                kp.preshared_key = (!psk.is_zero()).then_some(psk);
            }
            if let Some(e) = p.endpoint {
                kp.endpoint = Some(e);
            }
            if let Some(ka) = p.persistent_keepalive {
                kp.persistent_keepalive = Some(ka);
            }
        }
    }

    /// The state as `wg` would show it after a coalesced dump.
    pub fn device(&self) -> Device {
        Device {
            name: self.name.clone(),
            ifindex: self.ifindex,
            private_key: self.private_key,
            public_key: self.private_key.map(|k| k.public()),
            listen_port: Some(self.listen_port),
            fwmark: Some(self.fwmark),
            replace_peers: false,
            peers: self
                .order
                .iter()
                .map(|k| {
                    let kp = &self.peers[k];
                    let mut p = kp.peer.clone();
                    p.persistent_keepalive = Some(p.persistent_keepalive.unwrap_or(0));
                    p.protocol_version = Some(1);
                    p.allowed_ips = kp
                        .ips
                        .iter()
                        .map(|&(addr, cidr)| AllowedIp {
                            addr,
                            cidr,
                            remove: false,
                        })
                        .collect();
                    p
                })
                .collect(),
        }
    }

    fn peer_head(p: &Peer) -> Vec<Attr> {
        let mut v = vec![
            attr::bytes(WGPEER_A_PUBLIC_KEY, &p.public_key.0).unwrap(),
            attr::bytes(
                WGPEER_A_PRESHARED_KEY,
                &p.preshared_key.unwrap_or(Key::ZERO).0,
            )
            .unwrap(),
            attr::bytes(
                WGPEER_A_LAST_HANDSHAKE_TIME,
                &sockaddr::encode_timespec(&p.last_handshake),
            )
            .unwrap(),
            attr::u16(
                WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                p.persistent_keepalive.unwrap_or(0),
            )
            .unwrap(),
            attr::bytes(WGPEER_A_TX_BYTES, &p.tx_bytes.to_ne_bytes()).unwrap(),
            attr::bytes(WGPEER_A_RX_BYTES, &p.rx_bytes.to_ne_bytes()).unwrap(),
            attr::u32(WGPEER_A_PROTOCOL_VERSION, 1).unwrap(),
        ];
        if let Some(e) = &p.endpoint {
            v.push(attr::bytes(WGPEER_A_ENDPOINT, &sockaddr::encode(e)).unwrap());
        }
        v
    }

    fn ip_attr(a: &AllowedIp) -> Attr {
        let mut n = attr::nest(0).unwrap();
        let (fam, oct) = match a.addr {
            IpAddr::V4(v) => (AF_INET, v.octets().to_vec()),
            IpAddr::V6(v) => (AF_INET6, v.octets().to_vec()),
        };
        n = attr::push(n, &attr::u16(WGALLOWEDIP_A_FAMILY, fam).unwrap()).unwrap();
        n = attr::push(n, &attr::bytes(WGALLOWEDIP_A_IPADDR, &oct).unwrap()).unwrap();
        attr::push(n, &attr::u8(WGALLOWEDIP_A_CIDR_MASK, a.cidr).unwrap()).unwrap()
    }

    /// A GET dump split like the kernel's: device attributes in the first message only;
    /// a peer whose allowed IPs do not fit is repeated (key + remaining IPs) next time.
    pub fn dump(&self, limit: usize) -> Vec<GenlMsg> {
        let dev = self.device();
        let mut msgs = Vec::new();
        let (mut pi, mut ii): (usize, Option<usize>) = (0, None);
        loop {
            let mut attrs = Attrs::new();
            let mut size = GENL_MSG_OVERHEAD;
            if msgs.is_empty() {
                let mut head = vec![
                    attr::u16(WGDEVICE_A_LISTEN_PORT, self.listen_port).unwrap(),
                    attr::u32(WGDEVICE_A_FWMARK, self.fwmark).unwrap(),
                    attr::u32(WGDEVICE_A_IFINDEX, self.ifindex).unwrap(),
                    attr::strz(WGDEVICE_A_IFNAME, &self.name).unwrap(),
                ];
                if let Some(k) = self.private_key {
                    head.push(attr::bytes(WGDEVICE_A_PRIVATE_KEY, &k.0).unwrap());
                    head.push(attr::bytes(WGDEVICE_A_PUBLIC_KEY, &k.public().0).unwrap());
                }
                for a in head {
                    size += attr::space(&a);
                    attrs.push(a);
                }
            }
            let mut peers = attr::nest(WGDEVICE_A_PEERS).unwrap();
            size += 4;
            let mut done = true;
            while pi < dev.peers.len() {
                let p = &dev.peers[pi];
                let mut nest = attr::nest(0).unwrap();
                let head = if ii.is_some() {
                    vec![attr::bytes(WGPEER_A_PUBLIC_KEY, &p.public_key.0).unwrap()]
                } else {
                    Self::peer_head(p)
                };
                for a in &head {
                    nest = attr::push(nest, a).unwrap();
                }
                if size + attr::space(&nest) + 4 > limit {
                    done = false;
                    break;
                }
                let mut ips = attr::nest(WGPEER_A_ALLOWEDIPS).unwrap();
                let mut k = ii.unwrap_or(0);
                let mut used = attr::space(&nest) + 4;
                let mut full = false;
                while k < p.allowed_ips.len() {
                    let a = Self::ip_attr(&p.allowed_ips[k]);
                    if size + used + attr::space(&a) > limit {
                        full = true;
                        break;
                    }
                    used += attr::space(&a);
                    ips = attr::push(ips, &a).unwrap();
                    k += 1;
                }
                nest = attr::push(nest, &ips).unwrap();
                size += attr::space(&nest);
                peers = attr::push(peers, &nest).unwrap();
                if full {
                    ii = Some(k);
                    done = false;
                    break;
                }
                pi += 1;
                ii = None;
            }
            if !dev.peers.is_empty() {
                attrs.push(peers);
            }
            assert!(size <= limit, "fake dump overflow");
            msgs.push(attr::genl(WG_CMD_GET_DEVICE, WG_GENL_VERSION, attrs).unwrap());
            if done {
                return msgs;
            }
        }
    }
}
