//! The IPVS generic-netlink client: family resolution ("FVS" first, then "IPVS"), request
//! encoding identical to libipvs (same attributes, same order), reply decoding with libipvs'
//! acceptance rules, and batched execution for `-R`.

use std::io;

use fvs_uapi::{cmd, cmd_attr, daemon_attr, dest_attr, info_attr, stats_attr, svc_attr, AF_INET6};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::model::{Daemon, Dest, DestEntry, Info, Service, ServiceEntry, Stats, Timeouts};
use crate::netlink::{self, Attrs, Message, NLM_F_ACK, NLM_F_DUMP};

/// Which implementation answers: fvs.ko or the kernel's ip_vs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Fvs,
    Ipvs,
}

impl Flavor {
    pub fn genl_name(self) -> &'static str {
        match self {
            Flavor::Fvs => fvs_uapi::FVS_GENL_NAME,
            Flavor::Ipvs => fvs_uapi::IPVS_GENL_NAME,
        }
    }

    /// The connection table in /proc that `-L -c` reads.
    pub fn conn_file(self) -> &'static str {
        match self {
            Flavor::Fvs => "/proc/net/fvs_conn",
            Flavor::Ipvs => "/proc/net/ip_vs_conn",
        }
    }
}

/// A state-changing request (one ipvsadm command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    AddService(Service),
    EditService(Service),
    DelService(Service),
    Zero(Service),
    AddDest(Service, Dest),
    EditDest(Service, Dest),
    DelDest(Service, Dest),
    SetTimeout(Timeouts),
    StartDaemon(Daemon),
    StopDaemon(Daemon),
    Flush,
}

/// The libipvs function a failure is attributed to (`ipvs_func`), which selects the message
/// `ipvs_strerror()` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Init,
    AddService,
    UpdateService,
    DelService,
    ZeroService,
    AddDest,
    UpdateDest,
    DelDest,
    SetTimeout,
    StartDaemon,
    StopDaemon,
    GetDests,
    GetService,
    GetTimeout,
    GetDaemon,
}

impl Request {
    /// The `ipvs_func` this request sets; `None` for flush, which leaves it unchanged.
    pub fn func(&self) -> Option<Func> {
        Some(match self {
            Request::AddService(_) => Func::AddService,
            Request::EditService(_) => Func::UpdateService,
            Request::DelService(_) => Func::DelService,
            Request::Zero(_) => Func::ZeroService,
            Request::AddDest(..) => Func::AddDest,
            Request::EditDest(..) => Func::UpdateDest,
            Request::DelDest(..) => Func::DelDest,
            Request::SetTimeout(_) => Func::SetTimeout,
            Request::StartDaemon(_) => Func::StartDaemon,
            Request::StopDaemon(_) => Func::StopDaemon,
            Request::Flush => return None,
        })
    }

    /// The `--drain` seconds of a DEL_DEST (an fvs.ko extension), if any.
    pub fn drain(&self) -> Option<u32> {
        match self {
            Request::DelDest(_, d) => d.drain,
            _ => None,
        }
    }
}

/// The message printed when `--drain` is asked of a backend that is not fvs.ko.
pub const DRAIN_NEEDS_FVS: &str =
    "ipvsadm-rs: --drain needs fvs.ko: the kernel's ip_vs has no draining";

/// Whether fvs.ko answers on a family of flavour `flavor`, given fvs's sysfs module directory
/// (`/sys/module/fvs`): always for "FVS"; for "IPVS" when fvs.ko is loaded (it takes "IPVS"
/// only with compat=1, and is refused while ip_vs holds it) — unless its `compat` parameter is
/// visible and says it was loaded without compat.
pub fn fvs_answers(flavor: Flavor, module_dir: &std::path::Path) -> bool {
    match flavor {
        Flavor::Fvs => true,
        Flavor::Ipvs => {
            if !module_dir.is_dir() {
                return false;
            }
            match std::fs::read_to_string(module_dir.join("parameters/compat")) {
                Ok(v) => !matches!(v.trim(), "0" | "N" | "n"),
                Err(_) => true,
            }
        }
    }
}

/// `ipvs_strerror()`.
pub fn ipvs_strerror(func: Func, err: i32) -> String {
    use libc::*;
    let specific: &[(Func, i32, &str)] = &[
        (Func::AddService, EEXIST, "Service already exists"),
        (
            Func::AddService,
            ENOENT,
            "Scheduler or persistence engine not found",
        ),
        (Func::UpdateService, ESRCH, "No such service"),
        (
            Func::UpdateService,
            ENOENT,
            "Scheduler or persistence engine not found",
        ),
        (Func::DelService, ESRCH, "No such service"),
        (Func::ZeroService, ESRCH, "No such service"),
        (Func::AddDest, ESRCH, "Service not defined"),
        (Func::AddDest, EEXIST, "Destination already exists"),
        (Func::UpdateDest, ESRCH, "Service not defined"),
        (Func::UpdateDest, ENOENT, "No such destination"),
        (Func::DelDest, ESRCH, "Service not defined"),
        (Func::DelDest, ENOENT, "No such destination"),
        (Func::StartDaemon, EEXIST, "Daemon has already run"),
        (Func::StopDaemon, ESRCH, "No daemon is running"),
        (Func::GetDests, ESRCH, "No such service"),
        (Func::GetService, ESRCH, "No such service"),
    ];
    for (f, e, m) in specific {
        if *f == func && *e == err {
            return m.to_string();
        }
    }
    let generic: &[(i32, &str)] = &[
        (EPERM, "Permission denied (you must be root)"),
        (
            EINVAL,
            "Invalid operation.  Possibly wrong module version, address not unicast, ...",
        ),
        (ENOPROTOOPT, "Protocol not available"),
        (ENOMEM, "Memory allocation problem"),
        (EOPNOTSUPP, "Operation not supported with IPv6"),
        (
            EAFNOSUPPORT,
            "Operation not supported with specified address family",
        ),
        (EMSGSIZE, "Module is wrong version"),
    ];
    for (e, m) in generic {
        if *e == err {
            return m.to_string();
        }
    }
    crate::resolve::strerror(err)
}

