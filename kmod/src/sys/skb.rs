//! Editing and transmitting packets: the skb operations the transmitters need, the output route
//! of a real server, and handing the packet to the IP output path.
//!
//! Every operation first checks that the skb has not been consumed (sent or freed): after that
//! the hook owns nothing, and each method is a no-op returning a failure value.

use super::bindings as b;
use super::net::NetRef;
use super::nf::Skb;
use core::ptr::NonNull;
use kernel::prelude::*;

/// An output route (`struct rtable`) holding one reference, dropped with the value.
pub(crate) struct Route {
    rt: NonNull<b::rtable>,
    /// The source address the route selects (network order).
    pub(crate) saddr: [u8; 4],
}

impl Route {
    /// `ip_route_output_key()` to `daddr`; `known_nh` asks for the real server itself as next
    /// hop whatever the packet's destination (`FLOWI_FLAG_KNOWN_NH`, direct routing).
    pub(crate) fn output4(net: NetRef, daddr: [u8; 4], known_nh: bool) -> Option<Route> {
        let mut saddr: u32 = 0;
        // SAFETY: `net` is alive for the hook call; `saddr` is a valid out-parameter. A non-null
        // result carries one reference, which `Drop` releases.
        let rt = unsafe { b::fvs_route_output4(net.as_ptr(), u32::from_ne_bytes(daddr), known_nh, &mut saddr) };
        NonNull::new(rt).map(|rt| Route { rt, saddr: saddr.to_ne_bytes() })
    }

    /// The route's `dst_entry` (the reference stays with `self`).
    pub(crate) fn dst(&self) -> NonNull<b::dst_entry> {
        // SAFETY: we hold a reference to the route; its dst is part of it, never null.
        unsafe { NonNull::new_unchecked(b::fvs_rt_dst(self.rt.as_ptr())) }
    }

    /// The route delivers locally (`RTCF_LOCAL`).
    pub(crate) fn is_local(&self) -> bool {
        // SAFETY: we hold a reference to the route.
        unsafe { b::fvs_rt_flags(self.rt.as_ptr()) & b::FVS_RTCF_LOCAL != 0 }
    }

    /// `dst_mtu()`.
    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: we hold a reference to the route.
        unsafe { b::fvs_rt_mtu(self.rt.as_ptr()) }
    }

    /// The output device's link-layer header length.
    pub(crate) fn hard_header_len(&self) -> u32 {
        // SAFETY: we hold a reference; a route's device outlives it.
        unsafe { b::fvs_rt_hard_header_len(self.rt.as_ptr()) }
    }

    /// `LL_RESERVED_SPACE()` of the output device.
    pub(crate) fn ll_reserved(&self) -> u32 {
        // SAFETY: as above.
        unsafe { b::fvs_rt_ll_reserved(self.rt.as_ptr()) }
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { b::fvs_rt_put(self.rt.as_ptr()) }
    }
}

