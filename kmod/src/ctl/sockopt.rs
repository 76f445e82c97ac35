//! compat=1: the IPVS socket options with `do_ip_vs_set_ctl` / `do_ip_vs_get_ctl`'s semantics
//! (IPv4 only, the same length checks, errors and replies), over the same rule operations as
//! generic netlink (`ctl::genl::change` and friends).

use super::genl::{self, DestReq, FullService, ServiceReq};
use crate::netns::{DaemonConf, NetState};
use crate::rules::{self, DestConf, Service, ServiceKey, StatsView, AF_INET};
use crate::sys::rcu::Writer;
use crate::sys::sockopt::{self as so, GetCall, Handlers, SetCall, Sockopts};
use crate::uapi::{self, cmd, daemon_state};
use core::fmt::Write;
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;

static SOCKOPTS: Sockopts = Sockopts::new();

pub(crate) fn sockopts() -> &'static Sockopts {
    &SOCKOPTS
}

/// Claims the IPVS socket options; EBUSY (with a message) when the kernel's ip_vs holds them.
pub(crate) fn register(module: *mut kernel::bindings::module) -> Result {
    SOCKOPTS.register(Handlers { set, get }, module).inspect_err(|e| {
        if *e == EBUSY {
            pr_err!("compat=1: the IPVS socket options are taken (the kernel's ip_vs is loaded); unload ip_vs first, or load fvs without compat\n");
        }
    })
}

pub(crate) fn unregister() {
    SOCKOPTS.unregister()
}

/// `set_arglen`: the exact argument length of each set command (0 for unused slots).
fn set_arglen(c: u32) -> usize {
    match c {
        so::SET_ADD | so::SET_EDIT | so::SET_DEL | so::SET_ZERO => so::SERVICE_USER,
        so::SET_ADDDEST | so::SET_DELDEST | so::SET_EDITDEST => so::SVCDEST_USER,
        so::SET_TIMEOUT => so::TIMEOUT_USER,
        so::SET_STARTDAEMON | so::SET_STOPDAEMON => so::DAEMON_USER,
        _ => 0,
    }
}

const MAX_SET_ARGLEN: usize = {
    let a = if so::SVCDEST_USER > so::TIMEOUT_USER { so::SVCDEST_USER } else { so::TIMEOUT_USER };
    if a > so::DAEMON_USER {
        a
    } else {
        so::DAEMON_USER
    }
};

fn set(call: &SetCall<'_>) -> Result {
    let c = call.cmd();
    if !(so::BASE_CTL..=so::SET_MAX).contains(&c) {
        return Err(EINVAL);
    }
    if call.len() != set_arglen(c) {
        return Err(EINVAL);
    }
    let mut arg = [0u8; MAX_SET_ARGLEN];
    let arg = &mut arg[..call.len()];
    call.read(arg)?;
    let st = NetState::of(call.net()).ok_or(ENOENT)?;
    set_locked(call, st, c, arg)
}