/// What the program needs from an IPVS implementation. Errors are positive errno values.
pub trait Backend {
    fn flavor(&self) -> Flavor;
    /// Whether the implementation is fvs.ko (which knows fvs's extensions, e.g. `--drain`).
    fn is_fvs(&self) -> bool {
        fvs_answers(self.flavor(), std::path::Path::new("/sys/module/fvs"))
    }
    fn info(&mut self) -> Result<Info, i32>;
    fn services(&mut self) -> Result<Vec<ServiceEntry>, i32>;
    fn service(&mut self, key: &Service) -> Result<ServiceEntry, i32>;
    fn dests(&mut self, svc: &ServiceEntry) -> Result<Vec<DestEntry>, i32>;
    fn timeouts(&mut self) -> Result<Timeouts, i32>;
    fn daemons(&mut self) -> Result<Vec<Daemon>, i32>;
    /// Executes requests in order; one result per request.
    fn execute(&mut self, reqs: &[Request]) -> Vec<Result<(), i32>>;
}

// ---------------------------------------------------------------------------------------------
// Encoding (identical to libipvs)

/// `ipvs_nl_fill_service_attr()`.
pub fn put_service(m: &mut Message, s: &Service) {
    m.begin_nest(cmd_attr::SERVICE);
    m.put_u16(svc_attr::AF, s.af);
    if s.fwmark != 0 {
        m.put_u32(svc_attr::FWMARK, s.fwmark);
    } else {
        m.put_u16(svc_attr::PROTOCOL, s.protocol);
        m.put(svc_attr::ADDR, &s.addr);
        m.put(svc_attr::PORT, &s.port.to_be_bytes());
    }
    m.put_str(svc_attr::SCHED_NAME, &s.sched_name);
    if !s.pe_name.is_empty() {
        m.put_str(svc_attr::PE_NAME, &s.pe_name);
    }
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&s.flags.to_ne_bytes());
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    m.put(svc_attr::FLAGS, &flags);
    m.put_u32(svc_attr::TIMEOUT, s.timeout);
    m.put_u32(svc_attr::NETMASK, s.netmask);
    m.end_nest();
}

/// `ipvs_nl_fill_dest_attr()`, plus `dest_attr::FVS_DRAIN` for `--drain`.
pub fn put_dest(m: &mut Message, d: &Dest) {
    m.begin_nest(cmd_attr::DEST);
    m.put_u16(dest_attr::ADDR_FAMILY, d.af);
    m.put(dest_attr::ADDR, &d.addr);
    m.put(dest_attr::PORT, &d.port.to_be_bytes());
    m.put_u32(
        dest_attr::FWD_METHOD,
        d.conn_flags & fvs_uapi::conn_flags::FWD_MASK,
    );
    m.put_u32(dest_attr::WEIGHT, d.weight as u32);
    m.put_u8(dest_attr::TUN_TYPE, d.tun_type);
    m.put(dest_attr::TUN_PORT, &d.tun_port.to_be_bytes());
    m.put_u16(dest_attr::TUN_FLAGS, d.tun_flags);
    m.put_u32(dest_attr::U_THRESH, d.u_threshold);
    m.put_u32(dest_attr::L_THRESH, d.l_threshold);
    // fvs extension, after everything libipvs sends: only present with `--drain`.
    if let Some(secs) = d.drain {
        m.put_u32(dest_attr::FVS_DRAIN, secs);
    }
    m.end_nest();
}

