//! The tunnel transmitter (`ip_vs_tunnel_xmit` / `ip_vs_tunnel_xmit_v6`): a packet of a
//! connection is encapsulated in a new IP header to its real server, in IP-in-IP (IPIP,
//! ip6ip6, and across families: IPv4 in IPv6 and IPv6 in IPv4), or with a UDP + GUE or a GRE
//! header in between, as the real server's `--tun-type` says. The real server decapsulates it
//! and answers the client directly.

use crate::rules::AF_INET6;
use crate::sys::bindings as b;
use crate::sys::net::NetRef;
use crate::sys::nf::{Skb, Verdict};
use crate::sysctl::Sysctls;
use crate::uapi::{tun_flags, tun_type};
use crate::xmit::{tx_error, ttl_mtu4, ttl_mtu6, OutRt, Target};

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_GRE: u8 = 47;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const UDP_HLEN: u32 = 8;
/// `struct guehdr`.
const GUE_HLEN: u32 = 4;
/// GUE private flags word plus the remote-checksum option (`GUE_LEN_PRIV + GUE_PLEN_REMCSUM`).
const GUE_REMCSUM_OPTLEN: u32 = 8;
const GUE_FLAG_PRIV: u16 = 1;
const GUE_PFLAG_REMCSUM: u32 = 1 << 31;

/// The headers between the outer IP header and the inner packet.
#[derive(Clone, Copy)]
enum Encap {
    Ipip,
    /// UDP to `port`, GUE (with the remote-checksum option when `remcsum`); `csum`: UDP
    /// checksum (CSUM or REMCSUM flag).
    Gue { port: u16, csum: bool, remcsum: bool },
    Gre { csum: bool },
}

impl Encap {
    /// The real server's encapsulation for this packet (`partial`: CHECKSUM_PARTIAL, the only
    /// case remote checksum offload applies to).
    fn of(t: &Target<'_>, partial: bool) -> Self {
        let f = t.tun_flags;
        match t.tun_type {
            tun_type::GUE => Encap::Gue {
                port: t.tun_port,
                csum: f & (tun_flags::CSUM | tun_flags::REMCSUM) != 0,
                remcsum: f & tun_flags::REMCSUM != 0 && partial,
            },
            tun_type::GRE => Encap::Gre { csum: f & tun_flags::CSUM != 0 },
            _ => Encap::Ipip,
        }
    }

    /// Bytes of encapsulation beyond the outer IP header.
    fn len(self) -> u32 {
        match self {
            Encap::Ipip => 0,
            Encap::Gue { remcsum, .. } => UDP_HLEN + GUE_HLEN + if remcsum { GUE_REMCSUM_OPTLEN } else { 0 },
            Encap::Gre { csum } => 4 + if csum { 4 } else { 0 },
        }
    }

    /// GSO type bits for `iptunnel_handle_offloads`, besides IPXIP4/IPXIP6.
    fn gso_type(self) -> u32 {
        match self {
            Encap::Ipip => 0,
            Encap::Gue { csum, remcsum, .. } => {
                (if csum { b::FVS_SKB_GSO_UDP_TUNNEL_CSUM } else { b::FVS_SKB_GSO_UDP_TUNNEL })
                    | if remcsum { b::FVS_SKB_GSO_TUNNEL_REMCSUM } else { 0 }
            }
            Encap::Gre { csum } => {
                if csum {
                    b::FVS_SKB_GSO_GRE_CSUM
                } else {
                    b::FVS_SKB_GSO_GRE
                }
            }
        }
    }
}

/// `INET_ECN_encapsulate(dsfield, dsfield)`: the outer header carries the inner ECN bits, with
/// CE turned into ECT(0).
fn ecn_encapsulate(ds: u8) -> u8 {
    let ecn = ds & 3;
    (ds & !3) | if ecn == 3 { 2 } else { ecn }
}

