//! Wrong secrets, garbled INI files and ports in use: refused with a clear message.

mod support;

use std::time::{Duration, Instant};

use support::*;
use tutti_core::Component;

#[tokio::test]
async fn a_component_with_a_wrong_cluster_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_root, trk_root) = (dir.path().join("hub"), dir.path().join("trk"));
    let hub_port = free_port("127.0.0.2");
    init(
        &hub_root,
        &[
            "--components",
            "hub",
            "--bind-address",
            "127.0.0.2",
            "--port",
            &hub_port.to_string(),
        ],
    );
    // A Tracker set up on its own gets a secret of its own: not the installation's.
    let trk_port = free_port("127.0.0.4");
    init(
        &trk_root,
        &[
            "--components",
            "trk",
            "--bind-address",
            "127.0.0.4",
            "--port",
            &trk_port.to_string(),
            "--hub-host",
            &format!("127.0.0.2:{hub_port}"),
            "--host-name",
            "127.0.0.4",
        ],
    );
    assert_ne!(secret(&hub_root), secret(&trk_root));
    let hub = Server::start(&hub_root).await;
    let _trk = Server::start(&trk_root).await;

    let deadline = Instant::now() + DEADLINE;
    while !log_text(&hub_root, Component::Hub).contains("refused POST /hub/api/components from ") {
        assert!(
            Instant::now() < deadline,
            "the Hub never logged the refusal:\n{}",
            log_text(&hub_root, Component::Hub)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(log_text(&hub_root, Component::Hub).contains("the call carried a wrong ClusterSecret"));
    let list = components(&hub.base(), &secret(&hub_root)).await;
    assert!(
        list.components
            .iter()
            .all(|c| c.component != Component::Trk),
        "{list:#?}"
    );

    let out = run("check", &trk_root);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("FAIL  trk → Administration Hub"), "{text}");
    assert!(text.contains("refused the ClusterSecret (401)"), "{text}");
}

#[test]
fn a_garbled_ini_stops_the_start_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    init(
        dir.path(),
        &["--port", &port.to_string(), "--bind-address", "127.0.0.1"],
    );
    let lui_ini = dir.path().join("lui/lui.ini");
    let text = std::fs::read_to_string(&lui_ini).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("TrackerHost="))
        .unwrap()
        + 1;
    std::fs::write(
        &lui_ini,
        text.replace("TrackerHost=127.0.0.1", "TrackerHost=tracker host"),
    )
    .unwrap();

    let out = run("serve", dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("lui/lui.ini, line {line}, TrackerHost: ")),
        "{err}"
    );
    assert!(err.contains("expected host[:port]"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    // A syntax error (a broken \u escape) is reported at its line too.
    std::fs::write(
        &lui_ini,
        text.replace("LogLevel=standard", "LogLevel=\\u00zz"),
    )
    .unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("LogLevel="))
        .unwrap()
        + 1;
    let out = run("serve", dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("lui/lui.ini, line {line}: ")),
        "{err}"
    );

    // `tutti check` says the same and fails.
    let out = run("check", dir.path());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("FAIL  configuration: {}", lui_ini.display()))
    );
}

#[test]
fn a_relay_password_that_would_cross_the_network_unencrypted_is_refused_at_check() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &["--port", "8080"]);
    let mailer_ini = dir.path().join("mailer/mailer.ini");
    set_key(&mailer_ini, "SmtpRelays", "relay.example:587");
    set_key(&mailer_ini, "SmtpUser", "news");
    set_key(&mailer_ini, "SmtpPassword", "secret-relay-password");
    let out = run("check", dir.path());
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("SmtpSecurity: SmtpUser is set, so the relay password would cross the network unencrypted to relay.example:587"),
        "{stdout}"
    );
    // With STARTTLS, or a relay on this host, it is fine.
    set_key(&mailer_ini, "SmtpSecurity", "starttls");
    let out = run("check", dir.path());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("FAIL  configuration"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    set_key(&mailer_ini, "SmtpSecurity", "none");
    set_key(&mailer_ini, "SmtpRelays", "127.0.0.1:25");
    let out = run("check", dir.path());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("FAIL  configuration"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn check_fails_when_the_ini_files_of_one_server_hold_different_cluster_secrets() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &["--port", "8080"]);
    set_key(
        &dir.path().join("trk/tracker.ini"),
        "ClusterSecret",
        "an-edited-secret-that-is-long-enough-to-be-valid-0123456789",
    );
    let out = run("check", dir.path());
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  ClusterSecret: ") && stdout.contains("trk/tracker.ini differ"),
        "{stdout}"
    );
    // `serve` refuses the same, with the same words.
    let out = run("serve", dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot start: ClusterSecret: ") && err.contains("trk/tracker.ini differ"),
        "{err}"
    );
}

