#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg's express lane (rust_wg/proto/express.rs: small packets of sparse flows are sealed and opened inline,
# skipping the crypt workers and the ordered rings), both sides rustwg_alt.ko configured with wgctl:
# - bursts of small datagrams (back to back, beyond the express lane's burst of 16) arrive without reordering,
#   both ways;
# - pings of a small flow cross while a bulk TCP flow runs, none lost, and the peers' statistics at deletion show
#   packets through the express lane on transmit and on receive;
# - everything created is destroyed.
# timeout: 300
. "$RUST_WG_TOP/selftests/lib.sh"

ALT_KO="$(dirname "$RUST_WG_KO")/rustwg_alt.ko"
[ -f "$ALT_KO" ] || fail "rustwg_alt.ko not built at $ALT_KO"
need_tools wgctl wg iperf3

tmp=$(mktemp -d)
mark=$(dmesg_mark)
insmod "$ALT_KO" || fail "insmod rustwg_alt.ko"
trap 'ns_cleanup; rmmod rustwg_alt 2>/dev/null || true; rm -rf "$tmp"' EXIT
ns_pair
alt_tunnel wge 10.98.0 51840

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["end"]; print(eval(sys.argv[2]))' "$@"; }
# Bursts of 100-byte datagrams, back to back, beyond the express lane's burst (where its rate bound sends a flow's
# packets to the pipeline if the sender is fast enough). The receiver counts datagrams that arrive after a later one.
cat >"$tmp/flood.py" <<'PY'
import socket, struct, sys, time
if sys.argv[1] == "recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind((sys.argv[2], 9000))
    open(sys.argv[3], "w").close()
    # The sender is yet to start (seconds per exec on a debug kernel): the first datagram may take a while.
    first, gap = float(sys.argv[4]), float(sys.argv[5])
    s.settimeout(first)
    n = ooo = last = 0
    try:
        while True:
            seq = struct.unpack("!I", s.recv(2048)[:4])[0]
            n += 1
            if seq < last:
                ooo += 1
            last = max(last, seq)
            s.settimeout(gap)
    except socket.timeout:
        pass
    print(n, ooo)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    seq = sent = 0
    for burst in range(int(sys.argv[3])):
        for _ in range(200):
            seq += 1
            try:
                s.sendto(struct.pack("!I", seq) + b"v" * 96, (sys.argv[2], 9000))
                sent += 1
            except OSError:
                pass
        time.sleep(0.02)
    print(sent)
PY
flood() { # FROM_NS TO_NS DST NAME
	"$2" python3 "$tmp/flood.py" recv "$3" "$tmp/ready-$4" "$(slow 30)" "$(slow 3)" >"$tmp/recv-$4" &
	local r=$!
	wait_for "$(slow 10)" test -f "$tmp/ready-$4" || fail "flood receiver $4 did not start"
	"$1" python3 "$tmp/flood.py" send "$3" 20 >"$tmp/sent-$4" || fail "flood sender $4"
	wait "$r" || fail "flood receiver $4"
	local got ooo
	read -r got ooo <"$tmp/recv-$4"
	log "burst flood $4: $(cat "$tmp/sent-$4") sent, $got received, $ooo out of order"
	[ "$got" -ge 400 ] || fail "flood $4: only $got datagrams arrived"
	[ "$ooo" -eq 0 ] || fail "flood $4: $ooo datagrams out of order"
}
flood n1 n2 10.98.0.2 1to2
flood n2 n1 10.98.0.1 2to1

# A small flow beside a bulk one.
n2 iperf3 -s -D -1 -p 5403
sleep 0.5
n1 timeout "$(slow 30)" iperf3 -c 10.98.0.2 -p 5403 -t 8 -J >"$RESULTS/77-tcp-bulk.json" &
bulk=$!
sleep 2
n1 ping -q -c 20 -i 0.2 -s 100 -W 5 10.98.0.2 >"$tmp/ping" 2>&1 || true
wait "$bulk" || fail "bulk TCP flow failed"
log "ping beside the bulk flow: $(grep -E 'transmitted|rtt' "$tmp/ping" | tr '\n' ' ')"
grep -q ' 0% packet loss' "$tmp/ping" || fail "pings lost beside the bulk flow"
bulk_bps=$(jget "$RESULTS/77-tcp-bulk.json" 'int(d["sum_received"]["bits_per_second"])')
log "bulk flow: $((bulk_bps / 1000)) kbit/s"
[ "$bulk_bps" -gt 0 ] || fail "the bulk flow moved nothing"

ip -n "$NS1" link del wge1
ip -n "$NS2" link del wge2
ns_cleanup
# A peer's statistics are printed when its last reference goes (after an RCU grace period and its work items).
stats() { dmesg_since "$mark" | grep -E 'wge[12]: Peer [0-9]+ queues:' || true; }
both_logged() { [ "$(stats | grep -c 'queues:')" -ge 2 ]; }
wait_for "$(slow 10)" both_logged || true
q=$(stats)
echo "$q" | while read -r l; do log "$l"; done
[ "$(echo "$q" | grep -c 'queues:')" -eq 2 ] || fail "expected the statistics of 2 peers, got: $q"
# Transmit and receive express counts: "..., N express; rx ..., M express".
tx_sum=0 rx_sum=0
while read -r t r; do tx_sum=$((tx_sum + t)); rx_sum=$((rx_sum + r)); done < <(
	echo "$q" | sed -nE 's/.* ([0-9]+) express; rx .* ([0-9]+) express$/\1 \2/p')
log "express: $tx_sum transmitted, $rx_sum received"
[ "$tx_sum" -gt 20 ] || fail "no packets went through the transmit express lane"
[ "$rx_sum" -gt 20 ] || fail "no packets went through the receive express lane"
# How many of the bursts took the express lane (wge1's small packets are the 1to2 bursts, the pings and a few TCP
# control packets). The rate bound and the switching rules are unit-tested on the host (rust_wg/proto/express.rs);
# how fast a sender is under TCG varies too much to assert the share here.
tx1=$(echo "$q" | sed -nE 's/.*wge1: .* ([0-9]+) express; rx .*/\1/p')
log "wge1: ${tx1:-?} packets through the transmit express lane, $(cat "$tmp/sent-1to2") datagrams in the bursts"
rmmod rustwg_alt || fail "rmmod rustwg_alt"
created=$(dmesg_since "$mark" | grep -cE 'rustwg_alt: .*Peer [0-9]+ created' || true)
destroyed=$(dmesg_since "$mark" | grep -cE 'rustwg_alt: .*Peer [0-9]+ destroyed' || true)
log "peers created $created, destroyed $destroyed"
[ "$created" -eq "$destroyed" ] || fail "peers created $created, destroyed $destroyed"
exit 0
