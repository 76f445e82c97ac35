//! Transmitters: how a packet of a connection reaches its real server (NAT, direct routing,
//! IP-in-IP tunnel, local delivery) and how NAT replies are rewritten back to the virtual
//! service — `net/netfilter/ipvs/ip_vs_xmit.c` and the TCP/UDP NAT handlers, for IPv4.
//!
//! Every function here either returns `Accept` with the packet still ours to continue, or
//! consumes it (sent or freed) and returns `Stolen`.

use crate::corelib::csum::{self, IpAddr, UdpCsumMode};
use crate::sys::net::NetRef;
use crate::sys::nf::{Skb, Verdict};
use crate::sys::dst::{CachedDst, DstSlot};
use crate::sys::skb::{Route, Route6};
use crate::rules::InetAddr;
use crate::uapi::conn_flags;
#[allow(unused_imports)]
use crate::sys::prof::Sec;

pub(crate) const IPPROTO_TCP: u8 = 6;
pub(crate) const IPPROTO_UDP: u8 = 17;
pub(crate) const IPPROTO_SCTP: u8 = 132;
const SCTP_HDR_LEN: usize = 12;
const IPPROTO_ICMP: u8 = 1;

const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_FRAG_NEEDED: u8 = 4;
const ICMP_TIME_EXCEEDED: u8 = 11;
const ICMP_EXC_TTL: u8 = 0;
const IP_DF: u16 = 0x4000;

/// What a transmitter needs to know of a connection (copied out of the table, so no lock is
/// held while the packet is sent).
#[derive(Clone, Copy)]
pub(crate) struct Target<'g> {
    pub(crate) flags: u32,
    pub(crate) protocol: u8,
    /// Addresses as `union nf_inet_addr` (IPv4 in the first 4 bytes).
    pub(crate) vaddr: InetAddr,
    pub(crate) vport: u16,
    pub(crate) daddr: InetAddr,
    pub(crate) dport: u16,
    /// The real server's address family (differs from the service's only for tunnels).
    pub(crate) daf: u16,
    /// The real server's tunnel: `IP_VS_CONN_F_TUNNEL_TYPE_*`, UDP port (GUE, host order) and
    /// `IP_VS_TUNNEL_ENCAP_FLAG_*`.
    pub(crate) tun_type: u8,
    pub(crate) tun_port: u16,
    pub(crate) tun_flags: u16,
    /// The real server's route cache, for the packet's RCU section (`None`: look the route up).
    pub(crate) route: Option<DstSlot<'g>>,
}

impl Target<'_> {
    /// The same target without the route cache, for use outside the section it was made in.
    pub(crate) fn uncached(self) -> Target<'static> {
        let Target { flags, protocol, vaddr, vport, daddr, dport, daf, tun_type, tun_port, tun_flags, route: _ } = self;
        Target { flags, protocol, vaddr, vport, daddr, dport, daf, tun_type, tun_port, tun_flags, route: None }
    }

    pub(crate) fn method(&self) -> u32 {
        self.flags & conn_flags::FWD_MASK
    }

    /// The connection keeps its conntrack entry (`IP_VS_CONN_F_NFCT`).
    pub(crate) fn nfct(&self) -> bool {
        self.flags & conn_flags::NFCT != 0
    }

    fn vaddr4(&self) -> [u8; 4] {
        addr4(&self.vaddr, 0)
    }

    fn daddr4(&self) -> [u8; 4] {
        addr4(&self.daddr, 0)
    }
}

#[inline(always)]
fn get16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

#[inline(always)]
fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
fn addr4(b: &[u8], off: usize) -> [u8; 4] {
    [b[off], b[off + 1], b[off + 2], b[off + 3]]
}

/// `ip_send_check()`: recompute an IPv4 header checksum.
fn ip_send_check(h: &mut [u8], ihl: usize) {
    put16(h, 10, 0);
    let c = csum::checksum(&h[..ihl]);
    put16(h, 10, c);
}

/// `ip_vs_update_conntrack` for a packet of a NAT connection that keeps conntrack (not
/// one-packet scheduled: no reply is expected): its entry learns the real server's side
/// (`outin`) or the virtual service's.
fn nat_ct(skb: &mut Skb, t: &Target<'_>, outin: bool) {
    if t.nfct() && t.method() == conn_flags::MASQ && t.flags & conn_flags::ONE_PACKET == 0 {
        let (addr, port) = if outin { (&t.daddr, t.dport) } else { (&t.vaddr, t.vport) };
        skb.ct_update(outin, t.flags & crate::conn::F_APP != 0, addr, port);
    }
}

