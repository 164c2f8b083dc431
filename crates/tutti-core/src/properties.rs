//! Reading Java `.properties` files (the format of Tutti's INI files, as of the
//! reference's): `key=value`, `key: value` or `key value`, `#`/`!` comments, backslash
//! escapes, `\uXXXX`, and line continuation. Parsing is done by the `java-properties`
//! crate; this module keeps the line number of every entry so errors can point at it, and
//! writes values back escaped so files stay plain ASCII.

use std::io::Read;

use java_properties::{LineContent, PropertiesIter};

/// One `key=value` entry and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
    /// Whether a separator (`=`, `:` or white space) ends the key. Without one the key is
    /// the whole line, which may be a key and its value run together (`ClusterSecretabc`).
    pub separated: bool,
}

/// A syntax error: the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parses properties text. Java reads these files as ISO-8859-1; editors today save UTF-8,
/// so text that is valid UTF-8 is read as UTF-8 and anything else as ISO-8859-1 (in its
/// Windows-1252 superset), which gives every byte sequence a meaning.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, SyntaxError> {
    let encoding = if std::str::from_utf8(bytes).is_ok() {
        encoding_rs::UTF_8
    } else {
        encoding_rs::WINDOWS_1252
    };
    // Decoded here, not by the parser: its decoder panics when a file is nothing but the
    // start of a byte order mark (java-properties 2.0 reads past the end of its input).
    let (text, _, _) = encoding.decode(bytes);
    let physical: Vec<&str> = physical_lines(&text);
    let mut entries = Vec::new();
    let mut last_line = 0;
    for line in PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8) {
        let line = line.map_err(|e| SyntaxError {
            line: e.line_number().unwrap_or(last_line + 1),
            message: e.to_string(),
        })?;
        last_line = line.line_number();
        if let LineContent::KVPair(key, value) = line.consume_content() {
            let separated = physical
                .get(last_line.wrapping_sub(1))
                .is_some_and(|l| key_is_separated(l));
            entries.push(Entry {
                key,
                value,
                line: last_line,
                separated,
            });
        }
    }
    Ok(entries)
}

/// The physical lines of a text, ended by `\n`, `\r\n` or `\r` as the parser ends them.
fn physical_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    lines.push(&text[start..]);
    lines
}

/// Whether the key that starts this line ends at a separator rather than at the line's end.
fn key_is_separated(line: &str) -> bool {
    let mut chars = line.trim_start_matches([' ', '\t', '\u{c}']).chars();
    while let Some(c) = chars.next() {
        match c {
            // An escaped character belongs to the key; a backslash at the end continues it.
            '\\' if chars.next().is_none() => return false,
            '\\' => {}
            '=' | ':' | ' ' | '\t' | '\u{c}' => return true,
            _ => {}
        }
    }
    false
}

/// Reads a whole file and parses it.
pub fn read_file(path: &std::path::Path) -> std::io::Result<Result<Vec<Entry>, SyntaxError>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    Ok(parse(&bytes))
}

/// Escapes a key or value so that `parse` gives it back unchanged; characters outside
/// printable ASCII become `\uXXXX` (what Java's `Properties.store` does) so the file stays
/// ASCII whatever encoding an editor assumes.
pub fn escape(s: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, ch) in s.chars().enumerate() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '=' | ':' if is_key => {
                out.push('\\');
                out.push(ch);
            }
            '#' | '!' if i == 0 => {
                out.push('\\');
                out.push(ch);
            }
            c if (' '..='~').contains(&c) => out.push(c),
            // The reader decodes one \uXXXX at a time and so cannot join surrogate pairs:
            // characters beyond the BMP stay raw, which the UTF-8 reading below keeps.
            c if (c as u32) > 0xFFFF => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Sets `key` to `value` in properties text, keeping every other line (and comments) as
