//! Port of ftfy 6.3.1 `fix_text` with the default `TextFixerConfig` (docs/reference/tokenizer.md §2.1: CLIP's `basic_clean`
//! starts with it, so mojibake, curly quotes, ligatures and full-width letters change the token ids).
//!
//! This file holds the driver (`fix_text`, `fix_and_explain`) and the simple fixers of `ftfy/fixes.py`;
//! `ftfy_encoding` ports `fix_encoding` (re-decoding mojibake) and `ftfy_badness` the mojibake detectors.
//! Surrogates cannot occur in a Rust `str`, so `fix_surrogates` has nothing to do and is left out.

use unicode_normalization::UnicodeNormalization;

use super::clean::per_known_run;
use super::ftfy_encoding::{fix_encoding, sloppy_1252_char};
use super::ftfy_tables::{FTFY_UPPER_ENTITIES, LIGATURES, WIDTH_MAP};
use super::html::{html_unescape, lookup as html5_lookup};
use super::in_table;
use super::unicode_tables::PY_DIGIT;

/// ftfy's `max_decode_length`: the longest segment (in code points) fixed in one piece.
const MAX_DECODE_LENGTH: usize = 1_000_000;

/// `ftfy.fix_text(text)` with the default configuration.
///
/// The text is fixed line by line (each segment keeps its `\n`). HTML entities are decoded in "auto" mode:
/// once a segment contains `<`, the text is taken for HTML and entity decoding stays off for that segment
/// and every later one (ftfy replaces its config object inside the loop).
pub fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut unescape = true;
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        if let Some((cut, _)) = rest[..end].char_indices().nth(MAX_DECODE_LENGTH) {
            end = cut;
        }
        let segment = &rest[..end];
        if unescape && segment.contains('<') {
            unescape = false;
        }
        out.push_str(&fix_segment(segment, unescape));
        rest = &rest[end..];
    }
    out
}

/// Work budget of [`fix_segment`], in characters × rounds. ftfy repeats its fixers until nothing
/// changes, which takes one round per level of nested escaping (`&amp;amp;amp;...` needs one per
/// `amp;`), so a hostile caption of nested entities costs rounds × length, quadratic in its size.
/// A segment of `n` characters gets `max(MIN_FIX_ROUNDS, FIX_BUDGET / n)` rounds: every caption under
/// 16 kB gets at least a thousand rounds (exact in practice: real text settles in two or three), and a
/// 1 MB line still ends after 16. Past the budget the text is taken as it is (docs/limits.md).
pub(crate) const FIX_BUDGET: usize = 1 << 24;
/// Rounds a segment always gets, however long (see [`FIX_BUDGET`]).
pub(crate) const MIN_FIX_ROUNDS: usize = 16;

/// Rounds allowed for a segment of `chars` characters (see [`FIX_BUDGET`]).
pub(crate) fn max_fix_rounds(chars: usize) -> usize {
    (FIX_BUDGET / chars.max(1)).max(MIN_FIX_ROUNDS)
}

/// `fix_and_explain` without the explanation: apply every fixer, in ftfy's order, until nothing changes
/// (or [`max_fix_rounds`] rounds have run).
fn fix_segment(segment: &str, unescape: bool) -> String {
    let mut text = segment.to_string();
    for _ in 0..max_fix_rounds(segment.chars().count()) {
        let orig = text.clone();
        if unescape {
            text = unescape_html(&text);
        }
        text = fix_encoding(&text);
        text = fix_c1_controls(&text);
        text = fix_latin_ligatures(&text);
        text = fix_character_width(&text);
        text = uncurl_quotes(&text);
        text = fix_line_breaks(&text);
        text = remove_terminal_escapes(&text);
        text = remove_control_chars(&text);
        // NFC with the reference interpreter's view of which characters exist (see `per_known_run`).
        text = per_known_run(&text, |run| run.nfc().collect());
        if text == orig {
            break;
        }
    }
    text
}

