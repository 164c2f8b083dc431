//! Typed views of the INI files, and the whole installation read at once.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ini::{ConfigError, IniFile};
use super::schema::{HUB_INI, LUI_INI, MAILER_INI, SERVER_INI, TRK_INI};
use super::values::{DatabaseType, LogLevel, RelayList, RelaySecurity};
use crate::client_address::TrustedProxies;
use crate::component::Component;
use crate::hostport::HostPort;
use crate::secret::ClusterSecret;

/// `server.ini`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub components: Vec<Component>,
    pub bind_address: IpAddr,
    pub port: u16,
    pub host_name: Option<String>,
    pub ssl: Option<SslConfig>,
    /// `TrustedCertificates`: certificates trusted for calls to other components over HTTPS.
    pub trusted_certificates: Option<TrustedCertificates>,
    pub shutdown_grace: Duration,
    /// `MetricsToken`: the bearer token that reads the metrics; `None`: loopback only.
    pub metrics_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SslConfig {
    pub port: u16,
    /// Absolute paths (relative ones in the file are taken from the installation root).
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    /// `RedirectHttpToHttps`: the HTTP listener sends the Hub's and the User Interface's pages
    /// to HTTPS.
    pub redirect_http: bool,
    /// `AnnounceHttps`: the components announce `https://host:SslPort` to the Hub.
    pub announce: bool,
}

/// `TrustedCertificates`: the certificates in one PEM file, trusted besides the system's.
#[derive(Debug, Clone)]
pub struct TrustedCertificates {
    /// Absolute (a relative path in the file is taken from the installation root).
    pub path: PathBuf,
    pub certificates: Vec<reqwest::Certificate>,
}

impl TrustedCertificates {
    fn load(ini: &IniFile, path: PathBuf) -> Result<Self, ConfigError> {
        let key = "TrustedCertificates";
        let pem = std::fs::read(&path)
            .map_err(|e| ini.error(key, format!("cannot read {}: {e}", path.display())))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            ini.error(
                key,
                format!("{} is not a PEM certificate file: {e}", path.display()),
            )
        })?;
        if certificates.is_empty() {
            return Err(ini.error(
                key,
                format!(
                    "{} holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)",
                    path.display()
                ),
            ));
        }
        Ok(TrustedCertificates { path, certificates })
    }
}

impl ServerConfig {
    pub fn from_ini(ini: &IniFile, root: &Path) -> Result<Self, ConfigError> {
        // Defaults would make an empty or damaged file listen on every address at port 80.
        for key in ["Components", "Port"] {
            ini.require(
                key,
                "server.ini must name the components this server runs and its port (e.g. Components=hub,lui,trk,mailer and Port=8080; tutti init writes both); is the file empty or damaged?",
            )?;
        }
        let ssl_port: Option<u16> = ini.get("SslPort")?;
        let certificate: Option<PathBuf> = ini.get("SslCertificate")?;
        let private_key: Option<PathBuf> = ini.get("SslPrivateKey")?;
        let ssl = match (ssl_port, certificate, private_key) {
            (None, None, None) => None,
            (Some(port), Some(cert), Some(key)) => Some(SslConfig {
                port,
                certificate: root.join(cert),
                private_key: root.join(key),
                redirect_http: ini.get("RedirectHttpToHttps")?,
                announce: ini.get("AnnounceHttps")?,
            }),
            (None, _, _) => {
                return Err(ini.error(
                    "SslPort",
                    "SslCertificate or SslPrivateKey is set but SslPort is not; set SslPort (e.g. 443) or empty both",
                ));
            }
            (Some(_), None, _) => {
                return Err(ini.error(
                    "SslCertificate",
                    "SslPort is set, so SslCertificate must name the PEM certificate file",
                ));
            }
            (Some(_), _, None) => {
                return Err(ini.error(
                    "SslPrivateKey",
                    "SslPort is set, so SslPrivateKey must name the PEM private key file",
                ));
            }
        };
        if ssl.is_none() {
            for key in ["RedirectHttpToHttps", "AnnounceHttps"] {
                if ini.get::<bool>(key)? {
                    return Err(ini.error(
                        key,
                        format!(
                            "{key}=true needs HTTPS, but SslPort is not set; set SslPort, SslCertificate and SslPrivateKey, or {key}=false"
                        ),
                    ));
                }
            }
        }
        let trusted_certificates = match ini.get::<Option<PathBuf>>("TrustedCertificates")? {
            Some(path) => Some(TrustedCertificates::load(ini, root.join(path))?),
            None => None,
        };
        let port: u16 = ini.get("Port")?;
        if ssl.as_ref().is_some_and(|s| s.port == port) {
            return Err(ini.error(
                "SslPort",
                format!("SslPort is the same as Port ({port}); HTTP and HTTPS need two ports"),
            ));
        }
        Ok(ServerConfig {
            components: ini.get("Components")?,
            bind_address: ini.get("BindAddress")?,
            port,
            host_name: ini.get("HostName")?,
            ssl,
            trusted_certificates,
            shutdown_grace: Duration::from_secs(u64::from(ini.get::<u32>("ShutdownGraceSeconds")?)),
            metrics_token: {
                let token: Option<String> = ini.get("MetricsToken")?;
                if token.as_ref().is_some_and(|t| t.len() < 16) {
                    return Err(ini.error("MetricsToken", "expected 16 or more characters"));
                }
                token
            },
        })
    }

