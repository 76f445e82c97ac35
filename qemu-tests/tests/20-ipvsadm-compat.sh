#!/usr/bin/env bash
# ipvsadm-rs against Debian's ipvsadm 1.31: the same scenario (services of every kind, real
# servers of every forwarding method and tunnel type, edits, deletes, duplicates, missing
# objects, bad schedulers/weights/options, timeouts, sync daemons, zero, flush, and every listing
# mode including -S) runs once with the reference tool and once with the candidate, each on a
# freshly loaded backend; stdout, stderr and exit status of every command must be identical.
# Then save -> flush -> restore round trips, -R error handling, and a large batched restore.
#
# Run inside the VM from the repository root, as root. FVS_TARGET selects the pair:
#   ipvs  reference = ipvsadm on ip_vs, candidate = ipvsadm-rs on ip_vs (family IPVS)
#   fvs   reference = ipvsadm on ip_vs, candidate = ipvsadm-rs on fvs.ko (family FVS)
# REF_TOOL / CAND_TOOL override the binaries. Prints PASS/FAIL per command; exit 0 iff all equal.
set -uo pipefail
. qemu-tests/lib.sh

TARGET=${FVS_TARGET:-ipvs}
REF_TOOL=${REF_TOOL:-ipvsadm}
CAND_TOOL=${CAND_TOOL:-$IPVSADM_RS}
REF_BACKEND=ipvs
case $TARGET in
    ipvs) CAND_BACKEND=ipvs; CAND_FAMILY=IPVS ;;
    fvs) CAND_BACKEND=fvs; CAND_FAMILY=FVS ;;
    *) fail "FVS_TARGET must be ipvs or fvs, not '$TARGET'" ;;
esac
command -v "$REF_TOOL" >/dev/null || skip "reference tool $REF_TOOL not installed"
[ -x "$CAND_TOOL" ] || command -v "$CAND_TOOL" >/dev/null || fail "candidate $CAND_TOOL missing (cargo build --release -p ipvsadm-rs)"

ref=("$REF_TOOL")
cand=(env "IPVSADM_RS_FAMILY=$CAND_FAMILY" "$CAND_TOOL")

work=$(mktemp -d /tmp/ipvsadm-compat.XXXXXX)
trap 'rm -rf "$work"' EXIT

SCHED_MODULES="ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh ip_vs_pe_sip"

backend_up() {
    case $1 in
        ipvs)
            ipvs_load
            local m
            for m in $SCHED_MODULES; do modprobe "$m" 2>/dev/null || true; done
            ;;
        fvs) fvs_load ;;
    esac
}
# Unloading needs an empty table (services pin their scheduler modules) and no sync daemon.
backend_down() {
    case $1 in
        ipvs)
            if lsmod | grep -q '^ip_vs '; then
                "$REF_TOOL" -C 2>/dev/null
                "$REF_TOOL" --stop-daemon master 2>/dev/null
                "$REF_TOOL" --stop-daemon backup 2>/dev/null
            fi
            ipvs_unload
            ! lsmod | grep -q '^ip_vs ' || fail "ip_vs did not unload"
            ;;
        fvs)
            if lsmod | grep -q '^fvs '; then
                "${cand[@]}" -C 2>/dev/null
                "${cand[@]}" --stop-daemon master 2>/dev/null
                "${cand[@]}" --stop-daemon backup 2>/dev/null
            fi
            fvs_unload
            ;;
    esac
}

# The candidate prints its own argv[0] where ipvsadm prints "ipvsadm" (usage, "Try ..."); with
# fvs the connection table size may differ from ip_vs's.
normalize_cand() {
    local s
    s=$(sed -e "s#$(printf '%s' "$CAND_TOOL" | sed 's/[#.*[\^$]/\\&/g')#ipvsadm#g" "$1")
    if [ "$TARGET" = fvs ]; then
        s=$(sed -E 's/^(IP Virtual Server version [0-9.]+) \(size=[0-9]+\)$/\1 (size=N)/' <<<"$s")
    fi
    printf '%s' "$s"
}
normalize_ref() {
    if [ "$TARGET" = fvs ]; then
        sed -E 's/^(IP Virtual Server version [0-9.]+) \(size=[0-9]+\)$/\1 (size=N)/' "$1"
    else
        cat "$1"
    fi
}

