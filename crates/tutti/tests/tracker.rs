//! The Tracker over a real process: it answers and records with the Hub and the User
//! Interface gone, refuses every forged link, and loses no answered event to `kill -9`.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;
use tutti_core::ClusterSecret;
use tutti_core::api::EventPage;
use tutti_core::token::{JobKey, Token, TokenKind};

/// A Tracker on its own, whose Hub (RegistryHubHost) does not exist.
async fn lone_tracker(dir: &std::path::Path) -> Server {
    let port = free_port("127.0.0.4");
    let nowhere = free_port("127.0.0.2");
    init(
        dir,
        &[
            "--components",
            "trk",
            "--bind-address",
            "127.0.0.4",
            "--port",
            &port.to_string(),
            "--hub-host",
            &format!("127.0.0.2:{nowhere}"),
        ],
    );
    Server::start(dir).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("tracker answers")
}

async fn register(trk: &Server, secret: &ClusterSecret, job: &str, body: serde_json::Value) -> u16 {
    reqwest::Client::new()
        .put(trk.url(&format!("/trk/api/jobs/{job}")))
        .bearer_auth(secret.expose())
        .json(&body)
        .send()
        .await
        .expect("tracker answers")
        .status()
        .as_u16()
}

async fn feed(trk: &Server, secret: &ClusterSecret, after: i64) -> EventPage {
    reqwest::Client::new()
        .get(trk.url(&format!("/trk/api/events?after={after}&limit=10000")))
        .bearer_auth(secret.expose())
        .send()
        .await
        .expect("tracker answers")
        .json()
        .await
        .expect("tracker answers")
}

/// The cursor after the last event the Tracker holds now (the feed pages at 10,000; a
/// shorter page is the end, even while new events keep coming).
/// How many events the feed holds.
async fn feed_count(trk: &Server, secret: &ClusterSecret) -> usize {
    let (mut after, mut count) = (0, 0);
    loop {
        let page = feed(trk, secret, after).await;
        after = page.next;
        count += page.events.len();
        if page.events.len() < 10_000 {
            return count;
        }
    }
}

fn token(job: &str, kind: TokenKind, link: u32, recipient: u64, key: &JobKey) -> String {
    Token {
        job: job.into(),
        kind,
        link,
        recipient,
        sent_at: 1_700_000_000,
        target: None,
    }
    .encode(key)
}

/// An event as the test compares it: kind, link, recipient, machine flags.
type Seen = (String, Option<u32>, Option<u64>, Vec<String>);

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

