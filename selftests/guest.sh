#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (as root): every selected test with a timeout, then checks dmesg for splats after each.
# Writes `RESULT <name> PASS|FAIL|SKIP [detail]` lines to $RESULTS/results.txt.
set -u
. "$1"
RWG_TIME_FACTOR=${RWG_TIME_FACTOR:-1}
export RUST_WG_TOP KBUILD MODROOT RESULTS WGCTL RUST_WG_KO TEST_TIMEOUT VARIANT RWG_TIME_FACTOR
TESTS_DIR=${TESTS_DIR:-$RUST_WG_TOP/selftests/tests}
out=$RESULTS/results.txt
: >"$out"
result() { echo "RESULT $*" >>"$out"; sync; }
# dmesg_mark, dmesg_since: a test's kernel messages, however full the log buffer is.
. "$RUST_WG_TOP/selftests/dmesg.sh"

# Kernel messages that mean a test broke the kernel, whatever its exit status.
splat_re='(Oops|BUG:|WARNING:|KASAN|UBSAN|kernel BUG|general protection|possible recursive locking|possible circular locking|suspicious RCU usage|inconsistent lock state|sleeping function called from invalid context|blocked for more than|unreferenced object|Call Trace|rcu_sched self-detected|soft lockup|hard LOCKUP|refcount_t:|list_(add|del) corruption|double free|use-after-free|Kernel panic)'

sysctl -qw kernel.panic_on_warn=1 kernel.panic_on_oops=1 2>/dev/null
# Receive timestamping stays on for the whole run (TCG and live-patched static keys, see the tool).
"$RUST_WG_TOP/selftests/tools/hold-static-keys" || echo "hold-static-keys failed" >&2
mkdir -p /run/netns /var/run/wireguard 2>/dev/null
# Tests read standard input: netns.sh sleeps with `read -t SECS -N 1` (its sleep()). Give them an input that never
# delivers data and never ends (a FIFO this shell holds open for writing), so such a read always waits out its time.
# What virtme-ng hands over is not always that: when udev has not made the /dev/virtio-ports links in time (debug
# kernel: "cannot find script I/O ports ... console fallback") it is the serial console, a terminal, and `timeout`
# runs each test in a background process group; the first read from the terminal then stops the test's whole process
# group (SIGTTIN or SIGTTOU; state T: no hung-task report, an idle guest). That was the "netns.sh stalls at its first
# waitncatudp" of sessions 7 and 9 on the debug kernel: the first step where netns.sh's sleep() runs.
stdin_fifo=$(mktemp -u /run/rust_wg-stdin.XXXXXX)
mkfifo "$stdin_fifo"
exec 0<>"$stdin_fifo"
rm -f "$stdin_fifo"
# On the debug kernel udev's coldplug never settles within virtme-ng-init's 300 s, and systemd-udevd then keeps about
# half a vCPU busy for the rest of the run (16 min of CPU in 33 min, session 9), slowing every test. No test needs it
# (devtmpfs makes the device nodes, the tests name their interfaces): it is stopped once booted.
if [ "$VARIANT" = debug ] && command -v udevadm >/dev/null; then
	timeout 120 udevadm control --exit 2>/dev/null || pkill -x systemd-udevd
fi
# Debian's iptables points at the nft backend, which this kernel config lacks; netns.sh needs the legacy one.
shim=$(mktemp -d)
for t in iptables ip6tables iptables-save ip6tables-save iptables-restore ip6tables-restore; do
	[ -x "/usr/sbin/$t-legacy" ] && ln -sf "/usr/sbin/$t-legacy" "$shim/$t"
done
export PATH="$shim:$PATH"

