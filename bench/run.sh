#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The reproducible benchmark (`make bench`, `make bench QUICK=1`): build what is needed, boot ONE VM, measure every
# implementation in it (bench/guest.sh), and write bench/results/latest.{json,md} and plots (bench/report.py).
#
#   bench/run.sh [--quick] [--variant perf|normal] [--impl LIST] [--parts LIST] [--traffic LIST] [--runs N]
#                [--extra-runs N] [--no-build] [--out DIR]
#
# --quick: 1 run of each measurement with short durations (< 10 minutes on a 2-core machine); default: 3 runs.
# --runs: rounds of the WireGuard implementations and veth; --extra-runs: rounds of the comparison set (IPsec,
#   OpenVPN; default 1: they are context, the ratios that matter are rust_wg's against C, go and veth).
# --impl: comma-separated subset of c,rust,veth,go,ipsec_chacha,ipsec_gcm,ovpn_chacha,ovpn_gcm (ipsec, ovpn: both
#   variants; wg: c,rust,go; default: all of them), measured in that order within a round.
# --parts: comma-separated subset of traffic,flood,scale,crypto (default: all).
# --traffic: the traffic part's measurements, a subset of tcp1,tcp4,udp64,udp1420,rtt_idle,rtt_load (default: all);
#   the others are reported as missing.
# --variant: kernel flavour (default $BENCH_VARIANT or perf: no debug options; building it cold takes 25-40 minutes on 2 cores).
# --no-build: use the kernel, rust_wg.ko and wgctl as they are (for when someone else is building the kernel).
# rust_wg is measured through rustwg_alt.ko (6.12's Rust modules have no parameters, so the renamed link kind and
# genl family "rustwg" are a second build of the same sources) when it loads and creates links of that
# kind; otherwise its slot is reported as not available, never estimated.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/env.sh"

quick=0
variant=${BENCH_VARIANT:-perf}
impls="c rust veth go ipsec_chacha ipsec_gcm ovpn_chacha ovpn_gcm" # also the order within a round
parts=traffic,flood,scale,crypto
traffic=all
runs=""
extra_runs=""
build=1
build_failed=""
out=$top/bench/results
while (($#)); do
	case "$1" in
	--quick) quick=1; shift ;;
	--variant) variant=$2; shift 2 ;;
	--impl) impls=${2//,/ }; shift 2 ;;
	--parts) parts=$2; shift 2 ;;
	--traffic) traffic=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--extra-runs) extra_runs=$2; shift 2 ;;
	--no-build) build=0; shift ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
case "$variant" in perf | normal | debug) ;; *) echo "bench: --variant perf|normal" >&2; exit 2 ;; esac
expanded=""
for i in $impls; do
	case "$i" in
	veth | c | go | rust | ipsec_chacha | ipsec_gcm | ovpn_chacha | ovpn_gcm) expanded+=" $i" ;;
	ipsec) expanded+=" ipsec_chacha ipsec_gcm" ;;
	ovpn | openvpn) expanded+=" ovpn_chacha ovpn_gcm" ;;
	wg) expanded+=" c rust go" ;;
	*) echo "bench: unknown implementation $i (c rust veth go ipsec_chacha ipsec_gcm ovpn_chacha ovpn_gcm)" >&2; exit 2 ;;
	esac
done
impls=${expanded# }
for p in ${parts//,/ }; do
	case "$p" in traffic | flood | scale | crypto) ;; *) echo "bench: unknown part $p (traffic flood scale crypto)" >&2; exit 2 ;; esac
done

