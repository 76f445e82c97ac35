//! Maglev hashing (ip_vs_mh.c). The lookup table is caller-provided (`&mut [u16]`, length one of
//! [`PRIMES`], by default [`TAB_SIZE`] = 4093 for `CONFIG_IP_VS_MH_TAB_INDEX` = 12) and so is the
//! per-dest permutation scratch. Dest offsets/skips come from the 64-bit kernel's `hsiphash`
//! of `port + fold(addr)` under two keys, which ip_vs_mh.c fixes to [`HASH1`] / [`HASH2`].

use super::super::hash::{gcd, hsiphash, SipKey};
use super::{Addr, Dest};

/// `primes[]`: the possible table sizes, for `CONFIG_IP_VS_MH_TAB_INDEX` 8..=17.
pub const PRIMES: [usize; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];
/// Default `CONFIG_IP_VS_MH_TAB_INDEX`.
pub const TAB_INDEX: usize = 12;
/// `IP_VS_MH_TAB_SIZE` for the default index.
pub const TAB_SIZE: usize = PRIMES[TAB_INDEX - 8];
/// An empty lookup slot.
pub const NONE: u16 = u16::MAX;
/// `generate_hash_secret`: the keys ip_vs_mh uses (constants, not random).
pub const HASH1: SipKey = SipKey([2_654_435_761, 2_654_435_761]);
pub const HASH2: SipKey = SipKey([2_654_446_892, 2_654_446_892]);

/// `struct ip_vs_mh_dest_setup`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DestSetup {
    pub offset: u32,
    pub skip: u32,
    pub perm: u32,
    pub turns: i32,
}

/// Why a reassign was refused (the table is then left unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MhError {
    /// The table length is not one of [`PRIMES`].
    BadTableSize,
    /// More dests than table slots (the kernel's -EINVAL), or more than `u16` can index.
    TooManyDests,
    /// The setup scratch is shorter than the dest list.
    ScratchTooSmall,
}

/// `ip_vs_mh_hashkey(af, addr, port, key, offset)`; `port` in host order.
pub fn hashkey(addr: &Addr, port: u16, key: &SipKey, offset: u32) -> u32 {
    let v = offset
        .wrapping_add(u32::from(port))
        .wrapping_add(addr.fold());
    hsiphash(&v.to_ne_bytes(), key)
}

/// `ip_vs_mh_gcd_weight`: gcd of positive `last_weight`s, 0 if none.
pub fn gcd_weight<D: Dest>(dests: &[D]) -> i32 {
    let mut g: u32 = 0;
    for d in dests {
        let w = d.last_weight();
        if w > 0 {
            g = if g > 0 { gcd(w as u32, g) } else { w as u32 };
        }
    }
    g as i32
}

fn fls(x: u32) -> i32 {
    32 - x.leading_zeros() as i32
}

/// `ip_vs_mh_shift_weight`: how far to shift weight/gcd so it fits in `TAB_BITS` bits.
pub fn shift_weight<D: Dest>(dests: &[D], gcd: i32, tab_bits: i32) -> i32 {
    if gcd < 1 {
        return 0;
    }
    let mw = dests.iter().map(|d| d.last_weight()).fold(0, i32::max) / gcd;
    (fls(mw as u32) - tab_bits).max(0)
}

fn tab_bits(size: usize) -> Option<i32> {
    PRIMES
        .iter()
        .position(|&p| p == size)
        .map(|i| (i as i32 + 8) / 2)
}

