//! Locality-based least-connection (ip_vs_lblc.c), plus the fixed-capacity hashed cache that
//! lblc and lblcr share. The cache keeps the kernel's geometry (1024 buckets hashed with
//! `hash_32(fold(daddr), 10)`, `max_size` = 16 * 1024, no new entry once `entries >=
//! max_size * 3 / 2`) and its garbage collection (`ip_vs_lblc_check_expire`, run by the caller
//! every [`check_expire_interval`] jiffies). Times are jiffies (`now`), with `hz` passed in.
//! Entries name dests by [`Dest::key`]; an entry whose dest is no longer in the slice is treated
//! like a dest in the trash (not available).

use super::super::hash::hash_32;
use super::{time_before, weighted_least, Addr, Dest};

pub const TAB_BITS: u32 = 10;
pub const TAB_SIZE: usize = 1 << TAB_BITS;
/// `tbl->max_size`.
pub const MAX_SIZE: i32 = TAB_SIZE as i32 * 16;
/// The most entries the kernel ever holds (`max_size * 3 / 2`): the default capacity.
pub const CAPACITY: usize = (MAX_SIZE as usize) * 3 / 2;
/// `COUNT_FOR_FULL_EXPIRATION`.
pub const COUNT_FOR_FULL_EXPIRATION: i32 = 30;

/// `CHECK_EXPIRE_INTERVAL` (60 s) in jiffies.
pub fn check_expire_interval(hz: u64) -> u64 {
    60 * hz
}

/// `ENTRY_TIMEOUT` (6 min) in jiffies.
pub fn entry_timeout(hz: u64) -> u64 {
    6 * 60 * hz
}

/// `DEFAULT_EXPIRATION` (1 day, the default of the lblc/lblcr_expiration sysctls) in jiffies.
pub fn default_expiration(hz: u64) -> u64 {
    24 * 60 * 60 * hz
}

/// `ip_vs_lblc_hashkey`.
pub fn hashkey(addr: &Addr) -> usize {
    hash_32(addr.fold(), TAB_BITS) as usize
}

const NIL: u32 = 0;

#[derive(Clone, Copy, Debug)]
struct Slot<V> {
    addr: Addr,
    lastuse: u64,
    /// Next slot in the bucket chain, index + 1 (0 = end); doubles as the free-list link.
    next: u32,
    val: V,
}

/// A fixed-capacity `ip_vs_lblc_table`-like cache from destination address to `V`.
#[derive(Clone, Debug)]
pub struct Cache<V: Copy + Default, const CAP: usize> {
    heads: [u32; TAB_SIZE],
    slots: [Slot<V>; CAP],
    free: u32,
    hwm: u32,
    entries: i32,
    rover: usize,
    counter: i32,
    dead: bool,
}

impl<V: Copy + Default, const CAP: usize> Default for Cache<V, CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy + Default, const CAP: usize> Cache<V, CAP> {
    /// An empty table as `init_svc` sets it up (counter 1, rover 0). Large: allocate in place.
    pub fn new() -> Self {
        Cache {
            heads: [NIL; TAB_SIZE],
            slots: [Slot {
                addr: Addr::V4([0; 4]),
                lastuse: 0,
                next: NIL,
                val: V::default(),
            }; CAP],
            free: NIL,
            hwm: 0,
            entries: 0,
            rover: 0,
            counter: 1,
            dead: false,
        }
    }

