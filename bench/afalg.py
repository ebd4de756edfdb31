#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The kernel's AEAD throughput on one CPU, timed from userspace through AF_ALG (the crypto ceiling of the benchmark).

    afalg.py chacha20poly1305|aes256gcm SIZE SECONDS

Encrypts SIZE-byte buffers (no associated data, 16-byte tag) with rfc7539(chacha20,poly1305) or gcm(aes) with a
256-bit key, one request per sendmsg/recv pair, for SECONDS, and prints "key value" lines: the crypto API driver
the kernel chose (from /proc/crypto, e.g. which SIMD variant), operations, bytes/s. Each request also pays two
system calls and a copy, so this is a lower bound of what the kernel's code does per core. The same SIZE with 16-byte
buffers gives that fixed cost (printed as overhead_us), so overhead-corrected figures can be derived.

Needs CONFIG_CRYPTO_USER_API_AEAD; without it prints "unavailable REASON" and exits 0.
"""
import os
import socket
import sys
import time

ALGS = {"chacha20poly1305": ("rfc7539(chacha20,poly1305)", 32, 12), "aes256gcm": ("gcm(aes)", 32, 12)}


def driver_of(name):
    """The driver /proc/crypto lists for an algorithm name (the highest priority one the kernel picks)."""
    best, entry = None, {}
    try:
        text = open("/proc/crypto").read()
    except OSError:
        return None
    for block in text.split("\n\n"):
        entry = {}
        for line in block.splitlines():
            k, _, v = line.partition(":")
            entry[k.strip()] = v.strip()
        if entry.get("name") == name:
            prio = int(entry.get("priority", "0"))
            if best is None or prio > best[0]:
                best = (prio, entry.get("driver"))
    return best[1] if best else None


def run(op, size, seconds, iv):
    buf = bytes(size)
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(16):
            op.sendmsg_afalg([buf], op=socket.ALG_OP_ENCRYPT, iv=iv, assoclen=0)
            op.recv(size + 16)
        n += 16
        now = time.perf_counter()
        if now >= end:
            return n, now - start


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ALGS:
        sys.exit(__doc__)
    name, keylen, ivlen = ALGS[sys.argv[1]]
    size, seconds = int(sys.argv[2]), float(sys.argv[3])
    try:
        s = socket.socket(socket.AF_ALG, socket.SOCK_SEQPACKET, 0)
        s.bind(("aead", name))
        s.setsockopt(socket.SOL_ALG, socket.ALG_SET_KEY, os.urandom(keylen))
        s.setsockopt(socket.SOL_ALG, socket.ALG_SET_AEAD_AUTHSIZE, None, 16)
        op, _ = s.accept()
    except (OSError, AttributeError) as e:
        print("unavailable AF_ALG aead %s: %s (CONFIG_CRYPTO_USER_API_AEAD?)" % (name, e))
        return
    iv = os.urandom(ivlen)
    small_n, small_t = run(op, 16, min(1.0, seconds / 3), iv)
    n, t = run(op, size, seconds, iv)
    per_op = t / n
    overhead = small_t / small_n
    print("algorithm", name)
    print("driver", driver_of(name))
    print("size", size)
    print("ops", n)
    print("seconds %.3f" % t)
    print("bytes_per_s %.1f" % (n * size / t))
    print("overhead_us %.2f" % (overhead * 1e6))
    if per_op > overhead:
        print("bytes_per_s_corrected %.1f" % (size / (per_op - overhead)))


if __name__ == "__main__":
    main()
