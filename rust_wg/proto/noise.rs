// SPDX-License-Identifier: GPL-2.0

//! The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake, keypairs and their rotation.
//!
//! ```text
//! <- s
//! ******
//! -> e, es, s, ss, {t}
//! <- e, ee, se, psk, {}
//! ```
//!
//! # Shape
//!
//! - [`StaticIdentity`] is the device's private/public key pair.
//! - [`Handshake`] is the per-peer state: the peer's static key, the preshared key, the precomputed static-static
//!   Diffie-Hellman result, the replay/flood state and a [`HandshakeState`] enum carrying each step's secrets.
//! - Messages are created into caller buffers with zero MACs; the caller adds them with
//!   [`CookieMaker::add_macs`](super::cookie::CookieMaker::add_macs).
//! - Consuming an initiation is split in two, so no peer-lookup callback is needed: [`consume_initiation`] needs only
//!   the identity and returns an [`InitiationCandidate`] that exposes the initiator's decrypted static key; the caller
//!   looks the peer up by that key, then finishes with [`Handshake::consume_initiation`], which checks the
//!   static-static DH, the timestamp replay and the flood limit, and only then changes the peer's state.
//! - A response is consumed on the [`Handshake`] the caller found through the receiver index (the kernel's index
//!   hashtable); [`Handshake::local_index`] tells which index a handshake registered.
//! - [`Handshake::begin_session`] turns a finished handshake into a [`Keypair`] carrying the same local index, which
//!   the caller re-registers; [`Keypairs`] implements the previous/current/next rotation.
//!
//! Every operation works on copies and commits only on success, so a failed message never disturbs a handshake in
//! progress, as in the C driver.

use super::crypto::{kdf, Crypto, CryptoError, Secret, HASH_LEN, KEY_LEN, TAG_LEN};
use super::messages::{
    Initiation, MessageError, Response, ENCRYPTED_STATIC_LEN, ENCRYPTED_TIMESTAMP_LEN,
    INITIATIONS_PER_SECOND, KEEPALIVE_TIMEOUT, NSEC_PER_SEC, PUBLIC_KEY_LEN, REJECT_AFTER_MESSAGES,
    REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME, REKEY_TIMEOUT, TIMESTAMP_LEN,
};

const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";

/// Why a handshake operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseError {
    /// A primitive failed: bad lengths or an all-zero Diffie-Hellman result.
    Crypto,
    /// A ciphertext did not authenticate.
    Decrypt,
    /// The handshake is not in the state this step needs, or the message is for another handshake.
    WrongState,
    /// The static-static precomputation is zero (no identity, or the peer key is a low-order point).
    NoStaticStatic,
    /// The initiation's static key is not this handshake's peer.
    WrongPeer,
    /// The initiation's timestamp is not newer than the last accepted one.
    Replay,
    /// Initiations arrive faster than [`INITIATIONS_PER_SECOND`].
    Flood,
    /// The message is malformed.
    Message,
}

impl From<CryptoError> for NoiseError {
    fn from(_: CryptoError) -> Self {
        NoiseError::Crypto
    }
}

impl From<MessageError> for NoiseError {
    fn from(_: MessageError) -> Self {
        NoiseError::Message
    }
}

/// Tells whether `secs` seconds have passed since `birthdate` (nanoseconds), as `wg_birthdate_has_expired()`.
pub fn birthdate_has_expired(birthdate: u64, secs: u64, now: u64) -> bool {
    birthdate.saturating_add(secs.saturating_mul(NSEC_PER_SEC)) <= now
}

