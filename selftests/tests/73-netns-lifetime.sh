#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Namespace deletion with live sockets, the C driver's semantics (device.c: sockets live in the creating namespace,
# which the device does not keep alive; when it dies, pernet pre_exit closes them and turns the carrier off):
#  (a) the namespace holding one end of a busy tunnel is deleted while a process still runs in it: once that process
#      exits the namespace dies, taking its wg0 (and veth) with it, while the other end keeps sending;
#  (b) a device created in A and moved to B (its socket stays in A) loses its carrier when A is deleted (the device
#      itself stays in B, as with the C driver);
#  (c) the same device's socket in A is closed when B, the device's own namespace, is deleted.
# Each case runs against the C wireguard.ko (control) and rust_wg; every failing case is reported, then the test
# fails if any did. No splat (runner).
. "$RUST_WG_TOP/selftests/lib.sh"
. "$RUST_WG_TOP/selftests/hardening.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v iperf3 >/dev/null || skip "iperf3 not installed"
A=rwg-nsA
B=rwg-nsB
cleanup() {
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	ns_cleanup
	rust_wg_loaded && unload_rust_wg
	unload_c_wireguard 2>/dev/null || true
	return 0
}
trap cleanup EXIT
failures=()
bad() { echo "FAILED: $*"; failures+=("$*"); }
# gone CMD...: true once CMD fails, within 10 s (lib.sh: slow).
gone() {
	local i
	for i in $(seq 1 "$(slow 50)"); do
		"$@" >/dev/null 2>&1 || return 0
		sleep 0.2
	done
	return 1
}

busy_tunnel_ns() { # IMPL
	local srv cli fl
	tunnel_up
	ip netns exec "$NS2" iperf3 -s -p 5202 -1 >/dev/null 2>&1 &
	srv=$!
	sleep 0.5
	ip netns exec "$NS1" iperf3 -c 10.99.0.2 -p 5202 -t 20 >/dev/null 2>&1 &
	cli=$!
	ip netns exec "$NS1" ping -f -w 20 10.99.0.2 >/dev/null 2>&1 &
	fl=$!
	sleep 3
	ip netns del "$NS2" || bad "$1: ip netns del $NS2"
	sleep 1
	kill $srv 2>/dev/null || true
	wait $srv 2>/dev/null || true
	gone ip -n "$NS1" link show veth1 || bad "$1: (a) $NS2, with a busy wg0, not torn down after its last process exited"
	kill $cli $fl 2>/dev/null || true
	wait $cli $fl 2>/dev/null || true
	ip -n "$NS1" link del wg0 2>/dev/null || true
	ns_cleanup
}

moved_device() { # IMPL PORT WHICH(A|B)
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	ip netns add $A
	ip netns add $B
	ip -n $A link add wg0 type wireguard || { bad "$1: link add in $A"; return; }
	ip -n $A link set wg0 netns $B || { bad "$1: move wg0 to $B"; return; }
	ip netns exec $B wg set wg0 private-key <(wg genkey) listen-port "$2" || bad "$1: wg set"
	ip -n $B link set wg0 up || bad "$1: up"
	ip netns exec $A ss -uln | contains ":$2 " || bad "$1: the socket is not in the creating namespace $A"
	if [ "$3" = A ]; then
		ip netns del $A
		gone bash -c "ip -n $B link show wg0 | grep -q LOWER_UP" ||
			bad "$1: (b) wg0 in $B still has its carrier after its creating namespace $A was deleted"
		ip -n $B link show wg0 >/dev/null 2>&1 || bad "$1: (b) wg0 vanished from $B with $A"
		ip -n $B link del wg0 2>/dev/null || true
	else
		ip netns del $B
		gone bash -c "ip netns exec $A ss -uln | grep -q ':$2 '" ||
			bad "$1: (c) port $2 still bound in $A after the device's namespace $B died"
	fi
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
}

unload_c_wireguard 2>/dev/null || true
! rust_wg_loaded || unload_rust_wg
for impl in "C wireguard.ko" rust_wg; do
	if [ "$impl" = rust_wg ]; then load_rust_wg || fail "insmod rust_wg"; else load_c_wireguard || fail "modprobe wireguard"; fi
	n=${#failures[@]}
	busy_tunnel_ns "$impl"
	moved_device "$impl" 51073 A
	moved_device "$impl" 51074 B
	[ ${#failures[@]} = "$n" ] && log "$impl: (a), (b) and (c) as the C driver defines them"
	if [ "$impl" = rust_wg ]; then unload_rust_wg || bad "rmmod rust_wg"; else unload_c_wireguard; fi
done
[ ${#failures[@]} = 0 ] || fail "${#failures[@]} cases failed: ${failures[*]}"
