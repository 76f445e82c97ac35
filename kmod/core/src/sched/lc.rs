//! Least-connection (ip_vs_lc.c): the non-overloaded dest with weight != 0 and the smallest
//! `ip_vs_dest_conn_overhead` (compared as `unsigned int`; the first wins ties).

use super::{conn_overhead, Dest};

/// `ip_vs_lc_schedule`.
pub fn schedule<D: Dest>(dests: &[D]) -> Option<usize> {
    let mut least: Option<(usize, u32)> = None;
    for (i, d) in dests.iter().enumerate() {
        if d.overloaded() || d.weight() == 0 {
            continue;
        }
        let doh = conn_overhead(d) as u32;
        if least.is_none_or(|(_, loh)| doh < loh) {
            least = Some((i, doh));
        }
    }
    least.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn picks_least_overhead() {
        let mut d = [DestInfo::with_weight(1); 3];
        d[0].activeconns = 1; // 256 + 1
        d[1].inactconns = 200; // 200
        d[2].inactconns = 200;
        assert_eq!(schedule(&d), Some(1));
        d[1].weight = 0;
        assert_eq!(schedule(&d), Some(2));
    }

    proptest! {
        #[test]
        fn minimal_and_eligible(d in dests(5, 10)) {
            match schedule(&d) {
                None => prop_assert!(!d.iter().any(|x| x.weight != 0 && !x.overloaded)),
                Some(i) => {
                    prop_assert!(d[i].weight != 0 && !d[i].overloaded);
                    let oh = |x: &DestInfo| x.activeconns * 257 + x.inactconns;
                    for (j, x) in d.iter().enumerate() {
                        if x.weight != 0 && !x.overloaded {
                            prop_assert!(oh(&d[i]) < oh(x) || (oh(&d[i]) == oh(x) && i <= j));
                        }
                    }
                }
            }
        }
    }
}
