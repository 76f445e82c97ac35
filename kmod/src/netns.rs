//! Per network namespace state of fvs: everything the control and packet paths of one namespace
//! share. Created when a namespace appears (or the module loads), destroyed when it goes away.

use crate::conn::ConnTable;
use crate::rules::RuleTable;
use crate::sys::timer::{Timer, TimerOwner};
use crate::sys::net::{NetRef, Pernet, PernetState};
use crate::sys::rcu::WriteLock;
use crate::uapi;
use crate::{ctl, hooks};
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering::Relaxed};
use kernel::alloc::{KBox, KVec};
use kernel::prelude::*;
use kernel::sync::{new_spinlock, SpinLock};
use crate::sys::rcu::RcuGuard;

/// A configured sync daemon (the synchronisation itself is the HA issue's).
#[derive(Clone, Copy)]
pub(crate) struct DaemonConf {
    pub(crate) mcast_ifn: [u8; uapi::IP_VS_IFNAME_MAXLEN],
    pub(crate) syncid: u32,
    pub(crate) sync_maxlen: u16,
    pub(crate) mcast_af: u16,
    pub(crate) mcast_group: [u8; 16],
    pub(crate) mcast_port: u16,
    pub(crate) mcast_ttl: u8,
}

/// State only the control path touches, under the namespace's write lock.
pub(crate) struct Ctl {
    /// [master, backup]
    pub(crate) daemons: [Option<DaemonConf>; 2],
}

/// Timeouts settable with `ipvsadm --set`, in seconds.
pub(crate) struct Timeouts {
    pub(crate) tcp: AtomicU32,
    pub(crate) tcp_fin: AtomicU32,
    pub(crate) udp: AtomicU32,
}

#[pin_data]
pub(crate) struct NetState {
    /// Buckets in the connection hash table (reported by GET_INFO and /proc/net/fvs).
    pub(crate) conn_tab_size: u32,
    /// Serialises every change of this namespace's configuration.
    #[pin]
    pub(crate) ctl: WriteLock<Ctl>,
    pub(crate) rules: RuleTable,
    pub(crate) timeouts: Timeouts,
    /// Real servers whose family differs from their service's (tunnels only); while any exist
    /// the sync daemon cannot start, as in ip_vs.
    pub(crate) mixed_af_dests: AtomicU32,
    /// Namespace-wide traffic counters (/proc/net/fvs_stats).
    pub(crate) tot_stats: crate::rules::Stats,
    /// Serialises estimator samples (timer) with zeroing (control path).
    #[pin]
    pub(crate) est_lock: SpinLock<u64>,
    pub(crate) conns: ConnTable,
    /// Frees expired connections (a slice of the table per tick) and samples the rates.
    pub(crate) sweeper: Timer,
    /// The next bucket the sweeper looks at.
    sweep_pos: AtomicUsize,
    /// /proc/sys/net/fvs.
    pub(crate) sysctl: crate::sysctl::Sysctls,
    /// The memory-exhaustion defences and their once-a-second work.
    pub(crate) defense: crate::defense::Defense,
    /// The "no real server" of bypass entries (`cp->dest == NULL` in ip_vs), IPv4 and IPv6:
    /// never available, so nothing counts on it.
    pub(crate) bypass_dest: [kernel::sync::Arc<crate::rules::Dest>; 2],
    /// Services with the SIP persistence engine (`conn_out_counter`).
    pub(crate) conn_out_svcs: AtomicU32,
    /// Services of each family (IPv4, IPv6; `num_services`), changed under the control lock:
    /// the family's hooks are in the namespace while it has any (`hooks_afmask`, bit 0 IPv4).
    svcs_af: [AtomicU32; 2],
    hooks_afmask: AtomicU8,
    /// Real servers were removed while expire_nodest_conn is on: their connections go with
    /// the next run of the work (`ip_vs_enqueue_expire_nodest_conns`).
    nodest_pending: AtomicBool,
    /// Some real server is draining: the work checks every second whether it can go.
    drain_pending: AtomicBool,
    /// The connection-synchronisation daemons and their queue.
    #[pin]
    pub(crate) sync: crate::syncd::SyncState,
}

