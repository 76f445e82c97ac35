//! The IPVS socket options (`nf_sockopt_ops` on PF_INET sockets: IP_VS_SO_SET_* through
//! setsockopt, IP_VS_SO_GET_* through getsockopt), the interface ipvsadm and keepalived fall back
//! to when the "IPVS" generic netlink family is absent. Registered only with `compat=1`.
//!
//! The argument structs are include/uapi/linux/ip_vs.h's, read and written at the offsets
//! bindgen computed for them (`offset_of!` on the generated types), so no layout is written here
//! by hand. Callers get plain Rust values and safe accessors for the user memory.

use super::bindings as b;
use super::net::NetRef;
use super::KStatic;
use core::ffi::{c_int, c_uint, c_void};
use core::mem::{offset_of, size_of};
use kernel::prelude::*;

pub(crate) use b::{
    IP_VS_BASE_CTL as BASE_CTL, IP_VS_SO_GET_DAEMON as GET_DAEMON, IP_VS_SO_GET_DESTS as GET_DESTS,
    IP_VS_SO_GET_INFO as GET_INFO, IP_VS_SO_GET_MAX as GET_MAX, IP_VS_SO_GET_SERVICE as GET_SERVICE,
    IP_VS_SO_GET_SERVICES as GET_SERVICES, IP_VS_SO_GET_TIMEOUT as GET_TIMEOUT, IP_VS_SO_GET_VERSION as GET_VERSION,
    IP_VS_SO_SET_ADD as SET_ADD, IP_VS_SO_SET_ADDDEST as SET_ADDDEST, IP_VS_SO_SET_DEL as SET_DEL,
    IP_VS_SO_SET_DELDEST as SET_DELDEST, IP_VS_SO_SET_EDIT as SET_EDIT, IP_VS_SO_SET_EDITDEST as SET_EDITDEST,
    IP_VS_SO_SET_FLUSH as SET_FLUSH, IP_VS_SO_SET_MAX as SET_MAX, IP_VS_SO_SET_STARTDAEMON as SET_STARTDAEMON,
    IP_VS_SO_SET_STOPDAEMON as SET_STOPDAEMON, IP_VS_SO_SET_TIMEOUT as SET_TIMEOUT, IP_VS_SO_SET_ZERO as SET_ZERO,
};

/// Sizes of the uapi argument structs (`set_arglen` / `get_arglen` of ip_vs_ctl.c).
pub(crate) const SERVICE_USER: usize = size_of::<b::ip_vs_service_user>();
pub(crate) const SVCDEST_USER: usize = SERVICE_USER + size_of::<b::ip_vs_dest_user>();
pub(crate) const TIMEOUT_USER: usize = size_of::<b::ip_vs_timeout_user>();
pub(crate) const DAEMON_USER: usize = size_of::<b::ip_vs_daemon_user>();
pub(crate) const GETINFO: usize = size_of::<b::ip_vs_getinfo>();
pub(crate) const SERVICE_ENTRY: usize = size_of::<b::ip_vs_service_entry>();
pub(crate) const DEST_ENTRY: usize = size_of::<b::ip_vs_dest_entry>();
pub(crate) const GET_SERVICES_HDR: usize = size_of::<b::ip_vs_get_services>();
pub(crate) const GET_DESTS_HDR: usize = size_of::<b::ip_vs_get_dests>();
/// Where entry `i` of a GET_SERVICES / GET_DESTS reply goes in the caller's buffer.
pub(crate) const fn services_entry_at(i: usize) -> usize {
    offset_of!(b::ip_vs_get_services, entrytable) + i * SERVICE_ENTRY
}
pub(crate) const fn dests_entry_at(i: usize) -> usize {
    offset_of!(b::ip_vs_get_dests, entrytable) + i * DEST_ENTRY
}

// ---- field codec over byte buffers -----------------------------------------------------------

fn rd<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    let mut v = [0u8; N];
    if let Some(s) = buf.get(off..off + N) {
        v.copy_from_slice(s);
    }
    v
}
fn wr(buf: &mut [u8], off: usize, v: &[u8]) {
    if let Some(d) = buf.get_mut(off..off + v.len()) {
        d.copy_from_slice(v);
    }
}
macro_rules! get_u32 {
    ($buf:expr, $base:expr, $t:ty, $f:ident) => {
        u32::from_ne_bytes(rd::<4>($buf, $base + offset_of!($t, $f)))
    };
}
macro_rules! get_u16 {
    ($buf:expr, $base:expr, $t:ty, $f:ident) => {
        u16::from_ne_bytes(rd::<2>($buf, $base + offset_of!($t, $f)))
    };
}
macro_rules! put {
    ($buf:expr, $t:ty, $f:ident, $v:expr) => {
        wr($buf, offset_of!($t, $f), &$v)
    };
}

