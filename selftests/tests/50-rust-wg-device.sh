#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg device lifecycle: `ip link add type wireguard` makes a device with the C driver's link properties; up
# opens a UDP socket per family on one port and down closes them; 100 devices come and go; rmmod with devices
# present (some up) deletes them; every "Interface created" has its "Interface destroyed"; the side-by-side
# rustwg_alt.ko (link kind "rustwg") loads next to the C wireguard.ko.
. "$RUST_WG_TOP/selftests/lib.sh"

ALT_KO="$(dirname "$RUST_WG_KO")/rustwg_alt.ko"
# Number of UDP sockets (v4 + v6) bound to port $1 (decimal).
udp_on_port() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/udp /proc/net/udp6 | awk -v p=":$hex" '$2 ~ p"$" {n++} END {print n+0}'
}

mark=$(dmesg_mark)
load_rust_wg || fail "insmod rust_wg"

ip link add wg0 type wireguard || fail "ip link add wg0 type wireguard"
ip -d link show wg0 | contains 'wireguard' || fail "wg0 is not of kind wireguard: $(ip -d link show wg0)"
ip link show wg0 | contains 'POINTOPOINT,NOARP' || fail "wg0 flags: $(ip link show wg0 | head -1)"
assert_eq "$(cat /sys/class/net/wg0/mtu)" 1420 "wg0 default MTU"
assert_eq "$(cat /sys/class/net/wg0/type)" 65534 "wg0 type (ARPHRD_NONE)"
ip link set wg0 mtu 1280 || fail "MTU change"
! ip link set wg0 mtu 60 2>/dev/null || fail "MTU below 68 accepted"
ip link set wg0 mtu 1420

# Up: one socket per family on one random port; down: none.
before=$(cat /proc/net/udp /proc/net/udp6 | wc -l)
ip link set wg0 up || fail "ip link set wg0 up"
after=$(cat /proc/net/udp /proc/net/udp6 | wc -l)
ip link show wg0 | contains 'qdisc noqueue' || fail "wg0 has a queue: $(ip link show wg0 | head -1)"
assert_eq "$((after - before))" 2 "UDP sockets opened by up"
port=$(cat /proc/net/udp | awk 'NR > 1 {print $2}' | sed 's/.*://' | while read -r h; do echo $((16#$h)); done | sort -n | tail -1)
ip link set wg0 down
assert_eq "$(cat /proc/net/udp /proc/net/udp6 | wc -l)" "$before" "UDP sockets after down"
for i in 1 2 3; do
	ip link set wg0 up || fail "up #$i"
	ip link set wg0 down || fail "down #$i"
done
assert_eq "$(cat /proc/net/udp /proc/net/udp6 | wc -l)" "$before" "UDP sockets after up/down cycles"
log "up/down opens and closes the sockets (last port seen $port)"

# Transmit without peers drops (no crash), while up.
ip link set wg0 up
ip addr add 10.250.0.1/24 dev wg0
ping -c 1 -W 1 10.250.0.2 >/dev/null 2>&1 || true
ip link del wg0 || fail "ip link del wg0"

# 100 devices, ten of them up, then deleted (each socket close waits for grace periods, slow under TCG).
for i in $(seq 1 100); do ip link add "wg$i" type wireguard || fail "add wg$i"; done
for i in $(seq 1 10 100); do ip link set "wg$i" up || fail "up wg$i"; done
for i in $(seq 1 100); do ip link del "wg$i" || fail "del wg$i"; done
log "100 devices created and deleted"

# Devices in another namespace, deleted with their namespace while down.
ip netns add rwg-life
ip -n rwg-life link add wg0 type wireguard || fail "add wg0 in a namespace"
ip netns del rwg-life

# rmmod with devices present, some up.
for i in $(seq 1 10); do ip link add "wg$i" type wireguard; done
for i in 1 2 3; do ip link set "wg$i" up; done
unload_rust_wg || fail "rmmod with devices present"
! ip link show wg1 >/dev/null 2>&1 || fail "wg1 survived rmmod"
slow_sleep 1
created=$(dmesg_since "$mark" | grep -c ': Interface created' || true)
destroyed=$(dmesg_since "$mark" | grep -c ': Interface destroyed' || true)
assert_eq "$destroyed" "$created" "Interface destroyed lines (created: $created)"
assert_eq "$created" 112 "Interface created lines"

# The side-by-side variant next to the C driver.
[ -f "$ALT_KO" ] || fail "rustwg_alt.ko not built at $ALT_KO"
load_c_wireguard || fail "modprobe wireguard (C)"
insmod "$ALT_KO" || fail "insmod rustwg_alt.ko"
ip link add wgc0 type wireguard || fail "C device"
ip link add rwg0 type rustwg || fail "rustwg device"
ip link set wgc0 up
ip link set rwg0 up
ip -d link show rwg0 | contains 'rustwg' || fail "rwg0 kind"
ip link del rwg0
ip link del wgc0
rmmod rustwg_alt || fail "rmmod rustwg_alt"
unload_c_wireguard || true
log "rustwg_alt.ko and wireguard.ko side by side"
