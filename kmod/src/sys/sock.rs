//! Kernel UDP sockets for the connection-synchronisation daemons (src/syncd.rs): created in a
//! network namespace, joined to a multicast group on one interface, sent to and received from
//! without blocking, with a callback when data arrives (what `ip_vs_sync.c` does with
//! `sock_create_kern` and friends).

use super::bindings as b;
use super::net::NetRef;
use core::ffi::{c_int, c_void};
use core::ptr::NonNull;
use kernel::error::{code::*, to_result as from_ret, Result};

/// An IPv4 or IPv6 address and UDP port.
#[derive(Clone, Copy)]
pub(crate) enum SockAddr {
    V4([u8; 4], u16),
    V6([u8; 16], u16),
}

/// A raw storage big enough for either `sockaddr_in` or `sockaddr_in6`.
#[repr(C)]
union RawAddr {
    v4: b::sockaddr_in,
    v6: b::sockaddr_in6,
}

impl SockAddr {
    fn raw(&self) -> (RawAddr, usize) {
        match *self {
            SockAddr::V4(a, port) => {
                // SAFETY: sockaddr_in is plain data; all zeroes is valid.
                let mut s: b::sockaddr_in = unsafe { core::mem::zeroed() };
                s.sin_family = b::AF_INET as _;
                s.sin_port = port.to_be();
                s.sin_addr.s_addr = u32::from_ne_bytes(a);
                (RawAddr { v4: s }, core::mem::size_of::<b::sockaddr_in>())
            }
            SockAddr::V6(a, port) => {
                // SAFETY: sockaddr_in6 is plain data; all zeroes is valid.
                let mut s: b::sockaddr_in6 = unsafe { core::mem::zeroed() };
                s.sin6_family = b::AF_INET6 as _;
                s.sin6_port = port.to_be();
                s.sin6_addr.in6_u.u6_addr8 = a;
                (RawAddr { v6: s }, core::mem::size_of::<b::sockaddr_in6>())
            }
        }
    }
}

/// A kernel UDP socket. Dropping it restores its data-ready callback and releases it.
///
/// A kernel socket holds no reference on its namespace: its owner must drop it before the
/// namespace goes (the daemons are stopped in the pernet exit).
pub(crate) struct UdpSock {
    sock: NonNull<b::socket>,
    v6: bool,
    /// The socket's own data-ready callback, while ours is installed.
    saved_ready: Option<unsafe extern "C" fn(*mut b::sock)>,
}

// SAFETY: the socket API serialises itself (the socket lock); `UdpSock` only calls it.
unsafe impl Send for UdpSock {}
// SAFETY: as above; `saved_ready` is only written through `&mut self`.
unsafe impl Sync for UdpSock {}

impl UdpSock {
    /// A UDP socket of the family of `v6` in `net`.
    pub(crate) fn new(net: NetRef, v6: bool) -> Result<Self> {
        let mut sock: *mut b::socket = core::ptr::null_mut();
        let fam = if v6 { b::AF_INET6 } else { b::AF_INET } as c_int;
        // SAFETY: `net` is a live namespace (the caller runs in it or holds it); on success
        // `sock` points to a new socket that we own.
        from_ret(unsafe {
            b::sock_create_kern(net.as_ptr(), fam, b::sock_type_SOCK_DGRAM as c_int, b::IPPROTO_UDP as c_int, &mut sock)
        })?;
        let sock = NonNull::new(sock).ok_or(ENOMEM)?;
        Ok(Self { sock, v6, saved_ready: None })
    }

    fn sk(&self) -> *mut b::sock {
        // SAFETY: a socket from sock_create_kern has its `sk` for its whole life.
        unsafe { (*self.sock.as_ptr()).sk }
    }

    /// The protocol's own setsockopt (IP and IPv6 levels; not SOL_SOCKET), for kernel data.
    fn setsockopt<T>(&self, level: c_int, name: u32, val: &T) -> Result {
        // SAFETY: `val` is valid for reads of its size for the call; the trampoline passes it
        // as a kernel sockptr to the socket's own setsockopt.
        from_ret(unsafe {
            b::fvs_kernel_setsockopt(
                self.sock.as_ptr(),
                level,
                name as c_int,
                val as *const T as *mut c_void,
                core::mem::size_of::<T>() as _,
            )
        })
    }

