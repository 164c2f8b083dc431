//! What a job is made of, over a real process: whatever a job takes at send time (drop-ins
//! edited in the library, above all) cannot go out untested or unauthorized, and drop-ins
//! that include drop-ins cannot multiply a message without limit.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn a_drop_in_edited_after_the_test_voids_the_test_and_the_authorization() {
    let sink = start_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start_sending_installation(&dir.path().join("root"), sink.addr.port(), &[]).await;
    let anna = sender(&server, "anna").await;
    let (status, footer) = anna
        .post(
            "/dropins",
            json!({"name": "footer", "content": "<p>Tested footer</p>"}),
        )
        .await;
    assert_eq!(status, 201, "{footer}");
    let (_, job) = anna.post("/jobs", json!({"title": "Drop-in"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(&anna, &id, "email\nbob@example.org\n").await;
    let message = json!({"subject": "Hi", "from_address": "news@shop.example", "html": "<p>Hello</p>{{footer}}"});
    let (status, view) = anna.put(&format!("/jobs/{id}/message"), message).await;
    assert_eq!((status, &view["problems"]), (200, &json!([])), "{view}");
    let to_me = json!({"addresses": ["me@shop.example"]});
    assert_eq!(
        anna.post(&format!("/jobs/{id}/test"), to_me.clone())
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

    // Someone edits the drop-in in the library after the authorization.
    let (status, _) = anna
        .put(
            &format!("/dropins/{}", footer["id"]),
            json!({"name": "footer", "content": "<p>Untested footer</p>"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = anna.post(&format!("/jobs/{id}/send"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("changed since its test"),
        "{body}"
    );
    let (_, job) = anna.get(&format!("/jobs/{id}")).await;
    assert_eq!(job["state"], "open", "{job}");
    // Authorizing again is not enough: the test is void too.
    let (status, _) = anna.post(&format!("/jobs/{id}/authorize"), json!({})).await;
    assert_eq!(status, 409);

    // Tested and authorized again, it goes out with the footer that was tested.
    assert_eq!(anna.post(&format!("/jobs/{id}/test"), to_me).await.0, 200);
    // The same happens between the test and the authorization.
    let (status, _) = anna
        .put(
            &format!("/dropins/{}", footer["id"]),
            json!({"name": "footer", "content": "<p>Final footer</p>"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = anna.post(&format!("/jobs/{id}/authorize"), json!({})).await;
    assert_eq!(status, 409, "{body}");
    let to_me = json!({"addresses": ["me@shop.example"]});
    assert_eq!(anna.post(&format!("/jobs/{id}/test"), to_me).await.0, 200);
    assert_eq!(
        anna.post(&format!("/jobs/{id}/authorize"), json!({}))
            .await
            .0,
        200
    );
    let (status, body) = anna.post(&format!("/jobs/{id}/send"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    // Three tests and the job itself.
    wait_delivered(&sink, 4).await;
    let sent = sink
        .received()
        .into_iter()
        .find(|m| m.to == ["bob@example.org"])
        .unwrap();
    let text = String::from_utf8_lossy(&sent.content);
    assert!(
        text.contains("Final footer") && !text.contains("Untested"),
        "{text}"
    );
}

#[tokio::test]
async fn drop_ins_that_multiply_are_refused_by_the_check_and_nothing_falls_over() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_sending_installation(&dir.path().join("root"), 9, &[]).await;
    let anna = sender(&server, "anna").await;
    // Each level includes the next eight times: ten levels would be a gigabyte of "x".
    for level in 0..10 {
        let content = format!("{{{{d{}}}}}", level + 1).repeat(8);
        let (status, body) = anna
            .post(
                "/dropins",
                json!({"name": format!("d{level}"), "content": content}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(
        anna.post("/dropins", json!({"name": "d10", "content": "x"}))
            .await
            .0,
        201
    );
    let (_, job) = anna.post("/jobs", json!({"title": "Bomb"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(&anna, &id, "email\nbob@example.org\n").await;
    let message =
        json!({"subject": "Hi", "from_address": "news@shop.example", "html": "<p>{{d0}}</p>"});
    let started = std::time::Instant::now();
    let (status, view) = anna.put(&format!("/jobs/{id}/message"), message).await;
    assert_eq!(status, 200, "saved, with the problem named: {view}");
    let problem = view["problems"][0]["message"].as_str().unwrap_or_default();
    assert!(
        problem.contains("d0 → d1 → d2") && problem.contains("MiB"),
        "{view}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let (status, body) = anna
        .post(
            &format!("/jobs/{id}/test"),
            json!({"addresses": ["me@shop.example"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let health = reqwest::get(server.url("/trk/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn an_attachment_content_type_cannot_inject_mime_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_sending_installation(&dir.path().join("root"), 9, &[]).await;
    let anna = sender(&server, "anna").await;
    let (_, job) = anna.post("/jobs", json!({"title": "Files"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    let put = |name: &str, content_type: Option<&str>| {
        let mut request = anna
            .http
            .put(format!("{}/jobs/{id}/attachments/{name}", anna.base))
            .header("x-csrf-token", &anna.csrf)
            .body(vec![0x89, b'P', b'N', b'G']);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        async move {
            let r = request.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    for injected in [
        "image/png; name=\"invoice.exe\"",
        "image/png;x=y",
        "image/png (comment)",
        "image",
    ] {
        let (status, body) = put("logo.png", Some(injected)).await;
        assert_eq!(status, 400, "{injected}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("logo.png: the Content-Type must be a bare type/subtype"),
            "{body}"
        );
    }
    let (status, view) = put("logo.png", Some("image/png")).await;
    assert_eq!(status, 200, "{view}");
    let (status, view) = put("data.bin", None).await;
    assert_eq!(status, 200, "{view}");
    let types: Vec<&str> = view["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["content_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["application/octet-stream", "image/png"], "{view}");
}

#[tokio::test]
async fn names_with_invisible_or_bidirectional_characters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_sending_installation(&dir.path().join("root"), 9, &[]).await;
    let anna = sender(&server, "anna").await;
    for (path, body) in [
        ("/jobs", json!({"title": "Spring\u{200B}sale"})),
        (
            "/jobs",
            json!({"title": "Spring", "folder": "\u{202E}2024"}),
        ),
        (
            "/dropins",
            json!({"name": "foot\u{2060}er", "content": "x"}),
        ),
    ] {
        let (status, answer) = anna.post(path, body.clone()).await;
        assert_eq!(status, 400, "{path} {body} → {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("it contains an invisible, control or text-direction character"),
            "{path} {body} → {answer}"
        );
    }
    assert_eq!(
        anna.post("/jobs", json!({"title": "Spring sale – 日本"}))
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn a_jobs_event_counts_need_the_right_to_view_reports() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_sending_installation(&dir.path().join("root"), 9, &[]).await;
    let anna = sender(&server, "anna").await;
    let mut admin = HubApi::new(&server.base());
    admin.login(json!({"password": "new-admin-pw"})).await;
    let (status, body) = admin
        .post(
            "/accounts",
            json!({"user_name": "kim", "group_name": "Sales", "password": "kim-password", "rights": ["create_jobs"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut kim = HubApi::at(&server.base(), "/lui");
    let (status, body) = kim
        .login(json!({"user_name": "kim", "group_name": "Sales", "password": "kim-password"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, job) = kim.post("/jobs", json!({"title": "Kim's"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    // Her own job, but no right to its figures: the counts are refused as the report is.
    let (status, body) = kim.get(&format!("/jobs/{id}/report")).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = kim.get(&format!("/jobs/{id}/events")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "your account may not view reports", "{body}");
    // Someone who may view reports but not see the job learns nothing either.
    assert_eq!(anna.get(&format!("/jobs/{id}/events")).await.0, 404);
    let (_, own) = anna.post("/jobs", json!({"title": "Anna's"})).await;
    let (status, body) = anna
        .get(&format!("/jobs/{}/events", own["id"].as_str().unwrap()))
        .await;
    assert_eq!((status, body), (200, json!([])));
}

#[tokio::test]
async fn test_addresses_pass_the_check_uploaded_addresses_pass() {
    let sink = start_sink().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start_sending_installation(&dir.path().join("root"), sink.addr.port(), &[]).await;
    let anna = sender(&server, "anna").await;
    let (_, job) = anna.post("/jobs", json!({"title": "Literal"})).await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(&anna, &id, "email\nbob@example.org\n").await;
    let message =
        json!({"subject": "Hi", "from_address": "news@shop.example", "html": "<p>Hello</p>"});
    let (status, view) = anna.put(&format!("/jobs/{id}/message"), message).await;
    assert_eq!((status, &view["problems"]), (200, &json!([])), "{view}");
    for refused in [
        "user@[127.0.0.1]",
        "user@[IPv6:::1]",
        "Ann <ann@shop.example>",
        "ann@shop.123",
    ] {
        let (status, body) = anna
            .post(&format!("/jobs/{id}/test"), json!({"addresses": [refused]}))
            .await;
        assert_eq!(status, 400, "{refused}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("is not an e-mail address"),
            "{body}"
        );
    }
    let (status, body) = anna
        .post(
            &format!("/jobs/{id}/test"),
            json!({"addresses": [" Me@Shop.Example "]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_delivered(&sink, 1).await;
}