fn put_daemon(m: &mut Message, d: &Daemon, full: bool) {
    m.begin_nest(cmd_attr::DAEMON);
    m.put_u32(daemon_attr::STATE, d.state);
    m.put_str(daemon_attr::MCAST_IFN, &d.mcast_ifn);
    m.put_u32(daemon_attr::SYNC_ID, d.syncid);
    if full {
        if d.sync_maxlen != 0 {
            m.put_u16(daemon_attr::SYNC_MAXLEN, d.sync_maxlen);
        }
        if d.mcast_port != 0 {
            m.put_u16(daemon_attr::MCAST_PORT, d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            m.put_u8(daemon_attr::MCAST_TTL, d.mcast_ttl);
        }
        if d.mcast_af == AF_INET6 {
            m.put(daemon_attr::MCAST_GROUP6, &d.mcast_group);
        } else if d.mcast_af == fvs_uapi::AF_INET {
            m.put(daemon_attr::MCAST_GROUP, &d.mcast_group[..4]);
        }
    }
    m.end_nest();
}

fn genl(family: u16, flags: u16, c: u8) -> Message {
    Message::new(family, flags, c, fvs_uapi::IPVS_GENL_VERSION)
}

/// The message libipvs sends for a request.
pub fn encode_request(family: u16, req: &Request) -> Message {
    match req {
        Request::AddService(s) | Request::EditService(s) | Request::DelService(s) => {
            let c = match req {
                Request::AddService(_) => cmd::NEW_SERVICE,
                Request::EditService(_) => cmd::SET_SERVICE,
                _ => cmd::DEL_SERVICE,
            };
            let mut m = genl(family, 0, c);
            put_service(&mut m, s);
            m
        }
        Request::Zero(s) => {
            let mut m = genl(family, 0, cmd::ZERO);
            if s.fwmark != 0 || s.addr != [0u8; 16] || s.port != 0 {
                put_service(&mut m, s);
            }
            m
        }
        Request::AddDest(s, d) | Request::EditDest(s, d) | Request::DelDest(s, d) => {
            let c = match req {
                Request::AddDest(..) => cmd::NEW_DEST,
                Request::EditDest(..) => cmd::SET_DEST,
                _ => cmd::DEL_DEST,
            };
            let mut m = genl(family, 0, c);
            put_service(&mut m, s);
            put_dest(&mut m, d);
            m
        }
        Request::SetTimeout(t) => {
            let mut m = genl(family, 0, cmd::SET_CONFIG);
            m.put_u32(cmd_attr::TIMEOUT_TCP, t.tcp);
            m.put_u32(cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin);
            m.put_u32(cmd_attr::TIMEOUT_UDP, t.udp);
            m
        }
        Request::StartDaemon(d) => {
            let mut m = genl(family, 0, cmd::NEW_DAEMON);
            put_daemon(&mut m, d, true);
            m
        }
        Request::StopDaemon(d) => {
            let mut m = genl(family, 0, cmd::DEL_DAEMON);
            put_daemon(&mut m, d, false);
            m
        }
        Request::Flush => genl(family, 0, cmd::FLUSH),
    }
}

/// The GET_SERVICE request of `ipvs_get_service()` (a zeroed service with the key set).
pub fn encode_get_service(family: u16, key: &Service) -> Message {
    let t = Service {
        af: key.af,
        protocol: key.protocol,
        addr: key.addr,
        port: key.port,
        fwmark: key.fwmark,
        netmask: 0,
        ..Service::default()
    };
    let mut m = genl(family, 0, cmd::GET_SERVICE);
    put_service(&mut m, &t);
    m
}

/// The GET_DEST dump request of `ipvs_get_dests()`.
pub fn encode_get_dests(family: u16, s: &ServiceEntry) -> Message {
    let mut m = genl(family, NLM_F_DUMP, cmd::GET_DEST);
    m.begin_nest(cmd_attr::SERVICE);
    m.put_u16(svc_attr::AF, s.af);
    if s.fwmark != 0 {
        m.put_u32(svc_attr::FWMARK, s.fwmark);
    } else {
        m.put_u16(svc_attr::PROTOCOL, s.protocol);
        m.put(svc_attr::ADDR, &s.addr);
        m.put(svc_attr::PORT, &s.port.to_be_bytes());
    }
    m.end_nest();
    m
}

// ---------------------------------------------------------------------------------------------
// Decoding (libipvs' acceptance rules; a rejected reply is EINVAL)

fn be16(a: &Attrs, ty: u16) -> Option<u16> {
    a.get(ty)
        .filter(|d| d.len() >= 2)
        .map(|d| u16::from_be_bytes([d[0], d[1]]))
}

fn addr16(a: &Attrs, ty: u16) -> Option<[u8; 16]> {
    a.get(ty).map(|d| {
        let mut r = [0u8; 16];
        let n = d.len().min(16);
        r[..n].copy_from_slice(&d[..n]);
        r
    })
}

/// `ipvs_parse_stats()` / `ipvs_parse_stats64()`.
pub fn parse_stats(nla: &[u8], wide: bool) -> Option<Stats> {
    let a = Attrs::parse(nla);
    let all = [
        stats_attr::CONNS,
        stats_attr::INPKTS,
        stats_attr::OUTPKTS,
        stats_attr::INBYTES,
        stats_attr::OUTBYTES,
        stats_attr::CPS,
        stats_attr::INPPS,
        stats_attr::OUTPPS,
        stats_attr::INBPS,
        stats_attr::OUTBPS,
    ];
    if !all.iter().all(|t| a.has(*t)) {
        return None;
    }
    let n = |t: u16| -> u64 {
        if wide || t == stats_attr::INBYTES || t == stats_attr::OUTBYTES {
            a.u64(t).unwrap_or(0)
        } else {
            a.u32(t).unwrap_or(0) as u64
        }
    };
    Some(Stats {
        conns: n(stats_attr::CONNS),
        inpkts: n(stats_attr::INPKTS),
        outpkts: n(stats_attr::OUTPKTS),
        inbytes: n(stats_attr::INBYTES),
        outbytes: n(stats_attr::OUTBYTES),
        cps: n(stats_attr::CPS),
        inpps: n(stats_attr::INPPS),
        outpps: n(stats_attr::OUTPPS),
        inbps: n(stats_attr::INBPS),
        outbps: n(stats_attr::OUTBPS),
    })
}

fn stats_of(a: &Attrs, ty64: u16, ty32: u16) -> Option<Stats> {
    if let Some(s) = a.get(ty64) {
        parse_stats(s, true)
    } else if let Some(s) = a.get(ty32) {
        parse_stats(s, false)
    } else {
        Some(Stats::default())
    }
}

/// `ipvs_services_parse_cb()` on one genetlink message body.
pub fn decode_service(body: &[u8]) -> Option<ServiceEntry> {
    let top = Attrs::parse_genl(body);
    let a = top.nested(cmd_attr::SERVICE)?;
    let ok = a.has(svc_attr::AF)
        && (a.has(svc_attr::FWMARK)
            || (a.has(svc_attr::PROTOCOL) && a.has(svc_attr::ADDR) && a.has(svc_attr::PORT)))
        && a.has(svc_attr::SCHED_NAME)
        && a.has(svc_attr::NETMASK)
        && a.has(svc_attr::TIMEOUT)
        && a.has(svc_attr::FLAGS);
    if !ok {
        return None;
    }
    let mut e = ServiceEntry {
        af: a.u16(svc_attr::AF)?,
        ..ServiceEntry::default()
    };
    if let Some(f) = a.u32(svc_attr::FWMARK) {
        e.fwmark = f;
    } else {
        e.protocol = a.u16(svc_attr::PROTOCOL)?;
        e.addr = addr16(&a, svc_attr::ADDR)?;
        e.port = be16(&a, svc_attr::PORT)?;
    }
    let mut sched = a.string(svc_attr::SCHED_NAME)?;
    sched.truncate(fvs_uapi::IP_VS_SCHEDNAME_MAXLEN - 1);
    e.sched_name = sched;
    if let Some(mut pe) = a.string(svc_attr::PE_NAME) {
        pe.truncate(fvs_uapi::IP_VS_PENAME_MAXLEN);
        e.pe_name = pe;
    }
    e.netmask = a.u32(svc_attr::NETMASK)?;
    e.timeout = a.u32(svc_attr::TIMEOUT)?;
    let f = a.get(svc_attr::FLAGS)?;
    let mut fl = [0u8; 8];
    let n = f.len().min(8);
    fl[..n].copy_from_slice(&f[..n]);
    let flags = u32::from_ne_bytes(fl[..4].try_into().unwrap());
    let mask = u32::from_ne_bytes(fl[4..].try_into().unwrap());
    e.flags = flags & mask;
    e.stats = stats_of(&a, svc_attr::STATS64, svc_attr::STATS)?;
    Some(e)
}

/// `ipvs_dests_parse_cb()` on one genetlink message body. Unknown attribute types are
/// ignored; fvs's `FVS_DRAIN` fills `drain_left`.
pub fn decode_dest(body: &[u8], svc_af: u16) -> Option<DestEntry> {
    let top = Attrs::parse_genl(body);
    let a = top.nested(cmd_attr::DEST)?;
    let required = [
        dest_attr::ADDR,
        dest_attr::PORT,
        dest_attr::FWD_METHOD,
        dest_attr::WEIGHT,
        dest_attr::U_THRESH,
        dest_attr::L_THRESH,
        dest_attr::ACTIVE_CONNS,
        dest_attr::INACT_CONNS,
        dest_attr::PERSIST_CONNS,
    ];
    if !required.iter().all(|t| a.has(*t)) {
        return None;
    }
    Some(DestEntry {
        af: a.u16(dest_attr::ADDR_FAMILY).unwrap_or(svc_af),
        addr: addr16(&a, dest_attr::ADDR)?,
        port: be16(&a, dest_attr::PORT)?,
        conn_flags: a.u32(dest_attr::FWD_METHOD)?,
        weight: a.u32(dest_attr::WEIGHT)? as i32,
        u_threshold: a.u32(dest_attr::U_THRESH)?,
        l_threshold: a.u32(dest_attr::L_THRESH)?,
        activeconns: a.u32(dest_attr::ACTIVE_CONNS)?,
        inactconns: a.u32(dest_attr::INACT_CONNS)?,
        persistconns: a.u32(dest_attr::PERSIST_CONNS)?,
        tun_type: a.u8(dest_attr::TUN_TYPE).unwrap_or(0),
        tun_port: be16(&a, dest_attr::TUN_PORT).unwrap_or(0),
        tun_flags: a.u16(dest_attr::TUN_FLAGS).unwrap_or(0),
        stats: stats_of(&a, dest_attr::STATS64, dest_attr::STATS)?,
        // fvs extension: seconds left of a draining server (absent otherwise, and from ip_vs).
        drain_left: a.u32(dest_attr::FVS_DRAIN),
    })
}

/// `ipvs_daemon_parse_cb()` on one genetlink message body.
pub fn decode_daemon(body: &[u8]) -> Option<Daemon> {
    let top = Attrs::parse_genl(body);
    let a = top.nested(cmd_attr::DAEMON)?;
    if !(a.has(daemon_attr::STATE) && a.has(daemon_attr::MCAST_IFN) && a.has(daemon_attr::SYNC_ID))
    {
        return None;
    }
    let mut ifn = a.string(daemon_attr::MCAST_IFN)?;
    ifn.truncate(fvs_uapi::IP_VS_IFNAME_MAXLEN - 1);
    let mut d = Daemon {
        state: a.u32(daemon_attr::STATE)?,
        mcast_ifn: ifn,
        syncid: a.u32(daemon_attr::SYNC_ID)?,
        sync_maxlen: a.u16(daemon_attr::SYNC_MAXLEN).unwrap_or(0),
        mcast_port: a.u16(daemon_attr::MCAST_PORT).unwrap_or(0),
        mcast_ttl: a.u8(daemon_attr::MCAST_TTL).unwrap_or(0),
        ..Daemon::default()
    };
    if let Some(g) = a.get(daemon_attr::MCAST_GROUP) {
        d.mcast_af = fvs_uapi::AF_INET;
        let n = g.len().min(4);
        d.mcast_group[..n].copy_from_slice(&g[..n]);
    } else if let Some(g) = addr16(&a, daemon_attr::MCAST_GROUP6) {
        d.mcast_af = AF_INET6;
        d.mcast_group = g;
    }
    Some(d)
}

// ---------------------------------------------------------------------------------------------
// The netlink transport

/// Maximum bytes of requests sent in one `sendmsg()` when batching.
const BATCH_BYTES: usize = 48 * 1024;

pub struct NetlinkClient {
    sock: Socket,
    family: u16,
    flavor: Flavor,
    seq: u32,
    rx: Vec<u8>,
}

fn os_err(e: io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EINVAL)
}

