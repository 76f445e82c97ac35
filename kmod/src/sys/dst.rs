//! A real server's cached output route (`struct ip_vs_dest_dst`): the first packet to a real
//! server looks its route up, later ones borrow the cached one (`skb_dst_set_noref`) for as long
//! as routing does not obsolete it (`dst_check`). No route lookup, no allocation and no
//! reference count on the established path.
//!
//! The cache is one atomic pointer to a small record holding a route reference. A record is
//! replaced by swapping the pointer; the old one is released after an RCU grace period, so a
//! packet that read it in its hook's RCU section may keep using its route until the section
//! ends. Concurrent replacements need no lock: each swapped-out record is released once, by the
//! CPU that swapped it out.

use super::bindings as b;
use super::rcu::RcuGuard;
use super::skb::{Route, Route6};
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;
use kernel::prelude::*;

/// One cached route and what it was looked up for.
#[repr(C)]
struct Cached {
    rcu: b::callback_head,
    /// Holds one reference, released when the record is freed.
    dst: NonNull<b::dst_entry>,
    /// `dst_check()`'s cookie (IPv6; 0 for IPv4).
    cookie: u32,
    /// Looked up with `FLOWI_FLAG_KNOWN_NH` (direct routing) or without (NAT, tunnels).
    known_nh: bool,
    v6: bool,
    /// The source address the route selects (IPv4 in the first 4 bytes).
    saddr: [u8; 16],
}

impl Drop for Cached {
    fn drop(&mut self) {
        // SAFETY: the record owns one reference to the route.
        unsafe { b::fvs_dst_release(self.dst.as_ptr()) }
    }
}

unsafe extern "C" fn free_cached(head: *mut b::callback_head) {
    // SAFETY: `head` is the first field of a `#[repr(C)] Cached` that came from `KBox::into_raw`
    // and was swapped out of its cache, so nothing else frees it; the grace period is over.
    drop(unsafe { KBox::from_raw(head.cast::<Cached>()) });
}

/// The route cache of one real server.
pub(crate) struct DstCache {
    cur: AtomicPtr<Cached>,
}

// SAFETY: the pointer is only swapped atomically; records are freed after a grace period.
unsafe impl Send for DstCache {}
// SAFETY: as above.
unsafe impl Sync for DstCache {}

impl DstCache {
    pub(crate) const fn new() -> Self {
        Self { cur: AtomicPtr::new(ptr::null_mut()) }
    }

    /// The cache of a packet's hook, usable for the RCU read-side section `g`.
    pub(crate) fn slot<'g>(&'g self, g: &'g RcuGuard) -> DstSlot<'g> {
        DstSlot { cache: self, _g: PhantomData, _guard: g }
    }

    fn replace(&self, new: *mut Cached) {
        let old = self.cur.swap(new, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: swapped out by us, so released exactly once; readers in RCU sections that
            // still see it are waited for. `rcu` is the record's own head.
            unsafe { b::call_rcu(ptr::addr_of_mut!((*old).rcu), Some(free_cached)) };
        }
    }

    /// Drops the cached route (the real server's forwarding method or tunnel changed, or a
    /// device went down): the next packet looks it up again.
    pub(crate) fn reset(&self) {
        self.replace(ptr::null_mut());
    }
}

impl Drop for DstCache {
    fn drop(&mut self) {
        let p = *self.cur.get_mut();
        if !p.is_null() {
            // SAFETY: the owner (a real server) is dropped only after every RCU reader that
            // could reach it has finished, so no packet still reads the record.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

/// A real server's route cache within a packet's RCU read-side section.
#[derive(Clone, Copy)]
pub(crate) struct DstSlot<'g> {
    cache: &'g DstCache,
    _g: PhantomData<*mut ()>,
    _guard: &'g RcuGuard,
}

impl<'g> DstSlot<'g> {
    /// The cached route for this kind of lookup, if routing has not obsoleted it.
    pub(crate) fn get(&self, v6: bool, known_nh: bool) -> Option<CachedDst<'g>> {
        let p = self.cache.cur.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a published record is freed only after a grace period that the section 'g
        // (which `_guard` proves is open) holds back.
        let c = unsafe { &*p };
        if c.v6 != v6 || c.known_nh != known_nh {
            return None;
        }
        CachedDst::checked(c.dst, c.cookie, v6, c.saddr)
    }

    /// Caches an IPv4 route just looked up; the route (or, if no memory, `None`) comes back
    /// as one borrowed for the section.
    pub(crate) fn store4(&self, rt: Route, known_nh: bool) -> core::result::Result<CachedDst<'g>, Route> {
        let mut saddr = [0u8; 16];
        saddr[..4].copy_from_slice(&rt.saddr);
        match self.store(rt.dst(), 0, known_nh, false, saddr) {
            Ok(c) => {
                // The record owns the route's reference now.
                core::mem::forget(rt);
                Ok(c)
            }
            Err(()) => Err(rt),
        }
    }

