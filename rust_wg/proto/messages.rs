// SPDX-License-Identifier: GPL-2.0

//! Wire formats of the four WireGuard messages and the protocol's constants.
//!
//! Parsing produces views that borrow the packet (`&[u8]`) and check the length and type once; emitting writes into a
//! caller buffer. All multi-byte integers are little endian on the wire. The code walks buffers with
//! `split_first_chunk`, so there is no indexing that input could make panic.

use super::crypto::{HASH_LEN, KEY_LEN, TAG_LEN, XNONCE_LEN};

/// Length of a Curve25519 public key on the wire.
pub const PUBLIC_KEY_LEN: usize = KEY_LEN;
/// Length of a TAI64N timestamp.
pub const TIMESTAMP_LEN: usize = 12;
/// Length of a MAC and of a cookie.
pub const COOKIE_LEN: usize = 16;
/// Length of the XChaCha20-Poly1305 nonce in a cookie reply.
pub const COOKIE_NONCE_LEN: usize = XNONCE_LEN;
/// Length of a handshake hash.
pub const NOISE_HASH_LEN: usize = HASH_LEN;

/// Message type of a handshake initiation.
pub const MESSAGE_HANDSHAKE_INITIATION: u32 = 1;
/// Message type of a handshake response.
pub const MESSAGE_HANDSHAKE_RESPONSE: u32 = 2;
/// Message type of a cookie reply.
pub const MESSAGE_HANDSHAKE_COOKIE: u32 = 3;
/// Message type of a transport data message.
pub const MESSAGE_DATA: u32 = 4;

/// Length of a handshake initiation.
pub const INITIATION_LEN: usize = 148;
/// Length of a handshake response.
pub const RESPONSE_LEN: usize = 92;
/// Length of a cookie reply.
pub const COOKIE_REPLY_LEN: usize = 64;
/// Length of the transport data header (type, receiver index, counter).
pub const DATA_HEADER_LEN: usize = 16;
/// Smallest valid transport data message: header plus an empty payload's tag (a keepalive).
pub const MESSAGE_MINIMUM_LENGTH: usize = DATA_HEADER_LEN + TAG_LEN;
/// Plaintext of data messages is padded to a multiple of this.
pub const MESSAGE_PADDING_MULTIPLE: usize = 16;
/// Length of the two MACs at the end of handshake messages.
pub const MACS_LEN: usize = 2 * COOKIE_LEN;

/// Offset of `mac1` from the end of a handshake message; mac1 covers everything before it.
pub const MAC1_OFFSET_FROM_END: usize = MACS_LEN;
/// Offset of `mac2` from the end of a handshake message; mac2 covers everything before it, including mac1.
pub const MAC2_OFFSET_FROM_END: usize = COOKIE_LEN;

/// Encrypted static key length in an initiation.
pub const ENCRYPTED_STATIC_LEN: usize = PUBLIC_KEY_LEN + TAG_LEN;
/// Encrypted timestamp length in an initiation.
pub const ENCRYPTED_TIMESTAMP_LEN: usize = TIMESTAMP_LEN + TAG_LEN;
/// Encrypted empty payload length in a response.
pub const ENCRYPTED_NOTHING_LEN: usize = TAG_LEN;
/// Encrypted cookie length in a cookie reply.
pub const ENCRYPTED_COOKIE_LEN: usize = COOKIE_LEN + TAG_LEN;

