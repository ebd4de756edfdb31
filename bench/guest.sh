#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the benchmark VM, as root: `bash bench/guest.sh ENVFILE` (written by bench/run.sh).
#
# For every implementation (veth = no tunnel, the ceiling; c = wireguard.ko; go = wireguard-go; rust = rust_wg.ko
# under a renamed link kind) two namespaces are joined by a veth pair with the tunnel between them, and each
# measurement of docs/BENCHMARKS.md runs once per round. Rounds are interleaved across implementations (round 1: veth
# c go rust, round 2: ...), so a change of load on the shared host hits every implementation alike.
#
# Nothing here interprets results: raw tool output goes to $OUT/raw/<impl>/r<round>/ and bench/report.py reads it.
# Only the namespaces' own addresses are used: 192.168.241.0/24 on the veth, 10.241.0.0/24 inside the tunnels.
set -euo pipefail
. "$1"
# ns_pair/ns_cleanup/n1/n2/kmod and the namespace names; the bench has its own error handling, so no fail()/skip().
. "$RUST_WG_TOP/selftests/lib.sh"

PY=/usr/bin/python3
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # bench/ or the copy run.sh made of it
TMPD=$(mktemp -d)
START=$EPOCHSECONDS
mkdir -p "$OUT/raw" /run/netns /var/run/wireguard
note() { echo "bench: $*" >&2; echo "$(date +%T) $*" >>"$OUT/guest.log"; }
note "guest up $(cut -d' ' -f1 /proc/uptime)s after boot"

# status IMPL available|unavailable|failed [REASON]: what the report says about a slot.
status() { echo "$1 $2 ${3:-}" >>"$OUT/status.txt"; }
now() { echo "$EPOCHREALTIME"; }

# Background processes of the current implementation (servers, wireguard-go), killed by PID at teardown.
PIDS=()
GO_PIDS=()
teardown() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
	PIDS=() GO_PIDS=()
	ns_cleanup
}
final_cleanup() {
	teardown
	rmmod rust_wg 2>/dev/null || true
	modprobe -d "$MODROOT" -r wireguard 2>/dev/null || true
	rm -rf "$TMPD"
	sync
}
trap final_cleanup EXIT

