//! The Mailer over a real process: distribute jobs in, SMTP out to a sink that answers
//! chosen recipients with 421, 450, 550 and 552, relays that go down, `kill -9` mid-job,
//! the outbox when no relay is configured, and bad input that sends nothing.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use serde_json::json;
use support::*;
use tutti_core::ClusterSecret;
use tutti_core::distribute::{DeliveryKind, DeliveryPage, JobProgress, JobState};
use tutti_core::token::JobKey;
use tutti_smtp::Reply;
use tutti_smtp::server::ServerConfig;
use tutti_smtp::sink::{Sink, Stage};

const DEADLINE: Duration = Duration::from_secs(60);

/// A Mailer on its own (its Hub does not exist), delivering to `relay` (none: outbox).
async fn lone_mailer(dir: &Path, relay: Option<u16>, extra: &[(&str, &str)]) -> Server {
    let port = free_port("127.0.0.5");
    let nowhere = free_port("127.0.0.2");
    init(
        dir,
        &[
            "--components",
            "mailer",
            "--bind-address",
            "127.0.0.5",
            "--port",
            &port.to_string(),
            "--hub-host",
            &format!("127.0.0.2:{nowhere}"),
        ],
    );
    let ini = dir.join("mailer/mailer.ini");
    if let Some(port) = relay {
        set_key(&ini, "SmtpRelays", &format!("127.0.0.1:{port}"));
    }
    set_key(&ini, "RetryIntervalSeconds", "1");
    set_key(&ini, "SmtpConnections", "2");
    set_key(&ini, "ReturnPathDomain", "bounces.shop.example");
    for (k, v) in extra {
        set_key(&ini, k, v);
    }
    Server::start(dir).await
}

fn job(html: &str) -> serde_json::Value {
    json!({
        "message": {
            "subject": "Hello &NAME;",
            "from_name": "Shop",
            "from_address": "news@shop.example",
            "html": html,
            "text": "Hi &NAME;\nSale: \"https://shop.example/sale\"\n",
            "charset": "UTF-8"
        },
        "fields": ["EMAIL", "NAME"],
        "address_column": 0,
        "name_column": 1,
        "tracking": {
            "base_url": "http://t.example/trk",
            "key": JobKey([9; 32]).to_base64(),
            "kind": "personal",
            "opens": true,
            "clicks": true
        }
    })
}

const HTML: &str =
    "<html><body><p>Dear &NAME;</p><a href=\"https://shop.example/sale\">Sale</a></body></html>";

struct Api<'a> {
    mailer: &'a Server,
    secret: ClusterSecret,
    http: reqwest::Client,
}

