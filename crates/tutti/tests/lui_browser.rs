//! A job in a real browser (headless Chromium through WebDriver): log in, create a job,
//! upload a recipient file, write the message, test, authorize, send, and watch the
//! progress bar reach 100 %.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use support::*;

#[tokio::test]
async fn a_job_from_login_to_a_full_progress_bar_in_chromium() {
    a_job_in(Browser::start().await, "chromium").await;
}

#[tokio::test]
async fn a_job_from_login_to_a_full_progress_bar_in_firefox() {
    a_job_in(Browser::start_firefox().await, "firefox").await;
}

async fn a_job_in(browser: Browser, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink().await;
    let server = start_sending_installation(&dir.path().join("root"), sink.addr.port(), &[]).await;
    let maria = sender(&server, "maria").await;
    let ben = sender(&server, "ben").await;
    let csv = dir.path().join("customers.csv");
    std::fs::write(
        &csv,
        "email,NAME\nann@example.org,Ann\nbob@example.org,Bob\nnot-an-address,X\ncy@example.org,Cy\n",
    )
    .unwrap();

    let b = &browser;
    // Any page leads to the login first.
    b.client.goto(&server.url("/lui")).await.unwrap();
    b.wait_for_text("Log in").await;
    b.fill("user_name", "maria").await;
    b.fill("group_name", "Sales").await;
    b.fill("password", "wrong-password").await;
    b.click("#login").await;
    b.wait_for_text("wrong").await;
    b.fill("password", "maria-password").await;
    b.click("#login").await;
    b.wait_for_text("New job").await;

    b.fill("title", "Browser sale").await;
    b.fill("folder", "Spring").await;
    b.click("#create").await;
    b.wait_for_text("1. Recipients").await;
    // A new job's Tracking step is not done before the marketer has looked at it.
    let tracking_done = "class=\"done\"><a href=\"#tracking\"";
    assert!(!b.client.source().await.unwrap().contains(tracking_done));

    // Upload: the file input takes the file's path.
    b.client
        .find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    b.click("#upload").await;
    b.wait_for_text(">3</strong> accepted").await;
    b.wait_for_text("1 rejected").await;

    // A sender profile of the group fills the sender fields.
    let (status, body) = ben
        .post(
            "/sender-profiles",
            serde_json::json!({"name": "News", "from_name": "Shop News", "from_address": "news@shop.example"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    b.client.refresh().await.unwrap();
    b.wait_for_text("Sender profile").await;
    b.click("#sender-profile option[data-from-address]").await;

    // The message, with a mistake first: the check names line and column.
    b.fill("subject", "Hello &NAME;").await;
    b.fill("html", "<p>Dear &NAME; &OOPS;</p>").await;
    b.click("#save-message").await;
    b.wait_for_text("line 1, column 16").await;
    b.fill(
        "html",
        "<p>Dear &NAME;</p><p><a href=\"https://shop.example/sale\">Sale</a></p>",
    )
    .await;
    b.click("[data-text-from-html]").await;
    let text = b
        .client
        .find(Locator::Id("text"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        text.contains("Sale \"https://shop.example/sale\""),
        "{text}"
    );
    b.click("#save-message").await;
    b.wait_for_text("The message checks out.").await;
    b.wait_for_text("https://shop.example/sale").await;
    b.wait_for_text("value=\"Shop News\"").await;
    b.click("#preview").await;
    b.wait_for_text("Hello Ann").await;
    b.wait_for_text("id=\"number\" name=\"number\" min=\"1\"")
        .await;
    b.client.back().await.unwrap();
    b.wait_for_text("The message checks out.").await;
    // A page left and come back to with Back shows the job as it is now, not as it was.
    let job_id = b
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (status, _) = maria
        .send(
            reqwest::Method::PATCH,
            &format!("/jobs/{job_id}"),
            Some(serde_json::json!({"title": "Browser sale, renamed"})),
        )
        .await;
    assert_eq!(status, 200);
    b.client.goto(&server.url("/lui/reports")).await.unwrap();
    b.wait_for_text("Reports").await;
    b.client.back().await.unwrap();
    b.wait_for_text("Browser sale, renamed").await;
    // Saving the tracking choices says so on the page shown again.
    b.click("#save-tracking").await;
    b.wait_for_text("id=\"tracking-form-saved\"").await;
    b.wait_for_text(tracking_done).await;

    // Test, authorize, send.
    b.fill("addresses", "maria@shop.example").await;
    b.click("#send-test").await;
    b.wait_for_text("Tested").await;
    b.click("#authorize").await;
    b.wait_for_text("Authorized</span> by maria/Sales").await;
    b.click("#send-job").await;
    // Sending asks first, naming how many recipients, of which list, from whom.
    let deadline = Instant::now() + DEADLINE;
    let question = loop {
        if let Ok(text) = b.client.get_alert_text().await {
            break text;
        }
        assert!(Instant::now() < deadline, "sending asked nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        question.contains("to 3 recipient(s) of customers.csv")
            && question.contains("from Shop News <news@shop.example>"),
        "{question}"
    );
    b.client.accept_alert().await.unwrap();

    // The progress bar fills up.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let value = b.client.find(Locator::Id("progress")).await.ok();
        let value = match value {
            Some(bar) => bar.attr("aria-valuenow").await.unwrap_or_default(),
            None => None,
        };
        if value.as_deref() == Some("100") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the progress bar stopped at {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.wait_for_text("3 sent").await;
    b.wait_for_text(">completed<").await;
    b.screenshot(&format!("lui-job-sent-{name}")).await;
    // One test message and three real ones.
    assert_eq!(sink.received().len(), 4);

    // A click comes back; the report shows it in the chart and the per-link table.
    let delivered = sink.received();
    let first = mail_parser::MessageParser::default()
        .parse(&delivered[1].content)
        .unwrap();
    let html = first.body_html(0).unwrap().to_string();
    let start = html.find("/trk/click?ref=").unwrap();
    let begin = html[..start].rfind("http").unwrap();
    let link: String = html[begin..].chars().take_while(|c| *c != '"').collect();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(link.replace("&amp;", "&"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let job_url = b.client.current_url().await.unwrap();
    let report = format!("{}/report?people_only=false", job_url.as_str());
    let deadline = Instant::now() + DEADLINE;
    loop {
        b.client.goto(&report).await.unwrap();
        let source = b.client.source().await.unwrap();
        if source.contains("<svg") {
            break;
        }
        assert!(Instant::now() < deadline, "no chart: {source}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    b.wait_for_text("Clicks per link").await;
    // The chart fills the page's width with an hour of data, and sums a day's hours into
    // hours and a month's into days, so that it reads well with any amount.
    let svg = b.client.find(Locator::Css("#chart svg")).await.unwrap();
    assert_eq!(svg.attr("width").await.unwrap().as_deref(), Some("100%"));
    let shape = b
        .client
        .execute(
            "const h = (n, step) => Array.from({length: n}, (_, i) => ({start_ms: 1780000000000 + i * step, opens: 1, clicks: 0}));
             const day = chartBuckets(h(24, 3600000)), month = chartBuckets(h(720, 3600000));
             return [day.unit, day.buckets.length, month.unit, month.buckets.length,
                     month.buckets.reduce((n, b) => n + b.opens, 0)];",
            vec![],
        )
        .await
        .unwrap();
    let shape = shape.as_array().unwrap();
    assert_eq!(
        (shape[0].as_str(), shape[1].as_i64()),
        (Some("hour"), Some(24))
    );
    assert_eq!(shape[2].as_str(), Some("day"));
    let days = shape[3].as_i64().unwrap();
    assert!((30..=31).contains(&days), "{shape:?}");
    assert_eq!(shape[4].as_i64(), Some(720), "every hour is counted once");
    let title = b.client.title().await.unwrap();
    assert!(
        title.starts_with("Report ") && title.ends_with(" · Tutti"),
        "{title}"
    );
    b.wait_for_text("All of them in one zip").await;
    b.wait_for_text("https://shop.example/sale</td><td>1</td><td>1</td>")
        .await;
    b.screenshot(&format!("lui-report-{name}")).await;
    b.client.goto(&server.url("/lui/reports")).await.unwrap();
    b.wait_for_text("Browser sale, renamed").await;
    b.client.goto(job_url.as_str()).await.unwrap();
    b.wait_for_text("1. Recipients").await;

    // Maria lets Ben, of her group, edit the job; then copies it.
    let job_url = b.client.current_url().await.unwrap();
    let job_id = job_url.path().rsplit('/').next().unwrap().to_string();
    b.click("details.job-settings summary").await;
    b.wait_for_text("Who else may work on it").await;
    b.click("tr[data-grant-account] input[data-grant=edit]")
        .await;
    b.click_and_wait_for_reload("#save-grants").await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, job) = ben.get(&format!("/jobs/{job_id}")).await;
        if status == 200 {
            assert_eq!(job["access"]["edit"], true, "{job}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Ben never got the job: {status} {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.click("details.job-settings summary").await;
    b.click("#copy").await;
    b.wait_for_text("Copy of Browser sale").await;
    b.wait_for_text(">3</strong> accepted").await;

    // A drop-in for the group, made on the library page.
    b.client.goto(&server.url("/lui/library")).await.unwrap();
    b.fill("dropin-name", "signature").await;
    b.fill("dropin-content", "Regards, &NAME;").await;
    b.click("#create-dropin").await;
    b.wait_for_text("Changed by maria/Sales").await;
    let (_, dropins) = ben.get("/dropins").await;
    assert_eq!(dropins[0]["name"], "signature", "shared in the group");

    // The job list shows it in its folder.
    b.client
        .goto(&server.url("/lui?folder=Spring"))
        .await
        .unwrap();
    b.wait_for_text("Browser sale").await;
    b.click("#logout").await;
    b.wait_for_text("Your administrator gives you").await;
    browser.close().await;
}
