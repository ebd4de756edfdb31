#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# WireGuard inside WireGuard, as deep as the kernel lets devices without a queue nest (XMIT_RECURSION_LIMIT, 8):
# 8 devices in ns1, each one's peer reached through the one below, and the same 8 in ns2. A tunnel send that finds
# more than IP_TUNNEL_RECURSION_LIMIT (5) transmits nested on its CPU drops the packet ("Dead loop on virtual
# device"). The C driver always sends from workers, so each level starts again at 0; rust_wg's express lane seals
# and sends small packets in the caller's context, and before session 11 a 4-deep stack lost every packet through
# its top device (handshakes too), silently. The C driver runs the same scenario first, as the control.
# Asserted, for each: pings through the top device both ways (first the handshakes of all levels, each sent through
# the levels below), every level with a session, a burst of small pings from both sides at once with nothing lost,
# a TCP transfer (large packets: the pipeline at every level), no "Dead loop" message. A stack overflow would panic
# the VM; the runner checks dmesg for splats.
# timeout: 600
. "$RUST_WG_TOP/selftests/lib.sh"

LEVELS=8
need_tools wg iperf3
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg; unload_c_wireguard 2>/dev/null; true' EXIT

levels_diag() {
	local ns
	for ns in "$NS1" "$NS2"; do
		echo "== $ns" >&2
		ip netns exec "$ns" wg show all transfer >&2 || true
		ip netns exec "$ns" wg show all latest-handshakes >&2 || true
	done
	dmesg_since "$mark" | grep -v 'Sending\|Receiving\|Keypair' | tail -n 20 >&2
}

# run IMPL: the scenario on IMPL ("c" or "rust_wg"), the other one unloaded.
run() {
	local impl=$1 l n o ns ep top lost f p1 bps
	use_impl "$impl"
	mark=$(dmesg_mark)
	ns_pair
	# Level L: wgL in both namespaces, inner network 10.100.L.0/24, ports 52000+L; its endpoint is the peer's
	# address on level L-1 (level 1: the veth). Each level takes 80 bytes off the MTU (IPv6 outer overhead).
	for ((l = 1; l <= LEVELS; l++)); do
		for n in 1 2; do
			wg genkey >"$tmp/k$n.$l"
			wg pubkey <"$tmp/k$n.$l" >"$tmp/p$n.$l"
		done
		for n in 1 2; do
			o=$((3 - n))
			ns=$([ $n = 1 ] && echo "$NS1" || echo "$NS2")
			if ((l == 1)); then ep=192.168.241.$o; else ep=10.100.$((l - 1)).$o; fi
			ip -n "$ns" link add "wg$l" type wireguard
			ip -n "$ns" link set "wg$l" mtu $((1420 - 80 * (l - 1)))
			ip -n "$ns" addr add "10.100.$l.$n/24" dev "wg$l"
			ip netns exec "$ns" wg set "wg$l" private-key "$tmp/k$n.$l" listen-port $((52000 + l)) \
				peer "$(cat "$tmp/p$o.$l")" endpoint "$ep:$((52000 + l))" allowed-ips "10.100.$l.$o/32" ||
				fail "$impl: wg set wg$l in $ns"
			ip -n "$ns" link set "wg$l" up
		done
	done

	top=10.100.$LEVELS
	wait_ping "$NS1" "$top.2" 60 || { levels_diag; fail "$impl: no ping through $LEVELS nested devices (ns1 -> ns2)"; }
	n2 ping -c 1 -W 5 "$top.1" >/dev/null || { levels_diag; fail "$impl: no ping back (ns2 -> ns1)"; }
	for ((l = 1; l <= LEVELS; l++)); do
		read -r _ hs < <(n1 wg show "wg$l" latest-handshakes)
		[ "${hs:-0}" -gt 0 ] || fail "$impl: wg$l in ns1 has no session"
	done

	# Small packets in a burst from both sides at once: each one crosses every level on transmit.
	n1 ping -q -c 200 -i 0.01 -W 5 "$top.2" >"$tmp/ping1" &
	p1=$!
	n2 ping -q -c 200 -i 0.01 -W 5 "$top.1" >"$tmp/ping2" || true
	wait "$p1" || true
	for f in ping1 ping2; do
		lost=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$tmp/$f")
		assert_eq "${lost:-?}" 0 "$impl: loss of the small-ping burst ($f)"
	done

	n2 iperf3 -s -D -1 -p 5484
	slow_sleep 0.5
	n1 timeout "$(slow 60)" iperf3 -c "$top.2" -p 5484 -t 3 -J >"$RESULTS/84-iperf-$impl.json" ||
		fail "$impl: TCP through $LEVELS nested devices"
	if dmesg_since "$mark" | contains 'Dead loop'; then
		dmesg_since "$mark" | grep 'Dead loop' | head -n 3 >&2
		fail "$impl: a send was dropped as a routing loop"
	fi
	bps=$(iperf_bps "$RESULTS/84-iperf-$impl.json")
	log "$impl: $LEVELS levels, a session on each, 2 x 200 small pings without loss, TCP $bps bit/s"
	ns_cleanup
	case "$impl" in
	c) unload_c_wireguard ;;
	rust_wg) unload_rust_wg || fail "rmmod rust_wg" ;;
	esac
}

umask 077
tmp=$(mktemp -d)
run c
run rust_wg
rm -rf "$tmp"
