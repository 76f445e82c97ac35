#!/usr/bin/env bash
# backends: ipvs fvs
# NAT forwarding, end to end (FVS_BACKEND=ipvs|fvs, see qemu-tests/dataplane.sh): TCP from the
# client to the VIP reaches every real server in turn (rr), the payload comes back byte for
# byte, the real server sees the client's own address, a 200 kB stream crosses both ways, and
# -Lnc lists client -> VIP -> real server for each connection.
. qemu-tests/lib.sh
. qemu-tests/topo.sh
. qemu-tests/dataplane.sh
dp_forward_test nat  # and VIP:8080 -> real port 80
echo "NAT forwarding works end to end"
