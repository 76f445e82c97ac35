//! Netfilter entry points: LOCAL_IN and FORWARD for IPv4 and IPv6, at ip_vs's priorities.
//!
//! IPv4 TCP/UDP packets to a virtual service are scheduled to a real server, tracked in the
//! connection table (state, expiry, dest counters, statistics) and sent by the connection's
//! forwarding method (`xmit`); NAT replies are rewritten back at FORWARD.

use crate::conn::{Conn, ConnKey, PeData, F_APP, F_INACTIVE, F_TEMPLATE};
use crate::sys::rcuhash::EntryRef;
use crate::uapi::svc_flags;
use crate::corelib::parse;
use crate::corelib::proto::{sctp, tcp, CounterChange, Direction};
use crate::corelib::sched::Addr;
use crate::netns::NetState;
use crate::sysctl::Sysctls;
use crate::rules::{Dest, InetAddr, ServiceKey, AF_INET, AF_INET6};
use crate::xmit::{self, IcmpLayout, Target, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use crate::sys::bh::jiffies;
use crate::sys::nf::{Family, Hook, HookPoint, HookSet, HookSpec, HookState, Skb, Verdict};
use crate::sys::net::NetRef;
use crate::sys::rcu::RcuGuard;
use crate::sys::small::SmallVec;
#[allow(unused_imports)]
use crate::sys::prof::Sec;
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;


const TH_SYN: u8 = 0x02;
const TH_RST: u8 = 0x04;
const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_PORT_UNREACH: u8 = 3;
const NOOUTPUT: u32 = crate::uapi::conn_flags::NOOUTPUT;
const MASQ: u32 = crate::uapi::conn_flags::MASQ;
const IPPROTO_ICMP: u8 = 1;
const FTPPORT: u16 = 21;
const FTPDATA: u16 = 20;
/// `inet_port_requires_bind_service`'s default limit (ip_unprivileged_port_start).
const UNPRIVILEGED_PORT: u16 = 1024;
const ONE_PACKET: u32 = crate::uapi::conn_flags::ONE_PACKET;
const IPPROTO_IPIP: u8 = 4;
const ICMP_FRAG_NEEDED: u8 = 4;
const SCTP_HDR_LEN: usize = 12;

/// Applies a state transition's effect on the dest counters (`set_tcp_state`).
fn apply_counters(c: &Conn, ch: CounterChange) {
    match ch {
        CounterChange::None => {}
        CounterChange::BecameActive => {
            c.dest.inactconns.fetch_sub(1, Relaxed);
            c.dest.activeconns.fetch_add(1, Relaxed);
        }
        CounterChange::BecameInactive => {
            c.dest.activeconns.fetch_sub(1, Relaxed);
            c.dest.inactconns.fetch_add(1, Relaxed);
        }
    }
}

/// Seconds of a state's timeout, honouring `ipvsadm --set` for the three settable ones.
pub(crate) fn state_timeout(st: &NetState, protocol: u8, state: u8) -> u32 {
    let (tcp, fin, udp) = st.timeouts();
    if protocol == IPPROTO_UDP {
        return udp;
    }
    if protocol == IPPROTO_SCTP {
        return sctp::timeout(sctp::STATES.get(state as usize).copied().unwrap_or(sctp::State::Closed));
    }
    match tcp::STATES.get(state as usize).copied() {
        Some(tcp::State::Established) => tcp,
        Some(tcp::State::FinWait) => fin,
        Some(s) => tcp::timeout(s),
        None => tcp::timeout(tcp::State::Close),
    }
}

/// The headers of a TCP/UDP packet that the hooks look at.
struct Pkt {
    af: u16,
    /// Where the TCP/UDP header starts (after IPv4 options or IPv6 extension headers).
    ihl: usize,
    protocol: u8,
    saddr: InetAddr,
    sport: u16,
    daddr: InetAddr,
    dport: u16,
    tcp_flags: u8,
    /// SCTP: the first chunk's type (`None`: no complete chunk header).
    sctp_chunk: Option<u8>,
    /// SCTP: the packet's state-machine event.
    sctp_event: Option<sctp::Event>,
}

fn inet(a: &Addr) -> InetAddr {
    let mut r = [0u8; 16];
    match a {
        Addr::V4(x) => r[..4].copy_from_slice(x),
        Addr::V6(x) => r = *x,
    }
    r
}

fn sched_addr(af: u16, a: &InetAddr) -> Addr {
    if af == AF_INET6 {
        Addr::V6(*a)
    } else {
        Addr::V4(v4(a))
    }
}

fn parse_pkt(skb: &Skb, v6: bool) -> Option<Pkt> {
    match parse_pkt_in::<128>(skb, v6) {
        Ok(p) => p,
        Err(NeedMore) => parse_pkt_long(skb, v6),
    }
}

/// The headers went on past the first window (long IPv6 extension-header chains): parsed
/// again from a larger one, off the common path and its stack frame.
#[inline(never)]
#[cold]
fn parse_pkt_long(skb: &Skb, v6: bool) -> Option<Pkt> {
    parse_pkt_in::<PARSE_WINDOW_LONG>(skb, v6).ok().flatten()
}

/// Headers of at most this many bytes (IP, extension headers, transport header) are parsed.
const PARSE_WINDOW_LONG: usize = 640;

/// The packet's headers did not fit the window they were parsed from.
struct NeedMore;

/// `parse_pkt` from a window of the first `W` bytes: `Err(NeedMore)` when what is missing lies
/// beyond it.
fn parse_pkt_in<const W: usize>(skb: &Skb, v6: bool) -> Result<Option<Pkt>, NeedMore> {
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); W];
    let h = skb.headers_uninit(&mut buf);
    let cut = h.len() == W && skb.len() as usize > W;
    let more = |r: Option<Pkt>| if r.is_none() && cut { Err(NeedMore) } else { Ok(r) };
    let ip = match parse::parse_ip(h, 0, v6) {
        Ok(ip) => ip,
        Err(parse::ParseError::Truncated | parse::ParseError::BadMsg) => return more(None),
        Err(_) => return Ok(None),
    };
    if ip.fragment || !matches!(ip.protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
        return Ok(None);
    }
    // The whole transport header must be there (`tcp/udp/sctp_conn_schedule` drop a packet
    // without it): a truncated one makes no entry and is not forwarded; the local stack
    // discards it.
    let l4_min = match ip.protocol {
        IPPROTO_TCP => 20,
        IPPROTO_UDP => 8,
        _ => SCTP_HDR_LEN,
    };
    if (skb.len() as usize) < ip.len + l4_min {
        return Ok(None);
    }
    let Some((sport, dport)) = parse::parse_ports(h, ip.len) else { return more(None) };
    let tcp_flags = if ip.protocol == IPPROTO_TCP {
        match h.get(ip.len + 13) {
            Some(&f) => f,
            None => return more(None),
        }
    } else {
        0
    };
    let (sctp_chunk, sctp_event) = if ip.protocol == IPPROTO_SCTP {
        sctp_chunks(skb, (ip.len + SCTP_HDR_LEN) as u32)
    } else {
        (None, None)
    };
    Ok(Some(Pkt {
        af: if v6 { AF_INET6 } else { AF_INET },
        ihl: ip.len,
        protocol: ip.protocol,
        saddr: inet(&ip.saddr),
        sport,
        daddr: inet(&ip.daddr),
        dport,
        tcp_flags,
        sctp_chunk,
        sctp_event,
    }))
}

/// The first chunk's type of an SCTP packet whose chunks start at `cofs`, and the packet's
/// state-machine event (`set_sctp_state`: a COOKIE_ECHO or COOKIE_ACK bundled with an ABORT
/// counts as the ABORT). Both `None` without a complete first chunk header.
fn sctp_chunks(skb: &Skb, cofs: u32) -> (Option<u8>, Option<sctp::Event>) {
    let mut b = [0u8; 4];
    let ch = skb.bytes_at(cofs, &mut b);
    if ch.len() < 4 {
        return (None, None);
    }
    let (ty, clen) = (ch[0], u16::from_be_bytes([ch[2], ch[3]]) as u32);
    let mut ev = ty;
    if (ty == sctp::CID_COOKIE_ECHO || ty == sctp::CID_COOKIE_ACK) && clen >= 4 {
        let mut n = [0u8; 4];
        let next = skb.bytes_at(cofs + ((clen + 3) & !3), &mut n);
        if next.len() == 4 && next[0] == sctp::CID_ABORT {
            ev = sctp::CID_ABORT;
        }
    }
    (Some(ty), Some(sctp::event_of_chunk(ev)))
}

fn v4(a: &InetAddr) -> [u8; 4] {
    [a[0], a[1], a[2], a[3]]
}

