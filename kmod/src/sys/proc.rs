//! /proc/net files: per-namespace entries printed through a `core::fmt::Write` over seq_file.

use super::bindings as b;
use super::net::NetRef;
use super::KStatic;
use core::ffi::{c_int, c_void, CStr};
use core::marker::PhantomData;
use core::fmt;
use kernel::prelude::*;

/// Writes into the seq_file of a /proc read. On overflow the writes fail and seq_file retries the
/// whole show with a larger buffer, so callers just stop at the first error.
pub(crate) struct SeqWriter(*mut b::seq_file);

impl fmt::Write for SeqWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: `self.0` is the seq_file of the show call in progress (see `show_trampoline`).
        let r = unsafe { b::seq_write(self.0, s.as_ptr() as *const c_void, s.len()) };
        if r == 0 {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

/// A /proc/net file whose whole content one `show` call prints.
pub(crate) trait ProcShow {
    const NAME: &'static CStr;
    fn show(w: &mut SeqWriter, net: NetRef) -> fmt::Result;
}

unsafe extern "C" fn show_trampoline<P: ProcShow>(seq: *mut b::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: the file was created with `proc_create_net_single`, so the seq_file carries the
    // namespace, which the open file keeps alive for the read.
    let net = unsafe { b::fvs_seq_file_single_net(seq) };
    // SAFETY: as above, the namespace is alive during the show.
    if let Some(net) = unsafe { NetRef::from_raw(net) } {
        let _ = P::show(&mut SeqWriter(seq), net);
    }
    0
}

/// A /proc/net file printed one hash bucket per seq_file record (a header first), so that a
/// table of any size streams through the reader's buffer: nothing holds the whole text, and
/// each bucket is printed inside its own RCU read-side section.
pub(crate) trait ProcBuckets {
    fn header(w: &mut SeqWriter) -> fmt::Result;
    fn buckets(net: NetRef) -> usize;
    fn show_bucket(w: &mut SeqWriter, net: NetRef, bucket: usize) -> fmt::Result;
}

/// Records are positions: 0 the header (SEQ_START_TOKEN, pointer value 1), then bucket `i` at
/// position `i + 1`, passed as the pointer value `i + 2` (never null, never the start token).
fn bucket_token<P: ProcBuckets>(seq: *mut b::seq_file, pos: b::loff_t) -> *mut c_void {
    if pos == 0 {
        return 1 as *mut c_void;
    }
    // SAFETY: the file was created with `proc_create_net_data`, so the seq_file's private
    // data is a seq_net_private whose namespace the open file keeps alive.
    let Some(net) = (unsafe { NetRef::from_raw(b::fvs_seq_file_net(seq)) }) else { return core::ptr::null_mut() };
    if pos < 0 || (pos - 1) as u64 >= P::buckets(net) as u64 {
        return core::ptr::null_mut();
    }
    (pos as usize + 1) as *mut c_void
}

unsafe extern "C" fn buckets_start<P: ProcBuckets>(seq: *mut b::seq_file, pos: *mut b::loff_t) -> *mut c_void {
    // SAFETY: seq_file passes its position counter, valid for the call.
    let Some(&mut p) = (unsafe { pos.as_mut() }) else { return core::ptr::null_mut() };
    bucket_token::<P>(seq, p)
}

unsafe extern "C" fn buckets_next<P: ProcBuckets>(seq: *mut b::seq_file, _v: *mut c_void, pos: *mut b::loff_t) -> *mut c_void {
    // SAFETY: as in `buckets_start`.
    let Some(p) = (unsafe { pos.as_mut() }) else { return core::ptr::null_mut() };
    *p += 1;
    bucket_token::<P>(seq, *p)
}

unsafe extern "C" fn buckets_stop(_seq: *mut b::seq_file, _v: *mut c_void) {}

unsafe extern "C" fn buckets_show<P: ProcBuckets>(seq: *mut b::seq_file, v: *mut c_void) -> c_int {
    // SAFETY: as in `bucket_token`.
    let Some(net) = (unsafe { NetRef::from_raw(b::fvs_seq_file_net(seq)) }) else { return 0 };
    let mut w = SeqWriter(seq);
    // An overflow is seen by seq_file, which retries the record with a larger buffer.
    let _ = match v as usize {
        1 => P::header(&mut w),
        t => P::show_bucket(&mut w, net, t - 2),
    };
    0
}

/// The seq_operations of a `ProcBuckets` file: one static per type.
pub(crate) struct BucketOps<P: ProcBuckets>(KStatic<b::seq_operations>, PhantomData<P>);

impl<P: ProcBuckets> BucketOps<P> {
    pub(crate) const fn new() -> Self {
        Self(KStatic::zeroed(), PhantomData)
    }

    /// Fills the operations; called once from module init, before any file uses them.
    pub(crate) fn init(&'static self) {
        // SAFETY: module init, before the pernet registration creates the first file.
        unsafe {
            let o = &mut *self.0.get();
            o.start = Some(buckets_start::<P>);
            o.next = Some(buckets_next::<P>);
            o.stop = Some(buckets_stop);
            o.show = Some(buckets_show::<P>);
        }
    }

    /// Creates /proc/net/`name` in `net` (after `init`).
    pub(crate) fn create(&'static self, net: NetRef, name: &'static CStr) -> Result {
        // SAFETY: name and operations are statics of this module; the entry is removed (by
        // name) before the module goes; the per-open private data is a seq_net_private.
        let pde = unsafe {
            b::proc_create_net_data(
                name.as_ptr(),
                0o444,
                net.proc_net(),
                self.0.get(),
                b::FVS_SEQ_NET_PRIVATE_SIZE,
                core::ptr::null_mut(),
            )
        };
        if pde.is_null() {
            return Err(ENOMEM);
        }
        Ok(())
    }
}

/// Creates /proc/net/`name` in `net`, showing what `P` shows.
pub(crate) fn create_as<P: ProcShow>(net: NetRef, name: &'static CStr) -> Result {
    // SAFETY: the name is a static C string, the parent is the namespace's /proc/net, and the
    // show function is a static of this module, removed in `remove` before unload.
    let pde = unsafe {
        b::proc_create_net_single(
            name.as_ptr(),
            0o444,
            net.proc_net(),
            Some(show_trampoline::<P>),
            core::ptr::null_mut(),
        )
    };
    if pde.is_null() {
        return Err(ENOMEM);
    }
    Ok(())
}

/// Removes /proc/net/<P::NAME> from `net` (no-op if absent).
pub(crate) fn remove<P: ProcShow>(net: NetRef) {
    remove_name(net, P::NAME)
}

/// Removes /proc/net/`name` from `net` (no-op if absent).
pub(crate) fn remove_name(net: NetRef, name: &CStr) {
    // SAFETY: removing by name under the namespace's /proc/net; absent entries are ignored.
    unsafe { b::remove_proc_entry(name.as_ptr(), net.proc_net()) };
}