/// Consumes the packet: freed, nothing sent.
pub(crate) fn tx_error(skb: &mut Skb) -> Verdict {
    skb.free();
    Verdict::Stolen
}

/// Bytes of L4 header the NAT handlers rewrite.
fn l4_hdr_len(protocol: u8) -> usize {
    match protocol {
        IPPROTO_TCP => 20,
        IPPROTO_SCTP => SCTP_HDR_LEN,
        IPPROTO_UDP => 8,
        // AH/ESP: only the IP header is rewritten.
        _ => 0,
    }
}

/// Offset of the L4 checksum field.
fn l4_check_off(protocol: u8) -> usize {
    if protocol == IPPROTO_TCP {
        16
    } else {
        6
    }
}

/// Rewrites one address and the matching port of a TCP/UDP/SCTP packet and fixes its
/// checksums, as the `tcp/udp/sctp_dnat_handler` (`dnat`) and `_snat_handler` (`!dnat`) plus
/// the address rewrite of the NAT transmitters do. `l4off`: where the transport header starts
/// (after IPv4 options or IPv6 extension headers); its first bytes must be writable.
/// Rewrites the destination (`dnat`) or source of a TCP/UDP/SCTP packet (AH/ESP: the address
/// only) and its checksums; first makes the headers up to the end of the transport header
/// writable. False if that failed.
fn mangle(skb: &mut Skb, v6: bool, l4off: usize, protocol: u8, dnat: bool, t: &Target<'_>) -> bool {
    let need = l4off + l4_hdr_len(protocol);
    // TCP/UDP: made writable below, in the same call that fetches the headers.
    if !matches!(protocol, IPPROTO_TCP | IPPROTO_UDP) && skb.ensure_writable(need as u32).is_err() {
        return false;
    }
    let (oldip, newip, newport) = if dnat { (t.vaddr, t.daddr, t.dport) } else { (t.daddr, t.vaddr, t.vport) };
    let (alen, aoff) = match (v6, dnat) {
        (false, true) => (4, 16),
        (false, false) => (4, 12),
        (true, true) => (16, 24),
        (true, false) => (16, 8),
    };
    if protocol == IPPROTO_SCTP {
        return mangle_sctp(skb, v6, l4off, dnat, &newip[..alen], aoff, newport);
    }
    if !matches!(protocol, IPPROTO_TCP | IPPROTO_UDP) {
        // AH/ESP (no dnat/snat handler in ip_vs): the address alone.
        let Some(h) = skb.linear_mut(l4off) else { return false };
        h[aoff..aoff + alen].copy_from_slice(&newip[..alen]);
        if !v6 {
            ip_send_check(h, l4off);
        }
        skb.forward_csum();
        return true;
    }
    let len = skb.len();
    let l4len = len - l4off as u32;
    let oldport = if dnat { t.vport } else { t.dport };
    let Some((h, partial)) = skb.writable_headers(need) else { return false };
    let coff = l4off + l4_check_off(protocol);
    let check = get16(h, coff);
    let (o, n) = if v6 {
        (IpAddr::V6(oldip), IpAddr::V6(newip))
    } else {
        (IpAddr::V4(addr4(&oldip, 0)), IpAddr::V4(addr4(&newip, 0)))
    };
    // Port: destination for DNAT, source for SNAT.
    put16(h, l4off + if dnat { 2 } else { 0 }, newport);
    let mode = if protocol == IPPROTO_TCP {
        if partial {
            UdpCsumMode::Partial
        } else {
            UdpCsumMode::Fast
        }
    } else {
        csum::udp_csum_mode(partial, false, check)
    };
    let mut full = false;
    match mode {
        UdpCsumMode::Partial => {
            put16(h, coff, csum::partial_csum_update(check, &o, &n, l4len as u16, l4len as u16));
        }
        UdpCsumMode::Fast => {
            let c = if protocol == IPPROTO_TCP {
                csum::tcp_fast_csum_update(check, &o, &n, oldport, newport)
            } else {
                csum::udp_fast_csum_update(check, &o, &n, oldport, newport)
            };
            put16(h, coff, c);
        }
        UdpCsumMode::Full => {
            put16(h, coff, 0);
            full = true;
        }
    }
    // The address in the IP header; IPv4's header checksum follows it incrementally (the
    // header verified on input, or was summed by `__ip_local_out` before LOCAL_OUT), which
    // gives what `ip_send_check` would.
    if v6 {
        h[aoff..aoff + 16].copy_from_slice(&newip);
    } else {
        let (old4, new4) = (addr4(h, aoff), addr4(&newip, 0));
        h[aoff..aoff + 4].copy_from_slice(&new4);
        put16(h, 10, csum::csum_replace4(get16(h, 10), old4, new4));
    }
    if full {
        let k = skb.checksum(l4off as u32, l4len);
        let data = u16::from_be_bytes(csum::fold16(k).to_ne_bytes()) as u32;
        let Some(h) = skb.linear_mut(need) else { return false };
        let pseudo = if v6 {
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&h[8..24]);
            d.copy_from_slice(&h[24..40]);
            csum::pseudo_v6(&s, &d, protocol, l4len)
        } else {
            csum::pseudo_v4(addr4(h, 12), addr4(h, 16), protocol, l4len as u16)
        };
        let mut c = csum::csum_fold(csum::csum_add(pseudo, data));
        if c == 0 {
            c = csum::CSUM_MANGLED_0;
        }
        put16(h, coff, c);
        skb.set_csum_unnecessary();
    } else if !partial {
        // CHECKSUM_COMPLETE no longer covers the edited bytes.
        skb.forward_csum();
    }
    true
}

