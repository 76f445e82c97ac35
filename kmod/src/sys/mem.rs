//! Memory figures.

use super::bindings as b;

/// Free plus block-device buffer pages, as ip_vs's defences count available memory
/// (`si_meminfo`: `freeram + bufferram`). Process context only (it takes a spinlock that
/// softirqs must not).
pub(crate) fn free_and_buffer_pages() -> i64 {
    // SAFETY: a zeroed sysinfo is a valid output buffer; si_meminfo fills it.
    let mut i: b::sysinfo = unsafe { core::mem::zeroed() };
    // SAFETY: `i` is a valid, writable sysinfo.
    unsafe { b::si_meminfo(&mut i) };
    (i.freeram as i64).saturating_add(i.bufferram as i64)
}
