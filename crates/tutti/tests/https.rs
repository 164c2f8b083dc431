//! The HTTPS listener (SslPort, SslCertificate, SslPrivateKey) beside the HTTP one: the
//! certificate reloaded on SIGHUP, RedirectHttpToHttps, and components calling each other
//! over HTTPS with TrustedCertificates.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::*;
use tutti_core::Component;

#[tokio::test]
async fn components_answer_over_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (port, ssl_port) = (free_port("127.0.0.1"), free_port("127.0.0.1"));
    init(
        dir.path(),
        &[
            "--components",
            "hub",
            "--port",
            &port.to_string(),
            "--bind-address",
            "127.0.0.1",
        ],
    );
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let server_ini = dir.path().join("server.ini");
    set_key(&server_ini, "SslPort", &ssl_port.to_string());
    set_key(&server_ini, "SslCertificate", "cert.pem");
    set_key(&server_ini, "SslPrivateKey", "key.pem");

    let server = Server::start(dir.path()).await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], ssl_port).into())
        .build()
        .unwrap();
    let health: tutti_core::api::Health = client
        .get(format!("https://localhost:{ssl_port}/hub/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health.component, Component::Hub);
    assert_eq!(
        server.wait_healthy(Component::Hub).await.instance_id,
        health.instance_id
    );

    // Over TLS the cookies have __Host- names: Secure, Path=/, no Domain.
    let cookies = |answer: &reqwest::Response| -> Vec<String> {
        answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    };
    let https = format!("https://localhost:{ssl_port}/hub");
    let page = client.get(format!("{https}/login")).send().await.unwrap();
    let set = cookies(&page);
    assert!(
        set.iter().any(|c| c.starts_with("__Host-tutti_hub_csrf=")
            && c.contains("Secure")
            && c.split("; ").any(|part| part == "Path=/")
            && !c.contains("Domain")),
        "{set:?}"
    );
    let login = client
        .post(format!("{https}/api/session"))
        .json(&serde_json::json!({"password": setup_password(dir.path())}))
        .send()
        .await
        .unwrap();
    let set = cookies(&login);
    assert!(
        set.iter()
            .any(|c| c.starts_with("__Host-tutti_hub_session=")
                && c.contains("Secure")
                && c.split("; ").any(|part| part == "Path=/")),
        "{set:?}"
    );
    assert!(!set.iter().any(|c| c.starts_with("tutti_hub_")), "{set:?}");
    let session = set
        .iter()
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|c| c.starts_with("__Host-tutti_hub_session="))
        })
        .unwrap()
        .to_string();
    let answer: serde_json::Value = login.json().await.unwrap();
    let status = |cookie: String| {
        let request = client
            .get(format!("{https}/api/session"))
            .header("cookie", cookie);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert!(
        answer["csrf_token"].as_str().is_some_and(|t| t.len() >= 32),
        "{answer}"
    );
    assert_eq!(status(session.clone()).await, 200);
    // The plain name is not read over TLS (a plain-HTTP page could have set it).
    assert_eq!(status(session.replacen("__Host-", "", 1)).await, 401);
}

#[test]
fn ssl_port_without_a_certificate_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &["--components", "hub", "--port", "8080"]);
    set_key(&dir.path().join("server.ini"), "SslPort", "8443");
    let out = run("serve", dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.ini") && err.contains("SslCertificate"),
        "{err}"
    );
}

/// A self-signed certificate for `name` (an IP address gets an IP SAN), written to
/// `root/{file}.pem` and `root/{file}-key.pem`.
fn self_signed(root: &Path, file: &str, name: &str) -> rcgen::CertifiedKey<rcgen::KeyPair> {
    let pair = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("a certificate");
    write_pair(root, file, &pair);
    pair
}

fn write_pair(root: &Path, file: &str, pair: &rcgen::CertifiedKey<rcgen::KeyPair>) {
    std::fs::write(root.join(format!("{file}.pem")), pair.cert.pem()).expect("write cert");
    std::fs::write(
        root.join(format!("{file}-key.pem")),
        pair.signing_key.serialize_pem(),
    )
    .expect("write key");
}

