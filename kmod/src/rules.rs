//! The rules table of one namespace: virtual services and their real servers (dests).
//!
//! Services and dests are `Arc`s linked into RCU lists: the packet path finds them under an RCU
//! read lock without taking the control mutex; the control path (serialised by the namespace's
//! `WriteLock`) links, edits (atomically, field by field, as ip_vs does) and unlinks them, and
//! frees unlinked entries after a grace period. Connections will hold `Arc<Dest>` references, so
//! a deleted dest lives on while connections use it.

use crate::corelib::estimator::{self as est, Estimator};
use crate::sys::percpu::PerCpuU64s;
use crate::sys::rcu::{RcuGuard, RcuList, Retired, Writer};
use crate::uapi::{self, svc_flags};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::{new_spinlock, Arc, SpinLock};

pub(crate) const AF_INET: u16 = uapi::AF_INET;
pub(crate) const AF_INET6: u16 = uapi::AF_INET6;

/// An address as `union nf_inet_addr`: IPv4 in the first 4 bytes (network order), rest zero.
pub(crate) type InetAddr = [u8; 16];

/// Schedulers fvs provides, by ip_vs name.
pub(crate) const SCHEDULERS: [&str; 14] =
    ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"];
/// Index meaning "none" (no scheduler bound, as ip_vs allows).
pub(crate) const SCHED_NONE: u8 = 0xff;

pub(crate) fn sched_by_name(name: &[u8]) -> Option<u8> {
    if name == b"none" {
        return Some(SCHED_NONE);
    }
    SCHEDULERS.iter().position(|s| s.as_bytes() == name).map(|i| i as u8)
}

pub(crate) fn sched_name(idx: u8) -> &'static str {
    SCHEDULERS.get(idx as usize).copied().unwrap_or("none")
}

/// Persistence engines fvs knows (`--pe`): ip_vs has one, "sip".
pub(crate) const PE_NONE: u8 = 0;
pub(crate) const PE_SIP: u8 = 1;

/// Traffic counters and rates of a service, a real server or a namespace (`struct
/// ip_vs_stats`): per-CPU counters the packet path adds to without atomics, the values at the
/// last zeroing (`kstats0`), and the rate estimator's state, sampled every 2 seconds.
pub(crate) struct Stats {
    pcpu: PerCpuU64s<5>,
    base: [AtomicU64; 5],
    /// `Estimator::last` then `Estimator::rate`; written only under the namespace's
    /// estimator lock.
    est: [AtomicU64; 10],
}

/// A snapshot of `Stats` (the same ten counters ip_vs reports everywhere).
pub(crate) type StatsView = crate::corelib::procfmt::Stats;

impl Stats {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self { pcpu: PerCpuU64s::new()?, base: Default::default(), est: Default::default() })
    }

    /// A new connection.
    pub(crate) fn conn(&self) {
        self.pcpu.add(est::CONNS, 1);
    }

    /// A packet towards the real server (`out == false`) or back to the client, counted on
    /// three sets of statistics at once (real server, service, namespace).
    pub(crate) fn packet3(a: &Stats, b: &Stats, c: &Stats, out: bool, len: u32) {
        let (i1, i2) = if out { (est::OUTPKTS, est::OUTBYTES) } else { (est::INPKTS, est::INBYTES) };
        PerCpuU64s::add2_x3(&a.pcpu, &b.pcpu, &c.pcpu, i1, 1, i2, len as u64);
    }

    fn est_load(&self) -> Estimator {
        let mut e = Estimator::default();
        for i in 0..5 {
            e.last[i] = self.est[i].load(Relaxed);
            e.rate[i] = self.est[5 + i].load(Relaxed);
        }
        e
    }

    fn est_store(&self, e: &Estimator) {
        for i in 0..5 {
            self.est[i].store(e.last[i], Relaxed);
            self.est[5 + i].store(e.rate[i], Relaxed);
        }
    }

    /// One estimator sample; the caller holds the namespace's estimator lock.
    pub(crate) fn estimate(&self) {
        let mut e = self.est_load();
        e.sample(&self.pcpu.sums());
        self.est_store(&e);
    }

    /// Counters since the last zeroing, and the estimated rates.
    pub(crate) fn view(&self) -> StatsView {
        let k = self.pcpu.sums();
        let c = |i: usize| k[i].wrapping_sub(self.base[i].load(Relaxed));
        let r = self.est_load().read();
        StatsView {
            conns: c(est::CONNS),
            inpkts: c(est::INPKTS),
            outpkts: c(est::OUTPKTS),
            inbytes: c(est::INBYTES),
            outbytes: c(est::OUTBYTES),
            cps: r[est::CONNS],
            inpps: r[est::INPKTS],
            outpps: r[est::OUTPKTS],
            inbps: r[est::INBYTES],
            outbps: r[est::OUTBYTES],
        }
    }

    /// `ip_vs_zero_stats`: counters restart from here, rates from zero; the caller holds the
    /// namespace's estimator lock.
    pub(crate) fn zero(&self) {
        let k = self.pcpu.sums();
        for (b, v) in self.base.iter().zip(k.iter()) {
            b.store(*v, Relaxed);
        }
        let mut e = Estimator::default();
        e.zero(&k);
        self.est_store(&e);
    }
}

