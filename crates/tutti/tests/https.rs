//! The HTTPS listener (SslPort, SslCertificate, SslPrivateKey) beside the HTTP one.

mod support;

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
