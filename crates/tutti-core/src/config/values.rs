//! The kinds of value an INI key can hold, each with its parser.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::component::{Component, parse_component_list};
use crate::hostport::{HostPort, parse_port};
use crate::secret::ClusterSecret;

/// Parses one kind of INI value; the error says what is wrong with the text.
pub trait ConfigValue: Sized {
    fn parse_value(s: &str) -> Result<Self, String>;
}

/// An empty value is `None`; anything else must parse as `T`.
impl<T: ConfigValue> ConfigValue for Option<T> {
    fn parse_value(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            Ok(None)
        } else {
            T::parse_value(s).map(Some)
        }
    }
}

impl ConfigValue for String {
    fn parse_value(s: &str) -> Result<Self, String> {
        Ok(s.to_string())
    }
}

impl ConfigValue for PathBuf {
    fn parse_value(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            Err("no path given".into())
        } else {
            Ok(PathBuf::from(s))
        }
    }
}

/// Ports are 1 to 65535.
impl ConfigValue for u16 {
    fn parse_value(s: &str) -> Result<Self, String> {
        parse_port(s)
    }
}

impl ConfigValue for u32 {
    fn parse_value(s: &str) -> Result<Self, String> {
        s.parse()
            .map_err(|_| format!("\"{s}\" is not a whole number"))
    }
}

impl ConfigValue for bool {
    fn parse_value(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(format!("\"{s}\" is neither true nor false")),
        }
    }
}

impl ConfigValue for IpAddr {
    fn parse_value(s: &str) -> Result<Self, String> {
        s.parse()
            .map_err(|_| format!("\"{s}\" is not an IP address"))
    }
}

impl ConfigValue for HostPort {
    fn parse_value(s: &str) -> Result<Self, String> {
        s.parse()
    }
}

impl ConfigValue for ClusterSecret {
    fn parse_value(s: &str) -> Result<Self, String> {
        ClusterSecret::parse(s)
    }
}

impl ConfigValue for Vec<Component> {
    fn parse_value(s: &str) -> Result<Self, String> {
        parse_component_list(s)
    }
}

/// The reference's three log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Only severe messages: errors and warnings.
    Severe,
    /// Severe and standard operational messages (start, stop, logins, jobs).
    Standard,
    /// Everything, including details for debugging.
    All,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Severe => "severe",
            LogLevel::Standard => "standard",
            LogLevel::All => "all",
        }
    }

    pub const ALL: [LogLevel; 3] = [LogLevel::Severe, LogLevel::Standard, LogLevel::All];

    pub fn tracing_level(self) -> tracing::Level {
        match self {
            LogLevel::Severe => tracing::Level::WARN,
            LogLevel::Standard => tracing::Level::INFO,
            LogLevel::All => tracing::Level::DEBUG,
        }
    }
}

impl ConfigValue for LogLevel {
    fn parse_value(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "severe" | "1" => Ok(LogLevel::Severe),
            "standard" | "2" => Ok(LogLevel::Standard),
            "all" | "3" => Ok(LogLevel::All),
            _ => Err(format!("\"{s}\" is not a log level")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_by_name_and_number() {
        assert_eq!(LogLevel::parse_value("SEVERE").unwrap(), LogLevel::Severe);
        assert_eq!(LogLevel::parse_value("2").unwrap(), LogLevel::Standard);
        assert_eq!(LogLevel::parse_value("all").unwrap(), LogLevel::All);
        assert!(LogLevel::parse_value("4").is_err());
    }

    #[test]
    fn option_is_none_when_empty() {
        assert_eq!(Option::<u16>::parse_value("").unwrap(), None);
        assert_eq!(Option::<u16>::parse_value("443").unwrap(), Some(443));
        assert!(Option::<u16>::parse_value("x").is_err());
    }

    #[test]
    fn booleans() {
        assert!(bool::parse_value("Yes").unwrap());
        assert!(!bool::parse_value("false").unwrap());
        assert!(bool::parse_value("maybe").is_err());
    }
}

/// How the Mailer's connections to its relays are protected (`SmtpSecurity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelaySecurity {
    None,
    StartTls,
    Tls,
}

impl ConfigValue for RelaySecurity {
    fn parse_value(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(RelaySecurity::None),
            "starttls" => Ok(RelaySecurity::StartTls),
            "tls" => Ok(RelaySecurity::Tls),
            _ => Err(format!("\"{s}\" is not none, starttls or tls")),
        }
    }
}

/// Where the User Interface keeps its system database (`DatabaseType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseType {
    /// SQLite in `lui/database`.
    Internal,
    /// An external PostgreSQL server at `DatabaseUrl`.
    Postgresql,
}

impl ConfigValue for DatabaseType {
    fn parse_value(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "internal" => Ok(DatabaseType::Internal),
            "postgresql" | "postgres" => Ok(DatabaseType::Postgresql),
            _ => Err(format!("\"{s}\" is not internal or postgresql")),
        }
    }
}

/// `SmtpRelays`: host[:port] values separated by commas (port 25 when left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayList(pub Vec<HostPort>);

impl ConfigValue for RelayList {
    fn parse_value(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| {
                let with_port = if r.contains(':') {
                    r.to_string()
                } else {
                    format!("{r}:25")
                };
                with_port
                    .parse::<HostPort>()
                    .map_err(|e| format!("{r}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(RelayList)
    }
}
