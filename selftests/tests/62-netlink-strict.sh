#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rust_wg's genl family with hand-made messages (python3, raw AF_NETLINK): malformed requests (unknown attributes,
# wrong types and lengths, missing NLA_F_NESTED, truncated nests, bad values, unknown flags) are refused with the
# C driver's errno and an extended-ack text naming the attribute, pointing at it, and change nothing, even when the
# bad part comes after valid peers; the SET flags (REPLACE_PEERS, REMOVE_ME, REPLACE_ALLOWEDIPS, UPDATE_ONLY,
# WGALLOWEDIP_F_REMOVE_ME) and a SET split over two messages do what the uapi says; GET refuses bad requests, and a
# dump interrupted by a change is flagged NLM_F_DUMP_INTR; unprivileged callers get EPERM.
. "$RUST_WG_TOP/selftests/lib.sh"

command -v wg >/dev/null || skip "wg (wireguard-tools) not installed"
PY=/usr/bin/python3
[ -x $PY ] || skip "no $PY"
rust_wg_scratch dummy9

cat >"$tmp/nl.py" <<'EOF'
import os, socket, struct, subprocess, sys, errno

NETLINK_GENERIC, SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 16, 270, 10, 11
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP_INTR, NLM_F_DUMP = 1, 2, 4, 0x10, 0x300
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLA_F_NESTED = 0x8000
EBADR, EPFNOSUPPORT = 53, 96
AF_INET, AF_INET6 = 2, 10
DEV_IFINDEX, DEV_IFNAME, DEV_PRIVKEY, DEV_PUBKEY, DEV_FLAGS, DEV_PORT, DEV_FWMARK, DEV_PEERS = range(1, 9)
P_PUBKEY, P_PSK, P_FLAGS, P_ENDPOINT, P_KEEPALIVE, P_HS, P_RX, P_TX, P_IPS, P_VERSION = range(1, 11)
A_FAMILY, A_IP, A_CIDR, A_FLAGS = 1, 2, 3, 4
F_REMOVE_ME, F_REPLACE_IPS, F_UPDATE_ONLY = 1, 2, 4

def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack('=HH', n, t) + payload + b'\0' * (-n % 4)
def nest(t, *items):
    return attr(t | NLA_F_NESTED, b''.join(items))
def u8(t, v): return attr(t, struct.pack('=B', v))
def u16(t, v): return attr(t, struct.pack('=H', v))
def u32(t, v): return attr(t, struct.pack('=I', v))
def ifname(n='wg0'): return attr(DEV_IFNAME, n.encode() + b'\0')
def key(i): return bytes([i]) * 32
def ip4(a, cidr, flags=None):
    return nest(0, u16(A_FAMILY, AF_INET), attr(A_IP, socket.inet_aton(a)), u8(A_CIDR, cidr),
                *([u32(A_FLAGS, flags)] if flags is not None else []))
def peer(k, *items): return nest(0, attr(P_PUBKEY, key(k)), *items)
def sin(a, port): return struct.pack('=H', AF_INET) + struct.pack('>H', port) + socket.inet_aton(a) + b'\0' * 8

class Genl:
    def __init__(self, name):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.bind((0, 0))
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.seq = 1
        msgs, err, _, _ = self.request(0x10, 3, attr(2, name.encode() + b'\0'))  # CTRL_CMD_GETFAMILY
        assert err == 0, err
        self.family = None
        for (_, _, body) in msgs:
            for t, p in attrs(body[4:]):
                if t == 1:
                    self.family = struct.unpack('=H', p[:2])[0]
        assert self.family

    def send(self, family, cmd, payload, flags):
        body = struct.pack('=BBH', cmd, 1, 0) + payload
        self.s.send(struct.pack('=IHHII', 16 + len(body), family, flags, self.seq, 0) + body)
        self.seq += 1

    def recv(self, stop_after_one=False):
        """Messages until ERROR or DONE: (messages, errno, extack text, extack offset)."""
        msgs = []
        while True:
            data = self.s.recv(1 << 17)
            off = 0
            while off + 16 <= len(data):
                ln, ty, fl, seq, pid = struct.unpack_from('=IHHII', data, off)
                body = data[off + 16:off + ln]
                off += (ln + 3) & ~3
                if ty in (NLMSG_ERROR, NLMSG_DONE):
                    err = -struct.unpack_from('=i', body)[0]
                    tl = body[4 + (16 if ty == NLMSG_ERROR else 0):] if fl & NLM_F_ACK_TLVS else b''
                    text, boff = None, None
                    for t, p in attrs(tl):
                        if t == 1: text = p.rstrip(b'\0').decode()
                        if t == 2: boff = struct.unpack('=I', p)[0]
                    return msgs, err, text, boff
                msgs.append((ty, fl, body))
            if stop_after_one and msgs:
                return msgs, None, None, None

    def request(self, family, cmd, payload, flags=NLM_F_REQUEST | NLM_F_ACK):
        self.send(family, cmd, payload, flags)
        return self.recv()

    def set(self, payload):
        return self.request(self.family, 1, payload)

    def get(self, payload, flags=NLM_F_REQUEST | NLM_F_DUMP):
        return self.request(self.family, 0, payload, flags)