/// What identifies a virtual service.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServiceKey {
    pub(crate) af: u16,
    pub(crate) protocol: u16,
    pub(crate) addr: InetAddr,
    /// Host order.
    pub(crate) port: u16,
    /// Non-zero for firewall-mark services (then protocol/addr/port are not part of the key).
    pub(crate) fwmark: u32,
}

impl ServiceKey {
    fn matches(&self, o: &ServiceKey) -> bool {
        if self.fwmark != 0 || o.fwmark != 0 {
            return self.af == o.af && self.fwmark == o.fwmark;
        }
        self.af == o.af && self.protocol == o.protocol && self.port == o.port && addr_eq(self.af, &self.addr, &o.addr)
    }

    fn bucket(&self) -> usize {
        let mut h: u32 = if self.fwmark != 0 { self.fwmark } else { self.protocol as u32 ^ self.port as u32 };
        let n = if self.af == AF_INET6 { 16 } else { 4 };
        for chunk in self.addr[..n].chunks(4) {
            h ^= u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        h = h.wrapping_mul(0x9e37_79b9);
        (h >> (32 - SVC_TAB_BITS)) as usize
    }
}

pub(crate) fn addr_eq(af: u16, a: &InetAddr, b: &InetAddr) -> bool {
    if af == AF_INET6 {
        a == b
    } else {
        a[..4] == b[..4]
    }
}

/// The mutable settings of a service (all set together by NEW/SET_SERVICE).
#[derive(Clone, Copy)]
pub(crate) struct ServiceConf {
    pub(crate) sched: u8,
    pub(crate) pe: u8,
    pub(crate) flags: u32,
    /// Persistence timeout in jiffies, as ip_vs keeps it (`svc->timeout`).
    pub(crate) timeout: u32,
    /// IPv4: the netmask as a `__be32` (network byte order in memory); IPv6: prefix length.
    pub(crate) netmask: u32,
}

#[pin_data]
pub(crate) struct Service {
    pub(crate) key: ServiceKey,
    /// Scheduler state, taken by the packet path when it schedules a new connection.
    #[pin]
    pub(crate) sched_state: SpinLock<crate::sched::SchedState>,
    sched: AtomicU8,
    pe: AtomicU8,
    flags: AtomicU32,
    timeout: AtomicU32,
    netmask: AtomicU32,
    pub(crate) dests: RcuList<Arc<Dest>>,
    pub(crate) stats: Stats,
    /// Conntrack was turned on in the namespace for this FTP service's NAT real servers
    /// (`svc->conntrack_afmask`); turned off again when the service goes.
    pub(crate) ct_reg: AtomicBool,
}

impl Service {
    pub(crate) fn conf(&self) -> ServiceConf {
        ServiceConf {
            sched: self.sched.load(Relaxed),
            pe: self.pe.load(Relaxed),
            flags: self.flags.load(Relaxed),
            timeout: self.timeout.load(Relaxed),
            netmask: self.netmask.load(Relaxed),
        }
    }