#[tokio::test]
async fn opens_clicks_and_unsubscribes_are_answered_and_fed_with_the_hub_and_ui_gone() {
    let dir = tempfile::tempdir().unwrap();
    let trk = lone_tracker(dir.path()).await;
    let secret = secret(dir.path());
    let key = JobKey([9; 32]);
    let links = json!([
        {"url": "https://shop.example/sale", "tracked": true},
        {"url": "https://shop.example/untracked", "tracked": false},
        {"url": "https://shop.example/u/&ID;", "tracked": true, "merged": true}
    ]);
    let job =
        json!({"key": key.to_base64(), "tracking": "personal", "opens": true, "links": links});
    assert_eq!(register(&trk, &secret, "261125A", job.clone()).await, 201);
    assert_eq!(
        register(&trk, &secret, "261125A", job.clone()).await,
        200,
        "the same table again is fine"
    );
    let other = json!({"key": key.to_base64(), "tracking": "personal", "opens": true, "links": []});
    assert_eq!(
        register(&trk, &secret, "261125A", other).await,
        409,
        "links already sent keep their meaning"
    );
    assert_eq!(register(&trk, &secret, "bad job!", job.clone()).await, 422);
    let bad_link = json!({"key": key.to_base64(), "tracking": "personal", "opens": true, "links": [{"url": "javascript:alert(1)", "tracked": true}]});
    assert_eq!(register(&trk, &secret, "261125B", bad_link).await, 422);
    let blind_key = JobKey([3; 32]);
    let blind = json!({"key": blind_key.to_base64(), "tracking": "blind", "opens": true, "links": [{"url": "https://b.example/", "tracked": true}]});
    assert_eq!(register(&trk, &secret, "261125C", blind).await, 201);
    let unauthenticated = reqwest::Client::new()
        .put(trk.url("/trk/api/jobs/X"))
        .json(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let http = no_redirects();
    let get = |url: String, ua: &'static str| http.get(url).header("user-agent", ua).send();
    // A click redirects to the link's target.
    let r = get(
        trk.url(&format!(
            "/trk/click?ref={}&",
            token("261125A", TokenKind::Click, 0, 42, &key)
        )),
        BROWSER,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://shop.example/sale");
    // An untracked link redirects without an event.
    let r = get(
        trk.url(&format!(
            "/trk/click?ref={}",
            token("261125A", TokenKind::Click, 1, 42, &key)
        )),
        BROWSER,
    )
    .await
    .unwrap();
    assert_eq!(r.headers()["location"], "https://shop.example/untracked");
    // A link with merge fields sends each recipient to their own target.
    let merged = Token {
        job: "261125A".into(),
        kind: TokenKind::Click,
        link: 2,
        recipient: 43,
        sent_at: 1_700_000_000,
        target: Some("https://shop.example/u/43".into()),
    };
    let r = get(
        trk.url(&format!("/trk/click?ref={}", merged.encode(&key))),
        BROWSER,
    )
    .await
    .unwrap();
    assert_eq!(r.headers()["location"], "https://shop.example/u/43");
    // A HEAD request by a scanner is answered and flagged.
    let r = http
        .head(trk.url(&format!(
            "/trk/click?ref={}",
            token("261125A", TokenKind::Click, 0, 44, &key)
        )))
        .header("user-agent", "Barracuda Sentinel")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    // Opens get a 1×1 GIF that no cache keeps.
    let r = get(
        trk.url(&format!(
            "/trk/open?ref={}",
            token("261125A", TokenKind::Open, 0, 42, &key)
        )),
        BROWSER,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    assert_eq!(&r.bytes().await.unwrap()[..6], b"GIF89a");
    let r = get(
        trk.url(&format!(
            "/trk/open?ref={}",
            token("261125A", TokenKind::Open, 0, 45, &key)
        )),
        "Mozilla/5.0",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "Apple's privacy proxy gets the pixel too");
    // Unsubscribe: GET asks, POST (the one-click target) records.
    let unsub = trk.url(&format!(
        "/trk/unsubscribe?ref={}",
        token("261125A", TokenKind::Unsubscribe, 0, 42, &key)
    ));
    let r = get(unsub.clone(), "Barracuda Sentinel").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<form method=\"post\">"));
    let r = http
        .post(unsub)
        .header("user-agent", "Barracuda Sentinel")
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Blind tracking keeps no recipient.
    let r = get(
        trk.url(&format!(
            "/trk/click?ref={}",
            token("261125C", TokenKind::Click, 0, 77, &blind_key)
        )),
        BROWSER,
    )
    .await
    .unwrap();
    assert_eq!(r.headers()["location"], "https://b.example/");

    let page = feed(&trk, &secret, 0).await;
    let got: Vec<Seen> = page
        .events
        .iter()
        .map(|e| {
            (
                serde_json::to_value(e.kind)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
                e.link,
                e.recipient,
                e.machine.clone(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        vec![
            (s("click"), Some(0), Some(42), vec![]),
            (s("click"), Some(2), Some(43), vec![]),
            (s("click"), Some(0), Some(44), vec![s("head"), s("scanner")]),
            (s("open"), None, Some(42), vec![]),
            (s("open"), None, Some(45), vec![s("proxy")]),
            (s("unsubscribe"), None, Some(42), vec![]),
            (s("click"), Some(0), None, vec![]),
        ]
    );
    let blind_at = page.events.last().unwrap().at;
    assert_eq!(
        blind_at.timestamp() % 60,
        0,
        "blind events keep the minute only, not the second: {blind_at}"
    );
    assert!(page.events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        feed(&trk, &secret, page.next).await.events.len(),
        0,
        "the cursor moves on"
    );
}

#[tokio::test]
async fn every_forged_or_broken_ref_gets_404_and_never_a_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let trk = lone_tracker(dir.path()).await;
    let secret = secret(dir.path());
    let (key, other_key) = (JobKey([1; 32]), JobKey([2; 32]));
    let job = json!({"key": key.to_base64(), "tracking": "personal", "opens": true, "links": [{"url": "https://shop.example/", "tracked": true}]});
    assert_eq!(register(&trk, &secret, "J1", job).await, 201);
    let good = token("J1", TokenKind::Click, 0, 1, &key);
    let refs = vec![
        String::new(),
        "A".repeat(20_000),
        "not base64 at all!".to_string(),
        "%00%01".to_string(),
        good[..good.len() - 3].to_string(),
        token("J1", TokenKind::Click, 0, 1, &other_key),
        token("J1", TokenKind::Click, 5, 1, &key),
        token("J1", TokenKind::Open, 0, 1, &key),
        token("J2", TokenKind::Click, 0, 1, &key),
    ];
    let http = no_redirects();
    for r in &refs {
        let resp = http
            .get(trk.url(&format!("/trk/click?ref={r}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "ref {:.40}", r);
        assert!(resp.headers().get("location").is_none());
    }
    let resp = http.get(trk.url("/trk/click")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    for path in ["/trk/click", "/trk/open"] {
        let resp = http
            .post(trk.url(&format!("{path}?ref={good}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{path} answers GET and HEAD only");
        assert_eq!(resp.headers()["allow"], "GET, HEAD");
    }
    let resp = http
        .get(trk.url(&format!("/trk/click?ref={good}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "the genuine one still works");
    assert_eq!(
        feed(&trk, &secret, 0).await.events.len(),
        1,
        "only the genuine click is an event"
    );
}

#[tokio::test]
async fn no_answered_click_is_lost_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut trk = lone_tracker(dir.path()).await;
    let secret = secret(dir.path());
    let key = JobKey([5; 32]);
    let job = json!({"key": key.to_base64(), "tracking": "unique", "opens": true, "links": [{"url": "https://shop.example/", "tracked": true}]});
    assert_eq!(register(&trk, &secret, "K", job).await, 201);
    let mut next_recipient = 0u64;
    for round in 0..5 {
        // Eight clients click with recipients of their own; each keeps the ones answered.
        let before = feed_count(&trk, &secret).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..8u64 {
            let (stop, url, key) = (stop.clone(), trk.url("/trk/click?ref="), key.clone());
            let first = next_recipient + c * 1_000_000;
            clients.push(tokio::spawn(async move {
                let http = no_redirects();
                let mut answered = Vec::new();
                let started = Instant::now();
                for recipient in first.. {
                    if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                    match http
                        .get(format!(
                            "{url}{}",
                            token("K", TokenKind::Click, 0, recipient, &key)
                        ))
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == 302 => answered.push(recipient),
                        _ => {}
                    }
                }
                answered
            }));
        }
        // Let the load build (200 more events than the rounds before left), then kill -9
        // in the middle of it.
        let deadline = Instant::now() + DEADLINE;
        while feed_count(&trk, &secret).await < before + 200 {
            assert!(
                Instant::now() < deadline,
                "round {round}: the load did not get going (from {before})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        trk.stop_with(nix::sys::signal::Signal::SIGKILL);
        stop.store(true, Ordering::Relaxed);
        let mut answered = HashSet::new();
        for c in clients {
            answered.extend(c.await.unwrap());
        }
        next_recipient += 10_000_000;
        trk = Server::start(dir.path()).await;
        let mut recorded = HashSet::new();
        let mut after = 0;
        loop {
            let page = feed(&trk, &secret, after).await;
            if page.events.is_empty() {
                break;
            }
            recorded.extend(page.events.iter().filter_map(|e| e.recipient));
            after = page.next;
        }
        let lost: Vec<_> = answered.difference(&recorded).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} answered clicks are not in the feed: {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        );
        assert!(
            answered.len() >= 100,
            "round {round}: only {} clicks were answered",
            answered.len()
        );
    }
}

/// Every event in the feed, by recipient: how many times each is there.
async fn counts(trk: &Server, secret: &ClusterSecret) -> std::collections::HashMap<u64, usize> {
    let mut counts = std::collections::HashMap::new();
    let mut after = 0;
    loop {
        let page = feed(trk, secret, after).await;
        if page.events.is_empty() {
            return counts;
        }
        for e in &page.events {
            *counts
                .entry(e.recipient.expect("personal tracking keeps the recipient"))
                .or_default() += 1;
        }
        after = page.next;
    }
}

#[tokio::test]
async fn a_tracker_handed_over_keeps_its_links_working_and_loses_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let old_root = dir.path().join("old");
    let mut old = lone_tracker(&old_root).await;
    let secret = secret(&old_root);
    let key = JobKey([7; 32]);
    let job = json!({"key": key.to_base64(), "tracking": "personal", "opens": true, "links": [{"url": "https://shop.example/", "tracked": true}]});
    assert_eq!(register(&old, &secret, "H", job).await, 201);
    let http = no_redirects();
    let click = |trk: &Server, recipient: u64| {
        let url = trk.url(&format!(
            "/trk/click?ref={}",
            token("H", TokenKind::Click, 0, recipient, &key)
        ));
        let http = http.clone();
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(click(&old, 1).await.unwrap(), 302);
    let old_id = old
        .wait_healthy(tutti_core::Component::Trk)
        .await
        .instance_id;

    // The successor on another server takes the Tracker's data and instance id; the old
    // one stays for the links already sent.
    let new_root = dir.path().join("new");
    let port = free_port("127.0.0.3");
    init(
        &new_root,
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
    assert!(old.stop().success());
    let told = move_component_with("trk", &old_root, &new_root, &["--hand-over"]);
    assert!(
        told.contains(&format!("TrackerHost=127.0.0.3:{port}")),
        "{told}"
    );
    let ports = String::from_utf8_lossy(&run("ports", &old_root).stdout).to_string();
    assert!(
        ports.contains(&format!("tcp/{port}")) && ports.contains("successor Tracker at 127.0.0.3"),
        "the firewall matrix names the way to the successor: {ports}"
    );
    let mut old = Server::start(&old_root).await;
    let mut new = Server::start(&new_root).await;
    assert_eq!(
        new.wait_healthy(tutti_core::Component::Trk)
            .await
            .instance_id,
        old_id
    );
    assert_ne!(
        old.wait_healthy(tutti_core::Component::Trk)
            .await
            .instance_id,
        old_id
    );

    // `tutti check` on the old server tries the successor too.
    let checked = String::from_utf8_lossy(&run("check", &old_root).stdout).to_string();
    assert!(
        checked.contains(&format!(
            "ok    trk → successor Tracker (HandOverTo=127.0.0.3:{port} in trk/tracker.ini)"
        )),
        "{checked}"
    );

    // Old links still redirect at the old Tracker; new ones work at the new one.
    for r in 2..=20 {
        assert_eq!(click(&old, r).await.unwrap(), 302);
    }
    assert_eq!(click(&new, 100).await.unwrap(), 302);
    // With the successor gone, the old Tracker still answers; its events wait.
    new.stop_with(nix::sys::signal::Signal::SIGKILL);
    for r in 21..=30 {
        assert_eq!(click(&old, r).await.unwrap(), 302);
    }
    // Both restart (the old one mid-way through its hand-over, perhaps).
    assert!(old.stop().success());
    let new = Server::start(&new_root).await;
    let _old = Server::start(&old_root).await;

    // The successor's feed, which the User Interface reads, holds every event once.
    let expected: HashSet<u64> = (1..=30).chain([100]).collect();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let counts = counts(&new, &secret).await;
        assert!(
            counts.values().all(|n| *n == 1),
            "an event twice: {counts:?}"
        );
        if counts.keys().copied().collect::<HashSet<_>>() == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every event was handed over: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `request` on a new connection and reads until the server closes it.
async fn raw(addr: std::net::SocketAddr, request: String) -> String {
    tokio::task::spawn_blocking(move || raw_blocking(addr, request.as_bytes()))
        .await
        .expect("the reading thread ends")
}

fn raw_blocking(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read to the end");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn the_tracker_port_answers_pipelined_http10_and_mixed_requests_as_http_says() {
    let dir = tempfile::tempdir().unwrap();
    let trk = lone_tracker(dir.path()).await;
    let secret = secret(dir.path());
    let key = JobKey([4; 32]);
    let job = json!({"key": key.to_base64(), "tracking": "personal", "opens": true, "links": [{"url": "https://shop.example/", "tracked": true}]});
    assert_eq!(register(&trk, &secret, "J1", job).await, 201);
    let click = token("J1", TokenKind::Click, 0, 1, &key);
    let open = token("J1", TokenKind::Open, 0, 2, &key);

    // Three requests in one write: a click, a HEAD of the pixel, then a path the open and
    // click URLs' loop hands to the router, which closes as asked.
    let request = format!(
        "GET /trk/click?ref={click} HTTP/1.1\r\nHost: t\r\n\r\n\
         HEAD /trk/open?ref={open} HTTP/1.1\r\nHost: t\r\n\r\n\
         GET /trk/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(trk.addr, request).await;
    let parts: Vec<&str> = answer.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(parts.len(), 3, "three answers in order: {answer}");
    assert!(parts[0].starts_with("302 Found\r\n"), "{answer}");
    assert!(parts[0].contains("location: https://shop.example/\r\n"));
    assert!(parts[1].starts_with("200 OK\r\n"), "{answer}");
    assert!(parts[1].contains("content-type: image/gif\r\n"));
    assert!(
        parts[1].contains("content-length: 43\r\n") && parts[1].ends_with("\r\n\r\n"),
        "a HEAD gets the length and no body: {answer}"
    );
    assert!(parts[2].starts_with("200 OK\r\n"), "{answer}");
    assert!(
        parts[2].contains("\"component\""),
        "the router's health answer: {answer}"
    );

    // HTTP/1.0 without keep-alive: one answer, then the connection closes.
    let answer = raw(
        trk.addr,
        format!("GET /trk/click?ref={click} HTTP/1.0\r\n\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 302 Found\r\n"), "{answer}");
    assert!(answer.contains("connection: close\r\n"), "{answer}");

    // A click with a body is the router's to answer; it redirects all the same.
    let resp = no_redirects()
        .get(trk.url(&format!("/trk/click?ref={click}")))
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "https://shop.example/");

    let events = feed(&trk, &secret, 0).await.events;
    let seen: Vec<(String, Option<u64>, Vec<String>)> = events
        .iter()
        .map(|e| (format!("{:?}", e.kind), e.recipient, e.machine.clone()))
        .collect();
    let click_seen = (
        "Click".to_string(),
        Some(1),
        vec!["no_user_agent".to_string()],
    );
    assert_eq!(
        seen,
        [
            click_seen.clone(),
            (
                "Open".to_string(),
                Some(2),
                vec!["head".to_string(), "no_user_agent".to_string()]
            ),
            click_seen.clone(),
            click_seen,
        ],
        "every answered request is one event, in order"
    );
}

#[tokio::test]
async fn a_feed_cursor_beyond_the_end_is_refused_so_no_later_event_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let trk = lone_tracker(dir.path()).await;
    let secret = secret(dir.path());
    let key = JobKey([5; 32]);
    let job = json!({"key": key.to_base64(), "tracking": "personal", "opens": true,
        "links": [{"url": "https://shop.example/", "tracked": true}]});
    assert_eq!(register(&trk, &secret, "261201A", job).await, 201);
    let click = |recipient| {
        let request = no_redirects().get(trk.url(&format!(
            "/trk/click?ref={}",
            token("261201A", TokenKind::Click, 0, recipient, &key)
        )));
        async move { assert_eq!(request.send().await.unwrap().status(), 302) }
    };
    click(1).await;
    let end = feed(&trk, &secret, 0).await.next;
    assert!(end > 0);

    let status = |after: i64| {
        let request = reqwest::Client::new()
            .get(trk.url(&format!("/trk/api/events?after={after}")))
            .bearer_auth(secret.expose());
        async move { request.send().await.unwrap() }
    };
    for beyond in [end + 1, end + 1_000_000, i64::MAX] {
        let answer = status(beyond).await;
        assert_eq!(answer.status(), 400, "after={beyond}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("is not a cursor of this event feed")),
            "{body}"
        );
    }
    // The end itself is a cursor: an empty page, and the events recorded after it follow.
    assert_eq!(status(end).await.status(), 200);
    click(2).await;
    let page = feed(&trk, &secret, end).await;
    assert_eq!(page.events.len(), 1, "{page:?}");
    assert_eq!(page.events[0].recipient, Some(2));
}