def attrs(b):
    out = []
    while len(b) >= 4:
        n, t = struct.unpack_from('=HH', b)
        if n < 4 or n > len(b): break
        out.append((t & 0x3fff, b[4:n]))
        b = b[(n + 3) & ~3:]
    return out

def showconf():
    return subprocess.run(['wg', 'showconf', 'wg0'], capture_output=True, check=True, text=True).stdout

def peers():
    return subprocess.run(['wg', 'show', 'wg0', 'peers'], capture_output=True, check=True, text=True).stdout.split()

def allowed(k):
    import base64
    b = base64.b64encode(key(k)).decode()
    for line in subprocess.run(['wg', 'show', 'wg0', 'allowed-ips'], capture_output=True, check=True,
                               text=True).stdout.splitlines():
        f = line.split('\t')
        if f[0] == b:
            return ' '.join(sorted(f[1].split()))
    return None

failures = 0
def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print('FAIL:', what, file=sys.stderr)

g = Genl(sys.argv[1])
HDR = 16 + 4  # offsets in the extended ack count from the netlink header; ours from the attributes

# A known state: one peer, key 1, with an allowed IP; listen port 5000.
msgs, err, text, _ = g.set(ifname() + u16(DEV_PORT, 5000) + nest(DEV_PEERS, peer(1, nest(P_IPS, ip4('10.1.0.0', 16)))))
check(err == 0, f'baseline set: errno {err} {text}')
base = showconf()

