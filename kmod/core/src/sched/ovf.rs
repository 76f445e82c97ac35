//! Overflow-connection (ip_vs_ovf.c): among dests that are not overloaded, have weight != 0 and
//! `activeconns <= weight`, the first with the highest weight.

use super::Dest;

/// `ip_vs_ovf_schedule`.
pub fn schedule<D: Dest>(dests: &[D]) -> Option<usize> {
    let mut best: Option<(usize, i32)> = None;
    for (i, d) in dests.iter().enumerate() {
        let w = d.weight();
        if d.overloaded() || d.activeconns() > w || w == 0 {
            continue;
        }
        if best.is_none_or(|(_, hw)| w > hw) {
            best = Some((i, w));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn overflows_to_next() {
        let mut d = [DestInfo::with_weight(3), DestInfo::with_weight(2)];
        d[0].activeconns = 3;
        assert_eq!(schedule(&d), Some(0)); // 3 <= 3 still fits
        d[0].activeconns = 4;
        assert_eq!(schedule(&d), Some(1));
        d[1].activeconns = 3;
        assert_eq!(schedule(&d), None);
    }

    proptest! {
        #[test]
        fn highest_with_room(d in dests(8, 10)) {
            let ok = |x: &DestInfo| eligible(x) && x.activeconns <= x.weight;
            match schedule(&d) {
                None => prop_assert!(!d.iter().any(ok)),
                Some(i) => {
                    prop_assert!(ok(&d[i]));
                    for (j, x) in d.iter().enumerate().filter(|(_, x)| ok(x)) {
                        prop_assert!(x.weight < d[i].weight || (x.weight == d[i].weight && j >= i));
                    }
                }
            }
        }
    }
}