fn set_locked(call: &SetCall<'_>, st: &NetState, c: u32, arg: &[u8]) -> Result {
    match c {
        so::SET_STARTDAEMON => {
            let d = so::DaemonUser::parse(arg);
            // strscpy into the 16-byte name: empty or unterminated names are refused.
            let n = d.mcast_ifn.iter().position(|&b| b == 0).ok_or(EINVAL)?;
            if n == 0 {
                return Err(EINVAL);
            }
            let conf = DaemonConf {
                mcast_ifn: d.mcast_ifn,
                syncid: d.syncid as u32,
                sync_maxlen: 0,
                mcast_af: 0,
                mcast_group: [0; 16],
                mcast_port: 0,
                mcast_ttl: 0,
            };
            return genl::start_daemon(call.net(), st, d.state as u32, conf);
        }
        so::SET_STOPDAEMON => return genl::stop_daemon(st, so::DaemonUser::parse(arg).state as u32),
        _ => {}
    }
    let g = st.ctl.lock();
    let w = g.writer();
    match c {
        so::SET_FLUSH => {
            genl::flush(call.net(), st, w);
            return Ok(());
        }
        so::SET_TIMEOUT => {
            let t = so::TimeoutUser::parse(arg);
            let v = |x: i32| if x < 0 { Err(EINVAL) } else { Ok(Some(x as u32)) };
            return genl::set_timeouts(st, v(t.tcp)?, v(t.tcp_fin)?, v(t.udp)?);
        }
        _ if arg.is_empty() => return Err(EINVAL),
        _ => {}
    }
    let u = so::ServiceUser::parse(arg, 0);
    if c == so::SET_ZERO && u.fwmark == 0 && u.addr == [0; 4] && u.port == 0 {
        genl::zero_all(st, w);
        return Ok(());
    }
    let sched_len = u.sched_name.iter().position(|&b| b == 0);
    if (c == so::SET_ADD || c == so::SET_EDIT) && sched_len.is_none() {
        return Err(EINVAL);
    }
    // TCP, UDP or SCTP, even for firewall marks.
    if !matches!(u.protocol, 6 | 17 | 132) {
        pr_err!(
            "set_ctl: invalid protocol: {} {}.{}.{}.{}:{}\n",
            u.protocol,
            u.addr[0],
            u.addr[1],
            u.addr[2],
            u.addr[3],
            u.port
        );
        return Err(EFAULT);
    }
    let key = service_key(u.protocol, u.addr, u.port, u.fwmark);
    // The exact service; a firewall-mark one must also have the given protocol.
    match st.rules.find_w(w, &key) {
        Some(s) if s.key.protocol == u.protocol => {}
        _ if c == so::SET_ADD => {}
        _ => return Err(ESRCH),
    }
    let sched_len = sched_len.unwrap_or(16);
    let mut sched = [0u8; 16];
    sched[..sched_len].copy_from_slice(&u.sched_name[..sched_len]);
    let sreq = ServiceReq {
        key,
        full: Some(FullService {
            sched,
            sched_len,
            pe: [0; 16],
            pe_len: 0,
            flags: u.flags,
            mask: u32::MAX,
            timeout: u.timeout,
            netmask: u.netmask,
        }),
    };
    let dest = || {
        let d = so::DestUser::parse(arg, so::SERVICE_USER);
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&d.addr);
        DestReq {
            af: AF_INET,
            addr,
            port: d.port,
            conf: DestConf {
                conn_flags: d.conn_flags,
                weight: d.weight,
                u_threshold: d.u_threshold,
                l_threshold: d.l_threshold,
                tun_type: uapi::tun_type::IPIP,
                tun_port: 0,
                tun_flags: 0,
            },
            drain: 0,
        }
    };
    let (gc, d) = match c {
        so::SET_ADD => (cmd::NEW_SERVICE, None),
        so::SET_EDIT => (cmd::SET_SERVICE, None),
        so::SET_DEL => (cmd::DEL_SERVICE, None),
        so::SET_ZERO => (cmd::ZERO, None),
        so::SET_ADDDEST => (cmd::NEW_DEST, Some(dest())),
        so::SET_EDITDEST => (cmd::SET_DEST, Some(dest())),
        so::SET_DELDEST => (cmd::DEL_DEST, Some(dest())),
        _ => return Err(EINVAL),
    };
    genl::change(call.net(), st, &g, gc, &sreq, d)
}

/// The key of an IPv4 service as the socket options name it; firewall-mark services are keyed
/// by mark alone (the protocol is kept for ip_vs's protocol check).
fn service_key(protocol: u16, a: [u8; 4], port: u16, fwmark: u32) -> ServiceKey {
    let mut addr = [0u8; 16];
    if fwmark == 0 {
        addr[..4].copy_from_slice(&a);
    }
    ServiceKey { af: AF_INET, protocol, addr, port: if fwmark == 0 { port } else { 0 }, fwmark }
}

