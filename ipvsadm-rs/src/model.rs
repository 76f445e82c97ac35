//! In-memory representation of IPVS objects, shared by the parser, the netlink client and the
//! formatters. Field semantics follow libipvs (`ipvs_service_t`, `ipvs_dest_entry_t`, ...):
//! addresses are the 16 bytes of `union nf_inet_addr` (an IPv4 address in the first four),
//! ports are host-order numbers, and an IPv4 persistence netmask is kept the way the kernel
//! carries it (the in-memory `s_addr`, i.e. `u32::from_ne_bytes(octets)`).

use fvs_uapi::{AF_INET, AF_INET6};

pub const IPPROTO_TCP: u16 = 6;
pub const IPPROTO_UDP: u16 = 17;
pub const IPPROTO_SCTP: u16 = 132;

/// `union nf_inet_addr`.
pub type InetAddr = [u8; 16];

/// Formats an address with the C library's `inet_ntop(af, addr)` (glibc prints IPv4-mapped and
/// IPv4-compatible IPv6 addresses with a dotted tail, which Rust's formatter does not).
pub fn ntop(af: u16, addr: &InetAddr) -> String {
    let mut buf = [0 as libc::c_char; 64];
    let caf = if af == AF_INET6 {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    // SAFETY: `addr` has 16 readable bytes, `buf` 64 writable bytes (> INET6_ADDRSTRLEN).
    let p = unsafe {
        crate::resolve::inet_ntop(caf, addr.as_ptr().cast(), buf.as_mut_ptr(), buf.len() as _)
    };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: inet_ntop NUL-terminated the buffer.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

pub fn v4(a: [u8; 4]) -> InetAddr {
    let mut r = [0u8; 16];
    r[..4].copy_from_slice(&a);
    r
}

/// A virtual service as sent to the kernel (`ipvs_service_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub af: u16,
    pub protocol: u16,
    pub addr: InetAddr,
    pub port: u16,
    pub fwmark: u32,
    pub sched_name: String,
    pub flags: u32,
    pub timeout: u32,
    pub netmask: u32,
    pub pe_name: String,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            af: 0,
            protocol: 0,
            addr: [0; 16],
            port: 0,
            fwmark: 0,
            sched_name: String::new(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: String::new(),
        }
    }
}

/// A real server as sent to the kernel (`ipvs_dest_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dest {
    pub af: u16,
    pub addr: InetAddr,
    pub port: u16,
    pub conn_flags: u32,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
    /// Extension (`-d ... --drain SECONDS`, fvs.ko only): drain the real server for up to this
    /// many seconds instead of removing it at once; sent as `dest_attr::FVS_DRAIN`.
    pub drain: Option<u32>,
}

impl Default for Dest {
    fn default() -> Self {
        Dest {
            af: 0,
            addr: [0; 16],
            port: 0,
            conn_flags: fvs_uapi::conn_flags::DROUTE,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
            drain: None,
        }
    }
}

/// Connection timeouts (`ipvs_timeout_t`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// Sync daemon configuration or state (`ipvs_daemon_t`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Daemon {
    pub state: u32,
    pub mcast_ifn: String,
    pub syncid: u32,
    pub sync_maxlen: u16,
    /// 0 (unset), AF_INET or AF_INET6.
    pub mcast_af: u16,
    pub mcast_group: InetAddr,
    pub mcast_port: u16,
    pub mcast_ttl: u8,
}

/// Statistics, always widened to 64 bits (`struct ip_vs_stats64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A service as reported by the kernel (`ipvs_service_entry_t`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceEntry {
    pub af: u16,
    pub protocol: u16,
    pub addr: InetAddr,
    pub port: u16,
    pub fwmark: u32,
    pub sched_name: String,
    pub flags: u32,
    pub timeout: u32,
    pub netmask: u32,
    pub pe_name: String,
    pub stats: Stats,
}

impl ServiceEntry {
    /// The key used to address this service in requests.
    pub fn key(&self) -> Service {
        Service {
            netmask: 0xffff_ffff,
            af: self.af,
            protocol: self.protocol,
            addr: self.addr,
            port: self.port,
            fwmark: self.fwmark,
            sched_name: String::new(),
            flags: 0,
            timeout: 0,
            pe_name: String::new(),
        }
    }
}

/// A real server as reported by the kernel (`ipvs_dest_entry_t`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestEntry {
    pub af: u16,
    pub addr: InetAddr,
    pub port: u16,
    pub conn_flags: u32,
    pub weight: i32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub activeconns: u32,
    pub inactconns: u32,
    pub persistconns: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
    pub stats: Stats,
    /// fvs.ko extension: seconds left of a draining real server (`dest_attr::FVS_DRAIN` in the
    /// GET_DEST dump); `None` when it is not draining or the kernel does not report it.
    pub drain_left: Option<u32>,
}

/// GET_INFO reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    pub version: u32,
    pub size: u32,
}

pub fn is_v6(af: u16) -> bool {
    af == AF_INET6
}

pub fn is_v4(af: u16) -> bool {
    af == AF_INET
}
