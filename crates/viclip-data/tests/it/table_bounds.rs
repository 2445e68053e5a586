//! The bounds on what a table file can make a reader do (docs/limits.md, Tables and Opening files):
//! lines and records of at most `MAX_LINE_BYTES`, at most `MAX_COLUMNS` columns, quoted CSV fields
//! that close within `MAX_QUOTED_FIELD_LINES` lines, and regular files only, refused by name otherwise.

use std::io::Write;
use std::path::Path;

use viclip::limits::MAX_LINE_BYTES;
use viclip_data::table::{ReadOptions, RowBatch, StrColumn, Table, MAX_COLUMNS};

fn read_all(path: &Path, opts: &ReadOptions) -> viclip_data::Result<Vec<RowBatch>> {
    Table::open(path)?.batches(opts).collect()
}

fn lenient() -> ReadOptions {
    ReadOptions {
        lenient: true,
        ..ReadOptions::default()
    }
}

/// `head`, then more than `MAX_LINE_BYTES` zero bytes without a newline, then `tail`.
fn write_endless_line(path: &Path, head: &str, tail: &str) {
    let mut f = std::fs::File::create(path).expect("create");
    f.write_all(head.as_bytes()).expect("write");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(MAX_LINE_BYTES >> 20) + 1 {
        f.write_all(&zeros).expect("write");
    }
    f.write_all(tail.as_bytes()).expect("write");
}

#[test]
fn a_line_past_the_bound_is_an_error_naming_file_line_and_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bound = MAX_LINE_BYTES.to_string();
    let jsonl = dir.path().join("zeros.jsonl");
    write_endless_line(&jsonl, "{\"text\": \"a\"}\n", "\n{\"text\": \"c\"}\n");
    let e = read_all(&jsonl, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("zeros.jsonl:2:") && e.contains(&bound), "{e}");
    // Lenient (the score job): the long line is one failed row, rows in = rows out.
    let batches = read_all(&jsonl, &lenient()).expect("lenient read");
    let rows: usize = batches.iter().map(RowBatch::num_rows).sum();
    let errors: Vec<_> = batches.iter().flat_map(|b| b.errors.clone()).collect();
    assert_eq!(rows, 3);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].location.ends_with("zeros.jsonl:2"), "{errors:?}");
    // The verbatim copy of a subset skips it, and refuses to copy it.
    let t = Table::open(&jsonl).expect("open");
    let out = dir.path().join("out.jsonl");
    assert_eq!(t.copy_rows(&[0, 2], &out).expect("copy"), 2);
    assert!(t
        .copy_rows(&[1], &out)
        .unwrap_err()
        .to_string()
        .contains(&bound));

    let csv = dir.path().join("zeros.csv");
    write_endless_line(&csv, "video,caption\na.mp4,a dog\nb.mp4,", "\n");
    let e = read_all(&csv, &lenient()).unwrap_err().to_string();
    assert!(e.contains("zeros.csv:3:") && e.contains(&bound), "{e}");
}

#[cfg(unix)]
#[test]
fn devices_fifos_and_directories_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Table::open("/dev/zero").unwrap_err().to_string();
    assert!(
        e.contains("/dev/zero") && e.contains("character device"),
        "{e}"
    );
    let link = dir.path().join("zero.jsonl");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
    let e = Table::open(&link).unwrap_err().to_string();
    assert!(
        e.contains("zero.jsonl") && e.contains("character device"),
        "{e}"
    );
    let fifo = dir.path().join("pipe.csv");
    // Nothing ever writes to the FIFO: a blocking open to read it would never return.
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.expect("mkfifo").success());
    let e = Table::open(&fifo).unwrap_err().to_string();
    assert!(e.contains("pipe.csv") && e.contains("FIFO"), "{e}");
    let a = dir.path().join("loop_a.jsonl");
    std::os::unix::fs::symlink(dir.path().join("loop_b.jsonl"), &a).expect("symlink");
    std::os::unix::fs::symlink(&a, dir.path().join("loop_b.jsonl")).expect("symlink");
    let e = Table::open(&a).unwrap_err().to_string();
    assert!(
        e.contains("loop_a.jsonl") && e.contains("symlink loop"),
        "{e}"
    );
}

#[test]
fn more_columns_than_the_bound_is_an_error_naming_file_and_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = MAX_COLUMNS + 1;
    let csv = dir.path().join("wide.csv");
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    std::fs::write(&csv, header.join(",") + "\n").expect("write");
    let e = read_all(&csv, &lenient()).unwrap_err().to_string();
    assert!(
        e.contains("wide.csv") && e.contains(&format!("{n} columns")),
        "{e}"
    );
    let jsonl = dir.path().join("wide.jsonl");
    let row: Vec<String> = (0..n).map(|i| format!("\"c{i}\":{i}")).collect();
    std::fs::write(&jsonl, format!("{{\"a\":1}}\n{{{}}}\n", row.join(","))).expect("write");
    let e = read_all(&jsonl, &lenient()).unwrap_err().to_string();
    assert!(
        e.contains("wide.jsonl:2") && e.contains(&format!("more than {MAX_COLUMNS}")),
        "{e}"
    );
}

#[test]
fn an_unbalanced_quote_is_an_error_naming_the_line_where_it_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("quote.csv");
    // Without the check: 3 records in, 1 row out, its caption holding the next two records.
    std::fs::write(
        &csv,
        "video,caption\na.mp4,\"a dog\nb.mp4,a cat\nc.mp4,a cow\n",
    )
    .expect("write");
    for opts in [ReadOptions::default(), lenient()] {
        let e = read_all(&csv, &opts).unwrap_err().to_string();
        assert!(
            e.contains("quote.csv:2:") && e.contains("still open at the end"),
            "{e}"
        );
    }
    // The same with a later stray quote closing it far below.
    let mut text = "video,caption\na.mp4,\"a dog\n".to_string();
    for i in 0..200 {
        text.push_str(&format!("v{i}.mp4,caption {i}\n"));
    }
    text.push_str("z.mp4,the end\"\n");
    std::fs::write(&csv, text).expect("write");
    let e = read_all(&csv, &lenient()).unwrap_err().to_string();
    assert!(
        e.contains("quote.csv:2:") && e.contains("spans more than"),
        "{e}"
    );
    // Quoted line breaks and escaped quotes are CSV all the same.
    std::fs::write(
        &csv,
        "video,caption\na.mp4,\"two\nlines, \"\"quoted\"\"\"\nb.mp4,x\"y\n",
    )
    .expect("write");
    let batches = read_all(&csv, &ReadOptions::default()).expect("legal csv");
    let col = StrColumn::new(&batches[0], "caption").expect("caption");
    assert_eq!(col.get(0), Some("two\nlines, \"quoted\""));
    assert_eq!(col.get(1), Some("x\"y"));
}
