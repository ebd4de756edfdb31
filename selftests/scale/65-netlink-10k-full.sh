#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Scale (`make scale`): selftests/tests/65-netlink-10k.sh at the issue's size, 10 000 peers / 100 000 allowed IPs,
# instead of CI's 2 000 / 20 000 (NL_10K_ROUNDS=full adds the rounds replacing every peer; hours under TCG).
# timeout: 5400
NL_10K_PEERS=10000 exec bash "$RUST_WG_TOP/selftests/tests/65-netlink-10k.sh"
