#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Deleting a device whose peer has a huge allowed-IPs table (netns.sh's 255*256 IPv4 /16 and IPv6 /128 prefixes)
# must not hold RTNL while the table is freed: the C driver frees it from its priv destructor, after RTNL is
# released. rust_wg used to free it in `dellink`, and on the debug kernel every other RTNL user (ipv6 addrconf
# work) then blocked for over six minutes (hung-task reports). During `ip link del`, a probe times no-op RTNL
# requests (selftests/tools/rtnl-wait.py); the longest wait must stay under 200 ms (times the time factor) with
# the C driver (the control: the VM can answer that fast) and with rust_wg (which waited 600 ms before the fix, on
# the normal kernel of an idle host). The table is checked complete before the delete; the device is gone after.
. "$RUST_WG_TOP/selftests/lib.sh"

need_tools wg python3
test_scratch
NS=rwg-del
extra_cleanup() { ip netns del "$NS" 2>/dev/null || true; }
limit_ms=$((200 * RWG_TIME_FACTOR))

$PY - >"$tmp/big.conf" <<'PYEOF'
import base64, hashlib
k = lambda s: base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
print('[Interface]\nPrivateKey = %s\n\n[Peer]\nPublicKey = %s' % (k('device'), k('peer')))
for a in range(1, 256):
    for b in range(256):
        print('AllowedIPs = %d.%d.0.0/16, %d::%d/128' % (a, b, a, b))
PYEOF

# run IMPL: writes "<max wait ms> <median wait ms> <probes> <seconds ip link del took>" to $tmp/result.
run() {
	use_impl "$1"
	ip netns del "$NS" 2>/dev/null || true
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add wg0 type wireguard
	ip netns exec "$NS" wg setconf wg0 "$tmp/big.conf" || fail "$1: wg setconf"
	local n
	n=$(ip netns exec "$NS" wg show wg0 allowed-ips | wc -w)
	assert_eq "$n" $((255 * 256 * 2 + 1)) "$1: words in 'wg show wg0 allowed-ips' (key + prefixes)"
	touch "$tmp/probe.flag"
	ip netns exec "$NS" $PY "$RUST_WG_TOP/selftests/tools/rtnl-wait.py" "$tmp/probe.flag" >"$tmp/probe.out" &
	local probe=$! t0 t1
	wait_for "$(slow 30)" grep -q ready "$tmp/probe.out" || fail "$1: RTNL probe did not start"
	sleep 0.5
	t0=$(date +%s.%N)
	ip -n "$NS" link del wg0 || fail "$1: ip link del wg0"
	t1=$(date +%s.%N)
	sleep 0.3
	rm "$tmp/probe.flag"
	wait "$probe" || fail "$1: RTNL probe failed: $(cat "$tmp/probe.out")"
	! ip -n "$NS" link show wg0 >/dev/null 2>&1 || fail "$1: wg0 still there after ip link del"
	ip netns del "$NS"
	awk -v d="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" \
		'/^probes/ { print $4, $6, $2, d }' "$tmp/probe.out" >"$tmp/result"
}

for impl in c rust_wg; do
	run $impl
	read -r max median probes secs <"$tmp/result"
	[ -n "$max" ] || fail "$impl: no probe result"
	log "$impl: ip link del took ${secs} s; RTNL waits during it: max ${max} ms, median ${median} ms ($probes probes)"
	awk -v m="$max" -v l="$limit_ms" 'BEGIN { exit !(m < l) }' ||
		fail "$impl: an RTNL user waited ${max} ms while wg0 (130560 prefixes) was deleted (limit ${limit_ms} ms)"
done
