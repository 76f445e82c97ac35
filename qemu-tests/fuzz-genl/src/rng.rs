//! A small seeded PRNG (splitmix64 to seed, xorshift64* to draw).

pub struct Rng(u64);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// The generator of message `idx` of phase `phase` for `seed`.
    pub fn for_message(seed: u64, phase: u64, idx: u64) -> Rng {
        let s = splitmix(splitmix(splitmix(seed) ^ phase) ^ idx);
        Rng(if s == 0 { 0x2545_f491_4f6c_dd1d } else { s })
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }

    /// True with probability num/den.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    pub fn u8(&mut self) -> u8 {
        self.next() as u8
    }
    pub fn u16(&mut self) -> u16 {
        self.next() as u16
    }
    pub fn u32(&mut self) -> u32 {
        self.next() as u32
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }

    /// An "interesting" u32: boundaries more often than uniform values.
    pub fn interesting_u32(&mut self) -> u32 {
        match self.below(8) {
            0 => *self.pick(&[0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000]),
            1 => *self.pick(&[0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff]),
            2 => 1 << self.below(32),
            3 => self.u32() & 0xff,
            _ => self.u32(),
        }
    }
}
