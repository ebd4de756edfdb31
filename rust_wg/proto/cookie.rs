// SPDX-License-Identifier: GPL-2.0

//! Handshake MACs and cookies: the protocol's defence against handshake floods.
//!
//! Every handshake message carries `mac1`, a keyed BLAKE2s of the message under `HASH("mac1----" || responder's
//! public key)`, which proves the sender knows who it talks to. Under load the responder also demands `mac2`, keyed by
//! a cookie: a MAC of the sender's IP address and port under a secret that rotates every two minutes. A sender without
//! a valid cookie gets a cookie reply, encrypted with XChaCha20-Poly1305 under `HASH("cookie--" || responder's
//! public key)` with the rejected message's mac1 as associated data.
//!
//! [`CookieChecker`] is the responder side (one per device), [`CookieMaker`] the sender side (one per peer). Whether
//! the device is under load is the caller's decision (the kernel compares its handshake queue length against a
//! threshold, remembered for a second by [`UnderLoad`]), passed as `check_cookie`. The cookie secret is random bytes from the caller: when
//! [`CookieChecker::secret_expired`] says so, the caller rotates it with [`CookieChecker::rotate_secret`] (under a
//! write lock in the kernel) before validating or replying.

use super::addr::{IpAddr, SocketAddr};
use super::crypto::{Crypto, CryptoError, Secret, KEY_LEN};
use super::messages::{
    mac1_parts, mac2_parts, CookieReply, MessageError, COOKIE_LEN, COOKIE_NONCE_LEN,
    COOKIE_SECRET_LATENCY, COOKIE_SECRET_MAX_AGE, ENCRYPTED_COOKIE_LEN, MACS_LEN, PUBLIC_KEY_LEN,
};
use super::noise::birthdate_has_expired;

const MAC1_LABEL: &[u8] = b"mac1----";
const COOKIE_LABEL: &[u8] = b"cookie--";

/// Why a cookie operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// A primitive failed or the cookie reply did not decrypt.
    Crypto,
    /// The message is too short or the output buffer is.
    Message,
    /// We have not sent a message this reply could answer (or already used a reply for it).
    Unexpected,
}

impl From<CryptoError> for CookieError {
    fn from(_: CryptoError) -> Self {
        CookieError::Crypto
    }
}

impl From<MessageError> for CookieError {
    fn from(_: MessageError) -> Self {
        CookieError::Message
    }
}

/// The verdict on a handshake message's MACs, as the C driver's `enum cookie_mac_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacState {
    /// mac1 is wrong: drop the message.
    InvalidMac,
    /// mac1 is right; mac2 was not checked or is wrong. Under load, answer with a cookie reply.
    ValidMacButNoCookie,
    /// mac1 and mac2 are right and the ratelimiter lets it through: process it.
    ValidMacWithCookie,
    /// mac1 and mac2 are right but the source exceeded its rate: drop it.
    ValidMacWithCookieButRatelimited,
}

/// Whether a device is under load, with the C driver's one-second memory (`last_under_load` in
/// `wg_receive_handshake_packet()`).
///
/// The caller tells [`UnderLoad::update`] whether its handshake queue is at its threshold now. Once it was, the device
/// stays under load for a second after the queue got short again, so that a flood whose queue drains now and then
/// does not get its messages processed without cookies each time it does.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UnderLoad {
    /// The last time the queue was at its threshold, while that is less than a second ago.
    last: Option<u64>,
}

impl UnderLoad {
    /// Not under load.
    pub const fn new() -> Self {
        Self { last: None }
    }

    /// Records whether the queue is at its threshold at `now` and tells whether to treat a message as under load.
    pub fn update(&mut self, queue_at_threshold: bool, now: u64) -> bool {
        if queue_at_threshold {
            self.last = Some(now);
            return true;
        }
        match self.last {
            Some(t) if !birthdate_has_expired(t, 1, now) => true,
            _ => {
                self.last = None;
                false
            }
        }
    }
}

fn precompute_key<C: Crypto>(
    public: &[u8; PUBLIC_KEY_LEN],
    label: &[u8],
) -> Result<[u8; KEY_LEN], CryptoError> {
    let mut key = [0; KEY_LEN];
    C::blake2s(&mut key, &[], &[label, public])?;
    Ok(key)
}