# wait_until SECONDS CMD...: poll CMD every 0.2 s, bounded.
wait_until() {
	local n=$(($1 * 5))
	shift
	while ((n-- > 0)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
	return 1
}

# Configuration tool for the current implementation: cfg NS ARGS... (`wg` for c and go, `wgctl --family F` for rust).
TOOL=wg FAMILY=wireguard
cfg() {
	local ns=$1
	shift
	if [ "$TOOL" = wgctl ]; then
		ip netns exec "$ns" "$WGCTL" --family "$FAMILY" "$@"
	else
		ip netns exec "$ns" wg "$@"
	fi
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

wg genkey >"$TMPD/k1"
wg genkey >"$TMPD/k2"
P1=$(wg pubkey <"$TMPD/k1")
P2=$(wg pubkey <"$TMPD/k2")

# tunnel_up IF1 IF2: configure both ends of an existing pair of tunnel interfaces, address them, handshake.
tunnel_up() {
	cfg "$NS1" set "$1" private-key "$TMPD/k1" listen-port 51821 \
		peer "$P2" endpoint 192.168.241.2:51822 allowed-ips 10.241.0.2/32,fd00:a::2/128
	cfg "$NS2" set "$2" private-key "$TMPD/k2" listen-port 51822 \
		peer "$P1" endpoint 192.168.241.1:51821 allowed-ips 10.241.0.1/32,fd00:a::1/128
	ip -n "$NS1" addr add 10.241.0.1/24 dev "$1"
	ip -n "$NS2" addr add 10.241.0.2/24 dev "$2"
	ip -n "$NS1" addr add fd00:a::1/64 dev "$1" nodad
	ip -n "$NS2" addr add fd00:a::2/64 dev "$2" nodad
	ip -n "$NS1" link set "$1" up
	ip -n "$NS2" link set "$2" up
	DST=10.241.0.2
	# The first packet triggers the handshake; wait (bounded) until the tunnel carries traffic.
	wait_until 30 n1 ping -c 1 -W 1 -q "$DST"
}

start_go() { # NS IFNAME: a wireguard-go daemon in the foreground of a background job
	ip netns exec "$1" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f "$2" >>"$OUT/guest.log" 2>&1 &
	PIDS+=($!) GO_PIDS+=($!)
	wait_until 10 test -S "/var/run/wireguard/$2.sock"
}

setup_veth() { ns_pair; DST=192.168.241.2 RXIF=veth2; }
setup_c() {
	ns_pair
	TOOL=wg FAMILY=wireguard
	ip -n "$NS1" link add wgc1 type wireguard
	ip -n "$NS2" link add wgc2 type wireguard
	RXIF=wgc2
	tunnel_up wgc1 wgc2
}
setup_go() {
	ns_pair
	TOOL=wg FAMILY=wireguard
	# The UAPI socket directory is shared by all namespaces here: distinct names per namespace.
	start_go "$NS1" wgg1
	start_go "$NS2" wgg2
	RXIF=wgg2
	tunnel_up wgg1 wgg2
}
setup_rust() {
	ns_pair
	TOOL=wgctl FAMILY=$RUST_FAMILY
	ip -n "$NS1" link add wgr1 type "$RUST_KIND"
	ip -n "$NS2" link add wgr2 type "$RUST_KIND"
	RXIF=wgr2
	tunnel_up wgr1 wgr2
}

# CPU accounting: "/proc/stat cpu fields (USER_HZ ticks) | kworker utime+stime | wireguard-go utime+stime |
# bytes received by the inner interface in ns2 ($RXIF) | wall clock".
ticks_of() { # AWK-FILTER: sum utime+stime of matching tasks (comm is field 2; kworker names have no spaces)
	cat /proc/[0-9]*/stat 2>/dev/null | awk "$1"' { s += $14 + $15 } END { print s + 0 }'
}
cpu_snap() {
	local go=0 p
	for p in "${GO_PIDS[@]}"; do
		go=$((go + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$(head -n1 /proc/stat | cut -d' ' -f3-) | $(ticks_of '$2 ~ /^\(kworker/') | $go | $(n2 cat "/sys/class/net/$RXIF/statistics/rx_bytes") | $EPOCHREALTIME"
}

listening() { n2 ss -Hln"$1" "sport = :$2" | grep -q .; } # t|u PORT: a socket in ns2 listens there
iperf_server() {
	n2 taskset -c 1 iperf3 -s -B "$DST" >/dev/null 2>&1 &
	PIDS+=($!)
	wait_until 10 listening t 5201
}
irtt_server() {
	n2 irtt server -b "$DST" >/dev/null 2>>"$OUT/guest.log" &
	PIDS+=($!)
	wait_until 10 listening u 2112
}
# iperf OUTFILE ARGS...: one client run from ns1, pinned to vCPU 0 (the server is on vCPU 1). A failed run leaves
# its JSON (iperf3 writes the error into it) and a note; the report counts it as missing.
iperf() {
	local out=$1
	shift
	n1 taskset -c 0 timeout -k 5 $((DUR + 40)) iperf3 -c "$DST" -J "$@" >"$out" 2>>"$OUT/guest.log" ||
		note "iperf3 $* failed: $(grep -o '"error":.*' "$out" | head -n1)"
	sleep 0.5
}
# The small flow: 50 packets/s of 172 bytes (G.711 20 ms payload + RTP/irtt header), like a voice call.
probe() {
	n1 timeout -k 5 $((RTT_DUR + 40)) irtt client -i 20ms -d "${RTT_DUR}s" -l 172 -Q --timeouts=1s,2s,4s \
		-o "$1" "$DST" 2>>"$OUT/guest.log" || note "irtt failed ($1)"
}

measure_traffic() { # DIR
	local d=$1
	iperf_server || { note "iperf3 server did not start"; return 1; }
	irtt_server || { note "irtt server did not start"; return 1; }
	cpu_snap >"$d/cpu_tcp1.txt"
	iperf "$d/tcp1_fwd.json" -t "$DUR" -O 1
	cpu_snap >>"$d/cpu_tcp1.txt"
	iperf "$d/tcp1_rev.json" -t "$DUR" -O 1 -R
	iperf "$d/tcp4_fwd.json" -t "$DUR" -O 1 -P 4
	iperf "$d/tcp4_rev.json" -t "$DUR" -O 1 -P 4 -R
	# UDP at a fixed inner packet size: 64 and 1420 bytes of IPv4 packet = payload + 28 bytes of IP/UDP header.
	iperf "$d/udp64.json" -t "$DUR" -u -b 0 -l 36
	iperf "$d/udp1420.json" -t "$DUR" -u -b 0 -l 1392
	probe "$d/rtt_idle.json"
	# Latency under load: one bulk TCP flow saturates the path while the small flow runs through it.
	n1 taskset -c 0 timeout -k 5 $((RTT_DUR + 50)) iperf3 -c "$DST" -J -t $((RTT_DUR + 4)) \
		>"$d/rtt_load_bulk.json" 2>>"$OUT/guest.log" &
	local bulk=$!
	sleep 2
	probe "$d/rtt_load.json"
	wait "$bulk" || note "bulk flow under the latency probe failed"
}

# Config scale: a fresh interface in ns1 gets the generated configuration; set and dump are timed, and memory is
# read before and after (MemAvailable and Slab from /proc/meminfo, and wireguard-go's RSS).
meminfo() { awk '/^(MemAvailable|Slab|Percpu):/ { printf "%s=%s ", substr($1, 1, length($1) - 1), $2 }' /proc/meminfo; }
scale_one() { # IMPL TOOL FAMILY IFNAME OUTFILE CONF PEERS
	local impl=$1 tool=$2 family=$3 ifn=$4 out=$5 conf=$6 peers=$7 t0 t1 t2 lines=0 rss=0 ok=1 p
	local tool_cmd=(wg)
	[ "$tool" = wgctl ] && tool_cmd=("$WGCTL" --family "$family")
	case $impl in
	c) ip -n "$NS1" link add "$ifn" type wireguard ;;
	rust) ip -n "$NS1" link add "$ifn" type "$RUST_KIND" ;;
	go) start_go "$NS1" "$ifn" ;;
	esac
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1
	echo "peers $peers" >"$out"
	echo "before $(meminfo)" >>"$out"
	t0=$(now)
	timeout -k 5 "$SCALE_TIMEOUT" ip netns exec "$NS1" "${tool_cmd[@]}" setconf "$ifn" "$conf" \
		2>>"$OUT/guest.log" || ok=0
	t1=$(now)
	echo "after $(meminfo)" >>"$out"
	for p in "${GO_PIDS[@]}"; do rss=$((rss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0))); done
	echo "set_s $(elapsed "$t0" "$t1") ok $ok timeout $SCALE_TIMEOUT" >>"$out"
	if ((ok)); then
		t2=$(now)
		lines=$(timeout -k 5 "$SCALE_TIMEOUT" ip netns exec "$NS1" "${tool_cmd[@]}" show "$ifn" dump \
			2>>"$OUT/guest.log" | wc -l) || true
		echo "dump_s $(elapsed "$t2" "$(now)") lines $lines" >>"$out"
	fi
	echo "go_rss_kib $rss" >>"$out"
	ip -n "$NS1" link del "$ifn" 2>/dev/null || true
	if [ "$impl" = go ]; then
		kill "${GO_PIDS[-1]}" 2>/dev/null || true
		timeout 10 tail --pid="${GO_PIDS[-1]}" -f /dev/null 2>/dev/null || true
	fi
}
measure_scale() { # IMPL DIR ROUND
	local impl=$1 d=$2 full=$TMPD/scale.conf
	case $impl in
	c)
		scale_one c wg wireguard wgcs "$d/scale_wg.txt" "$full" "$SCALE_PEERS"
		# wgctl against the C driver (the same tool as rust_wg uses): in the first round only, to save time.
		if [ -x "$WGCTL" ] && [ "$3" = 1 ]; then
			scale_one c wgctl wireguard wgcs "$d/scale_wgctl.txt" "$full" "$SCALE_PEERS"
		fi ;;
	# wireguard-go sets peers over its text UAPI ten times slower per peer under TCG: a twentieth of the peers.
	go) scale_one go wg wireguard wggs "$d/scale_wg.txt" "$TMPD/scale-go.conf" "$SCALE_PEERS_GO" ;;
	rust) scale_one rust wgctl "$RUST_FAMILY" wgrs "$d/scale_wgctl.txt" "$full" "$SCALE_PEERS" ;;
	esac
}

