//! Table tests for the configuration parser.

use super::*;
use crate::key::Key;
use crate::resolve::NumericResolver;

const K1: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const K2: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
const K3: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

fn parse(text: &str) -> Result<Parsed, ConfigError> {
    parse_config(text.as_bytes(), "wg0.conf", false, &NumericResolver)
}

#[test]
fn full_config() {
    let text = format!(
        "# a comment\n[Interface]\nPrivateKey = {K1}\nListenPort = 51820\nFwMark = 0x10 # trailing\n\n\
         [Peer]\nPublicKey = {K2}\nPresharedKey = {K3}\nAllowedIPs = 10.0.0.0/8, fd00::/64\n\
         AllowedIPs = 192.168.1.1\nEndpoint = 1.2.3.4:5\nPersistentKeepalive = 25\n\
         [peer]\npublickey={K3}\nendpoint=[fd00::1]:51820\n"
    );
    let p = parse(&text).unwrap();
    let d = &p.device;
    assert!(d.replace_peers);
    assert_eq!(d.private_key, Key::from_base64(K1));
    assert_eq!(d.listen_port, Some(51820));
    assert_eq!(d.fwmark, Some(16));
    assert_eq!(d.peers.len(), 2);
    let p0 = &d.peers[0];
    assert_eq!(p0.public_key, Key::from_base64(K2).unwrap());
    assert_eq!(p0.preshared_key, Key::from_base64(K3));
    assert_eq!(p0.allowed_ips.len(), 3);
    assert!(p0.replace_allowed_ips);
    assert_eq!(p0.endpoint, Some("1.2.3.4:5".parse().unwrap()));
    assert_eq!(p0.persistent_keepalive, Some(25));
    let p1 = &d.peers[1];
    assert!(
        p1.replace_allowed_ips,
        "a [Peer] section replaces allowed IPs"
    );
    assert!(p1.allowed_ips.is_empty());
    assert_eq!(p1.endpoint, Some("[fd00::1]:51820".parse().unwrap()));
    assert_eq!(p1.persistent_keepalive, None);
}

#[test]
fn setconf_defaults_and_addconf() {
    let p = parse("").unwrap();
    assert_eq!(p.device.private_key, Some(Key::ZERO));
    assert_eq!(p.device.listen_port, Some(0));
    assert_eq!(p.device.fwmark, Some(0));
    assert!(p.device.replace_peers);
    let p = parse_config(b"[Interface]\nListenPort=1\n", "x", true, &NumericResolver).unwrap();
    assert_eq!(p.device.private_key, None);
    assert_eq!(p.device.fwmark, None);
    assert_eq!(p.device.listen_port, Some(1));
    assert!(!p.device.replace_peers);
}

#[test]
fn whitespace_anywhere_and_crlf() {
    let text = format!(
        "[ Inter face ]\r\nPrivate Key\t=\t{}\r\n",
        K1.replace('+', " + ")
    );
    let p = parse(&text).unwrap();
    assert_eq!(p.device.private_key, Key::from_base64(K1));
}

#[test]
fn nul_ends_a_line_like_a_c_string() {
    let p = parse_config(
        b"[Interface]\0garbage\nListenPort = 7\0x\n",
        "f",
        false,
        &NumericResolver,
    )
    .unwrap();
    assert_eq!(p.device.listen_port, Some(7));
}

#[test]
fn incremental_allowed_ips_in_file() {
    let text = format!("[Peer]\nPublicKey={K2}\nAllowedIPs=+10.0.0.1/32,-10.0.0.2/32\n");
    let p = parse(&text).unwrap();
    let peer = &p.device.peers[0];
    assert!(!peer.replace_allowed_ips);
    assert!(!peer.allowed_ips[0].remove);
    assert!(peer.allowed_ips[1].remove);
}

