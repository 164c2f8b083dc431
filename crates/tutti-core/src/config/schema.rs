//! Every key of every INI file: name, default, what it expects and what it means.

use crate::hostport::HOST_PORT_EXPECTED;

/// One key of an INI file.
#[derive(Debug)]
pub struct KeySpec {
    pub name: &'static str,
    /// Used when the key is absent or empty. `""` means "none" for optional keys.
    pub default: &'static str,
    pub expected: &'static str,
    pub doc: &'static str,
}

/// One INI file.
#[derive(Debug)]
pub struct FileSpec {
    /// Relative to the installation root.
    pub path: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    /// What to do when the file is missing.
    pub missing_hint: &'static str,
    pub keys: &'static [KeySpec],
}

impl FileSpec {
    /// The declaration of `name`. Code only asks for keys it declared, so a miss is a bug.
    pub fn key(&self, name: &str) -> &KeySpec {
        self.keys
            .iter()
            .find(|k| k.name == name)
            .unwrap_or_else(|| panic!("{} declares no key {name}", self.path))
    }
}

const CLUSTER_SECRET: KeySpec = KeySpec {
    name: "ClusterSecret",
    default: "",
    expected: "the installation's shared secret: at least 24 printable ASCII characters, the same in every INI file of every server",
    doc: "Shared secret with which the components authenticate each other's API calls \
          (sent as \"Authorization: Bearer <secret>\"). tutti init generates one; on a second \
          server pass it with --cluster-secret-file. Use TLS between servers that do not share a \
          trusted network.",
};

const LOG_LEVEL: KeySpec = KeySpec {
    name: "LogLevel",
    default: "standard",
    expected: "severe, standard or all (or 1, 2, 3)",
    doc: "What the component writes to its log folder and to standard error: severe = errors and \
          warnings only; standard = also normal operation (start, stop, logins, jobs); all = also \
          details for debugging.",
};

const LOG_RETENTION_DAYS: KeySpec = KeySpec {
    name: "LogRetentionDays",
    default: "30",
    expected: "a whole number of days, 1 or more",
    doc: "Log files rotate daily; this many days of files are kept, older ones are deleted.",
};

const REMOTE_ADMIN_PASSWORD: KeySpec = KeySpec {
    name: "RemoteAdminPassword",
    default: "",
    expected: "a password of 12 or more characters, or empty",
    doc: "Lets an administrator see and download this component's log files and change its \
          log level at run time, from the Hub's console (Logs), by giving this password. \
          Empty: remote administration of this component is off.",
};

const TRUSTED_PROXIES: KeySpec = KeySpec {
    name: "TrustedProxies",
    default: "",
    expected: "IP addresses or networks (e.g. 127.0.0.1,10.0.0.0/8) separated by commas, or empty",
    doc: "The reverse proxies in front of this component whose X-Forwarded-For header is \
          believed. A request from one of them counts as coming from the right-most address \
          in X-Forwarded-For that is not itself a trusted proxy; that address is what the \
          login limits count. Set it to your proxy's address when browsers come through one \
          (and have the proxy set X-Forwarded-For, see docs/deployment.md), or every login \
          counts as the proxy's. Empty: no proxy is trusted, the connection's address counts.",
};

const REGISTRY_HUB_HOST: KeySpec = KeySpec {
    name: "RegistryHubHost",
    default: "localhost",
    expected: HOST_PORT_EXPECTED,
    doc: "Where this component reaches the Administration Hub (its local name; see \
          ExternalHubHostName in lui.ini for the name browsers use). The component announces \
          itself there at start and every HubAnnounceInterval seconds.",
};

const HUB_ANNOUNCE_INTERVAL: KeySpec = KeySpec {
    name: "HubAnnounceInterval",
    default: "30",
    expected: "a whole number of seconds, 1 or more",
    doc: "How often the component tells the Hub where it is and that it runs. After a failed \
          attempt it tries again sooner (1 s, doubling up to this interval).",
};

