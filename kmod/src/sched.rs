//! Scheduling a new connection: the service's scheduler (from `kmod/core/src/sched`) over the
//! service's dests in list order (newest first, as ip_vs keeps them), and the scheduler
//! callbacks the control path runs when a service's dests change.

use crate::corelib::sched::{
    self,
    dh::DhState,
    lblc::{self, Slot, Store},
    lblcr::{DestSet, SET_CAP},
    mh,
    rr::RrState,
    sh::ShState,
    wrr::WrrState,
    DestInfo, Packet,
};
use crate::rules::{Dest, InetAddr, Service, AF_INET6};
use crate::sys::bh::BhGuard;
use crate::sys::rcu::Writer;
use crate::sys::small::SmallVec;
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
    /// lblc/lblcr table and dest identities, allocated when lblc or lblcr is bound.
    lbl: Option<Lbl>,
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
            lbl: None,
        }
    }
}

/// Slots per chunk of a [`ChunkStore`]: a chunk fits in one page.
const fn per_chunk<V>() -> usize {
    let n = 4096 / core::mem::size_of::<Slot<V>>();
    if n == 0 {
        1
    } else {
        n
    }
}

/// The memory of an lblc/lblcr table: the bucket heads and the table of chunk pointers are
/// allocated in process context when the scheduler is bound (about 4 KB + 6 or 12 KB); entry
/// slots come in page-sized chunks allocated with GFP_ATOMIC when the table first needs them
/// (ip_vs allocates each entry with GFP_ATOMIC) and kept until the scheduler is unbound.
struct ChunkStore<V> {
    heads: KVVec<u32>,
    chunks: KVVec<KVec<Slot<V>>>,
}

impl<V: Copy + Default> ChunkStore<V> {
    fn new() -> Result<Self> {
        Ok(Self {
            heads: KVVec::from_elem(0u32, lblc::TAB_SIZE, GFP_KERNEL)?,
            chunks: KVVec::with_capacity(lblc::CAPACITY.div_ceil(per_chunk::<V>()), GFP_KERNEL)?,
        })
    }
}

impl<V: Copy + Default> Store<V> for ChunkStore<V> {
    fn heads(&self) -> &[u32] {
        &self.heads
    }
    fn heads_mut(&mut self) -> &mut [u32] {
        &mut self.heads
    }
    fn slot(&self, i: usize) -> Option<&Slot<V>> {
        self.chunks.get(i / per_chunk::<V>())?.get(i % per_chunk::<V>())
    }
    fn slot_mut(&mut self, i: usize) -> Option<&mut Slot<V>> {
        self.chunks.get_mut(i / per_chunk::<V>())?.get_mut(i % per_chunk::<V>())
    }
    fn len(&self) -> usize {
        self.chunks.len() * per_chunk::<V>()
    }
    fn grow(&mut self) -> bool {
        if self.chunks.len() >= self.chunks.capacity() {
            return false;
        }
        let Ok(mut c) = KVec::with_capacity(per_chunk::<V>(), GFP_ATOMIC) else {
            return false;
        };
        // Within the capacity just allocated: no further allocation.
        if c.extend_with(per_chunk::<V>(), Slot::default(), GFP_ATOMIC).is_err() {
            return false;
        }
        self.chunks.push_within_capacity(c).is_ok()
    }
}

type LblcrSet = DestSet<SET_CAP>;

enum LblTable {
    Lblc(lblc::Cache<u32, ChunkStore<u32>>),
    Lblcr(lblc::Cache<LblcrSet, ChunkStore<LblcrSet>>),
}

/// What identifies a real server within its service: ip_vs finds a deleted dest in its trash by
/// these (while a cache entry holds it) when it is added again.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Ident {
    af: u16,
    port: u16,
    addr: InetAddr,
}

fn ident(d: &Dest) -> Ident {
    Ident { af: d.af, port: d.port, addr: d.addr }
}