    /// Stores new settings; true when the scheduler changed (the caller binds the new one).
    pub(crate) fn set_conf(&self, c: &ServiceConf) -> bool {
        let old = self.sched.swap(c.sched, Relaxed);
        self.pe.store(c.pe, Relaxed);
        self.flags.store(c.flags | svc_flags::HASHED, Relaxed);
        self.timeout.store(c.timeout, Relaxed);
        self.netmask.store(c.netmask, Relaxed);
        old != c.sched
    }

    pub(crate) fn find_dest_w<'a>(&'a self, w: Writer<'a>, af: u16, addr: &InetAddr, port: u16) -> Option<&'a Arc<Dest>> {
        self.dests.iter_w(w).find(|d| d.af == af && d.port == port && addr_eq(af, &d.addr, addr))
    }

    pub(crate) fn add_dest(&self, w: Writer<'_>, d: Arc<Dest>) -> Result {
        self.dests.push_front(d, w)?;
        crate::sched::dests_changed(self, w, crate::sched::Change::Added);
        Ok(())
    }

    pub(crate) fn del_dest(&self, w: Writer<'_>, af: u16, addr: &InetAddr, port: u16) -> Option<Retired<Arc<Dest>>> {
        let m = |d: &Arc<Dest>| d.af == af && d.port == port && addr_eq(af, &d.addr, addr);
        let idx = self.dests.iter_w(w).position(m)?;
        if let Some(d) = self.find_dest_w(w, af, addr, port) {
            d.available.store(false, Relaxed);
            // Packets no longer go to it: its route (and the device it holds) is let go.
            d.route.reset();
        }
        let r = self.dests.remove_first(w, m);
        crate::sched::dests_changed(self, w, crate::sched::Change::Removed(idx));
        r
    }

    /// The service leaves the table: none of its dests is available any more.
    fn retire_dests(&self, w: Writer<'_>) {
        for d in self.dests.iter_w(w) {
            d.available.store(false, Relaxed);
            d.route.reset();
        }
    }
}

/// Settings of a real server (all set together by NEW/SET_DEST).
#[derive(Clone, Copy)]
pub(crate) struct DestConf {
    pub(crate) conn_flags: u32,
    pub(crate) weight: i32,
    pub(crate) u_threshold: u32,
    pub(crate) l_threshold: u32,
    pub(crate) tun_type: u8,
    /// Host order.
    pub(crate) tun_port: u16,
    pub(crate) tun_flags: u16,
}

pub(crate) struct Dest {
    pub(crate) af: u16,
    pub(crate) addr: InetAddr,
    /// Host order.
    pub(crate) port: u16,
    conn_flags: AtomicU32,
    weight: AtomicI32,
    u_threshold: AtomicU32,
    l_threshold: AtomicU32,
    tun_type: AtomicU8,
    tun_port: AtomicU16,
    tun_flags: AtomicU16,
    /// The latest non-zero weight (mh keeps a drained server's table slots).
    pub(crate) last_weight: AtomicI32,
    pub(crate) activeconns: AtomicI32,
    pub(crate) inactconns: AtomicI32,
    pub(crate) persistconns: AtomicI32,
    pub(crate) stats: Stats,
    /// Linked in its service (`IP_VS_DEST_CF_AVAILABLE`): a deleted dest that connections still
    /// use no longer counts their traffic, as in ip_vs.
    pub(crate) available: AtomicBool,
    /// `IP_VS_DEST_F_OVERLOAD`: connections reached the upper threshold; no new ones until
    /// they fall below the lower one.
    pub(crate) overloaded: AtomicBool,
    /// fvs's drain (`ipvsadm-rs -d ... --drain SECONDS`): the jiffies by which the real server
    /// is removed at the latest; 0 when it is not draining. While draining its weight is 0.
    drain_until: AtomicU64,
    /// The output route to the real server, cached for the packets sent to it.
    pub(crate) route: crate::sys::dst::DstCache,
}

impl Dest {
    pub(crate) fn new(af: u16, addr: InetAddr, port: u16, c: &DestConf) -> Result<Arc<Dest>> {
        let stats = Stats::new()?;
        let d = Arc::new(
            Dest {
                af,
                addr,
                port,
                conn_flags: AtomicU32::new(0),
                weight: AtomicI32::new(0),
                u_threshold: AtomicU32::new(0),
                l_threshold: AtomicU32::new(0),
                tun_type: AtomicU8::new(0),
                tun_port: AtomicU16::new(0),
                tun_flags: AtomicU16::new(0),
                last_weight: AtomicI32::new(0),
                activeconns: AtomicI32::new(0),
                inactconns: AtomicI32::new(0),
                persistconns: AtomicI32::new(0),
                stats,
                available: AtomicBool::new(true),
                overloaded: AtomicBool::new(false),
                drain_until: AtomicU64::new(0),
                route: crate::sys::dst::DstCache::new(),
            },
            GFP_KERNEL,
        )?;
        d.set_conf(c);
        Ok(d)
    }

