//! Untrusted text (what a user or a user's program wrote: error messages, names, parameters)
//! rendered for a terminal or a log line, where some characters act instead of showing.

use std::borrow::Cow;

/// `text` with every character a terminal would act on, or that reorders what follows it,
/// written out as a visible Rust-style escape (`\u{1b}`); everything else unchanged.
///
/// Escaped: the C0 and C1 control characters (U+0000–U+001F, U+007F DEL, U+0080–U+009F:
/// ESC starts a terminal's escape sequences, CR overwrites a line, BEL rings) except `\n` and
/// `\t`, and the Unicode bidirectional formatting characters (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069), which make a terminal show text in another order than it
/// is (Trojan Source, CVE-2021-42574). Borrowed when nothing needs escaping.
pub fn escape_untrusted(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether `c` is escaped by [`escape_untrusted`].
fn acts(c: char) -> bool {
    let bidi = matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    );
    bidi || (c.is_control() && c != '\n' && c != '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in [
            "",
            "line 3: ZeroDivisionError: division by zero",
            "two\nlines\tand a tab",
            "ünïcödé, 日本語, emoji 😀, Arabic مرحبا, Hebrew שלום",
            "a\\u{1b} written out stays as written",
        ] {
            assert!(matches!(escape_untrusted(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn controls_are_escaped_visibly() {
        assert_eq!(
            escape_untrusted("\x1b[31mred\x1b[0m\r\x07\x00\x7f\u{85}\u{9b}"),
            "\\u{1b}[31mred\\u{1b}[0m\\u{d}\\u{7}\\u{0}\\u{7f}\\u{85}\\u{9b}"
        );
    }

    #[test]
    fn every_bidi_formatting_character_is_escaped() {
        for c in ['\u{061C}', '\u{200E}', '\u{200F}']
            .into_iter()
            .chain('\u{202A}'..='\u{202E}')
            .chain('\u{2066}'..='\u{2069}')
        {
            let text = format!("a{c}b");
            assert_eq!(
                escape_untrusted(&text),
                format!("a\\u{{{:x}}}b", u32::from(c)),
                "U+{:04X}",
                u32::from(c)
            );
        }
        // Neighbours of the ranges are ordinary characters.
        for c in ['\u{2029}', '\u{202F}', '\u{2065}', '\u{206A}', '\u{200D}'] {
            let text = format!("a{c}b");
            assert_eq!(escape_untrusted(&text), text, "U+{:04X}", u32::from(c));
        }
    }
}