/// `sctp_dnat_handler` / `sctp_snat_handler`: SCTP's CRC32c covers no pseudo-header, so only a
/// changed port (or a checksum left to a device that cannot compute it) needs a new one.
fn mangle_sctp(skb: &mut Skb, v6: bool, l4off: usize, dnat: bool, newip: &[u8], aoff: usize, newport: u16) -> bool {
    let partial = skb.csum_partial();
    let hw_crc = dnat && partial && skb.dst_sctp_crc();
    let Some(h) = skb.linear_mut(l4off + SCTP_HDR_LEN) else { return false };
    let poff = l4off + if dnat { 2 } else { 0 };
    let recompute = get16(h, poff) != newport || (partial && !hw_crc);
    put16(h, poff, newport);
    h[aoff..aoff + newip.len()].copy_from_slice(newip);
    if !v6 {
        ip_send_check(h, l4off);
    }
    if recompute {
        if !skb.is_gso() {
            skb.sctp_nat_csum(l4off as u32);
        }
    } else if !partial {
        skb.set_csum_unnecessary();
    }
    true
}
/// What the route to a real server decided.
enum Out {
    /// Deliver locally (the input route is kept).
    Local,
    /// Send on this route (already attached to the skb).
    Remote,
    /// The packet was consumed (ICMP sent where due, then freed).
    Gone,
}

/// An output route: looked up for this packet (holding a reference), or the real server's
/// cached one borrowed for the packet's RCU section.
pub(crate) enum OutRt<'g> {
    V4(Route),
    V6(Route6),
    Cached(CachedDst<'g>),
}

impl<'g> OutRt<'g> {
    /// `__ip_vs_get_out_rt(_v6)`'s lookup, through the real server's route cache when there is
    /// one (`slot`): a cached route that routing has not obsoleted is used as it is; otherwise
    /// the route is looked up and cached for the next packets.
    pub(crate) fn to(net: NetRef, slot: Option<DstSlot<'g>>, v6: bool, daddr: &InetAddr, known_nh: bool) -> Option<Self> {
        if let Some(c) = slot.and_then(|s| s.get(v6, known_nh)) {
            return Some(OutRt::Cached(c));
        }
        if v6 {
            let rt = Route6::output(net, daddr, known_nh)?;
            Some(match slot {
                Some(s) => s.store6(rt, known_nh).map_or_else(OutRt::V6, OutRt::Cached),
                None => OutRt::V6(rt),
            })
        } else {
            let rt = Route::output4(net, addr4(daddr, 0), known_nh)?;
            Some(match slot {
                Some(s) => s.store4(rt, known_nh).map_or_else(OutRt::V4, OutRt::Cached),
                None => OutRt::V4(rt),
            })
        }
    }

    /// The route delivers locally (`RTCF_LOCAL`; IPv6: it ends on loopback).
    pub(crate) fn is_local(&self) -> bool {
        match self {
            OutRt::V4(r) => r.is_local(),
            OutRt::V6(r) => r.is_local(),
            OutRt::Cached(c) => c.is_local(),
        }
    }

    pub(crate) fn mtu(&self) -> u32 {
        match self {
            OutRt::V4(r) => r.mtu(),
            OutRt::V6(r) => r.mtu(),
            OutRt::Cached(c) => c.mtu(),
        }
    }

    pub(crate) fn hard_header_len(&self) -> u32 {
        match self {
            OutRt::V4(r) => r.hard_header_len(),
            OutRt::V6(r) => r.hard_header_len(),
            OutRt::Cached(c) => c.hard_header_len(),
        }
    }

