//! ip_vs's defences against memory exhaustion (`update_defense_level`, `ip_vs_todrop`,
//! `todrop_entry` in ip_vs_ctl.c / ip_vs_conn.c): once a second the available memory is
//! compared with `amemthresh` and the three strategies (`drop_entry`, `drop_packet`,
//! `secure_tcp`, each 0 = off, 1 = automatic, 2 = automatic and active now, 3 = always) are
//! updated. Modes 1 and 2 switch into each other with the memory situation, which the sysctl
//! shows.

/// The sysctl values the update reads (and, in modes 1/2, rewrites).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sysctls {
    pub amemthresh: i32,
    pub am_droprate: i32,
    pub drop_entry: i32,
    pub drop_packet: i32,
    pub secure_tcp: i32,
}

/// What the strategies decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    /// Randomly drop entries (every second, a 32nd of the table).
    pub drop_entry: bool,
    /// Drop one of every `drop_rate` packets that would create a connection (0: none).
    pub drop_rate: i32,
    /// Reset the drop countdown to this (set when `drop_rate` is recomputed).
    pub drop_counter: Option<i32>,
    /// `secure_tcp > 1` as of this update (the TCP state table in force).
    pub secure_tcp_on: bool,
    /// The state table must change (`ip_vs_protocol_timeout_change`).
    pub secure_tcp_changed: bool,
}

/// `update_defense_level` for `availmem` pages of free + buffer memory. `old_secure_tcp` is
/// the secure_tcp value of the previous update (updated here). The sysctls are updated in
/// place where ip_vs rewrites them.
pub fn update(s: &mut Sysctls, old_secure_tcp: &mut i32, availmem: i64) -> Level {
    let amemthresh = i64::from(s.amemthresh.max(0));
    let nomem = availmem < amemthresh;
    let drop_entry = match s.drop_entry {
        1 if nomem => {
            s.drop_entry = 2;
            true
        }
        2 if !nomem => {
            s.drop_entry = 1;
            false
        }
        2 | 3 => true,
        _ => false,
    };

    let rate = || {
        // amemthresh / (amemthresh - availmem): 1 (drop all) when nearly nothing is left.
        let d = amemthresh - availmem;
        (amemthresh / d.max(1)).clamp(0, i64::from(i32::MAX)) as i32
    };
    let (drop_rate, drop_counter) = match s.drop_packet {
        1 | 2 if nomem => {
            s.drop_packet = 2;
            let r = rate();
            (r, Some(r))
        }
        2 => {
            s.drop_packet = 1;
            (0, None)
        }
        3 => (s.am_droprate, None),
        _ => (0, None),
    };

    let old = *old_secure_tcp;
    let mut to_change = None;
    match s.secure_tcp {
        0 if old >= 2 => to_change = Some(false),
        1 if nomem => {
            if old < 2 {
                to_change = Some(true);
            }
            s.secure_tcp = 2;
        }
        1 if old >= 2 => to_change = Some(false),
        2 if nomem && old < 2 => to_change = Some(true),
        2 if nomem => {}
        2 => {
            if old >= 2 {
                to_change = Some(false);
            }
            s.secure_tcp = 1;
        }
        3 if old < 2 => to_change = Some(true),
        _ => {}
    }
    *old_secure_tcp = s.secure_tcp;
    Level {
        drop_entry,
        drop_rate,
        drop_counter,
        secure_tcp_on: s.secure_tcp > 1,
        secure_tcp_changed: to_change.is_some(),
    }
}

/// `ip_vs_todrop`: with a drop rate, one packet in `rate` (counting down from `counter`) is
/// dropped. Returns the new counter and whether to drop.
pub fn todrop(rate: i32, counter: i32) -> (i32, bool) {
    if rate == 0 {
        return (counter, false);
    }
    let c = counter.wrapping_sub(1);
    if c > 0 {
        (c, false)
    } else {
        (rate, true)
    }
}

