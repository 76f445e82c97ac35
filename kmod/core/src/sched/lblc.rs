//! Locality-based least-connection (ip_vs_lblc.c), plus the hashed cache that lblc and lblcr
//! share. The cache keeps the kernel's geometry (1024 buckets hashed with
//! `hash_32(fold(daddr), 10)`, `max_size` = 16 * 1024, no new entry once `entries >=
//! max_size * 3 / 2`) and its garbage collection (`ip_vs_lblc_check_expire`, which the kernel
//! runs from a per-service timer every [`check_expire_interval`] jiffies; here
//! [`Cache::run_due_checks`] runs, before each scheduling decision, every check that timer
//! would have run since the last call). Times are jiffies (`now`), with `hz` passed in.
//!
//! Entries name dests by [`Dest::key`]: a non-zero identity that the caller keeps stable for a
//! real server's address and port, so that a server deleted and added again finds its entries
//! again, as ip_vs finds its dest in the trash. An entry whose key is not in the dest slice is
//! treated like a dest in the trash (not available). Key 0 means "no identity": such a dest
//! may be chosen but is never recorded.
//!
//! The table's memory (bucket heads and entry slots) is the caller's [`Store`]: the kernel
//! allocates the heads when the scheduler is bound and slots in page-sized chunks as entries
//! are first needed (as ip_vs allocates each entry with GFP_ATOMIC); [`ArrayStore`] is a plain
//! fixed-size one.

use super::super::hash::hash_32;
use super::{time_before, weighted_least, Addr, Dest};

pub const TAB_BITS: u32 = 10;
pub const TAB_SIZE: usize = 1 << TAB_BITS;
/// `tbl->max_size`.
pub const MAX_SIZE: i32 = TAB_SIZE as i32 * 16;
/// The most entries the kernel ever holds (`max_size * 3 / 2`): no store needs more slots.
pub const CAPACITY: usize = (MAX_SIZE as usize) * 3 / 2;
/// `COUNT_FOR_FULL_EXPIRATION`.
pub const COUNT_FOR_FULL_EXPIRATION: i32 = 30;
/// The most sweeping checks (full or partial) one [`Cache::run_due_checks`] call runs; the
/// rest wait for the next call. After any gap at most ~10 are needed (see there).
pub const MAX_SWEEPS_PER_CALL: u32 = 16;

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

/// One cache entry (or a free slot): `struct ip_vs_lblc_entry` / `ip_vs_lblcr_entry`.
#[derive(Clone, Copy, Debug)]
pub struct Slot<V> {
    addr: Addr,
    lastuse: u64,
    /// Next slot in the bucket chain, index + 1 (0 = end); doubles as the free-list link.
    next: u32,
    val: V,
}

impl<V: Default> Default for Slot<V> {
    fn default() -> Self {
        Slot {
            addr: Addr::V4([0; 4]),
            lastuse: 0,
            next: NIL,
            val: V::default(),
        }
    }
}

/// The memory of a [`Cache`]: [`TAB_SIZE`] bucket heads (all 0 when empty) and entry slots.
pub trait Store<V> {
    fn heads(&self) -> &[u32];
    fn heads_mut(&mut self) -> &mut [u32];
    fn slot(&self, i: usize) -> Option<&Slot<V>>;
    fn slot_mut(&mut self, i: usize) -> Option<&mut Slot<V>>;
    /// Slots usable now (indices `0..len`).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Makes more slots usable, without sleeping; false if it cannot (then no entry is added,
    /// as when ip_vs's GFP_ATOMIC allocation fails).
    fn grow(&mut self) -> bool;
}

/// A fixed store of `CAP` slots, built by value (large for big `CAP`: box it).
#[derive(Clone, Debug)]
pub struct ArrayStore<V, const CAP: usize> {
    heads: [u32; TAB_SIZE],
    slots: [Slot<V>; CAP],
}

impl<V: Copy + Default, const CAP: usize> ArrayStore<V, CAP> {
    pub fn new() -> Self {
        ArrayStore {
            heads: [NIL; TAB_SIZE],
            slots: [Slot::default(); CAP],
        }
    }
}

