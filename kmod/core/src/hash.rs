//! Bit-exact ports of the kernel hash functions ip_vs uses: `hash_32` (include/linux/hash.h),
//! `jhash` / `jhash2` / `jhash_Nwords` (include/linux/jhash.h), SipHash-2-4 `siphash` and the
//! 64-bit-kernel `hsiphash` (SipHash-1-3 truncated to 32 bits, lib/siphash.c), and `gcd`.

/// `GOLDEN_RATIO_32` from include/linux/hash.h.
pub const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// `hash_32(val, bits)`: multiplicative hash keeping the top `bits` bits (`bits` in 1..=32).
pub fn hash_32(val: u32, bits: u32) -> u32 {
    let h = val.wrapping_mul(GOLDEN_RATIO_32);
    if bits == 0 {
        0
    } else if bits >= 32 {
        h
    } else {
        h >> (32 - bits)
    }
}

/// `JHASH_INITVAL`.
pub const JHASH_INITVAL: u32 = 0xdead_beef;

#[inline]
fn jhash_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline]
fn jhash_final(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// Little-endian word from up to 4 bytes (missing bytes are zero); the kernel's
/// `get_unaligned((u32 *)k)` on a little-endian CPU.
#[inline]
fn le_word(bytes: &[u8]) -> u32 {
    let mut w = 0u32;
    for (i, b) in bytes.iter().take(4).enumerate() {
        w |= u32::from(*b) << (8 * i);
    }
    w
}

/// `jhash(key, length, initval)` over a byte slice, as on a little-endian kernel.
pub fn jhash(key: &[u8], initval: u32) -> u32 {
    let len = key.len() as u32;
    let mut a = JHASH_INITVAL.wrapping_add(len).wrapping_add(initval);
    let mut b = a;
    let mut c = a;
    let mut k = key;
    while k.len() > 12 {
        let (blk, rest) = k.split_at(12);
        a = a.wrapping_add(le_word(&blk[0..4]));
        b = b.wrapping_add(le_word(&blk[4..8]));
        c = c.wrapping_add(le_word(&blk[8..12]));
        jhash_mix(&mut a, &mut b, &mut c);
        k = rest;
    }
    if k.is_empty() {
        return c;
    }
    // The tail switch adds bytes at the same positions as a zero-padded little-endian load.
    a = a.wrapping_add(le_word(k.get(0..k.len().min(4)).unwrap_or(&[])));
    if k.len() > 4 {
        b = b.wrapping_add(le_word(k.get(4..k.len().min(8)).unwrap_or(&[])));
    }
    if k.len() > 8 {
        c = c.wrapping_add(le_word(k.get(8..).unwrap_or(&[])));
    }
    jhash_final(&mut a, &mut b, &mut c);
    c
}

/// `jhash2(k, length, initval)` over 32-bit words.
pub fn jhash2(key: &[u32], initval: u32) -> u32 {
    let len = key.len() as u32;
    let mut a = JHASH_INITVAL
        .wrapping_add(len.wrapping_shl(2))
        .wrapping_add(initval);
    let mut b = a;
    let mut c = a;
    let mut k = key;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        jhash_mix(&mut a, &mut b, &mut c);
        k = &k[3..];
    }
    match *k {
        [x, y, z] => {
            a = a.wrapping_add(x);
            b = b.wrapping_add(y);
            c = c.wrapping_add(z);
        }
        [x, y] => {
            a = a.wrapping_add(x);
            b = b.wrapping_add(y);
        }
        [x] => a = a.wrapping_add(x),
        _ => return c,
    }
    jhash_final(&mut a, &mut b, &mut c);
    c
}

fn jhash_nwords(mut a: u32, mut b: u32, mut c: u32, initval: u32) -> u32 {
    a = a.wrapping_add(initval);
    b = b.wrapping_add(initval);
    c = c.wrapping_add(initval);
    jhash_final(&mut a, &mut b, &mut c);
    c
}

/// `jhash_3words(a, b, c, initval)`.
pub fn jhash_3words(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    jhash_nwords(
        a,
        b,
        c,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(3 << 2),
    )
}

/// `jhash_2words(a, b, initval)`.
pub fn jhash_2words(a: u32, b: u32, initval: u32) -> u32 {
    jhash_nwords(
        a,
        b,
        0,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(2 << 2),
    )
}

/// `jhash_1word(a, initval)`.
pub fn jhash_1word(a: u32, initval: u32) -> u32 {
    jhash_nwords(
        a,
        0,
        0,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(1 << 2),
    )
}

/// A `siphash_key_t` (and, on 64-bit kernels, an `hsiphash_key_t`): two 64-bit words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SipKey(pub [u64; 2]);

