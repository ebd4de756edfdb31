#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# timeout: 1800
# Many peers through the genl uapi, timed against the C wireguard.ko in the same VM: NL_10K_PEERS peers (CI: 2000)
# with NL_10K_IPS allowed IPs each (10: nine IPv4 /32 and one IPv6 /128 in the middle; every tenth endpoint IPv6).
# `make scale` runs the issue's full size, 10 000 peers / 100 000 allowed IPs (selftests/scale).
#  - The configuration is generated in exactly `wg showconf`'s format, so every read-back must equal the file itself
#    byte for byte (peers and allowed IPs in insertion order, as the C driver keeps them).
#  - On the C driver, then on rust_wg: `wg setconf` on a fresh device (and the memory it took), `wg showconf`,
#    `wg show dump`, the same through wgctl (equal to wg's), `wg setconf`, `wgctl setconf`, `wg setconf` each
#    replacing every peer, `ip link del`, `wgctl setconf` on a fresh device; rust_wg's dump equals the C driver's.
#    That is NL_10K_ROUNDS=full; the default (CI and `make scale`), short, times wg on a fresh device and then
#    wgctl on a second fresh device (listen port + 1) next to it, and no replacing rounds.
# Each timing is logged as it is taken (and appended to $RESULTS/netlink-10k.txt), the ratios at the end.
. "$RUST_WG_TOP/selftests/lib.sh"
umask 077

need_tools wgctl wg python3
peers=${NL_10K_PEERS:-2000}
ips=${NL_10K_IPS:-10}
rounds=${NL_10K_ROUNDS:-short}
test_scratch wgc wgc2 wg0 wg02
out=$RESULTS/netlink-10k.txt

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# timed NAME CMD...: runs CMD (stdout to $tmp/NAME.out), logs and records "NAME SECONDS".
timed() {
	local name=$1 t
	shift
	t=$(now)
	"$@" >"$tmp/$name.out" || fail "$name: $* (exit $?)"
	echo "$name $(since "$t")" | tee -a "$tmp/times" "$out"
}

# Keys are any 32 bytes, derived from the peer number (the private key clamped as the kernel stores it), so every
# run configures the same thing.
t=$(now)
$PY - "$peers" "$ips" >"$tmp/big.conf" <<'EOF'
import base64, hashlib, ipaddress, sys
peers, ips = map(int, sys.argv[1:])
def key(s, clamp=False):
    k = bytearray(hashlib.sha256(s.encode()).digest())
    if clamp:
        k[0] &= 248
        k[31] = (k[31] & 127) | 64
    return base64.b64encode(bytes(k)).decode()
v6 = lambda n: str(ipaddress.IPv6Address(n))
w = sys.stdout.write
w('[Interface]\nListenPort = 52999\nPrivateKey = %s\n\n' % key('device', True))
n = 0
for p in range(peers):
    a = []
    for i in range(ips):
        if i == ips // 2:
            a.append('%s/128' % v6(0xfd10 << 112 | p << 16 | 1))
        else:
            a.append('10.%d.%d.%d/32' % (n >> 16 & 255, n >> 8 & 255, n & 255))
            n += 1
    port = 1024 + p % 60000
    ep = '[%s]:%d' % (v6(0xfd00 << 112 | p + 1), port) if p % 10 == 0 else '192.168.%d.%d:%d' % (p >> 8 & 255, p & 255, port)
    w('%s[Peer]\nPublicKey = %s\nAllowedIPs = %s\nEndpoint = %s\n' % ('\n' if p else '', key('peer%d' % p), ', '.join(a), ep))
EOF
want_ips=$((peers * ips))
echo "$peers peers, $want_ips allowed IPs, $(wc -c <"$tmp/big.conf") bytes of config; seconds:" | tee "$out"
echo "generate $(since "$t")" | tee -a "$out"

# counts DEV: the device holds every peer and every allowed IP.
counts() {
	assert_eq "$(wg show "$1" peers | wc -l)" "$peers" "$1: peers"
	assert_eq "$(wg show "$1" allowed-ips | cut -f2 | wc -w)" "$want_ips" "$1: allowed IPs"
}
# readback NAME TOOL DEV [FILE]: TOOL's showconf of DEV equals the configuration file.
readback() {
	"$2" showconf "$3" >"$tmp/$1.conf" || fail "$1: showconf"
	same "$1: showconf and the configuration file" "${4:-$tmp/big.conf}" "$tmp/$1.conf"
}
sed 's/^ListenPort = 52999$/ListenPort = 53000/' "$tmp/big.conf" >"$tmp/big2.conf"
mem_kb() { awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo; }