/// `ip_vs_mh_reassign` (with the gcd/rshift computation of init_svc/dest_changed):
/// permutate then populate `table`.
pub fn reassign<D: Dest>(
    table: &mut [u16],
    setup: &mut [DestSetup],
    dests: &[D],
    hash1: &SipKey,
    hash2: &SipKey,
) -> Result<(), MhError> {
    let size = table.len();
    let bits = tab_bits(size).ok_or(MhError::BadTableSize)?;
    if dests.len() > size || dests.len() >= usize::from(NONE) {
        return Err(MhError::TooManyDests);
    }
    let setup = setup
        .get_mut(..dests.len())
        .ok_or(MhError::ScratchTooSmall)?;
    let g = gcd_weight(dests);
    let rshift = shift_weight(dests, g, bits);
    // ip_vs_mh_permutate
    if g >= 1 {
        for (ds, d) in setup.iter_mut().zip(dests) {
            // `size` is one of PRIMES (checked above); checked_rem keeps a panic path (which
            // objtool cannot see as noreturn) out of the module.
            ds.offset = hashkey(&d.addr(), d.port(), hash1, 0)
                .checked_rem(size as u32)
                .unwrap_or(0);
            ds.skip = hashkey(&d.addr(), d.port(), hash2, 0)
                .checked_rem(size as u32 - 1)
                .unwrap_or(0)
                + 1;
            ds.perm = ds.offset;
            let lw = d.last_weight();
            let t = (lw / g) >> rshift;
            ds.turns = if t != 0 { t } else { i32::from(lw != 0) };
        }
    }
    table.fill(NONE);
    if g < 1 || !setup.iter().any(|ds| ds.turns >= 1) {
        return Ok(());
    }
    // ip_vs_mh_populate: a slot holding NONE is a clear bit of the kernel's bitmap.
    let mut n = 0usize;
    'outer: loop {
        let mut dt_count = 0i32;
        let mut p = 0usize;
        while let Some(ds) = setup.get_mut(p) {
            if ds.turns < 1 {
                p += 1;
                continue;
            }
            let mut c = ds.perm as usize;
            while table.get(c).is_some_and(|&s| s != NONE) {
                ds.perm += ds.skip;
                if ds.perm as usize >= size {
                    ds.perm -= size as u32;
                }
                c = ds.perm as usize;
            }
            if let Some(slot) = table.get_mut(c) {
                *slot = p as u16;
            }
            n += 1;
            if n == size {
                break 'outer;
            }
            dt_count += 1;
            if dt_count >= ds.turns {
                dt_count = 0;
                p += 1;
            }
        }
    }
    Ok(())
}

fn unavailable<D: Dest>(d: &D) -> bool {
    d.weight() <= 0 || d.overloaded()
}

