#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Soak (`make soak`): selftests/tests/72-lifecycle-stress.sh with 100 rmmods under traffic and 10 minutes of
# device/peer churn instead of CI's 3 and 30 s.
# timeout: 10800
RWG_RMMOD_LOOPS=100 RWG_CHURN_SECONDS=600 exec bash "$RUST_WG_TOP/selftests/tests/72-lifecycle-stress.sh"
