//! The client against the sink: pipelined batches, per-recipient faults, TLS, outages.
#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use std::sync::Arc;

use tutti_smtp::server::ServerConfig;
use tutti_smtp::sink::{Sink, Stage};
use tutti_smtp::{Connection, Outcome, Outgoing, RelayConfig, Reply, Security};

fn message(n: usize) -> Vec<u8> {
    format!("From: a@x.example\r\nTo: r{n}@y.example\r\nSubject: {n}\r\n\r\n.a line with a dot\r\n..two\r\nend {n}\r\n").into_bytes()
}

async fn sink(pipelining: bool) -> Sink {
    let mut config = ServerConfig::new("sink.test");
    config.pipelining = pipelining;
    Sink::start("127.0.0.1:0".parse().unwrap(), config, true)
        .await
        .unwrap()
}

fn relay(sink: &Sink) -> RelayConfig {
    RelayConfig::new("127.0.0.1", sink.addr.port())
}

fn code(o: &Outcome) -> (char, u16) {
    match o {
        Outcome::Accepted(r) => ('A', r.code),
        Outcome::Deferred(r) => ('D', r.code),
        Outcome::Rejected(r) => ('R', r.code),
    }
}

#[tokio::test]
async fn a_pipelined_batch_arrives_whole_and_in_order() {
    let sink = sink(true).await;
    let mut conn = Connection::open(&relay(&sink)).await.unwrap();
    assert!(conn.pipelining());
    let contents: Vec<Vec<u8>> = (0..50).map(message).collect();
    let tos: Vec<String> = (0..50).map(|n| format!("r{n}@y.example")).collect();
    let tos: Vec<[&str; 1]> = tos.iter().map(|t| [t.as_str()]).collect();
    let batch: Vec<Outgoing> = (0..50)
        .map(|n| Outgoing {
            from: "bounce+1@x.example",
            to: &tos[n],
            content: &contents[n],
        })
        .collect();
    let (results, error) = conn.send_all(&batch).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(results.len(), 50);
    assert!(
        results
            .iter()
            .all(|r| matches!(r[..], [Outcome::Accepted(_)]))
    );
    conn.quit().await;
    let received = sink.received();
    assert_eq!(received.len(), 50);
    for (n, r) in received.iter().enumerate() {
        assert_eq!(r.to, vec![format!("r{n}@y.example")]);
        assert_eq!(r.content, contents[n], "dot-stuffing undone exactly");
        assert_eq!(r.from, "bounce+1@x.example");
    }
}

#[tokio::test]
async fn each_recipient_gets_its_own_fate_with_and_without_pipelining() {
    for pipelining in [true, false] {
        let sink = sink(pipelining).await;
        sink.script(
            Stage::Rcpt,
            "gone@y.example",
            vec![Reply::local(550, "5.1.1 no such user")],
        );
        sink.script(
            Stage::Rcpt,
            "later@y.example",
            vec![Reply::local(450, "4.2.1 try later")],
        );
        sink.script(
            Stage::Rcpt,
            "busy@y.example",
            vec![Reply::local(421, "4.7.0 too many")],
        );
        sink.script(
            Stage::Data,
            "full@y.example",
            vec![Reply::local(552, "5.2.2 mailbox full")],
        );
        let mut conn = Connection::open(&relay(&sink)).await.unwrap();
        assert_eq!(conn.pipelining(), pipelining);
        let content = message(1);
        let groups: Vec<Vec<&str>> = vec![
            vec!["ok@y.example"],
            vec!["gone@y.example"],
            vec!["later@y.example", "ok2@y.example"],
            vec!["busy@y.example"],
            vec!["full@y.example"],
            vec!["gone@y.example", "later@y.example"],
            vec!["last@y.example"],
        ];
        let batch: Vec<Outgoing> = groups
            .iter()
            .map(|to| Outgoing {
                from: "b@x.example",
                to,
                content: &content,
            })
            .collect();
        let (results, error) = conn.send_all(&batch).await;
        assert!(error.is_none(), "{error:?}");
        let got: Vec<Vec<(char, u16)>> = results
            .iter()
            .map(|r| r.iter().map(code).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec![('A', 250)],
                vec![('R', 550)],
                vec![('D', 450), ('A', 250)],
                vec![('D', 421)],
                vec![('R', 552)],
                vec![('R', 550), ('D', 450)],
                vec![('A', 250)],
            ],
            "pipelining {pipelining}"
        );
        if let Outcome::Rejected(r) = &results[1][0] {
            assert_eq!(
                r.to_string(),
                "550 5.1.1 no such user",
                "the server's reply is kept"
            );
        }
        let delivered: Vec<Vec<String>> = sink.received().into_iter().map(|r| r.to).collect();
        assert_eq!(
            delivered,
            vec![
                vec!["ok@y.example".to_string()],
                vec!["ok2@y.example".to_string()],
                vec!["last@y.example".to_string()]
            ]
        );
    }
}

