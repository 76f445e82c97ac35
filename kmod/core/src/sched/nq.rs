//! Never queue (ip_vs_nq.c): the first idle (activeconns == 0) eligible dest, else sed.

use super::Dest;

/// `ip_vs_nq_schedule`.
pub fn schedule<D: Dest>(dests: &[D]) -> Option<usize> {
    let mut least: Option<(usize, i32, i32)> = None; // (index, overhead, weight)
    for (i, d) in dests.iter().enumerate() {
        if d.overloaded() || d.weight() == 0 {
            continue;
        }
        if d.activeconns() == 0 {
            return Some(i);
        }
        let doh = d.activeconns().wrapping_add(1);
        let better = match least {
            None => true,
            Some((_, loh, lw)) => {
                i64::from(loh) * i64::from(d.weight()) > i64::from(doh) * i64::from(lw)
            }
        };
        if better {
            least = Some((i, doh, d.weight()));
        }
    }
    least.map(|(i, _, _)| i)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn idle_first() {
        let mut d = [DestInfo::with_weight(10), DestInfo::with_weight(1)];
        d[0].activeconns = 1;
        assert_eq!(schedule(&d), Some(1));
        d[1].activeconns = 1;
        assert_eq!(schedule(&d), Some(0));
    }

    proptest! {
        #[test]
        fn idle_or_sed(d in dests(6, 10)) {
            let r = schedule(&d);
            if let Some(i) = r {
                prop_assert!(d[i].weight != 0 && !d[i].overloaded);
            }
            let elig = |x: &DestInfo| x.weight != 0 && !x.overloaded;
            if let Some(idle) = d.iter().position(|x| elig(x) && x.activeconns == 0) {
                prop_assert_eq!(r, Some(idle));
            } else if d.iter().all(|x| x.weight >= 0) {
                prop_assert_eq!(r, super::super::sed::schedule(&d));
            }
        }
    }
}
