#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Peer notifications of rust_wg's "peers" multicast group through `wgctl monitor`: peer added and removed (by SET
# and by REPLACE_PEERS), endpoint set, and handshake and endpoint events when two rust_wg devices in two namespaces
# talk, and endpoint events when one of them roams (a new source port, then a new source address). Notifications go
# to the device's namespace only; subscribing needs CAP_NET_ADMIN.
. "$RUST_WG_TOP/selftests/lib.sh"
umask 077

[ -x "${WGCTL:-}" ] || skip "wgctl not built at ${WGCTL:-<unset>}"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
mons=()
extra_cleanup() {
	local p
	for p in "${mons[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ns_cleanup
}
rust_wg_scratch
ns_pair

# monitor NAME [NS]: wgctl monitor in the background (in namespace NS), output in $tmp/NAME.
monitor() {
	if [ -n "${2:-}" ]; then
		ip netns exec "$2" "$WGCTL" monitor >"$tmp/$1" 2>&1 &
	else
		"$WGCTL" monitor >"$tmp/$1" 2>&1 &
	fi
	mons+=($!)
}
# expect NAME LINE: LINE appears in $tmp/NAME within 10 s.
expect() {
	for _ in $(seq 1 100); do
		grep -qxF "$2" "$tmp/$1" && return 0
		sleep 0.1
	done
	echo "--- $1:" >&2
	cat "$tmp/$1" >&2
	fail "no '$2' from monitor $1"
}

monitor init
monitor other "$NS1"
sleep 1
k1=$(wg genkey | wg pubkey)
k2=$(wg genkey | wg pubkey)
wg set wg0 peer "$k1" allowed-ips 10.0.0.1/32 || fail "add peer"
expect init "wg0 $k1 added"
wg set wg0 peer "$k1" endpoint 192.168.241.9:1234 || fail "set endpoint"
expect init "wg0 $k1 endpoint 192.168.241.9:1234"
wg set wg0 peer "$k1" remove || fail "remove peer"
expect init "wg0 $k1 removed"
wg set wg0 peer "$k1" peer "$k2" || fail "add two peers"
expect init "wg0 $k2 added"
printf '[Interface]\n' >"$tmp/empty.conf"
wg setconf wg0 "$tmp/empty.conf" || fail "setconf (replace peers)"
expect init "wg0 $k1 removed"
expect init "wg0 $k2 removed"
sleep 0.5
[ ! -s "$tmp/other" ] || fail "a monitor in another namespace saw: $(head -n1 "$tmp/other")"
log "added, endpoint and removed seen; nothing in another namespace"

# Unprivileged listeners may not subscribe (GENL_MCAST_CAP_NET_ADMIN).
! timeout 15 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$WGCTL" monitor >"$tmp/unpriv" 2>&1 ||
	fail "unprivileged monitor subscribed"
grep -qi "not permitted" "$tmp/unpriv" || fail "unprivileged monitor: $(cat "$tmp/unpriv")"

# Two rust_wg devices talking: handshake (and endpoint learned by the responder).
ip -n "$NS1" link add wg1 type wireguard || fail "wg1"
ip -n "$NS2" link add wg2 type wireguard || fail "wg2"
wg genkey >"$tmp/k1"
wg genkey >"$tmp/k2"
p1=$(wg pubkey <"$tmp/k1")
p2=$(wg pubkey <"$tmp/k2")
n1 wg set wg1 private-key "$tmp/k1" listen-port 10001 peer "$p2" allowed-ips 10.9.0.2/32 endpoint 192.168.241.2:10002
n2 wg set wg2 private-key "$tmp/k2" listen-port 10002 peer "$p1" allowed-ips 10.9.0.1/32
ip -n "$NS1" addr add 10.9.0.1/24 dev wg1
ip -n "$NS2" addr add 10.9.0.2/24 dev wg2
ip -n "$NS1" link set wg1 up
ip -n "$NS2" link set wg2 up
monitor ns1 "$NS1"
monitor ns2 "$NS2"
sleep 1
# The first packets wait for the handshake (X25519 is slow under TCG): allow 20 s.
pinged=0
for _ in $(seq 1 20); do
	if n1 ping -c 1 -W 1 10.9.0.2 >/dev/null; then pinged=1; break; fi
done
[ $pinged = 1 ] || fail "no traffic through the tunnel within 20 s"
expect ns1 "wg1 $p2 handshake"
expect ns2 "wg2 $p1 endpoint 192.168.241.1:10001"
expect ns2 "wg2 $p1 handshake"
grep -q "wg2 " "$tmp/ns1" && fail "ns1 saw wg2's events"
log "handshake and endpoint events seen in each device's namespace"

# Roaming, as ns2 sees it: ns1's packets come from a new port (its listen port changed), then from a new address
# (the old one removed, as after a DHCP renewal: wg1's cached source no longer exists, so routing picks the new one).
# ns2 learns each from authenticated data and reports it.
n1 wg set wg1 listen-port 10003 || fail "new listen port"
n1 ping -c 2 -W 5 10.9.0.2 >/dev/null || fail "no traffic after the port change"
expect ns2 "wg2 $p1 endpoint 192.168.241.1:10003"
# The new address is a secondary one of the same subnet; promotion keeps it (and the subnet route) when the primary
# goes.
n1 sysctl -qw net.ipv4.conf.veth1.promote_secondaries=1
ip -n "$NS1" addr add 192.168.241.11/24 dev veth1
ip -n "$NS1" addr del 192.168.241.1/24 dev veth1
assert_eq "$(ip -n "$NS1" -4 -o addr show dev veth1 | awk '{ print $4 }')" "192.168.241.11/24" "ns1's address after the change"
n1 ping -c 2 -W 5 10.9.0.2 >/dev/null || fail "no traffic after the address change"
expect ns2 "wg2 $p1 endpoint 192.168.241.11:10003"
assert_eq "$(n2 wg show wg2 endpoints | cut -f2)" "192.168.241.11:10003" "wg2's endpoint after the roams"
grep -q "wg2 " "$tmp/ns1" && fail "ns1 saw wg2's roam events"
log "roams (new port, then new address) seen as endpoint events in the peer's namespace only"
