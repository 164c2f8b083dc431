//! The bounce listener: an SMTP server (address `BounceListener`) for the per-recipient
//! return paths (`bounce+HANDLE-N-MAC@ReturnPathDomain`, [`crate::return_path`]) and for
//! feedback-loop reports. Each delivery status notification (RFC 3464) and ARF complaint
//! is matched to its job and recipient by a signed return path: the address it was sent
//! to, else the one the report quotes (`Original-Mail-From`, the returned `Return-Path`).
//! It is recorded before the sender gets its 250.
//!
//! A report is never taken on its word: one that names a recipient only by an unsigned or
//! wrongly signed return path, or by the returned Message-ID, is refused (logged and
//! counted in `tutti_mailer_reports_refused_total{reason}`, still answered 250: a bounce is
//! never bounced). The one exception are the jobs spooled before return paths were signed:
//! for them `bounce+JOB-N` and the Message-ID (`JOB.N.TRY@domain`) still count.

use std::sync::Arc;

use tutti_bounce::{Action, Report, Severity};
use tutti_core::distribute::DeliveryKind;
use tutti_core::metrics::{CounterBy, Metrics};
use tutti_smtp::Reply;
use tutti_smtp::server::Handler;

use crate::return_path::{Claim, ReturnPathKey, claims};
use crate::spool::Spool;

pub struct BounceHandler {
    spool: Spool,
    key: ReturnPathKey,
    /// Lowercase; empty accepts reports for any domain's return paths.
    domain: String,
    /// `tutti_mailer_reports_refused_total{reason}`.
    refused: CounterBy,
}

/// Why a report was not acted on, from the strongest sign of forgery down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Refusal {
    /// It names no return path of this Mailer (perhaps only a Message-ID).
    NoReturnPath,
    /// `bounce+JOB-N` for a job whose return paths are signed.
    Unsigned,
    /// A signed return path whose MAC is wrong (or names no job of this Mailer).
    BadSignature,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::NoReturnPath => "no_return_path",
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad_signature",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Refusal::NoReturnPath => "it names no return path of this Mailer",
            Refusal::Unsigned => {
                "its return path is unsigned (bounce+JOB-N), and the job went out with signed ones"
            }
            Refusal::BadSignature => {
                "its return path is not signed by this Mailer (a wrong MAC, or no such job)"
            }
        }
    }
}

/// `<JOB.N.TRY@domain>` → (JOB, N).
fn message_id(id: &str) -> Option<(String, u64)> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _) = id.rsplit_once('@')?;
    let mut parts = local.rsplitn(3, '.');
    let _try = parts.next()?;
    let seq = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_string(), seq))
}

impl BounceHandler {
    pub fn new(spool: Spool, key: ReturnPathKey, domain: &str, metrics: &Metrics) -> Self {
        BounceHandler {
            spool,
            key,
            domain: domain.to_ascii_lowercase(),
            refused: metrics.counter_by(
                "mailer_reports_refused",
                "Bounces and complaints not acted on: their return path is unsigned, wrongly \
                 signed, or missing",
                "reason",
            ),
        }
    }

    /// The job and recipient a report is about, told by a return path it was sent to
    /// (`to`) or quotes, which must be signed unless its job went out unsigned.
    async fn identify(
        &self,
        to: &[String],
        report: &Report,
        original_message_id: Option<&str>,
    ) -> anyhow::Result<Result<(String, u64), Refusal>> {
        let mut refusal = Refusal::NoReturnPath;
        let addresses = to.iter().map(String::as_str).chain(report.return_paths());
        for address in addresses {
            for claim in claims(address, &self.domain) {
                match claim {
                    Claim::Signed { handle, seq, mac } => {
                        for job in self.spool.jobs_with_handle(&handle).await? {
                            if self.key.verify(&job, seq, &mac) {
                                return Ok(Ok((job, seq)));
                            }
                        }
                        refusal = refusal.max(Refusal::BadSignature);
                    }
                    Claim::Unsigned { job, seq } => {
                        if self.spool.takes_unsigned_return_paths(&job).await? {
                            return Ok(Ok((job, seq)));
                        }
                        refusal = refusal.max(Refusal::Unsigned);
                    }
                }
            }
        }
        if let Some((job, seq)) = original_message_id.and_then(message_id)
            && self.spool.takes_unsigned_return_paths(&job).await?
        {
            return Ok(Ok((job, seq)));
        }
        Ok(Err(refusal))
    }
}

impl Handler for BounceHandler {
    fn rcpt(&self, to: &str) -> Result<(), Reply> {
        let host_ok = to
            .rsplit_once('@')
            .is_some_and(|(_, h)| self.domain.is_empty() || h.eq_ignore_ascii_case(&self.domain));
        if host_ok {
            Ok(())
        } else {
            Err(Reply::local(
                550,
                format!(
                    "5.1.1 <{to}>: this server takes reports for {} only",
                    self.domain
                ),
            ))
        }
    }

