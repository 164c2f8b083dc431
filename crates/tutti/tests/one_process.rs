//! All four components in one `tutti serve` process.

mod support;

use nix::sys::signal::Signal;
use serde_json::json;
use support::*;
use tutti_core::Component;

/// An OpenAPI document, which anyone may read.
async fn openapi(server: &Server, path: &str) -> serde_json::Value {
    let r = reqwest::get(server.url(path))
        .await
        .expect("the component answers");
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.expect("an OpenAPI document is JSON")
}

#[tokio::test]
async fn serve_initialises_an_empty_root_and_runs_all_four_components() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let port = free_port("127.0.0.1");
    let mut server = Server::spawn(
        &root,
        &["--port", &port.to_string(), "--bind-address", "127.0.0.1"],
    );
    server.addr = ([127, 0, 0, 1], port).into();

    // Every health endpoint answers, unauthenticated, as its own component.
    let mut ids = std::collections::HashMap::new();
    for c in Component::ALL {
        let health = server.wait_healthy(c).await;
        assert_eq!(health.component, c);
        assert_eq!(health.status, "ok");
        ids.insert(c, health.instance_id);
    }
    for file in [
        "server.ini",
        "hub/hub.ini",
        "lui/lui.ini",
        "trk/tracker.ini",
        "mailer/mailer.ini",
    ] {
        assert!(root.join(file).is_file(), "serve wrote {file}");
    }

    // The User Interface's announcement is an authenticated call that crossed to the Hub.
    let secret = secret(&root);
    let base = server.base();
    let list = wait_components(&base, &secret, "all four components answering", |l| {
        Component::ALL
            .iter()
            .all(|&c| has_answering(l, c, &ids[&c], &format!("{base}{}", c.prefix())))
    })
    .await;
    assert_eq!(list.hub_instance_id, ids[&Component::Hub]);
    assert_eq!(list.components.len(), 4, "{list:#?}");

    // The component API refuses calls without the secret or with a wrong one.
    let http = reqwest::Client::new();
    let no_secret = http
        .get(server.url("/hub/api/components"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_secret.status(), 401);
    assert_eq!(
        no_secret.headers()["www-authenticate"],
        "Bearer realm=\"tutti\""
    );
    let wrong = http
        .get(server.url("/lui/api/ping"))
        .bearer_auth("this-is-not-the-cluster-secret-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("wrong ClusterSecret"),
        "{body}"
    );
    let ok = http
        .get(server.url("/trk/api/ping"))
        .bearer_auth(secret.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // An unknown path gets a 404 that says where the components are.
    let lost = http.get(server.url("/nowhere")).send().await.unwrap();
    assert_eq!(lost.status(), 404);
    assert!(
        lost.text()
            .await
            .unwrap()
            .contains("/hub, /lui, /trk, /mailer")
    );

    // The Tracker's and the Mailer's APIs are described for anyone to read; calling them
    // needs the secret.
    for (doc, paths) in [
        (
            "/trk/api/openapi.json",
            &["/jobs/{job}", "/events", "/handover"][..],
        ),
        (
            "/mailer/api/openapi.json",
            &[
                "/jobs/{job}",
                "/jobs/{job}/recipients",
                "/jobs/{job}/submit",
                "/jobs/{job}/{action}",
                "/events",
            ][..],
        ),
    ] {
        let doc_json = openapi(&server, doc).await;
        let listed: Vec<&String> = doc_json["paths"].as_object().unwrap().keys().collect();
        assert_eq!(listed.len(), paths.len(), "{doc}: {listed:?}");
        for path in paths {
            assert!(doc_json["paths"][path].is_object(), "{doc} lacks {path}");
        }
        assert_eq!(
            doc_json["components"]["securitySchemes"]["cluster_secret"]["scheme"], "bearer",
            "{doc}"
        );
    }
    // The APIs for people say how to log in, and every operation what its errors look like.
    for (doc, cookie) in [
        ("/hub/api/openapi.json", "tutti_hub_session"),
        ("/lui/api/openapi.json", "tutti_lui_session"),
    ] {
        let d = openapi(&server, doc).await;
        let schemes = &d["components"]["securitySchemes"];
        assert_eq!(schemes["session"]["in"], "cookie", "{doc}");
        assert_eq!(schemes["session"]["name"], cookie, "{doc}");
        assert_eq!(
            d["paths"]["/session"]["post"]["security"],
            json!([{}]),
            "{doc}"
        );
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with("/ErrorBody")),
                    "{doc} {method} {path}"
                );
            }
        }
    }
    let hub_doc = openapi(&server, "/hub/api/openapi.json").await;
    assert_eq!(
        hub_doc["paths"]["/registry/login"]["post"]["security"],
        json!([{"cluster_secret": []}])
    );
    let feed = http
        .get(server.url("/trk/api/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 401);
    // A body the API cannot read gets the API's error shape, not the framework's text.
    let r = http
        .post(server.url("/hub/api/session"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");

    // Pages may not be framed by another site nor kept in the browser's cache.
    for page in ["/hub/login", "/lui/login"] {
        let r = http.get(server.url(page)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        let h = r.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{page}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{page}"
        );
        assert_eq!(h["cache-control"], "no-store", "{page}");
        assert_eq!(h["referrer-policy"], "same-origin", "{page}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{page}");
    }
    // The User Interface's script is revalidated by its ETag: 304 while unchanged.
    let script = http
        .get(server.url("/lui/static/tutti.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()["cache-control"], "no-cache");
    let etag = script.headers()["etag"].clone();
    assert!(script.text().await.unwrap().contains("fetch("));
    let again = http
        .get(server.url("/lui/static/tutti.js"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);

    // SIGTERM: exit 0, and each component's log says it stopped; nothing secret logged.
    let status = server.stop();
    assert!(
        status.success(),
        "exit status {status:?}; stderr:\n{}",
        server.stderr_text()
    );
    for c in Component::ALL {
        let log = log_text(&root, c);
        assert!(log.contains("stopped"), "{c} log: {log}");
        assert!(!log.contains(secret.expose()), "{c} log shows the secret");
    }
    let hub_log = log_text(&root, Component::Hub);
    assert!(
        hub_log.contains("refused GET /hub/api/components from 127.0.0.1"),
        "{hub_log}"
    );
    assert!(
        !log_text(&root, Component::Trk).contains("refused GET /hub"),
        "refusals are logged by the refusing component"
    );
    assert!(!server.stderr_text().contains(secret.expose()));
}

#[tokio::test]
async fn sigint_also_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    init(
        dir.path(),
        &[
            "--components",
            "trk",
            "--hub-host",
            "127.0.0.1:1",
            "--port",
            &port.to_string(),
            "--bind-address",
            "127.0.0.1",
        ],
    );
    let mut server = Server::start(dir.path()).await;
    let status = server.stop_with(Signal::SIGINT);
    assert!(status.success(), "{status:?}");
}
