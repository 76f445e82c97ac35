//! Scheduling a new connection: the service's scheduler (from `kmod/core/src/sched`) over the
//! service's dests in list order (newest first, as ip_vs keeps them).

use crate::corelib::sched::{self, rr::RrState, wrr::WrrState, DestInfo};
use crate::rules::{Dest, Service, AF_INET6};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;
use crate::sys::bh::BhGuard;
use crate::sys::rcu::Writer;

/// The state schedulers keep between calls (`svc->sched_data`).
pub(crate) struct SchedState {
    rr: RrState,
    wrr: WrrState,
}

impl SchedState {
    pub(crate) const fn new() -> Self {
        Self { rr: RrState::new(), wrr: WrrState { cl: None, cw: 0, mw: 0, di: 1 } }
    }
}

/// What the control path changed in a service (the scheduler callbacks ip_vs_ctl calls).
pub(crate) enum Change {
    /// A scheduler was bound: new service, or `-E` with another scheduler (`init_service`).
    Bind,
    /// A dest was linked at the head of the list (`add_dest`).
    Added,
    /// The dest at this list position was unlinked (`del_dest`).
    Removed(usize),
    /// A dest's settings changed (`upd_dest`).
    Updated,
}

/// Updates the scheduler state after a change, under the namespace's control lock and with
/// the service's dest list as it now is, so that state carries across changes as in ip_vs
/// (e.g. wrr's current weight).
pub(crate) fn dests_changed(svc: &Service, w: Writer<'_>, ch: Change) {
    let mut infos = KVec::new();
    for d in svc.dests.iter_w(w) {
        if infos.push(info(d), GFP_KERNEL).is_err() {
            break;
        }
    }
    let _bh = BhGuard::new();
    let mut st = svc.sched_state.lock();
    match ch {
        Change::Bind => {
            *st = SchedState::new();
            st.wrr = WrrState::new(&infos);
        }
        Change::Added => {
            st.rr.dest_added(0);
            st.wrr.dest_changed(&infos);
        }
        Change::Removed(i) => {
            st.rr.dest_removed(i);
            st.wrr.dest_changed(&infos);
        }
        Change::Updated => st.wrr.dest_changed(&infos),
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
    let idx = match crate::rules::sched_name(svc.conf().sched) {
        "rr" => st.rr.schedule(&infos),
        "wrr" => st.wrr.schedule(&infos),
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