# One command per line, shell-quoted; '#' lines are comments. "<FILE" at the end of a line feeds
# $work/FILE on stdin.
cat > "$work/scenario" <<'EOF'
-Ln
-A -t 10.0.0.1:80 -s rr
-A -t 10.0.0.1:80 -s rr
-A -t 10.0.0.1:81 -s nosuchsched
-A -t 10.0.0.1:81 -s rr --pe nosuchpe
-A -u 10.0.0.1:53 -s wrr -o
-A --sctp-service 10.0.0.1:3868 -s lc
-A -f 1 -s wlc -p 120
-A -f 2 -6 -s sh -b sh-fallback,sh-port -p -M 64
-A -t [2001:db8::1]:443 -s mh -b mh-port
-A -t 10.0.0.2:0 -p 300 -M 255.255.255.0 -s sed
-A -u 10.0.0.3:5060 -p 60 --pe sip -s nq
-A -t 10.0.0.4:80 -s dh
-A -t 10.0.0.5:80 -s fo
-A -t 10.0.0.6:80 -s ovf
-A -t 10.0.0.7:80 -s lblc
-A -t 10.0.0.8:80 -s lblcr
-A -t 10.0.0.10:80
-A -t 10.0.0.11:80 -s rr -b flag-1,flag-3
-A -t 10.0.0.9 -s rr
-A -t 10.0.0.1:82 -o
-A -t 10.0.0.1:83 -s sh -b mh-port
-A -t 10.0.0.1:84 -s rr -b bogus
-A -t 10.0.0.1:85 -p 0
-A -f 0
-A -6 -f 3
-A -t 10.0.0.1:86 -M 255.255.0.0 -p 10 -s rr
-A -t 1.2.3.4:80 -s rr -w 3
-Ax
-A -t
-A -t 10.0.0.12:80 -Q
-A --tcp 10.0.0.12:80
-a -t 10.0.0.1:80 -r 192.168.1.10:80 -m -w 5
-a -t 10.0.0.1:80 -r 192.168.1.11:8080 -m -w 0
-a -t 10.0.0.1:80 -r 192.168.1.12 -g
-a -t 10.0.0.1:80 -r 192.168.1.13 -i
-a -t 10.0.0.1:80 -r 192.168.1.10:80 -m
-a -t 10.0.0.1:80 -r 192.168.1.14 -i --tun-type gue --tun-port 6080 --tun-csum
-a -t 10.0.0.1:80 -r 192.168.1.15 -i --tun-type gre --tun-nocsum
-a -t 10.0.0.1:80 -r 192.168.1.16 -i --tun-type gue --tun-port 6081 --tun-remcsum
-a -t 10.0.0.1:80 -r 192.168.1.19 -i --tun-type gre --tun-csum
-a -t 10.0.0.1:80 -r 192.168.1.20 -i --tun-type ipip
-a -t 10.0.0.1:80 -r [2001:db8::10]:80 -i
-a -t 10.0.0.1:80 -r [2001:db8::10]:80 -m
-a -t 10.0.0.1:80 -r 192.168.1.17 -i --tun-type gue
-a -t 10.0.0.1:80 -r 192.168.1.17 -i --tun-type gre --tun-remcsum
-a -t 10.0.0.1:80 -r 192.168.1.17 --tun-type gre
-a -t 10.0.0.1:80 -r 192.168.1.18 -w 70000 -x 100 -y 10 -m
-a -t 10.0.0.1:80 -r 192.168.1.21 -w 2147483647 -m
-a -t 10.0.0.1:80 -r 192.168.1.22 -w 2147483648 -m
-a -t 10.0.0.1:80 -r 192.168.1.22 -w -1 -m
-a -t 10.0.0.1:80 -r 192.168.1.22 -x abc
-a -t 10.0.0.1:80 -r 0.0.0.0 -m
-a -t 10.0.0.1:80 -r 224.0.0.1 -m
-a -t 10.0.0.99:80 -r 192.168.1.10 -m
-a -t 10.0.0.1:80
-a -u 10.0.0.1:53 -r 192.168.2.1:5353 -m -w 2
-a -u 10.0.0.1:53 -r 192.168.2.2 -g
-a -f 1 -r 192.168.3.1 -g
-a -f 2 -6 -r [2001:db8::20] -g -w 4
-a -t [2001:db8::1]:443 -r [2001:db8::30]:8443 -m
-a -t [2001:db8::1]:443 -r 192.168.5.1 -i
-a --sctp-service 10.0.0.1:3868 -r 192.168.4.1 -m
-a -t 10.0.0.2:0 -r 192.168.6.1 -g
-e -t 10.0.0.1:80 -r 192.168.1.10:80 -m -w 9 -x 50 -y 5
-e -t 10.0.0.1:80 -r 192.168.9.9:80 -m
-e -t 10.0.0.99:80 -r 192.168.1.10:80 -m
-e -t 10.0.0.1:80 -r 192.168.1.14 -i --tun-type gre --tun-csum
-E -t 10.0.0.1:80 -s wlc -p 60
-E -t 10.0.0.99:80 -s rr
-E -u 10.0.0.1:53 -s rr -b flag-1,flag-2
-E -t 10.0.0.1:80 -s nosuchsched
-E -f 1 -s rr -p 30 -M 255.255.255.0
-Ln
-L
-l -n
--list --numeric
-L -n --stats
-L -n --stats --exact
-L -n --rate
-L -n --rate --exact
-L -n --thresholds
-L -n --persistent-conn
-L -n --tun-info
-L -n --nosort
-L -n --sort
-L -n -t 10.0.0.1:80
-L -n -t 10.0.0.99:80
-L -n -f 2 -6
-L -n -f 1
-L --exact -u 10.0.0.1:53 --stats
-L -n --stats --rate
-L -c --stats
-L -n -n
-S
-Sn
-S -n
-Lnc
-Lnc --persistent-conn
-Lc
--set 100 20 30
-L --timeout
-L --timeout -n
--set 0 0 0
-L --timeout
--set 1 2
--set 1 2 3 4
--set 99999999 1 1
--set 900 120 300
-L --daemon
--start-daemon master --mcast-interface lo --syncid 7
--start-daemon master --mcast-interface lo
-L --daemon
--stop-daemon master
--stop-daemon master
--start-daemon backup --mcast-interface nosuchif0
--start-daemon foo
--start-daemon master --mcast-group 1.2.3.4
--start-daemon master --mcast-interface lo --syncid 300
-L --daemon
-Z
-Z -t 10.0.0.1:80
-Z -t 10.0.0.99:80
-Z -f 1
-Z -n
-d -t 10.0.0.1:80 -r 192.168.1.11:8080
-d -t 10.0.0.1:80 -r 192.168.1.11:8080
-d -t 10.0.0.99:80 -r 192.168.1.11:8080
-d -t 10.0.0.1:80 -r 192.168.1.13 -w 3
-D -t 10.0.0.4:80
-D -t 10.0.0.4:80
-D -u 10.0.0.200:53
-D -f 2 -6
-D -f 2
-D -t 10.0.0.5:80 -s rr
-Ln
-L -A
-Lh
-nL
-X
-V
-v
--version
-C -n
foo -L
-L foo
-A -- -t 10.0.0.1:80
-R <restore-errors
-R <restore-ok
-Sn
-C
-Ln
-h
EOF

