//! Shared pieces of the hostile-input suites: a seeded generator (every run sees the same cases, so a
//! failure reproduces), and hostile numbers.

/// xorshift64: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value; zero is fine).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits (a plain method: the generator is endless, never an `Iterator`).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One of `items` (not empty), uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Sizes a hostile file might claim: small, boundary, huge and overflowing.
pub const HOSTILE_SIZES: &[u64] = &[
    0,
    1,
    2,
    3,
    7,
    14,
    64,
    255,
    256,
    257,
    4096,
    4097,
    49_408,
    1 << 20,
    (1 << 20) + 1,
    1 << 31,
    1 << 32,
    1_000_000_000,
    1 << 40,
    1 << 62,
    u64::MAX / 2,
    u64::MAX,
];

/// A `.npy` file with this header dict text and `data_len` zero bytes of data.
pub fn npy_bytes(header_dict: &str, data_len: usize) -> Vec<u8> {
    let mut h = header_dict.to_string();
    let pad = (64 - (10 + h.len() + 1) % 64) % 64;
    h.push_str(&" ".repeat(pad));
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.resize(v.len() + data_len, 0);
    v
}
