//! Text forms shared by the outputs: addresses as glibc's inet_ntop / getnameinfo
//! print them, durations and byte counts as wg prints them, and terminal colors.

use std::ffi::CStr;
use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// An IPv6 address exactly as glibc's inet_ntop prints it (including the dotted forms
/// for IPv4-compatible and IPv4-mapped addresses).
pub fn ipv6(a: &Ipv6Addr) -> String {
    let mut s = String::new();
    push_ipv6(&mut s, a);
    s
}

/// Appends `n` in decimal (no formatting machinery: a dump of 100 000 allowed IPs prints
/// half a million numbers).
pub fn push_u32(s: &mut String, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        s.push(char::from(b));
    }
}

fn push_hex16(s: &mut String, x: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = (x >> shift) & 15;
        if d != 0 || started || shift == 0 {
            started = true;
            s.push(char::from(HEX[usize::from(d)]));
        }
    }
}

fn push_dotted(s: &mut String, o: [u8; 4]) {
    for (i, b) in o.into_iter().enumerate() {
        if i != 0 {
            s.push('.');
        }
        push_u32(s, b.into());
    }
}

/// Appends `a` as [`ip`] prints it.
pub fn push_ip(s: &mut String, a: &IpAddr) {
    match a {
        IpAddr::V4(v4) => push_dotted(s, v4.octets()),
        IpAddr::V6(v6) => push_ipv6(s, v6),
    }
}