/// The target of a packet of `c`, with its real server's route cache for the section `g`.
fn target_of<'g>(c: &'g Conn, g: &'g RcuGuard) -> Target<'g> {
    Target { route: Some(c.dest.route.slot(g)), ..target_uncached(c) }
}

/// The target of a packet of `c` whose route is looked up for the packet (paths off the
/// established fast path, where the entry is not borrowed for the whole hook).
fn target_uncached(c: &Conn) -> Target<'static> {
    let flags = c.flags();
    let (tun_type, tun_port, tun_flags) = if flags & crate::uapi::conn_flags::FWD_MASK == crate::uapi::conn_flags::TUNNEL {
        let d = c.dest.conf();
        (d.tun_type, d.tun_port, d.tun_flags)
    } else {
        (0, 0, 0)
    };
    Target {
        flags,
        protocol: c.key.protocol,
        vaddr: c.key.vaddr,
        vport: c.key.vport,
        daddr: c.daddr,
        dport: c.dport,
        daf: c.dest.af,
        tun_type,
        tun_port,
        tun_flags,
        route: None,
    }
}

/// `ip_vs_set_state()` for one packet, then the new timeout. `bound`: the entry already
/// counts on its dest (a new one is bound when it is linked, with the flags set here).
fn set_state(st: &NetState, g: &RcuGuard, c: &Conn, dir: Direction, p: &Pkt, now: u64, bound: bool) {
    let mut change = CounterChange::None;
    let (_, (state, _)) = c.update(|state, flags| {
        let (no_output, inactive) = (flags & NOOUTPUT != 0, flags & F_INACTIVE != 0);
        let (next, t_no_output, t_inactive) = match c.key.protocol {
            IPPROTO_TCP => {
                let cur = tcp::STATES.get(state as usize).copied().unwrap_or(tcp::State::None);
                let secure = st.defense.secure_tcp_on.load(Relaxed);
                let t = tcp::transition(cur, dir, p.tcp_flags, secure, no_output, inactive);
                change = t.counters;
                (t.state as u8, t.no_output, t.inactive)
            }
            IPPROTO_SCTP => {
                // A packet without a chunk header changes nothing.
                let Some(ev) = p.sctp_event else { return (state, flags) };
                let cur = sctp::STATES.get(state as usize).copied().unwrap_or(sctp::State::None);
                let t = sctp::transition(cur, dir, ev, no_output, inactive);
                change = t.counters;
                (t.state as u8, t.no_output, t.inactive)
            }
            _ => return (state, flags),
        };
        let mut f = if t_no_output { flags | NOOUTPUT } else { flags & !NOOUTPUT };
        f = if t_inactive { f | F_INACTIVE } else { f & !F_INACTIVE };
        (next, f)
    });
    if bound {
        apply_counters(c, change);
    }
    let assured = match c.key.protocol {
        IPPROTO_TCP => tcp::STATES.get(state as usize) == Some(&tcp::State::Established),
        IPPROTO_SCTP => sctp::STATES.get(state as usize) == Some(&sctp::State::Established),
        _ => dir == Direction::Output,
    };
    if assured {
        c.assure_control(g);
    }
    c.set_expires(now + state_timeout(st, c.key.protocol, state) as u64 * crate::sys::hz() as u64);
}

/// `ip_vs_in_stats()` / `ip_vs_out_stats()`: traffic of a connection whose real server is
/// still configured counts on it, its service and the namespace.
fn count(st: &NetState, c: &Conn, len: u32, out: bool) {
    if !out {
        c.in_pkts.fetch_add(1, Relaxed);
    }
    if !c.dest.available.load(Relaxed) {
        return;
    }
    crate::rules::Stats::packet3(&c.dest.stats, &c.svc.stats, &st.tot_stats, out, len);
}

/// What LOCAL_IN decided under the connection-table lock.
enum InDecision<'g> {
    Send(Target<'g>),
    /// Not ours: the packet continues to the local stack.
    Pass,
    /// A virtual service without a usable real server (`ip_vs_leave`): port unreachable.
    Unreachable,
    /// Malformed for its protocol: dropped.
    Drop,
}

fn in_decide<'g>(net: NetRef, st: &'g NetState, skb: &Skb, p: &Pkt, g: &'g RcuGuard) -> InDecision<'g> {
    let key = ConnKey { af: p.af as u8, protocol: p.protocol, caddr: p.saddr, cport: p.sport, vaddr: p.daddr, vport: p.dport };
    let len = skb.len();
    let now = jiffies();

    // An entry made before the client's port was known (FTP passive data) gets it now.
    let found = crate::prof!(Sec::InLookup, st.conns.lookup(g, &key)).or_else(|| {
        st.conns.lookup_no_cport(g, &key).and_then(|c| st.conns.fill_cport(g, c, p.sport))
    });
    if let Some(c) = found {
        let ctl = &st.sysctl;
        let expire_nodest = Sysctls::on(&ctl.expire_nodest_conn);
        // The packet already belongs to the old connection's conntrack entry
        // (`ip_vs_conn_uses_old_conntrack`): then it is dropped rather than scheduled, until
        // conntrack lets the entry go.
        let old_ct = || c.flags() & crate::uapi::conn_flags::NFCT != 0 && skb.ct_confirmed();
        // A new connection (SYN, INIT) from the port of an old one: scheduled anew when the old
        // one's real server was set to weight 0 (expire_nodest_conn) or the old one is over
        // (conn_reuse_mode; one that controls others, e.g. an FTP control connection, only
        // when it does not hold conntrack).
        let mut resched = false;
        let mut uses_old_ct = false;
        if is_new_conn(p) {
            let reuse = ctl.conn_reuse_mode.load(Relaxed);
            if expire_nodest && !c.is_bypass() && c.dest.conf().weight == 0 {
                resched = true;
                uses_old_ct = old_ct();
            } else if reuse != 0 && new_conn_expected(g, c, reuse) {
                uses_old_ct = old_ct();
                resched = !c.is_held() || !uses_old_ct;
            }
        }
        // A connection whose real server was removed: dropped, or with expire_nodest_conn
        // expired and the packet scheduled anew.
        if !resched && !c.is_bypass() && !c.dest.available.load(Relaxed) {
            if !expire_nodest {
                return InDecision::Drop;
            }
            resched = true;
            uses_old_ct = old_ct();
        }
        if !resched {
            crate::prof!(Sec::InSetState, set_state(st, g, c, Direction::Input, p, now, true));
            crate::prof!(Sec::InCount, count(st, c, len, false));
            crate::syncd::conn_in(st, g, c);
            return InDecision::Send(target_of(c, g));
        }
        if !uses_old_ct {
            // Its conntrack entry is not this packet's: expiring it must not kill that.
            c.update(|s, f| (s, f & !crate::uapi::conn_flags::NFCT));
        }
        st.conns.expire_now(c);
        if uses_old_ct {
            return InDecision::Drop;
        }
    }

    crate::prof!(Sec::NewConn, new_conn(net, st, skb, p, g, now, false))
}