good_peer = peer(2, nest(P_IPS, ip4('10.2.0.0', 16)))  # valid, would be added if the request were applied
bad_cases = [
    # name, payload, errno, text fragment, offset of the bad attribute in the payload (None: not checked)
    ('unknown device attribute', ifname() + u32(9, 1), errno.EINVAL, 'WGDEVICE_A_*: unknown attribute', 8),
    ('device attribute type 0', ifname() + u32(0, 1), errno.EINVAL, 'WGDEVICE_A_*: unknown attribute', 8),
    ('listen port as u32', ifname() + u32(DEV_PORT, 1), errno.EINVAL, 'WGDEVICE_A_LISTEN_PORT: wrong length', 8),
    ('fwmark as u16', ifname() + u16(DEV_FWMARK, 1), errno.EINVAL, 'WGDEVICE_A_FWMARK: wrong length', 8),
    ('short private key', ifname() + attr(DEV_PRIVKEY, b'x' * 31), errno.EINVAL, 'WGDEVICE_A_PRIVATE_KEY: wrong length', 8),
    ('long ifname', attr(DEV_IFNAME, b'a' * 16 + b'\0'), errno.EINVAL, 'WGDEVICE_A_IFNAME: wrong length', 0),
    ('ifname without NUL', attr(DEV_IFNAME, b'wg0'), errno.EINVAL, 'WGDEVICE_A_IFNAME: wrong length', 0),
    ('ifindex and ifname', ifname() + u32(DEV_IFINDEX, 1), EBADR, 'WGDEVICE_A_IFINDEX and WGDEVICE_A_IFNAME', None),
    ('no device', u16(DEV_PORT, 1), EBADR, 'WGDEVICE_A_IFINDEX or WGDEVICE_A_IFNAME is required', None),
    ('no such device', ifname('nonexistent0'), errno.ENODEV, 'no such device in this namespace', None),
    ('no such ifindex', u32(DEV_IFINDEX, 99999), errno.ENODEV, 'no such device in this namespace', None),
    ('device of another kind', ifname('dummy9') + u16(DEV_PORT, 6000), errno.EOPNOTSUPP, 'not a WireGuard device', None),
    ('ifindex of another kind', u32(DEV_IFINDEX, socket.if_nametoindex('dummy9')) + u16(DEV_PORT, 6000), errno.EOPNOTSUPP,
     'not a WireGuard device', None),
    ('flags on a u32 attribute', ifname() + attr(DEV_FWMARK | NLA_F_NESTED, b'\0' * 4), errno.EINVAL, 'WGDEVICE_A_FWMARK: NLA_F_NESTED unexpected', 8),
    ('peers without NLA_F_NESTED', ifname() + attr(DEV_PEERS, good_peer), errno.EINVAL, 'WGDEVICE_A_PEERS: NLA_F_NESTED missing', 8),
    ('unknown device flag', ifname() + u32(DEV_FLAGS, 2) + nest(DEV_PEERS, good_peer), errno.EOPNOTSUPP, 'WGDEVICE_A_FLAGS: unknown flags', 8),
    ('trailing bytes', ifname() + u16(DEV_PORT, 6000) + b'\1\0', errno.EINVAL, 'bytes leftover', 16),
    ('truncated attribute', ifname() + struct.pack('=HH', 12, DEV_PORT) + b'\0\0', errno.EINVAL, 'WGDEVICE_A_*: attribute truncated', 8),
    ('truncated peer entry', ifname() + attr(DEV_PEERS | NLA_F_NESTED, good_peer + struct.pack('=HH', 40, NLA_F_NESTED) + b'\0' * 8),
     errno.EINVAL, 'WGDEVICE_A_PEERS: entry truncated', 12 + len(good_peer)),
    ('peer entry without NLA_F_NESTED', ifname() + nest(DEV_PEERS, good_peer, attr(0, attr(P_PUBKEY, key(3)))), errno.EINVAL,
     'WGDEVICE_A_PEERS: entry without NLA_F_NESTED', 12 + len(good_peer)),
    ('peer without key', ifname() + nest(DEV_PEERS, good_peer, nest(0, u16(P_KEEPALIVE, 1))), errno.EINVAL, 'WGPEER_A_PUBLIC_KEY: missing', None),
    ('short public key', ifname() + nest(DEV_PEERS, nest(0, attr(P_PUBKEY, b'k' * 16))), errno.EINVAL, 'WGPEER_A_PUBLIC_KEY: wrong length', 16),
    ('short preshared key', ifname() + nest(DEV_PEERS, good_peer, peer(3, attr(P_PSK, b'k' * 33))), errno.EINVAL, 'WGPEER_A_PRESHARED_KEY: wrong length', None),
    ('unknown peer attribute', ifname() + nest(DEV_PEERS, good_peer, peer(3, u32(11, 0))), errno.EINVAL, 'WGPEER_A_*: unknown attribute', None),
    ('keepalive as u32', ifname() + nest(DEV_PEERS, good_peer, peer(3, u32(P_KEEPALIVE, 25))), errno.EINVAL, 'WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL: wrong length', None),
    ('unknown peer flag', ifname() + nest(DEV_PEERS, good_peer, peer(3, u32(P_FLAGS, 8))), errno.EOPNOTSUPP, 'WGPEER_A_FLAGS: unknown flags', None),
    ('protocol version 2', ifname() + nest(DEV_PEERS, good_peer, peer(3, u32(P_VERSION, 2))), EPFNOSUPPORT, 'WGPEER_A_PROTOCOL_VERSION', None),
    ('short endpoint', ifname() + nest(DEV_PEERS, good_peer, peer(3, attr(P_ENDPOINT, sin('1.2.3.4', 5)[:12]))), errno.EINVAL, 'WGPEER_A_ENDPOINT: wrong length', None),
    ('endpoint of the wrong family', ifname() + nest(DEV_PEERS, good_peer, peer(3, attr(P_ENDPOINT, struct.pack('=H', 1) + sin('1.2.3.4', 5)[2:]))),
     errno.EAFNOSUPPORT, 'WGPEER_A_ENDPOINT: not a struct sockaddr_in', None),
    ('allowed IPs without NLA_F_NESTED', ifname() + nest(DEV_PEERS, good_peer, peer(3, attr(P_IPS, ip4('10.3.0.0', 16)))), errno.EINVAL, 'WGPEER_A_ALLOWEDIPS: NLA_F_NESTED missing', None),
    ('allowed IP without cidr', ifname() + nest(DEV_PEERS, good_peer, peer(3, nest(P_IPS, nest(0, u16(A_FAMILY, AF_INET), attr(A_IP, b'\1\2\3\4'))))),
     errno.EINVAL, 'entry needs WGALLOWEDIP_A_FAMILY', None),
    ('allowed IP prefix too long', ifname() + nest(DEV_PEERS, good_peer, peer(3, nest(P_IPS, ip4('10.3.0.0', 16), ip4('10.3.0.0', 33)))),
     errno.EINVAL, 'WGALLOWEDIP_A_CIDR_MASK: longer than the address', None),
    ('allowed IP of family 99', ifname() + nest(DEV_PEERS, good_peer, peer(3, nest(P_IPS, nest(0, u16(A_FAMILY, 99), attr(A_IP, b'\1\2\3\4'), u8(A_CIDR, 8))))),
     errno.EINVAL, 'WGALLOWEDIP_A_FAMILY: not AF_INET or AF_INET6', None),
    ('IPv6 family with an IPv4 address', ifname() + nest(DEV_PEERS, good_peer, peer(3, nest(P_IPS, nest(0, u16(A_FAMILY, AF_INET6), attr(A_IP, b'\1\2\3\4'), u8(A_CIDR, 8))))),
     errno.EINVAL, 'WGALLOWEDIP_A_IPADDR: wrong length for the family', None),
    ('cidr as u16', ifname() + nest(DEV_PEERS, good_peer, peer(3, nest(P_IPS, nest(0, u16(A_FAMILY, AF_INET), attr(A_IP, b'\1\2\3\4'), u16(A_CIDR, 8))))),
     errno.EINVAL, 'WGALLOWEDIP_A_CIDR_MASK: wrong length', None),
    ('unknown allowed-IP flag', ifname() + nest(DEV_PEERS, good_peer, peer(3, nest(P_IPS, ip4('10.3.0.0', 16, flags=2)))), errno.EINVAL, 'WGALLOWEDIP_A_FLAGS: unknown flags', None),
    ('unknown allowed-IP attribute', ifname() + nest(DEV_PEERS, good_peer, peer(3, nest(P_IPS, nest(0, u16(A_FAMILY, AF_INET), attr(A_IP, b'\1\2\3\4'), u8(A_CIDR, 8), u32(5, 0))))),
     errno.EINVAL, 'WGALLOWEDIP_A_*: unknown attribute', None),
    ('truncated allowed-IP nest', ifname() + nest(DEV_PEERS, good_peer, peer(3, attr(P_IPS | NLA_F_NESTED, ip4('10.3.0.0', 16)[:-4]))),
     errno.EINVAL, 'truncated', None),
    ('port change with a bad peer', ifname() + u16(DEV_PORT, 6000) + u32(DEV_FWMARK, 7) + nest(DEV_PEERS, good_peer, peer(3, u32(P_VERSION, 3))),
     EPFNOSUPPORT, 'WGPEER_A_PROTOCOL_VERSION', None),
]
for name, payload, want_err, want_text, want_off in bad_cases:
    _, err, text, off = g.set(payload)
    check(err == want_err, f'{name}: errno {err}, expected {want_err} ({text})')
    check(text is not None and want_text in text, f'{name}: extack text {text!r}, expected {want_text!r}')
    if want_off is not None:
        check(off == HDR + want_off, f'{name}: extack offset {off}, expected {HDR + want_off}')
    check(showconf() == base, f'{name}: the device changed')