impl<V: Copy + Default, const CAP: usize> Default for ArrayStore<V, CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V, const CAP: usize> Store<V> for ArrayStore<V, CAP> {
    fn heads(&self) -> &[u32] {
        &self.heads
    }
    fn heads_mut(&mut self) -> &mut [u32] {
        &mut self.heads
    }
    fn slot(&self, i: usize) -> Option<&Slot<V>> {
        self.slots.get(i)
    }
    fn slot_mut(&mut self, i: usize) -> Option<&mut Slot<V>> {
        self.slots.get_mut(i)
    }
    fn len(&self) -> usize {
        CAP
    }
    fn grow(&mut self) -> bool {
        false
    }
}

/// An `ip_vs_lblc_table`-like cache from destination address to `V`, over store `S`.
#[derive(Clone, Debug)]
pub struct Cache<V, S> {
    store: S,
    free: u32,
    hwm: u32,
    entries: i32,
    rover: usize,
    counter: i32,
    dead: bool,
    /// When the periodic check is next due (jiffies), once [`Cache::arm`]ed.
    next_check: Option<u64>,
    _v: core::marker::PhantomData<V>,
}

/// A cache over a fixed array store.
pub type ArrayCache<V, const CAP: usize> = Cache<V, ArrayStore<V, CAP>>;

impl<V: Copy + Default, const CAP: usize> Default for Cache<V, ArrayStore<V, CAP>> {
    fn default() -> Self {
        Self::with_store(ArrayStore::new())
    }
}

impl<V: Copy + Default, const CAP: usize> Cache<V, ArrayStore<V, CAP>> {
    /// An empty table over a fixed array (large: box it).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<V: Copy + Default, S: Store<V>> Cache<V, S> {
    /// An empty table as `init_svc` sets it up (counter 1, rover 0) over `store`, whose heads
    /// must all be 0.
    pub fn with_store(store: S) -> Self {
        Cache {
            store,
            free: NIL,
            hwm: 0,
            entries: 0,
            rover: 0,
            counter: 1,
            dead: false,
            next_check: None,
            _v: core::marker::PhantomData,
        }
    }

