#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The outer packets keep their inner flow's hash (session 5 transmit review), with the C wireguard.ko as control:
# the C driver keeps skb->hash when it encapsulates (wg_reset_packet(skb, true)), so a flow queueing qdisc on the
# outer device (fq_codel) tells the tunnel's inner flows apart; rust_wg cleared it after sealing, which made all
# of a peer's traffic one flow there. Observed by a packet socket on ns2's veth that asks for each packet's flow
# hash (selftests/tools/rxhash): three inner TCP connections must arrive as at least three distinct outer hashes
# (a cleared hash is recomputed from the outer UDP header: one value for all three).
. "$RUST_WG_TOP/selftests/lib.sh"

need_tools wg python3
extra_cleanup() { ns_cleanup; }
test_scratch

# run IMPL: prints the number of distinct hashes of the outer data packets ns2 received.
run() {
	impl_pair "$1"
	wait_ping "$NS1" 10.99.0.2 || fail "$1: no handshake"
	rm -f "$tmp/stop" "$tmp/capture"
	n2 python3 "$RUST_WG_TOP/selftests/tools/rxhash" veth2 400 "$tmp/stop" >"$tmp/capture" &
	local cap=$!
	wait_for 10 grep -q ready "$tmp/capture" || fail "$1: the capture did not start"
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
	sleep 1
	touch "$tmp/stop"
	wait "$cap" || fail "$1: the capture failed"
	tail -n 1 "$tmp/capture"
	ns_cleanup
}

c=$(run c)
log "C driver: $c distinct outer hashes for 3 inner TCP connections"
((c >= 3)) || fail "C driver (control): $c distinct outer hashes"
r=$(run rust_wg)
log "rust_wg:  $r distinct outer hashes for 3 inner TCP connections"
((r >= 3)) || fail "rust_wg: $r distinct outer hashes (C: $c)"
