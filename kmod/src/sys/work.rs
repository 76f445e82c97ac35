//! A periodic job in process context: a `delayed_work` on `system_long_wq` whose handler is a
//! plain Rust function of its owner (as `Timer`, for work that may sleep or take locks that
//! softirqs must not).

use super::bindings as b;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// A `delayed_work` with its owner. It must not move once started (it lives in a pinned owner).
#[repr(C)]
pub(crate) struct PeriodicWork {
    // First field, and `work` is the first field of `delayed_work`: the callback recovers the
    // `PeriodicWork` from the `work_struct` pointer.
    dw: UnsafeCell<b::delayed_work>,
    owner: AtomicPtr<c_void>,
    handler: UnsafeCell<Option<fn(*const c_void, *const ())>>,
    /// The owner's function `start_with` was given (type-erased), or null for `work_run`.
    func: AtomicPtr<()>,
    stopping: AtomicBool,
}

// SAFETY: the delayed_work is only touched through the workqueue API, which synchronises;
// `handler` is written once before the work is queued.
unsafe impl Sync for PeriodicWork {}
// SAFETY: as above.
unsafe impl Send for PeriodicWork {}

unsafe extern "C" fn work_fn(w: *mut b::work_struct) {
    // SAFETY: `w` is the first field of the `delayed_work` that is the first field of a
    // `#[repr(C)] PeriodicWork`, which outlives the work (`stop` cancels it synchronously
    // before its owner is dropped).
    let pw = unsafe { &*(w as *const PeriodicWork) };
    let owner = pw.owner.load(Ordering::Acquire);
    // SAFETY: set in `start` before queueing; never changed while queued.
    if let Some(h) = unsafe { *pw.handler.get() } {
        h(owner, pw.func.load(Ordering::Acquire));
    }
}

/// What a `PeriodicWork` calls (in process context, from the system_long workqueue).
pub(crate) trait WorkOwner: Sync {
    fn work_run(&self);
}

fn call_owner<T: WorkOwner>(owner: *const c_void, _f: *const ()) {
    // SAFETY: `owner` was a `&T` in `start`, and `T` outlives the work (see `start`).
    if let Some(o) = unsafe { (owner as *const T).as_ref() } {
        o.work_run();
    }
}

fn call_with<T: Sync>(owner: *const c_void, f: *const ()) {
    // SAFETY: `f` is the `fn(&T)` given to `start_with` with this `T` (same size as a data
    // pointer on every target the kernel supports), never null there.
    let f: fn(&T) = unsafe { core::mem::transmute::<*const (), fn(&T)>(f) };
    // SAFETY: `owner` was a `&T` in `start_with`, and `T` outlives the work.
    if let Some(o) = unsafe { (owner as *const T).as_ref() } {
        f(o);
    }
}

impl PeriodicWork {
    pub(crate) const fn new() -> Self {
        Self {
            // SAFETY: a zeroed delayed_work is valid until INIT_DELAYED_WORK initialises it.
            dw: UnsafeCell::new(unsafe { core::mem::zeroed() }),
            owner: AtomicPtr::new(core::ptr::null_mut()),
            handler: UnsafeCell::new(None),
            func: AtomicPtr::new(core::ptr::null_mut()),
            stopping: AtomicBool::new(false),
        }
    }

    /// Queues the work `delay` jiffies from now; it calls `owner.work_run()`. `owner` must
    /// outlive it (call `stop` first), and the work must not move from now on.
    pub(crate) fn start<T: WorkOwner>(&self, owner: &T, delay: u64) {
        self.owner.store(owner as *const T as *mut c_void, Ordering::Release);
        // SAFETY: not queued yet, so nothing reads `handler` concurrently; the init sets up
        // the delayed_work in place, where it stays.
        unsafe {
            *self.handler.get() = Some(call_owner::<T>);
            b::fvs_init_delayed_work(self.dw.get(), Some(work_fn));
        }
        self.rearm(delay);
    }

    /// As `start`, but the work calls `f(owner)`: for an owner with more than one work.
    pub(crate) fn start_with<T: Sync>(&self, owner: &T, f: fn(&T), delay: u64) {
        self.func.store(f as *const () as *mut (), Ordering::Release);
        self.owner.store(owner as *const T as *mut c_void, Ordering::Release);
        // SAFETY: as in `start`.
        unsafe {
            *self.handler.get() = Some(call_with::<T>);
            b::fvs_init_delayed_work(self.dw.get(), Some(work_fn));
        }
        self.rearm(delay);
    }

    /// Queues the work again (from its handler) unless it is being stopped.
    pub(crate) fn rearm(&self, delay: u64) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: initialised by `start`.
        unsafe { b::fvs_queue_delayed_work_long(self.dw.get(), delay as _) };
    }

    /// Runs the work as soon as possible (from any context, softirqs included): moves a
    /// pending run forward, or queues one; a no-op while it is being stopped.
    pub(crate) fn kick(&self) {
        if self.stopping.load(Ordering::Acquire) || self.owner.load(Ordering::Acquire).is_null() {
            return;
        }
        // SAFETY: initialised by `start` (the owner is set after the init).
        unsafe { b::fvs_mod_delayed_work_long(self.dw.get(), 0) };
    }

    /// Cancels the work and waits for a running handler to finish.
    pub(crate) fn stop(&self) {
        if self.owner.load(Ordering::Acquire).is_null() {
            return;
        }
        self.stopping.store(true, Ordering::Release);
        // SAFETY: initialised by `start`; after this returns the handler no longer runs and
        // cannot queue it again (it checks `stopping`).
        unsafe { b::cancel_delayed_work_sync(self.dw.get()) };
    }
}
