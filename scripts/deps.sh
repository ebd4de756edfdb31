#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything rust_wg needs on a Debian 12 (bookworm) machine, through apt, cargo and pip only.
# Idempotent: when everything is present it does nothing but check, in about a second.
#
#   scripts/deps.sh [--bench]
#
# --bench: also what `make bench` needs (bench/run.sh calls it so): the small-flow prober irtt, OpenVPN and openssl
# for the comparison set, matplotlib for the plots.
set -euo pipefail

bench=0
for a in "$@"; do
	case "$a" in
	--bench) bench=1 ;;
	*) echo "deps: unknown argument $a (--bench)" >&2; exit 2 ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

APT_PKGS=(
	linux-source-6.12 rustc-web rust-web-src
	libclang-dev clang lld llvm
	qemu-system-x86 busybox-static
	flex bison bc libelf-dev libssl-dev dwarves kmod cpio xz-utils rsync
	iproute2 iptables ethtool ncat iperf3 iputils-ping wireguard-tools wireguard-go
	python3-venv
	# virtme-ng's init finds its script I/O virtio ports through udev's /dev/virtio-ports links; without udevd
	# the guest falls back to the console and the exit status is lost.
	udev
)
((bench)) && APT_PKGS+=(irtt openvpn openssl python3-matplotlib)

need_apt=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
	echo "deps: apt-get install ${need_apt[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# linux-source-6.12 and rustc-web live in bookworm-backports / bookworm-updates on some mirrors.
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! { [ -x "$BINDGEN" ] && "$BINDGEN" --version 2>/dev/null | grep -q "^bindgen $BINDGEN_VERSION"; }; then
	echo "deps: cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install --locked --root "$RUST_WG_TOOLS" bindgen-cli --version "=$BINDGEN_VERSION" >/dev/null
fi

if ! [ -x "$VNG_VENV/bin/vng" ]; then
	echo "deps: pip install virtme-ng $VNG_VERSION"
	python3 -m venv "$VNG_VENV"
	"$VNG_VENV/bin/pip" install -q "virtme-ng==$VNG_VERSION"
fi
echo "deps: ok"
