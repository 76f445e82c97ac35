//! Power of two choices (ip_vs_twos.c): two weighted random picks, keep the one with the lower
//! overhead/weight. Randomness comes from the caller: `rand_below(n)` must return a uniform
//! value in `0..n` (the kernel's `get_random_u32_below`); out-of-range values are reduced mod n.

use super::{conn_overhead, Dest};

/// `ip_vs_twos_schedule`.
pub fn schedule<D: Dest>(dests: &[D], mut rand_below: impl FnMut(u32) -> u32) -> Option<usize> {
    let mut total: i32 = 0;
    let mut choice1: Option<usize> = None;
    for (i, d) in dests.iter().enumerate() {
        if !d.overloaded() && d.weight() > 0 {
            total = total.wrapping_add(d.weight());
            choice1 = Some(i);
        }
    }
    choice1?;
    let bound = (total.wrapping_add(1) as u32).max(1);
    let mut rw1 = (rand_below(bound) % bound) as i32;
    let mut rw2 = (rand_below(bound) % bound) as i32;
    let (mut w1, mut w2) = (-1i32, -1i32);
    let (mut oh1, mut oh2) = (0i32, 0i32);
    let mut choice2: Option<usize> = None;
    for (i, d) in dests.iter().enumerate() {
        let w = d.weight();
        if d.overloaded() || w <= 0 {
            continue;
        }
        rw1 = rw1.wrapping_sub(w);
        rw2 = rw2.wrapping_sub(w);
        if rw1 <= 0 && w1 == -1 {
            choice1 = Some(i);
            w1 = w;
            oh1 = conn_overhead(d);
        }
        if rw2 <= 0 && w2 == -1 {
            choice2 = Some(i);
            w2 = w;
            oh2 = conn_overhead(d);
        }
        if w1 != -1 && w2 != -1 {
            break;
        }
    }
    if choice2.is_some() && w2.wrapping_mul(oh1) > w1.wrapping_mul(oh2) {
        choice1 = choice2;
    }
    choice1
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn picks_less_loaded_of_two() {
        let mut d = [DestInfo::with_weight(1), DestInfo::with_weight(1)];
        d[0].activeconns = 5;
        // rweights 1 and 2 -> choice1 = dest 0, choice2 = dest 1
        let mut r = [1u32, 2].into_iter();
        assert_eq!(schedule(&d, |_| r.next().unwrap()), Some(1));
        let mut r = [0u32, 0].into_iter();
        assert_eq!(schedule(&d, |_| r.next().unwrap()), Some(0));
    }

    proptest! {
        #[test]
        fn eligible_only(d in dests(6, 10), seed in any::<u64>()) {
            let mut x = seed | 1;
            let r = schedule(&d, |n| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x % u64::from(n)) as u32 });
            match r {
                None => prop_assert!(!d.iter().any(eligible)),
                Some(i) => prop_assert!(eligible(&d[i])),
            }
        }
    }
}
