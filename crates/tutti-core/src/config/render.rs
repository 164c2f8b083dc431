//! Writing INI files for `tutti init` and the key reference for `docs/configuration.md`,
//! both from the schema.

use std::collections::HashMap;

use super::schema::{ALL_FILES, FileSpec};
use crate::properties::escape;

/// The text of a new INI file: every key of `spec`, each with its documentation, set to
/// `values[key]` or else to its default.
pub fn render_ini(spec: &FileSpec, values: &HashMap<&str, String>) -> String {
    let mut out = String::new();
    out.push_str(&format!("# Tutti: {} ({})\n#\n", spec.title, spec.path));
    for line in wrap(spec.intro, 86) {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(
        "#\n# Java .properties syntax: Key=value, lines starting with # or ! are comments,\n\
         # non-ASCII characters are written as backslash-u escapes, a trailing backslash\n\
         # continues the line. An empty value means the default.\n\
         # Every key is described in docs/configuration.md.\n",
    );
    for key in spec.keys {
        out.push('\n');
        for line in wrap(&format!("{}: {}", key.name, key.doc), 86) {
            out.push_str(&format!("# {line}\n"));
        }
        for line in wrap(&format!("Expected: {}.", key.expected), 86) {
            out.push_str(&format!("# {line}\n"));
        }
        if !key.default.is_empty() {
            out.push_str(&format!("# Default: {}\n", key.default));
        }
        let value = values
            .get(key.name)
            .map(String::as_str)
            .unwrap_or(key.default);
        out.push_str(&format!("{}={}\n", key.name, escape(value, false)));
    }
    out
}

/// The key reference of every file, as Markdown.
pub fn render_markdown() -> String {
    let mut out = String::new();
    for spec in ALL_FILES {
        out.push_str(&format!(
            "### `{}` — {}\n\n{}\n\n",
            spec.path, spec.title, spec.intro
        ));
        out.push_str("| Key | Default | Expected | Meaning |\n|---|---|---|---|\n");
        for key in spec.keys {
            let default = if key.default.is_empty() {
                "(none)".to_string()
            } else {
                format!("`{}`", key.default)
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                key.name,
                default,
                key.expected.replace('|', "\\|"),
                key.doc.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::ini::IniFile;
    use super::super::schema::{LUI_INI, SERVER_INI};
    use super::*;
    use crate::properties;

    #[test]
    fn rendered_file_reads_back_with_given_values_and_no_warnings() {
        let mut values = HashMap::new();
        values.insert("RegistryHubHost", "hub.example.com:8080".to_string());
        values.insert("ClusterSecret", "s3cr3t-s3cr3t-s3cr3t-s3cr3t".to_string());
        let text = render_ini(LUI_INI, &values);
        let entries = properties::parse(text.as_bytes()).unwrap();
        let ini = IniFile::from_entries(LUI_INI.path.into(), LUI_INI, entries);
        assert!(ini.warnings.is_empty(), "{:?}", ini.warnings);
        assert_eq!(ini.raw("RegistryHubHost"), Some("hub.example.com:8080"));
        assert_eq!(ini.raw("TrackerHost"), Some("localhost"));
        assert_eq!(ini.raw("LogLevel"), Some("standard"));
    }

    #[test]
    fn every_key_is_written() {
        let text = render_ini(SERVER_INI, &HashMap::new());
        for key in SERVER_INI.keys {
            assert!(text.contains(&format!("\n{}=", key.name)), "{}", key.name);
        }
    }

    /// docs/configuration.md holds the generated reference between two markers; this test
    /// keeps it true. Run with TUTTI_BLESS=1 to rewrite it after changing the schema.
    #[test]
    fn configuration_doc_is_current() {
        // The runtime variable, not env!(): test binaries in the shared target folder may
        // have been built from another checkout of the same commit.
        let crate_dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let path = std::path::Path::new(&crate_dir).join("../../docs/configuration.md");
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        let (begin, end) = (
            "<!-- BEGIN GENERATED KEYS -->\n",
            "<!-- END GENERATED KEYS -->",
        );
        let expected = render_markdown();
        let current = doc
            .split_once(begin)
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(inside, _)| inside);
        if current == Some(expected.as_str()) {
            return;
        }
        if std::env::var_os("TUTTI_BLESS").is_some() {
            let (head, tail) = match doc.split_once(begin) {
                Some((head, rest)) => (
                    head.to_string(),
                    rest.split_once(end)
                        .map(|(_, t)| t.to_string())
                        .unwrap_or_default(),
                ),
                None => (doc.clone(), "\n".to_string()),
            };
            std::fs::write(&path, format!("{head}{begin}{expected}{end}{tail}")).unwrap();
            return;
        }
        panic!(
            "docs/configuration.md is out of date with the INI schema; run TUTTI_BLESS=1 cargo test -p tutti-core configuration_doc_is_current"
        );
    }
}
