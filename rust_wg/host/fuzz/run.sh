#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs every fuzz target of the rust_wg protocol core with cargo-fuzz (libFuzzer).
#
#   rust_wg/host/fuzz/run.sh [SECONDS|-runs=N]
#
# SECONDS (default 10) bounds each target's time; -runs=N bounds its executions instead. `make test` uses a smoke
# run of a few seconds, `make fuzz` a long one. The toolchain is stable, so RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass
# its -Z flags, and the sanitizer is off (-s none): AddressSanitizer needs a nightly std, and the code under test has
# no unsafe anyway; panics, overflow checks (debug assertions are on) and assertions are what the targets catch.
# Prints one summary line per target and exits non-zero on the first crash (reproducer in artifacts/<target>/).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
arg=${1:-10}
case "$arg" in
-runs=*) limit=("$arg") ;;
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS|-runs=N]" >&2
	exit 2
	;;
*) limit=("-max_total_time=$arg") ;;
esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
	cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
cd "$here"
cargo fuzz build -s none --debug-assertions >/dev/null 2>&1 || cargo fuzz build -s none --debug-assertions
for t in $(cargo fuzz list); do
	mkdir -p "corpus/$t"
	log=$(mktemp)
	start=$(date +%s)
	if ! cargo fuzz run -s none --debug-assertions "$t" -- "${limit[@]}" -print_final_stats=1 >"$log" 2>&1; then
		tail -40 "$log"
		echo "fuzz: $t: CRASH (see $here/artifacts/$t)"
		rm -f "$log"
		exit 1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	echo "fuzz: $t: ${execs:-?} executions in $(($(date +%s) - start)) s, 0 crashes"
	rm -f "$log"
done
