//! Scheduling a new connection: the service's scheduler (from `kmod/core/src/sched`) over the
//! service's dests in list order (newest first, as ip_vs keeps them).

use crate::corelib::sched::{self, rr::RrState, wrr::WrrState, DestInfo};
use crate::rules::{Dest, Service, AF_INET6};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The state schedulers keep between calls (`svc->sched_data`).
pub(crate) struct SchedState {
    rr: RrState,
    wrr: Option<WrrState>,
}

impl SchedState {
    pub(crate) const fn new() -> Self {
        Self { rr: RrState::new(), wrr: None }
    }
}

fn info(d: &Dest) -> DestInfo {
    let c = d.conf();
    DestInfo {
        weight: c.weight,
        last_weight: c.weight,
        activeconns: d.activeconns.load(Relaxed),
        inactconns: d.inactconns.load(Relaxed),
        overloaded: false,
        available: true,
        addr: if d.af == AF_INET6 {
            sched::Addr::V6(d.addr)
        } else {
            sched::Addr::V4([d.addr[0], d.addr[1], d.addr[2], d.addr[3]])
        },
        port: d.port,
        key: 0,
    }
}

/// Picks the real server for a new connection, or `None` (no usable dest, or a scheduler not
/// wired into the packet path yet).
pub(crate) fn schedule(svc: &Service, dests: &[&Arc<Dest>]) -> Option<Arc<Dest>> {
    let mut infos = KVec::with_capacity(dests.len(), GFP_ATOMIC).ok()?;
    for d in dests {
        infos.push(info(d), GFP_ATOMIC).ok()?;
    }
    let mut st = svc.sched_state.lock();
    if svc.sched_changed.swap(false, Relaxed) {
        // The dests or weights changed: start over (ip_vs's dest_changed hooks, simplified).
        *st = SchedState::new();
    }
    let idx = match crate::rules::sched_name(svc.conf().sched) {
        "rr" => st.rr.schedule(&infos),
        "wrr" => {
            let w = st.wrr.get_or_insert_with(|| WrrState::new(&infos));
            w.schedule(&infos)
        }
        "lc" => sched::lc::schedule(&infos),
        "wlc" => sched::wlc::schedule(&infos),
        "sed" => sched::sed::schedule(&infos),
        "nq" => sched::nq::schedule(&infos),
        "fo" => sched::fo::schedule(&infos),
        "ovf" => sched::ovf::schedule(&infos),
        _ => None,
    }?;
    dests.get(idx).map(|d| (*d).clone())
}
