//! Hostile model configs, `.npy` headers, safetensors headers and torch pickles: seeded random cases
//! (a few hundred to a few thousand per property, well under a second each) asserting that parsing
//! never panics, and that whatever is accepted is bounded by construction: a config's parameter count
//! is within the documented cap, and an accepted header's claims fit in the file's own bytes — so the
//! error always comes before any allocation of what a header claims.

use std::io::{Read, Write};

use serde_json::{json, Value};
use viclip::aesthetic::ClipVisionConfig;
use viclip::limits::MAX_PARAMETERS;
use viclip::npy::{parse_npy_header, read_npy_f32};
use viclip::weights::{read_checkpoint, read_safetensors};
use viclip::{parameter_shapes, ViClipConfig};
use viclip_testkit::fixtures::fixture;
use viclip_testkit::hostile::{npy_bytes, Rng, HOSTILE_SIZES};

/// A JSON value for a size field: mostly hostile numbers, sometimes not a number at all.
fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => json!(-1),
        1 => json!(1.5),
        2 => json!("224"),
        3 => Value::Null,
        _ => json!(*rng.pick(HOSTILE_SIZES)),
    }
}

fn tiny_config() -> Value {
    let text = std::fs::read_to_string(fixture("tiny_a/config.json")).expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

#[test]
fn viclip_configs_are_bounded_or_refused() {
    let base = tiny_config();
    let fields = [
        ("", "embed_dim"),
        ("vision", "input_resolution"),
        ("vision", "patch_size"),
        ("vision", "width"),
        ("vision", "layers"),
        ("vision", "heads"),
        ("vision", "num_frames"),
        ("text", "context_length"),
        ("text", "vocab_size"),
        ("text", "width"),
        ("text", "layers"),
        ("text", "heads"),
    ];
    let mut rng = Rng::new(1);
    let mut accepted = 0;
    for case in 0..3000 {
        let mut cfg = base.clone();
        for _ in 0..1 + rng.below(3) {
            let (group, key) = *rng.pick(&fields);
            let v = hostile_value(&mut rng);
            if group.is_empty() {
                cfg[key] = v;
            } else {
                cfg[group][key] = v;
            }
        }
        let text = cfg.to_string();
        let Ok(parsed) = ViClipConfig::from_json_str(&text, "fuzz") else {
            continue;
        };
        accepted += 1;
        let n = parsed
            .parameter_count()
            .expect("an accepted config's count fits");
        assert!(
            n <= MAX_PARAMETERS,
            "case {case}: {n} parameters accepted: {text}"
        );
        // The parameter list is built from the config alone: bounded by the layer cap.
        let shapes = parameter_shapes(&parsed).expect("an accepted config builds its shapes");
        assert!(
            shapes.len() <= 16 + 12 * 2 * 256,
            "case {case}: {}",
            shapes.len()
        );
    }
    assert!(
        accepted > 0,
        "no mutated config was valid; the generator is too hostile"
    );
}

#[test]
fn clip_configs_are_bounded_or_refused() {
    let text = std::fs::read_to_string(fixture("aesthetic/config.json")).expect("fixture");
    let base: Value = serde_json::from_str(&text).expect("fixture json");
    let fields = [
        "image_size",
        "patch_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "projection_dim",
    ];
    let mut rng = Rng::new(2);
    for case in 0..3000 {
        let mut cfg = base.clone();
        for _ in 0..1 + rng.below(3) {
            cfg[*rng.pick(&fields)] = hostile_value(&mut rng);
        }
        // Sometimes as a full CLIPConfig whose top-level projection_dim wins.
        let text = if rng.chance(20) {
            json!({"vision_config": cfg, "projection_dim": hostile_value(&mut rng)}).to_string()
        } else {
            cfg.to_string()
        };
        if let Ok(parsed) = ClipVisionConfig::from_json_str(&text, "fuzz") {
            let n = parsed.parameter_count().expect("count fits");
            assert!(n <= MAX_PARAMETERS, "case {case}: {n} parameters: {text}");
            assert!(parsed.seq_len() <= viclip::limits::MAX_VISION_TOKENS);
        }
    }
}

#[test]
fn npy_headers_never_claim_more_than_the_file() {
    let descrs = [
        "'<f4'", "'<f2'", "'<f8'", "'>f4'", "'|u1'", "'<i8'", "'<c8'", "f4", "''",
    ];
    let orders = ["False", "True", "0", ""];
    let mut rng = Rng::new(3);
    let path = std::path::Path::new("fuzz.npy");
    for case in 0..5000 {
        let dims: Vec<String> = (0..rng.below(5))
            .map(|_| {
                if rng.chance(5) {
                    "-1".to_string()
                } else {
                    rng.pick(HOSTILE_SIZES).to_string()
                }
            })
            .collect();
        let shape = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        let header = format!(
            "{{'descr': {}, 'fortran_order': {}, 'shape': {shape}, }}",
            rng.pick(&descrs),
            rng.pick(&orders)
        );
        let mut bytes = npy_bytes(&header, rng.below(300));
        match rng.below(6) {
            // A lying header length (version 1 or 2/3 layout).
            0 => {
                let n = rng.next().to_le_bytes();
                bytes[8] = n[0];
                bytes[9] = n[1];
            }
            1 => bytes[6] = *rng.pick(&[0u8, 2, 3, 4, 255]),
            2 => bytes.truncate(rng.below(bytes.len() + 1)),
            _ => {}
        }
        let len = bytes.len() as u64;
        if let Ok(h) = parse_npy_header(&bytes, len, path) {
            let claimed = (h.elements as u64) * h.dtype.size() as u64;
            assert!(
                h.data_offset as u64 + claimed <= len,
                "case {case}: accepted {header} claiming {claimed} bytes in a {len}-byte file"
            );
            assert!(h.shape.iter().all(|&d| d as u64 <= len), "case {case}");
        }
    }
}

#[test]
fn npy_files_read_only_what_they_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("a.npy");
    // 120 GB claimed by a 1 KB file, and a shape whose product overflows.
    for header in [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 8, 3, 112, 112), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
        "{'descr': '<f2', 'fortran_order': False, 'shape': (18446744073709551615, 0), }",
    ] {
        std::fs::write(&p, npy_bytes(header, 1000)).expect("write");
        let e = read_npy_f32(&p).expect_err(header).to_string();
        assert!(e.contains("a.npy"), "{e}");
    }
    // A real array reads back exactly.
    let mut bytes = npy_bytes(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        0,
    );
    for x in [1.0f32, 2.0, 3.0, 4.0, 5.0, -6.5] {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&p, bytes).expect("write");
    let (h, v) = read_npy_f32(&p).expect("valid npy");
    assert_eq!(h.shape, [2, 3]);
    assert_eq!(v, [1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
}

/// A safetensors file: `header` JSON, then `data_len` bytes.
fn safetensors_bytes(header: &str, data_len: usize) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.resize(v.len() + data_len, 7);
    v
}

