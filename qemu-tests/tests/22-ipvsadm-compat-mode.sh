#!/usr/bin/env bash
# Drop-in mode: Debian's unmodified ipvsadm drives fvs.ko loaded with compat=1 (generic netlink
# family "IPVS", ip_vs absent) through the whole control-plane scenario of 20-ipvsadm-compat.sh,
# compared command by command with the same ipvsadm driving the kernel's ip_vs: every listing,
# -S, exit code and error message must be identical (the version line's table size aside).
# ipvsadm-rs, without a forced family, must read and restore the same table there too.
FVS_TARGET=compat exec bash qemu-tests/tests/20-ipvsadm-compat.sh "$@"
