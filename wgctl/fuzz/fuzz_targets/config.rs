//! Fuzzes the configuration file parser; on success, the parsed update must also build
//! SET messages that parse back (no panics anywhere on the way); on failure, the error must
//! name the file and a line of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgctl::{config, msg_get, msg_set, resolve::NumericResolver};

fuzz_target!(|data: &[u8]| {
    let append = data.first().is_some_and(|b| b & 1 == 1);
    let parsed = match config::parse_config(data, "fuzz.conf", append, &NumericResolver) {
        Ok(p) => p,
        Err(e) => {
            let config::Location::File { path, line } = &e.location else {
                panic!("error without a file: {e}");
            };
            let body = data.strip_suffix(b"\n").unwrap_or(data);
            let lines = body.split(|&c| c == b'\n').count();
            assert!(path == "fuzz.conf" && (1..=lines).contains(line), "{e}");
            assert!(e.to_string().starts_with(&format!("fuzz.conf:{line}: ")));
            return;
        }
    };
    let mut dev = parsed.device;
    dev.name = "wg0".into();
    let msgs = msg_set::build_set(&dev, 512).expect("a parsed config always builds");
    let mut back = wgctl::model::Device::default();
    for m in &msgs {
        msg_get::parse_device(m, &mut back).expect("built messages parse");
    }
    let total: usize = back.peers.iter().map(|p| p.allowed_ips.len()).sum();
    let want: usize = dev.peers.iter().map(|p| p.allowed_ips.len()).sum();
    assert_eq!(total, want);
});