/// they are: the last line that defines the key is replaced, or the entry is appended.
pub fn set_in_text(text: &str, key: &str, value: &str) -> Result<String, SyntaxError> {
    let entries = parse(text.as_bytes())?;
    let new_line = format!("{}={}", escape(key, true), escape(value, false));
    let Some(target) = entries.iter().rev().find(|e| e.key == key) else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&new_line);
        out.push('\n');
        return Ok(out);
    };
    // An entry may continue over several physical lines; replace all of them.
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let first = target.line - 1;
    let mut last = first;
    while last < lines.len() && ends_with_continuation(lines[last]) {
        last += 1;
    }
    let mut out = String::with_capacity(text.len() + new_line.len());
    for (i, line) in lines.iter().enumerate() {
        if i == first {
            out.push_str(&new_line);
            out.push('\n');
        } else if i < first || i > last {
            out.push_str(line);
        }
    }
    Ok(out)
}

fn ends_with_continuation(line: &str) -> bool {
    let body = line.trim_end_matches(['\n', '\r']);
    let trailing = body.chars().rev().take_while(|&c| c == '\\').count();
    trailing % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_every_separator_comment_and_escape() {
        let text = b"# comment\n! also\nA=1\nB : 2\nC 3\n  D=\\u00e9t\\u00e9\nE=first \\\n    second\nF=C:\\\\Tutti\\\\data\n";
        let entries = parse(text).unwrap();
        let got: Vec<(&str, &str, usize)> = entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str(), e.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", "1", 3),
                ("B", "2", 4),
                ("C", "3", 5),
                ("D", "été", 6),
                ("E", "first second", 7),
                ("F", "C:\\Tutti\\data", 9),
            ]
        );
    }

    #[test]
    fn a_line_without_separator_is_marked() {
        let entries = parse(b"A=1\nB 2\nClusterSecretabc\r\nC\\=x:1\nD\\\n").unwrap();
        let got: Vec<(&str, bool)> = entries
            .iter()
            .map(|e| (e.key.as_str(), e.separated))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", true),
                ("B", true),
                ("ClusterSecretabc", false),
                ("C=x", true),
                ("D", false),
            ]
        );
    }

    #[test]
    fn utf8_and_latin1_files_both_read() {
        assert_eq!(
            parse("A=caf\u{e9}\n".as_bytes()).unwrap()[0].value,
            "caf\u{e9}"
        );
        assert_eq!(parse(b"A=caf\xe9\n").unwrap()[0].value, "caf\u{e9}");
    }

    #[test]
    fn bad_unicode_escape_names_its_line() {
        let err = parse(b"A=1\nB=\\u12G4\n").unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
    }

    #[test]
    fn set_replaces_only_the_key_and_keeps_comments() {
        let text = "# the hub\nRegistryHubHost=old:80\n# tail\nOther=x\n";
        let out = set_in_text(text, "RegistryHubHost", "new.example:8080").unwrap();
        assert_eq!(
            out,
            "# the hub\nRegistryHubHost=new.example:8080\n# tail\nOther=x\n"
        );
        let appended = set_in_text("A=1", "B", "2").unwrap();
        assert_eq!(appended, "A=1\nB=2\n");
    }

    #[test]
    fn set_replaces_a_continued_entry_whole() {
        let text = "A=one \\\n  two\nB=3\n";
        let out = set_in_text(text, "A", "x").unwrap();
        assert_eq!(out, "A=x\nB=3\n");
    }

    proptest! {
        #[test]
        fn escaped_values_read_back_unchanged(key in "[A-Za-z][A-Za-z0-9 :=#!]{0,12}", value in "\\PC{0,40}") {
            let text = format!("{}={}\n", escape(&key, true), escape(&value, false));
            let entries = parse(text.as_bytes()).unwrap();
            prop_assert_eq!(entries.len(), 1);
            prop_assert_eq!(&entries[0].key, &key);
            prop_assert_eq!(&entries[0].value, &value);
        }

        #[test]
        fn a_file_that_is_only_the_start_of_a_byte_order_mark_parses(bom in prop_oneof![
            Just(vec![0xef]), Just(vec![0xef, 0xbb]), Just(vec![0xfe]), Just(vec![0xff])
        ]) {
            // Read as Windows-1252: a one-letter key such as `ï`, and no panic.
            prop_assert_eq!(parse(&bom).map(|e| e.len()), Ok(1));
        }

        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }
    }
}
