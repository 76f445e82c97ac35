//! Connection synchronisation between directors (`ip_vs_sync.c`): the master daemon multicasts
//! the connections its packet path picks (`ip_vs_sync_conn`), the backup daemon creates or
//! updates them in its own table (`ip_vs_process_message`, `ip_vs_proc_conn`), in the IPVS sync
//! protocol (`corelib::sync`), so that fvs and the kernel's ip_vs sync with each other.
//!
//! Differences from ip_vs's threads, none visible on the wire:
//! * The packet path queues a compact copy of each connection to sync (no allocation, a
//!   bounded queue: `sync_qlen_max` connections); one work, in process context, builds the
//!   messages and sends them: when a message's worth is queued, and every second otherwise
//!   (ip_vs: a full buffer at once, a partial one after 2 s).
//! * The backup is driven by the socket's data-ready callback rather than a thread blocked
//!   in recvmsg; it receives at most 256 messages per run and runs again at once.
//! * One sync port (`sync_ports` 1, ip_vs's default).
//! * A record for a service or real server the backup does not have is skipped (ip_vs keeps
//!   such connections unbound).

use crate::conn::{Conn, ConnKey, PeData, F_TEMPLATE};
use crate::corelib::sync::{self as wire, Addrs, MessageBuilder, PushError, Record, SyncMark};
use crate::netns::{DaemonConf, NetState};
use crate::rules::{Dest, Service, ServiceKey, AF_INET6};
use crate::sys::bh::{jiffies, BhGuard};
use crate::sys::net::NetRef;
use crate::sys::rcu::RcuGuard;
use crate::sys::sock::{DataReady, SockAddr, UdpSock};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::{new_mutex, new_spinlock, Arc, Mutex, SpinLock};

/// The ip_vs flags a connection carries on the wire: fvs keeps its own in bits 28-31.
const WIRE_FLAGS: u32 = 0x0fff_ffff;
/// Messages a backup run receives before it yields (and runs again at once).
const RECV_BATCH: usize = 256;

/// A connection as the packet path queues it for the master (`ip_vs_sync_conn` reads these
/// fields of `cp`).
struct QRec {
    v6: bool,
    protocol: u8,
    flags: u32,
    state: u16,
    cport: u16,
    vport: u16,
    dport: u16,
    fwmark: u32,
    timeout: u32,
    caddr: [u8; 16],
    vaddr: [u8; 16],
    daddr: [u8; 16],
    pe: Option<KBox<PeData>>,
}

impl QRec {
    fn record(&self) -> Record<'_> {
        let a4 = |a: &[u8; 16]| [a[0], a[1], a[2], a[3]];
        let (pe_data, pe_name): (&[u8], &[u8]) = match &self.pe {
            Some(p) => (p.bytes(), b"sip"),
            None => (&[], &[]),
        };
        Record {
            protocol: self.protocol,
            flags: self.flags,
            state: self.state,
            cport: self.cport,
            vport: self.vport,
            dport: self.dport,
            fwmark: self.fwmark,
            timeout: self.timeout,
            addrs: if self.v6 {
                Addrs::V6 { caddr: self.caddr, vaddr: self.vaddr, daddr: self.daddr }
            } else {
                Addrs::V4 { caddr: a4(&self.caddr), vaddr: a4(&self.vaddr), daddr: a4(&self.daddr) }
            },
            seq: None,
            pe_data,
            pe_name,
        }
    }
}

struct Master {
    sock: UdpSock,
    to: SockAddr,
    syncid: u8,
    maxlen: u16,
    buf: KVec<u8>,
}

struct Backup {
    sock: UdpSock,
    syncid: u8,
    buf: KVec<u8>,
}

/// The running daemons (process context only).
struct Daemons {
    master: Option<Master>,
    backup: Option<Backup>,
    /// The queue's second buffer: the work swaps it with the packet path's.
    spare: KVVec<QRec>,
    /// How much of `spare` is sent (the rest waits for room in the socket's buffer).
    spare_pos: usize,
}