/// No connection yet: is this a packet to a virtual service that may start one? Schedules it
/// and links the new entry (`ip_vs_try_to_schedule`). `from_icmp`: `p` is the flow an ICMP
/// error is about (schedule_icmp): no SYN/INIT needed, and the new entry keeps its initial
/// state and 3 s expiry as `ip_vs_conn_new` leaves them.
fn new_conn<'g>(net: NetRef, st: &'g NetState, skb: &Skb, p: &Pkt, g: &'g RcuGuard, now: u64, from_icmp: bool) -> InDecision<'g> {
    let len = skb.len();
    let key = ConnKey { af: p.af as u8, protocol: p.protocol, caddr: p.saddr, cport: p.sport, vaddr: p.daddr, vport: p.dport };
    let mark = skb.mark();
    #[cfg(fvs_prof)]
    let t_svc = crate::sys::prof::now();
    let svc = (if mark != 0 {
        st.rules.find(g, &ServiceKey { af: p.af, protocol: p.protocol as u16, addr: [0; 16], port: 0, fwmark: mark })
    } else {
        None
    })
    .or_else(|| st.rules.find(g, &ServiceKey { af: p.af, protocol: p.protocol as u16, addr: p.daddr, port: p.dport, fwmark: 0 }))
    .or_else(|| {
        // `__ip_vs_service_find`'s fallbacks: a TCP packet to port 20 or an unprivileged port
        // may be an FTP data connection of the address's FTP service (persistent FTP), ...
        if p.protocol == IPPROTO_TCP && (p.dport == FTPDATA || p.dport >= UNPRIVILEGED_PORT) {
            st.rules.find(g, &ServiceKey { af: p.af, protocol: p.protocol as u16, addr: p.daddr, port: FTPPORT, fwmark: 0 })
        } else {
            None
        }
    })
    // ... and any port of a port-zero service.
    .or_else(|| st.rules.find(g, &ServiceKey { af: p.af, protocol: p.protocol as u16, addr: p.daddr, port: 0, fwmark: 0 }));
    #[cfg(fvs_prof)]
    crate::sys::prof::add(Sec::NewSvc, t_svc);
    // sctp_conn_schedule(): an SCTP packet without a chunk header is dropped.
    if p.protocol == IPPROTO_SCTP && p.sctp_chunk.is_none() && !from_icmp {
        return InDecision::Drop;
    }
    let Some(svc) = svc else { return InDecision::Pass };
    // tcp_conn_schedule(): only a SYN (any packet with sloppy_tcp) and never a RST starts a
    // TCP connection.
    let ctl = &st.sysctl;
    if p.protocol == IPPROTO_TCP
        && !from_icmp
        && (p.tcp_flags & TH_RST != 0 || !(p.tcp_flags & TH_SYN != 0 || Sysctls::on(&ctl.sloppy_tcp)))
    {
        return InDecision::Pass;
    }
    // sctp_conn_schedule(): only an INIT (any chunk with sloppy_sctp) and never an ABORT
    // starts an association.
    if p.protocol == IPPROTO_SCTP
        && !from_icmp
        && (p.sctp_chunk == Some(sctp::CID_ABORT)
            || !(p.sctp_chunk == Some(sctp::CID_INIT) || Sysctls::on(&ctl.sloppy_sctp)))
    {
        return InDecision::Pass;
    }
    // drop_packet defence: one in drop_rate new connections is refused. Switched off (0), it
    // stops at once, as ip_vs's sysctl handler resets the rate on the write; the other modes
    // follow the once-a-second update.
    if Sysctls::on(&ctl.drop_packet) && st.defense.todrop() {
        return InDecision::Drop;
    }
    // `ip_vs_schedule`: nothing from port 20 is scheduled (active FTP data from a real server;
    // NAT ones have their entry already).
    if p.sport == FTPDATA && !from_icmp {
        return InDecision::Pass;
    }
    let conf = svc.conf();
    // Only persistent and firewall-mark services take other ports than their own (the FTP and
    // port-zero fallbacks; "port zero only supported in persistent services"): the packet is
    // not ours.
    if conf.flags & svc_flags::PERSISTENT == 0 && svc.key.fwmark == 0 && p.dport != svc.key.port {
        return InDecision::Pass;
    }
    // `ip_vs_leave`: without a real server, a packet for an FTP service's other ports goes on
    // to the local stack rather than being refused.
    let unreachable = if svc.key.port == FTPPORT && p.dport != FTPPORT { InDecision::Pass } else { InDecision::Unreachable };
    let leave = || bypass(net, st, g, svc, p, len, now, from_icmp).unwrap_or(unreachable);
    // On the stack for up to 16 real servers (no allocation per new connection).
    let mut dests: SmallVec<&Arc<Dest>, 16> = SmallVec::new();
    for d in svc.dests.iter(g) {
        if dests.push(d, GFP_ATOMIC).is_err() {
            return InDecision::Pass;
        }
    }
    let dests = dests.as_slice();
    let pkt = crate::corelib::sched::Packet {
        saddr: sched_addr(p.af, &p.saddr),
        daddr: sched_addr(p.af, &p.daddr),
        ports: Some((p.sport, p.dport)),
        inverse: false,
    };
    let (dest, control) = if conf.flags & svc_flags::PERSISTENT != 0 {
        // The SIP persistence engine: the template is the client's for this call only
        // (`ip_vs_sip_fill_param`); a packet without a usable Call-ID is dropped.
        let pe = if conf.pe == crate::rules::PE_SIP {
            match sip_pe_data(skb, p) {
                Some(d) => Some(d),
                None => return InDecision::Drop,
            }
        } else {
            None
        };
        match persist(st, g, svc, dests, &pkt, p, now, pe) {
            Some(x) => x,
            None => return leave(),
        }
    } else {
        match crate::prof!(Sec::NewSched, crate::sched::schedule(svc, dests, &pkt, &sched_env(st))) {
            Some(d) => (d, None),
            None => return leave(),
        }
    };
    // The real server's port, unless the service is port-zero (then the packet's).
    let dport = if p.dport == svc.key.port && dest.port != 0 { dest.port } else { p.dport };
    // One-packet scheduling (-o, UDP): every datagram is scheduled on its own and leaves no
    // entry behind (ip_vs creates an unhashed connection that expires at once).
    if conf.flags & svc_flags::ONEPACKET != 0 && p.protocol == IPPROTO_UDP {
        let mut flags = dest.conf().conn_flags | ONE_PACKET;
        if Sysctls::on(&ctl.conntrack) {
            flags |= crate::uapi::conn_flags::NFCT;
        }
        let c = Conn::new(key, svc.clone(), dest.clone(), dport, flags, now, None);
        drop(control);
        for s in [&dest.stats, &svc.stats, &st.tot_stats] {
            s.conn();
        }
        count(st, &c, len, false);
        return InDecision::Send(target_uncached(&c));
    }
    // With the conntrack sysctl the connection keeps its conntrack entry; the FTP helper
    // watches NAT connections to its port.
    let dflags = dest.conf().conn_flags;
    let mut flags = dflags | crate::ftp::bind_flags(p.protocol, p.dport, dflags);
    if Sysctls::on(&ctl.conntrack) {
        flags |= crate::uapi::conn_flags::NFCT;
    }
    let c = if from_icmp {
        let expires = now + 3 * crate::sys::hz() as u64;
        Conn::new(key, svc.clone(), dest.clone(), dport, flags, expires, control)
    } else {
        let c = Conn::new(key, svc.clone(), dest.clone(), dport, flags, now, control);
        set_state(st, g, &c, Direction::Input, p, now, false);
        c
    };
    // Linked and bound to its dest; if another CPU linked the same flow first, that one wins
    // and this packet follows it.
    let Ok((c, added)) = crate::prof!(Sec::NewInsert, st.conns.insert(g, c)) else { return InDecision::Unreachable };
    if added {
        for s in [&dest.stats, &svc.stats, &st.tot_stats] {
            s.conn();
        }
    }
    count(st, c, len, false);
    crate::syncd::conn_in(st, g, c);
    InDecision::Send(target_of(c, g))
}

/// The FTP helper on a client's packet of a NAT control connection (`tcp_dnat_handler`).
fn ftp_in(st: &NetState, skb: &mut Skb, p: &Pkt) -> bool {
    let key = ConnKey { af: p.af as u8, protocol: p.protocol, caddr: p.saddr, cport: p.sport, vaddr: p.daddr, vport: p.dport };
    crate::ftp::pkt_in(st, skb, &crate::ftp::Seg { af: p.af, l4off: p.ihl }, &key)
}

/// The FTP helper on a real server's packet of a NAT control connection (`tcp_snat_handler`).
fn ftp_out(st: &NetState, skb: &mut Skb, p: &Pkt) -> bool {
    let seg = crate::ftp::Seg { af: p.af, l4off: p.ihl };
    crate::ftp::pkt_out(st, skb, &seg, &p.saddr, p.sport, &p.daddr, p.dport)
}

/// `__ip_vs_rs_conn_out` / `ip_vs_new_conn_out`: a UDP packet from a NAT real server of a
/// `--pe sip` service without a connection (the server's own request, e.g. a BYE) gets one,
/// client -> virtual service -> this server, under a template for its Call-ID when the service
/// is persistent, so that the client's answers and the rest of the call reach this server.
/// Not at LOCAL_IN. Returns the new connection's target.
fn rs_conn_out(st: &NetState, skb: &Skb, p: &Pkt, g: &RcuGuard, now: u64, local_in: bool) -> Option<Target<'static>> {
    if p.protocol != IPPROTO_UDP || local_in || st.conn_out_svcs.load(Relaxed) == 0 || p.sport == 0 {
        return None;
    }
    let (svc, dest) = st.rules.iter(g).filter(|s| s.conf().pe == crate::rules::PE_SIP).find_map(|s| {
        let d = s.dests.iter(g).find(|d| {
            d.af == p.af
                && d.addr == p.saddr
                && d.port == p.sport
                && d.conf().conn_flags & crate::uapi::conn_flags::FWD_MASK == MASQ
        })?;
        Some((s, d))
    })?;
    let conf = svc.conf();
    if svc.key.fwmark != 0 || svc.key.port == 0 || svc.key.protocol != IPPROTO_UDP as u16 {
        return None;
    }
    let mut control = None;
    if conf.flags & svc_flags::PERSISTENT != 0 {
        let snet = client_net(p.af, &p.daddr, conf.netmask);
        let tkey = ConnKey { af: p.af as u8, protocol: p.protocol, caddr: snet, cport: 0, vaddr: svc.key.addr, vport: svc.key.port };
        let pe = sip_pe_data(skb, p)?;
        let expires = now + conf.timeout as u64;
        let found = st.conns.lookup_template(g, &tkey, Some(&pe)).filter(|t| template_ok(st, t) && Arc::ptr_eq(&t.dest, dest));
        let t = match found {
            Some(t) => t,
            None => {
                let flags = F_TEMPLATE | dest.conf().conn_flags;
                let mut c = Conn::new(tkey, svc.clone(), dest.clone(), p.sport, flags, expires, None);
                c.set_pe(pe);
                st.conns.insert(g, c).ok()?.0
            }
        };
        t.set_expires(expires);
        control = EntryRef::try_hold(t);
    }
    let key = ConnKey { af: p.af as u8, protocol: p.protocol, caddr: p.daddr, cport: p.dport, vaddr: svc.key.addr, vport: svc.key.port };
    let mut flags = dest.conf().conn_flags;
    if conf.flags & svc_flags::ONEPACKET != 0 {
        flags |= ONE_PACKET;
    }
    if Sysctls::on(&st.sysctl.conntrack) {
        flags |= crate::uapi::conn_flags::NFCT;
    }
    let c = Conn::new(key, svc.clone(), dest.clone(), p.sport, flags, now, control);
    for s in [&dest.stats, &svc.stats, &st.tot_stats] {
        s.conn();
    }
    let len = skb.len();
    if flags & ONE_PACKET != 0 {
        count(st, &c, len, true);
        return Some(target_uncached(&c));
    }
    set_state(st, g, &c, Direction::Output, p, now, false);
    let (c, _) = st.conns.insert(g, c).ok()?;
    count(st, c, len, true);
    Some(target_uncached(c))
}

