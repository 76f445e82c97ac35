//! A periodic kernel timer whose handler is a plain Rust function of its owner.

use super::bindings as b;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// A `timer_list` with its owner. It must not move once started (it lives in a pinned owner).
#[repr(C)]
pub(crate) struct Timer {
    // First field: the callback recovers the `Timer` from the `timer_list` pointer.
    timer: UnsafeCell<b::timer_list>,
    owner: AtomicPtr<c_void>,
    handler: UnsafeCell<Option<fn(*const c_void)>>,
    stopping: AtomicBool,
}

// SAFETY: the timer_list is only touched through the kernel's timer API, which synchronises;
// `handler` is written once before the timer is armed.
unsafe impl Sync for Timer {}
// SAFETY: as above.
unsafe impl Send for Timer {}

unsafe extern "C" fn timer_fn(t: *mut b::timer_list) {
    // SAFETY: `t` is the first field of a `#[repr(C)] Timer` that outlives the timer (it is
    // stopped with `timer_delete_sync` before its owner is dropped).
    let timer = unsafe { &*(t as *const Timer) };
    let owner = timer.owner.load(Ordering::Acquire);
    // SAFETY: set in `start` before arming; never changed while armed.
    if let Some(h) = unsafe { *timer.handler.get() } {
        h(owner);
    }
}

/// What a `Timer` calls when it fires (in softirq context).
pub(crate) trait TimerOwner: Sync {
    fn timer_fired(&self);
}

fn call_owner<T: TimerOwner>(owner: *const c_void) {
    // SAFETY: `owner` was a `&T` in `start`, and `T` outlives the timer (see `start`).
    if let Some(o) = unsafe { (owner as *const T).as_ref() } {
        o.timer_fired();
    }
}

impl Timer {
    pub(crate) const fn new() -> Self {
        Self {
            // SAFETY: a zeroed timer_list is valid until `timer_setup` initialises it.
            timer: UnsafeCell::new(unsafe { core::mem::zeroed() }),
            owner: AtomicPtr::new(core::ptr::null_mut()),
            handler: UnsafeCell::new(None),
            stopping: AtomicBool::new(false),
        }
    }

    /// Arms the timer `delay` jiffies from now; it calls `owner.timer_fired()`. `owner` must
    /// outlive the timer (call `stop` before dropping it), and the timer must not move from now on.
    pub(crate) fn start<T: TimerOwner>(&self, owner: &T, delay: u64) {
        self.owner.store(owner as *const T as *mut c_void, Ordering::Release);
        // SAFETY: not armed yet, so nothing reads `handler` concurrently; setup initialises the
        // timer_list in place, where it stays.
        unsafe {
            *self.handler.get() = Some(call_owner::<T>);
            b::fvs_timer_setup(self.timer.get(), Some(timer_fn));
        }
        self.rearm(delay);
    }

    /// Re-arms the timer (from its handler) unless it is being stopped.
    pub(crate) fn rearm(&self, delay: u64) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: initialised by `start`.
        unsafe { b::mod_timer(self.timer.get(), super::bh::jiffies().wrapping_add(delay) as _) };
    }

    /// Stops the timer and waits for a running handler to finish.
    pub(crate) fn stop(&self) {
        if self.owner.load(Ordering::Acquire).is_null() {
            return;
        }
        self.stopping.store(true, Ordering::Release);
        // SAFETY: initialised by `start`; after this returns the handler no longer runs and
        // cannot re-arm (it checks `stopping`).
        unsafe { b::timer_delete_sync(self.timer.get()) };
    }
}
