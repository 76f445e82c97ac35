//! Locality-based least-connection with replication (ip_vs_lblcr.c): each destination address
//! maps to a small set of dests (newest first, as `list_add_rcu` builds it); the least loaded
//! member serves, a new member is added when it is overloaded, and after `expiration` jiffies
//! without set changes the most loaded member is dropped. The table is the lblc [`Cache`], with
//! its keys and its periodic check.
//!
//! Sets name dests by key (see [`super::lblc`]); a member whose key is not in the dest slice
//! (deleted from the service) is skipped by [`DestSet::min`] as ip_vs skips a dest in the trash,
//! and also by [`DestSet::max`], where ip_vs would still weigh the trash dest's remaining
//! connections.

use super::lblc::{find_key, is_overloaded, ArrayCache, Cache, Store, CAPACITY};
use super::{conn_overhead, time_after, weighted_least, Addr, Dest};

/// Default per-address set capacity (a full set ignores inserts, like a failed allocation).
pub const SET_CAP: usize = 8;

/// `struct ip_vs_dest_set`: dest keys, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestSet<const S: usize> {
    keys: [u32; S],
    len: usize,
    /// `set->lastmod`.
    pub lastmod: u64,
}

impl<const S: usize> Default for DestSet<S> {
    fn default() -> Self {
        DestSet {
            keys: [0; S],
            len: 0,
            lastmod: 0,
        }
    }
}

impl<const S: usize> DestSet<S> {
    /// Members, newest first.
    pub fn keys(&self) -> &[u32] {
        self.keys.get(..self.len).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `ip_vs_dest_set_insert`.
    pub fn insert(&mut self, key: u32, check: bool, now: u64) {
        if key == 0 {
            return;
        }
        if check && self.keys().contains(&key) {
            return;
        }
        if self.len >= S {
            return;
        }
        self.keys.copy_within(0..self.len, 1);
        self.keys[0] = key;
        self.len += 1;
        self.lastmod = now;
    }

    /// `ip_vs_dest_set_erase`.
    pub fn erase(&mut self, key: u32, now: u64) {
        if let Some(p) = self.keys().iter().position(|&k| k == key) {
            self.keys.copy_within(p + 1..self.len, p);
            self.len -= 1;
            self.lastmod = now;
        }
    }

    fn members<'a, D: Dest>(&'a self, dests: &'a [D]) -> impl Iterator<Item = (usize, &'a D)> {
        self.keys()
            .iter()
            .filter_map(move |&k| find_key(dests, k).and_then(|i| Some((i, dests.get(i)?))))
    }

    /// `ip_vs_dest_set_min`: weighted least-connection among available members. Members no
    /// longer in `dests` count as unavailable.
    pub fn min<D: Dest>(&self, dests: &[D]) -> Option<usize> {
        let mut it = self.members(dests);
        let (mut least, mut loh) = loop {
            let (i, d) = it.next()?;
            if d.overloaded() {
                continue;
            }
            if d.weight() > 0 && d.available() {
                break (i, conn_overhead(d));
            }
        };
        for (i, d) in it {
            if d.overloaded() {
                continue;
            }
            let doh = conn_overhead(d);
            let lw = dests.get(least).map_or(0, |l| l.weight());
            if i64::from(loh) * i64::from(d.weight()) > i64::from(doh) * i64::from(lw)
                && d.available()
            {
                least = i;
                loh = doh;
            }
        }
        Some(least)
    }

    /// `ip_vs_dest_set_max`: the weighted most-loaded member with weight > 0 (members no longer
    /// in `dests` are skipped).
    pub fn max<D: Dest>(&self, dests: &[D]) -> Option<usize> {
        let mut it = self.members(dests);
        let (mut most, mut moh) = loop {
            let (i, d) = it.next()?;
            if d.weight() > 0 {
                break (i, conn_overhead(d));
            }
        };
        for (i, d) in it {
            let doh = conn_overhead(d);
            let mw = dests.get(most).map_or(0, |m| m.weight());
            if i64::from(moh) * i64::from(d.weight()) < i64::from(doh) * i64::from(mw)
                && d.weight() > 0
            {
                most = i;
                moh = doh;
            }
        }
        Some(most)
    }
}

/// The lblcr table with a fixed store of the kernel's capacity (about 2 MB: box it).
pub type LblcrTable = ArrayCache<DestSet<SET_CAP>, CAPACITY>;