/// The client's network under a persistent service's netmask (IPv6: a prefix length), kept as
/// the netlink attribute carries it (network byte order in memory).
fn client_net(af: u16, a: &InetAddr, netmask: u32) -> InetAddr {
    let mut snet = [0u8; 16];
    if af == AF_INET6 {
        let bits = netmask.min(128) as usize;
        for (i, b) in snet.iter_mut().enumerate() {
            let keep = bits.saturating_sub(i * 8).min(8);
            let m = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
            *b = a[i] & m;
        }
    } else {
        let mask = netmask.to_ne_bytes();
        for i in 0..4 {
            snet[i] = a[i] & mask[i];
        }
    }
    snet
}

/// `ip_vs_sip_fill_param`: the Call-ID of a UDP packet's SIP message, as a template's
/// persistence-engine data. `None`: not UDP, no usable Call-ID, or no memory.
fn sip_pe_data(skb: &Skb, p: &Pkt) -> Option<KBox<PeData>> {
    if p.protocol != IPPROTO_UDP {
        return None;
    }
    let off = p.ihl as u32 + 8;
    let len = skb.len().checked_sub(off).filter(|&n| n > 0)? as usize;
    let mut buf: KVec<u8> = KVec::with_capacity(len, GFP_ATOMIC).ok()?;
    buf.resize(len, 0, GFP_ATOMIC).ok()?;
    let data = skb.bytes_at(off, &mut buf);
    let (o, l) = crate::corelib::sip::call_id(data)?;
    KBox::new(PeData::new(&data[o..o + l])?, GFP_ATOMIC).ok()
}

/// `ip_vs_leave` with cache_bypass: a new connection of a firewall-mark service that has no
/// usable real server, to a non-local unicast address, gets a bypass entry (no real server,
/// real-server side 0.0.0.0:0) and goes on to its own destination. `None`: refused as usual.
#[allow(clippy::too_many_arguments)]
fn bypass<'g>(
    net: NetRef,
    st: &'g NetState,
    g: &'g RcuGuard,
    svc: &Arc<crate::rules::Service>,
    p: &Pkt,
    len: u32,
    now: u64,
    from_icmp: bool,
) -> Option<InDecision<'g>> {
    if !Sysctls::on(&st.sysctl.cache_bypass) || svc.key.fwmark == 0 || from_icmp {
        return None;
    }
    let unicast = if p.af == AF_INET6 {
        crate::sys::addr::ipv6_is_routable_unicast(&p.daddr) && !crate::sys::addr::ipv6_is_local(net, &p.daddr)
    } else {
        crate::sys::addr::ipv4_addr_type(net, v4(&p.daddr)) == crate::sys::addr::V4Type::Unicast
    };
    if !unicast {
        return None;
    }
    let dest = &st.bypass_dest[usize::from(p.af == AF_INET6)];
    let key = ConnKey { af: p.af as u8, protocol: p.protocol, caddr: p.saddr, cport: p.sport, vaddr: p.daddr, vport: p.dport };
    let mut flags = crate::uapi::conn_flags::BYPASS;
    if svc.conf().flags & svc_flags::ONEPACKET != 0 && p.protocol == IPPROTO_UDP {
        flags |= ONE_PACKET;
    }
    if Sysctls::on(&st.sysctl.conntrack) {
        flags |= crate::uapi::conn_flags::NFCT;
    }
    let c = Conn::new(key, svc.clone(), dest.clone(), 0, flags, now, None);
    set_state(st, g, &c, Direction::Input, p, now, false);
    if flags & ONE_PACKET != 0 {
        count(st, &c, len, false);
        return Some(InDecision::Send(target_uncached(&c)));
    }
    let (c, _) = st.conns.insert(g, c).ok()?;
    count(st, c, len, false);
    Some(InDecision::Send(target_of(c, g)))
}

/// `is_new_conn`: a packet that opens a connection (TCP SYN, SCTP INIT).
fn is_new_conn(p: &Pkt) -> bool {
    match p.protocol {
        IPPROTO_TCP => p.tcp_flags & TH_SYN != 0,
        IPPROTO_SCTP => p.sctp_chunk == Some(sctp::CID_INIT),
        _ => false,
    }
}

/// `is_new_conn_expected`: the old connection on this client port is over (TCP TIME_WAIT or
/// CLOSE, or with bit 1 of conn_reuse_mode FIN_WAIT without output; SCTP CLOSED), and not
/// controlled by a persistence template. fvs adds bit 2 (on by default, conn_reuse_mode 5):
/// a TCP connection in any closing state (FIN_WAIT, CLOSE_WAIT, LAST_ACK) is over too — the
/// client would not send a SYN from that port unless its side of the old connection is gone.
fn new_conn_expected(g: &RcuGuard, c: &Conn, reuse: i32) -> bool {
    if c.is_controlled(g) {
        return false;
    }
    let s = c.state() as usize;
    match c.key.protocol {
        IPPROTO_TCP => match tcp::STATES.get(s) {
            Some(tcp::State::TimeWait | tcp::State::Close) => true,
            Some(tcp::State::FinWait | tcp::State::CloseWait | tcp::State::LastAck) if reuse & 4 != 0 => true,
            Some(tcp::State::FinWait) => reuse & 2 != 0 && c.flags() & NOOUTPUT != 0,
            _ => false,
        },
        IPPROTO_SCTP => sctp::STATES.get(s) == Some(&sctp::State::Closed),
        _ => false,
    }
}

/// The namespace settings schedulers read.
fn sched_env(st: &NetState) -> crate::sched::Env {
    crate::sched::Env {
        lblc_expiration: Sysctls::jiffies(&st.sysctl.lblc_expiration),
        lblcr_expiration: Sysctls::jiffies(&st.sysctl.lblcr_expiration),
    }
}

/// `ip_vs_check_template`: a template leads to a real server that is still configured (and,
/// with expire_quiescent_template, whose weight is not 0), and is not draining.
fn template_ok(st: &NetState, t: &Conn) -> bool {
    if t.dest.available.load(Relaxed)
        && !t.dest.draining()
        && !(Sysctls::on(&st.sysctl.expire_quiescent_template) && t.dest.conf().weight == 0)
    {
        return true;
    }
    t.invalidate_template();
    false
}