    pub(crate) fn ll_reserved(&self) -> u32 {
        match self {
            OutRt::V4(r) => r.ll_reserved(),
            OutRt::V6(r) => r.ll_reserved(),
            OutRt::Cached(c) => c.ll_reserved(),
        }
    }

    /// The source address the route selects (IPv4 in the first 4 bytes).
    pub(crate) fn saddr(&self) -> [u8; 16] {
        match self {
            OutRt::V4(r) => {
                let mut a = [0u8; 16];
                a[..4].copy_from_slice(&r.saddr);
                a
            }
            OutRt::V6(r) => r.saddr,
            OutRt::Cached(c) => c.saddr,
        }
    }

    /// `attach`, then `skb_cow` for the output device's link-layer header (one call for a
    /// cached route).
    pub(crate) fn attach_cow(self, skb: &mut Skb) -> kernel::error::Result {
        match self {
            OutRt::Cached(c) => skb.set_dst_noref_cow(&c, c.hard_header_len()),
            rt => {
                let hh = rt.hard_header_len();
                rt.attach(skb);
                skb.cow(hh)
            }
        }
    }

    /// Makes the route the packet's, replacing its input route.
    pub(crate) fn attach(self, skb: &mut Skb) {
        match self {
            OutRt::V4(r) => skb.set_route(r),
            OutRt::V6(r) => skb.set_route6(r),
            OutRt::Cached(c) => skb.set_dst_noref(&c),
        }
    }
}

/// `__ip_vs_get_out_rt()` for IPv4: route to the real server (through its cache, `slot`), TTL,
/// MTU (minus `overhead` for a tunnel).
fn get_out_rt<'g>(net: NetRef, skb: &mut Skb, daddr: [u8; 4], known_nh: bool, overhead: u32, slot: Option<DstSlot<'g>>) -> (Out, Option<OutRt<'g>>) {
    let mut d = [0u8; 16];
    d[..4].copy_from_slice(&daddr);
    let Some(rt) = OutRt::to(net, slot, false, &d, known_nh) else {
        skb.link_failure();
        skb.free();
        return (Out::Gone, None);
    };
    if rt.is_local() {
        return (Out::Local, Some(rt));
    }
    let mtu = rt.mtu().saturating_sub(overhead);
    if !ttl_mtu4(skb, mtu, overhead != 0) {
        return (Out::Gone, None);
    }
    (Out::Remote, Some(rt))
}

