//! Text output identical to ipvsadm 1.31: listings (`-L` in all its modes), rules (`-S`),
//! timeouts, daemons, and the connection table. Every function reproduces one of ipvsadm's
//! printf formats, including its buffer truncations (service names cut at 33 characters, real
//! server names at 28, `addrport_to_anyname` at 59) and its signed/unsigned conversions.

use fvs_uapi::{conn_flags, daemon_state, svc_flags, AF_INET, AF_INET6};

use crate::args::fmt;
use crate::model::{
    ntop, Daemon, DestEntry, InetAddr, ServiceEntry, Timeouts, IPPROTO_SCTP, IPPROTO_TCP,
    IPPROTO_UDP,
};
use crate::resolve;

/// Name lookups used for non-numeric output.
pub trait Names {
    fn host(&self, af: u16, addr: &InetAddr) -> Option<String>;
    fn service(&self, port: u16, proto: u16) -> Option<String>;
}

/// The C library's resolver (`gethostbyaddr`, `getservbyport`).
pub struct SystemNames;

impl Names for SystemNames {
    fn host(&self, af: u16, addr: &InetAddr) -> Option<String> {
        resolve::addr_to_host(af, addr)
    }
    fn service(&self, port: u16, proto: u16) -> Option<String> {
        resolve::port_to_service(port, proto)
    }
}

/// No lookups at all (every name falls back to numbers).
pub struct NoNames;

impl Names for NoNames {
    fn host(&self, _: u16, _: &InetAddr) -> Option<String> {
        None
    }
    fn service(&self, _: u16, _: u16) -> Option<String> {
        None
    }
}

/// Truncates to at most `n` bytes (C string cut), never inside a UTF-8 sequence.
fn cut(s: &mut String, n: usize) {
    if s.len() > n {
        let mut k = n;
        while !s.is_char_boundary(k) {
            k -= 1;
        }
        s.truncate(k);
    }
}

/// `addrport_to_anyname()`.
pub fn addrport_to_anyname(
    af: u16,
    addr: &InetAddr,
    port: u16,
    proto: u16,
    format: u32,
    names: &dyn Names,
) -> String {
    let (l, r) = if af == AF_INET { ("", "") } else { ("[", "]") };
    let mut s = if format & fmt::NUMERIC != 0 {
        format!("{l}{}{r}:{port}", ntop(af, addr))
    } else {
        let host = names.host(af, addr).unwrap_or_else(|| ntop(af, addr));
        let serv = names
            .service(port, proto)
            .unwrap_or_else(|| port.to_string());
        format!("{l}{host}{r}:{serv}")
    };
    cut(&mut s, 59);
    s
}

/// `print_largenum()`.
pub fn largenum(i: u64, format: u32) -> String {
    if format & fmt::EXACT != 0 {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        return format!("{i:>w$}");
    }
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

/// `print_sched_flags()`.
pub fn sched_flags(se: &ServiceEntry) -> String {
    let mut v: Vec<&str> = Vec::new();
    match se.sched_name.as_str() {
        "sh" => {
            if se.flags & svc_flags::SCHED_SH_FALLBACK != 0 {
                v.push("sh-fallback");
            }
            if se.flags & svc_flags::SCHED_SH_PORT != 0 {
                v.push("sh-port");
            }
        }
        "mh" => {
            if se.flags & svc_flags::SCHED_MH_FALLBACK != 0 {
                v.push("mh-fallback");
            }
            if se.flags & svc_flags::SCHED_MH_PORT != 0 {
                v.push("mh-port");
            }
        }
        _ => {
            if se.flags & svc_flags::SCHED1 != 0 {
                v.push("flag-1");
            }
            if se.flags & svc_flags::SCHED2 != 0 {
                v.push("flag-2");
            }
            if se.flags & svc_flags::SCHED3 != 0 {
                v.push("flag-3");
            }
        }
    }
    v.join(",")
}

/// `print_title()`.
pub fn title(format: u32) -> String {
    let head = format!("{:<33}", "Prot LocalAddress:Port");
    if format & fmt::STATS != 0 {
        format!(
            "{head} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        )
    } else if format & fmt::RATE != 0 {
        format!(
            "{head} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        )
    } else if format & fmt::THRESHOLDS != 0 {
        format!(
            "{head} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    } else if format & fmt::PERSISTENTCONN != 0 {
        format!(
            "{head} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    } else if format & fmt::TUN_INFO != 0 {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n".to_string()
    } else if format & fmt::RULE == 0 {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_string()
    } else {
        String::new()
    }
}

/// The "IP Virtual Server version ..." line of `list_all()`.
pub fn version_header(version: u32, size: u32) -> String {
    format!(
        "IP Virtual Server version {}.{}.{} (size={})\n",
        (version >> 16) & 0xff,
        (version >> 8) & 0xff,
        version & 0xff,
        size as i32
    )
}

fn protocol_name(p: u16) -> &'static str {
    match p {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        IPPROTO_SCTP => "SCTP",
        _ => "?",
    }
}

fn option_from_protocol(p: u16) -> &'static str {
    match p {
        IPPROTO_TCP => "-t",
        IPPROTO_UDP => "-u",
        IPPROTO_SCTP => "--sctp-service",
        _ => "--xxx-service",
    }
}

pub fn fwd_name(flags: u32) -> &'static str {
    match flags & conn_flags::FWD_MASK {
        conn_flags::MASQ => "Masq",
        conn_flags::LOCALNODE => "Local",
        conn_flags::TUNNEL => "Tunnel",
        conn_flags::DROUTE => "Route",
        // printf("%s", NULL) in glibc.
        _ => "(null)",
    }
}

fn fwd_switch(flags: u32) -> &'static str {
    match flags & conn_flags::FWD_MASK {
        conn_flags::MASQ => "-m",
        conn_flags::TUNNEL => "-i",
        conn_flags::LOCALNODE | conn_flags::DROUTE => "-g",
        _ => "(null)",
    }
}

const TUN_NAMES: [&str; 3] = ["ipip", "gue", "gre"];
const TUN_FLAGS: [&str; 3] = ["-c", "+c", "r+c"];
const TUN_FLAGS_OPTS: [&str; 3] = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"];

fn tun_flag(i: u16) -> &'static str {
    TUN_FLAGS.get(i as usize).copied().unwrap_or("(null)")
}