impl Skb {
    /// Makes the first `len` bytes from the network header private and linear.
    pub(crate) fn ensure_writable(&mut self, len: u32) -> Result {
        let Some(p) = self.ptr() else { return Err(EINVAL) };
        // SAFETY: valid, unconsumed skb.
        match unsafe { b::skb_ensure_writable(p, len) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// The first `len` bytes from the network header, if they are in the linear area (after
    /// `ensure_writable(len)` they are, and private to this skb).
    pub(crate) fn linear_mut(&mut self, len: usize) -> Option<&mut [u8]> {
        let p = self.ptr()?;
        // SAFETY: valid skb; at the hooks fvs uses `skb->data` is the network header, and the
        // linear area holds `skb_headlen()` bytes from it. The borrow of `self` keeps the skb
        // from being consumed or reallocated while the slice is alive.
        unsafe {
            let len32 = u32::try_from(len).ok()?;
            let d = b::fvs_skb_linear(p, len32);
            if d.is_null() {
                return None;
            }
            Some(core::slice::from_raw_parts_mut(d, len))
        }
    }

    /// `ensure_writable(len)` and `linear_mut(len)` in one call.
    pub(crate) fn writable_linear(&mut self, len: usize) -> Option<&mut [u8]> {
        let p = self.ptr()?;
        let len32 = u32::try_from(len).ok()?;
        // SAFETY: valid skb; the helper makes the first `len` bytes from the network header
        // private and linear and returns `skb->data`, or NULL. The borrow of `self` keeps the
        // skb from being consumed or reallocated while the slice is alive.
        unsafe {
            let d = b::fvs_skb_writable(p, len32);
            if d.is_null() {
                return None;
            }
            Some(core::slice::from_raw_parts_mut(d, len))
        }
    }

    /// `writable_linear(len)` and `csum_partial()` in one call.
    pub(crate) fn writable_headers(&mut self, len: usize) -> Option<(&mut [u8], bool)> {
        let p = self.ptr()?;
        let len32 = u32::try_from(len).ok()?;
        let mut partial = false;
        // SAFETY: as `writable_linear`; `partial` is a valid out-parameter.
        unsafe {
            let d = b::fvs_skb_writable_csum(p, len32, &mut partial);
            if d.is_null() {
                return None;
            }
            Some((core::slice::from_raw_parts_mut(d, len), partial))
        }
    }

    /// `ip_summed == CHECKSUM_PARTIAL`: the L4 checksum field holds the pseudo-header sum only.
    pub(crate) fn csum_partial(&self) -> bool {
        // SAFETY: valid skb.
        self.ptr().is_some_and(|p| unsafe { b::fvs_skb_csum_partial(p) })
    }

    /// `skb_forward_csum()`: a CHECKSUM_COMPLETE value no longer matches edited data.
    pub(crate) fn forward_csum(&mut self) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb.
            unsafe { b::fvs_skb_forward_csum(p) }
        }
    }

