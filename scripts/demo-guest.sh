#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The demo, inside the VM.
set -euo pipefail
top=$1
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
echo "== rust_wg demo: kernel $(uname -r)"
step insmod "$top/rust_wg/rust_wg.ko"
step grep rust_wg /proc/modules
step modinfo "$top/rust_wg/rust_wg.ko"
step sh -c 'dmesg | grep -i "rust_wg" | tail -n 5'
step rmmod rust_wg
step sh -c 'dmesg | grep -i "rust_wg" | tail -n 1'
