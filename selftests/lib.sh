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

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit $KSFT_SKIP; }
log() { echo "# $*"; }

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

# Dmesg lines since a mark: mark=$(dmesg_mark); ...; dmesg_since "$mark"
dmesg_mark() { dmesg | wc -l; }
dmesg_since() { dmesg | tail -n +"$(($1 + 1))"; }

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
