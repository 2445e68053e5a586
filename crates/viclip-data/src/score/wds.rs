//! webdataset tar shards as video2dataset writes them: consecutive members sharing a key
//! (`000010005.mp4`, `000010005.txt`, `000010005.json`) form one sample, one output row.
//!
//! Tars are streamed, never unpacked: members of samples this process does not score are skipped by
//! seeking. FFmpeg needs a file it can seek in, so the video member of a sample being scored is copied
//! to `wds-NNNNN/` in this process's own temporary directory for the duration of its shard (one shard's videos at a time, removed
//! when the shard is written). A member that cannot be read (truncated data, a corrupt header) fails
//! its row with `tar_error`; a header the tar reader cannot get past ends that tar with one extra
//! `tar_error` row naming it, identically on every pass, so row numbers never shift.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use super::columns::VIDEO_EXTENSIONS;
use super::shard_rows::{RowFailure, RowStatus, RowTask, ShardInput};
use crate::Result;
use viclip::video::ClipSpan;

/// One sample: its members as read (or why they could not be).
#[derive(Default)]
struct Sample {
    row: u64,
    key: String,
    tar: String,
    video: Option<std::result::Result<PathBuf, String>>,
    txt: Option<std::result::Result<Vec<u8>, String>>,
    json: Option<std::result::Result<Vec<u8>, String>>,
    /// A tar-level error (the row stands for the unreadable rest of a tar), or a sample that is two
    /// samples under one key.
    error: Option<String>,
    /// Member extensions seen (lower case), to catch a second member of one kind.
    exts: Vec<String>,
}

/// Samples in the tars, counted the way [`shards`] numbers them.
pub(crate) fn count_samples(tars: &[PathBuf]) -> Result<u64> {
    let mut next = 0;
    for t in tars {
        scan_tar(t, &mut next, &|_| Ok(None), &mut |_| Ok(()))?;
    }
    Ok(next)
}

/// Streams the wanted shards of the tars' samples to `f`; see [`super::Input::for_each_shard`].
pub(crate) fn shards(
    tars: &[PathBuf],
    shard_size: u64,
    wanted: &dyn Fn(u64) -> Result<bool>,
    temp_root: &Path,
    f: &mut dyn FnMut(ShardInput) -> Result<()>,
) -> Result<()> {
    let dir_of = |shard: u64| temp_root.join(format!("wds-{shard:05}"));
    let dir_for = |row: u64| -> Result<Option<PathBuf>> {
        Ok(wanted(row / shard_size)?.then(|| dir_of(row / shard_size)))
    };
    let mut cur: Vec<Sample> = Vec::new();
    let mut flush = |cur: &mut Vec<Sample>| -> Result<()> {
        let Some(first) = cur.first() else {
            return Ok(());
        };
        let shard = first.row / shard_size;
        let samples = std::mem::take(cur);
        let result = f(to_shard(shard, samples));
        // The copies were only for FFmpeg; best effort, the process's directory goes at its end.
        let _ = std::fs::remove_dir_all(dir_of(shard));
        result
    };
    let mut next = 0;
    for t in tars {
        scan_tar(t, &mut next, &dir_for, &mut |s| {
            let end_of_shard = (s.row + 1) % shard_size == 0;
            cur.push(s);
            if end_of_shard {
                flush(&mut cur)?;
            }
            Ok(())
        })?;
    }
    flush(&mut cur)
}

