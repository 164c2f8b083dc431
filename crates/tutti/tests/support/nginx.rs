//! A private nginx (the Debian package's binary) in a temp folder, as the proxy in front
//! of Tutti's components.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::DEADLINE;

pub struct Nginx {
    child: Child,
    pub dir: PathBuf,
}

const NGINX: &str = "/usr/sbin/nginx";

impl Nginx {
    /// Starts nginx with `servers` (the `server { ... }` blocks of its http section) and
    /// waits until every `(ip, port)` in `listens` accepts connections.
    pub fn start(dir: &Path, servers: &str, listens: &[(&str, u16)]) -> Nginx {
        assert!(
            Path::new(NGINX).exists(),
            "the proxy tests need nginx: apt-get install nginx-light (scripts/install-test-deps does)"
        );
        let dir = dir.join("nginx");
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        // Workers of a master started as root would run as nobody, who cannot enter the
        // test's temp folder.
        let user = if nix::unistd::geteuid().is_root() {
            "user root;"
        } else {
            ""
        };
        let d = dir.display();
        let conf = format!(
            "{user}
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
  access_log {d}/logs/access.log;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  client_max_body_size 64m;
{servers}
}}
"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx { child, dir };
        let deadline = Instant::now() + DEADLINE;
        for (ip, port) in listens {
            while std::net::TcpStream::connect((*ip, *port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "nginx did not listen on {ip}:{port}: {}",
                    nginx.error_log()
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        nginx
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// SIGTERM, so that the master stops its workers too (after a SIGKILL they would live on).
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}