fn compute_mac<C: Crypto>(covered: &[u8], key: &[u8]) -> Result<[u8; COOKIE_LEN], CryptoError> {
    let mut mac = [0; COOKIE_LEN];
    C::blake2s(&mut mac, key, &[covered])?;
    Ok(mac)
}

/// The responder side: validates MACs of incoming handshake messages and makes cookie replies.
pub struct CookieChecker<C: Crypto> {
    mac1_key: [u8; KEY_LEN],
    cookie_encryption_key: [u8; KEY_LEN],
    has_identity: bool,
    secret: Secret<C, KEY_LEN>,
    secret_birthdate: u64,
}

impl<C: Crypto> CookieChecker<C> {
    /// Creates a checker for a device with public key `public` (or none yet), with a first random `secret`.
    pub fn new(
        public: Option<&[u8; PUBLIC_KEY_LEN]>,
        secret: &[u8; KEY_LEN],
        now: u64,
    ) -> Result<Self, CookieError> {
        let mut checker = Self {
            mac1_key: [0; KEY_LEN],
            cookie_encryption_key: [0; KEY_LEN],
            has_identity: false,
            secret: Secret::new(*secret),
            secret_birthdate: now,
        };
        checker.set_public_key(public)?;
        Ok(checker)
    }

    /// Recomputes the keys after the device's key changed, as `wg_cookie_checker_precompute_device_keys()`.
    pub fn set_public_key(
        &mut self,
        public: Option<&[u8; PUBLIC_KEY_LEN]>,
    ) -> Result<(), CookieError> {
        match public {
            Some(p) => {
                self.mac1_key = precompute_key::<C>(p, MAC1_LABEL)?;
                self.cookie_encryption_key = precompute_key::<C>(p, COOKIE_LABEL)?;
                self.has_identity = true;
            }
            None => {
                self.mac1_key = [0; KEY_LEN];
                self.cookie_encryption_key = [0; KEY_LEN];
                self.has_identity = false;
            }
        }
        Ok(())
    }

    /// Tells whether the cookie secret is older than [`COOKIE_SECRET_MAX_AGE`] and must be rotated first.
    pub fn secret_expired(&self, now: u64) -> bool {
        birthdate_has_expired(self.secret_birthdate, COOKIE_SECRET_MAX_AGE, now)
    }

    /// Installs a fresh random cookie secret.
    pub fn rotate_secret(&mut self, secret: &[u8; KEY_LEN], now: u64) {
        self.secret = Secret::new(*secret);
        self.secret_birthdate = now;
    }

    fn make_cookie(&self, src: &SocketAddr) -> Result<[u8; COOKIE_LEN], CryptoError> {
        let mut cookie = [0; COOKIE_LEN];
        let addr: &[u8] = match &src.addr {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => a,
        };
        C::blake2s(
            &mut cookie,
            self.secret.as_bytes(),
            &[addr, &src.port.to_be_bytes()],
        )?;
        Ok(cookie)
    }

    /// Checks the MACs of handshake message `msg` received from `src`.
    ///
    /// mac2 is checked only if `check_cookie` (the device is under load); then `ratelimit_allow` is asked whether
    /// the source may go on (the C driver's `wg_ratelimiter_allow()`).
    pub fn validate(
        &self,
        msg: &[u8],
        src: &SocketAddr,
        check_cookie: bool,
        ratelimit_allow: impl FnOnce() -> bool,
    ) -> MacState {
        let Ok((covered, mac1)) = mac1_parts(msg) else {
            return MacState::InvalidMac;
        };
        match compute_mac::<C>(covered, &self.mac1_key) {
            Ok(m) if self.has_identity && !C::memneq(&m, mac1) => {}
            _ => return MacState::InvalidMac,
        }
        if !check_cookie {
            return MacState::ValidMacButNoCookie;
        }
        let Ok((covered, mac2)) = mac2_parts(msg) else {
            return MacState::InvalidMac;
        };
        let ok = match self.make_cookie(src) {
            Ok(cookie) => {
                matches!(compute_mac::<C>(covered, &cookie), Ok(m) if !C::memneq(&m, mac2))
            }
            Err(_) => false,
        };
        if !ok {
            return MacState::ValidMacButNoCookie;
        }
        if !ratelimit_allow() {
            return MacState::ValidMacWithCookieButRatelimited;
        }
        MacState::ValidMacWithCookie
    }