    async fn data(&self, _from: String, to: Vec<String>, content: Vec<u8>) -> Result<(), Reply> {
        let report = match tutti_bounce::parse(&content) {
            Ok(r) => r,
            Err(e) => {
                // Never bounce a bounce: take it, and say in the log what it was.
                tracing::warn!(
                    "a message to {} is not a report Tutti reads: {e}",
                    to.join(", ")
                );
                return Ok(());
            }
        };
        let (original, fate) = match &report {
            Report::Delivery(d) => {
                let failed = d.recipients.iter().find(|r| r.action == Action::Failed);
                let Some(r) = failed else {
                    tracing::info!(
                        "a delivery report without a failure (delays or success notices) for {}",
                        to.join(", ")
                    );
                    return Ok(());
                };
                let kind = match r.severity {
                    Severity::Hard => DeliveryKind::HardBounce,
                    _ => DeliveryKind::SoftBounce,
                };
                let reply = match &r.diagnostic {
                    Some(d) => format!("{} {d}", r.status),
                    None => r.status.clone(),
                };
                (&d.original, (kind, reply))
            }
            Report::Complaint(c) => (
                &c.original,
                (
                    DeliveryKind::Complaint,
                    format!("complaint: {}", c.feedback_type),
                ),
            ),
        };
        let (kind, reply) = fate;
        let unavailable = |e: anyhow::Error| {
            tracing::error!("cannot record a {kind:?} now: {e}");
            Reply::local(451, "4.3.0 cannot record the report now; try again later")
        };
        let identified = self
            .identify(&to, &report, original.message_id.as_deref())
            .await
            .map_err(unavailable)?;
        let (job, seq) = match identified {
            Ok(target) => target,
            Err(refusal) => {
                self.refused.inc_by(refusal.label(), 1);
                tracing::warn!(
                    "refused a {kind:?} sent to {}: {}; nobody's state changes",
                    to.join(", "),
                    refusal.reason()
                );
                return Ok(());
            }
        };
        match self.spool.record_report(&job, seq, kind, reply).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::warn!(
                    "a {kind:?} for job {job} recipient {seq}, which this Mailer does not have"
                );
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// Starts the listener on `addr` until shutdown.
pub async fn listen(
    addr: &str,
    hostname: &str,
    handler: BounceHandler,
    mut shutdown: tutti_core::runtime::Shutdown,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen for bounces on {addr} (BounceListener in mailer.ini): {e}")
    })?;
    tracing::info!("listening for bounces and complaints on {addr}");
    let config = tutti_smtp::server::ServerConfig::new(hostname);
    Ok(tokio::spawn(tutti_smtp::server::serve(
        listener,
        config,
        Arc::new(handler),
        async move { shutdown.wait().await },
    )))
}

#[cfg(test)]
mod tests {
    use tutti_core::Component;
    use tutti_core::token::JobKey;

    use super::*;

    #[test]
    fn message_ids_name_job_and_recipient() {
        assert_eq!(
            message_id("<261125A.17.1@shop.example>"),
            Some(("261125A".into(), 17))
        );
        assert_eq!(
            message_id("<a.b.c.17.2@shop.example>"),
            Some(("a.b.c".into(), 17))
        );
        assert_eq!(message_id("random@x"), None);
    }

    fn definition() -> tutti_core::distribute::DistributeJob {
        serde_json::from_value(serde_json::json!({
            "message": {"subject": "Hi", "from_name": "Shop", "from_address": "news@shop.example",
                        "text": "Hi", "charset": "UTF-8"},
            "fields": ["EMAIL"],
            "address_column": 0,
            "tracking": {"base_url": "http://t.example/trk", "key": JobKey([9; 32]).to_base64(),
                         "kind": "personal", "opens": false, "clicks": false}
        }))
        .unwrap()
    }

    /// A spooled job `id` with `n` recipients, submitted.
    async fn spooled(spool: &Spool, id: &str, n: u64) {
        spool.define(id, &definition()).await.unwrap();
        let rows = (0..n).map(|i| vec![format!("r{i}@example.org")]).collect();
        spool.add_recipients(id, 0, rows).await.unwrap();
        spool.submit(id, n).await.unwrap().unwrap();
    }

