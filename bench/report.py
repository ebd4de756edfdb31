#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the raw output of one bench/guest.sh run into latest.json, latest.md and plots.

    report.py RAWDIR OUTDIR [DOCS]

With DOCS (docs/BENCHMARKS.md), the part between its "bench:latest" markers is replaced by the new report. RAWDIR is what the guest wrote (host.txt, sysinfo.txt, status.txt, raw/<impl>/r<N>/...); the schema of latest.json is
documented in docs/BENCHMARKS.md. A measurement that failed or did not run is null, never estimated.
"""
import datetime
import json
import math
import os
import statistics
import sys

WG = ["veth", "c", "go", "rust"]
OTHERS = ["ipsec_chacha", "ipsec_gcm", "ovpn_chacha", "ovpn_gcm"]
IMPLS = WG + OTHERS
NAMES = {"veth": "veth (no tunnel)", "c": "C wireguard.ko", "go": "wireguard-go", "rust": "rust_wg",
         "ipsec_chacha": "IPsec ESP chacha20poly1305", "ipsec_gcm": "IPsec ESP AES-256-GCM",
         "ovpn_chacha": "OpenVPN CHACHA20-POLY1305", "ovpn_gcm": "OpenVPN AES-256-GCM"}
SHORT = {"veth": "veth", "c": "C", "go": "go", "rust": "rust_wg", "ipsec_chacha": "ipsec-cc",
         "ipsec_gcm": "ipsec-gcm", "ovpn_chacha": "ovpn-cc", "ovpn_gcm": "ovpn-gcm"}
RATIOS = [("rust", "c"), ("rust", "go"), ("go", "c"), ("c", "veth"), ("go", "veth"), ("rust", "veth")] + \
    [(o, b) for o in OTHERS for b in ("rust", "c")]

# name: (unit, better, description)
METRICS = {
    "tcp1_fwd_gbps": ("Gbit/s", "higher", "TCP, 1 stream, ns1 -> ns2 (receiver side)"),
    "tcp1_rev_gbps": ("Gbit/s", "higher", "TCP, 1 stream, ns2 -> ns1 (iperf3 -R)"),
    "tcp4_fwd_gbps": ("Gbit/s", "higher", "TCP, 4 streams, ns1 -> ns2"),
    "tcp4_rev_gbps": ("Gbit/s", "higher", "TCP, 4 streams, ns2 -> ns1"),
    "udp64_rx_pps": ("packets/s", "higher", "UDP, 64-byte IPv4 packets, received by the server (sender unlimited)"),
    "udp64_tx_pps": ("packets/s", "higher", "UDP, 64-byte IPv4 packets, sent by the client"),
    "udp1420_rx_pps": ("packets/s", "higher", "UDP, 1420-byte IPv4 packets, received by the server"),
    "udp1420_tx_pps": ("packets/s", "higher", "UDP, 1420-byte IPv4 packets, sent by the client"),
    "rtt_idle_p50_ms": ("ms", "lower", "small flow (50 pps, 172 B) RTT on an idle path, median"),
    "rtt_idle_p99_ms": ("ms", "lower", "small flow RTT on an idle path, 99th percentile"),
    "rtt_idle_p999_ms": ("ms", "lower", "small flow RTT on an idle path, 99.9th percentile"),
    "rtt_idle_loss_pct": ("%", "lower", "small flow loss on an idle path"),
    "rtt_load_p50_ms": ("ms", "lower", "small flow RTT while one bulk TCP flow runs, median"),
    "rtt_load_p99_ms": ("ms", "lower", "small flow RTT under load, 99th percentile"),
    "rtt_load_p999_ms": ("ms", "lower", "small flow RTT under load, 99.9th percentile"),
    "rtt_load_loss_pct": ("%", "lower", "small flow loss under load"),
    "rtt_idle_sent": ("packets", "higher", "probes the small flow sent in the idle test (target 50/s)"),
    "rtt_load_sent": ("packets", "higher", "probes sent under load (fewer than 50/s: the guest fell behind)"),
    "rtt_load_bulk_gbps": ("Gbit/s", "higher", "the bulk TCP flow's throughput during the latency test"),
    "cpu_softirq_kworker_s_per_gbit": ("CPU s/Gbit", "lower",
                                       "softirq + kworker CPU time per Gbit received, 1-stream TCP"),
    "cpu_softirq_s_per_gbit": ("CPU s/Gbit", "lower", "softirq CPU time per Gbit, 1-stream TCP"),
    "cpu_kworker_s_per_gbit": ("CPU s/Gbit", "lower", "kworker CPU time per Gbit, 1-stream TCP"),
    "cpu_daemon_s_per_gbit": ("CPU s/Gbit", "lower", "userspace daemon (wireguard-go) CPU time per Gbit"),
    "cpu_busy_s_per_gbit": ("CPU s/Gbit", "lower", "all non-idle CPU time (incl. iperf3) per Gbit, 1-stream TCP"),
    "cpu_busy_fraction": ("of all vCPUs", "lower", "share of the VM's CPU busy during the 1-stream TCP run"),
    "config_set_s": ("s", "lower", "setconf of N peers / M allowed IPs, native tool (wg; wgctl for rust_wg)"),
    "config_dump_s": ("s", "lower", "`show dump` of that configuration, native tool"),
    "config_set_us_per_peer": ("µs", "lower", "setconf time per peer (native tool)"),
    "config_dump_us_per_peer": ("µs", "lower", "dump time per peer (native tool)"),
    "config_set_wgctl_s": ("s", "lower", "setconf of the same configuration with wgctl (genl drivers only)"),
    "config_dump_wgctl_s": ("s", "lower", "`show dump` with wgctl"),
    "config_mem_per_peer_bytes": ("bytes", "lower", "MemAvailable drop per peer after setconf (incl. its allowed IPs)"),
    "config_slab_per_peer_bytes": ("bytes", "lower", "Slab + Percpu growth per peer after setconf"),
    "handshakes_per_s": ("handshakes/s", "higher",
                         "handshake responses the flooder received per second under a flood of valid initiations "
                         "(cookies engaged: it answers cookie replies with mac2, like a real initiator)"),
    "handshakes_unflooded_per_s": ("handshakes/s", "higher",
                                   "handshakes completed per second without a flood (40 initiations/s for 3 s, "
                                   "until the victim has answered them all): the responder's capacity"),
    "handshake_unflooded_cpu_ms_per_handshake": ("CPU ms", "lower",
                                                 "softirq + kworker + daemon CPU time per handshake without a flood"),
    "handshake_flood_sent_per_s": ("initiations/s", "higher",
                                   "initiations the flooder sent per second (replays and fresh ones)"),
    "handshake_fresh_per_s": ("initiations/s", "higher",
                              "fresh (completable) initiations sent per second among the flood"),
    "handshake_cookie_replies_per_s": ("replies/s", "higher", "cookie replies received per second (0: never under load)"),
    "handshake_victim_cpu_fraction": ("of all vCPUs", "lower",
                                      "softirq + kworker + daemon CPU time during the flood, share of the VM's CPUs"),
    "handshake_victim_cpu_ms_per_handshake": ("CPU ms", "lower",
                                              "softirq + kworker + daemon CPU time per completed handshake"),
    "handshake_recovery_s": ("s", "lower", "time until the flooded tunnel carries a ping again after the flood"),
}
# Metrics that exist for the comparison set (IPsec, OpenVPN): traffic only.
TRAFFIC = [m for m in METRICS if m.startswith(("tcp", "udp", "rtt", "cpu"))]


def kv(path):
    """'key value...' lines; later keys win."""
    d = {}
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            k, _, v = line.rstrip("\n").partition(" ")
            if k:
                d[k] = v
    return d


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def iperf_gbps(path):
    j = load_json(path)
    if not j or j.get("error"):
        return None
    try:
        return j["end"]["sum_received"]["bits_per_second"] / 1e9
    except KeyError:
        return None


def iperf_udp(path):
    """(tx pps, rx pps) of an iperf3 -u client run: end.sum holds the packets sent and the server's lost count."""
    j = load_json(path)
    if not j or j.get("error"):
        return None, None
    try:
        s = j["end"]["sum"]
        if not s.get("seconds"):
            return None, None
        return s["packets"] / s["seconds"], (s["packets"] - s["lost_packets"]) / s["seconds"]
    except KeyError:
        return None, None