/// Encodes wall-clock time as the TAI64N label sent in initiations.
///
/// The nanoseconds are rounded down to a multiple of 2^24 (the power of two below 1 s / [`INITIATIONS_PER_SECOND`]),
/// as the C driver does, so the timestamp does not leak a precise clock.
pub fn tai64n(unix_secs: u64, nanos: u32) -> [u8; TIMESTAMP_LEN] {
    const ROUND: u32 = 1 << 24;
    let nanos = nanos.min(999_999_999) & !(ROUND - 1);
    let secs = 0x4000_0000_0000_000a_u64.wrapping_add(unix_secs);
    let mut out = [0; TIMESTAMP_LEN];
    for (d, s) in out
        .iter_mut()
        .zip(secs.to_be_bytes().iter().chain(&nanos.to_be_bytes()))
    {
        *d = *s;
    }
    out
}

fn clamp(key: &mut [u8; KEY_LEN]) {
    key[0] &= 248;
    key[31] = (key[31] & 127) | 64;
}

/// The device's static key pair.
pub struct StaticIdentity<C: Crypto> {
    private: Secret<C, KEY_LEN>,
    public: [u8; PUBLIC_KEY_LEN],
}

impl<C: Crypto> StaticIdentity<C> {
    /// Builds the identity from a private key, which is clamped as Curve25519 requires.
    pub fn new(private: &[u8; KEY_LEN]) -> Result<Self, NoiseError> {
        let mut key = Secret::new(*private);
        clamp(key.as_mut_bytes());
        let mut public = [0; PUBLIC_KEY_LEN];
        C::curve25519_generate_public(&mut public, key.as_bytes())?;
        Ok(Self {
            private: key,
            public,
        })
    }

    /// Returns the public key.
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// Returns the clamped private key (netlink reports it).
    pub fn private_key(&self) -> &[u8; KEY_LEN] {
        self.private.as_bytes()
    }
}

type Hash<C> = Secret<C, HASH_LEN>;
type Key<C> = Secret<C, KEY_LEN>;

fn blake2s<C: Crypto>(input: &[&[u8]]) -> Result<Hash<C>, NoiseError> {
    let mut out = Hash::<C>::zero();
    C::blake2s(out.as_mut_bytes(), &[], input)?;
    Ok(out)
}

/// Returns the initial chaining key and hash for a handshake whose responder has static key `responder`.
fn handshake_init<C: Crypto>(
    responder: &[u8; PUBLIC_KEY_LEN],
) -> Result<(Hash<C>, Hash<C>), NoiseError> {
    let ck = blake2s::<C>(&[CONSTRUCTION])?;
    let h = blake2s::<C>(&[ck.as_bytes(), IDENTIFIER])?;
    let h = blake2s::<C>(&[h.as_bytes(), responder])?;
    Ok((ck, h))
}

fn mix_hash<C: Crypto>(h: &mut Hash<C>, data: &[u8]) -> Result<(), NoiseError> {
    *h = blake2s::<C>(&[h.as_bytes(), data])?;
    Ok(())
}

/// Mixes a public value into the chaining key (`message_ephemeral` in C: hash and chaining key).
fn mix_ephemeral<C: Crypto>(
    ck: &mut Hash<C>,
    h: &mut Hash<C>,
    e: &[u8; PUBLIC_KEY_LEN],
) -> Result<(), NoiseError> {
    mix_hash(h, e)?;
    *ck = kdf::<C>(ck.as_bytes(), e, 1)?.t1;
    Ok(())
}

fn mix_dh<C: Crypto>(
    ck: &mut Hash<C>,
    private: &[u8; KEY_LEN],
    public: &[u8; PUBLIC_KEY_LEN],
) -> Result<Key<C>, NoiseError> {
    let mut dh = Key::<C>::zero();
    C::curve25519(dh.as_mut_bytes(), private, public)?;
    mix_precomputed(ck, &dh)
}

fn mix_precomputed<C: Crypto>(ck: &mut Hash<C>, dh: &Key<C>) -> Result<Key<C>, NoiseError> {
    if dh.is_zero() {
        return Err(NoiseError::NoStaticStatic);
    }
    let out = kdf::<C>(ck.as_bytes(), dh.as_bytes(), 2)?;
    *ck = out.t1.duplicate();
    Ok(out.t2.duplicate())
}

