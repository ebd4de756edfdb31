# SPDX-License-Identifier: GPL-2.0
# Sourced by selftests/lib.sh (tests) and selftests/guest.sh (the runner's splat check).

# Dmesg lines since a mark: mark=$(dmesg_mark); ...; dmesg_since "$mark". The mark is a unique line written to the
# kernel log, not a line count: once the log buffer is full (a long run), its line count stops growing and a count
# would hide every later line. A mark already overwritten gives the whole log, with a warning on stderr.
dmesg_mark() {
	local m="rust_wg-mark $$.$RANDOM.$(date +%s%N)"
	echo "$m" >/dev/kmsg
	echo "$m"
}
dmesg_since() {
	dmesg | awk -v m="$1" '{ l[NR] = $0 } index($0, m) { s = NR }
		END { if (!s) print "dmesg_since: mark \"" m "\" no longer in the log" >"/dev/stderr"
		      for (i = s + 1; i <= NR; i++) print l[i] }'
}