impl NetlinkClient {
    fn open() -> Result<Socket, i32> {
        let mut sock = Socket::new(NETLINK_GENERIC).map_err(os_err)?;
        sock.bind_auto().map_err(os_err)?;
        sock.connect(&SocketAddr::new(0, 0)).map_err(os_err)?;
        let _ = sock.set_cap_ack(true);
        let _ = sock.set_rx_buf_sz(4 * 1024 * 1024);
        Ok(sock)
    }

    /// Resolves a generic netlink family id by name.
    fn resolve(sock: &Socket, seq: u32, name: &str) -> Result<u16, i32> {
        let mut m = Message::new(
            netlink::GENL_ID_CTRL,
            NLM_F_ACK,
            netlink::CTRL_CMD_GETFAMILY,
            1,
        );
        m.put_str(netlink::CTRL_ATTR_FAMILY_NAME, name);
        sock.send(&m.finish(seq), 0).map_err(os_err)?;
        let mut id = None;
        loop {
            let (buf, _) = sock.recv_from_full().map_err(os_err)?;
            for msg in netlink::split_messages(&buf) {
                if msg.seq != seq {
                    continue;
                }
                if msg.ty == netlink::NLMSG_ERROR {
                    let e = netlink::error_code(msg.body);
                    if e != 0 {
                        return Err(-e);
                    }
                    return id.ok_or(libc::ENOENT);
                }
                if msg.ty == netlink::GENL_ID_CTRL {
                    id = Attrs::parse_genl(msg.body).u16(netlink::CTRL_ATTR_FAMILY_ID);
                }
            }
        }
    }