fn mix_psk<C: Crypto>(
    ck: &mut Hash<C>,
    h: &mut Hash<C>,
    psk: &Key<C>,
) -> Result<Key<C>, NoiseError> {
    let out = kdf::<C>(ck.as_bytes(), psk.as_bytes(), 3)?;
    *ck = out.t1.duplicate();
    mix_hash(h, out.t2.as_bytes())?;
    Ok(out.t3.duplicate())
}

fn seal<C: Crypto>(
    dst: &mut [u8],
    src: &[u8],
    key: &Key<C>,
    h: &mut Hash<C>,
) -> Result<(), NoiseError> {
    C::chacha20poly1305_encrypt(dst, src, h.as_bytes(), 0, key.as_bytes())?;
    mix_hash(h, dst)
}

fn open<C: Crypto>(
    dst: &mut [u8],
    src: &[u8],
    key: &Key<C>,
    h: &mut Hash<C>,
) -> Result<(), NoiseError> {
    C::chacha20poly1305_decrypt(dst, src, h.as_bytes(), 0, key.as_bytes())
        .map_err(|_| NoiseError::Decrypt)?;
    mix_hash(h, src)
}

/// The state of a peer's handshake, carrying what each step needs.
pub enum HandshakeState<C: Crypto> {
    /// No handshake in progress.
    Zeroed,
    /// We sent an initiation and wait for the response.
    CreatedInitiation {
        /// Our index for this handshake.
        local_index: u32,
        /// Our ephemeral private key.
        ephemeral_private: Key<C>,
        /// Chaining key after the initiation.
        chaining_key: Hash<C>,
        /// Handshake hash after the initiation.
        hash: Hash<C>,
    },
    /// We accepted an initiation and are to send a response.
    ConsumedInitiation {
        /// The initiator's index.
        remote_index: u32,
        /// The initiator's ephemeral public key.
        remote_ephemeral: [u8; PUBLIC_KEY_LEN],
        /// Chaining key after the initiation.
        chaining_key: Hash<C>,
        /// Handshake hash after the initiation.
        hash: Hash<C>,
    },
    /// We sent a response; keys can be derived (as responder).
    CreatedResponse {
        /// Our index for this handshake.
        local_index: u32,
        /// The initiator's index.
        remote_index: u32,
        /// Final chaining key.
        chaining_key: Hash<C>,
    },
    /// We accepted a response; keys can be derived (as initiator).
    ConsumedResponse {
        /// Our index for this handshake.
        local_index: u32,
        /// The responder's index.
        remote_index: u32,
        /// Final chaining key.
        chaining_key: Hash<C>,
    },
}

/// Which [`HandshakeState`] a handshake is in, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeStateKind {
    /// See [`HandshakeState::Zeroed`].
    Zeroed,
    /// See [`HandshakeState::CreatedInitiation`].
    CreatedInitiation,
    /// See [`HandshakeState::ConsumedInitiation`].
    ConsumedInitiation,
    /// See [`HandshakeState::CreatedResponse`].
    CreatedResponse,
    /// See [`HandshakeState::ConsumedResponse`].
    ConsumedResponse,
}

/// An initiation that decrypted up to the initiator's static key; see the module documentation.
pub struct InitiationCandidate<C: Crypto> {
    remote_static: [u8; PUBLIC_KEY_LEN],
    sender_index: u32,
    remote_ephemeral: [u8; PUBLIC_KEY_LEN],
    encrypted_timestamp: [u8; ENCRYPTED_TIMESTAMP_LEN],
    chaining_key: Hash<C>,
    hash: Hash<C>,
}

impl<C: Crypto> InitiationCandidate<C> {
    /// Returns the initiator's static public key, to look the peer up by.
    pub fn remote_static(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.remote_static
    }

    /// Returns the initiator's sender index.
    pub fn sender_index(&self) -> u32 {
        self.sender_index
    }
}

