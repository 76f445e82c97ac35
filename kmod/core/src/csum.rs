//! Internet checksum (RFC 1071) and the incremental updates ip_vs applies when it rewrites
//! addresses and ports (RFC 1624; `ip_vs_check_diff2/4/16`, `tcp/udp_fast_csum_update`,
//! `tcp/udp_partial_csum_update`, `csum_replace2/4`).
//!
//! Conventions: a 16-bit checksum value is the header field read big-endian
//! (`u16::from_be_bytes(field)`), and a [`Wsum`] is a 32-bit ones'-complement partial sum of
//! big-endian 16-bit words (the kernel's `__wsum`, up to the byte order of the representation —
//! all results after folding are identical).

/// A 32-bit ones'-complement accumulator (`__wsum`).
pub type Wsum = u32;

/// UDP's "checksum 0 means none" replacement (`CSUM_MANGLED_0`).
pub const CSUM_MANGLED_0: u16 = 0xffff;

/// `csum_add`: 32-bit ones'-complement addition (end-around carry).
pub fn csum_add(a: Wsum, b: Wsum) -> Wsum {
    let (s, c) = a.overflowing_add(b);
    s.wrapping_add(u32::from(c))
}

/// `csum_partial(buf, len, sum)`: adds the big-endian 16-bit words of `data` (an odd last byte
/// is the high half of a word) to `sum`. Four bytes (two words) per step.
pub fn csum_partial(data: &[u8], sum: Wsum) -> Wsum {
    let mut acc: u64 = u64::from(sum);
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        acc += words32(u32::from_be_bytes([q[0], q[1], q[2], q[3]]));
    }
    let mut rest = quads.remainder().chunks_exact(2);
    for w in &mut rest {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = rest.remainder() {
        acc += u64::from(*b) << 8;
    }
    fold64(acc)
}

/// The sum of the two big-endian 16-bit words of a 32-bit value.
#[inline(always)]
fn words32(w: u32) -> u64 {
    u64::from(w >> 16) + u64::from(w & 0xffff)
}

/// A 64-bit sum of words folded to a partial sum (end-around carries).
#[inline(always)]
fn fold64(mut acc: u64) -> Wsum {
    while acc >> 32 != 0 {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
}

/// Folds a partial sum to 16 bits without complementing.
pub fn fold16(sum: Wsum) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    let s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// `csum_fold`: fold and complement (the value that goes into a header).
pub fn csum_fold(sum: Wsum) -> u16 {
    !fold16(sum)
}

/// `csum_unfold`.
pub fn csum_unfold(check: u16) -> Wsum {
    u32::from(check)
}

/// The checksum of `data` (e.g. an IPv4 header with its check field zeroed).
pub fn checksum(data: &[u8]) -> u16 {
    csum_fold(csum_partial(data, 0))
}

/// Whether `data` (containing its checksum field) verifies.
pub fn verify(data: &[u8], pseudo: Wsum) -> bool {
    fold16(csum_partial(data, pseudo)) == 0xffff
}

/// `csum_tcpudp_nofold` for IPv4: the pseudo-header partial sum.
pub fn pseudo_v4(saddr: [u8; 4], daddr: [u8; 4], proto: u8, len: u16) -> Wsum {
    let mut s = csum_partial(&saddr, 0);
    s = csum_partial(&daddr, s);
    csum_add(s, u32::from(proto) + u32::from(len))
}

/// The IPv6 pseudo-header partial sum (`csum_ipv6_magic` before folding).
pub fn pseudo_v6(saddr: &[u8; 16], daddr: &[u8; 16], proto: u8, len: u32) -> Wsum {
    let mut s = csum_partial(saddr, 0);
    s = csum_partial(daddr, s);
    s = csum_add(s, (len >> 16) + (len & 0xffff));
    csum_add(s, u32::from(proto))
}

/// TCP/UDP checksum of a segment (its check field must be zero) under a pseudo-header sum:
/// `csum_tcpudp_magic` / `csum_ipv6_magic`. For UDP map a result of 0 to [`CSUM_MANGLED_0`].
pub fn l4_checksum(segment: &[u8], pseudo: Wsum) -> u16 {
    csum_fold(csum_partial(segment, pseudo))
}

/// `ip_vs_check_diff2(old, new, oldsum)` (ports and lengths, host-order values).
pub fn check_diff2(old: u16, new: u16, oldsum: Wsum) -> Wsum {
    fold64(u64::from(oldsum) + u64::from(!old) + u64::from(new))
}

/// `ip_vs_check_diff4(old, new, oldsum)` (IPv4 addresses, network-order bytes).
pub fn check_diff4(old: [u8; 4], new: [u8; 4], oldsum: Wsum) -> Wsum {
    fold64(u64::from(oldsum) + words32(!u32::from_be_bytes(old)) + words32(u32::from_be_bytes(new)))
}

/// `ip_vs_check_diff16(old, new, oldsum)` (IPv6 addresses, network-order bytes).
pub fn check_diff16(old: &[u8; 16], new: &[u8; 16], oldsum: Wsum) -> Wsum {
    let mut acc = u64::from(oldsum);
    for (o, n) in old.chunks_exact(4).zip(new.chunks_exact(4)) {
        acc += words32(!u32::from_be_bytes([o[0], o[1], o[2], o[3]]));
        acc += words32(u32::from_be_bytes([n[0], n[1], n[2], n[3]]));
    }
    fold64(acc)
}

/// An address as the checksum helpers take it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpAddr {
    V4([u8; 4]),
    V6([u8; 16]),
}