    pub(crate) fn conf(&self) -> DestConf {
        DestConf {
            conn_flags: self.conn_flags.load(Relaxed),
            weight: self.weight.load(Relaxed),
            u_threshold: self.u_threshold.load(Relaxed),
            l_threshold: self.l_threshold.load(Relaxed),
            tun_type: self.tun_type.load(Relaxed),
            tun_port: self.tun_port.load(Relaxed),
            tun_flags: self.tun_flags.load(Relaxed),
        }
    }

    /// Whether the real server is draining (see `start_drain`).
    pub(crate) fn draining(&self) -> bool {
        self.drain_until.load(Relaxed) != 0
    }

    /// The jiffies by which a draining real server goes (0: not draining).
    pub(crate) fn drain_until(&self) -> u64 {
        self.drain_until.load(Relaxed)
    }

    /// Starts (or restarts) draining for `secs` seconds from `now`: weight 0, so no scheduler
    /// picks it and its persistence templates are not used again; its connections continue.
    pub(crate) fn start_drain(&self, now: u64, secs: u32) {
        self.set_conf(&DestConf { weight: 0, ..self.conf() });
        let until = now.wrapping_add(secs as u64 * crate::sys::hz() as u64);
        self.drain_until.store(until.max(1), Relaxed);
    }

    /// An explicit edit (`-e`) ends draining: the real server keeps the settings it is given.
    pub(crate) fn stop_drain(&self) {
        self.drain_until.store(0, Relaxed);
    }

    /// Active plus inactive connections (`totalconns`).
    pub(crate) fn totalconns(&self) -> u32 {
        (self.activeconns.load(Relaxed) + self.inactconns.load(Relaxed)).max(0) as u32
    }

    /// The lower threshold in use: the configured one, or 3/4 of the upper.
    fn l_threshold_val(&self) -> u32 {
        let (u, l) = (self.u_threshold.load(Relaxed), self.l_threshold.load(Relaxed));
        if l != 0 {
            l
        } else {
            u - (u >> 2)
        }
    }

    /// `__ip_vs_dest_update_overload`: `mode` > 0 after a connection was bound, < 0 after one
    /// was released, 0 after the thresholds changed.
    pub(crate) fn update_overload(&self, mode: i32) {
        let u = self.u_threshold.load(Relaxed);
        if u == 0 {
            self.overloaded.store(false, Relaxed);
            return;
        }
        let l = self.l_threshold_val();
        let conns = self.totalconns();
        if conns >= if mode > 0 { l } else { u } {
            self.overloaded.store(true, Relaxed);
        } else if conns < if mode < 0 { u } else { l } {
            self.overloaded.store(false, Relaxed);
        }
    }

    /// A connection was bound: overloaded when the total reaches the upper threshold.
    pub(crate) fn conn_bound(&self) {
        let u = self.u_threshold.load(Relaxed);
        if u != 0 && self.totalconns() == u {
            self.update_overload(1);
        }
    }

    /// A connection was released: no longer overloaded below the lower threshold.
    pub(crate) fn conn_released(&self) {
        if self.u_threshold.load(Relaxed) != 0 && self.totalconns() + 1 == self.l_threshold_val() {
            self.update_overload(-1);
        }
    }