# Durations (seconds) and sizes. The guest starts no new slot after BUDGET seconds. Config scale: 10 000 peers with
# 10 allowed IPs each (1 000 in --quick); wireguard-go gets a twentieth (its UAPI is that slow). Handshake flood:
# FLOOD_IDS initiator identities (and as many source addresses, at most 250) for FLOOD_DUR seconds, FLOOD_FRESH fresh
# initiations per second among the replayed flood.
if ((quick)); then
	runs=${runs:-1} extra_runs=${extra_runs:-1} dur=${BENCH_DUR:-3} rtt_dur=${BENCH_RTT_DUR:-5} budget=${BENCH_BUDGET:-360} peers=1000
	flood_dur=${BENCH_FLOOD_DUR:-4} crypto_s=2 wgctl_on_c=1 scale_reserve=${BENCH_SCALE_RESERVE:-120}
else
	runs=${runs:-3} extra_runs=${extra_runs:-1} dur=${BENCH_DUR:-8} rtt_dur=${BENCH_RTT_DUR:-15} budget=${BENCH_BUDGET:-3300} peers=10000
	flood_dur=${BENCH_FLOOD_DUR:-12} crypto_s=3 wgctl_on_c=1 scale_reserve=${BENCH_SCALE_RESERVE:-900}
fi
scale_peers=${BENCH_SCALE_PEERS:-$peers}
scale_ips_per_peer=${BENCH_SCALE_IPS_PER_PEER:-10}
scale_peers_go=${BENCH_SCALE_PEERS_GO:-$((scale_peers / 20))}
wall_start=$EPOCHSECONDS

# Tools the guest uses from the host's root file system (Debian packages, scripts/deps.sh --bench): checked and
# installed even with --no-build, as the guest cannot run without them.
"$top/scripts/deps.sh" --bench

kbuild_of() { VARIANT=$variant "$top/scripts/kernel.sh" path; }
if ((build)); then
	kb=$(kbuild_of)
	# Two builds in one directory corrupt each other: wait (bounded) for someone else's build to finish.
	for _ in $(seq 1 120); do
		pgrep -f "O=$kb( |$)" >/dev/null || break
		echo "bench: a build of $kb is running; waiting" >&2
		sleep 30
	done
	# kernel.sh has no lock: a build someone starts meanwhile can still break this one. Then an existing kernel is
	# used, and the report says so.
	if ! VARIANT=$variant "$top/scripts/kernel.sh" build; then
		[ -f "$kb/arch/x86/boot/bzImage" ] || { echo "bench: kernel build failed" >&2; exit 1; }
		echo "bench: kernel build failed; using the existing $kb" >&2
		build_failed="kernel"
	fi
	# rust_wg.ko is still being written: a failed build only makes its slot "not available".
	make -s -C "$top" VARIANT="$variant" module ||
		{ echo "bench: rust_wg.ko did not build; its slot will be empty" >&2; build_failed+=" rust_wg.ko"; }
	make -s -C "$top" wgctl || { echo "bench: wgctl did not build" >&2; build_failed+=" wgctl"; }
fi
# The handshake flooder (bench/hsflood): built whenever it is missing or older than its source, even with
# --no-build (it is the benchmark's own tool); the crates come from the cargo cache, else from crates.io.
hsflood=$top/bench/hsflood/target/release/hsflood
if [[ ,$parts, == *,flood,* ]] && { ! [ -x "$hsflood" ] || [ -n "$(find "$top/bench/hsflood/src" "$top/bench/hsflood/Cargo.toml" -newer "$hsflood")" ]; }; then
	cargo build -q --release -j2 --offline --manifest-path "$top/bench/hsflood/Cargo.toml" 2>/dev/null ||
		cargo build -q --release -j2 --manifest-path "$top/bench/hsflood/Cargo.toml" ||
		{ echo "bench: bench/hsflood did not build: no flood measurement" >&2; build_failed+=" hsflood"; }
fi

