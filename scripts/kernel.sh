#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Patched Linux 6.12 for rust_wg, built and cached outside the repository.
#
#   scripts/kernel.sh [prepare|apply|config|build|export|path|check-series] [VARIANT]
#
# Layout under $RUST_WG_CACHE (default /var/cache/rust_wg):
#   src/linux-<debian version>/   pristine Debian source as a git repo, tag rust_wg-base, patches/ applied on top
#   src/linux-<version>-<variant>/ a git worktree of it for VARIANT=debug|perf, so that variants build (and apply
#                                 a series) independently of each other
#   build/<variant>-<hash>/       O= build directory; <hash> covers source version + config fragments
# The patch series is applied incrementally with git, so a changed series only rebuilds what it touches.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/env.sh"

VARIANT=${VARIANT:-${2:-normal}}
JOBS=${JOBS:-$(($(nproc) + 1))}
TARBALL=/usr/src/linux-source-6.12.tar.xz
SRC_VERSION=$(dpkg-query -W -f='${Version}' linux-source-6.12)
BASE_SRC=$RUST_WG_CACHE/src/linux-$SRC_VERSION
# Each variant has its own source checkout (a worktree of the base repository) and its own lock, so a long debug
# build never blocks, or sees a half-applied series from, work on the normal kernel.
# The perf variant differs from normal only in a few config options, so it builds from the normal checkout (as it is:
# it never applies a series itself; build normal first) into its own O= directory, seeded from normal's objects so
# only what the config change touches is rebuilt.
if [ "$VARIANT" = normal ] || [ "$VARIANT" = perf ]; then SRC=$BASE_SRC; else SRC=$BASE_SRC-$VARIANT; fi
PATCHES=$top/patches
# KASAN with Rust needs the C side built by clang too (init/Kconfig: RUST depends on !KASAN || CC_IS_CLANG), so the
# debug variant is an LLVM=1 build; the others use gcc, as Debian does.
KLLVM=
[ "$VARIANT" = debug ] && KLLVM=1

export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-rust_wg} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-rust_wg@localhost}
export GIT_COMMITTER_NAME=rust_wg GIT_COMMITTER_EMAIL=rust_wg@localhost
git_src() { git -C "$SRC" -c core.quotepath=off -c advice.detachedHead=false "$@"; }

fragments() {
	# Order matters: later fragments win.
	echo "$SRC/tools/testing/selftests/wireguard/qemu/kernel.config"
	echo "$top/scripts/config/base.config"
	[ "$VARIANT" = debug ] && echo "$top/scripts/config/debug.config"
	[ "$VARIANT" = perf ] && echo "$top/scripts/config/perf.config"
	return 0
}

# One build directory per variant and source version; a change of config fragments regenerates .config in place
# (so only what the change touches is rebuilt), keyed by the fragments' hash recorded next to it.
build_dir() {
	# Resolved, because kbuild records the absolute object tree in some commands: a different spelling of the
	# same directory would rebuild everything.
	local d=$RUST_WG_CACHE/build/$VARIANT-$SRC_VERSION
	if [ -L "$d" ]; then readlink -f "$d"; else echo "$d"; fi
}

config_hash() {
	{ echo "$SRC_VERSION $VNG_VERSION $VARIANT"; for f in $(fragments); do cat "$f"; done; } | sha256sum | cut -c1-16
}

prepare_base() {
	[ -d "$BASE_SRC/.git" ] && git -C "$BASE_SRC" rev-parse -q --verify rust_wg-base >/dev/null && return 0
	echo "kernel: unpacking $TARBALL ($SRC_VERSION)"
	local t=$BASE_SRC.tmp
	rm -rf "$t" && mkdir -p "$t"
	tar -xf "$TARBALL" -C "$t" --strip-components=1
	# Debian's top-level .gitignore ignores the whole tree ("/*", for its packaging repo); drop that so git tracks
	# the sources and patches that add files show up in `git status`.
	sed -i -e '/^\/\*$/d' -e '/^!\/debian\/$/d' "$t/.gitignore"
	git -C "$t" init -q
	git -C "$t" add -A
	git -C "$t" commit -q -m "Debian linux-source-6.12 $SRC_VERSION"
	git -C "$t" tag rust_wg-base
	mv "$t" "$BASE_SRC"
}

