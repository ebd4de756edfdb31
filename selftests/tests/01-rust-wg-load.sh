#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg.ko loads and unloads cleanly 20 times and logs its version each time.
. "$RUST_WG_TOP/selftests/lib.sh"

mark=$(dmesg_mark)
for i in $(seq 1 20); do
	load_rust_wg || fail "insmod #$i"
	rust_wg_loaded || fail "rust_wg not in /proc/modules after load #$i"
	unload_rust_wg || fail "rmmod #$i"
	! rust_wg_loaded || fail "rust_wg still loaded after rmmod #$i"
done
loads=$(dmesg_since "$mark" | grep -c 'WireGuard (rust_wg) [0-9.]* loaded' || true)
unloads=$(dmesg_since "$mark" | grep -c 'WireGuard (rust_wg) [0-9.]* unloaded' || true)
assert_eq "$loads" 20 "load messages"
assert_eq "$unloads" 20 "unload messages"
log "20 load/unload cycles"
