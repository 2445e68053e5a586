//! Clip tables: timestamps, JSONL and CSV reading with projection and row numbering, copying chosen
//! rows in the input's format (Parquet and the writer: `table_parquet.rs`).

use std::fs;
use std::path::Path;

use arrow_array::Array;
use arrow_schema::DataType;
use viclip_data::table::{
    f64_values, parse_seconds, seconds_values, Format, ReadOptions, StrColumn, Table,
};

const INTERNVID: &str = r#"{"YoutubeID": "abcdefghijk", "Start_timestamp": "00:00:03.160", "End_timestamp": "00:00:05.000", "Caption": "a dog, running", "UMT_Score": 0.41, "Aesthetic_Score": 4}
{"YoutubeID": "abcdefghijk", "Start_timestamp": "00:01:00.000", "End_timestamp": "00:01:30.500", "Caption": "café \"quoted\"", "UMT_Score": 0.38, "Aesthetic_Score": 5.5}

{"YoutubeID": "zzzzzzzzzzz", "Start_timestamp": "12.5", "End_timestamp": "01:02:03.5", "Caption": "three", "UMT_Score": null, "Aesthetic_Score": 3.25, "extra": [1, 2]}
"#;

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
}

fn all_rows(t: &Table, opts: &ReadOptions) -> Vec<viclip_data::table::RowBatch> {
    t.batches(opts).collect::<Result<Vec<_>, _>>().unwrap()
}

#[test]
fn timestamps_parse_leniently() {
    let ok = [
        ("00:00:03.160", 3.16),
        ("01:30", 90.0),
        ("7.25", 7.25),
        (" 12 ", 12.0),
        ("1:02:03.5", 3723.5),
        ("00:00:03,160", 3.16),
        (".5", 0.5),
        ("75:00", 4500.0),
        ("130.5", 130.5),
    ];
    for (s, v) in ok {
        assert!((parse_seconds(s).unwrap() - v).abs() < 1e-9, "{s}");
    }
    for s in [
        "", "abc", "00:61", "1:60:00", "-1", "1:2:3:4", "12.5.3", "inf", "nan", "1e3", ":30", ".",
    ] {
        assert!(parse_seconds(s).is_err(), "{s} should be rejected");
    }
    let msg = parse_seconds("00:61").unwrap_err().to_string();
    assert!(msg.contains("00:61") && msg.contains("HH:MM:SS"), "{msg}");
}

#[test]
fn jsonl_projection_types_and_row_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("clips.jsonl");
    write(&p, INTERNVID);
    let t = Table::open(&p).unwrap();
    assert_eq!(t.format(), Format::Jsonl);
    assert_eq!(
        t.column_names().unwrap(),
        [
            "YoutubeID",
            "Start_timestamp",
            "End_timestamp",
            "Caption",
            "UMT_Score",
            "Aesthetic_Score",
            "extra"
        ]
    );
    assert_eq!(t.count_rows().unwrap(), 3);
    let opts = ReadOptions {
        batch_size: 2,
        ..ReadOptions::columns(&[
            "UMT_Score",
            "Start_timestamp",
            "End_timestamp",
            "Aesthetic_Score",
            "extra",
        ])
    };
    let batches = all_rows(&t, &opts);
    assert_eq!(
        batches
            .iter()
            .map(|b| (b.first_row, b.num_rows()))
            .collect::<Vec<_>>(),
        [(0, 2), (2, 1)]
    );
    let b = &batches[0];
    assert_eq!(b.batch.schema().field(0).name(), "UMT_Score");
    // 4 and 5.5 in one column: Float64.
    assert_eq!(
        b.batch
            .column_by_name("Aesthetic_Score")
            .unwrap()
            .data_type(),
        &DataType::Float64
    );
    assert_eq!(
        f64_values(b, "Aesthetic_Score").unwrap(),
        [Some(4.0), Some(5.5)]
    );
    assert_eq!(f64_values(&batches[1], "UMT_Score").unwrap(), [None]);
    let starts = seconds_values(b, "Start_timestamp").unwrap();
    assert!((starts[0].unwrap() - 3.16).abs() < 1e-12 && starts[1] == Some(60.0));
    assert_eq!(
        seconds_values(&batches[1], "End_timestamp").unwrap(),
        [Some(3723.5)]
    );
    // Arrays and objects are kept as JSON text.
    let extra = StrColumn::new(&batches[1], "extra").unwrap();
    assert_eq!(extra.get(0), Some("[1,2]"));
    let caps = all_rows(&t, &ReadOptions::columns(&["Caption"]));
    assert_eq!(
        StrColumn::new(&caps[0], "Caption").unwrap().get(1),
        Some("café \"quoted\"")
    );
}

