# SPDX-License-Identifier: GPL-2.0
#
# Helpers for VM tests (sourced by selftests/tests/*.sh). A test is a bash script run as root inside the VM with
# cwd = repository root (read-only) and these in the environment:
#   RUST_WG_TOP  repository root        KBUILD   kernel build directory   MODROOT  installed modules (modprobe -d)
#   RESULTS      writable directory     WGCTL    built wgctl binary       RUST_WG_KO  built rust_wg.ko
# Exit 0 = pass, 1 = fail, 4 = skip (the last line of output says why). The runner fails a test that leaves a
# kernel splat in dmesg, so tests need not grep for those themselves.

set -euo pipefail

KSFT_SKIP=4

# RWG_TIME_FACTOR (set by run.sh: 1 on the normal kernel, 6 on the debug kernel): how many times slower this kernel
# runs a test. Waits that only give the system time (tries of a handshake ping, polls for a state change, the timeout
# of a transfer) are stretched with `slow N`; limits that only measure speed are divided by it; what a check
# asserts (order, loss, leaks, counters) is the same at any factor. Only scale what is timing-bound.
RWG_TIME_FACTOR=${RWG_TIME_FACTOR:-1}
slow() { echo $(($1 * RWG_TIME_FACTOR)); }
# slow_sleep SECONDS: sleep SECONDS (fractions allowed) times RWG_TIME_FACTOR.
slow_sleep() { sleep "$(awk -v s="$1" -v f="$RWG_TIME_FACTOR" 'BEGIN { print s * f }')"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit $KSFT_SKIP; }
log() { echo "# $*"; }

# CMD | contains [GREP-OPTIONS] PATTERN: whether CMD's output matches. Not `CMD | grep -q`: under pipefail that fails
# when grep -q exits at the first match while CMD still writes (ip, wg, dmesg write in pieces): CMD dies of SIGPIPE.
contains() {
	local in
	in=$(cat)
	grep -q "$@" <<<"$in"
}

# wait_for SECONDS CMD...: runs CMD every 0.2 s until it succeeds, for at most SECONDS (stretch it with `slow` where
# the wait is timing-bound); whether it did. CMD is evaluated afresh each time: a condition with pipes or command
# substitutions goes into a function.
wait_for() {
	local n=$(($1 * 5))
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }

# Modules built with the kernel (the C wireguard.ko as reference) load from the installed tree.
kmod() { modprobe -d "$MODROOT" "$@"; }

load_c_wireguard() { kmod wireguard; }
unload_c_wireguard() { modprobe -d "$MODROOT" -r wireguard; }

load_rust_wg() {
	[ -f "$RUST_WG_KO" ] || fail "rust_wg.ko not built at $RUST_WG_KO"
	insmod "$RUST_WG_KO" "$@"
}
unload_rust_wg() { rmmod rust_wg; }
rust_wg_loaded() { grep -q '^rust_wg ' /proc/modules; }

# need_tools TOOL...: skip the test unless every TOOL is there: `wgctl` (the built $WGCTL), `python3` (/usr/bin/python3,
# then also in $PY), or any command on PATH (wg, wg-quick, ...).
need_tools() {
	local t
	for t in "$@"; do
		case "$t" in
		wgctl) [ -x "${WGCTL:-}" ] || skip "wgctl not built at ${WGCTL:-<unset>}" ;;
		python3) PY=/usr/bin/python3; [ -x $PY ] || skip "no $PY" ;;
		wg) command -v wg >/dev/null || skip "wg (wireguard-tools) not installed" ;;
		*) command -v "$t" >/dev/null || skip "$t not installed" ;;
		esac
	done
}

