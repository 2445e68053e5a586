//! Table readers on hostile files: byte order marks, duplicate column names, integers beyond i64,
//! dictionary-encoded Parquet strings, absurd batch sizes, and seeded random JSONL / CSV bytes that
//! must come back as rows or as errors naming the file, never as a panic.

use std::path::Path;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{Array, DictionaryArray, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use viclip_data::table::{f64_values, Format, ReadOptions, StrColumn, Table, TableWriter};
use viclip_testkit::hostile::Rng;

/// Every batch of `path` read with `opts`; the first error ends the read.
fn read_all(
    path: &Path,
    opts: &ReadOptions,
) -> viclip_data::Result<Vec<viclip_data::table::RowBatch>> {
    Table::open(path)?.batches(opts).collect()
}

fn strings(batches: &[viclip_data::table::RowBatch], col: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let s = StrColumn::new(b, col).expect("column");
        out.extend((0..s.len()).map(|i| s.get(i).map(str::to_string)));
    }
    out
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_first_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl = dir.path().join("a.jsonl");
    std::fs::write(
        &jsonl,
        "\u{feff}{\"text\": \"first\", \"n\": 1}\n{\"text\": \"second\", \"n\": 2}\n",
    )
    .expect("write");
    let batches = read_all(&jsonl, &ReadOptions::default()).expect("BOM jsonl reads");
    assert!(batches.iter().all(|b| b.errors.is_empty()));
    assert_eq!(
        strings(&batches, "text"),
        [Some("first".to_string()), Some("second".to_string())]
    );
    let lenient = ReadOptions {
        lenient: true,
        ..ReadOptions::default()
    };
    let batches = read_all(&jsonl, &lenient).expect("lenient read");
    assert!(batches.iter().all(|b| b.errors.is_empty()), "no bad_row");

    let csv = dir.path().join("a.csv");
    std::fs::write(&csv, "\u{feff}text,n\nfirst,1\n").expect("write");
    let batches = read_all(&csv, &ReadOptions::default()).expect("BOM csv reads");
    assert_eq!(strings(&batches, "text"), [Some("first".to_string())]);
}

#[test]
fn duplicate_column_names_are_an_error_naming_the_column_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("dup.csv");
    std::fs::write(&csv, "path,score,score\na.mp4,1,2\n").expect("write");
    let e = read_all(&csv, &ReadOptions::default())
        .expect_err("duplicate header")
        .to_string();
    assert!(e.contains("`score`") && e.contains("dup.csv"), "{e}");
    let e = Table::open(&csv)
        .and_then(|t| t.column_names())
        .expect_err("names")
        .to_string();
    assert!(e.contains("`score`"), "{e}");
}

#[test]
fn integers_beyond_i64_are_carried_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("ids.jsonl");
    let lines = [
        r#"{"id":18446744073709551615,"small":1,"mixed":-3}"#,
        r#"{"id":9223372036854775808,"small":2,"mixed":18446744073709551615}"#,
        r#"{"id":7,"small":3,"mixed":4}"#,
    ];
    std::fs::write(&src, lines.join("\n") + "\n").expect("write");
    let table = Table::open(&src).expect("open");
    let schema = table.schema().expect("schema");
    assert_eq!(
        schema.field_with_name("id").expect("id").data_type(),
        &DataType::UInt64
    );
    assert_eq!(
        schema.field_with_name("small").expect("small").data_type(),
        &DataType::Int64
    );
    let batches = read_all(&src, &ReadOptions::default()).expect("read");
    let out = dir.path().join("out.jsonl");
    let mut w = TableWriter::create(&out, Format::Jsonl, schema, Vec::new()).expect("writer");
    for b in &batches {
        w.write(&b.batch).expect("write");
    }
    w.finish().expect("finish");
    let written = std::fs::read_to_string(&out).expect("read back");
    let rows: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    for (row, line) in rows.iter().zip(lines) {
        let want: serde_json::Value = serde_json::from_str(line).expect("json");
        // The big integers keep every digit (a float64 would round 18446744073709551615).
        assert_eq!(row["id"].to_string(), want["id"].to_string());
        assert_eq!(row["small"], want["small"]);
        // Negative and above-i64 values in one column keep their JSON text.
        assert_eq!(
            row["mixed"].as_str().map(str::to_string),
            Some(want["mixed"].to_string())
        );
    }
}

#[test]
fn dictionary_encoded_parquet_strings_are_read_as_strings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dict.parquet");
    let captions: DictionaryArray<Int32Type> = vec!["a dog", "a cat", "a dog", "a bird"]
        .into_iter()
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("caption", captions.data_type().clone(), false),
        Field::new("score", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(captions),
            Arc::new(Float64Array::from(vec![0.1, 0.2, 0.3, 0.4])),
        ],
    )
    .expect("batch");
    let f = std::fs::File::create(&path).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");

    let batches = read_all(&path, &ReadOptions::default()).expect("dictionary parquet reads");
    assert_eq!(
        strings(&batches, "caption"),
        ["a dog", "a cat", "a dog", "a bird"].map(|s| Some(s.to_string()))
    );
    let scores: Vec<Option<f64>> = batches
        .iter()
        .flat_map(|b| f64_values(b, "score").expect("score"))
        .collect();
    assert_eq!(scores, [0.1, 0.2, 0.3, 0.4].map(Some));
    // A projected read and a row copy work too.
    let proj = read_all(&path, &ReadOptions::columns(&["caption"])).expect("projected");
    assert_eq!(strings(&proj, "caption").len(), 4);
    let out = dir.path().join("copy.parquet");
    Table::open(&path)
        .expect("open")
        .copy_rows(&[1, 3], &out)
        .expect("copy");
    let copied = read_all(&out, &ReadOptions::default()).expect("copy reads");
    assert_eq!(
        strings(&copied, "caption"),
        [Some("a cat".to_string()), Some("a bird".to_string())]
    );
}

