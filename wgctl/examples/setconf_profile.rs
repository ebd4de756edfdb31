// SPDX-License-Identifier: GPL-2.0
//! Times the userspace half of `wgctl setconf` (parse, resolve, build and serialize the SET messages) on a file,
//! without a kernel: `cargo run --release --example setconf_profile -- FILE`.
use std::time::Instant;
use wgctl::{attr, config, msg_set, resolve::SystemResolver};

fn main() {
    let path = std::env::args().nth(1).expect("usage: setconf_profile FILE");
    let text = std::fs::read(&path).expect("read");
    let t = Instant::now();
    let parsed = config::parse_config(&text, &path, false, &SystemResolver).expect("parse");
    let t_parse = t.elapsed();
    let mut dev = parsed.device;
    dev.name = "wg0".into();
    let t = Instant::now();
    let msgs = msg_set::build_set(&dev, msg_set::default_limit()).expect("build");
    let t_build = t.elapsed();
    let t = Instant::now();
    let mut bytes = 0;
    for m in msgs.iter() {
        let w = attr::wrap(0x20, neli::consts::nl::NlmF::REQUEST, 1, m.clone()).expect("wrap");
        bytes += attr::to_vec(&w).expect("ser").len();
    }
    let t_ser = t.elapsed();
    println!(
        "{} peers: parse {:?}, build {:?} ({} messages), serialize {:?} ({} bytes)",
        dev.peers.len(),
        t_parse,
        t_build,
        msgs.len(),
        t_ser,
        bytes
    );
}
