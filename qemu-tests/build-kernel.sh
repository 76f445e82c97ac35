#!/usr/bin/env bash
# Build (or reuse) the Rust-enabled test kernel. Prints the build directory (KDIR) on stdout.
#   qemu-tests/build-kernel.sh [--flavour NAME] [--print-kdir] [--print-make-args]
# The build lives outside the repo, in $FVS_CACHE/kernel/<version>-<flavour>-<hash>, keyed by the
# kernel version, the config fragment(s) and the toolchain, so an unchanged setup reuses it.
# Flavour NAME (default release) adds qemu-tests/kernel-NAME.config on top of kernel.config; its
# assignments win. A fragment line "#fvs-make: ARGS" adds make arguments (e.g. LLVM=...) to the
# kernel build; --print-make-args prints them, as modules for that kernel must use them too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${FVS_CACHE:-$HOME/.cache/fvs}
FLAVOUR=release
PRINT_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --flavour) FLAVOUR=$2; shift 2 ;;
        --print-kdir) PRINT_ONLY=1; shift ;;
        --print-make-args) PRINT_ONLY=2; shift ;;
        *) echo "build-kernel: unknown argument $1" >&2; exit 2 ;;
    esac
done
log() { printf 'build-kernel: %s\n' "$*" >&2; }

export RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc BINDGEN=${BINDGEN:-$(command -v bindgen)}
export LIBCLANG_PATH=/usr/lib/llvm-19/lib

tarball=$(ls /usr/src/linux-source-7.*.tar.* 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$tarball" ] || { log "no /usr/src/linux-source-7.x tarball: run qemu-tests/setup-host.sh"; exit 1; }
srcname=$(basename "$tarball"); srcname=${srcname%%.tar.*}
SRC=$CACHE/src/$srcname
if [ ! -f "$SRC/.extracted" ]; then
    log "extracting $tarball"
    rm -rf "$SRC"; mkdir -p "$CACHE/src"
    tar -C "$CACHE/src" -xf "$tarball"
    touch "$SRC/.extracted"
fi
kver=$(make -s -C "$SRC" kernelversion)

frags=("$here/kernel.config")
[ "$FLAVOUR" = release ] || frags+=("$here/kernel-$FLAVOUR.config")
[ -f "${frags[-1]}" ] || { log "no ${frags[-1]} for flavour $FLAVOUR"; exit 2; }
# shellcheck disable=SC2207
mkargs=($(sed -n 's/^#fvs-make:[[:space:]]*//p' "${frags[@]}"))
if [ "$PRINT_ONLY" = 2 ]; then echo "${mkargs[*]}"; exit 0; fi
cc_version() {   # the C compiler the build will use: gcc, or LLVM=<prefix>/ or LLVM=-<suffix>
    local a llvm=""
    for a in "${mkargs[@]}"; do case "$a" in LLVM=*) llvm=${a#LLVM=} ;; esac; done
    case "$llvm" in
        "") gcc --version | head -n1 ;;
        */) "${llvm}clang" --version | head -n1 ;;
        -*) "clang$llvm" --version | head -n1 ;;
        *) clang --version | head -n1 ;;
    esac
}
if [ ${#mkargs[@]} -eq 0 ]; then   # (the release key, unchanged)
    hash=$( { cat "${frags[@]}"; echo "$kver"; $RUSTC --version; $BINDGEN --version; gcc --version | head -n1; } \
            | sha256sum | cut -c1-12)
else
    hash=$( { cat "${frags[@]}"; echo "$kver"; $RUSTC --version; $BINDGEN --version; cc_version; } \
            | sha256sum | cut -c1-12)
fi
KDIR=$CACHE/kernel/$kver-$FLAVOUR-$hash
if [ "$PRINT_ONLY" = 1 ]; then echo "$KDIR"; exit 0; fi
if [ -f "$KDIR/.fvs-built" ]; then
    echo "$KDIR"; exit 0
fi

mkdir -p "$KDIR"
cat "${frags[@]}" > "$KDIR/fvs-fragment.config"
log "configuring $kver ($FLAVOUR) in $KDIR"
if [ ${#mkargs[@]} -gt 0 ]; then
    cc_version >/dev/null 2>&1 || { log "compiler for ${mkargs[*]} missing: run qemu-tests/setup-host.sh"; exit 1; }
    log "make arguments: ${mkargs[*]} ($(cc_version))"
fi
make -s -C "$SRC" O="$KDIR" "${mkargs[@]}" RUSTC="$RUSTC" HOSTRUSTC="$HOSTRUSTC" BINDGEN="$BINDGEN" \
    KCONFIG_ALLCONFIG="$KDIR/fvs-fragment.config" allnoconfig >&2
# Every option the fragment asks for must have survived dependency resolution (the last
# assignment of an option counts: a flavour overrides kernel.config).
bad=0
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=*) opt=${line%%=*}; want=${line#*=}
            [ "$want" = n ] && continue
            got=$(grep -E "^$opt=" "$KDIR/.config" | cut -d= -f2- || true)
            if [ "$got" != "$want" ]; then log "config: $opt wanted $want, got '${got:-not set}'"; bad=1; fi ;;
    esac
done < <(tac "$KDIR/fvs-fragment.config" | awk -F= '/^CONFIG_/ && !seen[$1]++' | tac)
[ "$bad" = 0 ] || { log "config fragment not satisfied (see above)"; exit 1; }

log "building $kver ($FLAVOUR): bzImage + modules, $(nproc) jobs"
start=$(date +%s)
make -s -C "$SRC" O="$KDIR" -j"$(nproc)" "${mkargs[@]}" RUSTC="$RUSTC" HOSTRUSTC="$HOSTRUSTC" \
    BINDGEN="$BINDGEN" bzImage modules >&2
log "built in $(( $(date +%s) - start )) s"
echo "${mkargs[*]}" > "$KDIR/fvs-make-args"
touch "$KDIR/.fvs-built"
echo "$KDIR"