/// Performs the first half of consuming an initiation: everything that needs only our identity.
///
/// The MACs must have been checked before (see [`CookieChecker`](super::cookie::CookieChecker)).
pub fn consume_initiation<C: Crypto>(
    identity: &StaticIdentity<C>,
    msg: &Initiation<'_>,
) -> Result<InitiationCandidate<C>, NoiseError> {
    let (mut ck, mut h) = handshake_init::<C>(&identity.public)?;
    // e
    mix_ephemeral(&mut ck, &mut h, msg.ephemeral)?;
    // es
    let key = mix_dh(&mut ck, identity.private.as_bytes(), msg.ephemeral)?;
    // s
    let mut s = [0; PUBLIC_KEY_LEN];
    open(&mut s, msg.encrypted_static, &key, &mut h)?;
    Ok(InitiationCandidate {
        remote_static: s,
        sender_index: msg.sender_index,
        remote_ephemeral: *msg.ephemeral,
        encrypted_timestamp: *msg.encrypted_timestamp,
        chaining_key: ck,
        hash: h,
    })
}

/// A peer's handshake state: keys, replay protection and the state machine.
pub struct Handshake<C: Crypto> {
    remote_static: [u8; PUBLIC_KEY_LEN],
    preshared_key: Key<C>,
    precomputed_static_static: Key<C>,
    latest_timestamp: [u8; TIMESTAMP_LEN],
    last_initiation_consumption: Option<u64>,
    state: HandshakeState<C>,
}

impl<C: Crypto> Handshake<C> {
    /// Creates the handshake state for a peer with static key `remote_static`.
    ///
    /// Without an identity, or with a low-order peer key, the static-static precomputation is zero and every handshake
    /// with the peer fails until [`Handshake::set_identity`] is called with a usable identity.
    pub fn new(
        identity: Option<&StaticIdentity<C>>,
        remote_static: [u8; PUBLIC_KEY_LEN],
        preshared_key: Option<&[u8; KEY_LEN]>,
    ) -> Self {
        let mut hs = Self {
            remote_static,
            preshared_key: Key::new(preshared_key.copied().unwrap_or([0; KEY_LEN])),
            precomputed_static_static: Key::zero(),
            latest_timestamp: [0; TIMESTAMP_LEN],
            last_initiation_consumption: None,
            state: HandshakeState::Zeroed,
        };
        hs.set_identity(identity);
        hs
    }

    /// Recomputes the static-static DH after the device's private key changed (or was removed).
    pub fn set_identity(&mut self, identity: Option<&StaticIdentity<C>>) {
        let mut ss = Key::<C>::zero();
        let ok = match identity {
            Some(id) => C::curve25519(
                ss.as_mut_bytes(),
                id.private.as_bytes(),
                &self.remote_static,
            )
            .is_ok(),
            None => false,
        };
        if !ok {
            ss.clear();
        }
        self.precomputed_static_static = ss;
    }

    /// Replaces the preshared key (all zero means none).
    pub fn set_preshared_key(&mut self, preshared_key: &[u8; KEY_LEN]) {
        self.preshared_key = Key::new(*preshared_key);
    }

    /// Returns the preshared key (netlink reports it).
    pub fn preshared_key(&self) -> &[u8; KEY_LEN] {
        self.preshared_key.as_bytes()
    }

    /// Returns the peer's static public key.
    pub fn remote_static(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.remote_static
    }

    /// Returns the kind of state the handshake is in.
    pub fn state(&self) -> HandshakeStateKind {
        match self.state {
            HandshakeState::Zeroed => HandshakeStateKind::Zeroed,
            HandshakeState::CreatedInitiation { .. } => HandshakeStateKind::CreatedInitiation,
            HandshakeState::ConsumedInitiation { .. } => HandshakeStateKind::ConsumedInitiation,
            HandshakeState::CreatedResponse { .. } => HandshakeStateKind::CreatedResponse,
            HandshakeState::ConsumedResponse { .. } => HandshakeStateKind::ConsumedResponse,
        }
    }

