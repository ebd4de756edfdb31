#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Malformed generic-netlink messages to rust_wg's "wireguard" family: wgfuzz netlink (selftests/tools/wgfuzz)
# builds GET and SET requests for a configured device and plants in each one to three defects that each make it
# invalid (unknown attribute types and type 0, wrong lengths, NLA_F_NESTED missing or unexpected, truncated
# attributes, leftover bytes, peers without a key, incomplete allowed IPs, CIDR > address bits, bad address
# families and endpoints, unknown flag bits, protocol version != 1, bad device selectors, unknown commands, a
# dump flag on SET or none on GET), plus some random payloads. Asserted: every message is answered with an error
# (the tool fails on any accepted or unanswered one), a valid GET still works every 1000 messages, the device's
# configuration (`wg showconf`) and peer list are byte-identical before and after, and no splat (runner).
#
# RWG_NETLINK_MESSAGES sets the number of messages (CI default below; `make soak` sends 1 million).
# timeout: 1200
. "$RUST_WG_TOP/selftests/lib.sh"
. "$RUST_WG_TOP/selftests/hardening.sh"

COUNT=${RWG_NETLINK_MESSAGES:-100000}
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
need_wgfuzz
rust_wg_scratch

# A configuration with something at every level: keys, port, fwmark, peers with PSK, endpoints (v4 and v6),
# keepalive and allowed IPs of both families.
{
	echo "[Interface]"
	echo "PrivateKey = $(wg genkey)"
	echo "ListenPort = 7101"
	echo "FwMark = 0x71"
	for i in 1 2 3; do
		echo "[Peer]"
		echo "PublicKey = $(wg genkey | wg pubkey)"
		[ $i = 1 ] && echo "PresharedKey = $(wg genpsk)"
		[ $i = 1 ] && echo "Endpoint = 192.168.241.2:51820"
		[ $i = 2 ] && echo "Endpoint = [fd00:241::2]:12345"
		[ $i = 2 ] && echo "PersistentKeepalive = 25"
		echo "AllowedIPs = 10.71.$i.0/24, fd00:71:$i::/64"
	done
} >"$tmp/conf"
wg setconf wg0 "$tmp/conf" || fail "wg setconf"
ip link set wg0 up
wg showconf wg0 >"$tmp/before" || fail "wg showconf"
wg show wg0 dump | cut -f1-4,9 >"$tmp/before.dump"

start=$(date +%s)
"$WGFUZZ" netlink --ifname wg0 --count "$COUNT" --seed "${RWG_FUZZ_SEED:-$start}" >"$RESULTS/71-fuzz.txt" 2>&1
rc=$?
secs=$(($(date +%s) - start))
cat "$RESULTS/71-fuzz.txt"
[ $rc -eq 0 ] || fail "wgfuzz netlink failed (exit $rc)"
summary=$(tail -n 1 "$RESULTS/71-fuzz.txt")
sent=$(sed -n 's/.*\bsent=\([0-9]*\).*/\1/p' <<<"$summary")
[ "${sent:-0}" -ge "$COUNT" ] || fail "sent ${sent:-0} of $COUNT"

wg showconf wg0 >"$tmp/after" || fail "wg showconf after the fuzz"
wg show wg0 dump | cut -f1-4,9 >"$tmp/after.dump"
cmp -s "$tmp/before" "$tmp/after" || { diff -u "$tmp/before" "$tmp/after" | head -n 40; fail "configuration changed"; }
cmp -s "$tmp/before.dump" "$tmp/after.dump" || { diff -u "$tmp/before.dump" "$tmp/after.dump" | head; fail "dump changed"; }
# The device still takes a valid change.
wg set wg0 listen-port 7102 || fail "a valid SET after the fuzz"
[ "$(wg show wg0 listen-port)" = 7102 ] || fail "listen port not changed by a valid SET"
log "$sent malformed messages in ${secs}s, all refused; configuration unchanged; valid SET still works"
echo "RESULT-71 $summary" >>"$RESULTS/figures.txt"
