//! A list that lives on the stack while it is short and moves to the heap beyond `N` entries:
//! the packet path's per-connection lists (a service's real servers, the scheduler's view of
//! them) without an allocation for the usual pool of a few servers.

use core::mem::MaybeUninit;
use kernel::alloc::{AllocError, Flags, KVec};

pub(crate) struct SmallVec<T: Copy, const N: usize> {
    /// The first `len` entries are initialised, while `heap` is unused.
    inline: [MaybeUninit<T>; N],
    len: usize,
    /// Every entry, once there were more than `N`.
    heap: KVec<T>,
    spilled: bool,
}

impl<T: Copy, const N: usize> SmallVec<T, N> {
    pub(crate) fn new() -> Self {
        SmallVec { inline: [const { MaybeUninit::uninit() }; N], len: 0, heap: KVec::new(), spilled: false }
    }

    /// Appends `x`; the heap (allocated with `flags`) takes over past `N` entries.
    pub(crate) fn push(&mut self, x: T, flags: Flags) -> Result<(), AllocError> {
        if !self.spilled {
            if self.len < N {
                self.inline[self.len].write(x);
                self.len += 1;
                return Ok(());
            }
            self.heap.reserve(2 * N + 1, flags)?;
            for i in 0..self.len {
                // SAFETY: entries below `len` were written by `push`.
                let v = unsafe { self.inline[i].assume_init() };
                self.heap.push(v, flags)?;
            }
            self.spilled = true;
        }
        self.heap.push(x, flags)
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        if self.spilled {
            return &self.heap;
        }
        // SAFETY: the first `len` entries are initialised and `MaybeUninit<T>` has `T`'s layout.
        unsafe { core::slice::from_raw_parts(self.inline.as_ptr().cast::<T>(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        if self.spilled {
            return &mut self.heap;
        }
        // SAFETY: as `as_slice`, and `self` is borrowed mutably.
        unsafe { core::slice::from_raw_parts_mut(self.inline.as_mut_ptr().cast::<T>(), self.len) }
    }
}
