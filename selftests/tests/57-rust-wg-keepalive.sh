#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg persistent keepalive, observed through the transfer counters (wg show transfer): with
# persistent-keepalive 1 on ns1 and no traffic, ns2 receives a 32-byte keepalive message about every second; with
# it off again, nothing more arrives (the passive keepalive answers only data). Both sides rust_wg.ko + wg over genl.
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"

load_rust_wg || fail "insmod rust_wg"
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg' EXIT
wg_pair
wait_ping "$NS1" 10.99.0.2 || fail "no handshake"
# Let the passive keepalive that answers the last ping go out first (KEEPALIVE_TIMEOUT is 10 s).
n1 wg set wg0 peer "$P2" persistent-keepalive 1
sleep 1
[ "$(n1 wg show wg0 persistent-keepalive)" = "$P2	1" ] || fail "persistent-keepalive reads $(n1 wg show wg0 persistent-keepalive)"
ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(ms); read -r _ rx_a _ < <(n2 wg show wg0 transfer); t1=$(ms)
sleep 5
t2=$(ms); read -r _ rx_b _ < <(n2 wg show wg0 transfer); t3=$(ms)
got=$((rx_b - rx_a))
# One keepalive (32 bytes) per second between the two reads, which took [t2 - t1, t3 - t0] ms apart (process start-up
# is slow under a loaded TCG); one more or less for timer slack and the phase.
lo=$(((t2 - t1) / 1000 - 1)); hi=$(((t3 - t0 + 999) / 1000 + 1))
((got % 32 == 0 && got / 32 >= lo && got / 32 <= hi && got > 0)) ||
	fail "ns2 received $got bytes of keepalives in $((t2 - t1))-$((t3 - t0)) ms"
log "persistent keepalive 1 s: $((got / 32)) keepalives in $((t2 - t1))-$((t3 - t0)) ms"

n1 wg set wg0 peer "$P2" persistent-keepalive off
sleep 1.5
read -r _ rx_a _ < <(n2 wg show wg0 transfer)
sleep 4
read -r _ rx_b _ < <(n2 wg show wg0 transfer)
((rx_b == rx_a)) || fail "ns2 still received $((rx_b - rx_a)) bytes with persistent keepalive off"
log "persistent keepalive off: nothing sent"