    /// Returns the local index this handshake registered, if any (the caller's index table maps it to the peer).
    pub fn local_index(&self) -> Option<u32> {
        match self.state {
            HandshakeState::CreatedInitiation { local_index, .. }
            | HandshakeState::CreatedResponse { local_index, .. }
            | HandshakeState::ConsumedResponse { local_index, .. } => Some(local_index),
            _ => None,
        }
    }

    /// Forgets any handshake in progress, zeroing its secrets, and returns the index it had registered.
    ///
    /// The replay timestamp and flood state survive, as in `handshake_zero()`.
    pub fn clear(&mut self) -> Option<u32> {
        let index = self.local_index();
        self.state = HandshakeState::Zeroed;
        index
    }

    /// Creates an initiation into `out` (at least [`INITIATION_LEN`](super::messages::INITIATION_LEN) bytes).
    ///
    /// `ephemeral_private` is 32 fresh random bytes, `timestamp` comes from [`tai64n`], `local_index` is a fresh
    /// random index the caller has reserved in its index table. The MAC fields are left zero. Any handshake in
    /// progress is replaced (the caller should unregister the index [`Handshake::local_index`] returned before).
    pub fn create_initiation(
        &mut self,
        identity: &StaticIdentity<C>,
        ephemeral_private: &[u8; KEY_LEN],
        timestamp: &[u8; TIMESTAMP_LEN],
        local_index: u32,
        out: &mut [u8],
    ) -> Result<(), NoiseError> {
        let (mut ck, mut h) = handshake_init::<C>(&self.remote_static)?;
        let mut eph = Key::<C>::new(*ephemeral_private);
        clamp(eph.as_mut_bytes());
        // e
        let mut e = [0; PUBLIC_KEY_LEN];
        C::curve25519_generate_public(&mut e, eph.as_bytes())?;
        mix_ephemeral(&mut ck, &mut h, &e)?;
        // es
        let key = mix_dh(&mut ck, eph.as_bytes(), &self.remote_static)?;
        // s
        let mut encrypted_static = [0; ENCRYPTED_STATIC_LEN];
        seal(&mut encrypted_static, &identity.public, &key, &mut h)?;
        // ss
        let key = mix_precomputed(&mut ck, &self.precomputed_static_static)?;
        // {t}
        let mut encrypted_timestamp = [0; ENCRYPTED_TIMESTAMP_LEN];
        seal(&mut encrypted_timestamp, timestamp, &key, &mut h)?;

        Initiation {
            sender_index: local_index,
            ephemeral: &e,
            encrypted_static: &encrypted_static,
            encrypted_timestamp: &encrypted_timestamp,
            mac1: &[0; 16],
            mac2: &[0; 16],
        }
        .emit(out)?;
        self.state = HandshakeState::CreatedInitiation {
            local_index,
            ephemeral_private: eph,
            chaining_key: ck,
            hash: h,
        };
        Ok(())
    }

