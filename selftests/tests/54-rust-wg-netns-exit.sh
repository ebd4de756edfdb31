#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# An up rust_wg device does not keep its creating namespace alive. (1) A device with a bound listen port in a
# namespace that is deleted: the namespace is dismantled (a veth canary whose other end lives in that namespace
# disappears) and the device with it ("Interface destroyed"). (2) A device created in namespace A and moved to B,
# up with its sockets in A: deleting A dismantles A; the device stays in B without carrier, cannot come up again
# (its sockets' namespace is gone: ENONET, as the C driver), and is destroyed cleanly when deleted.
# timeout: 180
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
A=rwg-nsa
B=rwg-nsb
cleanup() {
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	ip link del canary0 2>/dev/null || true
	rust_wg_loaded && unload_rust_wg
	return 0
}
trap cleanup EXIT
! rust_wg_loaded || unload_rust_wg
load_rust_wg || fail "insmod rust_wg"
mark=$(dmesg_mark)

# canary NS: a veth pair with canary0 here and its peer in NS; it disappears when NS is dismantled.
canary() { ip link add canary0 type veth peer name canary1 netns "$1"; }
# canary_gone SECONDS: the canary disappeared within SECONDS (stretched), i.e. the namespace was dismantled.
canary_absent() { ! ip link show canary0 >/dev/null 2>&1; }
canary_gone() { wait_for "$(slow "$1")" canary_absent; }
destroyed() { dmesg_since "$mark" | contains 'wg0: Interface destroyed'; }
udp_ports() { ip netns exec "$1" cat /proc/net/udp /proc/net/udp6 | awk 'NR > 1 && $2 ~ /:/ {split($2, a, ":"); print a[2]}' | sort -u; }

# 1. Device in its creating namespace.
ip netns add "$A"
ip -n "$A" link add wg0 type wireguard
ip netns exec "$A" wg set wg0 listen-port 4001 private-key <(wg genkey) peer "$(wg genkey | wg pubkey)" allowed-ips 10.0.0.2/32 endpoint 127.0.0.1:4002
ip -n "$A" link set wg0 up
[ "$(udp_ports "$A")" = "$(printf '%04X' 4001)" ] || fail "listen port 4001 not bound in $A: $(udp_ports "$A")"
canary "$A"
ip netns del "$A"
canary_gone 15 || fail "namespace with an up rust_wg device was not dismantled after ip netns del"
wait_for "$(slow 5)" destroyed || fail "device not destroyed with its namespace"
log "namespace with an up device dismantled, device destroyed"

# 2. Device moved out of its creating namespace, sockets left there.
mark=$(dmesg_mark)
ip netns add "$A"
ip netns add "$B"
ip -n "$A" link add wg0 type wireguard
ip -n "$A" link set wg0 netns "$B"
ip netns exec "$B" wg set wg0 listen-port 4003 private-key <(wg genkey)
ip -n "$B" link set wg0 up
[ "$(udp_ports "$A")" = "$(printf '%04X' 4003)" ] || fail "sockets of the moved device not in its creating namespace: $(udp_ports "$A")"
[ -z "$(udp_ports "$B")" ] || fail "sockets in the device's new namespace: $(udp_ports "$B")"
canary "$A"
ip netns del "$A"
canary_gone 15 || fail "creating namespace of a moved device was not dismantled"
ip -n "$B" link show wg0 | contains NO-CARRIER || fail "moved device still has carrier after its creating namespace died: $(ip -n "$B" link show wg0)"
ip -n "$B" link set wg0 down
if ip -n "$B" link set wg0 up 2>"$RESULTS/54-up.err"; then fail "moved device came up without its creating namespace"; fi
log "moved device: creating namespace dismantled, device left without carrier, up refused ($(cat "$RESULTS/54-up.err"))"
ip -n "$B" link del wg0
wait_for "$(slow 5)" destroyed || fail "moved device not destroyed"
ip netns del "$B"
unload_rust_wg || fail "rmmod rust_wg"
log "module unloaded"