/// lblc/lblcr state: the table, and the keys its entries name dests by. Key `k` (non-zero) is
/// the identity `ids[k - 1]`; an identity keeps its key while it is in the service or named by
/// an entry (as ip_vs's cache holds a deleted dest in the trash), so a server deleted and
/// added again gets its entries back. `order` has the key of each dest in list order as of the
/// last change, so that the packet path finds keys without searching.
struct Lbl {
    table: LblTable,
    ids: KVVec<Option<Ident>>,
    order: KVVec<u32>,
}

impl Lbl {
    /// A fresh table (`init_svc`) for `idents` (the dests in list order), in process context.
    fn new(lblcr: bool, idents: &[Ident]) -> Result<Self> {
        let now = crate::sys::bh::jiffies();
        let hz = crate::sys::hz() as u64;
        let table = if lblcr {
            let mut c = lblc::Cache::with_store(ChunkStore::new()?);
            c.arm(now, hz);
            LblTable::Lblcr(c)
        } else {
            let mut c = lblc::Cache::with_store(ChunkStore::new()?);
            c.arm(now, hz);
            LblTable::Lblc(c)
        };
        let mut ids = KVVec::with_capacity(idents.len() * 2 + ID_SPARE, GFP_KERNEL)?;
        let mut order = KVVec::with_capacity(idents.len(), GFP_KERNEL)?;
        for (i, id) in idents.iter().enumerate() {
            ids.push(Some(*id), GFP_KERNEL)?;
            order.push(i as u32 + 1, GFP_KERNEL)?;
        }
        Ok(Self { table, ids, order })
    }

    fn is_lblcr(&self) -> bool {
        matches!(self.table, LblTable::Lblcr(_))
    }

    /// The key of identity `id`, the dest at list position `pos`; a new identity (a dest linked
    /// while its change is still on its way here) gets a free key, within the spare capacity
    /// kept for it. 0 if there is none (the dest is then chosen but not recorded).
    fn key_of(&mut self, pos: usize, id: &Ident) -> u32 {
        if let Some(&k) = self.order.get(pos) {
            if k != 0 && self.ids.get(k as usize - 1) == Some(&Some(*id)) {
                return k;
            }
        }
        if let Some(p) = self.ids.iter().position(|x| *x == Some(*id)) {
            return p as u32 + 1;
        }
        if let Some((p, x)) = self.ids.iter_mut().enumerate().find(|(_, x)| x.is_none()) {
            *x = Some(*id);
            return p as u32 + 1;
        }
        if self.ids.push_within_capacity(Some(*id)).is_ok() {
            return self.ids.len() as u32;
        }
        0
    }

    /// Marks every key an entry names.
    fn mark_referenced(&self, used: &mut [bool]) {
        let mut mark = |k: u32| {
            if let Some(u) = (k as usize).checked_sub(1).and_then(|i| used.get_mut(i)) {
                *u = true;
            }
        };
        match &self.table {
            LblTable::Lblc(c) => c.values().for_each(|&k| mark(k)),
            LblTable::Lblcr(c) => c.values().for_each(|s| s.keys().iter().for_each(|&k| mark(k))),
        }
    }

    fn schedule(&mut self, infos: &[DestInfo], daddr: &sched::Addr, env: &Env) -> Option<usize> {
        let now = crate::sys::bh::jiffies();
        let hz = crate::sys::hz() as u64;
        let exp = match &self.table {
            LblTable::Lblc(_) => env.lblc_expiration,
            LblTable::Lblcr(_) => env.lblcr_expiration,
        };
        match &mut self.table {
            LblTable::Lblc(c) => {
                c.run_due_checks(now, hz, exp);
                c.schedule(infos, daddr, now)
            }
            LblTable::Lblcr(c) => {
                c.run_due_checks(now, hz, exp);
                c.schedule(infos, daddr, now, exp)
            }
        }
    }
}

/// Spare identity slots kept beyond the identities in use, for dests the packet path sees
/// before their change reaches the scheduler state.
const ID_SPARE: usize = 16;

