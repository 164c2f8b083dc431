//! A small SMTP server: the Mailer's bounce listener and the test sink are built on it.
//! It speaks ESMTP with PIPELINING (optional), STARTTLS or implicit TLS (when given a
//! certificate), AUTH PLAIN over TLS (when given credentials), SIZE, and hands each
//! message to a [`Handler`], whose answer is the reply to DATA.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::reply::Reply;

/// What the server decides per command; an `Err` is the reply to give instead of 250.
pub trait Handler: Send + Sync + 'static {
    fn mail(&self, _from: &str) -> Result<(), Reply> {
        Ok(())
    }
    fn rcpt(&self, to: &str) -> Result<(), Reply>;
    /// A whole message for the accepted recipients; answer only once it is safe.
    fn data(
        &self,
        from: String,
        to: Vec<String>,
        content: Vec<u8>,
    ) -> impl Future<Output = Result<(), Reply>> + Send;
}

#[derive(Clone)]
pub struct ServerConfig {
    pub hostname: String,
    pub pipelining: bool,
    pub max_message_size: usize,
    pub max_recipients: usize,
    /// When set, STARTTLS is offered with this certificate.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (port 465 style) instead of STARTTLS; needs `tls`.
    pub implicit_tls: bool,
    /// When set, MAIL needs AUTH PLAIN with this user name and password first (offered
    /// over TLS only).
    pub auth: Option<(String, String)>,
    /// How long the server waits for the client's next line.
    pub idle_timeout: Duration,
}

impl ServerConfig {
    pub fn new(hostname: &str) -> ServerConfig {
        ServerConfig {
            hostname: hostname.to_string(),
            pipelining: true,
            max_message_size: 50 * 1024 * 1024,
            max_recipients: 1000,
            tls: None,
            implicit_tls: false,
            auth: None,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

fn reply(code: u16, text: &str) -> Vec<u8> {
    format!("{code} {text}\r\n").into_bytes()
}

fn reply_of(r: &Reply) -> Vec<u8> {
    match r.enhanced {
        Some([a, b, c]) => format!("{} {a}.{b}.{c} {}\r\n", r.code, r.text).into_bytes(),
        None => reply(r.code, &r.text),
    }
}

/// The address inside `MAIL FROM:<…>` / `RCPT TO:<…>` (parameters after it ignored).
fn path_arg(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_string())
}

/// Serves connections from `listener` until `shutdown` completes; then the sessions
/// under way are ended too (a message not yet answered is the sender's to send again).
pub async fn serve<H: Handler>(
    listener: TcpListener,
    config: ServerConfig,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => {
                sessions.abort_all();
                return;
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (config, handler) = (config.clone(), handler.clone());
                sessions.spawn(async move {
                    if let Err(e) = session(stream, config, handler).await {
                        tracing::debug!("SMTP session ended: {e}");
                    }
                });
            }
        }
    }
}

async fn session<H: Handler>(
    stream: TcpStream,
    config: ServerConfig,
    handler: Arc<H>,
) -> std::io::Result<()> {
    let greeting = reply(220, &format!("{} ESMTP Tutti", config.hostname));
    if let (true, Some(tls_config)) = (config.implicit_tls, &config.tls) {
        let tls = tokio_rustls::TlsAcceptor::from(tls_config.clone())
            .accept(stream)
            .await?;
        let mut io = BufReader::new(tls);
        io.get_mut().write_all(&greeting).await?;
        io.get_mut().flush().await?;
        return converse(&mut io, &config, &*handler, true)
            .await
            .map(|_| ());
    }
    let mut io = BufReader::new(stream);
    io.get_mut().write_all(&greeting).await?;
    match converse(&mut io, &config, &*handler, false).await? {
        Next::Close => Ok(()),
        Next::StartTls(acceptor) => {
            let tls = acceptor.accept(io.into_inner()).await?;
            let mut io = BufReader::new(tls);
            converse(&mut io, &config, &*handler, true)
                .await
                .map(|_| ())
        }
    }
}

enum Next {
    Close,
    StartTls(tokio_rustls::TlsAcceptor),
}

