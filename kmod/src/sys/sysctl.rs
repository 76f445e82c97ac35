//! Per-namespace sysctl tables (`register_net_sysctl_sz`) of integer variables.

use super::bindings as b;
use super::net::NetRef;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};
use kernel::prelude::*;

/// One integer sysctl: `proc_dointvec`, or `proc_dointvec_minmax` when it has bounds (a write
/// outside them fails with EINVAL and leaves the value alone).
pub(crate) struct IntVar<'a> {
    pub(crate) name: &'static CStr,
    pub(crate) data: &'a AtomicI32,
    pub(crate) bounds: Option<&'static [i32; 2]>,
    /// 0644, or 0444 for a value only readable here.
    pub(crate) mode: u16,
    /// Kept in jiffies, shown and set in seconds (`proc_dointvec_jiffies`).
    pub(crate) jiffies: bool,
    /// `data` is the first of two ints set together, the second 0 or above the first, both
    /// at least 0 (`proc_do_sync_threshold`).
    pub(crate) threshold_pair: bool,
}

/// `proc_do_sync_threshold`: reads and writes two ints through a copy; a write is taken only
/// when both are >= 0 and the second (period) is 0 or above the first (threshold).
unsafe extern "C" fn threshold_pair_handler(
    t: *const b::ctl_table,
    write: c_int,
    buf: *mut c_void,
    lenp: *mut usize,
    ppos: *mut b::loff_t,
) -> c_int {
    // SAFETY: the kernel calls us with our table entry, whose `data` points to two adjacent
    // `AtomicI32` (see `IntVar::threshold_pair`) kept alive while the table is registered.
    let data = unsafe { core::slice::from_raw_parts((*t).data as *const AtomicI32, 2) };
    let mut val = [data[0].load(Ordering::Relaxed), data[1].load(Ordering::Relaxed)];
    // SAFETY: a copy of our entry pointing at `val` (two ints, maxlen 8), as ip_vs does.
    let mut tmp: b::ctl_table = unsafe { ptr::read(t) };
    tmp.data = val.as_mut_ptr() as *mut c_void;
    // SAFETY: the arguments are the kernel's own, passed through.
    let rc = unsafe { b::proc_dointvec(&tmp, write, buf, lenp, ppos) };
    if write != 0 && rc == 0 {
        if val[0] < 0 || val[1] < 0 || (val[0] >= val[1] && val[1] != 0) {
            return -(b::EINVAL as c_int);
        }
        data[0].store(val[0], Ordering::Relaxed);
        data[1].store(val[1], Ordering::Relaxed);
    }
    rc
}

/// A registered table. The variables it points to must stay where they are until
/// `unregister` (the owner calls it before they go).
pub(crate) struct SysctlTable {
    hdr: AtomicPtr<b::ctl_table_header>,
    tbl: AtomicPtr<b::ctl_table>,
    len: AtomicUsize,
    cap: AtomicUsize,
}

impl SysctlTable {
    pub(crate) const fn new() -> Self {
        Self { hdr: AtomicPtr::new(ptr::null_mut()), tbl: AtomicPtr::new(ptr::null_mut()), len: AtomicUsize::new(0), cap: AtomicUsize::new(0) }
    }

    /// Registers `vars` as /proc/sys/`path`/NAME in `net`. The caller keeps every `data`
    /// alive and in place until `unregister` has returned.
    pub(crate) fn register(&self, net: NetRef, path: &'static CStr, vars: &[IntVar<'_>]) -> Result {
        if !self.hdr.load(Ordering::Relaxed).is_null() {
            return Err(EBUSY);
        }
        let mut t: KVec<b::ctl_table> = KVec::with_capacity(vars.len(), GFP_KERNEL)?;
        for v in vars {
            // SAFETY: `ctl_table` is a plain C struct for which all-zero is a valid value.
            let mut e: b::ctl_table = unsafe { core::mem::zeroed() };
            e.procname = v.name.as_char_ptr().cast();
            // An `AtomicI32` has the layout of an `int`; the handlers read and write it with
            // plain int accesses, as the kernel does for its own sysctls.
            e.data = v.data.as_ptr() as *mut c_void;
            e.maxlen = core::mem::size_of::<i32>() as i32;
            e.mode = v.mode;
            match v.bounds {
                _ if v.threshold_pair => {
                    e.maxlen = 2 * core::mem::size_of::<i32>() as i32;
                    e.proc_handler = Some(threshold_pair_handler);
                }
                _ if v.jiffies => e.proc_handler = Some(b::proc_dointvec_jiffies),
                Some(bd) => {
                    e.proc_handler = Some(b::proc_dointvec_minmax);
                    // The handler only reads the bounds.
                    e.extra1 = ptr::from_ref(&bd[0]) as *mut c_void;
                    e.extra2 = ptr::from_ref(&bd[1]) as *mut c_void;
                }
                None => e.proc_handler = Some(b::proc_dointvec),
            }
            t.push(e, GFP_KERNEL)?;
        }
        let (p, len, cap) = t.into_raw_parts();
        // SAFETY: `net` is alive (NetRef); `p` points to `len` initialised entries whose names
        // are static and whose data the caller keeps in place until `unregister`; the table
        // itself stays allocated until then (recovered below).
        let hdr = unsafe { b::register_net_sysctl_sz(net.as_ptr(), path.as_char_ptr().cast(), p, len) };
        if hdr.is_null() {
            // SAFETY: the parts just taken from the vector; not registered.
            drop(unsafe { KVec::from_raw_parts(p, len, cap) });
            return Err(ENOMEM);
        }
        self.tbl.store(p, Ordering::Relaxed);
        self.len.store(len, Ordering::Relaxed);
        self.cap.store(cap, Ordering::Relaxed);
        self.hdr.store(hdr, Ordering::Release);
        Ok(())
    }

    /// Removes the table (waiting for readers and writers still in a handler) and frees it.
    pub(crate) fn unregister(&self) {
        let hdr = self.hdr.swap(ptr::null_mut(), Ordering::Acquire);
        if hdr.is_null() {
            return;
        }
        // SAFETY: registered by `register`, unregistered once (swapped out above); this waits
        // until no handler runs on the table any more.
        unsafe { b::unregister_net_sysctl_table(hdr) };
        let p = self.tbl.swap(ptr::null_mut(), Ordering::Relaxed);
        let (len, cap) = (self.len.swap(0, Ordering::Relaxed), self.cap.swap(0, Ordering::Relaxed));
        // SAFETY: the parts `register` took from a `KVec`, no longer used by the kernel.
        drop(unsafe { KVec::from_raw_parts(p, len, cap) });
    }
}

impl Drop for SysctlTable {
    fn drop(&mut self) {
        self.unregister();
    }
}
