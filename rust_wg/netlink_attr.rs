// SPDX-License-Identifier: GPL-2.0

//! Netlink attributes (`struct nlattr`) over byte slices: a strict reader and a bounded writer.
//!
//! Plain `core` Rust, no allocation and no kernel types, so that everything the generic netlink layer does with
//! message bytes is safe code that the host can test. The reader applies the checks of the kernel's strict
//! validation (`NL_VALIDATE_STRICT`): every header complete, no length past the end, no bytes left over, and the
//! caller then checks types, lengths and `NLA_F_NESTED` against its policy. The writer fills a caller buffer and
//! reports [`Full`] instead of writing past it, the way `nla_put()` reports `-EMSGSIZE`, so that a dump can end a
//! message at an attribute boundary and continue in the next one.

/// Size of `struct nlattr`.
pub(crate) const NLA_HDRLEN: usize = 4;
/// Set in `nla_type` of attributes that contain attributes.
pub(crate) const NLA_F_NESTED: u16 = 1 << 15;
/// Set in `nla_type` of attributes whose payload is in network byte order.
pub(crate) const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// The type bits of `nla_type`.
pub(crate) const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// Rounds up to the 4-byte attribute alignment (`NLA_ALIGN()`).
pub(crate) const fn nla_align(len: usize) -> usize {
    (len + 3) & !3
}

/// One attribute of a message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Attr<'a> {
    /// The type without flag bits.
    pub ty: u16,
    /// Whether `NLA_F_NESTED` is set.
    pub nested: bool,
    /// The payload (`nla_data()`, `nla_len()` bytes).
    pub payload: &'a [u8],
    /// Offset of the attribute's header from the start of the outermost buffer that was parsed, for the extended
    /// ack's "bad attribute" pointer.
    pub offset: usize,
}

/// Why a sequence of attributes is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// A header claims fewer than 4 bytes or more than what is left (a truncated attribute or nest).
    BadLength,
    /// 1 to 3 bytes follow the last attribute (`"bytes leftover after parsing attributes"`).
    Leftover,
}

/// The attributes of a payload, in order; yields an error (and then stops) at the first malformed one.
#[derive(Clone)]
pub(crate) struct Attrs<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Attrs<'a> {
    /// Walks the attributes of `buf`, which starts `offset` bytes into the outermost parsed buffer.
    pub(crate) fn new(buf: &'a [u8], offset: usize) -> Self {
        Self {
            rest: buf,
            offset,
            failed: false,
        }
    }

    /// Walks the attributes inside `nest`.
    pub(crate) fn nested(nest: &Attr<'a>) -> Self {
        Self::new(nest.payload, nest.offset + NLA_HDRLEN)
    }

    /// Offset (in the outermost buffer) of where the next attribute would start.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < NLA_HDRLEN {
            self.failed = true;
            return Some(Err(Malformed::Leftover));
        }
        let len = u16::from_ne_bytes([self.rest[0], self.rest[1]]) as usize;
        let raw_ty = u16::from_ne_bytes([self.rest[2], self.rest[3]]);
        if len < NLA_HDRLEN || len > self.rest.len() {
            self.failed = true;
            return Some(Err(Malformed::BadLength));
        }
        let attr = Attr {
            ty: raw_ty & NLA_TYPE_MASK,
            nested: raw_ty & NLA_F_NESTED != 0,
            payload: &self.rest[NLA_HDRLEN..len],
            offset: self.offset,
        };
        // Like `nla_next()`: the padding of the last attribute may be missing.
        let step = nla_align(len).min(self.rest.len());
        self.rest = &self.rest[step..];
        self.offset += step;
        Some(Ok(attr))
    }
}

/// The payload as a fixed-size array, if it has exactly that size.
pub(crate) fn exact<const N: usize>(payload: &[u8]) -> Option<[u8; N]> {
    payload.try_into().ok()
}

/// Writing stopped because the buffer is full (the `-EMSGSIZE` of `nla_put()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// An open nest: where its header is.
#[must_use = "a nest must be ended or cancelled"]
pub(crate) struct Nest(usize);

/// Writes attributes into a buffer of fixed capacity.
///
/// Every write either completes or leaves the buffer as it was and returns [`Full`]; [`Writer::mark`] and
/// [`Writer::rewind`] drop several attributes at once, as `nlmsg_trim()` does.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// Starts writing at the front of `buf`; nothing is ever written past its end.
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// The bytes written so far.
    pub(crate) fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Number of bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn header(&mut self, at: usize, len: usize, ty: u16) {
        // Lengths are checked against `u16::MAX` by the callers.
        self.buf[at..at + 2].copy_from_slice(&(len as u16).to_ne_bytes());
        self.buf[at + 2..at + 4].copy_from_slice(&ty.to_ne_bytes());
    }

    /// Appends an attribute with payload `data`, padded to 4 bytes (`nla_put()`).
    pub(crate) fn put(&mut self, ty: u16, data: &[u8]) -> Result<(), Full> {
        let len = NLA_HDRLEN + data.len();
        let total = nla_align(len);
        if len > u16::MAX as usize || self.buf.len() - self.len < total {
            return Err(Full);
        }
        let at = self.len;
        self.header(at, len, ty);
        self.buf[at + NLA_HDRLEN..at + len].copy_from_slice(data);
        self.buf[at + len..at + total].fill(0);
        self.len += total;
        Ok(())
    }

    /// Appends a `u8` attribute.
    pub(crate) fn put_u8(&mut self, ty: u16, v: u8) -> Result<(), Full> {
        self.put(ty, &[v])
    }

    /// Appends a `u16` attribute in host byte order.
    pub(crate) fn put_u16(&mut self, ty: u16, v: u16) -> Result<(), Full> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends a `u32` attribute in host byte order.
    pub(crate) fn put_u32(&mut self, ty: u16, v: u32) -> Result<(), Full> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Appends a `u64` attribute in host byte order.
    ///
    /// `nla_put_u64_64bit()` adds no padding attribute on architectures with efficient unaligned access (x86 and
    /// arm64), which are the ones this module is built for, so neither do we.
    pub(crate) fn put_u64(&mut self, ty: u16, v: u64) -> Result<(), Full> {
        self.put(ty, &v.to_ne_bytes())
    }

    /// Opens a nest of type `ty` with `NLA_F_NESTED` set (`nla_nest_start()`).
    pub(crate) fn nest_start(&mut self, ty: u16) -> Result<Nest, Full> {
        if self.buf.len() - self.len < NLA_HDRLEN {
            return Err(Full);
        }
        let at = self.len;
        self.header(at, NLA_HDRLEN, ty | NLA_F_NESTED);
        self.len += NLA_HDRLEN;
        Ok(Nest(at))
    }

    /// Closes `nest`, writing its length (`nla_nest_end()`). A nest longer than an attribute can say is dropped
    /// and reported as [`Full`].
    pub(crate) fn nest_end(&mut self, nest: Nest) -> Result<(), Full> {
        let len = self.len - nest.0;
        if len > u16::MAX as usize {
            self.len = nest.0;
            return Err(Full);
        }
        self.buf[nest.0..nest.0 + 2].copy_from_slice(&(len as u16).to_ne_bytes());
        Ok(())
    }

    /// Drops `nest` and everything in it (`nla_nest_cancel()`).
    pub(crate) fn nest_cancel(&mut self, nest: Nest) {
        self.len = nest.0;
    }
}
