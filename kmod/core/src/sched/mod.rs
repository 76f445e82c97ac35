//! ip_vs schedulers over a caller-provided view of a service's real servers.
//!
//! The dest slice must be in the kernel's `svc->destinations` list order: ip_vs_ctl.c adds a
//! new dest with `list_add_rcu` at the *head*, so the newest dest comes first. Schedulers return
//! the index of the chosen dest in that slice. Per-service scheduler state (rr cursor, wrr mark,
//! dh/sh/mh tables, lblc/lblcr caches) lives in caller-owned structs; after any change to the
//! dest set or to a weight the caller calls the state's `dest_*`/`reassign` hook exactly where
//! the kernel calls the scheduler's `add_dest`/`del_dest`/`upd_dest`.

pub mod dh;
pub mod fo;
pub mod lblc;
pub mod lblcr;
pub mod lc;
pub mod mh;
pub mod nq;
pub mod ovf;
pub mod rr;
pub mod sed;
pub mod sh;
pub mod twos;
pub mod wlc;
pub mod wrr;

/// An address in network byte order, as `union nf_inet_addr` holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Addr {
    /// The `addr_fold` of ip_vs_dh/sh/mh/lblc hashkeys, in host order: the IPv4 address, or the
    /// XOR of the four 32-bit words of an IPv6 address (`ntohl(ip6[0]^ip6[1]^ip6[2]^ip6[3])`).
    pub fn fold(&self) -> u32 {
        match self {
            Addr::V4(a) => u32::from_be_bytes(*a),
            Addr::V6(a) => {
                let mut f = 0u32;
                for w in a.chunks_exact(4) {
                    f ^= u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
                }
                f
            }
        }
    }
}

impl Default for Addr {
    fn default() -> Self {
        Addr::V4([0; 4])
    }
}

/// What a scheduler may read of a real server (`struct ip_vs_dest`).
pub trait Dest {
    /// `dest->weight`.
    fn weight(&self) -> i32;
    /// `dest->activeconns`.
    fn activeconns(&self) -> i32;
    /// Inactive connections as ipvsadm shows them (`ip_vs_dest_inactconns`).
    fn inactconns(&self) -> i32;
    /// `dest->totalconns` (kernel 7.x counts total rather than inactive connections). Defaults to
    /// active + inactive; override to return the real counter.
    fn totalconns(&self) -> i32 {
        self.activeconns().wrapping_add(self.inactconns())
    }
    /// `dest->flags & IP_VS_DEST_F_OVERLOAD`.
    fn overloaded(&self) -> bool;
    /// `dest->cflags & IP_VS_DEST_CF_AVAILABLE` (false once the dest is in the trash).
    fn available(&self) -> bool {
        true
    }
    /// `dest->last_weight`: the latest non-zero weight (ip_vs_mh uses it). Defaults to weight.
    fn last_weight(&self) -> i32 {
        self.weight()
    }
    /// Real server address (for mh's permutation).
    fn addr(&self) -> Addr {
        Addr::default()
    }
    /// Real server port, host order (for mh's permutation).
    fn port(&self) -> u16 {
        0
    }
    /// A stable identity of the dest that survives index shifts (lblc/lblcr caches store it).
    fn key(&self) -> u32 {
        0
    }
}

/// A plain dest view, handy for tests and for callers that snapshot dest state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestInfo {
    pub weight: i32,
    pub last_weight: i32,
    pub activeconns: i32,
    pub inactconns: i32,
    pub overloaded: bool,
    pub available: bool,
    pub addr: Addr,
    pub port: u16,
    pub key: u32,
}

impl DestInfo {
    /// An available, idle dest with the given weight.
    pub fn with_weight(weight: i32) -> Self {
        DestInfo {
            weight,
            last_weight: weight,
            available: true,
            ..Default::default()
        }
    }
}

