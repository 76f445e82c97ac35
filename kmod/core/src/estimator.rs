//! The rate estimator of ip_vs (`ip_vs_est.c`): every 2 seconds the counters are sampled and
//! each rate moves a quarter of the way towards the rate of the last interval. Rates are kept
//! scaled (connections and packets by 2^10, bytes by 2^5) and rounded when read.

/// Index of each counter in the arrays the estimator takes and returns.
pub const CONNS: usize = 0;
pub const INPKTS: usize = 1;
pub const OUTPKTS: usize = 2;
pub const INBYTES: usize = 3;
pub const OUTBYTES: usize = 4;

/// The sampling period in seconds (`2 * HZ` jiffies in ip_vs).
pub const PERIOD_SECS: u32 = 2;

/// `struct ip_vs_estimator`: the counters at the last sample and the scaled smoothed rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimator {
    pub last: [u64; 5],
    pub rate: [u64; 5],
}

/// Counters are scaled by 2^10 per second (<< 9 over 2 s), bytes by 2^5 (<< 4 over 2 s).
fn shift(i: usize) -> u32 {
    if i >= INBYTES {
        4
    } else {
        9
    }
}

impl Estimator {
    /// One 2-second sample (`ip_vs_chain_estimation` for one `ip_vs_stats`), with `k` the
    /// counters now (conns, inpkts, outpkts, inbytes, outbytes).
    pub fn sample(&mut self, k: &[u64; 5]) {
        for (i, &ki) in k.iter().enumerate() {
            let rate = ki.wrapping_sub(self.last[i]).wrapping_shl(shift(i));
            self.last[i] = ki;
            // e->x += ((s64)rate - (s64)e->x) >> 2, in two's complement as the kernel does.
            let diff = (rate as i64).wrapping_sub(self.rate[i] as i64) >> 2;
            self.rate[i] = self.rate[i].wrapping_add(diff as u64);
        }
    }

    /// `ip_vs_zero_estimator`: rates restart from zero at the current counters.
    pub fn zero(&mut self, k: &[u64; 5]) {
        self.last = *k;
        self.rate = [0; 5];
    }

    /// `ip_vs_read_estimator`: cps, inpps, outpps, inbps, outbps (rounded, per second).
    pub fn read(&self) -> [u64; 5] {
        let mut r = [0u64; 5];
        for (i, v) in r.iter_mut().enumerate() {
            *v = if i >= INBYTES {
                self.rate[i].wrapping_add(0xF) >> 5
            } else {
                self.rate[i].wrapping_add(0x1FF) >> 10
            };
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The C expressions, written out independently for comparison.
    fn reference(e: &mut [i64; 10], k: &[u64; 5]) {
        for i in 0..5 {
            let s = if i >= 3 { 4 } else { 9 };
            let rate = ((k[i] - e[i] as u64) << s) as i64;
            e[i] = k[i] as i64;
            e[5 + i] += (rate - e[5 + i]) >> 2;
        }
    }

    #[test]
    fn constant_traffic_converges_to_its_rate() {
        let mut e = Estimator::default();
        let mut k = [0u64; 5];
        // 100 conn/s, 1000 pkt/s in, 500 out, 1 MB/s in, 64 kB/s out, sampled every 2 s.
        let per_s = [100u64, 1000, 500, 1_000_000, 64_000];
        for _ in 0..60 {
            for i in 0..5 {
                k[i] += per_s[i] * 2;
            }
            e.sample(&k);
        }
        assert_eq!(e.read(), per_s);
    }

    #[test]
    fn first_sample_is_a_quarter() {
        let mut e = Estimator::default();
        e.sample(&[800, 0, 0, 0, 0]);
        // 400/s scaled, a quarter of it: 100/s.
        assert_eq!(e.read()[CONNS], 100);
    }

    #[test]
    fn zero_restarts_from_current_counters() {
        let mut e = Estimator::default();
        e.sample(&[1000, 1000, 1000, 1000, 1000]);
        e.zero(&[1000, 1000, 1000, 1000, 1000]);
        assert_eq!(e.read(), [0; 5]);
        e.sample(&[1000, 1000, 1000, 1000, 1000]);
        assert_eq!(e.read(), [0; 5]);
    }

    proptest! {
        #[test]
        fn matches_the_c_arithmetic(steps in proptest::collection::vec(proptest::array::uniform5(0u64..1_000_000), 1..40)) {
            let mut e = Estimator::default();
            let mut r = [0i64; 10];
            let mut k = [0u64; 5];
            for d in steps {
                for i in 0..5 { k[i] += d[i]; }
                e.sample(&k);
                reference(&mut r, &k);
                for i in 0..5 {
                    prop_assert_eq!(e.last[i] as i64, r[i]);
                    prop_assert_eq!(e.rate[i] as i64, r[5 + i]);
                }
            }
        }

        #[test]
        fn rates_settle_between_min_and_max_interval_rate(d in 1u64..100_000) {
            // Steady traffic: the reading is the rate, rounding aside.
            let mut e = Estimator::default();
            let mut k = [0u64; 5];
            for _ in 0..80 {
                for v in k.iter_mut() { *v += 2 * d; }
                e.sample(&k);
            }
            let r = e.read();
            for v in r { prop_assert!(v.abs_diff(d) <= 1, "{} vs {}", v, d); }
        }
    }
}