#[test]
fn error_table() {
    // (config, line, field, message fragment)
    let cases: &[(String, usize, Option<&str>, &str)] = &[
        (
            format!("[Interface]\nPrivateKey = {K1}\n\n\n\n[Peer]\nPublicKey = xyz\n"),
            7,
            Some("PublicKey"),
            "invalid key \"xyz\"",
        ),
        (
            "[Interface]\nListenPort = 70000\n".into(),
            2,
            Some("ListenPort"),
            "invalid port \"70000\"",
        ),
        (
            "[Interface]\nListenPort = http\n".into(),
            2,
            Some("ListenPort"),
            "invalid port",
        ),
        (
            "[Interface]\nFwMark = 0x1g\n".into(),
            2,
            Some("FwMark"),
            "fwmark is neither",
        ),
        (
            "[Interface]\nPrivateKey =\n".into(),
            2,
            Some("PrivateKey"),
            "empty value",
        ),
        (
            "[Interface]\nBogus = 1\n".into(),
            2,
            Some("Bogus"),
            "unknown key",
        ),
        ("ListenPort = 1\n".into(), 1, Some("ListenPort"), "outside"),
        (
            "[Interface]\nPublicKey = x\n".into(),
            2,
            Some("PublicKey"),
            "unknown key",
        ),
        (
            "[Peer]\nListenPort = 1\n".into(),
            2,
            Some("ListenPort"),
            "unknown key",
        ),
        (
            "[Interfac]\n".into(),
            1,
            None,
            "line unrecognized: \"[Interfac]\"",
        ),
        (
            "[Interface]\ngarbage\n".into(),
            2,
            None,
            "line unrecognized",
        ),
        (
            format!("[Peer]\nPublicKey={K2}\nAllowedIPs=10.0.0.1/33\n"),
            3,
            Some("AllowedIPs"),
            "invalid allowed IP \"10.0.0.1/33\"",
        ),
        (
            format!("[Peer]\nPublicKey={K2}\nAllowedIPs=\n"),
            3,
            Some("AllowedIPs"),
            "empty value",
        ),
        (
            format!("[Peer]\nPublicKey={K2}\nEndpoint=1.2.3.4\n"),
            3,
            Some("Endpoint"),
            "unable to find port",
        ),
        (
            format!("[Peer]\nPublicKey={K2}\nEndpoint=[::1:5\n"),
            3,
            Some("Endpoint"),
            "matching brace",
        ),
        (
            format!("[Peer]\nPublicKey={K2}\nEndpoint=nonexistent.invalid:5\n"),
            3,
            Some("Endpoint"),
            "Name or service not known",
        ),
        (
            format!("[Peer]\nPublicKey={K2}\nPersistentKeepalive=65536\n"),
            3,
            Some("PersistentKeepalive"),
            "neither 0/off",
        ),
        (
            format!("[Peer]\nPublicKey={K2}\nPresharedKey=AAAA\n"),
            3,
            Some("PresharedKey"),
            "invalid key",
        ),
        (
            format!("[Peer]\nPublicKey={K2}\n[Peer]\nEndpoint=1.2.3.4:1\n"),
            3,
            Some("[Peer]"),
            "missing a PublicKey",
        ),
        ("[Peer]\n".into(), 1, Some("[Peer]"), "missing a PublicKey"),
    ];
    for (text, line, field, frag) in cases {
        let e = parse(text).expect_err(text);
        assert_eq!(
            e.location,
            Location::File {
                path: "wg0.conf".into(),
                line: *line
            },
            "{text:?}: {e}"
        );
        assert_eq!(e.field.as_deref(), *field, "{text:?}: {e}");
        assert!(e.message.contains(frag), "{text:?}: {e}");
    }
}

#[test]
fn error_display_names_file_line_field() {
    let text = format!("[Interface]\nPrivateKey = {K1}\n\n\n\n[Peer]\nPublicKey = xyz\n");
    let e = parse_config(
        text.as_bytes(),
        "/etc/wireguard/wg0.conf",
        false,
        &NumericResolver,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/wireguard/wg0.conf:7: PublicKey: invalid key \"xyz\""
    );
}

