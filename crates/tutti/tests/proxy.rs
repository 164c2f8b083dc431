//! The reference's two proxy examples (distributed-components.txt, "Example 1" and
//! "Example 2"), with a real nginx on 127.0.0.9 in front of a Hub with the Mailer
//! (127.0.0.2), a User Interface (127.0.0.3) and a Tracker (127.0.0.4). `ExternalHostName`,
//! `ExternalHubHostName` and the Hub's Tracking URL name the proxy; everything a browser
//! or a mail reader sees goes through it: login, the pages' links, the job, the tracking
//! URLs in the delivered message, the click and the open, and the report.

#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use serde_json::json;
use support::nginx::Nginx;
use support::*;

const PROXY: &str = "127.0.0.9";

/// `host:port` under which browsers reach each component.
struct External {
    lui: String,
    hub: String,
    trk: String,
}

/// As docs/deployment.md writes it; `proxy_bind` only makes sure the proxy connects from
/// the address that TrustedProxies names, as a proxy on a machine of its own does.
fn location(to: &str) -> String {
    format!(
        "    location / {{ proxy_pass http://{to}; proxy_set_header Host $http_host; \
         proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_bind {PROXY}; }}\n"
    )
}

/// A proxy's `server` blocks, the ports it listens on, and the names browsers use, for a
/// User Interface, Hub and Tracker at these `host:port`s.
type Example = fn(&str, &str, &str) -> (String, Vec<u16>, External);

/// Example 1: one name, three ports, one per component.
fn example_1(lui: &str, hub: &str, trk: &str) -> (String, Vec<u16>, External) {
    let ports: Vec<u16> = (0..3).map(|_| free_port(PROXY)).collect();
    let mut servers = String::new();
    for (port, to) in ports.iter().zip([lui, hub, trk]) {
        servers += &format!(
            "  server {{\n    listen {PROXY}:{port};\n{}  }}\n",
            location(to)
        );
    }
    let name = "maestro.sample.test";
    let external = External {
        lui: format!("{name}:{}", ports[0]),
        hub: format!("{name}:{}", ports[1]),
        trk: format!("{name}:{}", ports[2]),
    };
    (servers, ports, external)
}

/// Example 2: three names on one port, told apart by the Host header.
fn example_2(lui: &str, hub: &str, trk: &str) -> (String, Vec<u16>, External) {
    let port = free_port(PROXY);
    let mut servers = String::new();
    for (name, to) in [
        ("lui.sample.test", lui),
        ("hub.sample.test", hub),
        ("trk.sample.test", trk),
    ] {
        servers += &format!(
            "  server {{\n    listen {PROXY}:{port};\n    server_name {name};\n{}  }}\n",
            location(to)
        );
    }
    let external = External {
        lui: format!("lui.sample.test:{port}"),
        hub: format!("hub.sample.test:{port}"),
        trk: format!("trk.sample.test:{port}"),
    };
    (servers, vec![port], external)
}

fn host_of(host_port: &str) -> &str {
    host_port.split(':').next().unwrap()
}

/// Every `http://` URL in `text`.
fn urls(text: &str) -> Vec<String> {
    text.match_indices("http://")
        .map(|(i, _)| {
            text[i..]
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | '<' | '>' | ' ' | '\n' | '\r'))
                .collect::<String>()
                .replace("&amp;", "&")
        })
        .collect()
}

