//! Signed return paths (VERP). Each message goes out with an envelope sender of its own,
//!
//! ```text
//! bounce+HANDLE-N-MAC@ReturnPathDomain
//! ```
//!
//! - `HANDLE`: 8 characters that name the job, a keyed hash of its id. The id itself does
//!   not fit (job ids have up to 64 characters, as many as the whole local part may have)
//!   and is nobody else's business.
//! - `N`: the recipient's number in the job.
//! - `MAC`: 10 characters (50 bits), HMAC-SHA256 over the job id and `N`.
//!
//! Both hashes are keyed with the Mailer's return-path key (32 random bytes in
//! `mailer/spool/return-path-key`, made at the first start): nobody without it can write
//! the return path of a recipient, so a bounce or complaint that reaches one was returned
//! by a server that saw that recipient's message. The key lives beside the spool, so a
//! Mailer moved or restored with its spool folder still reads the return paths it sent.
//!
//! The local part is written in lowercase letters and digits and read in any case: some
//! MTAs change the case of local parts. It has at most 7 + 8 + 1 + 20 + 1 + 10 = 47
//! characters, within the 64 of RFC 5321 whatever the job and the recipient.
//!
//! Before return paths were signed they were `bounce+JOB-N`: `claims` still reads that
//! form, and the bounce listener takes it only for the jobs the spool marks as sent so.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What every return path's local part starts with.
pub(crate) const PREFIX: &str = "bounce+";
/// Characters of a job's handle (40 bits).
pub(crate) const HANDLE_CHARS: usize = 8;
/// Characters of a return path's MAC (50 bits: a forger must guess, one SMTP transaction
/// per guess, among 10^15).
pub(crate) const MAC_CHARS: usize = 10;
/// The key's file in the spool folder.
pub(crate) const KEY_FILE: &str = "return-path-key";

/// RFC 4648 base32 in lowercase: letters and digits only, so case folding loses nothing.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The Mailer's key for return paths. Never logged.
#[derive(Clone)]
pub struct ReturnPathKey([u8; 32]);

impl std::fmt::Debug for ReturnPathKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReturnPathKey(***)")
    }
}

/// What a return path says, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// `bounce+HANDLE-N-MAC`: right when the MAC is, for a job with that handle.
    Signed {
        handle: String,
        seq: u64,
        mac: String,
    },
    /// `bounce+JOB-N`, as return paths were before they were signed.
    Unsigned { job: String, seq: u64 },
}

fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn base32(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| ALPHABET.contains(&b))
}

/// Reads `address` as a return path in `domain` (lowercase; empty: any domain). Gives
/// nothing for other addresses, and both readings for the (never seen) local part that
/// is a signed one and also an unsigned one of a job whose id looks like `HANDLE-N`.
pub(crate) fn claims(address: &str, domain: &str) -> Vec<Claim> {
    let Some((local, host)) = address.trim().rsplit_once('@') else {
        return Vec::new();
    };
    if !domain.is_empty() && !host.eq_ignore_ascii_case(domain) {
        return Vec::new();
    }
    let Some(rest) = local
        .get(..PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(PREFIX))
        .map(|_| &local[PREFIX.len()..])
    else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let lower = rest.to_ascii_lowercase();
    let mut parts = lower.splitn(3, '-');
    if let (Some(handle), Some(seq), Some(mac)) = (parts.next(), parts.next(), parts.next())
        && base32(handle, HANDLE_CHARS)
        && base32(mac, MAC_CHARS)
        && let Some(seq) = digits(seq)
    {
        found.push(Claim::Signed {
            handle: handle.to_string(),
            seq,
            mac: mac.to_string(),
        });
    }
    // Job ids are case-sensitive: the unsigned form is read as it is written.
    if let Some((job, seq)) = rest.rsplit_once('-')
        && tutti_core::token::valid_job_id(job)
        && let Some(seq) = digits(seq)
    {
        found.push(Claim::Unsigned {
            job: job.to_string(),
            seq,
        });
    }
    found
}

