//! /proc/sys/net/fvs: the per-namespace tunables of ip_vs's /proc/sys/net/ipv4/vs that fvs
//! implements, with ip_vs's names and accepted values, and ip_vs's defaults but for three that
//! fvs changes so that real-server churn does not stall or blackhole clients (see
//! docs/operator-guide.md, "Real-server churn"): expire_nodest_conn 1 (ip_vs: 0),
//! expire_quiescent_template 1 (ip_vs: 0), conn_reuse_mode 5 (ip_vs: 1; bit 2 is fvs's).

use crate::sys::net::NetRef;
use crate::sys::sysctl::{IntVar, SysctlTable};
use core::sync::atomic::{AtomicI32, Ordering::Relaxed};
use kernel::prelude::*;

static ZERO_ONE: [i32; 2] = [0, 1];
static SYNC_RETRIES: [i32; 2] = [0, 3];
/// Connections the sync master queues at most by default.
const SYNC_QLEN_DEFAULT: i32 = 16384;

/// The range of the defence modes (`proc_do_defense_mode`: other values fail with EINVAL).
static DEFENSE_MODES: [i32; 2] = [0, 3];

/// The values (read lock-free by the packet path).
pub(crate) struct Sysctls {
    /// Connections whose real server is gone are expired (within a second, and at once when a
    /// packet of theirs arrives: scheduled anew, or for TCP left to the local stack, which
    /// answers with a reset), and a SYN to a weight-0 server's old entry is scheduled anew;
    /// 0: such packets are dropped until the entry times out. fvs default 1 (ip_vs: 0).
    pub(crate) expire_nodest_conn: AtomicI32,
    /// Any TCP packet but a RST (not only a SYN) may start a connection.
    pub(crate) sloppy_tcp: AtomicI32,
    /// Any SCTP packet but an ABORT (not only an INIT) may start an association.
    pub(crate) sloppy_sctp: AtomicI32,
    /// Persistence templates of a real server with weight 0 are invalidated. fvs default 1
    /// (ip_vs: 0): weight 0 means no new connections, persistent clients included.
    pub(crate) expire_quiescent_template: AtomicI32,
    /// Bit 0: a new connection from a port whose old connection is in TIME_WAIT/CLOSE (SCTP:
    /// CLOSED) is scheduled anew; bit 1: also from FIN_WAIT when no output was seen (DR/TUN);
    /// bit 2 (fvs's): also from any closing TCP state. fvs default 5 (ip_vs: 1).
    pub(crate) conn_reuse_mode: AtomicI32,
    /// Rate estimation on (1) or off (0).
    pub(crate) run_estimation: AtomicI32,
    /// Pages of available memory below which the automatic defences switch on.
    pub(crate) amemthresh: AtomicI32,
    /// drop_packet 3: one in this many new-connection packets is dropped.
    pub(crate) am_droprate: AtomicI32,
    /// Defence modes (0 off, 1 automatic, 2 automatic and on now, 3 always): drop random
    /// entries, drop new-connection packets, TCP state table for attacks.
    pub(crate) drop_entry: AtomicI32,
    pub(crate) drop_packet: AtomicI32,
    pub(crate) secure_tcp: AtomicI32,
    /// A NAT reply with no connection, from a real server's address and port, is answered
    /// with ICMP port unreachable (TCP but RST, UDP, SCTP but ABORT) and dropped.
    pub(crate) nat_icmp_send: AtomicI32,
    /// Packets of protocols fvs does not balance (IPIP, GRE, ...) are marked so that what they
    /// carry, once decapsulated here, is not balanced either.
    pub(crate) ignore_tunneled: AtomicI32,
    /// Path MTU discovery through tunnels (0: IPv4 packets are fragmented in the tunnel and
    /// the outer header has no DF).
    pub(crate) pmtu_disc: AtomicI32,
    /// NAT replies are routed again once their source is the virtual address (as policy
    /// routing by source may want), except towards local clients.
    pub(crate) snat_reroute: AtomicI32,
    /// An ICMP error from the client side about a flow without a connection schedules one.
    pub(crate) schedule_icmp: AtomicI32,
    /// lblc / lblcr: a destination's cache entry unused this long (jiffies) goes at the next
    /// full check.
    pub(crate) lblc_expiration: AtomicI32,
    pub(crate) lblcr_expiration: AtomicI32,
    /// New connections keep their netfilter conntrack entry (NAT ones with the real server's
    /// side learnt), instead of leaving conntrack's view.
    pub(crate) conntrack: AtomicI32,
    /// A firewall-mark service without a usable real server sends a new connection to a
    /// non-local unicast address on to that address (a bypass entry), rather than refusing it.
    pub(crate) cache_bypass: AtomicI32,
    /// Sync master: the message format (1, or 0 for directors older than 2.6.39).
    pub(crate) sync_version: AtomicI32,
    /// Sync master: a connection is synced on its `[0]`th packet from the client, then every
    /// `[1]`th (`sync_threshold`, "3 50"; period 0: once).
    pub(crate) sync_threshold: [AtomicI32; 2],
    /// Sync master: resync a connection when its end time moved by this much (jiffies; 0:
    /// the packet counts decide), at most `sync_retries` more times in between.
    pub(crate) sync_refresh_period: AtomicI32,
    pub(crate) sync_retries: AtomicI32,
    /// Sync master: connections of persistent services are left to their templates.
    pub(crate) sync_persist_mode: AtomicI32,
    /// Sync master: connections queued for sending at most (more are dropped and counted).
    pub(crate) sync_qlen_max: AtomicI32,
    /// Sync backup: receive buffer size in bytes (0: the kernel's default).
    pub(crate) sync_sock_size: AtomicI32,
    table: SysctlTable,
    /// compat=1: the same variables under /proc/sys/net/ipv4/vs.
    compat_table: SysctlTable,
}