/// Sets SslPort, SslCertificate=`{file}.pem` and SslPrivateKey=`{file}-key.pem`.
fn enable_https(root: &Path, ssl_port: u16, file: &str) {
    let server_ini = root.join("server.ini");
    set_key(&server_ini, "SslPort", &ssl_port.to_string());
    set_key(&server_ini, "SslCertificate", &format!("{file}.pem"));
    set_key(&server_ini, "SslPrivateKey", &format!("{file}-key.pem"));
}

/// A TLS client that trusts `cert` only.
fn trusting(cert: &rcgen::Certificate) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).expect("a root certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to `addr` for `name`, handshake done.
fn tls_connect(
    addr: SocketAddr,
    name: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<Tls, String> {
    let server_name =
        rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(config, server_name).map_err(|e| e.to_string())?;
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| e.to_string())?;
    }
    Ok(tls)
}

/// The certificate the server presented on this connection.
fn presented(tls: &Tls) -> Vec<u8> {
    tls.conn.peer_certificates().expect("a server certificate")[0].to_vec()
}

/// Reads one HTTP/1.1 answer (with Content-Length): its status and body.
fn read_answer(tls: &mut Tls) -> (u16, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tls.read(&mut byte).expect("read the answer");
        assert_eq!(
            n,
            1,
            "the connection closed before the answer's head: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head}"));
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length in {head}"));
    let mut body = vec![0; length];
    tls.read_exact(&mut body).expect("read the body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn hup(server: &Server) {
    let child = server.child.as_ref().expect("the server runs");
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
    kill(pid, Signal::SIGHUP).expect("signal tutti");
}