/// `struct ip_vs_service_user` (ports in host order, addresses and netmask as on the wire).
pub(crate) struct ServiceUser {
    pub(crate) protocol: u16,
    pub(crate) addr: [u8; 4],
    pub(crate) port: u16,
    pub(crate) fwmark: u32,
    pub(crate) sched_name: [u8; 16],
    pub(crate) flags: u32,
    pub(crate) timeout: u32,
    /// The raw `__be32` bytes read as a native u32, as fvs keeps netmasks.
    pub(crate) netmask: u32,
}

impl ServiceUser {
    /// Reads the struct at `base` of `buf`.
    pub(crate) fn parse(buf: &[u8], base: usize) -> Self {
        type T = b::ip_vs_service_user;
        Self {
            protocol: get_u16!(buf, base, T, protocol),
            addr: rd::<4>(buf, base + offset_of!(T, addr)),
            port: u16::from_be_bytes(rd::<2>(buf, base + offset_of!(T, port))),
            fwmark: get_u32!(buf, base, T, fwmark),
            sched_name: rd::<16>(buf, base + offset_of!(T, sched_name)),
            flags: get_u32!(buf, base, T, flags),
            timeout: get_u32!(buf, base, T, timeout),
            netmask: get_u32!(buf, base, T, netmask),
        }
    }
}

/// `struct ip_vs_dest_user` (which follows a service_user in the *DEST commands).
pub(crate) struct DestUser {
    pub(crate) addr: [u8; 4],
    pub(crate) port: u16,
    pub(crate) conn_flags: u32,
    pub(crate) weight: i32,
    pub(crate) u_threshold: u32,
    pub(crate) l_threshold: u32,
}

impl DestUser {
    pub(crate) fn parse(buf: &[u8], base: usize) -> Self {
        type T = b::ip_vs_dest_user;
        Self {
            addr: rd::<4>(buf, base + offset_of!(T, addr)),
            port: u16::from_be_bytes(rd::<2>(buf, base + offset_of!(T, port))),
            conn_flags: get_u32!(buf, base, T, conn_flags),
            weight: get_u32!(buf, base, T, weight) as i32,
            u_threshold: get_u32!(buf, base, T, u_threshold),
            l_threshold: get_u32!(buf, base, T, l_threshold),
        }
    }
}

/// `struct ip_vs_timeout_user` (seconds, C ints).
pub(crate) struct TimeoutUser {
    pub(crate) tcp: i32,
    pub(crate) tcp_fin: i32,
    pub(crate) udp: i32,
}

impl TimeoutUser {
    pub(crate) fn parse(buf: &[u8]) -> Self {
        type T = b::ip_vs_timeout_user;
        Self {
            tcp: get_u32!(buf, 0, T, tcp_timeout) as i32,
            tcp_fin: get_u32!(buf, 0, T, tcp_fin_timeout) as i32,
            udp: get_u32!(buf, 0, T, udp_timeout) as i32,
        }
    }

    pub(crate) fn bytes(&self) -> [u8; TIMEOUT_USER] {
        type T = b::ip_vs_timeout_user;
        let mut o = [0u8; TIMEOUT_USER];
        put!(&mut o, T, tcp_timeout, self.tcp.to_ne_bytes());
        put!(&mut o, T, tcp_fin_timeout, self.tcp_fin.to_ne_bytes());
        put!(&mut o, T, udp_timeout, self.udp.to_ne_bytes());
        o
    }
}

/// `struct ip_vs_daemon_user`.
#[derive(Default)]
pub(crate) struct DaemonUser {
    pub(crate) state: i32,
    pub(crate) mcast_ifn: [u8; 16],
    pub(crate) syncid: i32,
}

impl DaemonUser {
    pub(crate) fn parse(buf: &[u8]) -> Self {
        type T = b::ip_vs_daemon_user;
        Self {
            state: get_u32!(buf, 0, T, state) as i32,
            mcast_ifn: rd::<16>(buf, offset_of!(T, mcast_ifn)),
            syncid: get_u32!(buf, 0, T, syncid) as i32,
        }
    }