cat > "$work/restore-errors" <<'EOF'
-A -t 10.1.0.1:80 -s rr
-A -t 10.1.0.1:80 -s rr
# a comment line is not a comment for ipvsadm

-a -t 10.1.0.1:80 -r 10.1.1.1 -m
-a -t 10.1.0.99:80 -r 10.1.1.1 -m
-A -t 10.1.0.2:80 -Q
ipvsadm -A -t 10.1.0.3:80 -s wrr
-L -n
-a -t 10.1.0.3:80 -r 10.1.1.2 -m
-D -t 10.1.0.77:80
EOF
cat > "$work/restore-ok" <<'EOF'
-A -t 10.2.0.1:80 -s rr
-a -t 10.2.0.1:80 -r 10.2.1.1:8080 -m -w 3
-A -u 10.2.0.1:53 -s wrr -p 30
-a -u 10.2.0.1:53 -r 10.2.1.2 -g -w 0
-A -f 9 -s sh -b sh-port
-a -f 9 -r 10.2.1.3 -i --tun-type gue --tun-port 7000 --tun-csum -w 2
EOF

# run_scenario NAME TOOL... : runs every scenario line on a fresh backend.
run_scenario() {
    local name=$1; shift
    local dir=$work/$name i=0 line input
    mkdir -p "$dir"
    while IFS= read -r line; do
        [ -z "$line" ] && continue
        case $line in \#*) continue ;; esac
        i=$((i + 1))
        input=/dev/null
        if [[ $line =~ ^(.*)\ \<([a-z-]+)$ ]]; then
            line=${BASH_REMATCH[1]}
            input=$work/${BASH_REMATCH[2]}
        fi
        printf '%s\n' "$line" > "$dir/$i.cmd"
        eval "set -- $line"
        timeout 60 "$@" > "$dir/$i.out" 2> "$dir/$i.err" < "$input"
        echo $? > "$dir/$i.rc"
    done < "$work/scenario"
    echo "$i" > "$dir/count"
}

