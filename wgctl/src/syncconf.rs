//! `syncconf`: turn a configuration file into an update that makes the device match it
//! without disturbing peers that stay (their sessions survive), as wireguard-tools does.

use std::collections::HashMap;

use crate::key::Key;
use crate::model::{Device, Peer};

/// Rewrites `file` (a setconf update) against the running device: peers absent from the
/// file are removed explicitly instead of through WGDEVICE_F_REPLACE_PEERS, and a
/// preshared key or persistent keepalive that the file no longer mentions is cleared.
pub fn sync(file: &mut Device, runtime: &Device) {
    if file.peers.is_empty() || runtime.peers.is_empty() {
        // Nothing to preserve: a plain setconf is equivalent.
        return;
    }
    file.replace_peers = false;
    let index: HashMap<Key, usize> = file
        .peers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.public_key, i))
        .collect();
    let mut removals = Vec::new();
    for r in &runtime.peers {
        match index.get(&r.public_key) {
            None => removals.push(Peer {
                remove: true,
                ..Peer::new(r.public_key)
            }),
            Some(&i) => {
                let f = &mut file.peers[i];
                if r.preshared_key.is_some() && f.preshared_key.is_none() {
                    f.preshared_key = Some(Key::ZERO);
                }
                if r.persistent_keepalive.unwrap_or(0) != 0 && f.persistent_keepalive.is_none() {
                    f.persistent_keepalive = Some(0);
                }
            }
        }
    }
    // Removals go first, as in wireguard-tools.
    removals.reverse();
    removals.append(&mut file.peers);
    file.peers = removals;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u8) -> Key {
        Key([i; 32])
    }

    #[test]
    fn sync_table() {
        let runtime = Device {
            peers: vec![
                Peer {
                    preshared_key: Some(k(9)),
                    persistent_keepalive: Some(25),
                    ..Peer::new(k(1))
                },
                Peer::new(k(2)),
                Peer {
                    persistent_keepalive: Some(0),
                    ..Peer::new(k(3))
                },
            ],
            ..Device::default()
        };
        let mut file = Device {
            replace_peers: true,
            peers: vec![Peer::new(k(1)), Peer::new(k(3)), Peer::new(k(4))],
            ..Device::default()
        };
        sync(&mut file, &runtime);
        assert!(!file.replace_peers);
        let keys: Vec<(u8, bool)> = file
            .peers
            .iter()
            .map(|p| (p.public_key.0[0], p.remove))
            .collect();
        assert_eq!(keys, [(2, true), (1, false), (3, false), (4, false)]);
        assert_eq!(file.peers[1].preshared_key, Some(Key::ZERO));
        assert_eq!(file.peers[1].persistent_keepalive, Some(0));
        assert_eq!(file.peers[2].persistent_keepalive, None);
        assert_eq!(file.peers[3].preshared_key, None);

        // Empty runtime or empty file: unchanged (REPLACE_PEERS does the job).
        let mut f2 = Device {
            replace_peers: true,
            peers: vec![Peer::new(k(1))],
            ..Device::default()
        };
        sync(&mut f2, &Device::default());
        assert!(f2.replace_peers);
        let mut f3 = Device {
            replace_peers: true,
            ..Device::default()
        };
        sync(&mut f3, &runtime);
        assert!(f3.replace_peers && f3.peers.is_empty());
    }
}