print(f'# {len(bad_cases)} malformed SET requests refused, device unchanged')

# GET: bad requests fail at the start of the dump with an extended ack.
for name, payload, want_err, want_text in [
    ('GET unknown attribute', ifname() + u32(12, 0), errno.EINVAL, 'WGDEVICE_A_*: unknown attribute'),
    ('GET no device', b'', EBADR, 'is required'),
    ('GET no such device', ifname('nonexistent0'), errno.ENODEV, 'no such device in this namespace'),
    ('GET no such ifindex', u32(DEV_IFINDEX, 99999), errno.ENODEV, 'no such device in this namespace'),
    ('GET wrong ifindex type', u16(DEV_IFINDEX, 1), errno.EINVAL, 'WGDEVICE_A_IFINDEX: wrong length'),
    ('GET device of another kind', ifname('dummy9'), errno.EOPNOTSUPP, 'not a WireGuard device'),
    ('GET ifindex of another kind', u32(DEV_IFINDEX, socket.if_nametoindex('dummy9')), errno.EOPNOTSUPP, 'not a WireGuard device'),
]:
    msgs, err, text, _ = g.get(payload)
    check(err == want_err and not msgs, f'{name}: errno {err} ({len(msgs)} messages), expected {want_err}')
    check(text is not None and want_text in text, f'{name}: extack text {text!r}')