    pub(crate) fn bytes(&self) -> [u8; DAEMON_USER] {
        type T = b::ip_vs_daemon_user;
        let mut o = [0u8; DAEMON_USER];
        put!(&mut o, T, state, self.state.to_ne_bytes());
        put!(&mut o, T, mcast_ifn, self.mcast_ifn);
        put!(&mut o, T, syncid, self.syncid.to_ne_bytes());
        o
    }
}

/// `struct ip_vs_getinfo`.
pub(crate) fn getinfo_bytes(version: u32, size: u32, num_services: u32) -> [u8; GETINFO] {
    type T = b::ip_vs_getinfo;
    let mut o = [0u8; GETINFO];
    put!(&mut o, T, version, version.to_ne_bytes());
    put!(&mut o, T, size, size.to_ne_bytes());
    put!(&mut o, T, num_services, num_services.to_ne_bytes());
    o
}

/// `struct ip_vs_stats_user` (`ip_vs_export_stats_user`: counters truncated to their C types).
#[derive(Default)]
pub(crate) struct StatsUser {
    pub(crate) conns: u64,
    pub(crate) inpkts: u64,
    pub(crate) outpkts: u64,
    pub(crate) inbytes: u64,
    pub(crate) outbytes: u64,
    pub(crate) cps: u64,
    pub(crate) inpps: u64,
    pub(crate) outpps: u64,
    pub(crate) inbps: u64,
    pub(crate) outbps: u64,
}

impl StatsUser {
    fn write(&self, o: &mut [u8], base: usize) {
        type T = b::ip_vs_stats_user;
        let mut put32 = |off: usize, v: u64| wr(o, base + off, &(v as u32).to_ne_bytes());
        put32(offset_of!(T, conns), self.conns);
        put32(offset_of!(T, inpkts), self.inpkts);
        put32(offset_of!(T, outpkts), self.outpkts);
        put32(offset_of!(T, cps), self.cps);
        put32(offset_of!(T, inpps), self.inpps);
        put32(offset_of!(T, outpps), self.outpps);
        put32(offset_of!(T, inbps), self.inbps);
        put32(offset_of!(T, outbps), self.outbps);
        wr(o, base + offset_of!(T, inbytes), &self.inbytes.to_ne_bytes());
        wr(o, base + offset_of!(T, outbytes), &self.outbytes.to_ne_bytes());
    }
}

/// `struct ip_vs_service_entry`.
pub(crate) struct ServiceEntry {
    pub(crate) protocol: u16,
    pub(crate) addr: [u8; 4],
    pub(crate) port: u16,
    pub(crate) fwmark: u32,
    pub(crate) sched_name: [u8; 16],
    pub(crate) flags: u32,
    pub(crate) timeout: u32,
    pub(crate) netmask: u32,
    pub(crate) num_dests: u32,
    pub(crate) stats: StatsUser,
}

impl ServiceEntry {
    /// The identifying fields of a GET_SERVICE request.
    pub(crate) fn parse_key(buf: &[u8]) -> (u16, [u8; 4], u16, u32) {
        type T = b::ip_vs_service_entry;
        (
            get_u16!(buf, 0, T, protocol),
            rd::<4>(buf, offset_of!(T, addr)),
            u16::from_be_bytes(rd::<2>(buf, offset_of!(T, port))),
            get_u32!(buf, 0, T, fwmark),
        )
    }

    pub(crate) fn bytes(&self) -> [u8; SERVICE_ENTRY] {
        type T = b::ip_vs_service_entry;
        let mut o = [0u8; SERVICE_ENTRY];
        put!(&mut o, T, protocol, self.protocol.to_ne_bytes());
        put!(&mut o, T, addr, self.addr);
        put!(&mut o, T, port, self.port.to_be_bytes());
        put!(&mut o, T, fwmark, self.fwmark.to_ne_bytes());
        put!(&mut o, T, sched_name, self.sched_name);
        put!(&mut o, T, flags, self.flags.to_ne_bytes());
        put!(&mut o, T, timeout, self.timeout.to_ne_bytes());
        put!(&mut o, T, netmask, self.netmask.to_ne_bytes());
        put!(&mut o, T, num_dests, self.num_dests.to_ne_bytes());
        self.stats.write(&mut o, offset_of!(T, stats));
        o
    }
}