/// Counters of the sync daemons (/proc/net/fvs_sync... and debugging).
#[derive(Default)]
pub(crate) struct SyncStats {
    pub(crate) sent_msgs: AtomicU64,
    pub(crate) sent_conns: AtomicU64,
    /// Connections not queued (queue full) or not sent (send failed).
    pub(crate) dropped: AtomicU64,
    pub(crate) recv_msgs: AtomicU64,
    pub(crate) recv_conns: AtomicU64,
    /// Datagrams or records the backup rejected, records without service or real server.
    pub(crate) rejected: AtomicU64,
}

/// A namespace's sync state: part of `NetState`.
#[pin_data]
pub(crate) struct SyncState {
    /// A master daemon runs: the packet path queues connections.
    master_on: AtomicBool,
    /// Connections queued by the packet path (softirq; the work takes it with bottom halves
    /// off). Its capacity is reserved when the master starts: pushing never allocates.
    #[pin]
    q: SpinLock<KVVec<QRec>>,
    /// Records that fill a message: reaching this many queued kicks the work.
    kick_at: core::sync::atomic::AtomicUsize,
    #[pin]
    d: Mutex<Daemons>,
    pub(crate) work: crate::sys::work::PeriodicWork,
    pub(crate) stats: SyncStats,
}

impl SyncState {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(SyncState {
            master_on: AtomicBool::new(false),
            q <- new_spinlock!(KVVec::new(), "fvs_sync_q"),
            kick_at: core::sync::atomic::AtomicUsize::new(usize::MAX),
            d <- new_mutex!(Daemons { master: None, backup: None, spare: KVVec::new(), spare_pos: 0 }, "fvs_sync"),
            work: crate::sys::work::PeriodicWork::new(),
            stats: SyncStats::default(),
        })
    }
}

impl DataReady for NetState {
    fn data_ready(&self) {
        self.sync.work.kick();
    }
}

/// The interface, group and port of a daemon configuration.
fn endpoints(net: NetRef, c: &DaemonConf) -> Result<(i32, bool, [u8; 16], u16)> {
    let n = c.mcast_ifn.iter().position(|&b| b == 0).unwrap_or(c.mcast_ifn.len());
    let (ifindex, _) = crate::sys::addr::dev_index_mtu(net, &c.mcast_ifn[..n])?;
    Ok((ifindex, c.mcast_af == AF_INET6, c.mcast_group, c.mcast_port))
}

fn sockaddr(v6: bool, group: &[u8; 16], port: u16) -> SockAddr {
    if v6 {
        SockAddr::V6(*group, port)
    } else {
        SockAddr::V4([group[0], group[1], group[2], group[3]], port)
    }
}

/// `start_sync_thread`'s socket half, for a configuration the control path has checked and
/// completed: opens the daemon's socket and starts it. `master`: which one.
pub(crate) fn start(net: NetRef, st: &NetState, master: bool, c: &DaemonConf) -> Result {
    let (ifindex, v6, group, port) = endpoints(net, c)?;
    let mut sock = UdpSock::new(net, v6)?;
    let bufsize = wire::buffer_len(c.sync_maxlen);
    let buf = KVec::from_elem(0u8, bufsize, GFP_KERNEL)?;
    if master {
        // make_send_sock: multicast out of the interface, not looped back.
        sock.mcast_sender(ifindex, c.mcast_ttl)?;
        let qlen = st.sysctl.sync_qlen_max.load(Relaxed).clamp(16, 1 << 20) as usize;
        let mut spare = KVVec::with_capacity(qlen, GFP_KERNEL)?;
        let mut q = KVVec::with_capacity(qlen, GFP_KERNEL)?;
        let mut d = st.sync.d.lock();
        if d.master.is_some() {
            return Err(EEXIST);
        }
        core::mem::swap(&mut d.spare, &mut spare);
        d.spare_pos = 0;
        {
            let _bh = BhGuard::new();
            let mut g = st.sync.q.lock();
            core::mem::swap(&mut *g, &mut q);
        }
        // A message holds about sync_maxlen / 36 IPv4 records.
        st.sync.kick_at.store((c.sync_maxlen as usize / wire::SYNC_V4_LEN).max(1), Relaxed);
        d.master = Some(Master { sock, to: sockaddr(v6, &group, port), syncid: c.syncid as u8, maxlen: c.sync_maxlen, buf });
        st.sync.master_on.store(true, Relaxed);
    } else {
        // make_receive_sock: bound to the group and port on the interface, joined.
        sock.set_reuseaddr();
        let size = st.sysctl.sync_sock_size.load(Relaxed);
        if size > 0 {
            sock.set_rcvbuf(size);
        }
        sock.bind_to_index(ifindex)?;
        sock.bind(sockaddr(v6, &group, port))?;
        sock.join(&group, ifindex)?;
        let mut d = st.sync.d.lock();
        if d.backup.is_some() {
            return Err(EEXIST);
        }
        sock.on_data_ready(st);
        d.backup = Some(Backup { sock, syncid: c.syncid as u8, buf });
    }
    st.sync.work.kick();
    Ok(())
}

