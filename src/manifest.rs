//! The released checkpoints (`weights-manifest.toml`, compiled in) and, with the `hub` feature, their
//! download through `hf-hub` into the standard Hugging Face cache with sha256 verification.

#[cfg(feature = "checksum")]
use std::io::Read;
#[cfg(feature = "checksum")]
use std::path::Path;
use std::path::PathBuf;

use serde::Deserialize;
#[cfg(feature = "checksum")]
use sha2::{Digest, Sha256};

use crate::config::ViClipConfig;
use crate::{Error, Result};

/// The manifest text as shipped in the crate.
pub const MANIFEST_TOML: &str = include_str!("../weights-manifest.toml");

/// Checkpoint file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    /// A `torch.save` zip.
    Pth,
    /// A `.safetensors` file.
    Safetensors,
}

/// What a manifest entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WeightKind {
    /// A ViCLIP checkpoint (video and text towers).
    #[default]
    Viclip,
    /// A CLIP image tower (for aesthetic scores).
    ClipVision,
    /// A LAION aesthetic predictor head.
    AestheticHead,
}

/// One released weight file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// The name to ask for it by (`viclip download NAME`, `ViClip::from_pretrained`).
    pub name: String,
    /// What the file holds.
    #[serde(default)]
    pub kind: WeightKind,
    /// Config preset name (see [`ViClipConfig::preset`], or the CLIP tower's presets).
    #[serde(default)]
    pub preset: Option<String>,
    /// Hugging Face hub repository, `owner/name`, for files on the hub.
    #[serde(default)]
    pub repo: Option<String>,
    /// Direct download address, for files that are not on the hub.
    #[serde(default)]
    pub url: Option<String>,
    /// File name (inside `repo` for hub files).
    pub file: String,
    /// The file's format.
    pub format: WeightFormat,
    /// For aesthetic heads: `v1`, `v2` or `v2-relu`.
    #[serde(default)]
    pub head_kind: Option<String>,
    /// Lower-case hex sha256, only where known.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Size in bytes, only where known.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// One line on what the checkpoint is (training data, paper).
    #[serde(default)]
    pub description: String,
}

impl ManifestEntry {
    /// The ViCLIP config of a ViCLIP entry.
    pub fn config(&self) -> Result<ViClipConfig> {
        match (&self.kind, &self.preset) {
            (WeightKind::Viclip, Some(p)) => ViClipConfig::preset(p),
            _ => Err(Error::Config {
                source_name: self.name.clone(),
                msg: "not a ViCLIP checkpoint; pick a ViCLIP entry from `viclip models`".into(),
            }),
        }
    }

    /// Where the file comes from, for messages and listings.
    pub fn source(&self) -> String {
        match (&self.repo, &self.url) {
            (Some(repo), _) => format!("hf://{repo}/{}", self.file),
            (None, Some(url)) => url.clone(),
            (None, None) => self.file.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    checkpoint: Vec<ManifestEntry>,
}

/// All entries of the built-in manifest.
pub fn entries() -> Result<Vec<ManifestEntry>> {
    parse(MANIFEST_TOML)
}

fn parse(text: &str) -> Result<Vec<ManifestEntry>> {
    let file: ManifestFile = toml::from_str(text).map_err(|e| Error::Config {
        source_name: "weights-manifest.toml".into(),
        msg: e.to_string(),
    })?;
    Ok(file.checkpoint)
}

/// The entry called `name`; the error lists the known names.
pub fn find(name: &str) -> Result<ManifestEntry> {
    let all = entries()?;
    let names: Vec<String> = all.iter().map(|e| e.name.clone()).collect();
    all.into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| Error::Config {
            source_name: name.to_string(),
            msg: format!("no such checkpoint in the manifest; known: {names:?}"),
        })
}

/// sha256 of a file as lower-case hex, read in 1 MiB blocks (`checksum` feature).
#[cfg(feature = "checksum")]
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = crate::fsutil::open_regular_file(path, "a checkpoint")?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks `path` against the entry's pinned hash. Returns the computed hash (to report when none is
/// pinned) or [`Error::Checksum`] (`checksum` feature).
#[cfg(feature = "checksum")]
pub fn verify(entry: &ManifestEntry, path: &Path) -> Result<String> {
    let actual = sha256_file(path)?;
    match &entry.sha256 {
        Some(expected) if !expected.eq_ignore_ascii_case(&actual) => Err(Error::Checksum {
            file: path.to_path_buf(),
            expected: expected.clone(),
            actual,
        }),
        _ => Ok(actual),
    }
}

/// True when `HF_HUB_OFFLINE` is set to a true value (as huggingface_hub reads it).
pub fn offline_mode() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// A downloaded (or cached) checkpoint and the sha256 computed over its bytes.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The file, in the Hugging Face cache.
    pub path: PathBuf,
    /// Lower-case hex sha256 of the file's bytes.
    pub sha256: String,
    /// Whether the manifest pinned a hash (and it matched).
    pub pinned: bool,
}