/// Polls until a new connection trusting only `cert` succeeds and is shown `cert`.
fn wait_presents(server: &Server, addr: SocketAddr, name: &str, cert: &rcgen::Certificate) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let last = match tls_connect(addr, name, trusting(cert)) {
            Ok(tls) if presented(&tls) == cert.der().to_vec() => return,
            Ok(_) => "another certificate".to_string(),
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "new connections never got the new certificate ({last}); stderr:\n{}",
            server.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ip = "127.0.0.2";
    let (port, ssl_port) = (free_port(ip), free_port(ip));
    init(
        root,
        &[
            "--components",
            "hub",
            "--port",
            &port.to_string(),
            "--bind-address",
            ip,
        ],
    );
    let old = self_signed(root, "tls", ip);
    enable_https(root, ssl_port, "tls");
    let server = Server::start(root).await;
    let addr: SocketAddr = format!("{ip}:{ssl_port}").parse().unwrap();

    // A keep-alive connection that has answered once, and a request whose body is half sent.
    let mut idle = tls_connect(addr, ip, trusting(&old.cert)).unwrap();
    let health = format!("GET /hub/health HTTP/1.1\r\nHost: {ip}:{ssl_port}\r\n\r\n");
    idle.write_all(health.as_bytes()).unwrap();
    let (status, body) = read_answer(&mut idle);
    assert_eq!(status, 200, "{body}");
    let mut in_flight = tls_connect(addr, ip, trusting(&old.cert)).unwrap();
    let login = format!(r#"{{"password": "{}"}}"#, setup_password(root));
    let login = login.as_bytes();
    let (first, rest) = login.split_at(8);
    write!(
        in_flight,
        "POST /hub/api/session HTTP/1.1\r\nHost: {ip}:{ssl_port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        login.len()
    )
    .unwrap();
    in_flight.write_all(first).unwrap();
    in_flight.flush().unwrap();

    // A new pair in the same files, then SIGHUP: new connections get the new certificate.
    let new = self_signed(root, "tls", ip);
    hup(&server);
    wait_presents(&server, addr, ip, &new.cert);

    // The connections made before still work, with the certificate they started with.
    in_flight.write_all(rest).unwrap();
    let (status, body) = read_answer(&mut in_flight);
    assert_eq!(status, 200, "the request in flight completes: {body}");
    assert!(body.contains("csrf_token"), "{body}");
    assert_eq!(presented(&in_flight), old.cert.der().to_vec());
    idle.write_all(health.as_bytes()).unwrap();
    let (status, body) = read_answer(&mut idle);
    assert_eq!(status, 200, "the idle connection still answers: {body}");
    assert!(body.contains("\"hub\""), "{body}");
    assert_eq!(presented(&idle), old.cert.der().to_vec());

    // A certificate that does not match the key: the reload is refused and logged, and the
    // certificate in use stays.
    let unmatched = rcgen::generate_simple_self_signed(vec![ip.to_string()]).unwrap();
    std::fs::write(root.join("tls.pem"), unmatched.cert.pem()).unwrap();
    hup(&server);
    let deadline = Instant::now() + DEADLINE;
    while !server.stderr_text().contains("SIGHUP: cannot reload") {
        assert!(
            Instant::now() < deadline,
            "the failed reload was not logged; stderr:\n{}",
            server.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stderr = server.stderr_text();
    assert!(
        stderr.contains("tls.pem")
            && stderr.contains("SslPrivateKey is not the private key of SslCertificate")
            && stderr.contains("the old certificate stays in use"),
        "{stderr}"
    );
    let fresh = tls_connect(addr, ip, trusting(&new.cert)).unwrap();
    assert_eq!(presented(&fresh), new.cert.der().to_vec());
}

#[tokio::test]
async fn redirect_http_to_https_sends_pages_to_https_and_leaves_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ip = "127.0.0.2";
    let (port, ssl_port) = (free_port(ip), free_port(ip));
    let here = format!("{ip}:{port}");
    init(
        root,
        &[
            "--components",
            "hub,lui,trk",
            "--port",
            &port.to_string(),
            "--bind-address",
            ip,
            "--hub-host",
            &here,
            "--tracker-host",
            &here,
        ],
    );
    let cert = self_signed(root, "tls", ip);
    enable_https(root, ssl_port, "tls");
    set_key(&root.join("server.ini"), "RedirectHttpToHttps", "true");
    // Health checks over HTTP still answer: that is how Server::start waits.
    let server = Server::start(root).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let https_base = format!("https://{ip}:{ssl_port}");

    let redirect = |method: reqwest::Method, path: &str, host: Option<&str>| {
        let mut request = http.request(method, server.url(path));
        if let Some(host) = host {
            request = request.header("host", host);
        }
        async move {
            let r = request.send().await.unwrap();
            let location = r
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .unwrap_or_default()
                .to_string();
            (r.status().as_u16(), location)
        }
    };
    assert_eq!(
        redirect(reqwest::Method::GET, "/hub", None).await,
        (301, format!("{https_base}/hub"))
    );
    assert_eq!(
        redirect(reqwest::Method::GET, "/lui/jobs?state=sent&x=1", None).await,
        (301, format!("{https_base}/lui/jobs?state=sent&x=1"))
    );
    assert_eq!(
        redirect(reqwest::Method::POST, "/hub/login", None).await,
        (308, format!("{https_base}/hub/login"))
    );
    assert_eq!(
        redirect(
            reqwest::Method::GET,
            "/hub/accounts",
            Some(&format!("Tutti.Example:{port}"))
        )
        .await,
        (
            301,
            format!("https://tutti.example:{ssl_port}/hub/accounts")
        )
    );

    // Not pages: the Tracker, the component APIs, /health.
    for path in [
        "/trk/click?ref=AAAA",
        "/trk/open?ref=AAAA",
        "/trk/health",
        "/hub/health",
        "/lui/health",
        "/lui/api/session",
        "/hub/api/session",
    ] {
        let (status, location) = redirect(reqwest::Method::GET, path, None).await;
        assert!(
            !(300..400).contains(&status) || !location.starts_with("https://"),
            "{path} answered {status} {location}"
        );
    }
    let list = components(&server.base(), &secret(root)).await;
    assert!(
        list.components
            .iter()
            .any(|c| c.component == Component::Trk),
        "{list:?}"
    );

    // A browser that follows the redirect ends up on the page over HTTPS.
    let browser = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let page = browser.get(server.url("/hub/login")).send().await.unwrap();
    assert_eq!(page.url().as_str(), format!("{https_base}/hub/login"));
    assert_eq!(page.status().as_u16(), 200);
}

#[test]
fn https_keys_without_ssl_port_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &["--components", "hub", "--port", "8080"]);
    let server_ini = dir.path().join("server.ini");
    for key in ["RedirectHttpToHttps", "AnnounceHttps"] {
        set_key(&server_ini, key, "true");
        let out = run("serve", dir.path());
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("server.ini") && err.contains(key) && err.contains("SslPort"),
            "{err}"
        );
        set_key(&server_ini, key, "false");
    }
    set_key(&server_ini, "TrustedCertificates", "tls/ca.pem");
    let out = run("check", dir.path());
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL  configuration")
            && text.contains("server.ini")
            && text.contains("TrustedCertificates")
            && text.contains("ca.pem"),
        "{text}"
    );
}