impl crate::sys::work::WorkOwner for NetState {
    fn work_run(&self) {
        // Draining first: the connections a drain leaves behind go in the same run.
        if self.drain_pending.load(Relaxed) {
            self.drain_run();
        }
        if self.nodest_pending.swap(false, Relaxed) {
            self.expire_nodest_flush();
        }
        self.defense.run(self);
        self.defense.work.rearm(crate::sys::hz() as u64);
    }
}

impl TimerOwner for NetState {
    fn timer_fired(&self) {
        let now = crate::sys::bh::jiffies();
        // Softirq context: bottom halves are already off.
        // One slice of the buckets per tick: every bucket once a second, and no tick walks the
        // whole table.
        let n = self.conns.buckets();
        let per = n.div_ceil(SWEEP_SLICES);
        let start = self.sweep_pos.load(Relaxed);
        self.conns.sweep(start, per, now);
        self.sweep_pos.store(if start + per >= n { 0 } else { start + per }, Relaxed);
        // Rate estimation every 2 seconds (the lock's value: when it last ran), unless the
        // run_estimation sysctl suspends it.
        if crate::sysctl::Sysctls::on(&self.sysctl.run_estimation) {
            let mut last = self.est_lock.lock();
            let period = crate::corelib::estimator::PERIOD_SECS as u64 * crate::sys::hz() as u64;
            if now.wrapping_sub(*last) >= period - crate::sys::hz() as u64 / 2 {
                *last = now;
                let g = RcuGuard::new();
                for s in self.rules.iter(&g) {
                    s.stats.estimate();
                    for d in s.dests.iter(&g) {
                        d.stats.estimate();
                    }
                }
                self.tot_stats.estimate();
            }
        }
        self.sweeper.rearm(sweep_tick());
    }
}

static PERNET: Pernet<NetState> = Pernet::new();

/// The sweeper visits every bucket once a second in this many ticks.
const SWEEP_SLICES: usize = 8;

fn sweep_tick() -> u64 {
    (crate::sys::hz() as u64 / SWEEP_SLICES as u64).max(1)
}

