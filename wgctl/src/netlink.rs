//! The netlink socket side: family resolution, requests with ACK / extended ACK
//! handling, GET dumps with NLM_F_DUMP_INTR retry, SET sequences, and interface listing.

use std::io;

use neli::{
    consts::{
        genl::{CtrlAttr, CtrlAttrMcastGrp, CtrlCmd},
        nl::{GenlId, NlmF, NlmsgerrAttr},
        rtnl::{Arphrd, Ifla, IflaInfo, RtAddrFamily, Rtm},
        socket::NlFamily,
    },
    err::{DeError, SerError, SocketError},
    genl::Genlmsghdr,
    nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder},
    rtnl::{Ifinfomsg, IfinfomsgBuilder},
    socket::synchronous::NlSocketHandle,
    types::{Buffer, GenlBuffer},
    utils::Groups,
    FromBytesWithInput,
};

use crate::attr::{self, GenlMsg};
use crate::model::Device;
use crate::msg_get::{self, DumpAssembler, ParseError};
use crate::msg_set::{self, BuildError};

/// Errors of netlink operations.
#[derive(Debug, thiserror::Error)]
pub enum NlError {
    #[error("generic netlink family \"{0}\" not found (is the module loaded?)")]
    NoFamily(String),
    #[error("multicast group \"{group}\" not found in family \"{family}\"")]
    NoGroup { family: String, group: String },
    #[error("{}{}", strerror(*.errno), .extack.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kernel { errno: i32, extack: Option<String> },
    #[error("netlink socket: {0}")]
    Socket(#[from] SocketError),
    #[error("building netlink message: {0}")]
    Ser(#[from] SerError),
    #[error("parsing netlink message: {0}")]
    De(#[from] DeError),
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Build(#[from] BuildError),
    #[error("interface name {0:?} is too long")]
    NameTooLong(String),
    #[error("dump kept being interrupted; giving up after {0} tries")]
    Interrupted(usize),
}

impl NlError {
    /// The errno, if the kernel refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NlError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// The C library's text for an errno, without Rust's "(os error N)" suffix.
pub fn strerror(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A resolved generic netlink family.
#[derive(Clone, Debug)]
pub struct Family {
    pub name: String,
    pub id: u16,
    pub groups: Vec<(String, u32)>,
}

/// A generic netlink connection to one family.
pub struct Genl {
    sock: NlSocketHandle,
    pub family: Family,
    seq: u32,
}

fn extack_text(attrs: &GenlBuffer<NlmsgerrAttr, Buffer>) -> Option<String> {
    attrs
        .iter()
        .find(|a| *a.nla_type().nla_type() == NlmsgerrAttr::Msg)
        .map(|a| {
            let p: &[u8] = a.nla_payload().as_ref();
            let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
            String::from_utf8_lossy(&p[..end]).into_owned()
        })
}

fn open_socket(proto: NlFamily) -> Result<NlSocketHandle, NlError> {
    let sock = NlSocketHandle::connect(proto, None, Groups::empty())?;
    // Ask for the kernel's error strings (NLMSGERR_ATTR_MSG); older kernels lack the
    // option, which only costs the text.
    let _ = sock.enable_ext_ack(true);
    Ok(sock)
}

/// What one received message means for the request it answers.
#[derive(Debug)]
enum Step {
    /// A reply payload; more follow.
    Data(Buffer),
    /// The ACK or NLMSG_DONE that ends the request.
    Done,
}

/// Interprets one reply: payload, end of request, or the kernel's error with its
/// extended-ACK text.
fn classify(m: &Nlmsghdr<u16, Buffer>) -> Result<Step, NlError> {
    match m.nl_payload() {
        NlPayload::Payload(b) => Ok(Step::Data(b.clone())),
        NlPayload::Ack(_) | NlPayload::Empty => Ok(Step::Done),
        NlPayload::DumpExtAck(e) if *e.error() == 0 => Ok(Step::Done),
        NlPayload::DumpExtAck(e) => Err(NlError::Kernel {
            errno: -*e.error(),
            extack: extack_text(e.ext_ack()),
        }),
        NlPayload::Err(e) => Err(NlError::Kernel {
            errno: -*e.error(),
            extack: extack_text(e.ext_ack()),
        }),
    }
}

/// Parses the messages of one receive buffer.
#[cfg(test)]
fn parse_buffer(bytes: &[u8]) -> Result<Vec<Nlmsghdr<u16, Buffer>>, NlError> {
    let mut c = io::Cursor::new(bytes);
    let mut out = Vec::new();
    while (c.position() as usize) < bytes.len() {
        out.push(<Nlmsghdr<u16, Buffer> as neli::FromBytes>::from_bytes(
            &mut c,
        )?);
    }
    Ok(out)
}

/// Sends one message and collects replies until its ACK or NLMSG_DONE; also reports
/// whether any reply carried NLM_F_DUMP_INTR.
fn transact<P>(
    sock: &NlSocketHandle,
    seq: u32,
    msg: &Nlmsghdr<u16, P>,
) -> Result<(Vec<Buffer>, bool), NlError>
where
    P: neli::Size + neli::ToBytes + std::fmt::Debug,
{
    sock.send(msg)?;
    let mut out = Vec::new();
    let mut interrupted = false;
    loop {
        let (iter, _) = sock.recv::<u16, Buffer>()?;
        for m in iter {
            let m = m?;
            if *m.nl_seq() != seq {
                continue;
            }
            interrupted |= m.nl_flags().contains(NlmF::DUMP_INTR);
            match classify(&m)? {
                Step::Data(b) => out.push(b),
                Step::Done => return Ok((out, interrupted)),
            }
        }
    }
}

impl Genl {
    /// Opens a socket and resolves `family_name`.
    pub fn open(family_name: &str) -> Result<Genl, NlError> {
        let sock = open_socket(NlFamily::Generic)?;
        let mut g = Genl {
            sock,
            family: Family {
                name: family_name.into(),
                id: 0,
                groups: Vec::new(),
            },
            seq: std::process::id().wrapping_mul(7919),
        };
        g.family = g.resolve(family_name)?;
        Ok(g)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn resolve(&mut self, name: &str) -> Result<Family, NlError> {
        let mut attrs = GenlBuffer::<CtrlAttr, Buffer>::new();
        attrs.push(
            neli::genl::NlattrBuilder::default()
                .nla_type(
                    neli::genl::AttrTypeBuilder::default()
                        .nla_type(CtrlAttr::FamilyName)
                        .build()
                        .map_err(|e| SerError::new(e.to_string()))?,
                )
                .nla_payload(name)
                .build()
                .map_err(|e| SerError::new(e.to_string()))?,
        );
        let genl = neli::genl::GenlmsghdrBuilder::<CtrlCmd, CtrlAttr>::default()
            .cmd(CtrlCmd::Getfamily)
            .version(2)
            .attrs(attrs)
            .build()
            .map_err(|e| SerError::new(e.to_string()))?;
        let seq = self.next_seq();
        let msg = NlmsghdrBuilder::default()
            .nl_type(u16::from(GenlId::Ctrl))
            .nl_flags(NlmF::REQUEST | NlmF::ACK)
            .nl_seq(seq)
            .nl_payload(NlPayload::Payload(genl))
            .build()
            .map_err(|e| SerError::new(e.to_string()))?;
        let (bufs, _) = match transact(&self.sock, seq, &msg) {
            Err(NlError::Kernel { errno, .. }) if errno == libc::ENOENT => {
                return Err(NlError::NoFamily(name.into()))
            }
            r => r?,
        };
        let mut fam = Family {
            name: name.into(),
            id: 0,
            groups: Vec::new(),
        };
        for b in bufs {
            let p: &[u8] = b.as_ref();
            let g = Genlmsghdr::<CtrlCmd, CtrlAttr>::from_bytes_with_input(
                &mut io::Cursor::new(p),
                p.len(),
            )?;
            let h = g.attrs().get_attr_handle();
            if let Ok(id) = h.get_attr_payload_as::<u16>(CtrlAttr::FamilyId) {
                fam.id = id;
            }
            if let Ok(groups) = h.get_nested_attributes::<u16>(CtrlAttr::McastGroups) {
                for grp in groups.iter() {
                    let Ok(gh) = grp.get_attr_handle::<CtrlAttrMcastGrp>() else {
                        continue;
                    };
                    let name = gh.get_attr_payload_as_with_len::<String>(CtrlAttrMcastGrp::Name);
                    let id = gh.get_attr_payload_as::<u32>(CtrlAttrMcastGrp::Id);
                    if let (Ok(n), Ok(i)) = (name, id) {
                        fam.groups.push((n, i));
                    }
                }
            }
        }
        if fam.id == 0 {
            return Err(NlError::NoFamily(name.into()));
        }
        Ok(fam)
    }

    /// Sends a request that expects only an acknowledgment (a SET).
    fn request(&mut self, msg: GenlMsg, flags: NlmF) -> Result<(), NlError> {
        let seq = self.next_seq();
        let full = attr::wrap(self.family.id, flags | NlmF::REQUEST | NlmF::ACK, seq, msg)?;
        transact(&self.sock, seq, &full)?;
        Ok(())
    }

    /// Reads a device, retrying while the dump is marked interrupted (the device changed
    /// between two of its messages).
    pub fn get_device(&mut self, ifname: &str) -> Result<Device, NlError> {
        if ifname.len() >= libc::IFNAMSIZ {
            return Err(NlError::NameTooLong(ifname.into()));
        }
        const TRIES: usize = 100;
        for _ in 0..TRIES {
            let seq = self.next_seq();
            let req = attr::wrap(
                self.family.id,
                NlmF::DUMP | NlmF::REQUEST | NlmF::ACK,
                seq,
                msg_get::get_request(ifname)?,
            )?;
            let (bufs, interrupted) = transact(&self.sock, seq, &req)?;
            if interrupted {
                continue;
            }
            // Parsed in place: a dump of 100 000 allowed IPs holds some 600 000 attributes.
            let mut asm = DumpAssembler::default();
            for b in &bufs {
                asm.add_bytes(b.as_ref())?;
            }
            return Ok(asm.finish());
        }
        Err(NlError::Interrupted(TRIES))
    }

    /// Applies an update, split over as many messages as needed, each acknowledged.
    pub fn set_device(&mut self, dev: &Device) -> Result<(), NlError> {
        for m in msg_set::build_set(dev, msg_set::default_limit())? {
            self.request(m, NlmF::empty())?;
        }
        Ok(())
    }

    /// The multicast group id of `group`.
    pub fn group(&self, group: &str) -> Result<u32, NlError> {
        self.family
            .groups
            .iter()
            .find(|(n, _)| n == group)
            .map(|&(_, id)| id)
            .ok_or_else(|| NlError::NoGroup {
                family: self.family.name.clone(),
                group: group.into(),
            })
    }

    /// Turns this connection into a multicast listener on `group`.
    pub fn subscribe(self, group: &str) -> Result<NlSocketHandle, NlError> {
        let id = self.group(group)?;
        self.sock.add_mcast_membership(Groups::new_groups(&[id]))?;
        Ok(self.sock)
    }
}

/// Names of all network interfaces with their link kind, in ifindex order.
pub fn list_links() -> Result<Vec<(String, Option<String>)>, NlError> {
    let sock = open_socket(NlFamily::Route)?;
    let ifi = IfinfomsgBuilder::default()
        .ifi_family(RtAddrFamily::Unspecified)
        .ifi_type(Arphrd::from(0))
        .build()
        .map_err(|e| SerError::new(e.to_string()))?;
    let seq = 1;
    let msg = NlmsghdrBuilder::default()
        .nl_type(u16::from(Rtm::Getlink))
        .nl_flags(NlmF::REQUEST | NlmF::ACK | NlmF::DUMP)
        .nl_seq(seq)
        .nl_payload(NlPayload::Payload(ifi))
        .build()
        .map_err(|e| SerError::new(e.to_string()))?;
    // Like wireguard-tools, a dump interrupted by links coming and going is used as is.
    let (bufs, _) = transact(&sock, seq, &msg)?;
    let mut out = Vec::new();
    for b in bufs {
        let p: &[u8] = b.as_ref();
        let Ok(info) = Ifinfomsg::from_bytes_with_input(&mut io::Cursor::new(p), p.len()) else {
            continue;
        };
        let h = info.rtattrs().get_attr_handle();
        let Ok(name) = h.get_attr_payload_as_with_len::<String>(Ifla::Ifname) else {
            continue;
        };
        let kind = h
            .get_nested_attributes::<IflaInfo>(Ifla::Linkinfo)
            .ok()
            .and_then(|li| {
                li.get_attr_payload_as_with_len::<String>(IflaInfo::Kind)
                    .ok()
            });
        out.push((name, kind));
    }
    Ok(out)
}

/// Names of the WireGuard interfaces of `family`.
///
/// For the standard family the link kind "wireguard" identifies them, without needing
/// the family at all (like wg, `show` on a machine without the module prints nothing).
/// A renamed family (a second driver loaded next to wireguard.ko) has its own link kind,
/// so each link is probed with a GET instead.
pub fn list_devices(family: &str) -> Result<Vec<String>, NlError> {
    let links = list_links()?;
    if family == crate::uapi::WG_GENL_NAME {
        return Ok(links
            .into_iter()
            .filter(|(_, k)| k.as_deref() == Some("wireguard"))
            .map(|(n, _)| n)
            .collect());
    }
    let mut genl = Genl::open(family)?;
    let mut out = Vec::new();
    for (name, _) in links {
        if genl
            .request(msg_get::get_request(&name)?, NlmF::DUMP)
            .is_ok()
        {
            out.push(name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An NLMSG_ERROR as the kernel sends it with NETLINK_EXT_ACK: errno, the whole
    /// request echoed, then NLMSGERR_ATTR_MSG.
    fn kernel_error(errno: i32, request: &[u8], msg: Option<&str>) -> Vec<u8> {
        let mut payload = (-errno).to_ne_bytes().to_vec();
        payload.extend_from_slice(request);
        if let Some(m) = msg {
            let mut text = m.as_bytes().to_vec();
            text.push(0);
            let len = 4 + text.len();
            payload.extend_from_slice(&(len as u16).to_ne_bytes());
            payload.extend_from_slice(&1u16.to_ne_bytes());
            payload.extend_from_slice(&text);
            payload.resize(crate::attr::align4(payload.len()), 0);
        }
        let mut v = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
        v.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
        v.extend_from_slice(&NlmF::ACK_TLVS.bits().to_ne_bytes());
        v.extend_from_slice(&5u32.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&payload);
        v
    }

    fn request() -> Vec<u8> {
        let m = crate::msg_get::get_request("wg0").unwrap();
        crate::attr::to_vec(
            &crate::attr::wrap(0x1d, NlmF::REQUEST | NlmF::ACK | NlmF::DUMP, 5, m).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn error_with_extack_text() {
        let bytes = kernel_error(libc::EINVAL, &request(), Some("Unknown attribute type"));
        let msgs = parse_buffer(&bytes).unwrap();
        assert_eq!(msgs.len(), 1);
        let e = classify(&msgs[0]).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL));
        assert_eq!(e.to_string(), "Invalid argument: Unknown attribute type");
        let bytes = kernel_error(libc::ENODEV, &request(), None);
        let e = classify(&parse_buffer(&bytes).unwrap()[0]).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV));
        assert!(matches!(e, NlError::Kernel { extack: None, .. }));
    }

    #[test]
    fn ack_done_and_dump_flags() {
        let ack = kernel_error(0, &request()[..16], None);
        assert!(matches!(
            classify(&parse_buffer(&ack).unwrap()[0]),
            Ok(Step::Done)
        ));
        // NLMSG_DONE of a dump: MULTI, 4-byte status; with DUMP_INTR on a data message.
        let mut buf = Vec::new();
        let data = crate::attr::to_vec(
            &crate::attr::wrap(
                0x1d,
                NlmF::MULTI | NlmF::DUMP_INTR,
                5,
                crate::msg_get::get_request("wg0").unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        buf.extend_from_slice(&data);
        let mut done = 20u32.to_ne_bytes().to_vec();
        done.extend_from_slice(&3u16.to_ne_bytes());
        done.extend_from_slice(&NlmF::MULTI.bits().to_ne_bytes());
        done.extend_from_slice(&5u32.to_ne_bytes());
        done.extend_from_slice(&0u32.to_ne_bytes());
        done.extend_from_slice(&0i32.to_ne_bytes());
        buf.extend_from_slice(&done);
        let msgs = parse_buffer(&buf).unwrap();
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].nl_flags().contains(NlmF::DUMP_INTR));
        assert!(matches!(classify(&msgs[0]), Ok(Step::Data(_))));
        assert!(matches!(classify(&msgs[1]), Ok(Step::Done)));
        // A dump that fails after starting: NLMSG_DONE with a negative errno.
        let n = done.len();
        done[n - 4..].copy_from_slice(&(-libc::EMSGSIZE).to_ne_bytes());
        let e = classify(&parse_buffer(&done).unwrap()[0]).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EMSGSIZE));
    }
}
