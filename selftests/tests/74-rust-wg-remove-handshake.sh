#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Peers removed while their handshakes complete (issue 6 review finding): a handshake that finishes after its
# peer's removal started must not register an index or install a keypair on the dead peer. Before the fix, the
# session's index entry stayed in the device's index table and held the peer (and the peer the device): the peer
# was never freed ("Peer N destroyed" missing), nor the device after deletion.
#
# ns1: wg0 with K peers; ns2: K devices wg1..wgK, one per peer. For RWG_RACE_SECONDS, one loop in ns1 removes and
# re-adds all of wg0's peers and sends to each (wg0 initiates), while another in ns2 does the same with wg0's peer on
# each wgJ (wgJ initiates, so initiations also cross); removals run into handshakes of both roles. At the end every
# peer ever removed from wg0 must have been freed while wg0 still exists, and after deleting everything every
# logged object is destroyed (netns.sh's leak check).
#
# RWG_RACE_PEERS and RWG_RACE_SECONDS size it.
# timeout: 900
. "$RUST_WG_TOP/selftests/lib.sh"

K=${RWG_RACE_PEERS:-8}
# The race must create at least 2 sessions per peer: its length is stretched on a slower kernel (lib.sh: slow).
SECONDS_RACE=${RWG_RACE_SECONDS:-$(slow 40)}
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; ns_cleanup; rust_wg_loaded && unload_rust_wg' EXIT
unload_c_wireguard 2>/dev/null || true
# The kernel log is followed into a file: the run logs more than the ring buffer may hold.
klog=$RESULTS/74-dmesg.txt
echo "74: followed kernel log" >"$klog"
stdbuf -oL dmesg -W >>"$klog" 2>&1 &
pids+=($!)
rust_wg_loaded || load_rust_wg || fail "insmod rust_wg"
ns_pair

# wg0 has 10.74.0.1 and, for each J, 10.74.2.J, which only wgJ routes to (so ns2 can send through wgJ without
# binding to it); wgJ has 10.74.1.J, which wg0 reaches through peer J.
KA=$(wg genkey); PA=$(wg pubkey <<<"$KA")
ip -n "$NS1" link add wg0 type wireguard
ip -n "$NS1" addr add 10.74.0.1/16 dev wg0
n1 wg set wg0 private-key <(echo "$KA") listen-port 51820
ip -n "$NS1" link set wg0 up
tmp=$(mktemp -d)
# Commands batched (one `ip` and one shell per namespace): each exec costs a second under a loaded TCG host.
for j in $(seq 1 "$K"); do
	kb=$(wg genkey); pb=$(wg pubkey <<<"$kb")
	echo "addr add 10.74.2.$j/32 dev wg0" >>"$tmp/ip1"
	printf 'link add wg%d type wireguard\naddr add 10.74.1.%d/32 dev wg%d\nlink set wg%d up\n' $j $j $j $j >>"$tmp/ip2"
	echo "route add 10.74.2.$j/32 dev wg$j" >>"$tmp/ip2r"
	echo "wg set wg$j private-key <(echo $kb) listen-port $((52000 + j)) && wg addconf wg$j $tmp/wg$j.conf" >>"$tmp/wg2"
	printf '[Peer]\nPublicKey = %s\nEndpoint = 192.168.241.2:%d\nAllowedIPs = 10.74.1.%d/32\n\n' \
		"$pb" $((52000 + j)) "$j" >>"$tmp/wg0.conf"
	printf '[Peer]\nPublicKey = %s\nEndpoint = 192.168.241.1:51820\nAllowedIPs = 10.74.0.0/16\n' "$PA" \
		>"$tmp/wg$j.conf"
	echo "$pb" >>"$tmp/keys"