def percentile(sorted_vals, p):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_vals:
        return None
    k = max(0, math.ceil(p / 100 * len(sorted_vals)) - 1)
    return sorted_vals[k]


def irtt_samples(path, since_ns=None):
    """(sorted RTTs in ms, loss in %, packets sent) of one irtt run, or Nones; with `since_ns` (wall clock), only
    the probes sent from then on."""
    j = load_json(path)
    if not j or not j.get("round_trips"):
        return None, None, None
    rts = j["round_trips"]
    if since_ns is not None:
        def sent_at(rt):
            try:
                return rt["timestamps"]["client"]["send"]["wall"]
            except (KeyError, TypeError):
                return 0
        rts = [rt for rt in rts if sent_at(rt) >= since_ns]
        if not rts:
            return None, None, None
    rtts = sorted(rt["delay"]["rtt"] / 1e6 for rt in rts if "rtt" in (rt.get("delay") or {}))
    return rtts, 100.0 * (len(rts) - len(rtts)) / len(rts), len(rts)


def cpu_delta(path, user_hz):
    """CPU seconds by category between the two snapshots of a cpu_*.txt file, or None."""
    try:
        lines = [line.split("|") for line in open(path).read().splitlines()]
    except OSError:
        return None
    if len(lines) != 2 or any(len(x) != 5 for x in lines):
        return None
    (s0, kw0, go0, rx0, t0), (s1, kw1, go1, rx1, t1) = lines
    a, b = [int(x) for x in s0.split()], [int(x) for x in s1.split()]
    d = [y - x for x, y in zip(a, b)]
    # The kworker sum is over the threads alive at each snapshot: when workers exit in between it can fall, and a
    # negative CPU time is no measurement.
    if int(kw1) < int(kw0) or int(go1) < int(go0):
        return None
    return {"busy": (d[0] + d[1] + d[2] + d[5] + d[6] + d[7]) / user_hz, "idle": (d[3] + d[4]) / user_hz,
            "softirq": d[6] / user_hz, "kworker": (int(kw1) - int(kw0)) / user_hz,
            "daemon": (int(go1) - int(go0)) / user_hz, "rx_bytes": int(rx1) - int(rx0),
            "wall": float(t1) - float(t0)}


