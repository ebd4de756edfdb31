#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that every patch of patches/ builds on its own, in order, and passes the style checks.
#
#   scripts/check-patches.sh [-j JOBS] [--from N] [--keep]
#
# --from N applies and style-checks patches before the Nth without building them (for a rerun after only patch N
# and later ones changed); patch N is then built with all earlier ones, as in a full run.
#
# A scratch git worktree of the kernel source starts at rust_wg-base with the files (and mtimes) of the current tree,
# and a scratch build directory is a copy of the normal build. Inside a private mount namespace both are bind-mounted
# over the real paths, so that Kbuild sees the same command lines and only rebuilds what each patch touches; other
# users of the real tree and build see nothing. The patches are applied one at a time; after each:
#   - git diff --check (whitespace),
#   - scripts/checkpatch.pl --no-tree --strict on the patch file (errors fail; warnings and checks are counted),
#   - an incremental `make vmlinux modules` (Rust included), which must succeed.
# Prints a per-patch table and exits 1 if any patch fails to apply, build, or has checkpatch errors.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/env.sh"

jobs=3
from=1
keep=0
while (($#)); do
	case "$1" in
	-j) jobs=$2; shift 2 ;;
	--from) from=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [-j JOBS] [--from N] [--keep]" >&2; exit 2 ;;
	esac
done

src=$("$here/kernel.sh" src)
base_build=$(readlink -f "$RUST_WG_CACHE/build/normal")
[ -f "$base_build/.config" ] || { echo "check-patches: no normal build at $base_build; run scripts/kernel.sh build" >&2; exit 1; }
work=$RUST_WG_CACHE/check-patches
wt=$work/src
ob=$work/build
logs=$work/logs

if [ "${CHECK_PATCHES_INNER:-}" != 1 ]; then
	cleanup() {
		((keep)) && return 0
		git -C "$src" worktree remove --force "$wt" >/dev/null 2>&1 || true
		rm -rf "$ob"
	}
	trap cleanup EXIT
	rm -rf "$work" && mkdir -p "$work" "$logs"
	git -C "$src" worktree prune
	git -C "$src" worktree add -q --no-checkout --detach "$wt" rust_wg-base
	# Same files and mtimes as the tree the build directory was built from, then back to the base: git rewrites
	# only the files that the series changes.
	rsync -a --exclude=/.git "$src/" "$wt/"
	git -C "$wt" reset -q
	git -C "$wt" reset -q --hard rust_wg-base
	git -C "$wt" clean -qfdx -e /.git
	cp -a "$base_build" "$ob"
	rm -rf "$ob/modroot" "$ob/modroot.tmp"
	CHECK_PATCHES_INNER=1 unshare -m --propagation private "$0" -j "$jobs" --from "$from" && rc=0 || rc=$?
	exit $rc
fi

# Inside the private mount namespace from here on. The worktree's git directory lives in $src/.git, which the bind
# mount hides, so keep it reachable elsewhere first.
wtname=$(sed 's|.*/worktrees/||' "$wt/.git")
mkdir -p "$work/gitdir"
mount --bind "$src/.git" "$work/gitdir"
mount --bind "$wt" "$src"
mount --bind "$ob" "$base_build"
g() { git --git-dir="$work/gitdir/worktrees/$wtname" --work-tree="$src" "$@"; }
export GIT_COMMITTER_NAME=rust_wg GIT_COMMITTER_EMAIL=rust_wg@localhost
mk() { make -s -C "$src" O="$base_build" LLVM= RUSTC="$KRUSTC" RUSTDOC="$KRUSTDOC" BINDGEN="$BINDGEN" "$@"; }

printf '%-58s %-6s %-10s %-18s %-6s %6s\n' PATCH APPLY DIFFCHECK CHECKPATCH BUILD SECS
rc=0
n=0
for p in "$top"/patches/*.patch; do
	[ -e "$p" ] || continue
	n=$((n + 1))
	name=$(basename "$p")
	start=$(date +%s)
	apply=ok diffc=ok build=ok
	if ! g am -q --keep-cr "$p" >"$logs/$n-am.log" 2>&1; then
		g am --abort >/dev/null 2>&1 || true
		printf '%-58s %-6s\n' "$name" FAIL
		rc=1
		break
	fi
	g diff --check HEAD~1 HEAD >"$logs/$n-diffcheck.log" 2>&1 || { diffc=FAIL; rc=1; }
	"$src/scripts/checkpatch.pl" --no-tree --strict --terse "$p" >"$logs/$n-checkpatch.log" 2>&1 || true
	e=$(grep -c ': ERROR:' "$logs/$n-checkpatch.log" || true)
	w=$(grep -c ': WARNING:' "$logs/$n-checkpatch.log" || true)
	c=$(grep -c ': CHECK:' "$logs/$n-checkpatch.log" || true)
	((e == 0)) || rc=1
	# The config of the full series; symbols that earlier patches do not add yet just drop out.
	mk olddefconfig >"$logs/$n-config.log" 2>&1 || true
	if ((n < from)); then
		build=skip
	elif ! mk -j"$jobs" vmlinux modules >"$logs/$n-build.log" 2>&1; then
		build=FAIL
		rc=1
	fi
	printf '%-58s %-6s %-10s %-18s %-6s %6s\n' "$name" "$apply" "$diffc" "E$e/W$w/C$c" "$build" $(($(date +%s) - start))
	[ "$build" = FAIL ] && tail -20 "$logs/$n-build.log" | sed 's/^/    /'
done
((n > 0)) || echo "(no patches)"
echo "logs: $logs"
exit $rc