#[tokio::test]
async fn components_reach_each_other_over_https_with_trusted_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_root, trk_root) = (dir.path().join("hub"), dir.path().join("trk"));
    let (hub_ip, trk_ip) = ("127.0.0.2", "127.0.0.3");
    let (hub_port, hub_ssl) = (free_port(hub_ip), free_port(hub_ip));
    let (trk_port, trk_ssl) = (free_port(trk_ip), free_port(trk_ip));
    init(
        &hub_root,
        &[
            "--components",
            "hub",
            "--port",
            &hub_port.to_string(),
            "--bind-address",
            hub_ip,
        ],
    );
    let hub_https = format!("https://{hub_ip}:{hub_ssl}");
    init(
        &trk_root,
        &[
            "--components",
            "trk",
            "--port",
            &trk_port.to_string(),
            "--bind-address",
            trk_ip,
            "--hub-host",
            &hub_https,
            "--cluster-secret-file",
            hub_root.join("hub/hub.ini").to_str().unwrap(),
        ],
    );
    // Each server has a self-signed certificate; the Tracker's server trusts the Hub's, the
    // Hub's server trusts both (it checks itself at its HTTPS address too).
    let hub_cert = self_signed(&hub_root, "tls", hub_ip);
    let trk_cert = self_signed(&trk_root, "tls", trk_ip);
    std::fs::write(
        hub_root.join("peers.pem"),
        format!("{}{}", trk_cert.cert.pem(), hub_cert.cert.pem()),
    )
    .unwrap();
    std::fs::write(trk_root.join("peers.pem"), hub_cert.cert.pem()).unwrap();
    enable_https(&hub_root, hub_ssl, "tls");
    let hub_ini = hub_root.join("server.ini");
    set_key(&hub_ini, "TrustedCertificates", "peers.pem");
    set_key(&hub_ini, "AnnounceHttps", "true");
    enable_https(&trk_root, trk_ssl, "tls");
    set_key(&trk_root.join("server.ini"), "AnnounceHttps", "true");
    let hub = Server::start(&hub_root).await;

    // Not trusted yet: tutti check says so, and what to do.
    let out = run("check", &trk_root);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "FAIL  trk → Administration Hub (RegistryHubHost={hub_https} in trk/tracker.ini)"
        )) && text.contains("invalid peer certificate")
            && text.contains("TrustedCertificates"),
        "{text}"
    );

    set_key(
        &trk_root.join("server.ini"),
        "TrustedCertificates",
        "peers.pem",
    );
    let trk = Server::start(&trk_root).await;
    let trk_id = trk.wait_healthy(Component::Trk).await.instance_id;
    // The Tracker announced itself over HTTPS, with its HTTPS address, and the Hub reaches it
    // there; the Hub lists itself at its HTTPS address too.
    let secret = secret(&hub_root);
    let hub_id = hub.wait_healthy(Component::Hub).await.instance_id;
    let trk_url = format!("https://{trk_ip}:{trk_ssl}/trk");
    wait_components(
        &hub.base(),
        &secret,
        "the Tracker and the Hub at their HTTPS addresses",
        |list| {
            has_answering(list, Component::Trk, &trk_id, &trk_url)
                && has_answering(list, Component::Hub, &hub_id, &format!("{hub_https}/hub"))
        },
    )
    .await;

    let out = run("check", &trk_root);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "ok    trk → Administration Hub (RegistryHubHost={hub_https} in trk/tracker.ini): reachable at {hub_https}/hub"
        )),
        "{text}"
    );
    assert!(
        text.contains(&trk_url) && text.contains("answering"),
        "{text}"
    );
}