    /// Number of cached entries (`tbl->entries`).
    pub fn len(&self) -> usize {
        self.entries.max(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.entries <= 0
    }

    /// `ip_vs_lblc_flush` at `done_svc`: drops everything and refuses new entries.
    pub fn flush(&mut self) {
        self.heads = [NIL; TAB_SIZE];
        self.free = NIL;
        self.hwm = 0;
        self.entries = 0;
        self.dead = true;
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    pub(crate) fn find(&self, addr: &Addr) -> Option<usize> {
        let mut cur = *self.heads.get(hashkey(addr))?;
        while cur != NIL {
            let i = cur as usize - 1;
            let s = self.slots.get(i)?;
            if s.addr == *addr {
                return Some(i);
            }
            cur = s.next;
        }
        None
    }

    /// The cached value and last-use time for `addr`.
    pub fn get(&self, addr: &Addr) -> Option<(&V, u64)> {
        let i = self.find(addr)?;
        self.slots.get(i).map(|s| (&s.val, s.lastuse))
    }

    pub(crate) fn slot_mut(&mut self, i: usize) -> Option<(&mut V, &mut u64)> {
        self.slots.get_mut(i).map(|s| (&mut s.val, &mut s.lastuse))
    }

    /// Adds a new entry at the head of its bucket, if below `max_size * 3 / 2` and a slot is free.
    pub(crate) fn insert(&mut self, addr: &Addr, val: V, now: u64) -> Option<usize> {
        if self.entries >= MAX_SIZE * 3 / 2 {
            return None;
        }
        let i = if self.free != NIL {
            let i = self.free as usize - 1;
            self.free = self.slots.get(i)?.next;
            i
        } else if (self.hwm as usize) < CAP {
            self.hwm += 1;
            self.hwm as usize - 1
        } else {
            return None;
        };
        let b = hashkey(addr);
        let head = *self.heads.get(b)?;
        let s = self.slots.get_mut(i)?;
        *s = Slot {
            addr: *addr,
            lastuse: now,
            next: head,
            val,
        };
        if let Some(h) = self.heads.get_mut(b) {
            *h = i as u32 + 1;
        }
        self.entries += 1;
        Some(i)
    }

    /// Unlinks slot `i` (in bucket `b`) and frees it.
    pub(crate) fn remove(&mut self, i: usize) {
        let Some(s) = self.slots.get(i) else { return };
        let (b, next) = (hashkey(&s.addr), s.next);
        let target = i as u32 + 1;
        let Some(&head) = self.heads.get(b) else {
            return;
        };
        if head == target {
            self.heads[b] = next;
        } else {
            let mut cur = head;
            while cur != NIL {
                let c = cur as usize - 1;
                let Some(n) = self.slots.get(c).map(|x| x.next) else {
                    return;
                };
                if n == target {
                    self.slots[c].next = next;
                    break;
                }
                cur = n;
            }
            if cur == NIL {
                return;
            }
        }
        self.slots[i].next = self.free;
        self.free = target;
        self.entries -= 1;
    }

    /// Removes every entry of bucket `b` not used within `timeout` jiffies; returns how many.
    fn expire_bucket(&mut self, b: usize, now: u64, timeout: u64) -> i32 {
        let mut removed = 0;
        let mut cur = self.heads.get(b).copied().unwrap_or(NIL);
        while cur != NIL {
            let i = cur as usize - 1;
            let Some(s) = self.slots.get(i) else { break };
            cur = s.next;
            if !time_before(now, s.lastuse.wrapping_add(timeout)) {
                self.remove(i);
                removed += 1;
            }
        }
        removed
    }

    /// `ip_vs_lblc_check_expire` (the periodic timer body): every 30th run a full sweep for
    /// entries idle longer than `expiration` (the sysctl, jiffies); otherwise, only when over
    /// `max_size`, drop entries idle for [`entry_timeout`] until 4/3 of the excess is gone.
    pub fn check_expire(&mut self, now: u64, hz: u64, expiration: u64) {
        if self.counter % COUNT_FOR_FULL_EXPIRATION == 0 {
            let mut j = self.rover;
            for _ in 0..TAB_SIZE {
                j = (j + 1) & (TAB_SIZE - 1);
                self.expire_bucket(j, now, expiration);
            }
            self.rover = j;
            self.counter = 1;
            return;
        }
        if self.entries <= MAX_SIZE {
            self.counter += 1;
            return;
        }
        let mut goal = ((self.entries - MAX_SIZE) * 4 / 3).min(MAX_SIZE / 2);
        let mut j = self.rover;
        for _ in 0..TAB_SIZE {
            j = (j + 1) & (TAB_SIZE - 1);
            goal -= self.expire_bucket(j, now, entry_timeout(hz));
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }
}

/// `is_overloaded` of lblc/lblcr: more active connections than weight while some dest is
/// below half its weight.
pub fn is_overloaded<D: Dest>(d: &D, dests: &[D]) -> bool {
    d.activeconns() > d.weight()
        && dests
            .iter()
            .any(|x| x.activeconns().wrapping_mul(2) < x.weight())
}

pub(crate) fn find_key<D: Dest>(dests: &[D], key: u32) -> Option<usize> {
    dests.iter().position(|d| d.key() == key)
}

/// The lblc table: destination address -> dest key.
pub type LblcTable = Cache<u32, CAPACITY>;

impl<const CAP: usize> Cache<u32, CAP> {
    /// `ip_vs_lblc_schedule` for destination address `daddr` at time `now`.
    pub fn schedule<D: Dest>(&mut self, dests: &[D], daddr: &Addr, now: u64) -> Option<usize> {
        if let Some(i) = self.find(daddr) {
            if let Some((key, lastuse)) = self.slot_mut(i) {
                *lastuse = now;
                let key = *key;
                if let Some(di) = find_key(dests, key) {
                    let d = &dests[di];
                    if d.available() && d.weight() > 0 && !is_overloaded(d, dests) {
                        return Some(di);
                    }
                }
            }
        }
        let di = weighted_least(dests, |d| super::conn_overhead(d))?;
        if !self.dead {
            let key = dests.get(di).map_or(0, |d| d.key());
            // ip_vs_lblc_new: replace a mapping to another dest, keep one to the same dest.
            match self.find(daddr) {
                Some(i) if self.slots.get(i).is_some_and(|s| s.val == key) => {}
                Some(i) => {
                    self.remove(i);
                    self.insert(daddr, key, now);
                }
                None => {
                    self.insert(daddr, key, now);
                }
            }
        }
        Some(di)
    }
}

#[cfg(test)]
mod tests {
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;
    use std::boxed::Box;
    use std::vec::Vec;

    fn dests(w: &[i32]) -> Vec<DestInfo> {
        w.iter()
            .enumerate()
            .map(|(i, &w)| DestInfo {
                key: 100 + i as u32,
                ..DestInfo::with_weight(w)
            })
            .collect()
    }

    type Small = Cache<u32, 64>;

    #[test]
    fn sticky_until_overloaded() {
        let mut d = dests(&[1, 1]);
        let mut t = Box::new(Small::new());
        let a = Addr::V4([10, 1, 1, 1]);
        assert_eq!(t.schedule(&d, &a, 5), Some(0));
        d[0].activeconns = 1; // wlc would now pick 1, but the cache sticks to 0
        assert_eq!(t.schedule(&d, &a, 6), Some(0));
        assert_eq!(t.get(&a), Some((&100, 6)));
        d[0].activeconns = 2; // 2 > weight 1 and dest 1 is below half load
        assert_eq!(t.schedule(&d, &a, 7), Some(1));
        assert_eq!(t.get(&a).map(|x| *x.0), Some(101));
        assert_eq!(t.len(), 1);
        // dest removed from the service: the entry is stale, reschedule
        let d2 = [d[0]];
        assert_eq!(t.schedule(&d2, &a, 8), Some(0));
    }

    #[test]
    fn expiry() {
        let d = dests(&[1]);
        let mut t = Box::new(Small::new());
        let hz = 100;
        for i in 0..10u8 {
            t.schedule(&d, &Addr::V4([1, 1, 1, i]), 1000);
        }
        // counter runs 1..=29 without sweeping (entries <= max_size)
        for k in 1..30 {
            t.check_expire(1000 + k * 60 * hz, hz, default_expiration(hz));
        }
        assert_eq!(t.len(), 10);
        t.schedule(&d, &Addr::V4([1, 1, 1, 0]), 2000);
        // 30th run: full check; only the touched entry is younger than `expiration`
        t.check_expire(1000 + default_expiration(hz), hz, default_expiration(hz));
        assert_eq!(t.len(), 1);
        assert!(t.get(&Addr::V4([1, 1, 1, 0])).is_some());
        t.flush();
        assert_eq!(t.schedule(&d, &Addr::V4([1, 1, 1, 0]), 3000), Some(0));
        assert!(t.is_empty());
    }

    proptest! {
        #[test]
        fn cache_consistent(ops in proptest::collection::vec((any::<u8>(), 0u64..300), 1..400)) {
            let d = dests(&[1, 2, 3]);
            let mut t = Box::new(Small::new());
            let mut model: std::collections::BTreeMap<u8, u64> = Default::default();
            let mut now = 0u64;
            let mut counter = 1;
            for (a, dt) in ops {
                now += dt;
                let addr = Addr::V4([10, 0, 0, a]);
                let r = t.schedule(&d, &addr, now);
                prop_assert!(r.is_some());
                if model.contains_key(&a) || model.len() < 64 { model.insert(a, now); }
                if now.is_multiple_of(7) {
                    t.check_expire(now, 100, 1000);
                    if counter % COUNT_FOR_FULL_EXPIRATION == 0 {
                        model.retain(|_, lu| time_before(now, *lu + 1000));
                        counter = 1;
                    } else {
                        counter += 1;
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                for (k, lu) in &model {
                    prop_assert_eq!(t.get(&Addr::V4([10, 0, 0, *k])).map(|x| x.1), Some(*lu));
                }
            }
        }
    }
}