// ---- get --------------------------------------------------------------------------------------

/// `get_arglen`: the least buffer each get command needs (0 for unused slots).
fn get_arglen(c: u32) -> usize {
    match c {
        so::GET_VERSION => 64,
        so::GET_INFO => so::GETINFO,
        so::GET_SERVICES => so::GET_SERVICES_HDR,
        so::GET_SERVICE => so::SERVICE_ENTRY,
        so::GET_DESTS => so::GET_DESTS_HDR,
        so::GET_TIMEOUT => so::TIMEOUT_USER,
        so::GET_DAEMON => 2 * so::DAEMON_USER,
        _ => 0,
    }
}

const MAX_GET_ARGLEN: usize = {
    let mut m = 64;
    let all = [so::GETINFO, so::GET_SERVICES_HDR, so::SERVICE_ENTRY, so::GET_DESTS_HDR, so::TIMEOUT_USER, 2 * so::DAEMON_USER];
    let mut i = 0;
    while i < all.len() {
        if all[i] > m {
            m = all[i];
        }
        i += 1;
    }
    m
};

fn stats_user(v: &StatsView) -> so::StatsUser {
    so::StatsUser {
        conns: v.conns,
        inpkts: v.inpkts,
        outpkts: v.outpkts,
        inbytes: v.inbytes,
        outbytes: v.outbytes,
        cps: v.cps,
        inpps: v.inpps,
        outpps: v.outpps,
        inbps: v.inbps,
        outbps: v.outbps,
    }
}

/// `ip_vs_copy_service`.
fn service_entry(s: &Service, w: Writer<'_>) -> so::ServiceEntry {
    let c = s.conf();
    let mut sched_name = [0u8; 16];
    let n = rules::sched_name(c.sched).as_bytes();
    sched_name[..n.len().min(15)].copy_from_slice(&n[..n.len().min(15)]);
    so::ServiceEntry {
        protocol: s.key.protocol,
        addr: [s.key.addr[0], s.key.addr[1], s.key.addr[2], s.key.addr[3]],
        port: s.key.port,
        fwmark: s.key.fwmark,
        sched_name,
        flags: c.flags,
        timeout: c.timeout / crate::sys::hz(),
        netmask: c.netmask,
        num_dests: s.dests.iter_w(w).count() as u32,
        stats: stats_user(&s.stats.view()),
    }
}