    /// SO_REUSEADDR.
    pub(crate) fn set_reuseaddr(&self) {
        // SAFETY: the socket is live.
        unsafe { b::sock_set_reuseaddr(self.sk()) };
    }

    /// SO_RCVBUF (the kernel doubles it, as for setsockopt).
    pub(crate) fn set_rcvbuf(&self, bytes: i32) {
        // SAFETY: the socket is live.
        unsafe { b::sock_set_rcvbuf(self.sk(), bytes) };
    }

    /// Receives only what arrives on interface `ifindex` (SO_BINDTODEVICE, without the
    /// CAP_NET_RAW check setsockopt makes of its caller).
    pub(crate) fn bind_to_index(&self, ifindex: i32) -> Result {
        // SAFETY: the socket is live; `true`: take the socket lock.
        from_ret(unsafe { b::sock_bindtoindex(self.sk(), ifindex, true) })
    }

    pub(crate) fn bind(&self, a: SockAddr) -> Result {
        let (raw, len) = a.raw();
        // SAFETY: `raw` holds a sockaddr of `len` bytes that kernel_bind copies.
        from_ret(unsafe {
            b::kernel_bind(self.sock.as_ptr(), &raw as *const RawAddr as *mut b::sockaddr_unsized, len as c_int)
        })
    }

    /// Multicast sending through interface `ifindex`, `ttl` hops, not looped back, without
    /// path-MTU discovery (ip_vs's `set_mcast_if`, `set_mcast_ttl`, `set_mcast_loop(0)`,
    /// `set_mcast_pmtudisc(IP_PMTUDISC_DONT)`).
    pub(crate) fn mcast_sender(&self, ifindex: i32, ttl: u8) -> Result {
        let (ttl, off) = (ttl as c_int, 0 as c_int);
        if self.v6 {
            self.setsockopt(b::FVS_SOL_IPV6, b::IPV6_MULTICAST_IF, &(ifindex as c_int))?;
            self.setsockopt(b::FVS_SOL_IPV6, b::IPV6_MULTICAST_HOPS, &ttl)?;
            self.setsockopt(b::FVS_SOL_IPV6, b::IPV6_MULTICAST_LOOP, &off)?;
            self.setsockopt(b::FVS_SOL_IPV6, b::IPV6_MTU_DISCOVER, &(b::IPV6_PMTUDISC_DONT as c_int))
        } else {
            // SAFETY: ip_mreqn is plain data; all zeroes is valid.
            let mut m: b::ip_mreqn = unsafe { core::mem::zeroed() };
            m.imr_ifindex = ifindex;
            self.setsockopt(b::FVS_SOL_IP, b::IP_MULTICAST_IF, &m)?;
            self.setsockopt(b::FVS_SOL_IP, b::IP_MULTICAST_TTL, &ttl)?;
            self.setsockopt(b::FVS_SOL_IP, b::IP_MULTICAST_LOOP, &off)?;
            self.setsockopt(b::FVS_SOL_IP, b::IP_MTU_DISCOVER, &(b::IP_PMTUDISC_DONT as c_int))
        }
    }

    /// Joins multicast group `group` (4 or 16 bytes, as the family) on interface `ifindex`.
    pub(crate) fn join(&self, group: &[u8; 16], ifindex: i32) -> Result {
        if self.v6 {
            // SAFETY: ipv6_mreq is plain data; all zeroes is valid.
            let mut m: b::ipv6_mreq = unsafe { core::mem::zeroed() };
            m.ipv6mr_multiaddr.in6_u.u6_addr8 = *group;
            m.ipv6mr_ifindex = ifindex;
            self.setsockopt(b::FVS_SOL_IPV6, b::IPV6_ADD_MEMBERSHIP, &m)
        } else {
            // SAFETY: ip_mreqn is plain data; all zeroes is valid.
            let mut m: b::ip_mreqn = unsafe { core::mem::zeroed() };
            m.imr_multiaddr.s_addr = u32::from_ne_bytes([group[0], group[1], group[2], group[3]]);
            m.imr_ifindex = ifindex;
            self.setsockopt(b::FVS_SOL_IP, b::IP_ADD_MEMBERSHIP, &m)
        }
    }

