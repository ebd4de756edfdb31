#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# timeout: 1500
# rust_wg's genl family with wg and wgctl: the same sequence of configuration steps is run through wg and through
# wgctl, on rust_wg.ko and on the C wireguard.ko. After every step wg and wgctl read the device back identically
# (showconf and dump, byte for byte), and rust_wg's state equals the C driver's byte for byte (allowed IPs in
# the C driver's order too). A peer with 600 allowed IPs splits both SET and
# GET over several messages. Then the Linux 6.16 allowed-IP removal flag, which only rust_wg has.
. "$RUST_WG_TOP/selftests/lib.sh"
umask 077

[ -x "${WGCTL:-}" ] || skip "wgctl not built at ${WGCTL:-<unset>}"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
test_scratch wg0

# Keys are made once so that every run configures exactly the same thing.
for k in dev dev2 p1 p2 p3 p4 p5 p6; do wg genkey >"$tmp/$k.key"; wg pubkey <"$tmp/$k.key" >"$tmp/$k.pub"; done
wg genpsk >"$tmp/psk"
pub() { cat "$tmp/$1.pub"; }

{
	echo "[Interface]"
	echo "PrivateKey = $(cat "$tmp/dev.key")"
	echo "ListenPort = 7001"
	echo "FwMark = 0x2a"
	echo
	echo "[Peer]"
	echo "PublicKey = $(pub p1)"
	echo "PresharedKey = $(cat "$tmp/psk")"
	echo "Endpoint = 192.168.241.2:51820"
	echo "AllowedIPs = 10.20.1.0/24, fd00:7001::1/128"
	echo "PersistentKeepalive = 25"
	echo
	echo "[Peer]"
	echo "PublicKey = $(pub p2)"
	echo "Endpoint = [fd00:241::2]:12345"
	echo "AllowedIPs = 10.20.2.1/32"
	echo
	echo "[Peer]"
	echo "PublicKey = $(pub p3)"
	printf 'AllowedIPs = '
	for j in $(seq 0 599); do printf '10.21.%d.%d/32, ' $((j / 250)) $((j % 250)); done
	echo "fd00:7001:3::/64"
	echo
	echo "[Peer]"
	echo "PublicKey = $(pub p4)"
	echo
	echo "[Peer]"
	echo "PublicKey = $(pub p5)"
	echo "AllowedIPs = 10.20.5.0/24"
} >"$tmp/a.conf"
{
	echo "[Interface]"
	echo "PrivateKey = $(cat "$tmp/dev.key")"
	echo "ListenPort = 7002"
	echo
	echo "[Peer]"
	echo "PublicKey = $(pub p1)"
	echo "AllowedIPs = 10.20.1.0/25"
	echo
	echo "[Peer]"
	echo "PublicKey = $(pub p6)"
	echo "Endpoint = 192.168.241.9:9"
	echo "AllowedIPs = 10.20.6.0/24, 10.20.1.128/25"
} >"$tmp/b.conf"
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.98.0.0/16\n' "$(pub p2)" >"$tmp/add.conf"

# run NAME TOOL: the configuration steps through TOOL on a fresh wg0; after each, wg and wgctl must agree, and the
# state is kept as $tmp/NAME.N.
run() {
	local name=$1 tool=$2 n=0
	ip link add wg0 type wireguard || fail "$name: ip link add"
	check() {
		n=$((n + 1))
		wg showconf wg0 >"$tmp/$name.$n" || fail "$name step $n: wg showconf"
		"$WGCTL" showconf wg0 >"$tmp/$name.$n.wgctl" || fail "$name step $n: wgctl showconf"
		same "$name step $n ($1): wg and wgctl showconf" "$tmp/$name.$n" "$tmp/$name.$n.wgctl"
		wg show wg0 dump >"$tmp/$name.$n.dump"
		"$WGCTL" show wg0 dump >"$tmp/$name.$n.dump.wgctl"
		same "$name step $n ($1): wg and wgctl dump" "$tmp/$name.$n.dump" "$tmp/$name.$n.dump.wgctl"
	}
	check "empty"
	$tool setconf wg0 "$tmp/a.conf" || fail "$name: setconf"
	check "setconf"
	$tool set wg0 peer "$(pub p4)" allowed-ips 10.99.0.1/32,10.99.0.2/32 persistent-keepalive 5 || fail "$name: set"
	check "set allowed-ips"
	$tool set wg0 peer "$(pub p3)" remove || fail "$name: remove"
	check "remove"
	$tool set wg0 listen-port 7777 fwmark 0x10 || fail "$name: port"
	check "listen-port fwmark"
	$tool set wg0 private-key "$tmp/dev2.key" || fail "$name: private-key"
	check "private-key"
	$tool set wg0 peer "$(pub p1)" preshared-key /dev/null endpoint "[fd00:241::7]:5" || fail "$name: psk"
	check "preshared-key endpoint"
	$tool set wg0 peer "$(pub p5)" allowed-ips "" || fail "$name: clear allowed-ips"
	check "clear allowed-ips"
	$tool set wg0 peer "$(pub dev2)" allowed-ips 10.77.0.0/16 || fail "$name: own key"
	check "peer with the device's own key (ignored)"
	$tool syncconf wg0 "$tmp/b.conf" || fail "$name: syncconf"
	check "syncconf"
	$tool addconf wg0 "$tmp/add.conf" || fail "$name: addconf"
	check "addconf"
	$tool setconf wg0 "$tmp/a.conf" || fail "$name: setconf again"
	check "setconf again (replace peers)"
	$tool set wg0 private-key /dev/null || fail "$name: remove private key"
	check "private key removed"
	ip link del wg0
	echo "$n" >"$tmp/$name.steps"
}

load_c_wireguard || fail "modprobe wireguard"
run c-wg wg
run c-wgctl "$WGCTL"
unload_c_wireguard || fail "rmmod wireguard"
load_rust_wg || fail "insmod rust_wg"
run rust-wg wg
run rust-wgctl "$WGCTL"

for tool in wg wgctl; do
	steps=$(cat "$tmp/c-$tool.steps")
	for n in $(seq 1 "$steps"); do
		same "$tool step $n: C and rust_wg state" "$tmp/c-$tool.$n" "$tmp/rust-$tool.$n"
	done
done

# WGALLOWEDIP_F_REMOVE_ME (Linux 6.16): wgctl's +/- syntax.
ip link add wg0 type wireguard || fail "ip link add"
wg setconf wg0 "$tmp/a.conf"
p4=$(pub p4)
"$WGCTL" set wg0 peer "$p4" allowed-ips +10.99.0.1/32,+10.99.0.2/32 || fail "wgctl set +"
assert_eq "$(wg show wg0 allowed-ips | grep "^$p4" | cut -f2)" "10.99.0.1/32 10.99.0.2/32" "set +: added"
"$WGCTL" set wg0 peer "$p4" allowed-ips -10.99.0.1/32,-10.55.0.0/16 || fail "wgctl set -"
assert_eq "$(wg show wg0 allowed-ips | grep "^$p4" | cut -f2)" "10.99.0.2/32" "set -: removed one, ignored one not owned"
"$WGCTL" set wg0 peer "$(pub p5)" allowed-ips -10.99.0.2/32 || fail "wgctl set - of another peer's prefix"
assert_eq "$(wg show wg0 allowed-ips | grep "^$p4" | cut -f2)" "10.99.0.2/32" "set -: another peer's prefix stays"
log "wg and wgctl agree on rust_wg, and rust_wg agrees with the C driver, over $(cat "$tmp/c-wg.steps") steps each"
