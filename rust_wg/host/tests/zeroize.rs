// SPDX-License-Identifier: GPL-2.0

//! Secret material is zeroed through `Crypto::memzero_explicit` when it goes away: checked with a `Crypto`
//! implementation that records every zeroing (and shows the trait can be implemented by delegation, as the kernel's
//! will be over lib/crypto).

mod common;

use common::HostCrypto;
use rust_wg_proto::crypto::{Crypto, CryptoError, Secret, KEY_LEN, XNONCE_LEN};
use rust_wg_proto::messages::{Initiation, Response, INITIATION_LEN, RESPONSE_LEN};
use rust_wg_proto::noise::{self, Handshake, Keypairs, StaticIdentity};
use std::cell::RefCell;

thread_local! {
    /// Copies of every buffer just before it was zeroed.
    static ZEROED: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

struct Recording;

impl Crypto for Recording {
    fn blake2s(out: &mut [u8], key: &[u8], input: &[&[u8]]) -> Result<(), CryptoError> {
        HostCrypto::blake2s(out, key, input)
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
        HostCrypto::curve25519(out, s, p)
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
