#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the VM test suite: boot the project's kernel once, run selftests/tests/*.sh inside it, each with a timeout,
# and fail a test that exits non-zero or leaves a kernel splat in dmesg. KUnit suites that ran at boot (the Rust
# abstractions' doctests) are counted as tests too.
#
#   selftests/run.sh [--variant normal|debug] [--filter REGEX] [--timeout SECONDS] [--dir TESTS_DIR]
#
# TESTS_DIR defaults to selftests/tests (what `make test` runs); `make conformance` uses selftests/conformance.
#
# Prints one line per test and ends with `N passed, N failed, N skipped`. Exit status 0 iff nothing failed.
# `touch RESULTS_DIR/stop` (the directory is printed first) skips the tests not started yet and goes on to the final
# checks (the debug kernel's kmemleak scan): for long debug-kernel runs that must end by a deadline.
#
# RUST_WG_VNG_ARGS: more virtme-ng arguments, split on blanks; e.g. "--debug" to look into a guest that hangs
# (`vng --gdb` attaches gdb, `vng --dump FILE` writes its memory).
set -uo pipefail
RUST_WG_VNG_ARGS=${RUST_WG_VNG_ARGS:-}

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/env.sh"

variant=${VARIANT:-normal}
filter=${FILTER:-}
timeout=${TEST_TIMEOUT:-600}
tests_dir=$top/selftests/tests
while (($#)); do
	case "$1" in
	--variant) variant=$2; shift 2 ;;
	--filter) filter=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--dir) tests_dir=$(cd "$2" && pwd); shift 2 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

kbuild=$(VARIANT=$variant "$top/scripts/kernel.sh" path)
# RWG_TIME_FACTOR: how many times slower than the normal kernel a test runs on this one. The debug kernel's KASAN,
# lockdep and object tracking make a TCG guest 5-10 times slower. Every test's timeout is multiplied by it, and tests
# stretch their timing-bound waits with it (lib.sh: slow); what a test asserts does not change. 1 on the normal kernel.
if [ -z "${RWG_TIME_FACTOR:-}" ]; then
	case "$variant" in debug) RWG_TIME_FACTOR=6 ;; *) RWG_TIME_FACTOR=1 ;; esac
fi
[[ $RWG_TIME_FACTOR =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: RWG_TIME_FACTOR must be a positive integer" >&2; exit 2; }
results=$(mktemp -d "${TMPDIR:-/tmp}/rust_wg-vm.XXXXXX")
chmod 777 "$results"

tests=()
for t in "$tests_dir"/*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	[ -n "$filter" ] && ! [[ $name =~ $filter ]] && continue
	tests+=("$name")
done

cat >"$results/env" <<EOT
RUST_WG_TOP=$top
KBUILD=$kbuild
MODROOT=$kbuild/modroot
RESULTS=$results
WGCTL=${WGCTL:-$top/wgctl/target/release/wgctl}
RUST_WG_KO=$top/rust_wg/rust_wg.ko
TEST_TIMEOUT=$timeout
VARIANT=$variant
RWG_TIME_FACTOR=$RWG_TIME_FACTOR
TESTS="${tests[*]}"
TESTS_DIR=$tests_dir
EOT

echo "vm: ${#tests[@]} tests, kernel $kbuild, results $results, time factor $RWG_TIME_FACTOR"
# The whole run is bounded: a hung guest must not hang CI.
total_timeout=$(((${#tests[@]} + 2) * timeout + 300))
for name in "${tests[@]}"; do
	extra=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$tests_dir/$name.sh" | head -n 1)
	[ -n "$extra" ] && total_timeout=$((total_timeout + extra))
done
total_timeout=$((total_timeout * RWG_TIME_FACTOR))
timeout --foreground -k 10 "$total_timeout" \
	"$top/scripts/vm.sh" --variant "$variant" --rwdir "$results" --memory "${VM_MEMORY:-2G}" \
	--exec "bash $top/selftests/guest.sh $results/env" -- --verbose $RUST_WG_VNG_ARGS </dev/null >"$results/console.log" 2>&1
vm_rc=$?
[ $vm_rc -ne 0 ] && echo "vm: guest exited with status $vm_rc (console: $results/console.log)"

pass=0 fail=0 skip=0
report() { # name status detail
	printf '%-40s %s%s\n' "$1" "$2" "${3:+  ($3)}"
	case "$2" in PASS) pass=$((pass + 1)) ;; SKIP) skip=$((skip + 1)) ;; *) fail=$((fail + 1)) ;; esac
}
declare -A seen=()
if [ -f "$results/results.txt" ]; then
	while read -r _ name status detail; do
		seen[$name]=1
		report "$name" "$status" "$detail"
		if [ "$status" = FAIL ] && [ -f "$results/$name.log" ]; then
			# A test's log ends with why it failed; kmemleak's starts with the first leak's backtrace.
			if [ "$name" = kmemleak ]; then
				sed 's/^/    | /' "$results/$name.log" | head -n 30
			else
				sed 's/^/    | /' "$results/$name.log" | tail -n 30
			fi
		fi
	done < <(grep '^RESULT ' "$results/results.txt")
fi
# A guest that died takes its console with it on CI: show what is known here. The first test without a result is the
# one that was running (its log so far, then the console's last lines, where a panic is); the rest never started.
died=""
for name in "${tests[@]}"; do
	[ -n "${seen[$name]:-}" ] && continue
	if [ -z "$died" ]; then
		died=$name
		report "$name" FAIL "no result: the guest died or timed out while it ran, see $results/console.log"
		[ -f "$results/$name.log" ] && tail -n 20 "$results/$name.log" | sed 's/^/    | /'
	else
		report "$name" FAIL "no result: not run, the guest died or timed out during $died"
	fi
done
if [ -z "${seen[boot]:-}" ]; then
	report boot FAIL "guest never reported"
	died=boot
fi
if [ -n "$died" ]; then
	echo "    tail of the console:"
	tail -n 60 "$results/console.log" | sed 's/^/    | /'
fi
echo "vm: $pass passed, $fail failed, $skip skipped"
echo "$pass passed, $fail failed, $skip skipped" >"$results/summary"
[ "$fail" -eq 0 ]