pub static SERVER_INI: &FileSpec = &FileSpec {
    path: "server.ini",
    title: "Server",
    intro: "Which components this server runs and where it listens. All components of one server \
            share one HTTP listener (and one HTTPS listener), each under its own path: /hub, /lui, \
            /trk, /mailer.",
    missing_hint: "run tutti init --root DIR first, or tutti serve, which initialises an empty root",
    keys: &[
        KeySpec {
            name: "Components",
            default: "hub,lui,trk,mailer",
            expected: "a comma-separated list of hub, lui, trk, mailer",
            doc: "The components this server runs. Each needs its INI file (hub/hub.ini, \
                  lui/lui.ini, trk/tracker.ini, mailer/mailer.ini). Must be written in the file \
                  (tutti init does): a server.ini without it is refused as empty or damaged.",
        },
        KeySpec {
            name: "BindAddress",
            default: "0.0.0.0",
            expected: "an IP address of this server, 0.0.0.0 (all IPv4) or :: (all)",
            doc: "The address the HTTP and HTTPS listeners bind to.",
        },
        KeySpec {
            name: "Port",
            default: "80",
            expected: "a port number, 1 to 65535",
            doc: "The HTTP port. Ports below 1024 need root (or CAP_NET_BIND_SERVICE); choose \
                  e.g. 8080 otherwise. tutti serve --port overrides it. Must be written in the \
                  file (tutti init does): a server.ini without it is refused as empty or damaged.",
        },
        KeySpec {
            name: "HostName",
            default: "",
            expected: "a host name or IP address of this server, or empty",
            doc: "The name under which the other components reach this server; the components \
                  tell the Hub this name when they announce themselves. Empty: BindAddress when \
                  it is a specific address, otherwise the address the Hub sees the announcement \
                  come from.",
        },
        KeySpec {
            name: "SslPort",
            default: "",
            expected: "a port number, 1 to 65535, or empty for no HTTPS",
            doc: "The HTTPS port (usually 443). When set, SslCertificate and SslPrivateKey must \
                  be set too; the components then also answer over HTTPS.",
        },
        KeySpec {
            name: "SslCertificate",
            default: "",
            expected: "a path to a PEM certificate chain (relative to the installation root), or empty",
            doc: "The server's certificate, followed by its intermediate certificates.",
        },
        KeySpec {
            name: "SslPrivateKey",
            default: "",
            expected: "a path to a PEM private key (relative to the installation root), or empty",
            doc: "The private key of SslCertificate (PKCS#8, PKCS#1 or SEC1). SIGHUP reloads \
                  both files without dropping connections; a pair that cannot be used keeps \
                  the old one in use and is logged.",
        },
        KeySpec {
            name: "RedirectHttpToHttps",
            default: "false",
            expected: "true or false",
            doc: "true: the HTTP listener answers requests for the Hub's and the User \
                  Interface's pages with a redirect to the same path over HTTPS (the request's \
                  host name with SslPort; 301 for GET and HEAD, 308 for other methods). The \
                  Tracker (/trk, the links in mail already sent), the Mailer, the component \
                  APIs (/hub/api/..., /lui/api/...), /health, /metrics and /remote-admin still \
                  answer over HTTP. Needs SslPort.",
        },
        KeySpec {
            name: "AnnounceHttps",
            default: "false",
            expected: "true or false",
            doc: "true: this server's components tell the Hub their HTTPS address \
                  (https://host:SslPort) instead of the HTTP one, so the Hub checks them over \
                  HTTPS. Needs SslPort; the Hub's server must trust the certificate \
                  (TrustedCertificates there, when it is self-signed or from a private CA).",
        },
        KeySpec {
            name: "TrustedCertificates",
            default: "",
            expected: "a path to a PEM file of one or more certificates (relative to the installation root), or empty",
            doc: "Certificates this server's components trust, besides the system's, when they \
                  call other components over HTTPS (https:// in RegistryHubHost, TrackerHost, \
                  HandOverTo or the Hub's mailer connection): a private CA, or a peer's \
                  self-signed certificate. Read at start; a peer whose certificate is not \
                  trusted is refused, and tutti check says why.",
        },
        KeySpec {
            name: "MetricsToken",
            default: "",
            expected: "a token of 16 or more characters, or empty",
            doc: "Who may read the Prometheus metrics at /hub/metrics, /lui/metrics, \
                  /trk/metrics and /mailer/metrics: whoever sends this token as \
                  `Authorization: Bearer TOKEN`. Empty: callers on this machine (loopback) \
                  only.",
        },
        KeySpec {
            name: "ShutdownGraceSeconds",
            default: "30",
            expected: "a whole number of seconds",
            doc: "On SIGTERM or SIGINT the server stops accepting connections and waits this \
                  long for requests in flight to finish before it exits.",
        },
    ],
};

