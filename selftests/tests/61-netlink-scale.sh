#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Large configurations through rust_wg's genl family, timed against the C wireguard.ko in the same VM: many peers
# with a few allowed IPs each plus one peer with thousands (SET split over many messages, GET dumps continuing a
# peer across messages). wg and wgctl read rust_wg back identically and count every peer and prefix; rust_wg's
# state equals the C driver's byte for byte. Sizes: NL_SCALE_PEERS (1000), NL_SCALE_IPS per peer (10),
# NL_SCALE_BIG for the big peer (5000). Times go to the log and to $RESULTS/netlink-scale.txt.
. "$RUST_WG_TOP/selftests/lib.sh"
umask 077

need_tools wgctl wg python3
peers=${NL_SCALE_PEERS:-1000}
ips=${NL_SCALE_IPS:-10}
big=${NL_SCALE_BIG:-5000}
test_scratch wg0

# Keys are any 32 bytes (derived from the peer number, so both runs configure the same thing).
$PY - "$peers" "$ips" "$big" >"$tmp/big.conf" <<'EOF'
import base64, hashlib, sys
peers, ips, big = map(int, sys.argv[1:])
k = lambda s: base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
print('[Interface]\nPrivateKey = %s\nListenPort = 51999\n' % k('device'))
n = 0
for p in range(peers):
    a = []
    for _ in range(ips):
        a.append('10.%d.%d.%d/32' % (n >> 16 & 255, n >> 8 & 255, n & 255))
        n += 1
    print('[Peer]\nPublicKey = %s\nEndpoint = 192.168.%d.%d:%d\nAllowedIPs = %s\n' % (
        k('peer%d' % p), p >> 8 & 255, p & 255, 1024 + p, ', '.join(a)))
print('[Peer]\nPublicKey = %s\nAllowedIPs = %s' % (k('big'), ', '.join(
    'fd00:%x::%x/128' % (i >> 16, i & 0xffff) for i in range(big))))
EOF
want_peers=$((peers + 1))
want_ips=$((peers * ips + big))

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# measure NAME: setconf through wg, then read back through wg and wgctl; counts checked.
measure() {
	local name=$1 t
	ip link add wg0 type wireguard || fail "$name: ip link add"
	t=$(now)
	wg setconf wg0 "$tmp/big.conf" || fail "$name: wg setconf"
	set_s=$(since "$t")
	t=$(now)
	wg showconf wg0 >"$tmp/$name.conf" || fail "$name: wg showconf"
	get_s=$(since "$t")
	t=$(now)
	"$WGCTL" showconf wg0 >"$tmp/$name.wgctl.conf" || fail "$name: wgctl showconf"
	wgctl_get_s=$(since "$t")
	t=$(now)
	wg set wg0 peer "$(wg show wg0 peers | head -n1)" remove
	wg setconf wg0 "$tmp/big.conf" || fail "$name: wg setconf (replace)"
	reset_s=$(since "$t")
	assert_eq "$(wg show wg0 peers | wc -l)" "$want_peers" "$name: peers"
	assert_eq "$(wg show wg0 allowed-ips | cut -f2 | wc -w)" "$want_ips" "$name: allowed IPs"
	ip link del wg0
	printf '%-8s setconf %6ss  showconf (wg) %6ss  showconf (wgctl) %6ss  setconf again %6ss\n' \
		"$name" "$set_s" "$get_s" "$wgctl_get_s" "$reset_s" | tee -a "$tmp/times"
}

load_c_wireguard || fail "modprobe wireguard"
measure C
unload_c_wireguard
load_rust_wg || fail "insmod rust_wg"
measure rust_wg

cmp -s "$tmp/rust_wg.conf" "$tmp/rust_wg.wgctl.conf" || fail "wg and wgctl showconf differ on rust_wg"
cmp -s "$tmp/C.conf" "$tmp/rust_wg.conf" ||
	{ diff -u "$tmp/C.conf" "$tmp/rust_wg.conf" | head -n 20 >&2; fail "rust_wg's state differs from the C driver's"; }
{
	echo "$peers peers x $ips allowed IPs + 1 peer x $big allowed IPs ($want_ips prefixes), TCG VM"
	cat "$tmp/times"
} >"$RESULTS/netlink-scale.txt"
log "$want_peers peers, $want_ips allowed IPs set and dumped; times:"
cat "$tmp/times"