kbuild=$(kbuild_of)
use_vm_sh=1
if ! [ -f "$kbuild/arch/x86/boot/bzImage" ]; then
	# The cache may hold this variant's build under another directory name (the `build/<variant>` symlink that
	# kernel.sh maintains); boot that one directly.
	alt=$(readlink -f "$RUST_WG_CACHE/build/$variant" 2>/dev/null || true)
	if [ -n "$alt" ] && [ -f "$alt/arch/x86/boot/bzImage" ]; then
		echo "bench: no kernel at $kbuild; using $alt" >&2
		kbuild=$alt use_vm_sh=0
	else
		echo "bench: no $variant kernel built (run without --no-build, or 'VARIANT=$variant make kernel')" >&2
		exit 1
	fi
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
# The guest writes here (outside /var/cache, over which virtme-ng mounts a tmpfs); kept afterwards in the cache.
raw=$(mktemp -d "${TMPDIR:-/tmp}/rust_wg-bench.XXXXXX")
keep=$RUST_WG_CACHE/bench/$stamp-$variant
mkdir -p "$out" "$RUST_WG_CACHE/bench"
chmod 777 "$raw"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# The side-by-side build of rust_wg (link kind and genl family "rustwg"), so the C driver stays loaded next to it.
rust_ko=${RUST_WG_KO:-$top/rust_wg/rustwg_alt.ko}
cat >"$raw/env" <<EOT
RUST_WG_TOP=$top
KBUILD=$kbuild
MODROOT=$kbuild/modroot
OUT=$raw
WGCTL=${WGCTL:-$top/wgctl/target/release/wgctl}
RUST_WG_KO=$rust_ko
RUST_KIND=${RUST_WG_KIND:-rustwg}
RUST_FAMILY=${RUST_WG_FAMILY:-rustwg}
HSFLOOD=$hsflood
QUICK=$quick
IMPLS="$impls"
PARTS="$parts"
TRAFFIC=$traffic
FLOOD_IDS=${BENCH_FLOOD_IDS:-200}
FLOOD_FRESH=${BENCH_FLOOD_FRESH:-100}
FLOOD_DUR=$flood_dur
CRYPTO_SECONDS=$crypto_s
SCALE_WGCTL_ON_C=$wgctl_on_c
RUNS=$runs
EXTRA_RUNS=$extra_runs
DUR=$dur
RTT_DUR=$rtt_dur
SCALE_PEERS=$scale_peers
SCALE_IPS_PER_PEER=$scale_ips_per_peer
SCALE_PEERS_GO=$scale_peers_go
SCALE_TIMEOUT=900
SCALE_RESERVE=$scale_reserve
BUDGET=$budget
EOT

mem=${BENCH_VM_MEMORY:-3G}
cpus=2
{
	echo "variant $variant"
	echo "quick $quick"
	echo "runs $runs"
	echo "extra_runs $extra_runs"
	echo "dur_s $dur"
	echo "rtt_dur_s $rtt_dur"
	echo "scale_peers $scale_peers"
	echo "scale_ips_per_peer $scale_ips_per_peer"
	echo "scale_peers_go $scale_peers_go"
	echo "parts $parts"
	echo "traffic $traffic"
	echo "impls $impls"
	echo "flood_dur_s $flood_dur"
	echo "flood_ids ${BENCH_FLOOD_IDS:-200}"
	echo "flood_fresh_per_s ${BENCH_FLOOD_FRESH:-100}"
	echo "kbuild $kbuild"
	echo "vm_memory $mem"
	echo "vm_cpus $cpus"
	echo "host_cpu $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "host_cpus $(nproc)"
	echo "host_load_before $load_before"
	echo "qemu $(qemu-system-x86_64 --version | head -n1)"
	echo "git $(git -C "$top" rev-parse --short HEAD)$(git -C "$top" diff --quiet HEAD -- rust_wg bench 2>/dev/null || echo -dirty)"
	echo "build_failed ${build_failed:-none}"
	echo "build_skipped $((1 - build))"
	echo "rust_wg_ko $([ -f "$rust_ko" ] && sha256sum "$rust_ko" | cut -c1-12 || echo none)"
	for opt in CONFIG_WIREGUARD_DEBUG CONFIG_KASAN CONFIG_PROVE_LOCKING CONFIG_HZ CONFIG_PREEMPT CONFIG_PREEMPT_VOLUNTARY CONFIG_RUST_OVERFLOW_CHECKS; do
		echo "kconfig_$opt $(grep -E "^$opt=" "$kbuild/.config" | cut -d= -f2 || true)"
	done
} >"$raw/host.txt"

