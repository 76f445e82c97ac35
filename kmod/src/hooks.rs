//! Netfilter entry points: LOCAL_IN and FORWARD for IPv4 and IPv6, at ip_vs's priorities.
//!
//! IPv4 TCP/UDP packets to a virtual service are scheduled to a real server and tracked in the
//! connection table (state, expiry, dest counters, statistics). Transmission to the real server
//! is the next step of the data-plane issue: until then packets continue to the local stack.

use crate::conn::{Conn, ConnKey, F_INACTIVE};
use crate::corelib::parse;
use crate::corelib::proto::{tcp, CounterChange, Direction};
use crate::corelib::sched::Addr;
use crate::netns::NetState;
use crate::rules::{Dest, ServiceKey, Stats, AF_INET};
use crate::sys::bh::jiffies;
use crate::sys::nf::{Family, Hook, HookPoint, HookSet, HookSpec, HookState, Skb, Verdict};
use crate::sys::net::NetRef;
use crate::sys::rcu::RcuGuard;
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::sync::Arc;

/// ip_vs schedules new connections at LOCAL_IN with priority NF_IP_PRI_NAT_SRC - 1 (99) and
/// handles replies at FORWARD priority 100.
const PRI_LOCAL_IN: i32 = 100 - 1;
const PRI_FORWARD: i32 = 100;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const TH_SYN: u8 = 0x02;

/// UDP's single state index (`IP_VS_UDP_S_NORMAL`).
const UDP_S_NORMAL: u8 = 0;

fn count_in(s: &Stats, len: u32, new_conn: bool) {
    if new_conn {
        s.conns.fetch_add(1, Relaxed);
    }
    s.inpkts.fetch_add(1, Relaxed);
    s.inbytes.fetch_add(len as u64, Relaxed);
}

/// Applies a state transition's effect on the dest counters (`set_tcp_state`).
fn apply_counters(c: &mut Conn, ch: CounterChange) {
    match ch {
        CounterChange::None => {}
        CounterChange::BecameActive => {
            c.dest.inactconns.fetch_sub(1, Relaxed);
            c.dest.activeconns.fetch_add(1, Relaxed);
            c.flags &= !F_INACTIVE;
        }
        CounterChange::BecameInactive => {
            c.dest.activeconns.fetch_sub(1, Relaxed);
            c.dest.inactconns.fetch_add(1, Relaxed);
            c.flags |= F_INACTIVE;
        }
    }
}

/// Seconds of a state's timeout, honouring `ipvsadm --set` for the three settable ones.
fn state_timeout(st: &NetState, protocol: u8, state: u8) -> u32 {
    let (tcp, fin, udp) = st.timeouts();
    if protocol == IPPROTO_UDP {
        return udp;
    }
    match tcp::STATES.get(state as usize).copied() {
        Some(tcp::State::Established) => tcp,
        Some(tcp::State::FinWait) => fin,
        Some(s) => tcp::timeout(s),
        None => tcp::timeout(tcp::State::Close),
    }
}

