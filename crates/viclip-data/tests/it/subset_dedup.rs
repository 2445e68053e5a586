//! SemDeDup on planted near-duplicates: random unit vectors (pairwise cosines far below 1 - eps) plus
//! planted exact copies, noisy copies (cosine ~0.999) and a triple, scattered through the table. Exactly
//! one row of each planted group survives, every other row is kept, and the same holds through
//! `subset::build` with clip-retrieval's embedding layout in float16 across two shards.

use std::collections::BTreeSet;

use candle_core::{DType, Device, Tensor};
use viclip_data::subset::{
    self, rng::SplitMix64, semdedup, DedupOptions, EmbeddingMatrix, Method, SubsetJob,
};
use viclip_data::table::{f64_values, ReadOptions, Table};

const D: usize = 32;

fn gaussian(rng: &mut SplitMix64) -> f32 {
    // Box-Muller.
    let (u, v) = (rng.next_f64(), rng.next_f64());
    ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// 150 rows: 130 distinct vectors, with planted duplicates at scattered rows. Returns the rows and
/// the planted groups (row sets whose members are near-duplicates of each other).
fn planted() -> (Vec<Vec<f32>>, Vec<Vec<usize>>) {
    let mut rng = SplitMix64::new(7);
    let mut rows: Vec<Option<Vec<f32>>> = vec![None; 150];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut free: Vec<usize> = (0..150).collect();
    // Scatter: a deterministic shuffle of the row slots.
    for i in (1..free.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        free.swap(i, j);
    }
    let mut take = || free.pop().unwrap_or_default();
    let fresh = |rng: &mut SplitMix64| unit((0..D).map(|_| gaussian(rng)).collect());
    // 8 exact copies, 8 noisy copies, 1 triple (original + 2 noisy) = 8*2 + 8*2 + 3 = 35 rows in groups.
    for kind in 0..17 {
        let base: Vec<f32> = fresh(&mut rng);
        let copies = if kind == 16 { 2 } else { 1 };
        let mut g = vec![take()];
        rows[g[0]] = Some(base.clone());
        for _ in 0..copies {
            let r = take();
            let v = if kind < 8 {
                base.clone()
            } else {
                unit(base.iter().map(|x| x + 0.01 * gaussian(&mut rng)).collect())
            };
            rows[r] = Some(v);
            g.push(r);
        }
        g.sort_unstable();
        groups.push(g);
    }
    let rows = rows
        .into_iter()
        .map(|r| r.unwrap_or_else(|| fresh(&mut rng)))
        .collect();
    (rows, groups)
}

fn check(dropped: &BTreeSet<usize>, groups: &[Vec<usize>]) {
    let planted: usize = groups.iter().map(|g| g.len() - 1).sum();
    assert_eq!(dropped.len(), planted, "dropped {dropped:?}");
    for g in groups {
        let survivors = g.iter().filter(|r| !dropped.contains(r)).count();
        assert_eq!(survivors, 1, "group {g:?}, dropped {dropped:?}");
    }
    let in_groups: BTreeSet<usize> = groups.iter().flatten().copied().collect();
    assert!(
        dropped.is_subset(&in_groups),
        "a distinct row was dropped: {dropped:?}"
    );
}

#[test]
fn planted_near_duplicates_and_only_they_are_removed() {
    let (rows, groups) = planted();
    let emb = EmbeddingMatrix::from_rows(&rows).unwrap();
    let opts = DedupOptions {
        eps: 0.05,
        sweep: vec![1e-6, 0.9],
        clusters: 4,
        iters: 20,
        seed: 42,
    };
    let d = semdedup(&emb, &opts).unwrap();
    let dropped: BTreeSet<usize> = d.dropped[0].1.iter().map(|&r| r as usize).collect();
    check(&dropped, &groups);
    // Exact copies tie in distance to their centroid: the earlier row is kept.
    for g in &groups[..8] {
        assert!(!dropped.contains(&g[0]) && dropped.contains(&g[1]), "{g:?}");
    }
    // eps ~ 0: only the exact copies go; a large eps (cosine > 0.1) drops distinct rows too.
    assert_eq!(d.dropped[1].1.len(), 8);
    assert!(d.dropped[2].1.len() > 30, "{}", d.dropped[2].1.len());
    // Deterministic.
    assert_eq!(semdedup(&emb, &opts).unwrap().dropped, d.dropped);
}

#[test]
fn dedup_through_build_with_float16_shards() {
    let (mut rows, groups) = planted();
    // A failed clip's zero embedding: kept, not compared.
    rows.push(vec![0.0; D]);
    let n = rows.len();
    let dir = tempfile::tempdir().unwrap();
    let emb_dir = dir.path().join("emb");
    std::fs::create_dir_all(emb_dir.join("video_emb")).unwrap();
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let t = Tensor::from_vec(flat, (n, D), &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F16)
        .unwrap();
    // Shards 0, 1 and 10 (read in natural order, so 10 comes last).
    t.narrow(0, 0, 60)
        .unwrap()
        .write_npy(emb_dir.join("video_emb/video_emb_0.npy"))
        .unwrap();
    t.narrow(0, 60, 60)
        .unwrap()
        .write_npy(emb_dir.join("video_emb/video_emb_1.npy"))
        .unwrap();
    t.narrow(0, 120, n - 120)
        .unwrap()
        .write_npy(emb_dir.join("video_emb/video_emb_10.npy"))
        .unwrap();
    let table = dir.path().join("scored.jsonl");
    let text: String = (0..n)
        .map(|i| format!("{{\"row\": {i}, \"viclip_sim\": 0.{i:03}}}\n"))
        .collect();
    std::fs::write(&table, text).unwrap();
    let out = dir.path().join("dedup.jsonl");
    let method = Method::Dedup {
        embeddings: emb_dir.clone(),
        kind: "video".into(),
        opts: DedupOptions {
            eps: 0.05,
            sweep: vec![0.01],
            clusters: 4,
            ..DedupOptions::default()
        },
    };
    let s = subset::build(&SubsetJob::new(&table, &out, method)).unwrap();
    let kept: BTreeSet<usize> = Table::open(&out)
        .unwrap()
        .batches(&ReadOptions::columns(&["row"]))
        .flat_map(|b| f64_values(&b.unwrap(), "row").unwrap())
        .map(|v| v.unwrap_or(-1.0) as usize)
        .collect();
    let dropped: BTreeSet<usize> = (0..n).filter(|r| !kept.contains(r)).collect();
    check(&dropped, &groups);
    assert!(kept.contains(&(n - 1)));
    let report = s.dedup.unwrap();
    assert_eq!(report.rows_without_embedding, 1);
    assert_eq!(report.kept_fraction[0].0, 0.05);
    assert!((report.kept_fraction[0].1 - (1.0 - 18.0 / 150.0)).abs() < 1e-12);
    assert_eq!(s.rows_out as usize, n - 18);
    // Embeddings of another table: a clear error.
    std::fs::write(&table, "{\"row\": 0}\n").unwrap();
    let method = Method::Dedup {
        embeddings: emb_dir,
        kind: "video".into(),
        opts: DedupOptions::default(),
    };
    let err = subset::build(&SubsetJob::new(&table, &out, method))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("151 embedding rows") && err.contains("1 rows"),
        "{err}"
    );
}

#[test]
fn empty_and_embedding_less_inputs_do_not_fail() {
    for rows in [vec![], vec![vec![0.0f32; 4]; 3]] {
        let emb = EmbeddingMatrix::from_rows(&rows).unwrap();
        let d = semdedup(&emb, &DedupOptions::default()).unwrap();
        assert!(d.dropped[0].1.is_empty());
    }
    assert!(EmbeddingMatrix::from_rows(&[vec![1.0], vec![1.0, 2.0]]).is_err());
    let bad = DedupOptions {
        eps: 3.0,
        ..DedupOptions::default()
    };
    let one = EmbeddingMatrix::from_rows(&[vec![1.0, 0.0]]).unwrap();
    assert!(semdedup(&one, &bad).is_err());
}
