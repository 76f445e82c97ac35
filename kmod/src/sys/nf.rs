//! Netfilter hooks: registration per namespace and the typed entry trampoline.

use super::bindings as b;
use super::net::NetRef;
use super::KStatic;
use core::ffi::{c_uint, c_void};
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use kernel::prelude::*;

/// What a hook decides for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let the packet continue through the stack.
    Accept,
    /// Drop (netfilter frees the skb).
    Drop,
    /// fvs took ownership of the skb (transmitted or freed it).
    Stolen,
}

impl Verdict {
    fn raw(self) -> c_uint {
        match self {
            Verdict::Accept => b::NF_ACCEPT,
            Verdict::Drop => b::NF_DROP,
            Verdict::Stolen => b::NF_STOLEN,
        }
    }
}

/// Protocol families fvs hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Ipv4,
    Ipv6,
}

/// Hook points fvs uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookPoint {
    LocalIn,
    Forward,
    LocalOut,
}

/// The packet a hook sees. Valid for the duration of the hook call only.
///
/// Operations that hand the skb on (transmit) or free it mark it consumed; the hook trampoline
/// then reports `NF_STOLEN` whatever the hook returns, so a consumed skb is never touched again
/// and an unconsumed one is never leaked (a `Stolen` verdict on it becomes `NF_DROP`).
pub(crate) struct Skb(pub(super) NonNull<b::sk_buff>, pub(super) bool);

impl Skb {
    /// The skb, while fvs still holds it (not yet transmitted or freed).
    pub(super) fn ptr(&self) -> Option<*mut b::sk_buff> {
        if self.1 {
            None
        } else {
            Some(self.0.as_ptr())
        }
    }

    /// Length of the packet data in bytes.
    pub(crate) fn len(&self) -> u32 {
        let Some(p) = self.ptr() else { return 0 };
        // SAFETY: netfilter hands the hook a valid skb it owns for the call (not consumed).
        unsafe { (*p).len }
    }

    /// The packet's firewall mark.
    pub(crate) fn mark(&self) -> u32 {
        let Some(p) = self.ptr() else { return 0 };
        // SAFETY: valid skb for the hook call.
        unsafe { b::fvs_skb_mark(p) }
    }

    /// The first `buf.len()` bytes (or fewer, if the packet is shorter) from the network header:
    /// a view into the skb when they are linear, else a copy into `buf`.
    pub(crate) fn headers<'a>(&'a self, buf: &'a mut [u8]) -> &'a [u8] {
        self.bytes_at(0, buf)
    }

    /// As `headers`, into a buffer that need not be initialised (only the bytes returned are
    /// read: the packet's own, or those copied into `buf`).
    pub(crate) fn headers_uninit<'a>(&'a self, buf: &'a mut [MaybeUninit<u8>]) -> &'a [u8] {
        let Some(skb) = self.ptr() else { return &[] };
        let n = (self.len() as usize).min(buf.len());
        if n == 0 {
            return &[];
        }
        // SAFETY: as in `bytes_at`; `skb_header_pointer` writes the `n` bytes it returns into
        // `buf` when it copies, so the slice covers initialised memory only.
        unsafe {
            let p = b::fvs_skb_header_pointer(skb, 0, n as i32, buf.as_mut_ptr() as *mut _);
            if p.is_null() {
                return &[];
            }
            core::slice::from_raw_parts(p as *const u8, n)
        }
    }

    /// As `headers`, from `off` bytes after the network header.
    pub(crate) fn bytes_at<'a>(&'a self, off: u32, buf: &'a mut [u8]) -> &'a [u8] {
        let Some(skb) = self.ptr() else { return &[] };
        let n = (self.len().saturating_sub(off) as usize).min(buf.len());
        if n == 0 || off > i32::MAX as u32 {
            return &[];
        }
        // SAFETY: at LOCAL_IN/FORWARD `skb->data` is the network header; `skb_header_pointer`
        // returns either a pointer into the skb's linear data valid for `n` bytes while we hold
        // the skb, or `buf` after copying `n` bytes into it.
        unsafe {
            let p = b::fvs_skb_header_pointer(skb, off as i32, n as i32, buf.as_mut_ptr() as *mut _);
            if p.is_null() {
                return &[];
            }
            core::slice::from_raw_parts(p as *const u8, n)
        }
    }
}

/// The hook call's context.
pub(crate) struct HookState<'a>(&'a b::nf_hook_state, core::mem::ManuallyDrop<super::rcu::RcuGuard>);

impl HookState<'_> {
    /// The RCU read-side section the hook runs in.
    pub(crate) fn rcu(&self) -> &super::rcu::RcuGuard {
        &self.1
    }

    /// The packet is at LOCAL_IN.
    pub(crate) fn is_local_in(&self) -> bool {
        u32::from(self.0.hook) == b::nf_inet_hooks_NF_INET_LOCAL_IN
    }

    pub(crate) fn net(&self) -> Option<NetRef> {
        // SAFETY: `state->net` is the namespace the packet traverses, alive during the hook.
        unsafe { NetRef::from_raw(self.0.net) }
    }
}