failures=0
# compare_runs A B : PASS/FAIL per step, counted in $failures.
compare_runs() {
    local a=$work/$1 b=$work/$2 n i what
    n=$(cat "$a/count")
    for ((i = 1; i <= n; i++)); do
        what="ipvsadm $(cat "$a/$i.cmd")"
        local d=""
        [ "$(normalize_ref "$a/$i.out")" = "$(normalize_cand "$b/$i.out")" ] || d+=" stdout"
        [ "$(normalize_ref "$a/$i.err")" = "$(normalize_cand "$b/$i.err")" ] || d+=" stderr"
        [ "$(cat "$a/$i.rc")" = "$(cat "$b/$i.rc")" ] || d+=" exit($(cat "$a/$i.rc") vs $(cat "$b/$i.rc"))"
        if [ -z "$d" ]; then
            echo "PASS [$i] $what"
        else
            echo "FAIL [$i] $what:$d"
            diff -u <(normalize_ref "$a/$i.out"; echo "-- stderr:"; normalize_ref "$a/$i.err"; echo "-- rc $(cat "$a/$i.rc")") \
                    <(normalize_cand "$b/$i.out"; echo "-- stderr:"; normalize_cand "$b/$i.err"; echo "-- rc $(cat "$b/$i.rc")") \
                | sed 's/^/    /' | head -n 40
            failures=$((failures + 1))
        fi
    done
}

check() { # check WHAT EXPECTED_FILE ACTUAL_FILE
    if cmp -s "$2" "$3"; then
        echo "PASS $1"
    else
        echo "FAIL $1"
        diff -u "$2" "$3" | sed 's/^/    /' | head -n 40
        failures=$((failures + 1))
    fi
}

# ---- 1. The scenario, reference then candidate, each on a fresh backend.
backend_down "$CAND_BACKEND"; backend_down "$REF_BACKEND"
backend_up "$REF_BACKEND"
run_scenario ref "${ref[@]}"
backend_down "$REF_BACKEND"
backend_up "$CAND_BACKEND"
run_scenario cand "${cand[@]}"
backend_down "$CAND_BACKEND"
compare_runs ref cand

# ---- 2. Save -> flush -> restore round trips.
cat > "$work/setup" <<'EOF'
-A -t 10.3.0.1:80 -s rr -p 60 -M 255.255.255.0
-a -t 10.3.0.1:80 -r 10.3.1.1:80 -g -w 2
-a -t 10.3.0.1:80 -r 10.3.1.2:8080 -m -w 0
-a -t 10.3.0.1:80 -r 10.3.1.3 -i --tun-type gue --tun-port 6080 --tun-remcsum
-a -t 10.3.0.1:80 -r 10.3.1.4 -i --tun-type gre --tun-csum
-A -u [2001:db8::3]:53 -s sh -b sh-fallback -p 10 -M 96
-a -u [2001:db8::3]:53 -r [2001:db8::4]:5353 -m -w 7
-A -f 77 -6 -s mh -b mh-port
-a -f 77 -6 -r 2001:db8::5 -g
-A -u 10.3.0.2:5060 -s rr -p 30 --pe sip -o
-A --sctp-service 10.3.0.3:3868 -s wlc
-a --sctp-service 10.3.0.3:3868 -r 10.3.1.5 -m -x 10 -y 2
EOF
filled_by() { # filled_by TOOL... : runs "TOOL ARGS" for each setup line
    local line tool=("$@")
    while IFS= read -r line; do eval "\"\${tool[@]}\" $line" || return 1; done < "$work/setup"
}

