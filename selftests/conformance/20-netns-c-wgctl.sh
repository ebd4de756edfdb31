#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# netns.sh against the C wireguard.ko, configured by wgctl in place of wg.
# timeout: 2400
. "$RUST_WG_TOP/selftests/lib.sh"
run_netns c wgctl
