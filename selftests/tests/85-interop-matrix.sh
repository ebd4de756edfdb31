#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The interoperability matrix: rust_wg against rust_wg, the C wireguard.ko and wireguard-go, all loaded at once, each
# pair in namespaces of its own joined by a veth. rust_wg is the side-by-side rustwg_alt.ko (link kind and genl
# family "rustwg") configured with wgctl; the C driver and wireguard-go (its UAPI socket) with wg.
# For each pair:
# - handshakes initiated from each side, over outer IPv4 and IPv6, with and without a preshared key (every pair of
#   these values in four runs, a fresh pair of devices each), then pings both ways over inner IPv4 and IPv6, and
#   both sides list the handshake;
# - a preshared key on one side only: no session;
# - rekey: tunnels initiated from either side carry a ping every second until the initiator's session is
#   REKEY_AFTER_TIME (120 s) old; a newer handshake on both sides, the flow kept on (the protocol's own timers);
# - roaming: each side in turn moves to another outer address and the other side's endpoint follows it;
# - cookie reply under load: the responder is flooded with initiations that carry a valid mac1 (wgfuzz, from the
#   responder's own address); the real initiator gets cookie replies (counted on the wire) and still completes its
#   handshake during the flood, with the cookie's mac2. Asserted on the normal kernel only: on the debug kernel the
#   flood is too slow to load anyone (test 70).
# timeout: 1500
. "$RUST_WG_TOP/selftests/lib.sh"
. "$RUST_WG_TOP/selftests/hardening.sh"

ALT_KO="$(dirname "$RUST_WG_KO")/rustwg_alt.ko"
[ -f "$ALT_KO" ] || fail "rustwg_alt.ko not built at $ALT_KO"
[ -x "${WGCTL:-}" ] || fail "wgctl not built at ${WGCTL:-<unset>}"
command -v wg >/dev/null || fail "wg (wireguard-tools) not installed"
command -v wireguard-go >/dev/null || fail "wireguard-go not installed (scripts/deps.sh)"
[ -c /dev/net/tun ] || fail "no /dev/net/tun for wireguard-go"
need_wgfuzz

NSS=()
PIDS=()
GO_PIDS=()
cleanup() {
	local p ns
	for p in "${PIDS[@]}" "${GO_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	pkill -x wireguard-go 2>/dev/null || true
	rmmod rustwg_alt 2>/dev/null || true
	unload_c_wireguard 2>/dev/null || true
	rm -rf "$tmp"
	return 0
}
tmp=$(mktemp -d)
trap cleanup EXIT
load_c_wireguard || fail "modprobe wireguard (C)"
insmod "$ALT_KO" || fail "insmod rustwg_alt.ko"

# Pair N: namespaces mxN-a (side a, outer 192.168.(100+N).1 and fd00:(100+N)::1) and mxN-b (.2), joined by a veth.
# Side a is always rust_wg.
ns_a() { echo "mx$1-a"; }
ns_b() { echo "mx$1-b"; }
outer() { # outer N SIDE FAMILY
	case $3 in 4) echo "192.168.$((100 + $1)).$2" ;; 6) echo "fd00:$((100 + $1))::$2" ;; esac
}
# port NET SIDE: the listen port of a device of inner net NET on SIDE (1: a, 2: b).
port() { echo $((50000 + $1 * 10 + $2)); }
endpoint() { # endpoint N SIDE FAMILY NET
	case $3 in
	4) echo "$(outer "$1" "$2" 4):$(port "$4" "$2")" ;;
	6) echo "[$(outer "$1" "$2" 6)]:$(port "$4" "$2")" ;;
	esac
}
mk_pair() {
	local n=$1 a b
	a=$(ns_a "$n"); b=$(ns_b "$n")
	ip netns del "$a" 2>/dev/null || true
	ip netns del "$b" 2>/dev/null || true
	ip netns add "$a"; ip netns add "$b"; NSS+=("$a" "$b")
	ip -n "$a" link set lo up; ip -n "$b" link set lo up
	ip link add mxv netns "$a" type veth peer name mxv netns "$b"
	ip -n "$a" addr add "$(outer "$n" 1 4)/24" dev mxv
	ip -n "$b" addr add "$(outer "$n" 2 4)/24" dev mxv
	ip -n "$a" addr add "$(outer "$n" 1 6)/64" dev mxv nodad
	ip -n "$b" addr add "$(outer "$n" 2 6)/64" dev mxv nodad
	ip -n "$a" link set mxv up; ip -n "$b" link set mxv up
	# Roaming below replaces a side's address: the new (secondary) one must stay when the old primary goes.
	ip netns exec "$a" sysctl -qw net.ipv4.conf.mxv.promote_secondaries=1
	ip netns exec "$b" sysctl -qw net.ipv4.conf.mxv.promote_secondaries=1
}

