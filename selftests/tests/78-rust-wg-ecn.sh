#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# ECN through the tunnel (RFC 6040, as the C driver): the outer header of a data packet carries the inner packet's
# ECN bits and no DSCP; a CE mark a router puts on the outer header reaches the inner packet; handshake messages
# leave with DS 0x88 (AF41). Same scenario on the C driver (control), then on rust_wg; both must agree.
#
# ns1 pings ns2 through wg0 with TOS 0xba (DSCP 46, ECT(0)). ns2's tunnel address is 10.77.0.2 (on its lo, and the
# source of its packets to ns1, so ns1 does not roam away from it), which ns1 routes into a dummy device; a relay in
# ns1 (a packet socket on dummy0) takes the datagrams there and sends them to ns2 over the veth, marking every other
# ECT one CE, as a congested router would. In ns2 a packet socket on veth2 reads the outer headers and one on wg0
# the inner echo requests: every inner request must be CE exactly when its outer packet was.
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
command -v python3 >/dev/null || skip "python3 not installed"
relay=
trap '[ -n "$relay" ] && kill $relay 2>/dev/null; ns_cleanup; rust_wg_loaded && unload_rust_wg; unload_c_wireguard 2>/dev/null' EXIT

cat >"$RESULTS/78-watch.py" <<'EOF'
# Prints, in the order seen: "hs TOS" for handshake initiations/responses to port 51822 on veth2, "out TOS" for data
# messages carrying more than a keepalive, "in TOS" for ICMP echo requests on wg0. Runs until N requests were seen
# (and one more second, for outer packets still queued behind handshakes and keepalives: the two sockets are read
# one packet each per round) or the time is up.
import select, socket, sys, time
n, secs = int(sys.argv[1]), float(sys.argv[2])
ETH_P_IP = 0x0800
outer = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
outer.bind(("veth2", ETH_P_IP))
inner = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
inner.bind(("wg0", ETH_P_IP))
print("ready", flush=True)
end, seen = time.time() + secs, 0
while time.time() < end:
    if seen >= n:
        end = min(end, time.time() + 1)
    r, _, _ = select.select([outer, inner], [], [], 0.5)
    for s in r:
        p, addr = s.recvfrom(4096)
        if addr[2] == socket.PACKET_OUTGOING or len(p) < 20 or p[0] >> 4 != 4:
            continue
        hl = (p[0] & 15) * 4
        if s is outer and p[9] == 17 and len(p) >= hl + 12 and int.from_bytes(p[hl + 2:hl + 4], "big") == 51822:
            ty = p[hl + 8]
            if ty in (1, 2):
                print("hs", p[1], flush=True)
            elif ty == 4 and len(p) - hl - 8 > 32:
                print("out", p[1], flush=True)
        elif s is inner and p[9] == 1 and len(p) > hl and p[hl] == 8:
            print("in", p[1], flush=True)
            seen += 1
EOF

