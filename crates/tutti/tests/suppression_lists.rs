//! Suppression lists per group over a real process: an unsubscribe suppresses in its own
//! group only; no group sees, finds, downloads or removes another's entries; the page
//! shows the group's list with search, adding, removing and a CSV download.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use serde_json::{Value, json};
use support::*;

/// A job of `api` to `csv`'s addresses, tested, authorized and sent; the send's answer.
async fn job_to(api: &HubApi, title: &str, csv: &'static str) -> (String, Value) {
    let (_, job) = api.post("/jobs", json!({"title": title})).await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(api, &id, csv).await;
    let message = json!({"subject": "Hi", "from_address": "news@shop.example", "text": "Hi"});
    let (status, body) = api.put(&format!("/jobs/{id}/message"), message).await;
    assert_eq!(status, 200, "{body}");
    for step in ["test", "authorize"] {
        let body = json!({"addresses": ["me@shop.example"]});
        let (status, answer) = api.post(&format!("/jobs/{id}/{step}"), body).await;
        assert_eq!(status, 200, "{step}: {answer}");
    }
    let (status, sent) = api.post(&format!("/jobs/{id}/send"), json!({})).await;
    assert_eq!(status, 200, "{sent}");
    (id, sent)
}

async fn csv(api: &HubApi, query: &str) -> String {
    let r = api
        .http
        .get(format!("{}/suppressions.csv{query}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.unwrap()
}

fn addresses(page: &Value) -> Vec<String> {
    page["suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["address"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_unsubscribe_suppresses_in_its_group_only_and_no_group_touches_anothers_list() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink().await;
    let server = start_sending_installation(dir.path(), sink.addr.port(), &[]).await;
    let anna = sender(&server, "anna").await;
    let bob = sender_in(&server, "bob", "Marketing").await;

    let (_, sent) = job_to(&anna, "Sales news", "Email\nx@example.org\ny@example.org\n").await;
    assert_eq!(sent["recipients"], 2);
    wait_delivered(&sink, 3).await;
    // x@ unsubscribes with one click (RFC 8058).
    let x = sink
        .received()
        .into_iter()
        .find(|r| r.to[0] == "x@example.org")
        .unwrap();
    let message = MessageParser::default().parse(&x.content).unwrap();
    let unsubscribe = message
        .header_raw("List-Unsubscribe")
        .unwrap()
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    let r = reqwest::Client::new()
        .post(&unsubscribe)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, page) = anna.get("/suppressions").await;
        if page["total"] == 1 {
            assert_eq!(addresses(&page), ["x@example.org"]);
            assert_eq!(page["suppressions"][0]["reason"], "unsubscribed");
            assert_eq!(page["list"], "group");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the unsubscribe never arrived: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Marketing sees nothing of it, cannot remove it, and still mails x@.
    let (_, page) = bob.get("/suppressions?q=x@").await;
    assert_eq!(page["total"], 0, "{page}");
    assert!(!csv(&bob, "").await.contains("x@example.org"));
    let (status, _) = bob
        .send(reqwest::Method::DELETE, "/suppressions/x@example.org", None)
        .await;
    assert_eq!(status, 404);
    let (_, sent) = job_to(
        &bob,
        "Marketing news",
        "Email\nx@example.org\ny@example.org\n",
    )
    .await;
    assert_eq!(
        (sent["recipients"].as_u64(), sent["suppressed"].as_u64()),
        (Some(2), Some(0))
    );
    // An unsubscribe is no installation-wide entry.
    let (_, all) = lui_admin(&server).await.get("/suppressions").await;
    assert_eq!(
        (all["list"].as_str(), all["total"].as_i64()),
        (Some("installation"), Some(0))
    );

    // Sales still leaves x@ out.
    let (_, sent) = job_to(
        &anna,
        "Sales again",
        "Email\nx@example.org\ny@example.org\n",
    )
    .await;
    assert_eq!(
        (sent["recipients"].as_u64(), sent["suppressed"].as_u64()),
        (Some(1), Some(1))
    );

    // Adding by hand: in the own group only; another group can neither see nor remove it.
    let (status, body) = anna
        .post("/suppressions", json!({"address": "=SUM@Example.org"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["address"], "=sum@example.org");
    let (status, _) = anna
        .post("/suppressions", json!({"address": "=sum@example.org"}))
        .await;
    assert_eq!(status, 409);
    let (status, _) = bob
        .send(
            reqwest::Method::DELETE,
            "/suppressions/=sum@example.org",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, page) = anna.get("/suppressions?q=SUM").await;
    assert_eq!(
        addresses(&page),
        ["=sum@example.org"],
        "search ignores case"
    );
    let (_, page) = anna.get("/suppressions?limit=1&offset=1").await;
    assert_eq!(
        (page["total"].as_i64(), addresses(&page).len()),
        (Some(2), 1)
    );
    // The download holds the group's list, the formula written as text.
    let text = csv(&anna, "").await;
    assert!(
        text.starts_with("\u{feff}address,reason,job,at\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\n'=sum@example.org,added,,"), "{text}");
    assert!(text.contains("\r\nx@example.org,unsubscribed,"), "{text}");

    // The page: linked from the navigation, with the group's entries, search and forms.
    let page = anna.page("/suppressions").await;
    assert!(page.contains("href=\"/lui/suppressions\""));
    assert!(page.contains("Your group's list"));
    assert!(page.contains("x@example.org") && page.contains("=sum@example.org"));
    assert!(page.contains("id=\"add-suppression\"") && page.contains("id=\"download\""));
    let found = anna.page("/suppressions?q=x%40").await;
    assert!(found.contains("x@example.org") && !found.contains("=sum@example.org"));
    assert!(!bob.page("/suppressions").await.contains("x@example.org"));

    let (status, _) = anna
        .send(
            reqwest::Method::DELETE,
            "/suppressions/=sum@example.org",
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(anna.get("/suppressions").await.1["total"], 1);

    // The API document describes the lists.
    let (_, doc) = anna.get("/openapi.json").await;
    assert!(
        doc["paths"]["/suppressions"]["post"].is_object(),
        "{}",
        doc["paths"]
    );
    assert!(doc["paths"]["/suppressions.csv"]["get"].is_object());
    assert!(doc["paths"]["/suppressions/{address}"]["delete"].is_object());
    let test = &doc["paths"]["/jobs/{id}/test"]["post"]["responses"];
    assert!(test["429"].is_object() && test["403"].is_object(), "{test}");
}
