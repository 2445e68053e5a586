//! Which frames of a clip are fed to the model: the strategies of the two reference pipelines and the
//! aesthetic scorer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How `T` frames are chosen among the `n` frames of a clip. Recorded in every output row (its
/// [`Display`](fmt::Display) form: `demo`, `middle`, `uniform(k)`), so a score can always be traced
/// back to the frames it saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum FrameSampling {
    /// The demo's `frames[::n // T][:T]` (`Data/InternVid/viclip/__init__.py` `frames2tensor`): from
    /// the first frame with stride `n // T`, not centred. Needs `n >= T` (the demo asserts it).
    Demo,
    /// The evaluation pipeline's `get_frame_indices(.., sample='middle')`: split `[0, n)` at
    /// `int(linspace(0, n, T+1))` and take each segment's middle frame `(iv[k] + iv[k+1] - 1) // 2`;
    /// when `n < T` every frame once, then the last one repeated. The published zero-shot numbers use
    /// it, hence the default.
    #[default]
    Middle,
    /// `k` frames at `round(linspace(0, n - 1, k))` with numpy's round-half-to-even: first and last
    /// frame included, repeats when `n < k`. Used for aesthetic scoring; yields `k` frames whatever `T`.
    Uniform(usize),
}

impl FrameSampling {
    /// Frames per clip this strategy yields when the model wants `t`.
    pub fn frames_per_clip(&self, t: usize) -> usize {
        match self {
            FrameSampling::Uniform(k) => *k,
            _ => t,
        }
    }

    /// The fewest source frames a clip must have: `T` under [`Demo`](Self::Demo), 1 otherwise.
    pub fn min_frames(&self, t: usize) -> usize {
        match self {
            FrameSampling::Demo => t.max(1),
            _ => 1,
        }
    }

    /// Indices into the clip's `n` frames, in output order; `None` exactly when
    /// `n < self.min_frames(t)` (or nothing is asked for: `t == 0`, `Uniform(0)`).
    pub fn indices(&self, n: usize, t: usize) -> Option<Vec<usize>> {
        let want = self.frames_per_clip(t);
        if n < self.min_frames(t) || want == 0 {
            return None;
        }
        Some(match *self {
            FrameSampling::Demo => {
                // `range(0, n, n // t)[:t]`; n >= t makes the step >= 1.
                let step = n / t;
                (0..t).map(|k| k * step).collect()
            }
            FrameSampling::Middle => middle_indices(n, t),
            FrameSampling::Uniform(k) => uniform_indices(n, k),
        })
    }
}

/// `np.linspace(0, stop, num)` evaluated as numpy does it (`arange(num) * (stop / (num - 1))`, last
/// element set to `stop` exactly), so the truncation / rounding that follows picks the same frames.
fn linspace(stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => Vec::new(),
        1 => vec![0.0],
        _ => {
            let step = stop / (num - 1) as f64;
            let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step).collect();
            v[num - 1] = stop;
            v
        }
    }
}

/// `get_frame_indices(t, n, sample='middle')` of `TR/dataset/video_utils.py` (L49-75).
fn middle_indices(n: usize, t: usize) -> Vec<usize> {
    let acc = t.min(n);
    // `.astype(int)` truncates toward zero; all values are >= 0.
    let iv: Vec<usize> = linspace(n as f64, acc + 1)
        .iter()
        .map(|&x| x as usize)
        .collect();
    let mut idx: Vec<usize> = iv
        .windows(2)
        // Segments are at least one frame long (n / acc >= 1), so `b >= 1` and this never underflows.
        .map(|w| (w[0] + w[1] - 1) / 2)
        .collect();
    let last = idx.last().copied().unwrap_or(0);
    idx.resize(t, last);
    idx
}

/// `np.round(np.linspace(0, n - 1, k)).astype(int)`, with numpy's round-half-to-even: the
/// [`FrameSampling::Uniform`] indices, and the frames the aesthetic scorer takes of a clip. With
/// fewer than `k` frames indices repeat, as the reference's would; empty when `n` or `k` is 0.
pub fn uniform_indices(n: usize, k: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    linspace((n - 1) as f64, k)
        .iter()
        .map(|&x| x.round_ties_even() as usize)
        .collect()
}

