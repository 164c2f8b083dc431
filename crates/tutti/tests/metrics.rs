//! Each component's Prometheus metrics at `/{component}/metrics`: requests by route, and
//! what the component counts (logins, rows imported, deliveries, tracking events, events
//! imported, the spool's depth); who may read them (loopback, or `MetricsToken`).

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use serde_json::json;
use support::*;

async fn scrape(server: &Server, component: &str) -> String {
    let r = reqwest::get(server.url(&format!("/{component}/metrics")))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    r.text().await.unwrap()
}

/// The value of the sample `name` (with its labels, as written), if there is one.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn every_component_counts_what_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink().await;
    let server = start_sending_installation(dir.path(), sink.addr.port(), &[]).await;
    let anna = sender(&server, "anna").await;
    let (_, job) = anna.post("/jobs", json!({"title": "Counted"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(
        &anna,
        &id,
        "Email\na@example.org\nb@example.org\nc@example.org\n",
    )
    .await;
    let message = json!({"subject": "Hi", "from_address": "news@shop.example",
        "html": "<p>Hi</p><a href=\"https://shop.example/sale\">Sale</a>"});
    send_job(&anna, &id, message).await;
    wait_delivered(&sink, 4).await;
    let html = MessageParser::default()
        .parse(&sink.received()[1].content)
        .unwrap()
        .body_html(0)
        .unwrap()
        .to_string();
    let start = html.find("http://127.0.0.2").unwrap();
    let click: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(click.replace("&amp;", "&")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);

    let hub = scrape(&server, "hub").await;
    assert!(
        sample(&hub, "tutti_hub_logins_total{result=\"accepted\"}") >= Some(2.0),
        "{hub}"
    );
    let trk = scrape(&server, "trk").await;
    assert_eq!(
        sample(&trk, "tutti_tracker_events_total{kind=\"click\"}"),
        Some(1.0),
        "{trk}"
    );
    assert_eq!(
        sample(
            &trk,
            "tutti_http_requests_total{route=\"/trk/click\",method=\"GET\",status=\"302\"}"
        ),
        Some(1.0),
        "{trk}"
    );
    assert!(
        trk.contains(
            "tutti_http_request_duration_seconds_bucket{le=\"0.005\",route=\"/trk/click\"}"
        )
    );
    assert_eq!(sample(&trk, "tutti_tracker_event_queue"), Some(0.0));
    let mailer = scrape(&server, "mailer").await;
    assert_eq!(
        sample(&mailer, "tutti_mailer_deliveries_total{outcome=\"sent\"}"),
        Some(4.0),
        "the test message and three recipients: {mailer}"
    );
    assert_eq!(sample(&mailer, "tutti_mailer_spool_unfinished"), Some(0.0));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let lui = scrape(&server, "lui").await;
        assert_eq!(
            sample(&lui, "tutti_lui_recipient_rows_total"),
            Some(3.0),
            "{lui}"
        );
        assert_eq!(
            sample(
                &lui,
                "tutti_http_requests_total{route=\"/lui/api/jobs/{id}/send\",method=\"POST\",status=\"200\"}"
            ),
            Some(1.0),
            "routes are named as written, not with ids: {lui}"
        );
        if sample(&lui, "tutti_lui_events_imported_total{source=\"tracker\"}") == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the click was not imported: {lui}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_a_metrics_token_only_its_bearer_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.3");
    init(
        dir.path(),
        &[
            "--components",
            "trk",
            "--bind-address",
            "127.0.0.3",
            "--port",
            &port.to_string(),
            "--hub-host",
            "127.0.0.2:9",
        ],
    );
    set_key(
        &dir.path().join("server.ini"),
        "MetricsToken",
        "prometheus-reads-this",
    );
    let server = Server::start(dir.path()).await;
    let http = reqwest::Client::new();
    let url = server.url("/trk/metrics");
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("MetricsToken"));
    let r = http
        .get(&url)
        .bearer_auth("wrong-token-of-some-length")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http
        .get(&url)
        .bearer_auth("prometheus-reads-this")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("tutti_tracker_events_total")
    );

    // A token too short to be a secret is refused at start, with its file and key.
    set_key(&dir.path().join("server.ini"), "MetricsToken", "short");
    let out = run("check", dir.path());
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("MetricsToken"), "{said}");
}