def flood_metrics(d, user_hz, vcpus):
    out = {}
    f = kv(os.path.join(d, "fresh.txt"))
    if "responses_per_s" in f:
        out["handshakes_unflooded_per_s"] = float(f["responses_per_s"])
        c = cpu_delta(os.path.join(d, "cpu_fresh.txt"), user_hz)
        if c and int(f.get("responses", "0")) > 0:
            out["handshake_unflooded_cpu_ms_per_handshake"] = (
                (c["softirq"] + c["kworker"] + c["daemon"]) * 1000 / int(f["responses"]))
    f = kv(os.path.join(d, "flood.txt"))
    if "responses_per_s" not in f:
        return out
    out.update({"handshakes_per_s": float(f["responses_per_s"]), "handshake_flood_sent_per_s": float(f["sent_per_s"]),
           "handshake_fresh_per_s": float(f["fresh_per_s"]) if "fresh_per_s" in f else None,
           "handshake_cookie_replies_per_s": float(f["cookie_replies_per_s"])})
    c = cpu_delta(os.path.join(d, "cpu_flood.txt"), user_hz)
    if c and c["wall"] > 0:
        victim = c["softirq"] + c["kworker"] + c["daemon"]
        out["handshake_victim_cpu_fraction"] = victim / (c["wall"] * max(vcpus, 1))
        if int(f.get("responses", "0")) > 0:
            out["handshake_victim_cpu_ms_per_handshake"] = victim * 1000 / int(f["responses"])
    try:
        out["handshake_recovery_s"] = float(f.get("ping_after_s"))
    except (TypeError, ValueError):
        pass
    return out


def cpu_metrics(path, user_hz):
    """Per-Gbit CPU time from the two snapshots around the 1-stream TCP run.

    softirq and busy come from /proc/stat, sampled by the guest's timer tick, which only counts while a vCPU runs.
    kworker and daemon times are the tasks' utime+stime, scaled to the scheduler clock: on a loaded TCG host that
    clock also runs while the host has descheduled the vCPU, so these read high. Compare implementations, not
    categories.
    """
    try:
        lines = [line.split("|") for line in open(path).read().splitlines()]
    except OSError:
        return {}
    if len(lines) != 2 or any(len(x) != 5 for x in lines):
        return {}
    (s0, kw0, go0, rx0, _), (s1, kw1, go1, rx1, _) = lines
    a, b = [int(x) for x in s0.split()], [int(x) for x in s1.split()]
    # /proc/stat cpu: user nice system idle iowait irq softirq steal guest guest_nice
    d = [y - x for x, y in zip(a, b)]
    gbit = (int(rx1) - int(rx0)) * 8 / 1e9
    busy_ticks = d[0] + d[1] + d[2] + d[5] + d[6] + d[7]
    if gbit <= 0 or busy_ticks <= 0:
        return {}
    softirq = d[6] / user_hz
    # As in cpu_delta: the kworker and daemon sums are over the threads alive at each snapshot, so workers that exit
    # in between make them fall; a negative CPU time is no measurement (it was reported as such for go and IPsec).
    kworker = (int(kw1) - int(kw0)) / user_hz if int(kw1) >= int(kw0) else None
    daemon = (int(go1) - int(go0)) / user_hz
    return {
        "cpu_softirq_kworker_s_per_gbit": (softirq + kworker) / gbit if kworker is not None else None,
        "cpu_softirq_s_per_gbit": softirq / gbit,
        "cpu_kworker_s_per_gbit": kworker / gbit if kworker is not None else None,
        "cpu_daemon_s_per_gbit": daemon / gbit if daemon > 0 else None,
        "cpu_busy_s_per_gbit": busy_ticks / user_hz / gbit,
        "cpu_busy_fraction": busy_ticks / (busy_ticks + d[3] + d[4]),
    }


