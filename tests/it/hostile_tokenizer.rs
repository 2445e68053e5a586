//! The tokenizer on hostile captions: megabyte captions and single megabyte words finish (their time
//! is measured in `tests/tokenizer.rs`'s ignored measurement, never asserted), the early stop after the
//! first `context_length - 2` tokens gives the same ids as the full encoding, and seeded random text from
//! an alphabet of the characters the cleaners treat specially never panics.

use viclip::tokenizer::{Tokenizer, CONTEXT_LENGTH, EOT, PAD, SOT};
use viclip_testkit::hostile::Rng;

fn tokenizer() -> Tokenizer {
    Tokenizer::new().expect("embedded vocabulary")
}

/// `tokenize` from the full `encode`, as the reference defines it (`[SOT] + ids + [EOT]`, the first
/// `context` kept with the last forced to EOT, zero padded).
fn tokenize_from_full(tok: &Tokenizer, text: &str, context: usize) -> Vec<u32> {
    let mut ids = vec![SOT];
    ids.extend(tok.encode(text));
    ids.push(EOT);
    if ids.len() > context {
        ids.truncate(context);
        if let Some(last) = ids.last_mut() {
            *last = EOT;
        }
    }
    ids.resize(context, PAD);
    ids
}

#[test]
fn a_megabyte_caption_tokenizes_like_its_first_words() {
    let tok = tokenizer();
    let sentence = "a man in a red jacket rides a bicycle past the old stone bridge at dusk. ";
    let head: String = sentence.repeat(4);
    let long: String = sentence.repeat(1_000_000 / sentence.len() + 1);
    assert!(long.len() >= 1_000_000);
    // Plain ASCII text: cleaning is per character, so the first 30 tokens of the megabyte are those of
    // its first four sentences (which already hold more than 30).
    let ids = tok.tokenize(&long, CONTEXT_LENGTH);
    assert_eq!(ids, tok.tokenize(&head, CONTEXT_LENGTH));
    assert_eq!(ids[0], SOT);
    assert_eq!(ids[CONTEXT_LENGTH - 1], EOT);
    assert!(!ids.contains(&PAD));
}

#[test]
fn a_megabyte_word_tokenizes() {
    let tok = tokenizer();
    let mut rng = Rng::new(7);
    let word: String = (0..1_000_000)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    let ids = tok.tokenize(&word, CONTEXT_LENGTH);
    assert_eq!(ids.len(), CONTEXT_LENGTH);
    assert_eq!((ids[0], ids[CONTEXT_LENGTH - 1]), (SOT, EOT));
    // A word's BPE tokens spell it: decoding the 30 kept tokens gives a prefix of the word.
    let decoded = tok.decode(&ids);
    assert!(decoded.len() >= 30, "{decoded:?}");
    assert!(word.starts_with(decoded.trim_end()), "{decoded:?}");
    let repeated = "a".repeat(1_000_000);
    let ids = tok.tokenize(&repeated, CONTEXT_LENGTH);
    assert!(repeated.starts_with(tok.decode(&ids).trim_end()));
}

#[test]
fn nested_escapes_finish() {
    let tok = tokenizer();
    // ftfy decodes one level of `&amp;` per round; a deep nesting must not take one round per level.
    let nested = format!("&{}lt;b&gt; caption", "amp;".repeat(250_000));
    let ids = tok.tokenize(&nested, CONTEXT_LENGTH);
    assert_eq!((ids[0], ids.len()), (SOT, CONTEXT_LENGTH));
    // Shallow nesting is decoded exactly as ftfy + html.unescape do: `&amp;amp;lt;` is `<`.
    assert_eq!(
        viclip::tokenizer::clean_text("x &amp;amp;lt; y"),
        viclip::tokenizer::clean_text("x < y")
    );
    // ftfy repeats until nothing changes: a short caption nested 40 levels deep still decodes fully
    // (the round budget only bites on long lines).
    assert_eq!(
        viclip::tokenizer::clean_text(&format!("x &{}lt; y", "amp;".repeat(40))),
        viclip::tokenizer::clean_text("x < y")
    );
}

/// Characters the cleaners treat specially: entities, mojibake bytes, C1 controls, combining marks,
/// final sigma, case-folding literals, whitespace of all kinds, BOM, surrogate-area neighbours, CJK.
const ALPHABET: &[&str] = &[
    "a",
    "b",
    "z",
    "Q",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{3000}",
    "\u{85}",
    "&",
    "amp;",
    "lt;",
    "&#",
    "x41;",
    "#39;",
    ";",
    "1",
    "9",
    "'s",
    "'",
    "ſ",
    "<|endoftext|>",
    "<|",
    "Ã",
    "©",
    "â€",
    "™",
    "\u{80}",
    "\u{9f}",
    "\u{301}",
    "\u{345}",
    "Σ",
    "σ",
    "İ",
    "ﬁ",
    "Ａ",
    "\u{feff}",
    "\u{1b}[1m",
    "\u{fffd}",
    "\u{10ffff}",
    "😀",
    "한",
    "字",
    "!",
    "?",
    "...",
    "\u{200b}",
    "\u{0}",
];

#[test]
fn random_captions_never_panic_and_stop_exactly() {
    let tok = tokenizer();
    let mut rng = Rng::new(9);
    for case in 0..1500 {
        let max = if rng.chance(5) { 2000 } else { 60 };
        let len = rng.below(max);
        let text: String = (0..len).map(|_| *rng.pick(ALPHABET)).collect();
        for context in [0, 1, 2, 5, CONTEXT_LENGTH, 77] {
            let got = tok.tokenize(&text, context);
            let want = tokenize_from_full(&tok, &text, context);
            assert_eq!(got, want, "case {case}, context {context}: {text:?}");
        }
        let full = tok.encode(&text);
        let k = rng.below(full.len() + 2);
        assert_eq!(
            tok.encode_prefix(&text, k),
            full[..k.min(full.len())],
            "case {case}: {text:?}"
        );
    }
}
