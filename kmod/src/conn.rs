//! The connection table of one namespace: which real server each client flow goes to.
//!
//! Entries come from the `fvs_conn` slab cache and live in an `RcuHash` (sys/rcuhash.rs):
//! packets find their entry without taking a lock; inserting and removing lock one bucket.
//! Entries hash by the client end (protocol, address, port), which packets of both directions
//! carry, so one chain serves requests and replies. What changes per packet (state, flags,
//! expiry) is atomic in the entry; entries expire through the namespace's sweeper.

use crate::corelib::conn_hash::{self, ConnAddr};
use crate::corelib::hash::SipKey;
use crate::rules::{Dest, InetAddr, Service, AF_INET6};
use crate::sys::ct::CtNet;
use crate::sys::net::NetRef;
use crate::sys::rcu::RcuGuard;
use crate::sys::rcuhash::{EntryRef, LinkSlot, RcuHash, SlabCache, SlabObject};
use crate::uapi::conn_flags;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::Arc;

/// What identifies a flow from the client side.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnKey {
    /// AF_INET or AF_INET6, in a byte (keeps the entry at 104 bytes: 128 with its node).
    pub(crate) af: u8,
    pub(crate) protocol: u8,
    pub(crate) caddr: InetAddr,
    pub(crate) cport: u16,
    pub(crate) vaddr: InetAddr,
    pub(crate) vport: u16,
}

/// One connection (`struct ip_vs_conn`, reduced to what forwarding needs).
pub(crate) struct Conn {
    pub(crate) key: ConnKey,
    pub(crate) daddr: InetAddr,
    pub(crate) dport: u16,
    /// Connections this persistence template controls (`n_control`): a template with
    /// controlled connections is never removed.
    n_control: AtomicU32,
    /// Packets from the client (`in_pkts`: the random entry drop spares busy connections).
    pub(crate) in_pkts: AtomicU32,
    /// The persistence template (or FTP control connection) that controls this connection
    /// (`cp->control`); for a template, its persistence-engine data instead (`cp->pe_data`:
    /// the SIP Call-ID), if any.
    control: LinkSlot<Conn, PeData>,
    /// IP_VS_CONN_F_* in bits 0-31, the protocol state index (`IP_VS_*_S_*`) in 32-39, and
    /// what the sync master remembers of the last sync (`SyncMark`, ip_vs's `old_state` and
    /// `sync_endtime`) in 40-63.
    sf: AtomicU64,
    /// Expiry time in jiffies.
    expires: AtomicU64,
    pub(crate) dest: Arc<Dest>,
    /// The service the connection was scheduled by (its statistics count the traffic).
    pub(crate) svc: Arc<Service>,
}

/// Persistence-engine data (`IP_VS_PEDATA_MAXLEN` bytes at most). Aligned for `LinkSlot`'s
/// tag bit.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C, align(8))]
pub(crate) struct PeData {
    len: u8,
    buf: [u8; 255],
}

