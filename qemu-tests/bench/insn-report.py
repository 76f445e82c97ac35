#!/usr/bin/env python3
"""Guest instructions per packet / per connection, by function, from `make insnprof`'s dumps.

Reads target/bench/insn/METRIC-BACKEND-N.{tb,syms,n} (tbcount plugin counts of one sample, the
guest's /proc/kallsyms when it was taken, and the frames or connections of the sample) and prints,
per metric, each backend's instructions per unit: in total, by module (kernel, fvs, ip_vs...),
and for the functions that differ most between the backends.

usage: insn-report.py [DIR] [TOP]
"""
import bisect
import collections
import glob
import os
import sys


def load_syms(path):
    addrs, names = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in "tTwW":
                continue
            a = int(parts[0], 16)
            if a == 0:
                continue
            mod = parts[3].strip("[]") if len(parts) > 3 else "kernel"
            addrs.append(a)
            names.append((parts[2], mod))
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def attribute(tb_path, syms_path):
    addrs, names = load_syms(syms_path)
    by_fn = collections.Counter()
    with open(tb_path) as f:
        for line in f:
            pc, insns, _ = line.split()
            pc, insns = int(pc, 16), int(insns)
            if pc < 0xFFFF000000000000:
                by_fn[("(user space)", "user")] += insns
                continue
            i = bisect.bisect_right(addrs, pc) - 1
            by_fn[names[i] if i >= 0 else ("?", "?")] += insns
    return by_fn


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "target/bench/insn"
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    runs = collections.defaultdict(lambda: [collections.Counter(), 0, 0])
    for tb in sorted(glob.glob(os.path.join(d, "*.tb"))):
        base = tb[:-3]
        metric, backend, _ = os.path.basename(base).rsplit("-", 2)
        with open(base + ".n") as f:
            n = int(f.read().split()[0] or 0)
        if n <= 0:
            continue
        r = runs[(metric, backend)]
        r[0].update(attribute(tb, base + ".syms"))
        r[1] += n
        r[2] += 1
    metrics = sorted({m for m, _ in runs})
    for m in metrics:
        backends = sorted(b for mm, b in runs if mm == m)
        unit = "connection" if "cps" in m else "frame"
        print(f"== {m}: guest instructions per {unit} (samples: " +
              ", ".join(f"{b} {runs[(m, b)][2]}" for b in backends) + ")")
        per = {b: {k: v / runs[(m, b)][1] for k, v in runs[(m, b)][0].items()} for b in backends}
        print("   total: " + ", ".join(f"{b} {sum(per[b].values()):.0f}" for b in backends))
        mods = collections.defaultdict(dict)
        for b in backends:
            for (fn, mod), v in per[b].items():
                mods[mod][b] = mods[mod].get(b, 0) + v
        for mod in sorted(mods, key=lambda x: -max(mods[x].values())):
            if max(mods[mod].values()) < 1:
                continue
            print(f"   module {mod:12s} " + "  ".join(f"{b} {mods[mod].get(b, 0):9.0f}" for b in backends))
        keys = set()
        for b in backends:
            keys.update(per[b])
        rows = sorted(keys, key=lambda k: -max(per[b].get(k, 0) for b in backends))[:top]
        print("   " + "".join(f"{b:>10s}" for b in backends) + "  function [module]")
        for k in rows:
            print("   " + "".join(f"{per[b].get(k, 0):10.0f}" for b in backends) + f"  {k[0]} [{k[1]}]")
        print()


main()
