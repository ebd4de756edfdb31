#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Looks into a running guest started with RUST_WG_VNG_ARGS=--debug (selftests/run.sh), for a guest that hangs:
# each vCPU's registers and local APIC (is its timer armed, is an interrupt pending?), through QEMU's QMP socket
# (virtme-ng --debug: localhost:3636). Usage: scripts/vm-inspect.sh [HMP COMMAND...]; default: info registers -a,
# info lapic per vCPU. `vng --dump FILE` writes the guest's memory, `vng --gdb` attaches gdb (port 1234).
set -euo pipefail
exec python3 - "$@" <<'PY'
import json, socket, sys
f = socket.create_connection(("localhost", 3636), timeout=30).makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m
def hmp(line):
    f.write(json.dumps({"execute": "human-monitor-command", "arguments": {"command-line": line}}) + "\n")
    f.flush()
    return reply().get("return", "")
reply()
f.write('{"execute": "qmp_capabilities"}\n'); f.flush(); reply()
cmds = [" ".join(sys.argv[1:])] if len(sys.argv) > 1 else None
if cmds is None:
    cpus = hmp("info cpus").count("CPU #")
    cmds = ["info cpus", "info registers -a"] + [f"info lapic {i}" for i in range(cpus)]
for c in cmds:
    print(f"### {c}\n{hmp(c)}")
PY
