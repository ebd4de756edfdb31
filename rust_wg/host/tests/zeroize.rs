// SPDX-License-Identifier: GPL-2.0

//! Secret material is zeroed through `Crypto::memzero_explicit` when it goes away: checked with a `Crypto`
//! implementation that records every zeroing (and shows the trait can be implemented by delegation, as the kernel's
//! will be over lib/crypto).
//!
//! Beyond named keys, the recording implementation also notes every value the handshake *derives* — each
//! Diffie-Hellman result and each 32-byte BLAKE2s output (chaining keys, hashes, HMAC and KDF outputs, the keys
//! they yield) — and the tests check that each of them was zeroed once the object holding it went away: a whole
//! handshake in both roles with a preshared key, a handshake abandoned half-way (`Handshake::clear`), keypairs
//! released by rotation, a static-static precomputation replaced by a new identity, and a rotated cookie secret.

mod common;

use common::HostCrypto;
use rust_wg_proto::crypto::{Crypto, CryptoError, Secret, KEY_LEN, XNONCE_LEN};
use rust_wg_proto::messages::{Initiation, Response, INITIATION_LEN, RESPONSE_LEN};
use rust_wg_proto::noise::{self, Handshake, Keypairs, StaticIdentity};
use std::cell::RefCell;

thread_local! {
    /// Copies of every buffer just before it was zeroed.
    static ZEROED: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Where each zeroing happened: (address, length, contents before).
    static ZEROED_AT: RefCell<Vec<(usize, usize, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
    /// Every DH result and 32-byte BLAKE2s output computed since the last [`derived_reset`].
    static DERIVED: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Zeroings of non-zero 32-byte buffers inside `[start, start + len)`, forgetting all recorded locations.
fn zeroed_within(start: usize, len: usize) -> Vec<Vec<u8>> {
    ZEROED_AT.with(|z| {
        z.borrow_mut()
            .drain(..)
            .filter(|(a, l, v)| *a >= start && a + l <= start + len && *l == 32 && v.iter().any(|b| *b != 0))
            .map(|(_, _, v)| v)
            .collect()
    })
}

/// Whether a non-zero buffer was zeroed exactly at `addr` (32 bytes) since the last [`zeroed_within`].
fn zeroed_at(addr: *const u8) -> bool {
    ZEROED_AT.with(|z| {
        z.borrow()
            .iter()
            .any(|(a, l, v)| *a == addr as usize && *l == 32 && v.iter().any(|b| *b != 0))
    })
}

fn derived_reset() -> Vec<Vec<u8>> {
    DERIVED.with(|d| std::mem::take(&mut *d.borrow_mut()))
}

/// The derived values (since the last reset) that were never zeroed.
fn not_zeroed(derived: &[Vec<u8>]) -> Vec<String> {
    derived
        .iter()
        .filter(|v| !zeroed_contains(v))
        .map(|v| v.iter().map(|b| format!("{b:02x}")).collect())
        .collect()
}

struct Recording;

impl Crypto for Recording {
    fn blake2s(out: &mut [u8], key: &[u8], input: &[&[u8]]) -> Result<(), CryptoError> {
        let r = HostCrypto::blake2s(out, key, input);
        if out.len() == 32 {
            DERIVED.with(|d| d.borrow_mut().push(out.to_vec()));
        }
        r
    }
    fn chacha20poly1305_encrypt(
        d: &mut [u8],
        s: &[u8],
        ad: &[u8],
        n: u64,
        k: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        HostCrypto::chacha20poly1305_encrypt(d, s, ad, n, k)
    }
    fn chacha20poly1305_decrypt(
        d: &mut [u8],
        s: &[u8],
        ad: &[u8],
        n: u64,
        k: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        HostCrypto::chacha20poly1305_decrypt(d, s, ad, n, k)
    }
    fn xchacha20poly1305_encrypt(
        d: &mut [u8],
        s: &[u8],
        ad: &[u8],
        n: &[u8; XNONCE_LEN],
        k: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        HostCrypto::xchacha20poly1305_encrypt(d, s, ad, n, k)
    }
    fn xchacha20poly1305_decrypt(
        d: &mut [u8],
        s: &[u8],
        ad: &[u8],
        n: &[u8; XNONCE_LEN],
        k: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        HostCrypto::xchacha20poly1305_decrypt(d, s, ad, n, k)
    }
    fn curve25519(
        out: &mut [u8; KEY_LEN],
        s: &[u8; KEY_LEN],
        p: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        let r = HostCrypto::curve25519(out, s, p);
        DERIVED.with(|d| d.borrow_mut().push(out.to_vec()));
        r
    }
    fn curve25519_generate_public(
        out: &mut [u8; KEY_LEN],
        s: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        HostCrypto::curve25519_generate_public(out, s)
    }
    fn memneq(a: &[u8], b: &[u8]) -> bool {
        HostCrypto::memneq(a, b)
    }
    fn memzero_explicit(buf: &mut [u8]) {
        ZEROED.with(|z| z.borrow_mut().push(buf.to_vec()));
        ZEROED_AT.with(|z| z.borrow_mut().push((buf.as_ptr() as usize, buf.len(), buf.to_vec())));
        HostCrypto::memzero_explicit(buf);
    }
}

fn zeroed_contains(bytes: &[u8]) -> bool {
    ZEROED.with(|z| z.borrow().iter().any(|b| b == bytes))
}

#[test]
fn secret_is_zeroed_on_drop() {
    let s = Secret::<Recording, 32>::new([0x5a; 32]);
    drop(s);
    assert!(zeroed_contains(&[0x5a; 32]));
}

#[test]
fn identity_psk_and_keypair_keys_are_zeroed() {
    let a = StaticIdentity::<Recording>::new(&[0x11; 32]).unwrap();
    let b = StaticIdentity::<Recording>::new(&[0x22; 32]).unwrap();
    let a_private = *a.private_key();
    let mut ha = Handshake::new(Some(&a), *b.public_key(), Some(&[0x77; 32]));
    let mut hb = Handshake::new(Some(&b), *a.public_key(), Some(&[0x77; 32]));
    let mut init = [0; INITIATION_LEN];
    ha.create_initiation(&a, &[3; 32], &noise::tai64n(1, 0), 1, &mut init)
        .unwrap();
    let c = noise::consume_initiation(&b, &Initiation::parse(&init).unwrap()).unwrap();
    hb.consume_initiation(c, 1).unwrap();
    let mut resp = [0; RESPONSE_LEN];
    hb.create_response(&[4; 32], 2, &mut resp).unwrap();
    ha.consume_response(&a, &Response::parse(&resp).unwrap())
        .unwrap();
    let kp = ha.begin_session(0).unwrap();
    let (send, recv) = (*kp.sending_key(), *kp.receiving_key());
    let mut slots = Keypairs::new();
    slots.add(kp, true);
    for k in slots.clear() {
        drop(k);
    }
    assert!(zeroed_contains(&send), "sending key");
    assert!(zeroed_contains(&recv), "receiving key");
    drop(ha);
    assert!(zeroed_contains(&[0x77; 32]), "preshared key");
    drop(a);
    assert!(zeroed_contains(&a_private), "static private key");
    // The clamped ephemeral private key of the initiation went when the handshake state moved on.
    let mut eph = [3u8; 32];
    eph[0] &= 248;
    eph[31] = (eph[31] & 127) | 64;
    assert!(zeroed_contains(&eph), "ephemeral private key");
}

/// Runs a handshake between `a` and `b` (psk 0x77) and returns both sides' handshakes and keypairs.
#[allow(clippy::type_complexity)]
fn handshake(
    a: &StaticIdentity<Recording>,
    b: &StaticIdentity<Recording>,
    seed: u8,
) -> (
    Handshake<Recording>,
    Handshake<Recording>,
    noise::Keypair<Recording>,
    noise::Keypair<Recording>,
) {
    let mut ha = Handshake::new(Some(a), *b.public_key(), Some(&[0x77; 32]));
    let mut hb = Handshake::new(Some(b), *a.public_key(), Some(&[0x77; 32]));
    let mut init = [0; INITIATION_LEN];
    ha.create_initiation(a, &[seed; 32], &noise::tai64n(u64::from(seed), 0), 1, &mut init)
        .unwrap();
    let c = noise::consume_initiation(b, &Initiation::parse(&init).unwrap()).unwrap();
    hb.consume_initiation(c, u64::from(seed) * 1_000_000_000).unwrap();
    let mut resp = [0; RESPONSE_LEN];
    hb.create_response(&[seed.wrapping_add(1); 32], 2, &mut resp)
        .unwrap();
    ha.consume_response(a, &Response::parse(&resp).unwrap())
        .unwrap();
    let ka = ha.begin_session(0).unwrap();
    let kb = hb.begin_session(0).unwrap();
    (ha, hb, ka, kb)
}

#[test]
fn every_derived_handshake_value_is_zeroed() {
    let a = StaticIdentity::<Recording>::new(&[0x31; 32]).unwrap();
    let b = StaticIdentity::<Recording>::new(&[0x32; 32]).unwrap();
    derived_reset();
    let (ha, hb, ka, kb) = handshake(&a, &b, 9);
    assert_eq!(ka.sending_key(), kb.receiving_key());
    let derived = derived_reset();
    // At least the four DH results, the chaining keys, hashes and KDF outputs.
    assert!(derived.len() > 40, "only {} derived values recorded", derived.len());
    drop((ha, hb, ka, kb, a, b));
    let left = not_zeroed(&derived);
    assert!(left.is_empty(), "{} of {} derived values never zeroed: {:?}", left.len(), derived.len(), left);
}

#[test]
fn cleared_handshake_zeroes_its_state() {
    let a = StaticIdentity::<Recording>::new(&[0x41; 32]).unwrap();
    let b = StaticIdentity::<Recording>::new(&[0x42; 32]).unwrap();
    // Boxed, so that zeroings can be located inside the handshake's own memory.
    let mut ha = Box::new(Handshake::new(Some(&a), *b.public_key(), Some(&[0x55; 32])));
    let mut hb = Box::new(Handshake::new(Some(&b), *a.public_key(), None));
    let size = std::mem::size_of::<Handshake<Recording>>();
    // Initiator side: the ephemeral key, chaining key and hash of an initiation in flight.
    derived_reset();
    let mut init = [0; INITIATION_LEN];
    ha.create_initiation(&a, &[5; 32], &noise::tai64n(5, 0), 1, &mut init)
        .unwrap();
    let derived = derived_reset();
    zeroed_within(0, 0);
    ha.clear();
    let left = not_zeroed(&derived);
    assert!(left.is_empty(), "initiator: not zeroed by clear(): {left:?}");
    // In place: the ephemeral private key, chaining key and hash of the state, at least.
    let inside = zeroed_within(&*ha as *const _ as usize, size);
    assert!(inside.len() >= 3, "initiator: {} secrets zeroed inside the handshake", inside.len());
    assert!(inside.iter().any(|v| v.as_slice() == [5u8; 32] || v[1..31] == [5u8; 30]), "ephemeral key not zeroed in place");
    assert!(inside.iter().filter(|v| derived.contains(v)).count() >= 2, "chaining key and hash not zeroed in place");
    // Responder side: chaining key and hash of a consumed initiation (the handshake itself lives on).
    let c = noise::consume_initiation(&b, &Initiation::parse(&init).unwrap()).unwrap();
    hb.consume_initiation(c, 1).unwrap();
    let derived = derived_reset();
    zeroed_within(0, 0);
    hb.clear();
    let left = not_zeroed(&derived);
    assert!(left.is_empty(), "responder: not zeroed by clear(): {left:?}");
    let inside = zeroed_within(&*hb as *const _ as usize, size);
    assert!(inside.iter().filter(|v| derived.contains(v)).count() >= 2, "responder: chaining key and hash not zeroed in place");
    // A failed consumption leaves nothing behind either.
    let mut bad = init;
    bad[40] ^= 1;
    derived_reset();
    if let Ok(c) = noise::consume_initiation(&b, &Initiation::parse(&bad).unwrap()) {
        drop(c);
    }
    let left = not_zeroed(&derived_reset());
    assert!(left.is_empty(), "failed consumption: {left:?}");
}

#[test]
fn rotation_zeroes_released_keypairs_only() {
    let a = StaticIdentity::<Recording>::new(&[0x51; 32]).unwrap();
    let b = StaticIdentity::<Recording>::new(&[0x52; 32]).unwrap();
    // Boxed, as the kernel holds them in an `Arc`: each key stays at one address until it is freed.
    let mut slots: Keypairs<Box<noise::Keypair<Recording>>> = Keypairs::new();
    let mut keys = Vec::new();
    let mut responder = Vec::new();
    zeroed_within(0, 0);
    for i in 0..4u8 {
        let (_, _, ka, kb) = handshake(&a, &b, 10 + i);
        responder.push(kb);
        let ka = Box::new(ka);
        keys.push((ka.sending_key().as_ptr(), ka.receiving_key().as_ptr()));
        zeroed_within(0, 0); // the handshake's own temporaries
        for k in slots.add(ka, true).keypairs.into_iter().flatten() {
            let (s, r) = (k.sending_key().as_ptr(), k.receiving_key().as_ptr());
            drop(k);
            assert!(zeroed_at(s) && zeroed_at(r), "released keypair not zeroed in place");
            zeroed_within(0, 0);
        }
    }
    // The initiator keeps current and previous: the last two sessions.
    assert_eq!(slots.iter().count(), 2);
    for (s, r) in &keys[2..] {
        assert!(slots.iter().any(|k| k.sending_key().as_ptr() == *s && k.receiving_key().as_ptr() == *r));
    }
    for k in slots.clear().keypairs.into_iter().flatten() {
        let (s, r) = (k.sending_key().as_ptr(), k.receiving_key().as_ptr());
        zeroed_within(0, 0);
        drop(k);
        assert!(zeroed_at(s) && zeroed_at(r), "cleared keypair not zeroed in place");
    }
    drop(responder);
}

#[test]
fn new_identity_zeroes_static_static_and_old_private_key() {
    let a = StaticIdentity::<Recording>::new(&[0x61; 32]).unwrap();
    let b = StaticIdentity::<Recording>::new(&[0x62; 32]).unwrap();
    derived_reset();
    let mut h = Handshake::new(Some(&a), *b.public_key(), None);
    let ss = derived_reset();
    assert!(!ss.is_empty() && !zeroed_contains(&ss[ss.len() - 1]));
    let a2 = StaticIdentity::<Recording>::new(&[0x63; 32]).unwrap();
    h.set_identity(Some(&a2));
    assert!(not_zeroed(&ss).is_empty(), "old static-static DH not zeroed");
    let old = *a.private_key();
    drop(a);
    assert!(zeroed_contains(&old));
    h.set_identity(None);
    drop(h);
}

#[test]
fn rotated_cookie_secret_is_zeroed() {
    use rust_wg_proto::cookie::CookieChecker;
    let mut c = CookieChecker::<Recording>::new(Some(&[9; 32]), &[0xc1; 32], 0).unwrap();
    c.rotate_secret(&[0xc2; 32], 1);
    assert!(zeroed_contains(&[0xc1; 32]));
    assert!(!zeroed_contains(&[0xc2; 32]));
    drop(c);
    assert!(zeroed_contains(&[0xc2; 32]));
}
