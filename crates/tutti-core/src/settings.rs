//! Settings that the Hub keeps per installation (global), per group and per user, and how
//! they inherit: an empty value at one level takes the value of the level above
//! (user → group → global). Groups of values that only make sense together (the mailer
//! connection, the tracking URL) inherit as a whole.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::hostport::{HostPort, Scheme};

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
        HostPort::new(self.scheme, self.host.clone(), self.port).base_url()
    }
}

/// The settings of one level; `None` (or an empty list or text) inherits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// A problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl SettingsLevel {
    /// Checks every value and normalises it (trimmed text, canonical charset names, empty
    /// text as "inherit"). Returns every problem, each with its field.
    pub fn validated(mut self) -> Result<SettingsLevel, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.into(),
                message,
            })
        };
        if let Some(m) = &mut self.mailer {
            m.host = m.host.trim().to_string();
            m.client_address = m.client_address.trim().to_string();
            if let Err(e) = m.host.parse::<HostPort>() {
                err(
                    "mailer.host",
                    format!("the Mailer host: {e}; expected host[:port]"),
                );
            }
            if let Err(e) = check_email(&m.client_address) {
                err("mailer.client_address", format!("the client address: {e}"));
            }
            if m.client_password.is_empty() || m.client_password.len() > MAX_SETTING_LEN {
                err(
                    "mailer.client_password",
                    format!("the client password must be 1 to {MAX_SETTING_LEN} characters"),
                );
            }
        }
        if let Some(t) = &mut self.tracking {
            t.host = t.host.trim().to_ascii_lowercase();
            match format!("{}:{}", t.host, t.port).parse::<HostPort>() {
                Ok(_) if t.port > 0 => {}
                Ok(_) => err("tracking.port", "the port must be 1 to 65535".into()),
                Err(e) => err("tracking.host", format!("the Tracker host: {e}")),
            }
        }
        for (field, value) in [
            ("sender_from", &mut self.sender_from),
            ("sender_reply_to", &mut self.sender_reply_to),
        ] {
            if let Some(v) = value {
                *v = v.trim().to_string();
                if v.is_empty() {
                    *value = None;
                } else if let Err(e) = check_email(v) {
                    err(field, e);
                }
            }
        }
        if let Some(list) = &mut self.charsets {
            let mut canonical = Vec::new();
            for name in list.iter() {
                match KNOWN_CHARSETS
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(name.trim()))
                {
                    Some(k) if !canonical.contains(&k.to_string()) => canonical.push(k.to_string()),
                    Some(_) => {}
                    None => err(
                        "charsets",
                        format!(
                            "\"{name}\" is not a charset Tutti can write; known: {}",
                            KNOWN_CHARSETS.join(", ")
                        ),
                    ),
                }
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

/// Checks an email address strictly (a domain with a dot, no display name, no IP literal).
pub fn check_email(address: &str) -> Result<(), String> {
    use email_address::{EmailAddress, Options};
    if address.len() > MAX_SETTING_LEN {
        return Err(format!(
            "the address is longer than {MAX_SETTING_LEN} characters"
        ));
    }
    let options = Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal();
    EmailAddress::parse_with_options(address, options)
        .map(drop)
        .map_err(|e| format!("\"{address}\" is not an email address ({e})"))
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
