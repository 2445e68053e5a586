//! CLIP's text cleaning before BPE (docs/reference/tokenizer.md §2, `simple_tokenizer.py` `basic_clean` / `whitespace_clean`).
//!
//! `whitespace_clean(basic_clean(text)).lower()` where
//! `basic_clean = ftfy.fix_text → html.unescape → html.unescape → str.strip()` and
//! `whitespace_clean = regex.sub(r'\s+', ' ') → str.strip()`. The original imports the `regex` module as
//! `re`, so `\s` there is the `regex` module's whitespace class, while `str.strip()` uses `str.isspace`
//! (which also includes U+001C..U+001F); both come from generated tables.

use super::ftfy::fix_text;
use super::html::html_unescape;
use super::in_table;
use super::unicode_tables::{
    PY_SIGMA_CASED, PY_SIGMA_IGNORABLE, PY_SPACE, PY_UNASSIGNED, REGEX_SPACE,
};

/// Python `str.isspace()` for one character.
pub(crate) fn py_isspace(c: char) -> bool {
    in_table(c, PY_SPACE)
}

/// Python `str.strip()` without arguments.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// `basic_clean`: ftfy, two rounds of `html.unescape`, strip.
pub(crate) fn basic_clean(text: &str) -> String {
    let fixed = fix_text(text);
    let once = html_unescape(&fixed);
    let twice = html_unescape(&once);
    py_strip(&twice).to_string()
}

/// `whitespace_clean`: every run of `regex`-module whitespace becomes one space, then strip.
pub(crate) fn whitespace_clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if in_table(c, REGEX_SPACE) {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    py_strip(&out).to_string()
}

/// `whitespace_clean(basic_clean(text)).lower()`: the exact string the CLIP tokenizer splits into words.
pub fn clean_text(text: &str) -> String {
    py_lower(&whitespace_clean(&basic_clean(text)))
}

/// Python's `str.lower()`: full per-character lower-case mappings (İ → i̇), and Σ → ς where CPython's
/// Final_Sigma test says so. Rust's data are newer than the reference interpreter's, so characters it does
/// not know stay as they are and the Σ context uses CPython's Cased / Case_Ignorable sets (generated).
pub(crate) fn py_lower(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '\u{3a3}' {
            out.push(if final_sigma(&chars, i) {
                '\u{3c2}'
            } else {
                '\u{3c3}'
            });
        } else if in_table(c, PY_UNASSIGNED) {
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// CPython's `handle_capital_sigma`: a cased character before Σ (skipping case-ignorable ones) and none
/// after it.
fn final_sigma(chars: &[char], i: usize) -> bool {
    let ignorable = |c: &&char| in_table(**c, PY_SIGMA_IGNORABLE);
    let cased = |c: &char| in_table(*c, PY_SIGMA_CASED);
    let before = chars[..i].iter().rev().find(|c| !ignorable(c));
    let after = chars[i + 1..].iter().find(|c| !ignorable(c));
    before.is_some_and(cased) && !after.is_some_and(cased)
}

/// Applies `f` to each run of characters that Python's `unicodedata` knows and copies the others (category
/// Cn there) unchanged. Python treats an unknown character as a starter without case or decomposition,
/// which blocks case context (Final_Sigma) and normalisation across it, so handling runs separately with
/// Rust's newer data gives Python's result.
pub(crate) fn per_known_run(text: &str, f: impl Fn(&str) -> String) -> String {
    let unknown = |c: char| in_table(c, PY_UNASSIGNED);
    if !text.chars().any(unknown) {
        return f(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(unknown) {
        out.push_str(&f(&rest[..i]));
        let c_len = rest[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&rest[i..i + c_len]);
        rest = &rest[i + c_len..];
    }
    out.push_str(&f(rest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_rules() {
        assert_eq!(whitespace_clean(" a \t\n b\u{3000}c\u{a0} "), "a b c");
        // U+001C is `str.isspace` but not `regex` whitespace: stripped at the ends only.
        assert_eq!(whitespace_clean("\u{1c}a\u{1c}b\u{1c}"), "a\u{1c}b");
        assert_eq!(
            clean_text("  Tom &amp; Jerry\t\n  run   FAST  &lt;3 &amp;amp; "),
            "tom & jerry run fast <3 &"
        );
        assert_eq!(clean_text("ΟΔΟΣ ΣΑ"), "οδος σα");
        // U+0295 is cased for Python 3.13 (Unicode 15.1) but not for newer Unicode data.
        assert_eq!(py_lower("ʕΑΣʕ Σ. AΣ'"), "ʕασʕ σ. aς'");
    }
}
