//! A whole email job through the User Interface's API over a real process (all four
//! components) and an SMTP sink, on the internal database and on PostgreSQL: login,
//! upload, message, tracking, test, authorization, send, final states; and the bad
//! uploads and messages that must change nothing.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;
use tutti_lui::testing::PgDatabase;

async fn upload(api: &HubApi, job: &str, query: &str, body: &[u8]) -> (u16, Value) {
    let r = api
        .http
        .post(format!("{}/jobs/{job}/recipients{query}", api.base))
        .header("x-csrf-token", &api.csrf)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

async fn text(api: &HubApi, path: &str) -> (u16, String) {
    let r = api
        .http
        .get(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap();
    let csv = r
        .headers()
        .get("content-type")
        .is_some_and(|t| t.as_bytes().starts_with(b"text/csv"));
    let (status, text) = (r.status().as_u16(), r.text().await.unwrap());
    if csv {
        // Downloads start with a byte order mark, for Excel.
        let rest = text.strip_prefix('\u{feff}');
        assert!(rest.is_some(), "{path} has no byte order mark");
        return (status, rest.unwrap_or_default().to_string());
    }
    (status, text)
}

/// Polls until the job's list is imported.
async fn imported(api: &HubApi, job: &str) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, list) = api.get(&format!("/jobs/{job}/recipients")).await;
        assert_eq!(status, 200, "{list}");
        if list["state"] != "importing" {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "the import did not finish: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const CSV: &str = "Email;Name;Tier\n\
ann@example.org;Ann;gold\n\
not-an-address;Bad;gold\n\
bob@example.org;Bob;silver\n\
Dan@Example.ORG;Dan;gold\n\
cy@example.org;Cy;gold\n";

const HTML: &str = "<p>Dear &NAME;,</p>\n.BB &TIER; = \"gold\"\n<p>Gold offer</p>\n.EB\n<a href=\"https://shop.example/sale\">Sale</a>";

async fn the_whole_job(database: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let sink = start_sink().await;
    let server = start_sending_installation(&root, sink.addr.port(), database).await;
    let anna = sender(&server, "anna").await;
    let (_, job) = anna.post("/jobs", json!({"title": "Spring sale"})).await;
    let id = job["id"].as_str().unwrap().to_string();

    // Bad uploads: a clear error and no list.
    let (status, body) = upload(&anna, &id, "", b"").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("empty"), "{body}");
    let (status, body) = upload(&anna, &id, "?email_column=Nope", CSV.as_bytes()).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = upload(&anna, &id, "?separator=ab", CSV.as_bytes()).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = upload(&anna, &id, "?separator=,", CSV.as_bytes()).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("';'"),
        "the wrong separator is named: {body}"
    );
    let big = format!("Email\n{}", "someone@example.org\n".repeat(60_000));
    let (status, body) = upload(&anna, &id, "", big.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("larger than 1 MB"),
        "{body}"
    );
    assert_eq!(anna.get(&format!("/jobs/{id}/recipients")).await.0, 404);
    let (status, body) = upload(&anna, &id, "", b"Email\nnobody\nnoone@\n").await;
    assert_eq!(status, 202, "{body}");
    let list = imported(&anna, &id).await;
    assert_eq!(list["state"], "failed", "no valid row: {list}");
    assert!(
        list["failure"]
            .as_str()
            .unwrap()
            .contains("no valid recipient")
    );
    // A broken quote costs its row only, which is listed with line and reason.
    let (status, _) = upload(
        &anna,
        &id,
        "",
        b"Email;Name\nok@example.org;\"Ann\nnext@example.org;Bo\"b\"x\nlast@example.org;Cy\n",
    )
    .await;
    assert_eq!(status, 202);
    let list = imported(&anna, &id).await;
    let (_, rejected) = text(&anna, &format!("/jobs/{id}/recipients/rejected.csv")).await;
    assert!(list["rejected"].as_i64().unwrap() >= 1, "{list}");
    assert!(rejected.to_lowercase().contains("quote"), "{rejected}");
    assert!(list["accepted"].as_i64().unwrap() >= 1, "{list}");

    // Preview, then the real upload: one invalid row, one duplicate (in any letter case:
    // ANN@Example.ORG is Ann; Dan is sent to as written).
    let r = anna
        .http
        .post(format!("{}/jobs/{id}/recipients/preview", anna.base))
        .header("x-csrf-token", &anna.csrf)
        .body(CSV)
        .send()
        .await
        .unwrap();
    let preview: Value = r.json().await.unwrap();
    assert_eq!(preview["separator"], ";");
    assert_eq!(preview["columns"], json!(["Email", "Name", "Tier"]));
    assert_eq!(preview["rows"][1]["line"], 3);
    assert!(preview["rows"][1]["rejected"].is_string());
    let dup_csv = format!("{CSV}ANN@Example.ORG;Ann twice;gold\n");
    let (status, _) = upload(&anna, &id, "?file_name=spring.csv", dup_csv.as_bytes()).await;
    assert_eq!(status, 202);
    let list = imported(&anna, &id).await;
    assert_eq!(list["state"], "ready", "{list}");
    assert_eq!(
        (
            list["read_rows"].as_i64(),
            list["accepted"].as_i64(),
            list["rejected"].as_i64(),
            list["duplicates"].as_i64()
        ),
        (Some(6), Some(4), Some(1), Some(1)),
        "{list}"
    );
    assert_eq!(list["source"], "spring.csv");
    let (_, rejected) = text(&anna, &format!("/jobs/{id}/recipients/rejected.csv")).await;
    assert!(rejected.starts_with("line,reason,row\r\n3,"), "{rejected}");
    let (_, accepted) = text(&anna, &format!("/jobs/{id}/recipients/accepted.csv")).await;
    assert_eq!(accepted.lines().count(), 5, "{accepted}");
    // A new upload with no valid row fails; the job can go back to the recipients before.
    let (status, _) = upload(&anna, &id, "?file_name=typo.csv", b"Email\nnobody\n").await;
    assert_eq!(status, 202);
    assert_eq!(imported(&anna, &id).await["state"], "failed");
    let page = anna.page(&format!("/jobs/{id}")).await;
    assert!(
        page.contains("<strong>spring.csv</strong>, 4 accepted")
            && page.contains("Go back to them"),
        "{page}"
    );
    let (status, back) = anna
        .post(&format!("/jobs/{id}/recipients/previous"), json!({}))
        .await;
    assert_eq!(status, 200, "{back}");
    let list = imported(&anna, &id).await;
    assert_eq!(
        (list["source"].as_str(), list["accepted"].as_i64()),
        (Some("spring.csv"), Some(4)),
        "{list}"
    );

    // A message with a mistake: saved, and the check says where.
    let (status, view) = anna
        .put(&format!("/jobs/{id}/message"), json!({"subject": "Hi &NAME;", "from_address": "news@shop.example", "html": "<p>&NOSUCH;</p>"}))
        .await;
    assert_eq!(status, 200, "{view}");
    let problem = &view["problems"][0];
    assert_eq!(
        (problem["line"].as_i64(), problem["column"].as_i64()),
        (Some(1), Some(4)),
        "{view}"
    );
    assert!(
        problem["message"].as_str().unwrap().contains("NOSUCH"),
        "{view}"
    );
    assert_eq!(
        anna.post(
            &format!("/jobs/{id}/test"),
            json!({"addresses": ["me@shop.example"]})
        )
        .await
        .0,
        422
    );

    // No subject and addresses that are not addresses: problems before any test.
    let (_, view) = anna
        .put(&format!("/jobs/{id}/message"), json!({"subject": " ", "from_address": "not an address", "reply_to": "bad@", "html": "<p>Hi</p>"}))
        .await;
    let sources: Vec<&str> = view["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["subject", "sender address", "reply-to"], "{view}");
    // A sender merged from the data that the first recipient's data spoils: the test is
    // refused with the reason, not reported as sent.
    let (_, view) = anna
        .put(&format!("/jobs/{id}/message"), json!({"subject": "Hi", "from_address": "&TIER; team@shop.example", "html": "<p>Hi</p>"}))
        .await;
    assert_eq!(view["problems"], json!([]), "{view}");
    let (status, body) = anna
        .post(
            &format!("/jobs/{id}/test"),
            json!({"addresses": ["me@shop.example"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("\"gold team@shop.example\", which is not an address"),
        "{body}"
    );

    // The charset: the default for a new message, any the account may use.
    let (_, view) = anna.get(&format!("/jobs/{id}/message")).await;
    assert_eq!(view["message"]["charset"], "UTF-8");
    let (status, body) = anna
        .put(
            &format!("/jobs/{id}/message"),
            json!({"subject": "x", "charset": "KLINGON-1"}),
        )
        .await;
    assert_eq!(status, 200, "saved, with the problem named: {body}");
    assert_eq!(body["problems"][0]["source"], "charset", "{body}");
    let message = json!({"subject": "Hello &NAME;", "from_name": "Shop", "from_address": "news@shop.example", "html": HTML, "text": "Hi &NAME;\n"});
    let (_, view) = anna
        .put(&format!("/jobs/{id}/message"), message.clone())
        .await;
    assert_eq!(view["problems"], json!([]), "{view}");
    // A drop-in of the group, merged like the rest; names are unique in the group.
    let footer =
        json!({"name": "footer", "description": "signature", "content": "<p>Bye &NAME;</p>"});
    let (status, dropin) = anna.post("/dropins", footer.clone()).await;
    assert_eq!(status, 201, "{dropin}");
    assert_eq!(anna.post("/dropins", footer).await.0, 409);
    assert_eq!(
        anna.post("/dropins", json!({"name": "*FromAddress", "content": "x"}))
            .await
            .0,
        400
    );
    let with_footer = json!({"subject": "Hello &NAME;", "from_name": "Shop", "from_address": "news@shop.example", "html": format!("{HTML}{{{{footer}}}}"), "text": "Hi &NAME;\n"});
    let (_, view) = anna.put(&format!("/jobs/{id}/message"), with_footer).await;
    assert_eq!(view["problems"], json!([]), "{view}");
    let (_, p) = anna.get(&format!("/jobs/{id}/preview?recipient=1")).await;
    assert!(p["html"].as_str().unwrap().contains("Bye Bob"), "{p}");
    // Templates: the message kept, and a new job started from it.
    let (status, template) = anna
        .post("/templates", json!({"name": "Spring", "from_job": id}))
        .await;
    assert_eq!(status, 201, "{template}");
    let (_, other) = anna.post("/jobs", json!({"title": "From template"})).await;
    let other = other["id"].as_str().unwrap();
    let (status, view) = anna
        .post(
            &format!("/jobs/{other}/message/from-template"),
            json!({"template_id": template["id"]}),
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert!(
        view["message"]["html"]
            .as_str()
            .unwrap()
            .contains("{{footer}}")
    );
    // In use by the job and the template: the library page's button says so; the API
    // refuses, naming them, unless forced.
    let library = anna.page("/library").await;
    assert!(
        library.contains("Delete the drop-in footer? It is used by job ")
            && library.contains("template Spring, which will no longer check"),
        "{library}"
    );
    let (status, refused) = anna
        .send(Method::DELETE, &format!("/dropins/{}", dropin["id"]), None)
        .await;
    assert_eq!(status, 409, "{refused}");
    let said = refused["error"].as_str().unwrap();
    assert!(
        said.contains(&format!("job {other}")) && said.contains("template Spring"),
        "{refused}"
    );
    assert_eq!(
        anna.send(
            Method::DELETE,
            &format!("/dropins/{}?force=true", dropin["id"]),
            None
        )
        .await
        .0,
        204
    );
    let (_, view) = anna.get(&format!("/jobs/{id}/message")).await;
    assert!(
        view["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("footer"),
        "{view}"
    );
    let (_, view) = anna
        .put(&format!("/jobs/{id}/message"), message.clone())
        .await;
    assert_eq!(view["problems"], json!([]), "{view}");

    // A preview as any recipient: Bob (the second) is silver, so no gold offer.
    let (status, p) = anna.get(&format!("/jobs/{id}/preview?recipient=1")).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["subject"].as_str(), p["recipients"].as_i64()),
        (Some("Hello Bob"), Some(4))
    );
    let html = p["html"].as_str().unwrap();
    assert!(
        html.contains("https://shop.example/sale") && !html.contains("Gold offer"),
        "{html}"
    );
    assert_eq!(
        anna.get(&format!("/jobs/{id}/preview?recipient=9")).await.0,
        404
    );
    let (_, tracking) = anna.get(&format!("/jobs/{id}/tracking")).await;
    assert_eq!(
        tracking["links"][0]["url"], "https://shop.example/sale",
        "{tracking}"
    );
    assert_eq!(tracking["kind"], "personal");

    // No authorization before a test; no sending before an authorization.
    assert_eq!(
        anna.post(&format!("/jobs/{id}/authorize"), json!({}))
            .await
            .0,
        409
    );
    assert_eq!(
        anna.post(&format!("/jobs/{id}/send"), json!({})).await.0,
        409
    );
    let (status, test) = anna
        .post(
            &format!("/jobs/{id}/test"),
            json!({"addresses": ["me@shop.example", "boss@shop.example"]}),
        )
        .await;
    assert_eq!(status, 200, "{test}");
    let deadline = Instant::now() + DEADLINE;
    while sink.received().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the test messages did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tests = sink.received();
    let first = MessageParser::default().parse(&tests[0].content).unwrap();
    assert_eq!(
        first.subject(),
        Some("Hello Ann"),
        "merged with the first recipient"
    );
    assert_eq!(
        anna.post(&format!("/jobs/{id}/authorize"), json!({}))
            .await
            .0,
        200
    );

    // A change voids test and authorization.
    anna.put(&format!("/jobs/{id}/message"), message.clone())
        .await;
    assert_eq!(
        anna.post(&format!("/jobs/{id}/send"), json!({})).await.0,
        409
    );
    assert_eq!(
        anna.post(
            &format!("/jobs/{id}/test"),
            json!({"addresses": ["me@shop.example"]})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        anna.post(&format!("/jobs/{id}/authorize"), json!({}))
            .await
            .0,
        200
    );
    let (status, sent) = anna.post(&format!("/jobs/{id}/send"), json!({})).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["recipients"], 4);
    assert_eq!(sent["job"]["state"], "ongoing");
    let (status, _) = anna.put(&format!("/jobs/{id}/message"), message).await;
    assert_eq!(status, 409, "an ongoing job cannot change");

    // Progress until every recipient has its fate; the job completes.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, p) = anna.get(&format!("/jobs/{id}/progress")).await;
        assert_eq!(status, 200, "{p}");
        if p["state"] == "completed" {
            assert_eq!(p["sent"], 4, "{p}");
            break;
        }
        assert!(Instant::now() < deadline, "the job did not complete: {p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, job) = anna.get(&format!("/jobs/{id}")).await;
    assert_eq!(job["state"], "completed");
    // A copy is a new open job with the same message, tracking and recipients, untested.
    let (status, copy) = anna.post(&format!("/jobs/{id}/copy"), json!({})).await;
    assert_eq!(status, 201, "{copy}");
    let copy_id = copy["id"].as_str().unwrap();
    let (_, view) = anna.get(&format!("/jobs/{copy_id}/message")).await;
    assert_eq!(view["message"]["subject"], "Hello &NAME;");
    assert_eq!(view["problems"], json!([]));
    let (_, list) = anna.get(&format!("/jobs/{copy_id}/recipients")).await;
    assert_eq!(list["accepted"], 4);
    assert_eq!(
        anna.post(&format!("/jobs/{copy_id}/authorize"), json!({}))
            .await
            .0,
        409
    );
    let received = sink.received();
    let mut real: Vec<(String, String, bool)> = received[3..]
        .iter()
        .map(|r| {
            let m = MessageParser::default().parse(&r.content).unwrap();
            let html = m.body_html(0).unwrap().to_string();
            (
                r.to[0].clone(),
                m.subject().unwrap().to_string(),
                html.contains("Gold offer"),
            )
        })
        .collect();
    real.sort();
    assert_eq!(
        real,
        vec![
            ("Dan@Example.ORG".into(), "Hello Dan".into(), true),
            ("ann@example.org".into(), "Hello Ann".into(), true),
            ("bob@example.org".into(), "Hello Bob".into(), false),
            ("cy@example.org".into(), "Hello Cy".into(), true),
        ]
    );
    // Cy unsubscribes with one click (RFC 8058); the event reaches the User Interface and
    // puts Cy on the suppression list, so a copy of the job leaves Cy out.
    let cy = received[3..]
        .iter()
        .find(|r| r.to[0] == "cy@example.org")
        .unwrap();
    let cy_message = MessageParser::default().parse(&cy.content).unwrap();
    let unsubscribe = cy_message
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
            assert_eq!(page["suppressions"][0]["address"], "cy@example.org");
            assert_eq!(page["suppressions"][0]["reason"], "unsubscribed");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the unsubscribe never arrived: {page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, counts) = anna.get(&format!("/jobs/{id}/events")).await;
    assert!(
        counts
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "unsubscribe" && c["events"] == 1),
        "{counts}"
    );
    let (_, again) = anna
        .post(&format!("/jobs/{id}/copy"), json!({"title": "Again"}))
        .await;
    let again = again["id"].as_str().unwrap().to_string();
    assert_eq!(
        anna.post(
            &format!("/jobs/{again}/test"),
            json!({"addresses": ["me@shop.example"]})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        anna.post(&format!("/jobs/{again}/authorize"), json!({}))
            .await
            .0,
        200
    );
    let (status, sent) = anna.post(&format!("/jobs/{again}/send"), json!({})).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        (sent["recipients"].as_u64(), sent["suppressed"].as_u64()),
        (Some(3), Some(1))
    );

    // Held until released; and scheduled for later, where the Mailer waits for its time.
    let (_, held) = anna
        .post(&format!("/jobs/{id}/copy"), json!({"title": "Held"}))
        .await;
    let held = held["id"].as_str().unwrap().to_string();
    for step in ["test", "authorize"] {
        let body = json!({"addresses": ["me@shop.example"]});
        assert_eq!(
            anna.post(&format!("/jobs/{held}/{step}"), body).await.0,
            200
        );
    }
    let (status, view) = anna
        .post(&format!("/jobs/{held}/send"), json!({"hold": true}))
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (
            view["job"]["state"].as_str(),
            view["approvals"]["send_at_ms"].as_i64()
        ),
        (Some("open"), Some(-1))
    );
    let (status, view) = anna.post(&format!("/jobs/{held}/release"), json!({})).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["job"]["state"], "ongoing");
    let (_, later) = anna
        .post(&format!("/jobs/{id}/copy"), json!({"title": "Later"}))
        .await;
    let later = later["id"].as_str().unwrap().to_string();
    for step in ["test", "authorize"] {
        let body = json!({"addresses": ["me@shop.example"]});
        assert_eq!(
            anna.post(&format!("/jobs/{later}/{step}"), body).await.0,
            200
        );
    }
    let at = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let (status, _) = anna
        .post(&format!("/jobs/{later}/send"), json!({"at": at}))
        .await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, p) = anna.get(&format!("/jobs/{later}/progress")).await;
        if p["waiting"]
            .as_str()
            .is_some_and(|w| w.contains("scheduled for"))
        {
            assert_eq!(p["sent"], 0, "{p}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled job is not waiting: {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Pause, resume and cancel go to the Mailer; a cancelled job has failed.
    let (status, p) = anna.post(&format!("/jobs/{later}/pause"), json!({})).await;
    assert_eq!((status, p["state"].as_str()), (200, Some("paused")), "{p}");
    let (status, p) = anna.post(&format!("/jobs/{later}/resume"), json!({})).await;
    assert_eq!((status, p["state"].as_str()), (200, Some("sending")), "{p}");
    let (status, p) = anna.post(&format!("/jobs/{later}/cancel"), json!({})).await;
    assert_eq!(
        (status, p["state"].as_str()),
        (200, Some("cancelled")),
        "{p}"
    );
    let (_, job) = anna.get(&format!("/jobs/{later}")).await;
    assert_eq!(job["state"], "failed");
    assert_eq!(
        anna.post(&format!("/jobs/{later}/pause"), json!({}))
            .await
            .0,
        409
    );

    // The tracked link points at this Tracker, which knows the job: it redirects.
    let m = MessageParser::default()
        .parse(&received[3].content)
        .unwrap();
    let html = m.body_html(0).unwrap().to_string();
    let start = html.find("http://127.0.0.2").unwrap();
    let link: String = html[start..].chars().take_while(|c| *c != '"').collect();
    let link = link.replace("&amp;", "&");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&link)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302, "{link}");
    assert_eq!(r.headers()["location"], "https://shop.example/sale");
    let clicker = received[3].to[0].clone();

    // A follow-up to whoever clicked: the click comes back as an event (flagged as machine
    // traffic: it came within seconds of sending and without a browser's user agent).
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, counts) = anna.get(&format!("/jobs/{id}/events")).await;
        if counts
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "click")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the click never arrived: {counts}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The report agrees with the raw events: 4 sent, one unsubscribe, one click (by a
    // machine: within seconds, without a browser), no open (no image was loaded).
    let (status, r) = anna
        .get(&format!("/jobs/{id}/report?people_only=false"))
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (
            r["recipients"].as_i64(),
            r["sent"].as_i64(),
            r["delivered"].as_i64(),
            r["hard_bounces"].as_i64()
        ),
        (Some(4), Some(4), Some(4), Some(0)),
        "{r}"
    );
    assert_eq!(r["clicks"], json!({"total": 1, "unique": 1}));
    assert_eq!(
        r["opens"],
        json!({"total": 0, "unique": 1}),
        "a click shows the message was read"
    );
    assert_eq!(r["unsubscribes"], json!({"total": 1, "unique": 1}));
    assert_eq!(r["open_rate"], 0.25);
    assert_eq!(r["click_to_open"], 1.0);
    assert_eq!(r["links"][0]["url"], "https://shop.example/sale");
    assert_eq!(r["links"][0]["clicks"]["total"], 1);
    assert_eq!(r["hours"][0]["clicks"], 1);
    // Jobs side by side; without a choice, the most recent sent ones.
    let (status, side) = anna
        .get(&format!("/reports?jobs={id},{again}&people_only=false"))
        .await;
    assert_eq!(status, 200, "{side}");
    assert_eq!(
        (side[0]["job"].as_str(), side[1]["job"].as_str()),
        (Some(id.as_str()), Some(again.as_str()))
    );
    assert_eq!(side[0]["clicks"], r["clicks"]);
    let (_, recent) = anna.get("/reports").await;
    assert!(
        recent
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["job"] == id.as_str()),
        "{recent}"
    );
    assert_eq!(anna.get("/reports?jobs=NOPE").await.0, 404);
    let keep = json!({"name": "Spring", "jobs": format!("{id},{again}"), "people_only": false});
    let (status, saved) = anna.post("/saved-reports", keep.clone()).await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(anna.post("/saved-reports", keep).await.0, 409);
    // The ids may also be a list, as the answers give them.
    let (status, listed) = anna
        .post(
            "/saved-reports",
            json!({"name": "Listed", "jobs": [id.as_str(), again.as_str()]}),
        )
        .await;
    assert_eq!(status, 201, "{listed}");
    assert_eq!(listed["jobs"], json!([id, again]));
    let listed_path = format!("/saved-reports/{}", listed["id"]);
    assert_eq!(anna.send(Method::DELETE, &listed_path, None).await.0, 204);
    let (status, _) = anna
        .post("/saved-reports", json!({"name": "Other", "jobs": "NOPE"}))
        .await;
    assert_eq!(status, 404);
    let (_, kept) = anna.get("/saved-reports").await;
    assert_eq!(kept[0]["jobs"], json!([id, again]));
    let path = format!("/saved-reports/{}", saved["id"]);
    assert_eq!(anna.send(Method::DELETE, &path, None).await.0, 204);

    // Downloads agree with the report.
    let csv = |which: &str| format!("/jobs/{id}/report/{which}.csv?people_only=false");
    let (status, all) = text(&anna, &csv("recipients")).await;
    assert_eq!(status, 200, "{all}");
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(
        lines[0],
        "number,Email,Name,Tier,delivery,reply,opened,clicked,unsubscribed"
    );
    assert_eq!(lines.len(), 5, "{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&clicker) && l.ends_with("yes,yes,no")),
        "{all}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cy@example.org") && l.ends_with(",yes")),
        "{all}"
    );
    let (_, clickers) = text(&anna, &csv("clickers")).await;
    assert_eq!(clickers.lines().count(), 2, "{clickers}");
    assert!(clickers.contains(&clicker));
    let (_, non_openers) = text(&anna, &csv("non_openers")).await;
    assert_eq!(non_openers.lines().count(), 4, "{non_openers}");
    let (_, bounced) = text(&anna, &csv("bounced")).await;
    assert_eq!(bounced.lines().count(), 1, "{bounced}");
    // People's events by default; the machine's click too with people_only=false.
    let (_, people_events) = text(&anna, &format!("/jobs/{id}/report/events.csv")).await;
    assert_eq!(people_events.lines().count(), 2, "{people_events}");
    assert!(!people_events.contains(",yes,"), "{people_events}");
    let (_, events) = text(
        &anna,
        &format!("/jobs/{id}/report/events.csv?people_only=false"),
    )
    .await;
    assert_eq!(events.lines().count(), 3, "{events}");
    // Readable on its own: who (number and address), which link (number and address), and
    // whether a machine made the event.
    let lines: Vec<&str> = events.lines().collect();
    assert_eq!(
        lines[0].trim_start_matches('\u{feff}'),
        "time,kind,number,address,link,url,agent,machine,machine_signs"
    );
    assert!(
        lines.iter().any(|l| l.contains(",click,")
            && l.contains(&format!(",{clicker},1,https://shop.example/sale,"))
            && l.contains(",yes,")),
        "{events}"
    );
    assert!(
        lines.iter().any(|l| l.contains(",unsubscribe,")
            && l.contains(",cy@example.org,,,")
            && l.ends_with(",no,")),
        "{events}"
    );
    assert_eq!(
        anna.get(&format!("/jobs/{id}/report/nonsense.csv")).await.0,
        404
    );
    let r = anna
        .http
        .get(format!(
            "{}/jobs/{id}/report/all.zip?people_only=false",
            anna.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let bytes = r.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<String> = archive.file_names().map(str::to_string).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "bounced.csv",
            "clickers.csv",
            "events.csv",
            "non_openers.csv",
            "openers.csv",
            "recipients.csv"
        ]
    );
    let mut inside = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("recipients.csv").unwrap(), &mut inside)
        .unwrap();
    assert_eq!(
        inside.strip_prefix('\u{feff}'),
        Some(all.as_str()),
        "the zip holds the same file as the single download, with its byte order mark for Excel"
    );
    let (_, people) = anna.get(&format!("/jobs/{id}/report")).await;
    assert_eq!(
        people["clicks"]["total"], 0,
        "the machine's click is not a person's: {people}"
    );
    assert_eq!(
        people["unsubscribes"]["total"], 1,
        "a one-click unsubscribe is a person's"
    );

    let (_, follow) = anna.post("/jobs", json!({"title": "Follow-up"})).await;
    let follow = follow["id"].as_str().unwrap();
    let reaction = |reaction: &str, people_only: bool| json!({"job": id, "reaction": reaction, "people_only": people_only});
    let path = format!("/jobs/{follow}/recipients/reaction");
    let (status, list) = anna.post(&path, reaction("clickers", false)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        (list["accepted"].as_i64(), list["state"].as_str()),
        (Some(1), Some("ready"))
    );
    let (_, accepted) = text(&anna, &format!("/jobs/{follow}/recipients/accepted.csv")).await;
    assert!(accepted.contains(&clicker), "{accepted}");
    let (_, list) = anna.post(&path, reaction("clickers", true)).await;
    assert_eq!(
        (list["accepted"].as_i64(), list["state"].as_str()),
        (Some(0), Some("failed"))
    );
    let (_, list) = anna.post(&path, reaction("non_clickers", false)).await;
    assert_eq!(list["accepted"], 3, "{list}");

    // The unsubscribe holds in any letter case: CY@EXAMPLE.ORG in a new upload is Cy.
    let (_, upper) = anna.post("/jobs", json!({"title": "Upper case"})).await;
    let upper = upper["id"].as_str().unwrap();
    let (status, _) = upload(
        &anna,
        upper,
        "",
        b"Email\nCY@EXAMPLE.ORG\nzed@example.org\n",
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(imported(&anna, upper).await["accepted"], 2);
    let page = anna.page(&format!("/jobs/{upper}")).await;
    assert!(
        page.contains("1 of these addresses is on the suppression list"),
        "{page}"
    );
    let _ = anna.send(Method::GET, "/session", None).await;
}

