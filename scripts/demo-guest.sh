#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The demo, inside the VM: rust_wg.ko loaded, two network namespaces joined by a veth pair, a rust_wg tunnel between
# them configured with wgctl, ping and iperf3 through it. Only addresses inside these namespaces are used.
set -uo pipefail
top=$1
wgctl=$top/wgctl/target/release/wgctl
export RUST_WG_TOP=$top KBUILD= MODROOT= RESULTS=/tmp WGCTL=$wgctl RUST_WG_KO=$top/rust_wg/rust_wg.ko
. "$top/selftests/lib.sh"
set +e
# Receive timestamping stays on for the whole run (TCG and live-patched static keys, see the tool).
"$top/selftests/tools/hold-static-keys" || echo "hold-static-keys failed" >&2
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "== rust_wg demo: kernel $(uname -r), $(nproc) vCPUs"
step insmod "$RUST_WG_KO" || exit 1
step sh -c 'grep rust_wg /proc/modules; dmesg | grep "rust_wg" | tail -n 2'

ns_pair
k1=$("$wgctl" genkey); k2=$("$wgctl" genkey)
p1=$(echo "$k1" | "$wgctl" pubkey); p2=$(echo "$k2" | "$wgctl" pubkey)
step n1 ip link add wg0 type wireguard || { echo "rust_wg does not create devices yet"; exit 0; }
n2 ip link add wg0 type wireguard
n1 ip addr add 10.241.0.1/24 dev wg0; n1 ip addr add fd00:a::1/64 dev wg0
n2 ip addr add 10.241.0.2/24 dev wg0; n2 ip addr add fd00:a::2/64 dev wg0
if ! step n1 "$wgctl" set wg0 private-key <(echo "$k1") listen-port 51820 \
	peer "$p2" endpoint 192.168.241.2:51820 allowed-ips 10.241.0.2/32,fd00:a::2/128; then
	echo "rust_wg does not take configuration over genl yet"; exit 0
fi
n2 "$wgctl" set wg0 private-key <(echo "$k2") listen-port 51820 \
	peer "$p1" endpoint 192.168.241.1:51820 allowed-ips 10.241.0.1/32,fd00:a::1/128
n1 ip link set wg0 up; n2 ip link set wg0 up
step n1 "$wgctl" show wg0
step n1 ping -c 3 -W 2 10.241.0.2
step n1 ping -6 -c 3 -W 2 fd00:a::2
step n1 "$wgctl" show wg0
n2 iperf3 -s -1 -D -B 10.241.0.2 >/dev/null 2>&1; sleep 1
step n1 iperf3 -c 10.241.0.2 -t 5 -f m
step n1 "$wgctl" show wg0 transfer
ns_cleanup
step rmmod rust_wg
step sh -c 'dmesg | grep "rust_wg" | tail -n 1'
