//! Weighted round-robin (ip_vs_wrr.c): passes with a decreasing current weight `cw`, from
//! `mw = max - (di - 1)` down to 1 in steps of `di = gcd(weights > 0)`; each pass picks, in
//! list order, the dests whose weight is >= cw.

use super::super::hash::gcd;
use super::Dest;

/// `struct ip_vs_wrr_mark`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WrrState {
    /// Current list position (`None` = list head).
    pub cl: Option<usize>,
    pub cw: i32,
    pub mw: i32,
    pub di: i32,
}

/// `ip_vs_wrr_gcd_weight`: gcd of the positive weights, 1 if none.
pub fn gcd_weight<D: Dest>(dests: &[D]) -> i32 {
    let mut g: u32 = 0;
    for d in dests {
        let w = d.weight();
        if w > 0 {
            g = if g > 0 { gcd(w as u32, g) } else { w as u32 };
        }
    }
    if g == 0 {
        1
    } else {
        g as i32
    }
}

/// `ip_vs_wrr_max_weight`: the largest weight, 0 if none positive.
pub fn max_weight<D: Dest>(dests: &[D]) -> i32 {
    dests.iter().map(|d| d.weight()).fold(0, i32::max)
}

impl WrrState {
    /// `ip_vs_wrr_init_svc`.
    pub fn new<D: Dest>(dests: &[D]) -> Self {
        let di = gcd_weight(dests);
        let mw = max_weight(dests).wrapping_sub(di - 1);
        WrrState {
            cl: None,
            cw: mw,
            mw,
            di,
        }
    }

