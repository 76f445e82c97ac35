//! Weighted fail-over (ip_vs_fo.c): the first non-overloaded dest with the highest weight > 0.

use super::Dest;

/// `ip_vs_fo_schedule`.
pub fn schedule<D: Dest>(dests: &[D]) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut hw = 0;
    for (i, d) in dests.iter().enumerate() {
        if !d.overloaded() && d.weight() > hw {
            best = Some(i);
            hw = d.weight();
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn highest_weight_first_on_tie() {
        let d = [
            DestInfo::with_weight(2),
            DestInfo::with_weight(5),
            DestInfo::with_weight(5),
        ];
        assert_eq!(schedule(&d), Some(1));
        assert_eq!(schedule(&[DestInfo::with_weight(0)]), None);
    }

    proptest! {
        #[test]
        fn highest(d in dests(8, 10)) {
            match schedule(&d) {
                None => prop_assert!(!d.iter().any(eligible)),
                Some(i) => {
                    prop_assert!(eligible(&d[i]));
                    for (j, x) in d.iter().enumerate().filter(|(_, x)| eligible(x)) {
                        prop_assert!(x.weight < d[i].weight || (x.weight == d[i].weight && j >= i));
                    }
                }
            }
        }
    }
}
