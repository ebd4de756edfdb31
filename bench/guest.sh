#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the benchmark VM, as root: `bash bench/guest.sh ENVFILE` (written by bench/run.sh).
#
# For every implementation (veth = no tunnel, the ceiling; c = wireguard.ko; go = wireguard-go; rust = rust_wg as
# rustwg_alt.ko, link kind and genl family "rustwg"; ipsec_chacha / ipsec_gcm = ESP tunnel mode with static SAs;
# ovpn_chacha / ovpn_gcm = OpenVPN over UDP) two namespaces are joined by a veth pair with the tunnel between them,
# and each measurement of docs/BENCHMARKS.md runs once per round. Rounds are interleaved across implementations
# (round 1: c rust veth go ..., round 2: ...), so a change of load on the shared host hits every implementation alike.
# PARTS selects the measurement groups: traffic (throughput, latency, CPU), flood (handshakes under a flood), scale
# (config set/dump, memory per peer), crypto (the crypto ceiling).
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
# A kernel warning in one slot must not end the whole run (scripts/vm.sh boots with panic_on_warn=1): the guest
# carries on and the slot's status says so. The kernel log is kept as it comes (dmesg.txt).
sysctl -qw kernel.panic_on_warn=0 || true
# Receive timestamping stays on for the whole run (TCG and live-patched static keys, see the tool).
"$RUST_WG_TOP/selftests/tools/hold-static-keys" || echo "hold-static-keys failed" >&2
# The kernel log, as it comes (a slot that crashes the guest leaves its trace here).
stdbuf -oL dmesg -w >"$OUT/dmesg-live.txt" 2>&1 &
DMESG_PID=$!

# status IMPL available|unavailable|failed [REASON]: what the report says about a slot.
status() { echo "$1 $2 ${3:-}" >>"$OUT/status.txt"; }
now() { echo "$EPOCHREALTIME"; }

part() { [[ ",$PARTS," == *",$1,"* ]]; } # part NAME: that measurement group was selected

