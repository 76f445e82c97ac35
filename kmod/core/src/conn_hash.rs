//! The connection-table hash key (`ip_vs_conn_hashkey` in ip_vs_conn.c).
//!
//! Kernel 7.x hashes (proto, client addr/port, virtual addr/port) with SipHash-2-4 under a
//! random per-table `siphash_key_t` and picks bucket `hash & (size - 1)`; the top bit of the
//! stored key is the table id ([`build_hash_key`]). Older kernels used `jhash_3words` with a
//! random `ip_vs_conn_rnd` over (client addr, client port, proto) only: [`legacy_hashkey`].
//! Addresses are network-order bytes, ports host order; the kernel mixes the raw in-memory
//! (big-endian) words, which `u32::from_ne_bytes` reproduces on any host.

use super::hash::{jhash, jhash_3words, siphash13_words, siphash_2u64, siphash_4u64, SipKey};

/// Bit 31 of a stored hash key names the table (`IP_VS_RHT_TABLE_ID_MASK`).
pub const TABLE_ID_MASK: u32 = 1 << 31;

/// A connection address (IPv4 or IPv6, network-order bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnAddr {
    V4([u8; 4]),
    V6([u8; 16]),
}

fn word(b: &[u8], i: usize) -> u32 {
    match b.get(i * 4..i * 4 + 4) {
        Some(w) => u32::from_ne_bytes([w[0], w[1], w[2], w[3]]),
        None => 0,
    }
}

fn raw_port(p: u16) -> u64 {
    u64::from(u16::from_ne_bytes(p.to_be_bytes()))
}

/// `ip_vs_conn_hashkey(t, af, proto, addr, port, laddr, lport)` (7.x): the 32-bit hash.
/// `addr`/`port` are the client side for the in-direction lookup (`laddr`/`lport` the virtual
/// service), or swapped for the out-direction ("inverse") key.
pub fn hashkey(
    key: &SipKey,
    proto: u8,
    addr: &ConnAddr,
    port: u16,
    laddr: &ConnAddr,
    lport: u16,
) -> u32 {
    let mut a = (u64::from(proto) << 16) | raw_port(port);
    match (addr, laddr) {
        (ConnAddr::V6(x), ConnAddr::V6(l)) => {
            let b = (u64::from(word(x, 0)) << 32) | u64::from(word(x, 1));
            let mut c = (u64::from(word(x, 2)) << 32) | u64::from(word(x, 3));
            a |= (u64::from(word(l, 2)) << 32) ^ raw_port(lport);
            c ^= u64::from(word(l, 1));
            let d = (u64::from(word(l, 0)) << 32) | u64::from(word(l, 3));
            siphash_4u64(a, b, c, d, key) as u32
        }
        _ => {
            let (x, l) = match (addr, laddr) {
                (ConnAddr::V4(x), ConnAddr::V4(l)) => (*x, *l),
                (ConnAddr::V4(x), ConnAddr::V6(l)) => (*x, [l[0], l[1], l[2], l[3]]),
                (ConnAddr::V6(x), ConnAddr::V4(l)) => ([x[0], x[1], x[2], x[3]], *l),
                (ConnAddr::V6(x), ConnAddr::V6(l)) => {
                    ([x[0], x[1], x[2], x[3]], [l[0], l[1], l[2], l[3]])
                }
            };
            a |= u64::from(u32::from_ne_bytes(x)) << 32;
            let d = (u64::from(u32::from_ne_bytes(l)) << 32) | raw_port(lport);
            siphash_2u64(a, d, key) as u32
        }
    }
}

/// fvs's bucket hash: one table whose entries hash by the client end only (protocol, client
/// address and port, which packets of both directions carry), keyed SipHash-1-3 (the kernel's
/// `hsiphash` strength, for hash tables) over as few words as hold them: one for IPv4, three
/// for IPv6. The key is random per table, so no order of entries is observable to match.
pub fn client_hashkey(key: &SipKey, proto: u8, addr: &ConnAddr, port: u16) -> u32 {
    let a = (u64::from(proto) << 16) | raw_port(port);
    match addr {
        ConnAddr::V4(x) => {
            siphash13_words(&[a | u64::from(u32::from_ne_bytes(*x)) << 32], key) as u32
        }
        ConnAddr::V6(x) => {
            let b = (u64::from(word(x, 0)) << 32) | u64::from(word(x, 1));
            let c = (u64::from(word(x, 2)) << 32) | u64::from(word(x, 3));
            siphash13_words(&[a, b, c], key) as u32
        }
    }
}

/// `ip_vs_rht_build_hash_key`: the stored key with the table id in bit 31.
pub fn build_hash_key(table_id: u32, hash: u32) -> u32 {
    (table_id & TABLE_ID_MASK) | (hash & !TABLE_ID_MASK)
}

