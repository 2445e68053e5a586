//! FLT and AES boundaries, random sampling and determinism, through the pure functions and through
//! `subset::build` on the hand-made table `tests/fixtures/subset/internvid_flt_aes.jsonl` (12 clips
//! of 5 videos; each row's caption says which boundary it sits on).

use std::path::{Path, PathBuf};

use viclip_data::subset::{
    self, duration_within, top_fraction_count, top_k_rows, video_id_from_path, AesOptions, Bits,
    FltOptions, Method, SubsetJob,
};
use viclip_data::table::{f64_values, ReadOptions, Table};

fn fixture() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/fixtures/subset/internvid_flt_aes.jsonl")
}

/// The chosen rows of an output table, identified by their caption.
fn captions(out: &Path) -> Vec<String> {
    let t = Table::open(out).unwrap();
    let mut v = Vec::new();
    for b in t.batches(&ReadOptions::columns(&["Caption"])) {
        let b = b.unwrap();
        let c = viclip_data::table::StrColumn::new(&b, "Caption").unwrap();
        v.extend((0..b.num_rows()).map(|i| c.get(i).unwrap_or_default().to_string()));
    }
    v
}

fn fixture_captions(rows: &[usize]) -> Vec<String> {
    let all = captions(&fixture());
    rows.iter().map(|&r| all[r].clone()).collect()
}

fn flt(input: &Path, out: &Path, top_frac: f64) -> subset::Summary {
    let opts = FltOptions {
        top_frac: Some(top_frac),
        score_col: "UMT_Score".into(),
        ..FltOptions::default()
    };
    subset::build(&SubsetJob::new(input, out, Method::Flt(opts))).unwrap()
}

