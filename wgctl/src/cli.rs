//! Command line: global options, the subcommand table, and each subcommand's driver.

use std::io::{Read, Write};

use crate::config::{self, ConfigError};
use crate::key::{is_space, Key, KEY_BASE64_LEN};
use crate::model::Device;
use crate::netlink::{self, Genl, NlError};
use crate::resolve::SystemResolver;
use crate::{json, monitor, show, syncconf, textfmt, uapi};

/// Global options.
#[derive(Debug, Clone)]
pub struct Options {
    pub family: String,
    pub json: bool,
}

/// Errors that end a subcommand with exit status 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{context}: {source}")]
    Netlink { context: String, source: NlError },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

fn nl(context: impl Into<String>) -> impl FnOnce(NlError) -> CliError {
    let context = context.into();
    move |source| CliError::Netlink { context, source }
}

const SUBCOMMANDS: &[(&str, &str)] = &[
    (
        "show",
        "Shows the current configuration and device information",
    ),
    (
        "showconf",
        "Shows the current configuration of a given WireGuard interface, for use with `setconf'",
    ),
    (
        "set",
        "Change the current configuration, add peers, remove peers, or change peers",
    ),
    (
        "setconf",
        "Applies a configuration file to a WireGuard interface",
    ),
    (
        "addconf",
        "Appends a configuration file to a WireGuard interface",
    ),
    (
        "syncconf",
        "Synchronizes a configuration file to a WireGuard interface",
    ),
    (
        "genkey",
        "Generates a new private key and writes it to stdout",
    ),
    (
        "genpsk",
        "Generates a new preshared key and writes it to stdout",
    ),
    (
        "pubkey",
        "Reads a private key from stdin and writes a public key to stdout",
    ),
    (
        "monitor",
        "Prints peer events (added, removed, handshake, endpoint, keypair-expired)",
    ),
];

pub fn usage() -> String {
    let mut s = String::from(
        "Usage: wgctl [--family NAME] [--json] <cmd> [<args>]\n\nAvailable subcommands:\n",
    );
    for (c, d) in SUBCOMMANDS {
        s.push_str(&format!("  {c}: {d}\n"));
    }
    s.push_str("You may pass `--help' to any of these subcommands to view usage.\n");
    s
}

const SHOW_USAGE: &str = "Usage: wgctl show { <interface> | all | interfaces } [public-key | private-key | listen-port | fwmark | peers | preshared-keys | endpoints | allowed-ips | latest-handshakes | transfer | persistent-keepalive | dump]";
const SET_USAGE: &str = "Usage: wgctl set <interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] [peer <base64 public key> [remove] [preshared-key <file path>] [endpoint <ip>:<port>] [persistent-keepalive <interval seconds>] [allowed-ips [+|-]<ip1>/<cidr1>[,[+|-]<ip2>/<cidr2>]...] ]...";

/// Splits global options (anywhere before or after the subcommand) from the rest.
pub fn parse_global(args: &[String]) -> Result<(Options, Vec<String>), CliError> {
    let mut o = Options {
        family: std::env::var("WGCTL_FAMILY").unwrap_or_else(|_| uapi::WG_GENL_NAME.to_string()),
        json: false,
    };
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--json" {
            o.json = true;
        } else if a == "--family" {
            o.family = args
                .get(i + 1)
                .cloned()
                .ok_or_else(|| CliError::Usage("--family needs a name".into()))?;
            i += 1;
        } else if let Some(f) = a.strip_prefix("--family=") {
            o.family = f.to_string();
        } else {
            rest.push(a.clone());
        }
        i += 1;
    }
    if o.family.is_empty() || o.family.len() >= 16 {
        return Err(CliError::Usage(format!(
            "invalid family name {:?}",
            o.family
        )));
    }
    Ok((o, rest))
}