    pub(crate) fn set_conf(&self, c: &DestConf) {
        // As `__ip_vs_update_dest`: the cached route goes with an edit (the next packet looks
        // it up again).
        self.route.reset();
        let thresholds_changed =
            self.u_threshold.load(Relaxed) != c.u_threshold || self.l_threshold.load(Relaxed) != c.l_threshold;
        self.tun_type.store(c.tun_type, Relaxed);
        self.tun_port.store(c.tun_port, Relaxed);
        self.tun_flags.store(c.tun_flags, Relaxed);
        self.u_threshold.store(c.u_threshold, Relaxed);
        self.l_threshold.store(c.l_threshold, Relaxed);
        self.weight.store(c.weight, Relaxed);
        if c.weight > 0 {
            self.last_weight.store(c.weight, Relaxed);
        }
        if thresholds_changed {
            self.update_overload(0);
        }
        self.conn_flags.store(c.conn_flags, Relaxed);
    }
}

const SVC_TAB_BITS: u32 = 8;
const SVC_TAB_SIZE: usize = 1 << SVC_TAB_BITS;

/// All services of a namespace, hashed by key (address services and fwmark services apart).
pub(crate) struct RuleTable {
    svc: [RcuList<Arc<Service>>; SVC_TAB_SIZE],
    fwm: [RcuList<Arc<Service>>; SVC_TAB_SIZE],
}

impl RuleTable {
    pub(crate) const fn new() -> Self {
        Self {
            svc: [const { RcuList::new() }; SVC_TAB_SIZE],
            fwm: [const { RcuList::new() }; SVC_TAB_SIZE],
        }
    }

    fn bucket(&self, k: &ServiceKey) -> &RcuList<Arc<Service>> {
        let b = k.bucket() & (SVC_TAB_SIZE - 1);
        if k.fwmark != 0 {
            &self.fwm[b]
        } else {
            &self.svc[b]
        }
    }

    /// Finds a service for the packet path.
    pub(crate) fn find<'g>(&'g self, g: &'g RcuGuard, k: &ServiceKey) -> Option<&'g Arc<Service>> {
        self.bucket(k).iter(g).find(|s| s.key.matches(k))
    }

    /// Finds a service for the control path.
    pub(crate) fn find_w<'a>(&'a self, w: Writer<'a>, k: &ServiceKey) -> Option<&'a Arc<Service>> {
        self.bucket(k).iter_w(w).find(|s| s.key.matches(k))
    }

    pub(crate) fn add(&self, w: Writer<'_>, key: ServiceKey, conf: &ServiceConf) -> Result<Arc<Service>> {
        let stats = Stats::new()?;
        let svc = Arc::pin_init(
            pin_init!(Service {
                key,
                sched_state <- new_spinlock!(crate::sched::SchedState::new(), "fvs_sched"),
                sched: AtomicU8::new(0),
                pe: AtomicU8::new(0),
                flags: AtomicU32::new(0),
                timeout: AtomicU32::new(0),
                netmask: AtomicU32::new(0),
                dests: RcuList::new(),
                stats,
                ct_reg: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        svc.set_conf(conf);
        crate::sched::dests_changed(&svc, w, crate::sched::Change::Bind);
        self.bucket(&key).push_front(svc.clone(), w)?;
        Ok(svc)
    }

    /// Unlinks a service (its dests go with it once no reader can see it).
    pub(crate) fn del(&self, w: Writer<'_>, k: &ServiceKey) -> Option<Retired<Arc<Service>>> {
        if let Some(s) = self.find_w(w, k) {
            s.retire_dests(w);
        }
        self.bucket(k).remove_first(w, |s| s.key.matches(k))
    }

    /// Unlinks every service; all are freed after one grace period.
    pub(crate) fn flush(&self, w: Writer<'_>) {
        for s in self.iter_w(w) {
            s.retire_dests(w);
        }
        let mut retired = Retired::new(w);
        for l in Iterator::chain(self.svc.iter(), self.fwm.iter()) {
            l.take_all(w, &mut retired);
        }
        drop(retired);
    }

    /// Every service, address services first (as ip_vs lists them), as the writer.
    pub(crate) fn iter_w<'a>(&'a self, w: Writer<'a>) -> impl Iterator<Item = &'a Arc<Service>> {
        Iterator::chain(self.svc.iter(), self.fwm.iter()).flat_map(move |l| l.iter_w(w))
    }

    /// Every service under an RCU read lock.
    pub(crate) fn iter<'g>(&'g self, g: &'g RcuGuard) -> impl Iterator<Item = &'g Arc<Service>> {
        Iterator::chain(self.svc.iter(), self.fwm.iter()).flat_map(move |l| l.iter(g))
    }
}
