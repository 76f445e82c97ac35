//! The generic netlink family "FVS", speaking the IPVS protocol of include/uapi/linux/ip_vs.h
//! with ip_vs's semantics: the same validation, the same errno for the same mistake (so
//! ipvsadm's messages come out identical), the same replies.

use crate::netns::{Ctl, DaemonConf, NetState};
use crate::rules::{self, Dest, DestConf, InetAddr, Service, ServiceConf, ServiceKey, StatsView, AF_INET, AF_INET6};
use crate::sys::addr::{self, V4Type};
use crate::sys::errno;
use crate::sys::genl::{Attr, Dump, Family, Handlers, Msg, OpSpec, Policy, Request};
use crate::sys::net::NetRef;
use crate::sys::rcu::{RcuGuard, WriteGuard, Writer};
use crate::uapi::{self, cmd, cmd_attr, conn_flags, daemon_attr, daemon_state, dest_attr, info_attr, stats_attr, svc_attr};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;

const N_OPS: usize = 16;
const NCMD: usize = uapi::cmd_attr::MAX as usize + 1;
const NSVC: usize = uapi::svc_attr::MAX as usize + 1;
const NDEST: usize = uapi::dest_attr::FVS_MAX as usize + 1;
const NDAEMON: usize = uapi::daemon_attr::MAX as usize + 1;

static FAMILY: Family<N_OPS> = Family::new();
pub(crate) static CMD_POLICY: Policy<NCMD> = Policy::new();
pub(crate) static SVC_POLICY: Policy<NSVC> = Policy::new();
pub(crate) static DEST_POLICY: Policy<NDEST> = Policy::new();
pub(crate) static DAEMON_POLICY: Policy<NDAEMON> = Policy::new();

pub(crate) fn family() -> &'static Family<N_OPS> {
    &FAMILY
}

pub(crate) fn init_policies() {
    CMD_POLICY.init(&uapi::CMD_POLICY);
    SVC_POLICY.init(&uapi::SVC_POLICY);
    DEST_POLICY.init(&uapi::DEST_POLICY_FVS);
    DAEMON_POLICY.init(&uapi::DAEMON_POLICY);
}

const fn op(cmd: u8, doit: bool, dumpit: bool) -> OpSpec {
    OpSpec { cmd, doit, dumpit }
}

/// "FVS", or with compat=1 "IPVS", so that ipvsadm and keepalived find fvs as they find ip_vs.
pub(crate) fn family_name() -> &'static str {
    if crate::params().compat {
        uapi::IPVS_GENL_NAME
    } else {
        uapi::FVS_GENL_NAME
    }
}

pub(crate) fn register(module: *mut kernel::bindings::module) -> Result {
    FAMILY.register(
        family_name(),
        uapi::IPVS_GENL_VERSION,
        &CMD_POLICY,
        &[
            op(cmd::NEW_SERVICE, true, false),
            op(cmd::SET_SERVICE, true, false),
            op(cmd::DEL_SERVICE, true, false),
            op(cmd::GET_SERVICE, true, true),
            op(cmd::NEW_DEST, true, false),
            op(cmd::SET_DEST, true, false),
            op(cmd::DEL_DEST, true, false),
            op(cmd::GET_DEST, false, true),
            op(cmd::NEW_DAEMON, true, false),
            op(cmd::DEL_DAEMON, true, false),
            op(cmd::GET_DAEMON, false, true),
            op(cmd::SET_CONFIG, true, false),
            op(cmd::GET_CONFIG, true, false),
            op(cmd::GET_INFO, true, false),
            op(cmd::ZERO, true, false),
            op(cmd::FLUSH, true, false),
        ],
        Handlers { doit, dumpit },
        cmd::FLUSH + 1,
        module,
    )
}

pub(crate) fn unregister() {
    FAMILY.unregister()
}

fn doit(req: &Request<'_>) -> Result {
    let st = NetState::of(req.net()).ok_or(ENOENT)?;
    match req.cmd() {
        cmd::NEW_DAEMON | cmd::DEL_DAEMON => set_daemon(req, st),
        cmd::GET_SERVICE | cmd::GET_INFO | cmd::GET_CONFIG => get_cmd(req, st),
        _ => set_cmd(req, st),
    }
}

fn dumpit(d: &mut Dump<'_>) -> Result {
    let st = NetState::of(d.net()).ok_or(ENOENT)?;
    match d.cmd() {
        cmd::GET_SERVICE => dump_services(d, st),
        cmd::GET_DEST => dump_dests(d, st),
        cmd::GET_DAEMON => dump_daemons(d, st),
        _ => Err(EINVAL),
    }
}

// ---- parsing ------------------------------------------------------------------------------

