//! A job definition made ready to send: its message compiled and checked once, and the
//! per-recipient tracking URLs.

use sha2::{Digest, Sha256};
use tutti_core::api::TrackingType;
use tutti_core::distribute::DistributeJob;
use tutti_core::token::{JobKey, Token, TokenKind};
use tutti_merge::MergeError;
use tutti_message::{Composer, TrackingUrls};

/// A job ready to be written per recipient.
pub struct Prepared {
    pub id: String,
    pub definition: DistributeJob,
    pub composer: Composer,
    key: JobKey,
    salt: Vec<u8>,
    /// The sender's domain, for Message-IDs.
    pub domain: String,
}

fn problem(source: &str, message: String) -> MergeError {
    MergeError {
        source: source.to_string(),
        line: 1,
        column: 1,
        message,
    }
}

impl Prepared {
    /// Compiles and checks a definition; every problem is reported with its place.
    pub fn new(
        id: &str,
        definition: &DistributeJob,
        salt: Vec<u8>,
    ) -> Result<Prepared, Vec<MergeError>> {
        let mut problems = Vec::new();
        let composer = definition.composer(id).map_err(|p| problems.extend(p)).ok();
        let key = JobKey::from_base64(&definition.tracking.key)
            .map_err(|e| problems.push(problem("tracking", format!("the job key: {e}"))))
            .ok();
        let m = &definition.message;
        match (composer, key) {
            (Some(composer), Some(key)) if problems.is_empty() => Ok(Prepared {
                id: id.to_string(),
                definition: definition.clone(),
                composer,
                key,
                salt,
                domain: m
                    .from_address
                    .rsplit_once('@')
                    .map(|(_, d)| d.trim().to_string())
                    .filter(|d| !d.is_empty() && !d.contains('&'))
                    .unwrap_or_else(|| "tutti.invalid".to_string()),
            }),
            _ => Err(problems),
        }
    }

    /// The key the Tracker's events carry for recipient `seq`, as the tracking type allows.
    pub fn recipient_key(&self, seq: u64, fields: &[String]) -> u64 {
        let tracking = &self.definition.tracking;
        match tracking.kind {
            TrackingType::Personal => seq,
            TrackingType::Unique => {
                // A keyed hash under a salt that never leaves the Mailer: the same recipient
                // always gets the same id, and nobody can tell whose it is.
                let digest = Sha256::new()
                    .chain_update(&self.salt)
                    .chain_update(seq.to_be_bytes())
                    .finalize();
                let mut first = [0u8; 8];
                first.copy_from_slice(&digest[..8]);
                u64::from_be_bytes(first)
            }
            TrackingType::Anonymous => tracking
                .profile_column
                .and_then(|c| fields.get(c))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            TrackingType::Blind => 0,
        }
    }

    /// The tracking URLs of one recipient's message.
    pub fn urls(&self, recipient: u64, sent_at: u64) -> RecipientUrls<'_> {
        RecipientUrls {
            job: self,
            recipient,
            sent_at,
        }
    }
}

/// Tokens for one recipient, signed with the job's key.
pub struct RecipientUrls<'a> {
    job: &'a Prepared,
    recipient: u64,
    sent_at: u64,
}

impl RecipientUrls<'_> {
    fn push(&self, kind: TokenKind, path: &str, link: u32, target: Option<&str>, out: &mut String) {
        let token = Token {
            job: self.job.id.clone(),
            kind,
            link,
            recipient: self.recipient,
            sent_at: self.sent_at,
            target: target.map(String::from),
        }
        .encode(&self.job.key);
        out.push_str(self.job.definition.tracking.base_url.trim_end_matches('/'));
        out.push_str(path);
        out.push_str(&token);
    }
}

impl TrackingUrls for RecipientUrls<'_> {
    fn unsubscribe(&self, out: &mut String) {
        self.push(TokenKind::Unsubscribe, "/unsubscribe?ref=", 0, None, out);
    }

    fn open(&self, out: &mut String) {
        self.push(TokenKind::Open, "/open?ref=", 0, None, out);
    }

    fn click(&self, link: usize, merged: Option<&str>, out: &mut String) {
        self.push(
            TokenKind::Click,
            "/click?ref=",
            u32::try_from(link).unwrap_or(u32::MAX),
            merged,
            out,
        );
    }
}