    /// `ip_vs_wrr_dest_changed` (add, delete and update of a dest), with the new dest list.
    pub fn dest_changed<D: Dest>(&mut self, dests: &[D]) {
        self.cl = None;
        self.di = gcd_weight(dests);
        self.mw = max_weight(dests).wrapping_sub(self.di - 1);
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di) * self.di + 1;
        }
    }

    /// `ip_vs_wrr_schedule`, with the same picks and the same state afterwards, but without
    /// ip_vs's empty passes: a pass whose current weight is above every usable (not
    /// overloaded) weight picks nothing, so it is skipped arithmetically. (Weights go up to
    /// INT_MAX: with a huge weight on an overloaded server, ip_vs walks ~weight/gcd passes per
    /// new connection.)
    pub fn schedule<D: Dest>(&mut self, dests: &[D]) -> Option<usize> {
        if self.mw == 0 {
            return None;
        }
        let n = dests.len();
        let last = self.cl.filter(|&c| c < n);
        // The largest weight a pass can pick.
        let top = dests
            .iter()
            .filter(|d| !d.overloaded())
            .map(|d| d.weight())
            .fold(0, i32::max);
        if top <= 0 {
            // No pass picks anything. ip_vs's loop ends either at its first restart (list
            // position reset, `cw` back to `mw`), or -- when it starts on its last pass
            // (`cw <= di`) from a list position -- after one more descent, at that position
            // with the last pass's weight.
            if self.cw <= self.di && last.is_some() {
                let (mw, di) = (self.mw, self.di);
                self.cw = if mw <= 0 { mw } else { (mw - 1) % di + 1 };
                self.cl = last;
            } else {
                self.cw = self.mw;
                self.cl = None;
            }
            return None;
        }
        let skip = |cw: i32, di: i32| -> i32 {
            // `cw` lowered in steps of `di` to at most `top` (never below `top - di + 1`).
            if cw > top && di > 0 {
                cw - ((cw - top) as i64 + di as i64 - 1) as i32 / di * di
            } else {
                cw
            }
        };
        let mut pos = last;
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        loop {
            let start = pos.map_or(0, |p| p + 1);
            for (i, d) in dests.iter().enumerate().skip(start) {
                if !d.overloaded() && d.weight() >= self.cw {
                    self.cl = Some(i);
                    return Some(i);
                }
                if stop == Some(i) {
                    self.cl = Some(i);
                    return None;
                }
            }
            pos = None;
            self.cw = skip(self.cw.wrapping_sub(self.di), self.di);
            if self.cw <= 0 {
                self.cw = self.mw;
                if last_pass || last.is_none() {
                    self.cl = None;
                    return None;
                }
                self.cw = skip(self.mw, self.di);
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::DestInfo;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// ip_vs_wrr_schedule as ip_vs has it (every pass walked): the reference for `schedule`.
    fn schedule_ref<D: Dest>(s: &mut WrrState, dests: &[D]) -> Option<usize> {
        if s.mw == 0 {
            return None;
        }
        let n = dests.len();
        let last = s.cl.filter(|&c| c < n);
        let mut pos = last;
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        loop {
            let start = pos.map_or(0, |p| p + 1);
            for (i, d) in dests.iter().enumerate().skip(start) {
                if !d.overloaded() && d.weight() >= s.cw {
                    s.cl = Some(i);
                    return Some(i);
                }
                if stop == Some(i) {
                    s.cl = Some(i);
                    return None;
                }
            }
            pos = None;
            s.cw = s.cw.wrapping_sub(s.di);
            if s.cw <= 0 {
                s.cw = s.mw;
                if last_pass || last.is_none() {
                    s.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = s.cw <= s.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
        }
    }

    proptest! {
        /// Same picks and state as ip_vs's loop, whatever the weights, overload flags and
        /// changes in between.
        #[test]
        fn same_as_ip_vs(
            dests in proptest::collection::vec((0usize..9, any::<bool>()), 1..6),
            steps in proptest::collection::vec((0usize..6, 0usize..9, any::<bool>(), 0u8..4), 1..60),
        ) {
            const W: [i32; 9] = [0, 1, 2, 3, 4, 6, 9, 12, 30];
            let mut d: Vec<DestInfo> = dests.iter().map(|&(w, o)| {
                let mut x = DestInfo::with_weight(W[w]);
                x.overloaded = o;
                x
            }).collect();
            let mut a = WrrState::new(&d);
            let mut b = a;
            for (i, w, o, op) in steps {
                let i = i % d.len();
                match op {
                    0 => d[i].overloaded = o,
                    1 => {
                        d[i].weight = W[w];
                        a.dest_changed(&d);
                        b = a;
                    }
                    _ => {}
                }
                let ra = a.schedule(&d);
                let rb = schedule_ref(&mut b, &d);
                prop_assert_eq!(ra, rb);
                prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn huge_weight_overloaded_is_quick() {
        // ip_vs would walk ~2^31 passes per call here.
        let mut d = ws(&[i32::MAX, 1]);
        d[0].overloaded = true;
        let mut s = WrrState::new(&d);
        for _ in 0..1000 {
            assert_eq!(s.schedule(&d), Some(1));
        }
        d[1].overloaded = true;
        assert_eq!(s.schedule(&d), None);
    }

    fn ws(w: &[i32]) -> Vec<DestInfo> {
        w.iter().map(|&w| DestInfo::with_weight(w)).collect()
    }

    #[test]
    fn classic_sequence() {
        // LVS docs example: A:4 B:3 C:2 -> AABABCABC
        let d = ws(&[4, 3, 2]);
        let mut s = WrrState::new(&d);
        let seq: Vec<_> = (0..9).map(|_| s.schedule(&d).unwrap()).collect();
        assert_eq!(seq, [0, 0, 1, 0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn gcd_steps() {
        let d = ws(&[4, 2, 0]);
        let mut s = WrrState::new(&d);
        assert_eq!((s.di, s.mw), (2, 3));
        let seq: Vec<_> = (0..6).map(|_| s.schedule(&d).unwrap()).collect();
        assert_eq!(seq, [0, 0, 1, 0, 0, 1]);
    }

    #[test]
    fn all_zero_or_overloaded() {
        let d = ws(&[0, 0]);
        let mut s = WrrState::new(&d);
        assert_eq!(s.schedule(&d), None);
        let mut d = ws(&[3, 1]);
        d[0].overloaded = true;
        d[1].overloaded = true;
        let mut s = WrrState::new(&d);
        assert_eq!(s.schedule(&d), None);
        d[1].overloaded = false;
        assert_eq!(s.schedule(&d), Some(1));
    }

    #[test]
    fn weight_edit_adjusts_cw() {
        let d = ws(&[4, 3, 2]);
        let mut s = WrrState::new(&d);
        s.schedule(&d);
        s.schedule(&d); // cw now 3
        let d2 = ws(&[4, 2, 2]);
        s.dest_changed(&d2);
        assert_eq!((s.di, s.mw, s.cw, s.cl), (2, 3, 3, None));
        let d3 = ws(&[8, 6]);
        let mut s = WrrState {
            cl: Some(1),
            cw: 5,
            mw: 7,
            di: 1,
        };
        s.dest_changed(&d3);
        // di = 2, mw = 8 - 1 = 7, cw = (5/2)*2+1 = 5
        assert_eq!((s.di, s.mw, s.cw, s.cl), (2, 7, 5, None));
    }

    /// The textbook WRR: cw runs mw, mw-di, ..., >0 and each pass yields, in order, the
    /// non-overloaded dests with weight >= cw.
    fn reference(d: &[DestInfo], count: usize) -> Vec<Option<usize>> {
        let di = gcd_weight(d);
        let mw = max_weight(d) - (di - 1);
        let mut pass = Vec::new();
        let mut cw = mw;
        while cw > 0 {
            for (i, x) in d.iter().enumerate() {
                if !x.overloaded && x.weight >= cw {
                    pass.push(i);
                }
            }
            cw -= di;
        }
        if pass.is_empty() {
            return std::vec![None; count];
        }
        pass.iter().cycle().take(count).map(|&i| Some(i)).collect()
    }

    proptest! {
        #[test]
        fn matches_reference_model(d in dests(12, 7), count in 1usize..120) {
            let mut s = WrrState::new(&d);
            let got: Vec<_> = (0..count).map(|_| s.schedule(&d)).collect();
            prop_assert_eq!(got, reference(&d, count));
        }

        #[test]
        fn cycle_counts_proportional(w in proptest::collection::vec(0i32..20, 1..8)) {
            let d = ws(&w);
            let di = gcd_weight(&d);
            let cycle: i32 = w.iter().filter(|&&x| x > 0).map(|&x| x / di).sum();
            let mut s = WrrState::new(&d);
            let mut hits = std::vec![0i32; w.len()];
            for _ in 0..cycle {
                hits[s.schedule(&d).unwrap()] += 1;
            }
            for (i, &x) in w.iter().enumerate() {
                prop_assert_eq!(hits[i], x / di);
            }
        }

        #[test]
        fn weight_edits_keep_choosing_eligible(d in dests(10, 6), d2 in dests(10, 6), n1 in 0usize..30, n2 in 1usize..30) {
            let mut s = WrrState::new(&d);
            for _ in 0..n1 { s.schedule(&d); }
            s.dest_changed(&d2);
            for _ in 0..n2 {
                match s.schedule(&d2) {
                    Some(i) => prop_assert!(eligible(&d2[i])),
                    None => prop_assert!(!d2.iter().any(eligible)),
                }
            }
        }
    }
}