# --- system description -----------------------------------------------------------------------------------------
{
	echo "kernel $(uname -r)"
	echo "kernel_version $(uname -v)"
	echo "cpu_model $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "cpu_flags $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "vcpus $(nproc)"
	echo "mem_total_kib $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
	echo "user_hz $(getconf CLK_TCK)"
	echo "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	echo "cmdline $(cat /proc/cmdline)"
	echo "iperf3 $(iperf3 --version | head -n1)"
	echo "irtt $(irtt version | head -n1)"
	echo "wireguard_go $(wireguard-go --version 2>&1 | head -n1)"
	echo "wg $(wg --version 2>&1 | head -n1)"
	echo "openssl $(openssl version)"
} >"$OUT/sysinfo.txt"

# --- which implementations can run ------------------------------------------------------------------------------
declare -A avail=()
for impl in $IMPLS; do
	case $impl in
	veth) avail[veth]=1; status veth available ;;
	c)
		if kmod wireguard 2>>"$OUT/guest.log"; then avail[c]=1; status c available "wireguard.ko $(cat /sys/module/wireguard/version 2>/dev/null)"
		else status c unavailable "modprobe wireguard failed"; fi ;;
	go)
		[ -c /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; } 2>/dev/null || true
		if command -v wireguard-go >/dev/null && [ -c /dev/net/tun ]; then
			avail[go]=1; status go available "$(wireguard-go --version 2>&1 | head -n1)"
		else status go unavailable "wireguard-go or /dev/net/tun missing"; fi ;;
	rust)
		if ! [ -f "$RUST_WG_KO" ]; then status rust unavailable "rust_wg.ko not built"
		elif ! err=$(insmod "$RUST_WG_KO" $RUST_PARAMS 2>&1); then
			status rust unavailable "insmod rust_wg.ko $RUST_PARAMS failed: ${err##*: }"
		elif ! ip link add rwgprobe type "$RUST_KIND" 2>>"$OUT/guest.log"; then status rust unavailable "ip link add type $RUST_KIND: not supported yet"
		elif ! [ -x "$WGCTL" ]; then ip link del rwgprobe; status rust unavailable "wgctl not built"
		else ip link del rwgprobe; avail[rust]=1; status rust available "rust_wg.ko as link kind $RUST_KIND"; fi ;;
	*) status "$impl" unavailable "unknown implementation" ;;
	esac