fn diff_addr(old: &IpAddr, new: &IpAddr, sum: Wsum) -> Wsum {
    match (old, new) {
        (IpAddr::V4(o), IpAddr::V4(n)) => check_diff4(*o, *n, sum),
        (IpAddr::V6(o), IpAddr::V6(n)) => check_diff16(o, n, sum),
        // Mixed families never share one pseudo-header; treat as "no address change".
        _ => sum,
    }
}

/// `tcp_fast_csum_update`: the new TCP check after rewriting one address and one port.
pub fn tcp_fast_csum_update(
    check: u16,
    oldip: &IpAddr,
    newip: &IpAddr,
    oldport: u16,
    newport: u16,
) -> u16 {
    csum_fold(diff_addr(
        oldip,
        newip,
        check_diff2(oldport, newport, !csum_unfold(check)),
    ))
}

/// `udp_fast_csum_update`: as TCP, then a 0 result becomes [`CSUM_MANGLED_0`].
pub fn udp_fast_csum_update(
    check: u16,
    oldip: &IpAddr,
    newip: &IpAddr,
    oldport: u16,
    newport: u16,
) -> u16 {
    match tcp_fast_csum_update(check, oldip, newip, oldport, newport) {
        0 => CSUM_MANGLED_0,
        c => c,
    }
}

/// `tcp_partial_csum_update` / `udp_partial_csum_update` (CHECKSUM_PARTIAL): the field holds the
/// non-complemented folded pseudo-header sum; rewrite it for a new address and length.
pub fn partial_csum_update(
    check: u16,
    oldip: &IpAddr,
    newip: &IpAddr,
    oldlen: u16,
    newlen: u16,
) -> u16 {
    !csum_fold(diff_addr(
        oldip,
        newip,
        check_diff2(oldlen, newlen, csum_unfold(check)),
    ))
}

/// `csum_replace4(&check, from, to)` (e.g. an IPv4 header address rewrite).
pub fn csum_replace4(check: u16, from: [u8; 4], to: [u8; 4]) -> u16 {
    csum_fold(check_diff4(from, to, !csum_unfold(check)))
}

/// `csum_replace2(&check, from, to)` (e.g. TTL/protocol word, ports).
pub fn csum_replace2(check: u16, from: u16, to: u16) -> u16 {
    csum_fold(check_diff2(from, to, !csum_unfold(check)))
}

/// How ip_vs's `udp_snat_handler` / `udp_dnat_handler` adjust a UDP checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpCsumMode {
    /// CHECKSUM_PARTIAL: [`partial_csum_update`].
    Partial,
    /// Only address/port changed and a checksum is present: [`udp_fast_csum_update`].
    Fast,
    /// Recompute over the whole datagram (also when the checksum field is 0: the kernel then
    /// fills in a full checksum, mapping 0 to [`CSUM_MANGLED_0`]).
    Full,
}

