//! The Hub's console reads another server's component logs and changes its log level at
//! run time, allowed by that component's RemoteAdminPassword.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::time::{Duration, Instant};

use support::*;
use tutti_core::Component;

async fn post_form(api: &HubApi, base: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let mut form: Vec<(&str, &str)> = vec![("csrf", api.csrf.as_str())];
    form.extend_from_slice(fields);
    let r = api
        .http
        .post(format!("{base}{path}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_console_reads_a_components_logs_and_sets_its_level_with_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_port, trk_port) = (free_port("127.0.0.2"), free_port("127.0.0.3"));
    let hub_host = format!("127.0.0.2:{hub_port}");
    let (root_hub, root_trk) = (dir.path().join("hub"), dir.path().join("trk"));
    init(
        &root_hub,
        &[
            "--components",
            "hub",
            "--bind-address",
            "127.0.0.2",
            "--port",
            &hub_port.to_string(),
        ],
    );
    let hub_ini = root_hub.join("hub/hub.ini");
    init(
        &root_trk,
        &[
            "--components",
            "trk",
            "--bind-address",
            "127.0.0.3",
            "--port",
            &trk_port.to_string(),
            "--hub-host",
            &hub_host,
            "--cluster-secret-file",
            hub_ini.to_str().unwrap(),
        ],
    );
    let tracker_ini = root_trk.join("trk/tracker.ini");
    set_key(
        &tracker_ini,
        "RemoteAdminPassword",
        "tracker-admin-password",
    );
    set_key(&tracker_ini, "HubAnnounceInterval", "1");
    let hub = Server::start(&root_hub).await;
    let trk = Server::start(&root_trk).await;
    let trk_id = trk.wait_healthy(Component::Trk).await.instance_id;
    let hub_id = hub.wait_healthy(Component::Hub).await.instance_id;
    wait_components(&hub.base(), &secret(&root_hub), "the Tracker", |l| {
        has_answering(l, Component::Trk, &trk_id, &trk.url("/trk"))
    })
    .await;
    let mut admin = HubApi::first_use(&hub, "new-admin-pw").await;
    let base = hub.base();

    let (status, page) = admin
        .http
        .get(format!("{base}/hub/logs"))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 200);
    assert!(page.text().await.unwrap().contains(&trk_id));

    // A wrong password, and a component without one, are refused with the reason.
    let (_, page) = post_form(
        &admin,
        &base,
        "/hub/logs",
        &[("instance_id", &trk_id), ("password", "not-the-password")],
    )
    .await;
    assert!(
        page.contains("wrong RemoteAdminPassword for the Tracker"),
        "{page}"
    );
    let (_, page) = post_form(
        &admin,
        &base,
        "/hub/logs",
        &[("instance_id", &hub_id), ("password", "anything-at-all")],
    )
    .await;
    assert!(
        page.contains("remote administration of the Administration Hub is off"),
        "{page}"
    );

    // The right one lists the files and the level; a file downloads through the Hub.
    let password = ("password", "tracker-admin-password");
    let (_, page) = post_form(
        &admin,
        &base,
        "/hub/logs",
        &[("instance_id", &trk_id), password],
    )
    .await;
    assert!(
        page.contains("<option value=\"standard\" selected>"),
        "{page}"
    );
    // The page's later forms name the component only: the Hub keeps the password.
    assert!(!page.contains("tracker-admin-password"), "{page}");
    let start = page.find("name=\"name\" value=\"").unwrap() + "name=\"name\" value=\"".len();
    let file: String = page[start..].chars().take_while(|c| *c != '"').collect();
    assert!(file.starts_with("trk."), "{file}");
    let download = |admin: &HubApi| {
        let file = file.clone();
        let (base, trk_id) = (base.clone(), trk_id.clone());
        let csrf = admin.csrf.clone();
        let http = admin.http.clone();
        async move {
            let r = http
                .post(format!("{base}/hub/logs/download"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("instance_id", &trk_id),
                    ("name", &file),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            assert!(
                r.headers()["content-disposition"]
                    .to_str()
                    .unwrap()
                    .contains("attachment")
            );
            r.text().await.unwrap()
        }
    };
    let log = download(&admin).await;
    assert!(log.contains("Tracker started"), "{log}");
    assert!(
        !log.contains("announced to the Hub"),
        "debug lines are not written at standard"
    );

    // Level "all" at once: the announcements (a debug line, every second) appear.
    let (_, page) = post_form(
        &admin,
        &base,
        "/hub/logs/level",
        &[("instance_id", &trk_id), ("level", "all")],
    )
    .await;
    assert!(page.contains("<option value=\"all\" selected>"), "{page}");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let log = download(&admin).await;
        if log.contains("announced to the Hub") {
            assert!(
                log.contains("log level set to all from the Hub's console"),
                "{log}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no debug line after the level changed: {log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A file that is gone (rotated away since the list was read) is said so on the page,
    // and the password is still kept: it was not refused.
    let (status, page) = post_form(
        &admin,
        &base,
        "/hub/logs/download",
        &[("instance_id", &trk_id), ("name", "trk.1999-01-01.log")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("the Tracker refused (404"), "{page}");
    let (_, page) = post_form(
        &admin,
        &base,
        "/hub/logs/level",
        &[("instance_id", &trk_id), ("level", "standard")],
    )
    .await;
    assert!(
        page.contains("<option value=\"standard\" selected>"),
        "{page}"
    );

    // Another session, and this one after logging out, must type the password again.
    let mut other = HubApi::new(&base);
    let (status, _) = other
        .login(serde_json::json!({"password": "new-admin-pw"}))
        .await;
    assert_eq!(status, 200);
    let ask_again = "type the RemoteAdminPassword of the Tracker again";
    let download_form = [("instance_id", trk_id.as_str()), ("name", file.as_str())];
    let (_, page) = post_form(&other, &base, "/hub/logs/download", &download_form).await;
    assert!(page.contains(ask_again), "{page}");
    let (status, _) = admin.send(reqwest::Method::DELETE, "/session", None).await;
    assert_eq!(status, 204);
    let (status, _) = admin
        .login(serde_json::json!({"password": "new-admin-pw"}))
        .await;
    assert_eq!(status, 200);
    let (_, page) = post_form(&admin, &base, "/hub/logs/download", &download_form).await;
    assert!(page.contains(ask_again), "{page}");
    let (_, page) = post_form(
        &admin,
        &base,
        "/hub/logs/level",
        &[("instance_id", &trk_id), ("level", "standard")],
    )
    .await;
    assert!(page.contains(ask_again), "{page}");

    // No way out of the log folder.
    let r = reqwest::Client::new()
        .get(trk.url("/trk/remote-admin/logs/..%2Ftracker.ini"))
        .bearer_auth("tracker-admin-password")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = reqwest::Client::new()
        .get(trk.url("/trk/remote-admin/logs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}