fn inet_addr(a: Attr<'_>) -> InetAddr {
    let mut v = [0u8; 16];
    let p = a.payload();
    let n = p.len().min(16);
    v[..n].copy_from_slice(&p[..n]);
    v
}

/// `ip_vs_addr_copy`: an IPv4 address is its first 4 bytes; whatever else the attribute
/// carried is not kept (code that compares whole addresses would never match it).
fn addr_for(af: u16, mut a: InetAddr) -> InetAddr {
    if af == AF_INET {
        a[4..].fill(0);
    }
    a
}

pub(crate) struct ServiceReq {
    pub(crate) key: ServiceKey,
    /// For NEW/SET: scheduler name, pe name, flags {flags, mask}, timeout, netmask.
    pub(crate) full: Option<FullService>,
}

pub(crate) struct FullService {
    pub(crate) sched: [u8; 16],
    pub(crate) sched_len: usize,
    pub(crate) pe: [u8; 16],
    pub(crate) pe_len: usize,
    pub(crate) flags: u32,
    pub(crate) mask: u32,
    pub(crate) timeout: u32,
    pub(crate) netmask: u32,
}

/// `ip_vs_genl_parse_service`: identifying fields always, the rest when `full`.
fn parse_service(nla: Option<Attr<'_>>, full: bool) -> Result<ServiceReq> {
    let nla = nla.ok_or(EINVAL)?;
    let a = nla.nested(&SVC_POLICY).map_err(|_| EINVAL)?;
    let af = a.get(svc_attr::AF);
    let fwmark = a.get(svc_attr::FWMARK);
    let (proto, addr, port) = (a.get(svc_attr::PROTOCOL), a.get(svc_attr::ADDR), a.get(svc_attr::PORT));
    let Some(af) = af else { return Err(EINVAL) };
    if !(fwmark.is_some() || (port.is_some() && proto.is_some() && addr.is_some())) {
        return Err(EINVAL);
    }
    let af = af.u16()?;
    if af != AF_INET && af != AF_INET6 {
        return Err(errno::eafnosupport());
    }
    let key = match fwmark {
        Some(f) => ServiceKey { af, protocol: 6, addr: [0; 16], port: 0, fwmark: f.u32()? },
        None => ServiceKey {
            af,
            protocol: proto.ok_or(EINVAL)?.u16()?,
            addr: addr_for(af, inet_addr(addr.ok_or(EINVAL)?)),
            port: port.ok_or(EINVAL)?.be16()?,
            fwmark: 0,
        },
    };
    let full = if full {
        let (Some(sched), Some(flags), Some(timeout), Some(netmask)) =
            (a.get(svc_attr::SCHED_NAME), a.get(svc_attr::FLAGS), a.get(svc_attr::TIMEOUT), a.get(svc_attr::NETMASK))
        else {
            return Err(EINVAL);
        };
        let fl = flags.payload();
        let mut fb = [0u8; 8];
        fb[..fl.len().min(8)].copy_from_slice(&fl[..fl.len().min(8)]);
        let mut f = FullService {
            sched: [0; 16],
            sched_len: 0,
            pe: [0; 16],
            pe_len: 0,
            flags: u32::from_ne_bytes([fb[0], fb[1], fb[2], fb[3]]),
            mask: u32::from_ne_bytes([fb[4], fb[5], fb[6], fb[7]]),
            timeout: timeout.u32()?,
            netmask: netmask.u32()?,
        };
        let s = sched.str_bytes();
        f.sched_len = s.len().min(16);
        f.sched[..f.sched_len].copy_from_slice(&s[..f.sched_len]);
        if let Some(pe) = a.get(svc_attr::PE_NAME) {
            let p = pe.str_bytes();
            f.pe_len = p.len().min(16);
            f.pe[..f.pe_len].copy_from_slice(&p[..f.pe_len]);
        }
        Some(f)
    } else {
        None
    };
    Ok(ServiceReq { key, full })
}

pub(crate) struct DestReq {
    pub(crate) af: u16,
    pub(crate) addr: InetAddr,
    pub(crate) port: u16,
    pub(crate) conf: DestConf,
    /// DEL_DEST with fvs's `dest_attr::FVS_DRAIN`: drain for this many seconds (0: delete now).
    pub(crate) drain: u32,
}

