//! RCU for fvs's rule tables: read-side guards, grace periods, and `RcuList<T>`, a singly linked
//! list that readers walk locklessly under an `RcuGuard` while one writer at a time (holding the
//! namespace's `WriteLock`) adds and unlinks entries. Unlinked entries are freed only after a
//! grace period, so a reader never sees freed memory.

use super::bindings as b;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex, MutexGuard};

/// An RCU read-side critical section; `!Send`, ends when dropped.
pub(crate) struct RcuGuard(PhantomData<*mut ()>);

impl RcuGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: rcu_read_lock has no preconditions; the matching unlock is in `drop`.
        unsafe { b::fvs_rcu_read_lock() };
        Self(PhantomData)
    }
}

impl RcuGuard {
    /// A guard for an RCU read-side section the caller is already in and that outlives the
    /// returned value (a netfilter hook: `nf_hook()` and every other caller of the hook
    /// functions hold `rcu_read_lock`). It must never be dropped, which would end a section
    /// it did not start: hence `ManuallyDrop`.
    ///
    /// # Safety
    /// The caller is inside an RCU read-side section that lasts as long as the value.
    pub(crate) unsafe fn enclosing() -> core::mem::ManuallyDrop<Self> {
        core::mem::ManuallyDrop::new(Self(PhantomData))
    }
}

impl Drop for RcuGuard {
    fn drop(&mut self) {
        // SAFETY: paired with the lock taken in `new` on this thread (the guard is `!Send`).
        unsafe { b::fvs_rcu_read_unlock() };
    }
}

/// Waits until every RCU reader that might see an unlinked entry has finished.
pub(crate) fn synchronize() {
    // SAFETY: called from process context (control path), never under a spinlock or RCU lock.
    unsafe { b::synchronize_rcu() };
}

/// The lock that serialises the writers of a namespace's rule tables.
#[pin_data]
pub(crate) struct WriteLock<T> {
    #[pin]
    m: Mutex<T>,
}

impl<T> WriteLock<T> {
    pub(crate) fn new(v: T) -> impl PinInit<Self> {
        pin_init!(Self { m <- new_mutex!(v, "fvs_ctl") })
    }

    pub(crate) fn lock(&self) -> WriteGuard<'_, T> {
        WriteGuard(self.m.lock())
    }
}

/// The locked state, plus the right to write the RCU lists it guards.
pub(crate) struct WriteGuard<'a, T>(MutexGuard<'a, T>);

impl<T> WriteGuard<'_, T> {
    /// A token for writing the lists of the namespace that owns this lock.
    pub(crate) fn writer(&self) -> Writer<'_> {
        Writer(PhantomData)
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Unpin> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Proof that the caller holds the `WriteLock` of the namespace whose lists it writes. fvs only
/// reaches a list through the `NetState` that owns the lock, so writers are serialised.
#[derive(Clone, Copy)]
pub(crate) struct Writer<'a>(PhantomData<&'a ()>);

struct Node<T> {
    next: AtomicPtr<Node<T>>,
    val: T,
}

/// An RCU-protected singly linked list (newest first).
pub(crate) struct RcuList<T> {
    head: AtomicPtr<Node<T>>,
}

// SAFETY: readers only get `&T` (needs `T: Sync`); values move between threads when freed (`Send`).
unsafe impl<T: Send + Sync> Sync for RcuList<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for RcuList<T> {}

