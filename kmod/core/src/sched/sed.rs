//! Shortest expected delay (ip_vs_sed.c): wlc with overhead `activeconns + 1`.

use super::{weighted_least, Dest};

/// `ip_vs_sed_dest_overhead`.
pub fn overhead<D: Dest>(d: &D) -> i32 {
    d.activeconns().wrapping_add(1)
}

/// `ip_vs_sed_schedule`.
pub fn schedule<D: Dest>(dests: &[D]) -> Option<usize> {
    weighted_least(dests, |d| overhead(d))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn expected_delay() {
        let mut d = [DestInfo::with_weight(1), DestInfo::with_weight(2)];
        // (0+1)/1 vs (1+1)/2: equal, first stays
        d[1].activeconns = 1;
        assert_eq!(schedule(&d), Some(0));
        d[0].activeconns = 1; // 2/1 > 2/2
        assert_eq!(schedule(&d), Some(1));
    }

    proptest! {
        #[test]
        fn minimal_expected_delay(d in dests(6, 10)) {
            match schedule(&d) {
                None => prop_assert!(!d.iter().any(eligible)),
                Some(i) => {
                    prop_assert!(eligible(&d[i]));
                    for x in d.iter().filter(|x| eligible(x)) {
                        prop_assert!(i64::from(d[i].activeconns + 1) * i64::from(x.weight)
                            <= i64::from(x.activeconns + 1) * i64::from(d[i].weight));
                    }
                }
            }
        }
    }
}
