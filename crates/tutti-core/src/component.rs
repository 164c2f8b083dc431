//! The four components of a Tutti installation and where each keeps its files.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the four components. The order is the order in which a process starts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Hub,
    Lui,
    Trk,
    Mailer,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Hub,
        Component::Lui,
        Component::Trk,
        Component::Mailer,
    ];

    /// Short name used in `server.ini`, URLs and logs.
    pub fn name(self) -> &'static str {
        match self {
            Component::Hub => "hub",
            Component::Lui => "lui",
            Component::Trk => "trk",
            Component::Mailer => "mailer",
        }
    }

    /// Name for people.
    pub fn title(self) -> &'static str {
        match self {
            Component::Hub => "Administration Hub",
            Component::Lui => "User Interface",
            Component::Trk => "Tracker",
            Component::Mailer => "Mailer",
        }
    }

    /// URL path prefix under which the component answers, e.g. `/hub`.
    pub fn prefix(self) -> &'static str {
        match self {
            Component::Hub => "/hub",
            Component::Lui => "/lui",
            Component::Trk => "/trk",
            Component::Mailer => "/mailer",
        }
    }

    /// Folder of the component inside the installation root.
    pub fn dir(self) -> &'static str {
        self.name()
    }

    /// The component's INI file, relative to the installation root.
    pub fn ini_file(self) -> &'static str {
        match self {
            Component::Hub => "hub/hub.ini",
            Component::Lui => "lui/lui.ini",
            Component::Trk => "trk/tracker.ini",
            Component::Mailer => "mailer/mailer.ini",
        }
    }

    /// Every folder the component owns, relative to the installation root.
    pub fn folders(self) -> &'static [&'static str] {
        match self {
            Component::Hub => &["hub/accountreg", "hub/hubreg", "hub/log", "hub/backup"],
            Component::Lui => &[
                "lui/luidata",
                "lui/registry",
                "lui/database",
                "lui/log",
                "lui/backup",
            ],
            Component::Trk => &["trk/data", "trk/log", "trk/backup"],
            Component::Mailer => &[
                "mailer/spool",
                "mailer/outbox",
                "mailer/log",
                "mailer/backup",
            ],
        }
    }

    /// The folder that holds the component's lasting state (and its instance id); copied
    /// when the component moves to another server.
    pub fn data_dir(self) -> &'static str {
        match self {
            Component::Hub => "hub/hubreg",
            Component::Lui => "lui/luidata",
            Component::Trk => "trk/data",
            Component::Mailer => "mailer/spool",
        }
    }

    pub fn log_dir(self) -> &'static str {
        match self {
            Component::Hub => "hub/log",
            Component::Lui => "lui/log",
            Component::Trk => "trk/log",
            Component::Mailer => "mailer/log",
        }
    }

    /// The Rust crate that implements the component; its name is also the tracing target
    /// prefix and the name of the span every request and task of the component runs in.
    pub fn crate_name(self) -> &'static str {
        match self {
            Component::Hub => "tutti_hub",
            Component::Lui => "tutti_lui",
            Component::Trk => "tutti_trk",
            Component::Mailer => "tutti_mailer",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Component {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hub" => Ok(Component::Hub),
            "lui" => Ok(Component::Lui),
            "trk" | "tracker" => Ok(Component::Trk),
            "mailer" => Ok(Component::Mailer),
            other => Err(format!(
                "unknown component \"{other}\": expected hub, lui, trk or mailer"
            )),
        }
    }
}

/// Parses a comma-separated component list such as `hub,lui,trk,mailer`. The result is
/// sorted and without repeats; an empty list is an error.
pub fn parse_component_list(s: &str) -> Result<Vec<Component>, String> {
    let mut list = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let c: Component = part.parse()?;
        if !list.contains(&c) {
            list.push(c);
        }
    }
    if list.is_empty() {
        return Err("no component named: expected a list such as hub,lui,trk,mailer".into());
    }
    list.sort();
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_list_is_sorted_and_unique() {
        assert_eq!(
            parse_component_list("mailer, TRK,hub,trk").unwrap(),
            vec![Component::Hub, Component::Trk, Component::Mailer]
        );
    }

    #[test]
    fn component_list_rejects_unknown_and_empty() {
        assert!(
            parse_component_list("hub,web")
                .unwrap_err()
                .contains("\"web\"")
        );
        assert!(parse_component_list(" , ").is_err());
    }
}