fn tun_flag_opt(i: u16) -> &'static str {
    TUN_FLAGS_OPTS.get(i as usize).copied().unwrap_or("(null)")
}

/// `fwd_tun_info()`.
pub fn tun_info(e: &DestEntry) -> Option<String> {
    if e.conn_flags & conn_flags::FWD_MASK != conn_flags::TUNNEL {
        return None;
    }
    let mut s = match e.tun_type {
        0 => TUN_NAMES[0].to_string(),
        1 => format!("{}:{}:{}", TUN_NAMES[1], e.tun_port, tun_flag(e.tun_flags)),
        2 => format!("{}:{}", TUN_NAMES[2], tun_flag(e.tun_flags)),
        _ => return None,
    };
    cut(&mut s, 15);
    Some(s)
}

/// `inet_ntoa()` of an in-memory IPv4 netmask.
fn mask_ntoa(m: u32) -> String {
    let b = m.to_ne_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// The service name column / rule prefix built by `print_service_entry()`.
pub fn service_name(se: &ServiceEntry, format: u32, names: &dyn Names) -> String {
    if se.fwmark != 0 {
        let fw = se.fwmark as i32;
        return match (format & fmt::RULE != 0, se.af == AF_INET6) {
            (true, true) => format!("-f {fw} -6"),
            (true, false) => format!("-f {fw}"),
            (false, true) => format!("FWM  {fw} IPv6"),
            (false, false) => format!("FWM  {fw}"),
        };
    }
    let vname = addrport_to_anyname(se.af, &se.addr, se.port, se.protocol, format, names);
    if format & fmt::RULE != 0 {
        format!("{} {}", option_from_protocol(se.protocol), vname)
    } else {
        let mut s = format!("{:<4} {}", protocol_name(se.protocol), vname);
        if se.af != AF_INET6 {
            cut(&mut s, 33);
        }
        s
    }
}

/// `ipvs_cmp_services()`, with its C integer arithmetic (differences wrap to `int`).
pub fn cmp_services(a: &ServiceEntry, b: &ServiceEntry) -> i32 {
    let r = a.fwmark.wrapping_sub(b.fwmark) as i32;
    if r != 0 {
        return r;
    }
    let r = a.af as i32 - b.af as i32;
    if r != 0 {
        return r;
    }
    let r = a.protocol as i32 - b.protocol as i32;
    if r != 0 {
        return r;
    }
    let r = cmp_addr(a.af, &a.addr, &b.addr);
    if r != 0 {
        return r;
    }
    a.port as i32 - b.port as i32
}

fn cmp_addr(af: u16, a: &InetAddr, b: &InetAddr) -> i32 {
    let word = |x: &InetAddr, i: usize| u32::from_be_bytes(x[i * 4..i * 4 + 4].try_into().unwrap());
    if af == AF_INET6 {
        let mut r = 0;
        for i in 0..4 {
            r = word(a, i).wrapping_sub(word(b, i)) as i32;
            if r != 0 {
                break;
            }
        }
        r
    } else {
        word(a, 0).wrapping_sub(word(b, 0)) as i32
    }
}

/// `ipvs_cmp_dests()`.
pub fn cmp_dests(a: &DestEntry, b: &DestEntry) -> i32 {
    let r = cmp_addr(a.af, &a.addr, &b.addr);
    if r != 0 {
        return r;
    }
    a.port as i32 - b.port as i32
}

/// glibc's `qsort()` (a top-down merge sort, `msort_with_tmp`). Reproduced rather than using
/// `sort_by` because ipvsadm's comparators are not transitive (wrapping differences), so only
/// the same algorithm gives the same order.
pub fn glibc_qsort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    {
        let (b1, b2) = v.split_at_mut(n1);
        glibc_qsort(b1, cmp);
        glibc_qsort(b2, cmp);
    }
    let mut tmp: Vec<T> = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            tmp.push(v[i].clone());
            i += 1;
        } else {
            tmp.push(v[j].clone());
            j += 1;
        }
    }
    tmp.extend_from_slice(&v[i..n1]);
    let k = tmp.len();
    v[..k].clone_from_slice(&tmp);
}

