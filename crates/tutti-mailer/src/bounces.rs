//! The bounce listener: an SMTP server (address `BounceListener`) for the per-recipient
//! return paths (`bounce+JOB-N@ReturnPathDomain`) and for feedback-loop reports. Each
//! delivery status notification (RFC 3464) and ARF complaint is matched to its job and
//! recipient, by the return path it was sent to or else by the original Message-ID
//! (`JOB.N.TRY@domain`), and recorded before the sender gets its 250.

use std::sync::Arc;

use tutti_bounce::{Action, Report, Severity};
use tutti_core::distribute::DeliveryKind;
use tutti_smtp::Reply;
use tutti_smtp::server::Handler;

use crate::spool::Spool;

pub struct BounceHandler {
    pub spool: Spool,
    /// Lowercase; empty accepts reports for any domain's return paths.
    pub domain: String,
}

/// `bounce+JOB-N@domain` → (JOB, N).
fn verp(address: &str, domain: &str) -> Option<(String, u64)> {
    let (local, host) = address.rsplit_once('@')?;
    if !domain.is_empty() && !host.eq_ignore_ascii_case(domain) {
        return None;
    }
    let rest = local.strip_prefix("bounce+")?;
    let (job, seq) = rest.rsplit_once('-')?;
    Some((job.to_string(), seq.parse().ok()?))
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
        let by_path = to.iter().find_map(|t| verp(t, &self.domain));
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
        let target = by_path.or_else(|| original.message_id.as_deref().and_then(message_id));
        let Some((job, seq)) = target else {
            tracing::warn!(
                "a {:?} for {} names no job and recipient of this Mailer",
                fate.0,
                to.join(", ")
            );
            return Ok(());
        };
        let (kind, reply) = fate;
        match self.spool.record_report(&job, seq, kind, reply).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::warn!(
                    "a {kind:?} for job {job} recipient {seq}, which this Mailer does not have"
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!("cannot record a {kind:?} for job {job}: {e}");
                Err(Reply::local(
                    451,
                    "4.3.0 cannot record the report now; try again later",
                ))
            }
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
    use super::*;

    #[test]
    fn return_paths_and_message_ids_name_job_and_recipient() {
        assert_eq!(
            verp("bounce+261125A-17@b.example", "b.example"),
            Some(("261125A".into(), 17))
        );
        assert_eq!(
            verp("bounce+my-job-2@B.EXAMPLE", "b.example"),
            Some(("my-job".into(), 2))
        );
        assert_eq!(verp("bounce+J-x@b.example", "b.example"), None);
        assert_eq!(verp("bounce+J-1@other.example", "b.example"), None);
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
}
