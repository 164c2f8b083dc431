//! Helpers for end-to-end tests: installation roots made with `tutti init`, `tutti serve`
//! processes on loopback addresses (127.0.0.2, 127.0.0.3, ... act as separate servers),
//! and polling with deadlines instead of sleeps.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod mariadb;
pub mod nginx;
pub mod postfix;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tutti_core::api::{ComponentList, Health};
use tutti_core::{ClusterSecret, Component};

pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn tutti() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tutti"));
    cmd.env_remove("TUTTI_ROOT")
        .env_remove("TUTTI_CLUSTER_SECRET")
        .env_remove("RUST_LOG");
    cmd
}

/// A port that is free on `ip` now.
pub fn free_port(ip: &str) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind a loopback address");
    listener.local_addr().expect("local address").port()
}

/// Runs `tutti COMMAND --root root` to its end.
pub fn run(command: &str, root: &Path) -> Output {
    tutti()
        .arg(command)
        .arg("--root")
        .arg(root)
        .output()
        .expect("run tutti")
}

/// Runs `tutti move COMPONENT --from from --to to`, asserts it succeeded, and returns what
/// it printed (the INI keys to change next).
pub fn move_component(component: &str, from: &Path, to: &Path) -> String {
    move_component_with(component, from, to, &[])
}

/// `tutti move` with more arguments (e.g. `--hand-over`).
pub fn move_component_with(component: &str, from: &Path, to: &Path, extra: &[&str]) -> String {
    let out = tutti()
        .args(["move", component, "--from"])
        .arg(from)
        .arg("--to")
        .arg(to)
        .args(extra)
        .output()
        .expect("run tutti");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(
        out.status.success(),
        "tutti move {component}: {stderr}{stdout}"
    );
    stdout
}