/// `struct ip_vs_dest_entry`.
pub(crate) struct DestEntry {
    pub(crate) addr: [u8; 4],
    pub(crate) port: u16,
    pub(crate) conn_flags: u32,
    pub(crate) weight: i32,
    pub(crate) u_threshold: u32,
    pub(crate) l_threshold: u32,
    pub(crate) activeconns: u32,
    pub(crate) inactconns: u32,
    pub(crate) persistconns: u32,
    pub(crate) stats: StatsUser,
}

impl DestEntry {
    pub(crate) fn bytes(&self) -> [u8; DEST_ENTRY] {
        type T = b::ip_vs_dest_entry;
        let mut o = [0u8; DEST_ENTRY];
        put!(&mut o, T, addr, self.addr);
        put!(&mut o, T, port, self.port.to_be_bytes());
        put!(&mut o, T, conn_flags, self.conn_flags.to_ne_bytes());
        put!(&mut o, T, weight, self.weight.to_ne_bytes());
        put!(&mut o, T, u_threshold, self.u_threshold.to_ne_bytes());
        put!(&mut o, T, l_threshold, self.l_threshold.to_ne_bytes());
        put!(&mut o, T, activeconns, self.activeconns.to_ne_bytes());
        put!(&mut o, T, inactconns, self.inactconns.to_ne_bytes());
        put!(&mut o, T, persistconns, self.persistconns.to_ne_bytes());
        self.stats.write(&mut o, offset_of!(T, stats));
        o
    }
}

/// The header of a GET_SERVICES request: how many entries the caller has room for.
pub(crate) fn get_services_num(buf: &[u8]) -> u32 {
    get_u32!(buf, 0, b::ip_vs_get_services, num_services)
}

/// The header of a GET_DESTS request: (protocol, addr, port, fwmark, num_dests).
pub(crate) fn get_dests_hdr(buf: &[u8]) -> (u16, [u8; 4], u16, u32, u32) {
    type T = b::ip_vs_get_dests;
    (
        get_u16!(buf, 0, T, protocol),
        rd::<4>(buf, offset_of!(T, addr)),
        u16::from_be_bytes(rd::<2>(buf, offset_of!(T, port))),
        get_u32!(buf, 0, T, fwmark),
        get_u32!(buf, 0, T, num_dests),
    )
}

// ---- calls -----------------------------------------------------------------------------------

/// A setsockopt call: the caller's argument is copied in with `read`.
pub(crate) struct SetCall<'a> {
    net: NetRef,
    cmd: c_int,
    arg: &'a b::sockptr_t,
    len: c_uint,
}

impl SetCall<'_> {
    pub(crate) fn net(&self) -> NetRef {
        self.net
    }
    pub(crate) fn cmd(&self) -> u32 {
        self.cmd as u32
    }
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
    /// Copies the first `buf.len()` bytes of the argument (at most `len()`).
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result {
        if buf.len() > self.len() {
            return Err(EINVAL);
        }
        // SAFETY: `buf` is valid for `buf.len()` bytes; `arg` is the sockptr of the running
        // setsockopt, which holds at least `len` bytes (copy_from_sockptr checks user memory).
        let r = unsafe { b::fvs_copy_from_sockptr(buf.as_mut_ptr() as *mut c_void, self.arg, buf.len()) };
        if r != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }
}

/// A getsockopt call: the caller's buffer (`len()` bytes) is read with `read` and written
/// with `write`; `set_len` changes the length reported back.
pub(crate) struct GetCall<'a> {
    net: NetRef,
    cmd: c_int,
    user: *mut c_void,
    len: &'a mut c_int,
}

impl GetCall<'_> {
    pub(crate) fn net(&self) -> NetRef {
        self.net
    }
    pub(crate) fn cmd(&self) -> u32 {
        self.cmd as u32
    }
    /// The caller's buffer length (negative values as the C int they are).
    pub(crate) fn len(&self) -> c_int {
        *self.len
    }
    pub(crate) fn set_len(&mut self, n: usize) {
        *self.len = n as c_int;
    }
    /// Copies the first `buf.len()` bytes of the caller's buffer (the caller checked `len()`).
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result {
        if (buf.len() as i64) > *self.len as i64 {
            return Err(EINVAL);
        }
        // SAFETY: `buf` is valid for writes of its length; `user` is a user pointer, which
        // copy_from_user checks.
        let left = unsafe { b::fvs_copy_from_user(buf.as_mut_ptr() as *mut c_void, self.user, buf.len() as _) };
        if left != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }
    /// Writes `data` at `off` of the caller's buffer, which must have room for it.
    pub(crate) fn write(&mut self, off: usize, data: &[u8]) -> Result {
        if (off + data.len()) as i64 > *self.len as i64 {
            return Err(EINVAL);
        }
        // SAFETY: the range lies within the caller's buffer length; copy_to_user checks the
        // user address.
        let left = unsafe {
            b::fvs_copy_to_user((self.user as *mut u8).wrapping_add(off) as *mut c_void, data.as_ptr() as *const c_void, data.len() as _)
        };
        if left != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }
}

