# Helpers for the compatibility VM tests (qemu-tests/tests/7N-*.sh) that drive the backend with
# Debian's unmodified userland (ipvsadm, keepalived, the kernel's own selftest): sourced after
# lib.sh. FVS_BACKEND selects what answers the IPVS interfaces (genetlink family "IPVS", the
# IP_VS_SO_* socket options, /proc/net/ip_vs*, /proc/sys/net/ipv4/vs):
#   ipvs (default)  the kernel's ip_vs (plus the scheduler modules the test asks for)
#   fvs             kmod/fvs.ko loaded with compat=1; ip_vs must stay unloaded throughout, so
#                   that every answer the tools get comes from fvs.ko
# Unlike dataplane.sh's adm(), both backends are driven with the same tools: plain `ipvsadm`.
# shellcheck shell=bash

FVS_BACKEND=${FVS_BACKEND:-ipvs}
case $FVS_BACKEND in
    ipvs|fvs) ;;
    *) fail "FVS_BACKEND must be ipvs or fvs, not '$FVS_BACKEND'" ;;
esac

# compat_up [MODULE...]: brings the backend up. For ipvs, MODULEs (scheduler modules such as
# ip_vs_rr, which ip_vs would otherwise load on demand) are modprobe'd too; fvs.ko has its
# schedulers built in.
compat_up() {
    command -v ipvsadm >/dev/null || skip "ipvsadm not installed"
    case $FVS_BACKEND in
        ipvs)
            fvs_unload
            ipvs_load
            local m
            for m in "$@"; do modprobe "$m" || fail "modprobe $m"; done
            ;;
        fvs)
            ipvs_unload
            compat_no_ipvs
            # A previous test may have left fvs loaded without compat=1.
            fvs_unload
            fvs_load compat=1
            [ -d /proc/sys/net/ipv4/vs ] || fail "fvs compat=1: no /proc/sys/net/ipv4/vs"
            ;;
    esac
}

# compat_no_ipvs: fails if any ip_vs module is loaded (fvs backend: nothing may have fallen back
# to the kernel's ip_vs, e.g. ipvsadm's or keepalived's `modprobe ip_vs` when they find no IPVS).
compat_no_ipvs() {
    [ "$FVS_BACKEND" = fvs ] || return 0
    ! lsmod | grep -q '^ip_vs' || fail "ip_vs modules loaded on the fvs backend: $(lsmod | awk '/^ip_vs/ {print $1}' | xargs)"
}

# compat_down: empties the table (ip_vs: services pin their scheduler modules) and unloads.
compat_down() {
    case $FVS_BACKEND in
        ipvs)
            if lsmod | grep -q '^ip_vs '; then
                local ns
                for ns in $(ip netns list | awk '{print $1}'); do ip netns exec "$ns" ipvsadm -C 2>/dev/null; done
            fi
            ipvs_unload
            ! lsmod | grep -q '^ip_vs' || fail "ip_vs modules still loaded: $(lsmod | awk '/^ip_vs/ {print $1}' | xargs)"
            ;;
        fvs)
            compat_no_ipvs
            fvs_unload
            ! lsmod | grep -q '^fvs ' || fail "fvs still loaded"
            ;;
    esac
}

# compat_linux_src: the newest extracted kernel source tree (the one the test kernel is built
# from, see build-kernel.sh); the guest sees the host's file system.
compat_linux_src() {
    local d
    d=$(printf '%s\n' "${FVS_CACHE:-$HOME/.cache/fvs}"/src/linux-source-7.* | sort -V | tail -n1)
    [ -d "$d" ] || fail "no kernel source tree in ${FVS_CACHE:-$HOME/.cache/fvs}/src (qemu-tests/build-kernel.sh extracts it)"
    printf '%s\n' "$d"
}