impl PeData {
    /// `None` if `d` is longer than 255 bytes.
    pub(crate) fn new(d: &[u8]) -> Option<Self> {
        let mut p = PeData { len: u8::try_from(d.len()).ok()?, buf: [0; 255] };
        p.buf[..d.len()].copy_from_slice(d);
        Some(p)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// The bits of `Conn::sf` that hold the sync mark.
const SF_SYNC_MASK: u64 = 0xff_ffff << 40;

/// `IP_VS_CONN_F_INACTIVE`: the entry counts in the dest's inactconns, else in activeconns.
pub(crate) const F_INACTIVE: u32 = conn_flags::INACTIVE;

static CONN_CACHE: SlabCache = SlabCache::new();

impl SlabObject for Conn {
    fn cache() -> &'static SlabCache {
        &CONN_CACHE
    }

    fn holds(&self) -> Option<&AtomicU32> {
        Some(&self.n_control)
    }
}

/// `IP_VS_CONN_F_TEMPLATE`: a persistence template (client network -> real server).
pub(crate) const F_TEMPLATE: u32 = conn_flags::TEMPLATE;
/// fvs-internal: a template invalidated by `ip_vs_check_template` (its real server went away);
/// lookups skip it and it goes once nothing holds it. Never reported.
const F_TEMPLATE_DEAD: u32 = 1 << 31;
/// fvs-internal: an application helper (the FTP helper, `cp->app`) watches this NAT control
/// connection. Never reported.
pub(crate) const F_APP: u32 = 1 << 30;
/// fvs-internal: what the FTP helper expects next on its control connection (`cp->app_data`):
/// 0 nothing (`IP_VS_FTP_ACTIVE`), or the reply to a PASV or an EPSV.
pub(crate) const F_FTP_MASK: u32 = 3 << 28;
pub(crate) const F_FTP_PASV: u32 = 1 << 28;
pub(crate) const F_FTP_EPSV: u32 = 2 << 28;
/// Template states (`IP_VS_CTPL_S_*`): NONE, ASSURED.
pub(crate) const CTPL_S_ASSURED: u8 = 1;
pub(crate) const CTPL_STATE_NAMES: [&str; 2] = ["NONE", "ASSURED"];

/// Creates the `fvs_conn` slab cache (module init).
pub(crate) fn cache_init() -> Result {
    CONN_CACHE.create::<Conn>(c"fvs_conn")
}

/// Waits for pending frees and destroys the cache (module exit, after every namespace).
pub(crate) fn cache_exit() {
    CONN_CACHE.destroy();
}

/// Bytes one connection entry occupies in its slab (reported at load and by `make bench`).
pub(crate) fn entry_size() -> u32 {
    CONN_CACHE.object_size()
}

impl Conn {
    /// A connection (or template, with `F_TEMPLATE` in `flags`) to `dest` at port `dport`,
    /// controlled by template `control` if any.
    pub(crate) fn new(
        key: ConnKey,
        svc: Arc<Service>,
        dest: Arc<Dest>,
        dport: u16,
        flags: u32,
        expires: u64,
        control: Option<EntryRef<Conn>>,
    ) -> Conn {
        Conn {
            key,
            daddr: dest.addr,
            dport,
            n_control: AtomicU32::new(0),
            in_pkts: AtomicU32::new(0),
            control: LinkSlot::hold(control),
            sf: AtomicU64::new(flags as u64),
            expires: AtomicU64::new(expires),
            dest,
            svc,
        }
    }

    pub(crate) fn state(&self) -> u8 {
        (self.sf.load(Relaxed) >> 32) as u8
    }

    pub(crate) fn flags(&self) -> u32 {
        self.sf.load(Relaxed) as u32
    }

    /// Sets state and flags together as `f(state, flags)` computes them from the current
    /// ones (a compare-and-swap loop: packets of one flow may be handled on several CPUs).
    /// Returns the old and new (state, flags); only the winner of a race sees its change.
    pub(crate) fn update(&self, mut f: impl FnMut(u8, u32) -> (u8, u32)) -> ((u8, u32), (u8, u32)) {
        let mut cur = self.sf.load(Relaxed);
        loop {
            let old = ((cur >> 32) as u8, cur as u32);
            let new = f(old.0, old.1);
            // Nothing changes (most packets of an established flow): no atomic write.
            if new == old {
                return (old, new);
            }
            let v = (cur & SF_SYNC_MASK) | ((new.0 as u64) << 32) | new.1 as u64;
            match self.sf.compare_exchange_weak(cur, v, Relaxed, Relaxed) {
                Ok(_) => return (old, new),
                Err(x) => cur = x,
            }
        }
    }

    /// What the sync master remembers of this connection's last sync.
    pub(crate) fn sync_mark(&self) -> crate::corelib::sync::SyncMark {
        crate::corelib::sync::SyncMark((self.sf.load(Relaxed) >> 40) as u32)
    }