# Background processes of the current implementation (servers, wireguard-go, openvpn), killed by PID at teardown;
# DAEMON_PIDS are the tunnel daemons whose CPU time counts as the implementation's.
PIDS=()
DAEMON_PIDS=()
teardown() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || true; done
	PIDS=() DAEMON_PIDS=()
	ns_cleanup
}
final_cleanup() {
	teardown
	rmmod "$(basename "$RUST_WG_KO" .ko)" 2>/dev/null || true
	modprobe -d "$MODROOT" -r wireguard 2>/dev/null || true
	rm -rf "$TMPD"
	kill "$DMESG_PID" 2>/dev/null || true
	dmesg >"$OUT/dmesg.txt" 2>&1 || true
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
	PIDS+=($!) DAEMON_PIDS+=($!)
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

# In-kernel IPsec (issue 11): ESP in tunnel mode with static SAs (no IKE daemon), v4 outer between the veth
# addresses. The inner addresses sit on lo; the route to the other inner address has wg's MTU (1420) so that packet
# sizes match the WireGuard slots, and the xfrm policies send it through the SA.
ipsec_alg() { # IMPL: the AEAD template and its key length (key + 4-byte salt)
	case $1 in
	ipsec_chacha) echo "rfc7539esp(chacha20,poly1305) 36" ;;
	ipsec_gcm) echo "rfc4106(gcm(aes)) 36" ;;
	esac
}
hexkey() { echo "0x$(head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n')"; }
ipsec_sa() { # NS ALG KEY12 KEY21: both SAs (1 -> 2 spi 0x1001, 2 -> 1 spi 0x1002) into NS
	ip -n "$1" xfrm state add src 192.168.241.1 dst 192.168.241.2 proto esp spi 0x1001 reqid 1 mode tunnel \
		aead "$2" "$3" 128
	ip -n "$1" xfrm state add src 192.168.241.2 dst 192.168.241.1 proto esp spi 0x1002 reqid 2 mode tunnel \
		aead "$2" "$4" 128
}
ipsec_policy() { # NS LOCAL REMOTE OUTREQID INREQID (LOCAL/REMOTE: 1 or 2)
	ip -n "$1" xfrm policy add src "10.241.0.$2/32" dst "10.241.0.$3/32" dir out \
		tmpl src "192.168.241.$2" dst "192.168.241.$3" proto esp reqid "$4" mode tunnel
	ip -n "$1" xfrm policy add src "10.241.0.$3/32" dst "10.241.0.$2/32" dir in \
		tmpl src "192.168.241.$3" dst "192.168.241.$2" proto esp reqid "$5" mode tunnel
}
setup_ipsec() { # IMPL
	local alg len k12 k21
	read -r alg len <<<"$(ipsec_alg "$1")"
	ns_pair
	k12=$(hexkey "$len") k21=$(hexkey "$len")
	ipsec_sa "$NS1" "$alg" "$k12" "$k21"
	ipsec_sa "$NS2" "$alg" "$k12" "$k21"
	ipsec_policy "$NS1" 1 2 1 2
	ipsec_policy "$NS2" 2 1 2 1
	ip -n "$NS1" addr add 10.241.0.1/32 dev lo
	ip -n "$NS2" addr add 10.241.0.2/32 dev lo
	ip -n "$NS1" route add 10.241.0.2/32 dev veth1 src 10.241.0.1 mtu 1420
	ip -n "$NS2" route add 10.241.0.1/32 dev veth2 src 10.241.0.2 mtu 1420
	DST=10.241.0.2 RXIF=veth2 # decapsulated packets are not counted on any interface: CPU per Gbit uses ESP bytes
	wait_until 10 n1 ping -c 1 -W 1 -q "$DST"
}
setup_ipsec_chacha() { setup_ipsec ipsec_chacha; }
setup_ipsec_gcm() { setup_ipsec ipsec_gcm; }
ipsec_probe() { # IMPL: can this kernel do it? Prints the reason when not.
	local alg len err
	read -r alg len <<<"$(ipsec_alg "$1")"
	ip netns add rwg-probe 2>/dev/null || true
	if ! err=$(ip -n rwg-probe xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 mode tunnel \
		aead "$alg" "$(hexkey "$len")" 128 2>&1); then
		ip netns del rwg-probe
		echo "kernel lacks XFRM_USER/INET_ESP or $alg: ${err:-error}"
		return 1
	fi
	ip netns del rwg-probe
}