/// `ip_vs_genl_parse_dest`.
fn parse_dest(nla: Option<Attr<'_>>, full: bool) -> Result<DestReq> {
    let nla = nla.ok_or(EINVAL)?;
    let a = nla.nested(&DEST_POLICY).map_err(|_| EINVAL)?;
    let (Some(addr), Some(port)) = (a.get(dest_attr::ADDR), a.get(dest_attr::PORT)) else { return Err(EINVAL) };
    let mut d = DestReq {
        af: match a.get(dest_attr::ADDR_FAMILY) {
            Some(x) => x.u16()?,
            None => 0,
        },
        addr: inet_addr(addr),
        port: port.be16()?,
        conf: DestConf { conn_flags: 0, weight: 0, u_threshold: 0, l_threshold: 0, tun_type: 0, tun_port: 0, tun_flags: 0 },
        drain: match a.get(dest_attr::FVS_DRAIN) {
            Some(x) => x.u32()?,
            None => 0,
        },
    };
    if full {
        let (Some(fwd), Some(w), Some(u), Some(l)) = (
            a.get(dest_attr::FWD_METHOD),
            a.get(dest_attr::WEIGHT),
            a.get(dest_attr::U_THRESH),
            a.get(dest_attr::L_THRESH),
        ) else {
            return Err(EINVAL);
        };
        d.conf.conn_flags = fwd.u32()? & conn_flags::FWD_MASK;
        d.conf.weight = w.u32()? as i32;
        d.conf.u_threshold = u.u32()?;
        d.conf.l_threshold = l.u32()?;
        if let Some(t) = a.get(dest_attr::TUN_TYPE) {
            d.conf.tun_type = t.u8()?;
        }
        if let Some(t) = a.get(dest_attr::TUN_PORT) {
            d.conf.tun_port = t.be16()?;
        }
        if let Some(t) = a.get(dest_attr::TUN_FLAGS) {
            d.conf.tun_flags = t.u16()?;
        }
    }
    Ok(d)
}

// ---- changes --------------------------------------------------------------------------------

/// Whether a service's persistence engine makes connections for real servers' own requests
/// (`conn_out_counter`): `NetState::conn_out_svcs` counts them, as the reply path looks for
/// them only while there are any.
fn conn_out(s: &Service) -> bool {
    s.conf().pe == rules::PE_SIP && s.key.fwmark == 0
}

/// `ip_vs_flush`: every service goes.
pub(crate) fn flush(net: NetRef, st: &NetState, w: Writer<'_>) {
    for s in st.rules.iter_w(w) {
        forget_mixed(st, w, s);
    }
    st.rules.flush(w);
    st.unhook_all(net);
    st.conn_out_svcs.store(0, Relaxed);
    st.expire_nodest_later();
}

/// `ip_vs_zero_all`: every service's, real server's and the namespace's counters.
pub(crate) fn zero_all(st: &NetState, w: Writer<'_>) {
    for s in st.rules.iter_w(w) {
        zero_service(st, w, s);
    }
    let _bh = crate::sys::bh::BhGuard::new();
    let _e = st.est_lock.lock();
    st.tot_stats.zero();
}

