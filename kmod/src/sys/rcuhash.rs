//! An RCU hash table of slab-allocated entries, as ip_vs keeps its connections: lookups walk a
//! bucket's chain under `rcu_read_lock` with no lock at all; changes take the bucket's own lock
//! (bit 0 of the head pointer, as `hlist_bl` does), so writers on different buckets never
//! contend; unlinked entries are freed by `call_rcu` after a grace period, and `SlabCache::
//! destroy` waits for every pending free (`rcu_barrier`) before the cache goes.

use super::bindings as b;
use super::rcu::RcuGuard;
use core::ffi::CStr;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use kernel::alloc::{KBox, KVVec};
use kernel::prelude::*;

/// A slab cache for one type of table entry.
pub(crate) struct SlabCache(AtomicPtr<b::kmem_cache>);

impl SlabCache {
    pub(crate) const fn new() -> Self {
        Self(AtomicPtr::new(ptr::null_mut()))
    }

    /// Creates the cache for `T`'s table nodes (module init).
    pub(crate) fn create<T: SlabObject>(&self, name: &'static CStr) -> Result {
        let size = core::mem::size_of::<Node<T>>() as u32;
        // SAFETY: `name` is a static C string; the cache is destroyed in `destroy`.
        let c = unsafe { b::fvs_kmem_cache_create(name.as_ptr(), size) };
        if c.is_null() {
            return Err(ENOMEM);
        }
        self.0.store(c, Ordering::Release);
        Ok(())
    }

    /// Size of one object in the cache, alignment included (what an entry really costs).
    pub(crate) fn object_size(&self) -> u32 {
        let c = self.0.load(Ordering::Acquire);
        if c.is_null() {
            return 0;
        }
        // SAFETY: a live cache.
        unsafe { b::kmem_cache_size(c) }
    }

    /// Waits for every pending RCU free, then destroys the cache (module exit, after every
    /// table has been emptied). The kernel reports objects still allocated at this point.
    pub(crate) fn destroy(&self) {
        let c = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: no preconditions; after it returns no callback of this module is pending.
        unsafe { b::rcu_barrier() };
        if !c.is_null() {
            // SAFETY: created by `create`; nothing allocates from it any more.
            unsafe { b::kmem_cache_destroy(c) };
        }
    }

    fn raw(&self) -> *mut b::kmem_cache {
        self.0.load(Ordering::Acquire)
    }
}

/// A type stored in an `RcuHash`.
pub(crate) trait SlabObject: Sized + Send + Sync + 'static {
    /// The cache its nodes come from.
    fn cache() -> &'static SlabCache;

    /// The entry's hold counter, if entries can be held (`EntryRef`): a held entry is never
    /// unlinked. Must return the same counter every time.
    fn holds(&self) -> Option<&AtomicU32> {
        None
    }
}

/// The hold counter of an entry being unlinked: no new hold can be taken.
const DEAD: u32 = u32::MAX;

/// A hold on a table entry (as ip_vs's `cp->control` and `n_control`): while it exists the
/// entry stays linked, so it stays valid.
pub(crate) struct EntryRef<T: SlabObject>(NonNull<T>);

// SAFETY: a shared reference to a `Sync` entry that cannot be freed while held.
unsafe impl<T: SlabObject> Send for EntryRef<T> {}
// SAFETY: as above.
unsafe impl<T: SlabObject> Sync for EntryRef<T> {}

impl<T: SlabObject> EntryRef<T> {
    /// Holds `e` (found in a table under RCU) unless it is being unlinked.
    pub(crate) fn try_hold(e: &T) -> Option<Self> {
        let h = e.holds()?;
        let mut cur = h.load(Ordering::Relaxed);
        loop {
            if cur == DEAD || cur == DEAD - 1 {
                return None;
            }
            match h.compare_exchange_weak(cur, cur + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(Self(NonNull::from(e))),
                Err(x) => cur = x,
            }
        }
    }

    pub(crate) fn get(&self) -> &T {
        // SAFETY: a held entry is never unlinked (`Bucket::remove_if` refuses it), so it is
        // never freed while this hold exists.
        unsafe { self.0.as_ref() }
    }
}

