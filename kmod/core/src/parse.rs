//! Bounds-checked header parsing over byte slices: IPv4, IPv6 with the extension-header walk of
//! `ipv6_find_hdr(skb, &off, -1, &fragoff, &flags)`, TCP/UDP/SCTP ports and TCP flags, and
//! ICMP/ICMPv6 errors with their embedded IP header. Never panics; every returned offset lies
//! within the slice (`<= buf.len()`).

use super::sched::Addr;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_SCTP: u8 = 132;

pub const NEXTHDR_HOP: u8 = 0;
pub const NEXTHDR_ROUTING: u8 = 43;
pub const NEXTHDR_FRAGMENT: u8 = 44;
pub const NEXTHDR_AUTH: u8 = 51;
pub const NEXTHDR_NONE: u8 = 59;
pub const NEXTHDR_DEST: u8 = 60;
/// `IP6_MAX_EXT_HDRS_CNT`.
pub const MAX_EXT_HDRS: usize = 12;

/// Why a header could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not enough bytes for the header (`skb_header_pointer` would fail).
    Truncated,
    /// Wrong version, IHL < 5, total length below the header length, ...
    Malformed,
    /// `ipv6_find_hdr`'s -EBADMSG (too many extension headers or a truncated one).
    BadMsg,
    /// `ipv6_find_hdr`'s -ENOENT (an extension header follows a non-first fragment).
    NoEnt,
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn arr4(b: &[u8], off: usize) -> Option<[u8; 4]> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some([s[0], s[1], s[2], s[3]])
}

fn arr16(b: &[u8], off: usize) -> Option<[u8; 16]> {
    let s = b.get(off..off.checked_add(16)?)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(s);
    Some(a)
}

/// The IPv4 header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Hdr {
    /// IHL * 4.
    pub hdr_len: usize,
    pub tos: u8,
    pub total_len: u16,
    pub id: u16,
    /// Fragment offset in bytes.
    pub frag_off: u16,
    pub more_frags: bool,
    pub dont_frag: bool,
    pub ttl: u8,
    pub protocol: u8,
    pub check: u16,
    pub saddr: [u8; 4],
    pub daddr: [u8; 4],
}

impl Ipv4Hdr {
    /// Whether this is a fragment (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_off != 0
    }
}

/// Parses an IPv4 header at `off`: version 4, IHL at least 5, the whole header present, total
/// length at least the header length. The total length may exceed the slice (truncated
/// packets, e.g. inside ICMP errors); compare it with the slice where that matters.
pub fn parse_ipv4(buf: &[u8], off: usize) -> Result<Ipv4Hdr, ParseError> {
    let b = buf.get(off..).ok_or(ParseError::Truncated)?;
    let v = *b.first().ok_or(ParseError::Truncated)?;
    if v >> 4 != 4 {
        return Err(ParseError::Malformed);
    }
    let hdr_len = usize::from(v & 0x0f) * 4;
    if hdr_len < 20 {
        return Err(ParseError::Malformed);
    }
    if b.len() < hdr_len {
        return Err(ParseError::Truncated);
    }
    let t = |o| be16(b, o).ok_or(ParseError::Truncated);
    let total_len = t(2)?;
    if usize::from(total_len) < hdr_len {
        return Err(ParseError::Malformed);
    }
    let fo = t(6)?;
    Ok(Ipv4Hdr {
        hdr_len,
        tos: b[1],
        total_len,
        id: t(4)?,
        frag_off: (fo & 0x1fff) << 3,
        more_frags: fo & 0x2000 != 0,
        dont_frag: fo & 0x4000 != 0,
        ttl: b[8],
        protocol: b[9],
        check: t(10)?,
        saddr: arr4(b, 12).ok_or(ParseError::Truncated)?,
        daddr: arr4(b, 16).ok_or(ParseError::Truncated)?,
    })
}

/// `ipv6_ext_hdr`.
pub fn ipv6_ext_hdr(nexthdr: u8) -> bool {
    matches!(
        nexthdr,
        NEXTHDR_HOP
            | NEXTHDR_ROUTING
            | NEXTHDR_FRAGMENT
            | NEXTHDR_AUTH
            | NEXTHDR_NONE
            | NEXTHDR_DEST
    )
}