pub static HUB_INI: &FileSpec = &FileSpec {
    path: "hub/hub.ini",
    title: "Administration Hub",
    intro: "The Administration Hub: accounts, groups, rights, settings and the registry of the \
            installation's components. Its lasting data is in hub/accountreg and hub/hubreg.",
    missing_hint: "run tutti init --root DIR --components hub, or remove hub from Components in server.ini",
    keys: &[
        CLUSTER_SECRET,
        LOG_LEVEL,
        LOG_RETENTION_DAYS,
        REMOTE_ADMIN_PASSWORD,
        TRUSTED_PROXIES,
        KeySpec {
            name: "BackupTime",
            default: "",
            expected: "HH:MM (UTC), or empty",
            doc: "When the Hub backs up every component of the installation, daily, in UTC \
                  (e.g. 02:30). Each component writes its snapshot into its own backup \
                  folder; the Hub writes hub/log/backupReport_<ID>.txt. Empty: only on \
                  demand (the console's Backups page, or tutti backup --root DIR).",
        },
        KeySpec {
            name: "BackupKeep",
            default: "7",
            expected: "a whole number, 1 or more",
            doc: "How many backups each component keeps; older ones are deleted after a new \
                  one is written.",
        },
        KeySpec {
            name: "BackupCommand",
            default: "",
            expected: "a command line, or empty",
            doc: "Run by the Hub (through /bin/sh) after each backup, e.g. to copy the backup \
                  folders elsewhere; it gets TUTTI_BACKUP_ID, TUTTI_BACKUP_REPORT (the \
                  report's path) and TUTTI_BACKUP_OK (true or false). Set here and not in the \
                  console: whoever may change it may run commands on this server.",
        },
    ],
};