backend_up "$REF_BACKEND"
filled_by "${ref[@]}" || fail "setup with $REF_TOOL failed"
"${ref[@]}" -Sn > "$work/ref-save-n"
"${ref[@]}" -S > "$work/ref-save"
"${ref[@]}" -Ln --stats > "$work/ref-list"
if [ "$CAND_BACKEND" = "$REF_BACKEND" ]; then
    # Same backend: cross-restore between the tools, checked by the reference tool.
    "${cand[@]}" -Sn > "$work/cand-save-n"
    check "ipvsadm-rs -Sn equals ipvsadm -Sn" "$work/ref-save-n" "$work/cand-save-n"
    "${cand[@]}" -C
    "${cand[@]}" -R < "$work/ref-save-n"; echo "rc=$?" > "$work/cand-restore-rc"
    echo "rc=0" > "$work/rc0"
    check "ipvsadm-rs -R exit status" "$work/rc0" "$work/cand-restore-rc"
    "${ref[@]}" -Sn > "$work/after-cand-restore"
    check "ipvsadm -S -> ipvsadm-rs -C -> ipvsadm-rs -R -> ipvsadm -Sn" "$work/ref-save-n" "$work/after-cand-restore"
    "${ref[@]}" -C
    "${cand[@]}" -R < "$work/ref-save"
    "${ref[@]}" -S > "$work/after-cand-restore-names"
    check "ipvsadm -S (names) -> ipvsadm-rs -R -> ipvsadm -S" "$work/ref-save" "$work/after-cand-restore-names"
    "${cand[@]}" -Sn > "$work/cand-save-n2"
    "${cand[@]}" -C
    "${ref[@]}" -R < "$work/cand-save-n2"
    "${ref[@]}" -Sn > "$work/after-ref-restore"
    check "ipvsadm-rs -Sn -> ipvsadm -R -> ipvsadm -Sn" "$work/ref-save-n" "$work/after-ref-restore"
    backend_down "$REF_BACKEND"
else
    backend_down "$REF_BACKEND"
    backend_up "$CAND_BACKEND"
    filled_by "${cand[@]}" || fail "setup with $CAND_TOOL failed"
    "${cand[@]}" -Sn > "$work/cand-save-n"
    check "ipvsadm-rs -Sn (on $CAND_BACKEND) equals ipvsadm -Sn (on $REF_BACKEND)" "$work/ref-save-n" "$work/cand-save-n"
    "${cand[@]}" -C
    "${cand[@]}" -R < "$work/ref-save-n"
    "${cand[@]}" -Sn > "$work/after-cand-restore"
    check "ipvsadm -Sn -> ipvsadm-rs -R -> ipvsadm-rs -Sn" "$work/ref-save-n" "$work/after-cand-restore"
    backend_down "$CAND_BACKEND"
fi

# ---- 3. A large restore: same resulting table, and the candidate's batching timed.
awk 'BEGIN {
    for (i = 0; i < 2000; i++) {
        a = 10 + int(i / 250); b = i % 250 + 1
        printf "-A -t 10.%d.%d.1:80 -s rr\n", a, b
        printf "-a -t 10.%d.%d.1:80 -r 192.168.%d.%d:8080 -m -w 2\n", a, b, a - 10, b
        printf "-a -t 10.%d.%d.1:80 -r 192.168.%d.%d:8081 -m -w 3\n", a, b, a - 10, b
    }
}' > "$work/big"
backend_up "$REF_BACKEND"
t0=$(date +%s%N); "${ref[@]}" -R < "$work/big"; t1=$(date +%s%N)
"${ref[@]}" -Sn > "$work/big-ref"
backend_down "$REF_BACKEND"
backend_up "$CAND_BACKEND"
t2=$(date +%s%N); "${cand[@]}" -R < "$work/big"; t3=$(date +%s%N)
"${cand[@]}" -Sn > "$work/big-cand"
backend_down "$CAND_BACKEND"
check "6000-line restore: identical table" "$work/big-ref" "$work/big-cand"
info "6000-line -R: $REF_TOOL $(((t1 - t0) / 1000000)) ms, ipvsadm-rs $(((t3 - t2) / 1000000)) ms"

n=$(cat "$work/ref/count")
echo "compared $n commands and the round trips against $REF_TOOL: $failures difference(s)"
[ "$failures" -eq 0 ]