# OpenVPN (issue 11): the Debian package in point-to-point TLS mode over UDP, one process per namespace, with the
# data channel cipher pinned by --data-ciphers, wg's MTU (1420) on the tun device, and no DCO (userspace data path,
# as Debian ships it without the ovpn-dco module). Certificates: a throwaway CA made at run time.
ovpn_certs() {
	local d=$TMPD/ovpn n
	[ -f "$d/client.crt" ] && return 0
	mkdir -p "$d"
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' >"$d/leaf.ext"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=rust_wg-bench-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>>"$OUT/guest.log"
	for n in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$n" \
			-keyout "$d/$n.key" -out "$d/$n.csr" 2>>"$OUT/guest.log"
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
			-extfile "$d/leaf.ext" -out "$d/$n.crt" 2>>"$OUT/guest.log"
	done
}
ovpn_cipher() { case $1 in ovpn_chacha) echo CHACHA20-POLY1305 ;; ovpn_gcm) echo AES-256-GCM ;; esac; }
start_ovpn() { # NS LOCAL REMOTE ROLE CIPHER LOGFILE
	local d=$TMPD/ovpn role=$4
	ip netns exec "$1" openvpn --dev "ovpn$2" --dev-type tun --proto udp4 --port 1194 \
		--local "192.168.241.$2" --remote "192.168.241.$3" --ifconfig "10.241.0.$2" "10.241.0.$3" \
		--tun-mtu 1420 --data-ciphers "$5" --data-ciphers-fallback "$5" --disable-dco \
		--ca "$d/ca.crt" --cert "$d/$role.crt" --key "$d/$role.key" --dh none "--tls-$role" \
		--ping 10 --ping-restart 120 --verb 3 --mute-replay-warnings >"$6" 2>&1 &
	PIDS+=($!) DAEMON_PIDS+=($!)
}
setup_ovpn() { # IMPL
	local c
	c=$(ovpn_cipher "$1")
	ns_pair
	ovpn_certs
	start_ovpn "$NS2" 2 1 server "$c" "$TMPD/ovpn-server.log"
	start_ovpn "$NS1" 1 2 client "$c" "$TMPD/ovpn-client.log"
	DST=10.241.0.2 RXIF=ovpn2
	wait_until 60 n1 ping -c 1 -W 1 -q "$DST" || { cat "$TMPD/ovpn-client.log" "$TMPD/ovpn-server.log"; return 1; }
	# What the two ends agreed on, for the report.
	grep -h "Data Channel: cipher\|Control Channel:" "$TMPD/ovpn-client.log" | head -n 2 | sed "s/^/$1: /" >>"$OUT/guest.log"
	grep -q "Data Channel: cipher '$c'" "$TMPD/ovpn-client.log" || { echo "openvpn did not agree on $c"; return 1; }
}
setup_ovpn_chacha() { setup_ovpn ovpn_chacha; }
setup_ovpn_gcm() { setup_ovpn ovpn_gcm; }
# CPU accounting: "/proc/stat cpu fields (USER_HZ ticks) | kworker utime+stime | daemon (wireguard-go, openvpn) utime+stime |
# bytes received by the inner interface in ns2 ($RXIF) | wall clock".
ticks_of() { # AWK-FILTER: sum utime+stime of matching tasks (comm is field 2; kworker names have no spaces)
	cat /proc/[0-9]*/stat 2>/dev/null | awk "$1"' { s += $14 + $15 } END { print s + 0 }'
}
cpu_snap() {
	local go=0 p
	for p in "${DAEMON_PIDS[@]}"; do
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

# want NAME: the traffic measurement NAME (tcp1, tcp4, udp64, udp1420, rtt_idle, rtt_load) was selected (TRAFFIC).
want() { [ "${TRAFFIC:-all}" = all ] || [[ ",$TRAFFIC," == *",$1,"* ]]; }
measure_traffic() { # DIR
	local d=$1
	iperf_server || { note "iperf3 server did not start"; return 1; }
	irtt_server || { note "irtt server did not start"; return 1; }
	if want tcp1; then
		cpu_snap >"$d/cpu_tcp1.txt"
		iperf "$d/tcp1_fwd.json" -t "$DUR" -O 1
		cpu_snap >>"$d/cpu_tcp1.txt"
		iperf "$d/tcp1_rev.json" -t "$DUR" -O 1 -R
	fi
	if want tcp4; then
		iperf "$d/tcp4_fwd.json" -t "$DUR" -O 1 -P 4
		# Quick runs leave out the 4-stream reverse run (the slowest to set up under TCG).
		((QUICK)) || iperf "$d/tcp4_rev.json" -t "$DUR" -O 1 -P 4 -R
	fi
	# UDP at a fixed inner packet size: 64 and 1420 bytes of IPv4 packet = payload + 28 bytes of IP/UDP header.
	want udp64 && iperf "$d/udp64.json" -t "$DUR" -u -b 0 -l 36
	want udp1420 && iperf "$d/udp1420.json" -t "$DUR" -u -b 0 -l 1392
	want rtt_idle && probe "$d/rtt_idle.json"
	want rtt_load || return 0
	# Latency under load: one bulk TCP flow saturates the path while the small flow runs through it. The probe
	# connects first (its open exchange timed out behind wireguard-go's bulk queue), then the bulk flow starts; the
	# report counts the probes sent from 2 s after the bulk flow's start (rtt_load_start.txt, ns) on.
	n1 timeout -k 5 $((RTT_DUR + 70)) irtt client -i 20ms -d "$((RTT_DUR + 2))s" -l 172 -q --timeouts=1s,2s,4s,8s \
		-o "$d/rtt_load.json" "$DST" >"$d/rtt_load_irtt.txt" 2>&1 &
	local probe_pid=$!
	wait_until 16 grep -qiE "connected|established" "$d/rtt_load_irtt.txt" || note "irtt under load: not connected after 16 s"
	date +%s%N >"$d/rtt_load_start.txt"
	n1 taskset -c 0 timeout -k 5 $((RTT_DUR + 50)) iperf3 -c "$DST" -J -t $((RTT_DUR + 4)) \
		>"$d/rtt_load_bulk.json" 2>>"$OUT/guest.log" &
	local bulk=$!
	wait "$probe_pid" || note "irtt failed ($d/rtt_load.json): $(tail -n2 "$d/rtt_load_irtt.txt" | tr '\n' ' ')"
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
	for p in "${DAEMON_PIDS[@]}"; do rss=$((rss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0))); done
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
		kill "${DAEMON_PIDS[-1]}" 2>/dev/null || true
		timeout 10 tail --pid="${DAEMON_PIDS[-1]}" -f /dev/null 2>/dev/null || true
	fi
}
measure_scale() { # IMPL DIR ROUND
	local impl=$1 d=$2 full=$TMPD/scale.conf
	case $impl in
	c)
		scale_one c wg wireguard wgcs "$d/scale_wg.txt" "$full" "$SCALE_PEERS"
		# wgctl against the C driver: the same tool as rust_wg uses, so rust/C on config_*_wgctl_s compares drivers.
		if [ -x "$WGCTL" ] && ((SCALE_WGCTL_ON_C)); then
			scale_one c wgctl wireguard wgcs "$d/scale_wgctl.txt" "$full" "$SCALE_PEERS"
		fi ;;
	# wireguard-go sets peers over its text UAPI ten times slower per peer under TCG: a twentieth of the peers.
	go) scale_one go wg wireguard wggs "$d/scale_wg.txt" "$TMPD/scale-go.conf" "$SCALE_PEERS_GO" ;;
	rust) scale_one rust wgctl "$RUST_FAMILY" wgrs "$d/scale_wgctl.txt" "$full" "$SCALE_PEERS" ;;
	esac
}