    /// Sends `buf` as one datagram to `to` without blocking: `EAGAIN` when the socket's
    /// buffer is full.
    pub(crate) fn send_to(&self, buf: &[u8], to: SockAddr) -> Result<usize> {
        let (mut raw, len) = to.raw();
        // SAFETY: msghdr is plain data; all zeroes is a message without name or control data.
        let mut msg: b::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_name = &mut raw as *mut RawAddr as *mut c_void;
        msg.msg_namelen = len as c_int;
        msg.msg_flags = (b::MSG_DONTWAIT | b::MSG_NOSIGNAL) as _;
        let mut iov = b::kvec { iov_base: buf.as_ptr() as *mut c_void, iov_len: buf.len() };
        // SAFETY: `msg` and `iov` describe `buf` and `raw`, valid for the call.
        let r = unsafe { b::kernel_sendmsg(self.sock.as_ptr(), &mut msg, &mut iov, 1, buf.len()) };
        from_ret(r)?;
        Ok(r as usize)
    }

    /// Receives one datagram into `buf` without blocking: its length (truncated to `buf`), or
    /// `EAGAIN` when none is waiting.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: msghdr is plain data; all zeroes is a message without name or control data.
        let mut msg: b::msghdr = unsafe { core::mem::zeroed() };
        let mut iov = b::kvec { iov_base: buf.as_mut_ptr() as *mut c_void, iov_len: buf.len() };
        // SAFETY: `iov` describes `buf`, valid for writes for the call.
        let r = unsafe {
            b::kernel_recvmsg(self.sock.as_ptr(), &mut msg, &mut iov, 1, buf.len(), b::MSG_DONTWAIT as c_int)
        };
        from_ret(r)?;
        Ok(r as usize)
    }

    /// Calls `owner.data_ready()` (in softirq context) whenever a datagram arrives, instead of
    /// the socket's own callback, until the socket is dropped. `owner` must outlive the socket.
    pub(crate) fn on_data_ready<T: DataReady>(&mut self, owner: &T) {
        let sk = self.sk();
        let ready: unsafe extern "C" fn(*mut b::sock) = ready_trampoline::<T>;
        let data = owner as *const T as *mut c_void;
        // SAFETY: the callback fields are written under sk_callback_lock, as the kernel's
        // tunnel sockets do; the socket is live.
        unsafe {
            b::fvs_sk_callback_write_lock(sk);
            self.saved_ready = (*sk).sk_data_ready;
            b::fvs_sk_set_user_data(sk, data);
            (*sk).sk_data_ready = Some(ready);
            b::fvs_sk_callback_write_unlock(sk);
        }
    }

}

/// What a socket with `on_data_ready` calls when a datagram arrives (softirq context: it
/// must not sleep; typically it kicks a work).
pub(crate) trait DataReady: Sync {
    fn data_ready(&self);
}

unsafe extern "C" fn ready_trampoline<T: DataReady>(sk: *mut b::sock) {
    // SAFETY: installed by `on_data_ready` with `sk_user_data` = a `&T` that outlives the
    // socket, and removed (plus a grace period) before the socket is released.
    let owner = unsafe { b::fvs_sk_user_data(sk) as *const T };
    // SAFETY: as above.
    if let Some(o) = unsafe { owner.as_ref() } {
        o.data_ready();
    }
}

impl Drop for UdpSock {
    fn drop(&mut self) {
        let sk = self.sk();
        if let Some(f) = self.saved_ready.take() {
            // SAFETY: as in `on_data_ready`.
            unsafe {
                b::fvs_sk_callback_write_lock(sk);
                (*sk).sk_data_ready = Some(f);
                b::fvs_sk_set_user_data(sk, core::ptr::null_mut());
                b::fvs_sk_callback_write_unlock(sk);
            }
            // The receive path calls sk_data_ready within an RCU read-side section (softirq):
            // after a grace period no call of ours is still running, and none starts.
            super::rcu::synchronize();
        }
        // SAFETY: we own the socket; nothing uses it after this.
        unsafe { b::sock_release(self.sock.as_ptr()) };
    }
}