#[tokio::test]
async fn a_relay_that_is_down_or_goes_down_is_an_error_not_a_loss() {
    let mut sink = sink(true).await;
    let config = relay(&sink);
    let mut conn = Connection::open(&config).await.unwrap();
    let content = message(1);
    let to = ["a@y.example"];
    let one = [Outgoing {
        from: "b@x.example",
        to: &to,
        content: &content,
    }];
    assert!(conn.send_all(&one).await.1.is_none());
    sink.stop().await;
    let (results, error) = conn.send_all(&one).await;
    assert!(results.is_empty());
    let error = error.unwrap();
    assert!(error.reply().is_transient(), "an outage defers: {error}");
    let refused = Connection::open(&config).await.err().unwrap();
    assert!(
        refused.to_string().contains("cannot connect to 127.0.0.1"),
        "{refused}"
    );
    sink.restart(ServerConfig::new("sink.test")).await.unwrap();
    let mut again = Connection::open(&config).await.unwrap();
    assert!(again.send_all(&one).await.1.is_none());
    assert_eq!(sink.received().len(), 2);
}

#[tokio::test]
async fn starttls_is_used_when_required() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let server_tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let mut config = ServerConfig::new("sink.test");
    config.tls = Some(Arc::new(server_tls));
    let sink = Sink::start("127.0.0.1:0".parse().unwrap(), config, true)
        .await
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let mut relay = RelayConfig::new("localhost", sink.addr.port());
    relay.security = Security::StartTls;
    relay.tls = Some(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ));
    let mut conn = Connection::open(&relay).await.unwrap();
    let content = message(7);
    let to = ["tls@y.example"];
    let (results, error) = conn
        .send_all(&[Outgoing {
            from: "b@x.example",
            to: &to,
            content: &content,
        }])
        .await;
    assert!(error.is_none(), "{error:?}");
    assert!(matches!(results[0][..], [Outcome::Accepted(_)]));
    assert_eq!(sink.received()[0].content, content);

    // A relay without STARTTLS is refused when TLS is required.
    let plain = self::sink(true).await;
    let mut relay = RelayConfig::new("127.0.0.1", plain.addr.port());
    relay.security = Security::StartTls;
    let e = Connection::open(&relay).await.err().unwrap();
    assert!(e.to_string().contains("STARTTLS is required"), "{e}");
}

/// A self-signed certificate for `localhost`: the server's config and a client config
/// that trusts it.
fn localhost_tls() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = cert.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[tokio::test]
async fn implicit_tls_and_auth_plain_get_a_message_through_and_a_wrong_password_does_not() {
    let (server_tls, client_tls) = localhost_tls();
    let mut config = ServerConfig::new("sink.test");
    config.tls = Some(server_tls);
    config.implicit_tls = true;
    config.auth = Some(("mailer".into(), "s3cret pw".into()));
    let sink = Sink::start("127.0.0.1:0".parse().unwrap(), config, true)
        .await
        .unwrap();
    let relay_with = |password: &str| {
        let mut relay = RelayConfig::new("localhost", sink.addr.port());
        relay.security = Security::Implicit;
        relay.tls = Some(client_tls.clone());
        relay.auth = Some(("mailer".into(), password.into()));
        relay
    };
    let mut conn = Connection::open(&relay_with("s3cret pw")).await.unwrap();
    let content = message(3);
    let to = ["auth@y.example"];
    let (results, error) = conn
        .send_all(&[Outgoing {
            from: "b@x.example",
            to: &to,
            content: &content,
        }])
        .await;
    assert!(error.is_none(), "{error:?}");
    assert!(matches!(results[0][..], [Outcome::Accepted(_)]));
    assert_eq!(sink.received()[0].content, content);

    let e = Connection::open(&relay_with("wrong")).await.err().unwrap();
    assert!(e.to_string().contains("535"), "{e}");

    // Without credentials the server refuses MAIL: nothing is accepted.
    let mut anonymous = RelayConfig::new("localhost", sink.addr.port());
    anonymous.security = Security::Implicit;
    anonymous.tls = Some(client_tls.clone());
    let mut conn = Connection::open(&anonymous).await.unwrap();
    let (results, _) = conn
        .send_all(&[Outgoing {
            from: "b@x.example",
            to: &to,
            content: &content,
        }])
        .await;
    assert!(
        !matches!(
            results.first().map(|r| &r[..]),
            Some([Outcome::Accepted(_)])
        ),
        "{results:?}"
    );
    assert_eq!(sink.received().len(), 1);
}