/// The bucket of a hash key in a table of `1 << bits` buckets (`hash_key & t->mask`).
pub fn bucket(hash_key: u32, bits: u32) -> u32 {
    if bits >= 32 {
        hash_key
    } else {
        hash_key & ((1u32 << bits) - 1)
    }
}

/// The pre-7.x `ip_vs_conn_hashkey(ipvs, af, proto, addr, port)`: `jhash_3words` of the client
/// address (IPv6: `jhash` of its 16 bytes), raw port and protocol under `rnd`, XOR
/// `netns_salt` (`(size_t)ipvs >> 8`), masked to `1 << bits` buckets.
pub fn legacy_hashkey(
    rnd: u32,
    netns_salt: u32,
    bits: u32,
    proto: u8,
    addr: &ConnAddr,
    port: u16,
) -> u32 {
    let first = match addr {
        ConnAddr::V4(a) => u32::from_ne_bytes(*a),
        ConnAddr::V6(a) => jhash(a, rnd),
    };
    let h = jhash_3words(first, raw_port(port) as u32, u32::from(proto), rnd) ^ netns_salt;
    bucket(h, bits)
}

#[cfg(test)]
mod tests {
    use super::super::hash::siphash;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn v4_layout_matches_byte_siphash() {
        // Independent construction: siphash over the 16 bytes the two u64 words occupy.
        let key = SipKey([0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210]);
        let c = [192, 168, 1, 10];
        let v = [10, 0, 0, 1];
        let a = (6u64 << 16)
            | u64::from(u16::from_ne_bytes(40000u16.to_be_bytes()))
            | (u64::from(u32::from_ne_bytes(c)) << 32);
        let d = (u64::from(u32::from_ne_bytes(v)) << 32)
            | u64::from(u16::from_ne_bytes(80u16.to_be_bytes()));
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&d.to_le_bytes());
        let want = siphash(&bytes, &key) as u32;
        assert_eq!(
            hashkey(&key, 6, &ConnAddr::V4(c), 40000, &ConnAddr::V4(v), 80),
            want
        );
        assert_eq!(
            build_hash_key(TABLE_ID_MASK, want) & TABLE_ID_MASK,
            TABLE_ID_MASK
        );
        assert_eq!(bucket(want, 12), want & 0xfff);
    }

    #[test]
    fn legacy_v4_is_jhash_3words() {
        let h = legacy_hashkey(7, 0, 12, 17, &ConnAddr::V4([1, 2, 3, 4]), 53);
        let want = jhash_3words(
            u32::from_ne_bytes([1, 2, 3, 4]),
            u32::from(u16::from_ne_bytes(53u16.to_be_bytes())),
            17,
            7,
        ) & 0xfff;
        assert_eq!(h, want);
    }

    proptest! {
        #[test]
        fn deterministic_and_keyed(k0 in any::<u64>(), k1 in any::<u64>(), c in any::<[u8; 16]>(), v in any::<[u8; 16]>(), p in any::<u16>(), lp in any::<u16>(), bits in 1u32..20) {
            let key = SipKey([k0, k1]);
            let h = hashkey(&key, 6, &ConnAddr::V6(c), p, &ConnAddr::V6(v), lp);
            prop_assert_eq!(h, hashkey(&key, 6, &ConnAddr::V6(c), p, &ConnAddr::V6(v), lp));
            prop_assert!(bucket(h, bits) < (1 << bits));
            // A different protocol or key almost surely moves the hash.
            let h2 = hashkey(&SipKey([k0 ^ 1, k1]), 6, &ConnAddr::V6(c), p, &ConnAddr::V6(v), lp);
            let h3 = hashkey(&key, 17, &ConnAddr::V6(c), p, &ConnAddr::V6(v), lp);
            prop_assert!(h2 != h || h3 != h);
        }

        #[test]
        fn client_hash_deterministic_and_keyed(k0 in any::<u64>(), k1 in any::<u64>(), c in any::<[u8; 16]>(), c4 in any::<[u8; 4]>(), p in any::<u16>()) {
            let key = SipKey([k0, k1]);
            for a in [ConnAddr::V6(c), ConnAddr::V4(c4)] {
                let h = client_hashkey(&key, 6, &a, p);
                prop_assert_eq!(h, client_hashkey(&key, 6, &a, p));
                let h2 = client_hashkey(&SipKey([k0 ^ 1, k1]), 6, &a, p);
                let h3 = client_hashkey(&key, 17, &a, p);
                let h4 = client_hashkey(&key, 6, &a, p ^ 1);
                prop_assert!(h2 != h || h3 != h || h4 != h);
            }
        }
    }
}