async fn converse<S, H>(
    io: &mut BufReader<S>,
    config: &ServerConfig,
    handler: &H,
    tls: bool,
) -> std::io::Result<Next>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut authenticated = config.auth.is_none();
    loop {
        // Replies to pipelined commands go out together, when no more input is waiting.
        if !out.is_empty() && io.buffer().is_empty() {
            io.get_mut().write_all(&out).await?;
            io.get_mut().flush().await?;
            out.clear();
        }
        let mut line = Vec::new();
        let read = tokio::time::timeout(
            config.idle_timeout,
            (&mut *io).take(4096).read_until(b'\n', &mut line),
        )
        .await;
        let Ok(Ok(n)) = read else {
            return Ok(Next::Close);
        };
        if n == 0 {
            return Ok(Next::Close);
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let upper = text.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or("");
        match verb {
            "EHLO" | "HELO" => {
                from = None;
                to.clear();
                if verb == "HELO" {
                    out.extend(reply(250, &config.hostname));
                    continue;
                }
                let mut caps = vec![
                    config.hostname.clone(),
                    format!("SIZE {}", config.max_message_size),
                    "8BITMIME".into(),
                    "ENHANCEDSTATUSCODES".into(),
                ];
                if config.pipelining {
                    caps.push("PIPELINING".into());
                }
                if config.tls.is_some() && !tls {
                    caps.push("STARTTLS".into());
                }
                if config.auth.is_some() && tls {
                    caps.push("AUTH PLAIN".into());
                }
                for (i, cap) in caps.iter().enumerate() {
                    let sep = if i + 1 == caps.len() { ' ' } else { '-' };
                    out.extend(format!("250{sep}{cap}\r\n").into_bytes());
                }
            }
            "STARTTLS" if !tls => match &config.tls {
                Some(tls_config) => {
                    io.get_mut().write_all(&out).await?;
                    out.clear();
                    io.get_mut()
                        .write_all(&reply(220, "2.0.0 Ready to start TLS"))
                        .await?;
                    io.get_mut().flush().await?;
                    return Ok(Next::StartTls(tokio_rustls::TlsAcceptor::from(
                        tls_config.clone(),
                    )));
                }
                None => out.extend(reply(502, "5.5.1 STARTTLS is not offered")),
            },
            "AUTH" => {
                let answer = match (&config.auth, tls, authenticated) {
                    (None, _, _) | (_, false, _) => reply(502, "5.5.1 AUTH is not offered here"),
                    (_, _, true) => reply(503, "5.5.1 Already authenticated"),
                    (Some(credentials), true, false) => {
                        let words: Vec<&str> = text.split_whitespace().collect();
                        match words.as_slice() {
                            [_, mechanism, token] if mechanism.eq_ignore_ascii_case("PLAIN") => {
                                if plain_matches(token, credentials) {
                                    authenticated = true;
                                    reply(235, "2.7.0 Authentication successful")
                                } else {
                                    reply(535, "5.7.8 Authentication credentials invalid")
                                }
                            }
                            _ => reply(504, "5.5.4 Only AUTH PLAIN with its initial response"),
                        }
                    }
                };
                out.extend(answer);
            }
            "MAIL" if !authenticated => out.extend(reply(530, "5.7.0 Authentication required")),
            "MAIL" => match upper
                .strip_prefix("MAIL FROM:")
                .and_then(|_| path_arg(&text[10..]))
            {
                Some(_) if from.is_some() => out.extend(reply(503, "5.5.1 MAIL is already given")),
                Some(address) => match handler.mail(&address) {
                    Ok(()) => {
                        from = Some(address);
                        out.extend(reply(250, "2.1.0 OK"));
                    }
                    Err(r) => out.extend(reply_of(&r)),
                },
                None => out.extend(reply(501, "5.5.4 Syntax: MAIL FROM:<address>")),
            },
            "RCPT" => match upper
                .strip_prefix("RCPT TO:")
                .and_then(|_| path_arg(&text[8..]))
            {
                _ if from.is_none() => out.extend(reply(503, "5.5.1 MAIL first")),
                _ if to.len() >= config.max_recipients => {
                    out.extend(reply(452, "4.5.3 Too many recipients"))
                }
                Some(address) => match handler.rcpt(&address) {
                    Ok(()) => {
                        to.push(address);
                        out.extend(reply(250, "2.1.5 OK"));
                    }
                    Err(r) => out.extend(reply_of(&r)),
                },
                None => out.extend(reply(501, "5.5.4 Syntax: RCPT TO:<address>")),
            },
            "DATA" => {
                let Some(sender) = from.clone().filter(|_| !to.is_empty()) else {
                    out.extend(reply(554, "5.5.1 No valid recipients"));
                    continue;
                };
                out.extend(reply(354, "End data with <CR><LF>.<CR><LF>"));
                io.get_mut().write_all(&out).await?;
                io.get_mut().flush().await?;
                out.clear();
                let Some(content) = read_data(io, config).await? else {
                    out.extend(reply(552, "5.3.4 Message too big"));
                    from = None;
                    to.clear();
                    continue;
                };
                let result = handler.data(sender, std::mem::take(&mut to), content).await;
                from = None;
                out.extend(match result {
                    Ok(()) => reply(250, "2.0.0 OK queued"),
                    Err(r) => reply_of(&r),
                });
            }
            "RSET" => {
                from = None;
                to.clear();
                out.extend(reply(250, "2.0.0 OK"));
            }
            "NOOP" => out.extend(reply(250, "2.0.0 OK")),
            "QUIT" => {
                out.extend(reply(221, "2.0.0 Bye"));
                io.get_mut().write_all(&out).await?;
                io.get_mut().flush().await?;
                return Ok(Next::Close);
            }
            _ => out.extend(reply(500, "5.5.2 Command not recognized")),
        }
    }
}

/// Whether an AUTH PLAIN response (base64 of `authzid NUL user NUL password`) names these
/// credentials.
fn plain_matches(token: &str, (user, password): &(String, String)) -> bool {
    use base64::Engine;
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else {
        return false;
    };
    let mut parts = decoded.split(|&b| b == 0);
    let (_authzid, given_user, given_password) = (parts.next(), parts.next(), parts.next());
    parts.next().is_none()
        && given_user == Some(user.as_bytes())
        && given_password == Some(password.as_bytes())
}

/// Reads message content up to the lone `.` line, undoing dot-stuffing. `None` when it
/// is larger than allowed (the rest is read and dropped).
async fn read_data<S: AsyncRead + Unpin>(
    io: &mut BufReader<S>,
    config: &ServerConfig,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut content = Vec::new();
    let mut too_big = false;
    loop {
        let mut line = Vec::new();
        let n = tokio::time::timeout(
            config.idle_timeout,
            (&mut *io).take(1 << 20).read_until(b'\n', &mut line),
        )
        .await
        .map_err(|_| std::io::Error::other("timeout in DATA"))??;
        if n == 0 {
            return Err(std::io::Error::other("the connection closed in DATA"));
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok((!too_big).then_some(content));
        }
        let body = line.strip_prefix(b".").unwrap_or(&line);
        if content.len() + body.len() > config.max_message_size {
            too_big = true;
            content.clear();
        } else if !too_big {
            content.extend_from_slice(body);
        }
    }
}