/// `stop_sync_thread`'s socket half: the master sends what is queued first.
pub(crate) fn stop(st: &NetState, master: bool) {
    let mut d = st.sync.d.lock();
    if master {
        st.sync.master_on.store(false, Relaxed);
        // What is queued goes out (once: a full socket buffer drops the rest).
        let _ = master_run(st, &mut d);
        d.master = None;
        d.spare = KVVec::new();
        d.spare_pos = 0;
        let mut q = KVVec::new();
        {
            let _bh = BhGuard::new();
            core::mem::swap(&mut *st.sync.q.lock(), &mut q);
        }
        // Freed here, with bottom halves on again.
        drop(q);
    } else {
        // Dropping the socket restores its callback and waits for a running one.
        let b = d.backup.take();
        drop(d);
        drop(b);
    }
}

/// The namespace goes: both daemons stop (kernel sockets hold no reference on it).
pub(crate) fn exit(st: &NetState) {
    stop(st, true);
    stop(st, false);
    st.sync.work.stop();
}

/// The sync work: sends what the master queued, receives what came for the backup.
pub(crate) fn work_run(st: &NetState) {
    let mut d = st.sync.d.lock();
    let mut blocked = false;
    let mut again = false;
    if d.master.is_some() {
        blocked = master_run(st, &mut d);
    }
    if let Some(b) = d.backup.as_mut() {
        again = backup_run(st, b);
    }
    let running = d.master.is_some() || d.backup.is_some();
    drop(d);
    if again {
        st.sync.work.kick();
    } else if blocked {
        // The socket's buffer drains as the device sends: try again on the next tick.
        st.sync.work.rearm(1);
    } else if running {
        st.sync.work.rearm(crate::sys::hz() as u64);
    }
}

// ---- master -----------------------------------------------------------------------------

/// `ip_vs_sync_conn`, on a packet from the client of `c` (its `in_pkts` already counted):
/// queues `c`, then its template, when the sync sysctls say so. Softirq context.
pub(crate) fn conn_in(st: &NetState, g: &RcuGuard, c: &Conn) {
    if !st.sync.master_on.load(Relaxed) {
        return;
    }
    let s = st.sysctl.sync();
    let now = (jiffies() / crate::sys::hz().max(1) as u64) as u32;
    let tmpl = c.control(g).filter(|t| t.is_template());
    let pkts = if c.flags() & crate::uapi::conn_flags::ONE_PACKET != 0 {
        s.threshold
    } else {
        c.in_pkts.load(Relaxed)
    };
    if !maybe_queue(st, &s, c, tmpl.is_some(), pkts, now) {
        return;
    }
    // The template follows with its own count.
    if let Some(t) = tmpl {
        let n = t.in_pkts.fetch_add(1, Relaxed).wrapping_add(1);
        maybe_queue(st, &s, t, false, n, now);
    }
}