    /// Replaces the sync mark `old` with `new` unless another CPU changed it meanwhile (state
    /// and flags may change concurrently: they are kept). Whether it was replaced.
    pub(crate) fn swap_sync_mark(&self, old: crate::corelib::sync::SyncMark, new: crate::corelib::sync::SyncMark) -> bool {
        let mut cur = self.sf.load(Relaxed);
        loop {
            if (cur >> 40) as u32 != old.0 {
                return false;
            }
            let v = (cur & !SF_SYNC_MASK) | ((new.0 as u64 & 0xff_ffff) << 40);
            match self.sf.compare_exchange_weak(cur, v, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(x) => cur = x,
            }
        }
    }

    pub(crate) fn expires(&self) -> u64 {
        self.expires.load(Relaxed)
    }

    pub(crate) fn set_expires(&self, at: u64) {
        self.expires.store(at, Relaxed);
    }

    /// A cache-bypass entry (`IP_VS_CONN_F_BYPASS`): no real server, packets go to their own
    /// destination.
    pub(crate) fn is_bypass(&self) -> bool {
        self.flags() & conn_flags::FWD_MASK == conn_flags::BYPASS
    }

    fn is_masq(&self) -> bool {
        self.flags() & conn_flags::FWD_MASK == conn_flags::MASQ
    }

    /// The connection is over though its entry remains: TCP TIME_WAIT or CLOSE, SCTP CLOSED.
    /// (A UDP or other entry stands for a flow until it expires.)
    pub(crate) fn ended(&self) -> bool {
        use crate::corelib::proto::{sctp, tcp};
        let s = self.state() as usize;
        match self.key.protocol {
            crate::corelib::parse::IPPROTO_TCP => {
                matches!(tcp::STATES.get(s), Some(tcp::State::TimeWait | tcp::State::Close))
            }
            crate::corelib::parse::IPPROTO_SCTP => sctp::STATES.get(s) == Some(&sctp::State::Closed),
            _ => false,
        }
    }

    pub(crate) fn is_template(&self) -> bool {
        self.flags() & F_TEMPLATE != 0
    }

    /// `ip_vs_control_assure_ct`: the template's connection was answered (UDP) or established
    /// (TCP): the template becomes ASSURED.
    pub(crate) fn assure_control(&self, g: &RcuGuard) {
        if let Some(t) = self.control.get_hold(g) {
            if t.is_template() && t.state() & CTPL_S_ASSURED == 0 {
                t.update(|s, f| (s | CTPL_S_ASSURED, f));
            }
        }
    }

    /// The entry this one is controlled by, for the read-side section `g`.
    pub(crate) fn control<'g>(&'g self, g: &'g RcuGuard) -> Option<&'g Conn> {
        self.control.get_hold(g)
    }

    /// The entry this one is controlled by (a persistence template, or an FTP control
    /// connection for a data connection), held again for a copy of this entry.
    pub(crate) fn control_ref(&self, g: &RcuGuard) -> Option<EntryRef<Conn>> {
        self.control.get_hold(g).and_then(EntryRef::try_hold)
    }

    /// A template's persistence-engine data (the SIP Call-ID it is for).
    pub(crate) fn pe(&self) -> Option<&PeData> {
        self.control.get_owned()
    }

    /// Makes a new template one for persistence-engine data `pe` (before it is linked).
    pub(crate) fn set_pe(&mut self, pe: KBox<PeData>) {
        self.control = LinkSlot::owned(pe);
    }

    /// Connections still hold this template.
    pub(crate) fn is_held(&self) -> bool {
        self.n_control.load(Relaxed) != 0
    }

    /// Controlled by a persistence template (`cp->control`).
    pub(crate) fn is_controlled(&self, g: &RcuGuard) -> bool {
        self.control.get_hold(g).is_some()
    }

    /// `ip_vs_check_template` failed: the template no longer leads anywhere.
    pub(crate) fn invalidate_template(&self) {
        self.update(|s, f| (s, f | F_TEMPLATE_DEAD));
    }

    /// The connection starts counting on its dest (`ip_vs_bind_dest`).
    fn bind_dest(&self) {
        if self.is_template() {
            self.dest.persistconns.fetch_add(1, Relaxed);
        } else {
            if self.flags() & F_INACTIVE != 0 {
                self.dest.inactconns.fetch_add(1, Relaxed);
            } else {
                self.dest.activeconns.fetch_add(1, Relaxed);
            }
            self.dest.conn_bound();
        }
    }