struct Sip {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl Sip {
    fn new(key: &SipKey) -> Self {
        Sip {
            v0: 0x736f_6d65_7073_6575 ^ key.0[0],
            v1: 0x646f_7261_6e64_6f6d ^ key.0[1],
            v2: 0x6c79_6765_6e65_7261 ^ key.0[0],
            v3: 0x7465_6462_7974_6573 ^ key.0[1],
        }
    }

    #[inline]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13);
        self.v1 ^= self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16);
        self.v3 ^= self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21);
        self.v3 ^= self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17);
        self.v1 ^= self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    fn compress(&mut self, m: u64, c_rounds: u32) {
        self.v3 ^= m;
        for _ in 0..c_rounds {
            self.round();
        }
        self.v0 ^= m;
    }

    fn finish(mut self, b: u64, c_rounds: u32, d_rounds: u32) -> u64 {
        self.compress(b, c_rounds);
        self.v2 ^= 0xff;
        for _ in 0..d_rounds {
            self.round();
        }
        (self.v0 ^ self.v1) ^ (self.v2 ^ self.v3)
    }
}

fn sip_bytes(data: &[u8], key: &SipKey, c: u32, d: u32) -> u64 {
    let mut s = Sip::new(key);
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(ch);
        s.compress(u64::from_le_bytes(w), c);
    }
    let mut b = (data.len() as u64) << 56;
    for (i, byte) in chunks.remainder().iter().enumerate() {
        b |= u64::from(*byte) << (8 * i);
    }
    s.finish(b, c, d)
}

fn sip_words(words: &[u64], key: &SipKey) -> u64 {
    let mut s = Sip::new(key);
    for w in words {
        s.compress(*w, 2);
    }
    s.finish(((words.len() as u64) * 8) << 56, 2, 4)
}

/// `siphash(data, len, key)`: SipHash-2-4.
pub fn siphash(data: &[u8], key: &SipKey) -> u64 {
    sip_bytes(data, key, 2, 4)
}

/// `siphash_1u64`.
pub fn siphash_1u64(a: u64, key: &SipKey) -> u64 {
    sip_words(&[a], key)
}

/// `siphash_2u64`.
pub fn siphash_2u64(a: u64, b: u64, key: &SipKey) -> u64 {
    sip_words(&[a, b], key)
}

/// `siphash_3u64`.
pub fn siphash_3u64(a: u64, b: u64, c: u64, key: &SipKey) -> u64 {
    sip_words(&[a, b, c], key)
}

/// `siphash_4u64`.
pub fn siphash_4u64(a: u64, b: u64, c: u64, d: u64, key: &SipKey) -> u64 {
    sip_words(&[a, b, c, d], key)
}

/// SipHash-1-3 of 64-bit words: the strength the kernel's `hsiphash` has on 64-bit machines,
/// meant for hash-table keys (a secret key against flooding one bucket; not a MAC). Half the
/// rounds of SipHash-2-4 (`sip_words`), with the rounds unrolled.
pub fn siphash13_words(words: &[u64], key: &SipKey) -> u64 {
    let mut s = Sip::new(key);
    for w in words {
        s.v3 ^= *w;
        s.round();
        s.v0 ^= *w;
    }
    let b = ((words.len() as u64) * 8) << 56;
    s.v3 ^= b;
    s.round();
    s.v0 ^= b;
    s.v2 ^= 0xff;
    s.round();
    s.round();
    s.round();
    (s.v0 ^ s.v1) ^ (s.v2 ^ s.v3)
}

/// `hsiphash(data, len, key)` as a 64-bit kernel computes it: SipHash-1-3 truncated to 32 bits.
/// (32-bit kernels use HalfSipHash-1-3 instead; fvs targets 64-bit kernels.)
pub fn hsiphash(data: &[u8], key: &SipKey) -> u32 {
    sip_bytes(data, key, 1, 3) as u32
}