/// Fetches `entry` into the Hugging Face cache (or finds it there in offline mode) and verifies it.
#[cfg(feature = "hub")]
pub fn fetch(entry: &ManifestEntry) -> Result<Fetched> {
    let dl_err = |msg: String| download_error(entry, msg);
    let Some(repo) = entry.repo.clone() else {
        return Err(dl_err(format!(
            "not on the Hugging Face hub; download {} yourself and pass its path",
            entry.source()
        )));
    };
    let path = if offline_mode() {
        hf_hub::Cache::from_env()
            .model(repo)
            .get(&entry.file)
            .ok_or_else(|| {
                dl_err("HF_HUB_OFFLINE is set and the file is not in the Hugging Face cache; unset it or download once with network".into())
            })?
    } else {
        let api = hf_hub::api::sync::ApiBuilder::from_env()
            .with_progress(true)
            .build()
            .map_err(|e| dl_err(e.to_string()))?;
        api.model(repo)
            .get(&entry.file)
            .map_err(|e| dl_err(e.to_string()))?
    };
    let sha256 = verify(entry, &path)?;
    Ok(Fetched {
        path,
        sha256,
        pinned: entry.sha256.is_some(),
    })
}

/// Without the `hub` feature there is no network code: say how to get it.
#[cfg(not(feature = "hub"))]
pub fn fetch(entry: &ManifestEntry) -> Result<Fetched> {
    Err(download_error(
        entry,
        "this build has no hub support; rebuild viclip with the `hub` feature, or download the file \
         yourself and load it from the file with its config"
            .into(),
    ))
}

/// [`Error::Download`] for `entry`, naming the entry as well as where its file comes from.
fn download_error(entry: &ManifestEntry, msg: String) -> Error {
    Error::Download {
        // The error prints `{repo}/{file}`: a direct address loses its last segment when it is the file.
        repo: match (&entry.repo, &entry.url) {
            (Some(repo), _) => repo.clone(),
            (None, Some(url)) => url
                .strip_suffix(&format!("/{}", entry.file))
                .unwrap_or(url)
                .to_string(),
            (None, None) => String::new(),
        },
        file: entry.file.clone(),
        msg: format!("checkpoint `{}`: {msg}", entry.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_parses_and_names_presets() {
        let all = entries().expect("manifest parses");
        assert!(all.len() >= 2);
        for e in &all {
            if e.kind == WeightKind::Viclip {
                e.config().expect("preset exists");
            }
            assert!(
                e.repo.is_some() != e.url.is_some(),
                "{}: exactly one of repo, url",
                e.name
            );
            if let Some(h) = &e.sha256 {
                assert_eq!(h.len(), 64, "{}: sha256 must be 64 hex chars", e.name);
            }
        }
        let l14 = find("viclip-l14-internvid-10m-flt").expect("L14");
        assert_eq!(l14.preset.as_deref(), Some("viclip-l14"));
        assert!(find("clip-vit-l14").expect("clip").config().is_err());
        assert!(find("nope").is_err());
    }

    #[cfg(feature = "checksum")]
    #[test]
    fn verify_reports_and_checks_hashes() {
        let dir = std::env::temp_dir().join(format!("viclip-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tempdir");
        let path = dir.join("f.bin");
        std::fs::write(&path, b"abc").expect("write");
        // sha256("abc"), FIPS 180-2 test vector.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let mut e = find("viclip-b16-internvid-10m-flt").expect("B16");
        e.sha256 = None;
        assert_eq!(verify(&e, &path).expect("unpinned"), abc);
        e.sha256 = Some(abc.to_uppercase());
        assert!(verify(&e, &path).is_ok());
        e.sha256 = Some("0".repeat(64));
        assert!(matches!(verify(&e, &path), Err(Error::Checksum { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
