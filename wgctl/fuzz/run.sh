#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fuzz wgctl's config parser for SECONDS (default 60) on the stable toolchain.
#   wgctl/fuzz/run.sh [SECONDS] [TARGET]      TARGET: config (default) or set_args
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). RUSTC_BOOTSTRAP=1 lets stable rustc accept the
# sanitizer flags cargo-fuzz passes; ASan is used when available, else no sanitizer (Rust code is memory safe;
# the fuzzer still finds panics).
set -euo pipefail
secs=${1:-60}
target=${2:-config}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
mkdir -p corpus/"$target"
[ -d seeds/"$target" ] && cp -n seeds/"$target"/* corpus/"$target"/ 2>/dev/null || true
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
sanitizer=${FUZZ_SANITIZER:-none}
exec cargo fuzz run --sanitizer "$sanitizer" "$target" corpus/"$target" -- \
	-max_total_time="$secs" -max_len=4096 -print_final_stats=1
