#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The outer packets keep their inner flow's hash (session 5 transmit review), with the C wireguard.ko as control:
# the C driver keeps skb->hash when it encapsulates (wg_reset_packet(skb, true)), so a flow queueing qdisc on the
# outer device (fq_codel) tells the tunnel's inner flows apart; rust_wg cleared it after sealing, which made all
# of a peer's traffic one flow there. Observed with the netif_rx_entry (or napi_gro_receive_entry) tracepoint on ns2's veth: three inner TCP
# connections must arrive as at least three distinct non-zero outer hashes.
. "$RUST_WG_TOP/selftests/lib.sh"

need_tools wg python3
T=/sys/kernel/tracing
[ -d "$T/events/net/netif_rx_entry" ] || mount -t tracefs nodev "$T" 2>/dev/null || true
[ -d "$T/events/net/netif_rx_entry" ] || skip "no netif_rx_entry tracepoint"
inst=$T/instances/rwg80
trap 'rmdir "$inst" 2>/dev/null || true; ns_cleanup; rust_wg_loaded && unload_rust_wg; unload_c_wireguard 2>/dev/null; true' EXIT

# run IMPL: prints the number of distinct non-zero hashes of the outer data packets ns2 received.
run() {
	impl_pair "$1"
	wait_ping "$NS1" 10.99.0.2 || fail "$1: no handshake"
	rmdir "$inst" 2>/dev/null || true
	mkdir "$inst"
	# Where veth hands the packet to ns2: netif_rx (the backlog), or GRO if veth runs NAPI.
	local ev
	for ev in netif_rx_entry napi_gro_receive_entry; do
		echo 'len > 400' >"$inst/events/net/$ev/filter"
		echo 1 >"$inst/events/net/$ev/enable"
	done
	n2 python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.2", 9100))
s.listen(8)
s.settimeout(30)
for _ in range(3):
    c, _ = s.accept()
    while c.recv(65536):
        pass
    c.close()
' &
	local srv=$!
	sleep 1
	n1 python3 -c '
import socket
for _ in range(3):
    c = socket.create_connection(("10.99.0.2", 9100), timeout=20)
    c.sendall(b"x" * 30000)
    c.close()
'
	wait "$srv" || fail "$1: receiver failed"
	for ev in netif_rx_entry napi_gro_receive_entry; do echo 0 >"$inst/events/net/$ev/enable"; done
	grep -o 'dev=veth2 .* hash=0x[0-9a-f]*' "$inst/trace" | sed 's/.*hash=//' | grep -v '^0x00000000$' | sort -u | wc -l
	rmdir "$inst"
	ns_cleanup
}

c=$(run c)
log "C driver: $c distinct outer hashes for 3 inner TCP connections"
((c >= 3)) || fail "C driver (control): $c distinct outer hashes"
r=$(run rust_wg)
log "rust_wg:  $r distinct outer hashes for 3 inner TCP connections"
((r >= 3)) || fail "rust_wg: $r distinct outer hashes (C: $c)"
