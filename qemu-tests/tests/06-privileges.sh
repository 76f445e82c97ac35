#!/usr/bin/env bash
# Unprivileged callers are refused, with ipvsadm's own messages and exit codes, and the state
# is unchanged: (1) an ordinary user; (2) root of a user namespace that does not own the network
# namespace (no CAP_NET_ADMIN over it). fvs checks CAP_NET_ADMIN in the user namespace that owns
# the network namespace (GENL_UNS_ADMIN_PERM), so (3) a container's root may manage the fvs
# state of the container's own network namespace -- and only that.
. qemu-tests/lib.sh
ipvs_load
fvs_load
ipvsadm -A -t 10.0.0.1:80 -s rr || fail "setup ipvsadm"
IPVSADM_RS_FAMILY=FVS $IPVSADM_RS -A -t 10.0.0.1:80 -s rr || fail "setup ipvsadm-rs"
before_ipvs=$(ipvsadm -Sn); before_fvs=$(IPVSADM_RS_FAMILY=FVS $IPVSADM_RS -Sn)

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
in_userns() { unshare --user --map-root-user "$@"; }

for wrap in as_nobody in_userns; do
    for args in "-A -t 10.0.0.2:80 -s rr" "-D -t 10.0.0.1:80" "-C" "-Ln" "--set 1 2 3" "-a -t 10.0.0.1:80 -r 10.0.2.1"; do
        # shellcheck disable=SC2086
        want=$($wrap ipvsadm $args 2>&1); want_rc=$?
        # shellcheck disable=SC2086
        got=$($wrap env IPVSADM_RS_FAMILY=FVS $IPVSADM_RS $args 2>&1); got_rc=$?
        # Refused at start-up, each tool asks modprobe for its own backend (ip_vs / fvs). What
        # modprobe itself prints depends on which modules are installed under /lib/modules
        # (fvs.ko is insmod'ed from the tree), not on the tools: its lines are left out.
        want=$(grep -v '^modprobe: ' <<<"$want"); got=$(grep -v '^modprobe: ' <<<"$got")
        [ "$want_rc" -ne 0 ] || fail "$wrap ipvsadm $args succeeded on ip_vs"
        assert_eq "$want (rc=$want_rc)" "$got (rc=$got_rc)" "$wrap ipvsadm-rs $args on fvs vs ipvsadm on ip_vs"
    done
done
assert_eq "$before_ipvs" "$(ipvsadm -Sn)" "ip_vs state changed"
assert_eq "$before_fvs" "$(IPVSADM_RS_FAMILY=FVS $IPVSADM_RS -Sn)" "fvs state changed by unprivileged callers"

# (3) root of a new user namespace owning a new network namespace manages that namespace only.
out=$(unshare --user --map-root-user --net sh -c "
    $IPVSADM_RS -A -t 10.9.9.9:80 -s wlc && $IPVSADM_RS -Sn" 2>&1) || fail "container root refused in its own netns: $out"
assert_eq "-A -t 10.9.9.9:80 -s wlc" "$out" "container's own table"
assert_eq "$before_fvs" "$(IPVSADM_RS_FAMILY=FVS $IPVSADM_RS -Sn)" "container changed the host namespace"
echo "unprivileged callers refused; state unchanged"
