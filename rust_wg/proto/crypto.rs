// SPDX-License-Identifier: GPL-2.0

//! The cryptographic primitives the protocol needs, as a trait, plus HMAC/HKDF and secret handling built on it.
//!
//! The trait has only associated functions (no `self`): the kernel implements it over lib/crypto (`blake2s`,
//! `chacha20poly1305`, `xchacha20poly1305`, `curve25519`, `crypto_memneq`, `memzero_explicit`), the host crate over
//! RustCrypto. HMAC-BLAKE2s and the HKDF used by Noise are defined by the protocol on top of BLAKE2s, so they are
//! implemented here once, exactly as the C driver's `hmac()` and `kdf()`.
//!
//! Data-packet encryption does not go through proto: the kernel encrypts socket buffers in place itself.

use core::marker::PhantomData;

/// Length of a Curve25519 key.
pub const KEY_LEN: usize = 32;
/// Length of a BLAKE2s-256 hash and of the chaining key.
pub const HASH_LEN: usize = 32;
/// Length of a Poly1305 authentication tag.
pub const TAG_LEN: usize = 16;
/// Length of an XChaCha20-Poly1305 nonce.
pub const XNONCE_LEN: usize = 24;
/// Block length of BLAKE2s, the HMAC block size.
pub const BLAKE2S_BLOCK_LEN: usize = 64;

/// A primitive was called with unusable lengths, authentication failed, or a Diffie-Hellman result was all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoError;

/// Cryptographic primitives, implemented once per environment (kernel, host).
///
/// Implementations must never panic: wrong buffer lengths return [`CryptoError`].
pub trait Crypto {
    /// Computes BLAKE2s over the concatenation of `input` into `out`.
    ///
    /// `out` is 1..=32 bytes long (the protocol uses 16 and 32) and is the BLAKE2s output length parameter. `key` is
    /// empty for unkeyed hashing or 1..=32 bytes for keyed BLAKE2s.
    fn blake2s(out: &mut [u8], key: &[u8], input: &[&[u8]]) -> Result<(), CryptoError>;

    /// Encrypts `src` into `dst` (`src.len() + 16` bytes, tag last) with ChaCha20-Poly1305 (RFC 8439).
    ///
    /// The 96-bit nonce is four zero bytes followed by `nonce` in little endian, as the kernel's API defines it.
    fn chacha20poly1305_encrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError>;

    /// Decrypts and authenticates `src` (ciphertext and tag) into `dst` (`src.len() - 16` bytes).
    ///
    /// On failure `dst` contents are unspecified and must not be used.
    fn chacha20poly1305_decrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: u64,
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError>;

