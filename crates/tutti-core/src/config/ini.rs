//! Loading one INI file against its schema and reading typed values from it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::schema::FileSpec;
use super::values::ConfigValue;
use crate::properties;

/// A configuration problem: which file, which line and key, and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// One INI file read and checked against its schema.
#[derive(Debug)]
pub struct IniFile {
    pub spec: &'static FileSpec,
    pub path: PathBuf,
    /// Key (as the schema spells it) → value and line.
    values: HashMap<&'static str, (String, usize)>,
    /// Unknown keys, keys written in another letter case, repeated keys.
    pub warnings: Vec<String>,
}

impl IniFile {
    /// Reads `root/spec.path`. A missing file, unreadable file or syntax error is an error;
    /// unknown keys are only warnings.
    pub fn load(root: &Path, spec: &'static FileSpec) -> Result<Self, ConfigError> {
        let path = root.join(spec.path);
        let error = |line, message: String| ConfigError {
            file: path.clone(),
            line,
            key: None,
            message,
        };
        let entries = match properties::read_file(&path) {
            Ok(Ok(entries)) => entries,
            Ok(Err(syntax)) => return Err(error(Some(syntax.line), syntax.message)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(error(
                    None,
                    format!("the file does not exist ({})", spec.missing_hint),
                ));
            }
            Err(e) => return Err(error(None, format!("cannot be read: {e}"))),
        };
        Ok(Self::from_entries(path, spec, entries))
    }

    /// Checks parsed entries against the schema (used by `load` and by tests).
    pub fn from_entries(
        path: PathBuf,
        spec: &'static FileSpec,
        entries: Vec<properties::Entry>,
    ) -> Self {
        let mut values: HashMap<&'static str, (String, usize)> = HashMap::new();
        let mut warnings = Vec::new();
        let here = |line: usize| format!("{}, line {line}", path.display());
        for entry in entries {
            let exact = spec.keys.iter().find(|k| k.name == entry.key);
            let folded = spec
                .keys
                .iter()
                .find(|k| k.name.eq_ignore_ascii_case(&entry.key));
            let Some(key) = exact.or(folded) else {
                warnings.push(format!(
                    "{}: unknown key \"{}\" is ignored; {}",
                    here(entry.line),
                    entry.key,
                    suggestion(spec, &entry.key)
                ));
                continue;
            };
            if key.name != entry.key {
                warnings.push(format!(
                    "{}: key \"{}\" is read as {} (write it as {})",
                    here(entry.line),
                    entry.key,
                    key.name,
                    key.name
                ));
            }
            if let Some((_, earlier)) = values.insert(key.name, (entry.value, entry.line)) {
                warnings.push(format!(
                    "{}: {} is set again; this value replaces the one on line {earlier}",
                    here(entry.line),
                    key.name
                ));
            }
        }
        IniFile {
            spec,
            path,
            values,
            warnings,
        }
    }

    /// The typed value of `key`: the file's value, or the schema's default when the key is
    /// absent or empty.
    pub fn get<T: ConfigValue>(&self, key: &'static str) -> Result<T, ConfigError> {
        let spec = self.spec.key(key);
        let (raw, line) = match self.values.get(key) {
            Some((value, line)) if !value.trim().is_empty() => (value.as_str(), Some(*line)),
            _ => (spec.default, None),
        };
        T::parse_value(raw.trim()).map_err(|message| ConfigError {
            file: self.path.clone(),
            line,
            key: Some(key.to_string()),
            message: if line.is_none() && raw.trim().is_empty() {
                format!(
                    "{message} (the key is missing or empty; expected {})",
                    spec.expected
                )
            } else {
                format!("{message}; expected {}", spec.expected)
            },
        })
    }

    /// The value as written in the file (for `tutti check` and `tutti ports` reports).
    pub fn raw(&self, key: &'static str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    /// An error about `key` at the line where it is set.
    pub fn error(&self, key: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.path.clone(),
            line: self.values.get(key).map(|(_, line)| *line),
            key: Some(key.to_string()),
            message: message.into(),
        }
    }
}

fn suggestion(spec: &FileSpec, unknown: &str) -> String {
    let lower = unknown.to_ascii_lowercase();
    let best = spec
        .keys
        .iter()
        .map(|k| {
            (
                strsim::levenshtein(&k.name.to_ascii_lowercase(), &lower),
                k.name,
            )
        })
        .min();
    match best {
        Some((distance, name)) if distance <= (name.len() / 3).max(2) => {
            format!("did you mean {name}?")
        }
        _ => format!(
            "known keys are {}",
            spec.keys
                .iter()
                .map(|k| k.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{HUB_INI, LUI_INI};
    use super::super::values::LogLevel;
    use super::*;

    fn ini(spec: &'static FileSpec, text: &str) -> IniFile {
        let entries = properties::parse(text.as_bytes()).unwrap();
        IniFile::from_entries(PathBuf::from(spec.path), spec, entries)
    }

    #[test]
    fn unknown_key_is_warned_with_nearest_known_key() {
        let f = ini(LUI_INI, "RegistryHubHst=hub:8080\nZzzzzzzz=1\n");
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
        assert!(f.warnings[0].contains("line 1"), "{}", f.warnings[0]);
        assert!(
            f.warnings[0].contains("did you mean RegistryHubHost?"),
            "{}",
            f.warnings[0]
        );
        assert!(
            f.warnings[1].contains("known keys are"),
            "{}",
            f.warnings[1]
        );
    }

    #[test]
    fn wrong_value_names_file_line_key_and_expectation() {
        let f = ini(HUB_INI, "# top\nLogLevel=loud\n");
        let err = f.get::<LogLevel>("LogLevel").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("hub/hub.ini, line 2, LogLevel: "),
            "{text}"
        );
        assert!(text.contains("severe, standard or all"), "{text}");
    }

    #[test]
    fn empty_value_means_default() {
        let f = ini(HUB_INI, "LogLevel=\n");
        assert_eq!(f.get::<LogLevel>("LogLevel").unwrap(), LogLevel::Standard);
    }

    #[test]
    fn other_letter_case_is_read_with_a_warning() {
        let f = ini(HUB_INI, "loglevel=all\n");
        assert_eq!(f.get::<LogLevel>("LogLevel").unwrap(), LogLevel::All);
        assert!(f.warnings[0].contains("write it as LogLevel"));
    }

    #[test]
    fn repeated_key_is_warned_and_last_wins() {
        let f = ini(HUB_INI, "LogLevel=all\nLogLevel=severe\n");
        assert_eq!(f.get::<LogLevel>("LogLevel").unwrap(), LogLevel::Severe);
        assert!(f.warnings[0].contains("line 1"), "{:?}", f.warnings);
    }
}
