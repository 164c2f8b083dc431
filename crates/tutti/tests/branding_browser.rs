//! Branding in a real browser (headless Chromium through WebDriver): company name, header
//! text, logo and header colour from `hub/branding` and `lui/branding` on the login pages
//! and on a page after login; and wrong values that leave the pages working with defaults.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::Locator;
use support::*;
use tutti_core::Component;

/// A 1×1 PNG.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" viewBox="0 0 40 20"><rect width="40" height="20" fill="#f5b700"/></svg>"##;

/// Writes `ROOT/{component}/branding/branding.ini` and the files beside it.
fn brand(root: &Path, component: Component, ini: &str, files: &[(&str, Vec<u8>)]) {
    let path = tutti_core::branding::file(root, component);
    let folder = path.parent().unwrap();
    std::fs::create_dir_all(folder).unwrap();
    std::fs::write(&path, ini).unwrap();
    for (name, bytes) in files {
        std::fs::write(folder.join(name), bytes).unwrap();
    }
}

/// An installation of all four components on 127.0.0.1 made with `tutti init`, not yet
/// started (branding is read at start).
fn new_root(root: &Path) {
    let port = free_port("127.0.0.1");
    init(
        root,
        &["--bind-address", "127.0.0.1", "--port", &port.to_string()],
    );
}

/// The administrator password becomes `new-admin-pw`; user `maria` in group Sales.
async fn people(server: &Server) {
    let admin = HubApi::first_use(server, "new-admin-pw").await;
    let (status, body) = admin
        .post("/groups", serde_json::json!({"name": "Sales"}))
        .await;
    assert_eq!(status, 201, "{body}");
    sender(server, "maria").await;
}

