//! The files `viclip demo` runs on, compiled into the binary so that an installed or copied `viclip`
//! runs its demo from any directory, with no source tree beside it. FFmpeg and the checkpoint loader
//! read files, so the demo writes them out to a directory of its own ([`write`]) before scoring.

use std::path::Path;

use anyhow::{Context, Result};

/// One bundled file: its name in the directory it is written to, and its bytes.
pub(super) type Asset = (&'static str, &'static [u8]);

/// The tiny ViCLIP of the tests (`tests/fixtures/tiny_a`: random weights, 7 MB) and its config.
pub(super) const MODEL: [Asset; 2] = [
    (
        "model.safetensors",
        include_bytes!("../../../tests/fixtures/tiny_a/model.safetensors"),
    ),
    (
        "config.json",
        include_bytes!("../../../tests/fixtures/tiny_a/config.json"),
    ),
];

/// The sample clip table and the four short videos its `path` column names (`assets/demo/`, made by
/// `assets/demo/make.sh`); the table is first.
pub(super) const SAMPLES: [Asset; 5] = [
    ("clips.jsonl", include_bytes!("../assets/demo/clips.jsonl")),
    (
        "test_pattern.mp4",
        include_bytes!("../assets/demo/test_pattern.mp4"),
    ),
    (
        "fractal_zoom.mp4",
        include_bytes!("../assets/demo/fractal_zoom.mp4"),
    ),
    (
        "game_of_life.mp4",
        include_bytes!("../assets/demo/game_of_life.mp4"),
    ),
    (
        "gradient_bt709.mp4",
        include_bytes!("../assets/demo/gradient_bt709.mp4"),
    ),
];

/// Writes `files` into `dir` (created if needed), replacing files of the same names.
pub(super) fn write(dir: &Path, files: &[Asset]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating {} for the demo's bundled files", dir.display()))?;
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .with_context(|| format!("writing the demo's bundled {}", path.display()))?;
    }
    Ok(())
}