done
ip -n "$NS1" -batch "$tmp/ip1" || fail "addresses of wg0"
ip -n "$NS2" -batch "$tmp/ip2" || fail "devices in $NS2"
ip -n "$NS2" -batch "$tmp/ip2r" || fail "routes in $NS2"
n2 bash -e "$tmp/wg2" || fail "wg set in $NS2"
remove=$(sed 's/.*/peer & remove/' "$tmp/keys" | tr '\n' ' ')
export K tmp remove PA

n1 wg addconf wg0 "$tmp/wg0.conf" || fail "addconf wg0"
pings=()
for j in $(seq 1 "$K"); do
	n1 ping -c 1 -W 5 10.74.1.$j >/dev/null 2>&1 &
	pings+=($!)
done
wait "${pings[@]}" || true
ok=$(n1 wg show wg0 latest-handshakes | awk '$2 > 0' | wc -l)
((ok > 0)) || fail "no handshake completed on wg0 before the race"
log "setup: $ok of $K peers of wg0 have a session (${SECONDS}s)"

end=$(($(date +%s) + SECONDS_RACE))
export end
n1 bash -c '
	r=0
	while [ "$(date +%s)" -lt $end ]; do
		for j in $(seq 1 $K); do echo x >/dev/udp/10.74.1.$j/9; done
		sleep 0.$((RANDOM % 30))
		wg set wg0 $remove || exit 1
		wg addconf wg0 $tmp/wg0.conf || exit 1
		r=$((r + 1))
	done
	echo $r >$tmp/rounds1' &
loop1=$!
n2 bash -c '
	r=0
	while [ "$(date +%s)" -lt $end ]; do
		for j in $(seq 1 $K); do
			wg set wg$j peer $PA remove || exit 1
			wg addconf wg$j $tmp/wg$j.conf || exit 1
			echo x >/dev/udp/10.74.2.$j/9
		done
		r=$((r + 1))
	done
	echo $r >$tmp/rounds2' &
loop2=$!
wait $loop1 || fail "the churn loop in $NS1 failed"
wait $loop2 || fail "the churn loop in $NS2 failed"
keypairs=$(grep -c 'wg0: Keypair [0-9]* created' "$klog" || true)
log "$(cat "$tmp/rounds1") rounds on wg0, $(cat "$tmp/rounds2") on wg1..wg$K: $keypairs keypairs created on wg0 (${SECONDS}s)"
((keypairs >= 2 * K)) || fail "only $keypairs sessions on wg0: the race was not exercised"

# All peers go; wg0 stays. Every peer wg0 ever had must be freed now (work and RCU callbacks finish quickly).
n1 wg set wg0 $remove || fail "final removal"
created=$(sed -n 's/.*wg0: Peer \([0-9]*\) created.*/\1/p' "$klog" | sort)
for i in $(seq 1 "$(slow 20)"); do
	destroyed=$(sed -n 's/.*wg0: Peer \([0-9]*\) destroyed.*/\1/p' "$klog" | sort)
	[ "$created" = "$destroyed" ] && break
	sleep 0.5
done
left=$(comm -23 <(echo "$created") <(echo "$destroyed") | tr '\n' ' ')
[ -z "$left" ] || fail "peers of wg0 removed but never freed (leaked): $left"
log "$(wc -l <<<"$created") peers of wg0 created, removed and freed (${SECONDS}s)"

ip -n "$NS1" link del wg0
for j in $(seq 1 "$K"); do ip -n "$NS2" link del wg$j; done
ns_cleanup
unload_rust_wg || fail "rmmod rust_wg"
sleep 1
log "everything deleted, rust_wg unloaded (${SECONDS}s)"
! grep -q 'index entries left' "$klog" || fail "index entries left at teardown"
# Every interface, peer and keypair logged as created is destroyed (check_objects over the followed log).
dmesg() { cat "$klog"; }
# The whole followed log, after its first line (check_objects takes a mark since 7dcc9de; "0" matched every line
# with a 0 in it, so it looked at nothing).
check_objects "74: followed kernel log"