fn tunnel_rule(svc_name: &str, dname: &str, e: &DestEntry) -> String {
    let sw = fwd_switch(e.conn_flags);
    match e.tun_type {
        2 => format!(
            "-a {svc_name} -r {dname} {sw} -w {} --tun-type {} {}\n",
            e.weight,
            TUN_NAMES[2],
            tun_flag_opt(e.tun_flags)
        ),
        1 => format!(
            "-a {svc_name} -r {dname} {sw} -w {} --tun-type {} --tun-port {} {}\n",
            e.weight,
            TUN_NAMES[1],
            e.tun_port,
            tun_flag_opt(e.tun_flags)
        ),
        0 => format!(
            "-a {svc_name} -r {dname} {sw} -w {} --tun-type {}\n",
            e.weight, TUN_NAMES[0]
        ),
        _ => format!("-a {svc_name} -r {dname} {sw} -w {}\n", e.weight),
    }
}

/// `print_service_entry()`: the service line and its real servers (sorted unless NOSORT).
/// Extension: in listings (not in rules), the line of a draining real server (fvs.ko) ends in
/// ` draining NNs`; `-S` saves it as ipvsadm would (with the weight the kernel reports).
pub fn service_entry(
    se: &ServiceEntry,
    dests: &[DestEntry],
    format: u32,
    names: &dyn Names,
) -> String {
    let mut out = String::new();
    let svc_name = service_name(se, format, names);
    let sflags = svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3;

    if format & fmt::RULE != 0 {
        out.push_str(&format!("-A {svc_name} -s {}", se.sched_name));
        if se.flags & svc_flags::PERSISTENT != 0 {
            out.push_str(&format!(" -p {}", se.timeout));
            if se.af == AF_INET && se.netmask != 0xffff_ffff {
                out.push_str(&format!(" -M {}", mask_ntoa(se.netmask)));
            }
            if se.af == AF_INET6 && se.netmask != 128 {
                out.push_str(&format!(" -M {}", se.netmask as i32));
            }
        }
        if !se.pe_name.is_empty() {
            out.push_str(&format!(" --pe {}", se.pe_name));
        }
        if se.flags & svc_flags::ONEPACKET != 0 {
            out.push_str(" -o");
        }
        if se.flags & sflags != 0 {
            out.push_str(" -b ");
            out.push_str(&sched_flags(se));
        }
    } else if format & fmt::STATS != 0 {
        out.push_str(&format!("{svc_name:<33}"));
        let s = &se.stats;
        for v in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
            out.push_str(&largenum(v, format));
        }
    } else if format & fmt::RATE != 0 {
        out.push_str(&format!("{svc_name:<33}"));
        let s = &se.stats;
        for v in [s.cps, s.inpps, s.outpps, s.inbps, s.outbps] {
            out.push_str(&largenum(v, format));
        }
    } else {
        out.push_str(&format!("{svc_name} {}", se.sched_name));
        if se.flags & sflags != 0 {
            out.push_str(&format!(" ({})", sched_flags(se)));
        }
        if se.flags & svc_flags::PERSISTENT != 0 {
            out.push_str(&format!(" persistent {}", se.timeout));
            if se.af == AF_INET && se.netmask != 0xffff_ffff {
                out.push_str(&format!(" mask {}", mask_ntoa(se.netmask)));
            }
            if se.af == AF_INET6 && se.netmask != 128 {
                out.push_str(&format!(" mask {}", se.netmask as i32));
            }
            if !se.pe_name.is_empty() {
                out.push_str(&format!(" pe {}", se.pe_name));
            }
        }
        if se.flags & svc_flags::ONEPACKET != 0 {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    let mut d = dests.to_vec();
    if format & fmt::NOSORT == 0 {
        glibc_qsort(&mut d, &cmp_dests);
    }
    for e in &d {
        let mut dname = addrport_to_anyname(e.af, &e.addr, e.port, se.protocol, format, names);
        if format & fmt::RULE == 0 && e.af != AF_INET6 {
            cut(&mut dname, 28);
        }
        if format & fmt::RULE != 0 {
            if e.conn_flags & conn_flags::FWD_MASK == conn_flags::TUNNEL {
                out.push_str(&tunnel_rule(&svc_name, &dname, e));
            } else {
                out.push_str(&format!(
                    "-a {svc_name} -r {dname} {} -w {}\n",
                    fwd_switch(e.conn_flags),
                    e.weight
                ));
            }
        } else if format & fmt::STATS != 0 {
            out.push_str(&format!("  -> {dname:<28}"));
            let s = &e.stats;
            for v in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
                out.push_str(&largenum(v, format));
            }
            out.push('\n');
        } else if format & fmt::RATE != 0 {
            let s = &e.stats;
            out.push_str(&format!(
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                s.cps, s.inpps, s.outpps
            ));
            out.push_str(&largenum(s.inbps, format));
            out.push_str(&largenum(s.outbps, format));
            out.push('\n');
        } else if format & fmt::THRESHOLDS != 0 {
            out.push_str(&format!(
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}\n",
                e.u_threshold, e.l_threshold, e.activeconns, e.inactconns
            ));
        } else if format & fmt::PERSISTENTCONN != 0 {
            out.push_str(&format!(
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}\n",
                e.weight as u32, e.persistconns, e.activeconns, e.inactconns
            ));
        } else if format & fmt::TUN_INFO != 0 {
            let ti = tun_info(e).unwrap_or_else(|| "n/a".to_string());
            out.push_str(&format!(
                "  -> {dname:<28} {:<7} {:<13} {:<6} {:<10} {:<10}\n",
                fwd_name(e.conn_flags),
                ti,
                e.weight,
                e.activeconns,
                e.inactconns
            ));
        } else {
            out.push_str(&format!(
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}\n",
                fwd_name(e.conn_flags),
                e.weight,
                e.activeconns,
                e.inactconns
            ));
        }
        if format & fmt::RULE == 0 {
            if let Some(left) = e.drain_left {
                // fvs extension: a draining server's line ends in " draining NNs".
                out.pop();
                out.push_str(&format!(" draining {left}s\n"));
            }
        }
    }
    out
}