impl Sysctls {
    pub(crate) fn new() -> Self {
        let day = (24 * 60 * 60 * crate::sys::hz() as u64).min(i32::MAX as u64) as i32;
        Self {
            expire_nodest_conn: AtomicI32::new(1),
            sloppy_tcp: AtomicI32::new(0),
            sloppy_sctp: AtomicI32::new(0),
            expire_quiescent_template: AtomicI32::new(1),
            conn_reuse_mode: AtomicI32::new(5),
            run_estimation: AtomicI32::new(1),
            amemthresh: AtomicI32::new(1024),
            am_droprate: AtomicI32::new(10),
            drop_entry: AtomicI32::new(0),
            drop_packet: AtomicI32::new(0),
            secure_tcp: AtomicI32::new(0),
            nat_icmp_send: AtomicI32::new(0),
            ignore_tunneled: AtomicI32::new(0),
            pmtu_disc: AtomicI32::new(1),
            snat_reroute: AtomicI32::new(1),
            schedule_icmp: AtomicI32::new(0),
            lblc_expiration: AtomicI32::new(day),
            lblcr_expiration: AtomicI32::new(day),
            conntrack: AtomicI32::new(0),
            cache_bypass: AtomicI32::new(0),
            sync_version: AtomicI32::new(1),
            sync_threshold: [AtomicI32::new(3), AtomicI32::new(50)],
            sync_refresh_period: AtomicI32::new(0),
            sync_retries: AtomicI32::new(0),
            sync_persist_mode: AtomicI32::new(0),
            // ip_vs: nr_free_buffer_pages() / 32 messages; fvs counts connections.
            sync_qlen_max: AtomicI32::new(SYNC_QLEN_DEFAULT),
            sync_sock_size: AtomicI32::new(0),
            table: SysctlTable::new(),
            compat_table: SysctlTable::new(),
        }
    }

    /// Publishes the table for `net`; `self` must stay in place until `unregister`.
    pub(crate) fn register(&self, net: NetRef) -> Result {
        let v = |name, data, bounds| IntVar { name, data, bounds, mode: 0o644, jiffies: false, threshold_pair: false };
        let secs = |name, data| IntVar { name, data, bounds: None, mode: 0o644, jiffies: true, threshold_pair: false };
        let vars = [
                v(c"amemthresh", &self.amemthresh, None),
                v(c"am_droprate", &self.am_droprate, None),
                v(c"drop_entry", &self.drop_entry, Some(&DEFENSE_MODES)),
                v(c"drop_packet", &self.drop_packet, Some(&DEFENSE_MODES)),
                v(c"conntrack", &self.conntrack, None),
                v(c"cache_bypass", &self.cache_bypass, None),
                v(c"secure_tcp", &self.secure_tcp, Some(&DEFENSE_MODES)),
                v(c"expire_nodest_conn", &self.expire_nodest_conn, None),
                v(c"sloppy_tcp", &self.sloppy_tcp, None),
                v(c"sloppy_sctp", &self.sloppy_sctp, None),
                v(c"expire_quiescent_template", &self.expire_quiescent_template, None),
                v(c"conn_reuse_mode", &self.conn_reuse_mode, None),
                v(c"run_estimation", &self.run_estimation, None),
                v(c"nat_icmp_send", &self.nat_icmp_send, None),
                v(c"ignore_tunneled", &self.ignore_tunneled, None),
                v(c"pmtu_disc", &self.pmtu_disc, None),
                v(c"snat_reroute", &self.snat_reroute, None),
                v(c"schedule_icmp", &self.schedule_icmp, None),
                secs(c"lblc_expiration", &self.lblc_expiration),
                secs(c"lblcr_expiration", &self.lblcr_expiration),
                v(c"sync_version", &self.sync_version, Some(&ZERO_ONE)),
                IntVar { threshold_pair: true, ..v(c"sync_threshold", &self.sync_threshold[0], None) },
                secs(c"sync_refresh_period", &self.sync_refresh_period),
                v(c"sync_retries", &self.sync_retries, Some(&SYNC_RETRIES)),
                v(c"sync_persist_mode", &self.sync_persist_mode, None),
                v(c"sync_qlen_max", &self.sync_qlen_max, None),
                v(c"sync_sock_size", &self.sync_sock_size, None),
        ];
        self.table.register(net, c"net/fvs", &vars)?;
        if crate::params().compat {
            if let Err(e) = self.compat_table.register(net, c"net/ipv4/vs", &vars) {
                self.table.unregister();
                return Err(e);
            }
        }
        Ok(())
    }

    pub(crate) fn unregister(&self) {
        self.compat_table.unregister();
        self.table.unregister()
    }

    /// A jiffies value (negative ones count as 0).
    pub(crate) fn jiffies(v: &AtomicI32) -> u64 {
        v.load(Relaxed).max(0) as u64
    }

    /// The sync master's decision inputs.
    pub(crate) fn sync(&self) -> crate::corelib::sync::SyncSysctls {
        let hz = crate::sys::hz().max(1) as u32;
        crate::corelib::sync::SyncSysctls {
            threshold: self.sync_threshold[0].load(Relaxed).max(0) as u32,
            period: self.sync_threshold[1].load(Relaxed).max(0) as u32,
            refresh_secs: Self::jiffies(&self.sync_refresh_period).div_ceil(hz as u64).min(u32::MAX as u64) as u32,
            retries: self.sync_retries.load(Relaxed).clamp(0, 3) as u32,
            persist_mode: Self::on(&self.sync_persist_mode),
        }
    }

    pub(crate) fn on(v: &AtomicI32) -> bool {
        v.load(Relaxed) != 0
    }
}