def scale_metrics(path, full_peers, notes):
    """Config-scale figures of one setconf + dump; totals only at the full size, per-peer figures always."""
    d = kv(path)
    if not d or "peers" not in d:
        return {}
    peers = int(d["peers"])
    set_f, dump_f = d.get("set_s", "").split(), d.get("dump_s", "").split()
    if len(set_f) < 3 or set_f[2] != "1":
        notes.add("setconf of %d peers failed or timed out (limit %s s)" % (peers, set_f[4] if len(set_f) > 4 else "?"))
        return {}
    out = {"set_s": float(set_f[0]), "set_us_per_peer": float(set_f[0]) * 1e6 / peers}
    if len(dump_f) >= 3 and dump_f[2] == str(peers + 1):
        out["dump_s"] = float(dump_f[0])
        out["dump_us_per_peer"] = float(dump_f[0]) * 1e6 / peers
    else:
        notes.add("dump of %d peers incomplete" % peers)
    if peers != full_peers:
        notes.add("config scale measured at %d peers, not %d: compare the per-peer figures" % (peers, full_peers))
        del out["set_s"]
        out.pop("dump_s", None)

    def mem(which):
        return {k: int(v) for k, v in (f.split("=") for f in d.get(which, "").split())}
    b, a = mem("before"), mem("after")
    if "MemAvailable" in b and "MemAvailable" in a:
        out["mem_per_peer_bytes"] = (b["MemAvailable"] - a["MemAvailable"]) * 1024 / peers
    if "Slab" in b and "Slab" in a:
        out["slab_per_peer_bytes"] = (a["Slab"] - b["Slab"] + a.get("Percpu", 0) - b.get("Percpu", 0)) * 1024 / peers
    return out