#[test]
fn safetensors_headers_never_claim_more_than_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("f.safetensors");
    let dtypes = ["F32", "F16", "BF16", "I8", "U8", "F64", "X9"];
    let mut rng = Rng::new(4);
    for case in 0..400 {
        let data_len = rng.below(512);
        let mut entries = serde_json::Map::new();
        for t in 0..rng.below(6) {
            let shape: Vec<Value> = (0..rng.below(4))
                .map(|_| {
                    if rng.chance(60) {
                        json!(rng.below(9))
                    } else {
                        json!(*rng.pick(HOSTILE_SIZES))
                    }
                })
                .collect();
            let begin = if rng.chance(70) {
                rng.below(data_len + 1) as u64
            } else {
                *rng.pick(HOSTILE_SIZES)
            };
            let end = if rng.chance(70) {
                begin.saturating_add(rng.below(64) as u64)
            } else {
                *rng.pick(HOSTILE_SIZES)
            };
            entries.insert(
                format!("t{t}"),
                json!({"dtype": rng.pick(&dtypes), "shape": shape, "data_offsets": [begin, end]}),
            );
        }
        let header = Value::Object(entries).to_string();
        let mut bytes = safetensors_bytes(&header, data_len);
        if rng.chance(10) {
            bytes[..8].copy_from_slice(&rng.next().to_le_bytes());
        }
        std::fs::write(&p, &bytes).expect("write");
        if let Ok(tensors) = read_safetensors(&p) {
            let total: usize = tensors
                .iter()
                .map(|(_, t)| t.elem_count() * t.dtype().size_in_bytes())
                .sum();
            // I8 is widened to I16, so at most twice the data section.
            assert!(
                total <= 2 * data_len,
                "case {case}: {total} bytes of tensors from {data_len} data bytes: {header}"
            );
        }
    }
}

