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
    /// Unknown keys that look like a known one: (the known key, the warning's text), so that
    /// a missing key points at the line that was meant to set it.
    near_misses: Vec<(&'static str, ConfigError)>,
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
        let mut near_misses = Vec::new();
        let here = |line: usize| format!("{}, line {line}", path.display());
        for entry in entries {
            let exact = spec.keys.iter().find(|k| k.name == entry.key);
            let folded = spec
                .keys
                .iter()
                .find(|k| k.name.eq_ignore_ascii_case(&entry.key));
            let Some(key) = exact.or(folded) else {
                let near = nearest_key(spec, &entry.key);
                let what = match shown_key(spec, &entry) {
                    Some(name) => format!("unknown key {name} is ignored"),
                    // Never echo a line that may hold a value: it may be a secret.
                    None => "a line without \"=\" is ignored (not shown: it may hold a secret)"
                        .to_string(),
                };
                let hint = match near {
                    Some(name) => format!("did you mean {name}?"),
                    None => format!(
                        "known keys are {}",
                        spec.keys
                            .iter()
                            .map(|k| k.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let problem = ConfigError {
                    file: path.clone(),
                    line: Some(entry.line),
                    key: None,
                    message: format!("{what}; {hint}"),
                };
                warnings.push(problem.to_string());
                if let Some(name) = near {
                    near_misses.push((name, problem));
                }
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
            near_misses,
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
        T::parse_value(raw.trim()).map_err(|message| {
            // A missing key that a mistyped line was meant to set: point at that line.
            match self.near_misses.iter().find(|(name, _)| *name == key) {
                Some((_, problem)) if line.is_none() => {
                    return problem.clone();
                }
                _ => {}
            }
            ConfigError {
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
            }
        })
    }

    /// Refuses a file that does not set `key` itself (where a default would be harmful),
    /// pointing at a mistyped line meant to set it when there is one.
    pub fn require(&self, key: &'static str, why: &str) -> Result<(), ConfigError> {
        if self
            .values
            .get(key)
            .is_some_and(|(v, _)| !v.trim().is_empty())
        {
            return Ok(());
        }
        if let Some((_, problem)) = self.near_misses.iter().find(|(name, _)| *name == key) {
            return Err(problem.clone());
        }
        Err(ConfigError {
            file: self.path.clone(),
            line: None,
            key: Some(key.to_string()),
            message: format!("the key is missing or empty; {why}"),
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

/// The known key an unknown one was meant to be: one it starts with (a key and its value
/// run together), or the nearest by spelling.
fn nearest_key(spec: &FileSpec, unknown: &str) -> Option<&'static str> {
    let lower = unknown.to_ascii_lowercase();
    let glued = spec
        .keys
        .iter()
        .filter(|k| lower.starts_with(&k.name.to_ascii_lowercase()))
        .max_by_key(|k| k.name.len());
    if let Some(key) = glued {
        return Some(key.name);
    }
    spec.keys
        .iter()
        .map(|k| {
            (
                strsim::levenshtein(&k.name.to_ascii_lowercase(), &lower),
                k.name,
            )
        })
        .min()
        .filter(|(distance, name)| *distance <= (name.len() / 3).max(2))
        .map(|(_, name)| name)
}

/// The unknown key as it may be shown in warnings and logs, or `None` when it may hold a
/// value: a line without a separator, text that is no key name, or a known key followed by
/// more than one character (`ClusterSecrett` is a typo; `RemoteAdminPasswordab:cd` is a
/// password split at its `:`).
fn shown_key<'a>(spec: &FileSpec, entry: &'a properties::Entry) -> Option<&'a str> {
    let key = entry.key.as_str();
    let name_like = key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let lower = key.to_ascii_lowercase();
    let glued = spec
        .keys
        .iter()
        .any(|k| lower.starts_with(&k.name.to_ascii_lowercase()) && key.len() > k.name.len() + 1);
    (entry.separated && name_like && !glued).then_some(key)
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
        assert_eq!(
            f.warnings[0],
            "lui/lui.ini, line 1: unknown key RegistryHubHst is ignored; did you mean RegistryHubHost?"
        );
        assert!(
            f.warnings[1].contains("known keys are"),
            "{}",
            f.warnings[1]
        );
    }

    #[test]
    fn a_line_that_lost_its_separator_is_never_echoed() {
        let f = ini(
            LUI_INI,
            "# top\nRemoteAdminPasswordhunter2-secret\nClusterSecret5ecret-Value-0123456789abcdef\nRemoteAdminPasswordab:cd\n",
        );
        let all = f.warnings.join("\n");
        for leaked in ["hunter2", "5ecret", "Passwordab", ":cd"] {
            assert!(!all.contains(leaked), "{leaked} leaked: {all}");
        }
        assert!(
            all.contains("lui/lui.ini, line 2: a line without \"=\" is ignored"),
            "{all}"
        );
        assert!(
            all.contains("line 3:") && all.contains("did you mean ClusterSecret?"),
            "{all}"
        );
        assert!(
            all.contains("line 4:") && all.contains("did you mean RemoteAdminPassword?"),
            "{all}"
        );
    }

    #[test]
    fn a_missing_key_points_at_the_line_meant_to_set_it() {
        for (text, line) in [
            (
                "LogLevel=all\nClusterSecrett=abcdefghijklmnopqrstuvwxyz\n",
                2,
            ),
            ("ClusterSecretabcdefghijklmnopqrstuvwxyz\n", 1),
        ] {
            let f = ini(LUI_INI, text);
            let err = f.get::<crate::ClusterSecret>("ClusterSecret").unwrap_err();
            assert_eq!(err.line, Some(line), "{err}");
            let text = err.to_string();
            assert!(text.contains("did you mean ClusterSecret?"), "{text}");
            assert!(
                !text.contains("empty") && !text.contains("abcdefgh"),
                "{text}"
            );
        }
        let f = ini(LUI_INI, "ClusterSecrett=x\n");
        assert!(
            f.warnings[0]
                .contains("unknown key ClusterSecrett is ignored; did you mean ClusterSecret?"),
            "{:?}",
            f.warnings
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
