#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# netns.sh against rust_wg.ko (drop-in link kind and genl family) with wg.
# timeout: 2400
. "$RUST_WG_TOP/selftests/lib.sh"
run_netns rust_wg wg