    fn dsn(message_id: &str) -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n--B\r\n\
             Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
             Final-Recipient: rfc822; r2@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
             --B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{message_id}>\r\n--B--\r\n"
        )
        .into_bytes()
    }

    fn arf(mail_from: &str, message_id: &str) -> Vec<u8> {
        format!(
            "From: fbl@isp.example\r\nSubject: complaint\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
             --F\r\nContent-Type: text/plain\r\n\r\nAbuse.\r\n--F\r\n\
             Content-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n\
             Original-Mail-From: <{mail_from}>\r\n\r\n--F\r\n\
             Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{message_id}>\r\n--F--\r\n"
        )
        .into_bytes()
    }

    struct Listener {
        handler: BounceHandler,
        key: ReturnPathKey,
        spool: Spool,
        dir: tempfile::TempDir,
    }

    impl Listener {
        async fn open(dir: tempfile::TempDir) -> Listener {
            let key = ReturnPathKey::open(dir.path()).unwrap();
            let spool = Spool::open(&dir.path().join("spool.sqlite"), key.clone())
                .await
                .unwrap();
            let metrics = Metrics::new(Component::Mailer);
            Listener {
                handler: BounceHandler::new(spool.clone(), key.clone(), "B.example", &metrics),
                key,
                spool,
                dir,
            }
        }

        async fn send(&self, to: &str, content: Vec<u8>) {
            self.handler
                .data(String::new(), vec![to.to_string()], content)
                .await
                .unwrap();
        }

        /// (job, recipient, kind) of every event after the sends.
        async fn reports(&self) -> Vec<(String, u64, DeliveryKind)> {
            let page = self.spool.events(0, 1000).await.unwrap().unwrap();
            page.events
                .into_iter()
                .filter(|e| e.kind != DeliveryKind::Sent)
                .map(|e| (e.job, e.recipient, e.kind))
                .collect()
        }

        fn refused(&self, reason: &str) -> u64 {
            self.handler.refused.get(reason).get()
        }
    }

    #[tokio::test]
    async fn only_signed_return_paths_change_a_recipients_state() {
        let l = Listener::open(tempfile::tempdir().unwrap()).await;
        spooled(&l.spool, "J1", 5).await;

        // Forged: unsigned, a MAC of another recipient, a made-up MAC, a Message-ID only.
        l.send("bounce+J1-2@b.example", dsn("J1.2.1@shop.example"))
            .await;
        let other = l.key.address("J1", 3, "b.example");
        let (_, mac) = other.split_once('@').unwrap().0.rsplit_once('-').unwrap();
        let handle = l.key.handle("J1");
        l.send(&format!("bounce+{handle}-2-{mac}@b.example"), dsn("x@y"))
            .await;
        l.send(
            &format!("bounce+{handle}-2-aaaaaaaaaa@b.example"),
            dsn("x@y"),
        )
        .await;
        l.send(
            "fbl@b.example",
            arf("someone@elsewhere.example", "J1.4.1@shop.example"),
        )
        .await;
        assert_eq!(l.reports().await, [], "nobody's state changed");
        assert_eq!(
            (
                l.refused("unsigned"),
                l.refused("bad_signature"),
                l.refused("no_return_path")
            ),
            (1, 2, 1)
        );

        // Signed: to the return path itself (in capitals, as some MTAs write it), and a
        // complaint to the feedback-loop address quoting it.
        let signed = l.key.address("J1", 2, "b.example");
        l.send(&signed.to_ascii_uppercase(), dsn("x@y")).await;
        l.send(
            "fbl@b.example",
            arf(&l.key.address("J1", 4, "b.example"), "x@y"),
        )
        .await;
        assert_eq!(
            l.reports().await,
            [
                ("J1".into(), 2, DeliveryKind::HardBounce),
                ("J1".into(), 4, DeliveryKind::Complaint)
            ]
        );
        assert_eq!(l.spool.progress("J1").await.unwrap().unwrap().bounced, 1);
    }

    #[tokio::test]
    async fn jobs_spooled_before_signing_keep_their_unsigned_return_paths() {
        // A spool as the Mailer wrote it before return paths were signed.
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = rusqlite::Connection::open(dir.path().join("spool.sqlite")).unwrap();
            conn.execute_batch(crate::spool::SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO jobs (id, definition, state, total, salt, created_ms) VALUES ('OLD', ?1, 'completed', 3, x'00', 0)",
                [serde_json::to_string(&definition()).unwrap()],
            )
            .unwrap();
            for seq in 0..3 {
                conn.execute(
                    "INSERT INTO recipients (job, seq, data, state) VALUES ('OLD', ?1, '[\"a@b\"]', 2)",
                    [seq],
                )
                .unwrap();
            }
        }
        let l = Listener::open(dir).await;
        spooled(&l.spool, "NEW", 3).await;

        l.send("bounce+OLD-1@b.example", dsn("x@y")).await;
        l.send("fbl@b.example", arf("", "OLD.2.1@shop.example"))
            .await;
        l.send("bounce+NEW-1@b.example", dsn("x@y")).await;
        l.send("fbl@b.example", arf("", "NEW.2.1@shop.example"))
            .await;
        // Its recipients still unsent go out signed, and those count too.
        l.send(&l.key.address("OLD", 0, "b.example"), dsn("x@y"))
            .await;
        assert_eq!(
            l.reports().await,
            [
                ("OLD".into(), 1, DeliveryKind::HardBounce),
                ("OLD".into(), 2, DeliveryKind::Complaint),
                ("OLD".into(), 0, DeliveryKind::HardBounce),
            ]
        );
        assert_eq!((l.refused("unsigned"), l.refused("no_return_path")), (1, 1));
        assert!(l.spool.takes_unsigned_return_paths("OLD").await.unwrap());
        assert!(!l.spool.takes_unsigned_return_paths("NEW").await.unwrap());

        // Opening it again changes nothing.
        let key = l.key.clone();
        let reopened = Spool::open(&l.dir.path().join("spool.sqlite"), key)
            .await
            .unwrap();
        assert!(reopened.takes_unsigned_return_paths("OLD").await.unwrap());
        assert!(!reopened.takes_unsigned_return_paths("NEW").await.unwrap());
    }
}
