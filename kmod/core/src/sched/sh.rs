//! Source hashing (ip_vs_sh.c): 256 buckets filled in list order, each dest repeated `weight`
//! times (at least once); the bucket is `hash_32(port + fold(saddr), 8)` with `sh-port`, and
//! `sh-fallback` walks the table from the original bucket when that dest is unavailable.

use super::super::hash::hash_32;
use super::{Addr, Dest};

pub const TAB_BITS: u32 = 8;
pub const TAB_SIZE: usize = 1 << TAB_BITS;
const TAB_MASK: u32 = TAB_SIZE as u32 - 1;
/// An empty bucket.
pub const NONE: u16 = u16::MAX;

/// `struct ip_vs_sh_state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShState {
    pub buckets: [u16; TAB_SIZE],
}

impl Default for ShState {
    fn default() -> Self {
        Self::new()
    }
}

/// `ip_vs_sh_hashkey(af, addr, port, offset)`; `port` in host order.
pub fn hashkey(addr: &Addr, port: u16, offset: u32) -> usize {
    (offset.wrapping_add(hash_32(u32::from(port).wrapping_add(addr.fold()), TAB_BITS)) & TAB_MASK)
        as usize
}

fn unavailable<D: Dest>(d: &D) -> bool {
    d.weight() <= 0 || d.overloaded()
}

impl ShState {
    pub const fn new() -> Self {
        ShState {
            buckets: [NONE; TAB_SIZE],
        }
    }

    /// `ip_vs_sh_reassign`.
    pub fn reassign<D: Dest>(&mut self, dests: &[D]) {
        if dests.is_empty() || dests.len() > usize::from(NONE) {
            self.buckets = [NONE; TAB_SIZE];
            return;
        }
        let mut p = 0usize;
        let mut count = 0i32;
        for b in self.buckets.iter_mut() {
            if p >= dests.len() {
                p = 0;
            }
            *b = p as u16;
            count += 1;
            if count >= dests.get(p).map_or(0, |d| d.weight()) {
                p += 1;
                count = 0;
            }
        }
    }

    fn get(&self, h: usize) -> Option<usize> {
        match self.buckets.get(h) {
            Some(&NONE) | None => None,
            Some(&i) => Some(usize::from(i)),
        }
    }

    /// `ip_vs_sh_schedule`: `addr`/`port` as `Packet::hash_addr`/`hash_port` give them (port 0
    /// unless the service has `sh-port`).
    pub fn schedule<D: Dest>(
        &self,
        dests: &[D],
        addr: &Addr,
        port: u16,
        fallback: bool,
    ) -> Option<usize> {
        let ihash = hashkey(addr, port, 0);
        let i = self.get(ihash)?;
        let d = dests.get(i)?;
        if !unavailable(d) {
            return Some(i);
        }
        if !fallback {
            return None;
        }
        for offset in 0..TAB_SIZE {
            let roffset = ((offset + ihash) % TAB_SIZE) as u32;
            let i = self.get(hashkey(addr, port, roffset))?;
            if !unavailable(dests.get(i)?) {
                return Some(i);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn weight_repetition() {
        let d = [
            DestInfo::with_weight(2),
            DestInfo::with_weight(0),
            DestInfo::with_weight(3),
        ];
        let mut s = ShState::new();
        s.reassign(&d);
        assert_eq!(&s.buckets[..8], &[0, 0, 1, 2, 2, 2, 0, 0]);
    }

    #[test]
    fn fallback_walks() {
        let mut d = [DestInfo::with_weight(1), DestInfo::with_weight(1)];
        let mut s = ShState::new();
        s.reassign(&d);
        let a = Addr::V4([192, 168, 1, 7]);
        let first = s.schedule(&d, &a, 0, false).unwrap();
        d[first].overloaded = true;
        assert_eq!(s.schedule(&d, &a, 0, false), None);
        assert_eq!(s.schedule(&d, &a, 0, true), Some(1 - first));
        // port changes the bucket when sh-port is on
        let h1 = hashkey(&a, 1000, 0);
        assert_eq!(h1, (hash_32(1000 + 0xc0a8_0107, 8) & 255) as usize);
    }

    proptest! {
        #[test]
        fn shares_follow_weights(w in proptest::collection::vec(1i32..6, 1..10)) {
            let d: Vec<_> = w.iter().map(|&x| DestInfo::with_weight(x)).collect();
            let mut s = ShState::new();
            s.reassign(&d);
            // Per full round of the list each dest gets exactly `weight` consecutive buckets.
            let round: i32 = w.iter().sum();
            let mut counts = std::vec![0i32; d.len()];
            for b in &s.buckets[..(round as usize).min(TAB_SIZE)] {
                counts[*b as usize] += 1;
            }
            if round as usize <= TAB_SIZE {
                prop_assert_eq!(counts, w);
            }
        }

        #[test]
        fn stable_and_never_unavailable(d in dests(4, 12), a in any::<[u8; 16]>(), port in any::<u16>(), fb in any::<bool>()) {
            let mut s = ShState::new();
            s.reassign(&d);
            let a = Addr::V6(a);
            let r = s.schedule(&d, &a, port, fb);
            let mut s2 = ShState::new();
            s2.reassign(&d);
            prop_assert_eq!(r, s2.schedule(&d, &a, port, fb));
            if let Some(i) = r { prop_assert!(eligible(&d[i])); }
            if d.is_empty() {
                prop_assert_eq!(r, None);
            } else if !fb {
                let i = s.buckets[hashkey(&a, port, 0)] as usize;
                prop_assert_eq!(r, if eligible(&d[i]) { Some(i) } else { None });
            } else if d.iter().any(eligible) {
                // Every dest owns a bucket, and the walk visits all 256 of them.
                prop_assert!(r.is_some());
            }
        }
    }
}
