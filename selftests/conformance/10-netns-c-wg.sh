#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Control: netns.sh against the C wireguard.ko with wg.
# timeout: 2400
. "$RUST_WG_TOP/selftests/lib.sh"
run_netns c wg
