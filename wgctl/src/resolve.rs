//! Name resolution for `Endpoint` and `ListenPort`, behind a trait so that parsing can
//! be tested and fuzzed without DNS.

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

/// Turns host and service strings into addresses.
pub trait Resolver {
    /// Resolves `host` and `service` (a UDP port or service name) to one address.
    fn endpoint(&self, host: &str, service: &str) -> Result<SocketAddr, String>;
    /// Resolves a UDP port number or service name.
    fn port(&self, service: &str) -> Result<u16, String>;
}

/// Accepts numeric addresses and ports only; never blocks.
pub struct NumericResolver;

fn numeric_port(service: &str) -> Option<u16> {
    if service.is_empty() || !service.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    service.parse().ok()
}

impl Resolver for NumericResolver {
    fn endpoint(&self, host: &str, service: &str) -> Result<SocketAddr, String> {
        let port = numeric_port(service).ok_or_else(|| "Servname not supported".to_string())?;
        match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => Ok(SocketAddr::V4(SocketAddrV4::new(a, port))),
            Ok(IpAddr::V6(a)) => Ok(SocketAddr::V6(SocketAddrV6::new(a, port, 0, 0))),
            Err(_) => Err("Name or service not known".to_string()),
        }
    }

    fn port(&self, service: &str) -> Result<u16, String> {
        numeric_port(service).ok_or_else(|| "Servname not supported".to_string())
    }
}

/// Resolves through getaddrinfo(3), retrying transient failures like wireguard-tools
/// (environment variable WG_ENDPOINT_RESOLUTION_RETRIES: a count or "infinity").
pub struct SystemResolver;

/// getaddrinfo result: the first IPv4 or IPv6 address, or the error text.
fn getaddrinfo(
    host: Option<&str>,
    service: &str,
    passive: bool,
) -> Result<SocketAddr, (i32, String)> {
    let chost = match host {
        Some(h) => Some(
            CString::new(h)
                .map_err(|_| (libc::EAI_NONAME, "Name or service not known".to_string()))?,
        ),
        None => None,
    };
    let cserv = CString::new(service)
        .map_err(|_| (libc::EAI_SERVICE, "Servname not supported".to_string()))?;
    // SAFETY: an all-zero addrinfo is a valid hints value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_DGRAM;
    hints.ai_protocol = libc::IPPROTO_UDP;
    if passive {
        hints.ai_flags = libc::AI_PASSIVE;
    }
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the strings are NUL-terminated and outlive the call; `res` is an out pointer.
    let ret = unsafe {
        libc::getaddrinfo(
            chost.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            cserv.as_ptr(),
            &hints,
            &mut res,
        )
    };
    if ret != 0 {
        let msg = if ret == libc::EAI_SYSTEM {
            std::io::Error::last_os_error().to_string()
        } else {
            // SAFETY: gai_strerror returns a static NUL-terminated string.
            unsafe { CStr::from_ptr(libc::gai_strerror(ret)) }
                .to_string_lossy()
                .into_owned()
        };
        return Err((ret, msg));
    }
    let mut out = Err((0, "Neither IPv4 nor IPv6 address found".to_string()));
    // SAFETY: getaddrinfo succeeded, so `res` is a valid list head; each ai_addr points to
    // ai_addrlen bytes of the given family.
    unsafe {
        let ai = &*res;
        if ai.ai_family == libc::AF_INET
            && ai.ai_addrlen as usize == std::mem::size_of::<libc::sockaddr_in>()
        {
            let sin = &*(ai.ai_addr as *const libc::sockaddr_in);
            out = Ok(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )));
        } else if ai.ai_family == libc::AF_INET6
            && ai.ai_addrlen as usize == std::mem::size_of::<libc::sockaddr_in6>()
        {
            let sin6 = &*(ai.ai_addr as *const libc::sockaddr_in6);
            out = Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )));
        }
        libc::freeaddrinfo(res);
    }
    out
}

fn retries() -> Result<Option<u64>, String> {
    match std::env::var("WG_ENDPOINT_RESOLUTION_RETRIES") {
        Err(_) => Ok(Some(15)),
        Ok(v) if v == "infinity" => Ok(None),
        Ok(v) => v
            .parse::<u32>()
            .map(|n| Some(n.into()))
            .map_err(|_| format!("unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: `{v}'")),
    }
}

impl Resolver for SystemResolver {
    fn endpoint(&self, host: &str, service: &str) -> Result<SocketAddr, String> {
        // A literal address and port, the common case (and every endpoint of a large generated config): what
        // getaddrinfo would return, without its per-call cost (~10 us, a tenth of a second per 10 000 peers).
        // Anything else (names, scope ids, inet_aton forms like "10.1") goes to getaddrinfo.
        if let Ok(a) = NumericResolver.endpoint(host, service) {
            return Ok(a);
        }
        let mut left = retries()?;
        let mut timeout = Duration::from_secs(1);
        loop {
            match getaddrinfo(Some(host), service, false) {
                Ok(a) => return Ok(a),
                Err((code, msg)) => {
                    // EAI_NONAME, EAI_FAIL and EAI_NODATA are permanent; others may pass.
                    let permanent = code == 0
                        || code == libc::EAI_NONAME
                        || code == libc::EAI_FAIL
                        || code == libc::EAI_NODATA
                        || code == libc::EAI_SERVICE;
                    let exhausted = matches!(left, Some(0));
                    if permanent || exhausted {
                        return Err(msg);
                    }
                    if let Some(n) = left.as_mut() {
                        *n -= 1;
                    }
                    eprintln!(
                        "{msg}: `{host}:{service}'. Trying again in {:.2} seconds...",
                        timeout.as_secs_f64()
                    );
                    std::thread::sleep(timeout);
                    timeout = (timeout * 6 / 5).min(Duration::from_secs(20));
                }
            }
        }
    }

    fn port(&self, service: &str) -> Result<u16, String> {
        if let Some(p) = numeric_port(service) {
            return Ok(p);
        }
        if !service.is_empty() && service.bytes().all(|b| b.is_ascii_digit()) {
            return Err("Servname not supported for ai_socktype".to_string());
        }
        getaddrinfo(None, service, true)
            .map(|a| a.port())
            .map_err(|(_, m)| m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal fast path answers exactly what getaddrinfo answers, and leaves everything else to it.
    #[test]
    fn literal_endpoints_match_getaddrinfo() {
        for (host, port) in [
            ("192.168.1.2", "51820"),
            ("0.0.0.0", "0"),
            ("fd00::1", "1"),
            ("::ffff:1.2.3.4", "65535"),
            ("2001:db8::a:b:c", "7"),
        ] {
            let fast = SystemResolver.endpoint(host, port).unwrap();
            let slow = getaddrinfo(Some(host), port, false).unwrap();
            assert_eq!(fast, slow, "{host} {port}");
        }
        // Not literals in Rust's grammar: getaddrinfo decides (inet_aton accepts "10.1"; a scope id is kept).
        assert_eq!(
            SystemResolver.endpoint("10.1", "5").unwrap(),
            "10.0.0.1:5".parse().unwrap()
        );
        match SystemResolver.endpoint("fe80::1%lo", "5").unwrap() {
            SocketAddr::V6(a) => assert_eq!(a.scope_id(), 1, "lo's index"),
            a => panic!("{a}"),
        }
    }
}