/// `list_timeout()`.
pub fn timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp as i32, t.tcp_fin as i32, t.udp as i32
    )
}

/// `list_daemon()` (at most the first two entries, as libipvs keeps two).
pub fn daemons(list: &[Daemon]) -> String {
    let mut out = String::new();
    for d in list.iter().take(2) {
        let ty = if d.state & daemon_state::MASTER != 0 {
            "master"
        } else if d.state & daemon_state::BACKUP != 0 {
            "backup"
        } else {
            continue;
        };
        out.push_str(&format!(
            "{ty} sync daemon (mcast={}, syncid={}",
            d.mcast_ifn, d.syncid as i32
        ));
        if d.sync_maxlen != 0 {
            out.push_str(&format!(", maxlen={}", d.sync_maxlen));
        }
        if d.mcast_af != 0 {
            out.push_str(&format!(", group={}", ntop(d.mcast_af, &d.mcast_group)));
        }
        if d.mcast_port != 0 {
            out.push_str(&format!(", port={}", d.mcast_port));
        }
        if d.mcast_ttl != 0 {
            out.push_str(&format!(", ttl={}", d.mcast_ttl));
        }
        out.push_str(")\n");
    }
    out
}

/// The two header lines of `list_conn()`.
pub fn conn_header(format: u32) -> String {
    let mut s = String::from("IPVS connection entries\n");
    if format & fmt::PERSISTENTCONN != 0 {
        s.push_str(&format!(
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} {}\n",
            "state", "source", "virtual", "destination", "pe name", "pe_data"
        ));
    } else {
        s.push_str(&format!(
            "pro expire {:<11} {:<18} {:<18} {}\n",
            "state", "source", "virtual", "destination"
        ));
    }
    s
}