    /// The L4 checksum was just computed in full (`CHECKSUM_UNNECESSARY`).
    pub(crate) fn set_csum_unnecessary(&mut self) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb.
            unsafe { b::fvs_skb_csum_unnecessary(p) }
        }
    }

    /// `sctp_nat_csum()`: recompute the SCTP CRC32c of the packet from `off` (its SCTP header,
    /// whose 12 bytes must be writable) and mark the checksum complete.
    pub(crate) fn sctp_nat_csum(&mut self, off: u32) {
        let Some(p) = self.ptr() else { return };
        if off + 12 > self.len() {
            return;
        }
        // SAFETY: valid skb; the caller made `off + 12` bytes linear and writable
        // (`ensure_writable`), and `skb_crc32c` bounds itself by the skb's length.
        unsafe { b::fvs_sctp_nat_csum(p, off) }
    }

    /// The device of the packet's route computes SCTP CRCs in hardware (`NETIF_F_SCTP_CRC`).
    pub(crate) fn dst_sctp_crc(&self) -> bool {
        // SAFETY: valid skb; the helper checks the route and its device for NULL.
        self.ptr().is_some_and(|p| unsafe { b::fvs_skb_dst_sctp_crc(p) })
    }

    /// A GSO packet (segmented later, checksums too).
    pub(crate) fn is_gso(&self) -> bool {
        // SAFETY: valid skb.
        self.ptr().is_some_and(|p| unsafe { b::fvs_skb_is_gso(p) })
    }

    /// `skb_checksum(skb, offset, len, 0)`: the unfolded sum of a range, linear or not.
    pub(crate) fn checksum(&self, offset: u32, len: u32) -> u32 {
        let Some(p) = self.ptr() else { return 0 };
        // SAFETY: valid skb; `skb_checksum` bounds itself by the skb's length (callers pass a
        // range inside `len()`).
        unsafe { b::skb_checksum(p, offset as i32, len as i32, 0) }
    }

    /// Would the packet exceed `mtu` on the wire (GSO packets: any segment)?
    pub(crate) fn exceeds_mtu(&self, mtu: u32) -> bool {
        let Some(p) = self.ptr() else { return false };
        if self.len() <= mtu {
            return false;
        }
        // SAFETY: valid skb.
        unsafe { !(b::fvs_skb_is_gso(p) && b::skb_gso_validate_network_len(p, mtu)) }
    }

    /// `skb_cow()`: private header with at least `headroom` bytes in front.
    pub(crate) fn cow(&mut self, headroom: u32) -> Result {
        let Some(p) = self.ptr() else { return Err(EINVAL) };
        // SAFETY: valid skb.
        match unsafe { b::fvs_skb_cow(p, headroom) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// `skb_cow_head()`: a private, writable header area with `headroom` bytes in front.
    pub(crate) fn cow_head(&mut self, headroom: u32) -> Result {
        let Some(p) = self.ptr() else { return Err(EINVAL) };
        // SAFETY: valid skb.
        match unsafe { b::fvs_skb_cow_head(p, headroom) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// `ip_vs_route_me_harder`: a NAT reply whose source just became the virtual address is
    /// routed again (IPv4: only if it was routed as local; IPv6: unless its route ends on
    /// loopback). False: no route, the packet must be dropped.
    pub(crate) fn reroute(&mut self, net: NetRef, v6: bool) -> bool {
        let Some(p) = self.ptr() else { return false };
        // SAFETY: valid skb with a route and a complete network header; the kernel functions
        // replace the route in place.
        unsafe {
            if v6 {
                !b::fvs_skb_dst_not_loopback(p) || b::ip6_route_me_harder(net.as_ptr(), b::fvs_skb_sk(p), p) == 0
            } else {
                !b::fvs_skb_rt_local(p) || b::ip_route_me_harder(net.as_ptr(), b::fvs_skb_sk(p), p, b::RTN_LOCAL) == 0
            }
        }
    }

    /// The packet was handled by a load balancer already (`skb->ipvs_property`).
    pub(crate) fn ipvs_property(&self) -> bool {
        // SAFETY: valid skb; reads one bit.
        self.ptr().is_some_and(|p| unsafe { b::fvs_skb_ipvs_property(p) })
    }

    /// Marks the packet as seen by a load balancer (`skb->ipvs_property`), and with it
    /// whatever it carries once decapsulated on this host.
    pub(crate) fn set_ipvs_property(&mut self) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb; edits one bit.
            unsafe { b::fvs_skb_set_ipvs_property(p) }
        }
    }

    /// Marks the packet handled, detaches it from conntrack (`ip_vs_notrack`) and clears
    /// state that no longer applies to a rewritten packet, as `ip_vs_send_or_cont` does.
    /// `keep_ct`: the connection keeps conntrack (`IP_VS_CONN_F_NFCT`), else the packet leaves
    /// conntrack's view.
    pub(crate) fn prepare_send(&mut self, leaving: bool, keep_ct: bool) {
        let Some(p) = self.ptr() else { return };
        // SAFETY: valid skb; the helper only edits fields of the skb.
        unsafe { b::fvs_skb_prepare_send(p, leaving, keep_ct, false) }
    }

    /// `set_ignore_df` and `prepare_send` in one call (the transmitters checked the MTU).
    pub(crate) fn prepare_send_ignore_df(&mut self, leaving: bool, keep_ct: bool) {
        let Some(p) = self.ptr() else { return };
        // SAFETY: valid skb; the helper only edits fields of the skb.
        unsafe { b::fvs_skb_prepare_send(p, leaving, keep_ct, true) }
    }

    /// `skb->ignore_df = 1` (the transmitters checked the MTU themselves).
    pub(crate) fn set_ignore_df(&mut self) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb.
            unsafe { b::fvs_skb_set_ignore_df(p) }
        }
    }

    /// Attaches `rt` as the packet's route, replacing the input route.
    pub(crate) fn set_route(&mut self, rt: Route) {
        let Some(p) = self.ptr() else { return };
        let raw = rt.rt.as_ptr();
        core::mem::forget(rt);
        // SAFETY: valid skb; the route's reference moves into the skb.
        unsafe { b::fvs_skb_set_rt(p, raw) }
    }

    /// Attaches a cached route without a reference of its own (`skb_dst_set_noref`), for the
    /// RCU section the route is borrowed for; the stack takes a reference where the packet
    /// outlives it.
    pub(crate) fn set_dst_noref(&mut self, rt: &super::dst::CachedDst<'_>) {
        let Some(p) = self.ptr() else { return };
        // SAFETY: valid skb; the route is alive for the hook's RCU section, which is where
        // `skb_dst_set_noref` may be used.
        unsafe { b::fvs_skb_set_dst_noref(p, rt.as_ptr()) }
    }

    /// `set_dst_noref`, then `cow(headroom)`, in one call.
    pub(crate) fn set_dst_noref_cow(&mut self, rt: &super::dst::CachedDst<'_>, headroom: u32) -> Result {
        let Some(p) = self.ptr() else { return Err(EINVAL) };
        // SAFETY: as `set_dst_noref` and `cow`.
        match unsafe { b::fvs_skb_set_dst_noref_cow(p, rt.as_ptr(), headroom) } {
            0 => Ok(()),
            e => Err(Error::from_errno(e)),
        }
    }

    /// The packet arrived from a device (input route), not from a local socket.
    pub(crate) fn rt_is_input(&self) -> bool {
        // SAFETY: valid skb.
        self.ptr().is_some_and(|p| unsafe { b::fvs_skb_rt_is_input(p) })
    }

    /// Frees the packet (it is dropped and consumed).
    pub(crate) fn free(&mut self) {
        if let Some(p) = self.ptr() {
            self.1 = true;
            // SAFETY: we own the skb during the hook; after this it is consumed.
            unsafe { b::fvs_kfree_skb(p) }
        }
    }

    /// Sends the packet on its attached route through LOCAL_OUT (`NF_HOOK(..., dst_output)`).
    pub(crate) fn send_local_out(&mut self, net: NetRef) {
        if let Some(p) = self.ptr() {
            self.1 = true;
            // SAFETY: the skb carries an output route (`set_route`); the stack takes ownership.
            crate::prof!(super::prof::Sec::XmitLocalOut, unsafe { b::fvs_nf_local_out4(net.as_ptr(), p) });
        }
    }

    /// `ip_local_out()`: fixes tot_len and the header checksum, then LOCAL_OUT and output.
    pub(crate) fn ip_local_out(&mut self, net: NetRef) {
        if let Some(p) = self.ptr() {
            self.1 = true;
            // SAFETY: as `send_local_out`.
            unsafe { b::ip_local_out(net.as_ptr(), core::ptr::null_mut(), p) };
        }
    }

    /// `icmp_send()` about this packet (it stays ours).
    pub(crate) fn icmp_send(&mut self, typ: u8, code: u8, info: u32) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb with its input route; icmp_send copies what it needs.
            unsafe { b::fvs_icmp_send(p, typ as i32, code as i32, info.to_be()) }
        }
    }

    /// `dst_link_failure()`: host unreachable to the sender (no route to the real server).
    pub(crate) fn link_failure(&mut self) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb with its input route.
            unsafe { b::fvs_dst_link_failure(p) }
        }
    }


    /// Pushes `len` bytes of new network header (headroom ensured by `cow_head`) and returns
    /// them to be filled in.
    pub(crate) fn push_network_header(&mut self, len: u32) -> Option<&mut [u8]> {
        let p = self.ptr()?;
        // SAFETY: valid skb with at least `len` bytes of private headroom (`cow_head`); the
        // returned bytes are the new network header.
        unsafe {
            let h = b::fvs_skb_push_network_header(p, len);
            Some(core::slice::from_raw_parts_mut(h, len as usize))
        }
    }

    /// `ip_select_ident()` for a header built by fvs.
    pub(crate) fn select_ident(&mut self, net: NetRef) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb whose network header is a complete IPv4 header.
            unsafe { b::fvs_ip_select_ident(net.as_ptr(), p) }
        }
    }
}