fn in4(net: NetRef, skb: &Skb) -> Verdict {
    let Some(st) = NetState::of(net) else { return Verdict::Accept };
    let mut buf = [0u8; 64];
    let h = skb.headers(&mut buf);
    let Ok(ip) = parse::parse_ip(h, 0, false) else { return Verdict::Accept };
    if ip.fragment || !(ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP) {
        return Verdict::Accept;
    }
    let Some((sport, dport)) = parse::parse_ports(h, ip.len) else { return Verdict::Accept };
    let (Addr::V4(saddr), Addr::V4(daddr)) = (ip.saddr, ip.daddr) else { return Verdict::Accept };
    let tcp_flags = if ip.protocol == IPPROTO_TCP { h.get(ip.len + 13).copied().unwrap_or(0) } else { 0 };
    let mut caddr = [0u8; 16];
    caddr[..4].copy_from_slice(&saddr);
    let mut vaddr = [0u8; 16];
    vaddr[..4].copy_from_slice(&daddr);
    let key = ConnKey { af: AF_INET, protocol: ip.protocol, caddr, cport: sport, vaddr, vport: dport };
    let len = skb.len();
    let now = jiffies();
    let hz = crate::sys::hz() as u64;

    let mut conns = st.conns.lock();
    if let Some(c) = conns.lookup(&key) {
        if ip.protocol == IPPROTO_TCP {
            let cur = tcp::STATES.get(c.state as usize).copied().unwrap_or(tcp::State::None);
            let t = tcp::transition(cur, Direction::Input, tcp_flags, false, c.flags & crate::uapi::conn_flags::NOOUTPUT != 0, c.flags & F_INACTIVE != 0);
            c.state = t.state as u8;
            apply_counters(c, t.counters);
        }
        c.expires = now + state_timeout(st, ip.protocol, c.state) as u64 * hz;
        count_in(&c.dest.stats, len, false);
        st.tot_stats.inpkts.fetch_add(1, Relaxed);
        st.tot_stats.inbytes.fetch_add(len as u64, Relaxed);
        return Verdict::Accept;
    }

    // No connection yet: is this a packet to a virtual service that may start one?
    let g = RcuGuard::new();
    let mark = skb.mark();
    let svc = (if mark != 0 {
        st.rules.find(&g, &ServiceKey { af: AF_INET, protocol: ip.protocol as u16, addr: [0; 16], port: 0, fwmark: mark })
    } else {
        None
    })
    .or_else(|| st.rules.find(&g, &ServiceKey { af: AF_INET, protocol: ip.protocol as u16, addr: vaddr, port: dport, fwmark: 0 }));
    let Some(svc) = svc else { return Verdict::Accept };
    if ip.protocol == IPPROTO_TCP && tcp_flags & TH_SYN == 0 {
        return Verdict::Accept;
    }
    let mut dests: KVec<&Arc<Dest>> = KVec::new();
    for d in svc.dests.iter(&g) {
        if dests.push(d, GFP_ATOMIC).is_err() {
            return Verdict::Accept;
        }
    }
    let Some(dest) = crate::sched::schedule(svc, &dests) else { return Verdict::Accept };
    let dflags = dest.conf().conn_flags;
    // ip_vs_bind_dest: a new entry starts INACTIVE (from the dest's flags).
    if dflags & F_INACTIVE != 0 {
        dest.inactconns.fetch_add(1, Relaxed);
    } else {
        dest.activeconns.fetch_add(1, Relaxed);
    }
    let (state, counters) = if ip.protocol == IPPROTO_TCP {
        let t = tcp::transition(tcp::State::None, Direction::Input, tcp_flags, false, dflags & crate::uapi::conn_flags::NOOUTPUT != 0, dflags & F_INACTIVE != 0);
        (t.state as u8, t.counters)
    } else {
        (UDP_S_NORMAL, CounterChange::None)
    };
    let expires = now + state_timeout(st, ip.protocol, state) as u64 * hz;
    let Ok(mut c) = Conn::new(key, dest.clone(), state, dflags, expires) else {
        // No memory: undo the binding and let the packet be.
        if dflags & F_INACTIVE != 0 {
            dest.inactconns.fetch_sub(1, Relaxed);
        } else {
            dest.activeconns.fetch_sub(1, Relaxed);
        }
        return Verdict::Accept;
    };
    apply_counters(&mut c, counters);
    count_in(&svc.stats, len, true);
    count_in(&dest.stats, len, true);
    count_in(&st.tot_stats, len, true);
    conns.insert(c);
    Verdict::Accept
}

struct InHook;
impl Hook for InHook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict {
        match state.net() {
            Some(net) => in4(net, skb),
            None => Verdict::Accept,
        }
    }
}

struct In6Hook;
impl Hook for In6Hook {
    fn hook(_skb: &mut Skb, _state: &HookState<'_>) -> Verdict {
        Verdict::Accept
    }
}

struct ReplyHook;
impl Hook for ReplyHook {
    fn hook(_skb: &mut Skb, _state: &HookState<'_>) -> Verdict {
        Verdict::Accept
    }
}

static HOOKS: HookSet<4> = HookSet::new();

pub(crate) fn init() {
    HOOKS.init(&[
        HookSpec::new::<InHook>(Family::Ipv4, HookPoint::LocalIn, PRI_LOCAL_IN),
        HookSpec::new::<ReplyHook>(Family::Ipv4, HookPoint::Forward, PRI_FORWARD),
        HookSpec::new::<In6Hook>(Family::Ipv6, HookPoint::LocalIn, PRI_LOCAL_IN),
        HookSpec::new::<ReplyHook>(Family::Ipv6, HookPoint::Forward, PRI_FORWARD),
    ]);
}

pub(crate) fn register(net: NetRef) -> Result {
    HOOKS.register(net)
}

pub(crate) fn unregister(net: NetRef) {
    HOOKS.unregister(net)
}