/// Decides for one entry and queues it; whether it was queued.
fn maybe_queue(st: &NetState, s: &wire::SyncSysctls, c: &Conn, controlled: bool, pkts: u32, now: u32) -> bool {
    if !wire::syncable(c.flags()) || c.is_bypass() {
        return false;
    }
    let timeout = timeout_secs(st, c);
    let mark: SyncMark = c.sync_mark();
    let Some(dec) = wire::sync_needed(s, c.key.protocol, c.is_template(), controlled, c.state(), mark, pkts, now, timeout)
    else {
        return false;
    };
    if !c.swap_sync_mark(mark, dec.mark) && !dec.force {
        return false;
    }
    let pe = match c.pe() {
        Some(p) if c.is_template() => match KBox::new(*p, GFP_ATOMIC) {
            Ok(b) => Some(b),
            Err(_) => {
                st.sync.stats.dropped.fetch_add(1, Relaxed);
                return false;
            }
        },
        _ => None,
    };
    let rec = QRec {
        v6: c.key.af as u16 == AF_INET6,
        protocol: c.key.protocol,
        flags: c.flags() & WIRE_FLAGS,
        state: c.state() as u16,
        cport: c.key.cport,
        vport: c.key.vport,
        dport: c.dport,
        fwmark: c.svc.key.fwmark,
        timeout,
        caddr: c.key.caddr,
        vaddr: c.key.vaddr,
        daddr: c.daddr,
        pe,
    };
    let len = {
        let mut q = st.sync.q.lock();
        if q.len() >= q.capacity() {
            drop(q);
            st.sync.stats.dropped.fetch_add(1, Relaxed);
            return false;
        }
        // Within the reserved capacity: no allocation.
        if q.push(rec, GFP_ATOMIC).is_err() {
            drop(q);
            st.sync.stats.dropped.fetch_add(1, Relaxed);
            return false;
        }
        q.len()
    };
    if len == st.sync.kick_at.load(Relaxed) {
        st.sync.work.kick();
    }
    true
}

/// `cp->timeout / HZ`: the entry's current timeout in seconds (a template's is its
/// service's persistence timeout).
fn timeout_secs(st: &NetState, c: &Conn) -> u32 {
    if c.is_template() {
        (c.svc.conf().timeout as u64 / crate::sys::hz().max(1) as u64) as u32
    } else {
        crate::hooks::state_timeout(st, c.key.protocol, c.state())
    }
}

/// Builds the queued connections into messages and sends them. Whether the socket's buffer
/// filled up: the rest stays in `spare` (from `spare_pos`) for the next run, shortly after.
fn master_run(st: &NetState, d: &mut Daemons) -> bool {
    if d.spare_pos >= d.spare.len() {
        d.spare.clear();
        d.spare_pos = 0;
        let _bh = BhGuard::new();
        let mut q = st.sync.q.lock();
        core::mem::swap(&mut *q, &mut d.spare);
    }
    let Daemons { master, spare, spare_pos, .. } = d;
    let Some(m) = master.as_mut() else {
        spare.clear();
        *spare_pos = 0;
        return false;
    };
    let recs = spare.get(*spare_pos..).unwrap_or(&[]);
    let stats = &st.sync.stats;
    let Master { sock, to, syncid, maxlen, buf } = m;
    let left = if st.sysctl.sync_version.load(Relaxed) == 0 {
        send_all(&mut wire::BuilderV0::new(*syncid, *maxlen, buf), sock, *to, recs, stats)
    } else {
        send_all(&mut wire::Builder::new(*syncid, *maxlen, buf), sock, *to, recs, stats)
    };
    match left {
        Some(k) => {
            *spare_pos += k;
            true
        }
        None => {
            spare.clear();
            *spare_pos = 0;
            false
        }
    }
}

