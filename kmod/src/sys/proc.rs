//! /proc/net files: per-namespace entries printed through a `core::fmt::Write` over seq_file.

use super::bindings as b;
use super::net::NetRef;
use core::ffi::{c_int, c_void, CStr};
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
