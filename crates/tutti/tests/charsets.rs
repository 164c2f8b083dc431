//! International character sets end to end (issue 9, item 5): Japanese, Cyrillic, Greek and
//! accented Latin text goes through the upload (UTF-8 with a byte order mark, and files
//! written in windows-1251, ISO-8859-7, Shift_JIS and windows-1252), the message (merged
//! with the recipients' names, in UTF-8 and in the legacy charsets KOI8-R, ISO-8859-7,
//! ISO-2022-JP and ISO-8859-15), delivery (7-bit messages, RFC 2047 headers), the Tracker
//! (links holding non-ASCII characters), the report (figures, CSV downloads, the zip) and
//! the pages, and is read back intact everywhere.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};
use support::*;
use tutti_smtp::sink::{Received, Sink};

/// Where the test messages go.
const TESTER: &str = "me@shop.example";

/// A recipient: address, name, city.
type Person = (&'static str, &'static str, &'static str);

/// A sink, a whole installation relaying to it, and the sender anna logged in.
async fn start() -> (tempfile::TempDir, Sink, Server, HubApi) {
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink().await;
    let server = start_sending_installation(&dir.path().join("root"), sink.addr.port(), &[]).await;
    let anna = sender(&server, "anna").await;
    (dir, sink, server, anna)
}

async fn new_job(api: &HubApi, title: &str) -> String {
    let (status, job) = api.post("/jobs", json!({ "title": title })).await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["title"], title, "the title is kept: {job}");
    job["id"].as_str().unwrap().to_string()
}

fn query_string(query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return String::new();
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("?{encoded}")
}

