//! The byte-level BPE of CLIP's `SimpleTokenizer` (docs/reference/tokenizer.md §3-§4): vocabulary construction from the gzip'd
//! merges file, the word-splitting regex and the merge loop.
//!
//! The vocabulary is built exactly like the original: the 256 `bytes_to_unicode` characters, the same with
//! `</w>`, one entry per merge (the concatenated pair), then `<|startoftext|>` and `<|endoftext|>`. Lookups
//! follow Python dict semantics (a later duplicate overwrites an earlier one).

use std::collections::HashMap;
use std::io::Read;

use super::in_table;
use super::unicode_tables::{REGEX_LETTER, REGEX_NUMBER, REGEX_SPACE, REGEX_UNMATCHED};
use crate::{Error, Result};

/// Largest inflated merges file accepted.
const MAX_VOCAB_TEXT: u64 = 64 << 20;

/// Number of merges used: `merges[1 : 49152 - 256 - 2 + 1]`.
const N_MERGES: usize = 49152 - 256 - 2;

/// The loaded vocabulary and merge table.
pub(crate) struct Bpe {
    /// `encoder`: token string → id.
    encoder: HashMap<String, u32>,
    /// `decoder`: id → token string (`None` where a later duplicate took the string).
    decoder: Vec<Option<String>>,
    /// Id of the byte's character, without and with `</w>`.
    byte_ids: [u32; 256],
    byte_ids_end: [u32; 256],
    /// `(left id, right id)` → `(rank, id of the merged symbol)`.
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// The inverse of `bytes_to_unicode()`.
    byte_decoder: HashMap<char, u8>,
}

/// GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to U+0100 and up.
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let mut bs: Vec<u32> = (u32::from(b'!')..=u32::from(b'~'))
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    bs.iter()
        .zip(&cs)
        .filter_map(|(&b, &c)| Some((u8::try_from(b).ok()?, char::from_u32(c)?)))
        .collect()
}

impl Bpe {
    /// Builds the tokenizer tables from the gzip'd merges file (`source_name` is for error messages).
    pub(crate) fn from_gz(gz: &[u8], source_name: &str) -> Result<Self> {
        let vocab_err = |msg: String| Error::Vocab {
            source_name: source_name.to_string(),
            msg,
        };
        let mut text = String::new();
        // Bounded: a small gzip bomb must not inflate without limit (CLIP's file is 1.3 MB inflated).
        flate2::read::GzDecoder::new(gz)
            .take(MAX_VOCAB_TEXT + 1)
            .read_to_string(&mut text)
            .map_err(|e| vocab_err(format!("not a gzip'd UTF-8 text file: {e}")))?;
        if text.len() as u64 > MAX_VOCAB_TEXT {
            return Err(vocab_err(format!(
                "inflates to more than {MAX_VOCAB_TEXT} bytes; not a BPE merges file"
            )));
        }
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() < N_MERGES + 1 {
            return Err(vocab_err(format!(
                "has {} lines, expected a version line and at least {N_MERGES} merges",
                lines.len()
            )));
        }
        let mut merges = Vec::with_capacity(N_MERGES);
        for (i, line) in lines[1..=N_MERGES].iter().enumerate() {
            // Python's `str.split()` splits on runs of Unicode whitespace.
            let parts: Vec<&str> = line
                .split(super::clean::py_isspace)
                .filter(|p| !p.is_empty())
                .collect();
            match parts.as_slice() {
                [a, b] => merges.push((*a, *b)),
                _ => {
                    return Err(vocab_err(format!(
                        "line {} is not a merge `a b`: {line:?}",
                        i + 2
                    )))
                }
            }
        }

        let pairs = bytes_to_unicode();
        let mut byte_encoder = ['\0'; 256];
        let mut byte_decoder = HashMap::new();
        for &(b, c) in &pairs {
            byte_encoder[usize::from(b)] = c;
            byte_decoder.insert(c, b);
        }
        let mut vocab: Vec<String> = pairs.iter().map(|&(_, c)| c.to_string()).collect();
        vocab.extend(pairs.iter().map(|&(_, c)| format!("{c}</w>")));
        vocab.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        vocab.push("<|startoftext|>".to_string());
        vocab.push("<|endoftext|>".to_string());

        let mut encoder = HashMap::with_capacity(vocab.len());
        for (id, tok) in vocab.iter().enumerate() {
            encoder.insert(tok.clone(), id as u32);
        }
        let mut decoder = vec![None; vocab.len()];
        for (tok, &id) in &encoder {
            decoder[id as usize] = Some(tok.clone());
        }
        let id_of = |s: &str| encoder.get(s).copied();
        let mut byte_ids = [0u32; 256];
        let mut byte_ids_end = [0u32; 256];
        for b in 0..256 {
            let c = byte_encoder[b];
            byte_ids[b] =
                id_of(&c.to_string()).ok_or_else(|| vocab_err(format!("byte {b} missing")))?;
            byte_ids_end[b] =
                id_of(&format!("{c}</w>")).ok_or_else(|| vocab_err(format!("byte {b} missing")))?;
        }
        let mut merge_map = HashMap::with_capacity(merges.len());
        for (rank, (a, b)) in merges.iter().enumerate() {
            // A pair whose halves are not tokens can never occur in a word, so it can be left out.
            if let (Some(ia), Some(ib), Some(im)) = (id_of(a), id_of(b), id_of(&format!("{a}{b}")))
            {
                merge_map.insert((ia, ib), (rank as u32, im));
            }
        }
        Ok(Bpe {
            encoder,
            decoder,
            byte_ids,
            byte_ids_end,
            merges: merge_map,
            byte_decoder,
        })
    }