impl<T: SlabObject> Drop for EntryRef<T> {
    fn drop(&mut self) {
        if let Some(h) = self.get().holds() {
            h.fetch_sub(1, Ordering::Release);
        }
    }
}

/// A word that holds either a hold on another entry (a connection's control) or an owned side
/// object (a template's persistence-engine data), never both: a controlled connection is never
/// a template. Bit 0 tags the owned box (entries and boxes are at least 2-byte aligned), so an
/// entry pays one word for whichever it has.
pub(crate) struct LinkSlot<T: SlabObject, S>(AtomicPtr<u8>, PhantomData<(*const T, KBox<S>)>);

// SAFETY: the untagged pointer is a hold (see `EntryRef`); the tagged one an owned `KBox<S>`
// that is only read through `&self` and freed on drop.
unsafe impl<T: SlabObject, S: Send + Sync> Send for LinkSlot<T, S> {}
// SAFETY: as above.
unsafe impl<T: SlabObject, S: Send + Sync> Sync for LinkSlot<T, S> {}

const OWNED: usize = 1;

impl<T: SlabObject, S> LinkSlot<T, S> {
    /// A hold on `r`, or nothing.
    pub(crate) fn hold(r: Option<EntryRef<T>>) -> Self {
        let p = match r {
            Some(r) => {
                let p = r.0.as_ptr().cast::<u8>();
                core::mem::forget(r);
                p
            }
            None => ptr::null_mut(),
        };
        Self(AtomicPtr::new(p), PhantomData)
    }

    /// An owned side object.
    pub(crate) fn owned(b: KBox<S>) -> Self {
        const { assert!(core::mem::align_of::<S>() >= 2 && core::mem::align_of::<T>() >= 2) };
        let p = KBox::into_raw(b).cast::<u8>();
        Self(AtomicPtr::new(p.wrapping_byte_add(OWNED)), PhantomData)
    }

    /// The held entry, if the slot holds one.
    pub(crate) fn get_hold<'g>(&'g self, _g: &'g RcuGuard) -> Option<&'g T> {
        let p = self.0.load(Ordering::Acquire);
        if p as usize & OWNED != 0 {
            return None;
        }
        // SAFETY: an untagged non-null pointer was a held (hence linked) entry when loaded; if
        // the hold is released concurrently, the entry can only be unlinked afterwards and is
        // freed a grace period after that, so it stays valid during the read-side section 'g.
        unsafe { p.cast::<T>().as_ref() }
    }

    /// The owned side object, if the slot has one (it lives as long as the slot).
    pub(crate) fn get_owned(&self) -> Option<&S> {
        let p = self.0.load(Ordering::Acquire);
        if p as usize & OWNED == 0 {
            return None;
        }
        // SAFETY: a tagged pointer is a `KBox<S>` turned raw in `owned`; it is only freed by
        // `drop`, which cannot run while `&self` is borrowed.
        unsafe { p.wrapping_byte_sub(OWNED).cast::<S>().as_ref() }
    }

    /// Gives up the hold, if any (an owned object stays until the slot is dropped).
    pub(crate) fn release(&self) {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            if cur.is_null() || cur as usize & OWNED != 0 {
                return;
            }
            match self.0.compare_exchange(cur, ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(x) => cur = x,
            }
        }
        if let Some(p) = NonNull::new(cur.cast::<T>()) {
            drop(EntryRef(p));
        }
    }
}

impl<T: SlabObject, S> Drop for LinkSlot<T, S> {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if p as usize & OWNED != 0 {
            // SAFETY: the tagged pointer came from `KBox::into_raw` in `owned` and is freed
            // only here.
            drop(unsafe { KBox::from_raw(p.wrapping_byte_sub(OWNED).cast::<S>()) });
        } else {
            self.release();
        }
    }
}

#[repr(C)]
struct Node<T> {
    // First field: the RCU callback gets a pointer to it and recovers the node.
    rcu: b::callback_head,
    next: AtomicPtr<Node<T>>,
    val: T,
}