    /// The name other components use to reach this server, when one is known.
    pub fn advertised_host(&self) -> Option<String> {
        if let Some(name) = &self.host_name {
            return Some(name.clone());
        }
        match self.bind_address {
            ip if ip.is_unspecified() => None,
            IpAddr::V6(v6) => Some(format!("[{v6}]")),
            ip => Some(ip.to_string()),
        }
    }

    /// The scheme and port the components announce to the Hub: HTTPS with `AnnounceHttps`.
    pub fn announced_scheme_port(&self) -> (crate::hostport::Scheme, u16) {
        match &self.ssl {
            Some(ssl) if ssl.announce => (crate::hostport::Scheme::Https, ssl.port),
            _ => (crate::hostport::Scheme::Http, self.port),
        }
    }

    /// How a process on this server reaches the server's own HTTP listener.
    pub fn local_host_port(&self) -> HostPort {
        let host = match self.bind_address {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
            ip => ip.to_string(),
        };
        HostPort::new(crate::hostport::Scheme::Http, host, self.port)
    }
}

/// Keys every component INI file has.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub cluster_secret: ClusterSecret,
    pub log_level: LogLevel,
    pub log_retention_days: u32,
    /// `RemoteAdminPassword`: lets the Hub's console read the logs and set the level.
    pub remote_admin_password: Option<String>,
}

impl CommonConfig {
    fn from_ini(ini: &IniFile) -> Result<Self, ConfigError> {
        let log_retention_days: u32 = ini.get("LogRetentionDays")?;
        if log_retention_days == 0 {
            return Err(ini.error(
                "LogRetentionDays",
                "0 would delete every log file; expected 1 or more",
            ));
        }
        let remote_admin_password: Option<String> = ini.get("RemoteAdminPassword")?;
        if remote_admin_password
            .as_ref()
            .is_some_and(|p| p.chars().count() < 12)
        {
            return Err(ini.error(
                "RemoteAdminPassword",
                "expected 12 or more characters (or empty: remote administration off)",
            ));
        }
        Ok(CommonConfig {
            cluster_secret: ini.get("ClusterSecret")?,
            log_level: ini.get("LogLevel")?,
            log_retention_days,
            remote_admin_password,
        })
    }
}

fn announce_interval(ini: &IniFile) -> Result<Duration, ConfigError> {
    match ini.get::<u32>("HubAnnounceInterval")? {
        0 => Err(ini.error(
            "HubAnnounceInterval",
            "0 is not an interval; expected 1 second or more",
        )),
        s => Ok(Duration::from_secs(u64::from(s))),
    }
}

