//! Text from outside (report texts, notes, imported names) is data, never markup: the checks and
//! neutralisations every writer of XML or CSV applies to it.
//!
//! - XML 1.0 can carry only the characters of its `Char` production: tab, line feed, carriage
//!   return, U+0020–U+D7FF, U+E000–U+FFFD and U+10000–U+10FFFF. Rust strings hold no lone
//!   surrogates, so what a `String` can contain beyond that are the other C0 controls
//!   (U+0000–U+0008, U+000B, U+000C, U+000E–U+001F) and the noncharacters U+FFFE and U+FFFF.
//!   Input is rejected with [`check_xml_text`]; output replaces whatever was stored anyway with
//!   U+FFFD ([`xml_safe`]) so that one row can never make a document ill-formed.
//! - A CSV cell that begins with `=`, `+`, `-`, `@`, tab or carriage return is taken for a formula
//!   by spreadsheet programs (OWASP "CSV injection"); [`csv_text`] prefixes such text cells with
//!   a single quote. Numbers the server writes itself are written as they are.

use std::borrow::Cow;

/// Whether XML 1.0 can carry `c` (its `Char` production).
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character XML cannot carry, with its position counted in characters from 1.
pub fn first_xml_illegal(s: &str) -> Option<(usize, char)> {
    s.chars()
        .enumerate()
        .find(|(_, c)| !xml_char(*c))
        .map(|(i, c)| (i + 1, c))
}

/// Rejects a value that holds a character XML cannot carry; the message names the field, the
/// character and where it is, e.g. `description contains U+000B at position 17 …`.
pub fn check_xml_text(field: &str, value: &str) -> Result<(), String> {
    match first_xml_illegal(value) {
        None => Ok(()),
        Some((pos, c)) => Err(format!(
            "{field} contains U+{:04X} at position {pos} (counted in characters from 1): control characters other than tab and line breaks, and U+FFFE/U+FFFF, are not accepted",
            u32::from(c)
        )),
    }
}

/// `s` with every character XML cannot carry replaced by U+FFFD.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    if s.chars().all(xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.chars()
                .map(|c| if xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// A text cell for CSV: prefixed with `'` when a spreadsheet would read it as a formula.
/// Cells the server writes as numbers do not go through this.
pub fn csv_text(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xml_char_production() {
        for ok in [
            '\t', '\n', '\r', ' ', 'å', '\u{D7FF}', '\u{E000}', '\u{FFFD}',
        ] {
            assert!(xml_char(ok), "{ok:?}");
        }
        assert!(xml_char('\u{10000}') && xml_char('\u{10FFFF}') && xml_char('😀'));
        for bad in ['\0', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{E}', '\u{1F}'] {
            assert!(!xml_char(bad), "{bad:?}");
        }
        assert!(!xml_char('\u{FFFE}') && !xml_char('\u{FFFF}'));
        // DEL and C1 controls are allowed by XML 1.0 (discouraged, not forbidden).
        assert!(xml_char('\u{7F}') && xml_char('\u{85}'));
    }

    #[test]
    fn errors_name_the_field_the_character_and_its_position() {
        assert!(check_xml_text("description", "Mörkt\tvid\nbron\r").is_ok());
        let e = check_xml_text("description", "Lampan är trasig\u{B}!").unwrap_err();
        assert!(
            e.starts_with("description contains U+000B at position 17 "),
            "{e}"
        );
        let e = check_xml_text("status_notes", "\u{FFFE}").unwrap_err();
        assert!(
            e.starts_with("status_notes contains U+FFFE at position 1 "),
            "{e}"
        );
        assert_eq!(first_xml_illegal("ab\0"), Some((3, '\0')));
        assert_eq!(first_xml_illegal("åäö"), None);
    }

    #[test]
    fn output_replaces_what_xml_cannot_carry() {
        assert!(matches!(xml_safe("vanlig text"), Cow::Borrowed(_)));
        assert_eq!(
            xml_safe("a\u{1}b\0c\u{FFFF}"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}"
        );
        assert_eq!(xml_safe("rad 1\nrad 2"), "rad 1\nrad 2");
    }

    #[test]
    fn csv_cells_that_look_like_formulas_are_quoted() {
        for (input, out) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+46701234567", "'+46701234567"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
        ] {
            assert_eq!(csv_text(input), out);
        }
        for plain in ["Täby centrum", "", "fre–lör 22–02", "a=b", " =1", "'quoted"] {
            assert!(matches!(csv_text(plain), Cow::Borrowed(p) if p == plain));
        }
    }
}