prepare() {
	# The base repository is shared by all variants: create it under the cache-wide lock.
	(
		exec 8>"$RUST_WG_CACHE/kernel.lock"
		flock -w "${KERNEL_LOCK_WAIT:-3600}" 8 || { echo "kernel: timed out waiting for kernel.lock" >&2; exit 1; }
		prepare_base
		if [ "$SRC" != "$BASE_SRC" ] && [ ! -e "$SRC/.git" ]; then
			echo "kernel: source worktree $SRC"
			git -C "$BASE_SRC" worktree prune
			git -C "$BASE_SRC" -c advice.detachedHead=false worktree add -q --detach "$SRC" rust_wg-base
		fi
	)
}

# Write the series that is applied in the tree now, in the same format as patches/, to $1.
series_of_tree() {
	rm -rf "$1" && mkdir -p "$1"
	git_src format-patch -q --no-signature --zero-commit --no-numbered -o "$1" rust_wg-base..HEAD
}

series_differs() {
	local tmp
	tmp=$(mktemp -d)
	series_of_tree "$tmp"
	# Compare without the hunk headers' function context: it depends on the checkout's git diff-driver setup.
	mkdir -p "$tmp/a" "$tmp/b"
	local f rc=0
	for f in "$tmp"/*.patch; do [ -e "$f" ] && sed 's/^\(@@ [^@]* @@\).*/\1/' "$f" >"$tmp/a/${f##*/}"; done
	for f in "$PATCHES"/*.patch; do [ -e "$f" ] && sed 's/^\(@@ [^@]* @@\).*/\1/' "$f" >"$tmp/b/${f##*/}"; done
	diff -qr "$tmp/a" "$tmp/b" >/dev/null 2>&1 || rc=1
	rm -rf "$tmp"
	return $((1 - rc))
}

