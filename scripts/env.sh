# SPDX-License-Identifier: GPL-2.0
# Shared settings for rust_wg scripts; sourced, never run.

RUST_WG_CACHE=${RUST_WG_CACHE:-/var/cache/rust_wg}
RUST_WG_TOOLS=${RUST_WG_TOOLS:-$RUST_WG_CACHE/tools}
BINDGEN_VERSION=0.71.1
BINDGEN=${BINDGEN:-$RUST_WG_TOOLS/bin/bindgen}
VNG_VERSION=1.42
VNG_VENV=${VNG_VENV:-$RUST_WG_CACHE/venv}
KRUSTC=${KRUSTC:-/usr/bin/rustc}
# Debian's rustc-web ships rustdoc as /usr/bin/rustdoc and rust-src under /usr/lib/rustlib/src.
KRUSTDOC=${KRUSTDOC:-/usr/bin/rustdoc}
export PATH="$VNG_VENV/bin:$RUST_WG_TOOLS/bin:$PATH"