    /// Finishes consuming an initiation whose candidate names this handshake's peer.
    ///
    /// `now` is monotonic nanoseconds, used for the flood check. On success the state becomes
    /// [`HandshakeState::ConsumedInitiation`] and a previously registered index (returned by
    /// [`Handshake::local_index`] before the call) is no longer used.
    pub fn consume_initiation(
        &mut self,
        candidate: InitiationCandidate<C>,
        now: u64,
    ) -> Result<(), NoiseError> {
        if C::memneq(&candidate.remote_static, &self.remote_static) {
            return Err(NoiseError::WrongPeer);
        }
        let InitiationCandidate {
            sender_index,
            remote_ephemeral,
            encrypted_timestamp,
            chaining_key: mut ck,
            hash: mut h,
            ..
        } = candidate;
        // ss
        let key = mix_precomputed(&mut ck, &self.precomputed_static_static)?;
        // {t}
        let mut t = [0; TIMESTAMP_LEN];
        open(&mut t, &encrypted_timestamp, &key, &mut h)?;

        // TAI64N is big endian, so byte order is time order.
        if t <= self.latest_timestamp {
            return Err(NoiseError::Replay);
        }
        if let Some(last) = self.last_initiation_consumption {
            if last.saturating_add(NSEC_PER_SEC / INITIATIONS_PER_SECOND) > now {
                return Err(NoiseError::Flood);
            }
        }

        self.latest_timestamp = t;
        if self
            .last_initiation_consumption
            .is_none_or(|last| last < now)
        {
            self.last_initiation_consumption = Some(now);
        }
        self.state = HandshakeState::ConsumedInitiation {
            remote_index: sender_index,
            remote_ephemeral,
            chaining_key: ck,
            hash: h,
        };
        Ok(())
    }

    /// Creates the response to a consumed initiation into `out` (at least
    /// [`RESPONSE_LEN`](super::messages::RESPONSE_LEN) bytes), MACs zero.
    pub fn create_response(
        &mut self,
        ephemeral_private: &[u8; KEY_LEN],
        local_index: u32,
        out: &mut [u8],
    ) -> Result<(), NoiseError> {
        let HandshakeState::ConsumedInitiation {
            remote_index,
            remote_ephemeral,
            chaining_key,
            hash,
        } = &self.state
        else {
            return Err(NoiseError::WrongState);
        };
        let remote_index = *remote_index;
        let mut ck = chaining_key.duplicate();
        let mut h = hash.duplicate();
        let mut eph = Key::<C>::new(*ephemeral_private);
        clamp(eph.as_mut_bytes());
        // e
        let mut e = [0; PUBLIC_KEY_LEN];
        C::curve25519_generate_public(&mut e, eph.as_bytes())?;
        mix_ephemeral(&mut ck, &mut h, &e)?;
        // ee
        mix_dh(&mut ck, eph.as_bytes(), remote_ephemeral)?;
        // se
        mix_dh(&mut ck, eph.as_bytes(), &self.remote_static)?;
        // psk
        let key = mix_psk(&mut ck, &mut h, &self.preshared_key)?;
        // {}
        let mut nothing = [0; TAG_LEN];
        seal(&mut nothing, &[], &key, &mut h)?;

        Response {
            sender_index: local_index,
            receiver_index: remote_index,
            ephemeral: &e,
            encrypted_nothing: &nothing,
            mac1: &[0; 16],
            mac2: &[0; 16],
        }
        .emit(out)?;
        self.state = HandshakeState::CreatedResponse {
            local_index,
            remote_index,
            chaining_key: ck,
        };
        Ok(())
    }

    /// Consumes a response to our initiation. The caller found this handshake by `msg.receiver_index`.
    pub fn consume_response(
        &mut self,
        identity: &StaticIdentity<C>,
        msg: &Response<'_>,
    ) -> Result<(), NoiseError> {
        let HandshakeState::CreatedInitiation {
            local_index,
            ephemeral_private,
            chaining_key,
            hash,
        } = &self.state
        else {
            return Err(NoiseError::WrongState);
        };
        if *local_index != msg.receiver_index {
            return Err(NoiseError::WrongState);
        }
        let local_index = *local_index;
        let mut ck = chaining_key.duplicate();
        let mut h = hash.duplicate();
        // e
        mix_ephemeral(&mut ck, &mut h, msg.ephemeral)?;
        // ee
        mix_dh(&mut ck, ephemeral_private.as_bytes(), msg.ephemeral)?;
        // se
        mix_dh(&mut ck, identity.private.as_bytes(), msg.ephemeral)?;
        // psk
        let key = mix_psk(&mut ck, &mut h, &self.preshared_key)?;
        // {}
        open(&mut [], msg.encrypted_nothing, &key, &mut h)?;

        self.state = HandshakeState::ConsumedResponse {
            local_index,
            remote_index: msg.sender_index,
            chaining_key: ck,
        };
        Ok(())
    }

