#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg end to end between two namespaces over veth, both sides rust_wg.ko configured with wg(8) over genl:
# handshake, ping v4/v6, iperf3 TCP both ways, latest-handshake and transfer counters (wg show) agreeing with the
# device statistics (ip -s link), and every "created" object (interface, peer, keypair) logged as "destroyed" after
# the devices are deleted, as the kernel's netns.sh checks.
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v iperf3 >/dev/null || skip "iperf3 not installed"

mark=$(dmesg_mark)
load_rust_wg || fail "insmod rust_wg"
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg' EXIT
wg_pair

wait_ping "$NS1" 10.99.0.2 || { dmesg_since "$mark" | tail -n 20; fail "no handshake"; }
n1 ping -c 3 -i 0.3 -W 5 10.99.0.2 >"$RESULTS/51-ping4.txt" 2>&1 || { cat "$RESULTS/51-ping4.txt"; fail "ping v4 through the tunnel"; }
n2 ping -c 3 -i 0.3 -W 5 fd99::1 >"$RESULTS/51-ping6.txt" 2>&1 || { cat "$RESULTS/51-ping6.txt"; fail "ping v6 through the tunnel"; }
log "ping v4 and v6 through the tunnel"
dmesg_since "$mark" | contains 'Keypair [0-9]* created for peer' || fail "no keypair created line"
read -r _ ts < <(n1 wg show wg0 latest-handshakes)
[ "${ts:-0}" -gt 0 ] || fail "latest-handshake is 0 after pings"
[ "$(n2 wg show wg0 endpoints)" = "$P1	192.168.241.1:51821" ] || fail "endpoint on ns2: $(n2 wg show wg0 endpoints)"

n2 iperf3 -s -D -1 -p 5201
sleep 0.5
n1 iperf3 -c 10.99.0.2 -p 5201 -t 3 -J >"$RESULTS/51-iperf-1to2.json" || fail "iperf3 1->2"
n2 iperf3 -s -D -1 -p 5202
sleep 0.5
n1 iperf3 -c 10.99.0.2 -p 5202 -t 3 -R -J >"$RESULTS/51-iperf-2to1.json" || fail "iperf3 2->1"
log "iperf3 1->2 $(iperf_bps "$RESULTS/51-iperf-1to2.json") bit/s, 2->1 $(iperf_bps "$RESULTS/51-iperf-2to1.json") bit/s"

# The peer's transfer counters are what the device counts (one peer per device), and each side's rx is what the
# other sent (less at most 1% lost on the veth) once the traffic has stopped. The two are read one after the other,
# so a keepalive passing between the reads (10 s after the last data) makes them differ by one message: they must
# agree in one of a few reads half a second apart.
sleep 1
for ns in "$NS1" "$NS2"; do
	for try in 1 2 3 4 5 6; do
		read -r _ prx ptx < <(ip netns exec "$ns" wg show wg0 transfer)
		{ read -r _; read -r _; read -r _; read -r drx _; read -r _; read -r dtx _; } < <(ip -n "$ns" -stats link show dev wg0)
		[ "$prx" = "$drx" ] && [ "$ptx" = "$dtx" ] && break
		sleep 0.5
	done
	[ "$prx" = "$drx" ] && [ "$ptx" = "$dtx" ] || fail "$ns: wg show transfer rx $prx tx $ptx, ip -s link rx $drx tx $dtx (6 reads)"
done
read -r _ rx1 tx1 < <(n1 wg show wg0 transfer)
read -r _ rx2 tx2 < <(n2 wg show wg0 transfer)
((rx2 <= tx1 && rx2 * 100 >= tx1 * 99 && rx1 <= tx2 && rx1 * 100 >= tx2 * 99)) || fail "transfer: ns1 rx $rx1 tx $tx1, ns2 rx $rx2 tx $tx2"
log "transfer counters agree: ns1 -> ns2 $tx1 bytes, ns2 -> ns1 $tx2 bytes"

ip -n "$NS1" link del wg0
ip -n "$NS2" link del wg0
unload_rust_wg || fail "rmmod rust_wg"
check_objects "$mark"