/// The rest of `__ip_vs_get_out_rt()` once a remote route is found, for an IPv4 packet:
/// `decrement_ttl()`, then the MTU (already less any tunnel `overhead`: below 68 the packet
/// is dropped) with frag-needed to the sender for a DF packet that does not fit. False when
/// the packet was consumed.
pub(crate) fn ttl_mtu4(skb: &mut Skb, mtu: u32, tunnel: bool) -> bool {
    // Made writable first (one call; the content is unchanged, so an expired packet's ICMP
    // error quotes it as it came).
    let Some(h) = skb.writable_linear(20) else {
        skb.free();
        return false;
    };
    let expired = h[8] <= 1;
    let (mut df, mut is_icmp) = (false, false);
    if !expired {
        let old = get16(h, 8);
        h[8] -= 1;
        let c = csum::csum_replace2(get16(h, 10), old, get16(h, 8));
        put16(h, 10, c);
        df = get16(h, 6) & IP_DF != 0;
        is_icmp = h[9] == IPPROTO_ICMP;
    }
    if expired {
        skb.icmp_send(ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0);
        skb.free();
        return false;
    }
    if tunnel && mtu < 68 {
        skb.free();
        return false;
    }
    if df && !is_icmp && skb.exceeds_mtu(mtu) {
        skb.icmp_send(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
        skb.free();
        return false;
    }
    true
}

/// `ip_vs_nat_xmit()`: rewrite the destination to the real server and send it there.
pub(crate) fn nat4(net: NetRef, skb: &mut Skb, ihl: usize, t: &Target<'_>) -> Verdict {
    let (out, rt) = crate::prof!(Sec::XmitRoute, get_out_rt(net, skb, t.daddr4(), false, 0, t.route));
    let local = match out {
        Out::Gone => return Verdict::Stolen,
        Out::Local => {
            // From the world but DNAT to a loopback address?
            if t.daddr4()[0] == 127 && skb.rt_is_input() {
                return tx_error(skb);
            }
            drop(rt);
            true
        }
        Out::Remote => {
            let Some(rt) = rt else { return tx_error(skb) };
            if crate::prof!(Sec::XmitCow, rt.attach_cow(skb)).is_err() {
                return tx_error(skb);
            }
            false
        }
    };
    if !crate::prof!(Sec::XmitMangle, mangle(skb, false, ihl, t.protocol, true, t)) {
        return tx_error(skb);
    }
    nat_ct(skb, t, true);
    skb.prepare_send_ignore_df(!local, t.nfct());
    if local {
        return Verdict::Accept;
    }
    skb.send_local_out(net);
    Verdict::Stolen
}

/// `ip_vs_dr_xmit()`: the packet goes unchanged to the real server's link address.
pub(crate) fn dr4(net: NetRef, skb: &mut Skb, t: &Target<'_>) -> Verdict {
    let (out, rt) = get_out_rt(net, skb, t.daddr4(), true, 0, t.route);
    match out {
        Out::Gone => Verdict::Stolen,
        Out::Local => {
            drop(rt);
            skb.prepare_send(false, t.nfct());
            Verdict::Accept
        }
        Out::Remote => {
            let Some(rt) = rt else { return tx_error(skb) };
            rt.attach(skb);
            skb.prepare_send_ignore_df(true, t.nfct());
            skb.send_local_out(net);
            Verdict::Stolen
        }
    }
}

/// `ip_vs_bypass_xmit()`: a cache-bypass entry's packet goes on, unchanged, to its own
/// destination (never a local one).
pub(crate) fn bypass4(net: NetRef, skb: &mut Skb, t: &Target<'_>) -> Verdict {
    let (out, rt) = get_out_rt(net, skb, t.vaddr4(), false, 0, None);
    match out {
        Out::Gone => Verdict::Stolen,
        Out::Local => {
            drop(rt);
            tx_error(skb)
        }
        Out::Remote => {
            let Some(rt) = rt else { return tx_error(skb) };
            rt.attach(skb);
            skb.prepare_send_ignore_df(true, t.nfct());
            skb.send_local_out(net);
            Verdict::Stolen
        }
    }
}

/// Sends a packet of a connection to its real server by the connection's method.
pub(crate) fn xmit4(net: NetRef, skb: &mut Skb, ihl: usize, t: &Target<'_>) -> Verdict {
    match t.method() {
        conn_flags::MASQ => nat4(net, skb, ihl, t),
        conn_flags::DROUTE => dr4(net, skb, t),
        conn_flags::BYPASS => bypass4(net, skb, t),
        conn_flags::TUNNEL => crate::tunnel::xmit(net, skb, false, t),
        // LOCALNODE: the packet continues to the local socket.
        _ => {
            skb.prepare_send(false, t.nfct());
            Verdict::Accept
        }
    }
}

/// `handle_response()` for NAT: a reply from the real server gets the virtual service's
/// address and port as its source and continues (FORWARD).
pub(crate) fn snat4(skb: &mut Skb, ihl: usize, t: &Target<'_>) -> Verdict {
    if t.method() == conn_flags::MASQ {
        if !mangle(skb, false, ihl, t.protocol, false, t) {
            return tx_error(skb);
        }
    }
    nat_ct(skb, t, false);
    skb.prepare_send(false, t.nfct());
    Verdict::Accept
}

/// Where the parts of an ICMP error about a connection sit in the packet.
#[derive(Clone, Copy)]
pub(crate) struct IcmpLayout {
    /// Outer IP header length (the ICMP header starts here).
    pub(crate) ihl: usize,
    /// Inner (embedded) IP header length; it starts at `ihl + 8`.
    pub(crate) cihl: usize,
    /// The embedded packet carries TCP/UDP ports right after its header.
    pub(crate) has_ports: bool,
}

impl IcmpLayout {
    fn inner(&self) -> usize {
        self.ihl + 8
    }

    /// Bytes that must be writable to rewrite it.
    fn wlen(&self) -> usize {
        self.inner() + self.cihl + if self.has_ports { 4 } else { 0 }
    }
}

/// The ICMP checksum over everything from the ICMP header verifies (`ip_vs_checksum_common_check`).
pub(crate) fn icmp_csum_ok(skb: &Skb, ihl: usize) -> bool {
    let k = skb.checksum(ihl as u32, skb.len() - ihl as u32);
    csum::fold16(k) == 0xffff
}

/// `ip_vs_nat_icmp()`: rewrites an ICMP error about a NAT connection. `inout` (true: from the
/// real server to the client, FORWARD): outer source and embedded destination become the
/// virtual service; false (from the client side, LOCAL_IN): outer destination and embedded
/// source become the real server. Needs `l.wlen()` writable bytes.
fn nat_icmp(skb: &mut Skb, l: &IcmpLayout, inout: bool, t: &Target<'_>) -> bool {
    let len = skb.len();
    let ci = l.inner();
    {
        let Some(h) = skb.linear_mut(l.wlen()) else { return false };
        // The embedded header length may only be trusted once it is in the linear area.
        if usize::from(h[ci] & 0x0f) * 4 != l.cihl {
            return false;
        }
        if inout {
            h[12..16].copy_from_slice(&t.vaddr4());
            h[ci + 16..ci + 20].copy_from_slice(&t.vaddr4());
        } else {
            h[16..20].copy_from_slice(&t.daddr4());
            h[ci + 12..ci + 16].copy_from_slice(&t.daddr4());
        }
        ip_send_check(h, l.ihl);
        let cih = l.cihl;
        ip_send_check(&mut h[ci..], cih);
        if l.has_ports {
            let po = ci + l.cihl;
            if inout {
                put16(h, po + 2, t.vport);
            } else {
                put16(h, po, t.dport);
            }
        }
        put16(h, l.ihl + 2, 0);
    }
    let k = skb.checksum(l.ihl as u32, len - l.ihl as u32);
    let c = csum::csum_fold(u16::from_be_bytes(csum::fold16(k).to_ne_bytes()) as u32);
    if let Some(h) = skb.linear_mut(l.ihl + 4) {
        put16(h, l.ihl + 2, c);
    }
    skb.set_csum_unnecessary();
    true
}

/// `ip_vs_icmp_xmit()`: an ICMP error from the client side about a connection goes to its real
/// server; for NAT rewritten so the real server sees it about its own packet.
pub(crate) fn icmp_xmit4(net: NetRef, skb: &mut Skb, l: &IcmpLayout, t: &Target<'_>) -> Verdict {
    if t.method() != conn_flags::MASQ {
        return xmit4(net, skb, l.ihl, t);
    }
    let (out, rt) = get_out_rt(net, skb, t.daddr4(), false, 0, t.route);
    let local = match out {
        Out::Gone => return Verdict::Stolen,
        Out::Local => {
            if t.daddr4()[0] == 127 && skb.rt_is_input() {
                return tx_error(skb);
            }
            drop(rt);
            true
        }
        Out::Remote => {
            let Some(rt) = rt else { return tx_error(skb) };
            if rt.attach_cow(skb).is_err() {
                return tx_error(skb);
            }
            false
        }
    };
    if skb.ensure_writable(l.wlen() as u32).is_err() {
        return tx_error(skb);
    }
    if !nat_icmp(skb, l, false, t) {
        return tx_error(skb);
    }
    nat_ct(skb, t, true);
    skb.prepare_send_ignore_df(!local, t.nfct());
    if local {
        return Verdict::Accept;
    }
    skb.send_local_out(net);
    Verdict::Stolen
}

/// `handle_response_icmp()`: an ICMP error from a NAT real server about a connection is
/// rewritten to come from the virtual service and continues to the client.
pub(crate) fn icmp_response4(skb: &mut Skb, l: &IcmpLayout, t: &Target<'_>) -> Verdict {
    if t.method() == conn_flags::MASQ {
        if !icmp_csum_ok(skb, l.ihl) {
            return Verdict::Drop;
        }
        if skb.ensure_writable(l.wlen() as u32).is_err() || !nat_icmp(skb, l, true, t) {
            return Verdict::Drop;
        }
    }
    nat_ct(skb, t, false);
    skb.prepare_send(false, t.nfct());
    Verdict::Accept
}

// ---- IPv6 ------------------------------------------------------------------------------------

const ICMPV6_PKT_TOOBIG: u8 = 2;
const ICMPV6_TIME_EXCEED: u8 = 3;
pub(crate) const IPPROTO_ICMPV6: u8 = 58;
const IN6_LOOPBACK: InetAddr = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// `__ip_vs_get_out_rt_v6()`: route to the real server, hop limit, MTU.
fn get_out_rt6<'g>(net: NetRef, skb: &mut Skb, daddr: &InetAddr, known_nh: bool, overhead: u32, slot: Option<DstSlot<'g>>) -> (Out, Option<OutRt<'g>>) {
    let Some(rt) = OutRt::to(net, slot, true, daddr, known_nh) else {
        skb.icmpv6_send(1, 3, 0); // destination unreachable, address unreachable
        skb.free();
        return (Out::Gone, None);
    };
    if rt.is_local() {
        return (Out::Local, Some(rt));
    }
    let mtu = rt.mtu().saturating_sub(overhead);
    if !ttl_mtu6(skb, mtu, overhead != 0) {
        return (Out::Gone, None);
    }
    (Out::Remote, Some(rt))
}