/// Sends `recs` in as few messages as fit. `Some(k)`: the socket's buffer is full, records
/// from `k` on are not sent yet. A message the network refuses otherwise (interface down) is
/// counted as dropped, as ip_vs drops it.
fn send_all<B: MessageBuilder>(b: &mut B, sock: &UdpSock, to: SockAddr, recs: &[QRec], stats: &SyncStats) -> Option<usize> {
    // Sends the message; false if the socket's buffer is full.
    let send = |b: &mut B| -> bool {
        let n = b.nr_conns();
        let Some(msg) = b.message() else { return true };
        match sock.send_to(msg, to) {
            Ok(_) => {
                stats.sent_msgs.fetch_add(1, Relaxed);
                stats.sent_conns.fetch_add(n as u64, Relaxed);
                true
            }
            Err(e) if e == EAGAIN || e == crate::sys::errno::enobufs() => false,
            Err(_) => {
                stats.dropped.fetch_add(n as u64, Relaxed);
                true
            }
        }
    };
    // The first record of the message being built.
    let mut first = 0;
    for (i, r) in recs.iter().enumerate() {
        let rec = r.record();
        match b.push(&rec) {
            Ok(()) => {}
            Err(PushError::Full) => {
                if !send(b) {
                    return Some(first);
                }
                b.clear();
                first = i;
                if b.push(&rec).is_err() {
                    stats.dropped.fetch_add(1, Relaxed);
                }
            }
            Err(_) => {
                stats.dropped.fetch_add(1, Relaxed);
            }
        }
    }
    if !send(b) {
        return Some(first);
    }
    None
}

// ---- backup -----------------------------------------------------------------------------

/// Receives and applies up to `RECV_BATCH` messages; whether more may be waiting.
fn backup_run(st: &NetState, b: &mut Backup) -> bool {
    let stats = &st.sync.stats;
    for _ in 0..RECV_BATCH {
        let n = match b.sock.recv(&mut b.buf) {
            Ok(n) => n,
            Err(_) => return false,
        };
        let Ok(msg) = wire::decode(&b.buf[..n]) else {
            stats.rejected.fetch_add(1, Relaxed);
            continue;
        };
        // A backup with syncid 0 takes every message, otherwise only its own.
        if !wire::syncid_accepted(b.syncid, msg.syncid) {
            continue;
        }
        stats.recv_msgs.fetch_add(1, Relaxed);
        for r in msg.records(wire::kernel_num_states) {
            match r {
                Ok(rec) => {
                    if proc_conn(st, &rec) {
                        stats.recv_conns.fetch_add(1, Relaxed);
                    } else {
                        stats.rejected.fetch_add(1, Relaxed);
                    }
                }
                Err(e) => {
                    stats.rejected.fetch_add(1, Relaxed);
                    if e.is_fatal() {
                        break;
                    }
                }
            }
        }
    }
    true
}

/// `ip_vs_find_dest`'s service half (`ip_vs_service_find` with the FTP and port-zero
/// fallbacks).
fn find_service<'g>(st: &'g NetState, g: &'g RcuGuard, af: u16, rec: &Record<'_>, vaddr: [u8; 16]) -> Option<&'g Arc<Service>> {
    if rec.fwmark != 0 {
        return st.rules.find(g, &ServiceKey { af, protocol: 0, addr: [0; 16], port: 0, fwmark: rec.fwmark });
    }
    let k = |port| ServiceKey { af, protocol: rec.protocol as u16, addr: vaddr, port, fwmark: 0 };
    st.rules.find(g, &k(rec.vport)).or_else(|| {
        if rec.protocol == crate::corelib::parse::IPPROTO_TCP && (rec.vport == 20 || rec.vport >= 1024 || rec.vport == 0) {
            st.rules.find(g, &k(21))
        } else {
            None
        }
    }).or_else(|| st.rules.find(g, &k(0)))
}

/// `ip_vs_find_dest`'s real-server half.
fn find_dest(svc: &Service, g: &RcuGuard, af: u16, daddr: &[u8; 16], dport: u16, flags: u32) -> Option<Arc<Dest>> {
    let n = if af == AF_INET6 { 16 } else { 4 };
    let port = if svc.key.fwmark != 0 && flags & wire::CONN_F_FWD_MASK != wire::CONN_F_MASQ { 0 } else { dport };
    let find = |p: u16| svc.dests.iter(g).find(|d| d.af == af && d.addr[..n] == daddr[..n] && d.port == p).cloned();
    find(port).or_else(|| find(port ^ dport))
}

