//! The delivery engine: workers that take due recipients of the jobs being sent, write
//! their messages, hand them to a relay (or the outbox) and record every fate.
//!
//! Each worker owns one connection to one relay and sends batches with pipelining. A
//! relay that cannot be reached puts the batch back untouched and the worker waits (1 s,
//! doubling to a minute) before it tries again, so a job waits for its relay and resumes by
//! itself. 4xx replies defer a recipient: it is tried again after a pause that doubles from
//! `RetryIntervalSeconds` up to an hour, until `RetryHours` have passed; 5xx fails it with
//! the server's reply.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::Notify;
use tutti_core::config::{MailerConfig, RelaySecurity};
use tutti_core::distribute::{DeliveryKind, JobProgress};
use tutti_core::metrics::{CounterBy, Metrics};
use tutti_core::runtime::Shutdown;
use tutti_message::Envelope;
use tutti_smtp::{Connection, Outcome, Outgoing, RelayConfig, Security};

use crate::dkim::Dkim;
use crate::domains::{DomainPacer, Slot};
use crate::prepare::Prepared;
use crate::return_path::ReturnPathKey;
use crate::spool::{Claimed, Fate, Spool};

/// One recipient's message, written.
struct Written {
    seq: u64,
    address: String,
    content: Vec<u8>,
}

/// Recipients one worker takes at a time.
const BATCH: usize = 64;
/// Send slots this close together go in one SMTP round (see [`slot_groups`]).
const GROUP_SPAN: Duration = Duration::from_millis(20);

/// What the engine shares with the API.
pub struct Engine {
    pub spool: Spool,
    /// `tutti_mailer_deliveries_total{outcome}`.
    outcomes: CounterBy,
    config: MailerConfig,
    outbox: PathBuf,
    prepared: Mutex<HashMap<String, Arc<Prepared>>>,
    /// Woken when a job arrives or resumes.
    pub wake: Notify,
    /// Times of recent sends, for the rate.
    recent: Mutex<VecDeque<(Instant, u64)>>,
    /// Why sending waits, by job.
    waiting: Mutex<HashMap<String, String>>,

    /// The next time a message may go, for `MaxMessagesPerSecond`.
    next_slot: tokio::sync::Mutex<Instant>,
    retry_interval: Duration,
    dkim: Dkim,
    return_paths: ReturnPathKey,
    domains: DomainPacer,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    pub fn new(
        spool: Spool,
        config: MailerConfig,
        outbox: PathBuf,
        dkim: Dkim,
        return_paths: ReturnPathKey,
        metrics: &Metrics,
    ) -> Engine {
        let config_retry_interval = config.retry_interval;
        Engine {
            outcomes: metrics.counter_by(
                "mailer_deliveries",
                "Delivery attempts by outcome (sent, deferred, failed)",
                "outcome",
            ),
            domains: DomainPacer::new(config.max_per_domain, &config.domain_rates),
            spool,
            config,
            outbox,
            prepared: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            recent: Mutex::new(VecDeque::new()),
            waiting: Mutex::new(HashMap::new()),

            next_slot: tokio::sync::Mutex::new(Instant::now()),
            retry_interval: config_retry_interval,
            dkim,
            return_paths,
        }
    }

    fn count(&self, fates: &[Fate]) {
        for f in fates {
            self.outcomes.inc_by(crate::spool::kind_text(f.kind), 1);
        }
    }