/// `hub/hub.ini`.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub common: CommonConfig,
    /// `BackupTime`: the daily backup, as (hour, minute) in UTC.
    pub backup_time: Option<(u32, u32)>,
    /// `BackupKeep`.
    pub backup_keep: u32,
    /// `BackupCommand`.
    pub backup_command: Option<String>,
    /// `TrustedProxies`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

/// `lui/lui.ini`.
#[derive(Debug, Clone)]
pub struct LuiConfig {
    pub common: CommonConfig,
    pub registry_hub_host: HostPort,
    pub tracker_host: HostPort,
    /// Where browsers reach the User Interface (`ExternalHostName`), if not where it runs.
    pub external_host: Option<HostPort>,
    /// Where browsers reach the Hub (`ExternalHubHostName`), if not `registry_hub_host`.
    pub external_hub_host: Option<HostPort>,
    pub announce_interval: Duration,
    pub database: DatabaseConfig,
    /// Put before every new job's id (`JobIdPrefix`), e.g. `NEWS-`.
    pub job_id_prefix: String,
    /// The charset of new jobs' messages (`DefaultMailCharset`), as Tutti names it.
    pub default_charset: String,
    /// Whether users may choose another (`AllowCharsetChoice`).
    pub allow_charset_choice: bool,
    /// The largest recipient upload (`MaxUploadMegabytes`), in bytes.
    pub max_upload: u64,
    /// How many addresses test sends may go to (`TestSendMaxAddresses`, `TestSendMaxPerDay`).
    pub test_send_caps: TestSendCaps,
    /// `TrustedProxies`: whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

/// Bounds on test sends: addresses per call, and per account and day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestSendCaps {
    pub per_call: u32,
    pub per_day: u32,
}

/// The User Interface's system database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// SQLite, `lui/database/lui.sqlite`.
    Internal,
    /// PostgreSQL at this URL (`postgres://user:password@host:port/database`).
    Postgresql(String),
}

/// `trk/tracker.ini`.
#[derive(Debug, Clone)]
pub struct TrkConfig {
    pub common: CommonConfig,
    pub registry_hub_host: HostPort,
    pub announce_interval: Duration,
    pub event_retention: Duration,
    /// The successor this Tracker hands its events to (`HandOverTo`), after a move.
    pub hand_over_to: Option<HostPort>,
}

/// `mailer/mailer.ini`.
#[derive(Debug, Clone)]
pub struct MailerConfig {
    pub common: CommonConfig,
    pub registry_hub_host: HostPort,
    pub announce_interval: Duration,
    /// Empty: deliver into mailer/outbox.
    pub relays: Vec<HostPort>,
    pub security: RelaySecurity,
    pub smtp_user: String,
    pub smtp_password: String,
    pub connections: u32,
    pub max_per_second: u32,
    /// Messages per second to one destination domain (0: no limit).
    pub max_per_domain: u32,
    /// Per-domain limits that replace `max_per_domain` (domain lower-cased).
    pub domain_rates: Vec<(String, u32)>,
    pub retry: Duration,
    pub retry_interval: Duration,
    /// DKIM keys: (domain, selector, key file) — the file as written (relative to mailer/).
    pub dkim_keys: Vec<(String, String, PathBuf)>,
    /// `host:port` of the bounce listener, when on.
    pub bounce_listener: Option<String>,
    pub return_path_domain: String,
    pub helo_name: String,
    pub distribute_clients: Vec<String>,
    pub distribute_password: String,
}

/// A whole installation root: `server.ini` and the INI file of each component it lists.
#[derive(Debug, Clone)]
pub struct Installation {
    pub root: PathBuf,
    pub server: ServerConfig,
    pub hub: Option<HubConfig>,
    pub lui: Option<LuiConfig>,
    pub trk: Option<TrkConfig>,
    pub mailer: Option<MailerConfig>,
    /// Warnings from every file read (unknown keys and the like).
    pub warnings: Vec<String>,
}