/// `ip_vs_mh_schedule` with `addr`/`port` from `Packet::hash_addr`/`hash_port` (port 0 unless
/// `mh-port`), `fallback` for `mh-fallback`, `hash1` the key the table was built with.
pub fn schedule<D: Dest>(
    table: &[u16],
    dests: &[D],
    addr: &Addr,
    port: u16,
    fallback: bool,
    hash1: &SipKey,
) -> Option<usize> {
    let size = table.len() as u32;
    if size == 0 {
        return None;
    }
    let get = |h: u32| match table.get(h as usize) {
        Some(&NONE) | None => None,
        Some(&i) => Some(usize::from(i)),
    };
    let ihash = hashkey(addr, port, hash1, 0) % size;
    let i = get(ihash)?;
    if !unavailable(dests.get(i)?) {
        return Some(i);
    }
    if !fallback {
        return None;
    }
    for offset in 0..size {
        let roffset = offset.wrapping_add(ihash) % size;
        let i = get(hashkey(addr, port, hash1, roffset) % size)?;
        if !unavailable(dests.get(i)?) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn mk(w: &[i32]) -> Vec<DestInfo> {
        w.iter()
            .enumerate()
            .map(|(i, &w)| DestInfo {
                addr: Addr::V4([10, 0, 0, i as u8 + 1]),
                port: 80,
                ..DestInfo::with_weight(w)
            })
            .collect()
    }

    fn build(d: &[DestInfo]) -> Vec<u16> {
        let mut t = std::vec![0u16; TAB_SIZE];
        let mut s = std::vec![DestSetup::default(); d.len()];
        reassign(&mut t, &mut s, d, &HASH1, &HASH2).unwrap();
        t
    }

    #[test]
    fn permutation_matches_independent_siphash13() {
        // offset of 10.0.0.1:80 = hsiphash(le32(80 + 0x0a000001)) % 4093, computed via the
        // generic byte siphash-1-3 path.
        let v: u32 = 80 + 0x0a00_0001;
        let h = hsiphash(&v.to_le_bytes(), &HASH1);
        assert_eq!(hashkey(&Addr::V4([10, 0, 0, 1]), 80, &HASH1, 0), h);
        let d = mk(&[1]);
        let t = build(&d);
        assert!(t.iter().all(|&x| x == 0));
    }

    #[test]
    fn errors_and_empty() {
        let d = mk(&[1, 1]);
        let mut t = std::vec![7u16; 100];
        let mut s = [DestSetup::default(); 2];
        assert_eq!(
            reassign(&mut t, &mut s, &d, &HASH1, &HASH2),
            Err(MhError::BadTableSize)
        );
        let mut t = std::vec![7u16; 251];
        assert_eq!(
            reassign(&mut t, &mut s[..1], &d, &HASH1, &HASH2),
            Err(MhError::ScratchTooSmall)
        );
        let z = mk(&[0, 0]);
        reassign(&mut t, &mut s, &z, &HASH1, &HASH2).unwrap();
        assert!(t.iter().all(|&x| x == NONE));
        assert_eq!(
            schedule(&t, &z, &Addr::V4([1, 2, 3, 4]), 0, true, &HASH1),
            None
        );
    }

    #[test]
    fn zero_weight_keeps_last_weight_slots() {
        // A dest edited to weight 0 keeps last_weight, so it keeps its slots but is never chosen;
        // fallback moves its clients elsewhere.
        let mut d = mk(&[1, 1]);
        d[0].weight = 0;
        let t = build(&d);
        assert!(t.contains(&0));
        for a in 0..50u8 {
            let addr = Addr::V4([172, 16, 0, a]);
            let r = schedule(&t, &d, &addr, 0, true, &HASH1);
            assert_eq!(r, Some(1));
            let nf = schedule(&t, &d, &addr, 0, false, &HASH1);
            assert!(nf.is_none() || nf == Some(1));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn balanced_within_turns(w in proptest::collection::vec(1i32..8, 1..12)) {
            let d = mk(&w);
            let t = build(&d);
            let g = gcd_weight(&d);
            let turns: Vec<i64> = w.iter().map(|&x| i64::from(x / g)).collect();
            let sum: i64 = turns.iter().sum();
            let mut counts = std::vec![0i64; d.len()];
            for &x in &t { counts[x as usize] += 1; }
            // Populate hands out `turns` slots per dest per round, so after r full rounds plus a
            // partial one each dest is within `turns` of its exact share.
            for (i, &c) in counts.iter().enumerate() {
                let exact = TAB_SIZE as i64 * turns[i];
                prop_assert!((c * sum - exact).abs() <= turns[i] * sum, "dest {} got {} of {}", i, c, TAB_SIZE);
            }
        }

        #[test]
        fn minimal_disruption_on_removal(n in 3usize..12, victim_sel in any::<prop::sample::Index>()) {
            let d = mk(&std::vec![1; n]);
            let before = build(&d);
            let victim = victim_sel.index(n);
            let mut d2 = d.clone();
            d2.remove(victim);
            let after = build(&d2);
            let moved = before.iter().zip(&after).filter(|(&b, &a)| {
                let b = b as usize;
                b != victim && (if b > victim { b - 1 } else { b }) != a as usize
            }).count();
            let victim_slots = before.iter().filter(|&&b| b as usize == victim).count();
            // Slots of surviving dests rarely move: far fewer than the victim's own share.
            prop_assert!(moved * 2 <= victim_slots, "moved {} victim {}", moved, victim_slots);
        }

        #[test]
        fn stable_never_unavailable(w in proptest::collection::vec(0i32..4, 1..8), a in any::<[u8; 4]>(), port in any::<u16>(), fb in any::<bool>()) {
            let d = mk(&w);
            let t = build(&d);
            let addr = Addr::V4(a);
            let r = schedule(&t, &d, &addr, port, fb, &HASH1);
            prop_assert_eq!(r, schedule(&build(&d), &d, &addr, port, fb, &HASH1));
            if let Some(i) = r { prop_assert!(d[i].weight > 0); }
        }
    }
}