    /// `store4` for IPv6 (the cookie is taken now, as `__ip_vs_dst_set` does).
    pub(crate) fn store6(&self, rt: Route6, known_nh: bool) -> core::result::Result<CachedDst<'g>, Route6> {
        let dst = rt.dst();
        // SAFETY: `rt` holds a reference to the IPv6 route.
        let cookie = unsafe { b::fvs_dst_cookie6(dst.as_ptr()) };
        match self.store(dst, cookie, known_nh, true, rt.saddr) {
            Ok(c) => {
                // The record owns the route's reference now.
                core::mem::forget(rt);
                Ok(c)
            }
            Err(()) => Err(rt),
        }
    }

    /// On success the record owns the caller's reference to `dst` (the caller forgets it).
    fn store(&self, dst: NonNull<b::dst_entry>, cookie: u32, known_nh: bool, v6: bool, saddr: [u8; 16]) -> core::result::Result<CachedDst<'g>, ()> {
        // Memory first: a record is only built once it cannot fail (its drop would release
        // the reference the caller still owns on failure).
        let Ok(slot) = KBox::<Cached>::new_uninit(GFP_ATOMIC) else { return Err(()) };
        let rec = slot.write(Cached {
            // SAFETY: an all-zero `callback_head` is its initial state.
            rcu: unsafe { core::mem::zeroed() },
            dst,
            cookie,
            known_nh,
            v6,
            saddr,
        });
        self.cache.replace(KBox::into_raw(rec));
        // The record just published lives at least until 'g ends (a replacement by another
        // CPU frees it after a grace period). A route that routing obsoleted in the meantime
        // is still good for this one packet, as a route looked up for it would be.
        Ok(CachedDst::checked(dst, cookie, v6, saddr).unwrap_or_else(|| CachedDst::unchecked(dst, v6, saddr)))
    }
}

/// A cached route borrowed for a packet's RCU section (no reference of its own), with what the
/// transmitters read of it.
#[derive(Clone, Copy)]
pub(crate) struct CachedDst<'g> {
    dst: NonNull<b::dst_entry>,
    pub(crate) saddr: [u8; 16],
    info: b::fvs_dst_info,
    _g: PhantomData<&'g ()>,
}

impl CachedDst<'_> {
    /// `dst_check()` and the route's facts in one call; `None` if routing obsoleted it.
    fn checked(dst: NonNull<b::dst_entry>, cookie: u32, v6: bool, saddr: [u8; 16]) -> Option<Self> {
        let mut info = b::fvs_dst_info { local: false, mtu: 0, hard_header_len: 0, ll_reserved: 0 };
        // SAFETY: the route is alive for the section (held by a record that is freed only after
        // a grace period); `info` is a valid out-parameter.
        if !unsafe { b::fvs_dst_check_info(dst.as_ptr(), cookie, v6, &mut info) } {
            return None;
        }
        Some(Self { dst, saddr, info, _g: PhantomData })
    }

    /// The route's facts without the check.
    fn unchecked(dst: NonNull<b::dst_entry>, v6: bool, saddr: [u8; 16]) -> Self {
        // SAFETY: as in `checked`.
        let info = unsafe {
            b::fvs_dst_info {
                local: if v6 { b::fvs_dst6_is_local(dst.as_ptr()) } else { b::fvs_dst_rt_flags(dst.as_ptr()) & b::FVS_RTCF_LOCAL != 0 },
                mtu: b::fvs_dst_mtu(dst.as_ptr()),
                hard_header_len: b::fvs_dst_hard_header_len(dst.as_ptr()),
                ll_reserved: b::fvs_dst_ll_reserved(dst.as_ptr()),
            }
        };
        Self { dst, saddr, info, _g: PhantomData }
    }

    pub(crate) fn as_ptr(&self) -> *mut b::dst_entry {
        self.dst.as_ptr()
    }

    /// The route delivers locally (IPv4: `RTCF_LOCAL`; IPv6: it ends on loopback).
    pub(crate) fn is_local(&self) -> bool {
        self.info.local
    }

    pub(crate) fn mtu(&self) -> u32 {
        self.info.mtu
    }

    pub(crate) fn hard_header_len(&self) -> u32 {
        self.info.hard_header_len
    }

    pub(crate) fn ll_reserved(&self) -> u32 {
        self.info.ll_reserved
    }
}
