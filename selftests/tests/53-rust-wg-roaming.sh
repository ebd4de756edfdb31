#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg endpoint learning and roaming, configured with wg: a peer configured without an endpoint learns it from
# the initiator's handshake and answers there; when the initiator's source port, then source address, then address
# family change, the responder's `wg show wg0 endpoints` follows (authenticated packets only). Packets to a prefix
# without a peer, or to a peer without an endpoint, get ICMP "host unreachable" back, as from the C driver.
# timeout: 240
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
cleanup() {
	ns_cleanup
	rust_wg_loaded && unload_rust_wg
	return 0
}
trap cleanup EXIT
! rust_wg_loaded || unload_rust_wg
load_rust_wg || fail "insmod rust_wg"
ns_pair

# wait_ping NS ADDR: the first packets wait for a handshake (X25519 is slow under TCG); allow 20 s (lib.sh: slow).
wait_ping() {
	local i
	for i in $(seq 1 "$(slow 20)"); do
		ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}
# endpoint_is NS PEER WANT: the endpoint NS's wg0 shows for PEER becomes WANT within 10 s (lib.sh: slow).
endpoint_is() {
	local got i
	for i in $(seq 1 "$(slow 50)"); do
		got=$(ip netns exec "$1" wg show wg0 endpoints | awk -v p="$2" '$1 == p {print $2}')
		[ "$got" = "$3" ] && return 0
		sleep 0.2
	done
	fail "endpoint of the peer in $1: got '$got', expected '$3'"
}

k1=$(wg genkey); p1=$(echo "$k1" | wg pubkey)
k2=$(wg genkey); p2=$(echo "$k2" | wg pubkey)
k3=$(wg genkey); p3=$(echo "$k3" | wg pubkey)
echo "$k1" >"$RESULTS/53-k1"; echo "$k2" >"$RESULTS/53-k2"
for n in 1 2; do
	ns=$([ $n = 1 ] && echo "$NS1" || echo "$NS2")
	ip -n "$ns" link add wg0 type wireguard || fail "ip link add type wireguard in $ns"
	ip -n "$ns" addr add 10.99.0.$n/24 dev wg0
	ip -n "$ns" addr add fd99::$n/64 dev wg0 nodad
done
# ns1 is the responder: it does not know where ns2 is. A third peer has no endpoint at all.
n1 wg set wg0 private-key "$RESULTS/53-k1" listen-port 1001 \
	peer "$p2" allowed-ips 10.99.0.2/32,fd99::2/128 \
	peer "$p3" allowed-ips 10.99.0.3/32
n2 wg set wg0 private-key "$RESULTS/53-k2" listen-port 1002 \
	peer "$p1" allowed-ips 10.99.0.1/32,fd99::1/128 endpoint 192.168.241.1:1001
ip -n "$NS1" link set wg0 up
ip -n "$NS2" link set wg0 up
assert_eq "$(n1 wg show wg0 endpoints | awk -v p="$p2" '$1 == p {print $2}')" "(none)" "responder's endpoint before any packet"

# Nothing to send to: ICMP host unreachable, for a prefix without a peer and for a peer without an endpoint.
out=$(n1 ping -c 1 -W 2 10.99.0.77 2>&1 || true)
echo "$out" | contains 'Destination Host Unreachable' || fail "no ICMP host unreachable for a prefix without peer: $out"
out=$(n1 ping -c 1 -W 2 10.99.0.3 2>&1 || true)
echo "$out" | contains 'Destination Host Unreachable' || fail "no ICMP host unreachable for a peer without endpoint: $out"
out=$(n1 ping -6 -c 1 -W 2 fd99::77 2>&1 || true)
echo "$out" | contains -i 'unreachable' || fail "no ICMPv6 unreachable for a prefix without peer: $out"
log "ICMP host unreachable v4 and v6"

# The responder learns the initiator's endpoint from its handshake and answers there.
wait_ping "$NS2" 10.99.0.1 || fail "no handshake from ns2"
endpoint_is "$NS1" "$p2" 192.168.241.2:1002
n1 ping -c 2 -W 5 10.99.0.2 >/dev/null || fail "responder cannot reach the learnt endpoint"
log "endpoint learnt from the initiator: 192.168.241.2:1002"

# The initiator's source port changes: data packets from there move the endpoint.
n2 wg set wg0 listen-port 1003
n2 ping -c 2 -W 5 10.99.0.1 >/dev/null || fail "ping after the port change"
endpoint_is "$NS1" "$p2" 192.168.241.2:1003
n1 ping -c 2 -W 5 10.99.0.2 >/dev/null || fail "responder after the port change"
log "roamed to a new port"

# The initiator's source address changes (the new one stays when the old primary goes).
n2 sysctl -qw net.ipv4.conf.veth2.promote_secondaries=1
ip -n "$NS2" addr add 192.168.241.3/24 dev veth2
ip -n "$NS2" addr del 192.168.241.2/24 dev veth2
n2 ping -c 2 -W 5 10.99.0.1 >/dev/null || fail "ping after the address change"
endpoint_is "$NS1" "$p2" 192.168.241.3:1003
n1 ping -c 2 -W 5 10.99.0.2 >/dev/null || fail "responder after the address change"
log "roamed to a new address"

# ... and its address family.
n2 wg set wg0 peer "$p1" endpoint "[fd00:241::1]:1001"
n2 ping -c 2 -W 5 10.99.0.1 >/dev/null || fail "ping over IPv6 outer"
endpoint_is "$NS1" "$p2" "[fd00:241::2]:1003"
n1 ping -6 -c 2 -W 5 fd99::2 >/dev/null || fail "responder over the learnt IPv6 endpoint"
log "roamed to IPv6"

# A packet that does not authenticate does not move the endpoint: a forged data packet from another port.
n2 bash -c 'printf "\x04\x00\x00\x00AAAABBBBBBBBCCCCCCCCCCCCCCCC" >/dev/udp/fd00:241::1/1001' || true
slow_sleep 0.5
endpoint_is "$NS1" "$p2" "[fd00:241::2]:1003"
log "unauthenticated packet ignored"