    /// The connection stops counting on its dest (`ip_vs_unbind_dest`) and gives up its
    /// template (`ip_vs_control_del`): it is being unlinked.
    fn unlinked(&self) {
        self.control.release();
        if self.is_template() {
            self.dest.persistconns.fetch_sub(1, Relaxed);
        } else {
            if self.flags() & F_INACTIVE != 0 {
                self.dest.inactconns.fetch_sub(1, Relaxed);
            } else {
                self.dest.activeconns.fetch_sub(1, Relaxed);
            }
            self.dest.conn_released();
        }
    }
}

fn addr_of(af: u16, a: &InetAddr) -> ConnAddr {
    if af == AF_INET6 {
        ConnAddr::V6(*a)
    } else {
        ConnAddr::V4([a[0], a[1], a[2], a[3]])
    }
}

pub(crate) struct ConnTable {
    t: RcuHash<Conn>,
    key: SipKey,
    mask: u32,
    /// The namespace's conntrack, for the entries of finished connections.
    ct: CtNet,
    /// Off while the namespace is torn down (conntrack may already be gone).
    ct_live: AtomicBool,
}

/// Entries without a client port yet (`ipvs_conn_no_cport_cnt`): while there are any, a packet
/// without an entry also looks for one with client port 0.
static NO_CPORT_COUNT: AtomicU32 = AtomicU32::new(0);

impl ConnTable {
    pub(crate) fn new(size: u32, net: NetRef) -> Result<Self> {
        let mut k = [0u8; 16];
        crate::sys::bh::random_bytes(&mut k);
        let key = SipKey([
            u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]]),
            u64::from_ne_bytes([k[8], k[9], k[10], k[11], k[12], k[13], k[14], k[15]]),
        ]);
        Ok(Self { t: RcuHash::new(size as usize)?, key, mask: size - 1, ct: CtNet::new(net), ct_live: AtomicBool::new(true) })
    }

    /// The namespace's conntrack.
    pub(crate) fn ct(&self) -> &CtNet {
        &self.ct
    }

    /// The namespace is going: entries no longer drop conntrack entries.
    pub(crate) fn stop_conntrack(&self) {
        self.ct_live.store(false, Relaxed);
    }

    /// An entry was unlinked: it releases its dest and control, and a connection that kept
    /// conntrack drops its conntrack entry (`ip_vs_conn_expire`).
    fn gone(&self, c: &Conn) {
        let f = c.flags();
        if f & conn_flags::NFCT != 0 && f & conn_flags::ONE_PACKET == 0 && self.ct_live.load(Relaxed) {
            let k = &c.key;
            self.ct.drop_entry(k.af as u16, k.protocol, &k.caddr, k.cport, &k.vaddr, k.vport);
        }
        if f & conn_flags::NO_CPORT != 0 {
            NO_CPORT_COUNT.fetch_sub(1, Relaxed);
        }
        c.unlinked();
    }

    fn bucket_of(&self, af: u16, protocol: u8, caddr: &InetAddr, cport: u16) -> usize {
        let a = addr_of(af, caddr);
        let h = conn_hash::client_hashkey(&self.key, protocol, &a, cport);
        (h & self.mask) as usize
    }

    /// The entry of a client flow (`ip_vs_conn_in_get`).
    pub(crate) fn lookup<'g>(&'g self, g: &'g RcuGuard, k: &ConnKey) -> Option<&'g Conn> {
        let b = self.bucket_of(k.af as u16, k.protocol, &k.caddr, k.cport);
        self.t.find(g, b, |c| c.key == *k && !c.is_template())
    }

    /// `ip_vs_conn_in_get`'s second try: an entry made before the client's port was known
    /// (FTP passive data connections), for a flow that has none of its own.
    pub(crate) fn lookup_no_cport<'g>(&'g self, g: &'g RcuGuard, k: &ConnKey) -> Option<&'g Conn> {
        if NO_CPORT_COUNT.load(Relaxed) == 0 {
            return None;
        }
        let k = ConnKey { cport: 0, ..*k };
        let b = self.bucket_of(k.af as u16, k.protocol, &k.caddr, 0);
        self.t.find(g, b, |c| c.key == k && c.flags() & (F_TEMPLATE | conn_flags::NO_CPORT) == conn_flags::NO_CPORT)
    }

    /// `ip_vs_conn_fill_cport`: the client's first packet gives `c` (found by
    /// `lookup_no_cport`) its port. The entry is linked again under the full key, keeping its
    /// state, expiry, dest and control; the port-less one goes. Bottom halves must be off.
    pub(crate) fn fill_cport<'g>(&'g self, g: &'g RcuGuard, c: &Conn, cport: u16) -> Option<&'g Conn> {
        let key = ConnKey { cport, ..c.key };
        let mut n = Conn::new(
            key,
            c.svc.clone(),
            c.dest.clone(),
            c.dport,
            c.flags() & !conn_flags::NO_CPORT,
            c.expires(),
            c.control_ref(g),
        );
        n.daddr = c.daddr;
        n.update(|_, f| (c.state(), f));
        let (e, _) = self.insert(g, n).ok()?;
        self.expire_now(c);
        Some(e)
    }

    /// A valid persistence template (`ip_vs_ct_in_get`).
    /// With a persistence engine's data `pe`, only a template carrying the same data matches
    /// (`ip_vs_sip_ct_match`); without, only one carrying none.
    pub(crate) fn lookup_template<'g>(&'g self, g: &'g RcuGuard, k: &ConnKey, pe: Option<&PeData>) -> Option<&'g Conn> {
        let b = self.bucket_of(k.af as u16, k.protocol, &k.caddr, k.cport);
        self.t.find(g, b, |c| {
            c.key == *k && c.flags() & (F_TEMPLATE | F_TEMPLATE_DEAD) == F_TEMPLATE && c.pe() == pe
        })
    }

    /// The entry a reply belongs to (`ip_vs_conn_out_get`): from `saddr:sport` (the real
    /// server for NAT, the virtual service for DR/TUN replies routed through the director) to
    /// the client `daddr:dport`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lookup_out<'g>(
        &'g self,
        g: &'g RcuGuard,
        af: u16,
        protocol: u8,
        saddr: &InetAddr,
        sport: u16,
        daddr: &InetAddr,
        dport: u16,
    ) -> Option<&'g Conn> {
        let b = self.bucket_of(af, protocol, daddr, dport);
        self.t.find(g, b, |c| {
            let k = &c.key;
            if c.is_template() || !(k.af as u16 == af && k.protocol == protocol && k.cport == dport && k.caddr == *daddr) {
                return false;
            }
            let (a, p) = if c.is_masq() { (&c.daddr, c.dport) } else { (&k.vaddr, k.vport) };
            p == sport && a == saddr
        })
    }

    /// Adds a new connection and binds it to its dest, unless another CPU added the same flow
    /// first: then that entry is returned and `c` is dropped. `Err` when out of memory.
    /// Bottom halves must be off.
    /// Returns the entry and whether it is the one just added.
    pub(crate) fn insert<'g>(&'g self, g: &'g RcuGuard, c: Conn) -> Result<(&'g Conn, bool)> {
        let k = c.key;
        let b = self.bucket_of(k.af as u16, k.protocol, &k.caddr, k.cport);
        let mut added = false;
        let tmpl = c.is_template();
        // An invalidated template (F_TEMPLATE_DEAD) waits for its connections to go; a new
        // template for the same client network goes in beside it.
        let pe = c.pe().copied();
        let same = |x: &Conn| {
            x.key == k && x.is_template() == tmpl && x.flags() & F_TEMPLATE_DEAD == 0 && x.pe() == pe.as_ref()
        };
        let e = self.t.insert_or_get(g, b, c, same, |new| {
            new.bind_dest();
            if new.flags() & conn_flags::NO_CPORT != 0 {
                NO_CPORT_COUNT.fetch_add(1, Relaxed);
            }
            added = true;
        })?;
        Ok((e, added))
    }

    /// `ip_vs_conn_expire_now`: unlinks `c` at once (freed after a grace period) unless a
    /// connection still holds it. Bottom halves must be off. Returns whether it went.
    pub(crate) fn expire_now(&self, c: &Conn) -> bool {
        let k = &c.key;
        let b = self.bucket_of(k.af as u16, k.protocol, &k.caddr, k.cport);
        match self.t.lock(b) {
            Some(mut b) => b.remove_if(|x| core::ptr::eq(x, c), |x| self.gone(x)) > 0,
            None => false,
        }
    }

    /// `ip_vs_random_dropentry`'s walk: a 32nd of the buckets from a random one; entries for
    /// which `drop` holds are unlinked. Bottom halves must be off. Returns how many went.
    pub(crate) fn random_drop(&self, mut drop: impl FnMut(&Conn) -> bool) -> usize {
        let mut r = [0u8; 4];
        crate::sys::bh::random_bytes(&mut r);
        let start = u32::from_ne_bytes(r) as usize;
        let mut n = 0;
        for i in 0..(self.t.buckets() >> 5) {
            if let Some(mut b) = self.t.lock((start.wrapping_add(i)) & self.mask as usize) {
                n += b.remove_if(&mut drop, |c| self.gone(c));
            }
        }
        n
    }

    /// Frees every entry for which `expired` holds, releasing its dest counters. Bottom halves
    /// must be off.
    pub(crate) fn remove_if(&self, mut expired: impl FnMut(&Conn) -> bool) -> usize {
        let mut n = 0;
        for i in 0..self.t.buckets() {
            if let Some(mut b) = self.t.lock(i) {
                n += b.remove_if(&mut expired, |c| self.gone(c));
            }
        }
        n
    }

    pub(crate) fn buckets(&self) -> usize {
        self.t.buckets()
    }

    /// The sweeper's slice of a tick: frees the expired entries of buckets `start .. start + n`.
    /// A template whose time is up while connections still use it gets 60 s more
    /// (`ip_vs_conn_expire`'s expire_later).
    pub(crate) fn sweep(&self, start: usize, n: usize, now: u64) -> usize {
        let later = 60 * crate::sys::hz() as u64;
        let mut expired = |c: &Conn| {
            if c.expires() > now {
                return false;
            }
            if c.n_control.load(Relaxed) != 0 {
                c.set_expires(now + later);
                return false;
            }
            true
        };
        let mut gone = 0;
        let g = RcuGuard::new();
        for i in start..(start + n).min(self.t.buckets()) {
            // Looked at without the lock first: most buckets have nothing due (entries live
            // for many sweeps), and then neither the lock nor a write is needed.
            if self.t.find(&g, i, |c| c.expires() <= now).is_none() {
                continue;
            }
            if let Some(mut b) = self.t.lock(i) {
                gone += b.remove_if(&mut expired, |c| self.gone(c));
            }
        }
        gone
    }

    /// The entries of one bucket, under RCU, until `f` returns false.
    pub(crate) fn for_each_in(&self, g: &RcuGuard, bucket: usize, mut f: impl FnMut(&Conn) -> bool) {
        self.t.find(g, bucket, |c| !f(c));
    }

    /// Whether a real server still carries a connection that has not ended (a draining server
    /// may go once none does): an active one, or an inactive entry that is not a template and
    /// not in a closed state (`Conn::ended`). Walks the table only when the counters cannot
    /// tell, one bucket per RCU section.
    pub(crate) fn serves(&self, d: &Arc<Dest>) -> bool {
        if d.activeconns.load(Relaxed) > 0 {
            return true;
        }
        if d.inactconns.load(Relaxed) <= 0 {
            return false;
        }
        (0..self.buckets()).any(|b| {
            let g = RcuGuard::new();
            let mut found = false;
            self.for_each_in(&g, b, |c| {
                found = !c.is_template() && Arc::ptr_eq(&c.dest, d) && !c.ended();
                !found
            });
            found
        })
    }
}
