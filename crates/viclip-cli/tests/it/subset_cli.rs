//! `viclip subset ...` end to end through its clap definition and `run()` (the file is included as
//! the binary includes it): DIV on a skewed table with video ids from file names, FLT on a skewed
//! Parquet table against an independent count of each step, AES, SemDeDup on planted copies, errors.

use viclip_cli::subset_cmd;

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use clap::{Parser, Subcommand};
use viclip_data::subset::rng::SplitMix64;
use viclip_data::table::{f64_values, Format, ReadOptions, StrColumn, Table, TableWriter};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Subset(subset_cmd::SubsetArgs),
}

/// Runs `viclip {cmd}` (arguments split at whitespace; the temporary paths have none).
fn viclip(cmd: &str) -> anyhow::Result<()> {
    let cli = Cli::try_parse_from(std::iter::once("viclip").chain(cmd.split_whitespace()))?;
    let Command::Subset(a) = cli.command;
    subset_cmd::run(&a)
}

fn summary(out: &Path) -> serde_json::Value {
    let p = viclip_data::subset::Summary::path_for(out);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn column(out: &Path, name: &str) -> Vec<String> {
    let t = Table::open(out).unwrap();
    let mut v = Vec::new();
    for b in t.batches(&ReadOptions::columns(&[name])) {
        let b = b.unwrap();
        let c = StrColumn::new(&b, name).unwrap();
        v.extend((0..b.num_rows()).map(|i| c.get(i).unwrap_or_default().to_string()));
    }
    v
}

/// Video k of 300 has ceil(60 / (k + 1)) clips (549 clips, 240 videos with one); ids are 11 characters.
fn skewed_ids() -> Vec<String> {
    (0..300usize)
        .flat_map(|k| std::iter::repeat_n(format!("vid{k:08}"), 60usize.div_ceil(k + 1)))
        .collect()
}

#[test]
fn div_from_file_names_on_a_skewed_table() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("clips.csv");
    let ids = skewed_ids();
    let mut text = String::from("path,caption\n");
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!("/videos/{id}_{i:06}.mp4,clip {i}\n"));
    }
    std::fs::write(&input, text).unwrap();
    let i = input.display();
    let out = dir.path().join("div.csv");
    viclip(&format!(
        "subset div --input {i} --out {} --n 200 --video-id-from-path 11 --quiet",
        out.display()
    ))
    .unwrap();
    let s = summary(&out);
    let counts = (
        s["rows_in"].as_u64(),
        s["rows_out"].as_u64(),
        s["videos_in"].as_u64(),
    );
    assert_eq!(counts, (Some(ids.len() as u64), Some(200), Some(300)));
    // Each video weighs 1 and a video's weight shrinks as its clips are drawn, so DIV reaches far more
    // videos than a uniform sample of clips (most clips belong to the first videos).
    let covered = s["videos_out"].as_u64().unwrap();
    let uni = dir.path().join("random.csv");
    viclip(&format!(
        "subset random --input {i} --out {} --n 200 --video-id-from-path 11 --quiet",
        uni.display()
    ))
    .unwrap();
    let uniform = summary(&uni)["videos_out"].as_u64().unwrap();
    assert!(
        covered >= 160 && covered > uniform + 40,
        "DIV {covered} videos, uniform {uniform}"
    );
    // Same command, same rows (seed 42 by default).
    let again = dir.path().join("div2.csv");
    viclip(&format!(
        "subset div --input {i} --out {} --n 200 --video-id-from-path 11 --quiet",
        again.display()
    ))
    .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    // Without a video id flag the `path` column is the id: one file, one video (the CLI says so
    // and names --video-id-from-path), so each clip file counts as a video of its own.
    let by_file = dir.path().join("div_by_file.csv");
    viclip(&format!(
        "subset div --input {i} --out {} --n 200 --quiet",
        by_file.display()
    ))
    .unwrap();
    let s = summary(&by_file);
    assert_eq!(s["video_key"], "column path");
    assert_eq!(s["videos_out"], 200, "every clip file is its own video");
}