impl PernetState for NetState {
    fn pernet() -> &'static Pernet<Self> {
        &PERNET
    }

    fn init(net: NetRef) -> Result<Pin<KBox<Self>>> {
        let size = 1u32 << crate::params().conn_tab_bits;
        let conns = ConnTable::new(size, net)?;
        let tot_stats = crate::rules::Stats::new()?;
        let bypass = |af| -> Result<kernel::sync::Arc<crate::rules::Dest>> {
            let conf = crate::rules::DestConf {
                conn_flags: uapi::conn_flags::BYPASS,
                weight: 0,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: 0,
                tun_port: 0,
                tun_flags: 0,
            };
            let d = crate::rules::Dest::new(af, [0; 16], 0, &conf)?;
            d.available.store(false, Relaxed);
            Ok(d)
        };
        let bypass_dest = [bypass(crate::rules::AF_INET)?, bypass(crate::rules::AF_INET6)?];
        let state = KBox::pin_init(
            pin_init!(NetState {
                conn_tab_size: 1 << crate::params().conn_tab_bits,
                ctl <- WriteLock::new(Ctl { daemons: [None, None] }),
                rules: RuleTable::new(),
                timeouts: Timeouts {
                    tcp: AtomicU32::new(uapi::DEFAULT_TIMEOUT_TCP),
                    tcp_fin: AtomicU32::new(uapi::DEFAULT_TIMEOUT_TCP_FIN),
                    udp: AtomicU32::new(uapi::DEFAULT_TIMEOUT_UDP),
                },
                mixed_af_dests: AtomicU32::new(0),
                tot_stats,
                est_lock <- new_spinlock!(0, "fvs_est"),
                conns,
                sweeper: Timer::new(),
                sweep_pos: AtomicUsize::new(0),
                sysctl: crate::sysctl::Sysctls::new(),
                defense: crate::defense::Defense::new(),
                nodest_pending: AtomicBool::new(false),
                drain_pending: AtomicBool::new(false),
                conn_out_svcs: AtomicU32::new(0),
                svcs_af: [AtomicU32::new(0), AtomicU32::new(0)],
                hooks_afmask: AtomicU8::new(0),
                bypass_dest,
                sync <- crate::syncd::SyncState::new(),
            }),
            GFP_KERNEL,
        )?;
        // The sysctls point into the pinned state: registered now that it has its place, and
        // unregistered before it goes.
        state.sysctl.register(net)?;
        state.sweeper.start(&*state, sweep_tick());
        state.defense.work.start(&*state, crate::sys::hz() as u64);
        state.sync.work.start_with(&*state, crate::syncd::work_run, crate::sys::hz() as u64);
        let undo = |state: &NetState| {
            state.sync.work.stop();
            state.defense.work.stop();
            state.sweeper.stop();
            state.sysctl.unregister();
        };
        if let Err(e) = ctl::proc::create(net) {
            undo(&state);
            return Err(e);
        }
        Ok(state)
    }

    /// The sync daemons' sockets hold references on the namespace's devices (multicast
    /// membership, cached routes): closed before the devices go, as ip_vs does from a pernet
    /// device exit.
    fn pre_exit(&self) {
        crate::syncd::exit(self);
    }

    fn exit(net: NetRef, state: Pin<KBox<Self>>) {
        state.unhook_all(net);
        ctl::proc::remove(net);
        // Already done by pre_exit; the sockets hold no reference on the namespace itself.
        crate::syncd::exit(&state);
        state.sysctl.unregister();
        state.defense.work.stop();
        state.sweeper.stop();
        // No packet, timer or reader can reach the connections any more: free them all.
        {
            let _bh = crate::sys::bh::BhGuard::new();
            state.conns.stop_conntrack();
            // Templates held by connections go in a later pass, once those are unlinked.
            while state.conns.remove_if(|_| true) > 0 {}
        }
        // Nothing can reach the rules any more; unlink them so they are freed now.
        let g = state.ctl.lock();
        for s in state.rules.iter_w(g.writer()) {
            crate::ctl::genl::forget_mixed(&state, g.writer(), s);
        }
        state.rules.flush(g.writer());
    }
}

impl NetState {
    /// A service of family `af` is about to be added (control lock held): with the family's
    /// first one, fvs hooks the namespace for that family (`ip_vs_register_hooks`). On error
    /// the service must not be added.
    pub(crate) fn service_adding(&self, net: NetRef, af: u16) -> Result {
        let i = usize::from(af == crate::rules::AF_INET6);
        if self.hooks_afmask.load(Relaxed) & (1 << i) == 0 {
            hooks::register(net, af)?;
            self.hooks_afmask.fetch_or(1 << i, Relaxed);
        }
        self.svcs_af[i].fetch_add(1, Relaxed);
        Ok(())
    }

    /// A service of family `af` is gone, or was not added after `service_adding` (control
    /// lock held): with the family's last one, its hooks go (`ip_vs_unregister_hooks`).
    pub(crate) fn service_gone(&self, net: NetRef, af: u16) {
        let i = usize::from(af == crate::rules::AF_INET6);
        let left = self.svcs_af[i].load(Relaxed).saturating_sub(1);
        self.svcs_af[i].store(left, Relaxed);
        if left == 0 && self.hooks_afmask.fetch_and(!(1 << i), Relaxed) & (1 << i) != 0 {
            hooks::unregister(net, af);
        }
    }

