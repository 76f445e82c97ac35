# fvs — top-level build. `make` builds everything (host set-up, test kernel unless cached,
# kmod/fvs.ko, target/release/ipvsadm-rs); `make test` runs every test; `make demo` shows it off.
#
# KDIR=/path/to/built/rust-enabled/kernel overrides the cached test kernel.

SHELL := /bin/bash
export FVS_CACHE ?= $(HOME)/.cache/fvs
export PATH := $(HOME)/.cargo/bin:$(PATH)
RUSTC_KERNEL := /usr/bin/rustc
export LIBCLANG_PATH := /usr/lib/llvm-19/lib

ifeq ($(origin KDIR), undefined)
KDIR_FROM_CACHE := 1
endif

.PHONY: all setup kernel module cli test test-host test-vm demo bench clean fmt clippy

all: module cli

setup:
	@bash qemu-tests/setup-host.sh

kernel: setup
ifdef KDIR_FROM_CACHE
	@bash qemu-tests/build-kernel.sh >/dev/null
endif

# The kernel build directory: $(KDIR) if given, else the cached test kernel.
kdir = $(if $(KDIR_FROM_CACHE),$(shell bash qemu-tests/build-kernel.sh --print-kdir),$(KDIR))

module: kernel
	$(MAKE) -C $(kdir) M=$(CURDIR) RUSTC=$(RUSTC_KERNEL) HOSTRUSTC=$(RUSTC_KERNEL) \
		BINDGEN=$$(command -v bindgen) modules
	@test -f kmod/fvs.ko && echo "built kmod/fvs.ko"

cli: setup
	cargo build --release --workspace

test-host: setup
	cargo test --workspace

test-vm: module cli
	@bash qemu-tests/run-suite.sh

test: all
	@set -o pipefail; \
	 host_ok=0; cargo test --workspace 2>&1 | tee target/host-test.log || host_ok=1; \
	 vm_ok=0; bash qemu-tests/run-suite.sh || vm_ok=1; \
	 if [ $$host_ok -ne 0 ]; then echo "host cargo tests FAILED"; fi; \
	 exit $$(( host_ok | vm_ok ))

demo: all
	@bash qemu-tests/vm-run bash qemu-tests/demo.sh

bench: all
	@FVS_BENCH_HOST="$$(nproc) CPUs, load average $$(cut -d' ' -f1-3 /proc/loadavg) when the VM started" \
		bash qemu-tests/vm-run bash qemu-tests/bench/run.sh

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	-$(MAKE) -C $(kdir) M=$(CURDIR) clean
	cargo clean