#[tokio::test]
async fn a_job_goes_between_the_components_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ip = "127.0.0.4";
    let (port, ssl_port) = (free_port(ip), free_port(ip));
    let https_here = format!("https://{ip}:{ssl_port}");
    init(
        root,
        &[
            "--bind-address",
            ip,
            "--port",
            &port.to_string(),
            "--hub-host",
            &https_here,
            "--tracker-host",
            &https_here,
        ],
    );
    self_signed(root, "tls", ip);
    enable_https(root, ssl_port, "tls");
    let server_ini = root.join("server.ini");
    set_key(&server_ini, "TrustedCertificates", "tls.pem");
    set_key(&server_ini, "AnnounceHttps", "true");
    let sink = start_sink().await;
    let mailer_ini = root.join("mailer/mailer.ini");
    set_key(
        &mailer_ini,
        "SmtpRelays",
        &format!("127.0.0.1:{}", sink.addr.port()),
    );
    set_key(&mailer_ini, "DistributeClients", "lui@shop.example");
    set_key(&mailer_ini, "DistributePassword", "distribute-pw");
    let server = Server::start(root).await;
    let admin = HubApi::first_use(&server, "new-admin-pw").await;
    let settings = serde_json::json!({
        "mailer": {"host": https_here, "client_address": "lui@shop.example", "client_password": "distribute-pw"},
        "tracking": {"scheme": "http", "host": ip, "port": port},
    });
    let (status, body) = admin.put("/settings/global", settings).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin
        .post("/groups", serde_json::json!({"name": "Sales"}))
        .await;
    assert_eq!(status, 201, "{body}");

    // Every link tutti check knows of goes over HTTPS, and each is trusted.
    let out = run("check", root);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        format!("ok    lui → Administration Hub (RegistryHubHost={https_here} in lui/lui.ini)"),
        format!("ok    lui → Tracker (TrackerHost={https_here} in lui/lui.ini)"),
        format!("ok    trk → Administration Hub (RegistryHubHost={https_here} in trk/tracker.ini)"),
        format!(
            "ok    mailer → Administration Hub (RegistryHubHost={https_here} in mailer/mailer.ini)"
        ),
        format!("ok    lui → Mailer ({https_here} as lui@shop.example"),
    ] {
        assert!(text.contains(&line), "no {line:?} in:\n{text}");
    }

    // A job: the User Interface logs in through the Hub, registers the links with the
    // Tracker and hands the job to the Mailer, each over HTTPS.
    let anna = sender(&server, "anna").await;
    let (_, job) = anna
        .post("/jobs", serde_json::json!({"title": "Over TLS"}))
        .await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(&anna, &id, "Email\na@example.org\n").await;
    let message = serde_json::json!({"subject": "Hi", "from_address": "news@shop.example",
        "html": "<p>Hi</p><a href=\"https://shop.example/sale\">Sale</a>"});
    send_job(&anna, &id, message).await;
    wait_delivered(&sink, 2).await;
}
