//! Settings that the Hub keeps per installation (global), per group and per user, and how
//! they inherit: an empty value at one level takes the value of the level above
//! (user → group → global). Groups of values that only make sense together (the mailer
//! connection, the tracking URL) inherit as a whole.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::hostport::{HostPort, Scheme, parse_port};

/// Where and how the User Interface hands jobs to a Mailer (the reference's "LISTSERV
/// connection"): the Mailer's host and the client address and password it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MailerConnection {
    /// host[:port] of the Mailer, e.g. `mailer.example.com:8080`.
    pub host: String,
    pub client_address: String,
    pub client_password: String,
}

/// The protocol, host and port that go into every tracking URL of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrackingUrl {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

impl TrackingUrl {
    /// `http://trk.example.com[:port]`, the port left out when it is the default.
    pub fn base_url(&self) -> String {
        // Settings saved before validation kept the host bare may hold a scheme (and a
        // trailing slash) in the host; the protocol field decides, never both.
        let host = self.host.trim();
        let host = split_scheme(host).map_or(host, |(_, rest)| rest);
        let host = host.trim_end_matches('/');
        HostPort::new(self.scheme, host, self.port).base_url()
    }
}

/// The settings of one level; `None` (or an empty list or text) inherits. Only the Hub
/// reads it (from its API and its own storage), so an unknown field is refused: a typo
/// must not silently leave a setting to inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsLevel {
    #[serde(default)]
    pub mailer: Option<MailerConnection>,
    #[serde(default)]
    pub tracking: Option<TrackingUrl>,
    #[serde(default)]
    pub sender_from: Option<String>,
    #[serde(default)]
    pub sender_reply_to: Option<String>,
    /// Charsets users may choose for their jobs.
    #[serde(default)]
    pub charsets: Option<Vec<String>>,
}

/// The level a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Global,
    Group,
    User,
}

impl Source {
    pub fn title(self) -> &'static str {
        match self {
            Source::Global => "global default",
            Source::Group => "group",
            Source::User => "user",
        }
    }
}

/// A value and the level it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// What applies to one account; `None` where no level sets a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EffectiveSettings {
    pub mailer: Option<Sourced<MailerConnection>>,
    pub tracking: Option<Sourced<TrackingUrl>>,
    pub sender_from: Option<Sourced<String>>,
    pub sender_reply_to: Option<Sourced<String>>,
    pub charsets: Option<Sourced<Vec<String>>>,
}

/// Resolves user → group → global. An account without a group skips the group level.
pub fn resolve(
    global: &SettingsLevel,
    group: Option<&SettingsLevel>,
    user: &SettingsLevel,
) -> EffectiveSettings {
    fn pick<T: Clone>(
        levels: [(Option<&SettingsLevel>, Source); 3],
        get: impl Fn(&SettingsLevel) -> Option<&T>,
    ) -> Option<Sourced<T>> {
        levels.into_iter().find_map(|(level, source)| {
            level.and_then(&get).map(|value| Sourced {
                value: value.clone(),
                source,
            })
        })
    }
    let levels = [
        (Some(user), Source::User),
        (group, Source::Group),
        (Some(global), Source::Global),
    ];
    EffectiveSettings {
        mailer: pick(levels, |l| l.mailer.as_ref()),
        tracking: pick(levels, |l| l.tracking.as_ref()),
        sender_from: pick(levels, |l| l.sender_from.as_ref().filter(|s| !s.is_empty())),
        sender_reply_to: pick(levels, |l| {
            l.sender_reply_to.as_ref().filter(|s| !s.is_empty())
        }),
        charsets: pick(levels, |l| l.charsets.as_ref().filter(|c| !c.is_empty())),
    }
}

/// Charsets a job may be written in: those the Mailer can write.
pub use tutti_message::charset::NAMES as KNOWN_CHARSETS;

/// Longest text a setting may hold.
pub const MAX_SETTING_LEN: usize = 254;

pub use crate::api::FieldError;

/// How the Hub's pages label the settings fields (templates/settings_fields.html), so that
/// every message names a field as the user sees it. The JSON API's keys stay in
/// [`FieldError::field`].
pub mod label {
    pub const MAILER_CONNECTION: &str = "Mailer connection";
    pub const MAILER_HOST: &str = "Mailer host";
    pub const CLIENT_ADDRESS: &str = "Client address";
    pub const CLIENT_PASSWORD: &str = "Client password";
    pub const TRACKING_URL: &str = "Tracking URL";
    pub const PROTOCOL: &str = "Protocol";
    pub const TRACKER_HOST: &str = "Tracker host";
    pub const PORT: &str = "Port";
    pub const FROM_ADDRESS: &str = "From address";
    pub const REPLY_TO_ADDRESS: &str = "Reply-to address";
    pub const CHARSETS: &str = "Charsets";
}

