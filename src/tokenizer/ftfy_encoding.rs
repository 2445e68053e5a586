//! Port of ftfy 6.3.1 `fix_encoding` (`ftfy/__init__.py` `_fix_encoding_one_step_and_explain`) with the
//! byte-level helpers it uses: the single-byte codecs of `CHARMAP_ENCODINGS` (including the "sloppy"
//! Windows code pages), `restore_byte_a0`, `replace_lossy_sequences`, the `utf-8-variants` decoder (CESU-8
//! and Java's two-byte NUL), `decode_inconsistent_utf8` and the Latin-1 / C1 fallbacks.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::bytes::Regex;

use super::ftfy_badness::{is_bad, utf8_detector_search, utf8_detector_sub};
use super::ftfy_tables::CHARMAPS;

/// One single-byte encoding of `CHARMAP_ENCODINGS`.
struct Charmap {
    name: &'static str,
    sloppy: bool,
    /// Characters of bytes 0x80..=0xFF.
    high: Vec<char>,
    /// Character → byte for every non-ASCII character, and for the character of byte 0x1A.
    encode: HashMap<char, u8>,
}

impl Charmap {
    /// `chardata.possible_encoding`: every character can be encoded (ASCII except 0x1A is always fine).
    fn possible(&self, text: &str) -> bool {
        text.chars()
            .all(|c| (c.is_ascii() && c != '\x1a') || self.encode.contains_key(&c))
    }

    /// `text.encode(name)`; only called when [`Charmap::possible`] holds.
    fn encode(&self, text: &str) -> Vec<u8> {
        text.chars()
            .filter_map(|c| {
                if c.is_ascii() && c != '\x1a' {
                    Some(c as u8)
                } else {
                    self.encode.get(&c).copied()
                }
            })
            .collect()
    }
}

fn charmaps() -> &'static [Charmap] {
    static MAPS: OnceLock<Vec<Charmap>> = OnceLock::new();
    MAPS.get_or_init(|| {
        CHARMAPS
            .iter()
            .map(|&(name, sloppy, high, sub)| {
                let high: Vec<char> = high.chars().collect();
                let mut encode: HashMap<char, u8> = (0x80u8..=0xFF)
                    .zip(high.iter().copied())
                    .map(|(b, c)| (c, b))
                    .collect();
                encode.insert(sub, 0x1A);
                Charmap {
                    name,
                    sloppy,
                    high,
                    encode,
                }
            })
            .collect()
    })
}

/// The sloppy-windows-1252 reading of a character U+0080..U+00FF (others are returned unchanged).
pub(crate) fn sloppy_1252_char(c: char) -> char {
    let cp = u32::from(c);
    charmaps()
        .iter()
        .find(|m| m.name == "sloppy-windows-1252")
        .and_then(|m| {
            if (0x80..=0xFF).contains(&cp) {
                m.high.get((cp - 0x80) as usize).copied()
            } else {
                None
            }
        })
        .unwrap_or(c)
}

/// Most steps of [`fix_encoding`]: each real step undoes one layer of mojibake, which at least
/// shortens the text or removes its C1 controls, so real text needs a handful; the bound keeps a text
/// whose steps cycle (ftfy would loop forever) finite (docs/limits.md).
const MAX_ENCODING_STEPS: usize = 32;

/// `ftfy.fix_encoding(text)`: repeat one fixing step until the text stops changing (at most
/// [`MAX_ENCODING_STEPS`] steps).
pub(crate) fn fix_encoding(text: &str) -> String {
    let mut text = text.to_string();
    for _ in 0..MAX_ENCODING_STEPS {
        match fix_encoding_one_step(&text) {
            Some(fixed) if fixed != text => text = fixed,
            _ => break,
        }
    }
    text
}

