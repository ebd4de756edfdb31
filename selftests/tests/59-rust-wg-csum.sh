#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Inner checksums are finished before encryption. A packet handed to the tunnel with CHECKSUM_PARTIAL (the stack
# left the inner TCP/UDP checksum to the device) must leave with that checksum computed and its state cleared:
# otherwise the outer UDP send keeps CHECKSUM_PARTIAL pointing into the ciphertext, and an outer device without
# checksum offload (or a NIC) writes the inner checksum into the encrypted bytes, so the peer's Poly1305 check fails.
# veth offloads checksums by default and hides this; the test turns tx checksumming off on the outer veths
# (ethtool -K tx off) and moves TCP through the tunnel, first on the C driver (control), then on rust_wg.
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v iperf3 >/dev/null || skip "iperf3 not installed"
command -v ethtool >/dev/null || skip "ethtool not installed"

# tcp_through KIND: TCP both ways through a wg_pair whose outer veths do not offload checksums.
tcp_through() {
	wg_pair
	n1 ethtool -K veth1 tx off >/dev/null || fail "ethtool -K veth1 tx off"
	n2 ethtool -K veth2 tx off >/dev/null || fail "ethtool -K veth2 tx off"
	wait_ping "$NS1" 10.99.0.2 || fail "$1: no handshake"
	n2 iperf3 -s -D -1 -p 5201
	sleep 0.5
	timeout "$(slow 30)" ip netns exec "$NS1" iperf3 -c 10.99.0.2 -p 5201 -n 2M -J >"$RESULTS/59-$1-1to2.json" ||
		fail "$1: TCP 1->2 over outer devices without checksum offload"
	n2 iperf3 -s -D -1 -p 5202
	sleep 0.5
	timeout "$(slow 30)" ip netns exec "$NS1" iperf3 -c 10.99.0.2 -p 5202 -n 2M -R -J >"$RESULTS/59-$1-2to1.json" ||
		fail "$1: TCP 2->1 over outer devices without checksum offload"
	log "$1: 2 MB each way over outer veths with tx checksum offload off"
	ip -n "$NS1" link del wg0
	ip -n "$NS2" link del wg0
	ns_cleanup
}

trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg; unload_c_wireguard 2>/dev/null' EXIT
load_c_wireguard || fail "modprobe wireguard"
tcp_through c
unload_c_wireguard || fail "rmmod wireguard"
load_rust_wg || fail "insmod rust_wg"
tcp_through rust_wg
unload_rust_wg || fail "rmmod rust_wg"