#[test]
fn warnings_for_host_bits() {
    let p = parse(&format!("[Peer]\nPublicKey={K2}\nAllowedIPs=10.0.0.1/8\n")).unwrap();
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].starts_with("wg0.conf:3: AllowedIPs: warning:"));
}

#[test]
fn never_panics_on_odd_bytes() {
    for text in [
        &b"\xff\xfe[Interface]\n"[..],
        b"[Peer]\nPublicKey=\xff\n",
        b"[Interface]\x00\n",
        b"=\n",
        b"[Peer]\nAllowedIPs=/\n",
        b"[Peer]\nEndpoint=[\n",
        b"[Peer]\nEndpoint=]:\n",
        b"#\n#\n\n\n",
        b"[Interface]\nFwMark=0x\xff\n",
    ] {
        let _ = parse_config(text, "f", false, &NumericResolver);
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn no_files(_: &str) -> std::io::Result<Vec<u8>> {
    Ok(format!("{K1}\n").into_bytes())
}

#[test]
fn set_args() {
    let a = args(&[
        "listen-port",
        "51820",
        "fwmark",
        "off",
        "private-key",
        "/k",
        "peer",
        K2,
        "preshared-key",
        "/p",
        "endpoint",
        "1.2.3.4:5",
        "persistent-keepalive",
        "off",
        "allowed-ips",
        "10.0.0.1/32, fd00::/8",
        "peer",
        K3,
        "remove",
    ]);
    let p = parse_set_args(&a, &NumericResolver, &no_files).unwrap();
    let d = &p.device;
    assert!(!d.replace_peers);
    assert_eq!(d.listen_port, Some(51820));
    assert_eq!(d.fwmark, Some(0));
    assert_eq!(d.private_key, Key::from_base64(K1));
    assert_eq!(d.peers.len(), 2);
    assert_eq!(d.peers[0].persistent_keepalive, Some(0));
    assert_eq!(d.peers[0].allowed_ips.len(), 2);
    assert!(d.peers[0].replace_allowed_ips);
    assert!(!d.peers[0].remove);
    assert!(d.peers[1].remove);
    assert!(
        !d.peers[1].replace_allowed_ips,
        "set without allowed-ips keeps them"
    );

    let p = parse_set_args(
        &args(&["peer", K2, "allowed-ips", "+10.0.0.1/32,-10.0.0.2/32"]),
        &NumericResolver,
        &no_files,
    )
    .unwrap();
    assert!(!p.device.peers[0].replace_allowed_ips);
    assert!(p.device.peers[0].allowed_ips[1].remove);

    let p = parse_set_args(
        &args(&["peer", K2, "allowed-ips", ""]),
        &NumericResolver,
        &no_files,
    )
    .unwrap();
    assert!(p.device.peers[0].replace_allowed_ips);
    assert!(p.device.peers[0].allowed_ips.is_empty());
}

#[test]
fn set_args_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["peer", "xyz"], "set: peer: invalid key \"xyz\""),
        (&["listen-port"], "set: listen-port: invalid argument"),
        (
            &["endpoint", "1.2.3.4:5"],
            "set: endpoint: invalid argument",
        ),
        (
            &["peer", K2, "listen-port", "1"],
            "set: listen-port: invalid argument",
        ),
        (
            &["peer", K2, "allowed-ips", "1.2.3.4/40"],
            "set: allowed-ips: invalid allowed IP \"1.2.3.4/40\"",
        ),
        (&["bogus", "1"], "set: bogus: invalid argument"),
    ];
    for (a, want) in cases {
        let e = parse_set_args(&args(a), &NumericResolver, &no_files).unwrap_err();
        assert_eq!(e.to_string(), *want);
    }
    let bad = |_: &str| -> std::io::Result<Vec<u8>> { Ok(b"short".to_vec()) };
    let e = parse_set_args(&args(&["private-key", "/k"]), &NumericResolver, &bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "set: private-key: /k: invalid length key in key file"
    );
}