fn is_help(a: &str) -> bool {
    a == "-h" || a == "--help" || a == "help"
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn print(s: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn print_pretty(s: &str) -> Result<(), CliError> {
    if textfmt::color_mode() {
        print(s)
    } else {
        print(&textfmt::strip_ansi(s))
    }
}

/// Runs a command line (without the program name); returns the exit status.
pub fn run(args: &[String]) -> Result<i32, CliError> {
    let (opts, rest) = parse_global(args)?;
    let Some(cmd) = rest.first() else {
        return show(&opts, &[]);
    };
    let sub = &rest[1..];
    match cmd.as_str() {
        "-v" | "--version" | "version" => {
            print(concat!("wgctl v", env!("CARGO_PKG_VERSION"), "\n"))?;
            Ok(0)
        }
        c if is_help(c) => {
            print(&usage())?;
            Ok(0)
        }
        "show" => show(&opts, sub),
        "showconf" => showconf(&opts, sub),
        "set" => set(&opts, sub),
        "setconf" | "addconf" | "syncconf" => setconf(&opts, cmd, sub),
        "genkey" | "genpsk" => genkey(cmd, sub),
        "pubkey" => pubkey(sub),
        "monitor" => {
            if sub.len() > 1 || sub.first().is_some_and(|a| is_help(a)) {
                return Err(CliError::Usage("Usage: wgctl monitor [<interface>]".into()));
            }
            let genl = Genl::open(&opts.family).map_err(nl("Unable to open netlink"))?;
            monitor::run(genl, sub.first().map(String::as_str), opts.json)
                .map_err(nl("monitor"))?;
            Ok(0)
        }
        other => {
            eprint!("Invalid subcommand: `{other}'\n{}", usage());
            Ok(1)
        }
    }
}

fn show(opts: &Options, sub: &[String]) -> Result<i32, CliError> {
    if sub.len() > 2 {
        return Err(CliError::Usage(SHOW_USAGE.into()));
    }
    if sub.len() == 1 && is_help(&sub[0]) {
        eprintln!("{SHOW_USAGE}");
        return Ok(0);
    }
    if let Some(f) = sub.get(1) {
        if !show::FIELDS.contains(&f.as_str()) {
            return Err(CliError::Usage(format!(
                "Invalid parameter: `{f}'\n{SHOW_USAGE}"
            )));
        }
    }
    let target = sub.first().map_or("all", String::as_str);
    let show_keys = std::env::var("WG_HIDE_KEYS").as_deref() == Ok("never");
    if target == "interfaces" {
        if sub.len() > 1 {
            return Err(CliError::Usage(SHOW_USAGE.into()));
        }
        let names = netlink::list_devices(&opts.family).map_err(nl("Unable to list interfaces"))?;
        if opts.json {
            let v: Vec<String> = names.iter().map(|n| json::string(n)).collect();
            print(&format!("[{}]\n", v.join(",")))?;
        } else if !names.is_empty() {
            print(&format!("{}\n", names.join(" ")))?;
        }
        return Ok(0);
    }
    if target == "all" {
        let names = netlink::list_devices(&opts.family).map_err(nl("Unable to list interfaces"))?;
        let mut genl = match names.is_empty() {
            true => None,
            false => Some(Genl::open(&opts.family).map_err(nl("Unable to access interface"))?),
        };
        let mut json_out = Vec::new();
        let mut status = 0;
        for (i, name) in names.iter().enumerate() {
            let Some(genl) = genl.as_mut() else { break };
            let dev = match genl.get_device(name) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("Unable to access interface {name}: {e}");
                    status = 1;
                    continue;
                }
            };
            if opts.json {
                json_out.push(json::device(&dev));
            } else if let Some(f) = sub.get(1) {
                print(&show::field(&dev, f, true).unwrap_or_default())?;
            } else {
                let mut s = show::pretty(&dev, now(), show_keys);
                if i + 1 < names.len() {
                    s.push('\n');
                }
                print_pretty(&s)?;
            }
        }
        if opts.json {
            print(&format!("[{}]\n", json_out.join(",")))?;
        }
        return Ok(status);
    }
    let mut genl = Genl::open(&opts.family).map_err(nl("Unable to access interface"))?;
    let dev = genl
        .get_device(target)
        .map_err(nl(format!("Unable to access interface {target}")))?;
    if opts.json {
        print(&format!("{}\n", json::device(&dev)))?;
    } else if let Some(f) = sub.get(1) {
        print(&show::field(&dev, f, false).unwrap_or_default())?;
    } else {
        print_pretty(&show::pretty(&dev, now(), show_keys))?;
    }
    Ok(0)
}

fn showconf(opts: &Options, sub: &[String]) -> Result<i32, CliError> {
    if sub.len() != 1 || is_help(&sub[0]) {
        return Err(CliError::Usage("Usage: wgctl showconf <interface>".into()));
    }
    let mut genl = Genl::open(&opts.family).map_err(nl("Unable to access interface"))?;
    let dev = genl
        .get_device(&sub[0])
        .map_err(nl(format!("Unable to access interface {}", sub[0])))?;
    print(&show::showconf(&dev))?;
    Ok(0)
}

fn apply(opts: &Options, dev: &Device) -> Result<(), CliError> {
    let mut genl = Genl::open(&opts.family).map_err(nl("Unable to modify interface"))?;
    genl.set_device(dev)
        .map_err(nl(format!("Unable to modify interface {}", dev.name)))
}