    /// Writes a cookie reply to handshake message `msg` from `src` into `out`.
    ///
    /// `receiver_index` is the sender index of `msg`; `nonce` is 24 random bytes.
    pub fn create_reply(
        &self,
        msg: &[u8],
        receiver_index: u32,
        src: &SocketAddr,
        nonce: &[u8; COOKIE_NONCE_LEN],
        out: &mut [u8],
    ) -> Result<(), CookieError> {
        let (_, mac1) = mac1_parts(msg)?;
        let cookie = self.make_cookie(src)?;
        let mut encrypted_cookie = [0; ENCRYPTED_COOKIE_LEN];
        C::xchacha20poly1305_encrypt(
            &mut encrypted_cookie,
            &cookie,
            mac1,
            nonce,
            &self.cookie_encryption_key,
        )?;
        CookieReply {
            receiver_index,
            nonce,
            encrypted_cookie: &encrypted_cookie,
        }
        .emit(out)?;
        Ok(())
    }
}

/// The sender side, one per peer: adds MACs to our handshake messages and keeps the last cookie received.
pub struct CookieMaker<C: Crypto> {
    mac1_key: [u8; KEY_LEN],
    cookie_decryption_key: [u8; KEY_LEN],
    cookie: Secret<C, COOKIE_LEN>,
    cookie_birthdate: Option<u64>,
    last_mac1_sent: Option<[u8; COOKIE_LEN]>,
}

impl<C: Crypto> CookieMaker<C> {
    /// Creates the state for a peer with static public key `remote_static`.
    pub fn new(remote_static: &[u8; PUBLIC_KEY_LEN]) -> Result<Self, CookieError> {
        Ok(Self {
            mac1_key: precompute_key::<C>(remote_static, MAC1_LABEL)?,
            cookie_decryption_key: precompute_key::<C>(remote_static, COOKIE_LABEL)?,
            cookie: Secret::zero(),
            cookie_birthdate: None,
            last_mac1_sent: None,
        })
    }

    /// Tells whether a cookie is held and young enough to use for mac2.
    pub fn has_valid_cookie(&self, now: u64) -> bool {
        self.cookie_birthdate.is_some_and(|b| {
            !birthdate_has_expired(b, COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, now)
        })
    }

    /// Fills in mac1 and mac2 (zero without a valid cookie) of our handshake message `msg`, as
    /// `wg_cookie_add_mac_to_packet()`.
    pub fn add_macs(&mut self, msg: &mut [u8], now: u64) -> Result<(), CookieError> {
        let len = msg.len();
        if len < MACS_LEN {
            return Err(CookieError::Message);
        }
        let (covered, macs) = msg.split_at_mut(len - MACS_LEN);
        let (mac1, mac2) = macs.split_at_mut(COOKIE_LEN);
        let m1 = compute_mac::<C>(covered, &self.mac1_key)?;
        mac1.copy_from_slice(&m1);
        self.last_mac1_sent = Some(m1);
        if self.has_valid_cookie(now) {
            let (covered, _) = msg.split_at(len - COOKIE_LEN);
            let m2 = compute_mac::<C>(covered, self.cookie.as_bytes())?;
            if let Some(d) = msg.get_mut(len - COOKIE_LEN..) {
                d.copy_from_slice(&m2);
            }
        } else {
            mac2.fill(0);
        }
        Ok(())
    }

    /// Consumes a cookie reply addressed to this peer (the caller found it by `reply.receiver_index`).
    ///
    /// A reply is accepted only for the last message we sent a mac1 for, and only once.
    pub fn consume_reply(&mut self, reply: &CookieReply<'_>, now: u64) -> Result<(), CookieError> {
        let Some(last_mac1) = self.last_mac1_sent else {
            return Err(CookieError::Unexpected);
        };
        let mut cookie = Secret::<C, COOKIE_LEN>::zero();
        C::xchacha20poly1305_decrypt(
            cookie.as_mut_bytes(),
            reply.encrypted_cookie,
            &last_mac1,
            reply.nonce,
            &self.cookie_decryption_key,
        )?;
        self.cookie = cookie;
        self.cookie_birthdate = Some(now);
        self.last_mac1_sent = None;
        Ok(())
    }
}
