//! /proc/net/fvs and /proc/net/fvs_stats, in the /proc/net/ip_vs and ip_vs_stats formats.

use crate::corelib::procfmt::{self, Addr, DestLine, ServiceLine};
use crate::corelib::proto;
use crate::netns::NetState;
use crate::rules::{self, InetAddr, AF_INET6};
use crate::sys::net::NetRef;
use crate::sys::proc::{self, ProcBuckets, ProcShow, SeqWriter};
use crate::sys::rcu::RcuGuard;
use crate::uapi;
use core::ffi::CStr;
use core::fmt::{self, Write};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;

fn addr(af: u16, a: &InetAddr) -> Addr {
    if af == AF_INET6 {
        Addr::V6(*a)
    } else {
        Addr::V4(u32::from_be_bytes([a[0], a[1], a[2], a[3]]))
    }
}

struct Info;
impl ProcShow for Info {
    const NAME: &'static CStr = c"fvs";
    fn show(w: &mut SeqWriter, net: NetRef) -> fmt::Result {
        let Some(st) = NetState::of(net) else { return Ok(()) };
        procfmt::write_info_header(w, uapi::IP_VS_VERSION_CODE, st.conn_tab_size)?;
        let g = RcuGuard::new();
        for s in st.rules.iter(&g) {
            let c = s.conf();
            procfmt::write_service(
                w,
                &ServiceLine {
                    protocol: s.key.protocol,
                    addr: addr(s.key.af, &s.key.addr),
                    port: s.key.port,
                    fwmark: s.key.fwmark,
                    sched_name: rules::sched_name(c.sched),
                    flags: c.flags,
                    timeout: c.timeout,
                    // ip_vs prints ntohl() of the raw netmask bytes.
                    netmask: u32::from_be_bytes(c.netmask.to_ne_bytes()),
                },
            )?;
            for d in s.dests.iter(&g) {
                let dc = d.conf();
                procfmt::write_dest(
                    w,
                    &DestLine {
                        addr: addr(d.af, &d.addr),
                        port: d.port,
                        conn_flags: dc.conn_flags,
                        weight: dc.weight,
                        active: d.activeconns.load(Relaxed),
                        inactive: d.inactconns.load(Relaxed),
                    },
                )?;
            }
        }
        Ok(())
    }
}

struct Stats;
impl ProcShow for Stats {
    const NAME: &'static CStr = c"fvs_stats";
    fn show(w: &mut SeqWriter, net: NetRef) -> fmt::Result {
        let Some(st) = NetState::of(net) else { return Ok(()) };
        procfmt::write_stats(w, &st.tot_stats.view())
    }
}

/// /proc/net/fvs_conn: the connection table in the /proc/net/ip_vs_conn format, streamed one
/// hash bucket at a time (a table of millions of entries never sits in one buffer).
struct Conns;
static CONN_OPS: proc::BucketOps<Conns> = proc::BucketOps::new();

impl ProcBuckets for Conns {
    fn header(w: &mut SeqWriter) -> fmt::Result {
        w.write_str(procfmt::CONN_HEADER)
    }

    fn buckets(net: NetRef) -> usize {
        NetState::of(net).map_or(0, |st| st.conns.buckets())
    }

    fn show_bucket(w: &mut SeqWriter, net: NetRef, bucket: usize) -> fmt::Result {
        let Some(st) = NetState::of(net) else { return Ok(()) };
        let now = crate::sys::bh::jiffies();
        let hz = crate::sys::hz() as u64;
        let mut res = Ok(());
        let g = RcuGuard::new();
        st.conns.for_each_in(&g, bucket, |c| {
            let k = &c.key;
            let state = if c.is_template() {
                crate::conn::CTPL_STATE_NAMES.get(c.state() as usize).copied().unwrap_or("ERR!")
            } else if k.protocol == 17 {
                proto::udp::name_of(c.state() as usize)
            } else if k.protocol == 132 {
                proto::sctp::name_of(c.state() as usize)
            } else {
                proto::tcp::name_of(c.state() as usize)
            };
            res = procfmt::write_conn(
                w,
                &procfmt::ConnLine {
                    protocol: k.protocol as u16,
                    caddr: addr(k.af as u16, &k.caddr),
                    cport: k.cport,
                    vaddr: addr(k.af as u16, &k.vaddr),
                    vport: k.vport,
                    daddr: addr(c.dest.af, &c.daddr),
                    dport: c.dport,
                    state,
                    expires: (c.expires().saturating_sub(now) / hz) as u32,
                    pe: c.pe().map(|d| ("sip", core::str::from_utf8(d.bytes()).unwrap_or(""))),
                },
            );
            res.is_ok()
        });
        res
    }
}

/// Fills the operations of the streamed files (module init).
pub(crate) fn init() {
    CONN_OPS.init();
}

/// compat=1: the same files under ip_vs's names.
const COMPAT_NAMES: [&CStr; 3] = [c"ip_vs", c"ip_vs_stats", c"ip_vs_conn"];

fn create_all(net: NetRef, names: [&'static CStr; 3]) -> Result {
    proc::create_as::<Info>(net, names[0])?;
    if let Err(e) = proc::create_as::<Stats>(net, names[1]) {
        proc::remove_name(net, names[0]);
        return Err(e);
    }
    if let Err(e) = CONN_OPS.create(net, names[2]) {
        proc::remove_name(net, names[1]);
        proc::remove_name(net, names[0]);
        return Err(e);
    }
    Ok(())
}

pub(crate) fn create(net: NetRef) -> Result {
    create_all(net, [Info::NAME, Stats::NAME, c"fvs_conn"])?;
    if crate::params().compat {
        if let Err(e) = create_all(net, COMPAT_NAMES) {
            remove(net);
            return Err(e);
        }
    }
    Ok(())
}

pub(crate) fn remove(net: NetRef) {
    if crate::params().compat {
        for n in COMPAT_NAMES.iter().rev() {
            proc::remove_name(net, n);
        }
    }
    proc::remove_name(net, c"fvs_conn");
    proc::remove::<Stats>(net);
    proc::remove::<Info>(net);
}