/// What the module does with the calls.
pub(crate) struct Handlers {
    pub(crate) set: fn(&SetCall<'_>) -> Result,
    pub(crate) get: fn(&mut GetCall<'_>) -> Result,
}

/// The registered option range, with its handlers.
pub(crate) struct Sockopts {
    ops: KStatic<b::nf_sockopt_ops>,
    handlers: KStatic<Option<Handlers>>,
}

impl Sockopts {
    pub(crate) const fn new() -> Self {
        Self { ops: KStatic::zeroed(), handlers: KStatic::zeroed() }
    }

    fn handlers(&'static self) -> Option<&'static Handlers> {
        // SAFETY: set before registration and never changed while registered.
        unsafe { (*self.handlers.get()).as_ref() }
    }

    /// Claims IP_VS_BASE_CTL..=IP_VS_SO_{SET,GET}_MAX on PF_INET. Fails with EBUSY when another
    /// module (the kernel's ip_vs) holds any of them.
    pub(crate) fn register(&'static self, handlers: Handlers, module: *mut kernel::bindings::module) -> Result {
        // SAFETY: module init; nothing else sees the ops before `nf_register_sockopt`.
        unsafe {
            *self.handlers.get() = Some(handlers);
            let o = &mut *self.ops.get();
            o.pf = b::PF_INET as u8;
            o.set_optmin = BASE_CTL as c_int;
            o.set_optmax = SET_MAX as c_int + 1;
            o.set = Some(set_trampoline);
            o.get_optmin = BASE_CTL as c_int;
            o.get_optmax = GET_MAX as c_int + 1;
            o.get = Some(get_trampoline);
            o.owner = module as *mut b::module;
        }
        // SAFETY: the ops are a static of this module, unregistered before it goes.
        let r = unsafe { b::nf_register_sockopt(self.ops.get()) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    pub(crate) fn unregister(&'static self) {
        // SAFETY: registered by `register`. Calls in progress hold a reference on the module
        // (`owner`), so none runs once the module can go.
        unsafe { b::nf_unregister_sockopt(self.ops.get()) };
    }
}

// fvs registers one option range, `crate::ctl::sockopt::SOCKOPTS`.
unsafe extern "C" fn set_trampoline(sk: *mut b::sock, cmd: c_int, arg: b::sockptr_t, len: c_uint) -> c_int {
    // SAFETY: netfilter passes the caller's socket, alive for the call.
    if !unsafe { b::fvs_sock_net_admin(sk) } {
        return -(b::EPERM as c_int);
    }
    // SAFETY: as above; a socket's namespace outlives the socket.
    let Some(net) = (unsafe { NetRef::from_raw(b::fvs_sock_net(sk)) }) else { return -(b::EINVAL as c_int) };
    let Some(h) = crate::ctl::sockopt::sockopts().handlers() else { return -(b::ENOPROTOOPT as c_int) };
    let call = SetCall { net, cmd, arg: &arg, len };
    match (h.set)(&call) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn get_trampoline(sk: *mut b::sock, cmd: c_int, user: *mut c_void, len: *mut c_int) -> c_int {
    // SAFETY: netfilter passes the caller's socket, alive for the call.
    if !unsafe { b::fvs_sock_net_admin(sk) } {
        return -(b::EPERM as c_int);
    }
    // SAFETY: as above.
    let Some(net) = (unsafe { NetRef::from_raw(b::fvs_sock_net(sk)) }) else { return -(b::EINVAL as c_int) };
    // SAFETY: `len` is nf_getsockopt's kernel copy of the caller's length.
    let Some(len) = (unsafe { len.as_mut() }) else { return -(b::EINVAL as c_int) };
    let Some(h) = crate::ctl::sockopt::sockopts().handlers() else { return -(b::ENOPROTOOPT as c_int) };
    let mut call = GetCall { net, cmd, user, len };
    match (h.get)(&mut call) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