impl Api<'_> {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.mailer.url(&format!("/mailer/api{path}")))
            .bearer_auth(self.secret.expose())
            .header("tutti-client", "lui@shop.example")
            .header("tutti-client-password", "distribute-pw")
    }

    async fn define(&self, id: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .req(reqwest::Method::PUT, &format!("/jobs/{id}"))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or_default())
    }

    async fn upload(&self, id: &str, first: u64, rows: &[[String; 2]]) -> (u16, serde_json::Value) {
        let body: String = rows
            .iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect();
        let r = self
            .req(
                reqwest::Method::POST,
                &format!("/jobs/{id}/recipients?first={first}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or_default())
    }

    async fn submit(&self, id: &str, n: u64) -> u16 {
        self.req(reqwest::Method::POST, &format!("/jobs/{id}/submit"))
            .json(&json!({"recipients": n}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn progress(&self, id: &str) -> JobProgress {
        self.req(reqwest::Method::GET, &format!("/jobs/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn wait_done(&self, id: &str) -> JobProgress {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let p = self.progress(id).await;
            if p.state == JobState::Completed {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not complete: {p:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn events(&self) -> Vec<tutti_core::distribute::DeliveryEvent> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page: DeliveryPage = self
                .req(
                    reqwest::Method::GET,
                    &format!("/events?after={after}&limit=1000"),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if page.events.is_empty() {
                return all;
            }
            after = page.next;
            all.extend(page.events);
        }
    }
}

fn rows(n: usize) -> Vec<[String; 2]> {
    (0..n)
        .map(|i| [format!("r{i}@example.org"), format!("Person {i}")])
        .collect()
}

fn api<'a>(mailer: &'a Server, dir: &Path) -> Api<'a> {
    Api {
        mailer,
        secret: secret(dir),
        http: reqwest::Client::new(),
    }
}

async fn sink() -> Sink {
    start_sink().await
}

/// The signed return path of recipient `seq` of `job`, by the Mailer's own function and key.
fn return_path(mailer_root: &Path, job: &str, seq: u64) -> String {
    tutti_mailer::return_path::ReturnPathKey::open(&mailer_root.join("mailer/spool"))
        .unwrap()
        .address(job, seq, "bounces.shop.example")
}

#[tokio::test]
async fn every_recipient_ends_in_a_recorded_state_through_relay_faults() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink().await;
    sink.script(
        Stage::Rcpt,
        "r3@example.org",
        vec![Reply::local(550, "5.1.1 no such user")],
    );
    sink.script(
        Stage::Rcpt,
        "r4@example.org",
        vec![
            Reply::local(450, "4.2.1 try later"),
            Reply::local(250, "ok"),
        ],
    );
    sink.script(
        Stage::Rcpt,
        "r5@example.org",
        vec![Reply::local(421, "4.7.0 too busy"), Reply::local(250, "ok")],
    );
    sink.script(
        Stage::Data,
        "r6@example.org",
        vec![Reply::local(552, "5.2.2 mailbox full")],
    );
    let mut mailer = lone_mailer(
        dir.path(),
        Some(sink.addr.port()),
        &[
            ("DistributeClients", "lui@shop.example"),
            ("DistributePassword", "distribute-pw"),
        ],
    )
    .await;
    let api = api(&mailer, dir.path());

    assert_eq!(api.define("261125A", &job(HTML)).await.0, 201);
    assert_eq!(
        api.define("261125A", &job(HTML)).await.0,
        200,
        "the same definition again is a no-op"
    );
    assert_eq!(api.upload("261125A", 0, &rows(120)).await.0, 200);
    // A retried upload of the last part replaces rather than adds.
    assert_eq!(api.upload("261125A", 100, &rows(120)[100..]).await.0, 200);
    assert_eq!(api.submit("261125A", 120).await, 200);
    let done = api.wait_done("261125A").await;
    assert_eq!(
        (
            done.total,
            done.sent,
            done.failed,
            done.queued,
            done.deferred
        ),
        (120, 118, 2, 0, 0),
        "{done:?}"
    );

    let events = api.events().await;
    let last: HashMap<u64, (DeliveryKind, String)> = events
        .iter()
        .map(|e| (e.recipient, (e.kind, e.reply.clone())))
        .collect();
    assert_eq!(last.len(), 120, "every recipient has a fate");
    assert_eq!(
        last[&3],
        (DeliveryKind::Failed, "550 5.1.1 no such user".to_string())
    );
    assert_eq!(
        last[&6],
        (DeliveryKind::Failed, "552 5.2.2 mailbox full".to_string())
    );
    assert_eq!(last[&4].0, DeliveryKind::Sent, "a 450 is tried again");
    assert_eq!(last[&5].0, DeliveryKind::Sent, "a 421 is tried again");
    assert!(events.iter().any(|e| e.recipient == 4
        && e.kind == DeliveryKind::Deferred
        && e.reply.starts_with("450")));

    let received = sink.received();
    assert_eq!(received.len(), 118);
    let one = received
        .iter()
        .find(|r| r.to == ["r7@example.org"])
        .unwrap();
    assert_eq!(
        one.from,
        return_path(dir.path(), "261125A", 7),
        "signed VERP return path"
    );
    let m = MessageParser::default().parse(&one.content).unwrap();
    assert_eq!(m.subject(), Some("Hello Person 7"));
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("href=\"http://t.example/trk/click?ref="),
        "{html}"
    );
    assert!(html.contains("<img src=\"http://t.example/trk/open?ref="));
    assert!(
        m.header_raw("List-Unsubscribe")
            .unwrap()
            .contains("http://t.example/trk/unsubscribe?ref=")
    );
    mailer.stop();
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink().await;
    let mailer = lone_mailer(dir.path(), Some(sink.addr.port()), &[]).await;
    let api = api(&mailer, dir.path());
    let (status, body) = api
        .define("BAD1", &job("<p>&NAM;</p>\n.BB &NAME =\n.EB\n.EB\n"))
        .await;
    assert_eq!(status, 422, "{body}");
    let problems = body["problems"].as_array().unwrap();
    let places: Vec<(String, u64, u64)> = problems
        .iter()
        .map(|p| {
            (
                p["source"].as_str().unwrap().to_string(),
                p["line"].as_u64().unwrap(),
                p["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(places.contains(&("HTML body".to_string(), 1, 4)), "{body}");
    assert!(places.contains(&("HTML body".to_string(), 2, 12)), "{body}");
    assert!(places.contains(&("HTML body".to_string(), 4, 1)), "{body}");
    assert!(
        problems[0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean &NAME;"),
        "{body}"
    );
    let status = api
        .req(reqwest::Method::GET, "/jobs/BAD1")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "nothing was spooled");

    assert_eq!(api.define("GOOD", &job(HTML)).await.0, 201);
    let (status, body) = api
        .req(reqwest::Method::POST, "/jobs/GOOD/recipients")
        .body("[\"a@example.org\", \"A\"]\n[\"not an address\", \"B\"]\n")
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 400);
    let text = body.text().await.unwrap();
    assert!(
        text.contains("line 2") && text.contains("not an email address"),
        "{text}"
    );
    let (status, _) = api.upload("GOOD", 0, &rows(1)).await;
    assert_eq!(status, 200);
    assert_eq!(api.submit("GOOD", 5).await, 409, "announced 5, stored 1");
    assert!(sink.received().is_empty(), "nothing was sent");

    let wrong = reqwest::Client::new()
        .put(mailer.url("/mailer/api/jobs/X"))
        .bearer_auth("not-the-secret")
        .json(&job(HTML))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn a_relay_that_is_down_holds_the_job_which_resumes_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = sink().await;
    sink.stop().await;
    let mailer = lone_mailer(dir.path(), Some(sink.addr.port()), &[]).await;
    let api = api(&mailer, dir.path());
    api.define("DOWN", &job(HTML)).await;
    api.upload("DOWN", 0, &rows(30)).await;
    assert_eq!(api.submit("DOWN", 30).await, 200);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let p = api.progress("DOWN").await;
        if p.waiting
            .as_deref()
            .is_some_and(|w| w.contains("cannot connect"))
        {
            assert_eq!(
                p.queued, 30,
                "nobody is failed for the relay's outage: {p:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no word of the relay: {p:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sink.restart(ServerConfig::new("sink.test")).await.unwrap();
    let done = api.wait_done("DOWN").await;
    assert_eq!(done.sent, 30);
    assert_eq!(sink.received().len(), 30);
}

#[tokio::test]
async fn kill_9_mid_job_resumes_and_loses_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink().await;
    let mut mailer = lone_mailer(
        dir.path(),
        Some(sink.addr.port()),
        &[("MaxMessagesPerSecond", "400")],
    )
    .await;
    {
        let api = api(&mailer, dir.path());
        api.define("KILL", &job(HTML)).await;
        api.upload("KILL", 0, &rows(1000)).await;
        assert_eq!(api.submit("KILL", 1000).await, 200);
        let deadline = Instant::now() + DEADLINE;
        while api.progress("KILL").await.sent < 200 {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    mailer.stop_with(nix::sys::signal::Signal::SIGKILL);
    let mailer = Server::start(dir.path()).await;
    let api = api(&mailer, dir.path());
    let done = api.wait_done("KILL").await;
    assert_eq!((done.sent, done.failed), (1000, 0), "{done:?}");
    let received = sink.received();
    let distinct: HashSet<&String> = received.iter().flat_map(|r| r.to.iter()).collect();
    assert_eq!(distinct.len(), 1000, "everybody got their message");
    let duplicates = received.len() - 1000;
    assert!(
        duplicates as u64 <= done.possible_duplicates,
        "{duplicates} duplicates, but only {} counted as possible",
        done.possible_duplicates
    );
}

#[tokio::test]
async fn with_no_relay_messages_go_into_the_outbox_and_it_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = lone_mailer(dir.path(), None, &[]).await;
    let api = api(&mailer, dir.path());
    api.define("OUT", &job(HTML)).await;
    api.upload("OUT", 0, &rows(3)).await;
    api.submit("OUT", 3).await;
    let done = api.wait_done("OUT").await;
    assert_eq!(done.sent, 3);
    assert!(done.to_outbox);
    let waiting = done.waiting.unwrap();
    assert!(
        waiting.contains("written into the Mailer's outbox, not sent to anyone")
            && !waiting.contains("/mailer/outbox"),
        "the server's folders are the administrator's: {waiting}"
    );
    for i in 0..3 {
        let eml = std::fs::read(dir.path().join(format!("mailer/outbox/OUT/{i}.eml"))).unwrap();
        let m = MessageParser::default().parse(&eml).unwrap();
        assert_eq!(m.subject(), Some(format!("Hello Person {i}").as_str()));
    }
    assert!(
        log_text(dir.path(), tutti_core::Component::Mailer).contains("no SMTP relay is configured")
    );
}

/// A DSN as Postfix writes it: recipient `rcpt` is unknown.
fn dsn(rcpt: &str, message_id: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{message_id}>\r\n--B--\r\n"
    )
    .into_bytes()
}

/// An ARF complaint as a feedback loop writes it to its subscriber's address: the
/// complained-about message's envelope sender `mail_from` and Message-ID.
fn arf(mail_from: &str, message_id: &str) -> Vec<u8> {
    format!(
        "From: fbl@isp.example\r\nTo: fbl@bounces.shop.example\r\nSubject: complaint\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: ISP-FBL/1.0\r\nVersion: 1\r\nOriginal-Mail-From: <{mail_from}>\r\n\r\n--F\r\nContent-Type: text/rfc822-headers\r\n\r\nReturn-Path: <{mail_from}>\r\nMessage-ID: <{message_id}>\r\n--F--\r\n"
    )
    .into_bytes()
}

/// Hands `reports` (envelope recipient, content) to the bounce listener on
/// 127.0.0.2/5:`port`, each answered 250, or rejected when its recipient is not ours.
async fn report(listener: &str, reports: &[(&str, Vec<u8>)]) -> Vec<bool> {
    let (host, port) = listener.rsplit_once(':').unwrap();
    let mut relay = tutti_smtp::RelayConfig::new(host, port.parse().unwrap());
    relay.ehlo_name = "mx.example.org".into();
    let mut conn = tutti_smtp::Connection::open(&relay).await.unwrap();
    let tos: Vec<[&str; 1]> = reports.iter().map(|(to, _)| [*to]).collect();
    let outgoing: Vec<tutti_smtp::Outgoing> = reports
        .iter()
        .zip(&tos)
        .map(|((_, content), to)| tutti_smtp::Outgoing {
            from: "",
            to,
            content,
        })
        .collect();
    let (results, error) = conn.send_all(&outgoing).await;
    assert!(error.is_none(), "{error:?}");
    results
        .iter()
        .map(|r| matches!(r[0], tutti_smtp::Outcome::Accepted(_)))
        .collect()
}

/// The value of metric sample `name` (labels as written) at `/mailer/metrics`.
async fn metric(mailer: &Server, name: &str) -> Option<f64> {
    let text = reqwest::get(mailer.url("/mailer/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn bounces_and_complaints_count_only_through_signed_return_paths() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink().await;
    let bounce_port = free_port("127.0.0.5");
    let listener = format!("127.0.0.5:{bounce_port}");
    let mailer = lone_mailer(
        dir.path(),
        Some(sink.addr.port()),
        &[("BounceListener", &listener)],
    )
    .await;
    let api = api(&mailer, dir.path());
    api.define("BNC", &job(HTML)).await;
    api.upload("BNC", 0, &rows(10)).await;
    api.submit("BNC", 10).await;
    api.wait_done("BNC").await;

    // Forged: to the unsigned return path of the past, to recipient 3 with the MAC of
    // recipient 2, a complaint quoting an unsigned return path, a report that names its
    // recipient by the Message-ID only (anyone who got one message of the job can write
    // those of the others).
    let signed_2 = return_path(dir.path(), "BNC", 2);
    let (local, _) = signed_2.split_once('@').unwrap();
    let (head, mac) = local.rsplit_once('-').unwrap();
    let (handle, _) = head.rsplit_once('-').unwrap();
    let wrong_mac = format!("{handle}-3-{mac}@bounces.shop.example");
    let accepted = report(
        &listener,
        &[
            (
                "bounce+BNC-1@bounces.shop.example",
                dsn("r1@example.org", "BNC.1.1@shop.example"),
            ),
            (&wrong_mac, dsn("r3@example.org", "BNC.3.1@shop.example")),
            (
                "fbl@bounces.shop.example",
                arf("bounce+BNC-4@bounces.shop.example", "BNC.4.1@shop.example"),
            ),
            (
                "fbl@bounces.shop.example",
                dsn("r5@example.org", "BNC.5.1@shop.example"),
            ),
        ],
    )
    .await;
    assert_eq!(accepted, [true; 4], "a bounce is never bounced");
    assert!(
        api.events()
            .await
            .iter()
            .all(|e| e.kind == DeliveryKind::Sent),
        "nobody's state changed"
    );
    let refused =
        |reason: &str| format!("tutti_mailer_reports_refused_total{{reason=\"{reason}\"}}");
    assert_eq!(metric(&mailer, &refused("unsigned")).await, Some(2.0));
    assert_eq!(metric(&mailer, &refused("bad_signature")).await, Some(1.0));
    assert_eq!(metric(&mailer, &refused("no_return_path")).await, Some(1.0));
    assert!(log_text(dir.path(), tutti_core::Component::Mailer).contains("refused a HardBounce"));

    // Real ones: a DSN to the signed return path (in capitals, as some MTAs rewrite it), a
    // complaint that quotes it; and a report for another domain is not taken at all.
    let accepted = report(
        &listener,
        &[
            (
                &signed_2.to_ascii_uppercase(),
                dsn("r2@example.org", "BNC.2.1@shop.example"),
            ),
            (
                "fbl@bounces.shop.example",
                arf(&return_path(dir.path(), "BNC", 9), "BNC.9.1@shop.example"),
            ),
            (
                "someone@elsewhere.example",
                dsn("r2@example.org", "BNC.2.1@shop.example"),
            ),
        ],
    )
    .await;
    assert_eq!(accepted, [true, true, false], "only the return-path domain");
    let events = api.events().await;
    let bounce = events
        .iter()
        .find(|e| e.kind == DeliveryKind::HardBounce)
        .expect("a hard bounce");
    assert_eq!(bounce.recipient, 2);
    assert!(
        bounce.reply.contains("5.1.1") && bounce.reply.contains("User unknown"),
        "{}",
        bounce.reply
    );
    let complaints: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == DeliveryKind::Complaint)
        .map(|e| e.recipient)
        .collect();
    assert_eq!(complaints, [9]);
    let p = api.progress("BNC").await;
    assert_eq!((p.sent, p.bounced), (9, 1));
}

/// The whole installation: forged reports put nobody on the suppression list; a bounce to
/// the return path a message really went out with puts its recipient there.
#[tokio::test]
async fn a_forged_bounce_suppresses_nobody_and_a_signed_one_its_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink().await;
    let listener = format!("127.0.0.2:{}", free_port("127.0.0.2"));
    let server = start_sending_installation_with(
        dir.path(),
        sink.addr.port(),
        &[],
        &[
            ("ReturnPathDomain", "bounces.shop.example"),
            ("BounceListener", &listener),
        ],
    )
    .await;
    let anna = sender(&server, "anna").await;
    let (_, job) = anna.post("/jobs", json!({"title": "Bounced"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(
        &anna,
        &id,
        "Email\na@example.org\nb@example.org\nc@example.org\n",
    )
    .await;
    let message = json!({"subject": "Hi", "from_address": "news@shop.example", "text": "Hi"});
    send_job(&anna, &id, message).await;
    wait_delivered(&sink, 4).await;

    // Each recipient's return path, and its job and number as anyone who gets the message
    // reads them off its Message-ID (JOB.N.TRY@domain).
    let mut sent = HashMap::new();
    for r in sink.received() {
        let m = MessageParser::default().parse(&r.content).unwrap();
        let message_id = m.message_id().unwrap().to_string();
        let (local, _) = message_id.split_once('@').unwrap();
        let mut parts = local.rsplitn(3, '.');
        let (_try, seq) = (parts.next().unwrap(), parts.next().unwrap());
        let (job, seq) = (
            parts.next().unwrap().to_string(),
            seq.parse::<u64>().unwrap(),
        );
        assert_eq!(r.from, return_path(dir.path(), &job, seq), "signed");
        sent.insert(r.to[0].clone(), (r.from, message_id, job, seq));
    }
    let (a_path, _, _, _) = &sent["a@example.org"];
    let (_, b_message_id, job, b) = &sent["b@example.org"];
    let (_, _, _, c) = &sent["c@example.org"];
    assert_eq!(job, &id);
    let (a_head, a_mac) = a_path.split_once('@').unwrap().0.rsplit_once('-').unwrap();
    let handle = a_head.rsplit_once('-').unwrap().0;

    let unsigned = format!("bounce+{job}-{b}@bounces.shop.example");
    let wrong_mac = format!("{handle}-{c}-{a_mac}@bounces.shop.example");
    let accepted = report(
        &listener,
        &[
            (&unsigned, dsn("b@example.org", b_message_id)),
            (&wrong_mac, dsn("c@example.org", "x@y")),
            ("fbl@bounces.shop.example", arf(&unsigned, b_message_id)),
            // Last, so that once it is imported the others would have been too.
            (a_path, dsn("a@example.org", "x@y")),
        ],
    )
    .await;
    assert_eq!(accepted, [true; 4]);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, page) = anna.get("/suppressions").await;
        if page["total"] != 0 {
            assert_eq!(page["total"], 1, "{page}");
            assert_eq!(page["suppressions"][0]["address"], "a@example.org");
            assert_eq!(page["suppressions"][0]["reason"], "hard_bounce");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the signed bounce never arrived: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, counts) = anna.get(&format!("/jobs/{id}/events")).await;
    assert!(
        !counts
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "complaint"),
        "{counts}"
    );

    // A hard bounce is on the installation's list, which the admin login sees, and which
    // every group's jobs leave out, though another group does not see it.
    let admin = lui_admin(&server).await;
    let (status, page) = admin.get("/suppressions").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["list"], "installation");
    assert_eq!(
        page["suppressions"][0]["address"], "a@example.org",
        "{page}"
    );
    assert!(admin.page("/suppressions").await.contains("a@example.org"));
    let mia = sender_in(&server, "mia", "Marketing").await;
    let (_, theirs) = mia.get("/suppressions").await;
    assert_eq!(
        (theirs["list"].as_str(), theirs["total"].as_i64()),
        (Some("group"), Some(0))
    );
    let (_, job) = mia.post("/jobs", json!({"title": "Elsewhere"})).await;
    let other = job["id"].as_str().unwrap().to_string();
    upload_recipients(&mia, &other, "Email\na@example.org\nd@example.org\n").await;
    let (status, body) = mia
        .put(
            &format!("/jobs/{other}/message"),
            json!({"subject": "Hi", "from_address": "news@shop.example", "text": "Hi"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for step in ["test", "authorize"] {
        let body = json!({"addresses": ["me@shop.example"]});
        let (status, answer) = mia.post(&format!("/jobs/{other}/{step}"), body).await;
        assert_eq!(status, 200, "{step}: {answer}");
    }
    let (status, sent) = mia.post(&format!("/jobs/{other}/send"), json!({})).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        (sent["recipients"].as_u64(), sent["suppressed"].as_u64()),
        (Some(1), Some(1)),
        "a@ bounced hard in another group's job: left out here too"
    );
}

/// Runs `openssl` with `args`, for the DKIM keys.
fn openssl(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs (scripts/install-test-deps installs it)");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
    out.stdout
}

/// A new private key of `algorithm` in `file` and the `p=` value of its DNS record.
fn dkim_key(file: &Path, algorithm: &str) -> String {
    let file = file.to_str().unwrap();
    let mut args = vec!["genpkey", "-algorithm", algorithm, "-out", file];
    if algorithm == "RSA" {
        args.extend(["-pkeyopt", "rsa_keygen_bits:2048"]);
    }
    openssl(&args);
    let der = openssl(&["pkey", "-in", file, "-pubout", "-outform", "DER"]);
    use base64::Engine;
    // RSA records carry the SubjectPublicKeyInfo; Ed25519 ones the bare 32-byte key.
    let public = if algorithm == "RSA" {
        &der[..]
    } else {
        &der[der.len() - 32..]
    };
    base64::engine::general_purpose::STANDARD.encode(public)
}

/// Verifies every DKIM signature of the message with dkimpy (the reference implementation, not the
/// crate that signed it), answering its DNS query from `records`.
fn dkimpy_verifies(message: &[u8], records: &[(String, String)]) -> bool {
    const SCRIPT: &str = r#"
import sys, json, dkim
records = {k.lower(): v.encode() for k, v in json.loads(sys.argv[1]).items()}
def dns(name, timeout=5):
    return records.get(name.decode().rstrip(".").lower())
d = dkim.DKIM(sys.stdin.buffer.read())
n = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
sys.exit(0 if n > 0 and all(d.verify(idx=i, dnsfunc=dns) for i in range(n)) else 1)
"#;
    let records: HashMap<&str, &str> = records
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT, &serde_json::to_string(&records).unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with dkimpy (scripts/install-test-deps installs python3-dkim)");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(message).unwrap();
    child.wait().unwrap().success()
}

#[tokio::test]
async fn messages_are_dkim_signed_with_the_key_of_their_sender_domain() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let rsa = dkim_key(&keys.join("rsa.pem"), "RSA");
    let ed = dkim_key(&keys.join("ed.pem"), "ED25519");
    let both = dkim_key(&keys.join("both-ed.pem"), "ED25519");
    let setting = format!(
        "rsa.example:s1:{}, ed.example:s2:{}, both.example:r:{}, both.example:e:{}",
        keys.join("rsa.pem").display(),
        keys.join("ed.pem").display(),
        keys.join("rsa.pem").display(),
        keys.join("both-ed.pem").display()
    );
    let mailer = lone_mailer(dir.path(), None, &[("DkimKeys", &setting)]).await;
    let api = api(&mailer, dir.path());
    let records = vec![
        (
            "s1._domainkey.rsa.example".to_string(),
            format!("v=DKIM1; k=rsa; p={rsa}"),
        ),
        (
            "s2._domainkey.ed.example".to_string(),
            format!("v=DKIM1; k=ed25519; p={ed}"),
        ),
        (
            "r._domainkey.both.example".to_string(),
            format!("v=DKIM1; k=rsa; p={rsa}"),
        ),
        (
            "e._domainkey.both.example".to_string(),
            format!("v=DKIM1; k=ed25519; p={both}"),
        ),
    ];
    for (id, from) in [
        ("RSA", "news@rsa.example"),
        ("ED", "News@ED.example"),
        ("BOTH", "news@both.example"),
        ("NONE", "news@unsigned.example"),
    ] {
        let mut body = job(HTML);
        body["message"]["from_address"] = json!(from);
        assert_eq!(api.define(id, &body).await.0, 201);
        api.upload(id, 0, &rows(2)).await;
        api.submit(id, 2).await;
        api.wait_done(id).await;
        for i in 0..2 {
            let eml =
                std::fs::read(dir.path().join(format!("mailer/outbox/{id}/{i}.eml"))).unwrap();
            let text = String::from_utf8_lossy(&eml);
            if id == "NONE" {
                assert!(!text.contains("DKIM-Signature"), "{text}");
                continue;
            }
            assert!(text.starts_with("DKIM-Signature:"), "{text}");
            let signatures = text.matches("DKIM-Signature:").count();
            assert_eq!(signatures, if id == "BOTH" { 2 } else { 1 });
            assert!(dkimpy_verifies(&eml, &records), "{id} {i}: {text}");
            let tampered = text.replace("Dear Person", "Dear Persom");
            assert_ne!(tampered, text);
            assert!(
                !dkimpy_verifies(tampered.as_bytes(), &records),
                "a changed body must fail"
            );
        }
    }
}

#[tokio::test]
async fn a_slow_domain_is_held_to_its_rate_while_others_go_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let sink = sink().await;
    let mailer = lone_mailer(
        dir.path(),
        Some(sink.addr.port()),
        &[("DomainRates", "slow.example:4")],
    )
    .await;
    let api = api(&mailer, dir.path());
    let people: Vec<[String; 2]> = (0..40)
        .map(|i| {
            let domain = if i % 4 == 0 {
                "Slow.Example"
            } else {
                "fast.example"
            };
            [format!("p{i}@{domain}"), format!("Person {i}")]
        })
        .collect();
    api.define("RATE", &job(HTML)).await;
    api.upload("RATE", 0, &people).await;
    api.submit("RATE", 40).await;
    let done = api.wait_done("RATE").await;
    assert_eq!(done.sent, 40, "{done:?}");
    let received = sink.received();
    let arrivals = |domain: &str| -> Vec<Instant> {
        received
            .iter()
            .filter(|r| r.to[0].to_ascii_lowercase().ends_with(domain))
            .map(|r| r.at)
            .collect()
    };
    let (slow, fast) = (arrivals("@slow.example"), arrivals("@fast.example"));
    assert_eq!((slow.len(), fast.len()), (10, 30));
    let span = |t: &[Instant]| *t.iter().max().unwrap() - *t.iter().min().unwrap();
    // 10 messages at 4 per second take at least 2.25 s from the first to the last; without
    // the limit they go within milliseconds.
    assert!(
        span(&slow) >= Duration::from_millis(1500),
        "slow.example got 10 messages within {:?}",
        span(&slow)
    );
    assert!(
        fast.iter().max() < slow.iter().max(),
        "fast.example waited behind slow.example"
    );
}

#[tokio::test]
async fn through_a_real_postfix_relay_into_a_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let relay = support::postfix::Postfix::start(
        &dir.path().join("postfix"),
        &[("r2@example.org", "550 5.1.1 no such user here")],
    );
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let rsa = dkim_key(&keys.join("rsa.pem"), "RSA");
    let mailer = lone_mailer(
        &dir.path().join("tutti"),
        None,
        &[
            ("SmtpRelays", &format!("{}:{}", relay.ip, relay.port)),
            (
                "DkimKeys",
                &format!("shop.example:s1:{}", keys.join("rsa.pem").display()),
            ),
        ],
    )
    .await;
    let api = api(&mailer, &dir.path().join("tutti"));
    assert_eq!(api.define("PF", &job(HTML)).await.0, 201);
    api.upload("PF", 0, &rows(5)).await;
    api.submit("PF", 5).await;
    let done = api.wait_done("PF").await;
    assert_eq!(
        (done.sent, done.failed),
        (4, 1),
        "{done:?}\n{}",
        relay.log()
    );
    let failed: Vec<_> = api
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == DeliveryKind::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].recipient, 2);
    let reply = &failed[0].reply;
    assert!(
        reply.starts_with("550 5.1.1") && reply.contains("no such user here"),
        "{reply}"
    );

    // Postfix delivers in the background: poll its mailbox.
    let deadline = Instant::now() + DEADLINE;
    let mut mails = relay.delivered();
    while mails.len() < 4 {
        assert!(
            Instant::now() < deadline,
            "mailbox has {} of 4\n{}",
            mails.len(),
            relay.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        mails = relay.delivered();
    }
    let records = [(
        "s1._domainkey.shop.example".to_string(),
        format!("v=DKIM1; k=rsa; p={rsa}"),
    )];
    let mut got = HashSet::new();
    for raw in &mails {
        let m = MessageParser::default().parse(raw).unwrap();
        let to = m
            .to()
            .and_then(|t| t.first())
            .and_then(|a| a.address())
            .unwrap()
            .to_string();
        let i: usize = to
            .trim_start_matches('r')
            .trim_end_matches("@example.org")
            .parse()
            .unwrap();
        assert_eq!(m.subject(), Some(format!("Hello Person {i}").as_str()));
        let return_path = m.header_raw("Return-Path").unwrap().trim();
        assert_eq!(
            return_path,
            format!(
                "<{}>",
                self::return_path(&dir.path().join("tutti"), "PF", i as u64)
            )
        );
        assert!(
            m.body_html(0)
                .unwrap()
                .contains(&format!("Dear Person {i}"))
        );
        assert!(
            dkimpy_verifies(raw, &records),
            "the signature survives the relay"
        );
        got.insert(i);
    }
    assert_eq!(got, HashSet::from([0, 1, 3, 4]));
}

#[tokio::test]
async fn a_delivery_feed_cursor_beyond_the_end_is_refused_so_no_later_event_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = lone_mailer(dir.path(), None, &[]).await;
    let api = api(&mailer, dir.path());
    let status = |after: i64| {
        let request = api.req(reqwest::Method::GET, &format!("/events?after={after}"));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(1).await, 400, "no event yet: only 0 is a cursor");
    assert_eq!(status(0).await, 200);
    api.define("F1", &job(HTML)).await;
    api.upload("F1", 0, &rows(2)).await;
    api.submit("F1", 2).await;
    api.wait_done("F1").await;
    let end = api.events().await.last().unwrap().seq;
    for beyond in [end + 1, end + 1000, i64::MAX, -1] {
        assert_eq!(status(beyond).await, 400, "after={beyond}");
    }
    assert_eq!(status(end).await, 200);
    api.define("F2", &job(HTML)).await;
    api.upload("F2", 0, &rows(1)).await;
    api.submit("F2", 1).await;
    api.wait_done("F2").await;
    let page: DeliveryPage = api
        .req(reqwest::Method::GET, &format!("/events?after={end}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !page.events.is_empty() && page.events.iter().all(|e| e.job == "F2"),
        "{page:?}"
    );
}
