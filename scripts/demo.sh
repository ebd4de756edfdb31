#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: set up everything, build the patched kernel, rust_wg.ko and wgctl, boot a VM and show rust_wg at work.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh
scripts/kernel.sh build
make -s module wgctl
out=$(mktemp -d /tmp/rust_wg-demo.XXXXXX)
scripts/vm.sh --rwdir "$out" --exec "bash $top/scripts/demo-guest.sh $top"