apply() {
	prepare
	mkdir -p "$PATCHES"
	series_differs || return 0
	if [ -n "$(git_src status --porcelain --untracked-files=no)" ]; then
		echo "kernel: $SRC has uncommitted changes; commit them (and run '$0 export') or reset them" >&2
		exit 1
	fi
	echo "kernel: applying patches/ onto rust_wg-base"
	git_src reset -q --hard rust_wg-base
	local p
	for p in "$PATCHES"/*.patch; do
		[ -e "$p" ] || continue
		git_src am -q --keep-cr "$p" || { git_src am --abort; echo "kernel: $p does not apply" >&2; exit 1; }
	done
}

# For developers of the series: commits in $SRC become patches/*.patch.
export_series() {
	mkdir -p "$PATCHES"
	rm -f "$PATCHES"/*.patch
	series_of_tree "$PATCHES"
	ls "$PATCHES"
}

config() {
	local b
	b=$(build_dir)
	local h
	h=$(config_hash)
	[ -f "$b/.config" ] && [ "$(cat "$b/.rust_wg_config" 2>/dev/null)" = "$h" ] && return 0
	if [ "$VARIANT" = perf ] && [ ! -f "$b/.config" ]; then
		local nb
		nb=$(VARIANT=normal "$0" path)
		if [ -f "$nb/vmlinux" ]; then
			echo "kernel: seeding $b from $nb"
			rm -rf "$b.tmp" && mkdir -p "$b.tmp"
			(cd "$nb" && tar --exclude=./modroot --exclude=./modroot.tmp -cf - .) | tar -xf - -C "$b.tmp"
			rm -f "$b.tmp/.rust_wg_config" && rm -rf "$b" && mv "$b.tmp" "$b"
		fi
	fi
	mkdir -p "$b"
	echo "kernel: configuring $b"
	# virtme-ng's minimal config for this arch, then our fragments on top.
	(cd "$SRC" && virtme-configkernel --arch x86_64 --defconfig O="$b" >/dev/null 2>&1) ||
		(cd "$SRC" && vng --kconfig --build-dir "$b" >/dev/null)
	for f in $(fragments); do
		"$SRC/scripts/kconfig/merge_config.sh" -m -O "$b" "$b/.config" "$f" >/dev/null
	done
	make -s -C "$SRC" O="$b" LLVM="$KLLVM" RUSTC="$KRUSTC" BINDGEN="$BINDGEN" olddefconfig
	# Fail early when a fragment asked for something Kconfig dropped.
	local missing=0 line
	# The effective request per symbol is the last fragment's (perf.config overrides base.config).
	while read -r line; do
		case "$line" in
		CONFIG_*=n) grep -q "^${line%=n}=[ym]" "$b/.config" && { echo "kernel: still set: $line" >&2; missing=1; } ;;
		CONFIG_*=*) grep -qx "$line" "$b/.config" || { echo "kernel: not set: $line" >&2; missing=1; } ;;
		esac
	done < <(cat $(fragments | tail -n +2) | grep '^CONFIG_' | awk -F= '{v[$1]=$0; if (!($1 in o)) o[$1]=n++} END {for (k in v) print v[k]}')
	((missing == 0)) || exit 1
	echo "$h" >"$b/.rust_wg_config"
}

build() {
	if [ "$VARIANT" = perf ]; then prepare; else apply; fi
	config
	local b
	b=$(build_dir)
	echo "kernel: building $b (-j$JOBS)"
	make -s -C "$SRC" O="$b" LLVM="$KLLVM" RUSTC="$KRUSTC" RUSTDOC="$KRUSTDOC" BINDGEN="$BINDGEN" -j"$JOBS" bzImage modules
	rm -rf "$b/modroot.tmp"
	make -s -C "$SRC" O="$b" LLVM="$KLLVM" RUSTC="$KRUSTC" BINDGEN="$BINDGEN" INSTALL_MOD_PATH="$b/modroot.tmp" \
		INSTALL_MOD_STRIP=1 modules_install >/dev/null
	rm -rf "$b/modroot" && mv "$b/modroot.tmp" "$b/modroot"
	ln -sfn "$(basename "$b")" "$RUST_WG_CACHE/build/$VARIANT"
	echo "kernel: ready $b"
}

# One kernel operation at a time per variant: two builds in the same O= directory (or two `git am` runs in the same
# source checkout) corrupt each other. Variants have separate checkouts and build directories.
lock() {
	mkdir -p "$RUST_WG_CACHE"
	exec 9>"$RUST_WG_CACHE/kernel-$VARIANT.lock"
	flock -w "${KERNEL_LOCK_WAIT:-3600}" 9 || { echo "kernel: timed out waiting for kernel-$VARIANT.lock" >&2; exit 1; }
	# perf builds from the normal checkout: no series may be applied there meanwhile.
	if [ "$VARIANT" = perf ]; then
		exec 7>"$RUST_WG_CACHE/kernel-normal.lock"
		flock -w "${KERNEL_LOCK_WAIT:-3600}" 7 || { echo "kernel: timed out waiting for kernel-normal.lock" >&2; exit 1; }
	fi
}

case "${1:-build}" in
prepare) lock && prepare ;;
apply) lock && apply ;;
config) lock && apply && config ;;
build) lock && build ;;
export) export_series ;;
path) build_dir ;;
src) echo "$SRC" ;;
*) echo "usage: $0 [prepare|apply|config|build|export|path|src] [normal|debug|perf]" >&2; exit 2 ;;
esac