# Boot itself is the first test: it also carries the KUnit (Rust doctest) results.
boot_splat=$(dmesg | grep -E "$splat_re" | grep -v -E 'panic_on_warn|KASAN: (disabled|enabled)|kasan|RCU callback double-/use-after-free debug is enabled' | head -n 5)
if [ -n "$boot_splat" ]; then result boot FAIL "splat at boot: $(echo "$boot_splat" | head -n1)"; else result boot PASS; fi
while read -r line; do
	# KTAP suite summary, e.g. "# rust_doctests_kernel: pass:115 fail:0 skip:0 total:115"
	suite=$(sed -E 's/.*# ([A-Za-z0-9_]+): pass:([0-9]+) fail:([0-9]+) skip:([0-9]+) total:([0-9]+).*/\1 \2 \3 \4 \5/' <<<"$line")
	set -- $suite
	if [ "$3" -eq 0 ] && [ "$2" -gt 0 ]; then
		result "kunit-$1" PASS "pass:$2 skip:$4 total:$5"
	else
		result "kunit-$1" FAIL "pass:$2 fail:$3 skip:$4 total:$5"
	fi
done < <(dmesg | grep -v "# Totals:" | grep -E '# [A-Za-z0-9_]+: pass:[0-9]+ fail:[0-9]+ skip:[0-9]+ total:[0-9]+')

# Leave the VM as a test found it, whatever the test did or where it stopped: no namespaces, no tunnel modules.
# A test that leaves these behind is not failed for it, but the next test must not inherit them.
reset_vm() {
	local ns m
	for ns in $(ip netns list 2>/dev/null | cut -d' ' -f1); do ip netns del "$ns" 2>/dev/null; done
	for m in wireguard rust_wg rustwg_alt rust_dummy_netdev; do
		grep -q "^$m " /proc/modules && rmmod "$m" 2>/dev/null
	done
	pkill -f wireguard-go 2>/dev/null
	return 0
}

for name in $TESTS; do
	# A file "stop" in the results directory (created from the host) ends a long run early: the remaining tests are
	# skipped, the final checks (kmemleak) still run.
	if [ -e "$RESULTS/stop" ]; then
		result "$name" SKIP "run stopped early: $RESULTS/stop exists"
		continue
	fi
	t=$TESTS_DIR/$name.sh
	# A test may ask for more time than the default with a line "# timeout: SECONDS".
	limit=$(sed -n 's/^# timeout: \([0-9][0-9]*\)$/\1/p' "$t" | head -n 1)
	limit=$((${limit:-$TEST_TIMEOUT} * RWG_TIME_FACTOR))
	before=$(dmesg_mark)
	start=$(date +%s)
	(cd "$RUST_WG_TOP" && timeout -k 5 "$limit" bash "$t") >"$RESULTS/$name.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	since=$(dmesg_since "$before")
	splat=$(grep -E "$splat_re" <<<"$since" | head -n 3)
	if [ -n "$splat" ]; then
		echo "$since" >>"$RESULTS/$name.log"
		result "$name" FAIL "kernel splat: $(echo "$splat" | head -n1)"
	elif [ $rc -eq 0 ]; then
		result "$name" PASS "${secs}s"
	elif [ $rc -eq 4 ]; then
		result "$name" SKIP "$(tail -n1 "$RESULTS/$name.log")"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		result "$name" FAIL "timed out after ${limit}s"
	else
		result "$name" FAIL "exit $rc after ${secs}s"
	fi
	reset_vm
done

# kmemleak (debug kernel): a final scan must find nothing. Two scans: an object is reported only once it is older
# than kmemleak's minimum age and unreferenced. A kmemleak that turned itself off meanwhile (it does on an internal
# error) refuses the scan: that is a failure too, not a silent pass.
kml=/sys/kernel/debug/kmemleak
if [ -e $kml ] || { mount -t debugfs none /sys/kernel/debug 2>/dev/null; [ -e $kml ]; }; then
	if ! { echo scan >$kml && sleep 5 && echo scan >$kml; } 2>/dev/null; then
		result kmemleak FAIL "scan refused: $(dmesg | grep -i -m 1 'kmemleak.*\(disabl\|error\|cannot\)')"
	elif ! leaks=$(cat $kml); then
		result kmemleak FAIL "could not read $kml"
	elif [ -n "$leaks" ]; then
		echo "$leaks" >"$RESULTS/kmemleak.log"
		first=$(grep -m 1 -A 1 '^unreferenced object' <<<"$leaks" | tr -s ' \n' ' ')
		result kmemleak FAIL "$(grep -c '^unreferenced object' <<<"$leaks") unreferenced objects, first:$first"
	else
		result kmemleak PASS
	fi
fi
dmesg >"$RESULTS/dmesg.log"
