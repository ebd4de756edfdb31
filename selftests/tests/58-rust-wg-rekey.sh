#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg rekey under traffic, with the protocol's real timers: the initiator starts a new handshake once its
# session is REKEY_AFTER_TIME (120 s) old and it sends, and the flow carries on across the key change. Both sides
# rust_wg.ko + wg over genl; a ping every 0.5 s runs for 135 s.
#
# The timers are not shortened: 6.12's Rust `module!` has no parameters, and a separate build with other constants
# would not test the module that ships. The test is mostly idle (sleeping pings).
# timeout: 300
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"

mark=$(dmesg_mark)
load_rust_wg || fail "insmod rust_wg"
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg' EXIT
wg_pair
wait_ping "$NS1" 10.99.0.2 || fail "no handshake"
keypairs() { dmesg_since "$mark" | grep -c 'Keypair [0-9]* created for peer'; }
k0=$(keypairs)
read -r _ hs0 < <(n1 wg show wg0 latest-handshakes)
log "first session: $k0 keypairs, handshake at $hs0"

n1 ping -i 0.5 -w 135 -W 2 10.99.0.2 >"$RESULTS/58-ping.txt" 2>&1 || true
k1=$(keypairs)
read -r _ hs1 < <(n1 wg show wg0 latest-handshakes)
loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$RESULTS/58-ping.txt")
tail -n 3 "$RESULTS/58-ping.txt"
((k1 >= k0 + 2)) || fail "no new session after 135 s: $k0 -> $k1 keypairs"
((hs1 >= hs0 + 115)) || fail "latest-handshake moved from $hs0 to $hs1 only"
# At most 5% lost: the old session sends until the new one is confirmed.
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 5 else 1)' "${loss:-100}" || fail "${loss:-?}% packets lost across the rekey"
log "rekey after $((hs1 - hs0)) s under traffic: $((k1 - k0)) new keypairs, ${loss}% loss"
ip -n "$NS1" link del wg0
ip -n "$NS2" link del wg0
unload_rust_wg || fail "rmmod rust_wg"
check_objects "$mark"