# Handshake flood: the ns2 end of the tunnel (the victim, private key k2) gets FLOOD_IDS more peers, identity i with
# endpoint 10.250.0.<i>:40000 in ns1, from where bench/hsflood sends FLOOD_FRESH valid initiations per second in
# all, answering cookie replies like a real initiator, plus a flood of replayed initiations as fast as it can (see
# its docstring). The flooder runs on vCPU 0, the victim's handshake workers wherever the implementation puts them.
# Counted: initiations sent, cookie replies and handshake responses received, and the CPU snapshots around it.
measure_flood() { # DIR
	local d=$1 i
	if ! [ -s "$TMPD/flood-ids.txt" ]; then
		"$HSFLOOD" keys "$FLOOD_IDS" >"$TMPD/flood-ids.txt"
		{ echo "[Interface]"; awk '{ print ""; print "[Peer]"; print "PublicKey = " $2;
			print "Endpoint = 10.250.0." NR ":40000" }' "$TMPD/flood-ids.txt"; } >"$TMPD/flood.conf"
	fi
	cfg "$NS2" addconf "$RXIF" "$TMPD/flood.conf" || { note "flood: addconf failed"; return 1; }
	for i in $(seq 1 "$FLOOD_IDS"); do echo "addr add 10.250.0.$i/24 dev veth1"; done | ip -n "$NS1" -batch - ||
		{ note "flood: source addresses"; return 1; }
	ip -n "$NS2" route add 10.250.0.0/24 dev veth2
	# The tool takes the CPU snapshots itself, around its sending window. First the baseline: fresh initiations only,
	# 40/s for 3 s (below every implementation's under-load threshold), answered until the victim is done.
	FLOOD_DAEMON_PIDS="${DAEMON_PIDS[*]}" n1 taskset -c 0 timeout -k 5 60 "$HSFLOOD" fresh "$P2" \
		192.168.241.2:51822 "$TMPD/flood-ids.txt" 10.250.0. 3 40 "$d/cpu_fresh.txt" \
		>"$d/fresh.txt" 2>>"$OUT/guest.log" || note "flood tool (baseline) failed"
	FLOOD_DAEMON_PIDS="${DAEMON_PIDS[*]}" n1 taskset -c 0 timeout -k 5 $((FLOOD_DUR + 60)) "$HSFLOOD" flood "$P2" \
		192.168.241.2:51822 "$TMPD/flood-ids.txt" 10.250.0. "$FLOOD_DUR" "$FLOOD_FRESH" "$d/cpu_flood.txt" \
		>"$d/flood.txt" 2>>"$OUT/guest.log" || note "flood tool failed"
	# The flooded device still carries traffic afterwards (what a user would notice), bounded wait.
	local t0
	t0=$(now)
	if wait_until 20 n1 ping -c 1 -W 1 -q "$DST"; then echo "ping_after_s $(elapsed "$t0" "$(now)")" >>"$d/flood.txt"
	else echo "ping_after_s none" >>"$d/flood.txt"; fi
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
	echo "openvpn $(openvpn --version 2>/dev/null | head -n1 || echo none)"
	echo "python $("$PY" --version 2>&1)"
	echo "parts $PARTS"
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
		ko=$(basename "$RUST_WG_KO")
		if ! [ -f "$RUST_WG_KO" ]; then status rust unavailable "$ko not built"
		elif ! err=$(insmod "$RUST_WG_KO" 2>&1); then status rust unavailable "insmod $ko failed: ${err##*: }"
		elif ! ip link add rwgprobe type "$RUST_KIND" 2>>"$OUT/guest.log"; then status rust unavailable "ip link add type $RUST_KIND: not supported"
		elif ! [ -x "$WGCTL" ]; then ip link del rwgprobe; status rust unavailable "wgctl not built"
		elif ! "$WGCTL" --family "$RUST_FAMILY" show rwgprobe >/dev/null 2>>"$OUT/guest.log"; then
			ip link del rwgprobe; status rust unavailable "wgctl --family $RUST_FAMILY show failed"
		else ip link del rwgprobe; avail[rust]=1; status rust available "$ko (link kind $RUST_KIND, genl family $RUST_FAMILY, wgctl)"; fi ;;
	ipsec_chacha | ipsec_gcm)
		if reason=$(ipsec_probe "$impl"); then avail[$impl]=1; status "$impl" available "ESP tunnel mode, $(ipsec_alg "$impl" | cut -d' ' -f1), static SAs"
		else status "$impl" unavailable "$reason"; fi ;;
	ovpn_chacha | ovpn_gcm)
		[ -c /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; } 2>/dev/null || true
		if ! command -v openvpn >/dev/null; then status "$impl" unavailable "openvpn not installed"
		elif ! [ -c /dev/net/tun ]; then status "$impl" unavailable "no /dev/net/tun (CONFIG_TUN)"
		else avail[$impl]=1; status "$impl" available "$(openvpn --version | head -n1 | cut -d' ' -f1-2), UDP, $(ovpn_cipher "$impl"), no DCO"; fi ;;
	*) status "$impl" unavailable "unknown implementation" ;;
	esac
