#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""How long RTNL users wait: sends a no-op RTM_SETLINK for lo (it takes RTNL and changes nothing) every 5 ms,
timing each until its ack, for as long as the file FLAG exists. Prints "ready" once it runs, then at the end
"probes N max_ms X median_ms Y"."""
import os
import socket
import struct
import sys
import time

RTM_SETLINK = 19
NLM_F_REQUEST, NLM_F_ACK = 1, 4


def main():
    flag = sys.argv[1]
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    lo = socket.if_nametoindex("lo")
    waits = []
    seq = 0
    print("ready", flush=True)
    while os.path.exists(flag):
        seq += 1
        ifinfo = struct.pack("BxHiII", socket.AF_UNSPEC, 0, lo, 0, 0)
        msg = struct.pack("IHHII", 16 + len(ifinfo), RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + ifinfo
        t0 = time.monotonic()
        s.send(msg)
        reply = s.recv(4096)
        waits.append(time.monotonic() - t0)
        err = struct.unpack_from("i", reply, 16)[0]
        if err != 0:
            sys.exit("RTM_SETLINK on lo: error %d" % err)
        time.sleep(0.005)
    if not waits:
        sys.exit("no probe ran")
    waits.sort()
    print("probes %d max_ms %.1f median_ms %.1f" % (len(waits), waits[-1] * 1e3, waits[len(waits) // 2] * 1e3))


main()