# test_scratch [DEV...]: the common start of the tests that pick an implementation themselves: a scratch directory
# $tmp, neither rust_wg nor the C driver loaded, and an EXIT trap that runs the test's own `extra_cleanup` if it
# defines one, deletes the devices DEV... (init namespace), unloads whichever implementation is loaded and removes
# $tmp.
test_scratch() {
	tmp=$(mktemp -d)
	SCRATCH_DEVS=("$@")
	trap scratch_cleanup EXIT
	if rust_wg_loaded; then unload_rust_wg; fi
	unload_c_wireguard 2>/dev/null || true
}
scratch_cleanup() {
	local d
	if declare -F extra_cleanup >/dev/null; then extra_cleanup || true; fi
	for d in "${SCRATCH_DEVS[@]}"; do ip link del "$d" 2>/dev/null || true; done
	if rust_wg_loaded; then unload_rust_wg || true; fi
	unload_c_wireguard 2>/dev/null || true
	rm -rf "$tmp"
}

# rust_wg_scratch [DEV...]: test_scratch wg0 DEV..., then rust_wg loaded with a device wg0 in the init namespace.
rust_wg_scratch() {
	test_scratch wg0 "$@"
	load_rust_wg || fail "insmod rust_wg"
	ip link add wg0 type wireguard || fail "ip link add wg0"
}

# same WHAT FILE1 FILE2: the two files are byte-identical, or fail with (the start of) a diff.
same() { cmp -s "$2" "$3" || { diff -u "$2" "$3" | head -n 40 >&2; fail "$1 differ"; }; }

# dmesg_mark, dmesg_since: a test's own kernel messages.
. "$RUST_WG_TOP/selftests/dmesg.sh"

# alt_tunnel PREFIX NET PORT: a tunnel of the renamed build (link kind and genl family "rustwg", rustwg_alt.ko, loaded
# by the caller) between ${PREFIX}1 (NET.1, ns1, listen port PORT+1) and ${PREFIX}2 (NET.2, ns2, PORT+2), configured
# with wgctl, up once a ping got through. Needs ns_pair, a scratch directory $tmp and a dmesg mark $mark.
alt_tunnel() {
	local pre=$1 net=$2 port=$3 p1 p2 ok=0
	wg genkey >"$tmp/k1"; wg genkey >"$tmp/k2"
	p1=$(wg pubkey <"$tmp/k1"); p2=$(wg pubkey <"$tmp/k2")
	ip -n "$NS1" link add "${pre}1" type rustwg
	ip -n "$NS2" link add "${pre}2" type rustwg
	n1 "$WGCTL" --family rustwg set "${pre}1" private-key "$tmp/k1" listen-port $((port + 1)) \
		peer "$p2" endpoint 192.168.241.2:$((port + 2)) allowed-ips "$net.2/32" || fail "wgctl set ${pre}1"
	n2 "$WGCTL" --family rustwg set "${pre}2" private-key "$tmp/k2" listen-port $((port + 2)) \
		peer "$p1" endpoint 192.168.241.1:$((port + 1)) allowed-ips "$net.1/32" || fail "wgctl set ${pre}2"
	ip -n "$NS1" addr add "$net.1/24" dev "${pre}1"
	ip -n "$NS2" addr add "$net.2/24" dev "${pre}2"
	ip -n "$NS1" link set "${pre}1" up
	ip -n "$NS2" link set "${pre}2" up
	for _ in $(seq 1 "$(slow 20)"); do n1 ping -c 1 -W 1 "$net.2" >/dev/null 2>&1 && { ok=1; break; }; done
	((ok)) || { dmesg_since "$mark" | tail -n 20; fail "no handshake"; }
}

