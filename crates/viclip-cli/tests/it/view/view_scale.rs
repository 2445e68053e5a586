//! PERFORMANCE.md's "Viewer" numbers: a synthetic run of `VICLIP_VIEW_ROWS` rows (default 1 M) in
//! shards of 10 000, with (rows, 768) float16 video embeddings, written directly (no model run:
//! parquet shards, npy files, stats, `run.json`, `table.json`), then served; the time to the first
//! page (index load, summary, histogram, first page of clips), per search (ViCLIP-L/14's text
//! tower, random weights, plus the exact scan) and the server's resident memory. Ignored: it writes
//! 1.6 GB; run it with `cargo test -p viclip-cli --test it -- --ignored --nocapture view::view_scale`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{Float32Array, Float64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use serde_json::json;
use viclip_cli::view::{self, layout::Layout, AppState};

use super::view_common::get;

const SHARD: usize = 10_000;
const E: usize = 768;

struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn write_shard(out: &Path, k: usize, rows: usize, id: &serde_json::Value, rng: &mut Rng) {
    let sim: Vec<f32> = (0..rows).map(|_| 0.1 + 0.3 * rng.f()).collect();
    let aes: Vec<f32> = (0..rows).map(|_| 3.0 + 4.0 * rng.f()).collect();
    let start: Vec<f64> = (0..rows).map(|i| (i % 100) as f64).collect();
    let end: Vec<f64> = start.iter().map(|s| s + 1.0 + (*s % 7.0)).collect();
    let batch = RecordBatch::try_from_iter([
        (
            "path",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("v{}.mp4", i % 997)),
            )) as _,
        ),
        (
            "caption",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("caption of row {}", k * SHARD + i)),
            )) as _,
        ),
        ("start", Arc::new(Float64Array::from(start)) as _),
        ("end", Arc::new(Float64Array::from(end)) as _),
        ("viclip_sim", Arc::new(Float32Array::from(sim)) as _),
        ("aesthetic", Arc::new(Float32Array::from(aes)) as _),
        (
            "status",
            Arc::new(StringArray::from_iter_values((0..rows).map(|_| "ok"))) as _,
        ),
        (
            "error",
            Arc::new(StringArray::from(vec![None::<&str>; rows])) as _,
        ),
    ])
    .unwrap();
    let pq = out.join(format!("{k:05}.parquet"));
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&pq).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let mut emb = vec![0f32; rows * E];
    for r in emb.chunks_mut(E) {
        r.iter_mut().for_each(|x| *x = rng.f() - 0.5);
        let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        r.iter_mut().for_each(|x| *x /= n);
    }
    let npy = format!("video_emb/video_emb_{k:05}.npy");
    viclip_data::score::write_npy_f16(&out.join(&npy), rows, E, &emb).unwrap();
    let file = |rel: &str| json!({"path": rel, "size": std::fs::metadata(out.join(rel)).unwrap().len(), "sha256": "", "mtime": 0});
    let stats = json!({
        "shard": k, "first_row": k * SHARD, "rows": rows, "ok": rows, "failed": {}, "clips": rows,
        "seconds": 1.0, "clips_per_s": rows as f64, "settings": id,
        "files": [file(&npy), file(&format!("{k:05}.parquet"))], "scored_with": {},
    });
    std::fs::write(out.join(format!("{k:05}_stats.json")), stats.to_string()).unwrap();
}

/// A text tower of ViCLIP-L/14's shape (width 768, 12 layers), random weights, and a tiny vision tower.
fn l14_text_model() -> viclip::ViClip {
    let cfg: viclip::ViClipConfig = serde_json::from_value(json!({
        "embed_dim": 768,
        "vision": {"input_resolution": 28, "patch_size": 14, "width": 64, "layers": 1, "heads": 4, "num_frames": 8},
        "text": {"context_length": 32, "vocab_size": 49408, "width": 768, "layers": 12, "heads": 12},
    }))
    .unwrap();
    let vm = candle_nn::VarMap::new();
    let vb =
        candle_nn::VarBuilder::from_varmap(&vm, candle_core::DType::F32, &candle_core::Device::Cpu);
    let model = viclip::ViClipModel::new(&cfg, vb).unwrap();
    let opts = viclip::LoadOptions::new(candle_core::Device::Cpu, candle_core::DType::F32);
    viclip::ViClip::new(model, viclip::Tokenizer::new().unwrap(), opts)
}

fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    kb / 1024.0
}

#[test]
#[ignore]
fn scale_synthetic_run() {
    let rows: usize = std::env::var("VICLIP_VIEW_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("video_emb")).unwrap();
    let shards = rows.div_ceil(SHARD);
    let id = json!({
        "version": "0.1.0", "dtype": "F32", "embeddings": true, "shard_size": SHARD,
        "aesthetic": {"scorer": "synthetic"}, "video_root": dir.path().display().to_string(),
        "weights": {"name": "synthetic", "sha256": "synthetic"}, "config": null,
        "preprocess": {"num_frames": 8, "size": 224, "sampling": "middle", "resize": "bicubic"},
        "input": {"rows": rows, "format": {"table": {"caption": "caption", "clips": null, "end": "end", "start": "start", "video": "Column(\"path\")"}}},
    });
    std::fs::write(out.join("run.json"), id.to_string()).unwrap();
    let table = json!({"table_rows": rows, "shard_size": SHARD, "table_shards": shards, "input": "synthetic"});
    std::fs::write(out.join("table.json"), table.to_string()).unwrap();
    let t = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for k in 0..shards {
        write_shard(&out, k, SHARD.min(rows - k * SHARD), &id, &mut rng);
    }
    eprintln!(
        "generated {rows} rows in {shards} shards in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let model = Arc::new(l14_text_model());
    let rss0 = rss_mb();

    let t = Instant::now();
    let state = AppState::open(Layout::read(&out, None).unwrap(), Ok(model.clone())).unwrap();
    let load = t.elapsed().as_secs_f64();
    let srv = view::serve(Arc::new(state), "127.0.0.1:0".parse().unwrap()).unwrap();
    let a = srv.addr;
    let t1 = Instant::now();
    let s = get(a, "/api/summary").json();
    assert_eq!(s["rows"], rows, "{s}");
    get(a, "/api/histogram?col=viclip_sim&bins=40");
    get(a, "/api/histogram?col=aesthetic&bins=40");
    let page = get(a, "/api/clips?sort=viclip_sim&order=desc&limit=24").json();
    assert_eq!(page["clips"].as_array().unwrap().len(), 24);
    let first = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let last = get(
        a,
        &format!(
            "/api/clips?sort=aesthetic&order=asc&offset={}&limit=24",
            rows - 24
        ),
    )
    .json();
    assert_eq!(last["clips"].as_array().unwrap().len(), 24);
    let other = t2.elapsed().as_secs_f64();
    let mut per = Vec::new();
    for q in [
        "a dog runs on the beach",
        "cooking pasta",
        "a man plays guitar",
        "city traffic at night",
        "snow",
    ] {
        let t = Instant::now();
        let r = get(a, &format!("/api/search?q={}&k=24", q.replace(' ', "%20"))).json();
        assert_eq!(r["hits"].as_array().unwrap().len(), 24, "{r}");
        per.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    for _ in 0..5 {
        view::search::embed_query(&model, "a dog runs on the beach").unwrap();
    }
    let embed = t.elapsed().as_secs_f64() / 5.0;
    let npys: Vec<_> = (0..shards)
        .map(|k| {
            (
                (k * SHARD) as u64,
                out.join(format!("video_emb/video_emb_{k:05}.npy")),
            )
        })
        .collect();
    let query = view::search::embed_query(&model, "snow").unwrap();
    let t = Instant::now();
    for _ in 0..3 {
        view::search::scan(&npys, &query, 24).unwrap();
    }
    let scan = t.elapsed().as_secs_f64() / 3.0;
    let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "rows {rows}: index load {load:.3} s; summary + 2 histograms + first page {first:.3} s; \
         a page at the far end of another order {other:.3} s; search {:?} s (text tower {embed:.3} s, scan {scan:.3} s); \
         RSS {:.0} MB before the server, {:.0} MB after; load average {load_avg}",
        per.iter().map(|x| (x * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
        rss0,
        rss_mb()
    );
    srv.stop();
}