/// `fixes.unescape_html`: decodes `&name;` / `&#...;` matched by `&#?[0-9A-Za-z]{1,24};`, using the html5
/// names that end in `;` plus all-caps variants (`&EACUTE;`). Numeric references go through
/// `html.unescape` and are kept as they are when that leaves a `;` behind.
pub(crate) fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let candidate = &rest[amp..];
        match entity_len(candidate) {
            Some(len) => {
                let entity = &candidate[..len];
                out.push_str(&unescape_entity(entity));
                rest = &candidate[len..];
            }
            None => {
                out.push('&');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of the `HTML_ENTITY_RE` match at the start of `s` (which starts with `&`).
fn entity_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let start = if b.get(1) == Some(&b'#') { 2 } else { 1 };
    let run = b[start..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    ((1..=24).contains(&run) && b.get(start + run) == Some(&b';')).then_some(start + run + 1)
}

/// `_unescape_fixup` for one matched entity.
fn unescape_entity(entity: &str) -> String {
    let name = &entity[1..];
    if let Some(v) = html5_lookup(name) {
        return v.to_string();
    }
    if let Ok(i) = FTFY_UPPER_ENTITIES.binary_search_by(|(k, _)| (*k).cmp(name)) {
        return FTFY_UPPER_ENTITIES[i].1.to_string();
    }
    if entity.starts_with("&#") {
        let unescaped = html_unescape(entity);
        // html.unescape decoded only part of it when a ';' is left; keep the original then.
        return if unescaped.contains(';') {
            entity.to_string()
        } else {
            unescaped
        };
    }
    entity.to_string()
}

/// `fixes.remove_terminal_escapes`: drops ANSI sequences `\x1b[` (digits or `;`)* letter.
pub(crate) fn remove_terminal_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(esc) = rest.find("\x1b[") {
        out.push_str(&rest[..esc]);
        let after = &rest[esc + 2..];
        let params = after
            .char_indices()
            .find(|&(_, c)| !(c == ';' || in_table(c, PY_DIGIT)))
            .map_or(after.len(), |(i, _)| i);
        match after[params..].chars().next() {
            Some(c) if c.is_ascii_alphabetic() => rest = &after[params + 1..],
            _ => {
                out.push('\x1b');
                rest = &rest[esc + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Replaces each character through a sorted `(code point, replacement)` table.
fn translate(text: &str, table: &[(u32, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match table.binary_search_by_key(&u32::from(c), |&(k, _)| k) {
            Ok(i) => out.push_str(table[i].1),
            Err(_) => out.push(c),
        }
    }
    out
}

/// `fixes.fix_latin_ligatures`: `ﬁ` → `fi` and similar Latin ligatures / digraphs.
pub(crate) fn fix_latin_ligatures(text: &str) -> String {
    translate(text, LIGATURES)
}

/// `fixes.fix_character_width`: full-width and half-width forms (and U+3000) to standard width.
pub(crate) fn fix_character_width(text: &str) -> String {
    translate(text, WIDTH_MAP)
}

/// `fixes.uncurl_quotes`: `‘’‚‛ʼ` → `'`, `“”„‟` → `"`.
pub(crate) fn uncurl_quotes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{2bc}' | '\u{2018}'..='\u{201b}' => '\'',
            '\u{201c}'..='\u{201f}' => '"',
            c => c,
        })
        .collect()
}

/// `fixes.fix_line_breaks`: CRLF, CR, U+2028, U+2029 and U+0085 become `\n`.
pub(crate) fn fix_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace(['\u{2028}', '\u{2029}', '\u{85}'], "\n")
}

/// `fixes.remove_control_chars`: drops C0 controls other than `\t\n\f\r`, DEL, the deprecated Arabic
/// format controls, the BOM and the interlinear annotation / object replacement characters.
pub(crate) fn remove_control_chars(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            !matches!(c,
                '\u{0}'..='\u{8}' | '\u{b}' | '\u{e}'..='\u{1f}' | '\u{7f}'
                | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffc}')
        })
        .collect()
}

/// `fixes.fix_c1_controls`: each C1 control (U+0080..U+009F) read as its sloppy Windows-1252 byte.
pub(crate) fn fix_c1_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if ('\u{80}'..='\u{9f}').contains(&c) {
                sloppy_1252_char(c)
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftfy_docstring_examples() {
        assert_eq!(fix_text("âœ” No problems"), "✔ No problems");
        assert_eq!(fix_text("&macr;\\_(ã\u{83}\u{84})_/&macr;"), "¯\\_(ツ)_/¯");
        assert_eq!(
            fix_text("Broken text&hellip; it&#x2019;s ﬂubberiﬁc!"),
            "Broken text… it's flubberific!"
        );
        assert_eq!(fix_text("ＬＯＵＤ　ＮＯＩＳＥＳ"), "LOUD NOISES");
        assert_eq!(
            unescape_html("&ntilde; &Ntilde; &NTILDE; &nTILDE;"),
            "ñ Ñ Ñ &nTILDE;"
        );
        assert_eq!(unescape_html("BUNDESSTRA&SZLIG;E"), "BUNDESSTRASSE");
        assert_eq!(
            remove_terminal_escapes("\x1b[36;44mblue\x1b[0m \x1b[x \x1b[1;"),
            "blue  \x1b[1;"
        );
    }
}