impl<T> RcuList<T> {
    pub(crate) const fn new() -> Self {
        Self { head: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Publishes `val` at the front.
    pub(crate) fn push_front(&self, val: T, _w: Writer<'_>) -> Result {
        let node = KBox::new(Node { next: AtomicPtr::new(self.head.load(Ordering::Relaxed)), val }, GFP_KERNEL)?;
        // Release: a reader that sees the new head sees the node's contents (rcu_assign_pointer).
        self.head.store(KBox::into_raw(node), Ordering::Release);
        Ok(())
    }

    /// Walks the list under an RCU read lock.
    pub(crate) fn iter<'g>(&'g self, _g: &'g RcuGuard) -> Iter<'g, T> {
        Iter { cur: self.head.load(Ordering::Acquire), _l: PhantomData }
    }

    /// Walks the list as its writer (no reader can free entries under a writer).
    pub(crate) fn iter_w<'g>(&'g self, _w: Writer<'g>) -> Iter<'g, T> {
        Iter { cur: self.head.load(Ordering::Acquire), _l: PhantomData }
    }

    /// Unlinks the first entry matching `pred`; it is freed after a grace period.
    pub(crate) fn remove_first(&self, w: Writer<'_>, pred: impl Fn(&T) -> bool) -> Option<Retired<T>> {
        let mut link = &self.head;
        loop {
            let cur = link.load(Ordering::Relaxed);
            if cur.is_null() {
                return None;
            }
            // SAFETY: entries stay allocated while linked; only the writer (us) unlinks them.
            let node = unsafe { &*cur };
            if pred(&node.val) {
                link.store(node.next.load(Ordering::Relaxed), Ordering::Release);
                // The unlinked node keeps its `next`: readers standing on it can walk on.
                let mut r = Retired::new(w);
                r.add(cur);
                return Some(r);
            }
            link = &node.next;
        }
    }

    /// Unlinks every entry at once; they are freed after a grace period.
    pub(crate) fn take_all(&self, w: Writer<'_>, into: &mut Retired<T>) {
        let first = self.head.swap(ptr::null_mut(), Ordering::AcqRel);
        let _ = w;
        let mut cur = first;
        while !cur.is_null() {
            // SAFETY: the chain was ours to unlink; nodes stay allocated until `into` drops.
            let next = unsafe { (*cur).next.load(Ordering::Relaxed) };
            into.add(cur);
            cur = next;
        }
    }
}

impl<T> Drop for RcuList<T> {
    fn drop(&mut self) {
        // The list's owner is going away: no reader or writer can reach it any more (the
        // namespace is being torn down after its hooks and control interfaces are gone).
        let mut cur = *self.head.get_mut();
        while !cur.is_null() {
            // SAFETY: every node came from `KBox::into_raw` and is freed exactly once here.
            let node = unsafe { KBox::from_raw(cur) };
            cur = node.next.load(Ordering::Relaxed);
        }
    }
}

pub(crate) struct Iter<'g, T> {
    cur: *mut Node<T>,
    _l: PhantomData<&'g T>,
}

impl<'g, T> Iterator for Iter<'g, T> {
    type Item = &'g T;
    fn next(&mut self) -> Option<&'g T> {
        if self.cur.is_null() {
            return None;
        }
        // SAFETY: the node was reachable from the list while the RCU guard (or writer token) of
        // lifetime 'g is held, so it is not freed before 'g ends.
        let node = unsafe { &*self.cur };
        self.cur = node.next.load(Ordering::Acquire);
        Some(&node.val)
    }
}

/// Unlinked entries waiting for a grace period; dropping waits (`synchronize_rcu`) once for all
/// of them, then frees them.
pub(crate) struct Retired<T> {
    nodes: KVec<*mut Node<T>>,
    leaked: bool,
}

impl<T> Retired<T> {
    pub(crate) fn new(_w: Writer<'_>) -> Self {
        Self { nodes: KVec::new(), leaked: false }
    }

    fn add(&mut self, n: *mut Node<T>) {
        if self.nodes.push(n, GFP_KERNEL).is_err() {
            // Out of memory for bookkeeping: wait for readers now and free this node at once.
            synchronize();
            // SAFETY: unlinked and past a grace period; from `KBox::into_raw`.
            drop(unsafe { KBox::from_raw(n) });
        }
    }

}

impl<T> Drop for Retired<T> {
    fn drop(&mut self) {
        if self.nodes.is_empty() || self.leaked {
            return;
        }
        synchronize();
        for &n in self.nodes.iter() {
            // SAFETY: unlinked before the grace period that just ended; each freed once.
            drop(unsafe { KBox::from_raw(n) });
        }
    }
}
