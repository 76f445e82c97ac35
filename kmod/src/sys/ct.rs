//! Netfilter conntrack, as ip_vs uses it (`ip_vs_nfct.c`): a NAT connection's conntrack entry
//! learns the real server's side, entries of finished connections are dropped, the FTP helper
//! resizes a payload with conntrack's sequence adjustment. The C side (helpers.c) works on the
//! packet's own entry, so no `struct nf_conn` layout is needed here.

use super::bindings as b;
use super::net::NetRef;
use super::nf::Skb;
use core::ptr::NonNull;
use kernel::prelude::*;

/// What `mangle_tcp` did.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mangle {
    Done,
    /// Out of memory: the packet must be dropped (its retransmission will try again).
    Failed,
    /// The packet has no conntrack entry (conntrack does not run in the namespace).
    NoConntrack,
}

impl Skb {
    /// `ip_vs_update_conntrack`: the unconfirmed conntrack entry of a NAT connection's first
    /// packet expects its replies from `addr:port` (`outin`: the real server) or, for a first
    /// packet that is a reply, sent to `addr:port` (the virtual service). `app`: a helper may
    /// resize the payload (sequence adjustment is added).
    pub(crate) fn ct_update(&mut self, outin: bool, app: bool, addr: &[u8; 16], port: u16) {
        let Some(p) = self.ptr() else { return };
        // SAFETY: valid skb; `addr` is 16 readable bytes (`union nf_inet_addr`'s size).
        unsafe { b::fvs_ct_update(p, outin, app, addr.as_ptr().cast(), port.to_be()) }
    }

    /// The packet belongs to an already confirmed conntrack entry.
    pub(crate) fn ct_confirmed(&self) -> bool {
        // SAFETY: valid skb; reads its conntrack reference.
        self.ptr().is_some_and(|p| unsafe { b::fvs_ct_confirmed(p) })
    }

    /// A packet about to be encapsulated leaves its conntrack entry, confirming it first when
    /// the connection keeps conntrack (`confirm`). False: conntrack refused the entry and the
    /// packet must be dropped.
    pub(crate) fn ct_tunnel_prepare(&mut self, confirm: bool) -> bool {
        let Some(p) = self.ptr() else { return false };
        // SAFETY: valid skb.
        unsafe { b::fvs_ct_tunnel_prepare(p, confirm) as u32 == b::NF_ACCEPT }
    }

    /// Replaces `len` bytes of TCP payload at `off` (from the payload start) by `text`; the
    /// TCP header starts at `protoff`. Lengths, checksums and the sequence offset are updated.
    pub(crate) fn mangle_tcp(&mut self, protoff: u32, off: u32, len: u32, text: &[u8]) -> Mangle {
        let Some(p) = self.ptr() else { return Mangle::Failed };
        // SAFETY: valid, unconsumed skb; `text` is readable for its length and copied.
        match unsafe { b::fvs_ct_mangle_tcp(p, protoff, off, len, text.as_ptr().cast(), text.len() as u32) } {
            1 => Mangle::Done,
            0 => Mangle::Failed,
            _ => Mangle::NoConntrack,
        }
    }

    /// `tcp_csum_check`: the TCP checksum of the segment at `protoff` is right.
    pub(crate) fn tcp_csum_ok(&mut self, protoff: u32, v6: bool) -> bool {
        // SAFETY: valid skb; nf_checksum only reads it (and may record CHECKSUM_COMPLETE).
        self.ptr().is_some_and(|p| unsafe { b::fvs_tcp_csum_ok(p, protoff, v6) })
    }
}

/// The namespace handle conntrack calls need outside a packet (the state that holds it lives
/// exactly as long as the namespace).
pub(crate) struct CtNet(NonNull<b::net>);

// SAFETY: a `struct net` may be used from any CPU; the holder does not outlive the namespace
// (it is part of the namespace's pernet state).
unsafe impl Send for CtNet {}
// SAFETY: as above; the calls made through it are safe to run concurrently.
unsafe impl Sync for CtNet {}

impl CtNet {
    pub(crate) fn new(net: NetRef) -> Self {
        // SAFETY: NetRef wraps a non-null pointer.
        Self(unsafe { NonNull::new_unchecked(net.as_ptr()) })
    }

    /// `ip_vs_conn_drop_conntrack`: kills the conntrack entry of the client flow
    /// `caddr:cport -> vaddr:vport` (nothing without a client port).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn drop_entry(&self, af: u16, protocol: u8, caddr: &[u8; 16], cport: u16, vaddr: &[u8; 16], vport: u16) {
        // SAFETY: the namespace is alive (type invariant); the addresses are 16 bytes each.
        unsafe {
            b::fvs_ct_drop(
                self.0.as_ptr(),
                af,
                protocol,
                caddr.as_ptr().cast(),
                cport.to_be(),
                vaddr.as_ptr().cast(),
                vport.to_be(),
            )
        }
    }

    /// `nf_ct_netns_get`: conntrack runs in the namespace for family `af` (AF_INET/AF_INET6)
    /// until the matching `put`.
    pub(crate) fn get(&self, af: u16) -> Result {
        // SAFETY: live namespace.
        let r = unsafe { b::fvs_ct_netns_get(self.0.as_ptr(), nfproto(af)) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    pub(crate) fn put(&self, af: u16) {
        // SAFETY: live namespace; pairs with a successful `get`.
        unsafe { b::fvs_ct_netns_put(self.0.as_ptr(), nfproto(af)) }
    }
}

fn nfproto(af: u16) -> u8 {
    if af == 10 {
        b::NFPROTO_IPV6 as u8
    } else {
        b::NFPROTO_IPV4 as u8
    }
}