/// Appends `a` as [`ipv6`] prints it.
pub fn push_ipv6(s: &mut String, a: &Ipv6Addr) {
    let w = a.segments();
    let (mut best, mut cur): ((isize, usize), (isize, usize)) = ((-1, 0), (-1, 0));
    for (i, &x) in w.iter().enumerate() {
        if x == 0 {
            if cur.0 == -1 {
                cur = (i as isize, 1);
            } else {
                cur.1 += 1;
            }
        } else if cur.0 != -1 {
            if best.0 == -1 || cur.1 > best.1 {
                best = cur;
            }
            cur = (-1, 0);
        }
    }
    if cur.0 != -1 && (best.0 == -1 || cur.1 > best.1) {
        best = cur;
    }
    if best.0 != -1 && best.1 < 2 {
        best = (-1, 0);
    }
    let in_best =
        |i: usize| best.0 != -1 && i as isize >= best.0 && (i as isize) < best.0 + best.1 as isize;
    for i in 0..8 {
        if in_best(i) {
            if i as isize == best.0 {
                s.push(':');
            }
            continue;
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6 && best.0 == 0 && (best.1 == 6 || (best.1 == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            push_dotted(s, [o[12], o[13], o[14], o[15]]);
            return;
        }
        push_hex16(s, w[i]);
    }
    if best.0 != -1 && best.0 + best.1 as isize == 8 {
        s.push(':');
    }
}

pub fn ip(a: &IpAddr) -> String {
    let mut s = String::new();
    push_ip(&mut s, a);
    s
}

fn ifname(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has IF_NAMESIZE bytes as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    Some(
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// An endpoint as wg prints it (getnameinfo with NI_NUMERICHOST | NI_NUMERICSERV).
pub fn endpoint(e: &SocketAddr) -> String {
    match e {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => {
            let mut host = ipv6(a.ip());
            if a.scope_id() != 0 {
                let seg0 = a.ip().segments()[0];
                let link_local = (seg0 & 0xffc0) == 0xfe80 || (seg0 & 0xff0f) == 0xff02;
                let scope = if link_local {
                    ifname(a.scope_id())
                } else {
                    None
                };
                host = format!(
                    "{host}%{}",
                    scope.unwrap_or_else(|| a.scope_id().to_string())
                );
            }
            format!("[{host}]:{}", a.port())
        }
    }
}

pub const RESET: &str = "\x1b[0m";
pub const BOLD: &str = "\x1b[1m";
pub const RED: &str = "\x1b[31m";
pub const GREEN: &str = "\x1b[32m";
pub const YELLOW: &str = "\x1b[33m";
pub const CYAN: &str = "\x1b[36m";

/// Whether to keep colors: WG_COLOR_MODE=always|never, else only when stdout is a tty.
pub fn color_mode() -> bool {
    match std::env::var("WG_COLOR_MODE").as_deref() {
        Ok("always") => true,
        Ok("never") => false,
        // SAFETY: isatty only inspects the descriptor.
        _ => unsafe { libc::isatty(libc::STDOUT_FILENO) == 1 },
    }
}

/// Removes ANSI escape sequences (ESC '[' ... up to a letter), as wg's filter does.
pub fn strip_ansi(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b && b.get(i + 1) == Some(&b'[') {
            i += 2;
            while i < b.len() && !b[i].is_ascii_alphabetic() {
                i += 1;
            }
            i += 1;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// "1 year, 2 days, 3 seconds" with colored units, as wg's pretty_time.
pub fn pretty_time(mut left: u64) -> String {
    let years = left / (365 * 24 * 3600);
    left %= 365 * 24 * 3600;
    let days = left / (24 * 3600);
    left %= 24 * 3600;
    let hours = left / 3600;
    left %= 3600;
    let minutes = left / 60;
    let seconds = left % 60;
    let mut s = String::new();
    for (n, unit) in [
        (years, "year"),
        (days, "day"),
        (hours, "hour"),
        (minutes, "minute"),
        (seconds, "second"),
    ] {
        if n != 0 {
            if !s.is_empty() {
                s.push_str(", ");
            }
            let _ = write!(
                s,
                "{n} {CYAN}{unit}{}{RESET}",
                if n == 1 { "" } else { "s" }
            );
        }
    }
    s
}

/// Time since a handshake, relative to `now` (seconds since the epoch).
pub fn ago(sec: i64, now: i64) -> String {
    if now == sec {
        "Now".to_string()
    } else if now < sec {
        format!("({RED}System clock wound backward; connection problems may ensue.{RESET})")
    } else {
        format!("{} ago", pretty_time((now - sec) as u64))
    }
}

pub fn every(seconds: u16) -> String {
    format!("every {}", pretty_time(seconds.into()))
}

/// A byte count with binary units, as wg prints transfer totals.
pub fn bytes(b: u64) -> String {
    const K: u64 = 1024;
    if b < K {
        format!("{b} {CYAN}B{RESET}")
    } else if b < K * K {
        format!("{:.2} {CYAN}KiB{RESET}", b as f64 / 1024.0)
    } else if b < K * K * K {
        format!("{:.2} {CYAN}MiB{RESET}", b as f64 / (1024.0 * 1024.0))
    } else if b < K * K * K * K {
        format!(
            "{:.2} {CYAN}GiB{RESET}",
            b as f64 / (1024.0 * 1024.0 * 1024.0)
        )
    } else {
        format!(
            "{:.2} {CYAN}TiB{RESET}",
            b as f64 / (1024.0 * 1024.0 * 1024.0) / 1024.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_like_glibc() {
        for (s, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("fd00::1", "fd00::1"),
            ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
            ("1:0:0:0:1:0:0:1", "1::1:0:0:1"),
            ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::0.0.0.2", "::2"),
            ("::ffff:0:1.2.3.4", "::ffff:0:102:304"),
            ("0:0:0:0:0:0:1:1", "::0.1.0.1"),
            ("2001:db8::", "2001:db8::"),
            ("fe80::1:2", "fe80::1:2"),
            ("0:0:0:0:0:1:0:0", "::1:0:0"),
        ] {
            assert_eq!(ipv6(&s.parse().unwrap()), want, "{s}");
        }
    }

    extern "C" {
        #[link_name = "inet_ntop"]
        fn c_inet_ntop(
            af: libc::c_int,
            src: *const libc::c_void,
            dst: *mut libc::c_char,
            size: libc::socklen_t,
        ) -> *const libc::c_char;
    }

    /// glibc's own text form of `a`.
    fn inet_ntop(a: &IpAddr) -> String {
        let mut buf = [0 as libc::c_char; 64];
        let (af, src) = match a {
            IpAddr::V4(v4) => (libc::AF_INET, v4.octets().to_vec()),
            IpAddr::V6(v6) => (libc::AF_INET6, v6.octets().to_vec()),
        };
        // SAFETY: `src` holds an address of family `af`, `buf` has room for any text form.
        let p = unsafe { c_inet_ntop(af, src.as_ptr().cast(), buf.as_mut_ptr(), buf.len() as u32) };
        assert!(!p.is_null());
        // SAFETY: inet_ntop wrote a NUL-terminated string into `buf`.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn ip_text_equals_inet_ntop() {
        // Random addresses plus zero runs of every length and place (the `::` and dotted cases).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut n = 0;
        for round in 0..20_000u32 {
            let r = next();
            let v4 = IpAddr::from((r as u32).to_be_bytes());
            let mut w = [0u16; 8];
            for (i, s) in w.iter_mut().enumerate() {
                let v = (next() >> 16) as u16;
                // Mostly zeros and small values, so that runs and short groups are common.
                *s = match (r >> (i * 3)) & 7 {
                    0..=3 => 0,
                    4 => v & 0xf,
                    5 => 0xffff,
                    _ => v,
                };
            }
            let v6 = IpAddr::from(w);
            for a in [v4, v6] {
                let mut s = String::from("x");
                push_ip(&mut s, &a);
                assert_eq!(&s[1..], inet_ntop(&a), "round {round}: {a:?}");
                assert_eq!(ip(&a), inet_ntop(&a));
                n += 1;
            }
        }
        assert_eq!(n, 40_000);
        for v in [0, 1, 9, 10, 99, 100, 255, 65535, u32::MAX] {
            let mut s = String::new();
            push_u32(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint(&"1.2.3.4:51820".parse().unwrap()), "1.2.3.4:51820");
        assert_eq!(endpoint(&"[fd00::1]:1".parse().unwrap()), "[fd00::1]:1");
        let scoped = std::net::SocketAddrV6::new("fd00::1".parse().unwrap(), 5, 0, 77);
        assert_eq!(endpoint(&scoped.into()), "[fd00::1%77]:5");
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(strip_ansi(&pretty_time(0)), "");
        assert_eq!(strip_ansi(&pretty_time(1)), "1 second");
        assert_eq!(strip_ansi(&pretty_time(3661)), "1 hour, 1 minute, 1 second");
        assert_eq!(
            strip_ansi(&pretty_time(365 * 86400 * 2 + 86400)),
            "2 years, 1 day"
        );
        assert_eq!(strip_ansi(&ago(100, 100)), "Now");
        assert_eq!(strip_ansi(&ago(100, 162)), "1 minute, 2 seconds ago");
        assert_eq!(
            strip_ansi(&ago(100, 99)),
            "(System clock wound backward; connection problems may ensue.)"
        );
        assert_eq!(strip_ansi(&every(25)), "every 25 seconds");
        assert_eq!(strip_ansi(&bytes(0)), "0 B");
        assert_eq!(strip_ansi(&bytes(1023)), "1023 B");
        assert_eq!(strip_ansi(&bytes(1152)), "1.12 KiB");
        assert_eq!(strip_ansi(&bytes(1572864)), "1.50 MiB");
        assert_eq!(strip_ansi(&bytes(5 << 30)), "5.00 GiB");
        assert_eq!(strip_ansi(&bytes(3 << 40)), "3.00 TiB");
        assert_eq!(bytes(1), "1 \x1b[36mB\x1b[0m");
    }
}
