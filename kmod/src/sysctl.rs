//! /proc/sys/net/fvs: the per-namespace tunables of ip_vs's /proc/sys/net/ipv4/vs that fvs
//! implements, with ip_vs's names, defaults and accepted values.

use crate::sys::net::NetRef;
use crate::sys::sysctl::{IntVar, SysctlTable};
use core::sync::atomic::{AtomicI32, Ordering::Relaxed};
use kernel::prelude::*;

/// The values (read lock-free by the packet path).
pub(crate) struct Sysctls {
    /// Drop (instead of forwarding) packets of connections whose real server is gone or has
    /// weight 0, and expire those connections so the client's next packet is scheduled anew.
    pub(crate) expire_nodest_conn: AtomicI32,
    /// Any TCP packet but a RST (not only a SYN) may start a connection.
    pub(crate) sloppy_tcp: AtomicI32,
    /// Any SCTP packet but an ABORT (not only an INIT) may start an association.
    pub(crate) sloppy_sctp: AtomicI32,
    /// Persistence templates of a real server with weight 0 are invalidated.
    pub(crate) expire_quiescent_template: AtomicI32,
    /// Bit 0: a new connection from a port whose old connection is in TIME_WAIT/CLOSE (SCTP:
    /// CLOSED) is scheduled anew; bit 1: also from FIN_WAIT when no output was seen (DR/TUN).
    pub(crate) conn_reuse_mode: AtomicI32,
    /// Rate estimation on (1) or off (0).
    pub(crate) run_estimation: AtomicI32,
    table: SysctlTable,
}

impl Sysctls {
    pub(crate) const fn new() -> Self {
        Self {
            expire_nodest_conn: AtomicI32::new(0),
            sloppy_tcp: AtomicI32::new(0),
            sloppy_sctp: AtomicI32::new(0),
            expire_quiescent_template: AtomicI32::new(0),
            conn_reuse_mode: AtomicI32::new(1),
            run_estimation: AtomicI32::new(1),
            table: SysctlTable::new(),
        }
    }

    /// Publishes the table for `net`; `self` must stay in place until `unregister`.
    pub(crate) fn register(&self, net: NetRef) -> Result {
        let v = |name, data, bounds| IntVar { name, data, bounds, mode: 0o644 };
        self.table.register(
            net,
            c"net/fvs",
            &[
                v(c"expire_nodest_conn", &self.expire_nodest_conn, None),
                v(c"sloppy_tcp", &self.sloppy_tcp, None),
                v(c"sloppy_sctp", &self.sloppy_sctp, None),
                v(c"expire_quiescent_template", &self.expire_quiescent_template, None),
                v(c"conn_reuse_mode", &self.conn_reuse_mode, None),
                v(c"run_estimation", &self.run_estimation, None),
            ],
        )
    }

    pub(crate) fn unregister(&self) {
        self.table.unregister()
    }

    pub(crate) fn on(v: &AtomicI32) -> bool {
        v.load(Relaxed) != 0
    }
}
