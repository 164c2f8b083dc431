//! Jobs in the User Interface over a real process, on the internal SQLite database and on
//! PostgreSQL: ids, folders, who sees and changes what, grants within the group, copies,
//! the admin login's archive and change of owner, bad input, and a restart.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;
use tutti_lui::testing::PgDatabase;

/// Hub and User Interface in one process on 127.0.0.2, with the given database settings.
async fn hub_and_lui(dir: &std::path::Path, database: &[(&str, &str)]) -> Server {
    let port = free_port("127.0.0.2");
    init(
        dir,
        &[
            "--components",
            "hub,lui",
            "--bind-address",
            "127.0.0.2",
            "--port",
            &port.to_string(),
            "--hub-host",
            &format!("127.0.0.2:{port}"),
            "--tracker-host",
            "127.0.0.4:80",
        ],
    );
    for (k, v) in database {
        set_key(&dir.join("lui/lui.ini"), k, v);
    }
    Server::start(dir).await
}

async fn user(server: &Server, name: &str, group: &str) -> HubApi {
    let mut api = HubApi::at(&server.base(), "/lui");
    let (status, body) = api
        .login(
            json!({"user_name": name, "group_name": group, "password": format!("{name}-password")}),
        )
        .await;
    assert_eq!(status, 200, "{name}: {body}");
    api
}

async fn patch(api: &HubApi, path: &str, body: Value) -> (u16, Value) {
    api.send(Method::PATCH, path, Some(body)).await
}

async fn delete(api: &HubApi, path: &str) -> (u16, Value) {
    api.send(Method::DELETE, path, None).await
}

fn ids(page: &Value) -> Vec<String> {
    page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect()
}

