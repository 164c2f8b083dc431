//! DKIM signing (RFC 6376) with mail-auth, one key per sender domain (`DkimKeys`).

use std::collections::HashMap;
use std::path::Path;

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{DkimSigner, Done};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

/// The headers signed, when present (RFC 6376 5.4.1 and the List-Unsubscribe-Post that
/// RFC 8058 requires to be signed).
const SIGNED: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
];

enum Signer {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

/// The signing keys by domain (a domain may have two: RSA and Ed25519, RFC 8463).
#[derive(Default)]
pub struct Dkim {
    by_domain: HashMap<String, Vec<Signer>>,
}

fn load_one(domain: &str, selector: &str, path: &Path) -> Result<Signer, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("DKIM key for {domain}: cannot read {}: {e}", path.display()))?;
    let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!(
            "DKIM key for {domain}: {} is not a PEM private key: {e}",
            path.display()
        )
    })?;
    if let PrivateKeyDer::Pkcs8(pkcs8) = &der
        && let Ok(key) = Ed25519Key::from_pkcs8_der(pkcs8.secret_pkcs8_der())
    {
        return Ok(Signer::Ed25519(
            DkimSigner::from_key(key)
                .domain(domain)
                .selector(selector)
                .headers(SIGNED.iter().copied()),
        ));
    }
    let key = RsaKey::<Sha256>::from_key_der(der).map_err(|e| {
        format!(
            "DKIM key for {domain}: {} is neither an RSA nor an Ed25519 key: {e}",
            path.display()
        )
    })?;
    Ok(Signer::Rsa(
        DkimSigner::from_key(key)
            .domain(domain)
            .selector(selector)
            .headers(SIGNED.iter().copied()),
    ))
}

impl Dkim {
    /// Loads every key; relative files are under `base` (the mailer folder).
    pub fn load(
        keys: &[(String, String, std::path::PathBuf)],
        base: &Path,
    ) -> Result<Dkim, String> {
        let mut by_domain = HashMap::new();
        for (domain, selector, file) in keys {
            let path = if file.is_absolute() {
                file.clone()
            } else {
                base.join(file)
            };
            by_domain
                .entry(domain.clone())
                .or_insert_with(Vec::new)
                .push(load_one(domain, selector, &path)?);
        }
        Ok(Dkim { by_domain })
    }

    /// The DKIM-Signature headers (each with its CRLF) for `message` from `from_address`,
    /// when its domain has keys.
    pub fn sign(&self, from_address: &str, message: &[u8]) -> Option<Result<String, String>> {
        let domain = from_address.rsplit_once('@')?.1.trim().to_ascii_lowercase();
        let signers = self.by_domain.get(&domain)?;
        let mut headers = String::new();
        for signer in signers {
            let signature = match signer {
                Signer::Rsa(s) => s.sign(message),
                Signer::Ed25519(s) => s.sign(message),
            };
            match signature {
                Ok(s) => headers.push_str(&s.to_header()),
                Err(e) => return Some(Err(format!("DKIM signing for {domain} failed: {e}"))),
            }
        }
        Some(Ok(headers))
    }
}
