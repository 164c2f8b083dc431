//! `tutti ports`: the firewall matrix of a server's configuration.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use support::*;

#[test]
fn the_matrix_names_every_port_and_what_faces_the_internet() {
    let dir = tempfile::tempdir().unwrap();
    // A Tracker and a Mailer on their own server, with a relay and a bounce listener.
    init(
        dir.path(),
        &[
            "--components",
            "trk,mailer",
            "--port",
            "8081",
            "--hub-host",
            "hub.example.internal:8080",
        ],
    );
    let ini = dir.path().join("mailer/mailer.ini");
    set_key(&ini, "SmtpRelays", "smtp.example.internal:587");
    set_key(&ini, "BounceListener", "0.0.0.0:2525");
    let out = run("ports", dir.path());
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_string()
    };
    assert!(line("mail readers").contains("tcp/8081") && line("mail readers").contains(" yes "));
    assert!(line("SMTP relay smtp.example.internal").contains("tcp/587"));
    assert!(
        line("bounces and complaints").contains("tcp/2525") && line("bounces").contains(" yes ")
    );
    assert!(line("Hub at hub.example.internal").contains("tcp/8080"));
    assert!(
        !text.contains("users' browsers"),
        "no User Interface here:\n{text}"
    );
}

#[test]
fn output_into_a_pipe_closed_early_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path(), &["--port", "8080"]);
    for command in ["ports", "check"] {
        let mut child = tutti()
            .arg(command)
            .arg("--root")
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the first line is written, as `| head` may.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{command}: {stderr}");
    }
}