# Implementations: rust (rustwg_alt + wgctl), c (wireguard.ko + wg), go (wireguard-go + wg).
dev_add() { # dev_add IMPL NS NAME
	case $1 in
	rust) ip -n "$2" link add "$3" type rustwg ;;
	c) ip -n "$2" link add "$3" type wireguard ;;
	go)
		# In the foreground of a background job (daemonised, its start hung inside the VM); it exits when its
		# device is deleted.
		ip netns exec "$2" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f "$3" \
			</dev/null >>"$RESULTS/85-wireguard-go.log" 2>&1 &
		GO_PIDS+=($!)
		wait_for 10 test -S "/var/run/wireguard/$3.sock"
		;;
	esac || fail "create $1 device $3 in $2"
}
tool() { # tool IMPL NS ARGS...: the configuration tool of IMPL
	local impl=$1 ns=$2
	shift 2
	case $impl in
	rust) ip netns exec "$ns" "$WGCTL" --family rustwg "$@" ;;
	*) ip netns exec "$ns" wg "$@" ;;
	esac
}
# latest IMPL NS DEV: the latest handshake of the device's only peer (seconds since the epoch, 0: none).
latest() { tool "$1" "$2" show "$3" latest-handshakes | awk '{ print $2 }'; }
endpoint_of() { tool "$1" "$2" show "$3" endpoints | awk '{ print $2 }'; }

# tunnel N IMPL_B FAMILY PSK DEV NET: devices DEV on both sides of pair N (a: rust_wg, b: IMPL_B), peers of each
# other with endpoints of outer FAMILY, preshared key files PSK ("a:b", "-" for none), inner addresses 10.NET.N.1
# and fdNET:N::1 (side a; .2 and ::2 side b), up; no packet sent yet.
tunnel() {
	local n=$1 impl=$2 fam=$3 psk=$4 dev=$5 net=$6 a b pa pb ka kb
	a=$(ns_a "$n"); b=$(ns_b "$n")
	ka=$tmp/$n-$dev-a.key; kb=$tmp/$n-$dev-b.key
	(umask 077 && wg genkey >"$ka" && wg genkey >"$kb")
	pa=$(wg pubkey <"$ka"); pb=$(wg pubkey <"$kb")
	local psa=() psb=()
	if [ "$psk" != - ]; then
		psa=(preshared-key "${psk%:*}"); psb=(preshared-key "${psk#*:}")
	fi
	dev_add rust "$a" "$dev"
	dev_add "$impl" "$b" "$dev"
	tool rust "$a" set "$dev" private-key "$ka" listen-port "$(port "$net" 1)" peer "$pb" "${psa[@]}" \
		endpoint "$(endpoint "$n" 2 "$fam" "$net")" allowed-ips "10.$net.$n.2/32,fd$net:$n::2/128" ||
		fail "configure rust_wg ($n $dev)"
	tool "$impl" "$b" set "$dev" private-key "$kb" listen-port "$(port "$net" 2)" peer "$pa" "${psb[@]}" \
		endpoint "$(endpoint "$n" 1 "$fam" "$net")" allowed-ips "10.$net.$n.1/32,fd$net:$n::1/128" ||
		fail "configure $impl ($n $dev)"
	ip -n "$a" addr add "10.$net.$n.1/24" dev "$dev"
	ip -n "$b" addr add "10.$net.$n.2/24" dev "$dev"
	ip -n "$a" addr add "fd$net:$n::1/64" dev "$dev" nodad
	ip -n "$b" addr add "fd$net:$n::2/64" dev "$dev" nodad
	ip -n "$a" link set "$dev" up
	ip -n "$b" link set "$dev" up
}
untunnel() { ip -n "$(ns_a "$1")" link del "$2"; ip -n "$(ns_b "$1")" link del "$2"; }

