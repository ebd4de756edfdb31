//! Configuration parsing: wg(8) config files and `set` arguments, both producing a
//! partial [`Device`] update.
//!
//! Line handling follows wireguard-tools' config.c: everything after `#` is a comment,
//! all whitespace anywhere in a line is removed, section headers and keys are
//! case-insensitive, a key needs a non-empty value, and a `[Peer]` section replaces that
//! peer's allowed IPs even if it lists none.

use std::fmt;

use crate::key::is_space;
use crate::model::{Device, Peer};
use crate::resolve::Resolver;
use crate::values;

/// Where a configuration error was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A line of a configuration file (1-based).
    File { path: String, line: usize },
    /// An argument of `set` (the keyword it belongs to is the field).
    Args,
}

/// A configuration error naming its location and field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub location: Location,
    /// The canonical key name (`PublicKey`, `allowed-ips`, ...), if the error is about one.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File { path, line } => write!(f, "{path}:{line}: ")?,
            Location::Args => write!(f, "set: ")?,
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A parsed configuration and its non-fatal warnings.
#[derive(Debug, Default)]
pub struct Parsed {
    pub device: Device,
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Interface,
    Peer,
}

const INTERFACE_KEYS: &[&str] = &["ListenPort", "FwMark", "PrivateKey"];
const PEER_KEYS: &[&str] = &[
    "Endpoint",
    "PublicKey",
    "AllowedIPs",
    "PersistentKeepalive",
    "PresharedKey",
];

/// Incremental parser of one configuration file.
pub struct ConfigParser<'a> {
    path: String,
    resolver: &'a dyn Resolver,
    section: Section,
    line: usize,
    /// Line of each peer's `[Peer]` header, to report a missing PublicKey.
    peer_lines: Vec<usize>,
    peer_has_key: Vec<bool>,
    out: Parsed,
}

impl<'a> ConfigParser<'a> {
    /// Starts a parse. `append` (addconf) leaves unmentioned device fields and other
    /// peers alone; otherwise (setconf) they are reset as wg does.
    pub fn new(path: &str, append: bool, resolver: &'a dyn Resolver) -> Self {
        let mut device = Device::default();
        if !append {
            device.replace_peers = true;
            device.private_key = Some(crate::key::Key::ZERO);
            device.fwmark = Some(0);
            device.listen_port = Some(0);
        }
        ConfigParser {
            path: path.to_string(),
            resolver,
            section: Section::None,
            line: 0,
            peer_lines: Vec::new(),
            peer_has_key: Vec::new(),
            out: Parsed {
                device,
                warnings: Vec::new(),
            },
        }
    }

    fn err(&self, field: Option<&str>, message: String) -> ConfigError {
        ConfigError {
            location: Location::File {
                path: self.path.clone(),
                line: self.line,
            },
            field: field.map(str::to_string),
            message,
        }
    }

    /// Feeds one line (without or with its trailing newline).
    pub fn line(&mut self, input: &[u8]) -> Result<(), ConfigError> {
        self.line += 1;
        // wg handles lines as C strings: nothing after a NUL byte counts.
        let input = &input[..input.iter().position(|&c| c == 0).unwrap_or(input.len())];
        let end = input.iter().position(|&c| c == b'#').unwrap_or(input.len());
        let cleaned: Vec<u8> = input[..end]
            .iter()
            .copied()
            .filter(|&c| !is_space(c))
            .collect();
        if cleaned.is_empty() {
            return Ok(());
        }
        self.process(&cleaned)
    }

    fn process(&mut self, line: &[u8]) -> Result<(), ConfigError> {
        if line.eq_ignore_ascii_case(b"[Interface]") {
            self.section = Section::Interface;
            return Ok(());
        }
        if line.eq_ignore_ascii_case(b"[Peer]") {
            self.section = Section::Peer;
            let peer = Peer {
                replace_allowed_ips: true,
                ..Peer::default()
            };
            self.out.device.peers.push(peer);
            self.peer_lines.push(self.line);
            self.peer_has_key.push(false);
            return Ok(());
        }
        let keys = match self.section {
            Section::Interface => INTERFACE_KEYS,
            Section::Peer => PEER_KEYS,
            Section::None => &[][..],
        };
        // A key matches as a case-insensitive prefix "Key=" followed by a value.
        let found = keys.iter().find(|k| {
            line.len() > k.len() + 1
                && line[..k.len()].eq_ignore_ascii_case(k.as_bytes())
                && line[k.len()] == b'='
        });
        let Some(&field) = found else {
            return Err(self.unrecognized(line));
        };
        let value = &line[field.len() + 1..];
        let result = self.apply(field, value);
        result.map_err(|m| self.err(Some(field), m))
    }

    fn unrecognized(&self, line: &[u8]) -> ConfigError {
        match line.iter().position(|&c| c == b'=') {
            Some(i) => {
                let name = String::from_utf8_lossy(&line[..i]).into_owned();
                let msg = match self.section {
                    Section::None => "key outside of an [Interface] or [Peer] section".to_string(),
                    Section::Interface => {
                        "unknown key or empty value in [Interface] section".to_string()
                    }
                    Section::Peer => "unknown key or empty value in [Peer] section".to_string(),
                };
                self.err(Some(&name), msg)
            }
            None => self.err(None, format!("line unrecognized: {}", values::quote(line))),
        }
    }