/// The branch ip_vs takes for UDP: `ip_summed == CHECKSUM_PARTIAL` first, else fast update
/// when no payload mangling happened and `check != 0`, else a full recomputation.
pub fn udp_csum_mode(checksum_partial: bool, payload_mangled: bool, check: u16) -> UdpCsumMode {
    if checksum_partial {
        UdpCsumMode::Partial
    } else if !payload_mangled && check != 0 {
        UdpCsumMode::Fast
    } else {
        UdpCsumMode::Full
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn rfc1071_example_and_ipv4_header() {
        // RFC 1071 section 3 example words sum to 0xddf2 (folded).
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold16(csum_partial(&d, 0)), 0xddf2);
        // A classic IPv4 header: checksum 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert!(verify(&h, 0));
        // Rewrite daddr incrementally.
        let c = csum_replace4(0xb861, [0xc0, 0xa8, 0, 0xc7], [10, 0, 0, 9]);
        h[16..20].copy_from_slice(&[10, 0, 0, 9]);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(c, checksum(&h));
    }

    #[test]
    fn udp_modes() {
        assert_eq!(udp_csum_mode(true, false, 0), UdpCsumMode::Partial);
        assert_eq!(udp_csum_mode(false, false, 0x1234), UdpCsumMode::Fast);
        assert_eq!(udp_csum_mode(false, false, 0), UdpCsumMode::Full);
        assert_eq!(udp_csum_mode(false, true, 0x1234), UdpCsumMode::Full);
    }

    /// Builds a TCP/UDP segment with the given ports and payload and returns (segment, check).
    fn seg(sport: u16, dport: u16, payload: &[u8], pseudo: Wsum, udp: bool) -> (Vec<u8>, u16) {
        let mut s = Vec::new();
        s.extend_from_slice(&sport.to_be_bytes());
        s.extend_from_slice(&dport.to_be_bytes());
        if udp {
            s.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            s.extend_from_slice(&[0, 0]);
        } else {
            s.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        }
        s.extend_from_slice(payload);
        let c = l4_checksum(&s, pseudo);
        (s, c)
    }

    /// Ones'-complement equality: 0x0000 and 0xffff are both zero.
    fn oc_eq(a: u16, b: u16) -> bool {
        a == b || (a == 0 || a == 0xffff) && (b == 0 || b == 0xffff)
    }

    /// The plain definition: one big-endian 16-bit word at a time.
    fn csum_partial_ref(data: &[u8], sum: Wsum) -> Wsum {
        let mut acc = u64::from(sum);
        for w in data.chunks(2) {
            acc += u64::from(w[0]) << 8 | w.get(1).map_or(0, |&b| u64::from(b));
        }
        while acc >> 32 != 0 {
            acc = (acc & 0xffff_ffff) + (acc >> 32);
        }
        acc as u32
    }

    /// `ip_vs_check_diff*`'s definition: `csum_partial` over the complemented old bytes and
    /// the new ones.
    fn diff_ref(old: &[u8], new: &[u8], sum: Wsum) -> Wsum {
        let mut d: Vec<u8> = old.iter().map(|b| !b).collect();
        d.extend_from_slice(new);
        csum_partial_ref(&d, sum)
    }

    proptest! {
        #[test]
        fn word_sums_equal_the_definition(
            data in proptest::collection::vec(any::<u8>(), 0..80), sum in any::<u32>(),
            o4 in any::<[u8; 4]>(), n4 in any::<[u8; 4]>(),
            o16 in any::<[u8; 16]>(), n16 in any::<[u8; 16]>(), o2 in any::<u16>(), n2 in any::<u16>(),
        ) {
            prop_assert_eq!(csum_partial(&data, sum), csum_partial_ref(&data, sum));
            prop_assert_eq!(check_diff4(o4, n4, sum), diff_ref(&o4, &n4, sum));
            prop_assert_eq!(check_diff16(&o16, &n16, sum), diff_ref(&o16, &n16, sum));
            prop_assert_eq!(check_diff2(o2, n2, sum), diff_ref(&o2.to_be_bytes(), &n2.to_be_bytes(), sum));
        }

        #[test]
        fn fast_update_v4_equals_recompute(
            sa in any::<[u8; 4]>(), da in any::<[u8; 4]>(), nda in any::<[u8; 4]>(),
            sp in any::<u16>(), dp in any::<u16>(), ndp in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64), udp in any::<bool>(),
        ) {
            let proto = if udp { 17 } else { 6 };
            let len = (payload.len() + if udp { 8 } else { 20 }) as u16;
            let (_, c) = seg(sp, dp, &payload, pseudo_v4(sa, da, proto, len), udp);
            let (_, want) = seg(sp, ndp, &payload, pseudo_v4(sa, nda, proto, len), udp);
            let got = tcp_fast_csum_update(c, &IpAddr::V4(da), &IpAddr::V4(nda), dp, ndp);
            prop_assert!(oc_eq(got, want), "got {:#x} want {:#x}", got, want);
            // The updated segment verifies.
            let (mut s, _) = seg(sp, ndp, &payload, 0, udp);
            let off = if udp { 6 } else { 16 };
            s[off..off + 2].copy_from_slice(&got.to_be_bytes());
            prop_assert!(verify(&s, pseudo_v4(sa, nda, proto, len)));
            let u = udp_fast_csum_update(c, &IpAddr::V4(da), &IpAddr::V4(nda), dp, ndp);
            prop_assert!(u != 0 && oc_eq(u, want));
        }

        #[test]
        fn fast_update_v6_equals_recompute(
            sa in any::<[u8; 16]>(), da in any::<[u8; 16]>(), nda in any::<[u8; 16]>(),
            sp in any::<u16>(), dp in any::<u16>(), ndp in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64), udp in any::<bool>(),
        ) {
            let proto = if udp { 17 } else { 6 };
            let len = (payload.len() + if udp { 8 } else { 20 }) as u32;
            let (_, c) = seg(sp, dp, &payload, pseudo_v6(&sa, &da, proto, len), udp);
            let (_, want) = seg(sp, ndp, &payload, pseudo_v6(&sa, &nda, proto, len), udp);
            let got = tcp_fast_csum_update(c, &IpAddr::V6(da), &IpAddr::V6(nda), dp, ndp);
            prop_assert!(oc_eq(got, want), "got {:#x} want {:#x}", got, want);
        }

        #[test]
        fn partial_update_equals_new_pseudo(
            sa in any::<[u8; 4]>(), da in any::<[u8; 4]>(), nsa in any::<[u8; 4]>(),
            len in 8u16..1500, nlen in 8u16..1500, proto in prop::sample::select(&[6u8, 17][..]),
            sa6 in any::<[u8; 16]>(), da6 in any::<[u8; 16]>(), nsa6 in any::<[u8; 16]>(),
        ) {
            // CHECKSUM_PARTIAL: field = ~csum_tcpudp_magic(pseudo) = folded pseudo sum.
            let field = !csum_fold(pseudo_v4(sa, da, proto, len));
            let want = !csum_fold(pseudo_v4(nsa, da, proto, nlen));
            let got = partial_csum_update(field, &IpAddr::V4(sa), &IpAddr::V4(nsa), len, nlen);
            prop_assert!(oc_eq(got, want), "got {:#x} want {:#x}", got, want);
            let field = !csum_fold(pseudo_v6(&sa6, &da6, proto, u32::from(len)));
            let want = !csum_fold(pseudo_v6(&nsa6, &da6, proto, u32::from(nlen)));
            let got = partial_csum_update(field, &IpAddr::V6(sa6), &IpAddr::V6(nsa6), len, nlen);
            prop_assert!(oc_eq(got, want), "got {:#x} want {:#x}", got, want);
        }

        #[test]
        fn replace4_equals_recompute(h in any::<[u8; 20]>(), na in any::<[u8; 4]>()) {
            let mut h = h;
            h[10] = 0; h[11] = 0;
            let c = checksum(&h);
            let mut old = [0u8; 4];
            old.copy_from_slice(&h[12..16]);
            h[12..16].copy_from_slice(&na);
            let want = checksum(&h);
            prop_assert!(oc_eq(csum_replace4(c, old, na), want));
        }
    }
}