/// One step of `fix_encoding`; `None` means "unchanged".
fn fix_encoding_one_step(text: &str) -> Option<String> {
    if text.is_empty() || text.is_ascii() || !is_bad(text) {
        return None;
    }
    let mut latin1_possible = false;
    // Text that was UTF-8 decoded with a single-byte encoding: encode it back and decode as UTF-8.
    for map in charmaps() {
        if !map.possible(text) {
            continue;
        }
        latin1_possible |= map.name == "latin-1";
        let mut bytes = map.encode(text);
        // Don't restore 0xA0 in MacRoman, where it would match an en dash followed by a space.
        if map.name != "macroman" && altered_utf8_re().is_some_and(|re| re.is_match(&bytes)) {
            bytes = restore_byte_a0(&bytes);
        }
        if map.sloppy {
            bytes = replace_lossy_sequences(&bytes);
        }
        let decoded = if bytes.contains(&0xED) || bytes.contains(&0xC0) {
            decode_utf8_variants(&bytes)
        } else {
            String::from_utf8(bytes).ok()
        };
        if decoded.is_some() {
            return decoded;
        }
    }
    // Mojibake embedded in otherwise fine text.
    if utf8_detector_search(text) {
        let fixed = decode_inconsistent_utf8(text);
        if fixed != text {
            return Some(fixed);
        }
    }
    // ftfy tests `"windows-1252" in possible_1byte_encodings`, but that list only ever holds
    // "sloppy-windows-1252", so Latin-1 text always gets the strict Windows-1252 reinterpretation.
    if latin1_possible {
        if let Some(fixed) = latin1_as_windows_1252(text) {
            if fixed != text {
                return Some(fixed);
            }
        }
    }
    if text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return Some(super::ftfy::fix_c1_controls(text));
    }
    None
}

/// `text.encode('latin-1').decode('windows-1252')`; `None` where strict Windows-1252 has no character.
fn latin1_as_windows_1252(text: &str) -> Option<String> {
    text.chars()
        .map(|c| match c {
            '\u{81}' | '\u{8d}' | '\u{8f}' | '\u{90}' | '\u{9d}' => None,
            c => Some(sloppy_1252_char(c)),
        })
        .collect()
}

/// `fixes.decode_inconsistent_utf8`: fix each UTF-8-looking run on its own when it looks bad by itself.
pub(crate) fn decode_inconsistent_utf8(text: &str) -> String {
    utf8_detector_sub(text, |part| {
        // A shorter match than the whole text, so this cannot recurse forever.
        if part.len() < text.len() && is_bad(part) {
            fix_encoding(part)
        } else {
            part.to_string()
        }
    })
}

/// `chardata.ALTERED_UTF8_RE`: UTF-8 sequences that would be valid if a space were byte 0xA0.
fn altered_utf8_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?-u)[\xc2\xc3\xc5\xce\xd0\xd9][ ]",
            r"|[\xe2\xe3][ ][\x80-\x84\x86-\x9f\xa1-\xbf]",
            r"|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf][ ]",
            r"|[\xf0][ ][\x80-\xbf][\x80-\xbf]",
            r"|[\xf0][\x80-\xbf][ ][\x80-\xbf]",
            r"|[\xf0][\x80-\xbf][\x80-\xbf][ ]",
        ))
        .ok()
    })
    .as_ref()
}

/// `chardata.LOSSY_UTF8_RE`: UTF-8 / CESU-8 sequences with bytes lost to 0x1A (U+FFFD) or `?`.
fn lossy_utf8_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?-u)[\xc2-\xdf][\x1a]",
            r"|[\xc2-\xc3][?]",
            r"|\xed[\xa0-\xaf][\x1a?]\xed[\xb0-\xbf][\x1a?\x80-\xbf]",
            r"|\xed[\xa0-\xaf][\x1a?\x80-\xbf]\xed[\xb0-\xbf][\x1a?]",
            r"|[\xe0-\xef][\x1a?][\x1a\x80-\xbf]",
            r"|[\xe0-\xef][\x1a\x80-\xbf][\x1a?]",
            r"|[\xf0-\xf4][\x1a?][\x1a\x80-\xbf][\x1a\x80-\xbf]",
            r"|[\xf0-\xf4][\x1a\x80-\xbf][\x1a?][\x1a\x80-\xbf]",
            r"|[\xf0-\xf4][\x1a\x80-\xbf][\x1a\x80-\xbf][\x1a?]",
            r"|\x1a",
        ))
        .ok()
    })
    .as_ref()
}

/// `fixes.restore_byte_a0`: put back 0xA0 bytes that became spaces inside UTF-8 sequences.
fn restore_byte_a0(bytes: &[u8]) -> Vec<u8> {
    // A_GRAVE_WORD_RE = b"\xc3 (?! |quele|quela|quilo|s )": "Ã " as a word is "à", keeping the space.
    let mut fixed = Vec::with_capacity(bytes.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0xC3 && bytes.get(i + 1) == Some(&b' ') {
            let ahead = &bytes[i + 2..];
            let excluded = [&b" "[..], b"quele", b"quela", b"quilo", b"s "]
                .iter()
                .any(|p| ahead.starts_with(p));
            if !excluded {
                fixed.extend_from_slice(b"\xc3\xa0 ");
                i += 2;
                continue;
            }
        }
        fixed.push(bytes[i]);
        i += 1;
    }
    match altered_utf8_re() {
        Some(re) => re
            .replace_all(&fixed, |m: &regex::bytes::Captures<'_>| {
                m[0].iter()
                    .map(|&b| if b == b' ' { 0xA0 } else { b })
                    .collect::<Vec<u8>>()
            })
            .into_owned(),
        None => fixed,
    }
}

