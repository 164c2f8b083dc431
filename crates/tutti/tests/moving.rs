//! `tutti move` for the User Interface (with the internal database, and with an external
//! one that stays where it is) and for the Mailer, as the reference's section 15.2
//! describes; the Hub and the Tracker are moved in `distributed.rs`.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use serde_json::json;
use support::*;
use tutti_core::Component;
use tutti_lui::testing::PgDatabase;

/// A new root on 127.0.0.3 with only `component`, reporting to the Hub of `old`.
fn new_root(dir: &std::path::Path, old: &Server, component: &str) -> std::path::PathBuf {
    let root = dir.join(format!("new-{component}"));
    let port = free_port("127.0.0.3");
    let hub = format!("127.0.0.2:{}", old.addr.port());
    let secret = dir.join("old/hub/hub.ini");
    init(
        &root,
        &[
            "--components",
            component,
            "--bind-address",
            "127.0.0.3",
            "--port",
            &port.to_string(),
            "--hub-host",
            &hub,
            "--tracker-host",
            &hub,
            "--cluster-secret-file",
            secret.to_str().unwrap(),
        ],
    );
    root
}

async fn the_user_interface_moves(database: &[(&str, &str)], internal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let old_root = dir.path().join("old");
    let mut old = start_sending_installation(&old_root, 9, database).await;
    let anna = sender(&old, "anna").await;
    let (status, job) = anna.post("/jobs", json!({"title": "Moves along"})).await;
    assert_eq!(status, 201, "{job}");
    let lui_id = old.wait_healthy(Component::Lui).await.instance_id;

    // 15.2.1: install on the new server, do not start it; stop the old one; copy.
    let root = new_root(dir.path(), &old, "lui");
    let refused = tutti()
        .args(["move", "lui", "--from"])
        .arg(&old_root)
        .arg("--to")
        .arg(&root)
        .output()
        .unwrap();
    assert!(!refused.status.success(), "not while the old one runs");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stop tutti serve"));
    assert!(old.stop().success());
    for (k, v) in database {
        set_key(&root.join("lui/lui.ini"), k, v);
    }
    let told = move_component("lui", &old_root, &root);
    for part in ["lui/lui.ini", "lui/luidata", "lui/registry"] {
        assert!(told.contains(&format!("copied {part}")), "{told}");
    }
    assert_eq!(
        told.contains("copied lui/database"),
        internal,
        "the internal database moves along, an external one stays: {told}"
    );
    assert!(told.contains("remove lui from Components"), "{told}");
    set_key(&old_root.join("server.ini"), "Components", "hub,trk,mailer");

    let old = Server::start(&old_root).await;
    let new = Server::start(&root).await;
    assert_eq!(
        new.wait_healthy(Component::Lui).await.instance_id,
        lui_id,
        "the moved User Interface is the same one"
    );
    let mut anna = HubApi::at(&new.base(), "/lui");
    let (status, body) = anna
        .login(json!({"user_name": "anna", "group_name": "Sales", "password": "anna-password"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, jobs) = anna.get("/jobs").await;
    assert_eq!(status, 200);
    assert!(jobs.to_string().contains("Moves along"), "{jobs}");
    drop(old);
}

#[tokio::test]
async fn the_user_interface_moves_with_its_internal_database() {
    the_user_interface_moves(&[], true).await;
}

#[tokio::test]
async fn the_user_interface_moves_without_its_external_database() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    the_user_interface_moves(
        &[("DatabaseType", "postgresql"), ("DatabaseUrl", &pg.url)],
        false,
    )
    .await;
}

#[tokio::test]
async fn the_mailer_moves_with_its_spool() {
    let dir = tempfile::tempdir().unwrap();
    let old_root = dir.path().join("old");
    let mut old = start_sending_installation(&old_root, 9, &[]).await;
    let mailer_id = old.wait_healthy(Component::Mailer).await.instance_id;
    let root = new_root(dir.path(), &old, "mailer");
    assert!(old.stop().success());
    // The old server reached its Hub on its own loopback address, as a server bound to
    // every address does (127.0.0.1 is not the Hub's address on 127.0.0.3's side).
    let hub_port = old.addr.port();
    let hub_here = format!("127.0.0.2:{hub_port}");
    set_key(
        &old_root.join("mailer/mailer.ini"),
        "RegistryHubHost",
        &format!("127.0.0.1:{hub_port}"),
    );
    let told = move_component("mailer", &old_root, &root);
    for part in ["mailer/mailer.ini", "mailer/spool"] {
        assert!(told.contains(&format!("copied {part}")), "{told}");
    }
    assert!(
        told.contains("mailer connection's host to 127.0.0.3:"),
        "{told}"
    );
    assert!(
        told.contains(&format!(
            "kept RegistryHubHost={hub_here} in mailer/mailer.ini, as tutti init wrote it here"
        )),
        "{told}"
    );
    assert!(
        told.contains("Check SmtpRelays in mailer/mailer.ini (SmtpRelays=127.0.0.1:9)"),
        "a relay on the old server's loopback is pointed out: {told}"
    );
    let ini = std::fs::read_to_string(root.join("mailer/mailer.ini")).unwrap();
    assert!(
        ini.contains(&format!("\nRegistryHubHost={hub_here}\n")),
        "the new server's view of the Hub stays"
    );
    // The Mailer's own settings come along.
    for own in ["DistributePassword=distribute-pw", "SmtpRelays=127.0.0.1:9"] {
        assert!(ini.contains(own), "{own}");
    }
    set_key(&old_root.join("server.ini"), "Components", "hub,lui,trk");
    let old = Server::start(&old_root).await;
    let new = Server::start(&root).await;
    assert_eq!(
        new.wait_healthy(Component::Mailer).await.instance_id,
        mailer_id,
        "the moved Mailer is the same one, with its spool"
    );
    // It announces itself to the installation's Hub, which lists it at its new address.
    wait_components(
        &old.base(),
        &secret(&old_root),
        "the Mailer at its new address",
        |l| has_answering(l, Component::Mailer, &mailer_id, &new.url("/mailer")),
    )
    .await;
}
