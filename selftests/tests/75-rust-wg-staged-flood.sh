#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# No staged packet is forgotten when the device's crypt queue is full (issue 6 review finding): a peer whose packets
# stay staged because the device-wide queue (shared by all peers) is full, and whose own ring is empty, used to wait
# for its next packet from the stack, which may never come; now the worker that makes room kicks it.
#
# ns1: wg0 with K peers; ns2: K devices wg1..wgK. After every session is up, wg0 gets a burst of full-sized UDP
# datagrams spread over all peers from two real-time senders, one per CPU, which starve the crypt workers until they
# are done, so the device queue fills and the staging queues overflow (drops are fine). Once everything has been
# sent, one more datagram goes to each peer: it must move only itself. A peer left with stuck staged packets sends
# them along with it (its transfer counter jumps by many packets).
#
# RWG_FLOOD_PEERS and RWG_FLOOD_ROUNDS size it.
# timeout: 600
. "$RUST_WG_TOP/selftests/lib.sh"

K=${RWG_FLOOD_PEERS:-16}
ROUNDS=${RWG_FLOOD_ROUNDS:-300}
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v python3 >/dev/null || skip "python3 not installed"
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg' EXIT
unload_c_wireguard 2>/dev/null || true
rust_wg_loaded || load_rust_wg || fail "insmod rust_wg"
ns_pair

KA=$(wg genkey); PA=$(wg pubkey <<<"$KA")
ip -n "$NS1" link add wg0 type wireguard
n1 sysctl -qw net.ipv6.conf.wg0.disable_ipv6=1
ip -n "$NS1" addr add 10.75.0.1/16 dev wg0
n1 wg set wg0 private-key <(echo "$KA") listen-port 51820
tmp=$(mktemp -d)
conf=$tmp/wg0.conf
# Commands batched (one `ip` and one shell per namespace): each exec costs a second under a loaded TCG host.
for j in $(seq 1 "$K"); do
	kb=$(wg genkey); pb=$(wg pubkey <<<"$kb")
	printf 'link add wg%d type wireguard\naddr add 10.75.1.%d/32 dev wg%d\nlink set wg%d up\n' $j $j $j $j >>"$tmp/ip2"
	# Replies from 10.75.1.j leave through wgj: ns2 has no other route to 10.75.0.1 (the /32 addresses make none,
	# and allowed-ips are not routes), so without this rule a ping from ns1 gets no echo reply whatever wg0 does.
	printf 'rule add from 10.75.1.%d table %d\nroute add 10.75.0.1/32 dev wg%d table %d\n' $j $((100 + j)) $j \
		$((100 + j)) >>"$tmp/ip2"
	# The keepalives keep wg0 from starting new handshakes ("stopped hearing back") after the burst.
	echo "wg set wg$j private-key <(echo $kb) listen-port $((52000 + j)) peer $PA endpoint 192.168.241.1:51820" \
		"allowed-ips 10.75.0.1/32 persistent-keepalive 1" >>"$tmp/wg2"
	printf '[Peer]\nPublicKey = %s\nEndpoint = 192.168.241.2:%d\nAllowedIPs = 10.75.1.%d/32\n\n' \
		"$pb" $((52000 + j)) "$j" >>"$conf"
done
ip -n "$NS2" -batch "$tmp/ip2" || fail "devices in $NS2"
n2 bash -e "$tmp/wg2" || fail "wg set in $NS2"
n1 wg addconf wg0 "$conf" || fail "addconf"
ip -n "$NS1" link set wg0 up

# Sessions first (initiated from ns2, so wg0 only answers and owes no keepalive), so that the burst is all data.
for try in 1 2 3; do
	n2 bash -c "for j in \$(seq 1 $K); do ping -I wg\$j -c 1 -W 5 10.75.0.1 >/dev/null 2>&1 & done; wait"
	up=$(n1 wg show wg0 latest-handshakes | awk '$2 > 0' | wc -l)
	[ "$up" = "$K" ] && break
done
[ "$up" = "$K" ] || fail "only $up of $K sessions came up"
sleep 2

