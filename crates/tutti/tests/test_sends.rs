//! Test sends over a real process: they need the right to send, and they are capped per
//! call (`TestSendMaxAddresses`) and per account and day (`TestSendMaxPerDay`, counted in
//! the system database, so a restart does not reset it).

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use serde_json::{Value, json};
use support::*;

/// A user in group Sales with these rights, logged in to the User Interface.
async fn user_with(server: &Server, name: &str, rights: &[&str]) -> HubApi {
    let mut admin = HubApi::new(&server.base());
    admin.login(json!({"password": "new-admin-pw"})).await;
    let (status, body) = admin
        .post(
            "/accounts",
            json!({"user_name": name, "group_name": "Sales", "password": format!("{name}-password"), "rights": rights}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    log_in(server, name).await
}

async fn log_in(server: &Server, name: &str) -> HubApi {
    let mut api = HubApi::at(&server.base(), "/lui");
    let (status, body) = api
        .login(json!({"user_name": name, "group_name": "Sales", "password": format!("{name}-password")}))
        .await;
    assert_eq!(status, 200, "{body}");
    api
}

/// A job with one recipient and a message that checks out.
async fn ready_job(api: &HubApi) -> String {
    let (status, job) = api.post("/jobs", json!({"title": "Caps"})).await;
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(api, &id, "Email\nann@example.org\n").await;
    let message = json!({"subject": "Hi", "from_address": "news@shop.example", "text": "Hi"});
    let (status, body) = api.put(&format!("/jobs/{id}/message"), message).await;
    assert_eq!(status, 200, "{body}");
    id
}

fn addresses(n: usize, from: usize) -> Value {
    json!(
        (from..from + n)
            .map(|i| format!("t{i}@shop.example"))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn a_test_send_needs_the_send_right_and_stays_within_its_caps() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink().await;
    let mut server = start_sending_installation(
        dir.path(),
        sink.addr.port(),
        &[("TestSendMaxAddresses", "3"), ("TestSendMaxPerDay", "5")],
    )
    .await;

    // Carl may create jobs but not send them: no test send, and the page offers none.
    let carl = user_with(&server, "carl", &["create_jobs", "upload_recipients"]).await;
    let job = ready_job(&carl).await;
    let (status, body) = carl
        .post(
            &format!("/jobs/{job}/test"),
            json!({"addresses": addresses(1, 0)}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("right to send"),
        "{body}"
    );
    let page = carl.page(&format!("/jobs/{job}")).await;
    assert!(
        !page.contains("id=\"send-test\"") && page.contains("id=\"no-test\""),
        "{page}"
    );

    let anna = sender(&server, "anna").await;
    let job = ready_job(&anna).await;
    let page = anna.page(&format!("/jobs/{job}")).await;
    assert!(page.contains("id=\"send-test\""));
    assert!(
        page.contains("At most 3 addresses per test and 5 a day"),
        "{page}"
    );
    let test = |n: usize, from: usize| {
        let anna = &anna;
        let path = format!("/jobs/{job}/test");
        async move {
            anna.post(&path, json!({"addresses": addresses(n, from)}))
                .await
        }
    };
    // More than one call may carry: refused, nothing sent, nothing counted.
    let (status, body) = test(4, 0).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("at most 3 addresses"),
        "{body}"
    );
    assert_eq!(test(3, 0).await.0, 200);
    // 3 + 3 > 5: refused with the cap and the reset, and nothing sent.
    let (status, body) = test(3, 3).await;
    assert_eq!(status, 429, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("5 addresses a day") && error.contains("00:00 UTC"),
        "{error}"
    );
    assert_eq!(test(2, 3).await.0, 200, "exactly the cap");
    wait_delivered(&sink, 5).await;

    // The count is in the system database: a restart does not reset it.
    server.stop();
    let server = Server::start(dir.path()).await;
    let anna = log_in(&server, "anna").await;
    let (status, body) = anna
        .post(
            &format!("/jobs/{job}/test"),
            json!({"addresses": addresses(1, 9)}),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(sink.received().len(), 5, "nothing more was sent");
}
