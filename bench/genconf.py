#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Write a wg(8) setconf file with many peers, for the config-scale benchmark.

    genconf.py PEERS IPS_PER_PEER SEED > file.conf

Every peer gets a random public key (any 32 bytes are a valid X25519 public key for `wg`), and IPS_PER_PEER unique
allowed IPs, alternating IPv4 /32 from 10.0.0.0/8 and IPv6 /128 from fd00:b::/64. The private key and the peer keys
are drawn from a seeded generator, so a run is reproducible; the keys are benchmark data, never used for traffic.
"""
import base64
import random
import sys


def key(rng):
    return base64.b64encode(rng.getrandbits(256).to_bytes(32, "little")).decode()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    peers, per_peer, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    if not (0 < peers <= 1_000_000 and 0 < per_peer <= 1000 and peers * per_peer < 1 << 24):
        sys.exit("genconf.py: PEERS/IPS_PER_PEER out of range")
    rng = random.Random(seed)
    out = ["[Interface]", "PrivateKey = " + key(rng), "ListenPort = 51900", ""]
    n = 1  # running allowed-IP index, so no two peers share a prefix
    for _ in range(peers):
        ips = []
        for j in range(per_peer):
            if j % 2 == 0:
                ips.append("10.%d.%d.%d/32" % (n >> 16 & 255, n >> 8 & 255, n & 255))
            else:
                ips.append("fd00:b::%x:%x/128" % (n >> 16, n & 0xFFFF))
            n += 1
        out += ["[Peer]", "PublicKey = " + key(rng), "AllowedIPs = " + ", ".join(ips), ""]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
