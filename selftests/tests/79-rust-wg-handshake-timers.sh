#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# timeout: 240
# rust_wg handshake rate limits and retries, as the C driver's send.c/timers.c:
#  - A response counts as a handshake sent (last_sent_handshake): a responder whose own packets wait for the
#    initiator to confirm the new session sends no initiation of its own for REKEY_TIMEOUT (5 s), which would cross
#    the exchange in progress. ns2 has no endpoint for ns1 (so it cannot start first) and drops every datagram from
#    ns1 but initiations (148 bytes), so its session is never confirmed; then ns2 sends data to ns1. Its handshake
#    messages are captured as they leave with the kernel's timestamps: each of its initiations comes at least
#    REKEY_TIMEOUT after its previous response or initiation.
#  - An initiation that could not be sent (no route to the endpoint) still arms the retransmit timer: the retry
#    comes REKEY_TIMEOUT later without any new packet to send.
. "$RUST_WG_TOP/selftests/lib.sh"

need_tools wg iptables
load_rust_wg || fail "insmod rust_wg"
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg' EXIT
mark=$(dmesg_mark)

ns_pair
K1=$(wg genkey); P1=$(wg pubkey <<<"$K1")
K2=$(wg genkey); P2=$(wg pubkey <<<"$K2")
for ns in "$NS1" "$NS2"; do ip -n "$ns" link add wg0 type wireguard; done
ip -n "$NS1" addr add 10.99.0.1/24 dev wg0
ip -n "$NS2" addr add 10.99.0.2/24 dev wg0
n1 wg set wg0 private-key <(echo "$K1") listen-port 51821 \
	peer "$P2" endpoint 192.168.241.2:51822 allowed-ips 10.99.0.2/32
n2 wg set wg0 private-key <(echo "$K2") listen-port 51822 peer "$P1" allowed-ips 10.99.0.1/32
n2 iptables -A INPUT -p udp --dport 51822 -m length ! --length 176 -j DROP || fail "iptables INPUT rule"
n2 iptables -A OUTPUT -p udp --sport 51822 -m length --length 176 -j ACCEPT || fail "iptables OUTPUT rule"
n2 iptables -A OUTPUT -p udp --sport 51822 -m length --length 120 -j ACCEPT || fail "iptables OUTPUT rule"
ip -n "$NS1" link set wg0 up
ip -n "$NS2" link set wg0 up
# Packets of the OUTPUT rule matching 176 (initiations) or 120 (responses) bytes.
sent() { len_packets "$NS2" OUTPUT "$1"; }

# ns2's handshake messages as they leave, with the kernel's timestamps (the shell's own timing stretches on a slow
# kernel: session 12's debug run took 18 s for the steps below): "TYPE SECONDS" lines.
n2 python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))  # ETH_P_ALL: outgoing packets too
s.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
print("ready", flush=True)
while True:
    data, anc, _, addr = s.recvmsg(2048, 64)
    ihl = (data[0] & 15) * 4
    if addr[0] != "veth2" or addr[1] != 0x0800 or addr[2] != socket.PACKET_OUTGOING or data[9] != 17 or data[ihl:ihl + 2] != (51822).to_bytes(2, "big"):
        continue
    if data[ihl + 8] in (1, 2):
        sec, nsec = next(struct.unpack("qq", d[:16]) for l, t, d in anc if l == socket.SOL_SOCKET and t == 35)
        print(data[ihl + 8], sec + nsec / 1e9, flush=True)
' >"$RESULTS/79-ns2-handshakes.txt" 2>&1 &
sniffer=$!
# Python takes seconds to start under TCG: go on once the socket is open.
capture_ready() { grep -q '^ready' "$RESULTS/79-ns2-handshakes.txt"; }
wait_for "$(slow 30)" capture_ready || fail "the capture did not start: $(cat "$RESULTS/79-ns2-handshakes.txt")"
# ns1 initiates (its ping goes nowhere: ns2 drops its data).
n1 ping -c 1 -W 1 10.99.0.2 >/dev/null 2>&1 &
ok=0
for _ in $(seq 1 "$(slow 100)"); do
	(($(sent 120) > 0)) && { ok=1; break; }
	sleep 0.2
done
((ok)) || { dmesg_since "$mark" | tail -n 20; fail "ns2 sent no handshake response"; }
t0=$(date +%s%N)
# ns2's own packets to ns1: no current keypair yet (the responder's waits for ns1's first data).
n2 ping -c 2 -i 0.2 -W 1 10.99.0.1 >/dev/null 2>&1 || true
sleep 0.5
t1=$(date +%s%N)
init=$(sent 176)
# Capture on until REKEY_TIMEOUT and a second after the first response: an early initiation would be seen.
while (($(date +%s%N) < t0 + 6000000000)); do sleep 0.2; done
kill "$sniffer"
wait || true
log "ns2: $(sent 120) response(s), $init initiation(s) in the $(((t1 - t0) / 1000000)) ms after its first response"
# Every initiation of ns2's comes REKEY_TIMEOUT (5 s) or more after its previous handshake message (a response, or
# an initiation: the retries), by the kernel's clock.
out=$(awk '
	$1 == 1 && prev != "" && $2 - prev < 4.99 { printf "initiation %.3f s after the previous handshake message\n", $2 - prev }
	$1 == 1 { n++ }
	{ prev = $2 }
	END { printf "%d initiation(s) checked\n", n }' "$RESULTS/79-ns2-handshakes.txt")
log "$out"
grep -q '^2 ' "$RESULTS/79-ns2-handshakes.txt" || fail "the capture saw no response of ns2's: $(head -n 3 "$RESULTS/79-ns2-handshakes.txt")"
! contains 'after the previous' <<<"$out" || fail "the responder sent an initiation within REKEY_TIMEOUT: $out"

# A peer without a route to its endpoint: the first initiation fails to send, the retry comes anyway.
K3=$(wg genkey); P3=$(wg pubkey <<<"$K3")
n1 wg set wg0 peer "$P3" endpoint 10.255.0.1:51823 allowed-ips 10.98.0.0/24
ip -n "$NS1" route add 10.98.0.0/24 dev wg0
id=$(dmesg_since "$mark" | awk '/wg0: Peer [0-9]+ created/ { id = $(NF - 1) } END { print id }')
[ -n "$id" ] || fail "no \"Peer N created\" line for the third peer"
mark2=$(dmesg_mark)
n1 ping -c 1 -W 1 10.98.0.5 >/dev/null 2>&1 || true
ok=0
for _ in $(seq 1 "$(slow 24)"); do
	dmesg_since "$mark2" | contains "wg0: Handshake for peer $id did not complete, retrying" && { ok=1; break; }
	sleep 0.5
done
((ok)) || { dmesg_since "$mark2" | tail -n 20; fail "no retransmission for peer $id after an initiation that could not be sent"; }
log "peer $id: unsent initiation retransmitted"