/// Send a new handshake after this many messages on a keypair.
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// Usable bits of the replay window: the total minus one word, which is always being recycled.
pub const COUNTER_WINDOW_SIZE: u64 = 8192 - 64;
/// Never send or accept a counter at or beyond this.
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - COUNTER_WINDOW_SIZE - 1;
/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;
/// Seconds after which an unanswered handshake is retransmitted.
pub const REKEY_TIMEOUT: u64 = 5;
/// Upper bound of the random jitter added to handshake timers: a third of a second, in nanoseconds.
pub const REKEY_TIMEOUT_JITTER_MAX_NS: u64 = NSEC_PER_SEC / 3;
/// Seconds after which the initiator of a keypair starts a new handshake.
pub const REKEY_AFTER_TIME: u64 = 120;
/// Seconds after which a keypair is no longer used.
pub const REJECT_AFTER_TIME: u64 = 180;
/// Most handshake initiations accepted per peer per second.
pub const INITIATIONS_PER_SECOND: u64 = 50;
/// Most peers per device.
pub const MAX_PEERS_PER_DEVICE: u32 = 1 << 20;
/// Seconds after receiving data without sending any before a keepalive goes out.
pub const KEEPALIVE_TIMEOUT: u64 = 10;
/// Retransmissions of a handshake before giving up (90 s worth of attempts).
pub const MAX_TIMER_HANDSHAKES: u32 = (90 / REKEY_TIMEOUT) as u32;
/// Most handshake messages queued for processing per device.
pub const MAX_QUEUED_INCOMING_HANDSHAKES: usize = 4096;
/// Most packets staged per peer while waiting for a keypair.
pub const MAX_STAGED_PACKETS: usize = 128;
/// Most packets queued per peer.
pub const MAX_QUEUED_PACKETS: usize = 1024;
/// Seconds a cookie secret (and a received cookie) stays valid.
pub const COOKIE_SECRET_MAX_AGE: u64 = 2 * 60;
/// Seconds of slack taken off a received cookie's age to allow for latency.
pub const COOKIE_SECRET_LATENCY: u64 = 5;
/// DSCP marking of handshake packets (AF41).
pub const HANDSHAKE_DSCP: u8 = 0x88;

/// A reason a buffer is not a well-formed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageError {
    /// The buffer is shorter or longer than the message type requires.
    Length,
    /// The type field (first four bytes, little endian) is not the expected one.
    Type,
}

/// Returns how many zero bytes to append to a data payload of `len` bytes before encryption.
///
/// This is the C driver's `calculate_skb_padding()`: pad to [`MESSAGE_PADDING_MULTIPLE`] but never past `mtu`; an
/// `mtu` of 0 means unknown (pad freely), and an oversized (GSO) payload is padded as if it were its last MTU-sized
/// segment.
pub fn padding_len(len: usize, mtu: usize) -> usize {
    let align =
        |n: usize| n.saturating_add(MESSAGE_PADDING_MULTIPLE - 1) & !(MESSAGE_PADDING_MULTIPLE - 1);
    if mtu == 0 {
        return align(len).saturating_sub(len);
    }
    let last_unit = if len > mtu { len % mtu } else { len };
    mtu.min(align(last_unit)).saturating_sub(last_unit)
}

/// Classifies a datagram by its type field and length, as the receive path does before queueing it.
///
/// Returns the type for a well-formed length and `None` for anything to drop.
pub fn classify(packet: &[u8]) -> Option<u32> {
    let ty = u32::from_le_bytes(*packet.first_chunk::<4>()?);
    let ok = match ty {
        MESSAGE_HANDSHAKE_INITIATION => packet.len() == INITIATION_LEN,
        MESSAGE_HANDSHAKE_RESPONSE => packet.len() == RESPONSE_LEN,
        MESSAGE_HANDSHAKE_COOKIE => packet.len() == COOKIE_REPLY_LEN,
        MESSAGE_DATA => packet.len() >= MESSAGE_MINIMUM_LENGTH,
        _ => false,
    };
    ok.then_some(ty)
}

/// A cursor that takes fixed-size pieces off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<&'a [u8; N], MessageError> {
        let (head, tail) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(MessageError::Length)?;
        self.0 = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, MessageError> {
        Ok(u32::from_le_bytes(*self.take::<4>()?))
    }

    fn header(&mut self, ty: u32) -> Result<(), MessageError> {
        if self.u32()? != ty {
            return Err(MessageError::Type);
        }
        Ok(())
    }
}

