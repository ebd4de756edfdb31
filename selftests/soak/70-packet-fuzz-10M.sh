#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Soak (`make soak`): selftests/tests/70-packet-fuzz.sh with 10 million datagrams instead of CI's 200,000.
# timeout: 14400
RWG_FUZZ_PACKETS=10000000 exec bash "$RUST_WG_TOP/selftests/tests/70-packet-fuzz.sh"