/// `ip_vs_sched_persist`: the real server a persistent service's client network is bound to
/// (found in its template, or scheduled and recorded in a new template), and a hold on the
/// template for the new connection.
fn persist<'g>(
    st: &'g NetState,
    g: &'g RcuGuard,
    svc: &Arc<crate::rules::Service>,
    dests: &[&Arc<Dest>],
    pkt: &crate::corelib::sched::Packet,
    p: &Pkt,
    now: u64,
    pe: Option<KBox<PeData>>,
) -> Option<(Arc<Dest>, Option<EntryRef<Conn>>)> {
    let conf = svc.conf();
    // The client's network: its address under the service's netmask.
    let snet = client_net(p.af, &p.saddr, conf.netmask);
    // Templates: <proto, cnet, 0, vaddr, vport> for a port service; port zero, FTP (21) and
    // fwmark services leave the port out; fwmark services key on <IPPROTO_IP, fwmark>.
    let (protocol, vaddr, vport) = if p.dport == svc.key.port {
        (p.protocol, p.daddr, if svc.key.port != FTPPORT { p.dport } else { 0 })
    } else if svc.key.fwmark != 0 {
        let mut m = [0u8; 16];
        m[..4].copy_from_slice(&svc.key.fwmark.to_be_bytes());
        (0, m, 0)
    } else {
        (p.protocol, p.daddr, 0)
    };
    let tkey = ConnKey { af: p.af as u8, protocol, caddr: snet, cport: 0, vaddr, vport };
    let expires = now + conf.timeout as u64;
    let t = match st.conns.lookup_template(g, &tkey, pe.as_deref()).filter(|t| template_ok(st, t)) {
        Some(t) => t,
        None => {
            let dest = crate::sched::schedule(svc, dests, pkt, &sched_env(st))?;
            let tdport = if p.dport == svc.key.port && svc.key.port != FTPPORT { dest.port } else { 0 };
            let flags = F_TEMPLATE | dest.conf().conn_flags;
            let mut c = Conn::new(tkey, svc.clone(), dest, tdport, flags, expires, None);
            if let Some(pe) = pe {
                c.set_pe(pe);
            }
            st.conns.insert(g, c).ok()?.0
        }
    };
    // Every connection made from the template keeps it for another timeout.
    t.set_expires(expires);
    Some((t.dest.clone(), EntryRef::try_hold(t)))
}

/// An ICMP error about a TCP/UDP packet: its layout and the embedded packet's addresses.
struct IcmpPkt {
    l: IcmpLayout,
    protocol: u8,
    saddr: InetAddr,
    sport: u16,
    daddr: InetAddr,
    dport: u16,
}

/// Parses an ICMP error (DEST_UNREACH, SOURCE_QUENCH, TIME_EXCEEDED) that embeds the start of
/// a TCP or UDP packet (first fragment), as `ip_vs_in_icmp` / `ip_vs_out_icmp` accept them.
fn parse_icmp4(skb: &Skb) -> Option<IcmpPkt> {
    let mut buf = [0u8; 128];
    let h = skb.headers(&mut buf);
    let ip = parse::parse_ip(h, 0, false).ok()?;
    if ip.protocol != IPPROTO_ICMP || ip.fragment {
        return None;
    }
    let e = parse::parse_icmp_error(h, ip.len, false)?;
    let inner = parse::parse_ipv4(h, e.icmp.inner).ok()?;
    if inner.frag_off != 0 || !matches!(inner.protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
        return None;
    }
    let (sport, dport) = e.inner_ports?;
    let mut saddr = [0u8; 16];
    saddr[..4].copy_from_slice(&inner.saddr);
    let mut daddr = [0u8; 16];
    daddr[..4].copy_from_slice(&inner.daddr);
    Some(IcmpPkt {
        l: IcmpLayout { ihl: ip.len, cihl: inner.hdr_len, has_ports: true },
        protocol: inner.protocol,
        saddr,
        sport,
        daddr,
        dport,
    })
}

/// A real server reached by an IPIP tunnel at `addr` (`ip_vs_find_tunnel`).
/// `ip_vs_find_tunnel`: a tunnel real server (IPv4) at `addr` whose tunnel port is `port`
/// (0: IPIP and GRE), with its tunnel type.
fn tunnel_dest(st: &NetState, g: &RcuGuard, addr: &[u8; 4], port: u16) -> Option<u8> {
    st.rules.iter(g).find_map(|s| {
        s.dests.iter(g).find_map(|d| {
            let c = d.conf();
            (d.af == AF_INET
                && d.addr[..4] == addr[..]
                && c.tun_port == port
                && c.conn_flags & crate::uapi::conn_flags::FWD_MASK == crate::uapi::conn_flags::TUNNEL)
                .then_some(c.tun_type)
        })
    })
}

const IPPROTO_GRE: u8 = 47;
const GRE_CSUM: u16 = 0x8000;
const ETH_P_IP: u16 = 0x0800;

/// The length of fvs's own tunnel header after the outer IPv4 header of a tunnel packet quoted
/// in an ICMP error (0 for IPIP; `ipvs_udp_decap` / `ipvs_gre_decap`: UDP + GUE with its
/// options, or the GRE header), if the packet is one of ours to real server `daddr` carrying
/// IPv4.
fn tunnel_hlen(st: &NetState, g: &RcuGuard, h: &[u8], off: usize, protocol: u8, daddr: &[u8; 4]) -> Option<usize> {
    use crate::uapi::tun_type;
    match protocol {
        IPPROTO_IPIP => (tunnel_dest(st, g, daddr, 0)? == tun_type::IPIP).then_some(0),
        IPPROTO_UDP => {
            let dport = u16::from_be_bytes([*h.get(off + 2)?, *h.get(off + 3)?]);
            if tunnel_dest(st, g, daddr, dport)? != tun_type::GUE {
                return None;
            }
            // struct guehdr: version (2 bits), control (1), hlen (5); proto_ctype; flags.
            let (b0, proto) = (*h.get(off + 8)?, *h.get(off + 9)?);
            if b0 >> 5 != 0 || proto != IPPROTO_IPIP {
                return None;
            }
            Some(8 + 4 + (b0 & 0x1f) as usize * 4)
        }
        IPPROTO_GRE => {
            if tunnel_dest(st, g, daddr, 0)? != tun_type::GRE {
                return None;
            }
            let flags = u16::from_be_bytes([*h.get(off)?, *h.get(off + 1)?]);
            let proto = u16::from_be_bytes([*h.get(off + 2)?, *h.get(off + 3)?]);
            if flags & !GRE_CSUM != 0 || proto != ETH_P_IP {
                return None;
            }
            Some(if flags & GRE_CSUM != 0 { 8 } else { 4 })
        }
        _ => None,
    }
}

/// `ip_vs_in_icmp`, tunnel case: an ICMP error addressed to the director about one of its
/// IPIP, GUE or GRE packets (e.g. frag-needed from a router on the way to the real server). The
/// director learns the path MTU and tells the client, from the virtual address, about its own
/// request.
fn in_icmp_tunnel4(net: NetRef, st: &NetState, skb: &mut Skb) -> Option<Verdict> {
    let mut buf = [0u8; 192];
    let h = skb.headers(&mut buf);
    let ip = parse::parse_ip(h, 0, false).ok()?;
    let e = parse::parse_icmp(h, ip.len, false)?;
    if !e.is_error {
        return None;
    }
    let tun = parse::parse_ipv4(h, e.inner).ok()?;
    if !matches!(tun.protocol, IPPROTO_IPIP | IPPROTO_UDP | IPPROTO_GRE) || tun.frag_off != 0 {
        return None;
    }
    let g = RcuGuard::new();
    // The tunnel's own header after the outer IP header (UDP + GUE, GRE; none for IPIP).
    let ulen = tunnel_hlen(st, &g, h, e.inner + tun.hdr_len, tun.protocol, &tun.daddr)?;
    let orig_off = e.inner + tun.hdr_len + ulen;
    let orig = parse::parse_ipv4(h, orig_off).ok()?;
    if orig.frag_off != 0 || !matches!(orig.protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
        return None;
    }
    let (sport, dport) = parse::parse_ports(h, orig_off + orig.hdr_len)?;
    let info_mtu = u16::from_be_bytes([h[ip.len + 6], h[ip.len + 7]]) as u32;
    let gateway = u32::from_be_bytes([h[ip.len + 4], h[ip.len + 5], h[ip.len + 6], h[ip.len + 7]]);
    let (typ, code) = (e.icmp_type, e.code);
    let hlen_ipip = tun.hdr_len;
    let hlen_orig = orig.hdr_len;
    let mut caddr = [0u8; 16];
    caddr[..4].copy_from_slice(&orig.saddr);
    let mut vaddr = [0u8; 16];
    vaddr[..4].copy_from_slice(&orig.daddr);
    // For a tunnel the embedded packet is the request itself, not a reply.
    let key = ConnKey { af: AF_INET as u8, protocol: orig.protocol, caddr, cport: sport, vaddr, vport: dport };
    let c = st.conns.lookup(&g, &key)?;
    if !xmit::icmp_csum_ok(skb, ip.len) {
        return Some(Verdict::Drop);
    }
    let mut info = gateway;
    if typ == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED {
        // Strip the outer IP and ICMP headers: the IPIP header becomes the network header.
        if !skb.pull_to_network((ip.len + 8) as u32, hlen_ipip as u32) {
            skb.consume();
            return Some(Verdict::Stolen);
        }
        skb.update_pmtu4(net, info_mtu);
        if !orig.dont_frag {
            skb.consume();
            return Some(Verdict::Stolen);
        }
        // Prefer the path MTU the route now has.
        let mut mtu = info_mtu;
        if let Some(rt) = crate::sys::skb::Route::output4(net, tun.daddr, false) {
            mtu = rt.mtu();
        }
        let overhead = (hlen_ipip + ulen) as u32;
        if mtu > 68 + overhead {
            mtu -= overhead;
        }
        info = mtu;
        if !skb.pull_to_network((hlen_ipip + ulen) as u32, hlen_orig as u32) {
            skb.consume();
            return Some(Verdict::Stolen);
        }
    } else if !skb.pull_to_network((ip.len + 8 + hlen_ipip + ulen) as u32, hlen_orig as u32) {
        skb.consume();
        return Some(Verdict::Stolen);
    }
    skb.icmp_send(typ, code, info);
    count(st, c, skb.len(), true);
    skb.consume();
    Some(Verdict::Stolen)
}