/// `fixes.replace_lossy_sequences`: such sequences become the UTF-8 bytes of U+FFFD.
fn replace_lossy_sequences(bytes: &[u8]) -> Vec<u8> {
    match lossy_utf8_re() {
        Some(re) => re.replace_all(bytes, &b"\xef\xbf\xbd"[..]).into_owned(),
        None => bytes.to_vec(),
    }
}

/// Python's `$` (no MULTILINE) at byte position `p`: the end, or just before a final `\n`.
fn at_end(input: &[u8], p: usize) -> bool {
    p == input.len() || (p + 1 == input.len() && input[p] == b'\n')
}

/// Start of the first `SPECIAL_BYTES_RE` match (`utf8_variants.py`): a Java NUL `\xc0(\x80|$)` or a
/// surrogate `\xed([\xa0-\xbf]|$)([\x80-\xbf]|$)` (the CESU-8 alternative only matches where this does).
fn find_special(input: &[u8]) -> Option<usize> {
    let in_range = |p: usize, lo: u8, hi: u8| input.get(p).is_some_and(|b| (lo..=hi).contains(b));
    (0..input.len()).find(|&i| match input[i] {
        0xC0 => at_end(input, i + 1) || input[i + 1] == 0x80,
        0xED => {
            at_end(input, i + 1)
                || (in_range(i + 1, 0xA0, 0xBF)
                    && (at_end(input, i + 2) || in_range(i + 2, 0x80, 0xBF)))
        }
        _ => false,
    })
}

/// ftfy's `utf-8-variants` decoder (strict errors): standard UTF-8 plus CESU-8 surrogate pairs and `C0 80`
/// for NUL. `None` where Python raises `UnicodeDecodeError`.
pub(crate) fn decode_utf8_variants(input: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(input.len());
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        let cutoff = find_special(rest).unwrap_or(rest.len());
        if cutoff > 0 {
            out.push_str(std::str::from_utf8(&rest[..cutoff]).ok()?);
            pos += cutoff;
        } else if rest[0] == 0xC0 {
            // `\xc0` then `\x80` or the end-of-text `$`; a lone final `\xc0` is an error.
            if rest.len() < 2 {
                return None;
            }
            out.push('\0');
            pos += 2;
        } else {
            // A surrogate. Only a full six-byte CESU-8 pair decodes; anything else is invalid UTF-8.
            let cesu = rest.len() >= 6
                && (0xA0..=0xAF).contains(&rest[1])
                && (0x80..=0xBF).contains(&rest[2])
                && rest[3] == 0xED
                && (0xB0..=0xBF).contains(&rest[4])
                && ((0x80..=0xBF).contains(&rest[5]) || at_end(rest, 5));
            if !cesu {
                return None;
            }
            let cp = ((u32::from(rest[1]) & 0x0F) << 16)
                + ((u32::from(rest[2]) & 0x3F) << 10)
                + ((u32::from(rest[4]) & 0x0F) << 6)
                + (u32::from(rest[5]) & 0x3F)
                + 0x10000;
            out.push(char::from_u32(cp)?);
            pos += 6;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_variants() {
        assert_eq!(
            decode_utf8_variants(b"null \xc0\x80!").as_deref(),
            Some("null \0!")
        );
        assert_eq!(
            decode_utf8_variants(b"\xed\xa0\xbd\xed\xb8\x8d").as_deref(),
            Some("\u{1f60d}")
        );
        assert_eq!(
            decode_utf8_variants("한국".as_bytes()).as_deref(),
            Some("한국")
        );
        assert_eq!(decode_utf8_variants(b"\xed\xa0\x80"), None);
        assert_eq!(decode_utf8_variants(b"a\xc0"), None);
    }

    #[test]
    fn fix_encoding_examples() {
        assert_eq!(fix_encoding("sÃ³"), "só");
        assert_eq!(fix_encoding("voilÃ le travail"), "voilà le travail");
        assert_eq!(fix_encoding("&ATILDE;&SUP3;"), "&ATILDE;&SUP3;");
    }
}