/// The kernel's `gcd()` for positive arguments (binary-free Euclid; no recursion).
pub fn gcd(a: u32, b: u32) -> u32 {
    let (mut a, mut b) = (a, b);
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIP_KEY: SipKey = SipKey([0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908]);

    // lib/tests/siphash_kunit.c test_vectors_siphash
    const SIPHASH_VECTORS: [u64; 64] = [
        0x726fdb47dd0e0e31,
        0x74f839c593dc67fd,
        0x0d6c8009d9a94f5a,
        0x85676696d7fb7e2d,
        0xcf2794e0277187b7,
        0x18765564cd99a68d,
        0xcbc9466e58fee3ce,
        0xab0200f58b01d137,
        0x93f5f5799a932462,
        0x9e0082df0ba9e4b0,
        0x7a5dbbc594ddb9f3,
        0xf4b32f46226bada7,
        0x751e8fbc860ee5fb,
        0x14ea5627c0843d90,
        0xf723ca908e7af2ee,
        0xa129ca6149be45e5,
        0x3f2acc7f57c29bdb,
        0x699ae9f52cbe4794,
        0x4bc1b3f0968dd39c,
        0xbb6dc91da77961bd,
        0xbed65cf21aa2ee98,
        0xd0f2cbb02e3b67c7,
        0x93536795e3a33e88,
        0xa80c038ccd5ccec8,
        0xb8ad50c6f649af94,
        0xbce192de8a85b8ea,
        0x17d835b85bbb15f3,
        0x2f2e6163076bcfad,
        0xde4daaaca71dc9a5,
        0xa6a2506687956571,
        0xad87a3535c49ef28,
        0x32d892fad841c342,
        0x7127512f72f27cce,
        0xa7f32346f95978e3,
        0x12e0b01abb051238,
        0x15e034d40fa197ae,
        0x314dffbe0815a3b4,
        0x027990f029623981,
        0xcadcd4e59ef40c4d,
        0x9abfd8766a33735c,
        0x0e3ea96b5304a7d0,
        0xad0c42d6fc585992,
        0x187306c89bc215a9,
        0xd4a60abcf3792b95,
        0xf935451de4f21df2,
        0xa9538f0419755787,
        0xdb9acddff56ca510,
        0xd06c98cd5c0975eb,
        0xe612a3cb9ecba951,
        0xc766e62cfcadaf96,
        0xee64435a9752fe72,
        0xa192d576b245165a,
        0x0a8787bf8ecb74b2,
        0x81b3e73d20b49b6f,
        0x7fa8220ba3b2ecea,
        0x245731c13ca42499,
        0xb78dbfaf3a8d83bd,
        0xea1ad565322a1a0b,
        0x60e61c23a3795013,
        0x6606d7e446282b93,
        0x6ca4ecb15c5f91e1,
        0x9f626da15c9625f3,
        0xe51b38608ef25f57,
        0x958a324ceb064572,
    ];

    // lib/tests/siphash_kunit.c test_vectors_hsiphash (BITS_PER_LONG == 64)
    const HSIPHASH_VECTORS: [u32; 64] = [
        0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7,
        0x9bb11140, 0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352, 0x57b4d9a2, 0x1229ffa7,
        0xc0f95d34, 0x2a519956, 0x7d908b66, 0x63dbd80c, 0xb473e63e, 0x8d297d1c, 0xa6cce040,
        0x2b45f844, 0xa320872e, 0xdae6c123, 0x67349c8c, 0x705b0979, 0xca9913a5, 0x4ade3b35,
        0xef6cd00d, 0x4ab1e1f4, 0x43c5e663, 0x8c21d1bc, 0x16a7b60d, 0x7a8ff9bf, 0x1f2a753e,
        0xbf186b91, 0xada26206, 0xa3c33057, 0xae3a36a1, 0x7b108392, 0x99e41531, 0x3f1ad944,
        0xc8138825, 0xc28949a6, 0xfaf8876b, 0x9f042196, 0x68b1d623, 0x8b5114fd, 0xdf074c46,
        0x12cc86b3, 0x0a52098f, 0x9d292f9a, 0xa2f41f12, 0x43a71ed0, 0x73f0bce6, 0x70a7e980,
        0x243c6d75, 0xfdb71513, 0xa67d8a08, 0xb7e8f148, 0xf7a644ee, 0x0f1837f2, 0x4b6694e0,
        0xb7bbb3a8,
    ];

    #[test]
    fn siphash13_words_is_hsiphash_of_their_bytes() {
        let key = SipKey([0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908]);
        for n in 0..4usize {
            let words: std::vec::Vec<u64> = (0..n as u64)
                .map(|i| 0x0123_4567_89ab_cdef ^ (i * 0x1111))
                .collect();
            let bytes: std::vec::Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert_eq!(siphash13_words(&words, &key) as u32, hsiphash(&bytes, &key));
            assert_eq!(siphash13_words(&words, &key), sip_bytes(&bytes, &key, 1, 3));
        }
    }

    #[test]
    fn siphash_kunit_vectors() {
        let mut input = [0u8; 64];
        for i in 0..64 {
            input[i] = i as u8;
            assert_eq!(
                siphash(&input[..i], &SIP_KEY),
                SIPHASH_VECTORS[i],
                "len {i}"
            );
            assert_eq!(
                hsiphash(&input[..i], &SIP_KEY),
                HSIPHASH_VECTORS[i],
                "len {i}"
            );
        }
        assert_eq!(
            siphash_1u64(0x0706050403020100, &SIP_KEY),
            SIPHASH_VECTORS[8]
        );
        assert_eq!(
            siphash_2u64(0x0706050403020100, 0x0f0e0d0c0b0a0908, &SIP_KEY),
            SIPHASH_VECTORS[16]
        );
        assert_eq!(
            siphash_3u64(
                0x0706050403020100,
                0x0f0e0d0c0b0a0908,
                0x1716151413121110,
                &SIP_KEY
            ),
            SIPHASH_VECTORS[24]
        );
        assert_eq!(
            siphash_4u64(
                0x0706050403020100,
                0x0f0e0d0c0b0a0908,
                0x1716151413121110,
                0x1f1e1d1c1b1a1918,
                &SIP_KEY
            ),
            SIPHASH_VECTORS[32]
        );
    }

    /// Reference jhash transliterated from lookup3's `hashlittle` (the same algorithm the
    /// kernel's jhash.h is) — used to check the tail handling.
    fn jhash_ref(k: &[u8], initval: u32) -> u32 {
        let mut a = 0xdeadbeefu32
            .wrapping_add(k.len() as u32)
            .wrapping_add(initval);
        let (mut b, mut c) = (a, a);
        let mut i = 0;
        let mut len = k.len();
        while len > 12 {
            let w = |o: usize| u32::from_le_bytes([k[o], k[o + 1], k[o + 2], k[o + 3]]);
            a = a.wrapping_add(w(i));
            b = b.wrapping_add(w(i + 4));
            c = c.wrapping_add(w(i + 8));
            jhash_mix(&mut a, &mut b, &mut c);
            len -= 12;
            i += 12;
        }
        let t = &k[i..];
        for (j, byte) in t.iter().enumerate().rev() {
            let v = u32::from(*byte) << (8 * (j % 4));
            match j / 4 {
                0 => a = a.wrapping_add(v),
                1 => b = b.wrapping_add(v),
                _ => c = c.wrapping_add(v),
            }
        }
        if !t.is_empty() {
            jhash_final(&mut a, &mut b, &mut c);
        }
        c
    }

    #[test]
    fn jhash_known_answers() {
        // Empty key: jhash returns the initial state.
        assert_eq!(jhash(&[], 0), 0xdeadbeef);
        assert_eq!(jhash2(&[], 0), 0xdeadbeef);
        // Bob Jenkins' lookup3 driver: hashlittle("", 0) = 0xdeadbeef and
        // hashlittle("Four score and seven years ago", 30, 0) = 0x17770551, 1 -> 0xcd628161.
        let s = b"Four score and seven years ago";
        assert_eq!(jhash(s, 0), 0x17770551);
        assert_eq!(jhash(s, 1), 0xcd628161);
        // jhash2 over words equals jhash over the little-endian bytes when len % 4 == 0.
        let words = [
            0x04030201u32,
            0x08070605,
            0x0c0b0a09,
            0x100f0e0d,
            0x14131211,
        ];
        let mut bytes = [0u8; 20];
        for (i, w) in words.iter().enumerate() {
            bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        for n in 0..=5 {
            assert_eq!(jhash2(&words[..n], 7), jhash(&bytes[..n * 4], 7));
        }
        // jhash_3words equals jhash2 of 3 words (both = __jhash_final after the same adds).
        assert_eq!(jhash_3words(1, 2, 3, 9), jhash2(&[1, 2, 3], 9));
        assert_eq!(jhash_2words(1, 2, 9), jhash2(&[1, 2], 9));
        assert_eq!(jhash_1word(1, 9), jhash2(&[1], 9));
    }

    #[test]
    fn hash_32_known() {
        assert_eq!(hash_32(1, 32), GOLDEN_RATIO_32);
        assert_eq!(hash_32(1, 8), GOLDEN_RATIO_32 >> 24);
        assert_eq!(
            hash_32(0x0a000001, 8),
            0x0a000001u32.wrapping_mul(0x61C88647) >> 24
        );
    }

    #[test]
    fn gcd_known() {
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(7, 0), 7);
        assert_eq!(gcd(1, 1000), 1);
    }

    proptest::proptest! {
        #[test]
        fn jhash_matches_reference(k in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), iv in proptest::prelude::any::<u32>()) {
            proptest::prop_assert_eq!(jhash(&k, iv), jhash_ref(&k, iv));
        }

        #[test]
        fn siphash_words_match_bytes(w in proptest::collection::vec(proptest::prelude::any::<u64>(), 1..5), k0 in proptest::prelude::any::<u64>(), k1 in proptest::prelude::any::<u64>()) {
            let key = SipKey([k0, k1]);
            let mut bytes = [0u8; 32];
            for (i, x) in w.iter().enumerate() {
                bytes[i * 8..i * 8 + 8].copy_from_slice(&x.to_le_bytes());
            }
            proptest::prop_assert_eq!(sip_words(&w, &key), siphash(&bytes[..w.len() * 8], &key));
        }
    }
}
