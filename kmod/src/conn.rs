//! The connection table of one namespace: which real server each client flow goes to.
//!
//! First stage (see docs/architecture.md for the target design): chains of boxed entries under
//! one spinlock, taken by the packet path (softirq) and, with bottom halves disabled, by process
//! context. Entries expire through a sweeper (one store per packet, no per-packet timer).

use crate::corelib::conn_hash::{self, ConnAddr};
use crate::corelib::hash::SipKey;
use crate::rules::{Dest, InetAddr, Service, AF_INET6};
use core::sync::atomic::Ordering::Relaxed;
use kernel::alloc::{KBox, KVVec};
use kernel::prelude::*;
use kernel::sync::{new_spinlock, Arc, SpinLock};

/// What identifies a flow from the client side.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnKey {
    pub(crate) af: u16,
    pub(crate) protocol: u8,
    pub(crate) caddr: InetAddr,
    pub(crate) cport: u16,
    pub(crate) vaddr: InetAddr,
    pub(crate) vport: u16,
}

pub(crate) struct Conn {
    next: Option<KBox<Conn>>,
    pub(crate) key: ConnKey,
    pub(crate) daddr: InetAddr,
    pub(crate) dport: u16,
    /// Protocol state index (`IP_VS_*_S_*`).
    pub(crate) state: u8,
    /// IP_VS_CONN_F_* (forwarding method, INACTIVE, NOOUTPUT, ...).
    pub(crate) flags: u32,
    /// Expiry time in jiffies.
    pub(crate) expires: u64,
    pub(crate) dest: Arc<Dest>,
    /// The service the connection was scheduled by (its statistics count the traffic).
    pub(crate) svc: Arc<Service>,
}

impl Conn {
    pub(crate) fn new(
        key: ConnKey,
        svc: Arc<Service>,
        dest: Arc<Dest>,
        state: u8,
        flags: u32,
        expires: u64,
    ) -> Result<KBox<Conn>> {
        Ok(KBox::new(
            Conn { next: None, key, daddr: dest.addr, dport: dest.port, state, flags, expires, dest, svc },
            GFP_ATOMIC,
        )?)
    }
}

/// `IP_VS_CONN_F_INACTIVE`: the entry counts in the dest's inactconns, else in activeconns.
pub(crate) const F_INACTIVE: u32 = crate::uapi::conn_flags::INACTIVE;

pub(crate) struct Inner {
    buckets: KVVec<Option<KBox<Conn>>>,
    mask: u32,
    key: SipKey,
    count: u32,
}

fn addr_of(af: u16, a: &InetAddr) -> ConnAddr {
    if af == AF_INET6 {
        ConnAddr::V6(*a)
    } else {
        ConnAddr::V4([a[0], a[1], a[2], a[3]])
    }
}

impl Inner {
    /// Entries hash by the client end only (protocol, address, port), which packets in both
    /// directions carry: a request's source, a reply's destination. One chain serves both
    /// lookups, and an entry needs a single link.
    fn bucket_of(&self, af: u16, protocol: u8, caddr: &InetAddr, cport: u16) -> usize {
        let a = addr_of(af, caddr);
        let h = conn_hash::hashkey(&self.key, protocol, &a, cport, &a, 0);
        (h & self.mask) as usize
    }

    fn bucket(&self, k: &ConnKey) -> usize {
        self.bucket_of(k.af, k.protocol, &k.caddr, k.cport)
    }

    /// The entry a reply belongs to: from `saddr:sport` (the real server for NAT, the virtual
    /// service for DR/TUN replies routed through the director) to the client `daddr:dport`.
    pub(crate) fn lookup_out(
        &mut self,
        af: u16,
        protocol: u8,
        saddr: &InetAddr,
        sport: u16,
        daddr: &InetAddr,
        dport: u16,
    ) -> Option<&mut Conn> {
        let b = self.bucket_of(af, protocol, daddr, dport);
        let mut cur = self.buckets.get_mut(b)?.as_deref_mut();
        while let Some(c) = cur {
            let k = &c.key;
            if k.af == af && k.protocol == protocol && k.cport == dport && k.caddr == *daddr {
                let masq = c.flags & crate::uapi::conn_flags::FWD_MASK == crate::uapi::conn_flags::MASQ;
                let (a, p) = if masq { (&c.daddr, c.dport) } else { (&k.vaddr, k.vport) };
                if p == sport && a == saddr {
                    return Some(c);
                }
            }
            cur = c.next.as_deref_mut();
        }
        None
    }

    /// The entry of a client flow.
    pub(crate) fn lookup(&mut self, k: &ConnKey) -> Option<&mut Conn> {
        let b = self.bucket(k);
        let mut cur = self.buckets.get_mut(b)?.as_deref_mut();
        while let Some(c) = cur {
            if c.key == *k {
                return Some(c);
            }
            cur = c.next.as_deref_mut();
        }
        None
    }

    pub(crate) fn insert(&mut self, mut c: KBox<Conn>) {
        let b = self.bucket(&c.key);
        if let Some(head) = self.buckets.get_mut(b) {
            c.next = head.take();
            *head = Some(c);
            self.count += 1;
        }
    }

    /// Unlinks and frees every entry for which `expired` holds, releasing its dest counters.
    pub(crate) fn remove_if(&mut self, mut expired: impl FnMut(&Conn) -> bool) -> u32 {
        let mut n = 0;
        for head in self.buckets.iter_mut() {
            let mut link = head;
            loop {
                let gone = match link.as_deref() {
                    None => break,
                    Some(c) => expired(c),
                };
                if gone {
                    // Unlink the entry and continue with its successor in the same slot.
                    if let Some(mut c) = link.take() {
                        *link = c.next.take();
                        unbind_dest(&c);
                        n += 1;
                    }
                } else if let Some(c) = link {
                    link = &mut c.next;
                }
            }
        }
        self.count -= n;
        n
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(&Conn) -> bool) {
        for head in self.buckets.iter() {
            let mut cur = head.as_deref();
            while let Some(c) = cur {
                if !f(c) {
                    return;
                }
                cur = c.next.as_deref();
            }
        }
    }
}

/// A connection stops counting on its dest (`ip_vs_unbind_dest`).
fn unbind_dest(c: &Conn) {
    if c.flags & F_INACTIVE != 0 {
        c.dest.inactconns.fetch_sub(1, Relaxed);
    } else {
        c.dest.activeconns.fetch_sub(1, Relaxed);
    }
}

#[pin_data]
pub(crate) struct ConnTable {
    #[pin]
    inner: SpinLock<Inner>,
}

impl ConnTable {
    pub(crate) fn new(size: u32) -> Result<impl PinInit<Self>> {
        let mut buckets = KVVec::with_capacity(size as usize, GFP_KERNEL)?;
        for _ in 0..size {
            buckets.push(None, GFP_KERNEL)?;
        }
        let mut k = [0u8; 16];
        crate::sys::bh::random_bytes(&mut k);
        let key = SipKey([
            u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]]),
            u64::from_ne_bytes([k[8], k[9], k[10], k[11], k[12], k[13], k[14], k[15]]),
        ]);
        Ok(pin_init!(Self { inner <- new_spinlock!(Inner { buckets, mask: size - 1, key, count: 0 }, "fvs_conns") }))
    }

    /// Locks the table from the packet path (softirq: bottom halves are already off).
    pub(crate) fn lock(&self) -> kernel::sync::SpinLockGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Locks the table from process context.
    pub(crate) fn with_bh<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let _bh = crate::sys::bh::BhGuard::new();
        let mut g = self.inner.lock();
        f(&mut g)
    }
}
