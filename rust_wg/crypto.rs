// SPDX-License-Identifier: GPL-2.0

//! The protocol core's [`Crypto`] trait over the kernel's lib/crypto (`kernel::crypto`).
//!
//! The core copies into caller buffers (`dst`, `src`); lib/crypto works in place, so each AEAD call copies the input
//! into `dst` first and transforms it there. Handshake messages are a few hundred bytes, so the copy is noise next to
//! the X25519 operations around it. Data packets do not come through here: they are sealed in place in the skb by
//! `send.rs`/`receive.rs` with `chacha20poly1305::{encrypt,decrypt}_skb`.

use crate::proto::crypto::{Crypto, CryptoError, KEY_LEN, TAG_LEN, XNONCE_LEN};
use kernel::crypto::{self as kc, chacha20poly1305, curve25519, xchacha20poly1305, Blake2s};

/// lib/crypto as the protocol core sees it.
pub(crate) struct KernelCrypto;

/// Copies `src` to the front of `dst`, which must be exactly a tag longer.
fn stage_seal<'a>(dst: &'a mut [u8], src: &[u8]) -> Result<&'a mut [u8], CryptoError> {
    if dst.len() != src.len().checked_add(TAG_LEN).ok_or(CryptoError)? {
        return Err(CryptoError);
    }
    dst[..src.len()].copy_from_slice(src);
    Ok(dst)
}

/// Decrypts `src` (ciphertext plus tag) into `dst` through a zeroed stack copy, because lib/crypto wants the tag in
/// the same buffer and `src` is read-only. Handshake and cookie fields are at most 48 bytes (a static key or a
/// timestamp plus the tag); `dst` is written only if the tag verifies.
fn open_staged<E>(
    dst: &mut [u8],
    src: &[u8],
    open: impl FnOnce(&mut [u8]) -> Result<(), E>,
) -> Result<(), CryptoError> {
    let mut tmp = [0u8; 64];
    if src.len() < TAG_LEN || src.len() > tmp.len() || dst.len() != src.len() - TAG_LEN {
        return Err(CryptoError);
    }
    let tmp = &mut tmp[..src.len()];
    tmp.copy_from_slice(src);
    let r = open(tmp).map_err(|_| CryptoError);
    if r.is_ok() {
        dst.copy_from_slice(&tmp[..dst.len()]);
    }
    kc::memzero_explicit(tmp);
    r
}

impl Crypto for KernelCrypto {
    fn blake2s(out: &mut [u8], key: &[u8], input: &[&[u8]]) -> Result<(), CryptoError> {
        let mut h = if key.is_empty() {
            Blake2s::new(out.len())
        } else {
            Blake2s::new_keyed(out.len(), key)
        }
        .map_err(|_| CryptoError)?;
        for part in input {
            h.update(part);
        }
        h.finalize(out);
        Ok(())
    }

    fn chacha20poly1305_encrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        let buf = stage_seal(dst, src)?;
        chacha20poly1305::encrypt_in_place(buf, ad, nonce, key).map_err(|_| CryptoError)
    }

    fn chacha20poly1305_decrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        open_staged(dst, src, |buf| chacha20poly1305::decrypt_in_place(buf, ad, nonce, key))
    }

    fn xchacha20poly1305_encrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: &[u8; XNONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        let buf = stage_seal(dst, src)?;
        xchacha20poly1305::encrypt_in_place(buf, ad, nonce, key).map_err(|_| CryptoError)
    }

    fn xchacha20poly1305_decrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: &[u8; XNONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        open_staged(dst, src, |buf| xchacha20poly1305::decrypt_in_place(buf, ad, nonce, key))
    }

    fn curve25519(
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
        public: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        curve25519::curve25519(out, secret, public).map_err(|_| CryptoError)
    }

    fn curve25519_generate_public(
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        curve25519::generate_public(out, secret).map_err(|_| CryptoError)
    }

    fn memneq(a: &[u8], b: &[u8]) -> bool {
        kc::crypto_memneq(a, b)
    }

    fn memzero_explicit(buf: &mut [u8]) {
        kc::memzero_explicit(buf)
    }
}