# Pairs: 1 rust_wg <-> rust_wg, 2 rust_wg <-> C, 3 rust_wg <-> wireguard-go. Device names end in the pair's
# number: wg(8) looks for a UAPI socket of that name (/var/run/wireguard, shared by all namespaces) before the kernel.
IMPL=([1]=rust [2]=c [3]=go)
for n in 1 2 3; do mk_pair "$n"; done
(umask 077 && wg genpsk >"$tmp/psk1" && wg genpsk >"$tmp/psk2")

# Rekey (and roaming) tunnels, started first: their 120 s run while the handshake matrix is tested. Pair N's
# device ra (inner net 89) is initiated from side a (rust_wg), rb (net 90) from side b; each carries a ping a second
# from its initiator.
declare -A T0
rnet() { [ "$1" = a ] && echo 89 || echo 90; }
start=$(date +%s)
for n in 1 2 3; do
	a=$(ns_a "$n"); b=$(ns_b "$n")
	for who in a b; do
		net=$(rnet $who)
		tunnel "$n" "${IMPL[$n]}" 4 "$tmp/psk1:$tmp/psk1" "r$who$n" "$net"
		if [ $who = a ]; then src=$a dst=10.$net.$n.2; else src=$b dst=10.$net.$n.1; fi
		wait_ping "$src" "$dst" || fail "pair $n (${IMPL[$n]}), r$who: no handshake from side $who"
		T0[$n$who-a]=$(latest rust "$a" "r$who$n")
		T0[$n$who-b]=$(latest "${IMPL[$n]}" "$b" "r$who$n")
		[ "${T0[$n$who-a]}" != 0 ] && [ "${T0[$n$who-b]}" != 0 ] || fail "pair $n r$who: no handshake listed"
		ip netns exec "$src" ping -i 1 -W 2 "$dst" >"$RESULTS/85-rekey-$n$who.txt" 2>&1 &
		PIDS+=($!)
	done
done
log "rekey tunnels up: rust_wg, C and wireguard-go, initiated from either side ($(($(date +%s) - start)) s)"

# The handshake matrix, on devices wgm (inner net 88) in the same namespaces.
for n in 1 2 3; do
	a=$(ns_a "$n"); b=$(ns_b "$n"); impl=${IMPL[$n]}
	# All pairs of (initiator, outer family, preshared key) values in four runs: a v4 off, a v6 on, b v4 on, b v6 off.
	for combo in "a 4 -" "a 6 on" "b 4 on" "b 6 -"; do
		read -r init fam psk <<<"$combo"
		[ "$psk" = - ] || psk=$tmp/psk2:$tmp/psk2
		what="pair $n rust_wg <-> $impl, outer v$fam, psk $([ "$psk" = - ] && echo off || echo on), from $init"
		tunnel "$n" "$impl" "$fam" "$psk" "wgm$n" 88
		if [ $init = a ]; then
			wait_ping "$a" 10.88.$n.2 || fail "$what: no handshake"
		else
			wait_ping "$b" 10.88.$n.1 || fail "$what: no handshake"
		fi
		ip netns exec "$a" ping -c 2 -i 0.3 -W 2 10.88.$n.2 >/dev/null || fail "$what: ping v4 a -> b"
		ip netns exec "$b" ping -c 2 -i 0.3 -W 2 10.88.$n.1 >/dev/null || fail "$what: ping v4 b -> a"
		ip netns exec "$a" ping -c 2 -i 0.3 -W 2 fd88:$n::2 >/dev/null || fail "$what: ping v6 a -> b"
		ip netns exec "$b" ping -c 2 -i 0.3 -W 2 fd88:$n::1 >/dev/null || fail "$what: ping v6 b -> a"
		[ "$(latest rust "$a" "wgm$n")" != 0 ] || fail "$what: rust_wg lists no handshake"
		[ "$(latest "$impl" "$b" "wgm$n")" != 0 ] || fail "$what: $impl lists no handshake"
		[ "$(endpoint_of "$impl" "$b" "wgm$n")" = "$(endpoint "$n" 1 "$fam" 88)" ] || fail "$what: $impl endpoint"
		untunnel "$n" "wgm$n"
	done
	log "pair $n: handshakes rust_wg <-> $impl from both sides, outer v4 and v6, preshared key off and on" \
		"(+$(($(date +%s) - start)) s)"
	# A preshared key on one side only: the handshake cannot complete, from either side. (wait_ping with 4 tries.)
	for init in a b; do
		if [ $init = a ]; then psk="$tmp/psk1:$tmp/psk2"; else psk="$tmp/psk2:$tmp/psk1"; fi
		tunnel "$n" "$impl" 4 "$psk" "wgm$n" 88
		src=$([ $init = a ] && echo "$a" || echo "$b")
		dst=$([ $init = a ] && echo 10.88.$n.2 || echo 10.88.$n.1)
		! wait_ping "$src" "$dst" 4 || fail "pair $n: handshake with different preshared keys (from $init)"
		[ "$(latest rust "$a" "wgm$n")" = 0 ] && [ "$(latest "$impl" "$b" "wgm$n")" = 0 ] ||
			fail "pair $n: a handshake is listed with different preshared keys"
		untunnel "$n" "wgm$n"
	done
	log "pair $n: different preshared keys give no session"