/// A packet hook implementation: one zero-sized type per entry point.
pub(crate) trait Hook {
    fn hook(skb: &mut Skb, state: &HookState<'_>) -> Verdict;
}

unsafe extern "C" fn hook_trampoline<H: Hook>(
    _priv: *mut c_void,
    skb: *mut b::sk_buff,
    state: *const b::nf_hook_state,
) -> c_uint {
    let (Some(skb), Some(state)) = (NonNull::new(skb), NonNull::new(state as *mut b::nf_hook_state)) else {
        return b::NF_ACCEPT;
    };
    // One call: a packet fvs already handled (`ipvs_property`) passes every fvs hook by;
    // otherwise softirqs are disabled if the hook runs in process context (LOCAL_OUT, a
    // packet reinjected by nfnetlink_queue), as the packet path's locks need.
    // SAFETY: a valid skb owned by netfilter for the call.
    let pro = unsafe { b::fvs_hook_prologue(skb.as_ptr()) };
    if pro & b::FVS_HOOK_SKIP != 0 {
        return b::NF_ACCEPT;
    }
    let mut skb = Skb(skb, false);
    // SAFETY: netfilter passes a valid hook state that outlives this call, and runs its hooks
    // inside an RCU read-side section (`nf_hook`, nfnetlink_queue's reinjection under
    // NFNL_CB_RCU, the bridge's hooks) that outlives it too.
    let state = HookState(unsafe { state.as_ref() }, unsafe { super::rcu::RcuGuard::enclosing() });
    #[cfg(not(fvs_prof))]
    let v = H::hook(&mut skb, &state);
    // `make module-prof`: the call timed by hook point, and the cost of one measurement.
    #[cfg(fvs_prof)]
    let v = {
        use super::prof::Sec;
        let sec = match u32::from(state.0.hook) {
            b::nf_inet_hooks_NF_INET_LOCAL_IN => Sec::HookLocalIn,
            b::nf_inet_hooks_NF_INET_FORWARD => Sec::HookForward,
            _ => Sec::HookLocalOut,
        };
        crate::prof!(Sec::Timer, ());
        crate::prof!(sec, H::hook(&mut skb, &state))
    };
    if pro & b::FVS_HOOK_BH != 0 {
        // SAFETY: paired with the prologue's local_bh_disable on this CPU.
        unsafe { b::fvs_local_bh_enable() };
    }
    if skb.1 {
        return b::NF_STOLEN;
    }
    match v {
        Verdict::Stolen => b::NF_DROP,
        v => v.raw(),
    }
}

/// One hook registration: family, hook point, priority and entry point.
pub(crate) struct HookSpec {
    family: Family,
    point: HookPoint,
    priority: i32,
    entry: unsafe extern "C" fn(*mut c_void, *mut b::sk_buff, *const b::nf_hook_state) -> c_uint,
}

impl HookSpec {
    pub(crate) const fn new<H: Hook>(family: Family, point: HookPoint, priority: i32) -> Self {
        Self { family, point, priority, entry: hook_trampoline::<H> }
    }
}

/// A fixed set of hook ops, shared by all namespaces and registered in each.
pub(crate) struct HookSet<const N: usize> {
    ops: KStatic<[b::nf_hook_ops; N]>,
}

impl<const N: usize> HookSet<N> {
    pub(crate) const fn new() -> Self {
        Self { ops: KStatic::zeroed() }
    }

    /// Fills the ops; called once from module init before any namespace registers them.
    pub(crate) fn init(&'static self, specs: &[HookSpec; N]) {
        // SAFETY: module init runs before any registration, so nothing else reads the ops.
        let ops = unsafe { &mut *self.ops.get() };
        for (op, spec) in ops.iter_mut().zip(specs.iter()) {
            op.hook = Some(spec.entry);
            op.pf = match spec.family {
                Family::Ipv4 => b::NFPROTO_IPV4 as u8,
                Family::Ipv6 => b::NFPROTO_IPV6 as u8,
            };
            op.hooknum = match spec.point {
                HookPoint::LocalIn => b::nf_inet_hooks_NF_INET_LOCAL_IN,
                HookPoint::Forward => b::nf_inet_hooks_NF_INET_FORWARD,
                HookPoint::LocalOut => b::nf_inet_hooks_NF_INET_LOCAL_OUT,
            } as _;
            op.priority = spec.priority;
        }
    }

    /// Registers the `n` hooks from `start` (a family's share of the set) in `net`.
    pub(crate) fn register(&'static self, net: NetRef, start: usize, n: usize) -> Result {
        if start.checked_add(n).is_none_or(|end| end > N) {
            return Err(EINVAL);
        }
        // SAFETY: the ops are initialised and static, and `start + n <= N` keeps the range
        // inside the array; the kernel copies what it needs.
        let ret = unsafe { b::nf_register_net_hooks(net.as_ptr(), (self.ops.get() as *const b::nf_hook_ops).add(start), n as u32) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Removes hooks `register` put in `net` (the same range); waits for running calls.
    pub(crate) fn unregister(&'static self, net: NetRef, start: usize, n: usize) {
        if start.checked_add(n).is_none_or(|end| end > N) {
            return;
        }
        // SAFETY: the range was registered in this namespace by `register`.
        unsafe { b::nf_unregister_net_hooks(net.as_ptr(), (self.ops.get() as *const b::nf_hook_ops).add(start), n as u32) };
    }
}