/// A cursor that writes fixed-size pieces at the front of a mutable slice.
struct Writer<'a>(&'a mut [u8]);

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), MessageError> {
        let buf = core::mem::take(&mut self.0);
        if buf.len() < bytes.len() {
            return Err(MessageError::Length);
        }
        let (head, tail) = buf.split_at_mut(bytes.len());
        head.copy_from_slice(bytes);
        self.0 = tail;
        Ok(())
    }
}

fn exact_len(buf: &[u8], len: usize) -> Result<(), MessageError> {
    if buf.len() != len {
        return Err(MessageError::Length);
    }
    Ok(())
}

/// A parsed handshake initiation (type 1, 148 bytes), borrowing the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Initiation<'a> {
    /// The initiator's index for this handshake.
    pub sender_index: u32,
    /// The initiator's ephemeral public key.
    pub ephemeral: &'a [u8; PUBLIC_KEY_LEN],
    /// The initiator's static public key, encrypted.
    pub encrypted_static: &'a [u8; ENCRYPTED_STATIC_LEN],
    /// The TAI64N timestamp, encrypted.
    pub encrypted_timestamp: &'a [u8; ENCRYPTED_TIMESTAMP_LEN],
    /// MAC over the message up to here, keyed by the responder's public key.
    pub mac1: &'a [u8; COOKIE_LEN],
    /// MAC keyed by a cookie, or zero.
    pub mac2: &'a [u8; COOKIE_LEN],
}

impl<'a> Initiation<'a> {
    /// Parses `buf`, which must be exactly one initiation.
    pub fn parse(buf: &'a [u8]) -> Result<Self, MessageError> {
        exact_len(buf, INITIATION_LEN)?;
        let mut r = Reader(buf);
        r.header(MESSAGE_HANDSHAKE_INITIATION)?;
        Ok(Self {
            sender_index: r.u32()?,
            ephemeral: r.take()?,
            encrypted_static: r.take()?,
            encrypted_timestamp: r.take()?,
            mac1: r.take()?,
            mac2: r.take()?,
        })
    }

    /// Writes the message into the first [`INITIATION_LEN`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), MessageError> {
        let mut w = Writer(buf);
        w.put(&MESSAGE_HANDSHAKE_INITIATION.to_le_bytes())?;
        w.put(&self.sender_index.to_le_bytes())?;
        w.put(self.ephemeral)?;
        w.put(self.encrypted_static)?;
        w.put(self.encrypted_timestamp)?;
        w.put(self.mac1)?;
        w.put(self.mac2)
    }
}

/// A parsed handshake response (type 2, 92 bytes), borrowing the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// The responder's index for this handshake.
    pub sender_index: u32,
    /// The initiator's index, echoed back.
    pub receiver_index: u32,
    /// The responder's ephemeral public key.
    pub ephemeral: &'a [u8; PUBLIC_KEY_LEN],
    /// The authentication tag of an empty payload.
    pub encrypted_nothing: &'a [u8; ENCRYPTED_NOTHING_LEN],
    /// MAC over the message up to here, keyed by the initiator's public key.
    pub mac1: &'a [u8; COOKIE_LEN],
    /// MAC keyed by a cookie, or zero.
    pub mac2: &'a [u8; COOKIE_LEN],
}

impl<'a> Response<'a> {
    /// Parses `buf`, which must be exactly one response.
    pub fn parse(buf: &'a [u8]) -> Result<Self, MessageError> {
        exact_len(buf, RESPONSE_LEN)?;
        let mut r = Reader(buf);
        r.header(MESSAGE_HANDSHAKE_RESPONSE)?;
        Ok(Self {
            sender_index: r.u32()?,
            receiver_index: r.u32()?,
            ephemeral: r.take()?,
            encrypted_nothing: r.take()?,
            mac1: r.take()?,
            mac2: r.take()?,
        })
    }