/// `ip_vs_proc_conn`: creates or updates the connection of a record. Whether it was applied.
fn proc_conn(st: &NetState, rec: &Record<'_>) -> bool {
    let (af, caddr, vaddr, daddr) = match rec.addrs {
        Addrs::V4 { caddr, vaddr, daddr } => {
            let w = |a: [u8; 4]| {
                let mut x = [0u8; 16];
                x[..4].copy_from_slice(&a);
                x
            };
            (crate::rules::AF_INET, w(caddr), w(vaddr), w(daddr))
        }
        Addrs::V6 { caddr, vaddr, daddr } => (AF_INET6, caddr, vaddr, daddr),
    };
    let flags = rec.backup_flags();
    let template = flags & F_TEMPLATE != 0;
    let key = ConnKey { af: af as u8, protocol: rec.protocol, caddr, cport: rec.cport, vaddr, vport: rec.vport };
    let pe = if template && !rec.pe_data.is_empty() { PeData::new(rec.pe_data) } else { None };
    // Allocated up front: bottom halves are off from the lookup on.
    let mut pe_box = match pe {
        Some(p) => match KBox::new(p, GFP_KERNEL) {
            Ok(b) => Some(b),
            Err(_) => return false,
        },
        None => None,
    };
    let hz = crate::sys::hz().max(1) as u64;
    let state = rec.state as u8;
    let timeout = if rec.timeout != 0 {
        rec.timeout
    } else if template {
        3 * 60
    } else {
        crate::hooks::state_timeout(st, rec.protocol, state)
    };
    let now = jiffies();
    let expires = now + timeout as u64 * hz;
    let threshold = st.sysctl.sync_threshold[0].load(Relaxed).max(0) as u32;

    let _bh = BhGuard::new();
    let g = RcuGuard::new();
    let existing = if template { st.conns.lookup_template(&g, &key, pe.as_ref()) } else { st.conns.lookup(&g, &key) };
    if let Some(c) = existing {
        let moved = c.dport != rec.dport || c.daddr[..if af == AF_INET6 { 16 } else { 4 }] != daddr[..if af == AF_INET6 { 16 } else { 4 }];
        if !template && moved {
            if flags & wire::CONN_F_INACTIVE != 0 {
                // The expiry of a connection that was already replaced: ignored.
                return true;
            }
            st.conns.expire_now(c);
        } else {
            let (old, new) = c.update(|_, f| (state, wire::backup_update_flags(f, flags)));
            let was_inactive = old.1 & wire::CONN_F_INACTIVE != 0;
            let is_inactive = new.1 & wire::CONN_F_INACTIVE != 0;
            if !template && was_inactive != is_inactive && c.dest.available.load(Relaxed) {
                if is_inactive {
                    c.dest.activeconns.fetch_sub(1, Relaxed);
                    c.dest.inactconns.fetch_add(1, Relaxed);
                } else {
                    c.dest.inactconns.fetch_sub(1, Relaxed);
                    c.dest.activeconns.fetch_add(1, Relaxed);
                }
            }
            c.in_pkts.store(threshold, Relaxed);
            c.set_expires(expires);
            return true;
        }
    }
    let Some(svc) = find_service(st, &g, af, rec, vaddr) else { return false };
    let Some(dest) = find_dest(svc, &g, af, &daddr, rec.dport, flags) else { return false };
    let mut c = Conn::new(key, svc.clone(), dest, rec.dport, flags, expires, None);
    if let Some(b) = pe_box.take() {
        c.set_pe(b);
    }
    c.update(|_, f| (state, f));
    c.in_pkts.store(threshold, Relaxed);
    st.conns.insert(&g, c).is_ok()
}