def summary(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": len(vals), "values": vals}


def main():
    raw, outdir = sys.argv[1], sys.argv[2]
    host, sysinfo = kv(os.path.join(raw, "host.txt")), kv(os.path.join(raw, "sysinfo.txt"))
    user_hz = int(sysinfo.get("user_hz", "100") or 100)
    peers = int(host.get("scale_peers", "0"))
    ips = peers * int(host.get("scale_ips_per_peer", "0"))

    vcpus = int(sysinfo.get("vcpus", "0") or 0)
    status = {}
    for line in open(os.path.join(raw, "status.txt")):
        impl, st, *reason = line.split(" ", 2)
        prev = status.get(impl)
        # "available" is the first word; a later failure or budget stop refines it.
        if prev is None or st != "available":
            status[impl] = {"status": st, "detail": (reason[0].strip() if reason else "")}
    for impl in IMPLS:
        status.setdefault(impl, {"status": "not measured", "detail": "not selected with --impl"})

    per_run = {impl: {} for impl in IMPLS}   # impl -> metric -> [values]
    notes = {impl: set() for impl in IMPLS}
    cdf_samples = {impl: {"idle": [], "load": []} for impl in IMPLS}
    for impl in IMPLS:
        base = os.path.join(raw, "raw", impl)
        if not os.path.isdir(base):
            continue
        for run in sorted(os.listdir(base)):
            d = os.path.join(base, run)
            m = {}
            for t in ("tcp1_fwd", "tcp1_rev", "tcp4_fwd", "tcp4_rev"):
                m[t + "_gbps"] = iperf_gbps(os.path.join(d, t + ".json"))
            for size in ("64", "1420"):
                m["udp%s_tx_pps" % size], m["udp%s_rx_pps" % size] = iperf_udp(os.path.join(d, "udp%s.json" % size))
            for kind in ("idle", "load"):
                # Under load the probe starts before the bulk flow (guest.sh): count from 2 s after its start.
                since = None
                try:
                    since = int(open(os.path.join(d, "rtt_%s_start.txt" % kind)).read().split()[0]) + 2_000_000_000
                except (OSError, ValueError, IndexError):
                    pass
                rtts, loss, sent = irtt_samples(os.path.join(d, "rtt_%s.json" % kind), since)
                m["rtt_%s_sent" % kind] = sent
                if rtts:
                    cdf_samples[impl][kind] += rtts
                    for p, name in ((50, "p50"), (99, "p99"), (99.9, "p999")):
                        m["rtt_%s_%s_ms" % (kind, name)] = percentile(rtts, p)
                m["rtt_%s_loss_pct" % kind] = loss
            m["rtt_load_bulk_gbps"] = iperf_gbps(os.path.join(d, "rtt_load_bulk.json"))
            m.update(cpu_metrics(os.path.join(d, "cpu_tcp1.txt"), user_hz))
            native = scale_metrics(os.path.join(d, "scale_wgctl.txt" if impl == "rust" else "scale_wg.txt"),
                                   peers, notes[impl])
            for k, v in native.items():
                m["config_" + k] = v
            if impl in ("c", "rust"):
                w = scale_metrics(os.path.join(d, "scale_wgctl.txt"), peers, notes[impl])
                m["config_set_wgctl_s"] = w.get("set_s")
                m["config_dump_wgctl_s"] = w.get("dump_s")
            m.update(flood_metrics(d, user_hz, vcpus))
            for k, v in m.items():
                per_run[impl].setdefault(k, []).append(v)

    for impl, s in status.items():
        if s["status"] == "unavailable":
            s["status"] = "not available"
        s["notes"] = sorted(notes[impl])

    metrics = {}
    for name, (unit, better, desc) in METRICS.items():
        results = {impl: summary(per_run[impl].get(name, [])) for impl in IMPLS}
        ratios = {}
        for a, b in RATIOS:
            ra, rb = results[a], results[b]
            ratios["%s/%s" % (a, b)] = (ra["median"] / rb["median"]) if ra and rb and rb["median"] else None
        metrics[name] = {"unit": unit, "better": better, "description": desc, "results": results, "ratios": ratios}

    crypto = crypto_ceiling(os.path.join(raw, "raw"))
    flags = set(sysinfo.get("cpu_flags", "").split())
    simd = {f: f in flags for f in ("sse2", "ssse3", "avx", "avx2", "avx512f", "avx512vl", "adx", "bmi2", "aes",
                                    "pclmulqdq", "sha_ni")}

    cdf = {}
    for impl in IMPLS:
        cdf[impl] = {}
        for kind, samples in cdf_samples[impl].items():
            s = sorted(samples)
            cdf[impl][kind] = [[p, percentile(s, p)] for p in list(range(1, 100)) + [99.5, 99.9, 100]] if s else None

    conditions = {
        "variant": host.get("variant"), "quick": host.get("quick") == "1", "runs": int(host.get("runs", 0)),
        "extra_runs": int(host.get("extra_runs", host.get("runs", 0))),
        "tcp_udp_duration_s": int(host.get("dur_s", 0)), "rtt_duration_s": int(host.get("rtt_dur_s", 0)),
        "scale_peers": peers, "scale_allowed_ips": ips,
        "accel": host.get("accel"), "qemu": host.get("qemu"), "guest_cpu_model": sysinfo.get("cpu_model"),
        "guest_simd": simd, "vcpus": int(sysinfo.get("vcpus", 0) or 0),
        "vm_memory_kib": int(sysinfo.get("mem_total_kib", 0) or 0), "kernel": sysinfo.get("kernel"),
        "kernel_build": sysinfo.get("kernel_version"),
        "kconfig": {k[len("kconfig_"):]: v for k, v in host.items() if k.startswith("kconfig_")},
        "pinning": "iperf3 client on vCPU 0, iperf3 server on vCPU 1, crypto ceiling (AF_ALG, openssl) on vCPU 1, "
                   "handshake flooder on vCPU 0; irtt, kernel threads, wireguard-go and openvpn unpinned",
        "parts": host.get("parts", "traffic,flood,scale,crypto").split(","),
        "flood": {"seconds": float(host.get("flood_dur_s", 0) or 0),
                  "identities": int(host.get("flood_ids", 0) or 0) or None,
                  "fresh_per_s": float(host.get("flood_fresh_per_s", 0) or 0) or None},
        "host_cpu": host.get("host_cpu"), "host_cpus": int(host.get("host_cpus", 0) or 0),
        "host_load_before": host.get("host_load_before"), "host_load_after": host.get("host_load_after"),
        "guest_seconds": int(sysinfo.get("guest_seconds", 0) or 0), "git": host.get("git"),
        "rust_wg_ko_sha256": host.get("rust_wg_ko"),
        "build_failed": host.get("build_failed", "none"), "build_skipped": host.get("build_skipped") == "1",
        "wall_s": int(host.get("wall_s", 0) or 0),
        "tools": {k: sysinfo.get(k) for k in ("iperf3", "irtt", "wireguard_go", "wg", "openssl", "openvpn", "python")},
    }
    doc = {
        "schema": "rust_wg-bench/1",
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "raw_dir": raw,
        "conditions": conditions,
        "implementations": status,
        "metrics": metrics,
        "crypto_ceiling": crypto,
        "latency_cdf_ms": cdf,
    }
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    plots = make_plots(doc, outdir)
    md = markdown(doc, plots)
    with open(os.path.join(outdir, "latest.md"), "w") as f:
        f.write(md)
    if len(sys.argv) > 3:
        update_docs(sys.argv[3], md, os.path.relpath(outdir, os.path.dirname(os.path.abspath(sys.argv[3]))))


def crypto_ceiling(rawdir):
    """The one-vCPU AEAD figures at 1420 bytes: the kernel's through AF_ALG (bench/afalg.py), OpenSSL's."""
    var, unavailable = {}, {}
    files = sorted(os.listdir(rawdir)) if os.path.isdir(rawdir) else []
    for alg in ("chacha20poly1305", "aes256gcm"):
        vals, corr, over, driver = [], [], [], None
        for f in files:
            if not f.startswith("crypto_kernel_%s_r" % alg):
                continue
            text = open(os.path.join(rawdir, f)).read()
            if text.startswith("unavailable"):
                unavailable["kernel_" + alg] = text.split(" ", 1)[1].strip()
                continue
            d = kv(os.path.join(rawdir, f))
            if "bytes_per_s" in d:
                vals.append(float(d["bytes_per_s"]))
                driver = d.get("driver")
                over.append(float(d.get("overhead_us", "nan")))
                if "bytes_per_s_corrected" in d:
                    corr.append(float(d["bytes_per_s_corrected"]))
        if vals:
            var["kernel_" + alg] = {"driver": driver, "bytes_per_s": summary(vals),
                                    "bytes_per_s_without_syscall_overhead": summary(corr),
                                    "syscall_overhead_us": summary(over)}
        ossl = []
        for f in files:
            if (alg == "chacha20poly1305" and f.startswith("crypto_r")) or f.startswith("crypto_openssl_%s_r" % alg):
                for line in open(os.path.join(rawdir, f)):
                    parts = line.strip().split(":")
                    if line.startswith("+F:") and len(parts) >= 4:
                        ossl.append(float(parts[3]))
        if ossl:
            var["openssl_" + alg] = {"bytes_per_s": summary(ossl)}
    main = var.get("kernel_chacha20poly1305") or var.get("openssl_chacha20poly1305")
    if "kernel_chacha20poly1305" in var:
        what = ("the kernel's rfc7539(chacha20,poly1305) (driver %s: the arch ChaCha20/Poly1305 code wireguard's "
                "lib/crypto also uses) through AF_ALG, 1420-byte buffers, one vCPU, incl. two syscalls per buffer"
                % var["kernel_chacha20poly1305"]["driver"])
    else:
        what = ("userspace OpenSSL EVP chacha20-poly1305 on 1420-byte buffers, one vCPU (not the kernel's code: "
                "%s)" % unavailable.get("kernel_chacha20poly1305", "AF_ALG not measured"))
    return {"what": what, "bytes_per_s": main["bytes_per_s"] if main else None, "variants": var,
            "unavailable": unavailable}


def update_docs(path, md, rel):
    """Put the report (headings one level down, plot links relative to the docs) between the markers."""
    begin, end = "<!-- bench:latest:begin -->", "<!-- bench:latest:end -->"
    text = open(path).read()
    if begin not in text or end not in text:
        return
    body = md.split("\n", 2)[2]  # without the report's own title
    body = body.replace("](throughput.png)", "](%s/throughput.png)" % rel)
    body = body.replace("](latency_cdf.png)", "](%s/latency_cdf.png)" % rel)
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(head + begin + "\n" + body.strip() + "\n" + end + tail)


def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e6:
        return "%.3gM" % (v / 1e6)
    if a >= 1e4:
        return "%.3gk" % (v / 1e3)
    if a >= 100:
        return "%.0f" % v
    if a >= 1:
        return "%.3g" % v
    return "%.2g" % v


def cell(r):
    if r is None:
        return "n/a"
    if r["runs"] == 1:
        return fmt(r["median"])
    return "%s (%s–%s)" % (fmt(r["median"]), fmt(r["min"]), fmt(r["max"]))


def ratio(v):
    return "–" if v is None else "%.3g" % v


def markdown(doc, plots):
    c = doc["conditions"]
    simd = ", ".join(k for k, v in c["guest_simd"].items() if v) or "none"
    out = ["# rust_wg benchmark: latest results", "",
           "Generated by `make bench%s` on %s; method and schema in `docs/BENCHMARKS.md`." % (
               " QUICK=1" if c["quick"] else "", doc["generated"]), ""]
    out += ["| condition | value |", "| --- | --- |"]
    rows = [
        ("kernel", "%s (%s variant)" % (c["kernel"], c["variant"])),
        ("acceleration", "%s (%s)" % (c["accel"], c["qemu"])),
        ("guest CPU", "%s, %d vCPUs; SIMD/crypto flags exposed: %s" % (c["guest_cpu_model"], c["vcpus"], simd)),
        ("guest memory", "%d MiB" % (c["vm_memory_kib"] // 1024)),
        ("host", "%s, %d cores, shared; load before %s, after %s" % (
            c["host_cpu"], c["host_cpus"], c["host_load_before"], c["host_load_after"])),
        ("runs", "%d per metric (IPsec/OpenVPN: %d; median, min–max; fewer where the time budget ran out); "
                 "TCP/UDP %d s, latency %d s, flood %g s" % (
            c["runs"], c["extra_runs"], c["tcp_udp_duration_s"], c["rtt_duration_s"], c["flood"]["seconds"])),
        ("pinning", c["pinning"]),
        ("config scale", "%d peers, %d allowed IPs" % (c["scale_peers"], c["scale_allowed_ips"])),
        ("parts", ", ".join(c["parts"])),
        ("git", c["git"]),
        ("build", "skipped (--no-build)" if c["build_skipped"] else (
            "ok" if c["build_failed"] == "none" else "FAILED: %s (older build used)" % c["build_failed"])),
        ("time", "%d s in the guest, %d s wall" % (c["guest_seconds"], c["wall_s"])),
    ]
    out += ["| %s | %s |" % r for r in rows] + [""]
    out += ["| implementation | status | detail |", "| --- | --- | --- |"]
    for impl in IMPLS:
        s = doc["implementations"][impl]
        detail = "; ".join([s["detail"]] + s["notes"]) if s["detail"] else "; ".join(s["notes"])
        out.append("| %s | %s | %s |" % (NAMES[impl], s["status"], detail))
    out += ["", "Under TCG every guest instruction is translated and SIMD (AVX2, AES-NI, ...) is emulated, on a "
            "shared, loaded host: absolute figures say little about real hardware. Compare implementations through "
            "the ratios, which come from the same VM run.", ""]
    out += ["### WireGuard implementations", ""]
    out += ["| metric | unit | veth | C | go | rust_wg | C/veth | go/C | rust/C | rust/go |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, m in doc["metrics"].items():
        r, q = m["results"], m["ratios"]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, m["unit"], cell(r["veth"]), cell(r["c"]), cell(r["go"]), cell(r["rust"]),
            ratio(q["c/veth"]), ratio(q["go/c"]), ratio(q["rust/c"]), ratio(q["rust/go"])))
    if any(doc["implementations"][o]["status"] not in ("not measured",) for o in OTHERS):
        out += ["", "### The comparison set: in-kernel IPsec and OpenVPN", "",
                "Same namespaces, same inner MTU (1420), same measurements; ratios are to rust_wg and to the C "
                "driver from the same run.", ""]
        out += ["| metric | unit | rust_wg | C | " + " | ".join(SHORT[o] for o in OTHERS) + " | " +
                " | ".join("%s/rust" % SHORT[o] for o in OTHERS) + " | " +
                " | ".join("%s/C" % SHORT[o] for o in OTHERS) + " |",
                "| --- " * (4 + 3 * len(OTHERS)) + "|"]
        for name in TRAFFIC:
            m = doc["metrics"][name]
            r, q = m["results"], m["ratios"]
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                name, m["unit"], cell(r["rust"]), cell(r["c"]), " | ".join(cell(r[o]) for o in OTHERS),
                " | ".join(ratio(q["%s/rust" % o]) for o in OTHERS),
                " | ".join(ratio(q["%s/c" % o]) for o in OTHERS)))
    cc = doc["crypto_ceiling"]
    out += ["", "### Crypto ceiling (one vCPU, 1420-byte buffers)", ""]
    if cc["variants"]:
        out += ["| what | bytes/s | Gbit/s | note |", "| --- | --- | --- | --- |"]
        for k, v in cc["variants"].items():
            note = ""
            if k.startswith("kernel_"):
                note = "driver %s via AF_ALG; without the ~%s µs syscall cost per buffer: %s bytes/s" % (
                    v["driver"], fmt(v["syscall_overhead_us"]["median"]) if v["syscall_overhead_us"] else "?",
                    cell(v["bytes_per_s_without_syscall_overhead"]))
            b = v["bytes_per_s"]
            out.append("| %s | %s | %s | %s |" % (k, cell(b), fmt(b["median"] * 8 / 1e9), note))
    for k, v in cc["unavailable"].items():
        out.append("")
        out.append("%s: not available: %s" % (k, v))
    if cc["bytes_per_s"]:
        ceil = cc["bytes_per_s"]["median"] * 8 / 1e9
        fr = []
        for impl in ("c", "go", "rust", "ipsec_chacha", "ovpn_chacha"):
            r = doc["metrics"]["tcp1_fwd_gbps"]["results"][impl]
            if r:
                fr.append("%s %.0f%%" % (SHORT[impl], 100 * r["median"] / ceil))
        if fr:
            out += ["", "1-stream TCP as a fraction of one vCPU's ChaCha20-Poly1305 ceiling (%s): %s. Sender and "
                    "receiver run on different vCPUs, so a tunnel can exceed 100%%." % (
                        "kernel" if "kernel_chacha20poly1305" in cc["variants"] else "OpenSSL", ", ".join(fr))]
    if all(doc["metrics"]["handshakes_per_s"]["results"][i] is None for i in ("c", "go", "rust")):
        out += ["", "Handshakes/s under a flood: not measured in this run.", ""]
    out.append("")
    for p in plots:
        out += ["![%s](%s)" % (p, p), ""]
    return "\n".join(out)


