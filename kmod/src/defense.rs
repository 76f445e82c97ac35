//! ip_vs's defences against memory exhaustion, per namespace (`update_defense_level`,
//! `defense_work_handler`, `ip_vs_random_dropentry`): once a second, in process context, the
//! free memory is compared with the `amemthresh` sysctl and the strategies the `drop_entry`,
//! `drop_packet` and `secure_tcp` sysctls select are switched on or off (core `defense`).
//! The packet path then drops one in `drop_rate` new connections (`todrop`) and uses the TCP
//! state table for attacks (`secure_tcp_on`); the work itself drops random entries.

use crate::conn::Conn;
use crate::corelib::defense as core_defense;
use crate::corelib::proto::{sctp, tcp};
use crate::netns::NetState;
use crate::sys::work::PeriodicWork;
use crate::uapi::svc_flags;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicI8, Ordering::Relaxed};

const IPPROTO_TCP: u8 = 6;
const IPPROTO_SCTP: u8 = 132;

pub(crate) struct Defense {
    old_secure_tcp: AtomicI32,
    /// The TCP state table for attacks is in force (`secure_tcp` > 1).
    pub(crate) secure_tcp_on: AtomicBool,
    drop_entry_on: AtomicBool,
    drop_rate: AtomicI32,
    drop_counter: AtomicI32,
    /// `todrop_entry`'s countdowns, one per incoming-packet count 0..=8.
    entry_counters: [AtomicI8; 9],
    /// Runs `NetState::work_run` once a second.
    pub(crate) work: PeriodicWork,
}

impl Defense {
    pub(crate) const fn new() -> Self {
        Self {
            old_secure_tcp: AtomicI32::new(0),
            secure_tcp_on: AtomicBool::new(false),
            drop_entry_on: AtomicBool::new(false),
            drop_rate: AtomicI32::new(0),
            drop_counter: AtomicI32::new(0),
            entry_counters: [const { AtomicI8::new(0) }; 9],
            work: PeriodicWork::new(),
        }
    }

    /// `ip_vs_todrop`: drop this packet, which would start a connection? (The countdown is
    /// shared by all CPUs without a lock, as in ip_vs: under load it is approximate.)
    pub(crate) fn todrop(&self) -> bool {
        let rate = self.drop_rate.load(Relaxed);
        if rate == 0 {
            return false;
        }
        let (c, drop) = core_defense::todrop(rate, self.drop_counter.load(Relaxed));
        self.drop_counter.store(c, Relaxed);
        drop
    }

    /// `update_defense_level`, then the random entry drop when it is on.
    pub(crate) fn run(&self, st: &NetState) {
        let ctl = &st.sysctl;
        let mut s = core_defense::Sysctls {
            amemthresh: ctl.amemthresh.load(Relaxed),
            am_droprate: ctl.am_droprate.load(Relaxed),
            drop_entry: ctl.drop_entry.load(Relaxed),
            drop_packet: ctl.drop_packet.load(Relaxed),
            secure_tcp: ctl.secure_tcp.load(Relaxed),
        };
        let before = s;
        let mut old = self.old_secure_tcp.load(Relaxed);
        let l = core_defense::update(&mut s, &mut old, crate::sys::mem::free_and_buffer_pages());
        // The automatic modes show their state in the sysctl (1 <-> 2), unless a write came
        // in meanwhile.
        for (v, b, a) in [
            (&ctl.drop_entry, before.drop_entry, s.drop_entry),
            (&ctl.drop_packet, before.drop_packet, s.drop_packet),
            (&ctl.secure_tcp, before.secure_tcp, s.secure_tcp),
        ] {
            if a != b {
                let _ = v.compare_exchange(b, a, Relaxed, Relaxed);
            }
        }
        self.old_secure_tcp.store(old, Relaxed);
        self.drop_entry_on.store(l.drop_entry, Relaxed);
        if let Some(c) = l.drop_counter {
            self.drop_counter.store(c, Relaxed);
        }
        self.drop_rate.store(l.drop_rate, Relaxed);
        self.secure_tcp_on.store(l.secure_tcp_on, Relaxed);
        if l.drop_entry {
            let _bh = crate::sys::bh::BhGuard::new();
            let now = crate::sys::bh::jiffies();
            st.conns.random_drop(|c| self.drop_entry(st, c, now));
        }
    }

    /// `ip_vs_random_dropentry`'s choice: half-open connections go, established ones (and
    /// other protocols' entries) by `todrop_entry`, unassured templates go; entries that
    /// connections still hold stay.
    fn drop_entry(&self, st: &NetState, c: &Conn, now: u64) -> bool {
        if c.is_held() {
            return false;
        }
        let state = c.state() as usize;
        if c.is_template() {
            if c.svc.conf().flags & svc_flags::ONEPACKET != 0 {
                return self.todrop_entry(st, c, now);
            }
            return state & crate::conn::CTPL_S_ASSURED as usize == 0;
        }
        match c.key.protocol {
            IPPROTO_TCP => match tcp::STATES.get(state) {
                Some(tcp::State::SynRecv | tcp::State::SynAck) => true,
                Some(tcp::State::Established) => self.todrop_entry(st, c, now),
                _ => false,
            },
            IPPROTO_SCTP => match sctp::STATES.get(state) {
                Some(sctp::State::Init1 | sctp::State::Init) => true,
                Some(sctp::State::Established) => self.todrop_entry(st, c, now),
                _ => false,
            },
            _ => self.todrop_entry(st, c, now),
        }
    }

    /// `todrop_entry`: an entry not refreshed for 60 s, by its incoming-packet count.
    fn todrop_entry(&self, st: &NetState, c: &Conn, now: u64) -> bool {
        let hz = crate::sys::hz() as u64;
        let timeout = if c.is_template() {
            c.svc.conf().timeout as u64
        } else {
            crate::hooks::state_timeout(st, c.key.protocol, c.state()) as u64 * hz
        };
        // time_before(timeout + jiffies, expires + 60 * HZ): refreshed less than 60 s ago.
        let settled = now.wrapping_add(timeout) >= c.expires().wrapping_add(60 * hz);
        let pkts = c.in_pkts.load(Relaxed);
        let Some(slot) = self.entry_counters.get(pkts as usize) else { return false };
        let (n, drop) = core_defense::todrop_entry(slot.load(Relaxed), settled, pkts);
        slot.store(n, Relaxed);
        drop
    }
}