/// The line an error names is the one that makes the parse fail: every line before it is accepted, and feeding
/// that line is refused (or, for a peer without a key, the line is that peer's `[Peer]` header). Checked on
/// mutations of a valid file (bytes replaced, inserted, deleted; lines swapped or duplicated) so that every error
/// path of the parser is reached, not only the table above.
#[test]
fn every_error_names_its_file_and_line() {
    let base = format!(
        "# c\n[Interface]\nPrivateKey = {K1}\nListenPort = 51820\nFwMark = 0x2a\n\n[Peer]\nPublicKey = {K2}\n\
         PresharedKey = {K3}\nAllowedIPs = 10.0.0.0/8, fd00::/64, +1.2.3.4/32\nEndpoint = [fd00::1]:5\n\
         PersistentKeepalive = 25\n[Peer]\nPublicKey = {K3}\nEndpoint = 1.2.3.4:51820\nAllowedIPs = 10.1.0.1\n"
    );
    let alphabet = b"[]=#:/,.+-x0123456789abcdefABCDEF \t\r\n\0\xff";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut errors, mut kinds) = (0, std::collections::BTreeSet::new());
    for _ in 0..20_000 {
        let mut text = base.as_bytes().to_vec();
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % (text.len() + 1);
            let c = alphabet[(next() as usize) % alphabet.len()];
            match next() % 5 {
                0 if at < text.len() => text[at] = c,
                1 => text.insert(at, c),
                2 if at < text.len() => {
                    text.remove(at);
                }
                _ => {
                    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
                    let (i, j) = (
                        (next() as usize) % lines.len(),
                        (next() as usize) % lines.len(),
                    );
                    if next() % 2 == 0 {
                        lines.swap(i, j);
                    } else {
                        let l = lines[i];
                        lines.insert(j, l);
                    }
                    text = lines.join(&b'\n');
                }
            }
        }
        let append = next() % 2 == 0;
        let Err(e) = parse_config(&text, "/etc/wireguard/wg9.conf", append, &NumericResolver)
        else {
            continue;
        };
        errors += 1;
        let Location::File { path, line } = &e.location else {
            panic!("{text:?}: error without a file: {e}");
        };
        assert_eq!(path, "/etc/wireguard/wg9.conf");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("/etc/wireguard/wg9.conf:{line}: ")),
            "{shown}"
        );
        let body = text.strip_suffix(b"\n").unwrap_or(&text);
        let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
        assert!(
            (1..=lines.len()).contains(line),
            "{text:?}: line {line} of {}: {e}",
            lines.len()
        );
        let mut p = ConfigParser::new("f", append, &NumericResolver);
        for (n, l) in lines[..line - 1].iter().enumerate() {
            p.line(l)
                .unwrap_or_else(|e2| panic!("{text:?}: line {} refused ({e2}) before {e}", n + 1));
        }
        if e.message.contains("missing a PublicKey") {
            let header: Vec<u8> = lines[line - 1]
                .iter()
                .copied()
                .filter(|&c| !is_space(c))
                .collect();
            assert!(
                header.to_ascii_lowercase().starts_with(b"[peer]"),
                "{text:?}: {e}"
            );
        } else {
            assert!(
                p.line(lines[line - 1]).is_err(),
                "{text:?}: line {line} accepted alone: {e}"
            );
        }
        kinds.insert(e.field.clone().unwrap_or_default());
    }
    // The mutations reach errors of every kind of line, not one kind over and over.
    assert!(errors > 5_000, "only {errors} errors");
    for k in [
        "",
        "PrivateKey",
        "ListenPort",
        "FwMark",
        "PublicKey",
        "AllowedIPs",
        "Endpoint",
        "[Peer]",
    ] {
        assert!(kinds.contains(k), "no error for {k:?} among {kinds:?}");
    }
}