pub static LUI_INI: &FileSpec = &FileSpec {
    path: "lui/lui.ini",
    title: "User Interface",
    intro: "The User Interface, where people build, send and follow email jobs. Its lasting data \
            is in lui/luidata, lui/registry and (internal database) lui/database.",
    missing_hint: "run tutti init --root DIR --components lui, or remove lui from Components in server.ini",
    keys: &[
        REGISTRY_HUB_HOST,
        KeySpec {
            name: "TrackerHost",
            default: "localhost",
            expected: HOST_PORT_EXPECTED,
            doc: "Where the User Interface reaches the Tracker (its local name), to register the \
                  link tables of sent jobs and to fetch tracking events. The name in tracking \
                  URLs is the Hub's Tracking URL setting, not this key.",
        },
        KeySpec {
            name: "DatabaseType",
            default: "internal",
            expected: "internal or postgresql",
            doc: "Where the system database is (jobs, recipients, messages, reports): internal \
                  is SQLite in lui/database; postgresql is an external PostgreSQL server at \
                  DatabaseUrl. `tutti lui move-database` moves the data from one to the other.",
        },
        KeySpec {
            name: "DatabaseUrl",
            default: "",
            expected: "postgres://user:password@host:port/database, or empty for internal",
            doc: "The PostgreSQL database when DatabaseType is postgresql; the User Interface \
                  creates its tables there at its first start. Add ?sslmode=require to insist \
                  on TLS. Keep this file readable by the User Interface's user only.",
        },
        KeySpec {
            name: "ExternalHostName",
            default: "",
            expected: HOST_PORT_EXPECTED,
            doc: "The name (and port) under which browsers reach the User Interface, when it \
                  differs from where it runs (a proxy, a NAT, a DNS alias), e.g. \
                  maestro.example.com:9001; the port is left out when it is the protocol's \
                  default, and https:// goes in front when browsers use HTTPS. Used in every \
                  User Interface URL it gives out (the API document's server). Empty: the \
                  address it runs on.",
        },
        KeySpec {
            name: "ExternalHubHostName",
            default: "",
            expected: HOST_PORT_EXPECTED,
            doc: "The name (and port) under which browsers reach the Administration Hub, \
                  when it differs from RegistryHubHost (the name the User Interface itself \
                  uses), e.g. hub.example.com. The User Interface's link to the Hub uses it. \
                  Empty: RegistryHubHost.",
        },
        KeySpec {
            name: "JobIdPrefix",
            default: "",
            expected: "up to 20 letters, digits, - or _",
            doc: "Put before every new job's id (YYMMDD and a letter), e.g. NEWS- gives \
                  NEWS-261129A.",
        },
        KeySpec {
            name: "MaxUploadMegabytes",
            default: "2048",
            expected: "a whole number of megabytes, 1 or more",
            doc: "The largest recipient file a user may upload. Uploads go to disk as they \
                  arrive (lui/luidata/uploads) and are read from there, so memory does not \
                  grow with them; this bounds the disk they take.",
        },
        KeySpec {
            name: "TestSendMaxAddresses",
            default: "20",
            expected: "a whole number of addresses, 1 to 1000",
            doc: "The most addresses one test send of a job may go to. A test send needs the \
                  right to send jobs; a call with more addresses is refused (422) and sends \
                  nothing.",
        },
        KeySpec {
            name: "TestSendMaxPerDay",
            default: "100",
            expected: "a whole number of addresses, 1 or more",
            doc: "The most test addresses one account may send to per day (UTC), counted in \
                  the system database over all its jobs. A test send that would go beyond it is \
                  refused (429, saying when the count starts again at 00:00 UTC) and sends \
                  nothing.",
        },
        KeySpec {
            name: "DefaultMailCharset",
            default: "UTF-8",
            expected: "a charset name Tutti writes (UTF-8, ISO-8859-1, ..., see the list below)",
            doc: "The charset of new jobs' messages. The reference's default is ISO-8859-1; \
                  Tutti's is UTF-8, which holds every language (text a legacy charset cannot \
                  hold is refused when the job is checked).",
        },
        KeySpec {
            name: "AllowCharsetChoice",
            default: "true",
            expected: "true or false",
            doc: "Whether users may choose another charset for a job's message than \
                  DefaultMailCharset.",
        },
        TRUSTED_PROXIES,
        HUB_ANNOUNCE_INTERVAL,
        CLUSTER_SECRET,
        LOG_LEVEL,
        LOG_RETENTION_DAYS,
        REMOTE_ADMIN_PASSWORD,
    ],
};

pub static TRK_INI: &FileSpec = &FileSpec {
    path: "trk/tracker.ini",
    title: "Tracker",
    intro: "The Tracker, which answers the open and click URLs of every message sent and records \
            each event. Its lasting data is in trk/data.",
    missing_hint: "run tutti init --root DIR --components trk, or remove trk from Components in server.ini",
    keys: &[
        REGISTRY_HUB_HOST,
        HUB_ANNOUNCE_INTERVAL,
        KeySpec {
            name: "HandOverTo",
            default: "",
            expected: HOST_PORT_EXPECTED,
            doc: "Set on a Tracker that was moved but keeps running for the links already \
                  sent (tutti move trk --hand-over sets it): host[:port] of its successor, to \
                  which it hands every event it records. It still answers its links itself. \
                  Empty: no successor.",
        },
        KeySpec {
            name: "EventRetentionDays",
            default: "30",
            expected: "a whole number of days, 1 or more",
            doc: "Events stay in trk/data until the User Interface has fetched them and they are \
                  this many days old; only then are they deleted.",
        },
        CLUSTER_SECRET,
        LOG_LEVEL,
        LOG_RETENTION_DAYS,
        REMOTE_ADMIN_PASSWORD,
    ],
};