fn set(opts: &Options, sub: &[String]) -> Result<i32, CliError> {
    if sub.len() < 2 || is_help(&sub[0]) {
        return Err(CliError::Usage(SET_USAGE.into()));
    }
    let read = |p: &str| std::fs::read(p);
    let parsed = config::parse_set_args(&sub[1..], &SystemResolver, &read)?;
    for w in &parsed.warnings {
        eprintln!("wgctl: {w}");
    }
    let mut dev = parsed.device;
    dev.name = sub[0].clone();
    apply(opts, &dev)?;
    Ok(0)
}

fn setconf(opts: &Options, cmd: &str, sub: &[String]) -> Result<i32, CliError> {
    if sub.len() != 2 {
        return Err(CliError::Usage(format!(
            "Usage: wgctl {cmd} <interface> <configuration filename>"
        )));
    }
    let path = &sub[1];
    let text = std::fs::read(path).map_err(|e| CliError::Other(format!("{path}: {e}")))?;
    let parsed = config::parse_config(&text, path, cmd == "addconf", &SystemResolver)?;
    for w in &parsed.warnings {
        eprintln!("wgctl: {w}");
    }
    let mut dev = parsed.device;
    dev.name = sub[0].clone();
    if cmd == "syncconf" && !dev.peers.is_empty() {
        let mut genl = Genl::open(&opts.family)
            .map_err(nl("Unable to retrieve current interface configuration"))?;
        let runtime = genl
            .get_device(&dev.name)
            .map_err(nl("Unable to retrieve current interface configuration"))?;
        syncconf::sync(&mut dev, &runtime);
    }
    apply(opts, &dev)?;
    Ok(0)
}

fn genkey(cmd: &str, sub: &[String]) -> Result<i32, CliError> {
    if !sub.is_empty() {
        return Err(CliError::Usage(format!("Usage: wgctl {cmd}")));
    }
    // SAFETY: fstat writes into the zeroed struct we own.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(libc::STDOUT_FILENO, &mut st) == 0
            && (st.st_mode & libc::S_IFMT) == libc::S_IFREG
            && st.st_mode & libc::S_IRWXO != 0
        {
            eprint!("Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n");
        }
    }
    let mut k = Key::random().map_err(|e| CliError::Other(format!("getrandom: {e}")))?;
    if cmd == "genkey" {
        k = k.clamp();
    }
    print(&format!("{k}\n"))?;
    Ok(0)
}

fn pubkey(sub: &[String]) -> Result<i32, CliError> {
    if !sub.is_empty() {
        return Err(CliError::Usage("Usage: wgctl pubkey".into()));
    }
    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input)?;
    let bad = || CliError::Other("Key is not the correct length or format".into());
    if input.len() < KEY_BASE64_LEN {
        return Err(bad());
    }
    let (text, rest) = input.split_at(KEY_BASE64_LEN);
    if rest.iter().any(|&c| c != 0 && !is_space(c)) {
        return Err(CliError::Other(
            "Trailing characters found after key".into(),
        ));
    }
    let k = std::str::from_utf8(text)
        .ok()
        .and_then(Key::from_base64)
        .ok_or_else(bad)?;
    print(&format!("{}\n", k.public()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn global_options() {
        let (o, r) = parse_global(&s(&["--family", "wg_rust", "show", "wg0", "--json"])).unwrap();
        assert_eq!(o.family, "wg_rust");
        assert!(o.json);
        assert_eq!(r, s(&["show", "wg0"]));
        let (o, r) = parse_global(&s(&["--family=x", "genkey"])).unwrap();
        assert_eq!(o.family, "x");
        assert!(!o.json);
        assert_eq!(r, s(&["genkey"]));
        assert!(parse_global(&s(&["--family"])).is_err());
        assert!(parse_global(&s(&["--family", "a-very-long-family-name"])).is_err());
    }

    #[test]
    fn usage_errors_do_not_touch_netlink() {
        assert!(matches!(
            run(&s(&["show", "wg0", "bogus"])),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            run(&s(&["show", "a", "b", "c"])),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(run(&s(&["showconf"])), Err(CliError::Usage(_))));
        assert!(matches!(run(&s(&["set", "wg0"])), Err(CliError::Usage(_))));
        assert!(matches!(
            run(&s(&["setconf", "wg0"])),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(run(&s(&["genkey", "x"])), Err(CliError::Usage(_))));
        assert!(matches!(
            run(&s(&["set", "wg0", "peer", "xyz"])),
            Err(CliError::Config(_))
        ));
        assert_eq!(run(&s(&["nonsense"])).unwrap(), 1);
    }
}