# Two network namespaces joined by a veth pair: ns1 (veth1 192.168.241.1/24, fd00:241::1/64) and ns2 (.2).
# Only these namespaces' own addresses are ever used.
NS1=rwg-ns1
NS2=rwg-ns2
ns_pair() {
	ip netns del "$NS1" 2>/dev/null || true
	ip netns del "$NS2" 2>/dev/null || true
	ip netns add "$NS1"
	ip netns add "$NS2"
	ip -n "$NS1" link set lo up
	ip -n "$NS2" link set lo up
	ip link add veth1 netns "$NS1" type veth peer name veth2 netns "$NS2"
	ip -n "$NS1" addr add 192.168.241.1/24 dev veth1
	ip -n "$NS2" addr add 192.168.241.2/24 dev veth2
	ip -n "$NS1" addr add fd00:241::1/64 dev veth1 nodad
	ip -n "$NS2" addr add fd00:241::2/64 dev veth2 nodad
	ip -n "$NS1" link set veth1 up
	ip -n "$NS2" link set veth2 up
}
ns_cleanup() {
	ip netns del "$NS1" 2>/dev/null || true
	ip netns del "$NS2" 2>/dev/null || true
}
n1() { ip netns exec "$NS1" "$@"; }
n2() { ip netns exec "$NS2" "$@"; }

# run_netns c|rust_wg [wg|wgctl]: the kernel's own netns.sh, unmodified, against one implementation, configured
# with wireguard-tools' wg or with wgctl standing in for it through a PATH shim.
run_netns() {
	local impl=$1 tool=${2:-wg} src netns shim
	src=$(readlink -f "$KBUILD/source")
	netns=$src/tools/testing/selftests/wireguard/netns.sh
	[ -f "$netns" ] || fail "no netns.sh at $netns"
	case "$impl" in
	c) load_c_wireguard || fail "modprobe wireguard" ;;
	rust_wg) load_rust_wg || fail "insmod rust_wg" ;;
	*) fail "run_netns: unknown implementation $impl" ;;
	esac
	if [ "$tool" = wgctl ]; then
		[ -x "$WGCTL" ] || fail "wgctl not built at $WGCTL"
		shim=$(mktemp -d)
		ln -s "$WGCTL" "$shim/wg"
		PATH="$shim:$PATH" bash "$netns" 3>&1 || fail "netns.sh against $impl with wgctl (exit $?)"
	else
		bash "$netns" 3>&1 || fail "netns.sh against $impl (exit $?)"
	fi
	case "$impl" in
	c) unload_c_wireguard ;;
	rust_wg) unload_rust_wg ;;
	esac
}

# wg_pair [KIND]: rust_wg (kind "wireguard", loaded by the caller) on both sides of ns_pair, configured with wg(8)
# over genl: wg0 in ns1 (10.99.0.1/24, fd99::1/64, port 51821) and ns2 (.2, port 51822), peers of each other.
# Sets K1 K2 (private keys) and P1 P2 (public keys).
wg_pair() {
	ns_pair
	K1=$(wg genkey); P1=$(wg pubkey <<<"$K1")
	K2=$(wg genkey); P2=$(wg pubkey <<<"$K2")
	local n ns
	for n in 1 2; do
		ns=$([ $n = 1 ] && echo "$NS1" || echo "$NS2")
		ip -n "$ns" link add wg0 type wireguard
		ip -n "$ns" addr add 10.99.0.$n/24 dev wg0
		ip -n "$ns" addr add fd99::$n/64 dev wg0 nodad
	done
	n1 wg set wg0 private-key <(echo "$K1") listen-port 51821 \
		peer "$P2" endpoint 192.168.241.2:51822 allowed-ips 10.99.0.2/32,fd99::2/128
	n2 wg set wg0 private-key <(echo "$K2") listen-port 51822 \
		peer "$P1" endpoint 192.168.241.1:51821 allowed-ips 10.99.0.1/32,fd99::1/128
	ip -n "$NS1" link set wg0 up
	ip -n "$NS2" link set wg0 up
}

# use_impl IMPL: the implementation IMPL ("c": the C wireguard.ko, "rust_wg") loaded, the other one unloaded.
use_impl() {
	case "$1" in
	c) rust_wg_loaded && unload_rust_wg; load_c_wireguard || fail "modprobe wireguard" ;;
	rust_wg) unload_c_wireguard 2>/dev/null || true; rust_wg_loaded || load_rust_wg || fail "insmod rust_wg" ;;
	*) fail "use_impl: unknown implementation $1" ;;
	esac
}