#[tokio::test]
async fn a_job_from_upload_to_sent_on_the_internal_database() {
    the_whole_job(&[("MaxUploadMegabytes", "1")]).await;
}

#[tokio::test]
async fn a_job_from_upload_to_sent_on_postgresql() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    the_whole_job(&[
        ("DatabaseType", "postgresql"),
        ("DatabaseUrl", &pg.url),
        ("MaxUploadMegabytes", "1"),
    ])
    .await;
}

/// Fills a `customers` table at `url` (SQLite or PostgreSQL).
async fn customers(url: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().connect(url).await.unwrap();
    for sql in [
        "CREATE TABLE customers (email TEXT, name TEXT, tier TEXT, points INTEGER)",
        "INSERT INTO customers VALUES ('ann@example.org', 'Ann', 'gold', 10), \
         ('not-an-address', 'Bad', 'gold', 1), ('bob@example.org', 'Bob', 'silver', NULL), \
         ('ann@EXAMPLE.org', 'Ann twice', 'gold', 3)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

async fn recipients_from_a_query(source_url: &str, database: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_sending_installation(&dir.path().join("root"), 9, database).await;
    let anna = sender(&server, "anna").await;
    let mut admin = HubApi::at(&server.base(), "/lui");
    admin
        .login(json!({"user_name": "admin", "password": "new-admin-pw"}))
        .await;

    // Only the admin login defines connections; they are tried first.
    let crm = json!({"name": "crm", "url": source_url});
    assert_eq!(anna.post("/connections", crm.clone()).await.0, 403);
    let (status, body) = admin
        .post(
            "/connections",
            json!({"name": "nowhere", "url": "postgres://x:y@127.0.0.1:9/none"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, connection) = admin.post("/connections", crm).await;
    assert_eq!(status, 201, "{connection}");
    let (_, seen) = anna.get("/connections").await;
    assert_eq!(seen[0]["name"], "crm");
    assert!(seen[0]["url"].is_null(), "users do not see the URL: {seen}");

    let (_, job) = anna.post("/jobs", json!({"title": "From the CRM"})).await;
    let id = job["id"].as_str().unwrap();
    let path = format!("/jobs/{id}/recipients/query");
    let ask = |query: &str| json!({"connection_id": connection["id"], "query": query});
    let (status, body) = anna.post(&path, ask("DELETE FROM customers")).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = anna
        .post(&path, ask("SELECT 1 FROM customers; DROP TABLE customers"))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = anna.post(&path, ask("SELECT nope FROM customers")).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        !body["error"].as_str().unwrap().contains(" at line "),
        "the database's words, not where in its own source they are: {body}"
    );
    let (status, list) = anna
        .post(&path, ask("SELECT email, name AS NAME, tier AS TIER, points AS POINTS FROM customers ORDER BY points DESC"))
        .await;
    assert_eq!(status, 202, "{list}");
    let list = imported(&anna, id).await;
    assert_eq!(list["state"], "ready", "{list}");
    assert_eq!(
        (
            list["accepted"].as_i64(),
            list["rejected"].as_i64(),
            list["duplicates"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{list}"
    );
    // PostgreSQL folds unquoted names to lower case; SQLite keeps them as written.
    let columns: Vec<String> = list["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(columns, ["email", "name", "tier", "points"]);
    let (_, accepted) = text(&anna, &format!("/jobs/{id}/recipients/accepted.csv")).await;
    assert!(
        accepted.contains("ann@example.org,Ann,gold,10")
            && accepted.contains("bob@example.org,Bob,silver,\r\n"),
        "{accepted}"
    );
    // The source is read, never written.
    let (status, _) = anna
        .post(
            &path,
            ask("WITH x AS (SELECT 1) SELECT email FROM customers"),
        )
        .await;
    assert_eq!(status, 202);
    // PostgreSQL's other types come through as text, not as a refusal or an empty cell.
    if source_url.starts_with("postgres") {
        let typed = "SELECT email, 1.5::numeric AS score, 2.5::real AS ratio, \
             DATE '2026-11-30' AS since, '{\"a\": 1}'::jsonb AS extra, ARRAY[1, 2] AS tags, \
             now() AS seen, gen_random_uuid() AS uid FROM customers WHERE email = 'bob@example.org'";
        let (status, body) = anna.post(&path, ask(typed)).await;
        assert_eq!(status, 202, "{body}");
        let list = imported(&anna, id).await;
        assert_eq!(list["state"], "ready", "{list}");
        let (_, accepted) = text(&anna, &format!("/jobs/{id}/recipients/accepted.csv")).await;
        assert!(
            accepted.contains("bob@example.org,1.5,2.5,2026-11-30,\"{\"\"a\"\": 1}\",\"[1,2]\",2"),
            "{accepted}"
        );
    }
}

#[tokio::test]
async fn recipients_from_a_query_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/crm.db?mode=rwc", dir.path().display());
    customers(&url).await;
    let read = format!("sqlite://{}/crm.db", dir.path().display());
    recipients_from_a_query(&read, &[]).await;
}

#[tokio::test]
async fn recipients_from_a_query_on_postgresql() {
    let (Some(source), Some(system)) = (PgDatabase::create().await, PgDatabase::create().await)
    else {
        return;
    };
    customers(&source.url).await;
    recipients_from_a_query(
        &source.url,
        &[("DatabaseType", "postgresql"), ("DatabaseUrl", &system.url)],
    )
    .await;
}

#[tokio::test]
async fn recipients_from_a_query_on_mariadb() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::mariadb::MariaDb::start(dir.path());
    sqlx::any::install_default_drivers();
    let admin = sqlx::any::AnyPoolOptions::new()
        .connect(&server.url("mysql"))
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE crm")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    customers(&server.url("crm")).await;
    recipients_from_a_query(&server.url("crm"), &[]).await;
}