    /// Writes the message into the first [`RESPONSE_LEN`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), MessageError> {
        let mut w = Writer(buf);
        w.put(&MESSAGE_HANDSHAKE_RESPONSE.to_le_bytes())?;
        w.put(&self.sender_index.to_le_bytes())?;
        w.put(&self.receiver_index.to_le_bytes())?;
        w.put(self.ephemeral)?;
        w.put(self.encrypted_nothing)?;
        w.put(self.mac1)?;
        w.put(self.mac2)
    }
}

/// A parsed cookie reply (type 3, 64 bytes), borrowing the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieReply<'a> {
    /// The index of the handshake (or keypair) the reply is for.
    pub receiver_index: u32,
    /// The XChaCha20-Poly1305 nonce.
    pub nonce: &'a [u8; COOKIE_NONCE_LEN],
    /// The encrypted cookie and its tag.
    pub encrypted_cookie: &'a [u8; ENCRYPTED_COOKIE_LEN],
}

impl<'a> CookieReply<'a> {
    /// Parses `buf`, which must be exactly one cookie reply.
    pub fn parse(buf: &'a [u8]) -> Result<Self, MessageError> {
        exact_len(buf, COOKIE_REPLY_LEN)?;
        let mut r = Reader(buf);
        r.header(MESSAGE_HANDSHAKE_COOKIE)?;
        Ok(Self {
            receiver_index: r.u32()?,
            nonce: r.take()?,
            encrypted_cookie: r.take()?,
        })
    }

    /// Writes the message into the first [`COOKIE_REPLY_LEN`] bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), MessageError> {
        let mut w = Writer(buf);
        w.put(&MESSAGE_HANDSHAKE_COOKIE.to_le_bytes())?;
        w.put(&self.receiver_index.to_le_bytes())?;
        w.put(self.nonce)?;
        w.put(self.encrypted_cookie)
    }
}

/// The header of a transport data message (type 4); the encrypted payload and tag follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    /// The receiver's keypair index.
    pub receiver_index: u32,
    /// The nonce counter of this message.
    pub counter: u64,
}

impl DataHeader {
    /// Parses the header of `buf` and returns it with the rest (ciphertext and tag, at least 16 bytes).
    pub fn parse(buf: &[u8]) -> Result<(Self, &[u8]), MessageError> {
        if buf.len() < MESSAGE_MINIMUM_LENGTH {
            return Err(MessageError::Length);
        }
        let mut r = Reader(buf);
        r.header(MESSAGE_DATA)?;
        let receiver_index = r.u32()?;
        let counter = u64::from_le_bytes(*r.take::<8>()?);
        Ok((
            Self {
                receiver_index,
                counter,
            },
            r.0,
        ))
    }

    /// Writes the 16-byte header at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), MessageError> {
        let mut w = Writer(buf);
        w.put(&MESSAGE_DATA.to_le_bytes())?;
        w.put(&self.receiver_index.to_le_bytes())?;
        w.put(&self.counter.to_le_bytes())
    }
}

/// Splits a handshake message into the part mac1 covers, and mac1 itself.
pub fn mac1_parts(msg: &[u8]) -> Result<(&[u8], &[u8; COOKIE_LEN]), MessageError> {
    let (head, macs) = msg
        .split_last_chunk::<MACS_LEN>()
        .ok_or(MessageError::Length)?;
    let (mac1, _) = macs
        .split_first_chunk::<COOKIE_LEN>()
        .ok_or(MessageError::Length)?;
    Ok((head, mac1))
}

/// Splits a handshake message into the part mac2 covers, and mac2 itself.
pub fn mac2_parts(msg: &[u8]) -> Result<(&[u8], &[u8; COOKIE_LEN]), MessageError> {
    msg.split_last_chunk::<COOKIE_LEN>()
        .ok_or(MessageError::Length)
}
