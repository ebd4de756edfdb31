// SPDX-License-Identifier: GPL-2.0
//! Times wgctl's in-place parse of received GET-layout payloads (the SET messages of FILE: the dump's layout):
//! `cargo run --release --example get_profile -- FILE`.
use std::time::Instant;
use wgctl::{attr, config, msg_get::DumpAssembler, msg_set, resolve::SystemResolver};

fn main() {
    let path = std::env::args().nth(1).expect("usage: get_profile FILE");
    let text = std::fs::read(&path).expect("read");
    let mut dev = config::parse_config(&text, &path, false, &SystemResolver)
        .expect("parse")
        .device;
    dev.name = "wg0".into();
    let msgs = msg_set::build_set(&dev, msg_set::default_limit()).expect("build");
    let bufs: Vec<Vec<u8>> = msgs.iter().map(|m| attr::to_vec(m).expect("ser")).collect();
    let t = Instant::now();
    let mut asm = DumpAssembler::default();
    for b in &bufs {
        asm.add_bytes(b).expect("parse");
    }
    let back = asm.finish();
    let el = t.elapsed();
    let ips: usize = back.peers.iter().map(|p| p.allowed_ips.len()).sum();
    println!(
        "{} messages, {} peers, {} allowed IPs: parse {:?}",
        bufs.len(),
        back.peers.len(),
        ips,
        el
    );
}