done

# Rekey: wait until the last of the first sessions is REKEY_AFTER_TIME (120 s) old, plus time for the new handshake.
last=0
for t in "${T0[@]}"; do ((t > last)) && last=$t; done
while (($(date +%s) < last + 135)); do sleep 2; done
for n in 1 2 3; do
	a=$(ns_a "$n"); b=$(ns_b "$n"); impl=${IMPL[$n]}
	for who in a b; do
		ta=$(latest rust "$a" "r$who$n"); tb=$(latest "$impl" "$b" "r$who$n")
		log "pair $n r$who (initiated by $([ $who = a ] && echo rust_wg || echo "$impl")): handshakes at" \
			"+$((${T0[$n$who-a]} - start)) s, then +$((ta - start)) s (rust_wg) / +$((tb - start)) s ($impl)"
		((ta > ${T0[$n$who-a]} && tb > ${T0[$n$who-b]})) || fail "pair $n r$who: no rekey after 120 s"
	done
done
for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
PIDS=()
for n in 1 2 3; do
	for who in a b; do
		f=$RESULTS/85-rekey-$n$who.txt
		read -r tx rx <<<"$(ping_counts "$f")"
		[ -n "$tx" ] && ((tx > 100)) || fail "pair $n r$who: ping statistics: $(tail -n 2 "$f")"
		log "pair $n r$who: $rx of $tx pings through the rekey"
		# The handshake matrix loads the CPUs meanwhile; a key change itself loses nothing.
		((rx * 100 >= tx * 95)) || fail "pair $n r$who: $rx of $tx pings"
	done
done
log "rekey: new handshakes on all six tunnels, the flows kept on"

# Roaming on the ra tunnels: side a moves to outer .5 (side b's endpoint for it follows), then side b to .6; then
# both back to their first addresses.
endpoint_is() { [ "$(endpoint_of "$1" "$2" "$3")" = "$4" ]; }
for n in 1 2 3; do
	a=$(ns_a "$n"); b=$(ns_b "$n"); impl=${IMPL[$n]}
	ip -n "$a" addr add 192.168.$((100 + n)).5/24 dev mxv
	ip -n "$a" addr del 192.168.$((100 + n)).1/24 dev mxv
	wait_ping "$a" 10.89.$n.2 || fail "pair $n ($impl): no ping after side a (rust_wg) moved"
	wait_for 10 endpoint_is "$impl" "$b" "ra$n" "192.168.$((100 + n)).5:$(port 89 1)" ||
		fail "pair $n: $impl did not follow rust_wg to .5 (endpoint $(endpoint_of "$impl" "$b" "ra$n"))"
	ip netns exec "$b" ping -c 2 -W 2 10.89.$n.1 >/dev/null || fail "pair $n: $impl -> rust_wg after the move"
	ip -n "$b" addr add 192.168.$((100 + n)).6/24 dev mxv
	ip -n "$b" addr del 192.168.$((100 + n)).2/24 dev mxv
	wait_ping "$b" 10.89.$n.1 || fail "pair $n ($impl): no ping after side b moved"
	wait_for 10 endpoint_is rust "$a" "ra$n" "192.168.$((100 + n)).6:$(port 89 2)" ||
		fail "pair $n: rust_wg did not follow $impl to .6 (endpoint $(endpoint_of rust "$a" "ra$n"))"
	ip netns exec "$a" ping -c 2 -W 2 10.89.$n.2 >/dev/null || fail "pair $n: rust_wg -> $impl after the move"
	log "pair $n: roaming both ways, rust_wg <-> $impl"
	untunnel "$n" "ra$n"; untunnel "$n" "rb$n"
	for side in 1 2; do
		ns=$([ $side = 1 ] && echo "$a" || echo "$b")
		ip -n "$ns" addr flush dev mxv scope global
		ip -n "$ns" addr add "$(outer "$n" $side 4)/24" dev mxv
		ip -n "$ns" addr add "$(outer "$n" $side 6)/64" dev mxv nodad
	done
