//! Components on separate servers (127.0.0.2 … act as separate hosts), configured only
//! through their INI files, and moving a component to another server (reference 15.2).

mod support;

use std::path::Path;

use support::*;
use tutti_core::Component;

const HUB_IP: &str = "127.0.0.2";
const LUI_IP: &str = "127.0.0.3";
const TRK_IP: &str = "127.0.0.4";
const MAILER_IP: &str = "127.0.0.5";

/// Initialises one server per component with the command-line options only (no editing),
/// sharing the first server's secret through its hub.ini.
fn init_four(base: &Path, ports: [u16; 4]) -> [std::path::PathBuf; 4] {
    let [hub_port, lui_port, trk_port, mailer_port] = ports;
    let hub_host = format!("{HUB_IP}:{hub_port}");
    let trk_host = format!("{TRK_IP}:{trk_port}");
    let roots = ["hub", "lui", "trk", "mailer"].map(|n| base.join(n));
    init(
        &roots[0],
        &[
            "--components",
            "hub",
            "--bind-address",
            HUB_IP,
            "--port",
            &hub_port.to_string(),
        ],
    );
    let secret_file = roots[0].join("hub/hub.ini");
    let secret_file = secret_file.to_str().expect("a UTF-8 temp path");
    init(
        &roots[1],
        &[
            "--components",
            "lui",
            "--bind-address",
            LUI_IP,
            "--port",
            &lui_port.to_string(),
            "--hub-host",
            &hub_host,
            "--tracker-host",
            &trk_host,
            "--cluster-secret-file",
            secret_file,
        ],
    );
    init(
        &roots[2],
        &[
            "--components",
            "trk",
            "--bind-address",
            TRK_IP,
            "--port",
            &trk_port.to_string(),
            "--hub-host",
            &hub_host,
            "--cluster-secret-file",
            secret_file,
        ],
    );
    init(
        &roots[3],
        &[
            "--components",
            "mailer",
            "--bind-address",
            MAILER_IP,
            "--port",
            &mailer_port.to_string(),
            "--hub-host",
            &hub_host,
            "--cluster-secret-file",
            secret_file,
        ],
    );
    roots
}

fn ports() -> [u16; 4] {
    [
        free_port(HUB_IP),
        free_port(LUI_IP),
        free_port(TRK_IP),
        free_port(MAILER_IP),
    ]
}

#[tokio::test]
async fn four_processes_on_four_addresses_reach_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let roots = init_four(dir.path(), ports());
    let secret = secret(&roots[0]);
    assert_eq!(
        secret,
        support::secret(&roots[3]),
        "one secret for the installation"
    );

    // The User Interface starts before the Hub: it keeps trying until the Hub is there.
    let lui = Server::start(&roots[1]).await;
    let hub = Server::start(&roots[0]).await;
    let trk = Server::start(&roots[2]).await;
    let mailer = Server::start(&roots[3]).await;
    let servers = [&hub, &lui, &trk, &mailer];
    let mut expected = Vec::new();
    for (server, c) in servers.iter().zip(Component::ALL) {
        let id = server.wait_healthy(c).await.instance_id;
        expected.push((c, id, server.url(c.prefix())));
    }
    let list = wait_components(
        &hub.base(),
        &secret,
        "each component at its own address",
        |l| {
            expected
                .iter()
                .all(|(c, id, url)| has_answering(l, *c, id, url))
        },
    )
    .await;
    assert_eq!(list.components.len(), 4, "{list:#?}");

    // `tutti check` on the User Interface's server reaches the Hub and the Tracker.
    let out = run("check", &roots[1]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "ok    lui → Administration Hub (RegistryHubHost={HUB_IP}:"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("ok    lui → Tracker (TrackerHost={TRK_IP}:")),
        "{text}"
    );
    assert!(
        text.contains(&format!("- Mailer             http://{MAILER_IP}:")),
        "{text}"
    );

    assert!(
        text.contains("warn  lui → Mailer: no mailer connection is set in the Hub"),
        "{text}"
    );

    // With the mailer connection set in the Hub, `tutti check` reaches that Mailer too.
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    let mailer_host = format!("{MAILER_IP}:{}", mailer.addr.port());
    let connection = serde_json::json!({"mailer": {"host": mailer_host, "client_address": "tutti@example.com", "client_password": "pw"}});
    assert_eq!(admin.put("/settings/global", connection).await.0, 200);
    let out = run("check", &roots[1]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("ok    lui → Mailer ({mailer_host} as tutti@example.com, set at: global default): a Tutti Mailer answers")), "{text}");

    // A stopped component shows as not answering, with the reason.
    drop(mailer);
    let list = wait_components(&hub.base(), &secret, "the Mailer not answering", |l| {
        l.components
            .iter()
            .any(|c| c.component == Component::Mailer && !c.answering)
    })
    .await;
    let mailer_entry = list
        .components
        .iter()
        .find(|c| c.component == Component::Mailer)
        .unwrap();
    assert!(
        mailer_entry
            .problem
            .as_deref()
            .unwrap()
            .contains("cannot reach"),
        "{mailer_entry:?}"
    );
}