/// Sends the packet (`inner_v6`: its family) of connection `t` to its real server through the
/// real server's tunnel. Consumes the packet, or returns `Accept` for a real server that is
/// this host (delivered locally, unencapsulated).
pub(crate) fn xmit(net: NetRef, skb: &mut Skb, inner_v6: bool, t: &Target<'_>) -> Verdict {
    let outer_v6 = t.daf == AF_INET6;
    let enc = Encap::of(t, skb.csum_partial());
    let ohl: u32 = if outer_v6 { 40 } else { 20 };

    // __ip_vs_get_out_rt(_v6) with IP_VS_RT_MODE_TUNNEL: routed in the real server's family;
    // TTL and MTU in the packet's.
    let rt = OutRt::to(net, t.route, outer_v6, &t.daddr, false);
    let Some(rt) = rt else {
        if inner_v6 {
            skb.icmpv6_send(1, 3, 0); // destination unreachable, address unreachable
        } else {
            skb.link_failure();
        }
        return tx_error(skb);
    };
    let (local, mtu, ll_reserved) = (rt.is_local(), rt.mtu(), rt.ll_reserved());
    if local {
        drop(rt);
        skb.prepare_send(false, t.nfct());
        return Verdict::Accept;
    }
    let mtu = mtu.saturating_sub(ohl + enc.len());
    // A tunnel path below the outer family's minimum drops the packet.
    if mtu < if outer_v6 { 1280 } else { 68 } {
        return tx_error(skb);
    }
    // pmtu_disc 0: IPv4 packets are fragmented in the tunnel whatever their DF, and the outer
    // header has none.
    let pmtu_disc = crate::netns::NetState::of(net).is_none_or(|st| Sysctls::on(&st.sysctl.pmtu_disc));
    let ok = if inner_v6 {
        ttl_mtu6(skb, mtu, false)
    } else {
        ttl_mtu4(skb, if pmtu_disc { mtu } else { u32::MAX }, false)
    };
    if !ok {
        return Verdict::Stolen;
    }
    let saddr = rt.saddr();
    rt.attach(skb);

    // ip_vs_prepare_tunneled_skb(): a private head with room for the new headers, and what
    // the outer header inherits from the inner one.
    skb.prepare_send(true, true);
    if !skb.ct_tunnel_prepare(t.nfct()) {
        return tx_error(skb);
    }
    if skb.cow_head(ll_reserved + ohl + enc.len()).is_err() {
        return tx_error(skb);
    }
    let (next_protocol, dsfield, ttl, df) = {
        let Some(h) = skb.linear_mut(if inner_v6 { 40 } else { 20 }) else { return tx_error(skb) };
        if inner_v6 {
            let tclass = ((h[0] & 0x0f) << 4) | (h[1] >> 4);
            (IPPROTO_IPV6, ecn_encapsulate(tclass), h[7], 0u16)
        } else {
            let df = if pmtu_disc { u16::from_be_bytes([h[6], h[7]]) & 0x4000 } else { 0 };
            (IPPROTO_IPIP, ecn_encapsulate(h[1]), h[8], df)
        }
    };
    let gso = if outer_v6 { b::FVS_SKB_GSO_IPXIP6 } else { b::FVS_SKB_GSO_IPXIP4 };
    if skb.tunnel_offloads(gso | enc.gso_type(), next_protocol).is_err() {
        return tx_error(skb);
    }

    let mut daddr = [0u8; 16];
    if outer_v6 {
        daddr = t.daddr;
    } else {
        daddr[..4].copy_from_slice(&t.daddr[..4]);
    }
    let outer_protocol = match enc {
        Encap::Ipip => next_protocol,
        Encap::Gue { port, csum, remcsum } => {
            if !push_gue(net, skb, next_protocol, port, remcsum) {
                return tx_error(skb);
            }
            skb.udp_set_csum(!csum, &saddr, &daddr, outer_v6);
            IPPROTO_UDP
        }
        Encap::Gre { csum } => {
            let proto = if inner_v6 { ETH_P_IPV6 } else { ETH_P_IP };
            if !skb.gre_build_header(csum, proto) {
                return tx_error(skb);
            }
            IPPROTO_GRE
        }
    };

    if outer_v6 {
        let len = skb.len();
        let Some(o) = skb.push_network_header6(40) else { return tx_error(skb) };
        o[0] = 0x60 | (dsfield >> 4);
        o[1] = dsfield << 4;
        o[2] = 0;
        o[3] = 0;
        // ip6_local_out() sets the final payload length.
        o[4..6].copy_from_slice(&(len.min(0xffff) as u16).to_be_bytes());
        o[6] = outer_protocol;
        o[7] = ttl;
        o[8..24].copy_from_slice(&saddr);
        o[24..40].copy_from_slice(&daddr);
        skb.set_ignore_df();
        skb.ip6_local_out(net);
    } else {
        let Some(o) = skb.push_network_header(20) else { return tx_error(skb) };
        o[0] = 0x45;
        o[1] = dsfield;
        // tot_len and the checksum are filled in by ip_local_out().
        o[2..6].fill(0);
        o[6..8].copy_from_slice(&df.to_be_bytes());
        o[8] = ttl;
        o[9] = outer_protocol;
        o[10..12].fill(0);
        o[12..16].copy_from_slice(&saddr[..4]);
        o[16..20].copy_from_slice(&daddr[..4]);
        skb.select_ident(net);
        skb.set_ignore_df();
        skb.ip_local_out(net);
    }
    Verdict::Stolen
}

/// `ipvs_gue_encap()`: GUE header (and remote-checksum option) and UDP header in front of the
/// inner packet; the UDP checksum is set afterwards.
fn push_gue(net: NetRef, skb: &mut Skb, inner_protocol: u8, port: u16, remcsum: bool) -> bool {
    let sport = skb.udp_flow_src_port(net);
    let optlen = if remcsum { GUE_REMCSUM_OPTLEN } else { 0 };
    let hdrlen = GUE_HLEN + optlen;
    // Remote checksum offload: where the inner checksum starts and sits, counted from the
    // end of the GUE header (the offsets are taken before the push moves the data).
    let mut rc = None;
    if remcsum {
        let (start, off) = skb.csum_start_offset();
        if start < 0 {
            return false;
        }
        rc = Some((start as u32, off));
    }
    let Some(g) = skb.push(hdrlen) else { return false };
    g[0] = (optlen >> 2) as u8; // version 0, control 0, hlen in 32-bit words
    g[1] = inner_protocol;
    g[2..4].copy_from_slice(&if remcsum { GUE_FLAG_PRIV } else { 0 }.to_be_bytes());
    if let Some((start, off)) = rc {
        g[4..8].copy_from_slice(&GUE_PFLAG_REMCSUM.to_be_bytes());
        g[8..10].copy_from_slice(&(start as u16).to_be_bytes());
        g[10..12].copy_from_slice(&((start as u16).wrapping_add(off)).to_be_bytes());
    }
    if remcsum {
        skb.remcsum_handed_off();
    }
    let len = skb.len() + UDP_HLEN;
    let Some(u) = skb.push(UDP_HLEN) else { return false };
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&port.to_be_bytes());
    u[4..6].copy_from_slice(&(len.min(0xffff) as u16).to_be_bytes());
    u[6..8].fill(0);
    skb.reset_transport_header();
    true
}

