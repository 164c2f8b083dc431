//! Events reach the User Interface exactly once while the server of the Tracker and the
//! Mailer is killed and started again in the middle of the import: every click answered
//! is counted once, every delivery is counted once.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use nix::sys::signal::Signal;
use serde_json::json;
use support::*;

const RECIPIENTS: usize = 120;

#[tokio::test]
async fn events_are_imported_exactly_once_across_kills_of_tracker_and_mailer() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink().await;
    let (port_a, port_b) = (free_port("127.0.0.2"), free_port("127.0.0.3"));
    // Server A: Hub and User Interface. Server B: Tracker and Mailer.
    let (root_a, root_b) = init_two_servers(dir.path(), port_a, port_b, sink.addr.port());
    let server_a = Server::start(&root_a).await;
    let mut server_b = Server::start(&root_b).await;

    set_up_two_servers(&server_a, port_b).await;
    let anna = sender(&server_a, "anna").await;

    // A job to RECIPIENTS people, sent.
    let (_, job) = anna.post("/jobs", json!({"title": "Exactly once"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    let csv: String = std::iter::once("Email,NAME\n".to_string())
        .chain((0..RECIPIENTS).map(|i| format!("p{i}@example.org,P{i}\n")))
        .collect();
    upload_recipients(&anna, &id, csv).await;
    let message = json!({"subject": "Hi &NAME;", "from_address": "news@shop.example",
        "html": "<p>Hi &NAME;</p><a href=\"https://shop.example/sale\">Sale</a>"});
    send_job(&anna, &id, message).await;
    wait_delivered(&sink, RECIPIENTS + 1).await;

    // Every recipient clicks; the Tracker and the Mailer are killed twice on the way, and
    // a click to a dead Tracker is not answered (so it does not count).
    let links: Vec<String> = sink.received()[1..]
        .iter()
        .map(|m| {
            let parsed = MessageParser::default().parse(&m.content).unwrap();
            let html = parsed.body_html(0).unwrap().to_string();
            let start = html.find("http://127.0.0.3").unwrap();
            html[start..]
                .chars()
                .take_while(|c| *c != '"')
                .collect::<String>()
                .replace("&amp;", "&")
        })
        .collect();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut answered = 0;
    for (i, link) in links.iter().enumerate() {
        if i == RECIPIENTS / 3 || i == 2 * RECIPIENTS / 3 {
            server_b.stop_with(Signal::SIGKILL);
            // While it is down the click goes unanswered.
            assert!(http.get(link).send().await.is_err());
            server_b = Server::start(&root_b).await;
        }
        let r = http.get(link).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 302);
        answered += 1;
    }

    // The User Interface catches up by itself and counts each event once.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, report) = anna
            .get(&format!("/jobs/{id}/report?people_only=false"))
            .await;
        let clicks = report["clicks"]["total"].as_i64().unwrap_or(0);
        assert!(
            clicks <= answered,
            "{clicks} clicks counted of {answered}: {report}"
        );
        if clicks == answered && report["sent"] == RECIPIENTS {
            assert_eq!(report["clicks"]["unique"], RECIPIENTS);
            assert_eq!(report["recipients"], RECIPIENTS);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the import did not catch up: {report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server_a);
}