#[tokio::test]
async fn moving_the_hub_to_another_server_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let roots = init_four(dir.path(), ports());
    let secret = secret(&roots[0]);
    let mut hub = Server::start(&roots[0]).await;
    let mut lui = Server::start(&roots[1]).await;
    let mut trk = Server::start(&roots[2]).await;
    let hub_id = hub.wait_healthy(Component::Hub).await.instance_id;
    let lui_id = lui.wait_healthy(Component::Lui).await.instance_id;
    let trk_id = trk.wait_healthy(Component::Trk).await.instance_id;
    let before = wait_components(&hub.base(), &secret, "lui and trk", |l| {
        has_answering(l, Component::Lui, &lui_id, &lui.url("/lui"))
            && has_answering(l, Component::Trk, &trk_id, &trk.url("/trk"))
    })
    .await;

    // 15.2.2: install the Hub on the new server, do not start it; stop the installation.
    let new_ip = "127.0.0.6";
    let new_port = free_port(new_ip);
    let new_root = dir.path().join("new-hub");
    init(
        &new_root,
        &[
            "--components",
            "hub",
            "--bind-address",
            new_ip,
            "--port",
            &new_port.to_string(),
        ],
    );
    for s in [&mut hub, &mut lui, &mut trk] {
        assert!(s.stop().success());
    }
    // Copy hub.ini, accountreg and hubreg; point RegistryHubHost of lui.ini and tracker.ini at it.
    let new_hub_host = format!("{new_ip}:{new_port}");
    let told = move_component("hub", &roots[0], &new_root);
    for part in ["hub/hub.ini", "hub/accountreg", "hub/hubreg"] {
        assert!(told.contains(&format!("copied {part}")), "{told}");
    }
    assert!(
        told.contains(&format!("RegistryHubHost={new_hub_host}")),
        "it names the keys to change: {told}"
    );
    set_key(
        &roots[1].join("lui/lui.ini"),
        "RegistryHubHost",
        &new_hub_host,
    );
    set_key(
        &roots[2].join("trk/tracker.ini"),
        "RegistryHubHost",
        &new_hub_host,
    );

    let new_hub = Server::start(&new_root).await;
    assert_eq!(
        new_hub.wait_healthy(Component::Hub).await.instance_id,
        hub_id,
        "the moved Hub is the same Hub"
    );
    let lui = Server::start(&roots[1]).await;
    let trk = Server::start(&roots[2]).await;
    let after = wait_components(
        &new_hub.base(),
        &secret,
        "lui and trk announced to the moved Hub",
        |l| {
            has_answering(l, Component::Lui, &lui_id, &lui.url("/lui"))
                && has_answering(l, Component::Trk, &trk_id, &trk.url("/trk"))
                && has_answering(l, Component::Hub, &hub_id, &new_hub.url("/hub"))
        },
    )
    .await;
    // Its old data came along: the components keep the first sighting recorded before the move.
    for c in [Component::Lui, Component::Trk] {
        let first = |l: &tutti_core::api::ComponentList| {
            l.components
                .iter()
                .find(|e| e.component == c)
                .unwrap()
                .first_seen
        };
        assert_eq!(first(&before), first(&after), "{c}");
    }
    assert_eq!(after.components.len(), 3, "{after:#?}");
}

#[tokio::test]
async fn moving_the_tracker_to_another_server_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let roots = init_four(dir.path(), ports());
    let secret = secret(&roots[0]);
    let hub = Server::start(&roots[0]).await;
    let mut lui = Server::start(&roots[1]).await;
    let mut trk = Server::start(&roots[2]).await;
    let trk_id = trk.wait_healthy(Component::Trk).await.instance_id;
    wait_components(&hub.base(), &secret, "the tracker", |l| {
        has_answering(l, Component::Trk, &trk_id, &trk.url("/trk"))
    })
    .await;

    // 15.2.3: install the Tracker on the new server; stop the old one; copy tracker.ini and
    // data; change TrackerHost in lui.ini; start the new one.
    let new_ip = "127.0.0.7";
    let new_port = free_port(new_ip);
    let new_root = dir.path().join("new-trk");
    let hub_host = format!("{HUB_IP}:{}", hub.addr.port());
    init(
        &new_root,
        &[
            "--components",
            "trk",
            "--bind-address",
            new_ip,
            "--port",
            &new_port.to_string(),
            "--hub-host",
            &hub_host,
        ],
    );
    assert!(trk.stop().success());
    assert!(lui.stop().success());
    let told = move_component("trk", &roots[2], &new_root);
    assert!(
        told.contains(&format!("TrackerHost={new_ip}:{new_port}")),
        "it names the key to change: {told}"
    );
    set_key(
        &roots[1].join("lui/lui.ini"),
        "TrackerHost",
        &format!("{new_ip}:{new_port}"),
    );
    let new_trk = Server::start(&new_root).await;
    let _lui = Server::start(&roots[1]).await;

    assert_eq!(
        new_trk.wait_healthy(Component::Trk).await.instance_id,
        trk_id,
        "the moved Tracker is the same Tracker"
    );
    let list = wait_components(
        &hub.base(),
        &secret,
        "the tracker at its new address",
        |l| has_answering(l, Component::Trk, &trk_id, &new_trk.url("/trk")),
    )
    .await;
    assert_eq!(
        list.components
            .iter()
            .filter(|c| c.component == Component::Trk)
            .count(),
        1,
        "one Tracker, moved: {list:#?}"
    );
    let out = run("check", &roots[1]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "ok    lui → Tracker (TrackerHost={new_ip}:{new_port}"
        )),
        "{text}"
    );
}
