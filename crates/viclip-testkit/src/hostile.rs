//! Shared pieces of the hostile-input suites: a seeded generator (every run sees the same cases, so a
//! failure reproduces), and hostile numbers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// xorshift64: deterministic and dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

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

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

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

/// The repository root (where `tests/fixtures` lies), from whichever workspace crate's tests include
/// this file.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/fixtures").is_dir())
        .expect("tests/fixtures in a directory above CARGO_MANIFEST_DIR")
        .to_path_buf()
}

/// The repository's fixture `rel`.
pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

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