async fn through_the_proxy(example: Example) {
    let dir = tempfile::tempdir().unwrap();
    let sink = start_sink().await;
    let hub = format!("127.0.0.2:{}", free_port("127.0.0.2"));
    let lui = format!("127.0.0.3:{}", free_port("127.0.0.3"));
    let trk = format!("127.0.0.4:{}", free_port("127.0.0.4"));
    let (root_hub, root_lui, root_trk) = (
        dir.path().join("hub"),
        dir.path().join("lui"),
        dir.path().join("trk"),
    );
    let port_of = |hp: &str| hp.rsplit(':').next().unwrap().to_string();
    init(
        &root_hub,
        &[
            "--components",
            "hub,mailer",
            "--bind-address",
            "127.0.0.2",
            "--port",
            &port_of(&hub),
            "--hub-host",
            &hub,
        ],
    );
    let secret_file = root_hub.join("hub/hub.ini");
    let secret_file = secret_file.to_str().unwrap();
    init(
        &root_lui,
        &[
            "--components",
            "lui",
            "--bind-address",
            "127.0.0.3",
            "--port",
            &port_of(&lui),
            "--hub-host",
            &hub,
            "--tracker-host",
            &trk,
            "--cluster-secret-file",
            secret_file,
        ],
    );
    init(
        &root_trk,
        &[
            "--components",
            "trk",
            "--bind-address",
            "127.0.0.4",
            "--port",
            &port_of(&trk),
            "--hub-host",
            &hub,
            "--cluster-secret-file",
            secret_file,
        ],
    );
    let mailer_ini = root_hub.join("mailer/mailer.ini");
    set_key(
        &mailer_ini,
        "SmtpRelays",
        &format!("127.0.0.1:{}", sink.addr.port()),
    );
    set_key(&mailer_ini, "DistributeClients", "lui@shop.example");
    set_key(&mailer_ini, "DistributePassword", "distribute-pw");

    let (servers, ports, ext) = example(&lui, &hub, &trk);
    let lui_ini = root_lui.join("lui/lui.ini");
    set_key(&lui_ini, "ExternalHostName", &ext.lui);
    set_key(&lui_ini, "ExternalHubHostName", &ext.hub);
    set_key(&lui_ini, "TrustedProxies", PROXY);
    set_key(&root_hub.join("hub/hub.ini"), "TrustedProxies", PROXY);
    let listens: Vec<(&str, u16)> = ports.iter().map(|p| (PROXY, *p)).collect();
    let nginx = Nginx::start(dir.path(), &servers, &listens);
    let _servers = [
        Server::start(&root_hub).await,
        Server::start(&root_trk).await,
        Server::start(&root_lui).await,
    ];

    // A browser that knows the proxy's names (and nothing else).
    let proxy: SocketAddr = format!("{PROXY}:0").parse().unwrap();
    let client = || {
        let mut b = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none());
        for name in [&ext.lui, &ext.hub, &ext.trk] {
            b = b.resolve(host_of(name), proxy);
        }
        b.build().unwrap()
    };

    // The administrator's first use, through the proxy.
    let mut admin = HubApi::with_client(client(), &format!("http://{}", ext.hub), "/hub");
    let setup = setup_password(&root_hub);
    assert_eq!(admin.login(json!({"password": setup})).await.0, 200);
    let (status, body) = admin
        .send(
            reqwest::Method::POST,
            "/admin/password",
            Some(json!({"old_password": setup, "new_password": "new-admin-pw"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (trk_host, trk_port) = ext.trk.split_once(':').unwrap();
    let settings = json!({
        "mailer": {"host": hub, "client_address": "lui@shop.example", "client_password": "distribute-pw"},
        "tracking": {"scheme": "http", "host": trk_host, "port": trk_port.parse::<u16>().unwrap()},
    });
    let (status, body) = admin.put("/settings/global", settings).await;
    assert_eq!(status, 200, "{body}");
    let (_, mut components) = admin.get("/settings/components").await;
    components["event_transfer_seconds"] = json!(1);
    components["lui_url"] = json!(ext.lui);
    let (status, body) = admin.put("/settings/components", components).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(admin.post("/groups", json!({"name": "Sales"})).await.0, 201);
    let (status, body) = admin
        .post(
            "/accounts",
            json!({"user_name": "anna", "group_name": "Sales", "password": "anna-password"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The pages link to each other by their external names; redirects stay relative.
    let page = |url: String| {
        let http = admin.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (
                r.status().as_u16(),
                r.headers().clone(),
                r.text().await.unwrap(),
            )
        }
    };
    let (status, _, overview) = page(format!("http://{}/hub", ext.hub)).await;
    assert_eq!(status, 200);
    assert!(
        overview.contains(&format!("href=\"http://{}/lui\"", ext.lui)),
        "the Hub links to the User Interface by its external name: {overview}"
    );
    let (status, _, login) = page(format!("http://{}/lui/login", ext.lui)).await;
    assert_eq!(status, 200);
    assert!(
        login.contains(&format!("href=\"http://{}/hub\"", ext.hub)),
        "the User Interface links to the Hub by ExternalHubHostName: {login}"
    );
    let (status, headers, _) = page(format!("http://{}/lui", ext.lui)).await;
    assert_eq!(status, 303, "no session: to the login page");
    assert_eq!(headers["location"], "/lui/login");
    let (_, _, doc) = page(format!("http://{}/lui/api/openapi.json", ext.lui)).await;
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(
        doc["servers"][0]["url"],
        format!("http://{}/lui/api", ext.lui)
    );

    // A job, sent through the proxy.
    let mut anna = HubApi::with_client(client(), &format!("http://{}", ext.lui), "/lui");
    let (status, body) = anna
        .login(json!({"user_name": "anna", "group_name": "Sales", "password": "anna-password"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, job) = anna
        .post("/jobs", json!({"title": "Behind the proxy"}))
        .await;
    let id = job["id"].as_str().unwrap().to_string();
    upload_recipients(
        &anna,
        &id,
        "Email,NAME\nann@example.org,Ann\nbob@example.org,Bob\n",
    )
    .await;
    let message = json!({"subject": "Hi &NAME;", "from_address": "news@shop.example",
        "html": "<p>Hi &NAME;</p><a href=\"https://shop.example/sale\">Sale</a>",
        "text": "Hi &NAME;, see https://shop.example/sale"});
    send_job(&anna, &id, message).await;
    wait_delivered(&sink, 3).await;

    // Every URL in the delivered message names the proxy, never a server behind it.
    let received = sink.received();
    let ann = received
        .iter()
        .find(|m| m.to.iter().any(|r| r == "ann@example.org"))
        .unwrap();
    let parsed = MessageParser::default().parse(&ann.content).unwrap();
    let html = parsed.body_html(0).unwrap().to_string();
    let text = parsed.body_text(0).unwrap().to_string();
    let unsubscribe = parsed
        .header_raw("List-Unsubscribe")
        .unwrap_or_default()
        .to_string();
    let all: Vec<String> = [&html, &text, &unsubscribe]
        .iter()
        .flat_map(|t| urls(t))
        .collect();
    assert!(all.len() >= 3, "click, open, unsubscribe links: {all:?}");
    for url in &all {
        assert!(
            url.starts_with(&format!("http://{}/trk/", ext.trk)),
            "{url} does not go through the proxy's Tracker name"
        );
    }
    let click = urls(&html)
        .into_iter()
        .find(|u| u.contains("/trk/click"))
        .unwrap();
    let open = urls(&html)
        .into_iter()
        .find(|u| u.contains("/trk/open"))
        .unwrap();

    // The mail reader's click and open, through the proxy.
    let reader = client();
    let r = reader
        .get(&click)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers()["location"], "https://shop.example/sale");
    let r = reader
        .get(&open)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Thunderbird/128.0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    assert!(nginx.access_log().contains("/trk/click?ref="));

    // The report, through the proxy, counts them.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, report) = anna
            .get(&format!("/jobs/{id}/report?people_only=false"))
            .await;
        assert_eq!(status, 200, "{report}");
        // Delivery results come from the Mailer's feed, clicks and opens from the
        // Tracker's: either may arrive first.
        if report["clicks"]["total"] == 1
            && report["opens"]["total"].as_i64() >= Some(1)
            && report["sent"] == 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the events did not reach the report: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn example_1_one_proxy_name_a_port_per_component() {
    through_the_proxy(example_1).await;
}

#[tokio::test]
async fn example_2_three_names_on_one_proxy_port() {
    through_the_proxy(example_2).await;
}

/// Behind the proxy (TrustedProxies), the login limits count the person's address, which
/// the proxy appends to X-Forwarded-For, not the proxy's: the guesser is stopped, the owner
/// at another address is not, and an X-Forwarded-For the guesser writes himself (through
/// the proxy, or straight to the Hub) changes nothing.
#[tokio::test]
async fn login_limits_count_the_person_behind_the_proxy_not_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hub");
    let hub_port = free_port("127.0.0.2");
    init(
        &root,
        &[
            "--components",
            "hub",
            "--bind-address",
            "127.0.0.2",
            "--port",
            &hub_port.to_string(),
        ],
    );
    set_key(&root.join("hub/hub.ini"), "TrustedProxies", PROXY);
    let port = free_port(PROXY);
    let servers = format!(
        "  server {{\n    listen {PROXY}:{port};\n{}  }}\n",
        location(&format!("127.0.0.2:{hub_port}"))
    );
    let _nginx = Nginx::start(dir.path(), &servers, &[(PROXY, port)]);
    let hub = Server::start(&root).await;
    let admin = HubApi::first_use(&hub, "new-admin-pw").await;
    assert_eq!(
        admin
            .post(
                "/accounts",
                json!({"user_name": "anna", "password": "anna-password"})
            )
            .await
            .0,
        201
    );
    let proxied = format!("http://{PROXY}:{port}/hub/api/session");
    let login = |from: &str, to: &str, forged: &str, password: &str| {
        let request = client_from(from)
            .post(to)
            .header("x-forwarded-for", forged)
            .json(&json!({"user_name": "anna", "password": password}));
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    for i in 0..5 {
        // A different forged address each time, in front of the one the proxy appends.
        let forged = format!("203.0.113.{i}");
        assert_eq!(
            login("127.0.0.3", &proxied, &forged, "guess-guess").await.0,
            401
        );
    }
    let (status, body) = login("127.0.0.3", &proxied, "127.0.0.4", "anna-password").await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("from your address"), "{body}");
    // Straight to the Hub, the guesser's header is not believed either.
    let direct = hub.url("/hub/api/session");
    let (status, body) = login("127.0.0.3", &direct, "127.0.0.4", "anna-password").await;
    assert_eq!(status, 429, "{body}");
    // Anna, through the same proxy from her own address, is not locked out.
    let (status, body) = login("127.0.0.4", &proxied, "192.0.2.1", "anna-password").await;
    assert_eq!(status, 200, "{body}");
}
