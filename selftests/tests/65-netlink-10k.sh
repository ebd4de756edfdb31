#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# timeout: 1200
# 10 000 peers with 100 000 allowed IPs (NL_10K_PEERS, NL_10K_IPS per peer), timed against the C driver in the same
# VM, with wg and with wgctl:
#  1. wg configures the C wireguard.ko, then rust_wg.ko (setconf, showconf, setconf again replacing every peer);
#     rust_wg's showconf is byte-identical to the C driver's;
#  2. the C driver and rustwg_alt.ko (kind and family "rustwg") loaded together, both configured with wgctl
#     (--family rustwg for the latter); both read back the same bytes as the C driver through wg.
# Times go to the log and to $RESULTS/netlink-10k.txt.
. "$RUST_WG_TOP/selftests/lib.sh"
umask 077

[ -x "${WGCTL:-}" ] || skip "wgctl not built at ${WGCTL:-<unset>}"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
PY=/usr/bin/python3
[ -x $PY ] || skip "no $PY"
ALT_KO=$(dirname "$RUST_WG_KO")/rustwg_alt.ko
[ -f "$ALT_KO" ] || fail "rustwg_alt.ko not built at $ALT_KO"
peers=${NL_10K_PEERS:-10000}
ips=${NL_10K_IPS:-10}
tmp=$(mktemp -d)
cleanup() {
	for d in wgc wgx wgr wg0; do ip link del "$d" 2>/dev/null || true; done
	grep -q '^rustwg_alt ' /proc/modules && rmmod rustwg_alt
	rust_wg_loaded && unload_rust_wg
	unload_c_wireguard 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
! rust_wg_loaded || unload_rust_wg
unload_c_wireguard 2>/dev/null || true

# Keys are any 32 bytes (derived from the peer number). Every tenth peer has an IPv6 endpoint, every peer one IPv6
# prefix among its IPv4 ones, so both families and both orders of insertion are covered.
$PY - "$peers" "$ips" >"$tmp/big.conf" <<'PYEOF'
import base64, hashlib, sys
peers, ips = map(int, sys.argv[1:])
k = lambda s: base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
out = ['[Interface]\nPrivateKey = %s\nListenPort = 52999\n' % k('device')]
n = 0
for p in range(peers):
    a = []
    for i in range(ips):
        if i == ips // 2:
            a.append('fd10:%x::%x/128' % (p >> 16, p & 0xffff))
        else:
            a.append('10.%d.%d.%d/32' % (n >> 16 & 255, n >> 8 & 255, n & 255))
            n += 1
    port = 1024 + p % 60000
    ep = '[fd00::%x]:%d' % (p, port) if p % 10 == 0 else '192.168.%d.%d:%d' % (p >> 8 & 255, p & 255, port)
    out.append('[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n' % (k('peer%d' % p), ep, ', '.join(a)))
print('\n'.join(out))
PYEOF
want_ips=$((peers * ips))

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
same() { cmp -s "$2" "$3" || { diff -u "$2" "$3" | head -n 20 >&2; fail "$1 differ"; }; }

# timed NAME TOOL...: runs TOOL..., adds "NAME SECONDS" to the times and the log.
timed() {
	local name=$1 t
	shift
	t=$(now)
	"$@" || fail "$name: $*"
	echo "$name $(since "$t")" | tee -a "$tmp/times"
}

# round LABEL DEV AGAIN TOOL...: setconf, showconf (into $tmp/LABEL.conf), and if AGAIN is 1 setconf again
# (replacing every peer).
round() {
	local label=$1 dev=$2 again=$3 t
	shift 3
	timed "$label.setconf" "$@" setconf "$dev" "$tmp/big.conf"
	t=$(now)
	"$@" showconf "$dev" >"$tmp/$label.conf" || fail "$label: showconf"
	echo "$label.showconf $(since "$t")" | tee -a "$tmp/times"
	[ "$again" = 1 ] || return 0
	timed "$label.setconf-again" "$@" setconf "$dev" "$tmp/big.conf"
}

: >"$tmp/times"
# 1. wg on the C driver, then wg on rust_wg: the headline comparison.
load_c_wireguard || fail "modprobe wireguard"
ip link add wgc type wireguard || fail "ip link add (C)"
round C-wg wgc 1 wg
assert_eq "$(wg show wgc peers | wc -l)" "$peers" "C: peers"
assert_eq "$(wg show wgc allowed-ips | cut -f2 | wc -w)" "$want_ips" "C: allowed IPs"
wg showconf wgc >"$tmp/C-again.conf"
same "the C driver's showconf after setconf again" "$tmp/C-wg.conf" "$tmp/C-again.conf"
timed C.del ip link del wgc
unload_c_wireguard

load_rust_wg || fail "insmod rust_wg"
ip link add wg0 type wireguard || fail "ip link add (rust_wg)"
round rust-wg wg0 1 wg
same "rust_wg's showconf (wg) and the C driver's" "$tmp/C-wg.conf" "$tmp/rust-wg.conf"
wg showconf wg0 >"$tmp/rust-again.conf"
same "rust_wg's showconf after setconf again" "$tmp/C-wg.conf" "$tmp/rust-again.conf"
"$WGCTL" showconf wg0 >"$tmp/rust-wg-wgctl.conf"
same "wgctl's and wg's showconf of rust_wg" "$tmp/C-wg.conf" "$tmp/rust-wg-wgctl.conf"
timed rust.del ip link del wg0
unload_rust_wg

# 2. wgctl on the C driver and on rustwg_alt, loaded together.
load_c_wireguard || fail "modprobe wireguard"
insmod "$ALT_KO" || fail "insmod rustwg_alt"
ip link add wgx type wireguard || fail "ip link add (C, for wgctl)"
ip link add wgr type rustwg || fail "ip link add (rustwg_alt)"
round C-wgctl wgx 0 "$WGCTL"
same "wgctl's showconf of the C driver and wg's" "$tmp/C-wg.conf" "$tmp/C-wgctl.conf"
round rust-wgctl wgr 0 "$WGCTL" --family rustwg
same "rustwg_alt's showconf (wgctl) and the C driver's (wg)" "$tmp/C-wg.conf" "$tmp/rust-wgctl.conf"
ip link del wgx
ip link del wgr
rmmod rustwg_alt
unload_c_wireguard

t() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/times"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
	echo "$peers peers, $want_ips allowed IPs; TCG VM; seconds (setconf / showconf / setconf replacing all peers)"
	for l in C-wg rust-wg C-wgctl rust-wgctl; do
		printf '%-11s %7s %7s %7s\n' "$l" "$(t $l.setconf)" "$(t $l.showconf)" "$(t $l.setconf-again)"
	done
	echo "rust_wg/C with wg: setconf x$(ratio "$(t rust-wg.setconf)" "$(t C-wg.setconf)"), showconf x$(ratio "$(t rust-wg.showconf)" "$(t C-wg.showconf)"), setconf again x$(ratio "$(t rust-wg.setconf-again)" "$(t C-wg.setconf-again)")"
	echo "wgctl/wg on the C driver: setconf x$(ratio "$(t C-wgctl.setconf)" "$(t C-wg.setconf)"), showconf x$(ratio "$(t C-wgctl.showconf)" "$(t C-wg.showconf)")"
	echo "ip link del with $peers peers: C $(t C.del)s, rust_wg $(t rust.del)s"
} | tee "$RESULTS/netlink-10k.txt"
