#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# timeout: 900
# Many peers through the genl uapi, timed against the C wireguard.ko in the same VM: NL_10K_PEERS peers (CI: 2000)
# with NL_10K_IPS allowed IPs each (10: nine IPv4 /32 and one IPv6 /128 in the middle; every tenth endpoint IPv6).
# `make scale` runs the issue's full size, 10 000 peers / 100 000 allowed IPs (selftests/scale).
#  - The configuration is generated in exactly `wg showconf`'s format, so every read-back must equal the file itself
#    byte for byte (peers and allowed IPs in insertion order, as the C driver keeps them).
#  - C driver: `wg setconf`, `wg showconf`, `wg show dump`, `wg setconf` again (replacing every peer), `ip link del`;
#    then `wgctl setconf` on a fresh device.
#  - rust_wg: the same with wg, read back through wg and wgctl (showconf and dump equal to the C driver's); then
#    `wgctl setconf` on a fresh device.
# Each timing is logged as it is taken (and appended to $RESULTS/netlink-10k.txt), the ratios at the end.
. "$RUST_WG_TOP/selftests/lib.sh"
umask 077

[ -x "${WGCTL:-}" ] || skip "wgctl not built at ${WGCTL:-<unset>}"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
PY=/usr/bin/python3
[ -x $PY ] || skip "no $PY"
peers=${NL_10K_PEERS:-2000}
ips=${NL_10K_IPS:-10}
test_scratch wgc wg0
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

# 1. The C driver.
load_c_wireguard || fail "modprobe wireguard"
ip link add wgc type wireguard || fail "ip link add (C)"
timed C.wg.setconf wg setconf wgc "$tmp/big.conf"
timed C.wg.showconf wg showconf wgc
same "the C driver's showconf and the configuration file" "$tmp/big.conf" "$tmp/C.wg.showconf.out"
timed C.wg.dump wg show wgc dump
counts wgc
timed C.wg.setconf-again wg setconf wgc "$tmp/big.conf"
wg showconf wgc >"$tmp/C.again"
same "the C driver's showconf after replacing every peer" "$tmp/big.conf" "$tmp/C.again"
timed C.del ip link del wgc
ip link add wgc type wireguard || fail "ip link add (C, for wgctl)"
timed C.wgctl.setconf "$WGCTL" setconf wgc "$tmp/big.conf"
wg showconf wgc >"$tmp/C.wgctl.conf"
same "the C driver's showconf after wgctl setconf" "$tmp/big.conf" "$tmp/C.wgctl.conf"
ip link del wgc
unload_c_wireguard

# 2. rust_wg, read back by both tools.
load_rust_wg || fail "insmod rust_wg"
ip link add wg0 type wireguard || fail "ip link add (rust_wg)"
timed rust.wg.setconf wg setconf wg0 "$tmp/big.conf"
timed rust.wg.showconf wg showconf wg0
same "rust_wg's showconf and the configuration file" "$tmp/big.conf" "$tmp/rust.wg.showconf.out"
timed rust.wg.dump wg show wg0 dump
same "rust_wg's and the C driver's dump (wg)" "$tmp/C.wg.dump.out" "$tmp/rust.wg.dump.out"
timed rust.wgctl.showconf "$WGCTL" showconf wg0
same "wgctl's showconf of rust_wg" "$tmp/big.conf" "$tmp/rust.wgctl.showconf.out"
timed rust.wgctl.dump "$WGCTL" show wg0 dump
same "wgctl's dump of rust_wg and wg's of the C driver" "$tmp/C.wg.dump.out" "$tmp/rust.wgctl.dump.out"
counts wg0
timed rust.wg.setconf-again wg setconf wg0 "$tmp/big.conf"
wg showconf wg0 >"$tmp/rust.again"
same "rust_wg's showconf after replacing every peer" "$tmp/big.conf" "$tmp/rust.again"
timed rust.del ip link del wg0
ip link add wg0 type wireguard || fail "ip link add (rust_wg, for wgctl)"
timed rust.wgctl.setconf "$WGCTL" setconf wg0 "$tmp/big.conf"
wg showconf wg0 >"$tmp/rust.wgctl.conf"
same "rust_wg's showconf after wgctl setconf" "$tmp/big.conf" "$tmp/rust.wgctl.conf"
ip link del wg0

t() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/times"; }
ratio() { awk -v a="$(t "$1")" -v b="$(t "$2")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
	echo "rust_wg/C with wg: setconf x$(ratio rust.wg.setconf C.wg.setconf), showconf x$(ratio rust.wg.showconf C.wg.showconf), dump x$(ratio rust.wg.dump C.wg.dump), setconf replacing all x$(ratio rust.wg.setconf-again C.wg.setconf-again), ip link del x$(ratio rust.del C.del)"
	echo "wgctl/wg setconf: on rust_wg x$(ratio rust.wgctl.setconf rust.wg.setconf), on C x$(ratio C.wgctl.setconf C.wg.setconf); wgctl/wg on rust_wg: showconf x$(ratio rust.wgctl.showconf rust.wg.showconf), dump x$(ratio rust.wgctl.dump rust.wg.dump)"
	echo "rust_wg+wgctl / C+wg setconf: x$(ratio rust.wgctl.setconf C.wg.setconf)"
} | tee -a "$out"
log "$peers peers / $want_ips allowed IPs set and read back identically by C and rust_wg, wg and wgctl"
