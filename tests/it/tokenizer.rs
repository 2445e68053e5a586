//! The CLIP tokenizer against the original Python `SimpleTokenizer` (ftfy 6.3.1 + html.unescape + BPE,
//! docs/reference/tokenizer.md): the golden dev captions, the tiny_a captions, and extra edge cases generated with
//! `tools/gen_tokenizer_cases.py`.

use std::path::Path;

use serde_json::Value;
use viclip::tokenizer::{
    clean_text, fix_text, html_unescape, Tokenizer, CONTEXT_LENGTH, EOT, PAD, SOT,
};

fn load(rel: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u32)
                .collect()
        })
        .unwrap_or_default()
}

fn tokenizer() -> Tokenizer {
    Tokenizer::new().expect("embedded vocabulary loads")
}

/// Checks every case (optionally also `fixed` and `cleaned`). Panics with the number of
/// mismatches and the first few failing captions.
fn check_cases(name: &str, cases: &[Value], check_fixed: bool, check_cleaned: bool) {
    let tok = tokenizer();
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let mut problems = Vec::new();
        if check_fixed {
            let got = fix_text(text);
            if got != case["fixed"].as_str().expect("fixed") {
                problems.push(format!("fix_text {got:?} != {:?}", case["fixed"]));
            }
        }
        if check_cleaned {
            let got = clean_text(text);
            if got != case["cleaned"].as_str().expect("cleaned") {
                problems.push(format!("clean_text {got:?} != {:?}", case["cleaned"]));
            }
        }
        let got = tok.encode(text);
        if got != ids(&case["bpe_ids"]) {
            problems.push(format!("encode {got:?} != {:?}", ids(&case["bpe_ids"])));
        }
        let got = tok.tokenize(text, 32);
        if got != ids(&case["input_ids_ctx32"]) {
            problems.push(format!(
                "tokenize {got:?} != {:?}",
                ids(&case["input_ids_ctx32"])
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{text:?}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {}/{} captions mismatch; first ones:\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!("{name}: {}/{} captions match", cases.len(), cases.len());
}

#[test]
fn dev_captions_match_reference() {
    let dev = load("tokenizer_dev.json");
    let cases = dev["captions"].as_array().expect("captions");
    assert_eq!(cases.len(), 657);
    check_cases("tokenizer_dev.json", cases, false, false);
}

#[test]
fn tiny_a_captions_match_reference() {
    let tiny = load("tiny_a/captions.json");
    assert_eq!(tiny["sot_id"].as_u64(), Some(u64::from(SOT)));
    assert_eq!(tiny["eot_id"].as_u64(), Some(u64::from(EOT)));
    assert_eq!(tiny["context_length"].as_u64(), Some(CONTEXT_LENGTH as u64));
    let cases = tiny["captions"].as_array().expect("captions");
    check_cases("tiny_a/captions.json", cases, false, true);
    let tok = tokenizer();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        assert_eq!(
            tok.tokenize(text, 77),
            ids(&case["input_ids_ctx77"]),
            "ctx 77: {text:?}"
        );
    }
}

#[test]
fn extra_cases_match_reference() {
    let extra = load("tokenizer_extra.json");
    let cases = extra["cases"].as_array().expect("cases");
    assert!(cases.len() >= 300);
    check_cases("tokenizer_extra.json", cases, true, true);
}

#[test]
fn truncation_keeps_eot_last() {
    let tok = tokenizer();
    let words = |n: usize| vec!["a"; n].join(" ");
    let a = tok.encode("a");
    assert_eq!(a.len(), 1);
    let t30 = tok.tokenize(&words(30), 32);
    assert_eq!(tok.encode(&words(30)).len(), 30);
    assert_eq!(t30[0], SOT);
    assert_eq!(t30[31], EOT);
    assert!(t30[1..31].iter().all(|&id| id == a[0]));
    // 31 tokens: cut to 32 ids with the last forced to EOT, identical to the 30-token caption.
    assert_eq!(tok.tokenize(&words(31), 32), t30);
    assert_eq!(tok.tokenize(&words(200), 32), t30);
    // 29 tokens leave one pad.
    let t29 = tok.tokenize(&words(29), 32);
    assert_eq!((t29[30], t29[31]), (EOT, PAD));
}

#[test]
fn empty_and_special_tokens() {
    let tok = tokenizer();
    let mut empty = vec![PAD; 32];
    empty[0] = SOT;
    empty[1] = EOT;
    assert_eq!(tok.tokenize("", 32), empty);
    assert_eq!(tok.tokenize(" \t\n ", 32), empty);
    assert!(tok.encode("").is_empty());

    let ids = tok.encode("a <|endoftext|> b");
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[1], EOT);
    assert_eq!(tok.encode("<|startoftext|>"), vec![SOT]);
    assert_eq!(tok.tokenize("x", 0), Vec::<u32>::new());
    assert_eq!(tok.tokenize("hello world", 2), vec![SOT, EOT]);
}

#[test]
fn batch_and_decode() {
    let tok = tokenizer();
    let batch = tok.tokenize_batch(&["a dog", "", "a cat"], CONTEXT_LENGTH);
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[2], tok.tokenize("a cat", CONTEXT_LENGTH));
    assert_eq!(tok.decode(&batch[0]), "a dog ");
    assert_eq!(
        tok.decode(&tok.encode("Hello, World! It's café")),
        "hello , world ! it 's café "
    );
    let clone = tok.clone();
    let handle = std::thread::spawn(move || clone.encode("threads"));
    assert_eq!(handle.join().expect("thread"), tok.encode("threads"));
}

