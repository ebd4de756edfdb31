#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg's data path pipeline (parallel crypto on all CPUs, per-peer order): between two namespaces over veth, both
# sides rustwg_alt.ko configured with wgctl over netlink:
# - a UDP flow of many packets both ways arrives without reordering (iperf3 counts out-of-order datagrams),
# - TCP both ways with only a few retransmissions (reordering would make TCP retransmit),
# - more than one CPU runs the crypt workers under load (the pipeline really is parallel),
# - device deletion with the pipeline full leaves no packet or object behind (all "created" lines "destroyed").
# timeout: 400
. "$RUST_WG_TOP/selftests/lib.sh"

ALT_KO="$(dirname "$RUST_WG_KO")/rustwg_alt.ko"
[ -f "$ALT_KO" ] || fail "rustwg_alt.ko not built at $ALT_KO"
need_tools wgctl wg iperf3
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"

tmp=$(mktemp -d)
mark=$(dmesg_mark)
insmod "$ALT_KO" || fail "insmod rustwg_alt.ko"
trap 'ns_cleanup; rmmod rustwg_alt 2>/dev/null || true; rm -rf "$tmp"' EXIT
ns_pair
alt_tunnel wgp 10.97.0 51830

# Crypt worker CPU time per CPU (kworkers running our work are named after the queue only while they run, so count
# the CPU time of all kworkers bound to each CPU: "kworker/N:...").
kw_ticks() { cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 ~ /^\(kworker\/'"$1"':/ { s += $14 + $15 } END { print s + 0 }'; }
k0a=$(kw_ticks 0); k1a=$(kw_ticks 1)

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["end"]; print(eval(sys.argv[2]))' "$@"; }
n2 iperf3 -s -D -1 -p 5301
sleep 0.5
n1 iperf3 -c 10.97.0.2 -p 5301 -u -b 40M -l 1200 -t 4 -J >"$RESULTS/55-udp-1to2.json" || fail "iperf3 udp 1->2"
n2 iperf3 -s -D -1 -p 5302
sleep 0.5
n1 iperf3 -c 10.97.0.2 -p 5302 -u -b 40M -l 1200 -t 4 -R -J >"$RESULTS/55-udp-2to1.json" || fail "iperf3 udp 2->1"
for f in 1to2 2to1; do
	j=$RESULTS/55-udp-$f.json
	pk=$(jget "$j" 'd["sum"]["packets"]')
	ooo=$(jget "$j" 'd["sum"].get("out_of_order", 0)')
	lost=$(jget "$j" 'd["sum"]["lost_packets"]')
	log "udp $f: $pk datagrams, $lost lost, $ooo out of order"
	# Enough datagrams for the order check to mean something; a rate, so divided by the time factor.
	[ "$pk" -ge $((1000 / RWG_TIME_FACTOR)) ] || fail "udp $f: only $pk datagrams"
	[ "$ooo" -eq 0 ] || fail "udp $f: $ooo datagrams out of order"
done
k0b=$(kw_ticks 0); k1b=$(kw_ticks 1)
log "kworker ticks during udp: cpu0 $((k0b - k0a)) cpu1 $((k1b - k1a))"
[ $((k0b - k0a)) -gt 5 ] && [ $((k1b - k1a)) -gt 5 ] || fail "crypt work did not run on both CPUs"

n2 iperf3 -s -D -1 -p 5303
sleep 0.5
n1 iperf3 -c 10.97.0.2 -p 5303 -t 4 -J >"$RESULTS/55-tcp-1to2.json" || fail "iperf3 tcp 1->2"
n2 iperf3 -s -D -1 -p 5304
sleep 0.5
n1 iperf3 -c 10.97.0.2 -p 5304 -t 4 -R -J >"$RESULTS/55-tcp-2to1.json" || fail "iperf3 tcp 2->1"
for f in 1to2 2to1; do
	j=$RESULTS/55-tcp-$f.json
	bps=$(jget "$j" 'int(d["sum_received"]["bits_per_second"])')
	rtx=$(jget "$j" 'd["sum_sent"].get("retransmits", 0)')
	by=$(jget "$j" 'd["sum_sent"]["bytes"]')
	log "tcp $f: $bps bit/s, $rtx retransmits of $((by / 1400)) segments"
	# Reordering under parallel crypto would make TCP retransmit a lot; a few come from the staged queue's
	# drop-oldest bound under a burst.
	[ "$rtx" -le $((by / 1400 / 100 + 20)) ] || fail "tcp $f: $rtx retransmits"
done

# Delete both devices while a flood keeps the pipeline busy; every object logged as created must be destroyed.
n1 timeout 6 ping -f -w 4 10.97.0.2 >/dev/null 2>&1 &
pid=$!
n2 timeout 10 iperf3 -s -1 -p 5305 >/dev/null 2>&1 &
spid=$!
sleep 0.5
# The control connection runs through the tunnel, which goes away: bounded by timeout.
n1 timeout 8 iperf3 -c 10.97.0.2 -p 5305 -u -b 100M -l 1400 -t 3 >/dev/null 2>&1 &
ipid=$!
sleep 1.5
ip -n "$NS2" link del wgp2
ip -n "$NS1" link del wgp1
wait $pid || true
wait $ipid || true
wait $spid || true
rmmod rustwg_alt || fail "rmmod after deleting under load"
slow_sleep 0.5
for what in Peer Keypair; do
	c=$(dmesg_since "$mark" | grep -c "$what [0-9]* created" || true)
	d=$(dmesg_since "$mark" | grep -c "$what [0-9]* destroyed" || true)
	[ "$c" = "$d" ] || fail "$what: $c created, $d destroyed"
done
log "deleted under load: objects all destroyed"