/// schedule_icmp: an ICMP error from the client side about a flow with no connection (the
/// embedded packet, VIP -> client, reversed) is scheduled as a new connection, whose real
/// server then gets the error. The connection's target, if one was made.
fn icmp_schedule(net: NetRef, st: &NetState, skb: &Skb, g: &RcuGuard, p: &IcmpPkt, af: u16) -> Option<Target<'static>> {
    if !Sysctls::on(&st.sysctl.schedule_icmp) {
        return None;
    }
    let flow = Pkt {
        af,
        ihl: 0,
        protocol: p.protocol,
        saddr: p.daddr,
        sport: p.dport,
        daddr: p.saddr,
        dport: p.sport,
        tcp_flags: 0,
        sctp_chunk: None,
        sctp_event: None,
    };
    match new_conn(net, st, skb, &flow, g, jiffies(), true) {
        InDecision::Send(t) => Some(t.uncached()),
        _ => None,
    }
}

/// `ip_vs_in_icmp`: an ICMP error from the client side about a reply of a connection (the
/// embedded packet goes from the virtual service to the client) is relayed to the real server.
fn in_icmp4(net: NetRef, st: &NetState, skb: &mut Skb, local: bool) -> Verdict {
    // Errors about our own tunnel packets are addressed to the director (LOCAL_IN).
    if local {
        if let Some(v) = in_icmp_tunnel4(net, st, skb) {
            return v;
        }
    }
    let Some(p) = parse_icmp4(skb) else { return Verdict::Accept };
    // The embedded headers contain source and destination in reverse order.
    let key = ConnKey { af: AF_INET as u8, protocol: p.protocol, caddr: p.daddr, cport: p.dport, vaddr: p.saddr, vport: p.sport };
    let t = {
        let g = RcuGuard::new();
        let c = st.conns.lookup(&g, &key);
        let t = match c {
            Some(c) => target_uncached(c),
            None => match icmp_schedule(net, st, skb, &g, &p, AF_INET) {
                Some(t) => t,
                None => return Verdict::Accept,
            },
        };
        if t.method() == MASQ && !xmit::icmp_csum_ok(skb, p.l.ihl) {
            return Verdict::Drop;
        }
        if let Some(c) = c {
            count(st, c, skb.len(), false);
        }
        t
    };
    xmit::icmp_xmit4(net, skb, &p.l, &t)
}

/// `ip_vs_out_icmp`: an ICMP error from a real server about a packet of a connection (the
/// embedded packet goes from the client to the real server) goes back to the client.
fn out_icmp4(net: NetRef, st: &NetState, skb: &mut Skb, local_in: bool) -> Verdict {
    let Some(p) = parse_icmp4(skb) else { return Verdict::Accept };
    let t = {
        let g = RcuGuard::new();
        let Some(c) = st.conns.lookup_out(&g, AF_INET, p.protocol, &p.daddr, p.dport, &p.saddr, p.sport) else {
            return Verdict::Accept;
        };
        count(st, c, skb.len(), true);
        target_uncached(c)
    };
    let v = xmit::icmp_response4(skb, &p.l, &t);
    snat_reroute(net, st, skb, &t, v, local_in, false)
}

fn is_icmp4(skb: &Skb) -> bool {
    let mut buf = [0u8; 20];
    let h = skb.headers(&mut buf);
    h.len() >= 20 && h[0] >> 4 == 4 && h[9] == IPPROTO_ICMP
}

const IPPROTO_ESP: u8 = 50;
const IPPROTO_AH: u8 = 51;
const PORT_ISAKMP: u16 = 500;

/// An AH or ESP packet: its transport offset, protocol and addresses.
fn parse_ah_esp(skb: &Skb, v6: bool) -> Option<(usize, u8, InetAddr, InetAddr)> {
    let mut buf = [0u8; 128];
    let h = skb.headers(&mut buf);
    let ip = parse::parse_ip(h, 0, v6).ok()?;
    if !matches!(ip.protocol, IPPROTO_AH | IPPROTO_ESP) {
        return None;
    }
    Some((ip.len, ip.protocol, inet(&ip.saddr), inet(&ip.daddr)))
}

/// `ip_vs_protocol_ah/esp`: AH and ESP are only related traffic: a packet from a client goes
/// where the client's IKE exchange (UDP port 500 to the same virtual address) was scheduled,
/// and refreshes that entry; without one it is not ours. Nothing new is scheduled.
fn in_ah_esp(net: NetRef, st: &NetState, skb: &mut Skb, v6: bool) -> Verdict {
    let Some((ihl, protocol, saddr, daddr)) = parse_ah_esp(skb, v6) else { return ignore_tunneled(st, skb, v6) };
    let af = if v6 { AF_INET6 } else { AF_INET };
    let key = ConnKey { af: af as u8, protocol: IPPROTO_UDP, caddr: saddr, cport: PORT_ISAKMP, vaddr: daddr, vport: PORT_ISAKMP };
    let t = {
        let g = RcuGuard::new();
        let Some(c) = st.conns.lookup(&g, &key) else { return Verdict::Accept };
        count(st, c, skb.len(), false);
        c.set_expires(jiffies() + state_timeout(st, IPPROTO_UDP, c.state()) as u64 * crate::sys::hz() as u64);
        Target { protocol, ..target_uncached(c) }
    };
    if v6 {
        xmit::xmit6(net, skb, ihl, &t)
    } else {
        xmit::xmit4(net, skb, ihl, &t)
    }
}

/// AH/ESP from a real server: back to the client along its IKE entry (NAT: from the VIP).
fn out_ah_esp(net: NetRef, st: &NetState, skb: &mut Skb, v6: bool, local_in: bool) -> Verdict {
    let Some((ihl, protocol, saddr, daddr)) = parse_ah_esp(skb, v6) else { return Verdict::Accept };
    let af = if v6 { AF_INET6 } else { AF_INET };
    let t = {
        let g = RcuGuard::new();
        let Some(c) = st.conns.lookup_out(&g, af, IPPROTO_UDP, &saddr, PORT_ISAKMP, &daddr, PORT_ISAKMP) else {
            return Verdict::Accept;
        };
        count(st, c, skb.len(), true);
        c.set_expires(jiffies() + state_timeout(st, IPPROTO_UDP, c.state()) as u64 * crate::sys::hz() as u64);
        Target { protocol, ..target_uncached(c) }
    };
    let v = if v6 { xmit::snat6(skb, ihl, &t) } else { xmit::snat4(skb, ihl, &t) };
    snat_reroute(net, st, skb, &t, v, local_in, v6)
}

/// `nat_icmp_send`: a packet from a NAT real server's address and port that matches no
/// connection is refused with ICMP port unreachable (not a TCP RST or SCTP ABORT), when the
/// sysctl is on. Returns the verdict if it was refused.
fn nat_icmp_send(st: &NetState, skb: &mut Skb, p: &Pkt) -> Option<Verdict> {
    if !Sysctls::on(&st.sysctl.nat_icmp_send) {
        return None;
    }
    let g = RcuGuard::new();
    // ip_vs_has_real_service: a NAT real server at this address and port.
    let found = st.rules.iter(&g).any(|s| {
        (s.key.protocol == u16::from(p.protocol) || s.key.fwmark != 0)
            && s.dests.iter(&g).any(|d| {
                d.af == p.af
                    && d.port == p.sport
                    && crate::rules::addr_eq(p.af, &d.addr, &p.saddr)
                    && d.conf().conn_flags & crate::uapi::conn_flags::FWD_MASK == MASQ
            })
    });
    drop(g);
    if !found
        || (p.protocol == IPPROTO_TCP && p.tcp_flags & TH_RST != 0)
        || (p.protocol == IPPROTO_SCTP && p.sctp_chunk == Some(sctp::CID_ABORT))
    {
        return None;
    }
    if p.af == AF_INET6 {
        skb.icmpv6_send(1, 4, 0); // destination unreachable, port unreachable
    } else {
        skb.icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
    }
    Some(Verdict::Drop)
}