impl ReturnPathKey {
    /// The key in `dir` (the spool folder), made there at the first call.
    pub fn open(dir: &Path) -> std::io::Result<ReturnPathKey> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return ReturnPathKey::from_hex(text.trim()).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{} does not hold a return-path key (64 hexadecimal digits)",
                            path.display()
                        ),
                    )
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(dir)?;
        let key = ReturnPathKey(tutti_core::secret::random_bytes::<32>()?);
        let hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = dir.join(format!("{KEY_FILE}.tmp"));
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(format!("{hex}\n").as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(key)
    }

    fn from_hex(text: &str) -> Option<ReturnPathKey> {
        if text.len() != 64 {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(ReturnPathKey(key))
    }

    fn hash(&self, purpose: &[u8], job: &str, seq: Option<u64>, chars: usize) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(purpose);
        // Job ids have at most 64 bytes: one length byte keeps id and number apart.
        mac.update(&[u8::try_from(job.len()).unwrap_or(u8::MAX)]);
        mac.update(job.as_bytes());
        if let Some(seq) = seq {
            mac.update(&seq.to_be_bytes());
        }
        let digest = mac.finalize().into_bytes();
        (0..chars)
            .map(|i| {
                // Bits 5i .. 5i+5 of the digest, most significant first.
                let bit = 5 * i;
                let pair = u16::from_be_bytes([digest[bit / 8], digest[bit / 8 + 1]]);
                char::from(ALPHABET[usize::from((pair >> (11 - bit % 8)) & 31)])
            })
            .collect()
    }

    /// The handle that names `job` in its return paths.
    pub(crate) fn handle(&self, job: &str) -> String {
        self.hash(b"tutti return-path handle\0", job, None, HANDLE_CHARS)
    }

    fn mac(&self, job: &str, seq: u64) -> String {
        self.hash(b"tutti return-path recipient\0", job, Some(seq), MAC_CHARS)
    }

    /// The return path of recipient `seq` of `job` in `domain`.
    pub fn address(&self, job: &str, seq: u64, domain: &str) -> String {
        format!(
            "{PREFIX}{}-{seq}-{}@{domain}",
            self.handle(job),
            self.mac(job, seq)
        )
    }

    /// Whether `mac` (lowercase) is the MAC of recipient `seq` of `job`; in constant time.
    pub(crate) fn verify(&self, job: &str, seq: u64, mac: &str) -> bool {
        self.mac(job, seq).as_bytes().ct_eq(mac.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tutti_core::token::MAX_JOB_ID_LEN;

    fn key() -> ReturnPathKey {
        ReturnPathKey([7; 32])
    }

    fn signed(address: &str) -> Option<(String, u64, String)> {
        claims(address, "b.example")
            .into_iter()
            .find_map(|c| match c {
                Claim::Signed { handle, seq, mac } => Some((handle, seq, mac)),
                Claim::Unsigned { .. } => None,
            })
    }

    #[test]
    fn a_signed_return_path_reads_back_and_verifies() {
        let k = key();
        let address = k.address("261125A", 17, "b.example");
        let local = address.split('@').next().unwrap();
        assert!(local.starts_with("bounce+"), "{address}");
        assert!(
            local[PREFIX.len()..]
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || b.is_ascii_lowercase()),
            "{address}"
        );
        let (handle, seq, mac) = signed(&address).unwrap();
        assert_eq!((handle.as_str(), seq), (k.handle("261125A").as_str(), 17));
        assert!(k.verify("261125A", 17, &mac));
        assert_eq!(
            claims(&address, "b.example").len(),
            1,
            "not also read as an unsigned one"
        );
    }

    #[test]
    fn the_local_part_fits_64_characters_with_the_longest_ids() {
        let job = "J".repeat(MAX_JOB_ID_LEN);
        let address = key().address(&job, u64::MAX, "b.example");
        let local = address.split('@').next().unwrap();
        assert!(local.len() <= 64, "{} characters: {local}", local.len());
        assert_eq!(local.len(), 47);
        assert!(signed(&address).is_some());
    }

    #[test]
    fn case_folded_return_paths_still_verify() {
        let k = key();
        let address = k.address("my-Job", 3, "b.example");
        for folded in [address.to_ascii_uppercase(), address.to_ascii_lowercase()] {
            let (handle, seq, mac) = signed(&folded).unwrap();
            assert_eq!(handle, k.handle("my-Job"));
            assert!(k.verify("my-Job", seq, &mac), "{folded}");
        }
    }

    #[test]
    fn a_wrong_mac_key_job_or_recipient_fails() {
        let k = key();
        let (_, _, mac) = signed(&k.address("J1", 5, "b.example")).unwrap();
        assert!(!k.verify("J1", 6, &mac), "another recipient");
        assert!(!k.verify("J2", 5, &mac), "another job");
        assert!(!ReturnPathKey([8; 32]).verify("J1", 5, &mac), "another key");
        let mut wrong = mac.clone().into_bytes();
        wrong[0] = if wrong[0] == b'a' { b'b' } else { b'a' };
        assert!(!k.verify("J1", 5, &String::from_utf8(wrong).unwrap()));
        assert!(!k.verify("J1", 5, ""));
        assert_ne!(k.handle("J1"), k.handle("J2"));
        assert_ne!(k.handle("J1"), ReturnPathKey([8; 32]).handle("J1"));
    }

    #[test]
    fn unsigned_and_foreign_addresses() {
        assert_eq!(
            claims("bounce+my-job-2@B.EXAMPLE", "b.example"),
            vec![Claim::Unsigned {
                job: "my-job".into(),
                seq: 2
            }]
        );
        assert_eq!(
            claims("Bounce+261125A-17@b.example", ""),
            vec![Claim::Unsigned {
                job: "261125A".into(),
                seq: 17
            }]
        );
        assert!(claims("bounce+J-x@b.example", "b.example").is_empty());
        assert!(claims("bounce+J-+1@b.example", "b.example").is_empty());
        assert!(claims("bounce+J-1@other.example", "b.example").is_empty());
        assert!(claims("fbl@b.example", "b.example").is_empty());
        assert!(claims("bounce+", "").is_empty());
        // The wrong length of handle or MAC, or a character outside base32.
        assert!(signed("bounce+abcdefg-1-abcdefghij@b.example").is_none());
        assert!(signed("bounce+abcdefgh-1-abcdefghi@b.example").is_none());
        assert!(signed("bounce+abcdefgh-1-abcdefghi1@b.example").is_none());
    }

    #[test]
    fn the_key_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = ReturnPathKey::open(dir.path()).unwrap();
        let b = ReturnPathKey::open(dir.path()).unwrap();
        assert_eq!(a.address("J", 1, "d"), b.address("J", 1, "d"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(format!("{a:?}"), "ReturnPathKey(***)");
        std::fs::write(dir.path().join(KEY_FILE), "garbage").unwrap();
        assert!(ReturnPathKey::open(dir.path()).is_err());
    }
}
