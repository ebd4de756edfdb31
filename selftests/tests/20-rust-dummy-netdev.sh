#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The Rust netdev abstractions end to end: samples/rust/rust_dummy_netdev.ko registers the rtnl link kind
# "rust_dummy", whose devices answer ICMP echo requests through NAPI, and opens a UDP tunnel socket that echoes
# datagrams. Create two devices, ping through one, check the counters, echo UDP datagrams, delete the devices,
# unload the module and load/unload it again with a device left behind.
. "$RUST_WG_TOP/selftests/lib.sh"

load() {
	if kmod rust_dummy_netdev 2>/dev/null; then return 0; fi
	[ -f "$KBUILD/samples/rust/rust_dummy_netdev.ko" ] || skip "rust_dummy_netdev.ko not built (CONFIG_SAMPLE_RUST_DUMMY_NETDEV)"
	insmod "$KBUILD/samples/rust/rust_dummy_netdev.ko"
}
unload() { rmmod rust_dummy_netdev; }
loaded() { grep -q '^rust_dummy_netdev ' /proc/modules; }
# stat DEV rx|tx packets|bytes|dropped
stat() { cat "/sys/class/net/$1/statistics/$2_$3"; }

mark=$(dmesg_mark)
load || fail "loading rust_dummy_netdev"
loaded || fail "module not in /proc/modules"

ip link add rd0 type rust_dummy || fail "ip link add rd0"
ip link add rd1 type rust_dummy || fail "ip link add rd1"
ip -d link show rd0 | contains 'rust_dummy' || fail "rd0 is not of kind rust_dummy"
ip link show rd0 | contains 'POINTOPOINT,NOARP' || fail "rd0 flags: $(ip link show rd0 | head -1)"
assert_eq "$(cat /sys/class/net/rd0/type)" 65534 "rd0 type (ARPHRD_NONE)"
assert_eq "$(cat /sys/class/net/rd0/mtu)" 1500 "rd0 MTU"
ip link set rd0 mtu 1400 || fail "changing the MTU"
assert_eq "$(cat /sys/class/net/rd0/mtu)" 1400 "rd0 MTU after change"
! ip link set rd0 mtu 60 2>/dev/null || fail "MTU below min_mtu accepted"

ip addr add 10.211.0.1 peer 10.211.0.2 dev rd0
ip link set rd0 up
ip link set rd1 up
[ "$(cat /sys/class/net/rd0/carrier)" = 1 ] || fail "rd0 has no carrier after up"

# Echo requests to the peer address are answered by the device itself.
ping -c 5 -i 0.2 -W 2 10.211.0.2 >"$RESULTS/20-ping.txt" || { cat "$RESULTS/20-ping.txt"; fail "ping through rd0"; }
grep -q ' 0% packet loss' "$RESULTS/20-ping.txt" || fail "ping loss: $(tail -2 "$RESULTS/20-ping.txt")"
# A large echo (fragmented IPv4 into several packets) is not answered but must not break anything.
ping -c 1 -W 1 -s 3000 10.211.0.2 >/dev/null 2>&1 || true
ip -s link show rd0 >"$RESULTS/20-ip-s-link.txt"
rxp=$(stat rd0 rx packets)
txp=$(stat rd0 tx packets)
rxb=$(stat rd0 rx bytes)
((rxp >= 5)) || fail "rx_packets $rxp < 5"
((txp >= rxp)) || fail "tx_packets $txp < rx_packets $rxp"
((rxb >= 5 * 84)) || fail "rx_bytes $rxb < 420"
assert_eq "$(stat rd1 rx packets)" 0 "rd1 rx_packets (untouched device)"
log "rd0: rx $rxp packets / $rxb bytes, tx $txp packets"

# A flood of echoes from several CPUs at once, then down/up cycles with traffic in flight.
for i in 1 2 3 4; do ping -f -c 200 -W 1 10.211.0.2 >/dev/null 2>&1 & done
wait
for i in 1 2 3; do
	ping -f -c 50 10.211.0.2 >/dev/null 2>&1 &
	ip link set rd0 down
	ip link set rd0 up
	wait
done
ip addr add 10.211.0.1 peer 10.211.0.2 dev rd0 2>/dev/null || true
ping -c 2 -W 2 10.211.0.2 >/dev/null || fail "ping after down/up cycles"

# The UDP tunnel socket (encap_rcv, route lookup, dst_cache, udp_tunnel_xmit_skb) echoes datagrams.
port=$(dmesg_since "$mark" | grep -o 'UDP echo on port [0-9]*' | tail -1 | awk '{print $NF}')
[ -n "$port" ] || fail "no UDP echo port in dmesg"
ip link set lo up
python3 - "$port" <<'PY' || fail "UDP echo on port $port"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(3):
    msg = b"rust_wg-echo-%d" % i
    s.sendto(msg, ("127.0.0.1", int(sys.argv[1])))
    data, addr = s.recvfrom(2048)
    assert data == msg and addr == ("127.0.0.1", int(sys.argv[1])), (data, addr)
PY
log "UDP echo on port $port: 3 datagrams answered"

ip link del rd0 || fail "ip link del rd0"
! ip link show rd0 2>/dev/null || fail "rd0 still exists"
# rd1 is left for module unload to delete (rtnl_link_unregister).
unload || fail "rmmod"
! loaded || fail "module still loaded"
! ip link show rd1 2>/dev/null || fail "rd1 survived module unload"

load || fail "reload"
ip link add rd2 type rust_dummy || fail "ip link add after reload"
ip link set rd2 up
unload || fail "rmmod with an up device"

dmesg_since "$mark" | contains 'Rust dummy netdev sample (init)' || fail "no init message"
dmesg_since "$mark" | contains 'UDP echo: 3 datagrams' || fail "echo count at unload: $(dmesg_since "$mark" | grep 'UDP echo:')"
log "create, ping, stats, MTU, flood, down/up, delete and unload all clean"
