#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg's express lane (rust_wg/proto/express.rs: small packets of sparse flows are sealed and opened inline,
# skipping the crypt workers and the ordered rings), both sides rustwg_alt.ko configured with wgctl:
# - a small-datagram UDP flood (over the express rate, so its packets switch between the express lane and the
#   pipeline) arrives without reordering, both ways;
# - pings of a small flow cross while a bulk TCP flow runs, none lost, and the peers' statistics at deletion show
#   packets through the express lane on transmit and on receive;
# - everything created is destroyed.
# timeout: 300
. "$RUST_WG_TOP/selftests/lib.sh"

ALT_KO="$(dirname "$RUST_WG_KO")/rustwg_alt.ko"
[ -f "$ALT_KO" ] || fail "rustwg_alt.ko not built at $ALT_KO"
[ -x "${WGCTL:-}" ] || skip "wgctl not built at ${WGCTL:-<unset>}"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v iperf3 >/dev/null || skip "iperf3 not installed"

tmp=$(mktemp -d)
mark=$(dmesg_mark)
insmod "$ALT_KO" || fail "insmod rustwg_alt.ko"
trap 'ns_cleanup; rmmod rustwg_alt 2>/dev/null || true; rm -rf "$tmp"' EXIT
ns_pair
wg genkey >"$tmp/k1"; wg genkey >"$tmp/k2"
p1=$(wg pubkey <"$tmp/k1"); p2=$(wg pubkey <"$tmp/k2")
ip -n "$NS1" link add wge1 type rustwg
ip -n "$NS2" link add wge2 type rustwg
n1 "$WGCTL" --family rustwg set wge1 private-key "$tmp/k1" listen-port 51841 \
	peer "$p2" endpoint 192.168.241.2:51842 allowed-ips 10.98.0.2/32 || fail "wgctl set wge1"
n2 "$WGCTL" --family rustwg set wge2 private-key "$tmp/k2" listen-port 51842 \
	peer "$p1" endpoint 192.168.241.1:51841 allowed-ips 10.98.0.1/32 || fail "wgctl set wge2"
ip -n "$NS1" addr add 10.98.0.1/24 dev wge1
ip -n "$NS2" addr add 10.98.0.2/24 dev wge2
ip -n "$NS1" link set wge1 up
ip -n "$NS2" link set wge2 up
ok=0
for _ in $(seq 1 20); do n1 ping -c 1 -W 1 10.98.0.2 >/dev/null 2>&1 && { ok=1; break; }; done
((ok)) || { dmesg_since "$mark" | tail -n 20; fail "no handshake"; }

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["end"]; print(eval(sys.argv[2]))' "$@"; }
# 100-byte datagrams (128-byte IP packets) at up to 8 Mbit/s: ~10 000 packets/s offered, over the express rate.
n2 iperf3 -s -D -1 -p 5401
sleep 0.5
n1 iperf3 -c 10.98.0.2 -p 5401 -u -b 8M -l 100 -t 3 -J >"$RESULTS/77-udp-1to2.json" || fail "iperf3 udp 1->2"
n2 iperf3 -s -D -1 -p 5402
sleep 0.5
n1 iperf3 -c 10.98.0.2 -p 5402 -u -b 8M -l 100 -t 3 -R -J >"$RESULTS/77-udp-2to1.json" || fail "iperf3 udp 2->1"
for f in 1to2 2to1; do
	j=$RESULTS/77-udp-$f.json
	pk=$(jget "$j" 'd["sum"]["packets"]')
	ooo=$(jget "$j" 'd["sum"].get("out_of_order", 0)')
	lost=$(jget "$j" 'd["sum"]["lost_packets"]')
	log "udp $f (100-byte datagrams): $pk datagrams, $lost lost, $ooo out of order"
	[ "$pk" -ge 500 ] || fail "udp $f: only $pk datagrams"
	[ "$ooo" -eq 0 ] || fail "udp $f: $ooo datagrams out of order"
done

# A small flow beside a bulk one.
n2 iperf3 -s -D -1 -p 5403
sleep 0.5
n1 timeout 30 iperf3 -c 10.98.0.2 -p 5403 -t 8 -J >"$RESULTS/77-tcp-bulk.json" &
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
sleep 1
q=$(dmesg_since "$mark" | grep -E 'wge[12]: Peer [0-9]+ queues:' || true)
echo "$q" | while read -r l; do log "$l"; done
[ "$(echo "$q" | grep -c 'queues:')" -eq 2 ] || fail "expected the statistics of 2 peers, got: $q"
# Transmit and receive express counts: "..., N express; rx ..., M express".
tx_sum=0 rx_sum=0
while read -r t r; do tx_sum=$((tx_sum + t)); rx_sum=$((rx_sum + r)); done < <(
	echo "$q" | sed -nE 's/.* ([0-9]+) express; rx .* ([0-9]+) express$/\1 \2/p')
log "express: $tx_sum transmitted, $rx_sum received"
[ "$tx_sum" -gt 20 ] || fail "no packets went through the transmit express lane"
[ "$rx_sum" -gt 20 ] || fail "no packets went through the receive express lane"
rmmod rustwg_alt || fail "rmmod rustwg_alt"
created=$(dmesg_since "$mark" | grep -cE 'rustwg_alt: .*Peer [0-9]+ created' || true)
destroyed=$(dmesg_since "$mark" | grep -cE 'rustwg_alt: .*Peer [0-9]+ destroyed' || true)
log "peers created $created, destroyed $destroyed"
[ "$created" -eq "$destroyed" ] || fail "peers created $created, destroyed $destroyed"
exit 0
