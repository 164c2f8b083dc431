//! The Administration Hub over real processes: first use, accounts, groups, rights,
//! settings, the registry API, and bad input.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn first_use_forces_the_password_change_then_groups_users_and_rights() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let secret = secret(dir.path());

    // The well-known `admin` opens nothing: the first password is the random one-time
    // setup password in a file only the installation's owner reads.
    let setup = setup_password(dir.path());
    let setup_file = dir.path().join("hub/accountreg/setup-password");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&setup_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let login_page = reqwest::get(hub.url("/hub/login"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        login_page.contains("hub/accountreg/setup-password"),
        "{login_page}"
    );
    assert!(!login_page.contains("<code>admin</code>"), "{login_page}");
    let mut api = HubApi::new(&hub.base());
    let (status, _) = api.login(json!({"password": "admin"})).await;
    assert_eq!(status, 401, "the old well-known password");
    // The setup password logs in, but nothing is allowed before it is changed.
    let (status, body) = api.login(json!({"password": "wrong"})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["error"], "the administrator password is wrong",
        "the administrator's login has no user name or group to blame"
    );
    let (status, body) = api.login(json!({"password": setup})).await;
    assert_eq!(status, 200);
    assert_eq!(body["must_change_password"], true);
    let (status, body) = api.get("/accounts").await;
    assert_eq!(status, 403);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("still the one-time setup password"),
        "{body}"
    );
    let (status, _) = api
        .post(
            "/admin/password",
            json!({"old_password": "nope", "new_password": "new-admin-pw"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = api
        .post(
            "/admin/password",
            json!({"old_password": setup, "new_password": "admin"}),
        )
        .await;
    assert_eq!(status, 422);
    let (status, body) = api
        .post(
            "/admin/password",
            json!({"old_password": setup, "new_password": "Password1"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("New password: it is one of the most common passwords"),
        "{body}"
    );
    // Eight spaces are as long as the rule asks, but no password.
    let (status, body) = api
        .post(
            "/admin/password",
            json!({"old_password": setup, "new_password": "        "}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"],
        "New password: it is only spaces; a password needs at least 8 other characters"
    );
    assert_eq!(body["fields"][0]["field"], "new_password");
    let (status, _) = api
        .post(
            "/admin/password",
            json!({"old_password": setup, "new_password": "new-admin-pw"}),
        )
        .await;
    assert_eq!(status, 204);
    assert!(
        !setup_file.exists(),
        "the setup password is gone once changed"
    );
    let login_page = reqwest::get(hub.url("/hub/login"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!login_page.contains("setup-password"), "{login_page}");
    assert_eq!(
        api.get("/accounts").await.0,
        200,
        "the session goes on after the change"
    );
    let mut again = HubApi::new(&hub.base());
    assert_eq!(
        again.login(json!({"password": setup})).await.0,
        401,
        "the setup password no longer works"
    );
    assert_eq!(
        again.login(json!({"password": "new-admin-pw"})).await.0,
        200
    );

    // Groups and users; new accounts get every right.
    let (status, sales) = api.post("/groups", json!({"name": "Sales"})).await;
    assert_eq!(status, 201, "{sales}");
    assert_eq!(api.post("/groups", json!({"name": "Ops"})).await.0, 201);
    let (status, anna) = api
        .post(
            "/accounts",
            json!({"user_name": "Anna", "group_name": "sales", "password": "anna-password"}),
        )
        .await;
    assert_eq!(status, 201, "{anna}");
    assert_eq!(anna["group_name"], "Sales");
    assert_eq!(anna["rights"].as_array().unwrap().len(), 8);
    let (status, bob) = api
        .post("/accounts", json!({"user_name": "Bob", "group_name": "Sales", "password": "bob-password", "rights": ["create_jobs", "view_reports"]}))
        .await;
    assert_eq!(status, 201, "{bob}");
    let (status, carl) = api
        .post(
            "/accounts",
            json!({"user_name": "Carl", "group_name": "Ops", "password": "carl-password"}),
        )
        .await;
    assert_eq!(status, 201, "{carl}");

    // Search and paging.
    let (_, page) = api.get("/accounts?search=AN&limit=1").await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["accounts"][0]["user_name"], "Anna");
    let (_, page) = api.get("/accounts?limit=2&offset=2").await;
    assert_eq!(
        (
            page["total"].as_i64(),
            page["accounts"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );

    // A component checks logins through the registry API; rights come along.
    let (status, info) = registry_post(
        &hub.base(),
        &secret,
        "/login",
        json!({"user_name": "bob", "group_name": "SALES", "password": "bob-password"}),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["rights"], json!(["create_jobs", "view_reports"]));
    let (status, _) = registry_post(
        &hub.base(),
        &secret,
        "/login",
        json!({"user_name": "bob", "group_name": "Sales", "password": "BOB-PASSWORD"}),
    )
    .await;
    assert_eq!(status, 401, "passwords are case-sensitive");

    // Editing keeps the password unless a new one is given.
    let bob_id = bob["id"].as_i64().unwrap();
    let (status, _) = api
        .put(
            &format!("/accounts/{bob_id}"),
            json!({"user_name": "Bob", "group_name": "Sales", "rights": ["create_jobs"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        registry_post(
            &hub.base(),
            &secret,
            "/login",
            json!({"user_name": "Bob", "group_name": "Sales", "password": "bob-password"})
        )
        .await
        .0,
        200
    );
    let (status, _) = api
        .put(&format!("/accounts/{bob_id}"), json!({"user_name": "Bob", "group_name": "Sales", "password": "bob-new-password", "rights": ["create_jobs"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        registry_post(
            &hub.base(),
            &secret,
            "/login",
            json!({"user_name": "Bob", "group_name": "Sales", "password": "bob-password"})
        )
        .await
        .0,
        401
    );

    // A group administrator manages their own group only; an account without the right is
    // refused by the API.
    let mut anna_api = HubApi::new(&hub.base());
    assert_eq!(
        anna_api
            .login(json!({"user_name": "anna", "group_name": "Sales", "password": "anna-password"}))
            .await
            .0,
        200
    );
    let (status, page) = anna_api.get("/accounts").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 2, "Anna sees her group only: {page}");
    assert_eq!(
        anna_api
            .post(
                "/accounts",
                json!({"user_name": "Dora", "group_name": "Sales", "password": "dora-password"})
            )
            .await
            .0,
        201
    );
    assert_eq!(
        anna_api
            .post(
                "/accounts",
                json!({"user_name": "Eve", "group_name": "Ops", "password": "eve-password"})
            )
            .await
            .0,
        403
    );
    assert_eq!(
        anna_api.get(&format!("/accounts/{}", carl["id"])).await.0,
        403
    );
    assert_eq!(
        anna_api.post("/groups", json!({"name": "Mine"})).await.0,
        403
    );
    let mut bob_api = HubApi::new(&hub.base());
    assert_eq!(
        bob_api
            .login(
                json!({"user_name": "Bob", "group_name": "Sales", "password": "bob-new-password"})
            )
            .await
            .0,
        200
    );
    let (status, body) = bob_api.get("/accounts").await;
    assert_eq!(status, 403);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Administer the group"),
        "{body}"
    );

    // Disabled accounts cannot log in; deleted ones are gone; groups with members stay.
    let (status, _) = api
        .put(
            &format!("/accounts/{bob_id}"),
            json!({"user_name": "Bob", "group_name": "Sales", "disabled": true}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = registry_post(
        &hub.base(),
        &secret,
        "/login",
        json!({"user_name": "Bob", "group_name": "Sales", "password": "bob-new-password"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        bob_api.get("/session").await.0,
        401,
        "a disabled account's sessions end"
    );
    assert_eq!(
        api.send(
            reqwest::Method::DELETE,
            &format!("/accounts/{bob_id}"),
            None
        )
        .await
        .0,
        204
    );
    let (status, body) = api
        .send(
            reqwest::Method::DELETE,
            &format!("/groups/{}", sales["id"]),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // Every change is in the audit log, with who made it.
    let (_, audit) = api.get("/audit").await;
    let actions: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("admin".into(), "admin.password".into())),
        "{actions:?}"
    );
    assert!(actions.contains(&("admin".into(), "group.create".into())));
    assert!(
        actions.contains(&("Anna/Sales".into(), "account.create".into())),
        "{actions:?}"
    );
    assert!(actions.contains(&("admin".into(), "account.delete".into())));
    assert_eq!(anna_api.get("/audit").await.0, 403);
}

#[tokio::test]
async fn bad_input_is_refused_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let api = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(api.post("/groups", json!({"name": "Sales"})).await.0, 201);
    assert_eq!(
        api.post(
            "/accounts",
            json!({"user_name": "Anna", "group_name": "Sales", "password": "anna-password"})
        )
        .await
        .0,
        201
    );
    let count = || async { api.get("/accounts").await.1["total"].as_i64().unwrap() };
    let audit_count = || async { api.get("/audit").await.1["total"].as_i64().unwrap() };
    let (accounts_before, audit_before) = (count().await, audit_count().await);

    let cases = [
        (
            json!({"user_name": "ANNA", "group_name": "sales", "password": "other-password"}),
            409,
            "already has an account",
        ),
        (
            json!({"user_name": "Zed", "group_name": "Sales", "password": "short"}),
            422,
            "at least 8",
        ),
        (
            json!({"user_name": "x".repeat(65), "password": "long-enough"}),
            422,
            "at most 64",
        ),
        (
            json!({"user_name": "", "password": "long-enough"}),
            422,
            "user name is empty",
        ),
        (
            json!({"user_name": "Zed", "group_name": "Nowhere", "password": "long-enough"}),
            422,
            "there is no group",
        ),
        (
            json!({"user_name": "admin", "password": "long-enough"}),
            422,
            "administrator's login",
        ),
        (
            json!({"user_name": "Zed", "password": "  short  "}),
            422,
            "Password: it has only 5 characters besides the spaces at its start and end",
        ),
        (
            json!({"user_name": "Zed", "password": "long-enough", "settings": {"sender_from": "not an address"}}),
            422,
            "From address: \"not an address\" is not an e-mail address (it needs an @)",
        ),
        (
            json!({"user_name": "Zed", "password": "long-enough", "settings": {"mailer": {"host": "m.example.com", "client_address": "x", "client_password": "pw"}}}),
            422,
            "Client address: \"x\" is not an e-mail address (it needs an @)",
        ),
        (
            json!({"user_name": "Zed", "group_name": "Sales", "password": "password"}),
            422,
            "Password: it is one of the most common passwords",
        ),
        (
            json!({"user_name": "Zed", "password": "QwertyUI"}),
            422,
            "it is one of the most common passwords",
        ),
        (
            json!({"user_name": "Zed", "password": " 12345678 "}),
            422,
            "it is one of the most common passwords",
        ),
        // Names that would look like another, or turn the text around them.
        (
            json!({"user_name": "An\u{200B}na", "group_name": "Sales", "password": "long-enough"}),
            422,
            "the user name: it contains an invisible, control or text-direction character (at character 3)",
        ),
        (
            json!({"user_name": "Zed\u{202E}gpj", "password": "long-enough"}),
            422,
            "text-direction character",
        ),
        (
            json!({"user_name": "\u{FEFF}Zed", "password": "long-enough"}),
            422,
            "text-direction character",
        ),
        // A typo is refused, never ignored: without `rights` the account would get all.
        (
            json!({"user_name": "Erin", "password": "erin-password", "rihgts": []}),
            422,
            "rihgts: there is no such field",
        ),
        (
            json!({"user_name": "Erin", "password": "erin-password", "settings": {"sender_form": "erin@example.com"}}),
            422,
            "settings.sender_form: there is no such field",
        ),
    ];
    for (body, status, text) in cases {
        let (got, answer) = api.post("/accounts", body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(text),
            "{body} → {answer}"
        );
    }
    let (status, answer) = api.post("/groups", json!({"name": "Sa\u{2067}les"})).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("the group name: it contains an invisible"),
        "{answer}"
    );
    // Messages name fields as the pages label them; programs get the keys in `fields`.
    let (_, answer) = api
        .post("/accounts", json!({"user_name": "Zed", "password": "long-enough", "settings": {"sender_from": "not an address"}}))
        .await;
    assert_eq!(
        answer["fields"][0]["field"], "settings.sender_from",
        "{answer}"
    );
    assert!(
        !answer["error"].as_str().unwrap().contains("settings."),
        "{answer}"
    );
    let (_, answer) = api
        .post(
            "/accounts",
            json!({"user_name": "Erin", "password": "erin-password", "rihgts": []}),
        )
        .await;
    assert_eq!(answer["fields"][0]["field"], "rihgts", "{answer}");
    // Other bodies of the API are as strict.
    let (status, answer) = api
        .put("/settings/global", json!({"charset": ["utf-8"]}))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["fields"][0]["field"], "charset", "{answer}");
    let (_, mut components) = api.get("/settings/components").await;
    components["anonymous_profile_field"] = json!(["zip"]);
    let (status, answer) = api.put("/settings/components", components).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["fields"][0]["field"], "anonymous_profile_field",
        "{answer}"
    );
    let (status, answer) = api.post("/groups", json!({"nmae": "Ops"})).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["fields"][0]["field"], "nmae", "{answer}");
    // A malformed body is refused, also without changing anything.
    let r = api
        .http
        .post(format!("{}/accounts", api.base))
        .header("x-csrf-token", &api.csrf)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    // A change without the CSRF token is refused, through the API and through a form.
    let r = api
        .http
        .post(format!("{}/accounts", api.base))
        .json(&json!({"user_name": "Zed", "password": "long-enough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = api
        .http
        .post(format!("{}/hub/accounts/new", hub.base()))
        .form(&[
            ("user_name", "Zed"),
            ("password", "long-enough"),
            ("confirm", "long-enough"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        (count().await, audit_count().await),
        (accounts_before, audit_before),
        "nothing changed"
    );
}

#[tokio::test]
async fn a_group_administrator_cannot_raise_rights_or_say_where_jobs_go() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(admin.post("/groups", json!({"name": "Sales"})).await.0, 201);
    let (status, gail) = admin
        .post("/accounts", json!({"user_name": "Gail", "group_name": "Sales", "password": "gail-password", "rights": ["administer_group", "create_jobs"]}))
        .await;
    assert_eq!(status, 201, "{gail}");
    let (_, strong) = admin
        .post(
            "/accounts",
            json!({"user_name": "Strong", "group_name": "Sales", "password": "strong-password"}),
        )
        .await;
    let mut api = HubApi::new(&hub.base());
    let (status, body) = api
        .login(json!({"user_name": "Gail", "group_name": "Sales", "password": "gail-password"}))
        .await;
    assert_eq!(status, 200, "{body}");

    // Not her own rights, neither more nor fewer.
    let me = format!("/accounts/{}", gail["id"]);
    for rights in [
        json!(["administer_group", "create_jobs", "send_jobs"]),
        json!(["administer_group"]),
    ] {
        let (status, body) = api.put(&me, json!({"rights": rights})).await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = api.put(&me, json!({"disabled": true})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        api.get(&me).await.1["rights"],
        json!(["create_jobs", "administer_group"])
    );

    // New accounts get her rights, no more.
    let (status, hank) = api
        .post(
            "/accounts",
            json!({"user_name": "Hank", "group_name": "Sales", "password": "hank-password"}),
        )
        .await;
    assert_eq!(status, 201, "{hank}");
    assert_eq!(hank["rights"], json!(["create_jobs", "administer_group"]));
    let (status, body) = api
        .post("/accounts", json!({"user_name": "Ivy", "group_name": "Sales", "password": "ivy-password", "rights": ["create_jobs", "send_jobs"]}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("send_jobs"),
        "{body}"
    );
    let hank_at = format!("/accounts/{}", hank["id"]);
    let (status, body) = api
        .put(&hank_at, json!({"rights": ["create_jobs", "view_reports"]}))
        .await;
    assert_eq!(status, 403, "{body}");

    // Not where jobs go or links point; senders she may set.
    let evil = json!({"host": "evil.example.com:8080", "client_address": "x@example.com", "client_password": "pw"});
    let (status, body) = api
        .post("/accounts", json!({"user_name": "Ivy", "group_name": "Sales", "password": "ivy-password", "settings": {"mailer": evil}}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = api
        .put(&hank_at, json!({"settings": {"mailer": evil}}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = api
        .put(&hank_at, json!({"settings": {"tracking": {"scheme": "http", "host": "evil.example.com", "port": 80}}}))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = api
        .put(
            &hank_at,
            json!({"settings": {"sender_from": "hank@sales.example.com"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // An account with rights she lacks is the administrator's to change or delete.
    let strong_at = format!("/accounts/{}", strong["id"]);
    let (status, body) = api
        .put(&strong_at, json!({"password": "taken-over-pw"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        api.send(reqwest::Method::DELETE, &strong_at, None).await.0,
        403
    );
    let (_, hank_now) = admin.get(&hank_at).await;
    assert!(hank_now["settings"]["mailer"].is_null(), "{hank_now}");
    assert_eq!(
        admin.get(&me).await.1["rights"],
        json!(["create_jobs", "administer_group"])
    );
}

#[tokio::test]
async fn a_group_administrator_cannot_lift_can_change_password_false() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(admin.post("/groups", json!({"name": "Sales"})).await.0, 201);
    let (status, gail) = admin
        .post("/accounts", json!({"user_name": "Gail", "group_name": "Sales", "password": "gail-password", "can_change_password": false, "rights": ["administer_group", "create_jobs"]}))
        .await;
    assert_eq!(status, 201, "{gail}");
    let (_, kim) = admin
        .post("/accounts", json!({"user_name": "Kim", "group_name": "Sales", "password": "kim-password", "can_change_password": false, "rights": ["create_jobs"]}))
        .await;
    let mut api = HubApi::new(&hub.base());
    let (status, body) = api
        .login(json!({"user_name": "Gail", "group_name": "Sales", "password": "gail-password"}))
        .await;
    assert_eq!(status, 200, "{body}");

    // Not her own password through the account API, nor the flag that forbids it.
    let me = format!("/accounts/{}", gail["id"]);
    let (status, body) = api.put(&me, json!({"password": "gail-new-password"})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"],
        "this account may not change its own password; ask the administrator"
    );
    let (status, body) = api.put(&me, json!({"can_change_password": true})).await;
    assert_eq!(status, 403, "{body}");
    // Nor for the accounts of her group.
    let kim_at = format!("/accounts/{}", kim["id"]);
    let (status, body) = api.put(&kim_at, json!({"can_change_password": true})).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("only the administrator may let an account change its own password"),
        "{body}"
    );
    for at in [&me, &kim_at] {
        assert_eq!(admin.get(at).await.1["can_change_password"], false);
    }
    let mut again = HubApi::new(&hub.base());
    let (status, _) = again
        .login(json!({"user_name": "Gail", "group_name": "Sales", "password": "gail-password"}))
        .await;
    assert_eq!(status, 200, "her password is unchanged");
    // She may still reset a member's password, and the administrator may lift the flag.
    let (status, body) = api
        .put(&kim_at, json!({"password": "kim-new-password"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin
        .put(&kim_at, json!({"can_change_password": true}))
        .await;
    assert_eq!((status, &body["can_change_password"]), (200, &json!(true)));
}

#[tokio::test]
async fn a_change_to_an_account_leaves_the_fields_it_does_not_give() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(admin.post("/groups", json!({"name": "Sales"})).await.0, 201);
    let (_, kim) = admin
        .post("/accounts", json!({"user_name": "Kim", "group_name": "Sales", "password": "kim-password", "can_change_password": false, "disabled": true}))
        .await;
    let at = format!("/accounts/{}", kim["id"]);
    let (status, body) = admin.put(&at, json!({"rights": ["view_reports"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["user_name"],
            &body["group_name"],
            &body["disabled"],
            &body["can_change_password"],
            &body["rights"]
        ),
        (
            &json!("Kim"),
            &json!("Sales"),
            &json!(true),
            &json!(false),
            &json!(["view_reports"])
        ),
        "{body}"
    );
    let (status, body) = admin.put(&at, json!({"disabled": false})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["disabled"], &body["group_name"]),
        (&json!(false), &json!("Sales"))
    );
    // An explicit null (or "") takes the account out of its group.
    let (status, body) = admin.put(&at, json!({"group_name": null})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["group_name"].is_null(), "{body}");
    assert_eq!(body["rights"], json!(["view_reports"]));
    let (_, audit) = admin.get("/audit").await;
    assert_eq!(
        audit["entries"][0]["details"], "renamed from Kim/Sales",
        "{audit}"
    );
}

#[tokio::test]
async fn settings_inherit_user_group_global_and_a_relied_on_default_stays() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let secret = secret(dir.path());
    let api = HubApi::first_use(&hub, "new-admin-pw").await;
    let mailer = json!({"host": "mailer.example.com:8080", "client_address": "tutti@example.com", "client_password": "m-secret"});
    let (status, body) = api
        .put("/settings/global", json!({"mailer": mailer, "tracking": {"scheme": "http", "host": "trk.example.com", "port": 80}, "charsets": ["utf-8"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["mailer"]["client_password"], "********",
        "the password is never shown back"
    );
    // A tracker host typed with a scheme, a path or a port. Refusals name the field as
    // the page labels it and quote what was typed.
    for (tracking, field, message) in [
        (
            json!({"scheme": "http", "host": "http://localhost/x", "port": 18180}),
            "tracking.host",
            "Tracker host: \"http://localhost/x\" has a path (/x); give only the host name, e.g. trk.example.com",
        ),
        (
            json!({"scheme": "http", "host": "https://localhost", "port": 18180}),
            "tracking.host",
            "Tracker host: \"https://localhost\" begins with https:// but the Protocol is http; choose https as the Protocol, or give the host without https://",
        ),
        (
            json!({"scheme": "http", "host": "localhost:18180", "port": 80}),
            "tracking.host",
            "Tracker host: \"localhost:18180\" holds a port (:18180); give the host alone and put the port in the Port field",
        ),
        (
            json!({"scheme": "http", "host": "localhost", "port": 0}),
            "tracking.port",
            "Port: 0 is not a port number; give 1 to 65535 (80 is the usual port of http, 443 of https)",
        ),
    ] {
        let (status, body) = api
            .put(
                "/settings/global",
                json!({"mailer": mailer, "tracking": tracking}),
            )
            .await;
        assert_eq!(status, 422, "{tracking} → {body}");
        assert_eq!(body["error"], message, "{tracking}");
        assert_eq!(body["fields"][0]["field"], field, "{tracking}");
    }
    let (status, body) = api
        .put("/settings/global", json!({"mailer": mailer, "tracking": {"scheme": "http", "host": "HTTP://localhost", "port": 18180}, "charsets": ["utf-8"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["tracking"],
        json!({"scheme": "http", "host": "localhost", "port": 18180}),
        "the scheme went to the protocol; the host is stored bare"
    );
    let (status, body) = api
        .put("/settings/global", json!({"mailer": mailer, "charsets": ["utf-8", "EBCDIC", "klingon"], "tracking": {"scheme": "http", "host": "trk.example.com", "port": 80}}))
        .await;
    assert_eq!(status, 422, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("Charsets: \"EBCDIC\", \"klingon\" are not charsets Tutti can write; it can write UTF-8, "),
        "{body}"
    );
    assert_eq!(
        error.matches("ISO-8859-1,").count(),
        1,
        "the known charsets once: {body}"
    );

    let (status, body) = api.post("/groups", json!({"name": "Sales", "settings": {"tracking": {"scheme": "https", "host": "https://trk.sales.example.com/", "port": 443}}})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["settings"]["tracking"]["host"],
        "trk.sales.example.com"
    );
    let (status, _) = api
        .post("/accounts", json!({"user_name": "Anna", "group_name": "Sales", "password": "anna-password", "settings": {"sender_from": "anna@sales.example.com"}}))
        .await;
    assert_eq!(status, 201);

    let (status, info) = registry_post(
        &hub.base(),
        &secret,
        "/login",
        json!({"user_name": "Anna", "group_name": "Sales", "password": "anna-password"}),
    )
    .await;
    assert_eq!(status, 200);
    let s = &info["settings"];
    assert_eq!(
        (
            s["mailer"]["source"].as_str(),
            s["mailer"]["value"]["client_password"].as_str()
        ),
        (Some("global"), Some("m-secret"))
    );
    assert_eq!(
        (
            s["tracking"]["source"].as_str(),
            s["tracking"]["value"]["host"].as_str()
        ),
        (Some("group"), Some("trk.sales.example.com"))
    );
    assert_eq!(s["sender_from"]["source"], "user");
    assert_eq!(s["charsets"]["value"], json!(["UTF-8"]));

    // Saving the masked password keeps the real one.
    let (_, current) = api.get("/settings/global").await;
    assert_eq!(current["relied_on_by"]["mailer"], 1);
    assert_eq!(
        api.put("/settings/global", current["settings"].clone())
            .await
            .0,
        200
    );
    let (_, info) = registry_post(
        &hub.base(),
        &secret,
        "/login",
        json!({"user_name": "Anna", "group_name": "Sales", "password": "anna-password"}),
    )
    .await;
    assert_eq!(
        info["settings"]["mailer"]["value"]["client_password"],
        "m-secret"
    );

    // Anna relies on the global mailer connection: it cannot be emptied.
    let (status, body) = api
        .put(
            "/settings/global",
            json!({"tracking": current["settings"]["tracking"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("1 account(s) rely on the global value"),
        "{body}"
    );
    let (_, still) = api.get("/settings/global").await;
    assert_eq!(
        still["settings"]["mailer"]["host"],
        "mailer.example.com:8080"
    );
    // The charsets can be narrowed and emptied again: empty means every charset.
    let mut narrowed = still["settings"].clone();
    narrowed["charsets"] = json!(["UTF-8"]);
    let (status, body) = api.put("/settings/global", narrowed.clone()).await;
    assert_eq!(status, 200, "{body}");
    narrowed["charsets"] = serde_json::Value::Null;
    let (status, body) = api.put("/settings/global", narrowed).await;
    assert_eq!(status, 200, "{body}");
    let (_, after) = api.get("/settings/global").await;
    assert!(after["settings"]["charsets"].is_null(), "{after}");
}

#[tokio::test]
async fn the_admin_password_is_reset_offline_from_standard_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut hub = start_hub(dir.path()).await;
    let api = HubApi::first_use(&hub, "forgotten-pw").await;
    assert!(hub.stop().success());

    let mut child = tutti()
        .args(["hub", "reset-admin-password", "--root"])
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"brand-new-pw\n")
        .unwrap();
    assert!(wait_exit(&mut child).success());

    let hub = Server::start(dir.path()).await;
    assert_eq!(api.get("/session").await.0, 401, "old admin sessions ended");
    let mut fresh = HubApi::new(&hub.base());
    assert_eq!(
        fresh.login(json!({"password": "forgotten-pw"})).await.0,
        401
    );
    let (status, body) = fresh.login(json!({"password": "brand-new-pw"})).await;
    assert_eq!(
        (status, body["must_change_password"].as_bool()),
        (200, Some(false))
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let doc: serde_json::Value = reqwest::get(hub.url("/hub/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/session",
        "/accounts",
        "/accounts/{id}",
        "/groups",
        "/settings/global",
        "/settings/components",
        "/audit",
        "/registry/login",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["AccountInput"].is_object());
}

#[tokio::test]
async fn users_change_their_own_password_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let secret = secret(dir.path());
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(
        admin
            .post(
                "/accounts",
                json!({"user_name": "Free", "password": "free-password"})
            )
            .await
            .0,
        201
    );
    assert_eq!(admin.post("/accounts", json!({"user_name": "Fixed", "password": "fixed-password", "can_change_password": false})).await.0, 201);

    let mut free = HubApi::new(&hub.base());
    assert_eq!(
        free.login(json!({"user_name": "free", "password": "free-password"}))
            .await
            .0,
        200
    );
    assert_eq!(
        free.post(
            "/session/password",
            json!({"old_password": "wrong-one", "new_password": "free-password-2"})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        free.post(
            "/session/password",
            json!({"old_password": "free-password", "new_password": "free-password-2"})
        )
        .await
        .0,
        204
    );
    let login = |user: &str, pw: &str| json!({"user_name": user, "password": pw});
    assert_eq!(
        registry_post(
            &hub.base(),
            &secret,
            "/login",
            login("Free", "free-password")
        )
        .await
        .0,
        401
    );
    assert_eq!(
        registry_post(
            &hub.base(),
            &secret,
            "/login",
            login("Free", "free-password-2")
        )
        .await
        .0,
        200
    );

    let mut fixed = HubApi::new(&hub.base());
    assert_eq!(
        fixed
            .login(json!({"user_name": "fixed", "password": "fixed-password"}))
            .await
            .0,
        200
    );
    let (status, body) = fixed
        .post(
            "/session/password",
            json!({"old_password": "fixed-password", "new_password": "fixed-password-2"}),
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("may not change its own password"),
        "{body}"
    );
}

/// Guesses from one address stop that address with a clear message and a Retry-After, but
/// the owner logging in from another address is not locked out: not for an account, not for
/// `admin`.
#[tokio::test]
async fn failed_logins_stop_the_guesser_but_not_the_owner_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(
        admin
            .post(
                "/accounts",
                json!({"user_name": "Target", "password": "target-password"})
            )
            .await
            .0,
        201
    );
    for (wrong, right) in [
        (
            json!({"user_name": "target", "password": "guess-guess"}),
            json!({"user_name": "TARGET", "password": "target-password"}),
        ),
        (
            json!({"password": "guess-guess"}),
            json!({"password": "new-admin-pw"}),
        ),
    ] {
        let mut guesser = HubApi::with_client(client_from("127.0.0.3"), &hub.base(), "/hub");
        for _ in 0..5 {
            assert_eq!(guesser.login(wrong.clone()).await.0, 401, "{wrong}");
        }
        let r = client_from("127.0.0.3")
            .post(hub.url("/hub/api/session"))
            .json(&right)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429, "even the right password waits");
        let retry_after: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((800..=900).contains(&retry_after), "{retry_after}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(
                "too many failed logins for this account from your address: try again in 15 minutes"
            ),
            "{body}"
        );
        let mut owner = HubApi::with_client(client_from("127.0.0.4"), &hub.base(), "/hub");
        let (status, body) = owner.login(right.clone()).await;
        assert_eq!(status, 200, "the owner elsewhere is not locked out: {body}");
    }
    // The console's login form is limited the same way.
    let form = client_from("127.0.0.3");
    let page = form.get(hub.url("/hub/login")).send().await.unwrap();
    let csrf = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find_map(|c| c.strip_prefix("tutti_hub_csrf="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let r = form
        .post(hub.url("/hub/login"))
        .form(&[("csrf", csrf.as_str()), ("password", "new-admin-pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.text().await.unwrap().contains("from your address"));
}

/// 40 wrong guesses sent at once: only as many are checked as the limit allows, the rest are
/// refused before any password is hashed.
#[tokio::test]
async fn concurrent_guesses_are_not_all_checked() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(
        admin
            .post(
                "/accounts",
                json!({"user_name": "target", "password": "target-password"})
            )
            .await
            .0,
        201
    );
    let statuses = forty_logins_at_once(
        &hub.base(),
        "/hub",
        "127.0.0.5",
        json!({"user_name": "target", "password": "guess-guess"}),
    )
    .await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (5, 35), "{statuses:?}");
    let metrics = reqwest::get(hub.url("/hub/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tutti_hub_logins_total{result=\"refused\"} 5"),
        "five passwords were hashed: {metrics}"
    );
}

#[tokio::test]
async fn accounts_answered_before_kill_9_are_there_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = start_hub(dir.path()).await;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    for i in 0..20 {
        assert_eq!(
            admin
                .post(
                    "/accounts",
                    json!({"user_name": format!("user{i}"), "password": "long-enough"})
                )
                .await
                .0,
            201
        );
    }
    let status = hub.stop_with(nix::sys::signal::Signal::SIGKILL);
    assert!(!status.success());
    let hub = Server::start(dir.path()).await;
    let mut again = HubApi::new(&hub.base());
    assert_eq!(
        again.login(json!({"password": "new-admin-pw"})).await.0,
        200
    );
    assert_eq!(again.get("/accounts").await.1["total"], 20);
}

#[tokio::test]
async fn log_levels_backups_components_and_component_settings_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    init_hub(dir.path());
    set_key(
        &dir.path().join("hub/hub.ini"),
        "RemoteAdminPassword",
        "hub-remote-password",
    );
    let hub = Server::start(dir.path()).await;
    let secret = secret(dir.path());
    let hub_id = hub
        .wait_healthy(tutti_core::Component::Hub)
        .await
        .instance_id;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    let console = |path: &str, fields: &[(&str, &str)]| {
        let mut form = vec![("csrf", admin.csrf.as_str())];
        form.extend_from_slice(fields);
        admin
            .http
            .post(format!("{}/hub{path}", hub.base()))
            .form(&form)
            .send()
    };
    let audit = || async {
        let (_, audit) = admin.get("/audit").await;
        audit["entries"].as_array().unwrap().clone()
    };
    let find = |entries: &[serde_json::Value], action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .cloned()
            .unwrap_or_else(|| panic!("no {action} in {entries:?}"))
    };

    // Component settings name what changed.
    let (_, mut components) = admin.get("/settings/components").await;
    components["event_transfer_seconds"] = json!(9);
    assert_eq!(admin.put("/settings/components", components).await.0, 200);
    let e = find(&audit().await, "settings.components");
    assert_eq!(e["details"], "event_transfer_seconds: 5 → 9", "{e}");

    // The console's Logs page: a level set at run time.
    let r = console(
        "/logs",
        &[
            ("instance_id", hub_id.as_str()),
            ("password", "hub-remote-password"),
        ],
    )
    .await
    .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = console(
        "/logs/level",
        &[("instance_id", hub_id.as_str()), ("level", "all")],
    )
    .await
    .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("<option value=\"all\" selected>"), "{page}");
    let e = find(&audit().await, "log.level");
    assert_eq!(
        (&e["actor"], &e["details"]),
        (&json!("admin"), &json!("level: all"))
    );
    assert!(e["target"].as_str().unwrap().contains(&hub_id), "{e}");

    // "Back up now", from the console and through the API.
    let r = console("/backups", &[]).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let e = find(&audit().await, "backup.run");
    assert_eq!(
        (&e["actor"], &e["details"]),
        (&json!("admin"), &json!("1 component(s) backed up")),
        "{e}"
    );
    let r = reqwest::Client::new()
        .post(hub.url("/hub/api/backups"))
        .bearer_auth(secret.expose())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let e = find(&audit().await, "backup.run");
    assert_eq!(e["actor"], "cluster secret", "{e}");

    // Removing a component that is gone for good.
    let gone = "0123456789abcdef0123456789abcdef";
    let r = reqwest::Client::new()
        .post(hub.url("/hub/api/components"))
        .bearer_auth(secret.expose())
        .json(&json!({"component": "trk", "instance_id": gone, "version": "0.1.0",
            "scheme": "http", "host": "127.0.0.9", "port": 9, "started_at": "2025-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = reqwest::Client::new()
        .delete(hub.url(&format!("/hub/api/components/{gone}")))
        .bearer_auth(secret.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let e = find(&audit().await, "component.forget");
    assert_eq!(
        (&e["actor"], &e["target"]),
        (&json!("cluster secret"), &json!(gone)),
        "{e}"
    );
    assert!(
        e["details"].as_str().unwrap().contains("127.0.0.9:9"),
        "{e}"
    );
}

#[tokio::test]
async fn the_csrf_token_is_renewed_at_login_and_bound_to_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    HubApi::first_use(&hub, "new-admin-pw").await;
    let mut a = HubApi::new(&hub.base());
    // The login page's token (before any session) is not the session's.
    let page = a.http.get(hub.url("/hub/login")).send().await.unwrap();
    let before = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("tutti_hub_csrf="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let (status, body) = a.login(json!({"password": "new-admin-pw"})).await;
    assert_eq!(status, 200, "{body}");
    let first = a.csrf.clone();
    assert_ne!(first, before);
    let post = |api: &HubApi, token: &str, name: &str| {
        let request = api
            .http
            .post(format!("{}/groups", api.base))
            .header("x-csrf-token", token)
            .json(&json!({"name": name}));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post(&a, &before, "G1").await, 403, "the pre-login token");
    assert_eq!(post(&a, &first, "G1").await, 201);
    assert_eq!(a.get("/session").await.1["csrf_token"], first.as_str());

    // Another session has its own token, which is worthless with this one.
    let mut b = HubApi::new(&hub.base());
    b.login(json!({"password": "new-admin-pw"})).await;
    assert_ne!(b.csrf, first);
    assert_eq!(post(&a, &b.csrf, "G2").await, 403);
    assert_eq!(post(&b, &first, "G2").await, 403);
    assert_eq!(post(&b, &b.csrf, "G2").await, 201);

    // A new login gives a new token; the old one no longer passes.
    a.login(json!({"password": "new-admin-pw"})).await;
    assert_ne!(a.csrf, first);
    assert_eq!(post(&a, &first, "G3").await, 403);
    assert_eq!(post(&a, &a.csrf, "G3").await, 201);
}