stat() { n1 cat /sys/class/net/wg0/statistics/"$1"; }
# What a failure after the burst needs to be explained: both sides' per-peer counters and handshakes, every
# device's statistics, and the kernel's last words.
diag() {
	local d
	echo "--- ns1 wg0 (peer, rx bytes, tx bytes, latest handshake):"
	join <(n1 wg show wg0 transfer | sort) <(n1 wg show wg0 latest-handshakes | sort) | awk '{print substr($1, 1, 8), $2, $3, $4}'
	echo "--- ns1 wg0 statistics:"
	for d in rx_packets rx_dropped rx_errors tx_packets tx_dropped tx_errors; do printf '%s=%s ' $d "$(stat $d)"; done
	echo
	echo "--- ns2 wgj (rx bytes, tx bytes, latest handshake; rx/tx packets, dropped, errors):"
	for d in $(seq 1 "$K"); do
		printf 'wg%s %s %s  ' "$d" "$(n2 wg show wg$d transfer | awk '{print $2, $3}')" "$(n2 wg show wg$d latest-handshakes | awk '{print $2}')"
		n2 awk '{printf "%s ", $1}' /sys/class/net/wg$d/statistics/{rx_packets,tx_packets,rx_dropped,tx_dropped,rx_errors,tx_errors}
		echo
	done
	echo "--- veth: $(n1 ip -s -o link show veth1 | tr -s ' ' | cut -c 1-400)"
	echo "--- dmesg tail:"
	dmesg | tail -n 25
}
fail_diag() { diag >&2 || true; fail "$@"; }
sum() { echo $(($(stat tx_packets) + $(stat tx_dropped) + $(stat tx_errors))); }
settle() { # wait until wg0's transmit counters stop moving (30 s, lib.sh: slow)
	local prev=-1 now i
	for i in $(seq 1 "$(slow 30)"); do
		now=$(sum)
		[ "$now" = "$prev" ] && return 0
		prev=$now
		sleep 1
	done
	return 1
}
# Peers of wg0 that do not answer a ping (all pinged at once).
unreachable() {
	n1 bash -c "for j in \$(seq 1 $K); do ping -c 1 -W 5 10.75.1.\$j >/dev/null 2>&1 || echo \$j & done; wait" | wc -l
}
bad=$(unreachable)
[ "$bad" = 0 ] || fail_diag "$bad peers unreachable before the burst"
settle || fail_diag "wg0 still sending after 30 s"
before=$(sum)
cat >"$RESULTS/75-send.py" <<'EOF'
import socket, sys
k, rounds, part = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
for r in range(rounds):
    for j in range(1 + part, k + 1, 2):
        try:
            s.sendto(b"x" * 1300, ("10.75.1.%d" % j, 9))
            n += 1
        except OSError:
            pass
print(n)
EOF
# One SCHED_FIFO sender per CPU: the crypt workers (normal priority) get the throttled 5% until they are done.
n1 taskset -c 0 chrt -f 10 python3 "$RESULTS/75-send.py" "$K" "$ROUNDS" 0 >"$RESULTS/75-sent0" &
p0=$!
n1 taskset -c 1 chrt -f 10 python3 "$RESULTS/75-send.py" "$K" "$ROUNDS" 1 >"$RESULTS/75-sent1" &
p1=$!
wait $p0 || fail "sender 0 failed"
wait $p1 || fail "sender 1 failed"
sent=$(($(cat "$RESULTS/75-sent0") + $(cat "$RESULTS/75-sent1")))
settle || fail_diag "wg0 still sending after $(slow 30) s"
log "burst of $sent datagrams to $K peers: $(stat tx_packets) sent, $(stat tx_dropped) dropped," \
	"$(stat tx_errors) errors in total; $(($(sum) - before)) of the burst accounted for"
((sent >= K * ROUNDS / 2)) || fail "only $sent datagrams sent"

# One more datagram per peer: it may take along only itself.
declare -A tx0
while read -r key _ tx; do tx0[$key]=$tx; done < <(n1 wg show wg0 transfer)
n1 bash -c "for j in \$(seq 1 $K); do echo x >/dev/udp/10.75.1.\$j/9; done"
settle || fail_diag "wg0 still sending after $(slow 30) s"
stuck=0 peers_stuck=0
while read -r key _ tx; do
	d=$((tx - ${tx0[$key]}))
	# 2 bytes of payload make a 48-byte message: more than 400 bytes means other packets went with it.
	if ((d > 400)); then
		peers_stuck=$((peers_stuck + 1))
		stuck=$((stuck + d / 1348))
	fi
done < <(n1 wg show wg0 transfer)
((peers_stuck == 0)) || fail_diag "$peers_stuck peers had about $stuck packets stuck in staging until their next packet"
log "no staged packet was left behind"
# And the tunnel still works for every peer (as it did before the burst).
bad=$(unreachable)
[ "$bad" = 0 ] || fail_diag "$bad peers unreachable after the burst"