unsafe extern "C" fn free_node<T: SlabObject>(head: *mut b::callback_head) {
    let n = head as *mut Node<T>;
    // SAFETY: `head` is the first field of a `#[repr(C)] Node<T>` that was unlinked before the
    // grace period that has now ended, so no reader can still see it; it was initialised by
    // `insert` and is dropped and freed exactly once, here.
    unsafe {
        ptr::drop_in_place(ptr::addr_of_mut!((*n).val));
        b::kmem_cache_free(T::cache().raw(), n as *mut core::ffi::c_void);
    }
}

const LOCKED: usize = 1;

pub(crate) struct RcuHash<T: SlabObject> {
    heads: KVVec<AtomicUsize>,
    _t: PhantomData<T>,
}

// SAFETY: entries are `Send + Sync`; heads are atomics; entries are only freed after a grace
// period following their unlinking under the bucket lock.
unsafe impl<T: SlabObject> Send for RcuHash<T> {}
// SAFETY: as above.
unsafe impl<T: SlabObject> Sync for RcuHash<T> {}

fn first<T>(head: usize) -> *mut Node<T> {
    (head & !LOCKED) as *mut Node<T>
}

impl<T: SlabObject> RcuHash<T> {
    /// An empty table of `size` buckets.
    pub(crate) fn new(size: usize) -> Result<Self> {
        let mut heads = KVVec::with_capacity(size, GFP_KERNEL)?;
        for _ in 0..size {
            heads.push(AtomicUsize::new(0), GFP_KERNEL)?;
        }
        Ok(Self { heads, _t: PhantomData })
    }

    pub(crate) fn buckets(&self) -> usize {
        self.heads.len()
    }

    /// The first entry of bucket `bucket` for which `pred` holds, found without locking.
    pub(crate) fn find<'g>(&'g self, _g: &'g RcuGuard, bucket: usize, mut pred: impl FnMut(&T) -> bool) -> Option<&'g T> {
        let mut p = first::<T>(self.heads.get(bucket)?.load(Ordering::Acquire));
        while !p.is_null() {
            // SAFETY: `p` was reachable from the table during this RCU read-side section, so it
            // is not freed before the guard (lifetime 'g) ends.
            let n = unsafe { &*p };
            if pred(&n.val) {
                return Some(&n.val);
            }
            p = n.next.load(Ordering::Acquire);
        }
        None
    }

    /// Links `val` into `bucket` unless an entry for which `same` holds is there already; either
    /// way returns the entry in the table, valid for the read-side section `g`. `linked` runs
    /// on a new entry under the bucket lock. `Err(ENOMEM)` when no memory. Bottom halves off.
    pub(crate) fn insert_or_get<'g>(
        &'g self,
        _g: &'g RcuGuard,
        bucket: usize,
        val: T,
        same: impl FnMut(&T) -> bool,
        linked: impl FnOnce(&T),
    ) -> Result<&'g T> {
        let mut b = self.lock(bucket).ok_or(EINVAL)?;
        let p: *const T = match b.find(same) {
            Some(v) => v,
            None => match b.insert(val) {
                Ok(v) => {
                    linked(v);
                    v
                }
                Err(_) => return Err(ENOMEM),
            },
        };
        drop(b);
        // SAFETY: the entry was linked in the table while the caller's RCU read-side section
        // was open; it is freed only a grace period after being unlinked, so not before 'g ends.
        Ok(unsafe { &*p })
    }

    /// Locks one bucket. Bottom halves must be off (packet path, timers, or a `BhGuard`).
    pub(crate) fn lock(&self, bucket: usize) -> Option<Bucket<'_, T>> {
        let head = self.heads.get(bucket)?;
        loop {
            if head.fetch_or(LOCKED, Ordering::Acquire) & LOCKED == 0 {
                return Some(Bucket { head, _t: PhantomData });
            }
            while head.load(Ordering::Relaxed) & LOCKED != 0 {
                core::hint::spin_loop();
            }
        }
    }
}