/// Reads one tar, numbering samples from `*next`. `dir_for(row)` is where the video of a wanted row
/// goes (`None`: the row is not wanted, its members are skipped and it is not emitted).
fn scan_tar(
    path: &Path,
    next: &mut u64,
    dir_for: &dyn Fn(u64) -> Result<Option<PathBuf>>,
    emit: &mut dyn FnMut(Sample) -> Result<()>,
) -> Result<()> {
    let tar_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let file = viclip::fsutil::open_regular_file(path, "a webdataset .tar file")?;
    let mut archive = tar::Archive::new(file);
    let mut cur: Option<(Sample, Option<PathBuf>)> = None;
    let mut finish = |cur: &mut Option<(Sample, Option<PathBuf>)>| -> Result<()> {
        match cur.take() {
            Some((s, Some(_))) => emit(s),
            _ => Ok(()),
        }
    };
    let broken = |e: std::io::Error| {
        format!(
            "{}: unreadable tar ({e}); the rest of it is skipped",
            path.display()
        )
    };
    let entries = match archive.entries_with_seek() {
        Ok(e) => e,
        Err(e) => {
            return tar_error_row(next, &tar_name, broken(e), dir_for, emit);
        }
    };
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                finish(&mut cur)?;
                return tar_error_row(next, &tar_name, broken(e), dir_for, emit);
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let (key, ext) = split_key(&name);
        if cur.as_ref().is_none_or(|(s, _)| s.key != key) {
            finish(&mut cur)?;
            let row = *next;
            *next += 1;
            let dir = dir_for(row)?;
            let sample = Sample {
                row,
                key: key.to_string(),
                tar: tar_name.clone(),
                ..Sample::default()
            };
            cur = Some((sample, dir));
        }
        let Some((sample, Some(dir))) = cur.as_mut() else {
            continue;
        };
        let kind = ext
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let size = entry.size();
        let member = format!("{}: member {name}", path.display());
        let ext_lc = ext.to_ascii_lowercase();
        if sample.exts.contains(&ext_lc) {
            // Two samples under one key (consecutive members `k.mp4 k.txt k.mp4 k.txt`): which
            // video goes with which caption is unknowable, so neither is scored.
            sample.error.get_or_insert_with(|| {
                format!(
                    "{}: key `{key}` has a second `.{ext}` member ({name}): two samples share \
                     one key; give each sample its own key",
                    path.display()
                )
            });
            continue;
        }
        sample.exts.push(ext_lc);
        if VIDEO_EXTENSIONS.contains(&kind.as_str()) && sample.video.is_none() {
            sample.video = Some(copy_member(
                &mut entry, size, dir, sample.row, &kind, &member,
            ));
        } else if kind == "txt" && sample.txt.is_none() {
            sample.txt = Some(read_member(&mut entry, size, &member));
        } else if kind == "json" && sample.json.is_none() {
            sample.json = Some(read_member(&mut entry, size, &member));
        }
    }
    finish(&mut cur)
}

fn tar_error_row(
    next: &mut u64,
    tar: &str,
    msg: String,
    dir_for: &dyn Fn(u64) -> Result<Option<PathBuf>>,
    emit: &mut dyn FnMut(Sample) -> Result<()>,
) -> Result<()> {
    let row = *next;
    *next += 1;
    if dir_for(row)?.is_none() {
        return Ok(());
    }
    emit(Sample {
        row,
        key: format!("{tar}#unreadable"),
        tar: tar.to_string(),
        error: Some(msg),
        ..Sample::default()
    })
}

/// webdataset's rule: the key is the path up to the first dot of the file name.
fn split_key(name: &str) -> (&str, &str) {
    let base = name.rfind('/').map_or(0, |i| i + 1);
    match name[base..].find('.') {
        Some(d) => (&name[..base + d], &name[base + d + 1..]),
        None => (name, ""),
    }
}

fn read_member(r: &mut impl Read, size: u64, what: &str) -> std::result::Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(size.min(1 << 20) as usize);
    let got = r
        .read_to_end(&mut buf)
        .map_err(|e| format!("{what}: cannot read ({e})"))?;
    // A tar cut short yields fewer bytes than its header declares, without an error.
    if (got as u64) < size {
        return Err(format!(
            "{what}: truncated ({got} of {size} bytes); the tar is incomplete"
        ));
    }
    Ok(buf)
}