    /// Encrypts `src` into `dst` (`src.len() + 16` bytes) with XChaCha20-Poly1305 and a 24-byte nonce.
    fn xchacha20poly1305_encrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: &[u8; XNONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError>;

    /// Decrypts and authenticates `src` into `dst` (`src.len() - 16` bytes) with XChaCha20-Poly1305.
    fn xchacha20poly1305_decrypt(
        dst: &mut [u8],
        src: &[u8],
        ad: &[u8],
        nonce: &[u8; XNONCE_LEN],
        key: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError>;

    /// Computes the X25519 function of `secret` (clamped inside) and `public` into `out`.
    ///
    /// Returns an error when the result is all zero, which happens for low-order points (RFC 7748 section 6.1).
    fn curve25519(
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
        public: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError>;

    /// Computes the public key of `secret` (clamped inside) into `out`; errors if the result is all zero.
    fn curve25519_generate_public(
        out: &mut [u8; KEY_LEN],
        secret: &[u8; KEY_LEN],
    ) -> Result<(), CryptoError>;

    /// Compares two buffers in time independent of their contents; true if they differ (or differ in length).
    fn memneq(a: &[u8], b: &[u8]) -> bool;

    /// Zeroes `buf` in a way the optimiser may not remove.
    fn memzero_explicit(buf: &mut [u8]);
}

/// Fixed-size secret bytes that are zeroed on drop through [`Crypto::memzero_explicit`].
///
/// It deliberately implements neither `Clone`, `Copy` nor `Debug`: copies of secrets are made explicitly with
/// [`Secret::duplicate`], and secrets are never printed.
pub struct Secret<C: Crypto, const N: usize> {
    bytes: [u8; N],
    _crypto: PhantomData<fn() -> C>,
}

impl<C: Crypto, const N: usize> Secret<C, N> {
    /// Wraps `bytes`; the caller should zero its own copy if it has one.
    pub fn new(bytes: [u8; N]) -> Self {
        Self {
            bytes,
            _crypto: PhantomData,
        }
    }

    /// Returns an all-zero secret.
    pub fn zero() -> Self {
        Self::new([0; N])
    }

    /// Returns the secret bytes.
    pub fn as_bytes(&self) -> &[u8; N] {
        &self.bytes
    }

    /// Returns the secret bytes for writing.
    pub fn as_mut_bytes(&mut self) -> &mut [u8; N] {
        &mut self.bytes
    }

    /// Makes an explicit copy.
    pub fn duplicate(&self) -> Self {
        Self::new(self.bytes)
    }

    /// Tells whether every byte is zero, in constant time.
    pub fn is_zero(&self) -> bool {
        !C::memneq(&self.bytes, &[0; N])
    }

    /// Zeroes the secret now rather than at drop.
    pub fn clear(&mut self) {
        C::memzero_explicit(&mut self.bytes);
    }
}

impl<C: Crypto, const N: usize> Drop for Secret<C, N> {
    fn drop(&mut self) {
        C::memzero_explicit(&mut self.bytes);
    }
}

/// HMAC-BLAKE2s-256 of the concatenation of `input` (at most three slices) under `key` (at most 64 bytes).
///
/// This is RFC 2104 HMAC over BLAKE2s as the WireGuard paper defines `Hmac`; it is not keyed BLAKE2s.
pub fn hmac<C: Crypto>(key: &[u8], input: &[&[u8]]) -> Result<Secret<C, HASH_LEN>, CryptoError> {
    // Keys longer than a block would be hashed first; the protocol never uses them, so refuse rather than carry
    // an untested path.
    if key.len() > BLAKE2S_BLOCK_LEN || input.len() > 3 {
        return Err(CryptoError);
    }
    let mut x_key = Secret::<C, BLAKE2S_BLOCK_LEN>::zero();
    for (d, s) in x_key.as_mut_bytes().iter_mut().zip(key) {
        *d = *s;
    }
    for b in x_key.as_mut_bytes().iter_mut() {
        *b ^= 0x36;
    }
    let mut parts: [&[u8]; 4] = [&[]; 4];
    parts[0] = x_key.as_bytes();
    for (d, s) in parts.iter_mut().skip(1).zip(input) {
        *d = s;
    }
    let mut inner = Secret::<C, HASH_LEN>::zero();
    C::blake2s(inner.as_mut_bytes(), &[], &parts)?;
    for b in x_key.as_mut_bytes().iter_mut() {
        *b ^= 0x5c ^ 0x36;
    }
    let mut out = Secret::<C, HASH_LEN>::zero();
    C::blake2s(
        out.as_mut_bytes(),
        &[],
        &[x_key.as_bytes(), inner.as_bytes()],
    )?;
    Ok(out)
}

/// The outputs of [`kdf`]: up to three 32-byte values.
pub struct KdfOutput<C: Crypto> {
    /// First output, `T1`.
    pub t1: Secret<C, HASH_LEN>,
    /// Second output, `T2` (zero when not requested).
    pub t2: Secret<C, HASH_LEN>,
    /// Third output, `T3` (zero when not requested).
    pub t3: Secret<C, HASH_LEN>,
}

/// HKDF with HMAC-BLAKE2s as the protocol's `Kdf_n(key, input)`, computing `n` (1..=3) outputs.
pub fn kdf<C: Crypto>(
    chaining_key: &[u8; HASH_LEN],
    input: &[u8],
    n: usize,
) -> Result<KdfOutput<C>, CryptoError> {
    let secret = hmac::<C>(chaining_key, &[input])?;
    let t1 = hmac::<C>(secret.as_bytes(), &[&[1]])?;
    let t2 = if n >= 2 {
        hmac::<C>(secret.as_bytes(), &[t1.as_bytes(), &[2]])?
    } else {
        Secret::zero()
    };
    let t3 = if n >= 3 {
        hmac::<C>(secret.as_bytes(), &[t2.as_bytes(), &[3]])?
    } else {
        Secret::zero()
    };
    Ok(KdfOutput { t1, t2, t3 })
}