/// As `ttl_mtu4` for an IPv6 packet (hop limit; packet-too-big, never about ICMPv6; a
/// tunnel path below 1280 drops the packet).
pub(crate) fn ttl_mtu6(skb: &mut Skb, mtu: u32, tunnel: bool) -> bool {
    let Some(h) = skb.writable_linear(40) else {
        skb.free();
        return false;
    };
    if h[7] <= 1 {
        skb.icmpv6_send(ICMPV6_TIME_EXCEED, 0, 0);
        skb.free();
        return false;
    }
    h[7] -= 1;
    let is_icmp = h[6] == IPPROTO_ICMPV6;
    if tunnel && mtu < 1280 {
        skb.free();
        return false;
    }
    if skb.exceeds_mtu(mtu) {
        if !is_icmp {
            skb.icmpv6_send(ICMPV6_PKT_TOOBIG, 0, mtu);
        }
        skb.free();
        return false;
    }
    true
}

/// `ip_vs_nat_xmit_v6()`.
pub(crate) fn nat6(net: NetRef, skb: &mut Skb, l4off: usize, t: &Target<'_>) -> Verdict {
    let (out, rt) = get_out_rt6(net, skb, &t.daddr, false, 0, t.route);
    let local = match out {
        Out::Gone => return Verdict::Stolen,
        Out::Local => {
            // From the world but DNAT to the loopback address?
            if t.daddr == IN6_LOOPBACK && skb.rt_is_input() {
                return tx_error(skb);
            }
            drop(rt);
            true
        }
        Out::Remote => {
            let Some(rt) = rt else { return tx_error(skb) };
            if rt.attach_cow(skb).is_err() {
                return tx_error(skb);
            }
            false
        }
    };
    if !mangle(skb, true, l4off, t.protocol, true, t) {
        return tx_error(skb);
    }
    nat_ct(skb, t, true);
    skb.prepare_send_ignore_df(!local, t.nfct());
    if local {
        return Verdict::Accept;
    }
    skb.send_local_out6(net);
    Verdict::Stolen
}

