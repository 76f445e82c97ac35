//! Round-robin (ip_vs_rr.c): the next dest after the cursor, circularly, that is not
//! overloaded and has weight > 0; the cursor's own dest is tried last.

use super::Dest;

/// `svc->sched_data` of rr: the list position of the last chosen dest (`None` = list head).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RrState {
    pub cursor: Option<usize>,
}

impl RrState {
    pub const fn new() -> Self {
        RrState { cursor: None }
    }

    /// A dest was inserted at `idx` (ip_vs_ctl inserts at the head, idx 0): keep pointing at the
    /// same dest.
    pub fn dest_added(&mut self, idx: usize) {
        if let Some(c) = self.cursor {
            if c >= idx {
                self.cursor = Some(c + 1);
            }
        }
    }

    /// The dest at `idx` was removed (`ip_vs_rr_del_dest`): if it was the cursor, the cursor
    /// moves to the previous entry (or the head); later indices shift down.
    pub fn dest_removed(&mut self, idx: usize) {
        if let Some(c) = self.cursor {
            if c == idx {
                self.cursor = idx.checked_sub(1);
            } else if c > idx {
                self.cursor = Some(c - 1);
            }
        }
    }

    /// `ip_vs_rr_schedule`.
    pub fn schedule<D: Dest>(&mut self, dests: &[D]) -> Option<usize> {
        let n = dests.len();
        let ok = |i: usize| {
            dests
                .get(i)
                .is_some_and(|d| !d.overloaded() && d.weight() > 0)
        };
        let hit = match self.cursor {
            None => (0..n).find(|&i| ok(i)),
            Some(c) => {
                let c = c.min(n.saturating_sub(1));
                (c + 1..n).chain(0..=c).find(|&i| ok(i))
            }
        };
        if let Some(i) = hit {
            self.cursor = Some(i);
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cycles_and_skips() {
        let mut d = [
            DestInfo::with_weight(1),
            DestInfo::with_weight(0),
            DestInfo::with_weight(5),
        ];
        d[2].overloaded = false;
        let mut s = RrState::new();
        let seq: std::vec::Vec<_> = (0..5).map(|_| s.schedule(&d).unwrap()).collect();
        assert_eq!(seq, [0, 2, 0, 2, 0]);
        d[0].overloaded = true;
        assert_eq!(s.schedule(&d), Some(2));
        assert_eq!(s.schedule(&d), Some(2));
        d[2].weight = 0;
        assert_eq!(s.schedule(&d), None);
        assert_eq!(s.cursor, Some(2));
    }

    #[test]
    fn removal_moves_cursor_back() {
        let d = [DestInfo::with_weight(1); 3];
        let mut s = RrState { cursor: Some(1) };
        s.dest_removed(1);
        assert_eq!(s.cursor, Some(0));
        assert_eq!(s.schedule(&d[..2]), Some(1));
        s.dest_removed(0);
        assert_eq!(s.cursor, Some(0));
        let mut s = RrState { cursor: Some(0) };
        s.dest_removed(0);
        assert_eq!(s.cursor, None);
    }

    proptest! {
        #[test]
        fn each_eligible_hit_equally(d in dests(3, 8), rounds in 1usize..6) {
            let k = d.iter().filter(|x| eligible(x)).count();
            let mut s = RrState::new();
            let mut hits = std::vec![0usize; d.len()];
            for _ in 0..rounds * k.max(1) {
                match s.schedule(&d) {
                    Some(i) => { prop_assert!(eligible(&d[i])); hits[i] += 1 }
                    None => prop_assert_eq!(k, 0),
                }
            }
            for (i, x) in d.iter().enumerate() {
                prop_assert_eq!(hits[i], if eligible(x) { rounds } else { 0 });
            }
        }
    }
}