/// POSTs `body` to the job's recipients (`path` "" to upload, "/preview" to look at it).
async fn post_file(
    api: &HubApi,
    job: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let r = api
        .http
        .post(format!(
            "{}/jobs/{job}/recipients{path}{}",
            api.base,
            query_string(query)
        ))
        .header("x-csrf-token", &api.csrf)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

/// What the preview makes of a file.
async fn preview_file(api: &HubApi, job: &str, query: &[(&str, &str)], body: &[u8]) -> Value {
    let (status, preview) = post_file(api, job, "/preview", query, body).await;
    assert_eq!(status, 200, "{preview}");
    preview
}

/// Uploads `body` as the job's recipients and waits until the import is done; the list.
async fn upload(api: &HubApi, job: &str, query: &[(&str, &str)], body: &[u8]) -> Value {
    let (status, answer) = post_file(api, job, "", query, body).await;
    assert_eq!(status, 202, "{answer}");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, list) = api.get(&format!("/jobs/{job}/recipients")).await;
        assert_eq!(status, 200, "{list}");
        if list["state"] != "importing" {
            assert_eq!(list["state"], "ready", "{list}");
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "the import did not finish: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GETs a download (a path under the API); its Content-Type and its bytes.
async fn download(api: &HubApi, path: &str) -> (String, Vec<u8>) {
    let r = api
        .http
        .get(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.bytes().await.unwrap().to_vec();
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    (content_type, body)
}

/// A CSV download, which must be UTF-8 and say so.
async fn csv(api: &HubApi, path: &str) -> String {
    let (content_type, body) = download(api, path).await;
    assert_eq!(content_type, "text/csv; charset=utf-8", "{path}");
    let text = String::from_utf8(body).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"));
    without_bom(&text, path)
}

/// A CSV download's text after the byte order mark it must start with (for Excel).
fn without_bom(text: &str, what: &str) -> String {
    text.strip_prefix('\u{feff}')
        .unwrap_or_else(|| panic!("{what} does not start with a byte order mark"))
        .to_string()
}

/// GETs a page of the User Interface with the session; its Content-Type and text.
async fn page(server: &Server, api: &HubApi, path: &str) -> (String, String) {
    let r = api.http.get(server.url(path)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.bytes().await.unwrap().to_vec();
    let text = String::from_utf8(body).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"));
    (content_type, text)
}

/// Saves the message; it must have no problems.
async fn save_message(api: &HubApi, job: &str, message: Value) -> Value {
    let (status, view) = api.put(&format!("/jobs/{job}/message"), message).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["problems"], json!([]), "{view}");
    view
}

/// Test, authorization and sending.
async fn send(api: &HubApi, job: &str) {
    for step in ["test", "authorize", "send"] {
        let (status, body) = api
            .post(
                &format!("/jobs/{job}/{step}"),
                json!({ "addresses": [TESTER] }),
            )
            .await;
        assert_eq!(status, 200, "{step}: {body}");
    }
}

/// Waits until the job is completed with `sent` messages taken by the relay.
async fn completed(api: &HubApi, job: &str, sent: usize) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, p) = api.get(&format!("/jobs/{job}/progress")).await;
        assert_eq!(status, 200, "{p}");
        if p["state"] == "completed" {
            assert_eq!(p["sent"], sent, "{p}");
            return;
        }
        assert!(Instant::now() < deadline, "job {job} did not complete: {p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn job_of(received: &Received) -> Option<String> {
    let m = MessageParser::default().parse(&received.content)?;
    m.header_raw("X-Tutti-Job").map(|j| j.trim().to_string())
}

/// Waits until the sink has the job's test message and `n` real ones; the real ones.
async fn delivered(sink: &Sink, job: &str, n: usize) -> (Received, Vec<Received>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (tests, real): (Vec<Received>, Vec<Received>) = sink
            .received()
            .into_iter()
            .filter(|r| {
                // Test sends are jobs of their own: `{job}-T1`, `{job}-T2`, …
                job_of(r).is_some_and(|j| j == job || j.starts_with(&format!("{job}-T")))
            })
            .partition(|r| r.to == [TESTER]);
        if !tests.is_empty() && real.len() >= n {
            assert_eq!(real.len(), n, "one message per recipient");
            return (tests[0].clone(), real);
        }
        assert!(
            Instant::now() < deadline,
            "the messages of job {job} did not arrive: {} test, {} of {n}",
            tests.len(),
            real.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `template` with `&NAME;` and `&CITY;` merged for `person`.
fn merged(template: &str, person: Person) -> String {
    template
        .replace("&NAME;", person.1)
        .replace("&CITY;", person.2)
}

/// The lines of an HTML template (merged) that must be in the delivered HTML as written:
/// those without a link, which the Tracker's URL replaces.
fn html_lines(template: &str, person: Person) -> Vec<String> {
    merged(template, person)
        .lines()
        .filter(|l| !l.is_empty() && !l.contains("href"))
        .map(String::from)
        .collect()
}

/// What one delivered message must be.
struct Expected<'a> {
    to: &'a str,
    to_name: &'a str,
    from_name: &'a str,
    /// The MIME charset of the headers' encoded words and of the text parts.
    charset: &'a str,
    subject: String,
    text: String,
    html: Vec<String>,
}

/// Checks a message as the sink received it: 7-bit throughout, the subject in RFC 2047
/// encoded words of the charset, the parts declared in it, everything decoding to exactly
/// what was meant.
fn check_message(raw: &[u8], e: &Expected<'_>) {
    let shown = String::from_utf8_lossy(raw);
    assert!(
        raw.is_ascii(),
        "the message to {} is not 7-bit ASCII:\n{shown}",
        e.to
    );
    check_encoded_words(raw, e.charset);
    let m = MessageParser::default().parse(raw).unwrap();
    let subject_raw = m.header_raw("Subject").unwrap().trim().to_ascii_uppercase();
    assert!(
        subject_raw.starts_with(&format!("=?{}?B?", e.charset.to_ascii_uppercase())),
        "the subject to {} is not encoded in {}:\n{shown}",
        e.to,
        e.charset
    );
    assert_eq!(m.subject(), Some(e.subject.as_str()), "{shown}");
    let from = m.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.name(), Some(e.from_name), "{shown}");
    let to = m.to().and_then(|a| a.first()).unwrap();
    assert_eq!((to.name(), to.address()), (Some(e.to_name), Some(e.to)));
    for part in [m.text_part(0), m.html_part(0)] {
        let declared = part
            .and_then(|p| p.content_type())
            .and_then(|c| c.attribute("charset"))
            .unwrap_or_default();
        assert!(
            declared.eq_ignore_ascii_case(e.charset),
            "a part to {} is declared {declared:?}, not {}:\n{shown}",
            e.to,
            e.charset
        );
    }
    let text = m.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(text.trim_end(), e.text.trim_end(), "the text to {}", e.to);
    let html = m.body_html(0).unwrap().to_string();
    for line in &e.html {
        assert!(
            html.contains(line.as_str()),
            "the HTML to {} lacks {line:?}:\n{html}",
            e.to
        );
    }
}

/// RFC 2047: each encoded word of the header is at most 75 characters long and, in UTF-8,
/// holds whole characters (a word is decoded on its own).
fn check_encoded_words(raw: &[u8], charset: &str) {
    let text = String::from_utf8_lossy(raw);
    let head = &text[..text.find("\r\n\r\n").unwrap()];
    let words: Vec<&str> = head
        .split(|c: char| c.is_whitespace() || c == '"')
        .filter(|w| w.starts_with("=?") && w.ends_with("?="))
        .collect();
    assert!(!words.is_empty(), "no encoded words:\n{head}");
    for word in words {
        assert!(word.len() <= 75, "{word} is longer than 75 characters");
        let parts: Vec<&str> = word[2..word.len() - 2].split('?').collect();
        assert_eq!(parts.len(), 3, "{word}");
        assert!(
            parts[0].eq_ignore_ascii_case(charset),
            "{word} is not in {charset}"
        );
        assert!(parts[1].eq_ignore_ascii_case("B") || parts[1].eq_ignore_ascii_case("Q"));
        if parts[1].eq_ignore_ascii_case("B") && charset.eq_ignore_ascii_case("UTF-8") {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(parts[2])
                .unwrap();
            assert!(
                String::from_utf8(bytes).is_ok(),
                "{word} splits a character"
            );
        }
    }
}

/// The Tracker's click URLs in an HTML part, in order.
fn click_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
        .filter(|url| url.contains("/click?ref="))
        .collect()
}

/// `%XX` sequences as the bytes they stand for, read as UTF-8.
fn percent_decoded(text: &str) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let byte = text
            .get(i + 1..i + 3)
            .filter(|_| text.as_bytes()[i] == b'%')
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match byte {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(text.as_bytes()[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// Polls the report (people and machines) until `pred` holds; returns it.
async fn report_when(api: &HubApi, job: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, report) = api
            .get(&format!("/jobs/{job}/report?people_only=false"))
            .await;
        assert_eq!(status, 200, "{report}");
        if pred(&report) {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "the report never showed {what}: {report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A header and one line per person, each ending in CRLF, as the CSV downloads write them.
fn csv_rows(header: &str, people: &[Person]) -> String {
    std::iter::once(header.to_string())
        .chain(people.iter().map(|(a, n, c)| format!("{a},{n},{c}")))
        .map(|line| format!("{line}\r\n"))
        .collect()
}

const PEOPLE: [Person; 4] = [
    ("yamada@example.org", "山田太郎", "東京"),
    ("ivan@example.org", "Иван Петров", "Москва"),
    ("giorgos@example.org", "Γιώργος Παπαδόπουλος", "Αθήνα"),
    ("francois@example.org", "François Müller-Ødegård", "Zürich"),
];

const TITLE: &str = "春の大セールのお知らせ";
const FROM_NAME: &str = "ショップ · Магазин · Κατάστημα · Boutique Zoë";
const SUBJECT: &str = "&NAME;様、春の大セールが始まりました！ Весна · Άνοιξη · Été à &CITY;";
const HTML: &str = "<p>&NAME;様</p>\n\
<p>春の大セールが始まりました。いろはにほへと　ちりぬるを</p>\n\
<p>Весенняя распродажа уже началась! Съешь же ещё этих мягких французских булок.</p>\n\
<p>Οι ανοιξιάτικες εκπτώσεις ξεκίνησαν! Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.</p>\n\
<p>Les soldes de printemps à &CITY; : Ærø, Øresund, Straße, œuvre, naïve façade.</p>\n\
<p><a href=\"https://shop.example/sale\">セール会場へ</a></p>\n";
const TEXT: &str = "&NAME;様\n\n\
春の大セールが始まりました。いろはにほへと　ちりぬるを\n\
Весенняя распродажа уже началась! Съешь же ещё этих мягких французских булок.\n\
Οι ανοιξιάτικες εκπτώσεις ξεκίνησαν! Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.\n\
Les soldes de printemps à &CITY; : Ærø, Øresund, Straße, œuvre, naïve façade.\n";

/// A UTF-8 file (with the byte order mark spreadsheets write) of people in four scripts,
/// a message in all of them merged with their names, sent, clicked and reported on.
#[tokio::test]
async fn utf8_names_and_text_survive_upload_message_delivery_report_and_pages() {
    let (_dir, sink, server, anna) = start().await;
    let id = new_job(&anna, TITLE).await;

    // The upload: the byte order mark is no part of the first column's name.
    let file = format!(
        "\u{FEFF}Email,Name,City\n{}",
        PEOPLE
            .iter()
            .map(|(a, n, c)| format!("{a},{n},{c}\n"))
            .collect::<String>()
    );
    let preview = preview_file(&anna, &id, &[], file.as_bytes()).await;
    assert_eq!(preview["encoding"], "UTF-8", "{preview}");
    assert_eq!(preview["columns"], json!(["Email", "Name", "City"]));
    assert_eq!(
        (
            preview["email_column"].as_i64(),
            preview["name_column"].as_i64()
        ),
        (Some(0), Some(1))
    );
    for (i, (a, n, c)) in PEOPLE.iter().enumerate() {
        assert_eq!(preview["rows"][i]["fields"], json!([a, n, c]), "{preview}");
        assert!(preview["rows"][i]["rejected"].is_null(), "{preview}");
    }
    let list = upload(
        &anna,
        &id,
        &[("file_name", "春の顧客リスト.csv")],
        file.as_bytes(),
    )
    .await;
    assert_eq!(list["columns"], json!(["Email", "Name", "City"]), "{list}");
    assert_eq!(
        (list["accepted"].as_i64(), list["rejected"].as_i64()),
        (Some(4), Some(0)),
        "{list}"
    );
    assert_eq!(list["source"], "春の顧客リスト.csv", "{list}");
    let accepted = csv(&anna, &format!("/jobs/{id}/recipients/accepted.csv")).await;
    assert_eq!(accepted, csv_rows("Email,Name,City", &PEOPLE));

    // The message, and its preview as the second recipient.
    let message = json!({"subject": SUBJECT, "from_name": FROM_NAME,
        "from_address": "news@shop.example", "html": HTML, "text": TEXT});
    let view = save_message(&anna, &id, message).await;
    assert_eq!(view["message"]["charset"], "UTF-8", "the default");
    assert_eq!(view["message"]["subject"], SUBJECT);
    assert_eq!(view["message"]["html"], HTML);
    let (status, p) = anna.get(&format!("/jobs/{id}/preview?recipient=1")).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["subject"], merged(SUBJECT, PEOPLE[1]), "{p}");
    assert_eq!(p["from_name"], FROM_NAME, "{p}");
    assert_eq!(
        p["text"].as_str().unwrap().trim_end(),
        merged(TEXT, PEOPLE[1]).trim_end()
    );
    assert_eq!(
        p["fields"],
        json!([PEOPLE[1].0, PEOPLE[1].1, PEOPLE[1].2]),
        "{p}"
    );

    // Delivery: each message decodes to exactly its recipient's text.
    send(&anna, &id).await;
    let (test, real) = delivered(&sink, &id, PEOPLE.len()).await;
    let expected = |person: Person| Expected {
        to: person.0,
        to_name: person.1,
        from_name: FROM_NAME,
        charset: "UTF-8",
        subject: merged(SUBJECT, person),
        text: merged(TEXT, person),
        html: html_lines(HTML, person),
    };
    let tested = MessageParser::default().parse(&test.content).unwrap();
    assert_eq!(
        tested.subject(),
        Some(merged(SUBJECT, PEOPLE[0]).as_str()),
        "the test message is merged with the first recipient"
    );
    for r in &real {
        let person = *PEOPLE.iter().find(|p| r.to == [p.0]).unwrap();
        check_message(&r.content, &expected(person));
    }
    completed(&anna, &id, PEOPLE.len()).await;

    // Giorgos clicks; the report counts it and the downloads name him as he was uploaded.
    let giorgos = real.iter().find(|r| r.to == [PEOPLE[2].0]).unwrap();
    let parsed = MessageParser::default().parse(&giorgos.content).unwrap();
    let links = click_links(&parsed.body_html(0).unwrap());
    assert_eq!(links.len(), 1, "{links:?}");
    let r = no_redirects().get(&links[0]).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers()["location"], "https://shop.example/sale");
    let report = report_when(&anna, &id, "the click and every delivery", |r| {
        r["clicks"]["total"] == 1 && r["sent"] == PEOPLE.len()
    })
    .await;
    assert_eq!(report["recipients"], PEOPLE.len(), "{report}");
    let header = "number,Email,Name,City,delivery,reply,opened,clicked,unsubscribed";
    let clickers = csv(
        &anna,
        &format!("/jobs/{id}/report/clickers.csv?people_only=false"),
    )
    .await;
    let lines: Vec<&str> = clickers.lines().collect();
    assert_eq!(lines.len(), 2, "{clickers}");
    assert_eq!(lines[0], header);
    assert!(
        lines[1].contains(",giorgos@example.org,Γιώργος Παπαδόπουλος,Αθήνα,"),
        "{clickers}"
    );
    let everybody = csv(
        &anna,
        &format!("/jobs/{id}/report/recipients.csv?people_only=false"),
    )
    .await;
    assert!(
        everybody.starts_with(&format!("{header}\r\n")),
        "{everybody}"
    );
    for (a, n, c) in PEOPLE {
        assert!(everybody.contains(&format!(",{a},{n},{c},")), "{everybody}");
    }
    // The zip holds the same files, byte for byte.
    let (content_type, zip) = download(
        &anna,
        &format!("/jobs/{id}/report/all.zip?people_only=false"),
    )
    .await;
    assert_eq!(content_type, "application/zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    for (name, expected) in [("clickers.csv", &clickers), ("recipients.csv", &everybody)] {
        let mut text = String::new();
        zip.by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{name} in the zip is not UTF-8: {e}"));
        assert_eq!(&without_bom(&text, name), expected, "{name}");
    }

    // The pages declare UTF-8 and show the Japanese title and the message as written.
    let (content_type, job_page) = page(&server, &anna, &format!("/lui/jobs/{id}")).await;
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(job_page.contains("<meta charset=\"utf-8\">"), "{job_page}");
    assert!(
        job_page.contains(&format!("<title>{id} {TITLE} · Tutti</title>")),
        "{job_page}"
    );
    assert!(job_page.contains(&format!("<h1>{TITLE} ")), "{job_page}");
    assert!(
        ["&amp;", "&#38;"]
            .iter()
            .any(|amp| job_page.contains(&format!("value=\"{}\"", SUBJECT.replace('&', amp)))),
        "the subject as written: {job_page}"
    );
    assert!(job_page.contains(FROM_NAME), "{job_page}");
    let (_, report_page) = page(&server, &anna, &format!("/lui/jobs/{id}/report")).await;
    assert!(
        report_page.contains(&format!("Report: {TITLE}")),
        "{report_page}"
    );
    let (_, jobs_page) = page(&server, &anna, "/lui").await;
    assert!(jobs_page.contains(TITLE), "{jobs_page}");
    let (_, preview_page) = page(&server, &anna, &format!("/lui/jobs/{id}/preview?number=3")).await;
    assert!(
        preview_page.contains(&format!(
            "<td id=\"preview-subject\">{}</td>",
            merged(SUBJECT, PEOPLE[2])
        )),
        "{preview_page}"
    );
    drop(server);
}

/// `text` in a legacy encoding, as a program using it writes the file.
fn encoded(encoding: &'static encoding_rs::Encoding, text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding.encode(text);
    assert!(!unmappable, "{text} is not all in {}", encoding.name());
    bytes.into_owned()
}

/// A job whose recipients come in a legacy encoding and whose message is in a legacy
/// charset.
struct Legacy {
    title: &'static str,
    /// The file as a program using that encoding writes it.
    file: Vec<u8>,
    /// The encoding given with the upload; `None`: detected.
    encoding: Option<&'static str>,
    /// The encoding the preview names.
    read_as: &'static str,
    separator: &'static str,
    columns: [&'static str; 3],
    people: Vec<Person>,
    charset: &'static str,
    from_name: &'static str,
    subject: &'static str,
    html: &'static str,
    text: &'static str,
    /// Recipients whose names the charset cannot hold: their messages go in UTF-8.
    in_utf8: &'static [&'static str],
}

fn legacy_jobs() -> Vec<Legacy> {
    let cyrillic = vec![
        ("ivan@example.org", "Иван Петров", "Москва"),
        ("natalya@example.org", "Наталья Ёлкина", "Санкт-Петербург"),
        // Ukrainian letters: in windows-1251, not in KOI8-R.
        ("iryna@example.org", "Ірина Ємець", "Київ"),
    ];
    let greek = vec![
        ("giorgos@example.org", "Γιώργος Παπαδόπουλος", "Αθήνα"),
        ("eleni@example.org", "Ελένη Καραγιάννη", "Θεσσαλονίκη"),
    ];
    let japanese = vec![
        ("sato@example.org", "佐藤花子", "表参道"),
        // In Shift_JIS ソ and 表 end in 0x5C (a backslash) and ポ in 0x7C (a bar).
        ("sofia@example.org", "ソフィア・ポポワ", "大阪"),
    ];
    let latin = vec![
        ("francois@example.org", "François Müller-Ødegård", "Zürich"),
        ("chloe@example.org", "Chloë Lœwe", "Besançon"),
    ];
    let lines = |people: &[Person], sep: &str, end: &str| -> String {
        people
            .iter()
            .map(|(a, n, c)| format!("{a}{sep}{n}{sep}{c}{end}"))
            .collect()
    };
    let shift_jis = encoded(
        encoding_rs::SHIFT_JIS,
        &format!("Email,Name,City\r\n{}", lines(&japanese, ",", "\r\n")),
    );
    vec![
        Legacy {
            title: "Весенняя распродажа",
            file: encoded(
                encoding_rs::WINDOWS_1251,
                &format!("Email;Name;Город\r\n{}", lines(&cyrillic, ";", "\r\n")),
            ),
            encoding: None,
            read_as: "windows-1251",
            separator: ";",
            columns: ["Email", "Name", "Город"],
            people: cyrillic,
            charset: "KOI8-R",
            from_name: "Магазин Весна",
            subject: "Здравствуйте, &NAME;! Весенняя распродажа уже началась",
            html: "<p>Уважаемый покупатель &NAME;!</p>\n\
<p>Весенняя распродажа уже началась: скидки до 50%.</p>\n\
<p>Съешь же ещё этих мягких французских булок, да выпей чаю.</p>\n",
            text: "Уважаемый покупатель &NAME;!\n\n\
Весенняя распродажа уже началась: скидки до 50%.\n\
Съешь же ещё этих мягких французских булок, да выпей чаю.\n",
            in_utf8: &["iryna@example.org"],
        },
        Legacy {
            title: "Ανοιξιάτικες εκπτώσεις",
            file: encoded(
                encoding_rs::ISO_8859_7,
                &format!("Email\tName\tCity\n{}", lines(&greek, "\t", "\n")),
            ),
            encoding: Some("ISO-8859-7"),
            read_as: "ISO-8859-7",
            separator: "\t",
            columns: ["Email", "Name", "City"],
            people: greek,
            charset: "ISO-8859-7",
            from_name: "Κατάστημα Άνοιξη",
            subject: "Γειά σου, &NAME;! Εκπτώσεις στην πόλη &CITY;",
            html: "<p>Αγαπητέ/ή &NAME;,</p>\n\
<p>Οι ανοιξιάτικες εκπτώσεις ξεκίνησαν στην πόλη &CITY;.</p>\n\
<p>Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ΐ ΰ ϊ ϋ</p>\n",
            text: "Αγαπητέ/ή &NAME;,\n\n\
Οι ανοιξιάτικες εκπτώσεις ξεκίνησαν στην πόλη &CITY;.\n\
Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ΐ ΰ ϊ ϋ\n",
            in_utf8: &[],
        },
        Legacy {
            title: "春のセール",
            file: shift_jis,
            encoding: Some("Shift_JIS"),
            read_as: "Shift_JIS",
            separator: ",",
            columns: ["Email", "Name", "City"],
            people: japanese,
            charset: "ISO-2022-JP",
            from_name: "ショップ春",
            subject: "&NAME;様、&CITY;店の春のセールのお知らせです。ぜひご来店ください",
            html: "<p>&NAME;様</p>\n\
<p>&CITY;店で春のセールを開催します。</p>\n\
<p>いろはにほへと　ちりぬるを　わかよたれそ　つねならむ</p>\n",
            text: "&NAME;様\n\n\
&CITY;店で春のセールを開催します。\n\
いろはにほへと　ちりぬるを　わかよたれそ　つねならむ\n",
            in_utf8: &[],
        },
        Legacy {
            title: "Soldes d'été",
            file: encoded(
                encoding_rs::WINDOWS_1252,
                &format!("Email,Name,City\r\n{}", lines(&latin, ",", "\r\n")),
            ),
            // Read as windows-1252, as browsers do: œ is 0x9C there.
            encoding: Some("ISO-8859-1"),
            read_as: "windows-1252",
            separator: ",",
            columns: ["Email", "Name", "City"],
            people: latin,
            charset: "ISO-8859-15",
            from_name: "Boutique Été",
            subject: "Bonjour &NAME; : les soldes d'été commencent à &CITY; (-50 €)",
            html: "<p>Chère cliente, cher client &NAME;,</p>\n\
<p>les soldes d'été commencent à &CITY;.</p>\n\
<p>Ærø, Øresund, Straße, œuvre, Ÿ, 50 €.</p>\n",
            text: "Chère cliente, cher client &NAME;,\n\n\
les soldes d'été commencent à &CITY;.\n\
Ærø, Øresund, Straße, œuvre, Ÿ, 50 €.\n",
            in_utf8: &[],
        },
    ]
}

/// Files in windows-1251 (its encoding detected), ISO-8859-7, Shift_JIS and ISO-8859-1
/// are read into UTF-8 intact; messages in KOI8-R, ISO-8859-7, ISO-2022-JP and
/// ISO-8859-15 are written in those charsets and decode to exactly the merged text; a
/// recipient whose name the charset cannot hold gets the message in UTF-8.
#[tokio::test]
async fn legacy_encodings_are_converted_on_import_and_legacy_charsets_are_sent() {
    let (_dir, sink, server, anna) = start().await;
    // A byte that is not UTF-8 in a file read as UTF-8 costs its row only, and the
    // rejected rows download (UTF-8 itself) shows it as U+FFFD.
    let id = new_job(&anna, "Kaputt").await;
    let list = upload(
        &anna,
        &id,
        &[("encoding", "UTF-8")],
        b"Email,Name\nok@example.org,J\xc3\xbcrgen\nbad@example.org,J\xfcrgen\n",
    )
    .await;
    assert_eq!(
        (list["accepted"].as_i64(), list["rejected"].as_i64()),
        (Some(1), Some(1)),
        "{list}"
    );
    let accepted = csv(&anna, &format!("/jobs/{id}/recipients/accepted.csv")).await;
    assert_eq!(accepted, "Email,Name\r\nok@example.org,Jürgen\r\n");
    let rejected = csv(&anna, &format!("/jobs/{id}/recipients/rejected.csv")).await;
    assert_eq!(
        rejected,
        "line,reason,row\r\n3,holds bytes that are not valid UTF-8 text,\"bad@example.org,J\u{FFFD}rgen\"\r\n"
    );

    for job in legacy_jobs() {
        let id = new_job(&anna, job.title).await;
        let query: Vec<(&str, &str)> = job.encoding.map(|e| ("encoding", e)).into_iter().collect();

        let preview = preview_file(&anna, &id, &query, &job.file).await;
        assert_eq!(preview["encoding"], job.read_as, "{preview}");
        assert_eq!(preview["separator"], job.separator, "{preview}");
        assert_eq!(preview["columns"], json!(job.columns), "{preview}");
        for (i, (a, n, c)) in job.people.iter().enumerate() {
            assert_eq!(preview["rows"][i]["fields"], json!([a, n, c]), "{preview}");
        }
        let list = upload(&anna, &id, &query, &job.file).await;
        assert_eq!(list["columns"], json!(job.columns), "{list}");
        assert_eq!(
            (list["accepted"].as_i64(), list["rejected"].as_i64()),
            (Some(job.people.len() as i64), Some(0)),
            "{list}"
        );
        let accepted = csv(&anna, &format!("/jobs/{id}/recipients/accepted.csv")).await;
        assert_eq!(accepted, csv_rows(&job.columns.join(","), &job.people));

        let message = json!({"subject": job.subject, "from_name": job.from_name,
            "from_address": "news@shop.example", "html": job.html, "text": job.text,
            "charset": job.charset});
        let view = save_message(&anna, &id, message).await;
        assert_eq!(view["message"]["charset"], job.charset, "{view}");
        send(&anna, &id).await;
        let (_, real) = delivered(&sink, &id, job.people.len()).await;
        for r in &real {
            let person = *job.people.iter().find(|p| r.to == [p.0]).unwrap();
            let charset = if job.in_utf8.contains(&person.0) {
                "UTF-8"
            } else {
                job.charset
            };
            check_message(
                &r.content,
                &Expected {
                    to: person.0,
                    to_name: person.1,
                    from_name: job.from_name,
                    charset,
                    subject: merged(job.subject, person),
                    text: merged(job.text, person),
                    html: html_lines(job.html, person),
                },
            );
        }
        completed(&anna, &id, job.people.len()).await;
        let everybody = csv(&anna, &format!("/jobs/{id}/report/recipients.csv")).await;
        for (a, n, c) in &job.people {
            assert!(everybody.contains(&format!(",{a},{n},{c},")), "{everybody}");
        }
    }
    drop(server);
}

/// A link whose target holds non-ASCII characters, as written or merged from the
/// recipient's name, leads there: the Tracker answers with the target percent-encoded
/// (a Location header is ASCII), and the report names the link as written.
#[tokio::test]
async fn links_with_non_ascii_targets_are_followed_and_counted() {
    let (_dir, sink, server, anna) = start().await;
    let id = new_job(&anna, "リンク").await;
    let people = [PEOPLE[0], PEOPLE[1]];
    upload(
        &anna,
        &id,
        &[],
        csv_rows("Email,Name,City", &people).as_bytes(),
    )
    .await;
    let html = "<p>&NAME;様</p>\n\
<p><a href=\"https://shop.example/über-uns\">Über uns</a></p>\n\
<p><a href=\"https://shop.example/welcome?name=&NAME;\">ようこそ</a></p>\n";
    save_message(
        &anna,
        &id,
        json!({"subject": "&NAME;様", "from_address": "news@shop.example", "html": html}),
    )
    .await;
    let (_, tracking) = anna.get(&format!("/jobs/{id}/tracking")).await;
    assert_eq!(
        tracking["links"][0]["url"], "https://shop.example/über-uns",
        "{tracking}"
    );
    send(&anna, &id).await;
    let (_, real) = delivered(&sink, &id, people.len()).await;

    // Each recipient clicks both links: the one as written, and the one with their name
    // (Иван Петров's holds a space, too).
    let http = no_redirects();
    let mut answers = Vec::new();
    for r in &real {
        let person = *people.iter().find(|p| r.to == [p.0]).unwrap();
        let parsed = MessageParser::default().parse(&r.content).unwrap();
        let links = click_links(&parsed.body_html(0).unwrap());
        assert_eq!(links.len(), 2, "{links:?}");
        let targets = [
            "https://shop.example/über-uns".to_string(),
            format!("https://shop.example/welcome?name={}", person.1),
        ];
        for (link, target) in links.iter().zip(targets) {
            let r = http.get(link).send().await.unwrap();
            let location = r
                .headers()
                .get("location")
                .map(|l| String::from_utf8_lossy(l.as_bytes()).to_string());
            answers.push((r.status().as_u16(), location, target));
        }
    }
    // Each click must lead to its target, written as a URI: a Location header is ASCII.
    let wrong: Vec<String> = answers
        .iter()
        .filter(|(status, location, target)| {
            let location = location.as_deref().unwrap_or_default();
            *status != 302 || !location.is_ascii() || percent_decoded(location) != *target
        })
        .map(|(status, location, target)| {
            format!("to {target}: status {status}, Location {location:?}")
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "clicks not answered as they should be: {wrong:#?}"
    );
    let report = report_when(&anna, &id, "the clicks", |r| r["clicks"]["total"] == 4).await;
    assert_eq!(
        report["links"][0]["url"], "https://shop.example/über-uns",
        "{report}"
    );
    drop(server);
}

/// A recipient at an internationalized domain name is accepted (its key is the domain's
/// ASCII form); without SMTPUTF8 the envelope and the To header must carry the domain's
/// ASCII (A-label) form, and the report shows the address as uploaded.
#[tokio::test]
async fn an_international_domain_goes_out_in_its_ascii_form() {
    let (_dir, sink, server, anna) = start().await;
    let id = new_job(&anna, "Bücher").await;
    let list = upload(
        &anna,
        &id,
        &[],
        "Email,Name\nfrancois@bücher.example,François Müller\n".as_bytes(),
    )
    .await;
    assert_eq!(list["accepted"], 1, "{list}");
    save_message(
        &anna,
        &id,
        json!({"subject": "Grüße, &NAME;", "from_address": "news@shop.example",
            "text": "Grüße, &NAME;!\n"}),
    )
    .await;
    send(&anna, &id).await;
    let deadline = Instant::now() + DEADLINE;
    let real = loop {
        let real: Vec<Received> = sink
            .received()
            .into_iter()
            .filter(|r| job_of(r).as_deref() == Some(id.as_str()) && r.to != [TESTER])
            .collect();
        if !real.is_empty() {
            break real;
        }
        assert!(
            Instant::now() < deadline,
            "the message was not delivered; the report: {}",
            anna.get(&format!("/jobs/{id}/report")).await.1
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let m = MessageParser::default().parse(&real[0].content).unwrap();
    assert_eq!(m.subject(), Some("Grüße, François Müller"));
    let to = m.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.name(), Some("François Müller"));
    let ascii = "francois@xn--bcher-kva.example";
    let mut wrong = Vec::new();
    if real[0].to != [ascii] {
        wrong.push(format!("RCPT TO:{:?}", real[0].to));
    }
    if to.address() != Some(ascii) {
        wrong.push(format!("To: {:?}", to.address()));
    }
    if !real[0].content.is_ascii() {
        wrong.push("the message is not 7-bit ASCII".to_string());
    }
    assert!(
        wrong.is_empty(),
        "not sent to {ascii}: {wrong:#?}\n{}",
        String::from_utf8_lossy(&real[0].content)
    );
    completed(&anna, &id, 1).await;
    let everybody = csv(&anna, &format!("/jobs/{id}/report/recipients.csv")).await;
    assert!(
        everybody.contains(",francois@bücher.example,François Müller,"),
        "{everybody}"
    );
    drop(server);
}