fn copy_member(
    r: &mut impl Read,
    size: u64,
    dir: &Path,
    row: u64,
    ext: &str,
    what: &str,
) -> std::result::Result<PathBuf, String> {
    let dest = dir.join(format!("{row}.{ext}"));
    // Errors here are the output disk's, but they only cost this row: the next write of the shard
    // itself reports a full disk and stops the run.
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = File::create(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let got = std::io::copy(r, &mut out).map_err(|e| format!("{what}: cannot read ({e})"))?;
    if got < size {
        return Err(format!(
            "{what}: truncated ({got} of {size} bytes); the tar is incomplete"
        ));
    }
    Ok(dest)
}

/// The shard's rows: columns `key`, `tar`, `caption`, `url` (from the json), `json` (its text).
fn to_shard(index: u64, samples: Vec<Sample>) -> ShardInput {
    let first_row = samples.first().map_or(0, |s| s.row);
    let (mut key, mut tar, mut cap, mut url, mut json) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut tasks = Vec::with_capacity(samples.len());
    for s in samples {
        key.append_value(&s.key);
        tar.append_value(&s.tar);
        let parsed: Option<serde_json::Value> = s
            .json
            .as_ref()
            .and_then(|j| j.as_ref().ok())
            .and_then(|b| serde_json::from_slice(b).ok());
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(k)?.as_str().map(str::to_string))
        };
        url.append_option(field("url"));
        json.append_option(
            s.json
                .as_ref()
                .and_then(|j| j.as_ref().ok())
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        );
        let label = format!("{} sample {}", s.tar, s.key);
        if let Some(e) = s.error {
            cap.append_null();
            tasks.push(RowTask::failed(RowFailure::new(RowStatus::TarError, e)));
            continue;
        }
        let caption = match (s.txt, field("caption")) {
            (Some(Ok(b)), _) => String::from_utf8(b).map_err(|_| {
                RowFailure::new(
                    RowStatus::BadCaption,
                    format!("{label}: the .txt caption is not UTF-8"),
                )
            }),
            (Some(Err(e)), _) => Err(RowFailure::new(RowStatus::TarError, e)),
            (None, Some(c)) => Ok(c),
            (None, None) => Err(RowFailure::new(
                RowStatus::BadCaption,
                format!("{label}: no .txt member and no caption in .json"),
            )),
        }
        .and_then(|c| {
            let c = c.trim().to_string();
            if c.is_empty() {
                Err(RowFailure::new(
                    RowStatus::BadCaption,
                    format!("{label}: empty caption"),
                ))
            } else {
                Ok(c)
            }
        });
        cap.append_option(caption.as_ref().ok());
        let clip = match s.video {
            Some(Ok(p)) => Ok((p, ClipSpan::whole())),
            Some(Err(e)) => Err(RowFailure::new(RowStatus::TarError, e)),
            None => Err(RowFailure::new(
                RowStatus::MissingVideo,
                format!(
                    "{label}: no video member (.{})",
                    VIDEO_EXTENSIONS.join(", .")
                ),
            )),
        };
        tasks.push(RowTask { clip, caption });
    }
    let schema = Arc::new(Schema::new(
        ["key", "tar", "caption", "url", "json"]
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, *n != "key" && *n != "tar"))
            .collect::<Vec<_>>(),
    ));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(key.finish()),
        Arc::new(tar.finish()),
        Arc::new(cap.finish()),
        Arc::new(url.finish()),
        Arc::new(json.finish()),
    ];
    // The columns are built together above, so lengths and types agree with the schema.
    let batches = RecordBatch::try_new(schema, cols).into_iter().collect();
    ShardInput {
        index,
        first_row,
        batches,
        tasks,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Two samples under one key (`k.mp4 k.txt k.mp4 k.txt`) are one row that fails naming the tar and
    /// the key, not one row that silently keeps the first pair.
    #[test]
    fn two_samples_under_one_key_fail_their_row() {
        let dir = std::env::temp_dir().join(format!("viclip-wds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tar = dir.join("dup.tar");
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [
            ("k1.mp4", &b"first video"[..]),
            ("k1.txt", b"first caption"),
            ("k1.mp4", b"second video"),
            ("k1.txt", b"second caption"),
            ("k2.mp4", b"other video"),
            ("k2.txt", b"other caption"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        }
        std::fs::write(&tar, b.into_inner().unwrap()).unwrap();
        let mut tasks = Vec::new();
        shards(&[tar], 10, &|_| Ok(true), &dir, &mut |s| {
            tasks.extend(s.tasks);
            Ok(())
        })
        .unwrap();
        assert_eq!(tasks.len(), 2);
        let e = tasks[0].clip.as_ref().unwrap_err();
        assert_eq!(e.kind, RowStatus::TarError);
        assert!(
            e.message.contains("dup.tar") && e.message.contains("`k1`"),
            "{}",
            e.message
        );
        assert_eq!(tasks[1].caption.as_deref(), Ok("other caption"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
