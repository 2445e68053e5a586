//! Python's `html.unescape` (CPython `Lib/html/__init__.py`), exactly.
//!
//! CLIP's `basic_clean` (docs/reference/tokenizer.md §2.2) runs `html.unescape` twice after ftfy, so its quirks reach the token
//! ids: the HTML5 rules for numeric references (the Windows-1252 replacements for 0x80-0x9F, U+FFFD for
//! surrogates and out-of-range numbers, nothing for non-characters), named references with and without the
//! trailing `;`, and the "longest known prefix" rule for names that are not in the table (`&ampfoo` → `&foo`).

use super::html_tables::HTML5;

/// `html.unescape(s)`: replaces character references the way Python does.
pub fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match match_charref(after) {
            Some(len) => {
                replace_charref(&after[..len], &mut out);
                rest = &after[len..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length in bytes of the group of Python's `_charref` regex matched right after a `&`:
/// `#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?`.
fn match_charref(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let with_semicolon = |end: usize| {
        if b.get(end) == Some(&b';') {
            end + 1
        } else {
            end
        }
    };
    if b.first() == Some(&b'#') {
        let dec = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if dec > 0 {
            return Some(with_semicolon(1 + dec));
        }
        if matches!(b.get(1), Some(b'x' | b'X')) {
            let hex = b[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            if hex > 0 {
                return Some(with_semicolon(2 + hex));
            }
        }
        // `#` is excluded from the name class, so nothing else can match here.
        return None;
    }
    let mut end = 0;
    for (n, (i, c)) in s.char_indices().enumerate() {
        if n == 32 || matches!(c, '\t' | '\n' | '\x0c' | ' ' | '<' | '&' | '#' | ';') {
            break;
        }
        end = i + c.len_utf8();
    }
    (end > 0).then(|| with_semicolon(end))
}

/// Python's `_replace_charref` for the matched text `s` (without the leading `&`).
fn replace_charref(s: &str, out: &mut String) {
    if let Some(num) = s.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        let digits = digits.trim_end_matches(';');
        // Python's int() is unbounded; anything above U+10FFFF behaves the same, so saturate.
        let value = digits.chars().fold(0u64, |acc, c| {
            let d = u64::from(c.to_digit(radix).unwrap_or(0));
            acc.saturating_mul(radix as u64)
                .saturating_add(d)
                .min(0x1_0000_0000)
        });
        numeric_charref(value, out);
        return;
    }
    if let Some(v) = lookup(s) {
        out.push_str(v);
        return;
    }
    // The longest prefix (at least two characters) that is a known name, as the HTML5 standard defines.
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    for &cut in bounds.iter().skip(2).rev() {
        if let Some(v) = lookup(&s[..cut]) {
            out.push_str(v);
            out.push_str(&s[cut..]);
            return;
        }
    }
    out.push('&');
    out.push_str(s);
}

/// Looks a name (with or without `;`) up in `html.entities.html5`.
pub(crate) fn lookup(name: &str) -> Option<&'static str> {
    HTML5
        .binary_search_by(|(k, _)| (*k).cmp(name))
        .ok()
        .map(|i| HTML5[i].1)
}

/// The numeric branch of `_replace_charref`.
fn numeric_charref(num: u64, out: &mut String) {
    if let Some(c) = invalid_charref(num) {
        out.push(c);
        return;
    }
    if (0xD800..=0xDFFF).contains(&num) || num > 0x10FFFF {
        out.push('\u{FFFD}');
        return;
    }
    if is_invalid_codepoint(num) {
        return;
    }
    if let Some(c) = u32::try_from(num).ok().and_then(char::from_u32) {
        out.push(c);
    }
}

/// Python's `_invalid_charrefs`: NUL, CR and the Windows-1252 meaning of 0x80-0x9F.
fn invalid_charref(num: u64) -> Option<char> {
    const C1: [char; 32] = [
        '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}',
        '\u{8f}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}',
        '\u{178}',
    ];
    match num {
        0x00 => Some('\u{FFFD}'),
        0x0D => Some('\r'),
        0x80..=0x9F => Some(C1[(num - 0x80) as usize]),
        _ => None,
    }
}

/// Python's `_invalid_codepoints`: references to these produce nothing.
fn is_invalid_codepoint(num: u64) -> bool {
    matches!(num, 0x1..=0x8 | 0xB | 0xE..=0x1F | 0x7F..=0x9F | 0xFDD0..=0xFDEF)
        || (num <= 0x10FFFF && (num & 0xFFFE) == 0xFFFE)
}

#[cfg(test)]
mod tests {
    use super::html_unescape as u;

    #[test]
    fn python_examples() {
        assert_eq!(u("&amp;amp; &lt;3"), "&amp; <3");
        assert_eq!(u("&ampfoo &amp"), "&foo &");
        assert_eq!(u("&#39;&#x27;&#X27"), "'''");
        assert_eq!(
            u("&#0;&#13;&#128;&#x81;&#xD800;&#1114112;&#99999999999999999999;"),
            "\u{FFFD}\r\u{20ac}\u{81}\u{FFFD}\u{FFFD}\u{FFFD}"
        );
        assert_eq!(u("&#1;&#xFFFE;&#x10FFFF;&#xfdd0;a"), "a");
        assert_eq!(u("&#;&#x;&unknown;&"), "&#;&#x;&unknown;&");
        assert_eq!(u("&notit; &notin;"), "¬it; ∉");
    }
}