#[test]
fn flt_on_a_skewed_parquet_table_matches_an_independent_count() {
    let dir = tempfile::tempdir().unwrap();
    let ids = skewed_ids();
    let n = ids.len();
    let mut rng = SplitMix64::new(99);
    let starts: Vec<f64> = (0..n).map(|_| (rng.next_f64() * 100.0).floor()).collect();
    // Durations 0.5 .. 150 s, some exactly on the bounds.
    let durs: Vec<f64> = (0..n)
        .map(|i| match i % 50 {
            0 => 1.0,
            1 => 120.0,
            _ => 0.5 + rng.next_f64() * 149.5,
        })
        .collect();
    let sims: Vec<f64> = (0..n).map(|_| rng.next_f64() * 0.5).collect();
    let ends: Vec<f64> = starts.iter().zip(&durs).map(|(s, d)| s + d).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("YoutubeID", DataType::Utf8, false),
        Field::new("start", DataType::Float64, false),
        Field::new("end", DataType::Float64, false),
        Field::new("viclip_sim", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids.clone())),
            Arc::new(Float64Array::from(starts.clone())),
            Arc::new(Float64Array::from(ends.clone())),
            Arc::new(Float64Array::from(sims.clone())),
        ],
    )
    .unwrap();
    let input = dir.path().join("scored.parquet");
    let mut w = TableWriter::create(&input, Format::Parquet, schema, Vec::new()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();

    // Independent count: duration in [1, 120] on the microsecond grid, then the floor(0.3 m) best.
    let us = |x: f64| (x * 1e6).round() as i64;
    let in_bounds = |i: usize| (1_000_000..=120_000_000).contains(&(us(ends[i]) - us(starts[i])));
    let ok: Vec<usize> = (0..n).filter(|&i| in_bounds(i)).collect();
    let k = (0.3 * ok.len() as f64 + 1e-9).floor() as usize;
    let mut by_score: Vec<f64> = ok.iter().map(|&i| sims[i]).collect();
    by_score.sort_by(|a, b| b.total_cmp(a));
    let cut = by_score[k - 1];

    let i = input.display();
    let out = dir.path().join("flt.parquet");
    // Not quiet: the printed summary is part of what is exercised.
    viclip(&format!(
        "subset flt --input {i} --out {} --n 100",
        out.display()
    ))
    .unwrap();
    let s = summary(&out);
    let steps: Vec<u64> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [ok.len() as u64, k as u64, 100]);
    assert_eq!(s["rows_out"], 100);
    for b in Table::open(&out).unwrap().batches(&ReadOptions::default()) {
        let b = b.unwrap();
        let (st, en) = (
            f64_values(&b, "start").unwrap(),
            f64_values(&b, "end").unwrap(),
        );
        let sc = f64_values(&b, "viclip_sim").unwrap();
        for j in 0..b.num_rows() {
            let d = us(en[j].unwrap()) - us(st[j].unwrap());
            assert!((1_000_000..=120_000_000).contains(&d) && sc[j].unwrap() >= cut);
        }
    }
    // The FLT sample spreads over videos: DIV weights inside the filtered rows.
    let vids = column(&out, "YoutubeID");
    let mut distinct = vids.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 70, "{}", distinct.len());
    // Explicit span columns give the same rows; one without the other is a usage error.
    let e = dir.path().join("explicit.parquet");
    let e = e.display();
    viclip(&format!(
        "subset flt --input {i} --out {e} --n 100 --start-col start --end-col end --quiet"
    ))
    .unwrap();
    assert_eq!(column(Path::new(&e.to_string()), "YoutubeID"), vids);
    assert!(viclip(&format!(
        "subset flt --input {i} --out {e} --start-col start"
    ))
    .is_err());
    assert!(viclip(&format!(
        "subset div --input {i} --out {e} --n 1 --video-id-col a --video-id-from-path 3"
    ))
    .is_err());
    // Without --n: all filtered rows; --top-frac 1 and a threshold instead.
    let thr = dir.path().join("thr.parquet");
    viclip(&format!(
        "subset flt --input {i} --out {} --top-frac 1 --min-score 0.25 --quiet",
        thr.display()
    ))
    .unwrap();
    let want = ok.iter().filter(|&&j| sims[j] >= 0.25).count();
    assert_eq!(summary(&thr)["rows_out"].as_u64(), Some(want as u64));
    // What the command prints: the option by its flag.
    let err = viclip(&format!("subset flt --input {i} --out {e} --top-frac 1.5")).unwrap_err();
    let err = viclip_cli::flags::error_line(&err);
    assert!(err.contains("--top-frac 1.5: must be in (0, 1]"), "{err}");
}

#[test]
fn aes_and_dedup_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/fixtures/subset/internvid_flt_aes.jsonl");
    let (i, out) = (fixture.display(), dir.path().join("aes.jsonl"));
    let o = out.display();
    viclip(&format!(
        "subset aes --input {i} --out {o} --score-col Aesthetic_Score --quiet"
    ))
    .unwrap();
    assert_eq!(summary(&out)["rows_out"], 7);
    viclip(&format!(
        "subset aes --input {i} --out {o} --score-col Aesthetic_Score --top-k 3 --quiet"
    ))
    .unwrap();
    assert_eq!(summary(&out)["rows_out"], 3);

    // 40 random vectors, rows 40..44 exact copies of rows 3, 9, 17, 25.
    let mut rng = SplitMix64::new(5);
    let mut rows: Vec<Vec<f32>> = (0..40)
        .map(|_| (0..16).map(|_| rng.next_f64() as f32 - 0.5).collect())
        .collect();
    for r in [3, 9, 17, 25] {
        rows.push(rows[r].clone());
    }
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let emb = dir.path().join("emb.npy");
    let t = candle_core::Tensor::from_vec(flat, (44, 16), &candle_core::Device::Cpu).unwrap();
    t.write_npy(&emb).unwrap();
    let table = dir.path().join("t.csv");
    let text: String = std::iter::once("row\n".to_string())
        .chain((0..44).map(|r| format!("{r}\n")))
        .collect();
    std::fs::write(&table, text).unwrap();
    let out = dir.path().join("dedup.csv");
    let cmd = format!(
        "subset dedup --input {} --out {} --embeddings {} --eps 0.001 --clusters 3 --sweep 0.01,0.1 --quiet",
        table.display(),
        out.display(),
        emb.display()
    );
    viclip(&cmd).unwrap();
    assert_eq!(
        column(&out, "row"),
        (0..40).map(|r| r.to_string()).collect::<Vec<_>>()
    );
    let s = summary(&out);
    assert_eq!(s["dedup"]["kept_fraction"].as_array().unwrap().len(), 3);
    assert!((s["dedup"]["kept_fraction"][0][1].as_f64().unwrap() - 40.0 / 44.0).abs() < 1e-12);
}
