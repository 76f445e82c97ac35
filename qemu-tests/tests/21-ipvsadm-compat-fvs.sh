#!/usr/bin/env bash
# The whole control-plane scenario of 20-ipvsadm-compat.sh with ipvsadm-rs driving fvs.ko
# (family FVS), compared command by command with Debian's ipvsadm driving the kernel's ip_vs:
# every listing, -S, exit code and error message must be identical (the version line aside).
FVS_TARGET=fvs exec bash qemu-tests/tests/20-ipvsadm-compat.sh "$@"
