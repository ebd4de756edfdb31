#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg's module parameters (patch 0015, `params` in module!):
# - modinfo describes `express` (bool) and `crypt_nice` (int);
# - `crypt_nice` out of its range -20..19 fails the load; its file reads 10 and is not writable (0444);
# - loaded with express=0, the file reads N and no packet of a ping flow takes the express lane (the per-peer
#   statistics printed at peer deletion: "N express; rx ... M express");
# - after writing 1 to /sys/module/rust_wg/parameters/express (0644) it reads Y, and the same flow through a new
#   tunnel takes the lane on transmit and on receive, without reloading the module.
. "$RUST_WG_TOP/selftests/lib.sh"

need_tools wg
[ -f "$RUST_WG_KO" ] || fail "rust_wg.ko not built at $RUST_WG_KO"
P=/sys/module/rust_wg/parameters

unload_c_wireguard 2>/dev/null || true
rust_wg_loaded && unload_rust_wg
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg' EXIT

info=$(modinfo "$RUST_WG_KO")
echo "$info" | grep '^parm:' | while read -r l; do log "$l"; done
echo "$info" | grep -qE '^parm: +express:.*express lane.* \(bool\)$' || fail "modinfo: no description of express"
echo "$info" | grep -qE '^parm: +crypt_nice:Nice level of the crypt workers.* \(int\)$' ||
	fail "modinfo: no description of crypt_nice"

mark=$(dmesg_mark)
for bad in 99 -21; do
	load_rust_wg crypt_nice="$bad" 2>/dev/null && fail "insmod with crypt_nice=$bad succeeded"
	rust_wg_loaded && fail "rust_wg loaded with crypt_nice=$bad"
done
dmesg_since "$mark" | grep -q "\`99' invalid for parameter \`crypt_nice'" || fail "no message for crypt_nice=99"
log "crypt_nice=99, -21: refused"

load_rust_wg express=0 || fail "insmod rust_wg express=0"
assert_eq "$(cat $P/express)" N "express after insmod express=0"
assert_eq "$(cat $P/crypt_nice)" 10 "crypt_nice (default)"
assert_eq "$(stat -c %a $P/express)" 644 "mode of express"
assert_eq "$(stat -c %a $P/crypt_nice)" 444 "mode of crypt_nice"
(echo 5 >"$P/crypt_nice") 2>/dev/null && fail "crypt_nice was writable"
assert_eq "$(cat $P/crypt_nice)" 10 "crypt_nice after a refused write"
(echo maybe >"$P/express") 2>/dev/null && fail "express accepted 'maybe'"
assert_eq "$(cat $P/express)" N "express after a refused write"

# One tunnel (wg_pair, IPv6 off), 10 pings of 100 bytes, then the peers' express counts (transmit and receive, both
# peers summed) from their statistics at deletion.
run_pings() {
	local mark q n=0
	mark=$(dmesg_mark)
	wg_pair
	n1 sysctl -qw net.ipv6.conf.wg0.disable_ipv6=1
	n2 sysctl -qw net.ipv6.conf.wg0.disable_ipv6=1
	wait_ping "$NS1" 10.99.0.2 || fail "no handshake"
	n1 ping -q -c 10 -i 0.1 -s 100 -W 5 10.99.0.2 >"$RESULTS/82-ping" 2>&1 || true
	grep -q ' 0% packet loss' "$RESULTS/82-ping" || fail "pings lost: $(cat "$RESULTS/82-ping")"
	ip -n "$NS1" link del wg0
	ip -n "$NS2" link del wg0
	ns_cleanup
	# A peer's statistics are printed when its last reference goes (after an RCU grace period and its work items).
	for _ in $(seq 1 "$(slow 20)"); do
		n=$(dmesg_since "$mark" | grep -cE 'wg0: Peer [0-9]+ queues:' || true)
		[ "$n" -ge 2 ] && break
		sleep 0.5
	done
	q=$(dmesg_since "$mark" | grep -E 'wg0: Peer [0-9]+ queues:' || true)
	echo "$q" | while read -r l; do log "$l"; done >&2
	[ "$n" -eq 2 ] || fail "expected the statistics of 2 peers, got $n"
	echo "$q" | sed -nE 's/.* ([0-9]+) express; rx .* ([0-9]+) express$/\1 \2/p' |
		awk '{ t += $1; r += $2; n++ } END { if (n == 2) print t, r }'
}

read -r tx rx < <(run_pings) || fail "no express counts"
log "express=0: $tx packets through the transmit express lane, $rx through the receive one"
assert_eq "$tx $rx" "0 0" "express lane packets with express=0 (tx rx)"

echo 1 >"$P/express" || fail "write 1 to $P/express"
assert_eq "$(cat $P/express)" Y "express after writing 1"
read -r tx rx < <(run_pings) || fail "no express counts"
log "express=1: $tx packets through the transmit express lane, $rx through the receive one"
# 10 echo requests and 10 replies, each sent by one peer and received by the other.
[ "$tx" -ge 10 ] || fail "only $tx packets took the transmit express lane with express=1"
[ "$rx" -ge 10 ] || fail "only $rx packets took the receive express lane with express=1"

unload_rust_wg || fail "rmmod rust_wg"
exit 0