/// What `ipv6_find_hdr(skb, &offset, -1, &fragoff, &flags)` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Walk {
    /// The upper-layer protocol (or NEXTHDR_NONE).
    pub nexthdr: u8,
    /// The transport header offset. For a non-first fragment the kernel leaves it at the IPv6
    /// header's own offset (and reports `fragoff != 0`): reproduced here.
    pub offset: usize,
    /// Fragment offset in bytes (0 unless a non-first fragment).
    pub fragoff: u16,
    /// `IP6_FH_F_FRAG`: a fragment header was seen.
    pub fragment: bool,
}

/// `ipv6_find_hdr` with target -1 and no flags for the IPv6 header at `off`.
pub fn ipv6_find_hdr(buf: &[u8], off: usize) -> Result<Ipv6Walk, ParseError> {
    let ver = *buf.get(off).ok_or(ParseError::BadMsg)?;
    if buf.len().saturating_sub(off) < 40 || ver >> 4 != 6 {
        return Err(ParseError::BadMsg);
    }
    let mut nexthdr = *buf.get(off + 6).ok_or(ParseError::BadMsg)?;
    let mut start = off + 40;
    let mut fragment = false;
    let mut count = 0usize;
    loop {
        if !ipv6_ext_hdr(nexthdr) || nexthdr == NEXTHDR_NONE {
            return Ok(Ipv6Walk {
                nexthdr,
                offset: start,
                fragoff: 0,
                fragment,
            });
        }
        if count >= MAX_EXT_HDRS {
            return Err(ParseError::BadMsg);
        }
        count += 1;
        let hp_next = *buf.get(start).ok_or(ParseError::BadMsg)?;
        let hp_len = *buf.get(start + 1).ok_or(ParseError::BadMsg)?;
        let hdrlen = match nexthdr {
            NEXTHDR_ROUTING => {
                if buf.len() < start + 4 {
                    return Err(ParseError::BadMsg);
                }
                (usize::from(hp_len) + 1) << 3
            }
            NEXTHDR_FRAGMENT => {
                fragment = true;
                let fo = be16(buf, start + 2).ok_or(ParseError::BadMsg)? & !7;
                if fo != 0 {
                    if !ipv6_ext_hdr(hp_next) || hp_next == NEXTHDR_NONE {
                        return Ok(Ipv6Walk {
                            nexthdr: hp_next,
                            offset: off,
                            fragoff: fo,
                            fragment,
                        });
                    }
                    return Err(ParseError::NoEnt);
                }
                8
            }
            NEXTHDR_AUTH => (usize::from(hp_len) + 2) << 2,
            _ => (usize::from(hp_len) + 1) << 3,
        };
        if buf.len() - start < hdrlen {
            return Err(ParseError::BadMsg);
        }
        nexthdr = hp_next;
        start += hdrlen;
    }
}

/// `struct ip_vs_iphdr` as `ip_vs_fill_iph_skb_off` fills it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHdr {
    pub v6: bool,
    /// Offset of the IP header in the slice (`iph->off`).
    pub off: usize,
    /// Transport header offset (`iph->len`).
    pub len: usize,
    /// IPv6 non-first fragment offset (always 0 for IPv4, which ip_vs sees defragmented).
    pub fragoffs: u16,
    /// IPv4: MF or offset set; IPv6: a fragment header was seen.
    pub fragment: bool,
    pub protocol: u8,
    pub saddr: Addr,
    pub daddr: Addr,
    /// Where the IP packet ends according to its header (may exceed the slice if truncated).
    pub end: usize,
}

/// Parses the IP header at `off` (IPv6 if `v6`) into an [`IpHdr`].
pub fn parse_ip(buf: &[u8], off: usize, v6: bool) -> Result<IpHdr, ParseError> {
    if v6 {
        let w = ipv6_find_hdr(buf, off)?;
        let plen = usize::from(be16(buf, off + 4).ok_or(ParseError::Truncated)?);
        Ok(IpHdr {
            v6,
            off,
            len: w.offset,
            fragoffs: w.fragoff,
            fragment: w.fragment,
            protocol: w.nexthdr,
            saddr: Addr::V6(arr16(buf, off + 8).ok_or(ParseError::Truncated)?),
            daddr: Addr::V6(arr16(buf, off + 24).ok_or(ParseError::Truncated)?),
            end: off + 40 + plen,
        })
    } else {
        let h = parse_ipv4(buf, off)?;
        Ok(IpHdr {
            v6,
            off,
            len: off + h.hdr_len,
            fragoffs: 0,
            fragment: h.is_fragment(),
            protocol: h.protocol,
            saddr: Addr::V4(h.saddr),
            daddr: Addr::V4(h.daddr),
            end: off + usize::from(h.total_len),
        })
    }
}

