//! Small helpers over neli's attribute types: build typed attributes and read payloads.

use std::io::Cursor;

use neli::{
    consts::nl::NlmF,
    err::{DeError, SerError},
    genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, Nlattr, NlattrBuilder},
    nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder},
    types::{Buffer, GenlBuffer},
    FromBytesWithInput, Size, ToBytes,
};

/// A generic netlink message with numeric command and attribute types.
pub type GenlMsg = Genlmsghdr<u8, u16>;
/// A netlink attribute with a numeric type and raw payload.
pub type Attr = Nlattr<u16, Buffer>;
/// A list of attributes.
pub type Attrs = GenlBuffer<u16, Buffer>;

/// Size of `struct nlmsghdr` plus `struct genlmsghdr`.
pub const GENL_MSG_OVERHEAD: usize = 16 + 4;
/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;

/// Rounds up to the 4-byte netlink alignment.
pub const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Space an attribute with `payload` bytes takes, header and padding included.
pub const fn attr_space(payload: usize) -> usize {
    NLA_HDRLEN + align4(payload)
}

fn build(ty: u16, nested: bool, payload: Vec<u8>) -> Result<Attr, SerError> {
    let t = AttrTypeBuilder::default()
        .nla_type(ty)
        .nla_nested(nested)
        .build()
        .map_err(|e| SerError::new(e.to_string()))?;
    NlattrBuilder::default()
        .nla_type(t)
        .nla_payload(Buffer::from(payload))
        .build()
        .map_err(|e| SerError::new(e.to_string()))
}

/// An attribute with raw bytes.
pub fn bytes(ty: u16, payload: &[u8]) -> Result<Attr, SerError> {
    build(ty, false, payload.to_vec())
}

/// A NUL-terminated string attribute.
pub fn strz(ty: u16, s: &str) -> Result<Attr, SerError> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    build(ty, false, v)
}

pub fn u8(ty: u16, v: u8) -> Result<Attr, SerError> {
    build(ty, false, vec![v])
}

pub fn u16(ty: u16, v: u16) -> Result<Attr, SerError> {
    build(ty, false, v.to_ne_bytes().to_vec())
}

pub fn u32(ty: u16, v: u32) -> Result<Attr, SerError> {
    build(ty, false, v.to_ne_bytes().to_vec())
}

/// An empty nest (NLA_F_NESTED set), to be filled with [`push`].
pub fn nest(ty: u16) -> Result<Attr, SerError> {
    build(ty, true, Vec::new())
}

/// A nest (NLA_F_NESTED set) whose payload, a sequence of attributes, is already serialized.
pub fn nest_raw(ty: u16, payload: Vec<u8>) -> Result<Attr, SerError> {
    build(ty, true, payload)
}

/// Appends `child` to the nest `parent`.
pub fn push(parent: Attr, child: &Attr) -> Result<Attr, SerError> {
    parent.nest(child)
}

/// Size of an attribute on the wire, padding included.
pub fn space(a: &Attr) -> usize {
    a.padded_size()
}

/// The attribute type without the NESTED / NET_BYTEORDER bits.
pub fn ty(a: &Attr) -> u16 {
    *a.nla_type().nla_type() & 0x3fff
}

pub fn payload(a: &Attr) -> &[u8] {
    a.nla_payload().as_ref()
}

pub fn get_u8(a: &Attr) -> Option<u8> {
    payload(a)
        .first()
        .copied()
        .filter(|_| payload(a).len() == 1)
}

pub fn get_u16(a: &Attr) -> Option<u16> {
    payload(a).try_into().ok().map(u16::from_ne_bytes)
}

pub fn get_u32(a: &Attr) -> Option<u32> {
    payload(a).try_into().ok().map(u32::from_ne_bytes)
}

pub fn get_u64(a: &Attr) -> Option<u64> {
    payload(a).try_into().ok().map(u64::from_ne_bytes)
}

/// A string attribute, up to its first NUL.
pub fn get_str(a: &Attr) -> Option<String> {
    let p = payload(a);
    let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
    std::str::from_utf8(&p[..end]).ok().map(str::to_string)
}

/// Parses the payload of a nest into its attributes.
pub fn nested(a: &Attr) -> Result<Attrs, DeError> {
    let p = payload(a);
    Attrs::from_bytes_with_input(&mut Cursor::new(p), p.len())
}

/// A generic netlink message.
pub fn genl(cmd: u8, version: u8, attrs: Attrs) -> Result<GenlMsg, SerError> {
    GenlmsghdrBuilder::default()
        .cmd(cmd)
        .version(version)
        .attrs(attrs)
        .build()
        .map_err(|e| SerError::new(e.to_string()))
}

/// Wraps a generic netlink message in a netlink header.
pub fn wrap(
    family: u16,
    flags: NlmF,
    seq: u32,
    msg: GenlMsg,
) -> Result<Nlmsghdr<u16, GenlMsg>, SerError> {
    NlmsghdrBuilder::default()
        .nl_type(family)
        .nl_flags(flags)
        .nl_seq(seq)
        .nl_payload(NlPayload::Payload(msg))
        .build()
        .map_err(|e| SerError::new(e.to_string()))
}

/// Serializes any neli value.
pub fn to_vec<T: ToBytes + Size>(v: &T) -> Result<Vec<u8>, SerError> {
    let mut c = Cursor::new(Vec::with_capacity(v.padded_size()));
    v.to_bytes(&mut c)?;
    Ok(c.into_inner())
}

/// Parses a generic netlink payload (genl header and attributes).
pub fn parse_genl(payload: &[u8]) -> Result<GenlMsg, DeError> {
    GenlMsg::from_bytes_with_input(&mut Cursor::new(payload), payload.len())
}
