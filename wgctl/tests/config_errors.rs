//! `wgctl setconf|addconf|syncconf` with a bad configuration file: stderr names the file and line (and the field),
//! the exit status is 1, and no netlink request is made (the file is parsed before the kernel is asked, so these
//! run without any WireGuard device or privilege).

use std::path::PathBuf;
use std::process::Command;

const K1: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const K2: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";

fn tmpfile(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgctl-config-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs wgctl; returns (exit status, stderr).
fn wgctl(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wgctl"))
        // A family that cannot exist: if wgctl reached netlink, the error would say so instead.
        .args(["--family", "wgctltestnone"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_config_command_names_file_line_and_field() {
    // (file contents, expected start of stderr after "wgctl: <path>:")
    let cases: &[(String, &str)] = &[
        (
            format!("[Interface]\nPrivateKey = {K1}\n# comment\n\n[Peer]\nPublicKey = {K2}\nEndpoint = 1.2.3.4\n"),
            "7: Endpoint: unable to find port of endpoint \"1.2.3.4\"",
        ),
        ("[Interface]\r\nListenPort = 99999\r\n".into(), "2: ListenPort: invalid port \"99999\""),
        ("\n\n[Interface]\nFwMark = x\n".into(), "4: FwMark: fwmark is neither 0/off nor 0-0xffffffff: \"x\""),
        (format!("[Peer]\nPublicKey = {K2}\nAllowedIPs = 10.0.0.0/8, 300.0.0.1/32\n"), "3: AllowedIPs: invalid allowed IP \"300.0.0.1/32\""),
        (format!("[Peer]\nPublicKey = {K2}\nPersistentKeepalive = -1\n"), "3: PersistentKeepalive: "),
        ("[Interface]\n\n[Peer]\nAllowedIPs = 10.0.0.1/32\n".into(), "3: [Peer]: peer is missing a PublicKey"),
        ("[Interface]\nListenPort = 1\nbogus\n".into(), "3: line unrecognized: \"bogus\""),
        ("[Peer]\nPrivateKey = abc\n".into(), "2: PrivateKey: unknown key or empty value in [Peer] section"),
        ("ListenPort = 5\n".into(), "1: ListenPort: key outside of an [Interface] or [Peer] section"),
        (format!("[Peer]\nPublicKey = {K2}\nPresharedKey = short\n"), "3: PresharedKey: invalid key \"short\""),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = tmpfile(&format!("bad{i}.conf"), text);
        let path = path.to_str().unwrap();
        for cmd in ["setconf", "addconf", "syncconf"] {
            let (code, err) = wgctl(&[cmd, "wg0", path]);
            assert_eq!(code, 1, "{cmd} {text:?}: {err}");
            let first = err.lines().next().unwrap_or("");
            // A prefix: the resolver may append its own reason (getaddrinfo's text).
            assert!(
                first.starts_with(&format!("wgctl: {path}:{want}")),
                "{cmd} {text:?}: {err}"
            );
        }
    }
}

#[test]
fn unreadable_file_is_named() {
    let (code, err) = wgctl(&["setconf", "wg0", "/nonexistent/wg0.conf"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("wgctl: /nonexistent/wg0.conf: "), "{err}");
    let dir = std::env::temp_dir();
    let (code, err) = wgctl(&["addconf", "wg0", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!("wgctl: {}: ", dir.display())),
        "{err}"
    );
}

#[test]
fn warnings_name_file_and_line_too() {
    // A warning does not stop the command; it then fails at netlink (nonexistent family), after the warning.
    let path = tmpfile(
        "warn.conf",
        &format!("[Peer]\nPublicKey = {K2}\n\nAllowedIPs = 10.0.0.1/8\n"),
    );
    let path = path.to_str().unwrap();
    let (code, err) = wgctl(&["setconf", "wg0", path]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.lines()
            .next()
            .unwrap_or("")
            .starts_with(&format!("wgctl: {path}:4: AllowedIPs: warning:")),
        "{err}"
    );
}