impl fmt::Display for FrameSampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameSampling::Demo => f.write_str("demo"),
            FrameSampling::Middle => f.write_str("middle"),
            FrameSampling::Uniform(k) => write!(f, "uniform({k})"),
        }
    }
}

impl FromStr for FrameSampling {
    type Err = Error;

    /// `demo`, `middle`, `uniform(k)` (also `uniform:k`, `uniform-k`, `uniform=k`), case-insensitive.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        let bad = || {
            Error::InvalidInput(format!(
                "frame sampling `{s}`: expected `demo`, `middle` or `uniform(k)` with k >= 1"
            ))
        };
        match t.as_str() {
            "demo" | "stride" => Ok(FrameSampling::Demo),
            "middle" | "segment-middle" => Ok(FrameSampling::Middle),
            _ => {
                let rest = t.strip_prefix("uniform").ok_or_else(bad)?;
                let num = rest
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .or_else(|| rest.strip_prefix([':', '-', '=']))
                    .ok_or_else(bad)?;
                match num.trim().parse::<usize>() {
                    Ok(k) if k >= 1 => Ok(FrameSampling::Uniform(k)),
                    _ => Err(bad()),
                }
            }
        }
    }
}

impl From<FrameSampling> for String {
    fn from(s: FrameSampling) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for FrameSampling {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn demo_matches_the_stride_slice() {
        let d = FrameSampling::Demo;
        assert_eq!(d.indices(20, 8), Some(vec![0, 2, 4, 6, 8, 10, 12, 14]));
        assert_eq!(d.indices(15, 8), Some((0..8).collect()));
        assert_eq!(d.indices(17, 8), Some(vec![0, 2, 4, 6, 8, 10, 12, 14]));
        assert_eq!(d.indices(35, 8), Some(vec![0, 4, 8, 12, 16, 20, 24, 28]));
        assert_eq!(d.indices(7, 8), None);
    }

    #[test]
    fn middle_matches_get_frame_indices() {
        let m = FrameSampling::Middle;
        // Values from numpy: [(a + b - 1) // 2 for a, b in zip(iv, iv[1:])], iv = linspace(0,n,9).astype(int)
        assert_eq!(
            m.indices(300, 8),
            Some(vec![18, 55, 93, 130, 168, 205, 243, 280])
        );
        assert_eq!(m.indices(8, 8), Some((0..8).collect()));
        assert_eq!(m.indices(10, 8), Some(vec![0, 1, 2, 3, 5, 6, 7, 8]));
        assert_eq!(m.indices(3, 8), Some(vec![0, 1, 2, 2, 2, 2, 2, 2]));
        assert_eq!(m.indices(1, 8), Some(vec![0; 8]));
        assert_eq!(m.indices(0, 8), None);
    }

    #[test]
    fn uniform_rounds_half_to_even() {
        assert_eq!(FrameSampling::Uniform(3).indices(4, 8), Some(vec![0, 2, 3])); // 1.5 -> 2
        assert_eq!(
            FrameSampling::Uniform(5).indices(3, 8),
            Some(vec![0, 0, 1, 2, 2])
        ); // 0.5->0, 1.5->2
        assert_eq!(FrameSampling::Uniform(1).indices(10, 8), Some(vec![0]));
        assert_eq!(
            FrameSampling::Uniform(4).indices(10, 8),
            Some(vec![0, 3, 6, 9])
        );
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in ["demo", "middle", "uniform(4)"] {
            assert_eq!(
                s.parse::<FrameSampling>().map(|x| x.to_string()).ok(),
                Some(s.into())
            );
        }
        assert_eq!(
            "Uniform:3".parse::<FrameSampling>().ok(),
            Some(FrameSampling::Uniform(3))
        );
        assert!("uniform(0)".parse::<FrameSampling>().is_err());
        assert!("random".parse::<FrameSampling>().is_err());
    }
}
