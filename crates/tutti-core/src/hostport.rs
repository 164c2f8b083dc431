//! `host[:port]` values as the INI files and the reference write them, optionally with an
//! `http://` or `https://` scheme in front. The port is left out when it is the scheme's
//! default, as the reference asks for external names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A host and port; `host` is a DNS name, an IPv4 address or a bracketed IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn new(scheme: Scheme, host: impl Into<String>, port: u16) -> Self {
        HostPort {
            scheme,
            host: host.into(),
            port,
        }
    }

    /// `http://host[:port]`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority())
    }

    /// `host[:port]`, the port left out when it is the scheme's default.
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for HostPort {
    /// Written back as it would be in an INI file: the scheme only when it is https.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Scheme::Http => f.write_str(&self.authority()),
            Scheme::Https => f.write_str(&self.base_url()),
        }
    }
}

pub const HOST_PORT_EXPECTED: &str =
    "host[:port], e.g. hub.example.com:8080 (optionally with https:// in front)";

impl FromStr for HostPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (scheme, rest) = if let Some(rest) = strip_prefix_ci(s, "https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = strip_prefix_ci(s, "http://") {
            (Scheme::Http, rest)
        } else {
            (Scheme::Http, s)
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err("no host given".into());
        }
        if rest.contains('/') {
            return Err(format!("\"{s}\" has a path; give only host[:port]"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let Some((addr, after)) = v6.split_once(']') else {
                return Err(format!("\"{s}\": IPv6 address without closing ]"));
            };
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("\"{addr}\" is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("\"{s}\": expected :port after ]"))?,
                ),
            };
            (format!("[{addr}]"), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        if !host.starts_with('[') && !valid_host_name(&host) {
            return Err(format!(
                "\"{host}\" is not a valid host name (letters, digits, '-' and '.')"
            ));
        }
        let port = match port {
            None => scheme.default_port(),
            Some(p) => parse_port(p)?,
        };
        Ok(HostPort {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    match s.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => s.get(prefix.len()..),
        _ => None,
    }
}

fn valid_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A TCP port, 1 to 65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err(format!("\"{s}\" is not a port number (1 to 65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_ports_are_left_out() {
        let hp: HostPort = "maestro.sample.com:80".parse().unwrap();
        assert_eq!(hp.authority(), "maestro.sample.com");
        assert_eq!(hp.base_url(), "http://maestro.sample.com");
        let hp: HostPort = "https://hub.sample.com:443/".parse().unwrap();
        assert_eq!(hp.base_url(), "https://hub.sample.com");
        assert_eq!(hp.to_string(), "https://hub.sample.com");
        let hp: HostPort = "maestro.sample.com:9002".parse().unwrap();
        assert_eq!(hp.base_url(), "http://maestro.sample.com:9002");
    }

    #[test]
    fn ipv4_and_ipv6() {
        let hp: HostPort = "127.0.0.2:8080".parse().unwrap();
        assert_eq!((hp.host.as_str(), hp.port), ("127.0.0.2", 8080));
        let hp: HostPort = "[::1]:8081".parse().unwrap();
        assert_eq!(hp.base_url(), "http://[::1]:8081");
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert!("".parse::<HostPort>().unwrap_err().contains("no host"));
        assert!("hub:0".parse::<HostPort>().unwrap_err().contains("port"));
        assert!(
            "hub:99999"
                .parse::<HostPort>()
                .unwrap_err()
                .contains("port")
        );
        assert!("hub/hub".parse::<HostPort>().unwrap_err().contains("path"));
        assert!(
            "hu b:80"
                .parse::<HostPort>()
                .unwrap_err()
                .contains("host name")
        );
        assert!("[::1:80".parse::<HostPort>().unwrap_err().contains("]"));
    }

    proptest! {
        #[test]
        fn display_parses_back(host in "[a-z]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z]{2,5}){0,2}", port in 1u16.., https: bool) {
            let scheme = if https { Scheme::Https } else { Scheme::Http };
            let hp = HostPort::new(scheme, host, port);
            let back: HostPort = hp.to_string().parse().unwrap();
            prop_assert_eq!(back, hp);
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<HostPort>();
        }
    }
}