/// The entries of a zip file as `(name, bytes)`.
fn zip_entries(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let f = std::fs::File::open(path).expect("fixture");
    let mut z = zip::ZipArchive::new(f).expect("zip");
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).expect("entry");
            let mut b = Vec::new();
            e.read_to_end(&mut b).expect("read");
            (e.name().expect("entry name").to_string(), b)
        })
        .collect()
}

#[test]
fn corrupted_pickles_are_errors_or_bounded() {
    let src = fixture("tiny_a/model.pth");
    let entries = zip_entries(&src);
    let pkl = entries
        .iter()
        .position(|(n, _)| n.ends_with("data.pkl"))
        .expect("data.pkl");
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("m.pth");
    let mut rng = Rng::new(5);
    for case in 0..150 {
        let mut bytes = entries[pkl].1.clone();
        for _ in 0..1 + rng.below(8) {
            let i = rng.below(bytes.len());
            bytes[i] = match rng.below(3) {
                // Opcodes and lengths: the bytes that steer the machine.
                0 => *rng.pick(b"(]}qhJKMX\x8a"),
                1 => 0xff,
                _ => rng.next() as u8,
            };
        }
        if rng.chance(20) {
            bytes.truncate(rng.below(bytes.len()));
        }
        let f = std::fs::File::create(&p).expect("create");
        let mut w = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (i, (name, data)) in entries.iter().enumerate() {
            w.start_file(name.as_str(), opts).expect("start");
            w.write_all(if i == pkl { &bytes } else { data })
                .expect("write");
        }
        w.finish().expect("finish");
        let file_len = std::fs::metadata(&p).expect("meta").len() as usize;
        if let Ok(tensors) = read_checkpoint(&p) {
            let total: usize = tensors
                .iter()
                .map(|(_, t)| t.elem_count() * t.dtype().size_in_bytes())
                .sum();
            assert!(
                total <= 4 * file_len + (256 << 20),
                "case {case}: {total} bytes of tensors from a {file_len}-byte file"
            );
        }
    }
}

#[test]
fn corrupted_checkpoint_files_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng::new(6);
    for (src, name) in [
        (fixture("tiny_a/model.pth"), "m.pth"),
        (fixture("tiny_a/model.safetensors"), "m.safetensors"),
    ] {
        let bytes = std::fs::read(&src).expect("fixture");
        let p = dir.path().join(name);
        for case in 0..150 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.below(6) {
                // Mostly the headers and directories at either end, where the structure lives.
                let i = if rng.chance(50) {
                    rng.below(b.len().min(4096))
                } else {
                    b.len() - 1 - rng.below(b.len().min(4096))
                };
                b[i] = rng.next() as u8;
            }
            if rng.chance(10) {
                b.truncate(rng.below(b.len()));
            }
            std::fs::write(&p, &b).expect("write");
            let result = std::panic::catch_unwind(|| read_checkpoint(&p).map(|t| t.len()));
            assert!(result.is_ok(), "{name} case {case}: reading panicked");
        }
    }
}

/// A FIFO or a symlink loop given as a config is said to be one, not "file not found" (and opening
/// the FIFO, which nothing writes to, does not block).
#[cfg(unix)]
#[test]
fn a_fifo_or_a_symlink_loop_config_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("config.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.expect("mkfifo").success());
    let e = ViClipConfig::from_name_or_path(fifo.to_str().expect("utf8"))
        .expect_err("a FIFO config")
        .to_string();
    assert!(e.contains("config.json") && e.contains("is a FIFO"), "{e}");
    let e = ViClipConfig::from_json_file(&fifo)
        .expect_err("a FIFO config")
        .to_string();
    assert!(e.contains("is a FIFO"), "{e}");
    let a = dir.path().join("a.json");
    std::os::unix::fs::symlink(dir.path().join("b.json"), &a).expect("symlink");
    std::os::unix::fs::symlink(&a, dir.path().join("b.json")).expect("symlink");
    let e = ViClipConfig::from_name_or_path(a.to_str().expect("utf8"))
        .expect_err("a looping config")
        .to_string();
    assert!(e.contains("a.json") && e.contains("symlink loop"), "{e}");
    let e = ViClipConfig::from_name_or_path("missing.json")
        .expect_err("missing")
        .to_string();
    assert!(e.contains("file not found"), "{e}");
}