#[test]
fn missing_columns_and_bad_lines_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    write(
        &p,
        "{\"a\": 1, \"b\": \"x\"}\n{\"a\": 2, \"b\"\n{\"a\": 3.5, \"b\": \"z\"}\n",
    );
    let t = Table::open(&p).unwrap();
    let err = t
        .batches(&ReadOptions::default())
        .find_map(Result::err)
        .unwrap()
        .to_string();
    assert!(err.contains("bad.jsonl:2: malformed JSON"), "{err}");
    let good = dir.path().join("good.jsonl");
    write(&good, "{\"a\": 1, \"b\": \"x\"}\n");
    let err = Table::open(&good)
        .unwrap()
        .batches(&ReadOptions::columns(&["nope"]))
        .next()
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`nope`") && err.contains("good.jsonl") && err.contains("a, b"),
        "{err}"
    );
    // Lenient: rows in = rows out, the bad row null with its error.
    let opts = ReadOptions {
        lenient: true,
        ..ReadOptions::default()
    };
    let b = all_rows(&t, &opts);
    assert_eq!(b[0].num_rows(), 3);
    assert_eq!(b[0].errors.len(), 1);
    assert_eq!(b[0].errors[0].row, 1);
    assert!(b[0].errors[0].location.ends_with("bad.jsonl:2"));
    assert_eq!(
        f64_values(&b[0], "a").unwrap(),
        [Some(1.0), None, Some(3.5)]
    );

    let csv = dir.path().join("x.csv");
    write(&csv, "path,score\na.mp4,0.5\nb.mp4\n");
    let t = Table::open(&csv).unwrap();
    let err = t
        .batches(&ReadOptions::columns(&["caption"]))
        .next()
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("caption") && err.contains("path, score"),
        "{err}"
    );
    let err = t
        .batches(&ReadOptions::default())
        .find_map(Result::err)
        .unwrap()
        .to_string();
    assert!(err.contains("x.csv:3") && err.contains("1 field"), "{err}");
}

#[test]
fn csv_and_tsv_keep_text_and_copy_field_for_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("clips.csv");
    write(&p, "path,caption,viclip_sim\nv/a.mp4,\"hello, world\",0.25\nv/b.mp4,\"two\nlines\",\nv/c.mp4,plain,0.75\n");
    let t = Table::open(&p).unwrap();
    let b = all_rows(&t, &ReadOptions::default());
    assert_eq!(b[0].num_rows(), 3);
    assert_eq!(
        f64_values(&b[0], "viclip_sim").unwrap(),
        [Some(0.25), None, Some(0.75)]
    );
    assert_eq!(
        StrColumn::new(&b[0], "caption").unwrap().get(1),
        Some("two\nlines")
    );
    let out = dir.path().join("sub.csv");
    assert_eq!(t.copy_rows(&[1, 2], &out).unwrap(), 2);
    let back = all_rows(&Table::open(&out).unwrap(), &ReadOptions::default());
    let cap = StrColumn::new(&back[0], "caption").unwrap();
    assert_eq!(
        (cap.get(0), cap.get(1)),
        (Some("two\nlines"), Some("plain"))
    );
    assert_eq!(
        StrColumn::new(&back[0], "viclip_sim").unwrap().get(0),
        Some("")
    );

    let tsv = dir.path().join("clips.tsv");
    write(&tsv, "path\tscore\na.mp4\t1\nb.mp4\t2\n");
    let t = Table::open(&tsv).unwrap();
    let out = dir.path().join("sub.tsv");
    t.copy_rows(&[1], &out).unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), "path\tscore\nb.mp4\t2\n");
}