impl<const S: usize, St: Store<DestSet<S>>> Cache<DestSet<S>, St> {
    /// `ip_vs_lblcr_schedule` for destination address `daddr` at `now`; `expiration` is the
    /// lblcr_expiration sysctl in jiffies.
    pub fn schedule<D: Dest>(
        &mut self,
        dests: &[D],
        daddr: &Addr,
        now: u64,
        expiration: u64,
    ) -> Option<usize> {
        let dead = self.is_dead();
        if let Some(i) = self.find(daddr) {
            let (set, lastuse) = self.slot_mut(i)?;
            *lastuse = now;
            let dest = set.min(dests);
            if set.len() > 1 && time_after(now, set.lastmod.wrapping_add(expiration)) {
                if let Some(m) = set.max(dests) {
                    let key = dests.get(m).map_or(0, |d| d.key());
                    set.erase(key, now);
                }
            }
            if let Some(di) = dest {
                if dests.get(di).is_some_and(|d| !is_overloaded(d, dests)) {
                    return Some(di);
                }
            }
            let di = weighted_least(dests, |d| conn_overhead(d))?;
            if !dead {
                set.insert(dests.get(di).map_or(0, |d| d.key()), true, now);
            }
            return Some(di);
        }
        let di = weighted_least(dests, |d| conn_overhead(d))?;
        let key = dests.get(di).map_or(0, |d| d.key());
        if !dead && key != 0 {
            let mut set = DestSet::default();
            set.insert(key, false, now);
            self.insert(daddr, set, now);
        }
        Some(di)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;
    use std::boxed::Box;
    use std::vec::Vec;

    type Small = ArrayCache<DestSet<4>, 32>;

    fn dests(w: &[i32]) -> Vec<DestInfo> {
        w.iter()
            .enumerate()
            .map(|(i, &w)| DestInfo {
                key: 100 + i as u32,
                ..DestInfo::with_weight(w)
            })
            .collect()
    }

    #[test]
    fn replicates_then_shrinks() {
        let mut d = dests(&[1, 1, 1]);
        let mut t = Box::new(Small::new());
        let a = Addr::V4([10, 9, 9, 9]);
        assert_eq!(t.schedule(&d, &a, 0, 1000), Some(0));
        d[0].activeconns = 2; // overloaded, others idle -> add dest 1
        assert_eq!(t.schedule(&d, &a, 10, 1000), Some(1));
        assert_eq!(t.get(&a).unwrap().0.keys(), &[101, 100]);
        d[1].activeconns = 1;
        // min of the set {1, 0}: 1 (257+1... vs 0's 514+2): dest 1
        assert_eq!(t.schedule(&d, &a, 20, 1000), Some(1));
        // after `expiration` without set changes the most loaded member (0) is dropped
        assert_eq!(t.schedule(&d, &a, 1011, 1000), Some(1));
        assert_eq!(t.get(&a).unwrap().0.keys(), &[101]);
    }

    #[test]
    fn deleted_member_skipped_then_back() {
        let d = dests(&[1, 1, 1]);
        let mut t = Box::new(Small::new());
        let a = Addr::V4([10, 9, 9, 1]);
        assert_eq!(t.schedule(&d, &a, 0, 1000), Some(0));
        // dest 0 deleted: the set's only member is gone, the least loaded joins the set
        let without0 = [d[1], d[2]];
        assert_eq!(t.schedule(&without0, &a, 1, 1000), Some(0));
        assert_eq!(t.get(&a).unwrap().0.keys(), &[101, 100]);
        // dest 0 back, loaded: the set's least loaded member serves
        let mut back = [d[0], d[1], d[2]];
        back[0].inactconns = 5;
        assert_eq!(t.schedule(&back, &a, 2, 1000), Some(1));
        back[1].inactconns = 9;
        assert_eq!(t.schedule(&back, &a, 3, 1000), Some(0));
        // a keyless dest is chosen but never joins a set
        let keyless = [DestInfo::with_weight(1)];
        let b = Addr::V4([10, 9, 9, 2]);
        assert_eq!(t.schedule(&keyless, &b, 4, 1000), Some(0));
        assert!(t.get(&b).is_none());
    }

    #[test]
    fn set_ops() {
        let mut s = DestSet::<3>::default();
        s.insert(1, false, 1);
        s.insert(2, true, 2);
        s.insert(2, true, 3);
        assert_eq!((s.keys(), s.lastmod), (&[2u32, 1][..], 2));
        s.insert(3, true, 4);
        s.insert(4, true, 5); // full
        assert_eq!(s.keys(), &[3, 2, 1]);
        s.erase(2, 6);
        assert_eq!((s.keys(), s.lastmod), (&[3u32, 1][..], 6));
    }

    proptest! {
        #[test]
        fn chooses_eligible_member_or_wlc(d in dests_strategy(), addrs in proptest::collection::vec(0u8..8, 1..60)) {
            let mut t = Box::new(Small::new());
            for (n, a) in addrs.iter().enumerate() {
                let r = t.schedule(&d, &Addr::V4([1, 1, 1, *a]), n as u64 * 50, 200);
                match r {
                    None => prop_assert!(!d.iter().any(eligible)),
                    Some(i) => {
                        prop_assert!(d[i].weight > 0 && !d[i].overloaded);
                        let set = t.get(&Addr::V4([1, 1, 1, *a])).unwrap().0;
                        prop_assert!(set.keys().len() <= 4);
                    }
                }
            }
        }
    }

    fn dests_strategy() -> impl Strategy<Value = Vec<DestInfo>> {
        super::super::testutil::dests(4, 6).prop_map(|mut v| {
            for (i, x) in v.iter_mut().enumerate() {
                x.key = 100 + i as u32;
            }
            v
        })
    }
}
