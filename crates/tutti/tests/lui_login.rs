//! Logging in to the User Interface through the Hub, on separate processes, and while the
//! Hub is down (reference: the LUI and the Hub both validate logins in the Hub).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// A Hub alone on 127.0.0.2 and a User Interface alone on 127.0.0.3 that uses it; the
/// Hub's root, the Hub, the User Interface.
async fn start_hub_and_lui(dir: &Path) -> (PathBuf, Server, Server) {
    let (hub_root, lui_root) = (dir.join("hub"), dir.join("lui"));
    let (hub_port, lui_port) = (free_port("127.0.0.2"), free_port("127.0.0.3"));
    let hub_host = format!("127.0.0.2:{hub_port}");
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
    let secret_file = hub_root.join("hub/hub.ini");
    init(
        &lui_root,
        &[
            "--components",
            "lui",
            "--bind-address",
            "127.0.0.3",
            "--port",
            &lui_port.to_string(),
            "--hub-host",
            &hub_host,
            "--tracker-host",
            "127.0.0.4:80",
            "--cluster-secret-file",
            secret_file.to_str().expect("a UTF-8 path"),
        ],
    );
    let hub = Server::start(&hub_root).await;
    let lui = Server::start(&lui_root).await;
    (hub_root, hub, lui)
}

#[tokio::test]
async fn the_user_interface_logs_in_through_the_hub_and_from_its_cache_while_the_hub_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_root, mut hub, lui) = start_hub_and_lui(dir.path()).await;

    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(admin.post("/groups", json!({"name": "Sales"})).await.0, 201);
    let (_, anna) = admin
        .post(
            "/accounts",
            json!({"user_name": "Anna", "group_name": "Sales", "password": "anna-password"}),
        )
        .await;
    assert_eq!(
        admin
            .post(
                "/accounts",
                json!({"user_name": "Bob", "group_name": "Sales", "password": "bob-password"})
            )
            .await
            .0,
        201
    );

    // Online: the Hub checks the login.
    let mut anna_lui = HubApi::at(&lui.base(), "/lui");
    let (status, me) = anna_lui
        .login(json!({"user_name": "anna", "group_name": "SALES", "password": "anna-password"}))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["actor"].as_str(), me["offline"].as_bool()),
        (Some("Anna/Sales"), Some(false))
    );
    assert_eq!(me["rights"].as_array().unwrap().len(), 8);
    let mut wrong = HubApi::at(&lui.base(), "/lui");
    assert_eq!(
        wrong
            .login(json!({"user_name": "anna", "group_name": "Sales", "password": "nope-nope"}))
            .await
            .0,
        401
    );

    // A change at the Hub reaches the User Interface within seconds.
    let anna_id = anna["id"].as_i64().unwrap();
    let (status, _) = admin
        .put(
            &format!("/accounts/{anna_id}"),
            json!({"user_name": "Anna", "group_name": "Sales", "rights": ["create_jobs"]}),
        )
        .await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, me) = anna_lui.get("/session").await;
        if me["rights"] == json!(["create_jobs"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rights change never reached the User Interface: {me}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The special admin login uses the Hub's administrator password.
    let mut lui_admin = HubApi::at(&lui.base(), "/lui");
    let (status, me) = lui_admin
        .login(json!({"user_name": "admin", "password": "new-admin-pw"}))
        .await;
    assert_eq!((status, me["actor"].as_str()), (200, Some("admin")), "{me}");

    // The Hub stops: Anna, who logged in before, still can; Bob, never seen here, gets told why.
    assert!(hub.stop().success());
    let mut offline = HubApi::at(&lui.base(), "/lui");
    let (status, me) = offline
        .login(json!({"user_name": "Anna", "group_name": "Sales", "password": "anna-password"}))
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["offline"], true);
    assert_eq!(me["rights"], json!(["create_jobs"]));
    let (status, body) = offline
        .login(json!({"user_name": "Anna", "group_name": "Sales", "password": "not-her-password"}))
        .await;
    assert_eq!(status, 401, "{body}");
    let mut bob = HubApi::at(&lui.base(), "/lui");
    let (status, body) = bob
        .login(json!({"user_name": "Bob", "group_name": "Sales", "password": "bob-password"}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("the Administration Hub cannot be reached"),
        "{body}"
    );
    assert_eq!(
        anna_lui.get("/session").await.0,
        200,
        "sessions go on while the Hub is down"
    );

    // The Hub is back; Anna is deleted there: her sessions end and the cache forgets her.
    let hub = Server::start(&hub_root).await;
    let mut admin = HubApi::new(&hub.base());
    assert_eq!(
        admin.login(json!({"password": "new-admin-pw"})).await.0,
        200
    );
    assert_eq!(
        admin
            .send(
                reqwest::Method::DELETE,
                &format!("/accounts/{anna_id}"),
                None
            )
            .await
            .0,
        204
    );
    let deadline = Instant::now() + DEADLINE;
    while anna_lui.get("/session").await.0 != 401 {
        assert!(
            Instant::now() < deadline,
            "a deleted account kept its session"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Logins through the User Interface count the person's address at the Hub (not the User
/// Interface's), and the offline login from the cache, while the Hub is down, is limited as
/// the Hub's is: guesses stop the guesser, not the owner elsewhere; 40 at once are not all
/// checked.
#[tokio::test]
async fn logins_through_the_user_interface_and_offline_are_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut hub, lui) = start_hub_and_lui(dir.path()).await;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(
        admin
            .post(
                "/accounts",
                json!({"user_name": "Anna", "password": "anna-password"})
            )
            .await
            .0,
        201
    );
    assert_eq!(
        admin
            .post(
                "/accounts",
                json!({"user_name": "Bob", "password": "bob-password"})
            )
            .await
            .0,
        201
    );
    let wrong = json!({"user_name": "anna", "password": "not-her-password"});
    let right = json!({"user_name": "anna", "password": "anna-password"});
    let from = |ip: &str| HubApi::with_client(client_from(ip), &lui.base(), "/lui");

    // Online: the Hub checks; the guesser at 127.0.0.5 is stopped, Anna at 127.0.0.6 is not
    // (were the User Interface's own address counted at the Hub, she would be).
    for _ in 0..5 {
        assert_eq!(from("127.0.0.5").login(wrong.clone()).await.0, 401);
    }
    let (status, body) = from("127.0.0.5").login(right.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("from your address"),
        "{body}"
    );
    let (status, me) = from("127.0.0.6").login(right.clone()).await;
    assert_eq!(
        (status, me["offline"].as_bool()),
        (200, Some(false)),
        "{me}"
    );

    let bob = json!({"user_name": "bob", "password": "bob-password"});
    assert_eq!(from("127.0.0.6").login(bob).await.0, 200);

    // Offline: the Hub is down, the cache checks the password, under the same limits.
    assert!(hub.stop().success());
    let (status, me) = from("127.0.0.7").login(right.clone()).await;
    assert_eq!((status, me["offline"].as_bool()), (200, Some(true)), "{me}");
    for _ in 0..5 {
        assert_eq!(from("127.0.0.8").login(wrong.clone()).await.0, 401);
    }
    let (status, body) = from("127.0.0.8").login(right.clone()).await;
    assert_eq!(status, 429, "offline too: {body}");
    let (status, me) = from("127.0.0.6").login(right.clone()).await;
    assert_eq!((status, me["offline"].as_bool()), (200, Some(true)), "{me}");

    let bob_wrong = json!({"user_name": "bob", "password": "not-his-password"});
    let statuses = forty_logins_at_once(&lui.base(), "/lui", "127.0.0.9", bob_wrong).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 35), "{statuses:?}");
}
