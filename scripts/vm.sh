#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the project's kernel in a virtme-ng VM.
#
#   scripts/vm.sh [--variant V] [--rwdir DIR] [--exec CMD] [--memory M] [--cpus N] [-- extra vng args]
#
# KVM or TCG: RUST_WG_KVM=1 forces KVM, RUST_WG_KVM=0 forces TCG; unset, a probe decides once and caches the answer.
# On these machines /dev/kvm comes from kvm_pvm (no VMX/SVM), under which a stock kernel hangs at
# "Decompressing Linux...", so the probe boots with a timeout and falls back to TCG.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

variant=${VARIANT:-normal}
exec_cmd=""
rwdirs=()
memory=${VM_MEMORY:-2G}
cpus=${VM_CPUS:-2}
extra=()
while (($#)); do
	case "$1" in
	--variant) variant=$2; shift 2 ;;
	--rwdir) rwdirs+=(--rwdir "$2"); shift 2 ;;
	--exec) exec_cmd=$2; shift 2 ;;
	--memory) memory=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--) shift; extra=("$@"); break ;;
	*) echo "vm.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

kbuild=$(VARIANT=$variant "$here/kernel.sh" path)
image=$kbuild/arch/x86/boot/bzImage
[ -f "$image" ] || { echo "vm.sh: no kernel at $image; run 'make kernel' first" >&2; exit 1; }

kvm_works() {
	local cache=$RUST_WG_CACHE/kvm-probe
	if [ -n "${RUST_WG_KVM:-}" ]; then
		[ "$RUST_WG_KVM" = 1 ]
		return
	fi
	if [ -f "$cache" ] && [ "$(cat "$cache")" != "" ]; then
		[ "$(cat "$cache")" = yes ]
		return
	fi
	local ans=no
	if [ -w /dev/kvm ] && ! [ -d /sys/module/kvm_pvm ]; then
		# A real hypervisor: prove it boots this kernel within a minute.
		if timeout 60 vng --run "$image" --cpus 1 --memory 512M --exec 'echo rust_wg-kvm-ok' 2>/dev/null |
			grep -q rust_wg-kvm-ok; then
			ans=yes
		fi
	fi
	echo "$ans" >"$cache"
	[ "$ans" = yes ]
}

accel=()
if kvm_works; then
	echo "vm: KVM" >&2
else
	echo "vm: TCG (no usable KVM: set RUST_WG_KVM=1 to force)" >&2
	accel=(--disable-kvm)
fi

# Kernel command line: a 16 MiB log (a long run's splat check reads it all), WARN and Oops are fatal. Under TCG also
# tsc=reliable: QEMU derives every vCPU's TSC from one host clock, but the clocksource watchdog, starved on a loaded
# host, declares it unstable mid-run (or when a vCPU comes online), which switches to the emulated HPET and flips
# static keys (sched_clock_stable) - live code patching that TCG does not always survive (see
# selftests/tools/hold-static-keys).
# no5lvl: QEMU's TCG CPU offers LA57, and this kernel then boots with 5-level paging, where pgtable_l5_enabled() is
# read from boot_cpu_data's capability bits - which identify_boot_cpu() clears and refills. An interrupt taken in that
# window sees 4-level address-space constants under 5-level page tables (KASAN: wild-memory-access in
# handle_edge_irq; normal kernel: "Fatal exception in interrupt", about 2 s into boot, before any test or module).
# The tests need no 5-level paging.
cmdline="log_buf_len=16M printk.devkmsg=on panic_on_warn=1 oops=panic softlockup_panic=0 hung_task_panic=0 nmi_watchdog=0"
cmdline+=" no5lvl"
[ ${#accel[@]} -gt 0 ] && cmdline+=" tsc=reliable"

# virtme-ng mounts a tmpfs over /var/cache in the guest; the cache holds the build tree and installed modules.
args=(--run "$image" "${accel[@]}" --cpus "$cpus" --memory "$memory" --rodir "$RUST_WG_CACHE=$RUST_WG_CACHE" "${rwdirs[@]}"
	--append "$cmdline" "${extra[@]}")
if [ -n "$exec_cmd" ]; then
	exec vng "${args[@]}" --exec "$exec_cmd"
else
	exec vng "${args[@]}"
fi