    /// The prepared form of a spooled job (compiled once, then kept).
    async fn prepared(&self, id: &str) -> anyhow::Result<Arc<Prepared>> {
        if let Some(p) = lock(&self.prepared).get(id) {
            return Ok(p.clone());
        }
        let job = self
            .spool
            .job(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("job {id} is not in the spool"))?;
        let prepared = Prepared::new(id, &job.definition, job.salt).map_err(|problems| {
            anyhow::anyhow!(
                "job {id} no longer compiles: {}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
        let prepared = Arc::new(prepared);
        lock(&self.prepared).insert(id.to_string(), prepared.clone());
        Ok(prepared)
    }

    /// Progress with the live figures (rate, why it waits).
    pub async fn progress(&self, job: &str) -> anyhow::Result<Option<JobProgress>> {
        let Some(mut p) = self.spool.progress(job).await? else {
            return Ok(None);
        };
        let cutoff = Instant::now().checked_sub(Duration::from_secs(10));
        let sent: u64 = lock(&self.recent)
            .iter()
            .filter(|(t, _)| cutoff.is_none_or(|c| *t >= c))
            .map(|(_, n)| n)
            .sum();
        p.rate = sent as f64 / 10.0;
        p.waiting = lock(&self.waiting).get(job).cloned();
        p.to_outbox = self.config.relays.is_empty();
        if p.to_outbox && p.waiting.is_none() && p.queued + p.sent > 0 {
            // The marketer reads this: the folder on the server is the administrator's.
            p.waiting = Some(
                "no SMTP relay is configured yet: messages are written into the Mailer's outbox, not sent to anyone"
                    .into(),
            );
        }
        Ok(Some(p))
    }

    fn count_sent(&self, n: u64) {
        let mut recent = lock(&self.recent);
        let now = Instant::now();
        recent.push_back((now, n));
        while recent
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(10))
        {
            recent.pop_front();
        }
    }

    fn set_waiting(&self, job: &str, why: Option<String>) {
        let mut waiting = lock(&self.waiting);
        match why {
            Some(w) => {
                waiting.insert(job.to_string(), w);
            }
            None => {
                waiting.remove(job);
            }
        }
    }

    /// Waits for `n` send slots under `MaxMessagesPerSecond`.
    async fn pace(&self, n: usize) {
        if self.config.max_per_second == 0 {
            return;
        }
        let per = Duration::from_secs(1) / self.config.max_per_second;
        let at = {
            let mut next = self.next_slot.lock().await;
            let start = (*next).max(Instant::now());
            *next = start + per * u32::try_from(n).unwrap_or(u32::MAX);
            start
        };
        tokio::time::sleep_until(at.into()).await;
    }

    /// Applies the per-domain rates to a claimed batch: holds the recipients whose domain
    /// has no slot soon, waits for the last slot of the others and returns them.
    /// Books each recipient's send slot: those due within the horizon are returned in
    /// groups, each with the time it may go (in order), the others are held in the spool.
    async fn by_domain_rate(
        &self,
        job: &str,
        prepared: &Prepared,
        claimed: Vec<Claimed>,
    ) -> anyhow::Result<Vec<(Instant, Vec<Claimed>)>> {
        let now = Instant::now();
        if !self.domains.is_limited() {
            return Ok(vec![(now, claimed)]);
        }
        let now_ms = Utc::now().timestamp_millis();
        let column = prepared.definition.address_column;
        let mut go = Vec::with_capacity(claimed.len());
        let mut held = Vec::new();
        for c in claimed {
            if c.booked {
                go.push((now, c));
                continue;
            }
            let address = c.fields.get(column).map_or("", String::as_str);
            match self.domains.book(address, now) {
                Slot::Send(at) => go.push((at, c)),
                Slot::Hold(at) => {
                    let ms = i64::try_from((at - now).as_millis()).unwrap_or(i64::MAX / 2);
                    held.push((c.seq, now_ms.saturating_add(ms)));
                }
            }
        }
        if !held.is_empty() {
            self.spool.hold(job, held).await?;
        }
        Ok(slot_groups(go))
    }

    fn relay_config(&self, worker: usize) -> Option<RelayConfig> {
        let relay = self
            .config
            .relays
            .get(worker % self.config.relays.len().max(1))?;
        let mut c = RelayConfig::new(relay.host.trim_matches(['[', ']']), relay.port);
        c.security = match self.config.security {
            RelaySecurity::None => Security::None,
            RelaySecurity::StartTls => Security::StartTls,
            RelaySecurity::Tls => Security::Implicit,
        };
        if !self.config.smtp_user.is_empty() {
            c.auth = Some((
                self.config.smtp_user.clone(),
                self.config.smtp_password.clone(),
            ));
        }
        c.ehlo_name = self.config.helo_name.clone();
        Some(c)
    }

    /// The workers, until shutdown.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let workers = if self.config.relays.is_empty() {
            tracing::warn!(
                "no SMTP relay is configured (SmtpRelays in mailer.ini): every message is written into {} instead of being sent",
                self.outbox.display()
            );
            2
        } else {
            self.config.relays.len() * self.config.connections as usize
        };
        let mut tasks = Vec::new();
        for w in 0..workers {
            tasks.push(tokio::spawn(self.clone().worker(w, shutdown.clone())));
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    async fn worker(self: Arc<Self>, index: usize, mut shutdown: Shutdown) {
        let relay = self.relay_config(index);
        let mut conn: Option<Connection> = None;
        let mut backoff = Duration::from_secs(1);
        loop {
            if shutdown.is_stopping() {
                break;
            }
            let worked = match self.one_batch(relay.as_ref(), &mut conn).await {
                Ok(worked) => {
                    backoff = Duration::from_secs(1);
                    worked
                }
                Err(e) => {
                    tracing::warn!("{e}; trying again in {backoff:?}");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.wait() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
            };
            if !worked {
                if let Some(c) = conn.take() {
                    c.quit().await;
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.wait() => break,
                }
            }
        }
        if let Some(c) = conn.take() {
            c.quit().await;
        }
    }

    /// Sends one batch of the first job that has due recipients; `Ok(false)` when none has.
    async fn one_batch(
        &self,
        relay: Option<&RelayConfig>,
        conn: &mut Option<Connection>,
    ) -> anyhow::Result<bool> {
        let now = Utc::now();
        for job in self.spool.sending_jobs().await? {
            let prepared = match self.prepared(&job).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("{e}");
                    self.set_waiting(&job, Some(e.to_string()));
                    continue;
                }
            };
            if let Some(at) = prepared.definition.not_before
                && at > now
            {
                self.set_waiting(&job, Some(format!("scheduled for {}", at.to_rfc3339())));
                continue;
            }
            let claimed = self
                .spool
                .claim(&job, BATCH, now.timestamp_millis())
                .await?;
            if claimed.is_empty() {
                continue;
            }
            let groups = self.by_domain_rate(&job, &prepared, claimed).await?;
            if groups.is_empty() {
                continue;
            }
            // Each group at its own slot, on the same connection: a limited domain gets its
            // messages spread over the second rather than all at the last slot.
            let mut fates = Vec::new();
            for (i, (at, group)) in groups.iter().enumerate() {
                tokio::time::sleep_until((*at).into()).await;
                self.pace(group.len()).await;
                match relay {
                    None => fates.extend(self.to_outbox(&prepared, group).await),
                    Some(relay) => match self.to_relay(&prepared, group, relay, conn).await {
                        Ok(sent) => fates.extend(sent),
                        Err((e, done)) => {
                            let seqs: Vec<u64> = groups[i..]
                                .iter()
                                .flat_map(|(_, g)| g.iter().map(|c| c.seq))
                                .filter(|s| !done.iter().any(|f| f.seq == *s))
                                .collect();
                            fates.extend(done);
                            self.count(&fates);
                            self.spool.record(&job, fates).await?;
                            self.spool.unclaim(&job, seqs).await?;
                            self.set_waiting(&job, Some(e.clone()));
                            anyhow::bail!("{e}");
                        }
                    },
                }
            }
            self.set_waiting(&job, None);
            let sent = fates
                .iter()
                .filter(|f| f.kind == DeliveryKind::Sent)
                .count() as u64;
            self.count(&fates);
            self.spool.record(&job, fates).await?;
            self.count_sent(sent);
            return Ok(true);
        }
        Ok(false)
    }

    /// [`Engine::compose`] without holding up the runtime's other tasks: merging and
    /// (above all) RSA signing a batch takes milliseconds of CPU.
    fn compose_off_runtime(
        &self,
        job: &Prepared,
        claimed: &[Claimed],
    ) -> (Vec<Written>, Vec<Fate>) {
        match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.compose(job, claimed))
            }
            _ => self.compose(job, claimed),
        }
    }

    /// Writes each recipient's message; a recipient whose own data makes it unsendable
    /// fails here with the reason.
    fn compose(&self, job: &Prepared, claimed: &[Claimed]) -> (Vec<Written>, Vec<Fate>) {
        let date = Utc::now().to_rfc2822();
        let sent_at = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let d = &job.definition;
        let mut messages = Vec::with_capacity(claimed.len());
        let mut failed = Vec::new();
        for c in claimed {
            let written = c.fields.get(d.address_column).map_or("", |a| a.trim());
            let address = match deliverable(written) {
                Ok(a) => a,
                Err(reason) => {
                    failed.push(Fate {
                        seq: c.seq,
                        kind: DeliveryKind::Failed,
                        reply: reason,
                        next_at_ms: 0,
                    });
                    continue;
                }
            };
            let name = d
                .name_column
                .and_then(|n| c.fields.get(n))
                .map_or("", String::as_str);
            let message_id = format!("{}.{}.{}@{}", job.id, c.seq, c.attempts, job.domain);
            let urls = job.urls(job.recipient_key(c.seq, &c.fields), sent_at);
            let mut out = Vec::with_capacity(8192);
            let envelope = Envelope {
                fields: &c.fields[..],
                address: &address,
                name,
                date: &date,
                message_id: &message_id,
            };
            let signed = job
                .composer
                .compose(&envelope, &urls, &mut out)
                .and_then(
                    |written| match self.dkim.sign(&written.from_address, &out) {
                        None => Ok(out),
                        Some(Ok(header)) => {
                            let mut content = Vec::with_capacity(header.len() + out.len());
                            content.extend_from_slice(header.as_bytes());
                            content.extend_from_slice(&out);
                            Ok(content)
                        }
                        Some(Err(reason)) => Err(reason),
                    },
                );
            match signed {
                Ok(content) => messages.push(Written {
                    seq: c.seq,
                    address,
                    content,
                }),
                Err(reason) => failed.push(Fate {
                    seq: c.seq,
                    kind: DeliveryKind::Failed,
                    reply: reason,
                    next_at_ms: 0,
                }),
            }
        }
        (messages, failed)
    }

    fn return_path(&self, job: &Prepared, seq: u64) -> String {
        if self.config.return_path_domain.is_empty() {
            job.definition.message.from_address.trim().to_string()
        } else {
            self.return_paths
                .address(&job.id, seq, &self.config.return_path_domain)
        }
    }

    async fn to_outbox(&self, job: &Prepared, claimed: &[Claimed]) -> Vec<Fate> {
        let (messages, mut fates) = self.compose_off_runtime(job, claimed);
        let dir = self.outbox.join(&job.id);
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u64>> {
            std::fs::create_dir_all(&dir)?;
            let mut done = Vec::new();
            for Written { seq, content, .. } in messages {
                let tmp = dir.join(format!(".{seq}.eml.tmp"));
                std::fs::write(&tmp, &content)?;
                std::fs::File::open(&tmp)?.sync_all()?;
                std::fs::rename(&tmp, dir.join(format!("{seq}.eml")))?;
                done.push(seq);
            }
            Ok(done)
        })
        .await;
        match written {
            Ok(Ok(done)) => fates.extend(done.into_iter().map(|seq| Fate {
                seq,
                kind: DeliveryKind::Sent,
                reply: "250 written into the outbox (no SMTP relay is configured)".into(),
                next_at_ms: 0,
            })),
            Ok(Err(e)) => {
                let reason = format!("cannot write into {}: {e}", self.outbox.display());
                tracing::error!("{reason}");
                let failed: Vec<u64> = fates.iter().map(|f| f.seq).collect();
                let later = claimed
                    .iter()
                    .filter(|c| !failed.contains(&c.seq))
                    .map(|c| Fate {
                        seq: c.seq,
                        kind: DeliveryKind::Deferred,
                        reply: format!("451 {reason}"),
                        next_at_ms: Utc::now().timestamp_millis() + 60_000,
                    });
                fates.extend(later.collect::<Vec<_>>());
            }
            Err(e) => tracing::error!("the outbox writer failed: {e}"),
        }
        fates
    }

    /// Sends a batch through the worker's connection. On a connection failure the
    /// error and the fates known so far come back; the rest is for the caller to put back.
    async fn to_relay(
        &self,
        job: &Prepared,
        claimed: &[Claimed],
        relay: &RelayConfig,
        conn: &mut Option<Connection>,
    ) -> Result<Vec<Fate>, (String, Vec<Fate>)> {
        let (messages, mut fates) = self.compose_off_runtime(job, claimed);
        if messages.is_empty() {
            return Ok(fates);
        }
        if conn.is_none() {
            *conn = Some(
                Connection::open(relay)
                    .await
                    .map_err(|e| (e.to_string(), fates.clone()))?,
            );
        }
        let Some(connection) = conn.as_mut() else {
            return Err(("no connection".into(), fates));
        };
        let returns: Vec<String> = messages
            .iter()
            .map(|m| self.return_path(job, m.seq))
            .collect();
        let tos: Vec<[&str; 1]> = messages.iter().map(|m| [m.address.as_str()]).collect();
        let outgoing: Vec<Outgoing> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| Outgoing {
                from: &returns[i],
                to: &tos[i],
                content: &m.content,
            })
            .collect();
        let (results, error) = connection.send_all(&outgoing).await;
        let by_seq: HashMap<u64, &Claimed> = claimed.iter().map(|c| (c.seq, c)).collect();
        for (Written { seq, .. }, outcomes) in messages.iter().zip(results.iter()) {
            let Some(outcome) = outcomes.first() else {
                continue;
            };
            let fate = match outcome {
                Outcome::Accepted(r) => Fate {
                    seq: *seq,
                    kind: DeliveryKind::Sent,
                    reply: r.to_string(),
                    next_at_ms: 0,
                },
                Outcome::Rejected(r) => Fate {
                    seq: *seq,
                    kind: DeliveryKind::Failed,
                    reply: r.to_string(),
                    next_at_ms: 0,
                },
                Outcome::Deferred(r) => {
                    self.deferral(by_seq.get(seq).copied(), *seq, r.to_string())
                }
            };
            fates.push(fate);
        }
        if let Some(e) = error {
            *conn = None;
            return Err((e.to_string(), fates));
        }
        Ok(fates)
    }

    /// A deferral, or a failure when the recipient has been retried long enough.
    fn deferral(&self, claimed: Option<&Claimed>, seq: u64, reply: String) -> Fate {
        let now = Utc::now().timestamp_millis();
        let (attempts, first) = claimed.map_or((1, now), |c| (c.attempts, c.first_ms));
        let limit = i64::try_from(self.config.retry.as_millis()).unwrap_or(i64::MAX);
        if now - first >= limit {
            return Fate {
                seq,
                kind: DeliveryKind::Failed,
                reply: format!(
                    "gave up after {attempts} tries over {} hours; last reply: {reply}",
                    self.config.retry.as_secs() / 3600
                ),
                next_at_ms: 0,
            };
        }
        let doubling = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
        let pause = (self.retry_interval * doubling).min(Duration::from_secs(3600));
        Fate {
            seq,
            kind: DeliveryKind::Deferred,
            reply,
            next_at_ms: now + i64::try_from(pause.as_millis()).unwrap_or(3_600_000),
        }
    }
}