# round IMPL DEV: the measurements on one implementation (loaded, no device yet). wgctl's setconf is timed between
# two of wg's, replacing every peer each time (A-B-A: whatever the previous round leaves running in the background,
# both tools get it), and once more on a fresh device at the end.
round() {
	local i=$1 dev=$2 m0
	m0=$(mem_kb)
	ip link add "$dev" type wireguard || fail "$i: ip link add"
	timed $i.wg.setconf wg setconf "$dev" "$tmp/big.conf"
	echo "$i.mem-per-peer-bytes $(((m0 - $(mem_kb)) * 1024 / peers))" | tee -a "$tmp/times" "$out"
	timed $i.wg.showconf wg showconf "$dev"
	same "$i: wg showconf and the configuration file" "$tmp/big.conf" "$tmp/$i.wg.showconf.out"
	timed $i.wg.dump wg show "$dev" dump
	timed $i.wgctl.showconf "$WGCTL" showconf "$dev"
	same "$i: wgctl showconf and the configuration file" "$tmp/big.conf" "$tmp/$i.wgctl.showconf.out"
	timed $i.wgctl.dump "$WGCTL" show "$dev" dump
	same "$i: wgctl's and wg's dump" "$tmp/$i.wg.dump.out" "$tmp/$i.wgctl.dump.out"
	counts "$dev"
	if [ "$rounds" != full ]; then
		ip link add "${dev}2" type wireguard || fail "$i: ip link add (second device)"
		timed $i.wgctl.setconf "$WGCTL" setconf "${dev}2" "$tmp/big2.conf"
		readback $i.wgctl.setconf wg "${dev}2" "$tmp/big2.conf"
		timed $i.del ip link del "$dev"
		timed $i.del2 ip link del "${dev}2"
		return 0
	fi
	timed $i.wg.replace1 wg setconf "$dev" "$tmp/big.conf"
	readback $i.wg.replace1 wg "$dev"
	timed $i.wgctl.replace "$WGCTL" setconf "$dev" "$tmp/big.conf"
	readback $i.wgctl.replace wg "$dev"
	timed $i.wg.replace2 wg setconf "$dev" "$tmp/big.conf"
	readback $i.wg.replace2 wg "$dev"
	timed $i.del ip link del "$dev"
	ip link add "$dev" type wireguard || fail "$i: ip link add (for wgctl)"
	timed $i.wgctl.setconf "$WGCTL" setconf "$dev" "$tmp/big.conf"
	readback $i.wgctl.setconf wg "$dev"
	ip link del "$dev"
}

load_c_wireguard || fail "modprobe wireguard"
round C wgc
unload_c_wireguard
load_rust_wg || fail "insmod rust_wg"
round rust wg0
same "rust_wg's and the C driver's dump" "$tmp/C.wg.dump.out" "$tmp/rust.wg.dump.out"
unload_rust_wg

t() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$tmp/times"; }
# ratio A B [B2]: A / B, or A / the mean of B and B2.
ratio() {
	awk -v a="$(t "$1")" -v b="$(t "$2")" -v c="$(t "${3:-$2}")" \
		'BEGIN { m = (b + c) / 2; if (a != "" && m > 0) printf "%.2f", a / m; else print "-" }'
}
{
	echo "rust_wg/C with wg: setconf x$(ratio rust.wg.setconf C.wg.setconf), setconf replacing every peer x$(ratio rust.wg.replace1 C.wg.replace1 C.wg.replace2)/x$(ratio rust.wg.replace2 C.wg.replace1 C.wg.replace2), showconf x$(ratio rust.wg.showconf C.wg.showconf), dump x$(ratio rust.wg.dump C.wg.dump), ip link del x$(ratio rust.del C.del), memory per peer $(t rust.mem-per-peer-bytes)/$(t C.mem-per-peer-bytes) bytes"
	echo "wgctl/wg setconf on a fresh device ($rounds: wgctl $([ "$rounds" = full ] && echo "after a delete" || echo "on a second device")): on C x$(ratio C.wgctl.setconf C.wg.setconf), on rust_wg x$(ratio rust.wgctl.setconf rust.wg.setconf); replacing every peer (full: wg-wgctl-wg): on C x$(ratio C.wgctl.replace C.wg.replace1 C.wg.replace2), on rust_wg x$(ratio rust.wgctl.replace rust.wg.replace1 rust.wg.replace2)"
	echo "wgctl/wg on rust_wg: showconf x$(ratio rust.wgctl.showconf rust.wg.showconf), dump x$(ratio rust.wgctl.dump rust.wg.dump); rust_wg+wgctl / C+wg setconf x$(ratio rust.wgctl.setconf C.wg.setconf)"
} | tee -a "$out"
log "$peers peers / $want_ips allowed IPs set and read back identically by C and rust_wg, wg and wgctl"