    /// Derives the transport keypair from a finished handshake and zeroes the handshake.
    ///
    /// The keypair keeps the handshake's local index; the caller moves its index-table entry from the handshake to
    /// the keypair and hands the keypair to [`Keypairs::add`]. `now` becomes the keypair's birthdate.
    pub fn begin_session(&mut self, now: u64) -> Result<Keypair<C>, NoiseError> {
        let (local_index, remote_index, ck, is_initiator) = match &self.state {
            HandshakeState::CreatedResponse {
                local_index,
                remote_index,
                chaining_key,
            } => (*local_index, *remote_index, chaining_key, false),
            HandshakeState::ConsumedResponse {
                local_index,
                remote_index,
                chaining_key,
            } => (*local_index, *remote_index, chaining_key, true),
            _ => return Err(NoiseError::WrongState),
        };
        let out = kdf::<C>(ck.as_bytes(), &[], 2)?;
        let (sending, receiving) = if is_initiator {
            (out.t1.duplicate(), out.t2.duplicate())
        } else {
            (out.t2.duplicate(), out.t1.duplicate())
        };
        self.state = HandshakeState::Zeroed;
        Ok(Keypair {
            sending,
            receiving,
            local_index,
            remote_index,
            is_initiator,
            birthdate: now,
        })
    }
}

/// Transport keys of one session, with the indices and metadata the data path needs.
///
/// It is immutable: the sending nonce counter, the [`ReplayCounter`](super::counter::ReplayCounter) and the "sending
/// is valid" flag change concurrently in the data path, so the caller keeps them beside the keypair (atomics and a
/// spinlock in the kernel).
pub struct Keypair<C: Crypto> {
    sending: Key<C>,
    receiving: Key<C>,
    /// Our index: data messages to us carry it as receiver index.
    pub local_index: u32,
    /// The peer's index, put in data messages we send.
    pub remote_index: u32,
    /// Whether we initiated the handshake (only the initiator rekeys on time).
    pub is_initiator: bool,
    /// Monotonic nanoseconds at derivation.
    pub birthdate: u64,
}

impl<C: Crypto> Keypair<C> {
    /// Returns the key for messages we send.
    pub fn sending_key(&self) -> &[u8; KEY_LEN] {
        self.sending.as_bytes()
    }

    /// Returns the key for messages we receive.
    pub fn receiving_key(&self) -> &[u8; KEY_LEN] {
        self.receiving.as_bytes()
    }

    /// Tells whether the keypair is older than [`REJECT_AFTER_TIME`] and must not be used either way.
    pub fn expired(&self, now: u64) -> bool {
        birthdate_has_expired(self.birthdate, REJECT_AFTER_TIME, now)
    }

    /// Tells whether a message with nonce `counter` may be sent (the validity flag aside).
    pub fn can_send(&self, now: u64, counter: u64) -> bool {
        !self.expired(now) && counter < REJECT_AFTER_MESSAGES
    }

    /// Tells whether a message may be decrypted, given the replay counter's [`max`](super::counter::ReplayCounter::max).
    pub fn can_receive(&self, now: u64, replay_max: u64) -> bool {
        !self.expired(now) && replay_max < REJECT_AFTER_MESSAGES
    }

    /// Tells whether sending with this (current) keypair should trigger a new handshake, as send.c's
    /// `keep_key_fresh()`: after [`REKEY_AFTER_MESSAGES`], or [`REKEY_AFTER_TIME`] if we were the initiator.
    pub fn wants_rekey_on_send(&self, now: u64, sending_counter: u64) -> bool {
        sending_counter > REKEY_AFTER_MESSAGES
            || (self.is_initiator && birthdate_has_expired(self.birthdate, REKEY_AFTER_TIME, now))
    }

