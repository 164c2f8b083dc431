//! A private Postfix instance (Debian's `postfix` package, its own configuration and queue
//! in a temporary folder) that relays nothing outside: it listens on a loopback address,
//! delivers `@example.org` into one Maildir the test reads, refuses chosen recipients at
//! RCPT, and bounces every other domain locally (`error` transport). Needs root, as
//! Postfix's master does.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{DEADLINE, free_port};

pub struct Postfix {
    pub port: u16,
    pub ip: &'static str,
    dir: PathBuf,
}

/// Runs `postfix -c DIR/etc ARGS`; Postfix reports only to its log, so that is shown when
/// it fails.
fn postfix(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("/usr/sbin/postfix")
        .arg("-c")
        .arg(dir.join("etc"))
        .args(args)
        .output()
        .map_err(|e| format!("postfix cannot run ({e}); scripts/install-test-deps installs it"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "postfix {args:?} failed (it must run as root): {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("postfix.log")).unwrap_or_default()
    ))
}

impl Postfix {
    /// Starts Postfix in `dir`, refusing `refused` (address, reply) at RCPT.
    pub fn start(dir: &Path, refused: &[(&str, &str)]) -> Postfix {
        let ip = "127.0.0.6";
        let port = free_port(ip);
        for sub in ["etc", "queue", "data", "mail"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let chown = |path: &Path, user: &str| {
            let ok = Command::new("chown")
                .arg(user)
                .arg(path)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown {user} {}", path.display());
        };
        chown(&dir.join("data"), "postfix");
        chown(&dir.join("mail"), "nobody");
        let d = dir.display();
        let access: Vec<String> = refused.iter().map(|(a, r)| format!("{a} = {r}")).collect();
        std::fs::write(
            dir.join("etc/main.cf"),
            format!(
                "compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.test
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
smtpd_peername_lookup = no
smtpd_recipient_restrictions = check_recipient_access inline:{{ {{ {} }} }}, permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = example.org
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
default_transport = error:this test relay delivers nothing outside
relay_transport = error:this test relay delivers nothing outside
",
                access.join(" } { ")
            ),
        )
        .unwrap();
        let services = [
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "local unix - n n - - local",
            "virtual unix - n n - - virtual",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ];
        std::fs::write(
            dir.join("etc/master.cf"),
            format!(
                "{ip}:{port} inet n - n - - smtpd\n{}\n",
                services.join("\n")
            ),
        )
        .unwrap();
        postfix(dir, &["start"]).unwrap();
        let deadline = Instant::now() + DEADLINE;
        while std::net::TcpStream::connect((ip, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Postfix did not listen on {ip}:{port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Postfix {
            port,
            ip,
            dir: dir.to_path_buf(),
        }
    }

    /// The messages delivered so far, as files.
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        let new = self.dir.join("mail/inbox/new");
        std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| std::fs::read(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postfix.log")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if let Err(e) = postfix(&self.dir, &["abort"]) {
            eprintln!("{e}");
        }
    }
}
