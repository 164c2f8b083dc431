//! Backups of a live installation on two servers (Hub and User Interface on 127.0.0.2,
//! Tracker and Mailer on 127.0.0.3), on demand through `tutti backup --root DIR`, with a
//! report per backup and the BackupCommand run; then restored into empty roots with
//! `tutti restore`, where every account, job, event and spooled recipient is found again.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use serde_json::json;
use support::*;
use tutti_core::Component;

fn run_tutti(args: &[&str]) -> (bool, String) {
    let out = tutti().args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn job_report(api: &HubApi, job: &str) -> serde_json::Value {
    api.get(&format!("/jobs/{job}/report?people_only=false"))
        .await
        .1
}

#[tokio::test]
async fn a_live_installation_is_backed_up_and_restored_into_empty_roots() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink().await;
    let (a_port, b_port) = (free_port("127.0.0.2"), free_port("127.0.0.3"));
    let (root_a, root_b) = init_two_servers(dir.path(), a_port, b_port, sink.addr.port());
    let marker = dir.path().join("command-ran");
    set_key(
        &root_a.join("hub/hub.ini"),
        "BackupCommand",
        &format!(
            "echo \"$TUTTI_BACKUP_ID $TUTTI_BACKUP_OK\" > {}",
            marker.display()
        ),
    );
    set_key(&root_a.join("hub/hub.ini"), "BackupKeep", "2");
    let mut server_a = Server::start(&root_a).await;
    let mut server_b = Server::start(&root_b).await;
    let secret = secret(&root_a);
    wait_components(&server_a.base(), &secret, "all four components", |l| {
        l.components.iter().filter(|c| c.answering).count() == 4
    })
    .await;

    // An account, a job sent to three people, a click.
    set_up_two_servers(&server_a, b_port).await;
    let anna = sender(&server_a, "anna").await;
    let (_, job) = anna.post("/jobs", json!({"title": "Kept safe"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(
        &anna,
        &id,
        "Email\na@example.org\nb@example.org\nc@example.org\n",
    )
    .await;
    send_job(
        &anna,
        &id,
        json!({"subject": "Hi", "from_address": "news@shop.example",
            "html": "<p>Hi</p><a href=\"https://shop.example/sale\">Sale</a>"}),
    )
    .await;
    wait_delivered(&sink, 4).await;
    let html = MessageParser::default()
        .parse(&sink.received()[1].content)
        .unwrap()
        .body_html(0)
        .unwrap()
        .to_string();
    let start = html.find("http://127.0.0.3").unwrap();
    let click: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(
        http.get(click.replace("&amp;", "&"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        302
    );
    let deadline = Instant::now() + DEADLINE;
    while !(job_report(&anna, &id).await["clicks"]["total"] == 1
        && job_report(&anna, &id).await["sent"] == 3)
    {
        assert!(
            Instant::now() < deadline,
            "the click did not reach the report"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = job_report(&anna, &id).await;

    // A backup on demand, from the Tracker's server: every component, one id, a report.
    let (ok, said) = run_tutti(&["backup", "--root", root_b.to_str().unwrap()]);
    assert!(ok, "{said}");
    let backup_id = said
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Tutti backup "))
        .unwrap()
        .to_string();
    assert!(said.contains("All 4 components are backed up."), "{said}");
    let report =
        std::fs::read_to_string(root_a.join(format!("hub/log/backupReport_{backup_id}.txt")))
            .unwrap();
    for title in ["Administration Hub", "User Interface", "Tracker", "Mailer"] {
        assert!(report.contains(title), "{report}");
    }
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        format!("{backup_id} true"),
        "BackupCommand ran with the backup's id"
    );
    for (root, component) in [
        (&root_a, Component::Hub),
        (&root_a, Component::Lui),
        (&root_b, Component::Trk),
        (&root_b, Component::Mailer),
    ] {
        assert_eq!(
            tutti_core::backup::list(root, component),
            std::slice::from_ref(&backup_id)
        );
    }
    // The console lists it.
    let mut console = HubApi::new(&server_a.base());
    console.login(json!({"password": "new-admin-pw"})).await;
    let page = console
        .http
        .get(format!("{}/hub/backups", server_a.base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("id=\"backup-{backup_id}\"")),
        "{page}"
    );
    // Another from the console's button: now each component keeps two (BackupKeep=2).
    let r = console
        .http
        .post(format!("{}/hub/backups", server_a.base()))
        .form(&[("csrf", console.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let page = r.text().await.unwrap();
    assert!(page.contains("The backup is done"), "{page}");
    assert_eq!(page.matches("<h2 id=\"backup-").count(), 2, "{page}");
    assert_eq!(tutti_core::backup::list(&root_b, Component::Trk).len(), 2);

    // Lost servers: empty roots, the backup folders copied in, restored.
    assert!(server_a.stop().success());
    assert!(server_b.stop().success());
    let new = dir.path().join("new");
    std::fs::create_dir_all(&new).unwrap();
    let (new_a, new_b) = init_two_servers(&new, a_port, b_port, sink.addr.port());
    for (from, to, component) in [
        (&root_a, &new_a, "hub"),
        (&root_a, &new_a, "lui"),
        (&root_b, &new_b, "trk"),
        (&root_b, &new_b, "mailer"),
    ] {
        copy_path(
            &from.join(component).join("backup").join(&backup_id),
            &to.join(component).join("backup").join(&backup_id),
        );
    }
    let (ok, said) = run_tutti(&[
        "restore",
        "--root",
        new_a.to_str().unwrap(),
        "--backup",
        "20990101-000000",
    ]);
    assert!(!ok && said.contains("no backup 20990101-000000"), "{said}");
    for root in [&new_a, &new_b] {
        let (ok, said) = run_tutti(&[
            "restore",
            "--root",
            root.to_str().unwrap(),
            "--backup",
            &backup_id,
        ]);
        assert!(ok, "{said}");
        assert!(!said.contains("Check"), "the same addresses: {said}");
    }
    let server_a = Server::start(&new_a).await;
    let server_b = Server::start(&new_b).await;

    // Every account, job, event and spooled recipient is there.
    let mut admin = HubApi::new(&server_a.base());
    assert_eq!(
        admin.login(json!({"password": "new-admin-pw"})).await.0,
        200
    );
    let mut anna = HubApi::at(&server_a.base(), "/lui");
    let (status, body) = anna
        .login(json!({"user_name": "anna", "group_name": "Sales", "password": "anna-password"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let after = job_report(&anna, &id).await;
    assert_eq!(after["clicks"], before["clicks"], "{after}");
    assert_eq!(after["sent"], 3, "{after}");
    let feed: serde_json::Value = reqwest::Client::new()
        .get(server_b.url("/trk/api/events?after=0"))
        .bearer_auth(secret.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(feed["events"].as_array().unwrap().len(), 1, "{feed}");
    let progress: serde_json::Value = reqwest::Client::new()
        .get(server_b.url(&format!("/mailer/api/jobs/{id}")))
        .header(tutti_core::distribute::CLIENT_HEADER, "lui@shop.example")
        .header(tutti_core::distribute::PASSWORD_HEADER, "pw")
        .bearer_auth(secret.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        progress["sent"], 3,
        "the spool's recipients are back: {progress}"
    );

    // A server that does not answer: the others are backed up, the report says which failed.
    let mut server_b = server_b;
    assert!(server_b.stop().success());
    let (ok, said) = run_tutti(&["backup", "--root", new_a.to_str().unwrap()]);
    assert!(!ok, "a failed component fails the command: {said}");
    assert!(said.contains("2 of 4 components FAILED."), "{said}");
    assert_eq!(said.matches("FAILED: not reached").count(), 2, "{said}");
    assert_eq!(said.matches("    OK: ").count(), 2, "{said}");
}

#[tokio::test]
async fn the_daily_backup_runs_at_backup_time_without_anyone_asking() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hub");
    init_hub(&root);
    // The next whole minute at least ten seconds away (BackupTime is HH:MM, in UTC).
    let at = chrono::Utc::now() + chrono::Duration::seconds(70);
    let backup_time = at.format("%H:%M").to_string();
    set_key(&root.join("hub/hub.ini"), "BackupTime", &backup_time);
    let mut server = Server::start(&root).await;

    let reports = || {
        std::fs::read_dir(root.join("hub/log"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.starts_with("backupReport_").then_some(name)
            })
            .collect::<Vec<_>>()
    };
    assert!(reports().is_empty(), "no backup before {backup_time}");
    let deadline = Instant::now() + Duration::from_secs(100);
    let report = loop {
        if let Some(name) = reports().pop() {
            let text = std::fs::read_to_string(root.join("hub/log").join(&name)).unwrap();
            // Its last line is written with the rest once the backup is done.
            if text.contains("is backed up.") || text.contains("FAILED") {
                break text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no backup report by {backup_time} UTC + 30 s; hub log:\n{}",
            log_text(&root, Component::Hub)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        report.contains("The one component is backed up."),
        "{report}"
    );
    assert!(report.contains(&format!(
        "started  {} {backup_time}:",
        at.format("%Y-%m-%d")
    )));
    assert_eq!(
        tutti_core::backup::list(&root, Component::Hub).len(),
        1,
        "one snapshot in the Hub's backup folder"
    );
    assert!(server.stop().success());
}

#[test]
fn a_restore_onto_other_addresses_names_the_host_keys_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    let (old_port, new_port) = (free_port("127.0.0.2"), free_port("127.0.0.3"));
    init(
        &old,
        &[
            "--bind-address",
            "127.0.0.2",
            "--port",
            &old_port.to_string(),
        ],
    );
    set_key(
        &old.join("lui/lui.ini"),
        "DatabaseUrl",
        "postgres://tutti:secret@localhost:5432/tutti",
    );
    let id = "20261130-023000";
    for component in Component::ALL {
        tutti_core::backup::snapshot(&old, component, id, 7).unwrap();
    }
    // On the same server, the backup's addresses are the root's: nothing to check.
    let (ok, said) = run_tutti(&["restore", "--root", old.to_str().unwrap(), "--backup", id]);
    assert!(ok, "{said}");
    assert!(!said.contains("Check"), "{said}");

    // Another root, as operations.md says: init, the backup folders copied in, restore.
    init(
        &new,
        &[
            "--bind-address",
            "127.0.0.3",
            "--port",
            &new_port.to_string(),
        ],
    );
    for component in Component::ALL {
        let folder = std::path::Path::new(component.dir())
            .join("backup")
            .join(id);
        copy_path(&old.join(&folder), &new.join(&folder));
    }
    let (ok, said) = run_tutti(&["restore", "--root", new.to_str().unwrap(), "--backup", id]);
    assert!(ok, "{said}");
    let (was, here) = (
        format!("127.0.0.2:{old_port}"),
        format!("127.0.0.3:{new_port}"),
    );
    for (key, file) in [
        ("RegistryHubHost", "lui/lui.ini"),
        ("TrackerHost", "lui/lui.ini"),
        ("RegistryHubHost", "trk/tracker.ini"),
        ("RegistryHubHost", "mailer/mailer.ini"),
    ] {
        assert!(
            said.contains(&format!(
                "{key}={was} in {file} (from the backup): this root had {here}"
            )),
            "{key} in {file}: {said}"
        );
    }
    assert!(said.contains("this server runs the Hub itself"), "{said}");
    assert!(said.contains("keep their instance ids"), "{said}");
    assert!(
        said.contains("Check DatabaseUrl in lui/lui.ini (a database on localhost)")
            && !said.contains("secret@"),
        "a loopback database is named, its password is not: {said}"
    );
    // Restore brings the INI files back as they were; the administrator decides.
    assert!(
        std::fs::read_to_string(new.join("mailer/mailer.ini"))
            .unwrap()
            .contains(&format!("RegistryHubHost={was}"))
    );
}