/// Tunnel encapsulation (src/tunnel.rs).
impl Skb {
    /// `iptunnel_handle_offloads(gso_type)`, then the current network header becomes the inner
    /// one (protocol `inner_proto`: IPIP or IPV6) as the tunnel transmitters mark it. The
    /// header must be private (`cow_head`).
    pub(crate) fn tunnel_offloads(&mut self, gso_type: u32, inner_proto: u8) -> Result {
        let Some(p) = self.ptr() else { return Err(EINVAL) };
        // SAFETY: valid skb with a private header.
        unsafe {
            let r = b::iptunnel_handle_offloads(p, gso_type as i32);
            if r != 0 {
                return Err(Error::from_errno(r));
            }
            b::fvs_skb_tunnel_inner(p, inner_proto);
        }
        Ok(())
    }

    /// `skb_push(len)` into headroom reserved by `cow_head`; the new bytes, to be filled in.
    pub(crate) fn push(&mut self, len: u32) -> Option<&mut [u8]> {
        let p = self.ptr()?;
        // SAFETY: valid skb whose private headroom (`cow_head`) holds at least `len` bytes;
        // the returned bytes are the new start of the data.
        unsafe {
            if b::fvs_skb_headroom(p) < len {
                return None;
            }
            let h = b::fvs_skb_push(p, len);
            Some(core::slice::from_raw_parts_mut(h, len as usize))
        }
    }

