//! Per-CPU counters: `N` u64s per CPU, added to on the packet path without atomics or locks
//! (`this_cpu_add`) and summed over all possible CPUs when read.

use super::bindings as b;
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::prelude::*;

pub(crate) struct PerCpuU64s<const N: usize> {
    p: NonNull<c_void>,
}

// SAFETY: the per-CPU area is only written by `this_cpu_add` on the owning CPU (one instruction,
// safe against preemption and interrupts) and read with `READ_ONCE`; 64-bit loads and stores
// do not tear on the 64-bit architectures fvs builds for.
unsafe impl<const N: usize> Send for PerCpuU64s<N> {}
// SAFETY: as above.
unsafe impl<const N: usize> Sync for PerCpuU64s<N> {}

impl<const N: usize> PerCpuU64s<N> {
    /// Zeroed counters on every possible CPU.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain allocation (per-CPU memory comes zero-filled), freed in `drop`.
        let p = unsafe { b::fvs_alloc_percpu(N * 8, 8) };
        NonNull::new(p).map(|p| Self { p }).ok_or(ENOMEM)
    }

    /// Adds `v` to counter `idx` of this CPU.
    pub(crate) fn add(&self, idx: usize, v: u64) {
        if idx < N {
            // SAFETY: `p` is a live per-CPU area of N u64s and `idx < N`.
            unsafe { b::fvs_percpu_u64_add(self.p.as_ptr(), idx as u32, v) }
        }
    }

    /// `add2` on three areas at once.
    pub(crate) fn add2_x3(a: &Self, b2: &Self, c: &Self, i1: usize, v1: u64, i2: usize, v2: u64) {
        if i1 < N && i2 < N {
            // SAFETY: three live per-CPU areas of N u64s; both indices are below N.
            unsafe {
                b::fvs_percpu_u64_add2_x3(a.p.as_ptr(), b2.p.as_ptr(), c.p.as_ptr(), i1 as u32, v1, i2 as u32, v2)
            }
        }
    }

    /// Every counter summed over all possible CPUs.
    pub(crate) fn sums(&self) -> [u64; N] {
        let mut s = [0u64; N];
        // SAFETY: iterating the possible-CPU mask has no preconditions.
        let mut cpu = unsafe { b::fvs_next_possible_cpu(-1) };
        while cpu >= 0 {
            for (i, v) in s.iter_mut().enumerate() {
                // SAFETY: `cpu` is a possible CPU, `i < N`, the area is live.
                *v = v.wrapping_add(unsafe { b::fvs_percpu_u64_read(self.p.as_ptr(), cpu, i as u32) });
            }
            // SAFETY: as above.
            cpu = unsafe { b::fvs_next_possible_cpu(cpu) };
        }
        s
    }
}

impl<const N: usize> Drop for PerCpuU64s<N> {
    fn drop(&mut self) {
        // SAFETY: allocated by `__alloc_percpu_gfp`, freed once.
        unsafe { b::free_percpu(self.p.as_ptr()) }
    }
}
