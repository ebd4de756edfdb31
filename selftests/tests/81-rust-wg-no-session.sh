#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Sending to a peer that has no session yet (session 5 transmit review), with the C wireguard.ko as control:
# - the packets wait for the handshake without their socket's memory: a UDP sender with a small send buffer is never
#   blocked (the C driver orphans staged packets; rust_wg kept the owner, so sendto() blocked once a few packets were
#   staged, for as long as the handshake failed);
# - every packet that was not sent is counted in tx_dropped, those dropped from the full staging queue and those
#   purged with it when the device goes down (rust_wg did not count the purged ones);
# - an initiation that could not be sent (no route to the endpoint) is retried by the timer: once the route is back,
#   the handshake completes and the staged packet goes out without any further traffic (rust_wg armed the
#   retransmission only after a successful send, so it waited for the next packet).
. "$RUST_WG_TOP/selftests/lib.sh"

need_tools wg python3
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg; unload_c_wireguard 2>/dev/null; true' EXIT

# run IMPL: prints "SENT DROPPED HANDSHAKE": datagrams sendto() accepted of 300, tx_dropped after the device went
# down, 1 if the handshake completed after the route came back.
run() {
	impl_pair "$1"
	# No route to ns2's endpoint: every initiation fails to leave.
	ip -n "$NS1" route del 192.168.241.0/24 dev veth1
	local d0 sent dropped
	d0=$(n1 cat /sys/class/net/wg0/statistics/tx_dropped)
	# 300 datagrams of 1000 bytes from a socket whose send buffer holds about two: each must be accepted at once
	# (staged and then dropped from the staging queue, whose bound is far beyond the buffer).
	sent=$(n1 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
s.settimeout(2)
n = 0
try:
    for _ in range(300):
        s.sendto(b"x" * 1000, ("10.99.0.2", 9))
        n += 1
except OSError:
    pass
print(n)
')
	ip -n "$NS1" link set wg0 down
	dropped=$(($(n1 cat /sys/class/net/wg0/statistics/tx_dropped) - d0))
	ip -n "$NS1" link set wg0 up
	# One packet staged, its initiation fails; then the route comes back.
	n1 ping -q -c 1 -W 1 10.99.0.2 >/dev/null 2>&1 || true
	ip -n "$NS1" route add 192.168.241.0/24 dev veth1
	# No traffic from here on. The timer retries REKEY_TIMEOUT (5 s, plus up to 1/3 s of jitter) after the last
	# attempt; allow a second one.
	local hs=0 i
	for i in $(seq 1 "$(slow 24)"); do
		[ "$(n1 wg show wg0 latest-handshakes | cut -f2)" != 0 ] && { hs=1; break; }
		sleep 0.5
	done
	echo "$sent $dropped $hs"
	ns_cleanup
}

versus_c "datagrams accepted, tx_dropped, handshake after the route came back" "300 300 1"