    pub(crate) fn reset_transport_header(&mut self) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb.
            unsafe { b::fvs_skb_reset_transport_header(p) }
        }
    }

    /// Where a CHECKSUM_PARTIAL packet's checksum starts (from the data) and the checksum
    /// field's offset from there.
    pub(crate) fn csum_start_offset(&self) -> (i32, u16) {
        let Some(p) = self.ptr() else { return (0, 0) };
        // SAFETY: valid skb.
        unsafe { (b::fvs_skb_checksum_start_offset(p), b::fvs_skb_csum_offset(p)) }
    }

    /// GUE remote checksum offload took over the checksum.
    pub(crate) fn remcsum_handed_off(&mut self) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb.
            unsafe { b::fvs_skb_remcsum_handed_off(p) }
        }
    }

    /// `udp_flow_src_port()`: a UDP source port from the flow hash (host order).
    pub(crate) fn udp_flow_src_port(&self, net: NetRef) -> u16 {
        let Some(p) = self.ptr() else { return 0 };
        // SAFETY: valid skb and live namespace.
        u16::from_be(unsafe { b::fvs_udp_flow_src_port(net.as_ptr(), p) })
    }

    /// `udp_set_csum()` / `udp6_set_csum()` for the UDP header at the transport header that
    /// spans the rest of the packet (`nocheck`: checksum 0).
    pub(crate) fn udp_set_csum(&mut self, nocheck: bool, saddr: &[u8; 16], daddr: &[u8; 16], v6: bool) {
        let Some(p) = self.ptr() else { return };
        let len = self.len() as i32;
        // SAFETY: valid skb whose transport header is a complete UDP header followed by the
        // rest of the packet; `in6_addr` has the layout of 16 bytes.
        unsafe {
            if v6 {
                b::udp6_set_csum(nocheck, p, saddr.as_ptr().cast(), daddr.as_ptr().cast(), len);
            } else {
                let s = u32::from_ne_bytes([saddr[0], saddr[1], saddr[2], saddr[3]]);
                let d = u32::from_ne_bytes([daddr[0], daddr[1], daddr[2], daddr[3]]);
                b::udp_set_csum(nocheck, p, s, d, len);
            }
        }
    }

    /// `gre_build_header()`: pushes a GRE header (with a checksum when `csum`) for an inner
    /// packet of ethertype `proto` (host order).
    pub(crate) fn gre_build_header(&mut self, csum: bool, proto: u16) -> bool {
        let Some(p) = self.ptr() else { return false };
        let hlen = if csum { 8 } else { 4 };
        // SAFETY: valid skb; the headroom is checked first (`cow_head` reserved it).
        unsafe {
            if b::fvs_skb_headroom(p) < hlen {
                return false;
            }
            b::fvs_gre_build_header(p, csum, proto.to_be());
        }
        true
    }
}

impl Skb {
    /// Drops `len` bytes in front of an embedded IP header of `hlen` bytes, which becomes the
    /// packet's network header. False if the packet is too short (it stays ours either way).
    pub(crate) fn pull_to_network(&mut self, len: u32, hlen: u32) -> bool {
        // SAFETY: valid skb; the helper checks lengths (pskb_pull / pskb_may_pull).
        self.ptr().is_some_and(|p| unsafe { b::fvs_skb_pull_to_network(p, len, hlen) })
    }

    /// `ipv4_update_pmtu()`: learn `mtu` for the path of the packet's (IPv4) header.
    pub(crate) fn update_pmtu4(&mut self, net: NetRef, mtu: u32) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb whose network header is a complete IPv4 header.
            unsafe { b::ipv4_update_pmtu(p, net.as_ptr(), mtu, 0, 0) }
        }
    }

    /// Frees a packet that was dealt with (not dropped as an error).
    pub(crate) fn consume(&mut self) {
        if let Some(p) = self.ptr() {
            self.1 = true;
            // SAFETY: we own the skb; after this it is consumed.
            unsafe { b::fvs_consume_skb(p) }
        }
    }
}

/// An IPv6 output route (`struct dst_entry`) holding one reference, dropped with the value.
pub(crate) struct Route6 {
    dst: NonNull<b::dst_entry>,
    /// The source address the route selects.
    pub(crate) saddr: [u8; 16],
}

