//! Calling another component's API: the HTTP client, cluster-secret authentication and
//! errors that say what went wrong in words an administrator can act on.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{ErrorBody, Health, Ping};
use crate::component::Component;
use crate::config::ServerConfig;
use crate::hostport::HostPort;
use crate::secret::ClusterSecret;

/// The HTTP client type of component calls (so callers need not name reqwest).
pub type HttpClient = reqwest::Client;

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("tutti/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
        .no_proxy()
}

/// The HTTP client a server's components (and its commands) use for every call to another
/// component. Environment proxy settings are ignored: components talk over the names in
/// their INI files. HTTPS peers must present a certificate the system trusts or one of
/// server.ini's `TrustedCertificates`.
pub fn http_client(server: &ServerConfig) -> Result<reqwest::Client, String> {
    let mut builder = client_builder();
    if let Some(trusted) = &server.trusted_certificates {
        builder = builder.tls_certs_merge(trusted.certificates.iter().cloned());
    }
    builder
        .build()
        .map_err(|e| match &server.trusted_certificates {
            Some(trusted) => format!(
                "server.ini, TrustedCertificates: the certificates in {} cannot be used: {}",
                trusted.path.display(),
                chain(&e)
            ),
            None => format!(
                "the HTTP client cannot start its TLS backend: {}",
                chain(&e)
            ),
        })
}

/// Why a call to another component failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "{url} refused the ClusterSecret (401): the ClusterSecret in this server's INI file differs from the one of the component there"
    )]
    Unauthorized { url: String },
    #[error("{url} answered {status}: {message}")]
    Status {
        url: String,
        status: StatusCode,
        message: String,
    },
    #[error("{url} answered something that is not a Tutti {expected} answer: {reason}")]
    Unexpected {
        url: String,
        expected: &'static str,
        reason: String,
    },
}

/// A client for one peer component at one address.
#[derive(Debug, Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    base: HostPort,
    component: Component,
    secret: ClusterSecret,
}

impl PeerClient {
    pub fn new(
        http: reqwest::Client,
        base: HostPort,
        component: Component,
        secret: ClusterSecret,
    ) -> Self {
        PeerClient {
            http,
            base,
            component,
            secret,
        }
    }

    pub fn component(&self) -> Component {
        self.component
    }

    /// `http://host:port/hub` and the like.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}{}",
            self.base.base_url(),
            self.component.prefix(),
            path
        )
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, PeerError> {
        let url = self.url(path);
        let response = self
            .http
            .get(&url)
            .bearer_auth(self.secret.expose())
            .send()
            .await;
        decode(url, response).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, PeerError> {
        let url = self.url(path);
        let response = self
            .http
            .post(&url)
            .bearer_auth(self.secret.expose())
            .json(body)
            .send()
            .await;
        decode(url, response).await
    }

    /// Any call: `build` adds what `get` and `post` do not (another method, headers, a
    /// streamed body) to a request that already carries the secret.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<T, PeerError> {
        let url = self.url(path);
        let request = self
            .http
            .request(method, &url)
            .bearer_auth(self.secret.expose());
        let response = build(request).send().await;
        decode(url, response).await
    }

    /// Unauthenticated health check.
    pub async fn health(&self) -> Result<Health, PeerError> {
        probe_health(&self.http, &self.base, self.component).await
    }

    /// Authenticated round trip: reachable, the right component, and the secret accepted.
    pub async fn ping(&self) -> Result<Ping, PeerError> {
        self.get("/api/ping").await
    }
}

/// `GET {base}/{component}/health`: whether `component` answers at `base`, as itself.
pub async fn probe_health(
    http: &reqwest::Client,
    base: &HostPort,
    component: Component,
) -> Result<Health, PeerError> {
    let url = format!("{}{}/health", base.base_url(), component.prefix());
    let response = http.get(&url).timeout(Duration::from_secs(3)).send().await;
    let health: Health = decode(url.clone(), response).await?;
    if health.component != component {
        return Err(PeerError::Unexpected {
            url,
            expected: component.title(),
            reason: format!("the {} answers there", health.component.title()),
        });
    }
    Ok(health)
}

async fn decode<T: DeserializeOwned>(
    url: String,
    response: reqwest::Result<reqwest::Response>,
) -> Result<T, PeerError> {
    let response = response.map_err(|e| PeerError::Unreachable {
        reason: describe(&e),
        url: url.clone(),
    })?;
    let status = response.status();
    // The cluster-secret check answers 401 with a Bearer challenge; a 401 without one is an
    // answer about something else (a person's wrong login, say).
    if status == StatusCode::UNAUTHORIZED
        && response
            .headers()
            .contains_key(reqwest::header::WWW_AUTHENTICATE)
    {
        return Err(PeerError::Unauthorized { url });
    }
    let bytes = response.bytes().await.map_err(|e| PeerError::Unreachable {
        reason: describe(&e),
        url: url.clone(),
    })?;
    if !status.is_success() {
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(200).collect());
        return Err(PeerError::Status {
            url,
            status,
            message,
        });
    }
    // An empty answer (204) reads as JSON null, which `()` and `Option` accept.
    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
    serde_json::from_slice(bytes).map_err(|e| PeerError::Unexpected {
        url,
        expected: "component",
        reason: e.to_string(),
    })
}

/// reqwest's error chain in one line ("connection refused", "timed out", ...).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time (timed out)".into();
    }
    let text = chain(e);
    // rustls: "invalid peer certificate: UnknownIssuer", "... NotValidForName", ...
    if text.contains("invalid peer certificate") {
        return format!(
            "{text} (the peer's HTTPS certificate is not trusted here: if it is self-signed or \
             from a private CA, name that certificate in TrustedCertificates in this server's \
             server.ini; the host name in the address must be one the certificate names)"
        );
    }
    text
}

/// An error and its sources in one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}