impl Installation {
    /// Reads and checks every file; the first wrong value stops with its file, line and key.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let server_ini = IniFile::load(root, SERVER_INI)?;
        let server = ServerConfig::from_ini(&server_ini, root)?;
        let mut warnings = server_ini.warnings.clone();
        let mut load = |spec| -> Result<IniFile, ConfigError> {
            let ini = IniFile::load(root, spec)?;
            warnings.extend(ini.warnings.iter().cloned());
            Ok(ini)
        };
        let runs = |c| server.components.contains(&c);
        let hub = if runs(Component::Hub) {
            let ini = load(HUB_INI)?;
            Some(HubConfig {
                common: CommonConfig::from_ini(&ini)?,
                backup_time: {
                    let time: Option<String> = ini.get("BackupTime")?;
                    match time {
                        None => None,
                        Some(t) => Some(
                            t.split_once(':')
                                .and_then(|(h, m)| Some((h.parse().ok()?, m.parse().ok()?)))
                                .filter(|(h, m): &(u32, u32)| *h < 24 && *m < 60 && t.len() == 5)
                                .ok_or_else(|| {
                                    ini.error("BackupTime", "expected HH:MM, e.g. 02:30 (UTC)")
                                })?,
                        ),
                    }
                },
                backup_keep: {
                    let keep: u32 = ini.get("BackupKeep")?;
                    if keep == 0 {
                        return Err(ini.error("BackupKeep", "expected 1 or more"));
                    }
                    keep
                },
                backup_command: ini.get("BackupCommand")?,
                trusted_proxies: ini.get("TrustedProxies")?,
            })
        } else {
            None
        };
        let lui = if runs(Component::Lui) {
            let ini = load(LUI_INI)?;
            Some(LuiConfig {
                common: CommonConfig::from_ini(&ini)?,
                registry_hub_host: ini.get("RegistryHubHost")?,
                tracker_host: ini.get("TrackerHost")?,
                external_host: ini.get("ExternalHostName")?,
                external_hub_host: ini.get("ExternalHubHostName")?,
                announce_interval: announce_interval(&ini)?,
                database: match ini.get::<DatabaseType>("DatabaseType")? {
                    DatabaseType::Internal => DatabaseConfig::Internal,
                    DatabaseType::Postgresql => {
                        let url: String = ini.get("DatabaseUrl")?;
                        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                            return Err(ini.error(
                                "DatabaseUrl",
                                "DatabaseType is postgresql: expected postgres://user:password@host:port/database",
                            ));
                        }
                        DatabaseConfig::Postgresql(url)
                    }
                },
                job_id_prefix: {
                    let prefix: String = ini.get("JobIdPrefix")?;
                    if prefix.len() > 20
                        || !prefix
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    {
                        return Err(
                            ini.error("JobIdPrefix", "expected up to 20 letters, digits, - or _")
                        );
                    }
                    prefix
                },
                default_charset: {
                    let name: String = ini.get("DefaultMailCharset")?;
                    tutti_message::charset::Charset::from_name(&name)
                        .map(|c| c.name().to_string())
                        .ok_or_else(|| {
                            ini.error(
                                "DefaultMailCharset",
                                format!(
                                    "\"{name}\" is not a charset Tutti writes; choose one of {}",
                                    tutti_message::charset::NAMES.join(", ")
                                ),
                            )
                        })?
                },
                allow_charset_choice: ini.get("AllowCharsetChoice")?,
                max_upload: {
                    let mb: u32 = ini.get("MaxUploadMegabytes")?;
                    if mb == 0 {
                        return Err(ini.error("MaxUploadMegabytes", "expected 1 or more"));
                    }
                    u64::from(mb) << 20
                },
                test_send_caps: TestSendCaps {
                    per_call: {
                        let n: u32 = ini.get("TestSendMaxAddresses")?;
                        if !(1..=1000).contains(&n) {
                            return Err(ini.error("TestSendMaxAddresses", "expected 1 to 1000"));
                        }
                        n
                    },
                    per_day: {
                        let n: u32 = ini.get("TestSendMaxPerDay")?;
                        if n == 0 {
                            return Err(ini.error("TestSendMaxPerDay", "expected 1 or more"));
                        }
                        n
                    },
                },
                trusted_proxies: ini.get("TrustedProxies")?,
            })
        } else {
            None
        };
        let trk = if runs(Component::Trk) {
            let ini = load(TRK_INI)?;
            let days: u32 = ini.get("EventRetentionDays")?;
            if days == 0 {
                return Err(ini.error(
                    "EventRetentionDays",
                    "0 would delete events the moment they are fetched; expected 1 or more",
                ));
            }
            Some(TrkConfig {
                common: CommonConfig::from_ini(&ini)?,
                registry_hub_host: ini.get("RegistryHubHost")?,
                announce_interval: announce_interval(&ini)?,
                event_retention: Duration::from_secs(u64::from(days) * 86_400),
                hand_over_to: ini.get("HandOverTo")?,
            })
        } else {
            None
        };
        let mailer = if runs(Component::Mailer) {
            let ini = load(MAILER_INI)?;
            let connections: u32 = ini.get("SmtpConnections")?;
            if !(1..=256).contains(&connections) {
                return Err(ini.error("SmtpConnections", "expected a whole number from 1 to 256"));
            }
            let retry_hours: u32 = ini.get("RetryHours")?;
            if retry_hours == 0 {
                return Err(ini.error("RetryHours", "expected 1 or more hours"));
            }
            let RelayList(relays) = ini.get("SmtpRelays")?;
            let retry_seconds: u32 = ini.get("RetryIntervalSeconds")?;
            if retry_seconds == 0 {
                return Err(ini.error("RetryIntervalSeconds", "expected 1 or more seconds"));
            }
            let return_path_domain: String = ini.get("ReturnPathDomain")?;
            let helo: String = ini.get("HeloName")?;
            let clients: String = ini.get("DistributeClients")?;
            let security: RelaySecurity = ini.get("SmtpSecurity")?;
            let smtp_user: String = ini.get("SmtpUser")?;
            // The relay client refuses to send a password in the clear to another host; say
            // so now rather than when the first job waits for a relay that never takes it.
            if !smtp_user.is_empty()
                && security == RelaySecurity::None
                && let Some(remote) = relays.iter().find(|r| !is_loopback(&r.host))
            {
                return Err(ini.error(
                    "SmtpSecurity",
                    format!(
                        "SmtpUser is set, so the relay password would cross the network unencrypted to {remote}: set SmtpSecurity=starttls or tls (only a relay on this host may take it without)"
                    ),
                ));
            }
            Some(MailerConfig {
                common: CommonConfig::from_ini(&ini)?,
                registry_hub_host: ini.get("RegistryHubHost")?,
                announce_interval: announce_interval(&ini)?,
                relays,
                security,
                smtp_user,
                smtp_password: ini.get("SmtpPassword")?,
                connections,
                max_per_second: ini.get("MaxMessagesPerSecond")?,
                max_per_domain: ini.get("MaxMessagesPerDomainPerSecond")?,
                domain_rates: domain_rates(&ini.get::<String>("DomainRates")?)
                    .map_err(|e| ini.error("DomainRates", e))?,
                retry: Duration::from_secs(u64::from(retry_hours) * 3600),
                retry_interval: Duration::from_secs(u64::from(retry_seconds)),
                dkim_keys: dkim_keys(&ini.get::<String>("DkimKeys")?)
                    .map_err(|e| ini.error("DkimKeys", e))?,
                bounce_listener: Some(ini.get::<String>("BounceListener")?)
                    .filter(|b| !b.trim().is_empty()),
                helo_name: if !helo.is_empty() {
                    helo
                } else if !return_path_domain.is_empty() {
                    return_path_domain.clone()
                } else {
                    "localhost".to_string()
                },
                return_path_domain,
                distribute_clients: clients
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty())
                    .collect(),
                distribute_password: ini.get("DistributePassword")?,
            })
        } else {
            None
        };
        Ok(Installation {
            root: root.to_path_buf(),
            server,
            hub,
            lui,
            trk,
            mailer,
            warnings,
        })
    }

    /// The components of one server share one ClusterSecret, read from their own INI files,
    /// which drift apart when one is edited by hand: `serve` refuses to start and `tutti
    /// check` fails on this.
    pub fn check_one_cluster_secret(&self) -> Result<(), String> {
        let mut first: Option<(Component, &ClusterSecret)> = None;
        for &c in &self.server.components {
            let Some(common) = self.common(c) else {
                continue;
            };
            match first {
                None => first = Some((c, &common.cluster_secret)),
                Some((f, secret)) if secret.expose() != common.cluster_secret.expose() => {
                    return Err(format!(
                        "ClusterSecret: {} and {} differ; the components of one installation share one (copy it from one file to the other)",
                        self.root.join(f.ini_file()).display(),
                        self.root.join(c.ini_file()).display()
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The common keys of a component this installation runs.
    pub fn common(&self, component: Component) -> Option<&CommonConfig> {
        match component {
            Component::Hub => self.hub.as_ref().map(|c| &c.common),
            Component::Lui => self.lui.as_ref().map(|c| &c.common),
            Component::Trk => self.trk.as_ref().map(|c| &c.common),
            Component::Mailer => self.mailer.as_ref().map(|c| &c.common),
        }
    }
}

/// `DkimKeys`: `domain:selector:key-file` entries separated by commas.
fn dkim_keys(text: &str) -> Result<Vec<(String, String, PathBuf)>, String> {
    let mut keys = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(3, ':').map(str::trim);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(d), Some(s), Some(f))
                if d.contains('.') && !s.is_empty() && !f.is_empty() && !s.contains('.') =>
            {
                keys.push((d.to_ascii_lowercase(), s.to_string(), PathBuf::from(f)));
            }
            _ => return Err(format!("\"{entry}\" is not domain:selector:key-file")),
        }
    }
    Ok(keys)
}

/// `DomainRates`: `domain:messages-per-second` entries separated by commas.
fn domain_rates(text: &str) -> Result<Vec<(String, u32)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            entry
                .split_once(':')
                .and_then(|(d, n)| {
                    let d = d.trim();
                    let n = n.trim().parse::<u32>().ok()?;
                    d.contains('.').then(|| (d.to_ascii_lowercase(), n))
                })
                .ok_or_else(|| format!("\"{entry}\" is not domain:messages-per-second"))
        })
        .collect()
}

