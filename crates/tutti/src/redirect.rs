//! `RedirectHttpToHttps`: the HTTP listener sends people using the Hub and the User
//! Interface to the same page over HTTPS. What machines and mail readers use stays on HTTP:
//! the Tracker (links in mail already sent), the Mailer, the component APIs, `/health`,
//! `/metrics` and `/remote-admin`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Where the redirect goes and for which paths.
#[derive(Debug, Clone)]
pub struct ToHttps {
    /// `SslPort`.
    pub port: u16,
    /// The prefixes of the components this server runs whose pages go to HTTPS.
    pub prefixes: Vec<&'static str>,
    /// The host name when the request names none (HTTP/1.0 without Host).
    pub fallback_host: Option<String>,
}

impl ToHttps {
    /// Whether `path` is a page of a component that goes to HTTPS.
    fn redirects(&self, path: &str) -> bool {
        self.prefixes
            .iter()
            .any(|prefix| match path.strip_prefix(prefix) {
                Some("") => true,
                Some(rest) if rest.starts_with('/') => !stays_on_http(rest),
                _ => false,
            })
    }

    /// `https://host[:SslPort]/path?query` for a request to `host` (a Host header's value
    /// or the request's absolute URI's authority); `None` when no host is known.
    fn location(&self, host: Option<&str>, path_and_query: &str) -> Option<String> {
        let name = match host.and_then(|h| h.parse::<Authority>().ok()) {
            Some(authority) => authority.host().to_ascii_lowercase(),
            None => self.fallback_host.clone()?,
        };
        let port = if self.port == 443 {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        Some(format!("https://{name}{port}{path_and_query}"))
    }
}

/// Paths below a component's prefix that are not pages: what other components, monitoring
/// and scripts call.
fn stays_on_http(rest: &str) -> bool {
    ["/api", "/remote-admin"]
        .iter()
        .any(|p| rest == *p || rest.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
        || rest == "/health"
        || rest == "/metrics"
}

/// The middleware on the HTTP listener.
pub async fn to_https(State(to): State<Arc<ToHttps>>, request: Request, next: Next) -> Response {
    if !to.redirects(request.uri().path()) {
        return next.run(request).await;
    }
    let host = request.uri().authority().map(|a| a.as_str()).or_else(|| {
        request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    let path_and_query = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let Some(location) = to.location(host, path_and_query) else {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "This page is served over HTTPS only (port {}), and the request names no host (Host header).\n",
                to.port
            ),
        )
            .into_response();
    };
    // A URL made of a parsed host, a port and the request's own path is a valid header.
    let Ok(value) = HeaderValue::from_str(&location) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let status = if request.method() == Method::GET || request.method() == Method::HEAD {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    (status, [(header::LOCATION, value)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(port: u16) -> ToHttps {
        ToHttps {
            port,
            prefixes: vec!["/hub", "/lui"],
            fallback_host: Some("tutti.example".into()),
        }
    }

    #[test]
    fn pages_of_the_hub_and_the_user_interface_redirect() {
        let to = to(8443);
        for path in [
            "/hub",
            "/hub/",
            "/hub/login",
            "/hub/apis",
            "/lui/jobs/1",
            "/lui/static/tutti.js",
        ] {
            assert!(to.redirects(path), "{path}");
        }
        for path in [
            "/trk/click",
            "/mailer/health",
            "/hub/api/components",
            "/hub/api",
            "/lui/api/session",
            "/hub/health",
            "/lui/metrics",
            "/hub/remote-admin/logs",
            "/hubx",
            "/health",
            "/",
        ] {
            assert!(!to.redirects(path), "{path}");
        }
    }

    #[test]
    fn location_uses_the_requests_host_name_with_ssl_port() {
        let to = to(8443);
        assert_eq!(
            to.location(Some("Tutti.Example:8080"), "/hub?a=1")
                .as_deref(),
            Some("https://tutti.example:8443/hub?a=1")
        );
        assert_eq!(
            to.location(Some("[::1]:8080"), "/lui").as_deref(),
            Some("https://[::1]:8443/lui")
        );
        assert_eq!(
            to.location(None, "/lui").as_deref(),
            Some("https://tutti.example:8443/lui")
        );
        assert_eq!(
            to.location(Some("bad host"), "/lui").as_deref(),
            Some("https://tutti.example:8443/lui")
        );
        let standard = self::to(443);
        assert_eq!(
            standard.location(Some("mail.example"), "/hub").as_deref(),
            Some("https://mail.example/hub")
        );
        let nameless = ToHttps {
            fallback_host: None,
            ..standard
        };
        assert_eq!(nameless.location(None, "/hub"), None);
    }
}