impl Dest for DestInfo {
    fn weight(&self) -> i32 {
        self.weight
    }
    fn activeconns(&self) -> i32 {
        self.activeconns
    }
    fn inactconns(&self) -> i32 {
        self.inactconns
    }
    fn overloaded(&self) -> bool {
        self.overloaded
    }
    fn available(&self) -> bool {
        self.available
    }
    fn last_weight(&self) -> i32 {
        self.last_weight
    }
    fn addr(&self) -> Addr {
        self.addr
    }
    fn port(&self) -> u16 {
        self.port
    }
    fn key(&self) -> u32 {
        self.key
    }
}

/// `ip_vs_dest_conn_overhead`: `(activeconns << 8) + totalconns`, in C `int` arithmetic.
pub fn conn_overhead<D: Dest + ?Sized>(d: &D) -> i32 {
    d.activeconns().wrapping_shl(8).wrapping_add(d.totalconns())
}

/// The packet fields the hashing schedulers look at (`struct ip_vs_iphdr` + ports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packet {
    pub saddr: Addr,
    pub daddr: Addr,
    /// Source and destination ports (host order) if the packet is TCP/UDP/SCTP and the first
    /// four transport bytes could be read, else `None` (the kernel then uses port 0).
    pub ports: Option<(u16, u16)>,
    /// `IP_VS_HDR_INVERSE`: the packet is an ICMP error's embedded header (reverse direction).
    pub inverse: bool,
}

impl Packet {
    /// The address sh/mh hash: the source, or the destination for an inverse header.
    pub fn hash_addr(&self) -> Addr {
        if self.inverse {
            self.daddr
        } else {
            self.saddr
        }
    }

    /// `ip_vs_sh_get_port` / `ip_vs_mh_get_port`.
    pub fn hash_port(&self) -> u16 {
        match self.ports {
            Some((s, d)) => {
                if self.inverse {
                    d
                } else {
                    s
                }
            }
            None => 0,
        }
    }
}

/// `time_before(a, b)` on jiffies.
pub fn time_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// `time_after(a, b)` on jiffies.
pub fn time_after(a: u64, b: u64) -> bool {
    time_before(b, a)
}

/// The weighted-least-connection core shared by wlc, lblc and lblcr (`__ip_vs_lblc_schedule`):
/// the first non-overloaded dest with weight > 0 starts, later non-overloaded dests replace it
/// when `loh * w > doh * lw` (64-bit cross multiplication).
pub(crate) fn weighted_least<D: Dest>(dests: &[D], overhead: impl Fn(&D) -> i32) -> Option<usize> {
    let first = dests
        .iter()
        .position(|d| !d.overloaded() && d.weight() > 0)?;
    let mut least = first;
    let mut loh = overhead(&dests[first]);
    for (i, d) in dests.iter().enumerate().skip(first + 1) {
        if d.overloaded() {
            continue;
        }
        let doh = overhead(d);
        let lw = dests.get(least).map_or(0, |l| l.weight());
        if i64::from(loh) * i64::from(d.weight()) > i64::from(doh) * i64::from(lw) {
            least = i;
            loh = doh;
        }
    }
    Some(least)
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::DestInfo;
    use proptest::prelude::*;

    /// A random dest: weight 0..=max_w (zeros included), small counters, sometimes overloaded.
    pub fn dest(max_w: i32) -> impl Strategy<Value = DestInfo> {
        (
            0..=max_w,
            0..50i32,
            0..50i32,
            proptest::bool::weighted(0.15),
        )
            .prop_map(|(w, a, i, o)| DestInfo {
                weight: w,
                last_weight: w,
                activeconns: a,
                inactconns: i,
                overloaded: o,
                available: true,
                ..Default::default()
            })
    }

    pub fn dests(max_w: i32, max_n: usize) -> impl Strategy<Value = std::vec::Vec<DestInfo>> {
        proptest::collection::vec(dest(max_w), 0..max_n)
    }

    pub fn eligible(d: &DestInfo) -> bool {
        d.weight > 0 && !d.overloaded
    }
}
