//! Network namespaces: `struct net` references and per-namespace state via pernet operations.

use super::bindings as b;
use super::KStatic;
use core::ffi::{c_int, c_uint};
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::NonNull;
use kernel::alloc::KBox;
use kernel::prelude::*;

/// A network namespace that is alive for as long as the caller uses this value: the pernet
/// callbacks, a generic-netlink request or a packet hook all run with their namespace pinned.
#[derive(Clone, Copy)]
pub(crate) struct NetRef(NonNull<b::net>);

impl NetRef {
    /// # Safety
    /// `net` must point to a live `struct net` for as long as the returned value is used.
    pub(crate) unsafe fn from_raw(net: *mut b::net) -> Option<Self> {
        NonNull::new(net).map(Self)
    }

    pub(crate) fn as_ptr(self) -> *mut b::net {
        self.0.as_ptr()
    }

    /// The namespace's /proc/net directory.
    pub(crate) fn proc_net(self) -> *mut b::proc_dir_entry {
        // SAFETY: `self` points to a live `struct net` (type invariant); reading a field is sound.
        unsafe { (*self.0.as_ptr()).proc_net }
    }
}

/// State fvs keeps for every network namespace, created and destroyed by pernet callbacks.
pub(crate) trait PernetState: Sized + Send + Sync + 'static {
    /// The registration record for this state type.
    fn pernet() -> &'static Pernet<Self>;
    /// Builds the state of a new namespace.
    fn init(net: NetRef) -> Result<Pin<KBox<Self>>>;
    /// Tears the state down when the namespace goes away (or the module unloads).
    fn exit(net: NetRef, state: Pin<KBox<Self>>);
    /// Before any namespace state or device goes (`pre_exit`): for what holds references to
    /// the namespace's devices, which the kernel waits for before it can unregister them.
    fn pre_exit(&self) {}
}

/// The pernet_operations of one state type and the id the kernel assigns to it.
pub(crate) struct Pernet<T> {
    ops: KStatic<b::pernet_operations>,
    id: KStatic<c_uint>,
    _t: PhantomData<T>,
}

// SAFETY: see `KStatic`; the type parameter is only a marker.
unsafe impl<T> Sync for Pernet<T> {}

impl<T: PernetState> Pernet<T> {
    pub(crate) const fn new() -> Self {
        Self { ops: KStatic::zeroed(), id: KStatic::zeroed(), _t: PhantomData }
    }

    /// Registers the pernet operations; `T::init` runs for every existing namespace now.
    pub(crate) fn register(&'static self) -> Result {
        // SAFETY: called once from module init before the ops are published to the kernel, so
        // nothing else accesses them; the pointers stored are to statics of this module.
        unsafe {
            let ops = &mut *self.ops.get();
            ops.init = Some(init_cb::<T>);
            ops.exit = Some(exit_cb::<T>);
            ops.pre_exit = Some(pre_exit_cb::<T>);
            ops.id = self.id.get();
            ops.size = core::mem::size_of::<*mut T>();
        }
        // SAFETY: `ops` is a fully initialised static that outlives the registration.
        let ret = unsafe { b::register_pernet_subsys(self.ops.get()) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Unregisters; `T::exit` runs for every namespace.
    pub(crate) fn unregister(&'static self) {
        // SAFETY: the ops were registered by `register`.
        unsafe { b::unregister_pernet_subsys(self.ops.get()) };
    }

    fn slot(&self, net: NetRef) -> *mut *mut T {
        // SAFETY: `id` was assigned by the kernel at registration; `net_generic` returns the
        // per-namespace area of `ops.size` bytes reserved for this id.
        unsafe { b::fvs_net_generic(net.as_ptr(), *self.id.get()) as *mut *mut T }
    }

    /// The state of `net`, if its init has completed.
    pub(crate) fn get(&self, net: NetRef) -> Option<&T> {
        // SAFETY: the slot holds either null or a pointer from `KBox::into_raw` that stays valid
        // until `exit_cb` for this namespace, which cannot run while `net` is in use.
        unsafe { (*self.slot(net)).as_ref() }
    }
}

unsafe extern "C" fn init_cb<T: PernetState>(net: *mut b::net) -> c_int {
    // SAFETY: the kernel passes a live namespace for the duration of the callback.
    let Some(net) = (unsafe { NetRef::from_raw(net) }) else { return -(b::EINVAL as c_int) };
    match T::init(net) {
        Ok(state) => {
            // SAFETY: the state is never moved out of its box again until `exit_cb` rebuilds
            // the `Pin<KBox<T>>`; the slot belongs to this namespace and this id.
            unsafe { *T::pernet().slot(net) = KBox::into_raw(Pin::into_inner_unchecked(state)) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn pre_exit_cb<T: PernetState>(net: *mut b::net) {
    // SAFETY: as in `init_cb`.
    let Some(net) = (unsafe { NetRef::from_raw(net) }) else { return };
    if let Some(state) = T::pernet().get(net) {
        state.pre_exit();
    }
}

unsafe extern "C" fn exit_cb<T: PernetState>(net: *mut b::net) {
    // SAFETY: as in `init_cb`.
    let Some(net) = (unsafe { NetRef::from_raw(net) }) else { return };
    let slot = T::pernet().slot(net);
    // SAFETY: the slot is ours; a non-null value came from `KBox::into_raw` in `init_cb` and is
    // taken exactly once here.
    let state = unsafe {
        let p = *slot;
        *slot = core::ptr::null_mut();
        if p.is_null() {
            return;
        }
        Pin::new_unchecked(KBox::from_raw(p))
    };
    T::exit(net, state);
}

/// Told when a network device goes down or is unregistered (a netdevice notifier).
pub(crate) trait DevDown: 'static {
    /// A device of namespace `net` went down or away (process context, RTNL held).
    fn dev_down(net: NetRef);
}

/// A netdevice notifier calling `H::dev_down`.
pub(crate) struct DevNotifier<H> {
    nb: KStatic<b::notifier_block>,
    _h: PhantomData<H>,
}

// SAFETY: see `KStatic`; the type parameter is only a marker.
unsafe impl<H> Sync for DevNotifier<H> {}

impl<H: DevDown> DevNotifier<H> {
    pub(crate) const fn new() -> Self {
        Self { nb: KStatic::zeroed(), _h: PhantomData }
    }

    /// Registers the notifier (the kernel replays registration events of existing devices,
    /// which it ignores).
    pub(crate) fn register(&'static self) -> Result {
        // SAFETY: module init, before the notifier is published; the block is a static of
        // this module and stays registered until `unregister`.
        let r = unsafe {
            (*self.nb.get()).notifier_call = Some(dev_event_cb::<H>);
            b::register_netdevice_notifier(self.nb.get())
        };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    pub(crate) fn unregister(&'static self) {
        // SAFETY: registered by `register`; after it returns no call is running or will run.
        unsafe { b::unregister_netdevice_notifier(self.nb.get()) };
    }
}

unsafe extern "C" fn dev_event_cb<H: DevDown>(_nb: *mut b::notifier_block, event: core::ffi::c_ulong, ptr: *mut core::ffi::c_void) -> c_int {
    // SAFETY: the kernel passes the event's `netdev_notifier_info`; the device and its
    // namespace are alive for the call.
    if let Some(net) = unsafe { NetRef::from_raw(b::fvs_netdev_down_net(event, ptr)) } {
        H::dev_down(net);
    }
    b::NOTIFY_DONE as c_int
}