/// `ignore_tunneled`: a packet of a protocol fvs does not handle (IPIP, GRE, IPv6-in-IPv4
/// ...) is marked, so that the packet it carries, decapsulated on this host, passes fvs by.
fn ignore_tunneled(st: &NetState, skb: &mut Skb, v6: bool) -> Verdict {
    if Sysctls::on(&st.sysctl.ignore_tunneled) {
        let mut buf = [0u8; 128];
        let h = skb.headers(&mut buf);
        let other = parse::parse_ip(h, 0, v6).is_ok_and(|ip| {
            !ip.fragment
                && !matches!(ip.protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP | IPPROTO_AH | IPPROTO_ESP | IPPROTO_ICMP | IPPROTO_ICMPV6)
        });
        if other {
            skb.set_ipvs_property();
        }
    }
    Verdict::Accept
}

/// `ip_vs_in_hook` (LOCAL_IN, LOCAL_OUT): packets from clients to virtual services.
fn in4(net: NetRef, skb: &mut Skb, g: &RcuGuard) -> Verdict {
    let Some(st) = crate::prof!(Sec::InState, NetState::of(net)) else { return Verdict::Accept };
    // TCP/UDP/SCTP first (the common case, one look at the headers); then ICMP, AH/ESP.
    match crate::prof!(Sec::InParse, parse_pkt(skb, false)) {
        Some(p) => in_l4(net, st, skb, &p, g),
        None => in_other(net, st, skb, false),
    }
}

/// `ip_vs_in_hook` for a packet that is not TCP/UDP/SCTP: ICMP errors, AH/ESP.
fn in_other(net: NetRef, st: &NetState, skb: &mut Skb, v6: bool) -> Verdict {
    match (v6, if v6 { is_icmp6(skb) } else { is_icmp4(skb) }) {
        (false, true) => in_icmp4(net, st, skb, true),
        (true, true) => in_icmp6(net, st, skb),
        (v6, false) => in_ah_esp(net, st, skb, v6),
    }
}

/// `ip_vs_in_hook` for a TCP/UDP/SCTP packet of either family.
fn in_l4(net: NetRef, st: &NetState, skb: &mut Skb, p: &Pkt, g: &RcuGuard) -> Verdict {
    let v6 = p.af == AF_INET6;
    match crate::prof!(Sec::InDecide, in_decide(net, st, skb, p, g)) {
        InDecision::Pass => Verdict::Accept,
        InDecision::Unreachable => {
            if v6 {
                skb.icmpv6_send(1, 4, 0); // destination unreachable, port unreachable
            } else {
                skb.icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
            }
            Verdict::Drop
        }
        InDecision::Drop => Verdict::Drop,
        InDecision::Send(t) => {
            if t.flags & F_APP != 0 && !ftp_in(st, skb, p) {
                return Verdict::Drop;
            }
            if v6 {
                xmit::xmit6(net, skb, p.ihl, &t)
            } else {
                crate::prof!(Sec::Xmit, xmit::xmit4(net, skb, p.ihl, &t))
            }
        }
    }
}

/// LOCAL_IN: ip_vs's two hooks there, `ip_vs_out_hook` (replies to local clients) and then
/// `ip_vs_in_hook` (requests to virtual services), in one call that parses the packet once.
/// A packet the reply side took (`ipvs_property`) passes the request side by, as it would
/// pass the second hook.
fn local_in(net: NetRef, skb: &mut Skb, v6: bool, g: &RcuGuard) -> Verdict {
    let Some(st) = crate::prof!(Sec::InState, NetState::of(net)) else { return Verdict::Accept };
    let p = crate::prof!(Sec::InParse, parse_pkt(skb, v6));
    let v = match &p {
        Some(p) => out_l4(net, st, skb, p, true, g),
        None => out_other(net, st, skb, v6, true),
    };
    if v != Verdict::Accept || skb.ipvs_property() {
        return v;
    }
    match &p {
        Some(p) => in_l4(net, st, skb, p, g),
        None => in_other(net, st, skb, v6),
    }
}

/// `ip_vs_out_hook` for a packet that is not TCP/UDP/SCTP: ICMP errors, AH/ESP.
fn out_other(net: NetRef, st: &NetState, skb: &mut Skb, v6: bool, local_in: bool) -> Verdict {
    match (v6, if v6 { is_icmp6(skb) } else { is_icmp4(skb) }) {
        (false, true) => out_icmp4(net, st, skb, local_in),
        (true, true) => out_icmp6(net, st, skb, local_in),
        (v6, false) => out_ah_esp(net, st, skb, v6, local_in),
    }
}

/// FORWARD (`ip_vs_out_hook`): replies from real servers to clients.
fn out4(net: NetRef, skb: &mut Skb, local_in: bool, g: &RcuGuard) -> Verdict {
    let Some(st) = NetState::of(net) else { return Verdict::Accept };
    let Some(p) = crate::prof!(Sec::OutParse, parse_pkt(skb, false)) else {
        return out_other(net, st, skb, false, local_in);
    };
    if local_in {
        return out_l4(net, st, skb, &p, local_in, g);
    }
    crate::prof!(Sec::OutL4, out_l4(net, st, skb, &p, local_in, g))
}

/// `ip_vs_out_hook` for a TCP/UDP/SCTP packet of either family: a reply of a connection (or a
/// real server's own request, which gets one) is rewritten back to the virtual service.
fn out_l4(net: NetRef, st: &NetState, skb: &mut Skb, p: &Pkt, local_in: bool, g: &RcuGuard) -> Verdict {
    let v6 = p.af == AF_INET6;
    let len = skb.len();
    let now = jiffies();
    let t = {
        let found = crate::prof!(Sec::OutLookup, st.conns.lookup_out(g, p.af, p.protocol, &p.saddr, p.sport, &p.daddr, p.dport));
        match found {
            Some(c) => {
                count(st, c, len, true);
                set_state(st, g, c, Direction::Output, p, now, true);
                target_uncached(c)
            }
            // A real server's own request (SIP): a connection made for it.
            None => match rs_conn_out(st, skb, p, g, now, local_in) {
                Some(t) => t,
                None => return nat_icmp_send(st, skb, p).unwrap_or(Verdict::Accept),
            },
        }
    };
    if t.flags & F_APP != 0 && t.method() == MASQ && !ftp_out(st, skb, p) {
        return Verdict::Drop;
    }
    let v = crate::prof!(Sec::OutSnat, if v6 { xmit::snat6(skb, p.ihl, &t) } else { xmit::snat4(skb, p.ihl, &t) });
    crate::prof!(Sec::OutReroute, snat_reroute(net, st, skb, &t, v, local_in, v6))
}

/// What to do with an ICMPv6 packet (`ip_vs_in_icmp_v6` / `ip_vs_out_icmp_v6`).
enum Icmp6 {
    /// Not an error about a TCP/UDP/SCTP packet: not ours.
    Pass,
    /// Malformed (truncated ICMPv6 header, or an error in a fragment): dropped.
    Drop,
    Error(IcmpPkt),
}

/// Parses an ICMPv6 error embedding the start of a TCP, UDP or SCTP packet (first fragment).
fn parse_icmp6(skb: &Skb) -> Icmp6 {
    let mut buf = [0u8; 256];
    let h = skb.headers(&mut buf);
    let Ok(ip) = parse::parse_ip(h, 0, true) else { return Icmp6::Pass };
    if ip.protocol != IPPROTO_ICMPV6 {
        return Icmp6::Pass;
    }
    let Some(ic) = parse::parse_icmp(h, ip.len, true) else { return Icmp6::Drop };
    if !ic.is_error {
        return Icmp6::Pass;
    }
    // Errors are never fragmented.
    if ip.fragment {
        return Icmp6::Drop;
    }
    let Some(e) = parse::parse_icmp_error(h, ip.len, true) else { return Icmp6::Pass };
    let inner = e.inner;
    if !matches!(inner.protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) || inner.fragoffs != 0 {
        return Icmp6::Pass;
    }
    let Some((sport, dport)) = e.inner_ports else { return Icmp6::Pass };
    Icmp6::Error(IcmpPkt {
        l: IcmpLayout { ihl: ip.len, cihl: inner.len - ic.inner, has_ports: true },
        protocol: inner.protocol,
        saddr: inet(&inner.saddr),
        sport,
        daddr: inet(&inner.daddr),
        dport,
    })
}

/// An ICMPv6 packet (after any extension headers)?
fn is_icmp6(skb: &Skb) -> bool {
    let mut buf = [0u8; 40];
    let h = skb.headers(&mut buf);
    if h.len() < 40 || h[0] >> 4 != 6 {
        return false;
    }
    if h[6] == IPPROTO_ICMPV6 {
        return true;
    }
    if !parse::ipv6_ext_hdr(h[6]) {
        return false;
    }
    let mut buf = [0u8; 256];
    let h = skb.headers(&mut buf);
    parse::parse_ip(h, 0, true).is_ok_and(|ip| ip.protocol == IPPROTO_ICMPV6)
}

