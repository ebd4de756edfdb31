#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Control run: the kernel's netns.sh, unmodified, against the C wireguard.ko. It runs first in the VM because
# netns.sh's leak check reads all of /dev/kmsg.
# timeout: 2400
. "$RUST_WG_TOP/selftests/lib.sh"
run_netns c wg