#[test]
fn vocabulary_from_file_and_errors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/bpe_simple_vocab_16e6.txt.gz");
    let tok = Tokenizer::from_gz_file(&path).expect("vocab file loads");
    assert_eq!(tok.encode("a red car"), tokenizer().encode("a red car"));
    let missing = Tokenizer::from_gz_file(Path::new("/nonexistent/vocab.txt.gz"));
    assert!(matches!(missing, Err(viclip::Error::Io { .. })));
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.gz");
    std::fs::write(&bad, b"not gzip").expect("write");
    assert!(matches!(
        Tokenizer::from_gz_file(&bad),
        Err(viclip::Error::Vocab { .. })
    ));
}

#[test]
fn public_cleaning_functions() {
    assert_eq!(
        fix_text("The Mona Lisa doesnâ€™t have eyebrows."),
        "The Mona Lisa doesn't have eyebrows."
    );
    assert_eq!(html_unescape("&amp;amp; &#x41;"), "&amp; A");
    assert_eq!(clean_text("  ＡＢＣ  ﬁne  "), "abc fine");
}

/// `VICLIP_TOKENIZER_FUZZ=/tmp/fuzz.json cargo test -p viclip --test it -- --ignored
/// tokenizer::fuzz_against_python` with a file written by
/// `tools/gen_tokenizer_cases.py --fuzz /tmp/fuzz.json 30000`.
#[test]
#[ignore = "needs a fuzz file from tools/gen_tokenizer_cases.py --fuzz"]
fn fuzz_against_python() {
    let Ok(path) = std::env::var("VICLIP_TOKENIZER_FUZZ") else {
        return;
    };
    let rows: Vec<(String, String, String, Vec<u32>)> =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("fuzz file"))
            .expect("fuzz json");
    let tok = tokenizer();
    let bad: Vec<String> = rows
        .iter()
        .filter(|(text, fixed, cleaned, ids)| {
            fix_text(text) != *fixed || clean_text(text) != *cleaned || tok.encode(text) != *ids
        })
        .map(|(text, fixed, cleaned, _)| {
            format!(
                "{text:?}: rust {:?} / {:?}, python {fixed:?} / {cleaned:?}",
                fix_text(text),
                clean_text(text)
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{}/{} fuzz rows differ:\n{}",
        bad.len(),
        rows.len(),
        bad[..bad.len().min(10)].join("\n")
    );
}

/// Hostile caption shapes for the timing measurement: `(name, text)` of about `n` bytes each.
fn hostile_captions(n: usize) -> Vec<(String, String)> {
    let words = "a man in a red jacket rides a bicycle past the old stone bridge at dusk ";
    let normal: String = words.chars().cycle().take(n).collect();
    let word: String = "abcdefghij".chars().cycle().take(n).collect();
    let same: String = "a".repeat(n);
    // Random letters: each BPE round of the reference merges one of many distinct pairs.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let random: String = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let entities: String = "&amp;".chars().cycle().take(n).collect();
    let nested = format!("&{}lt;", "amp;".repeat(n / 4));
    let mojibake: String = "cafÃ© ".chars().cycle().take(n / 2).collect();
    vec![
        (format!("nested &amp;amp;..., {n} bytes"), nested),
        (format!("mojibake, {n} bytes"), mojibake),
        (format!("normal text, {n} bytes"), normal),
        (format!("one word, {n} bytes"), word),
        (format!("one word of random letters, {n} bytes"), random),
        (format!("one repeated letter, {n} bytes"), same),
        (format!("&amp; repeated, {n} bytes"), entities),
    ]
}

/// Tokenizer time on hostile captions (printed, never asserted):
/// `VICLIP_TOKENIZER_SIZES=100000,1000000 cargo test -p viclip --test it -- --ignored --nocapture
/// tokenizer::measure`
/// (`VICLIP_TOKENIZER_CASES=word` keeps the cases whose name contains `word`).
#[test]
#[ignore = "measurement; prints timings"]
fn measure_hostile_caption_time() {
    let sizes: Vec<usize> = std::env::var("VICLIP_TOKENIZER_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let tok = tokenizer();
    for n in sizes {
        let only = std::env::var("VICLIP_TOKENIZER_CASES").unwrap_or_default();
        for (name, text) in hostile_captions(n) {
            if !name.contains(only.as_str()) {
                continue;
            }
            let t0 = std::time::Instant::now();
            let ids = tok.tokenize(&text, CONTEXT_LENGTH);
            let dt = t0.elapsed();
            assert_eq!(ids.len(), CONTEXT_LENGTH);
            println!("{name}: {:.3} s", dt.as_secs_f64());
        }
    }
}