/// One parsed /proc connection line (the fields of `print_conn()`'s sscanf).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnLine {
    pub protocol: String,
    pub caddr: String,
    pub cport: u16,
    pub vaddr: String,
    pub vport: u16,
    pub daddr: String,
    pub dport: u16,
    pub state: String,
    pub expires: i32,
    pub pe_name: String,
    pub pe_data: String,
    /// Number of conversions (sscanf's result), -1 if the line had no token at all.
    pub n: i32,
}

/// `sscanf(buf, "%s %s %hX %s %hX %s %hX %s %d %s %s", ...)`.
pub fn scan_conn(buf: &str) -> ConnLine {
    let mut c = ConnLine::default();
    let b = buf.as_bytes();
    let mut i = 0usize;
    let skip = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let word = |i: &mut usize| -> Option<String> {
        skip(i);
        let s = *i;
        while *i < b.len() && !b[*i].is_ascii_whitespace() {
            *i += 1;
        }
        (*i > s).then(|| String::from_utf8_lossy(&b[s..*i]).into_owned())
    };
    let num = |i: &mut usize, base: u32| -> Option<i64> {
        skip(i);
        let mut j = *i;
        let mut neg = false;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            neg = b[j] == b'-';
            j += 1;
        }
        if base == 16 && j + 1 < b.len() && b[j] == b'0' && (b[j + 1] | 0x20) == b'x' {
            j += 2;
        }
        let s = j;
        let mut v: i64 = 0;
        while j < b.len() {
            match (b[j] as char).to_digit(base) {
                Some(d) => v = v.wrapping_mul(base as i64).wrapping_add(d as i64),
                None => break,
            }
            j += 1;
        }
        if j == s {
            return None;
        }
        *i = j;
        Some(if neg { v.wrapping_neg() } else { v })
    };
    skip(&mut i);
    if i >= b.len() {
        c.n = -1;
        return c;
    }
    macro_rules! field {
        ($e:expr) => {
            match $e {
                Some(v) => {
                    c.n += 1;
                    v
                }
                None => return c,
            }
        };
    }
    c.protocol = field!(word(&mut i));
    c.caddr = field!(word(&mut i));
    c.cport = field!(num(&mut i, 16)) as u16;
    c.vaddr = field!(word(&mut i));
    c.vport = field!(num(&mut i, 16)) as u16;
    c.daddr = field!(word(&mut i));
    c.dport = field!(num(&mut i, 16)) as u16;
    c.state = field!(word(&mut i));
    c.expires = field!(num(&mut i, 10)) as i32;
    c.pe_name = field!(word(&mut i));
    c.pe_data = field!(word(&mut i));
    c
}

/// Address parsing of `print_conn()`: IPv6 text, IPv4 text, or the kernel's hex form.
fn conn_addr(text: &str) -> (u16, InetAddr) {
    if let Some(a) = resolve::inet_pton6(text) {
        return (AF_INET6, a);
    }
    if let Some(a) = resolve::inet_pton4(text) {
        return (AF_INET, crate::model::v4(a));
    }
    let (v, _, _) = {
        // strtoul(text, NULL, 16), truncated to 32 bits by htonl().
        let t = text.trim_start();
        let t = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        let digits: String = t.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        (
            u64::from_str_radix(&digits, 16).unwrap_or(if digits.is_empty() {
                0
            } else {
                u64::MAX
            }),
            0,
            0,
        )
    };
    (AF_INET, crate::model::v4((v as u32).to_be_bytes()))
}

/// The client, virtual and destination addresses of a connection line, as `print_conn()`
/// decodes them (the virtual address uses the client's family).
pub fn conn_addrs(c: &ConnLine) -> [(u16, InetAddr); 3] {
    let (af, caddr) = conn_addr(&c.caddr);
    let vaddr = if af == AF_INET6 {
        resolve::inet_pton6(&c.vaddr).unwrap_or([0; 16])
    } else {
        conn_addr(&c.vaddr).1
    };
    [(af, caddr), (af, vaddr), conn_addr(&c.daddr)]
}

pub fn conn_proto(name: &str) -> u16 {
    match name {
        "TCP" => IPPROTO_TCP,
        "UDP" => IPPROTO_UDP,
        "SCTP" => IPPROTO_SCTP,
        _ => 0,
    }
}