impl Route6 {
    /// `ip6_route_output()` to `daddr`; `known_nh` as for `Route::output4`.
    pub(crate) fn output(net: NetRef, daddr: &[u8; 16], known_nh: bool) -> Option<Route6> {
        // SAFETY: `in6_addr` is a 16-byte union of byte/word views; any bytes are valid.
        let mut d: b::in6_addr = unsafe { core::mem::zeroed() };
        d.in6_u.u6_addr8 = *daddr;
        // SAFETY: as `d`.
        let mut s: b::in6_addr = unsafe { core::mem::zeroed() };
        // SAFETY: `net` is alive; `d` and `s` are valid for the call. A non-null result holds
        // one reference, released in `Drop`.
        let dst = unsafe { b::fvs_route_output6(net.as_ptr(), &d, known_nh, &mut s) };
        // SAFETY: reading the byte view of a fully initialised union.
        let saddr = unsafe { s.in6_u.u6_addr8 };
        NonNull::new(dst).map(|dst| Route6 { dst, saddr })
    }

    /// The route's `dst_entry` (the reference stays with `self`).
    pub(crate) fn dst(&self) -> NonNull<b::dst_entry> {
        self.dst
    }

    /// The route delivers locally (loopback device, `__ip_vs_is_local_route6`).
    pub(crate) fn is_local(&self) -> bool {
        // SAFETY: we hold a reference to the route.
        unsafe { b::fvs_dst6_is_local(self.dst.as_ptr()) }
    }

    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: we hold a reference to the route.
        unsafe { b::fvs_dst_mtu(self.dst.as_ptr()) }
    }

    pub(crate) fn hard_header_len(&self) -> u32 {
        // SAFETY: we hold a reference; a route's device outlives it.
        unsafe { b::fvs_dst_hard_header_len(self.dst.as_ptr()) }
    }

    pub(crate) fn ll_reserved(&self) -> u32 {
        // SAFETY: as above.
        unsafe { b::fvs_dst_ll_reserved(self.dst.as_ptr()) }
    }
}

impl Drop for Route6 {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { b::fvs_dst_release(self.dst.as_ptr()) }
    }
}

impl Skb {
    /// Attaches an IPv6 route, replacing the input route.
    pub(crate) fn set_route6(&mut self, rt: Route6) {
        let Some(p) = self.ptr() else { return };
        let raw = rt.dst.as_ptr();
        core::mem::forget(rt);
        // SAFETY: valid skb; the route's reference moves into the skb.
        unsafe { b::fvs_skb_set_dst(p, raw) }
    }


    /// Pushes a new IPv6 header's worth of bytes (headroom ensured by `cow_head`).
    pub(crate) fn push_network_header6(&mut self, len: u32) -> Option<&mut [u8]> {
        let p = self.ptr()?;
        // SAFETY: valid skb with at least `len` bytes of private headroom.
        unsafe {
            let h = b::fvs_skb_push_network_header6(p, len);
            Some(core::slice::from_raw_parts_mut(h, len as usize))
        }
    }

    /// `ip6_local_out()`: LOCAL_OUT and output of a packet with a complete IPv6 header.
    pub(crate) fn ip6_local_out(&mut self, net: NetRef) {
        if let Some(p) = self.ptr() {
            self.1 = true;
            // SAFETY: the skb carries an output route; the stack takes ownership.
            unsafe { b::ip6_local_out(net.as_ptr(), core::ptr::null_mut(), p) };
        }
    }

    /// Sends an IPv6 packet on its attached route through LOCAL_OUT.
    pub(crate) fn send_local_out6(&mut self, net: NetRef) {
        if let Some(p) = self.ptr() {
            self.1 = true;
            // SAFETY: the skb carries an output route (`set_route6`); the stack takes it.
            unsafe { b::fvs_nf_local_out6(net.as_ptr(), p) };
        }
    }

    /// `icmpv6_send()` about this packet (it stays ours).
    pub(crate) fn icmpv6_send(&mut self, typ: u8, code: u8, info: u32) {
        if let Some(p) = self.ptr() {
            // SAFETY: valid skb with its input route.
            unsafe { b::fvs_icmpv6_send(p, typ, code, info) }
        }
    }
}