msgs, err, _, _ = g.get(u32(DEV_IFINDEX, socket.if_nametoindex('wg0')))
check(err == 0 and len(msgs) == 1, f'GET by ifindex: errno {err}, {len(msgs)} messages')

# The flags.
def ok(payload, what):
    _, err, text, _ = g.set(payload)
    check(err == 0, f'{what}: errno {err} ({text})')
ok(ifname() + nest(DEV_PEERS, peer(5, u32(P_FLAGS, F_UPDATE_ONLY), u16(P_KEEPALIVE, 9))), 'UPDATE_ONLY, new peer')
check(len(peers()) == 1, 'UPDATE_ONLY created a peer')
ok(ifname() + nest(DEV_PEERS, peer(1, u32(P_FLAGS, F_UPDATE_ONLY), u16(P_KEEPALIVE, 9))), 'UPDATE_ONLY, existing peer')
check('PersistentKeepalive = 9' in showconf(), 'UPDATE_ONLY did not update the existing peer')
ok(ifname() + nest(DEV_PEERS, peer(1, nest(P_IPS, ip4('10.9.0.0', 16)))), 'add allowed IP')
check(allowed(1) == '10.1.0.0/16 10.9.0.0/16', f'added allowed IP: {allowed(1)}')
ok(ifname() + nest(DEV_PEERS, peer(1, nest(P_IPS, ip4('10.9.0.0', 16, flags=1), ip4('10.8.0.0', 16, flags=1)))), 'allowed IP REMOVE_ME')
check(allowed(1) == '10.1.0.0/16', f'WGALLOWEDIP_F_REMOVE_ME: {allowed(1)}')
ok(ifname() + nest(DEV_PEERS, peer(1, u32(P_FLAGS, F_REPLACE_IPS), nest(P_IPS, ip4('10.7.0.0', 16)))), 'REPLACE_ALLOWEDIPS')
check(allowed(1) == '10.7.0.0/16', f'REPLACE_ALLOWEDIPS: {allowed(1)}')
# A SET split like wg and wgctl split it: the continuation adds.
ok(ifname() + nest(DEV_PEERS, peer(1, u32(P_FLAGS, F_REPLACE_IPS), nest(P_IPS, ip4('10.6.0.0', 16)))), 'split SET, first message')
ok(ifname() + nest(DEV_PEERS, peer(1, nest(P_IPS, ip4('10.5.0.0', 16)))), 'split SET, continuation')
check(allowed(1) == '10.5.0.0/16 10.6.0.0/16', f'split SET: {allowed(1)}')
ok(ifname() + nest(DEV_PEERS, peer(2), peer(3), peer(4)), 'three peers')
check(len(peers()) == 4, f'three peers added: {peers()}')
ok(ifname() + nest(DEV_PEERS, peer(3, u32(P_FLAGS, F_REMOVE_ME)), peer(9, u32(P_FLAGS, F_REMOVE_ME))), 'REMOVE_ME')
check(len(peers()) == 3, f'REMOVE_ME: {peers()}')
ok(ifname() + u32(DEV_FLAGS, 1) + nest(DEV_PEERS, peer(7)), 'REPLACE_PEERS')
check(len(peers()) == 1, f'REPLACE_PEERS: {peers()}')
ok(ifname() + u32(DEV_FLAGS, 1), 'REPLACE_PEERS without peers')
check(len(peers()) == 0, f'REPLACE_PEERS without peers: {peers()}')
# Statistics and the public key are accepted and ignored on SET, as by the C driver.
ok(ifname() + attr(DEV_PUBKEY, key(8)) + nest(DEV_PEERS, peer(8, struct.pack('=HHQ', 12, P_RX, 5), attr(P_HS, b'\0' * 16))), 'GET-only attributes')
print('# SET flags behave')