/// A host name or address that stays on this machine.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod mailer_list_tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_this_machine() {
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.0.0.5",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["relay.example", "10.0.0.1", "::2"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn dkim_keys_are_domain_selector_file() {
        let keys = dkim_keys(" Shop.Example:s1:keys/a.pem , b.example:s2:/etc/b.pem").unwrap();
        assert_eq!(
            keys,
            vec![
                (
                    "shop.example".into(),
                    "s1".into(),
                    PathBuf::from("keys/a.pem")
                ),
                ("b.example".into(), "s2".into(), PathBuf::from("/etc/b.pem")),
            ]
        );
        assert_eq!(dkim_keys("").unwrap(), vec![]);
        let error = dkim_keys("shop.example:keys.pem").unwrap_err();
        assert!(error.contains("\"shop.example:keys.pem\" is not domain:selector:key-file"));
        assert!(dkim_keys("shop.example::a.pem").is_err());
    }

    #[test]
    fn domain_rates_are_domain_and_number() {
        assert_eq!(
            domain_rates("Gmail.com:50, yahoo.com : 0").unwrap(),
            vec![("gmail.com".into(), 50), ("yahoo.com".into(), 0)]
        );
        let error = domain_rates("gmail.com:fast").unwrap_err();
        assert!(error.contains("\"gmail.com:fast\" is not domain:messages-per-second"));
        assert!(domain_rates("50").is_err());
    }
}

