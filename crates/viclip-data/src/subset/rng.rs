//! The subset builders' random numbers: SplitMix64 (Steele, Lea & Flood, "Fast splittable
//! pseudorandom number generators", OOPSLA 2014; the generator Java's `SplittableRandom` and the
//! xoshiro authors' seeding use), implemented here rather than taken from a crate so that a subset
//! built with seed 42 today is the same subset after any dependency update.
//!
//! The state advances by the odd constant `GAMMA`; each output is the state passed through the
//! `mix64` finaliser. Because the state after `i + 1` steps is `seed + (i + 1) * GAMMA`, output `i`
//! can be computed directly ([`splitmix64_at`]): the builders draw row `r`'s number as output `r`, so a
//! row's random key depends only on the seed and its index, not on batch sizes, file boundaries,
//! thread scheduling or which other rows survived earlier filters.

/// The Weyl-sequence increment, 2^64 / golden ratio, odd.
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (the `mix64` variant of Stafford's "Mix13").
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Output `i` (0-based) of SplitMix64 seeded with `seed`.
#[inline]
pub fn splitmix64_at(seed: u64, i: u64) -> u64 {
    mix64(seed.wrapping_add(GAMMA.wrapping_mul(i.wrapping_add(1))))
}

/// A uniform number in `(0, 1]` from the top 53 bits of `x` (never 0, so `-ln(u)` is finite).
#[inline]
pub fn unit_open0(x: u64) -> f64 {
    ((x >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The sequential form of the same generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// Uniform in `(0, 1]`.
    pub fn next_f64(&mut self) -> f64 {
        unit_open0(self.next_u64())
    }
}