/// `ip_vs_dr_xmit_v6()`.
pub(crate) fn dr6(net: NetRef, skb: &mut Skb, t: &Target<'_>) -> Verdict {
    let (out, rt) = get_out_rt6(net, skb, &t.daddr, true, 0, t.route);
    match out {
        Out::Gone => Verdict::Stolen,
        Out::Local => {
            drop(rt);
            skb.prepare_send(false, t.nfct());
            Verdict::Accept
        }
        Out::Remote => {
            let Some(rt) = rt else { return tx_error(skb) };
            rt.attach(skb);
            skb.prepare_send_ignore_df(true, t.nfct());
            skb.send_local_out6(net);
            Verdict::Stolen
        }
    }
}

/// Sends an IPv6 packet of a connection by the connection's method (NAT, DR, ip6ip6, local).
/// `ip_vs_bypass_xmit_v6()`: as `bypass4`.
pub(crate) fn bypass6(net: NetRef, skb: &mut Skb, t: &Target<'_>) -> Verdict {
    let (out, rt) = get_out_rt6(net, skb, &t.vaddr, false, 0, None);
    match out {
        Out::Gone => Verdict::Stolen,
        Out::Local => {
            drop(rt);
            tx_error(skb)
        }
        Out::Remote => {
            let Some(rt) = rt else { return tx_error(skb) };
            rt.attach(skb);
            skb.prepare_send_ignore_df(true, t.nfct());
            skb.send_local_out6(net);
            Verdict::Stolen
        }
    }
}

pub(crate) fn xmit6(net: NetRef, skb: &mut Skb, l4off: usize, t: &Target<'_>) -> Verdict {
    match t.method() {
        conn_flags::MASQ => nat6(net, skb, l4off, t),
        conn_flags::DROUTE => dr6(net, skb, t),
        conn_flags::BYPASS => bypass6(net, skb, t),
        conn_flags::TUNNEL => crate::tunnel::xmit(net, skb, true, t),
        _ => {
            skb.prepare_send(false, t.nfct());
            Verdict::Accept
        }
    }
}

/// NAT replies over IPv6 get the virtual service's address and port as source.
pub(crate) fn snat6(skb: &mut Skb, l4off: usize, t: &Target<'_>) -> Verdict {
    if t.method() == conn_flags::MASQ {
        if !mangle(skb, true, l4off, t.protocol, false, t) {
            return tx_error(skb);
        }
    }
    nat_ct(skb, t, false);
    skb.prepare_send(false, t.nfct());
    Verdict::Accept
}

