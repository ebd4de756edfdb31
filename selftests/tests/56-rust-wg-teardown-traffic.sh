#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg under traffic (flood ping through the tunnel, both sides rust_wg.ko configured with wg over genl): the
# peer is removed mid-traffic (the flow stops, the peer is destroyed) and added back (the flow resumes); a device
# is deleted mid-traffic; the module is unloaded mid-traffic with devices up. No splat (the runner checks dmesg),
# and every object created is destroyed.
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"

mark=$(dmesg_mark)
load_rust_wg || fail "insmod rust_wg"
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg' EXIT
wg_pair
wait_ping "$NS1" 10.99.0.2 || fail "no handshake"

# Peer removal under traffic.
n1 ping -f -w 4 10.99.0.2 >/dev/null 2>&1 &
pid=$!
sleep 1
n1 wg set wg0 peer "$P2" remove || fail "wg set peer remove under traffic"
[ -z "$(n1 wg show wg0 peers)" ] || fail "peer still listed after removal"
wait $pid || true
! n1 ping -c 1 -W 1 10.99.0.2 >/dev/null 2>&1 || fail "ping works after the peer was removed"
dmesg_since "$mark" | contains 'wg0: Peer [0-9]* destroyed' || fail "no 'Peer destroyed' line after removal"
n1 wg set wg0 peer "$P2" endpoint 192.168.241.2:51822 allowed-ips 10.99.0.2/32,fd99::2/128
wait_ping "$NS1" 10.99.0.2 || fail "ping after re-adding the peer"
log "peer removal under traffic"

# Device deletion under traffic (ns2 floods its own device, which goes away).
n2 ping -f -w 4 10.99.0.1 >/dev/null 2>&1 &
pid=$!
sleep 1
ip -n "$NS2" link del wg0 || fail "link del under traffic"
wait $pid || true
log "device deletion under traffic"

# Module unload under traffic: recreate ns2's device, flood, rmmod.
ip -n "$NS2" link add wg0 type wireguard
ip -n "$NS2" addr add 10.99.0.2/24 dev wg0
n2 wg set wg0 private-key <(echo "$K2") listen-port 51822 peer "$P1" endpoint 192.168.241.1:51821 allowed-ips 10.99.0.1/32
ip -n "$NS2" link set wg0 up
wait_ping "$NS1" 10.99.0.2 || fail "ping with the recreated device"
n1 ping -f -w 6 10.99.0.2 >/dev/null 2>&1 &
pid1=$!
n2 ping -f -w 6 10.99.0.1 >/dev/null 2>&1 &
pid2=$!
sleep 1.5
unload_rust_wg || fail "rmmod under traffic"
wait $pid1 $pid2 || true
ip -n "$NS1" link show wg0 >/dev/null 2>&1 && fail "wg0 still exists after rmmod"
log "rmmod under traffic"
check_objects "$mark"
