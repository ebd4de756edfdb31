#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Soak (`make soak`): selftests/tests/71-netlink-fuzz.sh with 1 million messages instead of CI's 100,000.
# timeout: 7200
RWG_NETLINK_MESSAGES=1000000 exec bash "$RUST_WG_TOP/selftests/tests/71-netlink-fuzz.sh"
