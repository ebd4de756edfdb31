#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg end to end between two namespaces over veth, both sides rust_wg: handshake, ping v4/v6, iperf3 TCP both
# ways, peer removal under traffic, device deletion under traffic, rmmod under traffic, and every "created" object
# (interface, peer, keypair) logged as "destroyed" afterwards, as the kernel's netns.sh checks.
#
# Configuration goes through the TEST-ONLY loopback path of rustwg_test.ko (rust_wg/testcfg.rs), until the genl
# family (netlink.rs) exists; it drives the same Device::apply that netlink will.
. "$RUST_WG_TOP/selftests/lib.sh"

TEST_KO="$(dirname "$RUST_WG_KO")/rustwg_test.ko"
[ -f "$TEST_KO" ] || fail "rustwg_test.ko not built at $TEST_KO"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v iperf3 >/dev/null || skip "iperf3 not installed"

# The UDP port the namespace's only UDP socket is bound to.
port_in() { ip netns exec "$1" cat /proc/net/udp | awk 'NR == 2 {split($2, a, ":"); print a[2]}' | { read -r h; echo $((16#$h)); }; }
# wait_ping NS ADDR: the first packets wait for the handshake (X25519 is slow under TCG); allow 20 s.
wait_ping() {
	local i
	for i in $(seq 1 20); do
		ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}
# cfg NS PORT TEXT: send a test configuration to the device in NS listening on PORT, wait until applied.
applied=0
cfg() {
	# One datagram: cat writes the file with one write(2) to bash's /dev/udp (printf would split it, ncat lingers).
	printf 'RWGTESTCFG\n%s\n' "$3" >"$RESULTS/cfg.txt"
	ip netns exec "$1" bash -c "cat '$RESULTS/cfg.txt' >/dev/udp/127.0.0.1/$2" || fail "sending config to $1"
	applied=$((applied + 1))
	for _ in $(seq 1 100); do
		[ "$(dmesg_since "$mark" | grep -c 'test configuration applied')" -ge "$applied" ] && return 0
		dmesg_since "$mark" | grep -q 'test configuration rejected' && fail "config rejected: $(dmesg_since "$mark" | grep rejected)"
		sleep 0.1
	done
	dmesg_since "$mark" | tail -n 20
	ip netns exec "$1" cat /proc/net/udp
	fail "config to $1 not applied"
}

mark=$(dmesg_mark)
insmod "$TEST_KO" || fail "insmod rustwg_test.ko"
trap 'ns_cleanup; rmmod rustwg_test 2>/dev/null || true' EXIT
ns_pair
k1=$(wg genkey); p1=$(echo "$k1" | wg pubkey)
k2=$(wg genkey); p2=$(echo "$k2" | wg pubkey)
for n in 1 2; do
	ns=$([ $n = 1 ] && echo "$NS1" || echo "$NS2")
	ip -n "$ns" link add rwg0 type rustwg
	ip -n "$ns" addr add 10.99.0.$n/24 dev rwg0
	ip -n "$ns" addr add fd99::$n/64 dev rwg0 nodad
	ip -n "$ns" link set rwg0 up
done
port1=$(port_in "$NS1"); port2=$(port_in "$NS2")
log "ports $port1 $port2"
cfg "$NS1" "$port1" "private_key $k1
peer $p2
endpoint 192.168.241.2:$port2
allowed_ip 10.99.0.2/32
allowed_ip fd99::2/128"
cfg "$NS2" "$port2" "private_key $k2
peer $p1
endpoint 192.168.241.1:$port1
allowed_ip 10.99.0.1/32
allowed_ip fd99::1/128"

wait_ping "$NS1" 10.99.0.2 || { dmesg_since "$mark" | tail -n 20; fail "no handshake"; }
n1 ping -c 3 -i 0.3 -W 5 10.99.0.2 >"$RESULTS/51-ping4.txt" 2>&1 || { cat "$RESULTS/51-ping4.txt"; dmesg | tail -30; fail "ping v4 through the tunnel"; }
n2 ping -c 3 -i 0.3 -W 5 fd99::1 >"$RESULTS/51-ping6.txt" 2>&1 || { cat "$RESULTS/51-ping6.txt"; fail "ping v6 through the tunnel"; }
log "ping v4 and v6 through the tunnel"
dmesg_since "$mark" | grep -q 'Keypair [0-9]* created for peer' || fail "no keypair created line"

n2 iperf3 -s -D -1 -p 5201
sleep 0.5
n1 iperf3 -c 10.99.0.2 -p 5201 -t 3 -J >"$RESULTS/51-iperf-1to2.json" || fail "iperf3 1->2"
n2 iperf3 -s -D -1 -p 5202
sleep 0.5
n1 iperf3 -c 10.99.0.2 -p 5202 -t 3 -R -J >"$RESULTS/51-iperf-2to1.json" || fail "iperf3 2->1"
bps() { python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$1"; }
log "iperf3 1->2 $(bps "$RESULTS/51-iperf-1to2.json") bit/s, 2->1 $(bps "$RESULTS/51-iperf-2to1.json") bit/s"

# Peer removal under traffic: the flow stops, nothing crashes, the peer is destroyed.
n1 ping -f -w 4 10.99.0.2 >/dev/null 2>&1 &
pid=$!
sleep 1
cfg "$NS1" "$port1" "peer $p2
remove"
wait $pid || true
! n1 ping -c 1 -W 1 10.99.0.2 >/dev/null 2>&1 || fail "ping works after the peer was removed"
# Put it back, traffic again.
cfg "$NS1" "$port1" "peer $p2
endpoint 192.168.241.2:$port2
allowed_ip 10.99.0.2/32"
wait_ping "$NS1" 10.99.0.2 || fail "ping after re-adding the peer"
log "peer removal under traffic"

# Device deletion under traffic.
n1 ping -f -w 4 10.99.0.2 >/dev/null 2>&1 &
pid=$!
sleep 1
ip -n "$NS2" link del rwg0
wait $pid || true
log "device deletion under traffic"

# rmmod under traffic (the device in NS1 still exists and sends into the void; recreate NS2's side first).
ip -n "$NS2" link add rwg0 type rustwg
ip -n "$NS2" addr add 10.99.0.2/24 dev rwg0
ip -n "$NS2" link set rwg0 up
port2=$(port_in "$NS2")
cfg "$NS2" "$port2" "private_key $k2
peer $p1
endpoint 192.168.241.1:$port1
allowed_ip 10.99.0.1/32"
cfg "$NS1" "$port1" "peer $p2
endpoint 192.168.241.2:$port2"
wait_ping "$NS1" 10.99.0.2 || fail "ping with the recreated device"
n1 ping -f -w 5 10.99.0.2 >/dev/null 2>&1 &
pid=$!
sleep 1
rmmod rustwg_test || fail "rmmod under traffic"
wait $pid || true
trap 'ns_cleanup' EXIT
log "rmmod under traffic"

# Every object created was destroyed (the netns.sh check, by id).
sleep 1
declare -A objects
while read -r line; do
	[[ $line =~ (wg[0-9]+:\ [A-Z][a-z]+\ ?[0-9]*)\ .*(created|destroyed) ]] || continue
	objects["${BASH_REMATCH[1]}"]+="${BASH_REMATCH[2]}"
done < <(dmesg_since "$mark")
bad=0
for o in "${!objects[@]}"; do
	v=${objects[$o]}
	c=$(grep -o created <<<"$v" | wc -l); d=$(grep -o destroyed <<<"$v" | wc -l)
	[ "$c" = "$d" ] || { echo "leak: $o: $v"; bad=1; }
done
[ $bad = 0 ] || fail "objects created but not destroyed"
log "${#objects[@]} objects created and destroyed"