/// `print_conn()`: `None` when sscanf found nothing (ipvsadm then exits with status 1).
pub fn conn_line(buf: &str, format: u32, names: &dyn Names) -> Option<String> {
    let c = scan_conn(buf);
    if c.n == -1 {
        return None;
    }
    let proto = conn_proto(&c.protocol);
    let [(af, caddr), (_, vaddr), (daf, daddr)] = conn_addrs(&c);
    let cname = addrport_to_anyname(af, &caddr, c.cport, proto, format, names);
    let vname = addrport_to_anyname(af, &vaddr, c.vport, proto, format, names);
    let dname = addrport_to_anyname(daf, &daddr, c.dport, proto, format, names);
    let expires = c.expires as u32;
    let expire = format!("{:02}:{:02}", (expires / 60) as i32, (expires % 60) as i32);
    Some(if format & fmt::PERSISTENTCONN != 0 && c.n == 11 {
        format!(
            "{:<3} {:<6} {:<11} {:<18} {:<18} {:<16} {:<18} {}\n",
            c.protocol, expire, c.state, cname, vname, dname, c.pe_name, c.pe_data
        )
    } else {
        format!(
            "{:<3} {:<6} {:<11} {:<18} {:<18} {}\n",
            c.protocol, expire, c.state, cname, vname, dname
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::v4;

    fn svc(addr: [u8; 4], port: u16, proto: u16, sched: &str) -> ServiceEntry {
        ServiceEntry {
            af: AF_INET,
            protocol: proto,
            addr: v4(addr),
            port,
            sched_name: sched.into(),
            netmask: 0xffff_ffff,
            ..ServiceEntry::default()
        }
    }

    fn dest(addr: [u8; 4], port: u16, fwd: u32, weight: i32) -> DestEntry {
        DestEntry {
            af: AF_INET,
            addr: v4(addr),
            port,
            conn_flags: fwd,
            weight,
            ..DestEntry::default()
        }
    }

    #[test]
    fn default_listing() {
        let mut s = svc([10, 0, 0, 1], 80, IPPROTO_TCP, "rr");
        s.flags = svc_flags::PERSISTENT;
        s.timeout = 300;
        s.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
        let d = vec![
            dest([192, 168, 1, 2], 80, conn_flags::DROUTE, 1),
            dest([10, 1, 1, 1], 8080, conn_flags::MASQ, 3),
            dest([10, 1, 1, 1], 80, conn_flags::TUNNEL, 0),
        ];
        let out = title(fmt::NUMERIC) + &service_entry(&s, &d, fmt::NUMERIC, &NoNames);
        // 10.x sorts after 192.168.x: ipvsadm's comparator wraps (0x0a.. - 0xc0.. > 0 as int).
        assert_eq!(
            out,
            "Prot LocalAddress:Port Scheduler Flags\n\
             \x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  10.0.0.1:80 rr persistent 300 mask 255.255.255.0\n\
             \x20 -> 192.168.1.2:80               Route   1      0          0         \n\
             \x20 -> 10.1.1.1:80                  Tunnel  0      0          0         \n\
             \x20 -> 10.1.1.1:8080                Masq    3      0          0         \n"
        );
    }

    #[test]
    fn rules_for_save() {
        let mut s = svc([10, 0, 0, 1], 53, IPPROTO_UDP, "sh");
        s.flags = svc_flags::PERSISTENT | svc_flags::ONEPACKET | svc_flags::SCHED_SH_PORT;
        s.timeout = 360;
        s.pe_name = "sip".into();
        let mut t1 = dest([10, 0, 0, 2], 53, conn_flags::TUNNEL, 2);
        t1.tun_type = 1;
        t1.tun_port = 6080;
        t1.tun_flags = 2;
        let mut t2 = dest([10, 0, 0, 3], 53, conn_flags::TUNNEL, 2);
        t2.tun_type = 2;
        t2.tun_flags = 1;
        let t3 = dest([10, 0, 0, 4], 53, conn_flags::TUNNEL, 2);
        let m = dest([10, 0, 0, 5], 5353, conn_flags::MASQ, 7);
        let out = service_entry(&s, &[t1, t2, t3, m], fmt::RULE | fmt::NUMERIC, &NoNames);
        assert_eq!(
            out,
            "-A -u 10.0.0.1:53 -s sh -p 360 --pe sip -o -b sh-port\n\
             -a -u 10.0.0.1:53 -r 10.0.0.2:53 -i -w 2 --tun-type gue --tun-port 6080 --tun-remcsum\n\
             -a -u 10.0.0.1:53 -r 10.0.0.3:53 -i -w 2 --tun-type gre --tun-csum\n\
             -a -u 10.0.0.1:53 -r 10.0.0.4:53 -i -w 2 --tun-type ipip\n\
             -a -u 10.0.0.1:53 -r 10.0.0.5:5353 -m -w 7\n"
        );
        let mut f = ServiceEntry {
            af: AF_INET6,
            fwmark: 4294967295,
            sched_name: "wlc".into(),
            ..Default::default()
        };
        f.flags = svc_flags::PERSISTENT;
        f.timeout = 10;
        f.netmask = 64;
        assert_eq!(
            service_entry(&f, &[], fmt::RULE, &NoNames),
            "-A -f -1 -6 -s wlc -p 10 -M 64\n"
        );
        assert_eq!(
            service_entry(&f, &[], 0, &NoNames),
            "FWM  -1 IPv6 wlc persistent 10 mask 64\n"
        );
    }

    #[test]
    fn ipv6_names_are_not_cut() {
        let s = ServiceEntry {
            af: AF_INET6,
            protocol: IPPROTO_SCTP,
            addr: [
                0x20, 1, 0xd, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22,
                0x33, 0x44,
            ],
            port: 65535,
            sched_name: "mh".into(),
            flags: svc_flags::SCHED_MH_FALLBACK | svc_flags::SCHED_MH_PORT,
            netmask: 128,
            ..Default::default()
        };
        let d = DestEntry {
            af: AF_INET6,
            addr: s.addr,
            port: 65535,
            conn_flags: conn_flags::MASQ,
            weight: 65535,
            ..Default::default()
        };
        assert_eq!(
            service_entry(&s, &[d], fmt::NUMERIC, &NoNames),
            "SCTP [2001:db8:1234:5678:9abc:def0:1122:3344]:65535 mh (mh-fallback,mh-port)\n\
             \x20 -> [2001:db8:1234:5678:9abc:def0:1122:3344]:65535 Masq    65535  0          0         \n"
        );
    }

    #[test]
    fn ipv4_names_are_cut() {
        struct Long;
        impl Names for Long {
            fn host(&self, _: u16, _: &InetAddr) -> Option<String> {
                Some("a-very-long-host-name.example.org".into())
            }
            fn service(&self, _: u16, _: u16) -> Option<String> {
                Some("http".into())
            }
        }
        let s = svc([10, 0, 0, 1], 80, IPPROTO_TCP, "wlc");
        let d = dest([10, 0, 0, 2], 80, conn_flags::MASQ, 1);
        assert_eq!(
            service_entry(&s, &[d], 0, &Long),
            "TCP  a-very-long-host-name.exampl wlc\n\
             \x20 -> a-very-long-host-name.exampl Masq    1      0          0         \n"
        );
    }

    #[test]
    fn draining_dest_lines() {
        let s = svc([10, 0, 0, 1], 80, IPPROTO_TCP, "rr");
        let mut d = dest([192, 168, 1, 10], 80, conn_flags::MASQ, 0);
        d.activeconns = 3;
        d.drain_left = Some(17);
        let plain = dest([192, 168, 1, 11], 80, conn_flags::MASQ, 1);
        let lines = |format: u32| -> Vec<String> {
            service_entry(&s, &[d.clone(), plain.clone()], format, &NoNames)
                .lines()
                .map(String::from)
                .collect()
        };
        // The listing line of ipvsadm, then " draining NNs"; other lines unchanged.
        let l = lines(fmt::NUMERIC);
        assert_eq!(
            l[1],
            "  -> 192.168.1.10:80              Masq    0      3          0          draining 17s"
        );
        assert_eq!(
            l[2],
            "  -> 192.168.1.11:80              Masq    1      0          0         "
        );
        let mut undrained = d.clone();
        undrained.drain_left = None;
        for format in [
            0,
            fmt::NUMERIC,
            fmt::NUMERIC | fmt::STATS,
            fmt::NUMERIC | fmt::STATS | fmt::EXACT,
            fmt::NUMERIC | fmt::RATE,
            fmt::NUMERIC | fmt::RATE | fmt::EXACT,
            fmt::NUMERIC | fmt::THRESHOLDS,
            fmt::NUMERIC | fmt::PERSISTENTCONN,
            fmt::NUMERIC | fmt::TUN_INFO,
            fmt::NUMERIC | fmt::EXACT,
            fmt::NUMERIC | fmt::NOSORT,
        ] {
            let with = service_entry(&s, &[d.clone(), plain.clone()], format, &NoNames);
            let without = service_entry(&s, &[undrained.clone(), plain.clone()], format, &NoNames);
            let w: Vec<&str> = with.split_inclusive('\n').collect();
            let wo: Vec<&str> = without.split_inclusive('\n').collect();
            assert_eq!(w.len(), 3, "format {format:#x}");
            assert_eq!(w[0], wo[0]);
            assert_eq!(
                w[1],
                format!("{} draining 17s\n", wo[1].trim_end_matches('\n'))
            );
            assert_eq!(w[2], wo[2]);
        }
        // -S saves a draining server like any other (with the weight the kernel reports).
        assert_eq!(
            service_entry(&s, &[d.clone()], fmt::RULE | fmt::NUMERIC, &NoNames),
            "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 192.168.1.10:80 -m -w 0\n"
        );
        let mut t = d.clone();
        t.conn_flags = conn_flags::TUNNEL;
        t.drain_left = Some(4294967295);
        assert_eq!(
            service_entry(&s, &[t.clone()], fmt::NUMERIC | fmt::TUN_INFO, &NoNames),
            "TCP  10.0.0.1:80 rr\n  -> 192.168.1.10:80              Tunnel  ipip          0      3          0          draining 4294967295s\n"
        );
        assert_eq!(
            service_entry(&s, &[t], fmt::RULE | fmt::NUMERIC, &NoNames),
            "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 192.168.1.10:80 -i -w 0 --tun-type ipip\n"
        );
    }

    #[test]
    fn largenum_boundaries() {
        assert_eq!(largenum(99_999_999, 0), " 99999999");
        assert_eq!(largenum(100_000_000, 0), "  100000K");
        assert_eq!(largenum(999_999_999, 0), "  999999K");
        assert_eq!(largenum(1_000_000_000, 0), "    1000M");
        assert_eq!(largenum(12, fmt::EXACT), "       12");
        assert_eq!(largenum(123_456_789, fmt::EXACT), " 123456789");
    }

    #[test]
    fn sort_matches_glibc_with_wrapping_comparator() {
        let mut v = vec![
            svc([192, 168, 0, 1], 80, IPPROTO_TCP, "rr"),
            svc([10, 0, 0, 1], 80, IPPROTO_TCP, "rr"),
            svc([10, 0, 0, 1], 22, IPPROTO_TCP, "rr"),
            svc([1, 1, 1, 1], 53, IPPROTO_UDP, "rr"),
        ];
        let mut fw = svc([0, 0, 0, 0], 0, 0, "rr");
        fw.fwmark = 5;
        v.push(fw);
        glibc_qsort(&mut v, &cmp_services);
        let keys: Vec<(u32, [u8; 4], u16)> = v
            .iter()
            .map(|s| {
                (
                    s.fwmark,
                    [s.addr[0], s.addr[1], s.addr[2], s.addr[3]],
                    s.port,
                )
            })
            .collect();
        assert_eq!(
            keys,
            vec![
                (0, [192, 168, 0, 1], 80),
                (0, [10, 0, 0, 1], 22),
                (0, [10, 0, 0, 1], 80),
                (0, [1, 1, 1, 1], 53),
                (5, [0, 0, 0, 0], 0),
            ]
        );
    }

    #[test]
    fn daemon_and_timeout_lines() {
        assert_eq!(
            timeouts(&Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }),
            "Timeout (tcp tcpfin udp): 900 120 300\n"
        );
        let d = Daemon {
            state: 1,
            mcast_ifn: "eth0".into(),
            syncid: 5,
            sync_maxlen: 1472,
            mcast_af: AF_INET,
            mcast_group: v4([224, 0, 0, 81]),
            mcast_port: 8848,
            mcast_ttl: 1,
        };
        let b = Daemon {
            state: 2,
            mcast_ifn: "lo".into(),
            ..Default::default()
        };
        assert_eq!(
            daemons(&[d, b]),
            "master sync daemon (mcast=eth0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n\
             backup sync daemon (mcast=lo, syncid=0)\n"
        );
    }

    #[test]
    fn connection_lines() {
        assert_eq!(
            conn_header(0),
            "IPVS connection entries\npro expire state       source             virtual            destination\n"
        );
        let l = "TCP 0A000064 D431 0A000001 0050 0A000002 0050 ESTABLISHED     895\n";
        assert_eq!(
            conn_line(l, fmt::NUMERIC, &NoNames).unwrap(),
            "TCP 14:55  ESTABLISHED 10.0.0.100:54321   10.0.0.1:80        10.0.0.2:80\n"
        );
        let l6 = "UDP 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0000:0000:0000:0000:0000:0002 0035 \
                  0A000002 0035 UDP              59 sip 1234\n";
        assert_eq!(
            conn_line(l6, fmt::NUMERIC | fmt::PERSISTENTCONN, &NoNames).unwrap(),
            "UDP 00:59  UDP         [2001:db8::1]:53   [2001:db8::2]:53   10.0.0.2:53      sip                1234\n"
        );
        assert_eq!(conn_line("\n", 0, &NoNames), None);
    }
}