/// Runs `tutti init --root root ARGS` and asserts it succeeded.
pub fn init(root: &Path, args: &[&str]) -> Output {
    let out = tutti()
        .arg("init")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run tutti init");
    assert!(
        out.status.success(),
        "tutti init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The ClusterSecret written in the root's INI files.
pub fn secret(root: &Path) -> ClusterSecret {
    tutti_core::root::existing_secret(root).expect("a ClusterSecret in the root")
}

/// The Hub's one-time setup password in `root`, as the administrator reads it.
pub fn setup_password(root: &Path) -> String {
    std::fs::read_to_string(root.join(tutti_hub::setup_password::FILE))
        .expect("init wrote the setup password")
        .trim()
        .to_string()
}

/// Sets `key=value` in an INI file, keeping everything else.
pub fn set_key(file: &Path, key: &str, value: &str) {
    let text = std::fs::read_to_string(file).expect("read INI");
    let text = tutti_core::properties::set_in_text(&text, key, value).expect("INI parses");
    std::fs::write(file, text).expect("write INI");
}

/// Copies a file or a folder (with everything in it) to `to`, replacing what is there.
pub fn copy_path(from: &Path, to: &Path) {
    if from.is_dir() {
        if to.exists() {
            std::fs::remove_dir_all(to).expect("remove old folder");
        }
        std::fs::create_dir_all(to).expect("create folder");
        for entry in std::fs::read_dir(from).expect("read folder") {
            let entry = entry.expect("folder entry");
            copy_path(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).expect("copy file");
    }
}

/// A running `tutti serve`.
pub struct Server {
    pub child: Option<Child>,
    pub root: PathBuf,
    pub addr: SocketAddr,
    pub stderr: PathBuf,
}

impl Server {
    /// Starts `tutti serve --root root`; does not wait for it to answer.
    pub fn spawn(root: &Path, extra: &[&str]) -> Server {
        let addr = listen_addr(root);
        std::fs::create_dir_all(root).expect("create the root");
        let stderr = root.join(format!("serve-{}.stderr", std::process::id()));
        let child = tutti()
            .arg("serve")
            .arg("--root")
            .arg(root)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawn tutti serve");
        Server {
            child: Some(child),
            root: root.to_path_buf(),
            addr,
            stderr,
        }
    }

    /// Starts it and waits until every component in server.ini answers its health check.
    pub async fn start(root: &Path) -> Server {
        let server = Server::spawn(root, &[]);
        let installation =
            tutti_core::config::Installation::load(root).expect("configuration loads");
        for c in installation.server.components {
            server.wait_healthy(c).await;
        }
        server
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    pub async fn wait_healthy(&self, component: Component) -> Health {
        let url = self.url(&format!("{}/health", component.prefix()));
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(r) = reqwest::get(&url).await
                && r.status().is_success()
                && let Ok(h) = r.json::<Health>().await
            {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "{url} did not answer in time; stderr:\n{}",
                self.stderr_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `signal` and waits for the process to exit.
    pub fn stop_with(&mut self, signal: Signal) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
        kill(pid, signal).expect("signal tutti");
        wait_exit(&mut child)
    }

    pub fn stop(&mut self) -> ExitStatus {
        self.stop_with(Signal::SIGTERM)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for a child to exit, at most `DEADLINE`.
pub fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "process did not exit in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where `tutti serve` on this root listens, from server.ini.
fn listen_addr(root: &Path) -> SocketAddr {
    let installation = tutti_core::config::Installation::load(root).ok();
    match installation {
        Some(i) => {
            let ip = if i.server.bind_address.is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                i.server.bind_address
            };
            SocketAddr::new(ip, i.server.port)
        }
        None => SocketAddr::from(([127, 0, 0, 1], 80)),
    }
}

/// `GET /hub/api/components` with the cluster secret.
pub async fn components(hub_base: &str, secret: &ClusterSecret) -> ComponentList {
    reqwest::Client::new()
        .get(format!("{hub_base}/hub/api/components"))
        .bearer_auth(secret.expose())
        .send()
        .await
        .expect("hub answers")
        .error_for_status()
        .expect("components listed")
        .json()
        .await
        .expect("component list JSON")
}

/// Polls the Hub until `pred` holds for its component list; returns that list.
pub async fn wait_components(
    hub_base: &str,
    secret: &ClusterSecret,
    what: &str,
    pred: impl Fn(&ComponentList) -> bool,
) -> ComponentList {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let list = components(hub_base, secret).await;
        if pred(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "the Hub never showed {what}; last list: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether `list` has `component` with `instance_id`, at `url`, answering.
pub fn has_answering(
    list: &ComponentList,
    component: Component,
    instance_id: &str,
    url: &str,
) -> bool {
    list.components.iter().any(|c| {
        c.component == component && c.instance_id == instance_id && c.url == url && c.answering
    })
}

/// Reads every log file of a component.
pub fn log_text(root: &Path, component: Component) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(root.join(component.log_dir())) {
        for entry in entries.flatten() {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    text
}

/// A person (or script) using the Hub's JSON API with a cookie session.
pub struct HubApi {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

impl HubApi {
    pub fn new(base: &str) -> HubApi {
        Self::at(base, "/hub")
    }

    /// The same kind of session against another component's API, e.g. `/lui`.
    pub fn at(base: &str, prefix: &str) -> HubApi {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        HubApi::with_client(http, base, prefix)
    }

    /// A session through `http` (which must keep cookies), e.g. one that resolves a proxy's
    /// names to loopback.
    pub fn with_client(http: reqwest::Client, base: &str, prefix: &str) -> HubApi {
        HubApi {
            http,
            base: format!("{base}{prefix}/api"),
            csrf: String::new(),
        }
    }

    /// Logs in; returns the status and the JSON answer.
    pub async fn login(&mut self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/session", self.base))
            .json(&body)
            .send()
            .await
            .expect("hub answers");
        let status = r.status().as_u16();
        let json: serde_json::Value = r.json().await.unwrap_or_default();
        if let Some(t) = json["csrf_token"].as_str() {
            self.csrf = t.to_string();
        }
        (status, json)
    }

    /// Logs in as the administrator of `hub` with the setup password `tutti init` wrote,
    /// and changes it to `new_password`.
    pub async fn first_use(hub: &Server, new_password: &str) -> HubApi {
        let mut api = HubApi::new(&hub.base());
        let setup = setup_password(&hub.root);
        let (status, _) = api.login(serde_json::json!({"password": setup})).await;
        assert_eq!(status, 200);
        let (status, body) = api
            .send(
                reqwest::Method::POST,
                "/admin/password",
                Some(serde_json::json!({"old_password": setup, "new_password": new_password})),
            )
            .await;
        assert_eq!(status, 204, "{body}");
        api
    }

    /// Sends a request with the CSRF header; returns the status and the JSON answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("hub answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    /// A page of the same component (`path` after its prefix, e.g. `/jobs/X`), as this
    /// session's browser would get it.
    pub async fn page(&self, path: &str) -> String {
        let prefix = self.base.trim_end_matches("/api");
        let r = self
            .http
            .get(format!("{prefix}{path}"))
            .send()
            .await
            .expect("the component answers");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.text().await.expect("a page")
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
}

/// A client (keeping cookies) whose connections come from `ip`, a loopback address such
/// as 127.0.0.3: one person's browser at an address of its own.
pub fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .local_address(ip.parse::<IpAddr>().expect("an IP address"))
        .build()
        .expect("client")
}

/// Logs in to `api` (`{base}/hub` or `/lui`) with the same body from 40 connections at once;
/// the statuses answered.
pub async fn forty_logins_at_once(
    base: &str,
    prefix: &str,
    ip: &str,
    body: serde_json::Value,
) -> Vec<u16> {
    let http = client_from(ip);
    let url = format!("{base}{prefix}/api/session");
    let logins = (0..40).map(|_| {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        tokio::spawn(async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .expect("the server answers")
                .status()
                .as_u16()
        })
    });
    let mut statuses = Vec::new();
    for login in logins.collect::<Vec<_>>() {
        statuses.push(login.await.expect("login task"));
    }
    statuses
}

/// Calls the Hub's registry API as a component would (with the cluster secret).
pub async fn registry_post(
    hub_base: &str,
    secret: &ClusterSecret,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{hub_base}/hub/api/registry{path}"))
        .bearer_auth(secret.expose())
        .json(&body)
        .send()
        .await
        .expect("hub answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// One `tutti serve` running the Hub alone on 127.0.0.1.
pub async fn start_hub(dir: &Path) -> Server {
    init_hub(dir);
    Server::start(dir).await
}

/// Initialises `dir` for a Hub alone on 127.0.0.1 (a free port), not started.
pub fn init_hub(dir: &Path) {
    let port = free_port("127.0.0.1");
    init(
        dir,
        &[
            "--components",
            "hub",
            "--port",
            &port.to_string(),
            "--bind-address",
            "127.0.0.1",
        ],
    );
}

/// All four components in one process on 127.0.0.2, the Mailer relaying to `relay_port`
/// on 127.0.0.1, with `lui.ini` keys `database`; the Hub's global settings point accounts
/// at this Mailer and Tracker, and the administrator password is `new-admin-pw`.
pub async fn start_sending_installation(
    root: &Path,
    relay_port: u16,
    database: &[(&str, &str)],
) -> Server {
    start_sending_installation_with(root, relay_port, database, &[]).await
}

/// [`start_sending_installation`] with `mailer` keys set in `mailer.ini` too.
pub async fn start_sending_installation_with(
    root: &Path,
    relay_port: u16,
    database: &[(&str, &str)],
    mailer: &[(&str, &str)],
) -> Server {
    let port = free_port("127.0.0.2");
    let here = format!("127.0.0.2:{port}");
    init(
        root,
        &[
            "--bind-address",
            "127.0.0.2",
            "--port",
            &port.to_string(),
            "--hub-host",
            &here,
            "--tracker-host",
            &here,
        ],
    );
    let mailer_ini = root.join("mailer/mailer.ini");
    set_key(
        &mailer_ini,
        "SmtpRelays",
        &format!("127.0.0.1:{relay_port}"),
    );
    set_key(&mailer_ini, "DistributeClients", "lui@shop.example");
    set_key(&mailer_ini, "DistributePassword", "distribute-pw");
    for (k, v) in mailer {
        set_key(&mailer_ini, k, v);
    }
    for (k, v) in database {
        set_key(&root.join("lui/lui.ini"), k, v);
    }
    let server = Server::start(root).await;
    let admin = HubApi::first_use(&server, "new-admin-pw").await;
    let settings = serde_json::json!({
        "mailer": {"host": here, "client_address": "lui@shop.example", "client_password": "distribute-pw"},
        "tracking": {"scheme": "http", "host": "127.0.0.2", "port": port},
    });
    assert_eq!(admin.put("/settings/global", settings).await.0, 200);
    // Events reach the User Interface within a second.
    let (_, mut components) = admin.get("/settings/components").await;
    components["event_transfer_seconds"] = serde_json::json!(1);
    let (status, body) = admin.put("/settings/components", components).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        admin
            .post("/groups", serde_json::json!({"name": "Sales"}))
            .await
            .0,
        201
    );
    server
}

/// Two servers: A (127.0.0.2) runs the Hub and the User Interface, B (127.0.0.3) the
/// Tracker and the Mailer, which relays to `sink_port` on 127.0.0.1. Returns their roots.
pub fn init_two_servers(
    dir: &Path,
    port_a: u16,
    port_b: u16,
    sink_port: u16,
) -> (PathBuf, PathBuf) {
    let (a, b) = (format!("127.0.0.2:{port_a}"), format!("127.0.0.3:{port_b}"));
    let (root_a, root_b) = (dir.join("a"), dir.join("b"));
    init(
        &root_a,
        &[
            "--components",
            "hub,lui",
            "--bind-address",
            "127.0.0.2",
            "--port",
            &port_a.to_string(),
            "--hub-host",
            &a,
            "--tracker-host",
            &b,
        ],
    );
    let hub_ini = root_a.join("hub/hub.ini");
    init(
        &root_b,
        &[
            "--components",
            "trk,mailer",
            "--bind-address",
            "127.0.0.3",
            "--port",
            &port_b.to_string(),
            "--hub-host",
            &a,
            "--cluster-secret-file",
            hub_ini.to_str().expect("a UTF-8 path"),
        ],
    );
    set_key(
        &root_b.join("mailer/mailer.ini"),
        "SmtpRelays",
        &format!("127.0.0.1:{sink_port}"),
    );
    (root_a, root_b)
}

/// The Hub's first use (administrator password `new-admin-pw`) in a two-server
/// installation: the Mailer and Tracker on B's port, events every second, group Sales.
pub async fn set_up_two_servers(server_a: &Server, port_b: u16) -> HubApi {
    let admin = HubApi::first_use(server_a, "new-admin-pw").await;
    let settings = serde_json::json!({
        "mailer": {"host": format!("127.0.0.3:{port_b}"), "client_address": "lui@shop.example", "client_password": "pw"},
        "tracking": {"scheme": "http", "host": "127.0.0.3", "port": port_b},
    });
    assert_eq!(admin.put("/settings/global", settings).await.0, 200);
    let (_, mut components) = admin.get("/settings/components").await;
    components["event_transfer_seconds"] = serde_json::json!(1);
    assert_eq!(admin.put("/settings/components", components).await.0, 200);
    assert_eq!(
        admin
            .post("/groups", serde_json::json!({"name": "Sales"}))
            .await
            .0,
        201
    );
    admin
}

/// A user `name` in group Sales (password `{name}-password`), made at the Hub and logged in
/// to the User Interface's API.
pub async fn sender(server: &Server, name: &str) -> HubApi {
    let mut admin = HubApi::new(&server.base());
    admin
        .login(serde_json::json!({"password": "new-admin-pw"}))
        .await;
    let (status, body) = admin
        .post(
            "/accounts",
            serde_json::json!({"user_name": name, "group_name": "Sales", "password": format!("{name}-password")}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut api = HubApi::at(&server.base(), "/lui");
    let (status, body) = api
        .login(serde_json::json!({"user_name": name, "group_name": "Sales", "password": format!("{name}-password")}))
        .await;
    assert_eq!(status, 200, "{body}");
    api
}

/// A user `name` with every right in `group` (made if it is new; password
/// `{name}-password`), logged in to the User Interface's API.
pub async fn sender_in(server: &Server, name: &str, group: &str) -> HubApi {
    let mut admin = HubApi::new(&server.base());
    admin
        .login(serde_json::json!({"password": "new-admin-pw"}))
        .await;
    let (status, body) = admin
        .post("/groups", serde_json::json!({"name": group}))
        .await;
    assert!(status == 201 || status == 409, "{status} {body}");
    let (status, body) = admin
        .post(
            "/accounts",
            serde_json::json!({"user_name": name, "group_name": group, "password": format!("{name}-password")}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut api = HubApi::at(&server.base(), "/lui");
    let (status, body) = api
        .login(serde_json::json!({"user_name": name, "group_name": group, "password": format!("{name}-password")}))
        .await;
    assert_eq!(status, 200, "{body}");
    api
}

/// The `admin` login at the User Interface's API.
pub async fn lui_admin(server: &Server) -> HubApi {
    let mut api = HubApi::at(&server.base(), "/lui");
    let (status, body) = api
        .login(serde_json::json!({"user_name": "admin", "password": "new-admin-pw"}))
        .await;
    assert_eq!(status, 200, "{body}");
    api
}

/// Uploads `csv` as the recipients of `job` and waits until they are imported.
pub async fn upload_recipients(api: &HubApi, job: &str, csv: impl Into<reqwest::Body>) {
    let r = api
        .http
        .post(format!("{}/jobs/{job}/recipients", api.base))
        .header("x-csrf-token", &api.csrf)
        .body(csv)
        .send()
        .await
        .expect("the User Interface answers");
    assert_eq!(r.status().as_u16(), 202);
    let deadline = Instant::now() + DEADLINE;
    while api.get(&format!("/jobs/{job}/recipients")).await.1["state"] != "ready" {
        assert!(Instant::now() < deadline, "the upload was not imported");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Puts `message` on the job, then tests (to me@shop.example), authorizes and sends it.
pub async fn send_job(api: &HubApi, job: &str, message: serde_json::Value) {
    let (status, body) = api.put(&format!("/jobs/{job}/message"), message).await;
    assert_eq!(status, 200, "{body}");
    for step in ["test", "authorize", "send"] {
        let (status, body) = api
            .post(
                &format!("/jobs/{job}/{step}"),
                serde_json::json!({"addresses": ["me@shop.example"]}),
            )
            .await;
        assert_eq!(status, 200, "{step}: {body}");
    }
}

/// An SMTP sink on 127.0.0.1 that accepts every message.
pub async fn start_sink() -> tutti_smtp::sink::Sink {
    tutti_smtp::sink::Sink::start(
        "127.0.0.1:0".parse().expect("an address"),
        tutti_smtp::server::ServerConfig::new("sink.test"),
        true,
    )
    .await
    .expect("the sink starts")
}

/// Waits until `sink` has received `count` messages.
pub async fn wait_delivered(sink: &tutti_smtp::sink::Sink, count: usize) {
    let deadline = Instant::now() + DEADLINE;
    while sink.received().len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} messages were delivered",
            sink.received().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A headless Chromium (through chromedriver) or Firefox (through geckodriver), driven
/// over WebDriver, for browser tests.
pub struct Browser {
    pub client: fantoccini::Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start() -> Browser {
        let port = free_port("127.0.0.1");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver is installed (scripts/install-test-deps installs chromium-driver)",
            );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + DEADLINE;
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--window-size=1280,1000".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": args, "binary": "/usr/bin/chromium" }),
        );
        let client = fantoccini::ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Starts geckodriver on a free port and opens a headless Firefox session.
    pub async fn start_firefox() -> Browser {
        let port = free_port("127.0.0.1");
        let geckodriver = std::env::var("HOME")
            .map(|h| format!("{h}/.cargo/bin/geckodriver"))
            .ok()
            .filter(|p| Path::new(p).exists())
            .unwrap_or_else(|| "geckodriver".into());
        let driver = Command::new(geckodriver)
            .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "geckodriver is installed (scripts/install-test-deps: cargo install geckodriver)",
            );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + DEADLINE;
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "geckodriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "moz:firefoxOptions".into(),
            serde_json::json!({
                "args": ["-headless", "-width", "1280", "-height", "1000"],
                "binary": "/usr/bin/firefox-esr",
            }),
        );
        let client = fantoccini::ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Firefox session");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Types into the field with this id (after clearing it), waiting until it is there.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self
            .client
            .wait()
            .at_most(DEADLINE)
            .for_element(fantoccini::Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("field #{id}: {e}"));
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Clicks the element, waiting (with a deadline) until a page that reloads shows it.
    pub async fn click(&self, css: &str) {
        self.client
            .wait()
            .at_most(DEADLINE)
            .for_element(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .expect("click");
    }

    /// Clicks an element whose form reloads the page, and waits for the new page.
    pub async fn click_and_wait_for_reload(&self, css: &str) {
        self.client
            .execute("window.tuttiOldPage = true;", vec![])
            .await
            .expect("mark the page");
        self.click(css).await;
        let deadline = Instant::now() + DEADLINE;
        loop {
            let fresh = self
                .client
                .execute(
                    "return !window.tuttiOldPage && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if fresh {
                return;
            }
            assert!(Instant::now() < deadline, "{css} did not reload the page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page shows `text`; returns the page source.
    pub async fn wait_for_text(&self, text: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            // While a page is being replaced a browser may have no document to show.
            let source = match self.client.source().await {
                Ok(source) => source,
                Err(e) => format!("(no page: {e})"),
            };
            if source.contains(text) {
                return source;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {text:?}; it shows:\n{source}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a screenshot under the target folder, for people to look at.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
