#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# A focused A/B run for latency under load (issue 10): one VM, the C driver and rust_wg (rustwg_alt.ko) in
# alternating rounds, each round: a bulk TCP flow alone (throughput), then the small flow (irtt, 50 pps) while a bulk
# TCP flow runs. Much shorter than `make bench`; same namespaces, pinning and tools as bench/guest.sh.
#
#   bench/latency.sh [--rounds N] [--dur S] [--rtt-dur S] [--impl c,rust] [--qdisc fq_codel|none] [--variant V]
#                    [--out DIR]
#
# --variant: kernel flavour (default perf, as `make bench`; the modules must be built for it:
#   `make module VARIANT=perf`).
#
# Prints per round and a summary (median over rounds, spread); raw files stay in DIR (default a temp directory).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/env.sh"
rounds=3 dur=6 rtt_dur=10 impls="c rust" qdisc=none out="" params="" variant=${BENCH_VARIANT:-perf}
while (($#)); do
	case "$1" in
	--rounds) rounds=$2; shift 2 ;;
	--dur) dur=$2; shift 2 ;;
	--rtt-dur) rtt_dur=$2; shift 2 ;;
	--impl) impls=${2//,/ }; shift 2 ;;
	--qdisc) qdisc=$2; shift 2 ;;
	--params) params=$2; shift 2 ;;
	--variant) variant=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "latency.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/rust_wg-lat.XXXXXX")}
mkdir -p "$out"
chmod 777 "$out"
kbuild=$(VARIANT=$variant "$top/scripts/kernel.sh" path)
cat >"$out/env" <<EOT
RUST_WG_TOP=$top
MODROOT=$kbuild/modroot
OUT=$out
WGCTL=$top/wgctl/target/release/wgctl
RUST_WG_KO=$top/rust_wg/rustwg_alt.ko
RUST_PARAMS="$params"
IMPLS="$impls"
ROUNDS=$rounds
DUR=$dur
RTT_DUR=$rtt_dur
QDISC=$qdisc
EOT
cp "$top/bench/latency-guest.sh" "$out/"
echo "latency: $variant kernel, git $(git -C "$top" rev-parse --short HEAD)$(git -C "$top" diff --quiet HEAD -- rust_wg 2>/dev/null || echo -dirty), load before $(cut -d' ' -f1-3 /proc/loadavg); raw output in $out" | tee "$out/summary.txt"
timeout --foreground -k 10 $((rounds * (dur + rtt_dur + 40) * 2 + 300)) \
	"$top/scripts/vm.sh" --variant "$variant" --rwdir "$out" --memory 2G --cpus 2 \
	--exec "bash $out/latency-guest.sh $out/env" >"$out/console.log" 2>&1 || echo "latency: VM exited with $?" >&2
echo "latency: load after $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/summary.txt"
python3 - "$out" <<'PY' | tee -a "$out/summary.txt"
import json, os, sys, statistics
out = sys.argv[1]
def pct(v, p):
    v = sorted(v)
    return v[max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))] if v else float("nan")
def gbps(f):
    try:
        return json.load(open(f))["end"]["sum_received"]["bits_per_second"] / 1e6
    except Exception:
        return float("nan")
rows = {}
for impl in sorted(os.listdir(os.path.join(out, "raw"))) if os.path.isdir(os.path.join(out, "raw")) else []:
    for r in sorted(x for x in os.listdir(os.path.join(out, "raw", impl)) if x.startswith("r")):
        d = os.path.join(out, "raw", impl, r)
        try:
            j = json.load(open(os.path.join(d, "rtt_load.json")))
            rt = [x["delay"]["rtt"] / 1e6 for x in j["round_trips"] if "rtt" in (x.get("delay") or {})]
        except Exception:
            rt = []
        m = dict(bulk=gbps(os.path.join(d, "tcp1.json")), loadbulk=gbps(os.path.join(d, "rtt_load_bulk.json")),
                 p50=pct(rt, 50), p99=pct(rt, 99), n=len(rt))
        rows.setdefault(impl, []).append(m)
        outer = ""
        try:
            for line in open(os.path.join(d, "outer_ping.txt")):
                if "min/avg/max" in line:
                    outer = "  outer ping avg/max %s ms" % "/".join(line.split("=")[1].split("/")[1:3])
        except Exception:
            pass
        try:
            for line in open(os.path.join(d, "nstat1.txt")):
                if line.startswith("TcpRetransSegs"):
                    outer += "  retrans %s" % line.split()[1]
        except Exception:
            pass
        try:
            txt = open(os.path.join(d, "link2.txt")).read().split()
            i = txt.index("RX:")
            outer += "  rx2 dropped %s" % txt[i + 10]
        except Exception:
            pass
        print("%-5s %s  bulk %7.1f Mbit/s  bulk-under-probe %7.1f Mbit/s  rtt p50 %6.2f ms  p99 %6.2f ms  (%d samples)%s"
              % (impl, r, m["bulk"], m["loadbulk"], m["p50"], m["p99"], m["n"], outer))
        try:
            for line in open(os.path.join(d, "queues.txt")):
                print("      " + line.split("]", 1)[-1].strip())
        except Exception:
            pass
med = {}
def ok(ms, k):
    return [m[k] for m in ms if m[k] == m[k]] or [float("nan")]
for impl, ms in rows.items():
    med[impl] = {k: statistics.median(ok(ms, k)) for k in ("bulk", "loadbulk", "p50", "p99")}
    rng = {k: (min(ok(ms, k)), max(ok(ms, k))) for k in ("bulk", "p99")}
    print("%-5s median: bulk %.1f (%.1f-%.1f) Mbit/s, bulk-under-probe %.1f, p50 %.2f ms, p99 %.2f (%.2f-%.2f) ms"
          % (impl, med[impl]["bulk"], rng["bulk"][0], rng["bulk"][1], med[impl]["loadbulk"], med[impl]["p50"],
             med[impl]["p99"], rng["p99"][0], rng["p99"][1]))
if "c" in med and "rust" in med:
    c, r = med["c"], med["rust"]
    print("rust/C: bulk %.2f, bulk-under-probe %.2f, p50 %.2f, p99 %.2f" % (r["bulk"] / c["bulk"], r["loadbulk"] / c["loadbulk"], r["p50"] / c["p50"], r["p99"] / c["p99"]))
PY
