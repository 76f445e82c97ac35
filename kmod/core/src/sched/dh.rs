//! Destination hashing (ip_vs_dh.c): 256 buckets filled round-robin with the dests in list
//! order; the packet's destination address picks the bucket with `hash_32(fold(daddr), 8)`.

use super::super::hash::hash_32;
use super::{Addr, Dest};

pub const TAB_BITS: u32 = 8;
pub const TAB_SIZE: usize = 1 << TAB_BITS;
/// An empty bucket.
pub const NONE: u16 = u16::MAX;

/// `struct ip_vs_dh_state`: bucket -> dest index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhState {
    pub buckets: [u16; TAB_SIZE],
}

impl Default for DhState {
    fn default() -> Self {
        Self::new()
    }
}

/// `ip_vs_dh_hashkey`.
pub fn hashkey(addr: &Addr) -> usize {
    hash_32(addr.fold(), TAB_BITS) as usize
}

impl DhState {
    pub const fn new() -> Self {
        DhState {
            buckets: [NONE; TAB_SIZE],
        }
    }

    /// `ip_vs_dh_reassign` (init and every dest change): bucket i gets dest i mod n.
    pub fn reassign(&mut self, num_dests: usize) {
        let n = num_dests.min(usize::from(NONE));
        for (i, b) in self.buckets.iter_mut().enumerate() {
            *b = if n == 0 { NONE } else { (i % n) as u16 };
        }
    }

    /// `ip_vs_dh_schedule` for the packet's destination address.
    pub fn schedule<D: Dest>(&self, dests: &[D], daddr: &Addr) -> Option<usize> {
        let idx = usize::from(*self.buckets.get(hashkey(daddr))?);
        let d = dests.get(idx)?;
        if !d.available() || d.weight() <= 0 || d.overloaded() {
            return None;
        }
        Some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bucket() {
        let d = [
            DestInfo::with_weight(1),
            DestInfo::with_weight(1),
            DestInfo::with_weight(1),
        ];
        let mut s = DhState::new();
        s.reassign(d.len());
        let a = Addr::V4([10, 0, 0, 1]);
        let h = (0x0a00_0001u32.wrapping_mul(0x61C8_8647) >> 24) as usize;
        assert_eq!(s.schedule(&d, &a), Some(h % 3));
        let a6 = Addr::V6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            hashkey(&a6),
            (0x2001_0db9u32.wrapping_mul(0x61C8_8647) >> 24) as usize
        );
    }

    proptest! {
        #[test]
        fn stable_and_eligible(d in dests(3, 12), a in any::<[u8; 4]>()) {
            let mut s = DhState::new();
            s.reassign(d.len());
            let a = Addr::V4(a);
            let r = s.schedule(&d, &a);
            prop_assert_eq!(r, s.schedule(&d, &a));
            let mut s2 = DhState::new();
            s2.reassign(d.len());
            prop_assert_eq!(r, s2.schedule(&d, &a));
            if let Some(i) = r { prop_assert!(eligible(&d[i])); }
            if !d.is_empty() {
                let i = hashkey(&a) % d.len();
                prop_assert_eq!(r, if eligible(&d[i]) { Some(i) } else { None });
            }
        }
    }
}