/// `todrop_entry`: whether to drop an entry that has lived at least 60 s since its expiry was
/// last set (`settled`) and has seen `in_pkts` incoming packets, given the countdown kept for
/// that packet count (`counter`, one per count 0..=8). The rate for `i` packets is `i`, so
/// entries that saw no packet (or more than 8) are never dropped this way. Returns the new
/// countdown and the decision.
pub fn todrop_entry(counter: i8, settled: bool, in_pkts: u32) -> (i8, bool) {
    if !settled || in_pkts == 0 || in_pkts > 8 {
        return (counter, false);
    }
    let rate = in_pkts as i8;
    let c = counter.wrapping_sub(1);
    if c > 0 {
        (c, false)
    } else {
        (rate, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sys(de: i32, dp: i32, st: i32) -> Sysctls {
        Sysctls {
            amemthresh: 1024,
            am_droprate: 10,
            drop_entry: de,
            drop_packet: dp,
            secure_tcp: st,
        }
    }

    #[test]
    fn automatic_modes_follow_memory() {
        let mut s = sys(1, 1, 1);
        let mut old = 1;
        let l = update(&mut s, &mut old, 100);
        assert_eq!((s.drop_entry, s.drop_packet, s.secure_tcp), (2, 2, 2));
        assert!(l.drop_entry && l.secure_tcp_on && l.secure_tcp_changed);
        // 1024 / (1024 - 100) = 1: drop every such packet.
        assert_eq!((l.drop_rate, l.drop_counter), (1, Some(1)));
        let l = update(&mut s, &mut old, 100);
        assert!(!l.secure_tcp_changed && l.secure_tcp_on);
        let l = update(&mut s, &mut old, 5000);
        assert_eq!((s.drop_entry, s.drop_packet, s.secure_tcp), (1, 1, 1));
        assert!(!l.drop_entry && l.drop_rate == 0 && !l.secure_tcp_on && l.secure_tcp_changed);
    }

    #[test]
    fn always_and_never() {
        let mut s = sys(3, 3, 3);
        let mut old = 0;
        let l = update(&mut s, &mut old, 1 << 30);
        assert!(l.drop_entry && l.secure_tcp_on && l.secure_tcp_changed);
        assert_eq!(l.drop_rate, 10);
        assert_eq!(s, sys(3, 3, 3));
        s = sys(0, 0, 0);
        let l = update(&mut s, &mut old, 0);
        assert!(!l.drop_entry && l.drop_rate == 0 && !l.secure_tcp_on && l.secure_tcp_changed);
    }

    #[test]
    fn todrop_every_rate_th() {
        let (mut c, mut dropped) = (0, std::vec::Vec::new());
        for i in 0..30 {
            let (n, d) = todrop(10, c);
            c = n;
            if d {
                dropped.push(i);
            }
        }
        assert_eq!(dropped, [0, 10, 20]);
        assert_eq!(todrop(0, 5), (5, false));
    }

    proptest! {
        /// Modes stay within 0..=3 and 1/2 only trade places; the rate is positive when set.
        #[test]
        fn modes_stay_in_range(de in 0..4i32, dp in 0..4i32, st in 0..4i32,
                               mems in proptest::collection::vec(0i64..4096, 1..20)) {
            let mut s = sys(de, dp, st);
            let mut old = st;
            for m in mems {
                let l = update(&mut s, &mut old, m);
                prop_assert!((0..4).contains(&s.drop_entry) && (0..4).contains(&s.drop_packet));
                prop_assert!((de == 0) == (s.drop_entry == 0) && (de == 3) == (s.drop_entry == 3));
                prop_assert!(l.drop_rate >= 0);
                prop_assert_eq!(l.secure_tcp_on, s.secure_tcp > 1);
            }
        }

        /// An entry with i incoming packets (1..=8) is dropped once every i candidates.
        #[test]
        fn entry_dropper_rate(i in 1u32..9) {
            let mut c = 0i8;
            let mut n = 0;
            for _ in 0..(i * 5) {
                let (nc, d) = todrop_entry(c, true, i);
                c = nc;
                n += d as u32;
            }
            prop_assert_eq!(n, 5);
            prop_assert!(!todrop_entry(c, false, i).1 && !todrop_entry(0, true, 0).1 && !todrop_entry(0, true, 9).1);
        }
    }
}