fn set_cmd(req: &Request<'_>, st: &NetState) -> Result {
    let c = req.cmd();
    let g = st.ctl.lock();
    let w = g.writer();
    match c {
        cmd::FLUSH => {
            flush(req.net(), st, w);
            return Ok(());
        }
        cmd::SET_CONFIG => {
            let get = |a| req.attr(a).map(|x: Attr<'_>| x.u32()).transpose();
            return set_timeouts(st, get(cmd_attr::TIMEOUT_TCP)?, get(cmd_attr::TIMEOUT_TCP_FIN)?, get(cmd_attr::TIMEOUT_UDP)?);
        }
        cmd::ZERO if req.attr(cmd_attr::SERVICE).is_none() => {
            zero_all(st, w);
            return Ok(());
        }
        _ => {}
    }
    let need_full_svc = c == cmd::NEW_SERVICE || c == cmd::SET_SERVICE;
    let sreq = parse_service(req.attr(cmd_attr::SERVICE), need_full_svc)?;
    if st.rules.find_w(w, &sreq.key).is_none() && c != cmd::NEW_SERVICE {
        return Err(ESRCH);
    }
    let dreq = if c == cmd::NEW_DEST || c == cmd::SET_DEST || c == cmd::DEL_DEST {
        Some(parse_dest(req.attr(cmd_attr::DEST), c != cmd::DEL_DEST)?)
    } else {
        None
    };
    change(req.net(), st, &g, c, &sreq, dreq)
}

/// One change to the rules, in IPVS command terms (`cmd::NEW_SERVICE` ... `cmd::ZERO` of one
/// service), with ip_vs's checks and errors: shared by generic netlink and the socket options.
pub(crate) fn change(net: NetRef, st: &NetState, g: &WriteGuard<'_, Ctl>, c: u8, sreq: &ServiceReq, dreq: Option<DestReq>) -> Result {
    let w = g.writer();
    let svc = st.rules.find_w(w, &sreq.key);
    if c != cmd::NEW_SERVICE && svc.is_none() {
        return Err(ESRCH);
    }
    let dreq = match dreq {
        Some(mut d) => {
            // `svc` exists here (checked above).
            let saf = sreq.key.af;
            if d.af == 0 {
                d.af = saf;
            }
            d.addr = addr_for(d.af, d.addr);
            if d.af != AF_INET && d.af != AF_INET6 {
                return Err(errno::eafnosupport());
            }
            if d.af != saf && c != cmd::DEL_DEST {
                // Mixed families only for tunnels, and never while syncing.
                if g.daemons.iter().any(|x| x.is_some()) || d.conf.conn_flags != conn_flags::TUNNEL {
                    return Err(EINVAL);
                }
            }
            Some(d)
        }
        None => None,
    };
    match (c, svc, dreq) {
        (cmd::NEW_SERVICE, None, _) => add_service(net, w, st, sreq),
        (cmd::NEW_SERVICE, Some(_), _) => Err(EEXIST),
        (cmd::SET_SERVICE, Some(s), _) => {
            let before = conn_out(s);
            edit_service(w, s, sreq)?;
            match (before, conn_out(s)) {
                (false, true) => st.conn_out_svcs.fetch_add(1, Relaxed),
                (true, false) => st.conn_out_svcs.fetch_sub(1, Relaxed),
                _ => 0,
            };
            Ok(())
        }
        (cmd::DEL_SERVICE, Some(s), _) => {
            if conn_out(s) {
                st.conn_out_svcs.fetch_sub(1, Relaxed);
            }
            forget_mixed(st, w, s);
            // The unlinked service (and with it its dests) is freed after a grace period.
            if st.rules.del(w, &sreq.key).is_some() {
                st.service_gone(net, sreq.key.af);
            }
            st.expire_nodest_later();
            Ok(())
        }
        (cmd::NEW_DEST, Some(s), Some(d)) => {
            add_dest(net, w, s, &d)?;
            ftp_conntrack(st, s, &d);
            if d.af != s.key.af {
                st.mixed_af_dests.fetch_add(1, Relaxed);
            }
            Ok(())
        }
        (cmd::SET_DEST, Some(s), Some(d)) => {
            edit_dest(w, s, &d)?;
            ftp_conntrack(st, s, &d);
            Ok(())
        }
        (cmd::DEL_DEST, Some(s), Some(d)) if d.drain != 0 => {
            let dest = s.find_dest_w(w, d.af, &d.addr, d.port).ok_or(ENOENT)?;
            dest.start_drain(crate::sys::bh::jiffies(), d.drain);
            crate::sched::dests_changed(s, w, crate::sched::Change::Updated);
            st.drain_later();
            Ok(())
        }
        (cmd::DEL_DEST, Some(s), Some(d)) => del_dest(st, w, s, d.af, &d.addr, d.port),
        (cmd::ZERO, Some(s), _) => {
            zero_service(st, w, s);
            Ok(())
        }
        _ => Err(EINVAL),
    }
}

/// `ip_vs_del_dest`: the real server leaves its service now (its connections follow with
/// expire_nodest_conn).
pub(crate) fn del_dest(st: &NetState, w: Writer<'_>, s: &Service, af: u16, addr: &InetAddr, port: u16) -> Result {
    let r = s.del_dest(w, af, addr, port).ok_or(ENOENT)?;
    if af != s.key.af {
        st.mixed_af_dests.fetch_sub(1, Relaxed);
    }
    drop(r);
    st.expire_nodest_later();
    Ok(())
}

/// Checks and resolves a full service request into its configuration (`ip_vs_add_service` /
/// `ip_vs_edit_service` checks, in their order).
fn service_conf(f: &FullService, af: u16, prev_flags: u32) -> Result<ServiceConf> {
    let sched = rules::sched_by_name(&f.sched[..f.sched_len]).ok_or(ENOENT)?;
    let pe = match &f.pe[..f.pe_len] {
        b"" => rules::PE_NONE,
        b"sip" => rules::PE_SIP,
        _ => return Err(ENOENT),
    };
    if af == AF_INET6 && !(1..=128).contains(&f.netmask) {
        return Err(EINVAL);
    }
    let hz = crate::sys::hz();
    Ok(ServiceConf {
        sched,
        pe,
        flags: (prev_flags & !f.mask) | (f.flags & f.mask),
        // ip_vs keeps the timeout in jiffies (unsigned int, so it wraps); netlink reports
        // it divided by HZ, /proc prints the jiffies.
        timeout: f.timeout.wrapping_mul(hz),
        netmask: f.netmask,
    })
}

fn add_service(net: NetRef, w: Writer<'_>, st: &NetState, r: &ServiceReq) -> Result {
    let f = r.full.as_ref().ok_or(EINVAL)?;
    let conf = service_conf(f, r.key.af, 0)?;
    st.service_adding(net, r.key.af)?;
    let s = match st.rules.add(w, r.key, &conf) {
        Ok(s) => s,
        Err(e) => {
            st.service_gone(net, r.key.af);
            return Err(e);
        }
    };
    if conn_out(&s) {
        st.conn_out_svcs.fetch_add(1, Relaxed);
    }
    Ok(())
}

fn edit_service(w: Writer<'_>, s: &Service, r: &ServiceReq) -> Result {
    let f = r.full.as_ref().ok_or(EINVAL)?;
    let conf = service_conf(f, s.key.af, s.conf().flags)?;
    if s.set_conf(&conf) {
        crate::sched::dests_changed(s, w, crate::sched::Change::Bind);
    }
    Ok(())
}

/// Common checks of `ip_vs_add_dest` / `ip_vs_edit_dest`.
fn check_dest_conf(c: &DestConf) -> Result {
    if c.weight < 0 {
        return Err(ERANGE);
    }
    if c.l_threshold > c.u_threshold {
        return Err(ERANGE);
    }
    if c.u_threshold > i32::MAX as u32 {
        return Err(EINVAL);
    }
    if c.tun_type == uapi::tun_type::GUE && c.tun_port == 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// The connection flags a dest gets (`__ip_vs_update_dest`).
fn dest_flags(c: &DestConf) -> DestConf {
    let mut f = (c.conn_flags & conn_flags::DEST_MASK) | conn_flags::INACTIVE;
    if f & conn_flags::FWD_MASK != conn_flags::MASQ {
        f |= conn_flags::NOOUTPUT;
    }
    DestConf { conn_flags: f, ..*c }
}

fn add_dest(net: NetRef, w: Writer<'_>, s: &Service, d: &DestReq) -> Result {
    check_dest_conf(&d.conf)?;
    if s.find_dest_w(w, d.af, &d.addr, d.port).is_some() {
        return Err(EEXIST);
    }
    // ip_vs_new_dest: the address must be one ip_vs can forward to.
    if d.af == AF_INET6 {
        if !addr::ipv6_is_routable_unicast(&d.addr) && !addr::ipv6_is_local(net, &d.addr) {
            return Err(EINVAL);
        }
    } else if addr::ipv4_addr_type(net, [d.addr[0], d.addr[1], d.addr[2], d.addr[3]]) == V4Type::Other {
        return Err(EINVAL);
    }
    let dest = Dest::new(d.af, d.addr, d.port, &dest_flags(&d.conf))?;
    s.add_dest(w, dest)
}

fn edit_dest(w: Writer<'_>, s: &Service, d: &DestReq) -> Result {
    check_dest_conf(&d.conf)?;
    let dest = s.find_dest_w(w, d.af, &d.addr, d.port).ok_or(ENOENT)?;
    dest.stop_drain();
    dest.set_conf(&dest_flags(&d.conf));
    crate::sched::dests_changed(s, w, crate::sched::Change::Updated);
    Ok(())
}

/// A service is going away: its mixed-family dests no longer count, and conntrack it turned on
/// (`ip_vs_unregister_conntrack`) is released.
pub(crate) fn forget_mixed(st: &NetState, w: Writer<'_>, s: &Service) {
    let n = s.dests.iter_w(w).filter(|d| d.af != s.key.af).count() as u32;
    st.mixed_af_dests.fetch_sub(n, Relaxed);
    if s.ct_reg.swap(false, Relaxed) {
        st.conns.ct().put(s.key.af);
    }
}

/// `__ip_vs_update_dest`: FTP-NAT needs conntrack for mangling, so a NAT real server of a
/// port-21 service turns conntrack on in the namespace (`ip_vs_register_conntrack`).
fn ftp_conntrack(st: &NetState, s: &Service, d: &DestReq) {
    if d.conf.conn_flags & conn_flags::FWD_MASK != conn_flags::MASQ || s.key.fwmark != 0 || s.key.port != 21 {
        return;
    }
    if !s.ct_reg.load(Relaxed) && st.conns.ct().get(s.key.af).is_ok() {
        s.ct_reg.store(true, Relaxed);
    }
}

fn zero_service(st: &NetState, w: Writer<'_>, s: &Service) {
    let _bh = crate::sys::bh::BhGuard::new();
    let _e = st.est_lock.lock();
    s.stats.zero();
    for d in s.dests.iter_w(w) {
        d.stats.zero();
    }
}

/// `ip_vs_set_timeout`: seconds for TCP established, TCP FIN_WAIT and UDP; an absent or zero
/// value leaves that timeout alone.
pub(crate) fn set_timeouts(st: &NetState, tcp: Option<u32>, fin: Option<u32>, udp: Option<u32>) -> Result {
    let (tcp, fin, udp) = (tcp.unwrap_or(0), fin.unwrap_or(0), udp.unwrap_or(0));
    let max = i32::MAX as u32 / crate::sys::hz();
    // Values are C ints there: anything above INT_MAX is negative, so rejected too.
    if tcp > max || fin > max || udp > max {
        return Err(EINVAL);
    }
    if tcp != 0 {
        st.timeouts.tcp.store(tcp, Relaxed);
    }
    if fin != 0 {
        st.timeouts.tcp_fin.store(fin, Relaxed);
    }
    if udp != 0 {
        st.timeouts.udp.store(udp, Relaxed);
    }
    Ok(())
}

fn set_daemon(req: &Request<'_>, st: &NetState) -> Result {
    let a = req.attr(cmd_attr::DAEMON).ok_or(EINVAL)?;
    let a = a.nested(&DAEMON_POLICY).map_err(|_| EINVAL)?;
    if req.cmd() == cmd::DEL_DAEMON {
        return stop_daemon(st, a.get(daemon_attr::STATE).ok_or(EINVAL)?.u32()?);
    }
    let (Some(state), Some(ifn), Some(id)) =
        (a.get(daemon_attr::STATE), a.get(daemon_attr::MCAST_IFN), a.get(daemon_attr::SYNC_ID))
    else {
        return Err(EINVAL);
    };
    let mut c = DaemonConf {
        mcast_ifn: [0; 16],
        syncid: id.u32()?,
        sync_maxlen: 0,
        mcast_af: 0,
        mcast_group: [0; 16],
        mcast_port: 0,
        mcast_ttl: 0,
    };
    let name = ifn.str_bytes();
    let n = name.len().min(15);
    c.mcast_ifn[..n].copy_from_slice(&name[..n]);
    if let Some(x) = a.get(daemon_attr::SYNC_MAXLEN) {
        c.sync_maxlen = x.u16()?;
    }
    if let Some(x) = a.get(daemon_attr::MCAST_GROUP) {
        let p = x.payload();
        if p.len() < 4 || p[0] & 0xf0 != 0xe0 {
            return Err(EINVAL);
        }
        c.mcast_af = AF_INET;
        c.mcast_group[..4].copy_from_slice(&p[..4]);
    } else if let Some(x) = a.get(daemon_attr::MCAST_GROUP6) {
        let g6 = inet_addr(x);
        if g6[0] != 0xff {
            return Err(EINVAL);
        }
        c.mcast_af = AF_INET6;
        c.mcast_group = g6;
    }
    if let Some(x) = a.get(daemon_attr::MCAST_PORT) {
        c.mcast_port = x.u16()?;
    }
    if let Some(x) = a.get(daemon_attr::MCAST_TTL) {
        c.mcast_ttl = x.u8()?;
    }
    start_daemon(req.net(), st, state.u32()?, c)
}

/// `stop_sync_thread`.
pub(crate) fn stop_daemon(st: &NetState, state: u32) -> Result {
    let slot = match state {
        daemon_state::MASTER => 0,
        daemon_state::BACKUP => 1,
        _ => return Err(EINVAL),
    };
    let mut g = st.ctl.lock();
    match g.daemons[slot].take() {
        Some(_) => {
            crate::syncd::stop(st, slot == 0);
            Ok(())
        }
        None => Err(ESRCH),
    }
}

/// `start_sync_thread`: `c` as the request gave it (zeros for defaults).
pub(crate) fn start_daemon(net: NetRef, st: &NetState, state: u32, mut c: DaemonConf) -> Result {
    let mut g = st.ctl.lock();
    let n = c.mcast_ifn.iter().position(|&b| b == 0).unwrap_or(16);
    // The sync protocol cannot carry mixed-family services.
    if st.mixed_af_dests.load(Relaxed) > 0 {
        return Err(EINVAL);
    }
    // start_sync_thread's defaults and checks, in its order.
    if c.mcast_af == 0 {
        c.mcast_af = AF_INET;
        c.mcast_group[..4].copy_from_slice(&uapi::DEFAULT_MCAST_GROUP);
    }
    if c.mcast_port == 0 {
        c.mcast_port = uapi::DEFAULT_MCAST_PORT;
    }
    if c.mcast_ttl == 0 {
        c.mcast_ttl = uapi::DEFAULT_MCAST_TTL;
    }
    let dev_mtu = addr::dev_mtu(net, &c.mcast_ifn[..n])?;
    let hlen: u32 = if c.mcast_af == AF_INET6 { 40 + 8 } else { 20 + 8 };
    let (mtu, min_mtu) = if state == daemon_state::BACKUP { (dev_mtu.clamp(1500, 65535), 1024) } else { (1500, 1) };
    c.sync_maxlen =
        if c.sync_maxlen != 0 { (c.sync_maxlen as u32).clamp(min_mtu, 65535 - hlen) as u16 } else { (mtu - hlen) as u16 };
    let slot = match state {
        daemon_state::MASTER => 0,
        daemon_state::BACKUP => 1,
        _ => return Err(EINVAL),
    };
    if g.daemons[slot].is_some() {
        return Err(EEXIST);
    }
    crate::syncd::start(net, st, slot == 0, &c)?;
    g.daemons[slot] = Some(c);
    Ok(())
}

// ---- replies --------------------------------------------------------------------------------

fn get_cmd(req: &Request<'_>, st: &NetState) -> Result {
    match req.cmd() {
        cmd::GET_INFO => req.reply(cmd::SET_INFO, |m| {
            m.put_u32(info_attr::VERSION, uapi::IP_VS_VERSION_CODE)?;
            m.put_u32(info_attr::CONN_TAB_SIZE, st.conn_tab_size)
        }),
        cmd::GET_CONFIG => {
            let (tcp, fin, udp) = st.timeouts();
            req.reply(cmd::SET_CONFIG, |m| {
                m.put_u32(cmd_attr::TIMEOUT_TCP, tcp)?;
                m.put_u32(cmd_attr::TIMEOUT_TCP_FIN, fin)?;
                m.put_u32(cmd_attr::TIMEOUT_UDP, udp)
            })
        }
        _ => {
            let sreq = parse_service(req.attr(cmd_attr::SERVICE), false)?;
            // The service is held, not borrowed under RCU: the reply is allocated with
            // GFP_KERNEL, which may sleep (found by the debug kernel: "sleeping function called
            // from invalid context" under rcu_read_lock).
            let svc = {
                let g = RcuGuard::new();
                st.rules.find(&g, &sreq.key).ok_or(ESRCH)?.clone()
            };
            req.reply(cmd::NEW_SERVICE, |m| fill_service(m, &svc))
        }
    }
}

fn fill_stats(m: &mut Msg, ty: u16, s: &StatsView) -> Result {
    m.nest(ty, |m| {
        m.put_u32(stats_attr::CONNS, s.conns as u32)?;
        m.put_u32(stats_attr::INPKTS, s.inpkts as u32)?;
        m.put_u32(stats_attr::OUTPKTS, s.outpkts as u32)?;
        m.put_u64(stats_attr::INBYTES, s.inbytes, stats_attr::PAD)?;
        m.put_u64(stats_attr::OUTBYTES, s.outbytes, stats_attr::PAD)?;
        m.put_u32(stats_attr::CPS, s.cps as u32)?;
        m.put_u32(stats_attr::INPPS, s.inpps as u32)?;
        m.put_u32(stats_attr::OUTPPS, s.outpps as u32)?;
        m.put_u32(stats_attr::INBPS, s.inbps as u32)?;
        m.put_u32(stats_attr::OUTBPS, s.outbps as u32)
    })
}

fn fill_stats64(m: &mut Msg, ty: u16, s: &StatsView) -> Result {
    m.nest(ty, |m| {
        for (a, v) in [
            (stats_attr::CONNS, s.conns),
            (stats_attr::INPKTS, s.inpkts),
            (stats_attr::OUTPKTS, s.outpkts),
            (stats_attr::INBYTES, s.inbytes),
            (stats_attr::OUTBYTES, s.outbytes),
            (stats_attr::CPS, s.cps),
            (stats_attr::INPPS, s.inpps),
            (stats_attr::OUTPPS, s.outpps),
            (stats_attr::INBPS, s.inbps),
            (stats_attr::OUTBPS, s.outbps),
        ] {
            m.put_u64(a, v, stats_attr::PAD)?;
        }
        Ok(())
    })
}

fn fill_service(m: &mut Msg, s: &Service) -> Result {
    let c = s.conf();
    let k = &s.key;
    m.nest(cmd_attr::SERVICE, |m| {
        m.put_u16(svc_attr::AF, k.af)?;
        if k.fwmark != 0 {
            m.put_u32(svc_attr::FWMARK, k.fwmark)?;
        } else {
            m.put_u16(svc_attr::PROTOCOL, k.protocol)?;
            m.put(svc_attr::ADDR, &k.addr)?;
            m.put_be16(svc_attr::PORT, k.port)?;
        }
        m.put_str(svc_attr::SCHED_NAME, rules::sched_name(c.sched).as_bytes())?;
        if c.pe == rules::PE_SIP {
            m.put_str(svc_attr::PE_NAME, b"sip")?;
        }
        let mut flags = [0u8; 8];
        flags[..4].copy_from_slice(&c.flags.to_ne_bytes());
        flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
        m.put(svc_attr::FLAGS, &flags)?;
        m.put_u32(svc_attr::TIMEOUT, c.timeout / crate::sys::hz())?;
        m.put_u32(svc_attr::NETMASK, c.netmask)?;
        let v = s.stats.view();
        fill_stats(m, svc_attr::STATS, &v)?;
        fill_stats64(m, svc_attr::STATS64, &v)
    })
}

fn fill_dest(m: &mut Msg, d: &Dest) -> Result {
    let c = d.conf();
    m.nest(cmd_attr::DEST, |m| {
        m.put(dest_attr::ADDR, &d.addr)?;
        m.put_be16(dest_attr::PORT, d.port)?;
        m.put_u32(dest_attr::FWD_METHOD, c.conn_flags & conn_flags::FWD_MASK)?;
        m.put_u32(dest_attr::WEIGHT, c.weight as u32)?;
        m.put_u8(dest_attr::TUN_TYPE, c.tun_type)?;
        m.put_be16(dest_attr::TUN_PORT, c.tun_port)?;
        m.put_u16(dest_attr::TUN_FLAGS, c.tun_flags)?;
        m.put_u32(dest_attr::U_THRESH, c.u_threshold)?;
        m.put_u32(dest_attr::L_THRESH, c.l_threshold)?;
        m.put_u32(dest_attr::ACTIVE_CONNS, d.activeconns.load(Relaxed) as u32)?;
        m.put_u32(dest_attr::INACT_CONNS, d.inactconns.load(Relaxed) as u32)?;
        m.put_u32(dest_attr::PERSIST_CONNS, d.persistconns.load(Relaxed) as u32)?;
        m.put_u16(dest_attr::ADDR_FAMILY, d.af)?;
        if d.draining() {
            // Seconds left, rounded up (0 once the work is about to remove it).
            let left = d.drain_until().wrapping_sub(crate::sys::bh::jiffies()) as i64;
            let hz = crate::sys::hz() as i64;
            m.put_u32(dest_attr::FVS_DRAIN, (left.max(0) + hz - 1).div_euclid(hz) as u32)?;
        }
        let v = d.stats.view();
        fill_stats(m, dest_attr::STATS, &v)?;
        fill_stats64(m, dest_attr::STATS64, &v)
    })
}

fn dump_services(d: &mut Dump<'_>, st: &NetState) -> Result {
    let start = d.cursor(0);
    let g = RcuGuard::new();
    let mut idx = 0i64;
    for s in st.rules.iter(&g) {
        idx += 1;
        if idx <= start {
            continue;
        }
        if let Err(e) = d.entry(cmd::NEW_SERVICE, |m| fill_service(m, s)) {
            d.set_cursor(0, idx - 1);
            return Err(e);
        }
    }
    d.set_cursor(0, idx);
    Ok(())
}

fn dump_dests(d: &mut Dump<'_>, st: &NetState) -> Result {
    let start = d.cursor(0);
    // As ip_vs: a missing or unknown service gives an empty dump, not an error.
    let Ok(attrs) = d.request_attrs(&CMD_POLICY) else { return Ok(()) };
    let Ok(sreq) = parse_service(attrs.get(cmd_attr::SERVICE), false) else { return Ok(()) };
    let g = RcuGuard::new();
    let Some(svc) = st.rules.find(&g, &sreq.key) else { return Ok(()) };
    let mut idx = 0i64;
    for dest in svc.dests.iter(&g) {
        idx += 1;
        if idx <= start {
            continue;
        }
        if let Err(e) = d.entry(cmd::NEW_DEST, |m| fill_dest(m, dest)) {
            d.set_cursor(0, idx - 1);
            return Err(e);
        }
    }
    d.set_cursor(0, idx);
    Ok(())
}

fn dump_daemons(d: &mut Dump<'_>, st: &NetState) -> Result {
    let daemons = st.ctl.lock().daemons;
    for (slot, state) in [(0usize, daemon_state::MASTER), (1, daemon_state::BACKUP)] {
        let Some(c) = daemons[slot] else { continue };
        if d.cursor(slot) != 0 {
            continue;
        }
        d.entry(cmd::NEW_DAEMON, |m| {
            m.nest(cmd_attr::DAEMON, |m| {
                m.put_u32(daemon_attr::STATE, state)?;
                let n = c.mcast_ifn.iter().position(|&b| b == 0).unwrap_or(16);
                m.put_str(daemon_attr::MCAST_IFN, &c.mcast_ifn[..n])?;
                m.put_u32(daemon_attr::SYNC_ID, c.syncid)?;
                m.put_u16(daemon_attr::SYNC_MAXLEN, c.sync_maxlen)?;
                m.put_u16(daemon_attr::MCAST_PORT, c.mcast_port)?;
                m.put_u8(daemon_attr::MCAST_TTL, c.mcast_ttl)?;
                if c.mcast_af == AF_INET6 {
                    m.put(daemon_attr::MCAST_GROUP6, &c.mcast_group)
                } else {
                    m.put(daemon_attr::MCAST_GROUP, &c.mcast_group[..4])
                }
            })
        })?;
        d.set_cursor(slot, 1);
    }
    Ok(())
}