/// Runs `script` (which returns a value) until `ok` holds for its result, with a deadline.
async fn poll_js(b: &Browser, script: &str, ok: impl Fn(&serde_json::Value) -> bool) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let value = b
            .client
            .execute(script, vec![])
            .await
            .unwrap_or(serde_json::Value::Null);
        if ok(&value) {
            return value.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{script} never gave what was expected; last: {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The header's computed background colour, e.g. `rgb(18, 52, 86)`.
async fn header_background(b: &Browser) -> String {
    b.client
        .execute(
            "return getComputedStyle(document.querySelector('header')).backgroundColor;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// What a branded page must show: the company name (also in the title), the header text,
/// a logo that loaded, and the header's background colour.
async fn shows_branding(b: &Browser, company: &str, title_end: &str, text: &str, rgb: &str) {
    let name = b
        .client
        .wait()
        .at_most(DEADLINE)
        .for_element(Locator::Id("brand-name"))
        .await
        .unwrap();
    assert!(name.is_displayed().await.unwrap());
    assert!(name.text().await.unwrap().contains(company));
    let header_text = b.client.find(Locator::Id("brand-text")).await.unwrap();
    assert!(header_text.is_displayed().await.unwrap());
    assert_eq!(header_text.text().await.unwrap(), text);
    let title = b.client.title().await.unwrap();
    assert!(title.ends_with(title_end), "title {title:?}");
    poll_js(
        b,
        "const i = document.getElementById('brand-logo'); return i && i.complete ? i.naturalWidth : 0;",
        |v| v.as_u64().is_some_and(|w| w > 0),
    )
    .await;
    assert_eq!(header_background(b).await, rgb);
}

#[tokio::test]
async fn branding_on_the_login_pages_and_after_login_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    new_root(&root);
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG_BASE64)
        .unwrap();
    brand(
        &root,
        Component::Hub,
        "CompanyName=Acme <Admin>\nHeaderText=Operations & accounts\nHeaderBackground=#123456\nHeaderForeground=#fefefe\nLogo=logo.svg\n",
        &[("logo.svg", SVG.as_bytes().to_vec())],
    );
    brand(
        &root,
        Component::Lui,
        "CompanyName=Acme Mail\nHeaderText=Newsletter desk\nPrimaryColor=#0B5394\nLogo=acme.png\n",
        &[("acme.png", png.clone())],
    );
    let server = Server::start(&root).await;
    people(&server).await;

    // The logos are public, with their type and caching headers.
    let http = reqwest::Client::new();
    let r = http
        .get(server.url("/lui/branding/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = r.headers()["etag"].clone();
    assert_eq!(r.bytes().await.unwrap(), png);
    let again = http
        .get(server.url("/lui/branding/logo"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let r = http
        .get(server.url("/hub/branding/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");

    let browser = Browser::start().await;
    let b = &browser;

    // The Hub's login page, then its overview.
    b.client.goto(&server.url("/hub/login")).await.unwrap();
    let page = b.wait_for_text("Administrator login").await;
    assert!(
        page.contains("Acme &lt;Admin&gt;"),
        "the name is escaped: {page}"
    );
    shows_branding(
        b,
        "Acme <Admin>",
        "· Acme <Admin> Administration Hub",
        "Operations & accounts",
        "rgb(18, 52, 86)",
    )
    .await;
    let fg = b
        .client
        .execute(
            "return getComputedStyle(document.querySelector('header')).color;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fg, "rgb(254, 254, 254)");
    b.screenshot("branding-hub-login").await;
    b.fill("password", "new-admin-pw").await;
    b.click("#login").await;
    b.wait_for_text("Audit log").await;
    shows_branding(
        b,
        "Acme <Admin>",
        "· Acme <Admin> Administration Hub",
        "Operations & accounts",
        "rgb(18, 52, 86)",
    )
    .await;

    // The User Interface's login page, then the job list. PrimaryColor colours the header
    // when HeaderBackground is not set.
    b.client.goto(&server.url("/lui/login")).await.unwrap();
    b.wait_for_text("User name").await;
    shows_branding(
        b,
        "Acme Mail",
        "Log in · Acme Mail",
        "Newsletter desk",
        "rgb(11, 83, 148)",
    )
    .await;
    b.screenshot("branding-lui-login").await;
    b.fill("user_name", "maria").await;
    b.fill("group_name", "Sales").await;
    b.fill("password", "maria-password").await;
    b.click("#login").await;
    b.wait_for_text("New job").await;
    shows_branding(
        b,
        "Acme Mail",
        "Jobs · Acme Mail",
        "Newsletter desk",
        "rgb(11, 83, 148)",
    )
    .await;
    // Buttons take the primary colour too.
    let button = b
        .client
        .execute(
            "return getComputedStyle(document.querySelector('#create')).backgroundColor;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(button, "rgb(11, 83, 148)");
    b.screenshot("branding-lui-jobs").await;
    browser.close().await;
}

#[tokio::test]
async fn wrong_branding_values_leave_the_pages_working_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    new_root(&root);
    brand(
        &root,
        Component::Hub,
        "PrimaryColor=red;}</style><script>alert(1)</script>\nLogo=missing.png\nCompanyName=Acme Admin\n",
        &[],
    );
    let too_big = [
        base64::engine::general_purpose::STANDARD
            .decode(PNG_BASE64)
            .unwrap(),
        vec![0; 600 * 1024],
    ]
    .concat();
    brand(
        &root,
        Component::Lui,
        "HeaderBackground=blue\nLogo=big.png\nHeaderText=Newsletter desk\n",
        &[("big.png", too_big)],
    );

    // `tutti check` names file, line and key.
    let check = run("check", &root);
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(
        out.contains("hub/branding/branding.ini, line 1: PrimaryColor: \"red;}</style>"),
        "{out}"
    );
    assert!(
        out.contains("lui/branding/branding.ini, line 2: Logo: the file")
            && out.contains("is larger than 512 kB"),
        "{out}"
    );

    let server = Server::start(&root).await;
    // The components log the same warnings.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let hub_log = log_text(&root, Component::Hub);
        let lui_log = log_text(&root, Component::Lui);
        if hub_log.contains("hub/branding/branding.ini, line 2: Logo: the file")
            && hub_log.contains("does not exist; no logo is shown")
            && lui_log.contains("lui/branding/branding.ini, line 1: HeaderBackground: \"blue\"")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "warnings not logged:\n{hub_log}\n{lui_log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = reqwest::get(server.url("/hub/branding/logo"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let browser = Browser::start().await;
    let b = &browser;
    b.client.goto(&server.url("/hub/login")).await.unwrap();
    let page = b.wait_for_text("Administrator login").await;
    assert!(!page.contains("alert(1)"), "{page}");
    assert!(!page.contains("brand-logo"), "{page}");
    assert_eq!(
        b.client.title().await.unwrap(),
        "Log in · Acme Admin Administration Hub"
    );
    // The Hub's own accent colour.
    assert_eq!(header_background(b).await, "rgb(36, 84, 166)");

    b.client.goto(&server.url("/lui/login")).await.unwrap();
    let page = b.wait_for_text("User name").await;
    assert!(!page.contains("brand-logo"), "{page}");
    assert!(page.contains("Newsletter desk"));
    assert_eq!(b.client.title().await.unwrap(), "Log in · Tutti");
    // The User Interface's own accent colour.
    assert_eq!(header_background(b).await, "rgb(31, 111, 92)");
    browser.close().await;
}
