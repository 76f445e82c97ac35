//! Weighted least-connection (ip_vs_wlc.c): minimises overhead/weight by 64-bit cross
//! multiplication; the first non-overloaded dest with weight > 0 seeds the search.

use super::{conn_overhead, weighted_least, Dest};

/// `ip_vs_wlc_schedule`.
pub fn schedule<D: Dest>(dests: &[D]) -> Option<usize> {
    weighted_least(dests, |d| conn_overhead(d))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn weighs_overhead() {
        let mut d = [DestInfo::with_weight(1), DestInfo::with_weight(3)];
        d[0].activeconns = 1; // 257 / 1
        d[1].activeconns = 2; // 514 / 3
        assert_eq!(schedule(&d), Some(1));
        d[1].activeconns = 4; // 1028/3 > 257
        assert_eq!(schedule(&d), Some(0));
    }

    proptest! {
        #[test]
        fn minimal_ratio_never_zero_weight(d in dests(6, 10)) {
            match schedule(&d) {
                None => prop_assert!(!d.iter().any(eligible)),
                Some(i) => {
                    prop_assert!(eligible(&d[i]));
                    let oh = |x: &DestInfo| i64::from(x.activeconns * 257 + x.inactconns);
                    for x in d.iter().filter(|x| eligible(x)) {
                        prop_assert!(oh(&d[i]) * i64::from(x.weight) <= oh(x) * i64::from(d[i].weight));
                    }
                }
            }
        }
    }
}