fn get(call: &mut GetCall<'_>) -> Result {
    let c = call.cmd();
    if !(so::BASE_CTL..=so::GET_MAX).contains(&c) {
        return Err(EINVAL);
    }
    let copylen = get_arglen(c);
    if (call.len() as i64) < copylen as i64 {
        return Err(EINVAL);
    }
    let mut arg = [0u8; MAX_GET_ARGLEN];
    let arg = &mut arg[..copylen];
    call.read(arg)?;
    let st = NetState::of(call.net()).ok_or(ENOENT)?;
    match c {
        so::GET_DAEMON => {
            let daemons = st.ctl.lock().daemons;
            let mut out = [0u8; 2 * so::DAEMON_USER];
            for (slot, state) in [(0usize, daemon_state::MASTER), (1, daemon_state::BACKUP)] {
                if let Some(d) = daemons[slot] {
                    let mut mcast_ifn = d.mcast_ifn;
                    mcast_ifn[15] = 0;
                    let u = so::DaemonUser { state: state as i32, mcast_ifn, syncid: d.syncid as i32 };
                    out[slot * so::DAEMON_USER..(slot + 1) * so::DAEMON_USER].copy_from_slice(&u.bytes());
                }
            }
            call.write(0, &out)
        }
        so::GET_SERVICES => {
            let num = so::get_services_num(arg) as usize;
            let size = so::GET_SERVICES_HDR + so::SERVICE_ENTRY * num;
            if call.len() as i64 != size as i64 {
                pr_err!("length: {} != {}\n", call.len() as u32, size);
                return Err(EINVAL);
            }
            // The rules cannot change while the control lock is held, so the entries are copied
            // out as they are walked.
            let ctl = st.ctl.lock();
            let w = ctl.writer();
            // Only IPv4 services go to the old interface.
            for (i, s) in st.rules.iter_w(w).filter(|s| s.key.af == AF_INET).take(num).enumerate() {
                call.write(so::services_entry_at(i), &service_entry(s, w).bytes())?;
            }
            Ok(())
        }
        so::GET_VERSION => {
            let mut buf = VersionBuf { b: [0; 64], n: 0 };
            let _ = write!(buf, "IP Virtual Server version 1.2.1 (size={})\0", st.conn_tab_size);
            let b = &buf.b[..buf.n];
            call.write(0, b)?;
            call.set_len(b.len());
            Ok(())
        }
        so::GET_INFO => {
            let ctl = st.ctl.lock();
            let n = st.rules.iter_w(ctl.writer()).filter(|s| s.key.af == AF_INET).count() as u32;
            drop(ctl);
            call.write(0, &so::getinfo_bytes(uapi::IP_VS_VERSION_CODE, st.conn_tab_size, n))
        }
        so::GET_SERVICE => {
            let (protocol, addr, port, fwmark) = so::ServiceEntry::parse_key(arg);
            let key = service_key(protocol, addr, port, fwmark);
            let ctl = st.ctl.lock();
            let w = ctl.writer();
            let e = st.rules.find_w(w, &key).map(|s| service_entry(s, w).bytes()).ok_or(ESRCH)?;
            call.write(0, &e)
        }
        so::GET_DESTS => {
            let (protocol, addr, port, fwmark, num) = so::get_dests_hdr(arg);
            let size = so::GET_DESTS_HDR + so::DEST_ENTRY * num as usize;
            if call.len() as i64 != size as i64 {
                pr_err!("length: {} != {}\n", call.len() as u32, size);
                return Err(EINVAL);
            }
            let key = service_key(protocol, addr, port, fwmark);
            let ctl = st.ctl.lock();
            let w = ctl.writer();
            let s = st.rules.find_w(w, &key).ok_or(ESRCH)?;
            // Heterogeneous members cannot be shown through this interface.
            for (i, d) in s.dests.iter_w(w).filter(|d| d.af == s.key.af).take(num as usize).enumerate() {
                let dc = d.conf();
                let e = so::DestEntry {
                    addr: [d.addr[0], d.addr[1], d.addr[2], d.addr[3]],
                    port: d.port,
                    conn_flags: dc.conn_flags,
                    weight: dc.weight,
                    u_threshold: dc.u_threshold,
                    l_threshold: dc.l_threshold,
                    activeconns: d.activeconns.load(Relaxed) as u32,
                    inactconns: d.inactconns.load(Relaxed) as u32,
                    persistconns: d.persistconns.load(Relaxed) as u32,
                    stats: stats_user(&d.stats.view()),
                };
                call.write(so::dests_entry_at(i), &e.bytes())?;
            }
            Ok(())
        }
        so::GET_TIMEOUT => {
            let (tcp, fin, udp) = st.timeouts();
            call.write(0, &so::TimeoutUser { tcp: tcp as i32, tcp_fin: fin as i32, udp: udp as i32 }.bytes())
        }
        _ => Err(EINVAL),
    }
}

/// The version string's buffer (ip_vs's `char buf[64]`).
struct VersionBuf {
    b: [u8; 64],
    n: usize,
}

impl core::fmt::Write for VersionBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let d = self.b.get_mut(self.n..self.n + s.len()).ok_or(core::fmt::Error)?;
        d.copy_from_slice(s.as_bytes());
        self.n += s.len();
        Ok(())
    }
}