    /// Tells whether receiving on this (current) keypair should trigger a last-minute handshake, as receive.c's
    /// `keep_key_fresh()`: we initiated it and it is within a keepalive and a rekey timeout of expiring.
    ///
    /// The caller sends it only once per keypair ([`Timers`](super::timers::Timers) tracks that).
    pub fn wants_rekey_on_receive(&self, now: u64) -> bool {
        self.is_initiator
            && birthdate_has_expired(
                self.birthdate,
                REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT,
                now,
            )
    }
}

/// Keypairs released by a rotation, for the caller to unregister and drop (after an RCU grace period in the kernel).
pub struct Released<K> {
    /// Up to three keypairs no longer referenced by [`Keypairs`].
    pub keypairs: [Option<K>; 3],
}

impl<K> Released<K> {
    fn none() -> Self {
        Self {
            keypairs: [None, None, None],
        }
    }
}

impl<K> IntoIterator for Released<K> {
    type Item = K;
    type IntoIter = core::iter::Flatten<core::array::IntoIter<Option<K>, 3>>;

    /// Iterates over the released keypairs.
    fn into_iter(self) -> Self::IntoIter {
        self.keypairs.into_iter().flatten()
    }
}

/// The previous, current and next keypair of a peer, generic over how the caller holds a keypair (`Arc` in the
/// kernel).
///
/// Rotation follows the C driver's `add_new_keypair()`: an initiator's new keypair is usable at once and becomes
/// current; a responder's goes to `next` and is promoted by [`Keypairs::received_with`] when the first data message
/// authenticates with it, which confirms the initiator has it too.
pub struct Keypairs<K> {
    /// The keypair before the current one, kept so in-flight packets still decrypt.
    pub previous: Option<K>,
    /// The keypair used for sending.
    pub current: Option<K>,
    /// A responder's keypair awaiting confirmation.
    pub next: Option<K>,
}

impl<K> Default for Keypairs<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> Keypairs<K> {
    /// Returns empty slots.
    pub const fn new() -> Self {
        Self {
            previous: None,
            current: None,
            next: None,
        }
    }

    /// Installs a keypair fresh from [`Handshake::begin_session`]; `is_initiator` is the keypair's role.
    pub fn add(&mut self, new: K, is_initiator: bool) -> Released<K> {
        let mut released = Released::none();
        if is_initiator {
            if let Some(next) = self.next.take() {
                // A pending next keypair is demoted to previous rather than dropped, as the C driver does, and the
                // current one goes.
                released.keypairs[0] = self.previous.replace(next);
                released.keypairs[1] = self.current.take();
            } else {
                released.keypairs[0] = core::mem::replace(&mut self.previous, self.current.take());
            }
            self.current = Some(new);
        } else {
            released.keypairs[0] = self.next.replace(new);
            released.keypairs[1] = self.previous.take();
        }
        released
    }

    /// Promotes `next` to current if `is_next` says the keypair a data message authenticated with is it.
    ///
    /// Returns `None` when nothing changed (the common case), otherwise the released old previous keypair.
    pub fn received_with(&mut self, is_next: impl FnOnce(&K) -> bool) -> Option<Released<K>> {
        if !self.next.as_ref().is_some_and(is_next) {
            return None;
        }
        let mut released = Released::none();
        let next = self.next.take();
        let current = core::mem::replace(&mut self.current, next);
        released.keypairs[0] = core::mem::replace(&mut self.previous, current);
        Some(released)
    }

    /// Empties all slots (next first, as the C driver does, so receivers stop promoting it).
    pub fn clear(&mut self) -> Released<K> {
        Released {
            keypairs: [self.next.take(), self.previous.take(), self.current.take()],
        }
    }

    /// Iterates over the occupied slots: current, previous, next.
    pub fn iter(&self) -> impl Iterator<Item = &K> {
        self.current
            .iter()
            .chain(self.previous.iter())
            .chain(self.next.iter())
    }
}
