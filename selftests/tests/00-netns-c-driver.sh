#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Control run of the conformance suite: the kernel's own tools/testing/selftests/wireguard/netns.sh, unmodified,
# against the C wireguard.ko. It runs first in the VM because netns.sh's leak check reads all of /dev/kmsg.
. "$RUST_WG_TOP/selftests/lib.sh"

src=$(readlink -f "$KBUILD/source")
netns=$src/tools/testing/selftests/wireguard/netns.sh
[ -f "$netns" ] || fail "no netns.sh at $netns"
load_c_wireguard || fail "modprobe wireguard"
bash "$netns" 3>&1 || fail "netns.sh against the C driver (exit $?)"
unload_c_wireguard