pub static MAILER_INI: &FileSpec = &FileSpec {
    path: "mailer/mailer.ini",
    title: "Mailer",
    intro: "The Mailer, which merges, builds and delivers the messages of each job through SMTP. \
            Its lasting data is in mailer/spool.",
    missing_hint: "run tutti init --root DIR --components mailer, or remove mailer from Components in server.ini",
    keys: &[
        REGISTRY_HUB_HOST,
        HUB_ANNOUNCE_INTERVAL,
        KeySpec {
            name: "SmtpRelays",
            default: "",
            expected: "host[:port] of SMTP relays, separated by commas (port 25 when left out), or empty",
            doc: "The MTAs (Postfix or any) the Mailer delivers through; connections are spread \
                  over them. Empty: every message is written into mailer/outbox as an .eml file \
                  instead, so a new installation can follow a job from upload to report \
                  without an MTA (the log and the job's progress say so).",
        },
        KeySpec {
            name: "SmtpSecurity",
            default: "none",
            expected: "none, starttls or tls",
            doc: "How connections to the relays are protected: none (a relay on this host or a \
                  trusted network), starttls (required: a relay that does not offer it is an \
                  error), tls (TLS from the first byte, port 465).",
        },
        KeySpec {
            name: "SmtpUser",
            default: "",
            expected: "a user name, or empty for none",
            doc: "User name for SMTP AUTH PLAIN at the relays. Without starttls or tls it is \
                  allowed only for relays on this host (the password would cross the network in \
                  clear): tutti check and tutti serve refuse it otherwise.",
        },
        KeySpec {
            name: "SmtpPassword",
            default: "",
            expected: "a password, or empty",
            doc: "Password for SmtpUser.",
        },
        KeySpec {
            name: "SmtpConnections",
            default: "8",
            expected: "a whole number from 1 to 256",
            doc: "Connections the Mailer keeps open to each relay; each sends its messages \
                  one after the other with pipelining.",
        },
        KeySpec {
            name: "MaxMessagesPerSecond",
            default: "0",
            expected: "a whole number; 0 for no limit",
            doc: "The most messages the Mailer hands to the relays per second, over all jobs.",
        },
        KeySpec {
            name: "MaxMessagesPerDomainPerSecond",
            default: "0",
            expected: "a whole number; 0 for no limit",
            doc: "The most messages per second to recipients of any one domain (the part of \
                  the address after @), over all jobs. Recipients beyond it wait for their \
                  domain's next free slot while others go ahead.",
        },
        KeySpec {
            name: "DomainRates",
            default: "",
            expected: "domain:messages-per-second entries separated by commas, or empty",
            doc: "Per-domain limits that replace MaxMessagesPerDomainPerSecond for the domains \
                  named, e.g. gmail.com:50, yahoo.com:20 (0: no limit for that domain).",
        },
        KeySpec {
            name: "RetryHours",
            default: "24",
            expected: "a whole number of hours, 1 or more",
            doc: "How long a recipient whose delivery failed temporarily (4xx) is tried again, \
                  with growing pauses; then it is recorded as failed with the last reply.",
        },
        KeySpec {
            name: "RetryIntervalSeconds",
            default: "60",
            expected: "a whole number of seconds, 1 or more",
            doc: "The pause before a temporarily failed recipient is tried again; each \
                  further pause doubles, up to an hour.",
        },
        KeySpec {
            name: "ReturnPathDomain",
            default: "",
            expected: "a domain name, or empty",
            doc: "The domain of the per-recipient return path (VERP: \
                  bounce+HANDLE-N-MAC@domain, signed with the key in \
                  mailer/spool/return-path-key) that lets bounces and complaints be matched to \
                  their recipient; reports to an unsigned or wrongly signed return path are \
                  refused. Its mail must reach the bounce listener. Empty: the sender address \
                  is the return path and bounces are not matched.",
        },
        KeySpec {
            name: "DkimKeys",
            default: "",
            expected: "domain:selector:key-file entries separated by commas, or empty",
            doc: "DKIM signing keys by sender domain: each message whose sender address is in \
                  the domain is signed (relaxed/relaxed) with the key in key-file (PEM, RSA \
                  PKCS#1 or PKCS#8, or Ed25519 PKCS#8; a relative path is under mailer/). \
                  Publish the public key at selector._domainkey.domain (docs/operations.md, \
                  DKIM, shows how to make a key and its record with openssl).",
        },
        KeySpec {
            name: "BounceListener",
            default: "",
            expected: "host:port to listen on for bounces, or empty for off",
            doc: "Where the Mailer takes delivery status notifications (RFC 3464) and \
                  feedback-loop complaints (ARF) over SMTP, e.g. 0.0.0.0:2525; point the MX \
                  of ReturnPathDomain (or a relay's transport for it) here. Off when empty.",
        },
        KeySpec {
            name: "HeloName",
            default: "",
            expected: "a host name, or empty",
            doc: "The name the Mailer gives in EHLO; empty: ReturnPathDomain, else localhost.",
        },
        KeySpec {
            name: "DistributeClients",
            default: "",
            expected: "client addresses separated by commas, or empty for any",
            doc: "The client addresses (the mailer connection's client address in the Hub) \
                  allowed to hand jobs to this Mailer. Every call also needs the ClusterSecret.",
        },
        KeySpec {
            name: "DistributePassword",
            default: "",
            expected: "a password, or empty for none",
            doc: "The password those clients must give (the mailer connection's client \
                  password in the Hub).",
        },
        CLUSTER_SECRET,
        LOG_LEVEL,
        LOG_RETENTION_DAYS,
        REMOTE_ADMIN_PASSWORD,
    ],
};