/// Brings an lblc/lblcr state up to date with the dest list `idents` (process context): the
/// identity table gets room (allocated outside the lock), every dest its key, `order` the
/// list's keys, and identities no longer in the service nor named by an entry are freed once
/// they are more than the dests in use.
fn lbl_changed(svc: &Service, idents: &[Ident], lblcr: bool) {
    let n = idents.len();
    // The table itself: allocated here if binding failed before (or was never done).
    let missing = {
        let _bh = BhGuard::new();
        let st = svc.sched_state.lock();
        !matches!(st.lbl.as_ref(), Some(l) if l.is_lblcr() == lblcr)
    };
    if missing {
        let Ok(fresh) = Lbl::new(lblcr, idents) else { return };
        let old = {
            let _bh = BhGuard::new();
            let mut st = svc.sched_state.lock();
            st.lbl.replace(fresh)
        };
        drop(old);
        return;
    }
    // Room for every identity in use plus the spare, in a new vector if need be.
    for _ in 0..3 {
        let (len, cap) = {
            let _bh = BhGuard::new();
            let st = svc.sched_state.lock();
            let Some(l) = st.lbl.as_ref() else { return };
            (l.ids.len(), l.ids.capacity())
        };
        if cap >= len + n + ID_SPARE {
            break;
        }
        let Ok(mut bigger) = KVVec::with_capacity((len + n) * 2 + ID_SPARE, GFP_KERNEL) else {
            return;
        };
        let old = {
            let _bh = BhGuard::new();
            let mut st = svc.sched_state.lock();
            let Some(l) = st.lbl.as_mut() else { return };
            if l.ids.len() > bigger.capacity() {
                continue;
            }
            for x in l.ids.iter() {
                let _ = bigger.push_within_capacity(*x);
            }
            core::mem::replace(&mut l.ids, bigger)
        };
        drop(old);
    }
    let (Ok(mut order), Ok(mut used)) = (
        KVVec::<u32>::with_capacity(n, GFP_KERNEL),
        KVVec::<bool>::with_capacity(0, GFP_KERNEL),
    ) else {
        return;
    };
    let ids_cap = {
        let _bh = BhGuard::new();
        let st = svc.sched_state.lock();
        st.lbl.as_ref().map_or(0, |l| l.ids.capacity())
    };
    if used.extend_with(ids_cap, false, GFP_KERNEL).is_err() {
        return;
    }
    let old_order = {
        let _bh = BhGuard::new();
        let mut st = svc.sched_state.lock();
        let Some(l) = st.lbl.as_mut() else { return };
        // Keys by identity (the list changed, so positions are not a hint).
        l.order.clear();
        for id in idents {
            let k = l.key_of(usize::MAX, id);
            let _ = order.push_within_capacity(k);
        }
        // Free identities neither in the service nor named by an entry, once they outnumber
        // the dests in use (the cache walk is bounded by the table's capacity).
        if l.ids.len() > 2 * n + ID_SPARE && l.ids.len() <= used.len() {
            for &k in order.iter() {
                if let Some(u) = (k as usize).checked_sub(1).and_then(|i| used.get_mut(i)) {
                    *u = true;
                }
            }
            l.mark_referenced(&mut used);
            for (x, &u) in l.ids.iter_mut().zip(used.iter()) {
                if !u {
                    *x = None;
                }
            }
            while l.ids.last() == Some(&None) {
                l.ids.pop();
            }
        }
        core::mem::replace(&mut l.order, order)
    };
    drop(old_order);
    drop(used);
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
    let mut idents = KVec::new();
    for d in svc.dests.iter_w(w) {
        if infos.push(info(d), GFP_KERNEL).is_err() || idents.push(ident(d), GFP_KERNEL).is_err() {
            break;
        }
    }
    let name = crate::rules::sched_name(svc.conf().sched);
    let lbl = matches!(name, "lblc" | "lblcr");
    // The Maglev table is built outside the packet path's lock (it takes a while), then
    // swapped in.
    let mut fresh_mh = None;
    if name == "mh" {
        let mut tmp = SchedState::new();
        mh_reassign(&mut tmp, &infos);
        fresh_mh = Some((tmp.mh, tmp.mh_setup));
    }
    // A new lblc/lblcr table (`init_svc`), allocated here, in process context.
    let mut fresh_lbl = None;
    if lbl && matches!(ch, Change::Bind) {
        fresh_lbl = Lbl::new(name == "lblcr", &idents).ok();
    }
    let bh = BhGuard::new();
    let mut st = svc.sched_state.lock();
    // What the lock gave up is freed after it is dropped.
    let mut old_state = None;
    match ch {
        Change::Bind => {
            old_state = Some(core::mem::replace(&mut *st, SchedState::new()));
            st.wrr = WrrState::new(&infos);
            st.lbl = fresh_lbl;
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
    let mut old_mh = None;
    if let Some((t, s)) = fresh_mh {
        old_mh = Some((core::mem::replace(&mut st.mh, t), core::mem::replace(&mut st.mh_setup, s)));
    }
    drop(st);
    drop(bh);
    drop(old_state);
    drop(old_mh);
    // lblc/lblcr: every dest gets its key (a bind with a failed allocation is retried here).
    if lbl && matches!(ch, Change::Bind | Change::Added | Change::Removed(_)) {
        lbl_changed(svc, &idents, name == "lblcr");
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
/// Namespace settings schedulers read (the lblc_expiration / lblcr_expiration sysctls, in
/// jiffies).
pub(crate) struct Env {
    pub(crate) lblc_expiration: u64,
    pub(crate) lblcr_expiration: u64,
}

pub(crate) fn schedule(svc: &Service, dests: &[&Arc<Dest>], pkt: &Packet, env: &Env) -> Option<Arc<Dest>> {
    // On the stack for up to 16 real servers (no allocation per new connection).
    let mut infos: SmallVec<DestInfo, 16> = SmallVec::new();
    for d in dests {
        infos.push(info(d), GFP_ATOMIC).ok()?;
    }
    let infos = infos.as_mut_slice();
    let conf = svc.conf();
    let fallback = conf.flags & svc_flags::SCHED_SH_FALLBACK != 0;
    let port = if conf.flags & svc_flags::SCHED_SH_PORT != 0 { pkt.hash_port() } else { 0 };
    let name = crate::rules::sched_name(conf.sched);
    // Softirqs off while the lock is held: requests of local clients are scheduled from the
    // LOCAL_OUT hook in process context, where a softirq on this CPU could otherwise find the
    // lock taken (ip_vs takes `sched_lock` with spin_lock_bh). Nests in softirq context.
    let _bh = BhGuard::new();
    let mut st = svc.sched_state.lock();
    let idx = match name {
        "rr" => st.rr.schedule(infos),
        "wrr" => st.wrr.schedule(infos),
        "lc" => sched::lc::schedule(infos),
        "wlc" => sched::wlc::schedule(infos),
        "sed" => sched::sed::schedule(infos),
        "nq" => sched::nq::schedule(infos),
        "fo" => sched::fo::schedule(infos),
        "ovf" => sched::ovf::schedule(infos),
        "dh" => st.dh.schedule(infos, &pkt.daddr),
        "sh" => st.sh.schedule(infos, &pkt.hash_addr(), port, fallback),
        "mh" => mh::schedule(&st.mh, infos, &pkt.hash_addr(), port, fallback, &mh::HASH1),
        "twos" => sched::twos::schedule(infos, random_below),
        "lblc" | "lblcr" => match st.lbl.as_mut() {
            Some(l) if l.is_lblcr() == (name == "lblcr") => {
                for (i, (x, d)) in infos.iter_mut().zip(dests.iter()).enumerate() {
                    x.key = l.key_of(i, &ident(d));
                    // A dest deleted while this packet was on its way is no longer available
                    // (ip_vs: not IP_VS_DEST_CF_AVAILABLE).
                    x.available = d.available.load(Relaxed);
                }
                l.schedule(infos, &pkt.daddr, env)
            }
            // No table (its allocation failed, or the scheduler is being bound): the weighted
            // least-connection choice lblc/lblcr make on a miss, not recorded.
            _ => sched::wlc::schedule(infos),
        },
        _ => None,
    }?;
    dests.get(idx).map(|d| (*d).clone())
}
