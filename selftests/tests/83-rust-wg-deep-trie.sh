#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The deepest allowed-IPs trie a peer can configure: every prefix length of one address (fd99::2/0 ... /128 and
# 10.99.0.2/0 ... /32), a path of 129 and 33 nodes. Anyone who may configure a device (root in a user namespace)
# can build it, so walking, changing and freeing it must not recurse once per level on the kernel stack: a small
# table version is freed in an RCU callback, on the 16 KiB softirq stack. The table is built, looked up through (pings
# both ways), shrunk and grown again level by level, its peer removed and re-added, and the device deleted with it
# in place; the module then unloads. A stack overflow would panic the VM; the runner checks dmesg for splats.
. "$RUST_WG_TOP/selftests/lib.sh"

need_tools wg
trap 'ns_cleanup; rust_wg_loaded && unload_rust_wg; true' EXIT
rust_wg_loaded || load_rust_wg || fail "insmod rust_wg"
wg_pair

# prefixes FROM TO: fd99::2/FROM..TO and 10.99.0.2/FROM..min(TO,32), comma-separated.
prefixes() {
	local l out=()
	for ((l = $1; l <= $2; l++)); do
		out+=("fd99::2/$l")
		((l <= 32)) && out+=("10.99.0.2/$l")
	done
	local IFS=,
	echo "${out[*]}"
}

# configured: the prefixes of wg0's peer in ns1.
configured() { n1 wg show wg0 allowed-ips | cut -f2 | tr ' ' '\n' | grep -c /; }

all=$(prefixes 0 128)
n1 wg set wg0 peer "$P2" allowed-ips "$all"
assert_eq "$(configured)" 162 "prefixes configured (129 IPv6 + 33 IPv4)"
wait_ping "$NS1" 10.99.0.2 || fail "no IPv4 ping through the deep table"
n1 ping -c 1 -W 5 fd99::2 >/dev/null || fail "no IPv6 ping through the deep table"
n2 ping -c 1 -W 5 fd99::1 >/dev/null || fail "no IPv6 ping back (source check against the deep table)"
log "deep table: 162 prefixes, pings both ways"

# Shrink from the top and the bottom, one level per message, then grow back: each message publishes a version and
# frees the one before, whose copied path is up to 129 nodes long.
for ((k = 128; k >= 64; k -= 8)); do n1 wg set wg0 peer "$P2" allowed-ips "$(prefixes 0 "$k")"; done
for ((k = 0; k <= 64; k += 8)); do n1 wg set wg0 peer "$P2" allowed-ips "$(prefixes "$k" 128)"; done
n1 wg set wg0 peer "$P2" allowed-ips "$all"
assert_eq "$(configured)" 162 "prefixes after shrinking and growing"
n1 ping -c 1 -W 5 fd99::2 >/dev/null || fail "no IPv6 ping after the changes"

# The peer goes with its whole path, comes back with it, and the device is deleted with the table in place.
n1 wg set wg0 peer "$P2" remove
n1 wg set wg0 peer "$P2" endpoint 192.168.241.2:51822 allowed-ips "$all"
ip -n "$NS1" link del wg0
ip -n "$NS2" link del wg0
ns_cleanup
unload_rust_wg || fail "rmmod rust_wg"
log "peer removed and re-added, devices deleted with the table in place, module unloaded"