/// Every file, server.ini first.
pub static ALL_FILES: [&FileSpec; 5] = [SERVER_INI, HUB_INI, LUI_INI, TRK_INI, MAILER_INI];

/// The spec of a component's INI file.
pub fn component_file(component: crate::Component) -> &'static FileSpec {
    match component {
        crate::Component::Hub => HUB_INI,
        crate::Component::Lui => LUI_INI,
        crate::Component::Trk => TRK_INI,
        crate::Component::Mailer => MAILER_INI,
    }
}

/// The keys of a component's INI file that say where *this server* reaches the component's
/// peers (and which peer). They describe the server the file is on, not the component:
/// `tutti move` keeps them as the new root's `tutti init` wrote them, and `tutti restore`
/// names them when the backup's values are not this root's.
pub fn peer_host_keys(component: crate::Component) -> &'static [(&'static str, crate::Component)] {
    use crate::Component::{Hub, Lui, Mailer, Trk};
    match component {
        Hub => &[],
        Lui => &[("RegistryHubHost", Hub), ("TrackerHost", Trk)],
        Trk | Mailer => &[("RegistryHubHost", Hub)],
    }
}

/// The keys of a component's INI file that are the component's own settings but name an
/// address, which may be the old server itself (a database, an SMTP relay or a successor
/// on its loopback, an address to listen on). They come along with a move or a restore;
/// `tutti move` and `tutti restore` point them out when they name such an address.
pub fn own_address_keys(component: crate::Component) -> &'static [&'static str] {
    use crate::Component::{Hub, Lui, Mailer, Trk};
    match component {
        Hub => &[],
        Lui => &["DatabaseUrl"],
        Trk => &["HandOverTo"],
        Mailer => &["SmtpRelays", "BounceListener"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Component;

    #[test]
    fn paths_agree_with_components() {
        for c in Component::ALL {
            assert_eq!(component_file(c).path, c.ini_file());
        }
    }

    #[test]
    fn key_names_are_unique_per_file() {
        for file in ALL_FILES {
            let mut names: Vec<_> = file
                .keys
                .iter()
                .map(|k| k.name.to_ascii_lowercase())
                .collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), file.keys.len(), "{}", file.path);
        }
    }

    #[test]
    fn address_keys_are_declared() {
        for c in Component::ALL {
            let file = component_file(c);
            for (key, _) in peer_host_keys(c) {
                file.key(key);
            }
            for key in own_address_keys(c) {
                file.key(key);
            }
        }
    }
}