# impl_pair IMPL: wg_pair on the implementation IMPL (use_impl), without IPv6 on wg0 (IPv6 multicast listener
# reports to no peer would count as transmit errors at random times). For tests that run one scenario on both and
# compare.
impl_pair() {
	use_impl "$1"
	wg_pair
	n1 sysctl -qw net.ipv6.conf.wg0.disable_ipv6=1
	n2 sysctl -qw net.ipv6.conf.wg0.disable_ipv6=1
}

# versus_c WHAT EXPECTED: the test's `run IMPL` (which prints its figures) on the C driver, whose output must be
# EXPECTED (the control), then on rust_wg, whose output must be the same. WHAT names the figures in the log.
versus_c() {
	local c r
	c=$(run c)
	log "C driver: $1 = $c"
	assert_eq "$c" "$2" "C driver (control): $1"
	r=$(run rust_wg)
	log "rust_wg:  $1 = $r"
	assert_eq "$r" "$c" "rust_wg vs the C driver: $1"
}

# iperf_bps FILE: the received bit rate of an `iperf3 -J` run.
iperf_bps() {
	python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$1"
}

# len_packets NS CHAIN LENGTH...: how many packets NS's iptables CHAIN rules of the given IP total lengths (rules
# with `-m length --length L`) have counted, summed over the rules; 0 if there is none. Tests count WireGuard messages
# on the wire by length: (IPv4) initiation 176, response 120, cookie reply 92, keepalive 60.
len_packets() {
	local ns=$1 chain=$2
	shift 2
	ip netns exec "$ns" iptables -L "$chain" -v -x -n |
		awk -v want=" $* " '{ for (i = 1; i < NF; i++) if ($i == "length" && index(want, " " $(i + 1) " ")) n += $1 }
			END { print n + 0 }'
}

# ping_counts FILE: "TRANSMITTED RECEIVED" from the summary line of a ping's output in FILE (nothing if it has none).
ping_counts() { sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' "$1"; }

# wait_ping NS ADDR [TRIES]: the first packets wait for the handshake (X25519 is slow under TCG); allow 20 s (times
# RWG_TIME_FACTOR, as are given TRIES).
wait_ping() {
	local i
	for i in $(seq 1 "$(slow "${3:-20}")"); do
		ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}

# check_objects MARK: every "wgN: Peer 3 created" (interface, peer, keypair) since MARK has its "destroyed", the
# check the kernel's netns.sh makes over the debug log.
check_objects() {
	# One awk over the log (a loop of greps per object costs minutes under TCG when thousands were logged).
	local out
	out=$(dmesg_since "$1" | awk '
		match($0, /wg[0-9]+: [A-Z][a-z]+ ?[0-9]* /) {
			key = substr($0, RSTART, RLENGTH - 1)
			rest = substr($0, RSTART + RLENGTH - 1)
			state = ""
			while (match(rest, /created|destroyed/)) {
				state = substr(rest, RSTART, RLENGTH)
				rest = substr(rest, RSTART + RLENGTH)
			}
			if (state == "") next
			seen[key] = 1
			n[key, state]++
		}
		END {
			bad = 0; total = 0
			for (o in seen) {
				total++
				if (n[o, "created"] != n[o, "destroyed"]) {
					printf "leak: %s: created %d, destroyed %d\n", o, n[o, "created"], n[o, "destroyed"]
					bad = 1
				}
			}
			printf "objects %d %d\n", total, bad
		}')
	grep '^leak: ' <<<"$out" || true
	set -- $(grep '^objects ' <<<"$out")
	[ "${3:-1}" = 0 ] || fail "objects created but not destroyed"
	[ "${2:-0}" -gt 0 ] || fail "no object lifetime lines in the log"
	log "$2 objects created and destroyed"
}
