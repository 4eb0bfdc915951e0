//! Dropout's draws: the C++ standard library's mt19937 and bernoulli distribution, as golden
//! calls them (golden-ops.md §6.2).

/// The mt19937 generator (32-bit Mersenne Twister) of the C++ standard library.
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    /// `std::mt19937`'s default seed.
    const DEFAULT_SEED: u32 = 5489;

    pub fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// libstdc++'s `generate_canonical<double, 53>`: two words, `(g1 + g2·2^32) / 2^64`, kept
    /// below 1.
    pub fn canonical(&mut self) -> f64 {
        let g1 = self.next_u32() as f64;
        let g2 = self.next_u32() as f64;
        let sum = g1 + g2 * 4_294_967_296.0;
        let u = sum / 18_446_744_073_709_551_616.0;
        if u >= 1.0 {
            1.0 - f64::EPSILON / 2.0
        } else {
            u
        }
    }

    /// libstdc++'s `bernoulli_distribution(p)`: true when the canonical draw is below `p`.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.canonical() < p
    }
}

/// Golden's dropout draws for one tile (the same for every tile: each tile gets a fresh
/// generator with the default seed; the op's `seed` is ignored). Draw `k` lands on the `k`-th
/// element of the region, row by row (⚠ the order inside a group of 8 columns follows g++'s
/// right-to-left argument evaluation, which makes it sequential).
pub fn dropout_mask(p: f32, mask: &mut [bool]) {
    let mut rng = Mt19937::new(Mt19937::DEFAULT_SEED);
    for m in mask.iter_mut() {
        *m = rng.bernoulli(p as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_reference_value() {
        // The C++ standard requires the 10000th output of a default-seeded mt19937.
        let mut rng = Mt19937::new(Mt19937::DEFAULT_SEED);
        let mut v = 0;
        for _ in 0..10000 {
            v = rng.next_u32();
        }
        assert_eq!(v, 4_123_659_995);
    }
}