done

# --- the crypto ceiling, one vCPU ---------------------------------------------------------------------------------
# The kernel's own AEADs through AF_ALG (rfc7539(chacha20,poly1305) uses the same arch ChaCha20 and Poly1305 code as
# wireguard's lib/crypto; gcm(aes) is what IPsec-GCM uses), and userspace OpenSSL (what OpenVPN uses).
if part crypto; then
	for r in $(seq 1 "$RUNS"); do
		for a in chacha20poly1305 aes256gcm; do
			taskset -c 1 timeout 60 "$PY" "$BENCH/afalg.py" "$a" 1420 "$CRYPTO_SECONDS" \
				>"$OUT/raw/crypto_kernel_${a}_r$r.txt" 2>>"$OUT/guest.log" || true
		done
		taskset -c 1 timeout 60 openssl speed -mr -evp chacha20-poly1305 -bytes 1420 -seconds "$CRYPTO_SECONDS" \
			>"$OUT/raw/crypto_r$r.txt" 2>/dev/null || note "openssl speed failed"
		taskset -c 1 timeout 60 openssl speed -mr -evp aes-256-gcm -bytes 1420 -seconds "$CRYPTO_SECONDS" \
			>"$OUT/raw/crypto_openssl_aes256gcm_r$r.txt" 2>/dev/null || note "openssl speed failed"
	done
