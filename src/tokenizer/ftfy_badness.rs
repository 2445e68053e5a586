//! ftfy's mojibake detectors: `badness.is_bad` (the `BADNESS_RE` heuristic) and `chardata.UTF8_DETECTOR_RE`
//! (runs of characters that look like UTF-8 read as a single-byte encoding), from ftfy 6.3.1.
//!
//! `BADNESS_RE` is rebuilt for the `regex` crate alternative by alternative, with every character class
//! spelled out from the generated tables (including Python's own `\s` and `\w`), so only existence of a
//! match is needed and the two engines agree. `UTF8_DETECTOR_RE` needs a look-behind, which the `regex`
//! crate lacks, so it is matched by hand with the same backtracking order as Python's `re`.

use std::sync::OnceLock;

use regex::Regex;

use super::ftfy_tables::*;
use super::in_table;
use super::unicode_tables::{PY_SPACE, PY_WORD};

type Table = &'static [(u32, u32)];

/// A regex character class from whole tables plus extra literal characters.
fn class(tables: &[Table], extra: &str) -> String {
    let mut s = String::from("[");
    for t in tables {
        for &(lo, hi) in t.iter() {
            s.push_str(&format!("\\x{{{lo:X}}}-\\x{{{hi:X}}}"));
        }
    }
    for c in extra.chars() {
        s.push_str(&format!("\\x{{{:X}}}", u32::from(c)));
    }
    s.push(']');
    s
}

/// Literal characters as an escaped regex sequence.
fn lit(s: &str) -> String {
    s.chars()
        .map(|c| format!("\\x{{{:X}}}", u32::from(c)))
        .collect()
}

/// `BADNESS_RE` from ftfy/badness.py, alternative by alternative and in the same order.
fn badness_pattern() -> String {
    let (c1, bad, law, currency) = (BAD_C1, BAD_BAD, BAD_LAW, BAD_CURRENCY);
    let (sp, ep, numeric, common) = (
        BAD_START_PUNCTUATION,
        BAD_END_PUNCTUATION,
        BAD_NUMERIC,
        BAD_COMMON,
    );
    let (la, ua, lc, uc) = (
        BAD_LOWER_ACCENTED,
        BAD_UPPER_ACCENTED,
        BAD_LOWER_COMMON,
        BAD_UPPER_COMMON,
    );
    let (bx, kaomoji) = (BAD_BOX, BAD_KAOMOJI);
    let c = |t: &[Table]| class(t, "");
    let ws = c(&[PY_SPACE]);
    let arabic = class(&[common, currency, bad, numeric, sp], "ŸŠ®°µ»");
    let alts: Vec<String> = vec![
        c(&[c1]),
        c(&[bad, la, ua, bx, sp, ep, currency, numeric, law]) + &c(&[bad]),
        "[a-zA-Z]".to_string() + &c(&[lc, uc]) + &c(&[bad]),
        c(&[bad]) + &c(&[la, ua, bx, sp, ep, currency, numeric, law]),
        c(&[la, lc, bx, ep, currency, numeric]) + &c(&[ua]),
        c(&[bx, ep, currency, numeric]) + &c(&[la]),
        c(&[la, bx, ep]) + &c(&[currency]),
        ws.clone() + &c(&[ua]) + &c(&[currency]),
        c(&[ua, bx]) + &c(&[numeric, law]),
        c(&[la, ua, bx, currency, ep]) + &c(&[sp]) + &c(&[numeric]),
        c(&[la, ua, currency, numeric, bx, law]) + &c(&[ep]) + &c(&[sp]),
        c(&[currency, numeric, bx]) + &c(&[sp]),
        "[a-z]".to_string() + &c(&[ua]) + &c(&[sp, currency]),
        c(&[bx]) + &c(&[kaomoji]),
        c(&[la, ua, currency, numeric, sp, ep, law]) + &c(&[bx]),
        c(&[bx]) + &c(&[ep]),
        c(&[la, ua]) + &c(&[sp, ep]) + &c(&[PY_WORD]),
        // The ligature œ when not followed by an unaccented Latin letter.
        class(&[], "Œœ") + "[^A-Za-z]",
        // Degree signs after capital letters.
        c(&[ua]) + &lit("°"),
        // Common Windows-1252 2-character mojibake that isn't covered by the cases above.
        class(&[], "ÂÃÎÐ") + &class(&[sp, ep], "€œŠš¢£Ÿž\u{a0}\u{ad}®©°·»–—´"),
        lit("×") + &class(&[], "²³"),
        // Windows-1252 mojibake of Arabic words: four characters.
        class(&[], "ØÙ") + &arabic + &class(&[], "ØÙ") + &arabic,
        // Windows-1252 mojibake that starts 3-character sequences for some South Asian alphabets.
        lit("à") + &class(&[], "²µ¹¼½¾"),
        // MacRoman mojibake that isn't covered by the cases above.
        lit("√") + &class(&[], "±∂†≠®™´≤≥¥µø"),
        lit("≈") + &class(&[], "°¢"),
        lit("‚Ä") + &class(&[], "ìîïòôúùû†°¢π"),
        lit("‚") + &class(&[], "âó") + &class(&[], "àä°ê"),
        // Windows-1251 mojibake of characters in the U+2000 range.
        lit("вЂ"),
        // Windows-1251 mojibake of Latin-1 characters and/or the Cyrillic alphabet.
        class(&[], "ВГРС") + &class(&[c1, bad, sp, ep, currency], "°µ") + &class(&[], "ВГРС"),
        lit("ГўВЂВ") + "." + "[A-Za-z ]",
        // Windows-1252 encodings of 'à' and 'á', as well as \xa0 itself.
        lit("Ã") + &class(&[], "\u{a0}¡"),
        "[a-z]".to_string() + &ws + "?" + &class(&[], "ÃÂ") + "[ ]",
        "^".to_string() + &class(&[], "ÃÂ") + "[ ]",
        // Â preceding a character as an encoding of exactly the same character.
        class(&[ep], "abcdefghijklmnopqrstuvwxyz.,?!") + &lit("Â") + &class(&[sp, ep], " "),
        // Windows-1253 mojibake of characters in the U+2000 range.
        lit("β€") + &class(&[], "™\u{a0}Ά\u{ad}®°"),
        // Windows-1253 mojibake of Latin-1 characters and/or the Greek alphabet.
        class(&[], "ΒΓΞΟ") + &class(&[c1, bad, sp, ep, currency], "°") + &class(&[], "ΒΓΞΟ"),
        // Windows-1257 mojibake of characters in the U+2000 range.
        lit("ā€"),
    ];
    alts.join("|")
}