impl SettingsLevel {
    /// Checks every value and normalises it (trimmed text, canonical charset names, empty
    /// text as "inherit", a bare tracker host). Returns every problem, each with its field.
    pub fn validated(mut self) -> Result<SettingsLevel, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, label: &str, problem: String| {
            errors.push(FieldError {
                field: field.into(),
                message: format!("{label}: {problem}"),
            })
        };
        if let Some(m) = &mut self.mailer {
            m.host = m.host.trim().to_string();
            m.client_address = m.client_address.trim().to_string();
            if let Err(e) = m.host.parse::<HostPort>() {
                err(
                    "mailer.host",
                    label::MAILER_HOST,
                    format!("{e}; give host[:port], e.g. mailer.example.com:8080"),
                );
            }
            if let Err(e) = check_email(&m.client_address) {
                err("mailer.client_address", label::CLIENT_ADDRESS, e);
            }
            let len = m.client_password.chars().count();
            if len == 0 {
                err(
                    "mailer.client_password",
                    label::CLIENT_PASSWORD,
                    "it is empty; give the password the Mailer expects from the client address"
                        .into(),
                );
            } else if len > MAX_SETTING_LEN {
                err(
                    "mailer.client_password",
                    label::CLIENT_PASSWORD,
                    format!("it has {len} characters; at most {MAX_SETTING_LEN} are allowed"),
                );
            }
        }
        if let Some(t) = &mut self.tracking {
            for (field, label, problem) in normalise_tracking(t) {
                err(field, label, problem);
            }
        }
        for (field, label, value) in [
            ("sender_from", label::FROM_ADDRESS, &mut self.sender_from),
            (
                "sender_reply_to",
                label::REPLY_TO_ADDRESS,
                &mut self.sender_reply_to,
            ),
        ] {
            if let Some(v) = value {
                *v = v.trim().to_string();
                if v.is_empty() {
                    *value = None;
                } else if let Err(e) = check_email(v) {
                    err(field, label, e);
                }
            }
        }
        if let Some(list) = &mut self.charsets {
            let mut canonical = Vec::new();
            let mut unknown = Vec::new();
            for name in list.iter() {
                match KNOWN_CHARSETS
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(name.trim()))
                {
                    Some(k) if !canonical.contains(&k.to_string()) => canonical.push(k.to_string()),
                    Some(_) => {}
                    None => unknown.push(format!("\"{}\"", name.trim())),
                }
            }
            // One message for every unknown name, so the long list of known ones shows once.
            if !unknown.is_empty() {
                let what = match unknown.len() {
                    1 => format!("{} is not a charset", unknown[0]),
                    _ => format!("{} are not charsets", unknown.join(", ")),
                };
                err(
                    "charsets",
                    label::CHARSETS,
                    format!(
                        "{what} Tutti can write; it can write {}",
                        KNOWN_CHARSETS.join(", ")
                    ),
                );
            }
            *list = canonical;
            if list.is_empty() {
                self.charsets = None;
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

/// `http://` or `https://` at the start of `s` (in any letter case), and the rest.
fn split_scheme(s: &str) -> Option<(Scheme, &str)> {
    [("https://", Scheme::Https), ("http://", Scheme::Http)]
        .into_iter()
        .find_map(|(prefix, scheme)| match s.get(..prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(prefix) => Some((scheme, &s[prefix.len()..])),
            _ => None,
        })
}

/// Checks a tracking URL and leaves a bare host name in `host`: the protocol and port have
/// fields of their own, and tracking links are built as protocol://host:port, so a scheme
/// or port typed into the host would otherwise end up twice in every link. A scheme or
/// port typed there is taken when it agrees with its own field and refused when it does
/// not. Returns the problems as (key, label, what is wrong).
fn normalise_tracking(t: &mut TrackingUrl) -> Vec<(&'static str, &'static str, String)> {
    let mut problems = Vec::new();
    if t.port == 0 {
        problems.push((
            "tracking.port",
            label::PORT,
            "0 is not a port number; give 1 to 65535 (80 is the usual port of http, 443 of https)"
                .to_string(),
        ));
    }
    let typed = t.host.trim().to_string();
    let host_problem = |problem: String| ("tracking.host", label::TRACKER_HOST, problem);
    if typed.is_empty() {
        problems.push(host_problem(
            "it is empty; give a host name such as trk.example.com (or leave the whole tracking URL empty to inherit it)".into(),
        ));
        return problems;
    }
    let mut rest = typed.as_str();
    if let Some((scheme, after)) = split_scheme(rest) {
        if scheme != t.scheme {
            problems.push(host_problem(format!(
                "\"{typed}\" begins with {0}:// but the {1} is {2}; choose {0} as the {1}, or give the host without {0}://",
                scheme.as_str(),
                label::PROTOCOL,
                t.scheme.as_str()
            )));
            return problems;
        }
        rest = after;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if let Some(i) = rest.find('/') {
        problems.push(host_problem(format!(
            "\"{typed}\" has a path ({}); give only the host name, e.g. trk.example.com",
            &rest[i..]
        )));
        return problems;
    }
    // The port, if any, follows the last ':' (after the ']' of an IPv6 address).
    let after_host = match rest.rfind(']') {
        Some(i) => i + 1,
        None => 0,
    };
    let (host, port) = match rest[after_host..].rfind(':') {
        Some(i) => (&rest[..after_host + i], Some(&rest[after_host + i + 1..])),
        None => (rest, None),
    };
    if let Some(port) = port {
        match parse_port(port) {
            Ok(p) if p == t.port => {}
            _ => {
                problems.push(host_problem(format!(
                    "\"{typed}\" holds a port (:{port}); give the host alone and put the port in the {} field",
                    label::PORT
                )));
                return problems;
            }
        }
    }
    if host.is_empty() || host.parse::<HostPort>().is_err() {
        problems.push(host_problem(format!(
            "\"{typed}\" is not a host name (letters, digits, '-' and '.', e.g. trk.example.com) or an IP address"
        )));
        return problems;
    }
    t.host = host.to_ascii_lowercase();
    problems
}

/// Checks an e-mail address strictly (a domain with a dot, no display name, no IP literal).
/// The error quotes the address and says in plain words what is wrong with it.
pub fn check_email(address: &str) -> Result<(), String> {
    use email_address::{EmailAddress, Error, Options};
    if address.len() > MAX_SETTING_LEN {
        return Err(format!(
            "it is longer than {MAX_SETTING_LEN} characters, too long for an e-mail address"
        ));
    }
    let options = Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal();
    let why = match EmailAddress::parse_with_options(address, options) {
        Ok(_) => return Ok(()),
        Err(e) => match e {
            Error::MissingSeparator => "it needs an @".to_string(),
            Error::LocalPartEmpty => "nothing comes before the @".into(),
            Error::LocalPartTooLong => "the part before the @ is longer than 64 characters".into(),
            Error::DomainEmpty => "nothing comes after the @".into(),
            Error::DomainTooLong => "the domain after the @ is too long".into(),
            Error::DomainTooFew => "the domain after the @ needs a dot, e.g. example.com".into(),
            Error::SubDomainEmpty | Error::DomainInvalidSeparator => {
                "the domain after the @ has a misplaced dot".into()
            }
            Error::SubDomainTooLong => {
                "a part of the domain after the @ is longer than 63 characters".into()
            }
            Error::InvalidCharacter => "it holds a character an address cannot have".into(),
            Error::UnbalancedQuotes => "its quotes are unbalanced".into(),
            Error::InvalidComment => "it holds a broken comment in parentheses".into(),
            Error::InvalidIPAddress | Error::UnsupportedDomainLiteral => {
                "give a domain name after the @, not an IP address".into()
            }
            Error::UnsupportedDisplayName
            | Error::MissingDisplayName
            | Error::MissingEndBracket => "give the address alone, without a name or < >".into(),
        },
    };
    Err(format!("\"{address}\" is not an e-mail address ({why})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer(tag: &str) -> MailerConnection {
        MailerConnection {
            host: format!("{tag}.example.com"),
            client_address: format!("{tag}@example.com"),
            client_password: tag.into(),
        }
    }

    fn level(tag: &str) -> SettingsLevel {
        SettingsLevel {
            mailer: Some(mailer(tag)),
            tracking: Some(TrackingUrl {
                scheme: Scheme::Http,
                host: format!("{tag}.example.com"),
                port: 80,
            }),
            sender_from: Some(format!("from-{tag}@example.com")),
            sender_reply_to: Some(format!("reply-{tag}@example.com")),
            charsets: Some(vec![tag.to_string()]),
        }
    }

    /// Every combination of set and empty at the three levels (and no group), for every
    /// setting: the nearest level that sets a value wins.
    #[test]
    fn every_combination_inherits_from_the_nearest_level() {
        for mask in 0..8u8 {
            for has_group in [true, false] {
                let pick = |bit: u8, tag: &str| {
                    if mask & bit != 0 {
                        level(tag)
                    } else {
                        SettingsLevel::default()
                    }
                };
                let (user, group, global) = (pick(1, "user"), pick(2, "group"), pick(4, "global"));
                let eff = resolve(&global, has_group.then_some(&group), &user);
                let expected = if mask & 1 != 0 {
                    Some((Source::User, "user"))
                } else if has_group && mask & 2 != 0 {
                    Some((Source::Group, "group"))
                } else if mask & 4 != 0 {
                    Some((Source::Global, "global"))
                } else {
                    None
                };
                let got = eff
                    .mailer
                    .as_ref()
                    .map(|s| (s.source, s.value.client_password.as_str()));
                assert_eq!(got, expected, "mailer, mask {mask:03b}, group {has_group}");
                let got = eff
                    .tracking
                    .as_ref()
                    .map(|s| (s.source, s.value.host.split('.').next().unwrap_or("")));
                assert_eq!(got, expected, "tracking, mask {mask:03b}");
                let got = eff.sender_from.as_ref().map(|s| {
                    (
                        s.source,
                        s.value
                            .trim_start_matches("from-")
                            .split('@')
                            .next()
                            .unwrap_or(""),
                    )
                });
                assert_eq!(got, expected, "sender_from, mask {mask:03b}");
                let got = eff.sender_reply_to.as_ref().map(|s| {
                    (
                        s.source,
                        s.value
                            .trim_start_matches("reply-")
                            .split('@')
                            .next()
                            .unwrap_or(""),
                    )
                });
                assert_eq!(got, expected, "sender_reply_to, mask {mask:03b}");
                let got = eff
                    .charsets
                    .as_ref()
                    .map(|s| (s.source, s.value[0].as_str()));
                assert_eq!(got, expected, "charsets, mask {mask:03b}");
            }
        }
    }

    #[test]
    fn empty_text_and_lists_inherit() {
        let user = SettingsLevel {
            sender_from: Some(String::new()),
            charsets: Some(vec![]),
            ..Default::default()
        };
        let eff = resolve(&level("global"), None, &user);
        assert_eq!(eff.sender_from.unwrap().source, Source::Global);
        assert_eq!(eff.charsets.unwrap().source, Source::Global);
    }

    #[test]
    fn validation_names_each_bad_field() {
        let bad = SettingsLevel {
            mailer: Some(MailerConnection {
                host: "bad host".into(),
                client_address: "nobody".into(),
                client_password: String::new(),
            }),
            tracking: Some(TrackingUrl {
                scheme: Scheme::Http,
                host: "trk..example".into(),
                port: 80,
            }),
            sender_from: Some("Joe <joe@example.com>".into()),
            sender_reply_to: Some("  ".into()),
            charsets: Some(vec!["utf-8".into(), "EBCDIC".into()]),
        };
        let errors = bad.validated().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "mailer.host",
                "mailer.client_address",
                "mailer.client_password",
                "tracking.host",
                "sender_from",
                "charsets"
            ]
        );
    }

    fn tracking(scheme: Scheme, host: &str, port: u16) -> SettingsLevel {
        SettingsLevel {
            tracking: Some(TrackingUrl {
                scheme,
                host: host.into(),
                port,
            }),
            ..Default::default()
        }
    }

    /// The one message of a level that has one problem, and its field's key.
    fn only_error(level: SettingsLevel) -> (String, String) {
        let mut errors = level.validated().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = errors.remove(0);
        (e.field, e.message)
    }

    #[test]
    fn a_scheme_typed_into_the_tracker_host_goes_to_the_protocol() {
        for (scheme, typed, port, url) in [
            (
                Scheme::Http,
                "http://localhost",
                18180,
                "http://localhost:18180",
            ),
            (Scheme::Http, "HTTP://LocalHost/", 80, "http://localhost"),
            (
                Scheme::Https,
                "https://trk.example.com",
                443,
                "https://trk.example.com",
            ),
            (
                Scheme::Http,
                "http://localhost:18180",
                18180,
                "http://localhost:18180",
            ),
            (
                Scheme::Http,
                "localhost:18180",
                18180,
                "http://localhost:18180",
            ),
            (Scheme::Http, "[::1]:8081", 8081, "http://[::1]:8081"),
        ] {
            let ok = tracking(scheme, typed, port).validated().unwrap();
            let t = ok.tracking.unwrap();
            assert_eq!(t.base_url(), url, "{typed}");
            assert!(
                !t.host.contains("//") && !t.host.ends_with(":18180"),
                "{typed} → {}",
                t.host
            );
        }
    }

    #[test]
    fn a_tracker_host_that_contradicts_its_fields_or_has_a_path_is_refused() {
        let (field, message) = only_error(tracking(Scheme::Http, "https://trk.example.com", 80));
        assert_eq!(field, "tracking.host");
        assert_eq!(
            message,
            "Tracker host: \"https://trk.example.com\" begins with https:// but the Protocol is http; choose https as the Protocol, or give the host without https://"
        );
        let (field, message) = only_error(tracking(Scheme::Http, "http://localhost/x", 18180));
        assert_eq!(field, "tracking.host");
        assert_eq!(
            message,
            "Tracker host: \"http://localhost/x\" has a path (/x); give only the host name, e.g. trk.example.com"
        );
        let (field, message) = only_error(tracking(Scheme::Http, "localhost:18180", 80));
        assert_eq!(field, "tracking.host");
        assert_eq!(
            message,
            "Tracker host: \"localhost:18180\" holds a port (:18180); give the host alone and put the port in the Port field"
        );
        let (_, message) = only_error(tracking(Scheme::Http, "trk..example", 80));
        assert!(
            message.starts_with("Tracker host: \"trk..example\" is not a host name"),
            "{message}"
        );
        let (_, message) = only_error(tracking(Scheme::Http, "  ", 80));
        assert!(
            message.starts_with("Tracker host: it is empty"),
            "{message}"
        );
    }

    #[test]
    fn port_0_is_blamed_on_the_port() {
        let (field, message) = only_error(tracking(Scheme::Http, "localhost", 0));
        assert_eq!(field, "tracking.port");
        assert!(
            message.starts_with("Port: 0 is not a port number"),
            "{message}"
        );
    }

    #[test]
    fn base_url_never_doubles_the_scheme() {
        // As an older version stored it, unchecked.
        let stored = TrackingUrl {
            scheme: Scheme::Http,
            host: "http://localhost/".into(),
            port: 18180,
        };
        assert_eq!(stored.base_url(), "http://localhost:18180");
        let stored = TrackingUrl {
            scheme: Scheme::Https,
            host: "HTTPS://trk.example.com".into(),
            port: 443,
        };
        assert_eq!(stored.base_url(), "https://trk.example.com");
    }

    #[test]
    fn messages_name_the_field_as_the_page_labels_it_in_plain_words() {
        let bad = SettingsLevel {
            mailer: Some(MailerConnection {
                host: "mailer.example.com".into(),
                client_address: "x".into(),
                client_password: "pw".into(),
            }),
            sender_from: Some("Joe <joe@example.com>".into()),
            sender_reply_to: Some("joe@localhost".into()),
            ..Default::default()
        };
        let messages: Vec<String> = bad
            .validated()
            .unwrap_err()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(
            messages,
            [
                "Client address: \"x\" is not an e-mail address (it needs an @)",
                "From address: \"Joe <joe@example.com>\" is not an e-mail address (give the address alone, without a name or < >)",
                "Reply-to address: \"joe@localhost\" is not an e-mail address (the domain after the @ needs a dot, e.g. example.com)",
            ]
        );
    }

    #[test]
    fn unknown_charsets_are_named_in_one_message_with_the_known_ones_once() {
        let (field, message) = only_error(SettingsLevel {
            charsets: Some(vec!["utf-8".into(), "EBCDIC".into(), " klingon ".into()]),
            ..Default::default()
        });
        assert_eq!(field, "charsets");
        assert!(
            message.starts_with(
                "Charsets: \"EBCDIC\", \"klingon\" are not charsets Tutti can write; it can write UTF-8, "
            ),
            "{message}"
        );
        assert_eq!(message.matches("ISO-8859-15").count(), 1, "{message}");
        let (_, message) = only_error(SettingsLevel {
            charsets: Some(vec!["EBCDIC".into()]),
            ..Default::default()
        });
        assert!(
            message.starts_with("Charsets: \"EBCDIC\" is not a charset Tutti can write"),
            "{message}"
        );
    }

    #[test]
    fn validation_normalises() {
        let ok = SettingsLevel {
            sender_reply_to: Some("  ".into()),
            charsets: Some(vec!["utf-8".into(), "UTF-8".into(), "iso-8859-15".into()]),
            ..Default::default()
        }
        .validated()
        .unwrap();
        assert_eq!(ok.sender_reply_to, None);
        assert_eq!(ok.charsets.unwrap(), ["UTF-8", "ISO-8859-15"]);
    }
}
