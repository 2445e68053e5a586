//! Parquet tables (what `viclip score` writes): row selection across row groups keeps the schema and
//! key-value metadata; conversion to CSV / JSONL; the atomic writer round-trips every format.

use std::fs;
use std::sync::Arc;

use arrow_array::{Array, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use viclip_data::table::{
    f64_values, Format, ReadOptions, RowBatch, StrColumn, Table, TableWriter,
};

fn all_rows(t: &Table, opts: &ReadOptions) -> Vec<RowBatch> {
    t.batches(opts).collect::<Result<Vec<_>, _>>().unwrap()
}

fn scored_batch(start: i64, n: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("path", DataType::Utf8, true),
        Field::new("viclip_sim", DataType::Float32, true),
    ]));
    let ids: Vec<i64> = (start..start + n as i64).collect();
    let paths: Vec<Option<String>> = ids
        .iter()
        .map(|i| (i % 5 != 4).then(|| format!("vid/{i:03}.mp4")))
        .collect();
    let sims: Vec<Option<f32>> = ids
        .iter()
        .map(|&i| (i % 7 != 6).then_some(i as f32 / 100.0))
        .collect();
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(paths)),
            Arc::new(Float32Array::from(sims)),
        ],
    )
    .unwrap()
}

#[test]
fn parquet_row_selection_keeps_schema_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scored.parquet");
    // Row groups of 7 rows, so the chosen rows fall in several groups and some groups are skipped.
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(7))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "viclip.model".into(),
            "tiny_a".to_string(),
        )]))
        .build();
    let mut w = ArrowWriter::try_new(
        fs::File::create(&p).unwrap(),
        scored_batch(0, 1).schema(),
        Some(props),
    )
    .unwrap();
    w.write(&scored_batch(0, 30)).unwrap();
    w.write(&scored_batch(30, 20)).unwrap();
    w.close().unwrap();
    let t = Table::open(&p).unwrap();
    assert_eq!(t.count_rows().unwrap(), 50);
    let b = all_rows(&t, &ReadOptions::columns(&["viclip_sim"]));
    assert_eq!(b[0].batch.num_columns(), 1);
    let sims: Vec<Option<f64>> = b
        .iter()
        .flat_map(|b| f64_values(b, "viclip_sim").unwrap())
        .collect();
    assert_eq!(sims.len(), 50);
    assert_eq!(sims[6], None);
    assert!((sims[7].unwrap() - 0.07).abs() < 1e-6);

    let rows = [0u64, 1, 6, 13, 14, 15, 29, 30, 49];
    let out = dir.path().join("sub.parquet");
    assert_eq!(t.copy_rows(&rows, &out).unwrap(), rows.len() as u64);
    let r = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&out).unwrap()).unwrap();
    let kv = r
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    assert!(
        kv.iter()
            .any(|k| k.key == "viclip.model" && k.value.as_deref() == Some("tiny_a")),
        "{kv:?}"
    );
    assert_eq!(r.schema().fields(), scored_batch(0, 1).schema().fields());
    let got: Vec<i64> = r
        .build()
        .unwrap()
        .flat_map(|b| {
            let b = b.unwrap();
            let a = b
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone();
            a.values().to_vec()
        })
        .collect();
    assert_eq!(got, rows.map(|r| r as i64));

    // To another format: through arrow batches.
    let csv = dir.path().join("sub.csv");
    t.copy_rows(&[4, 5, 6], &csv).unwrap();
    assert_eq!(
        fs::read_to_string(&csv).unwrap(),
        "id,path,viclip_sim\n4,,0.04\n5,vid/005.mp4,0.05\n6,vid/006.mp4,\n"
    );
    let jsonl = dir.path().join("sub.jsonl");
    t.copy_rows(&[5, 6], &jsonl).unwrap();
    assert_eq!(
        fs::read_to_string(&jsonl).unwrap(),
        "{\"id\":5,\"path\":\"vid/005.mp4\",\"viclip_sim\":0.05}\n{\"id\":6,\"path\":\"vid/006.mp4\",\"viclip_sim\":null}\n"
    );
}

#[test]
fn writer_is_atomic_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for format in [Format::Parquet, Format::Jsonl, Format::Csv, Format::Tsv] {
        let out = dir.path().join(format!("out.{}", format.extension()));
        let batch = scored_batch(0, 12);
        let mut w = TableWriter::create(
            &out,
            format,
            batch.schema(),
            vec![KeyValue::new("k".into(), "v".to_string())],
        )
        .unwrap();
        w.write(&batch).unwrap();
        assert!(!out.exists(), "{format:?}: visible before finish");
        assert_eq!(w.finish().unwrap(), 12);
        let t = Table::open(&out).unwrap();
        let b = all_rows(&t, &ReadOptions::default());
        let sims: Vec<Option<f64>> = b
            .iter()
            .flat_map(|b| f64_values(b, "viclip_sim").unwrap())
            .collect();
        assert_eq!(sims.len(), 12, "{format:?}");
        assert_eq!(sims[6], None, "{format:?}");
        assert!((sims[11].unwrap() - 0.11).abs() < 1e-6, "{format:?}");
        let paths = StrColumn::new(&b[0], "path").unwrap();
        assert_eq!(paths.get(3), Some("vid/003.mp4"), "{format:?}");
    }
    // Dropped without finish: nothing under either name.
    let out = dir.path().join("dropped.parquet");
    let mut w = TableWriter::create(
        &out,
        Format::Parquet,
        scored_batch(0, 1).schema(),
        Vec::new(),
    )
    .unwrap();
    w.write(&scored_batch(0, 3)).unwrap();
    drop(w);
    assert!(!out.exists() && !dir.path().join("dropped.parquet.tmp").exists());
}