#[cfg(test)]
mod https_key_tests {
    use super::*;
    use crate::hostport::Scheme;

    fn server(root: &Path, text: &str) -> Result<ServerConfig, ConfigError> {
        // The keys every server.ini must set, after the lines the tests count.
        let text = format!("{text}\nComponents=hub\nPort=8080\n");
        let entries = crate::properties::parse(text.as_bytes()).unwrap();
        let ini = IniFile::from_entries(root.join("server.ini"), SERVER_INI, entries);
        ServerConfig::from_ini(&ini, root)
    }

    #[test]
    fn an_empty_or_damaged_server_ini_is_refused() {
        let root = Path::new("/srv/tutti");
        for text in [
            "",
            "garbage\n\u{1}\u{2}\n",
            "Components=hub\n",
            "Comonents=hub\nPort=80\n",
        ] {
            let entries = crate::properties::parse(text.as_bytes()).unwrap();
            let ini = IniFile::from_entries(root.join("server.ini"), SERVER_INI, entries);
            let err = ServerConfig::from_ini(&ini, root).unwrap_err().to_string();
            assert!(err.starts_with("/srv/tutti/server.ini"), "{err}");
            assert!(
                err.contains("is the file empty or damaged?")
                    || err.contains("did you mean Components?"),
                "{err}"
            );
        }
    }