# NLM_F_DUMP_INTR: a change between two messages of one dump marks the later ones.
ok(ifname() + u32(DEV_FLAGS, 1) + nest(DEV_PEERS, peer(1, attr(P_ENDPOINT, sin('10.0.0.1', 1)))), 'reset')
many = b''.join(nest(0, attr(P_PUBKEY, struct.pack('>I', i) * 8), nest(P_IPS, ip4('10.%d.%d.0' % (i // 250, i % 250), 24)))
                for i in range(600))
ok(ifname() + nest(DEV_PEERS, many[:len(many) // 2]), 'many peers 1')
ok(ifname() + nest(DEV_PEERS, many[len(many) // 2:]), 'many peers 2')
g.send(g.family, 0, ifname(), NLM_F_REQUEST | NLM_F_DUMP)
first, _, _, _ = g.recv(stop_after_one=True)
ok(ifname() + nest(DEV_PEERS, peer(200)), 'change during the dump')   # another request on the same socket
rest, err, _, _ = g.recv()
check(err == 0, f'interrupted dump: errno {err}')
check(not any(fl & NLM_F_DUMP_INTR for (_, fl, _) in first), 'first message flagged')
check(any(fl & NLM_F_DUMP_INTR for (_, fl, _) in rest), f'no NLM_F_DUMP_INTR after a change ({len(first)}+{len(rest)} messages)')
msgs, err, _, _ = g.get(ifname())
check(err == 0 and len(msgs) > 1 and not any(fl & NLM_F_DUMP_INTR for (_, fl, _) in msgs),
      f'a quiet dump is not flagged ({len(msgs)} messages)')
print(f'# a dump of {len(msgs)} messages; NLM_F_DUMP_INTR after a change')
sys.exit(1 if failures else 0)
EOF

ip link add dummy9 type dummy || fail "ip link add dummy9"
$PY "$tmp/nl.py" wireguard || fail "see above"

# What the tools print for a device that does not exist and for one of another kind: wg shows the errno's text (the
# C driver's codes, ENODEV and EOPNOTSUPP), wgctl the same plus rust_wg's extended ack; the C driver as control.
# tool_err WHAT EXPECTED CMD...: CMD fails and its first stderr line is EXPECTED.
tool_err() {
	local what=$1 want=$2
	shift 2
	! "$@" >/dev/null 2>"$tmp/err" || fail "$what: succeeded"
	assert_eq "$(head -n1 "$tmp/err")" "$want" "$what"
}
nodev="No such device" notwg="Operation not supported"
for impl in rust_wg c; do
	tool_err "$impl: wg show nonexistent0" "Unable to access interface: $nodev" wg show nonexistent0
	tool_err "$impl: wg show dummy9" "Unable to access interface: $notwg" wg show dummy9
	tool_err "$impl: wg set dummy9" "Unable to modify interface: $notwg" wg set dummy9 listen-port 1
	if [ $impl = rust_wg ]; then
		x1=": WGDEVICE_A_IFINDEX/WGDEVICE_A_IFNAME: no such device in this namespace"
		x2=": WGDEVICE_A_IFINDEX/WGDEVICE_A_IFNAME: the device is not a WireGuard device"
	else
		x1="" x2=""
	fi
	tool_err "$impl: wgctl show nonexistent0" "wgctl: Unable to access interface nonexistent0: $nodev$x1" \
		"$WGCTL" show nonexistent0
	tool_err "$impl: wgctl show dummy9" "wgctl: Unable to access interface dummy9: $notwg$x2" "$WGCTL" show dummy9
	tool_err "$impl: wgctl set dummy9" "wgctl: Unable to modify interface dummy9: $notwg$x2" \
		"$WGCTL" set dummy9 listen-port 1
	[ $impl = c ] && break
	unload_rust_wg
	load_c_wireguard || fail "modprobe wireguard"
done
unload_c_wireguard
load_rust_wg || fail "insmod rust_wg"
ip link add wg0 type wireguard || fail "ip link add wg0"

# Unprivileged callers: GENL_UNS_ADMIN_PERM.
! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all wg show wg0 2>"$tmp/err" || fail "unprivileged GET succeeded"
grep -q "Operation not permitted" "$tmp/err" || fail "unprivileged GET: $(cat "$tmp/err")"
! setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all wg set wg0 listen-port 1 2>"$tmp/err" || fail "unprivileged SET succeeded"
grep -q "Operation not permitted" "$tmp/err" || fail "unprivileged SET: $(cat "$tmp/err")"
log "malformed requests refused with extended acks; flags, split SETs, DUMP_INTR and permissions as the uapi says"
