//! What every name a person gives (user, group, job title, folder, drop-in, template, file
//! …) may not contain: control characters, and the invisible and bidirectional format
//! characters (Unicode category Cf) that make two names look alike or reorder what is
//! shown around them.

/// Refuses a name with a control or format character; the error says what is wrong with
/// "it" and where, never repeating the character (it would not show).
pub fn check_visible(name: &str) -> Result<(), String> {
    match name.chars().position(|c| c.is_control() || is_format(c)) {
        None => Ok(()),
        Some(at) => Err(format!(
            "it contains an invisible, control or text-direction character (at character {}); names may not",
            at + 1
        )),
    }
}

/// Unicode's format characters (general category Cf, as of Unicode 15): zero-width spaces
/// and joiners, direction marks, embeddings, overrides and isolates, the byte order mark,
/// tags, and the few others.
fn is_format(c: char) -> bool {
    matches!(u32::from(c),
        0xAD
        | 0x600..=0x605
        | 0x61C
        | 0x6DD
        | 0x70F
        | 0x890..=0x891
        | 0x8E2
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_bidirectional_characters_are_refused() {
        for bad in [
            "ad\u{200B}min",
            "Sales\u{200D}",
            "\u{200E}x",
            "x\u{202E}gpj.exe",
            "a\u{2066}b\u{2069}",
            "\u{FEFF}Sales",
            "a\u{00AD}b",
            "tab\there",
            "a\u{E0041}",
        ] {
            let e = check_visible(bad).unwrap_err();
            assert!(
                e.contains("invisible, control or text-direction"),
                "{bad:?}: {e}"
            );
        }
        assert!(
            check_visible("x\u{202E}y")
                .unwrap_err()
                .contains("at character 2")
        );
        for good in [
            "Sales",
            "Müller & Söhne",
            "שלום",
            "日本語の名前",
            "emoji 🎉",
            "a b",
        ] {
            assert!(check_visible(good).is_ok(), "{good}");
        }
    }
}