/// Source and destination port at `off` (TCP, UDP and SCTP share the layout).
pub fn parse_ports(buf: &[u8], off: usize) -> Option<(u16, u16)> {
    Some((be16(buf, off)?, be16(buf, off.checked_add(2)?)?))
}

/// TCP header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHdr {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack_seq: u32,
    /// Data offset in bytes (may be < 20 or beyond the slice in a malformed packet).
    pub doff: usize,
    /// Byte 13: CWR ECE URG ACK PSH RST SYN FIN.
    pub flags: u8,
    pub window: u16,
    pub check: u16,
}

/// Parses the fixed 20-byte TCP header at `off`.
pub fn parse_tcp(buf: &[u8], off: usize) -> Option<TcpHdr> {
    let b = buf.get(off..off.checked_add(20)?)?;
    Some(TcpHdr {
        sport: be16(b, 0)?,
        dport: be16(b, 2)?,
        seq: be32(b, 4)?,
        ack_seq: be32(b, 8)?,
        doff: usize::from(b[12] >> 4) * 4,
        flags: b[13],
        window: be16(b, 14)?,
        check: be16(b, 16)?,
    })
}

/// UDP header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpHdr {
    pub sport: u16,
    pub dport: u16,
    pub len: u16,
    pub check: u16,
}

/// Parses the 8-byte UDP header at `off`.
pub fn parse_udp(buf: &[u8], off: usize) -> Option<UdpHdr> {
    let b = buf.get(off..off.checked_add(8)?)?;
    Some(UdpHdr {
        sport: be16(b, 0)?,
        dport: be16(b, 2)?,
        len: be16(b, 4)?,
        check: be16(b, 6)?,
    })
}

/// SCTP common header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SctpHdr {
    pub sport: u16,
    pub dport: u16,
    pub vtag: u32,
    /// CRC32c, as stored (little-endian on the wire; given here as read big-endian).
    pub checksum: u32,
    /// Offset of the first chunk.
    pub chunks: usize,
}

/// Parses the 12-byte SCTP common header at `off`.
pub fn parse_sctp(buf: &[u8], off: usize) -> Option<SctpHdr> {
    let b = buf.get(off..off.checked_add(12)?)?;
    Some(SctpHdr {
        sport: be16(b, 0)?,
        dport: be16(b, 2)?,
        vtag: be32(b, 4)?,
        checksum: be32(b, 8)?,
        chunks: off + 12,
    })
}

/// An ICMP or ICMPv6 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpHdr {
    pub icmp_type: u8,
    pub code: u8,
    pub check: u16,
    /// Whether ip_vs relays it to a connection: ICMP DEST_UNREACH, SOURCE_QUENCH, TIME_EXCEEDED;
    /// ICMPv6 error messages (type < 128).
    pub is_error: bool,
    /// Offset of the embedded IP header (after the 8-byte ICMP header).
    pub inner: usize,
}

/// Parses the 8-byte ICMP (`v6 == false`) or ICMPv6 header at `off`.
pub fn parse_icmp(buf: &[u8], off: usize, v6: bool) -> Option<IcmpHdr> {
    let b = buf.get(off..off.checked_add(8)?)?;
    let t = b[0];
    let is_error = if v6 {
        t & 0x80 == 0
    } else {
        matches!(t, 3 | 4 | 11)
    };
    Some(IcmpHdr {
        icmp_type: t,
        code: b[1],
        check: be16(b, 2)?,
        is_error,
        inner: off + 8,
    })
}

/// An ICMP error with its embedded packet: the inner IP header (as ip_vs parses it for
/// `ip_vs_in_icmp`) and, if the first 4 transport bytes are there, its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    pub icmp: IcmpHdr,
    pub inner: IpHdr,
    pub inner_ports: Option<(u16, u16)>,
}