    /// Opens a socket and finds the family: `forced` if given, otherwise FVS then IPVS.
    pub fn connect(forced: Option<Flavor>) -> Result<NetlinkClient, i32> {
        let sock = Self::open()?;
        let order: &[Flavor] = match forced {
            Some(Flavor::Fvs) => &[Flavor::Fvs],
            Some(Flavor::Ipvs) => &[Flavor::Ipvs],
            None => &[Flavor::Fvs, Flavor::Ipvs],
        };
        let mut last = libc::ENOENT;
        for (seq, f) in (1u32..).zip(order) {
            match Self::resolve(&sock, seq, f.genl_name()) {
                Ok(id) => {
                    return Ok(NetlinkClient {
                        sock,
                        family: id,
                        flavor: *f,
                        seq: seq + 1,
                        rx: Vec::new(),
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn recv(&mut self) -> Result<(), i32> {
        let (buf, _) = self.sock.recv_from_full().map_err(os_err)?;
        self.rx = buf;
        Ok(())
    }

    /// Sends one request and collects the bodies of its reply messages.
    fn transact(&mut self, m: &Message) -> Result<Vec<Vec<u8>>, i32> {
        let seq = self.next_seq();
        let mut wire = m.finish(seq);
        let flags = u16::from_ne_bytes([wire[6], wire[7]]);
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        if !dump {
            let f = flags | NLM_F_ACK;
            wire[6..8].copy_from_slice(&f.to_ne_bytes());
        }
        self.sock.send(&wire, 0).map_err(os_err)?;
        let mut out = Vec::new();
        loop {
            self.recv()?;
            let mut done = None;
            for msg in netlink::split_messages(&self.rx) {
                if msg.seq != seq {
                    continue;
                }
                match msg.ty {
                    netlink::NLMSG_ERROR => {
                        let e = netlink::error_code(msg.body);
                        done = Some(if e != 0 { Err(-e) } else { Ok(()) });
                    }
                    netlink::NLMSG_DONE => done = Some(Ok(())),
                    netlink::NLMSG_NOOP => {}
                    _ => out.push(msg.body.to_vec()),
                }
            }
            if let Some(r) = done {
                return r.map(|_| out);
            }
        }
    }
}

impl Backend for NetlinkClient {
    fn flavor(&self) -> Flavor {
        self.flavor
    }

    fn info(&mut self) -> Result<Info, i32> {
        let m = genl(self.family, 0, cmd::GET_INFO);
        let replies = self.transact(&m)?;
        let a = Attrs::parse_genl(replies.first().ok_or(libc::EINVAL)?);
        match (a.u32(info_attr::VERSION), a.u32(info_attr::CONN_TAB_SIZE)) {
            (Some(version), Some(size)) => Ok(Info { version, size }),
            _ => Err(libc::EINVAL),
        }
    }

    fn services(&mut self) -> Result<Vec<ServiceEntry>, i32> {
        let m = genl(self.family, NLM_F_DUMP, cmd::GET_SERVICE);
        let replies = self.transact(&m)?;
        replies
            .iter()
            .map(|b| decode_service(b).ok_or(libc::EINVAL))
            .collect()
    }

    fn service(&mut self, key: &Service) -> Result<ServiceEntry, i32> {
        let m = encode_get_service(self.family, key);
        let replies = self.transact(&m)?;
        let mut first = None;
        for b in &replies {
            let s = decode_service(b).ok_or(libc::EINVAL)?;
            first.get_or_insert(s);
        }
        // libipvs copies entrytable[0] even when nothing came back.
        Ok(first.unwrap_or_default())
    }

    fn dests(&mut self, svc: &ServiceEntry) -> Result<Vec<DestEntry>, i32> {
        let m = encode_get_dests(self.family, svc);
        let replies = self.transact(&m)?;
        replies
            .iter()
            .map(|b| decode_dest(b, svc.af).ok_or(libc::EINVAL))
            .collect()
    }

    fn timeouts(&mut self) -> Result<Timeouts, i32> {
        let m = genl(self.family, 0, cmd::GET_CONFIG);
        let replies = self.transact(&m)?;
        let mut t = Timeouts::default();
        for r in &replies {
            let a = Attrs::parse_genl(r);
            if let Some(v) = a.u32(cmd_attr::TIMEOUT_TCP) {
                t.tcp = v;
            }
            if let Some(v) = a.u32(cmd_attr::TIMEOUT_TCP_FIN) {
                t.tcp_fin = v;
            }
            if let Some(v) = a.u32(cmd_attr::TIMEOUT_UDP) {
                t.udp = v;
            }
        }
        Ok(t)
    }

    fn daemons(&mut self) -> Result<Vec<Daemon>, i32> {
        let m = genl(self.family, NLM_F_DUMP, cmd::GET_DAEMON);
        let replies = self.transact(&m)?;
        replies
            .iter()
            .map(|b| decode_daemon(b).ok_or(libc::EINVAL))
            .collect()
    }

    fn execute(&mut self, reqs: &[Request]) -> Vec<Result<(), i32>> {
        let mut results: Vec<Option<Result<(), i32>>> = vec![None; reqs.len()];
        let mut start = 0;
        while start < reqs.len() {
            // Build one batch of ACKed requests in a single buffer.
            let base = self.seq.wrapping_add(1);
            let mut buf = Vec::new();
            let mut end = start;
            while end < reqs.len() {
                let mut wire = encode_request(self.family, &reqs[end]).finish(self.next_seq());
                let flags = u16::from_ne_bytes([wire[6], wire[7]]) | NLM_F_ACK;
                wire[6..8].copy_from_slice(&flags.to_ne_bytes());
                buf.extend_from_slice(&wire);
                end += 1;
                if buf.len() >= BATCH_BYTES {
                    break;
                }
            }
            if let Err(e) = self.sock.send(&buf, 0) {
                let e = os_err(e);
                for r in &mut results[start..end] {
                    *r = Some(Err(e));
                }
                start = end;
                continue;
            }
            let mut pending = end - start;
            while pending > 0 {
                if let Err(e) = self.recv() {
                    for r in results[start..end].iter_mut().filter(|r| r.is_none()) {
                        *r = Some(Err(e));
                    }
                    break;
                }
                for msg in netlink::split_messages(&self.rx) {
                    if msg.ty != netlink::NLMSG_ERROR {
                        continue;
                    }
                    let idx = msg.seq.wrapping_sub(base) as usize;
                    if idx >= end - start {
                        continue;
                    }
                    let slot = &mut results[start + idx];
                    if slot.is_none() {
                        let e = netlink::error_code(msg.body);
                        *slot = Some(if e != 0 { Err(-e) } else { Ok(()) });
                        pending -= 1;
                    }
                }
            }
            start = end;
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(libc::EINVAL)))
            .collect()
    }
}

/// When no family can be found, libipvs falls back to the old sockopt interface, and the
/// error ipvsadm reports comes from that attempt: `socket(AF_INET, SOCK_RAW, IPPROTO_RAW)`
/// then `getsockopt(IP_VS_SO_GET_INFO)` — ENOPROTOOPT without ip_vs, EPERM without privileges.
pub fn sockopt_probe_errno() -> i32 {
    const IP_VS_SO_GET_INFO: libc::c_int = 64 + 1024 + 64;
    // SAFETY: plain socket calls on a local fd, closed before returning.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
        if fd < 0 {
            return io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL);
        }
        let mut buf = [0u8; 64];
        let mut len = buf.len() as libc::socklen_t;
        let r = libc::getsockopt(
            fd,
            libc::IPPROTO_IP,
            IP_VS_SO_GET_INFO,
            buf.as_mut_ptr().cast(),
            &mut len,
        );
        let e = if r < 0 {
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL)
        } else {
            libc::ENOPROTOOPT
        };
        libc::close(fd);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::v4;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Bytes captured from Debian's ipvsadm (libnl) for `-A -t 10.0.0.1:80 -s rr -p`:
    /// genl header + attributes.
    #[test]
    fn add_service_bytes_match_libipvs() {
        let s = Service {
            af: 2,
            protocol: 6,
            addr: v4([10, 0, 0, 1]),
            port: 80,
            sched_name: "rr".into(),
            flags: 1,
            timeout: 360,
            ..Service::default()
        };
        let m = encode_request(0x20, &Request::AddService(s));
        let wire = m.finish(1);
        assert_eq!(
            hex(&wire[16..]),
            "010100005400018006000100020000000600020006000000140003000a000001000000000000000000000000\
             060004000050000007000600727200000c00070001000000ffffffff080008006801000008000900ffffffff"
        );
    }

    #[test]
    fn zero_all_has_no_service() {
        let m = encode_request(0x20, &Request::Zero(Service::default()));
        assert!(m.payload().is_empty());
        let m = encode_request(
            0x20,
            &Request::Zero(Service {
                fwmark: 3,
                af: 2,
                ..Service::default()
            }),
        );
        assert!(!m.payload().is_empty());
    }

    #[test]
    fn service_round_trip_through_decoder() {
        let s = Service {
            af: 10,
            protocol: 17,
            addr: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            port: 53,
            sched_name: "sh".into(),
            flags: 0x1 | 0x8,
            timeout: 30,
            netmask: 64,
            pe_name: "sip".into(),
            ..Service::default()
        };
        let m = encode_request(0x20, &Request::AddService(s.clone()));
        let wire = m.finish(1);
        let e = decode_service(&wire[16..]).unwrap();
        assert_eq!(
            (e.af, e.protocol, e.addr, e.port),
            (s.af, s.protocol, s.addr, s.port)
        );
        assert_eq!(
            (e.sched_name.as_str(), e.flags, e.timeout, e.netmask),
            ("sh", 9, 30, 64)
        );
        assert_eq!(e.pe_name, "sip");
    }

    fn del_dest(drain: Option<u32>) -> Request {
        let s = Service {
            af: 2,
            protocol: 6,
            addr: v4([10, 0, 0, 1]),
            port: 80,
            ..Service::default()
        };
        let d = Dest {
            af: 2,
            addr: v4([10, 0, 0, 2]),
            port: 80,
            drain,
            ..Dest::default()
        };
        Request::DelDest(s, d)
    }

    #[test]
    fn del_dest_with_drain_carries_fvs_drain_in_the_dest_nest() {
        let plain = encode_request(0x20, &del_dest(None)).finish(1);
        let drain = encode_request(0x20, &del_dest(Some(20))).finish(1);
        assert_eq!(drain[16], cmd::DEL_DEST);
        let top = Attrs::parse_genl(&drain[16..]);
        let d = top.nested(cmd_attr::DEST).unwrap();
        assert_eq!(d.get(dest_attr::FVS_DRAIN), Some(&20u32.to_ne_bytes()[..]));
        assert_eq!(d.u32(dest_attr::FVS_DRAIN), Some(20));
        assert_eq!(d.u32(dest_attr::WEIGHT), Some(1));
        // Not at the top level, and not in the service nest.
        assert!(!top.has(dest_attr::FVS_DRAIN));
        assert!(!top
            .nested(cmd_attr::SERVICE)
            .unwrap()
            .has(dest_attr::FVS_DRAIN));
        // Exactly libipvs' message with one u32 attribute (type 32) appended to the dest nest,
        // which is the last attribute.
        let mut expect = plain.clone();
        expect.extend_from_slice(&[8, 0, 32, 0]);
        expect.extend_from_slice(&20u32.to_ne_bytes());
        let len = expect.len() as u32;
        expect[0..4].copy_from_slice(&len.to_ne_bytes());
        let p = Attrs::parse_genl(&plain[16..]);
        let nest_off = plain.len() - p.get(cmd_attr::DEST).unwrap().len() - 4;
        let nest_len = u16::from_ne_bytes([plain[nest_off], plain[nest_off + 1]]) + 8;
        expect[nest_off..nest_off + 2].copy_from_slice(&nest_len.to_ne_bytes());
        assert_eq!(hex(&drain), hex(&expect));
        // Without --drain: no attribute 32 at all.
        let top = Attrs::parse_genl(&plain[16..]);
        assert!(!top
            .nested(cmd_attr::DEST)
            .unwrap()
            .has(dest_attr::FVS_DRAIN));
        assert_eq!(
            encode_request(0x20, &del_dest(Some(u32::MAX)))
                .finish(1)
                .len(),
            plain.len() + 8
        );
        assert_eq!(del_dest(Some(7)).drain(), Some(7));
        assert_eq!(del_dest(None).drain(), None);
        assert_eq!(del_dest(Some(7)).func(), Some(Func::DelDest));
    }

    /// A GET_DEST dump reply body as ip_vs (and fvs) build it, with extra attributes.
    fn dest_reply(extra: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = Message::new(0x20, 0, cmd::NEW_DEST, 1);
        m.begin_nest(cmd_attr::DEST);
        m.put(dest_attr::ADDR, &v4([10, 0, 0, 2]));
        m.put(dest_attr::PORT, &80u16.to_be_bytes());
        m.put_u32(dest_attr::FWD_METHOD, 0);
        m.put_u32(dest_attr::WEIGHT, 0);
        m.put_u8(dest_attr::TUN_TYPE, 0);
        m.put(dest_attr::TUN_PORT, &0u16.to_be_bytes());
        m.put_u16(dest_attr::TUN_FLAGS, 0);
        m.put_u32(dest_attr::U_THRESH, 0);
        m.put_u32(dest_attr::L_THRESH, 0);
        m.put_u32(dest_attr::ACTIVE_CONNS, 3);
        m.put_u32(dest_attr::INACT_CONNS, 1);
        m.put_u32(dest_attr::PERSIST_CONNS, 0);
        m.put_u16(dest_attr::ADDR_FAMILY, 2);
        for (ty, data) in extra {
            m.put(*ty, data);
        }
        m.end_nest();
        m.finish(1)[16..].to_vec()
    }

    #[test]
    fn dest_dump_with_fvs_drain() {
        let e = decode_dest(&dest_reply(&[]), 2).unwrap();
        assert_eq!(e.drain_left, None);
        assert_eq!((e.weight, e.activeconns, e.inactconns), (0, 3, 1));
        let e = decode_dest(
            &dest_reply(&[(dest_attr::FVS_DRAIN, &17u32.to_ne_bytes())]),
            2,
        )
        .unwrap();
        assert_eq!(e.drain_left, Some(17));
        assert_eq!(&e.addr[..4], &[10, 0, 0, 2]);
        assert_eq!((e.port, e.activeconns), (80, 3));
        // Unknown and malformed attributes are ignored, never a panic.
        let e = decode_dest(
            &dest_reply(&[
                (31, &[1]),
                (dest_attr::FVS_DRAIN, &[1, 2]),
                (33, &[0; 12]),
                (0x3fff, &[]),
            ]),
            2,
        )
        .unwrap();
        assert_eq!(e.drain_left, None);
        assert_eq!(e.activeconns, 3);
    }

    #[test]
    fn fvs_detection() {
        let dir = std::env::temp_dir().join(format!("ipvsadm-rs-fvs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let module = dir.join("fvs");
        assert!(fvs_answers(Flavor::Fvs, &module));
        assert!(!fvs_answers(Flavor::Ipvs, &module));
        std::fs::create_dir_all(module.join("parameters")).unwrap();
        assert!(fvs_answers(Flavor::Ipvs, &module));
        std::fs::write(module.join("parameters/compat"), "1\n").unwrap();
        assert!(fvs_answers(Flavor::Ipvs, &module));
        std::fs::write(module.join("parameters/compat"), "0\n").unwrap();
        assert!(!fvs_answers(Flavor::Ipvs, &module));
        assert!(fvs_answers(Flavor::Fvs, &module));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn strerror_table() {
        assert_eq!(
            ipvs_strerror(Func::AddService, libc::EEXIST),
            "Service already exists"
        );
        assert_eq!(
            ipvs_strerror(Func::AddDest, libc::EEXIST),
            "Destination already exists"
        );
        assert_eq!(
            ipvs_strerror(Func::DelDest, libc::ENOENT),
            "No such destination"
        );
        assert_eq!(
            ipvs_strerror(Func::DelService, libc::ENOENT),
            "No such file or directory"
        );
        assert_eq!(
            ipvs_strerror(Func::Init, libc::ENOPROTOOPT),
            "Protocol not available"
        );
        assert_eq!(
            ipvs_strerror(Func::AddDest, libc::EINVAL),
            "Invalid operation.  Possibly wrong module version, address not unicast, ..."
        );
        assert_eq!(
            ipvs_strerror(Func::StopDaemon, libc::ESRCH),
            "No daemon is running"
        );
        assert_eq!(
            ipvs_strerror(Func::SetTimeout, libc::ESRCH),
            "No such process"
        );
    }
}
