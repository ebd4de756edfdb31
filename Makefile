# SPDX-License-Identifier: GPL-2.0
#
# rust_wg: `make demo` runs the main job, `make test` runs every test. Both install what they need first
# (scripts/deps.sh: apt, cargo, pip) and build the patched kernel into $(RUST_WG_CACHE) (default /var/cache/rust_wg).
#
# Variables: VARIANT=normal|debug|perf (kernel flavour), FILTER=REGEX (VM tests to run), RUST_WG_KVM=0|1 (force
# TCG or KVM; default: probe), RUST_WG_CACHE=DIR.

SHELL := /bin/bash
VARIANT ?= normal
export VARIANT
TOP := $(CURDIR)
KBUILD = $(shell VARIANT=$(VARIANT) $(TOP)/scripts/kernel.sh path)
KENV = . $(TOP)/scripts/env.sh &&
CARGO_JOBS ?= 2
# The debug kernel is built with clang (KASAN + Rust); modules must use the same toolchain.
KLLVM := $(if $(filter debug,$(VARIANT)),1,)

.PHONY: all deps kernel kernel-config module wgctl tools host-test vm-test test demo shell fuzz check-patches clean help conformance bench soak scale

all: module wgctl

help:
	@sed -n '3,9p' Makefile | sed 's/^# \{0,1\}//'
	@echo "targets: demo test deps kernel module wgctl host-test vm-test shell fuzz check-patches clean conformance soak scale bench"

deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel.sh build

# The out-of-tree module, built against the cached kernel (which must exist: `make kernel`).
module:
	@test -f $(KBUILD)/vmlinux || { echo "no kernel built for VARIANT=$(VARIANT): run 'make kernel'"; exit 1; }
	@$(KENV) $(MAKE) -s -C $(KBUILD) M=$(TOP) LLVM=$(KLLVM) RUSTC=$$KRUSTC BINDGEN=$$BINDGEN modules

wgctl:
	@if [ -f wgctl/Cargo.toml ]; then cargo build -q --release -j$(CARGO_JOBS) --manifest-path wgctl/Cargo.toml; fi

# The VM tests' own tools (selftests/tools/*: the packet and netlink fuzzer), built on the host, run in the VM.
tools:
	@for m in selftests/tools/*/Cargo.toml; do cargo build -q --release -j$(CARGO_JOBS) --manifest-path $$m || exit 1; done

host-test:
	@scripts/test.sh --host-only

vm-test: module wgctl tools
	@selftests/run.sh --variant $(VARIANT) $(if $(FILTER),--filter '$(FILTER)')

test:
	@scripts/test.sh

# The kernel's netns.sh, unmodified, against the C driver (control) and rust_wg, with wg and with wgctl.
# Each run takes 3-10 minutes under TCG.
conformance: deps
	@scripts/kernel.sh build
	@$(MAKE) -s module wgctl
	@selftests/run.sh --variant $(VARIANT) --dir selftests/conformance --timeout 1500 $(if $(FILTER),--filter '$(FILTER)')

# Long hardening runs (selftests/soak: 10 million fuzzed packets, 1 million netlink messages, 100 rmmods under
# traffic, ...); hours under TCG. `make test` runs the same tests with smaller counts.
soak: module wgctl tools
	@selftests/run.sh --variant $(VARIANT) --dir selftests/soak --timeout 14400 $(if $(FILTER),--filter '$(FILTER)')

# Full-size configuration runs (selftests/scale): 10 000 peers / 100 000 allowed IPs through wg and wgctl on the C
# driver and rust_wg, timed in one VM (results in the run's netlink-10k.txt); `make test` runs the same test at
# 2 000 peers. 15-40 minutes under TCG.
scale: module wgctl
	@selftests/run.sh --variant $(VARIANT) --dir selftests/scale --timeout 5400 $(if $(FILTER),--filter '$(FILTER)')

demo:
	@scripts/demo.sh

# An interactive shell in the VM, repository mounted read-only at the same path.
shell: module
	@scripts/vm.sh --variant $(VARIANT) --rwdir /tmp

fuzz:
	@for s in rust_wg/host/fuzz/run.sh wgctl/fuzz/run.sh; do [ -x $$s ] && $$s $${FUZZ_SECONDS:-600} || true; done

# The benchmark: C wireguard.ko, wireguard-go, plain veth and rust_wg in one VM (bench/run.sh; QUICK=1: < 10 min).
bench:
	@bench/run.sh $(if $(QUICK),--quick)

check-patches:
	@scripts/check-patches.sh

clean:
	@$(KENV) test -d $(KBUILD) && $(MAKE) -s -C $(KBUILD) M=$(TOP) LLVM=$(KLLVM) clean || true
	@rm -rf rust_wg/host/target wgctl/target
