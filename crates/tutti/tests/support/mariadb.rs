//! A private MariaDB server (Debian's `mariadb-server` package) with its data in a
//! temporary folder, listening on a loopback address, for recipient-query tests. It skips
//! the grant tables: any user may connect, as the tests need no more.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::{DEADLINE, free_port};

pub struct MariaDb {
    pub port: u16,
    pub ip: &'static str,
    child: Child,
}

impl MariaDb {
    pub fn start(dir: &Path) -> MariaDb {
        let ip = "127.0.0.7";
        let port = free_port(ip);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let installed = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("mariadb-install-db runs (scripts/install-test-deps installs mariadb-server)");
        assert!(installed.status.success(), "{installed:?}");
        let child = Command::new("mariadbd")
            .args(["--no-defaults", "--user=root", "--skip-grant-tables"])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.join("mariadb.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mariadb.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg(format!("--bind-address={ip}"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd starts");
        let deadline = Instant::now() + DEADLINE;
        while std::net::TcpStream::connect((ip, port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "MariaDB did not listen on {ip}:{port}: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        MariaDb { port, ip, child }
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@{}:{}/{database}", self.ip, self.port)
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