/// The ICMPv6 checksum (pseudo-header included) over everything from `ihl` verifies.
pub(crate) fn icmp6_csum_ok(skb: &Skb, ihl: usize) -> bool {
    let mut b = [0u8; 40];
    let h = skb.headers(&mut b);
    if h.len() < 40 || skb.len() < ihl as u32 {
        return false;
    }
    let (mut s, mut d) = ([0u8; 16], [0u8; 16]);
    s.copy_from_slice(&h[8..24]);
    d.copy_from_slice(&h[24..40]);
    let len = skb.len() - ihl as u32;
    let k = skb.checksum(ihl as u32, len);
    let data = u16::from_be_bytes(csum::fold16(k).to_ne_bytes()) as u32;
    csum::csum_fold(csum::csum_add(csum::pseudo_v6(&s, &d, IPPROTO_ICMPV6, len), data)) == 0
}

/// `ip_vs_nat_icmp_v6()`: as `nat_icmp` for ICMPv6 (no IP header checksums; the ICMPv6
/// checksum covers a pseudo-header and is computed here in full).
fn nat_icmp6(skb: &mut Skb, l: &IcmpLayout, inout: bool, t: &Target<'_>) -> bool {
    let len = skb.len();
    let ci = l.inner();
    {
        let Some(h) = skb.linear_mut(l.wlen().max(40)) else { return false };
        if inout {
            h[8..24].copy_from_slice(&t.vaddr);
            h[ci + 24..ci + 40].copy_from_slice(&t.vaddr);
        } else {
            h[24..40].copy_from_slice(&t.daddr);
            h[ci + 8..ci + 24].copy_from_slice(&t.daddr);
        }
        if l.has_ports {
            let po = ci + l.cihl;
            if inout {
                put16(h, po + 2, t.vport);
            } else {
                put16(h, po, t.dport);
            }
        }
        put16(h, l.ihl + 2, 0);
    }
    let icmp_len = len - l.ihl as u32;
    let k = skb.checksum(l.ihl as u32, icmp_len);
    let data = u16::from_be_bytes(csum::fold16(k).to_ne_bytes()) as u32;
    let Some(h) = skb.linear_mut(l.wlen().max(40)) else { return false };
    let (mut s, mut d) = ([0u8; 16], [0u8; 16]);
    s.copy_from_slice(&h[8..24]);
    d.copy_from_slice(&h[24..40]);
    let c = csum::csum_fold(csum::csum_add(csum::pseudo_v6(&s, &d, IPPROTO_ICMPV6, icmp_len), data));
    put16(h, l.ihl + 2, c);
    skb.set_csum_unnecessary();
    true
}

/// `ip_vs_icmp_xmit_v6()`: an ICMPv6 error from the client side about a connection goes to its
/// real server; for NAT rewritten so the real server sees it about its own packet.
pub(crate) fn icmp_xmit6(net: NetRef, skb: &mut Skb, l: &IcmpLayout, t: &Target<'_>) -> Verdict {
    if t.method() != conn_flags::MASQ {
        return xmit6(net, skb, l.ihl, t);
    }
    let (out, rt) = get_out_rt6(net, skb, &t.daddr, false, 0, t.route);
    let local = match out {
        Out::Gone => return Verdict::Stolen,
        Out::Local => {
            if t.daddr == IN6_LOOPBACK && skb.rt_is_input() {
                return tx_error(skb);
            }
            drop(rt);
            true
        }
        Out::Remote => {
            let Some(rt) = rt else { return tx_error(skb) };
            if rt.attach_cow(skb).is_err() {
                return tx_error(skb);
            }
            false
        }
    };
    if skb.ensure_writable(l.wlen() as u32).is_err() {
        return tx_error(skb);
    }
    if !nat_icmp6(skb, l, false, t) {
        return tx_error(skb);
    }
    nat_ct(skb, t, true);
    skb.prepare_send_ignore_df(!local, t.nfct());
    if local {
        return Verdict::Accept;
    }
    skb.send_local_out6(net);
    Verdict::Stolen
}

/// `handle_response_icmp()` for IPv6: an ICMPv6 error from the real-server side about a NAT
/// connection gets the virtual service's address (outer source, embedded destination).
pub(crate) fn icmp_response6(skb: &mut Skb, l: &IcmpLayout, t: &Target<'_>) -> Verdict {
    if t.method() == conn_flags::MASQ {
        if !icmp6_csum_ok(skb, l.ihl) {
            return Verdict::Drop;
        }
        if skb.ensure_writable(l.wlen() as u32).is_err() || !nat_icmp6(skb, l, true, t) {
            return Verdict::Drop;
        }
    }
    nat_ct(skb, t, false);
    skb.prepare_send(false, t.nfct());
    Verdict::Accept
}