    const HTTPS: &str = "Port=8080\nSslPort=8443\nSslCertificate=c.pem\nSslPrivateKey=k.pem\n";

    #[test]
    fn redirect_and_announce_need_ssl_port() {
        let root = Path::new("/srv/tutti");
        for key in ["RedirectHttpToHttps", "AnnounceHttps"] {
            let text = server(root, &format!("Port=8080\n{key}=true\n"))
                .unwrap_err()
                .to_string();
            assert!(
                text.starts_with(&format!("/srv/tutti/server.ini, line 2, {key}: ")),
                "{text}"
            );
            assert!(text.contains("SslPort is not set"), "{text}");
            assert!(server(root, &format!("Port=8080\n{key}=false\n")).is_ok());
        }
        let https = server(
            root,
            &format!("{HTTPS}RedirectHttpToHttps=yes\nAnnounceHttps=true\n"),
        )
        .unwrap();
        let ssl = https.ssl.as_ref().unwrap();
        assert!(ssl.redirect_http && ssl.announce);
        assert_eq!(https.announced_scheme_port(), (Scheme::Https, 8443));
        let plain = server(root, HTTPS).unwrap();
        assert!(!plain.ssl.as_ref().unwrap().redirect_http);
        assert_eq!(plain.announced_scheme_port(), (Scheme::Http, 8080));
    }

    #[test]
    fn trusted_certificates_are_read_from_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        std::fs::write(dir.path().join("ca.pem"), pem.repeat(2)).unwrap();
        let config = server(dir.path(), "TrustedCertificates=ca.pem\n").unwrap();
        let trusted = config.trusted_certificates.unwrap();
        assert_eq!(trusted.path, dir.path().join("ca.pem"));
        assert_eq!(trusted.certificates.len(), 2);
        assert!(
            server(dir.path(), "")
                .unwrap()
                .trusted_certificates
                .is_none()
        );

        let missing = server(dir.path(), "TrustedCertificates=tls/none.pem\n")
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("server.ini, line 1, TrustedCertificates: cannot read")
                && missing.contains("none.pem"),
            "{missing}"
        );
        std::fs::write(
            dir.path().join("key.pem"),
            "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let empty = server(dir.path(), "TrustedCertificates=key.pem\n")
            .unwrap_err()
            .to_string();
        assert!(empty.contains("holds no certificate"), "{empty}");
    }
}
