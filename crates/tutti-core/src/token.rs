//! Tracking tokens: the `ref` of every open, click and unsubscribe URL.
//!
//! A token is opaque and URL-safe (base64url). Its bytes are
//!
//! ```text
//! version (1) | job id length (1) | job id | kind (1) | link (varint, clicks only)
//!   | recipient key (varint) | sent at (varint, Unix seconds)
//!   | target length (varint) | target (for links with merge fields; empty otherwise)
//!   | MAC (12 bytes: HMAC-SHA256 under the job's key, truncated)
//! ```
//!
//! The MAC covers everything before it, so no part can be changed or made up without the
//! job's key, which only the User Interface, the Mailer and the Tracker know. A link whose
//! target contains merge fields carries the recipient's own merged target in the token
//! (authenticated by the MAC); every other link is looked up in the job's link table.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const TOKEN_VERSION: u8 = 1;
/// 96 bits of MAC.
pub const MAC_LEN: usize = 12;
/// Longest token accepted, in characters (a merged target makes tokens long).
pub const MAX_TOKEN_CHARS: usize = 4096;
/// Longest job id.
pub const MAX_JOB_ID_LEN: usize = 64;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Open,
    Click,
    Unsubscribe,
}

impl TokenKind {
    fn byte(self) -> u8 {
        match self {
            TokenKind::Open => 0,
            TokenKind::Click => 1,
            TokenKind::Unsubscribe => 2,
        }
    }

    fn from_byte(b: u8) -> Option<TokenKind> {
        match b {
            0 => Some(TokenKind::Open),
            1 => Some(TokenKind::Click),
            2 => Some(TokenKind::Unsubscribe),
            _ => None,
        }
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub job: String,
    pub kind: TokenKind,
    /// Index in the job's link table (clicks only; 0 otherwise).
    pub link: u32,
    /// The recipient key the job's tracking type allows (0 for blind tracking).
    pub recipient: u64,
    /// When the message was built, Unix seconds (to tell scanners that click at once).
    pub sent_at: u64,
    /// The merged target of a link with merge fields.
    pub target: Option<String>,
}

/// A job's 32-byte signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct JobKey(pub [u8; 32]);

impl std::fmt::Debug for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobKey(***)")
    }
}

impl JobKey {
    pub fn generate() -> std::io::Result<JobKey> {
        crate::secret::random_bytes::<32>().map(JobKey)
    }

    /// base64url, for the job's registration.
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    pub fn from_base64(s: &str) -> Result<JobKey, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim())
            .map_err(|_| "the job key is not base64url".to_string())?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(JobKey)
            .map_err(|_| "the job key must be 32 bytes".to_string())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; 32 bytes cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }
}

/// Why a token was refused. The Tracker answers every one of these with the same 404.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty")]
    Empty,
    #[error("the token is longer than {MAX_TOKEN_CHARS} characters")]
    TooLong,
    #[error("the token is not base64url")]
    NotBase64,
    #[error("the token is cut short")]
    Truncated,
    #[error("unknown token version {0}")]
    Version(u8),
    #[error("the token names no valid job")]
    BadJob,
    #[error("unknown token kind {0}")]
    Kind(u8),
    #[error("the token has a malformed field")]
    Malformed,
    #[error("the token's MAC is wrong")]
    BadMac,
}