impl<T: SlabObject> Drop for RcuHash<T> {
    fn drop(&mut self) {
        // The owner empties the table first (see `Bucket::remove_if`); anything left is a bug,
        // but freeing it after a grace period is still right.
        for i in 0..self.heads.len() {
            if let Some(mut b) = self.lock(i) {
                b.remove_if(|_| true, |_| {});
            }
        }
    }
}

/// A locked bucket; unlocks when dropped.
pub(crate) struct Bucket<'a, T: SlabObject> {
    head: &'a AtomicUsize,
    _t: PhantomData<T>,
}

impl<'a, T: SlabObject> Bucket<'a, T> {
    /// The first entry for which `pred` holds.
    pub(crate) fn find(&self, mut pred: impl FnMut(&T) -> bool) -> Option<&T> {
        let mut p = first::<T>(self.head.load(Ordering::Relaxed));
        while !p.is_null() {
            // SAFETY: entries of a locked bucket cannot be unlinked (and so not freed) by
            // anyone else while the lock is held, and the returned borrow ends with it.
            let n = unsafe { &*p };
            if pred(&n.val) {
                return Some(&n.val);
            }
            p = n.next.load(Ordering::Relaxed);
        }
        None
    }

    /// Links a new entry at the head of the chain; `Err(val)` back when no memory.
    pub(crate) fn insert(&mut self, val: T) -> core::result::Result<&T, T> {
        // SAFETY: the cache was created for `Node<T>` objects.
        let n = unsafe { b::fvs_kmem_cache_alloc_atomic(T::cache().raw()) } as *mut Node<T>;
        let Some(n) = NonNull::new(n) else { return Err(val) };
        let n = n.as_ptr();
        let old = first::<T>(self.head.load(Ordering::Relaxed));
        // SAFETY: `n` is a fresh, suitably sized and aligned object from the cache; it is
        // fully initialised before it is published with release ordering.
        unsafe {
            ptr::write(
                n,
                Node {
                    rcu: core::mem::zeroed(),
                    next: AtomicPtr::new(old),
                    val,
                },
            );
        }
        self.head.store(n as usize | LOCKED, Ordering::Release);
        // SAFETY: just linked; it stays valid at least as long as the bucket lock.
        Ok(unsafe { &(*n).val })
    }

    /// Unlinks every entry for which `pred` holds, calls `unlinked` on it, and frees it after
    /// a grace period. Returns how many went.
    pub(crate) fn remove_if(&mut self, mut pred: impl FnMut(&T) -> bool, mut unlinked: impl FnMut(&T)) -> usize {
        let mut n = 0;
        // `prev`: None = the head word, else the previous node's `next`.
        let mut prev: Option<&AtomicPtr<Node<T>>> = None;
        let mut p = first::<T>(self.head.load(Ordering::Relaxed));
        while !p.is_null() {
            // SAFETY: linked in this locked bucket: valid while we hold the lock.
            let node = unsafe { &*p };
            let next = node.next.load(Ordering::Relaxed);
            // A held entry stays; an unheld one is marked so that no hold can start.
            let free = |v: &T| {
                v.holds().is_none_or(|h| h.compare_exchange(0, DEAD, Ordering::Acquire, Ordering::Relaxed).is_ok())
            };
            if pred(&node.val) && free(&node.val) {
                match prev {
                    None => self.head.store(next as usize | LOCKED, Ordering::Release),
                    Some(link) => link.store(next, Ordering::Release),
                }
                unlinked(&node.val);
                // SAFETY: unlinked: readers that still see it are in RCU read-side sections,
                // which the grace period before `free_node` runs waits for. `rcu` is ours.
                unsafe { b::call_rcu(ptr::addr_of_mut!((*p).rcu), Some(free_node::<T>)) };
                n += 1;
            } else {
                prev = Some(&node.next);
            }
            p = next;
        }
        n
    }
}

impl<T: SlabObject> Drop for Bucket<'_, T> {
    fn drop(&mut self) {
        self.head.fetch_and(!LOCKED, Ordering::Release);
    }
}
