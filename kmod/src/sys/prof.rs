// SPDX-License-Identifier: GPL-2.0
//! Section timers for the packet path, for `make module-prof` (built with `--cfg fvs_prof`).
//!
//! Under TCG `perf`'s software clock lands almost every sample in the idle loop, so the packet
//! path cannot be profiled by sampling there. A module built with `fvs_prof` instead times the
//! sections listed in [`Sec`] with `ktime_get_ns` and prints, when it is unloaded, how often
//! each ran and how long it took on average (kernel log, "fvs prof ..."). The `Timer` line is the
//! cost of one measurement (two clock reads), to be subtracted from each average.
//! In a normal build `prof!` is just its expression and nothing here is compiled in.

/// The timed sections.
#[derive(Clone, Copy)]
#[allow(dead_code)]
pub(crate) enum Sec {
    /// Two clock reads back to back: the cost of a measurement.
    Timer,
    /// A hook call at LOCAL_IN, FORWARD, LOCAL_OUT (trampoline to return, packets fvs did not
    /// already handle).
    HookLocalIn,
    HookForward,
    HookLocalOut,
    /// `NetState::of` and `parse_pkt` in the LOCAL_IN request hook.
    InState,
    InParse,
    /// `in_decide` (lookup, state, counters; `new_conn` for a new connection).
    InDecide,
    InLookup,
    InSetState,
    InCount,
    /// `new_conn` as a whole, then its service lookup, scheduling and linking.
    NewConn,
    NewSvc,
    NewSched,
    NewInsert,
    /// `xmit4` as a whole, then NAT's route, copy-on-write, rewrite and `NF_HOOK(LOCAL_OUT)`.
    Xmit,
    XmitRoute,
    XmitCow,
    XmitMangle,
    XmitLocalOut,
    /// The reply hook: parse, `out_l4` at FORWARD, its lookup, rewrite and reroute.
    OutParse,
    OutL4,
    OutLookup,
    OutSnat,
    OutReroute,
}

#[cfg(fvs_prof)]
mod imp {
    use super::Sec;
    use crate::sys::bindings as b;
    use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

    const N: usize = Sec::OutReroute as usize + 1;
    const NAMES: [&str; N] = [
        "Timer", "HookLocalIn", "HookForward", "HookLocalOut", "InState", "InParse", "InDecide", "InLookup",
        "InSetState", "InCount", "NewConn", "NewSvc", "NewSched", "NewInsert", "Xmit", "XmitRoute", "XmitCow",
        "XmitMangle", "XmitLocalOut", "OutParse", "OutL4", "OutLookup", "OutSnat", "OutReroute",
    ];
    static NS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];
    static CALLS: [AtomicU64; N] = [const { AtomicU64::new(0) }; N];

    pub(crate) fn now() -> u64 {
        // SAFETY: `ktime_get_ns` may be called from any context.
        unsafe { b::fvs_now_ns() }
    }

    pub(crate) fn add(s: Sec, t0: u64) {
        let t = now();
        NS[s as usize].fetch_add(t.wrapping_sub(t0), Relaxed);
        CALLS[s as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn report() {
        for (i, name) in NAMES.iter().enumerate() {
            let (n, ns) = (CALLS[i].load(Relaxed), NS[i].load(Relaxed));
            if n > 0 {
                kernel::pr_info!("fvs prof {}: calls={} ns={} avg_ns={}\n", name, n, ns, ns / n);
            }
        }
    }
}

#[cfg(fvs_prof)]
pub(crate) use imp::{add, now, report};

/// Prints the section times (`fvs_prof` builds); nothing otherwise.
#[cfg(not(fvs_prof))]
pub(crate) fn report() {}

/// `prof!(Sec::X, expr)`: evaluates `expr`, timing it as section `X` in an `fvs_prof` build.
#[macro_export]
macro_rules! prof {
    ($sec:expr, $e:expr) => {{
        #[cfg(fvs_prof)]
        let t0 = $crate::sys::prof::now();
        let r = $e;
        #[cfg(fvs_prof)]
        $crate::sys::prof::add($sec, t0);
        r
    }};
}
