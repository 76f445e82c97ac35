//! Bottom halves and time: what process-context code needs to share locks with the packet path.

use super::bindings as b;
use core::marker::PhantomData;

/// Softirqs (the packet path) are disabled on this CPU while the guard lives. Process-context
/// code takes it before a lock the packet path also takes (the kernel crate's `SpinLock` is a
/// plain `spin_lock`).
pub(crate) struct BhGuard(PhantomData<*mut ()>);

impl BhGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: no preconditions; re-enabled in `drop` on the same CPU (the guard is !Send).
        unsafe { b::fvs_local_bh_disable() };
        Self(PhantomData)
    }
}

impl Drop for BhGuard {
    fn drop(&mut self) {
        // SAFETY: paired with `new`.
        unsafe { b::fvs_local_bh_enable() };
    }
}

/// The current time in jiffies.
pub(crate) fn jiffies() -> u64 {
    // SAFETY: `jiffies` is the kernel's exported tick counter, a word the timer interrupt
    // updates; a volatile read is what READ_ONCE does.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(b::jiffies)) as u64 }
}

/// Random bytes from the kernel's CSPRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of its length.
    unsafe { b::get_random_bytes(buf.as_mut_ptr() as *mut _, buf.len()) };
}