echo "bench: $variant kernel, implementations: $impls, $runs run(s); raw output in $raw, kept in $keep"
vm_args=(--rwdir "$raw" --memory "$mem" --cpus "$cpus")
# The guest runs a copy: bash reads a script as it goes, so an edit of bench/ during a run must not reach it.
cp "$top/bench/guest.sh" "$top/bench/afalg.py" "$raw/"
# The config-scale files (generated here: Python under TCG is slow). Config scale runs in round 1 only: 10 000 peers
# take minutes per implementation under TCG.
if [[ ,$parts, == *,scale,* ]] && ((scale_peers > 0)); then
	/usr/bin/python3 "$top/bench/genconf.py" "$scale_peers" "$scale_ips_per_peer" 1 >"$raw/scale-r1.conf"
	/usr/bin/python3 "$top/bench/genconf.py" "$scale_peers_go" "$scale_ips_per_peer" 1 >"$raw/scale-go-r1.conf"
fi
guest_cmd="bash $raw/guest.sh $raw/env"
boot() {
	if ((use_vm_sh)); then
		timeout --foreground -k 10 $((budget + 1800)) \
			"$top/scripts/vm.sh" --variant "$variant" "${vm_args[@]}" --exec "$guest_cmd" >>"$raw/console.log" 2>&1
	else
		local accel=(--disable-kvm)
		[ "${RUST_WG_KVM:-0}" = 1 ] && accel=()
		[ "${RUST_WG_KVM:-0}" = 1 ] || echo "vm: TCG" >>"$raw/console.log"
		timeout --foreground -k 10 $((budget + 1800)) \
			vng --run "$kbuild/arch/x86/boot/bzImage" "${accel[@]}" "${vm_args[@]}" \
			--rodir "$RUST_WG_CACHE=$RUST_WG_CACHE" \
			--append "nmi_watchdog=0 no5lvl" --exec "$guest_cmd" >>"$raw/console.log" 2>&1
	fi
}
# A VM that dies before the guest script starts (e.g. another vng run racing on the build directory's module
# links) is retried, at most twice.
rc=0
for attempt in 1 2 3; do
	rc=0
	boot || rc=$?
	[ -f "$raw/status.txt" ] && break
	echo "bench: the VM exited ($rc) before the guest started (attempt $attempt)" >&2
	sleep 10
done
((rc == 0)) || echo "bench: VM exited with status $rc (console: $raw/console.log)" >&2
if grep -q '^vm: KVM' "$raw/console.log"; then accel_name=KVM; else accel_name=TCG; fi
{
	echo "accel $accel_name"
	echo "host_load_after $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "vm_exit $rc"
	echo "wall_s $((EPOCHSECONDS - wall_start))"
} >>"$raw/host.txt"
[ -f "$raw/status.txt" ] || { echo "bench: the guest wrote nothing; tail of console:" >&2; tail -n 30 "$raw/console.log" >&2; exit 1; }

cp -a "$raw" "$keep" && rm -rf "$raw" && raw=$keep
rm -f "$raw"/scale-*.conf # regenerated from their seeds by bench/genconf.py
docs=()
[ "$(readlink -f "$out")" = "$top/bench/results" ] && docs=("$top/docs/BENCHMARKS.md")
/usr/bin/python3 "$top/bench/report.py" "$raw" "$out" "${docs[@]}"
echo "bench: done in $((EPOCHSECONDS - wall_start))s: $out/latest.md"
