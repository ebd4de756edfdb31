// SPDX-License-Identifier: GPL-2.0

//! [`Crypto`] over RustCrypto crates, and the `Arc` pointer family for the allowed-IPs trie.

use alloc::boxed::Box;
use alloc::sync::Arc;

use blake2::digest::{FixedOutput, Mac, Update, VariableOutput};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroize;

use crate::allowedips::{AllocError, SharedPtr};
use crate::crypto::{Crypto, CryptoError, KEY_LEN, TAG_LEN, XNONCE_LEN};

/// The host implementation of the protocol's primitives.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostCrypto;

fn keyed_blake2s<M: Mac + KeyInit>(key: &[u8], input: &[&[u8]]) -> Result<M, CryptoError> {
    let mut m = <M as Mac>::new_from_slice(key).map_err(|_| CryptoError)?;
    for i in input {
        Mac::update(&mut m, i);
    }
    Ok(m)
}

fn seal<A: AeadInPlace>(
    aead: A,
    nonce: &[u8],
    dst: &mut [u8],
    src: &[u8],
    ad: &[u8],
) -> Result<(), CryptoError> {
    if dst.len() != src.len().checked_add(TAG_LEN).ok_or(CryptoError)? {
        return Err(CryptoError);
    }
    let (body, tag_out) = dst.split_at_mut(src.len());
    body.copy_from_slice(src);
    let tag = aead
        .encrypt_in_place_detached(nonce.into(), ad, body)
        .map_err(|_| CryptoError)?;
    tag_out.copy_from_slice(&tag);
    Ok(())
}

fn open<A: AeadInPlace>(
    aead: A,
    nonce: &[u8],
    dst: &mut [u8],
    src: &[u8],
    ad: &[u8],
) -> Result<(), CryptoError> {
    let body_len = src.len().checked_sub(TAG_LEN).ok_or(CryptoError)?;
    if dst.len() != body_len {
        return Err(CryptoError);
    }
    let (body, tag) = src.split_at(body_len);
    dst.copy_from_slice(body);
    let r = aead.decrypt_in_place_detached(nonce.into(), ad, dst, tag.into());
    if r.is_err() {
        dst.zeroize();
        return Err(CryptoError);
    }
    Ok(())
}

fn chacha_nonce(nonce: u64) -> [u8; 12] {
    let mut n = [0; 12];
    n[4..].copy_from_slice(&nonce.to_le_bytes());
    n
}

impl Crypto for HostCrypto {
    fn blake2s(out: &mut [u8], key: &[u8], input: &[&[u8]]) -> Result<(), CryptoError> {
        if out.is_empty() || out.len() > 32 || key.len() > 32 {
            return Err(CryptoError);
        }
        if key.is_empty() {
            let mut h = blake2::Blake2sVar::new(out.len()).map_err(|_| CryptoError)?;
            for i in input {
                h.update(i);
            }
            return h.finalize_variable(out).map_err(|_| CryptoError);
        }
        match out.len() {
            16 => {
                let m =
                    keyed_blake2s::<blake2::Blake2sMac<blake2::digest::consts::U16>>(key, input)?;
                out.copy_from_slice(&m.finalize_fixed());
            }
            32 => {
                let m =
                    keyed_blake2s::<blake2::Blake2sMac<blake2::digest::consts::U32>>(key, input)?;
                out.copy_from_slice(&m.finalize_fixed());
            }
            // The protocol only needs 16 and 32 bytes of keyed output.
            _ => return Err(CryptoError),
        }
        Ok(())
    }

    fn chacha20poly1305_encrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        seal(
            ChaCha20Poly1305::new(key.into()),
            &chacha_nonce(nonce),
            dst,
            src,
            ad,
        )
    }

    fn chacha20poly1305_decrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        open(
            ChaCha20Poly1305::new(key.into()),
            &chacha_nonce(nonce),
            dst,
            src,
            ad,
        )
    }

    fn xchacha20poly1305_encrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: &[u8; XNONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        seal(XChaCha20Poly1305::new(key.into()), nonce, dst, src, ad)
    }

    fn xchacha20poly1305_decrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: &[u8; XNONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        open(XChaCha20Poly1305::new(key.into()), nonce, dst, src, ad)
    }

    fn curve25519(
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
        public: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        let s = StaticSecret::from(*secret);
        let shared = s.diffie_hellman(&PublicKey::from(*public));
        out.copy_from_slice(shared.as_bytes());
        if !Self::memneq(out, &[0; KEY_LEN]) {
            return Err(CryptoError);
        }
        Ok(())
    }

    fn curve25519_generate_public(
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError> {
        let s = StaticSecret::from(*secret);
        out.copy_from_slice(PublicKey::from(&s).as_bytes());
        if !Self::memneq(out, &[0; KEY_LEN]) {
            return Err(CryptoError);
        }
        Ok(())
    }

    fn memneq(a: &[u8], b: &[u8]) -> bool {
        !bool::from(a.ct_eq(b))
    }

    fn memzero_explicit(buf: &mut [u8]) {
        buf.zeroize();
    }
}

/// The [`SharedPtr`] family of `alloc::sync::Arc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArcPtr;

impl SharedPtr for ArcPtr {
    type Ptr<T> = Arc<T>;
    type Unique<T> = Box<T>;

    fn try_new<T>(value: T) -> Result<Box<T>, AllocError> {
        Ok(Box::new(value))
    }

    fn share<T>(value: Box<T>) -> Arc<T> {
        Arc::from(value)
    }

    fn drop_last<T: Unpin, R>(ptr: Arc<T>, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        Arc::into_inner(ptr).map(|mut v| f(&mut v))
    }
}