/// `badness.is_bad(text)`: whether any unlikely character sequence occurs.
pub(crate) fn is_bad(text: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::RegexBuilder::new(&badness_pattern())
            .size_limit(1 << 26)
            .dfa_size_limit(1 << 26)
            .build()
            .ok()
    });
    // The pattern is fixed, so building it cannot fail in practice; a unit test makes sure it builds.
    re.as_ref().is_some_and(|re| re.is_match(text))
}

/// Length in characters of a `UTF8_DETECTOR_RE` match starting at `pos` (0 when none): the greedy
/// repetition of `first_of_2 cont | first_of_3 cont{2} | first_of_4 cont{3}`, trying the alternatives in
/// order at each step, as Python's backtracking engine does when nothing follows the group.
fn detector_match_len(chars: &[char], pos: usize) -> usize {
    let cont = |i: usize| {
        chars
            .get(i)
            .is_some_and(|&c| in_table(c, UTF8_CONTINUATION))
    };
    let first = |i: usize, t: Table| chars.get(i).is_some_and(|&c| in_table(c, t));
    let mut p = pos;
    loop {
        if first(p, UTF8_FIRST_OF_2) && cont(p + 1) {
            p += 2;
        } else if first(p, UTF8_FIRST_OF_3) && cont(p + 1) && cont(p + 2) {
            p += 3;
        } else if first(p, UTF8_FIRST_OF_4) && cont(p + 1) && cont(p + 2) && cont(p + 3) {
            p += 4;
        } else {
            return p - pos;
        }
    }
}

/// The next `UTF8_DETECTOR_RE` match at or after `from` as a character range.
fn detector_find(chars: &[char], from: usize) -> Option<(usize, usize)> {
    (from..chars.len()).find_map(|pos| {
        // Negative look-behind: the previous character must not be a strict continuation character.
        if pos > 0 && in_table(chars[pos - 1], UTF8_CONTINUATION_STRICT) {
            return None;
        }
        let len = detector_match_len(chars, pos);
        (len > 0).then_some((pos, pos + len))
    })
}

/// `UTF8_DETECTOR_RE.search(text)`.
pub(crate) fn utf8_detector_search(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    detector_find(&chars, 0).is_some()
}

/// `UTF8_DETECTOR_RE.sub(f, text)`: every non-overlapping match, left to right, replaced by `f(match)`.
pub(crate) fn utf8_detector_sub(text: &str, mut f: impl FnMut(&str) -> String) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some((start, end)) = detector_find(&chars, pos) {
        out.extend(&chars[pos..start]);
        let matched: String = chars[start..end].iter().collect();
        out.push_str(&f(&matched));
        pos = end;
    }
    out.extend(&chars[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badness_regex_builds() {
        assert!(regex::RegexBuilder::new(&badness_pattern())
            .size_limit(1 << 26)
            .dfa_size_limit(1 << 26)
            .build()
            .is_ok());
    }

    #[test]
    fn badness_examples() {
        assert!(is_bad("doesnâ€™t"));
        assert!(is_bad("cafÃ©"));
        assert!(!is_bad("café crème à Paris"));
        assert!(!is_bad("plain ascii"));
        assert!(utf8_detector_search("doesnâ€™t"));
    }
}