    /// Starts the periodic check (`mod_timer(..., jiffies + CHECK_EXPIRE_INTERVAL)` in
    /// `init_svc`): the first one is due one interval after `now`.
    pub fn arm(&mut self, now: u64, hz: u64) {
        self.next_check = Some(now.wrapping_add(check_expire_interval(hz)));
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
        self.store.heads_mut().fill(NIL);
        self.free = NIL;
        self.hwm = 0;
        self.entries = 0;
        self.dead = true;
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    fn head(&self, b: usize) -> u32 {
        self.store.heads().get(b).copied().unwrap_or(NIL)
    }

    pub(crate) fn find(&self, addr: &Addr) -> Option<usize> {
        let mut cur = self.head(hashkey(addr));
        // Bounded by the slot count even if the chains were corrupted.
        for _ in 0..=self.hwm {
            if cur == NIL {
                break;
            }
            let i = cur as usize - 1;
            let s = self.store.slot(i)?;
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
        self.store.slot(i).map(|s| (&s.val, s.lastuse))
    }

    pub(crate) fn slot_mut(&mut self, i: usize) -> Option<(&mut V, &mut u64)> {
        self.store.slot_mut(i).map(|s| (&mut s.val, &mut s.lastuse))
    }

    /// Every cached value (bucket by bucket).
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        (0..TAB_SIZE).flat_map(move |b| {
            let mut cur = self.head(b);
            let mut budget = self.hwm;
            core::iter::from_fn(move || {
                if cur == NIL || budget == 0 {
                    return None;
                }
                budget -= 1;
                let s = self.store.slot(cur as usize - 1)?;
                cur = s.next;
                Some(&s.val)
            })
        })
    }

    /// Adds a new entry at the head of its bucket, if below `max_size * 3 / 2` and a slot is
    /// free or the store can grow.
    pub(crate) fn insert(&mut self, addr: &Addr, val: V, now: u64) -> Option<usize> {
        if self.entries >= MAX_SIZE * 3 / 2 {
            return None;
        }
        let i = if self.free != NIL {
            let i = self.free as usize - 1;
            self.free = self.store.slot(i)?.next;
            i
        } else {
            let h = self.hwm as usize;
            if h >= self.store.len() && !(self.store.grow() && h < self.store.len()) {
                return None;
            }
            self.hwm += 1;
            h
        };
        let b = hashkey(addr);
        let head = self.head(b);
        let s = self.store.slot_mut(i)?;
        *s = Slot {
            addr: *addr,
            lastuse: now,
            next: head,
            val,
        };
        if let Some(h) = self.store.heads_mut().get_mut(b) {
            *h = i as u32 + 1;
        }
        self.entries += 1;
        Some(i)
    }

    /// Unlinks slot `i` and frees it.
    pub(crate) fn remove(&mut self, i: usize) {
        let Some(s) = self.store.slot(i) else { return };
        let (b, next) = (hashkey(&s.addr), s.next);
        let target = i as u32 + 1;
        let head = self.head(b);
        if head == target {
            if let Some(h) = self.store.heads_mut().get_mut(b) {
                *h = next;
            }
        } else {
            let mut cur = head;
            let mut found = false;
            for _ in 0..=self.hwm {
                if cur == NIL {
                    break;
                }
                let c = cur as usize - 1;
                let Some(n) = self.store.slot(c).map(|x| x.next) else {
                    return;
                };
                if n == target {
                    if let Some(x) = self.store.slot_mut(c) {
                        x.next = next;
                    }
                    found = true;
                    break;
                }
                cur = n;
            }
            if !found {
                return;
            }
        }
        let free = self.free;
        if let Some(s) = self.store.slot_mut(i) {
            s.next = free;
        }
        self.free = target;
        self.entries -= 1;
    }

    /// Removes every entry of bucket `b` not used within `timeout` jiffies; returns how many.
    fn expire_bucket(&mut self, b: usize, now: u64, timeout: u64) -> i32 {
        let mut removed = 0;
        let mut cur = self.head(b);
        for _ in 0..=self.hwm {
            if cur == NIL {
                break;
            }
            let i = cur as usize - 1;
            let Some(s) = self.store.slot(i) else { break };
            cur = s.next;
            if !time_before(now, s.lastuse.wrapping_add(timeout)) {
                self.remove(i);
                removed += 1;
            }
        }
        removed
    }

    /// `ip_vs_lblc_check_expire` (the periodic timer body) at time `now`: every 30th run a
    /// full sweep for entries idle longer than `expiration` (the sysctl, jiffies); otherwise,
    /// only when over `max_size`, drop entries idle for [`entry_timeout`] until 4/3 of the
    /// excess is gone.
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

    /// Runs, at their own times, the [`check_expire`](Self::check_expire) calls the kernel's
    /// periodic timer (armed by [`arm`](Self::arm), every [`check_expire_interval`]) would have
    /// made up to `now`. Entries change only in scheduling calls, so running the due checks
    /// just before a scheduling call gives that call exactly the table the timer would have
    /// left. The work is bounded: runs that only count (`counter++` while at most `max_size`
    /// entries) are skipped arithmetically, of several due full sweeps only the last is run
    /// (a later sweep removes a superset and leaves the rover where it was), and partial sweeps
    /// happen only while over `max_size`, which one sweep ends once every entry has been idle
    /// for [`entry_timeout`] (within 7 runs without scheduling calls). At most
    /// [`MAX_SWEEPS_PER_CALL`] sweeps run per call; any rest is left for the next call.
    pub fn run_due_checks(&mut self, now: u64, hz: u64, expiration: u64) {
        let Some(mut next) = self.next_check else {
            return;
        };
        let interval = check_expire_interval(hz).max(1);
        let cf = COUNT_FOR_FULL_EXPIRATION;
        let mut sweeps = 0;
        while !time_before(now, next) {
            let due = now.wrapping_sub(next) / interval + 1;
            if self.counter % cf == 0 || self.entries > MAX_SIZE {
                if sweeps == MAX_SWEEPS_PER_CALL {
                    break;
                }
                self.check_expire(next, hz, expiration);
                sweeps += 1;
                next = next.wrapping_add(interval);
                continue;
            }
            // At most max_size entries, and no scheduling call before `now` adds any: the next
            // `r` runs only count, then full sweeps every `cf` runs.
            let r = (cf - self.counter.rem_euclid(cf)) as u64;
            if due <= r {
                self.counter += due as i32;
                next = next.wrapping_add(due * interval);
                break;
            }
            let q = (due - r - 1) / cf as u64;
            self.counter += r as i32;
            next = next.wrapping_add((r + q * cf as u64) * interval);
        }
        self.next_check = Some(next);
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

/// The dest with identity `key` (never key 0).
pub(crate) fn find_key<D: Dest>(dests: &[D], key: u32) -> Option<usize> {
    if key == 0 {
        return None;
    }
    dests.iter().position(|d| d.key() == key)
}

/// The lblc table with a fixed store of the kernel's capacity (about 1 MB: box it).
pub type LblcTable = ArrayCache<u32, CAPACITY>;

impl<S: Store<u32>> Cache<u32, S> {
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
        let key = dests.get(di).map_or(0, |d| d.key());
        if !self.dead && key != 0 {
            // ip_vs_lblc_new: replace a mapping to another dest, keep one to the same dest.
            match self.find(daddr) {
                Some(i) if self.store.slot(i).is_some_and(|s| s.val == key) => {}
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

    type Small = ArrayCache<u32, 64>;

    /// A store that grows by `step` slots at a time up to `limit`, like the kernel's chunks.
    struct GrowStore<V> {
        heads: Vec<u32>,
        slots: Vec<Slot<V>>,
        step: usize,
        limit: usize,
    }

    impl<V: Copy + Default> GrowStore<V> {
        fn new(step: usize, limit: usize) -> Self {
            GrowStore {
                heads: std::vec![0; TAB_SIZE],
                slots: Vec::new(),
                step,
                limit,
            }
        }
    }

    impl<V: Copy + Default> Store<V> for GrowStore<V> {
        fn heads(&self) -> &[u32] {
            &self.heads
        }
        fn heads_mut(&mut self) -> &mut [u32] {
            &mut self.heads
        }
        fn slot(&self, i: usize) -> Option<&Slot<V>> {
            self.slots.get(i)
        }
        fn slot_mut(&mut self, i: usize) -> Option<&mut Slot<V>> {
            self.slots.get_mut(i)
        }
        fn len(&self) -> usize {
            self.slots.len()
        }
        fn grow(&mut self) -> bool {
            let n = (self.slots.len() + self.step).min(self.limit);
            if n == self.slots.len() {
                return false;
            }
            self.slots.resize(n, Slot::default());
            true
        }
    }

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
    fn removed_dest_comes_back_with_its_entries() {
        // ip_vs keeps a deleted dest in the trash while the cache refers to it, and the same
        // address:port added again is that dest: its cached addresses go to it again.
        let d = dests(&[1, 1, 1]);
        let mut t = Box::new(Small::new());
        let a = Addr::V4([10, 0, 0, 1]);
        let b = Addr::V4([10, 0, 0, 2]);
        assert_eq!(t.schedule(&d, &a, 1), Some(0));
        assert_eq!(t.schedule(&d, &b, 1), Some(0)); // counters are the caller's: still idle
        let without0 = [d[1], d[2]];
        // `a` moves while dest 0 is away; `b` is not asked for
        assert_eq!(t.schedule(&without0, &a, 2), Some(0));
        assert_eq!(t.get(&a).map(|x| *x.0), Some(101));
        let back = [d[0], d[1], d[2]];
        assert_eq!(t.schedule(&back, &b, 3), Some(0));
        assert_eq!(t.schedule(&back, &a, 3), Some(1));
    }

    #[test]
    fn keyless_dest_is_not_recorded() {
        let d = [DestInfo::with_weight(1)];
        let mut t = Box::new(Small::new());
        assert_eq!(t.schedule(&d, &Addr::V4([1, 2, 3, 4]), 1), Some(0));
        assert!(t.is_empty());
    }

    #[test]
    fn weight_zero_cached_dest_is_skipped() {
        let mut d = dests(&[1, 1]);
        let mut t = Box::new(Small::new());
        let a = Addr::V4([10, 1, 1, 1]);
        assert_eq!(t.schedule(&d, &a, 1), Some(0));
        d[0].weight = 0;
        assert_eq!(t.schedule(&d, &a, 2), Some(1));
        assert_eq!(t.get(&a).map(|x| *x.0), Some(101));
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

    #[test]
    fn due_checks_after_a_day() {
        let d = dests(&[1]);
        let hz = 250;
        let mut t = Box::new(Small::new());
        t.arm(0, hz);
        t.schedule(&d, &Addr::V4([1, 1, 1, 1]), 5);
        t.run_due_checks(check_expire_interval(hz) * 29, hz, default_expiration(hz));
        assert_eq!(t.len(), 1);
        // a day and a bit later: the full check of that time has run
        let later = default_expiration(hz) + 31 * check_expire_interval(hz);
        t.run_due_checks(later, hz, default_expiration(hz));
        assert!(t.is_empty());
    }

    /// The timer as ip_vs runs it: one check at every interval up to `now`.
    fn naive_due<S: Store<u32>>(
        t: &mut Cache<u32, S>,
        next: &mut u64,
        now: u64,
        hz: u64,
        exp: u64,
    ) {
        while !time_before(now, *next) {
            t.check_expire(*next, hz, exp);
            *next += check_expire_interval(hz);
        }
    }

    #[test]
    fn due_checks_over_max_size_match_the_timer() {
        // Fill the table to its 3/2 limit, then let time pass in steps: the catch-up runs the
        // partial sweeps the timer would have, and the full ones.
        let d = dests(&[1, 2]);
        let hz = 10;
        let exp = 2000 * check_expire_interval(hz) / 60; // ~33 intervals
        let mut a = Box::new(Cache::with_store(GrowStore::<u32>::new(97, CAPACITY)));
        let mut b = Box::new(Cache::with_store(GrowStore::<u32>::new(1000, CAPACITY)));
        a.arm(0, hz);
        let mut next = check_expire_interval(hz);
        let mut now = 1u64;
        for round in 0..4u32 {
            for i in 0..(CAPACITY as u32 + 10) {
                let addr = Addr::V4((i.wrapping_mul(2_654_435_761) ^ round).to_be_bytes());
                a.run_due_checks(now, hz, exp);
                naive_due(&mut b, &mut next, now, hz, exp);
                assert_eq!(a.schedule(&d, &addr, now), b.schedule(&d, &addr, now));
                if i % 5000 == 0 {
                    now += 1;
                }
            }
            assert_eq!(a.len(), b.len());
            for gap in [3u64, 1, 7, 40, 2, 100] {
                now += gap * check_expire_interval(hz) + 3;
                a.run_due_checks(now, hz, exp);
                naive_due(&mut b, &mut next, now, hz, exp);
                assert_eq!((a.len(), a.counter, a.rover), (b.len(), b.counter, b.rover));
            }
        }
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
                prop_assert_eq!(t.values().count(), model.len());
                for (k, lu) in &model {
                    prop_assert_eq!(t.get(&Addr::V4([10, 0, 0, *k])).map(|x| x.1), Some(*lu));
                }
            }
        }

        /// Catching up before each call is the periodic timer, whatever the gaps; a store that
        /// grows in chunks behaves as a fixed one of the same capacity.
        #[test]
        fn due_checks_equal_timer(
            ops in proptest::collection::vec((0u8..40, 0u64..20_000, 0u8..4), 1..300),
            exp_min in 1u64..90,
        ) {
            let mut d = dests(&[1, 2, 3]);
            let hz = 10;
            let exp = exp_min * 60 * hz;
            let mut a = Box::new(Cache::with_store(GrowStore::<u32>::new(3, 64)));
            let mut b = Box::new(Small::new());
            a.arm(0, hz);
            let mut next = check_expire_interval(hz);
            let mut now = 0u64;
            for (x, dt, load) in ops {
                now += dt;
                d[usize::from(load % 3)].activeconns = i32::from(load);
                let addr = Addr::V4([10, 0, 1, x]);
                a.run_due_checks(now, hz, exp);
                naive_due(&mut b, &mut next, now, hz, exp);
                prop_assert_eq!(a.schedule(&d, &addr, now), b.schedule(&d, &addr, now));
                prop_assert_eq!((a.len(), a.counter), (b.len(), b.counter));
                for y in 0..40u8 {
                    let k = Addr::V4([10, 0, 1, y]);
                    prop_assert_eq!(a.get(&k), b.get(&k));
                }
            }
        }
    }
}