fi

# --- rounds -----------------------------------------------------------------------------------------------------
# Config scale runs once, after the rounds (the data path of every slot first); the rounds leave it SCALE_RESERVE
# seconds of the budget.
do_scale=0
if ((SCALE_PEERS > 0)) && part scale; then
	do_scale=1
	# The configurations were generated on the host (bench/run.sh), where Python is not slowed down by TCG.
	cp "$OUT/scale-r1.conf" "$TMPD/scale.conf"
	cp "$OUT/scale-go-r1.conf" "$TMPD/scale-go.conf"
fi
rounds_budget=$((BUDGET - do_scale * ${SCALE_RESERVE:-0}))
slot_end() { # IMPL ROUND DIR KT0: kernel warnings/oopses since the slot began (teardown included)
	dmesg | awk -v t0="$4" '{ t = substr($0, 2, index($0, "]") - 2) + 0 } t >= t0' >"$3/dmesg.txt" || true
	w=$(grep -m1 -E -A1 'cut here|BUG:|Oops|refcount_t:|WARNING:' "$3/dmesg.txt" | tr '\n' ' ' | cut -c1-200 || true)
	if [ -n "$w" ]; then
		note "$1 round $2: kernel warning: $w"
		status "$1" warning "kernel warning in round $2: $w"
	fi
}
for r in $(seq 1 "$RUNS"); do
	for impl in $IMPLS; do
		[ -n "${avail[$impl]:-}" ] || continue
		# The comparison set (IPsec, OpenVPN) gets its own, usually smaller, number of rounds.
		case $impl in ipsec_* | ovpn_*) ((r <= ${EXTRA_RUNS:-$RUNS})) || continue ;; esac
		if ((EPOCHSECONDS - START > rounds_budget)); then
			note "time budget of ${BUDGET}s spent: skipping $impl round $r"
			status "$impl" partial "time budget spent before round $r"
			continue
		fi
		d=$OUT/raw/$impl/r$r
		mkdir -p "$d"
		note "round $r: $impl"
		kt0=$(cut -d' ' -f1 /proc/uptime)
		if ! "setup_$impl" >>"$OUT/guest.log" 2>&1; then
			note "$impl: setup failed in round $r"
			status "$impl" failed "setup failed in round $r (see guest.log)"
			unset "avail[$impl]"
			teardown
			continue
		fi
		t=$EPOCHSECONDS
		if part traffic; then measure_traffic "$d" || note "$impl round $r: traffic measurements incomplete"; fi
		case $impl in
		c | go | rust)
			if part flood && [ -x "$HSFLOOD" ]; then measure_flood "$d" || note "$impl round $r: flood incomplete"; fi ;;
		esac
		teardown
		slot_end "$impl" "$r" "$d" "$kt0"
		note "round $r: $impl done in $((EPOCHSECONDS - t))s"
	done
done
# Config scale (stored as round 1's), once per WireGuard implementation, while the budget lasts.
if ((do_scale)); then
	for impl in $IMPLS; do
		case $impl in c | go | rust) ;; *) continue ;; esac
		[ -n "${avail[$impl]:-}" ] || continue
		if ((EPOCHSECONDS - START > BUDGET)); then
			note "time budget of ${BUDGET}s spent: no config scale for $impl"
			echo "$impl" >>"$OUT/scale_skipped.txt"
			continue
		fi
		d=$OUT/raw/$impl/r1
		mkdir -p "$d"
		note "config scale: $impl"
		kt0=$(cut -d' ' -f1 /proc/uptime)
		t=$EPOCHSECONDS
		if ! "setup_$impl" >>"$OUT/guest.log" 2>&1; then
			note "$impl: setup for config scale failed"
			teardown
			continue
		fi
		measure_scale "$impl" "$d" 1 || note "$impl: scale incomplete"
		teardown
		slot_end "$impl" scale "$d" "$kt0"
		note "config scale: $impl done in $((EPOCHSECONDS - t))s"
	done
fi
echo "guest_seconds $((EPOCHSECONDS - START))" >>"$OUT/sysinfo.txt"
note "done in $((EPOCHSECONDS - START))s"
