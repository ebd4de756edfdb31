# SPDX-License-Identifier: GPL-2.0
#
# Shared by the hardening tests (7x-*.sh): the fuzz tool and a two-namespace rust_wg tunnel configured with wg.
# Sourced after lib.sh.

WGFUZZ=$RUST_WG_TOP/selftests/tools/wgfuzz/target/release/wgfuzz
need_wgfuzz() { [ -x "$WGFUZZ" ] || fail "wgfuzz not built at $WGFUZZ (make tools)"; }

# tunnel_up [KIND]: rust_wg devices wg0 in NS1 (10.99.0.1, port 51001) and NS2 (10.99.0.2, port 51002), peers of
# each other over the veth pair, handshake done. Sets K1 K2 P1 P2 (private/public keys).
tunnel_up() {
	local kind=${1:-wireguard} n ns
	ns_pair
	K1=$(wg genkey); P1=$(wg pubkey <<<"$K1")
	K2=$(wg genkey); P2=$(wg pubkey <<<"$K2")
	for n in 1 2; do
		ns=$([ $n = 1 ] && echo "$NS1" || echo "$NS2")
		ip -n "$ns" link add wg0 type "$kind" || fail "ip link add wg0 type $kind in $ns"
		ip -n "$ns" addr add 10.99.0.$n/24 dev wg0
		ip -n "$ns" addr add fd99::$n/64 dev wg0 nodad
	done
	n1 wg set wg0 private-key <(echo "$K1") listen-port 51001 \
		peer "$P2" endpoint 192.168.241.2:51002 allowed-ips 10.99.0.2/32,fd99::2/128 || fail "wg set in $NS1"
	n2 wg set wg0 private-key <(echo "$K2") listen-port 51002 \
		peer "$P1" endpoint 192.168.241.1:51001 allowed-ips 10.99.0.1/32,fd99::1/128 || fail "wg set in $NS2"
	ip -n "$NS1" link set wg0 up
	ip -n "$NS2" link set wg0 up
	wait_tunnel "$NS1" 10.99.0.2 || fail "no handshake through the tunnel"
}

# wait_tunnel NS ADDR: the first ping waits for the handshake (X25519 is slow under TCG); allow 30 s (lib.sh: slow).
wait_tunnel() {
	local i
	for i in $(seq 1 "$(slow 30)"); do
		ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
	done
	return 1
}

# cpu_sample: "busy total softirq system" jiffies from /proc/stat (all CPUs).
cpu_sample() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t, $8, $4 }' /proc/stat
}

# canary SECONDS: iterations of a busy loop in user space in that time (how much CPU is left for a process).
canary() {
	python3 -c 'import time, sys
end = time.monotonic() + float(sys.argv[1]); n = 0
while time.monotonic() < end: n += 1
print(n)' "$1"
}
