//! Fuzzes `set` argument parsing: NUL-separated arguments, key files served from memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wgctl::{config, resolve::NumericResolver};

fuzz_target!(|data: &[u8]| {
    let args: Vec<String> = data
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let file = |p: &str| -> std::io::Result<Vec<u8>> { Ok(p.as_bytes().to_vec()) };
    let _ = config::parse_set_args(&args, &NumericResolver, &file);
});