COLORS = {"veth": "#999999", "c": "#1f77b4", "go": "#2ca02c", "rust": "#d62728", "ipsec_chacha": "#9467bd",
          "ipsec_gcm": "#c5b0d5", "ovpn_chacha": "#ff7f0e", "ovpn_gcm": "#ffbb78"}


def make_plots(doc, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    plots = []
    shown = [i for i in IMPLS if doc["implementations"][i]["status"] != "not measured"]
    if not any(doc["metrics"]["tcp1_fwd_gbps"]["results"][i] for i in shown):
        return []
    names = ["tcp1_fwd_gbps", "tcp1_rev_gbps", "tcp4_fwd_gbps", "tcp4_rev_gbps", "rtt_load_bulk_gbps"]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    width = 0.8 / max(len(shown), 1)
    for i, impl in enumerate(shown):
        xs, ys, lo, hi = [], [], [], []
        for j, n in enumerate(names):
            r = doc["metrics"][n]["results"][impl]
            if r:
                xs.append(j + (i - (len(shown) - 1) / 2) * width)
                ys.append(r["median"])
                lo.append(r["median"] - r["min"])
                hi.append(r["max"] - r["median"])
        if xs:
            ax.bar(xs, ys, width, yerr=[lo, hi], label=NAMES[impl], color=COLORS[impl], capsize=2)
        else:
            ax.plot([], [], " ", label=NAMES[impl] + ": " + doc["implementations"][impl]["status"])
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.replace("_gbps", "") for n in names])
    ax.set_yscale("log")
    ax.set_ylabel("Gbit/s (log scale)")
    c = doc["conditions"]
    ax.set_title("TCP throughput, %s, %d vCPUs, median of up to %d rounds (min-max bars)" % (c["accel"], c["vcpus"], c["runs"]))
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "throughput.png"), dpi=100)
    plt.close(fig)
    plots.append("throughput.png")

    fig, ax = plt.subplots(figsize=(10, 4.8))
    for impl in shown:
        for kind, style in (("load", "-"), ("idle", ":")):
            pts = doc["latency_cdf_ms"][impl][kind]
            if pts:
                ax.plot([v for _, v in pts], [p / 100 for p, _ in pts], style, color=COLORS[impl],
                        label="%s, %s" % (NAMES[impl], "under load" if kind == "load" else "idle"))
    ax.set_xscale("log")
    ax.set_xlabel("RTT of the 50 pps flow (ms, log scale)")
    ax.set_ylabel("fraction of packets")
    ax.set_title("Small-flow RTT CDF, idle (dotted) and with one bulk TCP flow (solid), all runs pooled")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "latency_cdf.png"), dpi=100)
    plt.close(fig)
    plots.append("latency_cdf.png")
    return plots


if __name__ == "__main__":
    main()