#[test]
fn an_absurd_batch_size_allocates_nothing_absurd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "a,b\n1,2\n3,4\n").expect("write");
    let jsonl = dir.path().join("t.jsonl");
    std::fs::write(&jsonl, "{\"a\":1}\n{\"a\":2}\n").expect("write");
    let opts = ReadOptions {
        batch_size: usize::MAX,
        ..ReadOptions::default()
    };
    for p in [&csv, &jsonl] {
        let rows: usize = read_all(p, &opts)
            .expect("reads")
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(rows, 2);
    }
}

/// Random lines built from pieces that stress the JSON and CSV parsers.
fn hostile_lines(rng: &mut Rng, csv: bool) -> String {
    let json_pieces = [
        "{",
        "}",
        "\"a\"",
        ":",
        ",",
        "1",
        "-1",
        "1e999",
        "18446744073709551616",
        "\"\\u00e9\"",
        "[",
        "]",
        "null",
        "true",
        "\"a\":\"x\"",
        "\u{feff}",
        "\"\\ud800\"",
        "0.5",
        " ",
    ];
    let csv_pieces = [
        "a", ",", "\"", "\"\"", "\r", "\u{feff}", "1", "é", " ", "b,c",
    ];
    let pieces: &[&str] = if csv { &csv_pieces } else { &json_pieces };
    let mut out = String::new();
    if csv {
        out.push_str("a,b\n");
    }
    for _ in 0..rng.below(12) {
        for _ in 0..rng.below(12) {
            out.push_str(pieces[rng.below(pieces.len())]);
        }
        out.push('\n');
    }
    out
}

#[test]
fn random_jsonl_and_csv_bytes_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng::new(11);
    for case in 0..600 {
        let csv = rng.chance(50);
        let path = dir.path().join(if csv { "f.csv" } else { "f.jsonl" });
        let mut bytes = hostile_lines(&mut rng, csv).into_bytes();
        if rng.chance(10) && !bytes.is_empty() {
            // Not UTF-8.
            let i = rng.below(bytes.len());
            bytes[i] = 0xff;
        }
        std::fs::write(&path, &bytes).expect("write");
        let opts = ReadOptions {
            lenient: rng.chance(50),
            batch_size: 1 + rng.below(4),
            infer_rows: 1 + rng.below(4),
            ..ReadOptions::default()
        };
        match read_all(&path, &opts) {
            Ok(batches) => {
                for b in &batches {
                    for f in b.batch.schema().fields() {
                        // Every column reads as text or fails with a message, never a panic.
                        let _ = StrColumn::new(b, f.name());
                        let _ = f64_values(b, f.name());
                    }
                }
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("f."),
                    "case {case}: error without the file: {msg}"
                );
            }
        }
    }
}

#[test]
fn a_table_at_the_column_bound_reads_in_small_batches() {
    // Without a bound on cells per batch, each short row would cost MAX_COLUMNS cells and each batch
    // 8192 × MAX_COLUMNS of them from a file of a few kilobytes. (Wider tables are refused: see
    // tests/table_bounds.rs.)
    let dir = tempfile::tempdir().expect("tempdir");
    let n = viclip_data::table::MAX_COLUMNS;
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let csv = dir.path().join("wide.csv");
    std::fs::write(&csv, header.join(",") + "\n" + &"x\n".repeat(2000)).expect("write");
    let row: Vec<String> = (0..n).map(|i| format!("\"c{i}\":{i}")).collect();
    let jsonl = dir.path().join("wide.jsonl");
    std::fs::write(
        &jsonl,
        format!("{{{}}}\n", row.join(",")) + &"{}\n".repeat(2000),
    )
    .expect("write");
    let lenient = ReadOptions {
        lenient: true,
        ..ReadOptions::default()
    };
    for (p, rows) in [(&csv, 2000), (&jsonl, 2001)] {
        let batches = read_all(p, &lenient).expect("wide table reads");
        let total: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(total, rows, "{}", p.display());
        assert!(batches.len() > 1, "{}", p.display());
        assert!(batches
            .iter()
            .all(|b| b.num_rows() * b.batch.num_columns() <= viclip_data::table::MAX_BATCH_CELLS));
    }
}

#[test]
fn corrupted_parquet_files_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("caption", DataType::Utf8, true),
        Field::new("score", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(arrow_array::StringArray::from(vec!["a", "b", "c"])),
            Arc::new(Float64Array::from(vec![0.1, 0.2, 0.3])),
        ],
    )
    .expect("batch");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&good).expect("create"),
        schema,
        None,
    )
    .expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let bytes = std::fs::read(&good).expect("read");
    let bad = dir.path().join("bad.parquet");
    let mut rng = Rng::new(12);
    for case in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len());
            b[i] = rng.next() as u8;
        }
        if rng.chance(10) {
            b.truncate(rng.below(b.len()));
        }
        std::fs::write(&bad, &b).expect("write");
        let result = std::panic::catch_unwind(|| {
            if let Ok(batches) = read_all(&bad, &ReadOptions::default()) {
                for rb in &batches {
                    let _ = StrColumn::new(rb, "caption");
                    let _ = f64_values(rb, "score");
                }
            }
        });
        assert!(
            result.is_ok(),
            "case {case}: reading a corrupted parquet file panicked"
        );
    }
}
