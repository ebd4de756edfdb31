#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/latency.sh (see there). Runs as root in the VM.
set -euo pipefail
. "$1"
. "$RUST_WG_TOP/selftests/lib.sh"
mkdir -p "$OUT/raw" /run/netns
TMPD=$(mktemp -d)
note() { echo "$(date +%T) $*" >>"$OUT/guest.log"; }
PIDS=()
teardown() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
	PIDS=()
	ns_cleanup
}
trap teardown EXIT
wait_until() { local n=$(($1 * 5)); shift; while ((n-- > 0)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
listening() { n2 ss -Hln"$1" "sport = :$2" | grep -q .; } # t|u PORT: a socket in ns2 listens there
wg genkey >"$TMPD/k1"; wg genkey >"$TMPD/k2"
P1=$(wg pubkey <"$TMPD/k1"); P2=$(wg pubkey <"$TMPD/k2")
kmod wireguard || note "no C driver"
insmod "$RUST_WG_KO" $RUST_PARAMS || note "insmod rust failed"
DST=10.241.0.2
setup() { # IMPL
	ns_pair
	local kind=wireguard tool=(wg)
	[ "$1" = rust ] && kind=rustwg tool=("$WGCTL" --family rustwg)
	ip -n "$NS1" link add wgt1 type $kind
	ip -n "$NS2" link add wgt2 type $kind
	n1 "${tool[@]}" set wgt1 private-key "$TMPD/k1" listen-port 51821 peer "$P2" endpoint 192.168.241.2:51822 allowed-ips 10.241.0.2/32
	n2 "${tool[@]}" set wgt2 private-key "$TMPD/k2" listen-port 51822 peer "$P1" endpoint 192.168.241.1:51821 allowed-ips 10.241.0.1/32
	ip -n "$NS1" addr add 10.241.0.1/24 dev wgt1
	ip -n "$NS2" addr add 10.241.0.2/24 dev wgt2
	if [ "$QDISC" != none ]; then
		ip netns exec "$NS1" tc qdisc replace dev wgt1 root "$QDISC"
		ip netns exec "$NS2" tc qdisc replace dev wgt2 root "$QDISC"
	fi
	ip -n "$NS1" link set wgt1 up
	ip -n "$NS2" link set wgt2 up
	wait_until 30 n1 ping -c 1 -W 1 -q "$DST"
	n2 taskset -c 1 iperf3 -s -B "$DST" >/dev/null 2>&1 &
	PIDS+=($!)
	n2 irtt server -b "$DST" >/dev/null 2>>"$OUT/guest.log" &
	PIDS+=($!)
	# Both servers listening before the first client (round 1's probe failed at once without this).
	wait_until 10 listening t 5201 || note "iperf3 server not listening"
	wait_until 10 listening u 2112 || note "irtt server not listening"
}
for r in $(seq 1 "$ROUNDS"); do
	for impl in $IMPLS; do
		d=$OUT/raw/$impl/r$r
		mkdir -p "$d"
		note "round $r $impl"
		setup "$impl" >>"$OUT/guest.log" 2>&1 || { note "setup $impl failed"; teardown; continue; }
		n1 taskset -c 0 timeout -k 5 $((DUR + 30)) iperf3 -c "$DST" -J -t "$DUR" -O 1 >"$d/tcp1.json" 2>>"$OUT/guest.log" || note "tcp1 failed"
		sleep 0.5
		n1 taskset -c 0 timeout -k 5 $((RTT_DUR + 40)) iperf3 -c "$DST" -J -t $((RTT_DUR + 4)) >"$d/rtt_load_bulk.json" 2>>"$OUT/guest.log" &
		bulk=$!
		sleep 2
		# Where the standing queue is: the outer path (veth, no tunnel) probed alongside; rust_wg prints its queues'
		# sojourn times when the peers go (teardown, below).
		n1 timeout -k 5 $((RTT_DUR + 10)) ping -q -i 0.1 -w "$RTT_DUR" 192.168.241.2 >"$d/outer_ping.txt" 2>&1 &
		ping_pid=$!
		n1 timeout -k 5 $((RTT_DUR + 30)) irtt client -i 20ms -d "${RTT_DUR}s" -l 172 -Q --timeouts=1s,2s,4s -o "$d/rtt_load.json" "$DST" 2>>"$OUT/guest.log" || note "irtt failed"
		wait "$ping_pid" || true
		wait "$bulk" || note "bulk failed"
		n1 ip -s link show wgt1 >"$d/link1.txt" 2>&1 || true
		n2 ip -s link show wgt2 >"$d/link2.txt" 2>&1 || true
		n1 nstat -az TcpRetransSegs TcpExtTCPLostRetransmit >"$d/nstat1.txt" 2>&1 || true
		cat /proc/net/softnet_stat >"$d/softnet.txt" 2>&1 || true
		n1 tc -s qdisc show dev wgt1 >"$d/qdisc1.txt" 2>&1 || true
		dmesg -c >/dev/null 2>&1 || true
		teardown
		sleep 1
		dmesg | grep ' queues: ' >"$d/queues.txt" 2>&1 || true
	done
done
note done
