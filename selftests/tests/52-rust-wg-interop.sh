#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Interoperability, each implementation in its own namespace over veth: handshake initiated from each side, ping
# v4/v6, a short iperf3 both ways.
# - rust_wg against the C wireguard.ko: rust_wg is the side-by-side rustwg_alt.ko (link kind and genl family
#   "rustwg"), configured with wgctl --family rustwg; the C side with wg.
# The full matrix (rust_wg, C and wireguard-go; outer v6, preshared keys, rekey, roaming, cookie replies) is test 85.
. "$RUST_WG_TOP/selftests/lib.sh"

ALT_KO="$(dirname "$RUST_WG_KO")/rustwg_alt.ko"
[ -f "$ALT_KO" ] || fail "rustwg_alt.ko not built at $ALT_KO"
[ -x "${WGCTL:-}" ] || skip "wgctl not built at ${WGCTL:-<unset>}"
command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"

# peer_test OTHER_IF WHAT KIND TOOL...: ns1 runs the other implementation on OTHER_IF (up, 10.98.0.1, fd98::1,
# port 51820), ns2 runs rust_wg (link kind KIND, configured with TOOL...). The first ping goes from INITIATOR's side.
peer_test() {
	local other=$1 what=$2 kind=$3 initiator=$4
	shift 4
	ip -n "$NS2" link add rwg0 type "$kind"
	ip -n "$NS2" addr add 10.98.0.2/24 dev rwg0
	ip -n "$NS2" addr add fd98::2/64 dev rwg0 nodad
	ip netns exec "$NS2" "$@" set rwg0 private-key <(echo "$k2") listen-port 51822 \
		peer "$p1" endpoint 192.168.241.1:51820 allowed-ips 10.98.0.1/32,fd98::1/128 || fail "configure rust_wg ($*)"
	ip -n "$NS2" link set rwg0 up
	n1 wg set "$other" private-key <(echo "$k1") listen-port 51820 peer "$p2" endpoint 192.168.241.2:51822 \
		allowed-ips 10.98.0.2/32,fd98::2/128 || fail "configure $what"
	if [ "$initiator" = rust ]; then
		wait_ping "$NS2" 10.98.0.1 || { n1 wg show; dmesg | tail -n 20; fail "rust_wg -> $what: no handshake"; }
	else
		wait_ping "$NS1" 10.98.0.2 || { n1 wg show; dmesg | tail -n 20; fail "$what -> rust_wg: no handshake"; }
	fi
	n1 ping -c 3 -i 0.3 -W 5 10.98.0.2 >/dev/null || { n1 wg show; fail "$what -> rust_wg ping v4"; }
	n2 ping -c 3 -i 0.3 -W 5 10.98.0.1 >/dev/null || fail "rust_wg -> $what ping v4"
	n2 ping -c 2 -W 5 fd98::1 >/dev/null || fail "rust_wg -> $what ping v6"
	if command -v iperf3 >/dev/null; then
		n2 iperf3 -s -D -1 -p 5201
		sleep 0.5
		n1 timeout "$(slow 30)" iperf3 -c 10.98.0.2 -p 5201 -t 2 -J >"$RESULTS/52-$what-to-rust.json" || fail "iperf3 $what -> rust_wg"
		n2 iperf3 -s -D -1 -p 5202
		sleep 0.5
		n1 timeout "$(slow 30)" iperf3 -c 10.98.0.2 -p 5202 -t 2 -R -J >"$RESULTS/52-rust-to-$what.json" || fail "iperf3 rust_wg -> $what"
		log "$what -> rust_wg $(iperf_bps "$RESULTS/52-$what-to-rust.json") bit/s, rust_wg -> $what $(iperf_bps "$RESULTS/52-rust-to-$what.json") bit/s"
	fi
	n1 wg show "$other" latest-handshakes | contains -v '	0$' || fail "$what shows no handshake"
	ip netns exec "$NS2" "$@" show rwg0 latest-handshakes | contains -v '	0$' || fail "rust_wg shows no handshake"
	ip -n "$NS2" link del rwg0
}

cleanup() {
	ns_cleanup
	rmmod rustwg_alt 2>/dev/null || true
	rust_wg_loaded && unload_rust_wg
	unload_c_wireguard 2>/dev/null || true
}
trap cleanup EXIT
k1=$(wg genkey); p1=$(echo "$k1" | wg pubkey)
k2=$(wg genkey); p2=$(echo "$k2" | wg pubkey)

# The C driver, next to rustwg_alt.ko.
load_c_wireguard || fail "modprobe wireguard (C)"
insmod "$ALT_KO" || fail "insmod rustwg_alt.ko"
for initiator in c rust; do
	ns_pair
	ip -n "$NS1" link add wg0 type wireguard
	ip -n "$NS1" addr add 10.98.0.1/24 dev wg0
	ip -n "$NS1" addr add fd98::1/64 dev wg0 nodad
	ip -n "$NS1" link set wg0 up
	peer_test wg0 c rustwg "$initiator" env WGCTL_FAMILY=rustwg "$WGCTL"
	ip -n "$NS1" link del wg0
	ns_cleanup
	log "rust_wg <-> C wireguard.ko, first packet from $initiator"
done
rmmod rustwg_alt || fail "rmmod rustwg_alt"
unload_c_wireguard || fail "rmmod wireguard (C)"

