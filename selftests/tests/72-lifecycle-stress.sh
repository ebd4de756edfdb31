#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Lifecycle stress for rust_wg: (1) devices and peers created and deleted in a loop while a TCP flow runs through a
# tunnel and `wg show all dump` runs in a loop in both namespaces; (2) rmmod under full traffic (iperf3 and a ping
# flood through the tunnel, devices in two namespaces), repeated. Asserted: every step's commands succeed, the flow
# survives the churn, rmmod succeeds every time, no splat (runner), and every interface, peer and keypair the
# module logged as created was logged as destroyed (the netns.sh leak check, by id). Namespace deletion with live
# sockets is 73-netns-lifetime.
#
# RWG_RMMOD_LOOPS and RWG_CHURN_SECONDS size it (CI defaults below; `make soak`: 100 rmmods, 600 s of churn).
# timeout: 1500
. "$RUST_WG_TOP/selftests/lib.sh"
. "$RUST_WG_TOP/selftests/hardening.sh"

LOOPS=${RWG_RMMOD_LOOPS:-3}
CHURN=${RWG_CHURN_SECONDS:-30}
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v iperf3 >/dev/null || skip "iperf3 not installed"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	ns_cleanup
	rust_wg_loaded && unload_rust_wg
	return 0
}
trap cleanup EXIT
unload_c_wireguard 2>/dev/null || true
# The kernel log is followed into a file: a long run logs more than the ring buffer holds.
dmesg -W >"$RESULTS/72-dmesg.txt" 2>&1 &
pids+=($!)
rust_wg_loaded || load_rust_wg || fail "insmod rust_wg"

# --- (1) churn under traffic and dumps
tunnel_up
ip netns exec "$NS2" iperf3 -s -p 5201 >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
ip netns exec "$NS1" iperf3 -c 10.99.0.2 -p 5201 -t $((CHURN + 5)) -J >"$RESULTS/72-iperf.json" 2>&1 &
iperf=$!
for ns in "$NS1" "$NS2"; do
	(while :; do ip netns exec "$ns" wg show all dump >/dev/null 2>&1; done) &
	pids+=($!)
done
end=$(($(date +%s) + CHURN))
devs=0 peers=0
while [ "$(date +%s)" -lt $end ] || [ $devs -lt 2 ]; do
	i=$((devs % 4 + 1))
	ip -n "$NS1" link add wgc$i type wireguard || fail "link add wgc$i"
	ip -n "$NS1" link set wgc$i up || fail "link up wgc$i"
	n1 wg set wgc$i private-key <(wg genkey) listen-port 0 || fail "wg set wgc$i"
	for j in 1 2 3; do
		n1 wg set wgc$i peer "$(wg genkey | wg pubkey)" endpoint 192.168.241.2:$((52000 + j)) \
			allowed-ips 10.72.$i.$j/32,fd72::$i:$j/128 persistent-keepalive 1 || fail "peer on wgc$i"
		peers=$((peers + 1))
	done
	# Peers come and go on the busy device too (never the tunnel's own).
	k=$(wg genkey | wg pubkey)
	n1 wg set wg0 peer "$k" allowed-ips 10.73.$i.0/24 endpoint 192.168.241.2:51002 || fail "extra peer on wg0"
	n2 wg set wg0 peer "$k" allowed-ips 10.73.$i.0/24 || fail "extra peer on wg0 in $NS2"
	n1 wg set wg0 peer "$k" remove || fail "remove extra peer"
	n2 wg set wg0 peer "$k" remove || fail "remove extra peer in $NS2"
	peers=$((peers + 2))
	[ $((devs % 2)) = 0 ] && { ip -n "$NS1" link del wgc$i || fail "link del wgc$i"; }
	[ $((devs % 2)) = 1 ] && { n1 wg set wgc$i private-key /dev/null; ip -n "$NS1" link set wgc$i down; ip -n "$NS1" link del wgc$i || fail "link del wgc$i"; }
	devs=$((devs + 1))
done
wait $iperf || { tail -n 20 "$RESULTS/72-iperf.json"; fail "the TCP flow through the tunnel died during the churn"; }
for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
pids=("${pids[0]}")
bps=$(iperf_bps "$RESULTS/72-iperf.json")
n1 ping -c 2 -W 2 10.99.0.2 >/dev/null || fail "tunnel after the churn"
log "churn: $devs devices and $peers peers created and deleted in ${CHURN}s under a TCP flow ($bps bit/s) and dumps"

# --- (2) rmmod under full traffic
for it in $(seq 1 "$LOOPS"); do
	rust_wg_loaded || load_rust_wg || fail "insmod rust_wg (iteration $it)"
	tunnel_up
	ip netns exec "$NS2" iperf3 -s -p 5203 -1 >/dev/null 2>&1 &
	srv=$!
	sleep 0.3
	ip netns exec "$NS1" iperf3 -c 10.99.0.2 -p 5203 -t 30 >/dev/null 2>&1 &
	cli=$!
	ip netns exec "$NS2" ping -f -w 30 10.99.0.1 >/dev/null 2>&1 &
	fl=$!
	sleep 2
	rmmod rust_wg || fail "rmmod under traffic (iteration $it)"
	kill $srv $cli $fl 2>/dev/null || true; wait $srv $cli $fl 2>/dev/null || true
	ip -n "$NS1" link show wg0 >/dev/null 2>&1 && fail "wg0 survived rmmod"
	ns_cleanup
done
log "rmmod under traffic: $LOOPS times"

# Every object created was destroyed (the netns.sh check, by id).
sleep 1
declare -A objects
while read -r line; do
	[[ $line =~ (wg[a-z0-9]*:\ [A-Z][a-z]+\ ?[0-9]*)\ .*(created|destroyed) ]] || continue
	objects["${BASH_REMATCH[1]}"]+="${BASH_REMATCH[2]} "
done <"$RESULTS/72-dmesg.txt"
bad=0
for o in "${!objects[@]}"; do
	v=${objects[$o]}
	c=$(grep -o created <<<"$v" | wc -l); d=$(grep -o destroyed <<<"$v" | wc -l)
	[ "$c" = "$d" ] || { echo "leak: $o: $v"; bad=$((bad + 1)); }
done
[ $bad = 0 ] || fail "$bad objects created but not destroyed"
[ "${#objects[@]}" -gt 0 ] || fail "no created/destroyed lines in dmesg"
log "${#objects[@]} logged objects, each created and destroyed"
echo "RESULT-72 churn_devices=$devs churn_peers=$peers churn_seconds=$CHURN rmmod_loops=$LOOPS objects=${#objects[@]}" >>"$RESULTS/figures.txt"
