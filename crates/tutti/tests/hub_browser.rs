//! The Hub's first-use flow in a real browser (headless Chromium through WebDriver): log in
//! with the one-time setup password, the forced password change, creating a user.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn first_use_in_a_browser_login_forced_change_create_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let hub = start_hub(dir.path()).await;
    let browser = Browser::start().await;
    let b = &browser;

    // Any console page leads to the login first.
    b.client.goto(&hub.url("/hub/accounts")).await.unwrap();
    b.wait_for_text("Administrator login").await;
    // The login page says where the one-time setup password is.
    b.wait_for_text("hub/accountreg/setup-password").await;
    let setup = setup_password(dir.path());
    b.fill("password", &setup).await;
    b.click("#login").await;

    // The setup password must be changed before anything else.
    b.wait_for_text("still uses its one-time setup password")
        .await;
    b.client.goto(&hub.url("/hub/accounts")).await.unwrap();
    b.wait_for_text("still uses its one-time setup password")
        .await;
    // Eight spaces pass the page's minlength, but are no password.
    b.fill("old_password", &setup).await;
    b.fill("new_password", "        ").await;
    b.fill("confirm", "        ").await;
    b.click("#save-password").await;
    b.wait_for_text(
        "New password: it is only spaces; a password needs at least 8 other characters",
    )
    .await;
    b.fill("old_password", &setup).await;
    b.fill("new_password", "browser-pw-1").await;
    b.fill("confirm", "browser-pw-2").await;
    b.click("#save-password").await;
    b.wait_for_text("the two new passwords differ").await;
    b.fill("old_password", &setup).await;
    b.fill("new_password", "browser-pw-1").await;
    b.fill("confirm", "browser-pw-1").await;
    b.click("#save-password").await;
    b.wait_for_text("The administrator password is changed.")
        .await;
    b.screenshot("hub-overview").await;

    // Create a group, then a user in it.
    b.client.goto(&hub.url("/hub/groups")).await.unwrap();
    b.fill("name", "Marketing").await;
    b.click("#create-group").await;
    b.wait_for_text("Marketing").await;
    b.client.goto(&hub.url("/hub/accounts")).await.unwrap();
    b.click("#new-account").await;
    b.wait_for_text("New account").await;
    b.fill("user_name", "Maria").await;
    b.client
        .find(fantoccini::Locator::Css(
            "#group_name option[value='Marketing']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.fill("password", "maria-password").await;
    b.fill("confirm", "maria-passwort").await;
    b.click("#save-account").await;
    b.wait_for_text("the two passwords differ").await;
    b.fill("password", "maria-password").await;
    b.fill("confirm", "maria-password").await;
    b.click("#save-account").await;
    b.wait_for_text("Created.").await;
    b.screenshot("hub-account").await;
    b.client.goto(&hub.url("/hub/accounts")).await.unwrap();
    let page = b.wait_for_text("Maria").await;
    assert!(page.contains("Marketing"));

    // The tracking URL's host: a path is refused, naming the field and quoting what was
    // typed; a scheme typed in front goes to the protocol and the host is stored bare.
    b.client.goto(&hub.url("/hub/settings")).await.unwrap();
    b.fill("tracking_host", "http://localhost/x").await;
    b.fill("tracking_port", "18180").await;
    b.click("#save-settings").await;
    // (The browser's page source shows the text's quotes unescaped.)
    b.wait_for_text(
        "Tracker host: \"http://localhost/x\" has a path (/x); give only the host name",
    )
    .await;
    b.fill("tracking_host", "http://localhost").await;
    b.fill("tracking_port", "18180").await;
    b.click_and_wait_for_reload("#save-settings").await;
    b.wait_for_text("Saved.").await;
    let host = b
        .client
        .find(fantoccini::Locator::Id("tracking_host"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(host.as_deref(), Some("localhost"));
    browser.close().await;

    // The account is real: the Hub's registry API checks its login.
    let (status, info) = registry_post(
        &hub.base(),
        &secret(dir.path()),
        "/login",
        json!({"user_name": "maria", "group_name": "marketing", "password": "maria-password"}),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        info["rights"].as_array().unwrap().len(),
        8,
        "new accounts get every right"
    );
    assert_eq!(
        info["settings"]["tracking"]["value"],
        json!({"scheme": "http", "host": "localhost", "port": 18180}),
        "{info}"
    );
}
