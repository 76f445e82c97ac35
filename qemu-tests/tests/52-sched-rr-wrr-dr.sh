#!/usr/bin/env bash
# backends: ipvs fvs
# Test 33 (rr 10/10/10 over 30, wrr 1:2:3 10/20/30 over 60, ip_vs's exact order) with dr forwarding.
DP_MODE=dr . qemu-tests/tests/33-sched-rr-wrr.sh