/// Parses an ICMP/ICMPv6 error at `off` and the IP header it carries (same family). `None` if
/// not an error type or the inner IP header is unusable.
pub fn parse_icmp_error(buf: &[u8], off: usize, v6: bool) -> Option<IcmpError> {
    let icmp = parse_icmp(buf, off, v6)?;
    if !icmp.is_error {
        return None;
    }
    let inner = parse_ip(buf, icmp.inner, v6).ok()?;
    let inner_ports = match inner.protocol {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP if inner.fragoffs == 0 => {
            parse_ports(buf, inner.len)
        }
        _ => None,
    };
    Some(IcmpError {
        icmp,
        inner,
        inner_ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut p =
            std::vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        let tl = (20 + payload.len()) as u16;
        p[2..4].copy_from_slice(&tl.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn ipv6(first: u8, ext: &[(u8, Vec<u8>)], payload: &[u8]) -> Vec<u8> {
        let mut p = std::vec![0x60, 0, 0, 0, 0, 0, first, 64];
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        for (_, h) in ext {
            p.extend_from_slice(h);
        }
        p.extend_from_slice(payload);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    }

    #[test]
    fn ipv4_tcp() {
        let mut tcp = std::vec![0u8; 20];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = 0x12;
        let p = ipv4(IPPROTO_TCP, &tcp);
        let h = parse_ip(&p, 0, false).unwrap();
        assert_eq!((h.len, h.protocol, h.end, h.fragment), (20, 6, 40, false));
        let t = parse_tcp(&p, h.len).unwrap();
        assert_eq!((t.sport, t.dport, t.doff, t.flags), (1234, 80, 20, 0x12));
        let mut bad = p.clone();
        bad[0] = 0x44;
        assert_eq!(parse_ipv4(&bad, 0), Err(ParseError::Malformed));
        assert_eq!(parse_ipv4(&p[..19], 0), Err(ParseError::Truncated));
    }

    #[test]
    fn ipv6_ext_walk() {
        let hop = (NEXTHDR_HOP, std::vec![NEXTHDR_ROUTING, 0, 1, 4, 0, 0, 0, 0]);
        let rt = (
            NEXTHDR_ROUTING,
            std::vec![NEXTHDR_FRAGMENT, 0, 0, 0, 0, 0, 0, 0],
        );
        let frag = (
            NEXTHDR_FRAGMENT,
            std::vec![NEXTHDR_AUTH, 0, 0, 1, 0, 0, 0, 9],
        );
        let ah = (
            NEXTHDR_AUTH,
            std::vec![IPPROTO_UDP, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        let p = ipv6(
            NEXTHDR_HOP,
            &[hop, rt, frag, ah],
            &[0, 53, 0, 53, 0, 8, 0, 0],
        );
        let h = parse_ip(&p, 0, true).unwrap();
        assert_eq!(
            (h.protocol, h.len, h.fragoffs, h.fragment),
            (IPPROTO_UDP, 76, 0, true)
        );
        assert_eq!(parse_ports(&p, h.len), Some((53, 53)));
        // Non-first fragment: offset stays at the IPv6 header, fragoff reported.
        let frag = (
            NEXTHDR_FRAGMENT,
            std::vec![IPPROTO_TCP, 0, 0x05, 0x01, 0, 0, 0, 9],
        );
        let p = ipv6(NEXTHDR_FRAGMENT, &[frag], &[1, 2, 3, 4]);
        let w = ipv6_find_hdr(&p, 0).unwrap();
        assert_eq!((w.nexthdr, w.offset, w.fragoff), (IPPROTO_TCP, 0, 0x500));
        let frag = (
            NEXTHDR_FRAGMENT,
            std::vec![NEXTHDR_DEST, 0, 0x05, 0x00, 0, 0, 0, 9],
        );
        let p = ipv6(NEXTHDR_FRAGMENT, &[frag], &[6, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ipv6_find_hdr(&p, 0), Err(ParseError::NoEnt));
        // 13 destination-options headers: too many.
        let many: Vec<_> = (0..13)
            .map(|_| (NEXTHDR_DEST, std::vec![NEXTHDR_DEST, 0, 0, 0, 0, 0, 0, 0]))
            .collect();
        let p = ipv6(NEXTHDR_DEST, &many, &[]);
        assert_eq!(ipv6_find_hdr(&p, 0), Err(ParseError::BadMsg));
        // A truncated extension header.
        let p = ipv6(
            NEXTHDR_DEST,
            &[(NEXTHDR_DEST, std::vec![IPPROTO_TCP, 1, 0, 0, 0, 0, 0, 0])],
            &[],
        );
        assert_eq!(ipv6_find_hdr(&p, 0), Err(ParseError::BadMsg));
        // NEXTHDR_NONE ends the walk.
        let p = ipv6(NEXTHDR_NONE, &[], &[]);
        assert_eq!(ipv6_find_hdr(&p, 0).unwrap().nexthdr, NEXTHDR_NONE);
    }

    #[test]
    fn icmp_errors() {
        let inner = ipv4(IPPROTO_UDP, &[0x30, 0x39, 0, 53, 0, 8, 0, 0]);
        let mut icmp = std::vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&inner[..28]);
        let p = ipv4(IPPROTO_ICMP, &icmp);
        let e = parse_icmp_error(&p, 20, false).unwrap();
        assert_eq!(
            (e.icmp.icmp_type, e.inner.protocol, e.inner_ports),
            (3, 17, Some((12345, 53)))
        );
        let mut echo = icmp.clone();
        echo[0] = 8;
        let p = ipv4(IPPROTO_ICMP, &echo);
        assert_eq!(parse_icmp_error(&p, 20, false), None);
        // ICMPv6 packet too big carrying an IPv6/TCP header.
        let inner6 = ipv6(IPPROTO_TCP, &[], &[0, 80, 0x9c, 0x40]);
        let mut i6 = std::vec![2, 0, 0, 0, 0, 0, 5, 0];
        i6.extend_from_slice(&inner6);
        let p = ipv6(IPPROTO_ICMPV6, &[], &i6);
        let e = parse_icmp_error(&p, 40, true).unwrap();
        assert_eq!(
            (e.inner.protocol, e.inner.len, e.inner_ports),
            (IPPROTO_TCP, 88, Some((80, 40000)))
        );
    }

    fn check_ip(buf: &[u8], h: &IpHdr) -> Result<(), TestCaseError> {
        prop_assert!(h.off <= buf.len());
        prop_assert!(h.len <= buf.len());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..200), off in 0usize..64, v6 in any::<bool>()) {
            if let Ok(h) = parse_ip(&buf, off, v6) {
                check_ip(&buf, &h)?;
                let _ = parse_tcp(&buf, h.len);
                let _ = parse_udp(&buf, h.len);
                if let Some(s) = parse_sctp(&buf, h.len) { prop_assert!(s.chunks <= buf.len()); }
                if let Some(e) = parse_icmp_error(&buf, h.len, v6) {
                    prop_assert!(e.icmp.inner <= buf.len());
                    check_ip(&buf, &e.inner)?;
                }
            }
            if let Ok(w) = ipv6_find_hdr(&buf, off) { prop_assert!(w.offset <= buf.len()); }
            let _ = parse_ports(&buf, off);
        }

        #[test]
        fn random_ipv6_chains_found(
            exts in proptest::collection::vec((prop::sample::select(&[NEXTHDR_HOP, NEXTHDR_ROUTING, NEXTHDR_DEST, NEXTHDR_AUTH, NEXTHDR_FRAGMENT][..]), 0u8..3), 0..12),
            proto in prop::sample::select(&[IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMPV6][..]),
            sport in any::<u16>(), dport in any::<u16>(),
        ) {
            let mut chain = Vec::new();
            let mut expect_off = 40;
            for (i, (ty, l)) in exts.iter().enumerate() {
                let next = exts.get(i + 1).map_or(proto, |e| e.0);
                let len = match *ty {
                    NEXTHDR_FRAGMENT => 8,
                    NEXTHDR_AUTH => (usize::from(*l) + 2) * 4,
                    _ => (usize::from(*l) + 1) * 8,
                };
                let mut h = std::vec![0u8; len];
                h[0] = next;
                h[1] = if *ty == NEXTHDR_FRAGMENT { 0 } else { *l };
                chain.push((*ty, h));
                expect_off += len;
            }
            let first = exts.first().map_or(proto, |e| e.0);
            let mut pl = Vec::new();
            pl.extend_from_slice(&sport.to_be_bytes());
            pl.extend_from_slice(&dport.to_be_bytes());
            pl.extend_from_slice(&[0u8; 16]);
            let p = ipv6(first, &chain, &pl);
            let h = parse_ip(&p, 0, true).unwrap();
            prop_assert_eq!(h.protocol, proto);
            prop_assert_eq!(h.len, expect_off);
            prop_assert_eq!(parse_ports(&p, h.len), Some((sport, dport)));
            prop_assert_eq!(h.fragment, exts.iter().any(|e| e.0 == NEXTHDR_FRAGMENT));
            // Any truncation inside the chain is reported, never mis-parsed past the end.
            for cut in 40..expect_off {
                if let Ok(w) = ipv6_find_hdr(&p[..cut], 0) { prop_assert!(w.offset <= cut); }
            }
        }
    }
}
