//! The `--texts` files of `tokenize` / `embed-text`: regular files only, lines bounded by
//! `viclip::limits::MAX_LINE_BYTES` (a device or an endless line once cost gigabytes, then an abort).

use std::io::Write;

use viclip::limits::MAX_LINE_BYTES;
use viclip_cli::io::read_texts;

#[cfg(unix)]
#[test]
fn a_device_or_a_fifo_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("zero.jsonl");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
    let e = read_texts(&link).unwrap_err().to_string();
    assert!(
        e.contains("zero.jsonl") && e.contains("character device"),
        "{e}"
    );
    let fifo = dir.path().join("pipe.jsonl");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.expect("mkfifo").success());
    let e = read_texts(&fifo).unwrap_err().to_string();
    assert!(e.contains("pipe.jsonl") && e.contains("FIFO"), "{e}");
}

#[test]
fn a_line_past_the_bound_is_an_error_naming_file_line_and_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("texts.jsonl");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(b"{\"text\": \"a dog\"}\n").expect("write");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(MAX_LINE_BYTES >> 20) + 1 {
        f.write_all(&zeros).expect("write");
    }
    drop(f);
    let e = read_texts(&path).unwrap_err().to_string();
    assert!(
        e.contains("texts.jsonl:2:") && e.contains(&MAX_LINE_BYTES.to_string()),
        "{e}"
    );
    std::fs::write(&path, "{\"text\": \"a dog\"}\r\n\n{\"text\": \"a cat\"}").expect("write");
    assert_eq!(read_texts(&path).expect("texts"), ["a dog", "a cat"]);
}