cat >"$RESULTS/78-relay.py" <<'EOF'
# Relays UDP datagrams leaving dummy0 for port 51822 through veth1 (to the MAC in argv[1]), marking every other ECT
# one CE (IP header checksum fixed, UDP checksum dropped, which IPv4 allows).
import socket, struct, sys
ETH_P_IP = 0x0800
mac = bytes.fromhex(sys.argv[1].replace(":", ""))
# Outgoing packets reach only ETH_P_ALL packet sockets.
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))
s.bind(("dummy0", 3))
print("ready", flush=True)
ect = 0
while True:
    p, addr = s.recvfrom(4096)
    if addr[2] != socket.PACKET_OUTGOING or addr[1] != ETH_P_IP or len(p) < 28 or p[0] >> 4 != 4 or p[9] != 17:
        continue
    hl = (p[0] & 15) * 4
    if int.from_bytes(p[hl + 2:hl + 4], "big") != 51822:
        continue
    p = bytearray(p)
    if (p[1] & 3) in (1, 2):
        ect += 1
        if ect % 2 == 0:
            p[1] |= 3
    p[hl + 6:hl + 8] = bytes(2)
    p[10:12] = bytes(2)
    c = sum(struct.unpack("!%dH" % (hl // 2), bytes(p[:hl])))
    c = (c & 0xffff) + (c >> 16)
    c = (c & 0xffff) + (c >> 16)
    p[10:12] = (~c & 0xffff).to_bytes(2, "big")
    s.sendto(bytes(p), ("veth1", ETH_P_IP, 0, 0, mac))
EOF

# both_ready OUT: the watcher (OUT) and the relay (OUT.relay) are listening.
both_ready() { grep -q ready "$1" && grep -q ready "$1.relay"; }

# ecn_run NAME: the scenario on whatever implementation is loaded (kind wireguard).
ecn_run() {
	local name=$1 out=$RESULTS/78-$1.txt
	wg_pair
	ip -n "$NS2" addr add 10.77.0.2/32 dev lo
	ip -n "$NS2" route replace 192.168.241.0/24 dev veth2 src 10.77.0.2
	ip -n "$NS1" link add dummy0 type dummy
	ip -n "$NS1" link set dummy0 up
	ip -n "$NS1" route add 10.77.0.2/32 dev dummy0 src 192.168.241.1
	n1 wg set wg0 peer "$P2" endpoint 10.77.0.2:51822 || fail "$name: endpoint through the relay"
	ip netns exec "$NS1" python3 "$RESULTS/78-relay.py" "$(n2 cat /sys/class/net/veth2/address)" >"$out.relay" &
	relay=$!
	n2 python3 "$RESULTS/78-watch.py" 20 60 >"$out" &
	local w=$!
	wait_for 10 both_ready "$out" || true
	# Small requests (rust_wg's express lane) and large ones (its crypt pipeline).
	n1 ping -c 10 -i 0.2 -W 5 -Q 0xba 10.99.0.2 >/dev/null || true
	n1 ping -c 10 -i 0.2 -W 5 -s 1200 -Q 0xba 10.99.0.2 >/dev/null || true
	wait $w || fail "$name: watcher failed"
	kill $relay; wait $relay 2>/dev/null || true
	relay=
	local hs out_ce out_ect0 out_other in_ce in_ect0 in_other
	# Handshake messages seen from ns1 (the first ping starts the handshake from ns1).
	hs=$(awk '$1 == "hs" {print $2}' "$out" | sort -u | tr '\n' ' ')
	# Outer data packets by ECN/DSCP, and inner requests by TOS.
	out_ce=$(awk '$1 == "out" && $2 == 3' "$out" | wc -l)
	out_ect0=$(awk '$1 == "out" && $2 == 2' "$out" | wc -l)
	out_other=$(awk '$1 == "out" && $2 != 2 && $2 != 3' "$out" | wc -l)
	in_ce=$(awk '$1 == "in" && $2 == 187' "$out" | wc -l)     # 0xbb: DSCP 46, CE
	in_ect0=$(awk '$1 == "in" && $2 == 186' "$out" | wc -l)   # 0xba: unchanged
	in_other=$(awk '$1 == "in" && $2 != 186 && $2 != 187' "$out" | wc -l)
	log "$name: handshake DS [${hs% }], outer data: $out_ce CE, $out_ect0 ECT(0), $out_other other; inner requests: $in_ce CE, $in_ect0 ECT(0), $in_other other"
	ip -n "$NS1" link del wg0
	ip -n "$NS2" link del wg0
	ns_cleanup
	[ "$hs" = "136 " ] || fail "$name: handshake messages with DS [${hs% }], expected 136 (0x88)"
	((out_other == 0)) || fail "$name: $out_other outer data packets without the inner ECN bits or with a DSCP"
	((in_other == 0)) || fail "$name: $in_other inner requests with another TOS"
	((in_ce + in_ect0 == 20)) || fail "$name: $((in_ce + in_ect0)) of 20 requests seen inside"
	((out_ce > 0 && out_ect0 > 0)) || fail "$name: the relay marked $out_ce of $((out_ce + out_ect0)) packets CE"
	# Every outer packet of a request is counted above (replies go the other way); keepalives are excluded.
	((in_ce == out_ce)) || fail "$name: $out_ce outer packets marked CE, but $in_ce inner requests CE"
}

load_c_wireguard || fail "modprobe wireguard"
ecn_run c
unload_c_wireguard || fail "rmmod wireguard"
load_rust_wg || fail "insmod rust_wg"
ecn_run rust_wg
unload_rust_wg || fail "rmmod rust_wg"