done


# Cookie reply under load, with each implementation as the flooded responder (pair 1: rust_wg; pairs 2 and 3: both
# directions). The flood comes from the responder's own address, so the real initiator's address keeps its
# handshake rate (the ratelimiter is per source address).
cookie() { # cookie N RESPONDER_SIDE
	local n=$1 r=$2 a b rns ins rimpl rip dst port pub flood cookies ok=0
	a=$(ns_a "$n"); b=$(ns_b "$n")
	tunnel "$n" "${IMPL[$n]}" 4 - "wgc$n" 91
	if [ "$r" = a ]; then
		rns=$a; ins=$b; rimpl=rust; dst=10.91.$n.1; port=$(port 91 1); rip=$(outer "$n" 1 4)
	else
		rns=$b; ins=$a; rimpl=${IMPL[$n]}; dst=10.91.$n.2; port=$(port 91 2); rip=$(outer "$n" 2 4)
	fi
	pub=$(tool "$rimpl" "$rns" show "wgc$n" public-key)
	ip netns exec "$ins" iptables -A INPUT -p udp --sport $port -m length --length 92 -j ACCEPT || fail "iptables"
	# The kernel implementations are under load from 512 queued initiations (of 4096) on, or for a second after; a
	# flood as fast as wgfuzz can send gets there. wireguard-go is from 128 queued (of 1024) on, or for a second after,
	# and drops what arrives while its queue is full: a flood faster than it answers fills the queue for good, and
	# the real initiator's retries (every 5 s) are dropped at random before any check (it completed once in two such
	# runs). So it gets bursts of 200 twice a second: under load all the time, with room for the initiator.
	local pace=()
	[ "$rimpl" = go ] && pace=(--batch 200 --pps 400)
	ip netns exec "$rns" "$WGFUZZ" packets --target "$rip:$port" --pubkey "$pub" --flood-pct 100 "${pace[@]}" \
		--count 100000000 --seconds "$(slow 60)" >"$RESULTS/85-flood-$n$r.txt" 2>&1 &
	flood=$!
	PIDS+=($flood)
	# Start the real initiator once the responder is under load, i.e. answers the flood with cookie replies (an
	# unloaded host: the C driver took the first initiation before its queue filled, and sent none to it).
	ip netns exec "$rns" iptables -A OUTPUT -p udp --sport $port -m length --length 92 -j ACCEPT || fail "iptables"
	under_load() { (($(len_packets "$rns" OUTPUT 92) > 0)); }
	if ((RWG_TIME_FACTOR == 1)); then
		wait_for 30 under_load || fail "pair $n: $rimpl sent no cookie reply to the flood"
	else
		sleep 3
	fi
	wait_ping "$ins" "$dst" 40 && ok=1
	kill -0 $flood 2>/dev/null || ok=2
	kill $flood 2>/dev/null || true # wgfuzz stops at SIGTERM and prints its summary
	wait $flood 2>/dev/null || true
	cookies=$(len_packets "$ins" INPUT 92)
	ip netns exec "$ins" iptables -F INPUT
	ip netns exec "$rns" iptables -F OUTPUT
	log "pair $n, $rimpl flooded ($(tail -n 1 "$RESULTS/85-flood-$n$r.txt" | cut -d' ' -f1-3)); the initiator got" \
		"${cookies:-0} cookie replies; handshake $([ $ok = 1 ] && echo completed || echo failed)"
	((ok != 0)) || fail "pair $n: no handshake with $rimpl under a flood"
	((ok != 2)) || fail "pair $n: the flood ended before the handshake (inconclusive)"
	if ((RWG_TIME_FACTOR == 1)); then
		((${cookies:-0} > 0)) || fail "pair $n: $rimpl under a flood sent the initiator no cookie reply"
	fi
	untunnel "$n" "wgc$n"
}
cookie 1 b
for n in 2 3; do
	cookie "$n" a
	cookie "$n" b
done
((RWG_TIME_FACTOR == 1)) || log "cookie replies not asserted at time factor $RWG_TIME_FACTOR (the flood loads no one)"
log "cookie replies under load: rust_wg <-> rust_wg, C, wireguard-go, each side flooded"
