//! Scheduling a new connection: the service's scheduler (from `kmod/core/src/sched`) over the
//! service's dests in list order (newest first, as ip_vs keeps them), and the scheduler
//! callbacks the control path runs when a service's dests change.

use crate::corelib::sched::{
    self, dh::DhState, mh, rr::RrState, sh::ShState, wrr::WrrState, DestInfo, Packet,
};
use crate::rules::{Dest, Service, AF_INET6};
use crate::sys::bh::BhGuard;
use crate::sys::rcu::Writer;
use crate::uapi::svc_flags;
use core::sync::atomic::Ordering::Relaxed;
use kernel::alloc::KVVec;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The state schedulers keep between calls (`svc->sched_data`).
pub(crate) struct SchedState {
    rr: RrState,
    wrr: WrrState,
    dh: DhState,
    sh: ShState,
    /// Maglev lookup table (`IP_VS_MH_TAB_SIZE` slots), allocated when mh is bound.
    mh: KVVec<u16>,
    mh_setup: KVVec<mh::DestSetup>,
}

impl SchedState {
    pub(crate) const fn new() -> Self {
        Self {
            rr: RrState::new(),
            wrr: WrrState { cl: None, cw: 0, mw: 0, di: 1 },
            dh: DhState::new(),
            sh: ShState::new(),
            mh: KVVec::new(),
            mh_setup: KVVec::new(),
        }
    }
}

fn info(d: &Dest) -> DestInfo {
    let c = d.conf();
    DestInfo {
        weight: c.weight,
        last_weight: d.last_weight.load(Relaxed),
        activeconns: d.activeconns.load(Relaxed),
        inactconns: d.inactconns.load(Relaxed),
        overloaded: d.overloaded.load(Relaxed),
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

/// The Maglev table for `dests` (`ip_vs_mh_reassign`); the scratch and table are allocated
/// here, in process context. On allocation failure the table stays empty (mh then finds no
/// dest and the service answers port unreachable, as ip_vs would fail the command).
fn mh_reassign(st: &mut SchedState, dests: &[DestInfo]) {
    if st.mh.len() != mh::TAB_SIZE {
        st.mh.clear();
        if st.mh.reserve(mh::TAB_SIZE, GFP_KERNEL).is_err() {
            return;
        }
        for _ in 0..mh::TAB_SIZE {
            let _ = st.mh.push(mh::NONE, GFP_KERNEL);
        }
    }
    st.mh_setup.clear();
    for _ in 0..dests.len() {
        if st.mh_setup.push(mh::DestSetup::default(), GFP_KERNEL).is_err() {
            st.mh.fill(mh::NONE);
            return;
        }
    }
    if mh::reassign(&mut st.mh, &mut st.mh_setup, dests, &mh::HASH1, &mh::HASH2).is_err() {
        st.mh.fill(mh::NONE);
    }
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
    let name = crate::rules::sched_name(svc.conf().sched);
    // The Maglev table is built outside the packet path's lock (it takes a while), then
    // swapped in.
    let mut fresh_mh = None;
    if name == "mh" {
        let mut tmp = SchedState::new();
        mh_reassign(&mut tmp, &infos);
        fresh_mh = Some((tmp.mh, tmp.mh_setup));
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
    // dh and sh rebuild their tables on every change (`ip_vs_dh_reassign`, `ip_vs_sh_reassign`).
    match name {
        "dh" => st.dh.reassign(infos.len()),
        "sh" => st.sh.reassign(&infos),
        _ => {}
    }
    if let Some((t, s)) = fresh_mh {
        // The old table is freed after the lock is dropped.
        let old = (core::mem::replace(&mut st.mh, t), core::mem::replace(&mut st.mh_setup, s));
        drop(st);
        drop(old);
    }
}

fn random_below(n: u32) -> u32 {
    let mut b = [0u8; 4];
    crate::sys::bh::random_bytes(&mut b);
    if n == 0 {
        0
    } else {
        u32::from_ne_bytes(b) % n
    }
}

/// Picks the real server for a new connection from packet `pkt`, or `None` (no usable dest,
/// or a scheduler not wired into the packet path yet).
pub(crate) fn schedule(svc: &Service, dests: &[&Arc<Dest>], pkt: &Packet) -> Option<Arc<Dest>> {
    let mut infos = KVec::with_capacity(dests.len(), GFP_ATOMIC).ok()?;
    for d in dests {
        infos.push(info(d), GFP_ATOMIC).ok()?;
    }
    let conf = svc.conf();
    let fallback = conf.flags & svc_flags::SCHED_SH_FALLBACK != 0;
    let port = if conf.flags & svc_flags::SCHED_SH_PORT != 0 { pkt.hash_port() } else { 0 };
    let mut st = svc.sched_state.lock();
    let idx = match crate::rules::sched_name(conf.sched) {
        "rr" => st.rr.schedule(&infos),
        "wrr" => st.wrr.schedule(&infos),
        "lc" => sched::lc::schedule(&infos),
        "wlc" => sched::wlc::schedule(&infos),
        "sed" => sched::sed::schedule(&infos),
        "nq" => sched::nq::schedule(&infos),
        "fo" => sched::fo::schedule(&infos),
        "ovf" => sched::ovf::schedule(&infos),
        "dh" => st.dh.schedule(&infos, &pkt.daddr),
        "sh" => st.sh.schedule(&infos, &pkt.hash_addr(), port, fallback),
        "mh" => mh::schedule(&st.mh, &infos, &pkt.hash_addr(), port, fallback, &mh::HASH1),
        "twos" => sched::twos::schedule(&infos, random_below),
        _ => None,
    }?;
    dests.get(idx).map(|d| (*d).clone())
}