    /// Every service went (flush, namespace exit): no hooks remain.
    pub(crate) fn unhook_all(&self, net: NetRef) {
        for (i, af) in [crate::rules::AF_INET, crate::rules::AF_INET6].into_iter().enumerate() {
            self.svcs_af[i].store(0, Relaxed);
            if self.hooks_afmask.fetch_and(!(1 << i), Relaxed) & (1 << i) != 0 {
                hooks::unregister(net, af);
            }
        }
    }

    /// A real server (or a service with its real servers) was removed: with
    /// expire_nodest_conn on, its connections are expired within a second.
    pub(crate) fn expire_nodest_later(&self) {
        if crate::sysctl::Sysctls::on(&self.sysctl.expire_nodest_conn) {
            self.nodest_pending.store(true, Relaxed);
        }
    }

    /// A real server started draining: the work looks at it from the next second on.
    pub(crate) fn drain_later(&self) {
        self.drain_pending.store(true, Relaxed);
    }

    /// Removes the draining real servers whose time is up or whose connections have all
    /// ended (process context, once a second while any is draining).
    fn drain_run(&self) {
        let now = crate::sys::bh::jiffies();
        let g = self.ctl.lock();
        let w = g.writer();
        // Cleared under the lock that `drain_later`'s callers hold: a drain started from now
        // on sets it again.
        self.drain_pending.store(false, Relaxed);
        let mut done = KVec::new();
        let mut left = false;
        for s in self.rules.iter_w(w) {
            for d in s.dests.iter_w(w).filter(|d| d.draining()) {
                let up = now.wrapping_sub(d.drain_until()) as i64 >= 0;
                if (up || !self.conns.serves(d)) && done.push((s.clone(), d.clone()), GFP_KERNEL).is_ok() {
                    continue;
                }
                left = true;
            }
        }
        for (s, d) in &done {
            // Found under the lock still held: the dest is there.
            let _ = ctl::genl::del_dest(self, w, s, d.af, &d.addr, d.port);
        }
        if left {
            self.drain_pending.store(true, Relaxed);
        }
    }

    /// `ip_vs_expire_nodest_conn_flush`: connections whose real server is gone are unlinked,
    /// then the templates they held if nothing else holds them.
    fn expire_nodest_flush(&self) {
        let _bh = crate::sys::bh::BhGuard::new();
        // Bypass entries have no real server to lose.
        let gone = |c: &crate::conn::Conn| !c.dest.available.load(Relaxed) && !c.is_held() && !c.is_bypass();
        self.conns.remove_if(|c| !c.is_template() && gone(c));
        self.conns.remove_if(|c| c.is_template() && gone(c));
    }
    /// The state of `net`; `None` only while the namespace is being set up or torn down.
    pub(crate) fn of(net: NetRef) -> Option<&'static NetState> {
        PERNET.get(net)
    }

    pub(crate) fn timeouts(&self) -> (u32, u32, u32) {
        (self.timeouts.tcp.load(Relaxed), self.timeouts.tcp_fin.load(Relaxed), self.timeouts.udp.load(Relaxed))
    }
}

/// `ip_vs_dst_event`: a device going down or away takes the cached routes of the namespace's
/// real servers with it (a cached route holds its device), so that the device can go and the
/// next packets are routed afresh.
struct RoutesOnDevDown;

impl crate::sys::net::DevDown for RoutesOnDevDown {
    fn dev_down(net: NetRef) {
        let Some(st) = NetState::of(net) else { return };
        let g = RcuGuard::new();
        for s in st.rules.iter(&g) {
            for d in s.dests.iter(&g) {
                d.route.reset();
            }
        }
    }
}

static DEV_NOTIFIER: crate::sys::net::DevNotifier<RoutesOnDevDown> = crate::sys::net::DevNotifier::new();

pub(crate) fn register() -> Result {
    PERNET.register()?;
    if let Err(e) = DEV_NOTIFIER.register() {
        PERNET.unregister();
        return Err(e);
    }
    Ok(())
}

pub(crate) fn unregister() {
    DEV_NOTIFIER.unregister();
    PERNET.unregister()
}