/// Whether `id` can be a job id: 1 to 64 of `A-Z a-z 0-9 _ . -`.
pub fn valid_job_id(id: &str) -> bool {
    (1..=MAX_JOB_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads bytes off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, TokenError> {
        let (&b, rest) = self.0.split_first().ok_or(TokenError::Truncated)?;
        self.0 = rest;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], TokenError> {
        if self.0.len() < n {
            return Err(TokenError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, TokenError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return Err(TokenError::Malformed);
            }
            value |= part << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(TokenError::Malformed)
    }
}

impl Token {
    /// The token as it goes into a URL.
    pub fn encode(&self, key: &JobKey) -> String {
        let mut out =
            Vec::with_capacity(32 + self.job.len() + self.target.as_ref().map_or(0, String::len));
        out.push(TOKEN_VERSION);
        out.push(self.job.len() as u8);
        out.extend_from_slice(self.job.as_bytes());
        out.push(self.kind.byte());
        if self.kind == TokenKind::Click {
            put_varint(&mut out, u64::from(self.link));
        }
        put_varint(&mut out, self.recipient);
        put_varint(&mut out, self.sent_at);
        let target = self.target.as_deref().unwrap_or("");
        put_varint(&mut out, target.len() as u64);
        out.extend_from_slice(target.as_bytes());
        let mut mac = key.mac();
        mac.update(&out);
        out.extend_from_slice(&mac.finalize().into_bytes()[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(out)
    }
}

/// A token read but not yet checked: its job tells which key checks it.
#[derive(Debug)]
pub struct Unverified {
    pub token: Token,
    signed: Vec<u8>,
    mac: [u8; MAC_LEN],
}

/// Reads a token without checking its MAC.
pub fn parse(text: &str) -> Result<Unverified, TokenError> {
    if text.is_empty() {
        return Err(TokenError::Empty);
    }
    if text.len() > MAX_TOKEN_CHARS {
        return Err(TokenError::TooLong);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| TokenError::NotBase64)?;
    if bytes.len() < MAC_LEN + 6 {
        return Err(TokenError::Truncated);
    }
    let (signed, mac) = bytes.split_at(bytes.len() - MAC_LEN);
    let mut r = Reader(signed);
    let version = r.byte()?;
    if version != TOKEN_VERSION {
        return Err(TokenError::Version(version));
    }
    let job_len = usize::from(r.byte()?);
    let job = std::str::from_utf8(r.bytes(job_len)?).map_err(|_| TokenError::BadJob)?;
    if !valid_job_id(job) {
        return Err(TokenError::BadJob);
    }
    let kind_byte = r.byte()?;
    let kind = TokenKind::from_byte(kind_byte).ok_or(TokenError::Kind(kind_byte))?;
    let link = if kind == TokenKind::Click {
        u32::try_from(r.varint()?).map_err(|_| TokenError::Malformed)?
    } else {
        0
    };
    let recipient = r.varint()?;
    let sent_at = r.varint()?;
    let target_len = usize::try_from(r.varint()?).map_err(|_| TokenError::Malformed)?;
    let target = std::str::from_utf8(r.bytes(target_len)?).map_err(|_| TokenError::Malformed)?;
    if !r.0.is_empty() {
        return Err(TokenError::Malformed);
    }
    let token = Token {
        job: job.to_string(),
        kind,
        link,
        recipient,
        sent_at,
        target: (!target.is_empty()).then(|| target.to_string()),
    };
    let mac = <[u8; MAC_LEN]>::try_from(mac).map_err(|_| TokenError::Truncated)?;
    Ok(Unverified {
        token,
        signed: signed.to_vec(),
        mac,
    })
}

impl Unverified {
    /// Checks the MAC under the job's key (in constant time).
    pub fn verify(self, key: &JobKey) -> Result<Token, TokenError> {
        let mut mac = key.mac();
        mac.update(&self.signed);
        mac.verify_truncated_left(&self.mac)
            .map_err(|_| TokenError::BadMac)?;
        Ok(self.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> JobKey {
        JobKey([b; 32])
    }

    fn click() -> Token {
        Token {
            job: "261125A".into(),
            kind: TokenKind::Click,
            link: 3,
            recipient: 42,
            sent_at: 1_790_000_000,
            target: None,
        }
    }

    #[test]
    fn round_trip_and_url_safe() {
        let t = click();
        let text = t.encode(&key(1));
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{text}"
        );
        assert_eq!(parse(&text).unwrap().verify(&key(1)).unwrap(), t);
    }

    #[test]
    fn another_jobs_key_fails() {
        let text = click().encode(&key(1));
        assert_eq!(
            parse(&text).unwrap().verify(&key(2)),
            Err(TokenError::BadMac)
        );
    }

    #[test]
    fn broken_tokens_are_refused() {
        let text = click().encode(&key(1));
        assert_eq!(parse("").unwrap_err(), TokenError::Empty);
        assert_eq!(parse(&"A".repeat(5000)).unwrap_err(), TokenError::TooLong);
        assert_eq!(parse("not base64!").unwrap_err(), TokenError::NotBase64);
        assert_eq!(parse(&text[..12]).unwrap_err(), TokenError::Truncated);
        assert!(
            parse(&text[..text.len() - 2])
                .and_then(|u| u.verify(&key(1)))
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn every_token_round_trips(job in "[A-Za-z0-9_.-]{1,64}", kind in 0u8..3, link in any::<u32>(), recipient in any::<u64>(),
                                   sent_at in any::<u64>(), target in proptest::option::of("https?://[a-z]{1,10}\\.example/\\PC{1,40}"), k in any::<u8>()) {
            let kind = TokenKind::from_byte(kind).unwrap();
            let t = Token { job, kind, link: if kind == TokenKind::Click { link } else { 0 }, recipient, sent_at, target };
            let text = t.encode(&key(k));
            prop_assert!(text.len() <= MAX_TOKEN_CHARS);
            prop_assert_eq!(parse(&text).unwrap().verify(&key(k)).unwrap(), t);
        }

        /// Changing any one byte of a valid token makes it fail.
        #[test]
        fn any_tampered_byte_fails(pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let mut bytes = URL_SAFE_NO_PAD.decode(click().encode(&key(1))).unwrap();
            let i = pos.index(bytes.len());
            bytes[i] ^= flip;
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert!(parse(&text).and_then(|u| u.verify(&key(1))).is_err());
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s).map(|u| u.verify(&key(1)));
        }

        #[test]
        fn parser_never_panics_on_base64_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&URL_SAFE_NO_PAD.encode(&bytes)).map(|u| u.verify(&key(1)));
        }
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    /// A token made by an independent implementation of the format above (a few lines of
    /// Python's hmac and base64, kept in the fuzz corpus as seed0).
    #[test]
    fn the_documented_format_is_what_the_code_reads() {
        let token = parse("AQcyNjExMjVBAQMqgPfE1QYADLA0WeyJbThVyhQJ")
            .unwrap()
            .verify(&JobKey([7; 32]))
            .unwrap();
        assert_eq!(
            token,
            Token {
                job: "261125A".into(),
                kind: TokenKind::Click,
                link: 3,
                recipient: 42,
                sent_at: 1_790_000_000,
                target: None
            }
        );
    }
}
