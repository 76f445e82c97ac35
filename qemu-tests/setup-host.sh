#!/usr/bin/env bash
# Idempotent host set-up for fvs: every package the build, the VM and the tests need.
# A second run touches no package manager when everything is present (seconds).
#   --debug-kernel: also the LLVM 19 toolchain the debug kernel flavour is built with
#                   (kernel-debug.config: KASAN with Rust needs a clang-built kernel).
set -euo pipefail
DEBUG_KERNEL=0
[ "${1:-}" = --debug-kernel ] && DEBUG_KERNEL=1

log() { printf 'setup: %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

APT_PKGS=(rustc-web rust-web-src libclang-19-dev flex bison bc libelf-dev libssl-dev cpio
          busybox-static iproute2 socat iputils-ping ipvsadm keepalived iperf3 kmod
          nftables python3-venv dwarves udev)
BPO_PKGS=(qemu-system-x86)
# clang/ld.lld/llvm-ar... 19, from bookworm: the same LLVM as libclang-19 (bindgen).
[ "$DEBUG_KERNEL" = 1 ] && APT_PKGS+=(clang-19 lld-19 llvm-19)
# linux-source-7.x: accept the newest 7.x that sid or trixie-backports offers.
KSRC_GLOB='linux-source-7.*'

missing_apt=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing_apt+=("$p")
done
missing_bpo=()
for p in "${BPO_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing_bpo+=("$p")
done
have_ksrc=$(dpkg-query -W -f='${Package} ${Status}\n' "$KSRC_GLOB" 2>/dev/null | grep 'install ok installed' | awk '{print $1}' | sort -V | tail -n1 || true)

if [ ${#missing_apt[@]} -gt 0 ] || [ ${#missing_bpo[@]} -gt 0 ] || [ -z "$have_ksrc" ]; then
    log "configuring apt sources (bookworm-backports, sid behind a low pin)"
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        $SUDO tee /etc/apt/sources.list.d/fvs-backports.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    if ! grep -rqs 'Suites: sid' /etc/apt/sources.list.d/; then
        $SUDO tee /etc/apt/sources.list.d/fvs-sid.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    # Nothing comes from sid unless asked for by name (linux-source-7.x only).
    $SUDO tee /etc/apt/preferences.d/fvs-sid-pin >/dev/null <<'PIN'
Package: *
Pin: release n=sid
Pin-Priority: 50

Package: *
Pin: release a=unstable
Pin-Priority: 50
PIN
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    if [ ${#missing_apt[@]} -gt 0 ]; then
        log "installing: ${missing_apt[*]}"
        $SUDO apt-get install -y -qq --no-install-recommends "${missing_apt[@]}"
    fi
    if [ ${#missing_bpo[@]} -gt 0 ]; then
        log "installing from bookworm-backports: ${missing_bpo[*]}"
        $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports "${missing_bpo[@]}"
    fi
    if [ -z "$have_ksrc" ]; then
        ksrc=$(apt-cache pkgnames linux-source-7. | grep -E '^linux-source-7\.[0-9]+$' | sort -V | tail -n1)
        [ -n "$ksrc" ] || { log "no linux-source-7.x package offered by any suite"; exit 1; }
        log "installing $ksrc (from sid/backports, nothing else)"
        $SUDO apt-get install -y -qq --no-install-recommends "$ksrc/sid" \
          || $SUDO apt-get install -y -qq --no-install-recommends "$ksrc"
    fi
fi

# The kernel needs a recent rustc-web (bookworm-security's); bookworm's own 1.85 is too old.
rv=$(/usr/bin/rustc --version 2>/dev/null | awk '{print $2}')
if [ -z "$rv" ] || [ "$(printf '%s\n' "$rv" 1.90.0 | sort -V | head -n1)" != 1.90.0 ]; then
    log "upgrading rustc-web (have ${rv:-none})"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends rustc-web rust-web-src libstd-rust-web-dev
fi

# bindgen-cli 0.72.1, as the kernel's Rust build expects.
if ! command -v bindgen >/dev/null 2>&1 || ! bindgen --version 2>/dev/null | grep -q '0\.72\.1'; then
    log "installing bindgen-cli 0.72.1"
    cargo install --locked --quiet bindgen-cli --version 0.72.1
fi

# virtme-ng from PyPI, in a venv kept outside the repo.
VENV="${FVS_CACHE:-$HOME/.cache/fvs}/venv"
if [ ! -x "$VENV/bin/vng" ]; then
    log "installing virtme-ng into $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q virtme-ng
fi
log "host ready"