/// `ip_vs_in_icmp_v6`: an ICMPv6 error from the client side about a reply of a connection is
/// relayed to the real server.
fn in_icmp6(net: NetRef, st: &NetState, skb: &mut Skb) -> Verdict {
    let p = match parse_icmp6(skb) {
        Icmp6::Pass => return Verdict::Accept,
        Icmp6::Drop => return Verdict::Drop,
        Icmp6::Error(p) => p,
    };
    // The embedded headers contain source and destination in reverse order.
    let key = ConnKey { af: AF_INET6 as u8, protocol: p.protocol, caddr: p.daddr, cport: p.dport, vaddr: p.saddr, vport: p.sport };
    let t = {
        let g = RcuGuard::new();
        let c = st.conns.lookup(&g, &key);
        let t = match c {
            Some(c) => target_uncached(c),
            None => match icmp_schedule(net, st, skb, &g, &p, AF_INET6) {
                Some(t) => t,
                None => return Verdict::Accept,
            },
        };
        if t.method() == MASQ && !xmit::icmp6_csum_ok(skb, p.l.ihl) {
            return Verdict::Drop;
        }
        if let Some(c) = c {
            count(st, c, skb.len(), false);
        }
        t
    };
    xmit::icmp_xmit6(net, skb, &p.l, &t)
}

/// `ip_vs_out_icmp_v6`: an ICMPv6 error from a real server about a packet of a connection goes
/// back to the client.
fn out_icmp6(net: NetRef, st: &NetState, skb: &mut Skb, local_in: bool) -> Verdict {
    let p = match parse_icmp6(skb) {
        Icmp6::Pass => return Verdict::Accept,
        Icmp6::Drop => return Verdict::Drop,
        Icmp6::Error(p) => p,
    };
    let t = {
        let g = RcuGuard::new();
        let Some(c) = st.conns.lookup_out(&g, AF_INET6, p.protocol, &p.daddr, p.dport, &p.saddr, p.sport) else {
            return Verdict::Accept;
        };
        count(st, c, skb.len(), true);
        target_uncached(c)
    };
    let v = xmit::icmp_response6(skb, &p.l, &t);
    snat_reroute(net, st, skb, &t, v, local_in, true)
}

/// IPv6 requests and ICMPv6 errors from the client side.
fn in6(net: NetRef, skb: &mut Skb, g: &RcuGuard) -> Verdict {
    let Some(st) = NetState::of(net) else { return Verdict::Accept };
    match parse_pkt(skb, true) {
        Some(p) => in_l4(net, st, skb, &p, g),
        None => in_other(net, st, skb, true),
    }
}

/// IPv6 replies of real servers, and ICMPv6 errors from their side.
fn out6(net: NetRef, skb: &mut Skb, local_in: bool, g: &RcuGuard) -> Verdict {
    let Some(st) = NetState::of(net) else { return Verdict::Accept };
    match parse_pkt(skb, true) {
        Some(p) => out_l4(net, st, skb, &p, local_in, g),
        None => out_other(net, st, skb, true, local_in),
    }
}

/// Runs a hook for its namespace with bottom halves off: at LOCAL_OUT a local process sends
/// with them on, and the connection table's bucket locks and the scheduler locks are also taken
/// by softirqs (elsewhere a no-op nesting).
fn with_net(state: &HookState<'_>, f: impl FnOnce(NetRef) -> Verdict) -> Verdict {
    match state.net() {
        Some(net) => f(net),
        None => Verdict::Accept,
    }
}

/// `ip_vs_route_me_harder` after `handle_response(_icmp)`: with snat_reroute, a NAT reply
/// (source now the virtual address) going to a remote client (FORWARD, LOCAL_OUT) is routed
/// again; without a route it is dropped.
fn snat_reroute(net: NetRef, st: &NetState, skb: &mut Skb, t: &Target<'_>, v: Verdict, local_in: bool, v6: bool) -> Verdict {
    if v != Verdict::Accept || local_in || t.method() != MASQ || !Sysctls::on(&st.sysctl.snat_reroute) {
        return v;
    }
    if !skb.reroute(net, v6) {
        return Verdict::Drop;
    }
    v
}

/// LOCAL_IN: replies to local clients, then requests from clients (`local_in`).
struct LocalInHook;
impl Hook for LocalInHook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        with_net(state, |net| local_in(net, skb, false, state.rcu()))
    }
}

struct LocalIn6Hook;
impl Hook for LocalIn6Hook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        with_net(state, |net| local_in(net, skb, true, state.rcu()))
    }
}

/// `ip_vs_in_hook` at LOCAL_OUT: requests from local processes.
struct InHook;
impl Hook for InHook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        with_net(state, |net| in4(net, skb, state.rcu()))
    }
}

/// `ip_vs_out_hook` at FORWARD and LOCAL_OUT: replies of real servers routed through, or
/// from local real servers.
struct ReplyHook;
impl Hook for ReplyHook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        let local_in = state.is_local_in();
        with_net(state, |net| out4(net, skb, local_in, state.rcu()))
    }
}

/// `ip_vs_forward_icmp`: ICMP errors about connections whose virtual address is not local
/// (e.g. firewall-mark services) pass FORWARD instead of LOCAL_IN.
struct ForwardIcmpHook;
impl Hook for ForwardIcmpHook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        with_net(state, |net| {
            if !is_icmp4(skb) {
                return Verdict::Accept;
            }
            match NetState::of(net) {
                Some(st) => in_icmp4(net, st, skb, false),
                None => Verdict::Accept,
            }
        })
    }
}

struct In6Hook;
impl Hook for In6Hook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        with_net(state, |net| in6(net, skb, state.rcu()))
    }
}

/// `ip_vs_forward_icmp_v6`: ICMPv6 errors about connections whose virtual address is not local.
struct ForwardIcmp6Hook;
impl Hook for ForwardIcmp6Hook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        with_net(state, |net| {
            if !is_icmp6(skb) {
                return Verdict::Accept;
            }
            match NetState::of(net) {
                Some(st) => in_icmp6(net, st, skb),
                None => Verdict::Accept,
            }
        })
    }
}

struct Reply6Hook;
impl Hook for Reply6Hook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        let local_in = state.is_local_in();
        with_net(state, |net| out6(net, skb, local_in, state.rcu()))
    }
}

static HOOKS: HookSet<10> = HookSet::new();

/// ip_vs's priorities: NF_IP_PRI_NAT_SRC - 2/-1 at LOCAL_IN (here one hook at -2 doing both),
/// NF_IP_PRI_NAT_DST + 1/+2 at LOCAL_OUT, 99/100 at FORWARD.
const NAT_SRC: i32 = 100;
const NAT_DST: i32 = -100;

pub(crate) fn init() {
    HOOKS.init(&[
        HookSpec::new::<LocalInHook>(Family::Ipv4, HookPoint::LocalIn, NAT_SRC - 2),
        HookSpec::new::<ReplyHook>(Family::Ipv4, HookPoint::LocalOut, NAT_DST + 1),
        HookSpec::new::<InHook>(Family::Ipv4, HookPoint::LocalOut, NAT_DST + 2),
        HookSpec::new::<ForwardIcmpHook>(Family::Ipv4, HookPoint::Forward, 99),
        HookSpec::new::<ReplyHook>(Family::Ipv4, HookPoint::Forward, 100),
        // NF_IP6_PRI_NAT_SRC/DST have the same values as IPv4's.
        HookSpec::new::<LocalIn6Hook>(Family::Ipv6, HookPoint::LocalIn, NAT_SRC - 2),
        HookSpec::new::<Reply6Hook>(Family::Ipv6, HookPoint::LocalOut, NAT_DST + 1),
        HookSpec::new::<In6Hook>(Family::Ipv6, HookPoint::LocalOut, NAT_DST + 2),
        HookSpec::new::<ForwardIcmp6Hook>(Family::Ipv6, HookPoint::Forward, 99),
        HookSpec::new::<Reply6Hook>(Family::Ipv6, HookPoint::Forward, 100),
    ]);
}

/// A family's share of `HOOKS`: IPv4's five, then IPv6's.
fn family_range(af: u16) -> (usize, usize) {
    if af == AF_INET6 {
        (5, 5)
    } else {
        (0, 5)
    }
}

/// Hooks family `af` in `net` (`ip_vs_register_hooks`): done with the namespace's first
/// service of that family, so that a namespace without services pays nothing per packet.
pub(crate) fn register(net: NetRef, af: u16) -> Result {
    let (start, n) = family_range(af);
    HOOKS.register(net, start, n)
}

/// `ip_vs_unregister_hooks`: with the family's last service.
pub(crate) fn unregister(net: NetRef, af: u16) {
    let (start, n) = family_range(af);
    HOOKS.unregister(net, start, n)
}