    /// Number of ids (49408 for CLIP's vocabulary).
    pub(crate) fn vocab_size(&self) -> usize {
        self.decoder.len()
    }

    /// Ids of one piece of text (`SimpleTokenizer.bpe` followed by the encoder lookup), appended to `out`.
    pub(crate) fn encode_piece(&self, piece: &str, out: &mut Vec<u32>) {
        // The BPE cache starts out holding the two special tokens, which map to themselves.
        if piece == "<|startoftext|>" || piece == "<|endoftext|>" {
            if let Some(&id) = self.encoder.get(piece) {
                out.push(id);
                return;
            }
        }
        let bytes = piece.as_bytes();
        let Some((&last, init)) = bytes.split_last() else {
            return;
        };
        let mut word: Vec<u32> = init
            .iter()
            .map(|&b| self.byte_ids[usize::from(b)])
            .collect();
        word.push(self.byte_ids_end[usize::from(last)]);
        super::merge::merge_word(&mut word, &self.merges);
        out.extend(word);
    }

    /// `SimpleTokenizer.decode` for the ids the vocabulary knows (others are skipped).
    pub(crate) fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let Some(Some(tok)) = self.decoder.get(id as usize) else {
                continue;
            };
            bytes.extend(
                tok.chars()
                    .filter_map(|c| self.byte_decoder.get(&c).copied()),
            );
        }
        String::from_utf8_lossy(&bytes).replace("</w>", " ")
    }
}

/// `re.findall` of CLIP's pattern
/// `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`
/// (IGNORECASE, `regex` module) on already lower-cased text.
pub(crate) fn split_words(text: &str) -> impl Iterator<Item = &str> {
    const LITERALS: [&str; 9] = [
        "<|startoftext|>",
        "<|endoftext|>",
        "'s",
        "'t",
        "'re",
        "'ve",
        "'m",
        "'ll",
        "'d",
    ];
    // Lazy, so that a caller that has enough tokens stops splitting.
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < text.len() {
            let rest = &text[pos..];
            let len = LITERALS
                .iter()
                .find_map(|lit| match_literal_ci(rest, lit))
                .or_else(|| run_len(rest, |c| in_table(c, REGEX_LETTER)))
                .or_else(|| {
                    rest.chars()
                        .next()
                        .filter(|&c| in_table(c, REGEX_NUMBER))
                        .map(char::len_utf8)
                })
                .or_else(|| run_len(rest, is_other));
            match len {
                Some(n) => {
                    pos += n;
                    return Some(&rest[..n]);
                }
                None => pos += rest.chars().next().map_or(1, char::len_utf8),
            }
        }
        None
    })
}

/// `[^\s\p{L}\p{N}]` under IGNORECASE.
fn is_other(c: char) -> bool {
    !in_table(c, REGEX_SPACE)
        && !in_table(c, REGEX_LETTER)
        && !in_table(c, REGEX_NUMBER)
        && !in_table(c, REGEX_UNMATCHED)
}

/// Byte length of the longest non-empty prefix whose characters all satisfy `pred`.
fn run_len(s: &str, pred: impl Fn(char) -> bool) -> Option<usize> {
    let n = s
        .char_indices()
        .find(|&(_, c)| !pred(c))
        .map_or(s.len(), |(i, _)| i);
    (n > 0).then_some(n)
}

/// Matches the ASCII literal `lit` at the start of `s` case-insensitively, the way the `regex` module does
/// (simple case folding: besides upper/lower ASCII, `s` also matches U+017F LATIN SMALL LETTER LONG S;
/// tools/gen_ftfy_tables.py checks that no other character is involved).
fn match_literal_ci(s: &str, lit: &str) -> Option<usize> {
    let mut chars = s.char_indices();
    for l in lit.chars() {
        let (_, c) = chars.next()?;
        if !(c.eq_ignore_ascii_case(&l) || (l == 's' && c == '\u{17f}')) {
            return None;
        }
    }
    Some(chars.next().map_or(s.len(), |(i, _)| i))
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn split_like_python() {
        fn split(s: &str) -> Vec<&str> {
            split_words(s).collect()
        }
        assert_eq!(
            split("it's a dog's 123 x!!?"),
            ["it", "'s", "a", "dog", "'s", "1", "2", "3", "x", "!!?"]
        );
        assert_eq!(
            split("a\u{345}b <|ſtartoftext|> 'ſ"),
            ["a", "b", "<|ſtartoftext|>", "'ſ"]
        );
        assert_eq!(split("!<|endoftext|>"), ["!<|", "endoftext", "|>"]);
    }
}