#[test]
fn an_empty_or_garbage_server_ini_is_refused_instead_of_listening_on_port_80() {
    let dir = tempfile::tempdir().unwrap();
    init(
        dir.path(),
        &["--port", "8080", "--bind-address", "127.0.0.1"],
    );
    for text in ["", "\u{0}\u{1}garbage\n%%%\n"] {
        std::fs::write(dir.path().join("server.ini"), text).unwrap();
        for command in ["serve", "check"] {
            let out = run(command, dir.path());
            assert!(!out.status.success(), "{command}");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                text.contains("server.ini, Components: the key is missing or empty")
                    && text.contains("is the file empty or damaged?"),
                "{command}: {text}"
            );
        }
    }
}

#[test]
fn check_refuses_dkim_keys_that_serve_refuses() {
    let dir = tempfile::tempdir().unwrap();
    init(
        dir.path(),
        &["--port", "8080", "--bind-address", "127.0.0.1"],
    );
    set_key(
        &dir.path().join("mailer/mailer.ini"),
        "DkimKeys",
        "shop.example:s1:keys/missing.pem",
    );
    let out = run("check", dir.path());
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .contains("FAIL  mailer/mailer.ini, DkimKeys: DKIM key for shop.example: cannot read"),
        "{stdout}"
    );
    std::fs::create_dir_all(dir.path().join("mailer/keys")).unwrap();
    std::fs::write(dir.path().join("mailer/keys/missing.pem"), "not a key").unwrap();
    let out = run("check", dir.path());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is not a PEM private key"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_unknown_key_is_warned_about_with_the_nearest_known_key() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &["--port", "8080"]);
    let hub_ini = dir.path().join("hub/hub.ini");
    let text = std::fs::read_to_string(&hub_ini).unwrap();
    std::fs::write(&hub_ini, format!("{text}LogLevle=all\n")).unwrap();
    let out = run("check", dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("unknown key LogLevle is ignored; did you mean LogLevel?"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_line_that_lost_its_equals_sign_is_pointed_at_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    init(
        dir.path(),
        &["--port", &port.to_string(), "--bind-address", "127.0.0.1"],
    );
    let password = "Correct-Horse-Battery-9";
    let trk_ini = dir.path().join("trk/tracker.ini");
    let text = std::fs::read_to_string(&trk_ini).unwrap();
    std::fs::write(&trk_ini, format!("{text}RemoteAdminPassword{password}\n")).unwrap();
    let line = text.lines().count() + 1;

    let out = run("check", dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(password), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "trk/tracker.ini, line {line}: a line without \"=\" is ignored"
        )) && stdout.contains("did you mean RemoteAdminPassword?"),
        "{stdout}"
    );
    let mut server = Server::start(dir.path()).await;
    server.wait_healthy(Component::Trk).await;
    server.stop();
    for component in [
        Component::Hub,
        Component::Lui,
        Component::Trk,
        Component::Mailer,
    ] {
        let log = log_text(dir.path(), component);
        assert!(!log.contains(password), "{component:?}: {log}");
    }
    assert!(!server.stderr_text().contains(password));

    // A misspelt key that leaves ClusterSecret unset is named with its file and line.
    let lui_ini = dir.path().join("lui/lui.ini");
    let text = std::fs::read_to_string(&lui_ini).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("ClusterSecret="))
        .unwrap()
        + 1;
    std::fs::write(&lui_ini, text.replace("ClusterSecret=", "ClusterSecrett=")).unwrap();
    let out = run("serve", dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "lui/lui.ini, line {line}: unknown key ClusterSecrett is ignored; did you mean ClusterSecret?"
        )),
        "{err}"
    );
    assert!(!err.contains("empty"), "{err}");
}

#[test]
fn a_port_in_use_gives_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    init(
        dir.path(),
        &["--port", &port.to_string(), "--bind-address", "127.0.0.1"],
    );
    let out = run("serve", dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("port {port} is already in use")),
        "{err}"
    );
    assert!(err.contains("--port N or Port="), "{err}");
}

#[test]
fn init_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &["--port", "8080"]);
    let before = std::fs::read_to_string(dir.path().join("server.ini")).unwrap();
    let out = init(dir.path(), &["--port", "9090"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("server.ini")).unwrap(),
        before
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("kept  server.ini"));
}