    fn apply(&mut self, field: &str, value: &[u8]) -> Result<(), String> {
        let dev = &mut self.out.device;
        match field {
            "ListenPort" => dev.listen_port = Some(values::port(value, self.resolver)?),
            "FwMark" => dev.fwmark = Some(values::fwmark(value)?),
            "PrivateKey" => dev.private_key = Some(values::key(value)?),
            _ => {
                // Peer keys: a peer exists because the section is [Peer].
                let Some(peer) = dev.peers.last_mut() else {
                    return Err("no [Peer] section".to_string());
                };
                match field {
                    "Endpoint" => peer.endpoint = Some(values::endpoint(value, self.resolver)?),
                    "PublicKey" => {
                        peer.public_key = values::key(value)?;
                        if let Some(h) = self.peer_has_key.last_mut() {
                            *h = true;
                        }
                    }
                    "AllowedIPs" => {
                        let w = values::allowed_ips(peer, value)?;
                        let line = self.line;
                        let path = &self.path;
                        self.out.warnings.extend(
                            w.into_iter()
                                .map(|w| format!("{path}:{line}: AllowedIPs: warning: {w}")),
                        );
                    }
                    "PersistentKeepalive" => {
                        peer.persistent_keepalive = Some(values::keepalive(value)?)
                    }
                    "PresharedKey" => peer.preshared_key = Some(values::key(value)?),
                    _ => return Err("unknown key".to_string()),
                }
            }
        }
        Ok(())
    }

    /// Ends the parse, checking that every peer has a public key.
    pub fn finish(mut self) -> Result<Parsed, ConfigError> {
        if let Some(i) = self.peer_has_key.iter().position(|&h| !h) {
            self.line = self.peer_lines[i];
            return Err(self.err(Some("[Peer]"), "peer is missing a PublicKey".to_string()));
        }
        Ok(self.out)
    }
}

/// Parses a whole configuration file's contents.
pub fn parse_config(
    text: &[u8],
    path: &str,
    append: bool,
    resolver: &dyn Resolver,
) -> Result<Parsed, ConfigError> {
    let mut p = ConfigParser::new(path, append, resolver);
    if !text.is_empty() {
        let body = text.strip_suffix(b"\n").unwrap_or(text);
        for line in body.split(|&c| c == b'\n') {
            p.line(line)?;
        }
    }
    p.finish()
}

fn args_err(field: &str, message: String) -> ConfigError {
    ConfigError {
        location: Location::Args,
        field: Some(field.to_string()),
        message,
    }
}

/// Reads a key file named on the command line.
pub type KeyFileReader<'a> = &'a dyn Fn(&str) -> std::io::Result<Vec<u8>>;

/// Parses `set` arguments (after the interface name) into a partial update.
pub fn parse_set_args(
    args: &[String],
    resolver: &dyn Resolver,
    read_file: KeyFileReader<'_>,
) -> Result<Parsed, ConfigError> {
    let mut out = Parsed::default();
    let dev = &mut out.device;
    let mut i = 0;
    let keyfile = |field: &str, path: &str| -> Result<crate::key::Key, ConfigError> {
        let data = read_file(path).map_err(|e| args_err(field, format!("{path}: {e}")))?;
        values::key_file(&data).map_err(|m| args_err(field, format!("{path}: {m}")))
    };
    while i < args.len() {
        let arg = args[i].as_str();
        let val = args.get(i + 1).map(String::as_str);
        let in_peer = !dev.peers.is_empty();
        match (arg, val) {
            ("listen-port", Some(v)) if !in_peer => {
                dev.listen_port =
                    Some(values::port(v.as_bytes(), resolver).map_err(|m| args_err(arg, m))?);
            }
            ("fwmark", Some(v)) if !in_peer => {
                dev.fwmark = Some(values::fwmark(v.as_bytes()).map_err(|m| args_err(arg, m))?);
            }
            ("private-key", Some(v)) if !in_peer => dev.private_key = Some(keyfile(arg, v)?),
            ("peer", Some(v)) => {
                let key = values::key(v.as_bytes()).map_err(|m| args_err(arg, m))?;
                dev.peers.push(Peer::new(key));
            }
            ("remove", _) if in_peer => {
                if let Some(p) = dev.peers.last_mut() {
                    p.remove = true;
                }
                i += 1;
                continue;
            }
            ("endpoint", Some(v)) if in_peer => {
                let ep = values::endpoint(v.as_bytes(), resolver).map_err(|m| args_err(arg, m))?;
                if let Some(p) = dev.peers.last_mut() {
                    p.endpoint = Some(ep);
                }
            }
            ("allowed-ips", Some(v)) if in_peer => {
                let stripped: Vec<u8> = v.bytes().filter(|&c| !is_space(c)).collect();
                if let Some(p) = dev.peers.last_mut() {
                    let w = values::allowed_ips(p, &stripped).map_err(|m| args_err(arg, m))?;
                    out.warnings.extend(
                        w.into_iter()
                            .map(|w| format!("set: allowed-ips: warning: {w}")),
                    );
                }
            }
            ("persistent-keepalive", Some(v)) if in_peer => {
                let k = values::keepalive(v.as_bytes()).map_err(|m| args_err(arg, m))?;
                if let Some(p) = dev.peers.last_mut() {
                    p.persistent_keepalive = Some(k);
                }
            }
            ("preshared-key", Some(v)) if in_peer => {
                let k = keyfile(arg, v)?;
                if let Some(p) = dev.peers.last_mut() {
                    p.preshared_key = Some(k);
                }
            }
            _ => {
                return Err(args_err(arg, "invalid argument".to_string()));
            }
        }
        i += 2;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