/// The address as it goes into `RCPT TO` and the `To` header: an international domain in
/// its ASCII (IDNA) form, since relays need not speak SMTPUTF8, which Tutti does not use.
/// A local part outside ASCII cannot be written so: that recipient fails with the reason.
fn deliverable(address: &str) -> Result<String, String> {
    if address.is_ascii() {
        return Ok(address.to_string());
    }
    let ascii = tutti_recipients::address_key(address)
        .map_err(|problem| format!("not a deliverable address ({address}): {problem}"))?;
    if ascii.is_ascii() {
        Ok(ascii)
    } else {
        Err(format!(
            "{address}: the part before the @ is not ASCII; delivering it needs SMTPUTF8, which Tutti does not use"
        ))
    }
}

/// Recipients with their send times, in groups that go together: in time order, each
/// group holding those within [`GROUP_SPAN`] of its first (it goes at its last).
fn slot_groups(mut timed: Vec<(Instant, Claimed)>) -> Vec<(Instant, Vec<Claimed>)> {
    timed.sort_by_key(|(at, _)| *at);
    let mut groups: Vec<(Instant, Instant, Vec<Claimed>)> = Vec::new();
    for (at, c) in timed {
        match groups.last_mut() {
            Some((first, last, group)) if at <= *first + GROUP_SPAN => {
                *last = at;
                group.push(c);
            }
            _ => groups.push((at, at, vec![c])),
        }
    }
    groups
        .into_iter()
        .map(|(_, last, group)| (last, group))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{GROUP_SPAN, deliverable, slot_groups};
    use crate::spool::Claimed;

    fn claimed(seq: u64) -> Claimed {
        Claimed {
            seq,
            fields: Vec::new(),
            attempts: 0,
            first_ms: 0,
            booked: false,
        }
    }

    #[test]
    fn slots_close_together_go_in_one_group_at_its_last_and_groups_keep_time_order() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let timed = vec![
            (now + ms(500), claimed(3)),
            (now, claimed(1)),
            (now + GROUP_SPAN, claimed(2)),
            (now + ms(250), claimed(4)),
        ];
        let groups: Vec<(Instant, Vec<u64>)> = slot_groups(timed)
            .into_iter()
            .map(|(at, g)| (at, g.iter().map(|c| c.seq).collect()))
            .collect();
        assert_eq!(
            groups,
            [
                (now + GROUP_SPAN, vec![1, 2]),
                (now + ms(250), vec![4]),
                (now + ms(500), vec![3]),
            ]
        );
        assert!(slot_groups(Vec::new()).is_empty());
    }

    #[test]
    fn international_domains_go_out_in_ascii_and_local_parts_must_be_ascii() {
        assert_eq!(
            deliverable("Ann@shop.example").as_deref(),
            Ok("Ann@shop.example")
        );
        assert_eq!(
            deliverable("francois@Bücher.example").as_deref(),
            Ok("francois@xn--bcher-kva.example")
        );
        let refused = deliverable("françois@shop.example").unwrap_err();
        assert!(refused.contains("SMTPUTF8"), "{refused}");
        assert!(deliverable("ü@").is_err());
    }
}
