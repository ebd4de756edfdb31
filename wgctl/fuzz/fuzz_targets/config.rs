//! Fuzzes the configuration file parser; on success, the parsed update must also build
//! SET messages that parse back (no panics anywhere on the way).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgctl::{config, msg_get, msg_set, resolve::NumericResolver};

fuzz_target!(|data: &[u8]| {
    let append = data.first().is_some_and(|b| b & 1 == 1);
    if let Ok(parsed) = config::parse_config(data, "fuzz.conf", append, &NumericResolver) {
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
    }
});
