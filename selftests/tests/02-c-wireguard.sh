#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The C reference driver loads next to rust_wg in the same VM: create, configure and delete a C wg0.
. "$RUST_WG_TOP/selftests/lib.sh"

load_rust_wg
load_c_wireguard || fail "modprobe wireguard"
ip link add wg0 type wireguard || fail "ip link add wg0 type wireguard"
key=$(wg genkey)
wg set wg0 private-key <(echo "$key") listen-port 51820
assert_eq "$(wg show wg0 listen-port)" 51820 "listen port"
assert_eq "$(wg show wg0 public-key)" "$(echo "$key" | wg pubkey)" "public key"
ip link set wg0 up
[ "$(cat /sys/class/net/wg0/mtu)" = 1420 ] || fail "default MTU"
ip link del wg0
! ip link show wg0 2>/dev/null || fail "wg0 still exists"
unload_c_wireguard || fail "rmmod wireguard"
unload_rust_wg
log "C wg0 created, configured, deleted next to rust_wg"