async fn the_job_lifecycle(database: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let mut server = hub_and_lui(&root, database).await;
    let admin = HubApi::first_use(&server, "new-admin-pw").await;
    for group in ["Sales", "Marketing"] {
        assert_eq!(admin.post("/groups", json!({"name": group})).await.0, 201);
    }
    let mut account_ids = std::collections::HashMap::new();
    for (name, group, rights) in [
        ("anna", "Sales", None),
        ("ben", "Sales", None),
        ("carl", "Marketing", None),
        ("dora", "Sales", Some(json!(["view_reports"]))),
    ] {
        let mut body =
            json!({"user_name": name, "group_name": group, "password": format!("{name}-password")});
        if let Some(r) = rights {
            body["rights"] = r;
        }
        let (status, account) = admin.post("/accounts", body).await;
        assert_eq!(status, 201, "{account}");
        account_ids.insert(name, account["id"].as_i64().unwrap());
    }
    let anna = user(&server, "anna", "Sales").await;
    let ben = user(&server, "ben", "Sales").await;
    let dora = user(&server, "dora", "Sales").await;

    // Anna creates two jobs: ids are today's date and A, B.
    let (status, spring) = anna
        .post("/jobs", json!({"title": "Spring sale", "folder": "News"}))
        .await;
    assert_eq!(status, 201, "{spring}");
    let spring_id = spring["id"].as_str().unwrap().to_string();
    let today = spring_id.trim_end_matches('A');
    assert!(
        today.len() == 6 && today.chars().all(|c| c.is_ascii_digit()),
        "{spring_id}"
    );
    assert_eq!(spring["state"], "open");
    assert_eq!(spring["owner_name"], "anna/Sales");
    assert_eq!(spring["access"]["owner"], true);
    let (_, summer) = anna.post("/jobs", json!({"title": "Summer"})).await;
    let summer_id = summer["id"].as_str().unwrap().to_string();
    assert_eq!(summer_id, format!("{today}B"));
    let (_, page) = anna.get("/jobs").await;
    assert_eq!(ids(&page), [summer_id.as_str(), spring_id.as_str()]);
    let (_, page) = anna.get("/jobs?folder=News").await;
    assert_eq!(ids(&page), [spring_id.as_str()]);
    let (_, page) = anna.get("/jobs?q=SPRING").await;
    assert_eq!(ids(&page), [spring_id.as_str()]);
    let (_, folders) = anna.get("/folders").await;
    assert_eq!(
        folders,
        json!([{"folder": "", "jobs": 1}, {"folder": "News", "jobs": 1}])
    );

    // Ben sees none of it, and cannot touch it: to him it does not exist.
    let (_, page) = ben.get("/jobs").await;
    assert_eq!(page["total"], 0);
    assert_eq!(ben.get(&format!("/jobs/{spring_id}")).await.0, 404);
    let changed = patch(&ben, &format!("/jobs/{spring_id}"), json!({"title": "x"})).await;
    assert_eq!(changed.0, 404);
    assert_eq!(delete(&ben, &format!("/jobs/{spring_id}")).await.0, 404);

    // Anna lets Ben edit (not send) it; Carl is in another group and cannot be given it.
    let (status, grants) = anna
        .put(
            &format!("/jobs/{spring_id}/grants"),
            json!([{"account_id": account_ids["ben"], "edit": true, "send": false}]),
        )
        .await;
    assert_eq!(status, 200, "{grants}");
    assert_eq!(grants[0]["user_name"], "ben");
    let (status, refused) = anna
        .put(
            &format!("/jobs/{spring_id}/grants"),
            json!([{"account_id": account_ids["carl"], "edit": true, "send": true}]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("not in the group Sales")
    );
    let (_, job) = ben.get(&format!("/jobs/{spring_id}")).await;
    assert_eq!(
        (
            job["access"]["edit"].as_bool(),
            job["access"]["send"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let (status, job) = patch(
        &ben,
        &format!("/jobs/{spring_id}"),
        json!({"title": "Spring sale 2"}),
    )
    .await;
    assert_eq!(
        (status, job["title"].as_str()),
        (200, Some("Spring sale 2"))
    );
    assert_eq!(delete(&ben, &format!("/jobs/{spring_id}")).await.0, 403);
    let (status, _) = ben
        .put(&format!("/jobs/{spring_id}/grants"), json!([]))
        .await;
    assert_eq!(status, 403, "only the owner grants");

    // Ben copies it into a job of his own.
    let (status, copy) = ben
        .post(&format!("/jobs/{spring_id}/copy"), json!({}))
        .await;
    assert_eq!(status, 201, "{copy}");
    assert_eq!(copy["title"], "Copy of Spring sale 2");
    assert_eq!(copy["owner_name"], "ben/Sales");
    assert_eq!(copy["copied_from"], spring_id.as_str());
    assert_eq!(copy["id"], format!("{today}C"));

    // Dora may not create jobs.
    let (status, body) = dora.post("/jobs", json!({"title": "Mine"})).await;
    assert_eq!(status, 403, "{body}");

    // Bad input changes nothing and says what is wrong.
    let (status, body) = anna.post("/jobs", json!({"title": "  "})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("the title must not be empty"))
    );
    let (status, _) = anna.post("/jobs", json!({"title": "a\u{7}b"})).await;
    assert_eq!(status, 400);
    let (status, _) = anna.post("/jobs", json!({"title": "x".repeat(201)})).await;
    assert_eq!(status, 400);
    let (status, _) = anna.post("/jobs", json!({"folder": "no title"})).await;
    assert_eq!(status, 422);
    let (_, page) = anna.get("/jobs").await;
    assert_eq!(page["total"], 2);

    // The admin login sees every job, archives one and gives another away.
    let mut lui_admin = HubApi::at(&server.base(), "/lui");
    assert_eq!(
        lui_admin
            .login(json!({"user_name": "admin", "password": "new-admin-pw"}))
            .await
            .0,
        200
    );
    let (_, all) = lui_admin.get("/jobs").await;
    assert_eq!(all["total"], 3);
    assert_eq!(lui_admin.post("/jobs", json!({"title": "t"})).await.0, 403);
    let (status, _) = anna
        .post(
            &format!("/jobs/{summer_id}/archive"),
            json!({"archived": true}),
        )
        .await;
    assert_eq!(status, 403, "only the admin login archives");
    let (status, job) = lui_admin
        .post(
            &format!("/jobs/{summer_id}/archive"),
            json!({"archived": true}),
        )
        .await;
    assert_eq!((status, job["archived"].as_bool()), (200, Some(true)));
    let (_, page) = anna.get("/jobs").await;
    assert_eq!(ids(&page), [spring_id.as_str()]);
    let (_, page) = anna.get("/jobs?archived=true").await;
    assert_eq!(ids(&page), [summer_id.as_str()]);
    let (status, job) = lui_admin
        .put(
            &format!("/jobs/{spring_id}/owner"),
            json!({"account_id": account_ids["ben"]}),
        )
        .await;
    assert_eq!(
        (status, job["owner_name"].as_str()),
        (200, Some("ben/Sales"))
    );
    let (_, job) = ben.get(&format!("/jobs/{spring_id}")).await;
    assert_eq!(job["access"]["owner"], true);
    assert_eq!(anna.get(&format!("/jobs/{spring_id}")).await.0, 404);
    let (status, _) = lui_admin
        .put(
            &format!("/jobs/{spring_id}/owner"),
            json!({"account_id": 999_999}),
        )
        .await;
    assert_eq!(status, 422);

    // The owner deletes an open job.
    let copy_id = copy["id"].as_str().unwrap();
    assert_eq!(delete(&ben, &format!("/jobs/{copy_id}")).await.0, 204);
    assert_eq!(ben.get(&format!("/jobs/{copy_id}")).await.0, 404);

    // The API is described.
    let (status, doc) = anna.get("/openapi.json").await;
    assert_eq!(status, 200);
    for path in ["/jobs", "/jobs/{id}", "/jobs/{id}/grants", "/session"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }

    // Everything survives a restart, and ids go on where they were.
    assert!(server.stop().success());
    let server = Server::start(&root).await;
    let anna = user(&server, "anna", "Sales").await;
    let (_, job) = anna.post("/jobs", json!({"title": "After restart"})).await;
    assert_eq!(job["id"], format!("{today}D"));
    let ben = user(&server, "ben", "Sales").await;
    let (_, page) = ben.get("/jobs").await;
    assert_eq!(ids(&page), [spring_id.as_str()]);
}

#[tokio::test]
async fn jobs_on_the_internal_database() {
    the_job_lifecycle(&[]).await;
}

#[tokio::test]
async fn jobs_on_postgresql() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    the_job_lifecycle(&[("DatabaseType", "postgresql"), ("DatabaseUrl", &pg.url)]).await;
}

/// A deleted account's id is never given to the next account: its jobs, recipients and
/// saved reports stay with no one but the `admin` login until it gives them away.
#[tokio::test]
async fn a_deleted_accounts_jobs_go_to_no_new_account() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let server = hub_and_lui(&root, &[]).await;
    let admin = HubApi::first_use(&server, "new-admin-pw").await;
    for group in ["Sales", "Ops"] {
        assert_eq!(admin.post("/groups", json!({"name": group})).await.0, 201);
    }
    let mut made = std::collections::HashMap::new();
    for (name, group) in [("ben", "Sales"), ("anna", "Sales")] {
        let (status, account) = admin
            .post(
                "/accounts",
                json!({"user_name": name, "group_name": group, "password": format!("{name}-password")}),
            )
            .await;
        assert_eq!(status, 201, "{account}");
        made.insert(name, account["id"].as_i64().unwrap());
    }
    let anna = user(&server, "anna", "Sales").await;
    let (_, job) = anna.post("/jobs", json!({"title": "Anna's"})).await;
    let job_id = job["id"].as_str().unwrap().to_string();
    upload_csv(&anna, &job_id, "email\nann@example.org\n").await;

    // Anna, the newest account, is deleted; the next account goes to another group.
    let (status, _) = admin
        .send(Method::DELETE, &format!("/accounts/{}", made["anna"]), None)
        .await;
    assert_eq!(status, 204);
    let (status, eve) = admin
        .post(
            "/accounts",
            json!({"user_name": "eve", "group_name": "Ops", "password": "eve-password"}),
        )
        .await;
    assert_eq!(status, 201, "{eve}");
    assert!(eve["id"].as_i64().unwrap() > made["anna"], "{eve}");
    let eve = user(&server, "eve", "Ops").await;
    let (_, page) = eve.get("/jobs").await;
    assert_eq!(page["total"], 0, "{page}");
    assert_eq!(eve.get(&format!("/jobs/{job_id}")).await.0, 404);
    let (status, _) = eve.get(&format!("/jobs/{job_id}/recipients")).await;
    assert_eq!(status, 404);

    // The admin login still sees the job and gives it to Ben.
    let mut lui_admin = HubApi::at(&server.base(), "/lui");
    let (status, _) = lui_admin
        .login(json!({"user_name": "admin", "password": "new-admin-pw"}))
        .await;
    assert_eq!(status, 200);
    let (_, job) = lui_admin.get(&format!("/jobs/{job_id}")).await;
    assert_eq!(job["owner_name"], "anna/Sales", "{job}");
    let (status, job) = lui_admin
        .put(
            &format!("/jobs/{job_id}/owner"),
            json!({"account_id": made["ben"]}),
        )
        .await;
    assert_eq!(
        (status, job["owner_name"].as_str()),
        (200, Some("ben/Sales"))
    );
    let ben = user(&server, "ben", "Sales").await;
    let (_, list) = ben.get(&format!("/jobs/{job_id}/recipients")).await;
    assert_eq!(list["accepted"], 1, "{list}");
}

/// A group's drop-ins, templates, sender profiles, saved lists and jobs belong to the group
/// (its id), not to its name: after a rename, a new group given the old name sees none of
/// them; and a grant stops counting when its account moves to another group.
#[tokio::test]
async fn a_groups_things_stay_with_it_through_renames_and_moves() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let server = hub_and_lui(&root, &[]).await;
    let admin = HubApi::first_use(&server, "new-admin-pw").await;
    let (_, sales) = admin.post("/groups", json!({"name": "Sales"})).await;
    assert_eq!(admin.post("/groups", json!({"name": "Ops"})).await.0, 201);
    let mut made = std::collections::HashMap::new();
    for name in ["anna", "ben"] {
        let (status, account) = admin
            .post(
                "/accounts",
                json!({"user_name": name, "group_name": "Sales", "password": format!("{name}-password")}),
            )
            .await;
        assert_eq!(status, 201, "{account}");
        made.insert(name, account["id"].as_i64().unwrap());
    }
    let anna = user(&server, "anna", "Sales").await;
    let ben = user(&server, "ben", "Sales").await;
    let secret = json!({"name": "api", "content": "key-s3cr3t"});
    assert_eq!(anna.post("/dropins", secret).await.0, 201);
    let profile = json!({"name": "News", "from_address": "news@shop.example"});
    assert_eq!(anna.post("/sender-profiles", profile).await.0, 201);
    let (_, job) = anna.post("/jobs", json!({"title": "Shared"})).await;
    let job_id = job["id"].as_str().unwrap().to_string();
    let r = anna
        .http
        .post(format!(
            "{}/jobs/{job_id}/recipients?save_as=Customers",
            anna.base
        ))
        .header("x-csrf-token", &anna.csrf)
        .body("email\nann@example.org\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let deadline = std::time::Instant::now() + DEADLINE;
    while anna.get("/lists").await.1.as_array().map_or(0, Vec::len) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the list was not saved"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        anna.put(
            &format!("/jobs/{job_id}/grants"),
            json!([{"account_id": made["ben"], "edit": true, "send": false}]),
        )
        .await
        .0,
        200
    );
    assert_eq!(ben.get(&format!("/jobs/{job_id}")).await.0, 200);

    // Sales is renamed and a new group gets its old name.
    let (status, _) = admin
        .put(
            &format!("/groups/{}", sales["id"]),
            json!({"name": "Old Sales"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(admin.post("/groups", json!({"name": "Sales"})).await.0, 201);
    let (status, _) = admin
        .post(
            "/accounts",
            json!({"user_name": "mallory", "group_name": "Sales", "password": "mallory-password"}),
        )
        .await;
    assert_eq!(status, 201);
    let mallory = user(&server, "mallory", "Sales").await;
    for path in ["/dropins", "/templates", "/sender-profiles", "/lists"] {
        let (status, body) = mallory.get(path).await;
        assert_eq!((status, body.clone()), (200, json!([])), "{path}");
    }
    let (_, page) = mallory.get("/jobs").await;
    assert_eq!(page["total"], 0, "{page}");
    // The renamed group keeps everything.
    let anna = user(&server, "anna", "Old Sales").await;
    let (_, dropins) = anna.get("/dropins").await;
    assert_eq!(dropins[0]["content"], "key-s3cr3t", "{dropins}");
    let (_, lists) = anna.get("/lists").await;
    assert_eq!(lists[0]["name"], "Customers", "{lists}");

    // Ben moves to Ops: Anna's grant no longer opens her job to him.
    let (status, body) = admin
        .put(
            &format!("/accounts/{}", made["ben"]),
            json!({"group_name": "Ops"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ben = user(&server, "ben", "Ops").await;
    assert_eq!(ben.get(&format!("/jobs/{job_id}")).await.0, 404);
    let (_, page) = ben.get("/jobs").await;
    assert_eq!(page["total"], 0, "{page}");

    // Anna, the owner, moves to Ops too: the job stays with Old Sales (its drop-ins, its
    // recipients), for the admin login to give to someone there.
    let (status, body) = admin
        .put(
            &format!("/accounts/{}", made["anna"]),
            json!({"group_name": "Ops"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let anna = user(&server, "anna", "Ops").await;
    assert_eq!(anna.get(&format!("/jobs/{job_id}")).await.0, 404);
    assert_eq!(
        anna.get(&format!("/jobs/{job_id}/preview?recipient=1"))
            .await
            .0,
        404
    );
    let (_, page) = anna.get("/jobs").await;
    assert_eq!(page["total"], 0, "{page}");
}

async fn upload_csv(api: &HubApi, job: &str, csv: &str) -> Value {
    let r = api
        .http
        .post(format!("{}/jobs/{job}/recipients", api.base))
        .header("x-csrf-token", &api.csrf)
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let (_, list) = api.get(&format!("/jobs/{job}/recipients")).await;
        if list["state"] != "importing" {
            return list;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_system_database_moves_to_postgresql_and_back_with_everything() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let mut server = hub_and_lui(&root, &[]).await;
    let admin = HubApi::first_use(&server, "new-admin-pw").await;
    assert_eq!(admin.post("/groups", json!({"name": "Sales"})).await.0, 201);
    admin
        .post(
            "/accounts",
            json!({"user_name": "anna", "group_name": "Sales", "password": "anna-password"}),
        )
        .await;
    let anna = user(&server, "anna", "Sales").await;
    let (_, a) = anna.post("/jobs", json!({"title": "First"})).await;
    let (_, b) = anna.post("/jobs", json!({"title": "Second"})).await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    );
    let list = upload_csv(
        &anna,
        &a,
        "email,NAME\nx@example.org,X\ny@example.org,Y\nbad,Z\n",
    )
    .await;
    assert_eq!(list["accepted"], 2);
    let message =
        json!({"subject": "Hi &NAME;", "from_address": "n@shop.example", "html": "<p>&NAME;</p>"});
    assert_eq!(
        anna.put(&format!("/jobs/{a}/message"), message.clone())
            .await
            .0,
        200
    );

    // Not while the User Interface runs.
    let refused = run_move(&root, &pg.url);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("stop it"),
        "{refused:?}"
    );
    assert!(server.stop().success());

    let moved = run_move(&root, &pg.url);
    assert!(moved.status.success(), "{moved:?}");
    let out = String::from_utf8_lossy(&moved.stdout);
    assert!(
        out.contains("jobs: 2 rows") && out.contains("recipients: 2 rows"),
        "{out}"
    );
    let ini = std::fs::read_to_string(root.join("lui/lui.ini")).unwrap();
    assert!(ini.contains("DatabaseType=postgresql"), "{ini}");

    let check = |server: &Server| {
        let base = server.base();
        let (a, b, message) = (a.clone(), b.clone(), message.clone());
        async move {
            let mut anna = HubApi::at(&base, "/lui");
            anna.login(
                json!({"user_name": "anna", "group_name": "Sales", "password": "anna-password"}),
            )
            .await;
            let (_, page) = anna.get("/jobs").await;
            let mut listed = ids(&page);
            listed.sort();
            assert!(listed.contains(&a) && listed.contains(&b), "{page}");
            let (_, list) = anna.get(&format!("/jobs/{a}/recipients")).await;
            assert_eq!(
                (list["accepted"].as_i64(), list["rejected"].as_i64()),
                (Some(2), Some(1))
            );
            let (_, view) = anna.get(&format!("/jobs/{a}/message")).await;
            assert_eq!(view["message"]["subject"], message["subject"]);
            anna
        }
    };
    let mut server = Server::start(&root).await;
    let anna = check(&server).await;
    // Ids and list numbers go on after the copied ones.
    let (_, c) = anna.post("/jobs", json!({"title": "Third"})).await;
    assert!(c["id"].as_str().unwrap().ends_with('C'), "{c}");
    let second = upload_csv(&anna, c["id"].as_str().unwrap(), "email\nz@example.org\n").await;
    assert!(
        second["id"].as_i64() > list["id"].as_i64(),
        "{second} after {list}"
    );
    assert!(server.stop().success());

    // Back to the internal database: not into the old file, which still holds the data.
    let back = run_move(&root, "internal");
    assert!(!back.status.success());
    assert!(String::from_utf8_lossy(&back.stderr).contains("already holds data"));
    std::fs::remove_dir_all(root.join("lui/database")).unwrap();
    let back = run_move(&root, "internal");
    assert!(back.status.success(), "{back:?}");
    let server = Server::start(&root).await;
    check(&server).await;
}

fn run_move(root: &std::path::Path, to: &str) -> std::process::Output {
    tutti()
        .args([
            "lui",
            "move-database",
            "--root",
            root.to_str().unwrap(),
            "--to",
            to,
        ])
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_backup_taken_while_running_starts_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let mut server = hub_and_lui(&root, &[]).await;
    let admin = HubApi::first_use(&server, "new-admin-pw").await;
    assert_eq!(admin.post("/groups", json!({"name": "Sales"})).await.0, 201);
    admin
        .post(
            "/accounts",
            json!({"user_name": "anna", "group_name": "Sales", "password": "anna-password"}),
        )
        .await;
    let anna = user(&server, "anna", "Sales").await;
    let (_, job) = anna.post("/jobs", json!({"title": "Kept"})).await;
    upload_csv(&anna, job["id"].as_str().unwrap(), "email\nx@example.org\n").await;

    let copy = dir.path().join("copy");
    let backup = |to: &std::path::Path| {
        tutti()
            .args([
                "backup",
                "--root",
                root.to_str().unwrap(),
                "--to",
                to.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let out = backup(&copy);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("lui/database/lui.sqlite") && text.contains("accountreg"),
        "{text}"
    );
    let again = backup(&copy);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // The copy runs in place of the original, with the account, the job and its list.
    assert!(server.stop().success());
    let restored = Server::start(&copy).await;
    let anna = user(&restored, "anna", "Sales").await;
    let (_, page) = anna.get("/jobs").await;
    assert_eq!(page["jobs"][0]["title"], "Kept", "{page}");
    let (_, list) = anna
        .get(&format!("/jobs/{}/recipients", job["id"].as_str().unwrap()))
        .await;
    assert_eq!(list["accepted"], 1, "{list}");
}