#[test]
fn duration_and_top_fraction_boundaries() {
    assert!(duration_within(0.0, 1.0, 1.0, 120.0));
    assert!(
        duration_within(3.16, 4.16, 1.0, 120.0),
        "4.16 - 3.16 is 1 s on the microsecond grid"
    );
    assert!(!duration_within(1.0, 1.999, 1.0, 120.0));
    assert!(duration_within(0.0, 120.0, 1.0, 120.0));
    assert!(!duration_within(0.0, 120.001, 1.0, 120.0));
    assert!(!duration_within(5.0, 4.0, 0.0, 120.0));
    assert_eq!(top_fraction_count(10, 0.3), 3);
    assert_eq!(top_fraction_count(8, 0.3), 2);
    assert_eq!(top_fraction_count(3, 0.3), 0);
    assert_eq!(top_fraction_count(7, 1.0), 7);
    assert_eq!(top_fraction_count(1_000_000, 0.3), 300_000);
    // Ties at the cut go to the lower row: 0.9, then two of the three 0.7s.
    let score = [0.5, 0.9, 0.7, 0.7, 0.7, 0.1, f64::NAN];
    let all = Bits::from_fn(7, |i| i < 6);
    let top = top_k_rows(&score, &all, 3);
    assert_eq!(top.ones().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(top_k_rows(&score, &all, 0).count(), 0);
    assert_eq!(top_k_rows(&score, &all, 10), all);
    assert_eq!(
        video_id_from_path("/data/videos/abcdefghijk_000012.mp4", 11),
        "abcdefghijk"
    );
    assert_eq!(video_id_from_path("C:\\clips\\short.mp4", 11), "short.mp4");
    assert_eq!(video_id_from_path("ünïcödé_id_rest", 3), "ünï");
}

#[test]
fn flt_on_the_hand_made_table() {
    let dir = tempfile::tempdir().unwrap();
    // Eligible (1 s <= duration <= 120 s, score present): rows 0 2 3 5 6 9 10 11 (8 rows).
    // Top 30%: floor(2.4) = 2 rows: 0.60 (row 9), 0.50 (row 0).
    let out = dir.path().join("flt30.jsonl");
    let s = flt(&fixture(), &out, 0.30);
    assert_eq!(captions(&out), fixture_captions(&[0, 9]));
    assert_eq!(
        (s.rows_in, s.rows_out, s.videos_in, s.videos_out),
        (12, 2, Some(5), Some(2))
    );
    assert_eq!(s.rows_without_span, 1);
    assert_eq!(s.steps.iter().map(|s| s.rows).collect::<Vec<_>>(), [8, 2]);
    // Top 50%: 4 rows: 0.60, 0.50, then two of the three 0.45s (rows 3, 6, 11): the earlier two.
    let out = dir.path().join("flt50.jsonl");
    flt(&fixture(), &out, 0.50);
    assert_eq!(captions(&out), fixture_captions(&[0, 3, 6, 9]));
    // The same table as Parquet and CSV gives the same rows.
    let t = Table::open(fixture()).unwrap();
    for ext in ["parquet", "csv"] {
        let conv = dir.path().join(format!("fixture.{ext}"));
        t.copy_rows(&(0..12).collect::<Vec<_>>(), &conv).unwrap();
        let out = dir.path().join(format!("flt50.{ext}"));
        flt(&conv, &out, 0.50);
        assert_eq!(captions(&out), fixture_captions(&[0, 3, 6, 9]), "{ext}");
    }
    // A plain threshold, no top fraction: score >= 0.45 among the eligible rows.
    let opts = FltOptions {
        top_frac: None,
        min_score: Some(0.45),
        score_col: "UMT_Score".into(),
        ..FltOptions::default()
    };
    let out = dir.path().join("min.jsonl");
    subset::build(&SubsetJob::new(fixture(), &out, Method::Flt(opts))).unwrap();
    assert_eq!(captions(&out), fixture_captions(&[0, 3, 6, 9, 11]));
    // Summary beside the output, with the score distribution before and after.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("flt30.jsonl.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["rows_out"], 2);
    let umt = &summary["scores"][0];
    assert_eq!(umt["column"], "UMT_Score");
    assert_eq!(umt["before"]["count"], 11);
    assert_eq!(umt["after"]["min"], 0.5);
    assert_eq!(umt["after"]["quantiles"]["p50"], 0.55);
}

#[test]
fn aes_boundary_is_inclusive_at_exactly_4() {
    let dir = tempfile::tempdir().unwrap();
    let run = |min: Option<f64>, top_k: Option<u64>, name: &str| {
        let opts = AesOptions {
            min_aesthetic: min,
            top_k,
            score_col: "Aesthetic_Score".into(),
        };
        let out = dir.path().join(name);
        let s = subset::build(&SubsetJob::new(fixture(), &out, Method::Aes(opts))).unwrap();
        (captions(&out), s)
    };
    // 4, 4.0000001, 5.25, "4.0", 4.5, 6, 4 kept; 3.9999999, null, 3, 2, 3.99 dropped.
    let (rows, s) = run(Some(4.0), None, "aes.jsonl");
    assert_eq!(rows, fixture_captions(&[0, 2, 3, 5, 7, 8, 10]));
    assert_eq!(s.steps.iter().map(|s| s.rows).collect::<Vec<_>>(), [11, 7]);
    let (rows, _) = run(None, Some(3), "top3.jsonl");
    assert_eq!(rows, fixture_captions(&[3, 7, 8]));
    // Top 5 of those >= 4: 6, 5.25, 4.5, 4.0000001, then the first of the three 4s (row 0).
    let (rows, _) = run(Some(4.0), Some(5), "both.jsonl");
    assert_eq!(rows, fixture_captions(&[0, 2, 3, 7, 8]));
    let err = subset::build(&SubsetJob::new(
        fixture(),
        dir.path().join("x.jsonl"),
        Method::Aes(AesOptions::default()),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`aesthetic`") && err.contains("Aesthetic_Score"),
        "{err}"
    );
}

#[test]
fn random_is_deterministic_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.csv");
    let mut text = String::from("path,viclip_sim\n");
    for i in 0..1000 {
        text.push_str(&format!(
            "v{:03}/{i}.mp4,{}\n",
            i % 97,
            (i * 37 % 1000) as f64 / 1000.0
        ));
    }
    std::fs::write(&input, text).unwrap();
    let run = |n: u64, seed: u64, name: &str| {
        let out = dir.path().join(name);
        let s = subset::build(&SubsetJob::new(&input, &out, Method::Random { n, seed })).unwrap();
        (std::fs::read_to_string(&out).unwrap(), s)
    };
    let (a, s) = run(100, 7, "a.csv");
    let (b, _) = run(100, 7, "b.csv");
    let (c, _) = run(100, 8, "c.csv");
    assert!(a == b, "same seed, different rows");
    assert!(a != c, "different seeds, same rows");
    assert_eq!((s.rows_in, s.rows_out), (1000, 100));
    assert_eq!(s.scores[0].before.count, 1000);
    let t = Table::open(dir.path().join("a.csv")).unwrap();
    let n: usize = t
        .batches(&ReadOptions::columns(&["viclip_sim"]))
        .map(|b| f64_values(&b.unwrap(), "viclip_sim").unwrap().len())
        .sum();
    assert_eq!(n, 100);
    // More than the table: everything, in order.
    let (all, _) = run(5000, 7, "all.csv");
    assert!(
        all == std::fs::read_to_string(&input).unwrap(),
        "n >= rows must copy the table"
    );
}

#[test]
fn an_empty_table_gives_an_empty_subset() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.csv");
    std::fs::write(&input, "path,viclip_sim,start,end,video_id\n").unwrap();
    let methods = [
        Method::Random { n: 5, seed: 1 },
        Method::Div { n: 5, seed: 1 },
        Method::Flt(FltOptions {
            n: Some(5),
            ..FltOptions::default()
        }),
    ];
    for (k, m) in methods.into_iter().enumerate() {
        let out = dir.path().join(format!("out{k}.csv"));
        let s = subset::build(&SubsetJob::new(&input, &out, m)).unwrap();
        assert_eq!((s.rows_in, s.rows_out), (0, 0));
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, "path,viclip_sim,start,end,video_id\n");
    }
}