done

# --- the crypto ceiling (userspace OpenSSL, one vCPU) -----------------------------------------------------------
for r in $(seq 1 "$RUNS"); do
	taskset -c 1 timeout 60 openssl speed -mr -evp chacha20-poly1305 -bytes 1420 -seconds 3 \
		>"$OUT/raw/crypto_r$r.txt" 2>/dev/null || note "openssl speed failed"
done

# --- rounds -----------------------------------------------------------------------------------------------------
for r in $(seq 1 "$RUNS"); do
	if ((SCALE_PEERS > 0)); then
		"$PY" "$BENCH/genconf.py" "$SCALE_PEERS" "$SCALE_IPS_PER_PEER" "$r" >"$TMPD/scale.conf"
		"$PY" "$BENCH/genconf.py" "$SCALE_PEERS_GO" "$SCALE_IPS_PER_PEER" "$r" >"$TMPD/scale-go.conf"
	fi
	for impl in $IMPLS; do
		[ -n "${avail[$impl]:-}" ] || continue
		if ((EPOCHSECONDS - START > BUDGET)); then
			note "time budget of ${BUDGET}s spent: skipping $impl round $r"
			status "$impl" partial "time budget spent before round $r"
			continue
		fi
		d=$OUT/raw/$impl/r$r
		mkdir -p "$d"
		note "round $r: $impl"
		if ! "setup_$impl" >>"$OUT/guest.log" 2>&1; then
			note "$impl: setup failed in round $r"
			status "$impl" failed "setup failed in round $r (see guest.log)"
			[ "$impl" = rust ] && unset 'avail[rust]'
			teardown
			continue
		fi
		t=$EPOCHSECONDS
		measure_traffic "$d" || note "$impl round $r: traffic measurements incomplete"
		((SCALE_PEERS > 0)) && [ "$impl" != veth ] && { measure_scale "$impl" "$d" "$r" || note "$impl round $r: scale incomplete"; }
		note "round $r: $impl done in $((EPOCHSECONDS - t))s"
		teardown
	done
done
echo "guest_seconds $((EPOCHSECONDS - START))" >>"$OUT/sysinfo.txt"
note "done in $((EPOCHSECONDS - START))s"
