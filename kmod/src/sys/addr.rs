//! Address classification and device lookup that the control path needs, as ip_vs does them.

use super::bindings as b;
use super::net::NetRef;
use kernel::prelude::*;

/// `inet_addr_type()` of an IPv4 address in `net`, reduced to what ip_vs checks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum V4Type {
    Local,
    Unicast,
    Other,
}

pub(crate) fn ipv4_addr_type(net: NetRef, addr: [u8; 4]) -> V4Type {
    // SAFETY: `net` is alive; the address is passed by value in network order.
    let t = unsafe { b::inet_addr_type(net.as_ptr(), u32::from_ne_bytes(addr)) };
    match t {
        x if x == b::RTN_LOCAL as _ => V4Type::Local,
        x if x == b::RTN_UNICAST as _ => V4Type::Unicast,
        _ => V4Type::Other,
    }
}

fn in6(addr: &[u8; 16]) -> b::in6_addr {
    // SAFETY: `in6_addr` is a 16-byte union of byte/word views; any bytes are valid.
    let mut a: b::in6_addr = unsafe { core::mem::zeroed() };
    a.in6_u.u6_addr8 = *addr;
    a
}

/// True when ip_vs would accept `addr` as an IPv6 real server without it being local:
/// unicast and not link-local.
pub(crate) fn ipv6_is_routable_unicast(addr: &[u8; 16]) -> bool {
    let a = in6(addr);
    // SAFETY: pure function of the address.
    let t = unsafe { b::__ipv6_addr_type(&a) } as u32 & 0xffff;
    t & b::IPV6_ADDR_UNICAST != 0 && t & b::IPV6_ADDR_LINKLOCAL == 0
}

/// True when `addr` is configured on an interface of `net`.
pub(crate) fn ipv6_is_local(net: NetRef, addr: &[u8; 16]) -> bool {
    let a = in6(addr);
    // SAFETY: `net` is alive; `a` is a valid address; no device restriction.
    unsafe { b::ipv6_chk_addr(net.as_ptr(), &a, core::ptr::null(), 0) != 0 }
}

/// The MTU of the interface called `name` in `net` (ENODEV if there is none).
pub(crate) fn dev_mtu(net: NetRef, name: &[u8]) -> Result<u32> {
    dev_index_mtu(net, name).map(|(_, mtu)| mtu)
}

/// The interface index and MTU of device `name` in `net`; `ENODEV` if there is none.
pub(crate) fn dev_index_mtu(net: NetRef, name: &[u8]) -> Result<(i32, u32)> {
    let mut buf = [0u8; 16];
    if name.is_empty() || name.len() >= buf.len() {
        return Err(ENODEV);
    }
    buf[..name.len()].copy_from_slice(name);
    // SAFETY: `buf` is NUL-terminated; a non-null result holds a reference we drop below.
    let dev = unsafe { b::dev_get_by_name(net.as_ptr(), buf.as_ptr() as *const _) };
    if dev.is_null() {
        return Err(ENODEV);
    }
    // SAFETY: we hold a reference on `dev`; `mtu`'s offset is checked by `layout::check`.
    let (ifindex, mtu) = unsafe { ((*dev).ifindex, (*dev).mtu) };
    // SAFETY: drops the reference taken by dev_get_by_name.
    unsafe { b::fvs_dev_put(dev) };
    Ok((ifindex, mtu))
}