#[test]
fn jsonl_rows_are_copied_byte_for_byte_across_shards_in_natural_order() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    fs::create_dir(&shards).unwrap();
    let lines: Vec<String> = (0..6)
        .map(|i| format!("{{\"i\": {i}, \"s\": \"r{i}\"}}"))
        .collect();
    write(
        &shards.join("part_10.jsonl"),
        &format!("{}\n{}\n", lines[3], lines[4]),
    );
    write(
        &shards.join("part_2.jsonl"),
        &format!("{}\n\n{}\n{}", lines[0], lines[1], lines[2]),
    );
    write(&shards.join("part_11.jsonl"), &format!("{}\n", lines[5]));
    write(&shards.join("part_2_stats.json"), "{\"rows\": 3}\n");
    let t = Table::open(&shards).unwrap();
    assert_eq!(t.files().len(), 3);
    let b = all_rows(&t, &ReadOptions::default());
    let is: Vec<f64> = b
        .iter()
        .flat_map(|b| f64_values(b, "i").unwrap())
        .map(Option::unwrap)
        .collect();
    assert_eq!(is, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(b.iter().map(|b| b.first_row).collect::<Vec<_>>(), [0, 3, 5]);
    let out = dir.path().join("sub.jsonl");
    t.copy_rows(&[0, 2, 3, 5], &out).unwrap();
    let want = format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[3], lines[5]);
    assert_eq!(fs::read_to_string(&out).unwrap(), want);
    assert!(t.copy_rows(&[3, 2], &out).is_err());
    let err = t.copy_rows(&[4, 9], &out).unwrap_err().to_string();
    assert!(err.contains("past its end"), "{err}");
}

#[test]
fn jsonl_types_are_fixed_by_the_first_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ints.jsonl");
    write(
        &p,
        "{\"s\": 4, \"t\": \"a\"}\n{\"s\": 5, \"t\": \"b\"}\n{\"s\": 4.5, \"t\": 7}\n",
    );
    let t = Table::open(&p).unwrap();
    let small = ReadOptions {
        infer_rows: 2,
        ..ReadOptions::default()
    };
    // All columns: `s` is Int64 after two rows, so 4.5 on line 3 is an error naming it.
    let err = t.batches(&small).find_map(Result::err).unwrap().to_string();
    assert!(
        err.contains("ints.jsonl:3") && err.contains("read more rows") && err.contains("integer"),
        "{err}"
    );
    // Projected reads take every number as Float64; a number in a text column becomes its text.
    let proj = ReadOptions {
        infer_rows: 2,
        ..ReadOptions::columns(&["s", "t"])
    };
    let b = all_rows(&t, &proj);
    assert_eq!(
        f64_values(&b[0], "s").unwrap(),
        [Some(4.0), Some(5.0), Some(4.5)]
    );
    assert_eq!(StrColumn::new(&b[0], "t").unwrap().get(2), Some("7"));
    // With enough rows to see the fraction, the full read is fine too.
    assert_eq!(all_rows(&t, &ReadOptions::default())[0].num_rows(), 3);
}

#[test]
fn a_failed_write_is_an_output_error_not_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    write(&input, INTERNVID);
    let t = Table::open(&input).unwrap();
    // The output's directory does not exist: the write fails like a full or read-only disk would.
    let missing = dir.path().join("no-such-dir");
    for name in ["out.jsonl", "out.csv", "out.parquet"] {
        let out = missing.join(name);
        let err = t.copy_rows(&[0], &out).unwrap_err();
        match &err {
            viclip_data::Error::Output { path, source } => {
                assert!(path.starts_with(&missing), "{name}: {err}");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "{name}: {err}");
            }
            other => panic!("{name}: expected Error::Output, got {other:?}"),
        }
        assert!(err.to_string().contains("cannot write"), "{err}");
    }
    // A full disk (Linux's /dev/full answers every write with ENOSPC) reads as a failed write.
    let full = Path::new("/dev/full");
    if full.exists() {
        let summary = viclip_data::subset::Summary {
            method: "random".into(),
            input: input.clone(),
            output: dir.path().join("out.jsonl"),
            params: serde_json::json!({}),
            rows_in: 3,
            rows_out: 1,
            videos_in: None,
            videos_out: None,
            video_key: None,
            rows_without_video_id: 0,
            rows_without_span: 0,
            steps: Vec::new(),
            scores: Vec::new(),
            dedup: None,
            seconds: 0.0,
        };
        let err = summary.write_json(full).unwrap_err();
        assert!(
            matches!(&err, viclip_data::Error::Output { path, source }
                if path == full && source.kind() == std::io::ErrorKind::StorageFull),
            "{err:?}"
        );
        assert!(!err.to_string().contains("invalid"), "{err}");
    }
    // The synced-temporary-file helper every JSON record goes through, too.
    let w = viclip_data::atomic::write_atomic(&missing.join("report.json"), b"{}").unwrap_err();
    assert!(matches!(w, viclip_data::Error::Output { .. }), "{w:?}");
}
