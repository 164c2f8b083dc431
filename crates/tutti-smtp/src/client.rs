//! One SMTP connection to a relay, sending many messages with pipelining.
//!
//! With PIPELINING (RFC 2920) a message costs one round trip: its content and the next
//! message's `MAIL FROM`, `RCPT TO`s and `DATA` go out in one write, and the replies come
//! back in order. Each recipient gets its own outcome with the server's reply.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::ServerName;
use smtp_proto::{EXT_AUTH, EXT_PIPELINING, EXT_START_TLS, EhloResponse};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::either::Either;

use crate::reply::{ReadError, Reply, read_reply};

type Io = Either<TcpStream, Box<tokio_rustls::client::TlsStream<TcpStream>>>;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// STARTTLS, required: a relay that does not offer it is an error.
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// Where and how to connect.
#[derive(Clone)]
pub struct RelayConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// User name and password for AUTH PLAIN, when the relay wants them.
    pub auth: Option<(String, String)>,
    /// The name this client gives in EHLO.
    pub ehlo_name: String,
    /// Pipeline when the relay offers it (off for relays known to mishandle it).
    pub pipelining: bool,
    pub connect_timeout: Duration,
    /// How long a reply may take (the DATA end reply gets ten times as long).
    pub reply_timeout: Duration,
    /// The TLS settings (roots); `None` uses the public web roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("auth", &self.auth.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl RelayConfig {
    pub fn new(host: &str, port: u16) -> RelayConfig {
        RelayConfig {
            host: host.to_string(),
            port,
            security: Security::None,
            auth: None,
            ehlo_name: "localhost".into(),
            pipelining: true,
            connect_timeout: Duration::from_secs(30),
            reply_timeout: Duration::from_secs(60),
            tls: None,
        }
    }
}

/// Why a connection failed as a whole. Each carries a reply (a made-up 4xx for
/// network failures) so every recipient it touched gets a recorded reason.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("cannot connect to {relay}: {reason}")]
    Connect { relay: String, reason: String },
    #[error("{relay} refused the session: {reply}")]
    Refused { relay: String, reply: Reply },
    #[error("{relay}: {reason}")]
    Broken { relay: String, reason: String },
}

impl SmtpError {
    /// The reply to record for recipients this error left without an answer.
    pub fn reply(&self) -> Reply {
        match self {
            SmtpError::Refused { reply, .. } => reply.clone(),
            other => Reply::local(451, other.to_string()),
        }
    }
}

/// A message to send: envelope and content (RFC 5322, CRLF line ends, not dot-stuffed).
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub from: &'a str,
    pub to: &'a [&'a str],
    pub content: &'a [u8],
}

/// What became of one recipient of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The relay took responsibility for the message (its final reply).
    Accepted(Reply),
    /// Try again later (4xx).
    Deferred(Reply),
    /// Will not be delivered (5xx).
    Rejected(Reply),
}

impl Outcome {
    fn from_reply(reply: &Reply) -> Outcome {
        if reply.is_positive() {
            Outcome::Accepted(reply.clone())
        } else if reply.is_permanent() {
            Outcome::Rejected(reply.clone())
        } else {
            Outcome::Deferred(reply.clone())
        }
    }
}

/// An open session with a relay, ready for `MAIL FROM`.
pub struct Connection {
    io: BufReader<Io>,
    relay: String,
    pipelining: bool,
    reply_timeout: Duration,
    /// Messages sent on this connection.
    pub sent: u64,
}

fn tls_config(config: &RelayConfig) -> Arc<rustls::ClientConfig> {
    config.tls.clone().unwrap_or_else(|| {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    })
}

impl Connection {
    /// Connects, reads the greeting, says EHLO, starts TLS and authenticates as configured.
    pub async fn open(config: &RelayConfig) -> Result<Connection, SmtpError> {
        let relay = format!("{}:{}", config.host, config.port);
        let connect_err = |reason: String| SmtpError::Connect {
            relay: relay.clone(),
            reason,
        };
        let tcp = tokio::time::timeout(
            config.connect_timeout,
            TcpStream::connect((config.host.as_str(), config.port)),
        )
        .await
        .map_err(|_| connect_err(format!("no answer within {:?}", config.connect_timeout)))?
        .map_err(|e| connect_err(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let server_name = ServerName::try_from(config.host.clone())
            .map_err(|e| connect_err(format!("not a host name for TLS: {e}")))?;
        let connector = tokio_rustls::TlsConnector::from(tls_config(config));
        let io: Io = if config.security == Security::Implicit {
            let tls = connector
                .connect(server_name.clone(), tcp)
                .await
                .map_err(|e| connect_err(format!("TLS: {e}")))?;
            Either::Right(Box::new(tls))
        } else {
            Either::Left(tcp)
        };
        let mut conn = Connection {
            io: BufReader::new(io),
            relay: relay.clone(),
            pipelining: false,
            reply_timeout: config.reply_timeout,
            sent: 0,
        };
        let greeting = conn.read(1).await?;
        if !greeting.is_positive() {
            return Err(SmtpError::Refused {
                relay,
                reply: greeting,
            });
        }
        let mut ehlo = conn.ehlo(&config.ehlo_name).await?;
        if config.security == Security::StartTls {
            if ehlo.capabilities & EXT_START_TLS == 0 {
                return Err(conn.broken("STARTTLS is required but the relay does not offer it"));
            }
            let reply = conn.command(b"STARTTLS\r\n").await?;
            if !reply.is_positive() {
                return Err(SmtpError::Refused { relay, reply });
            }
            if !conn.io.buffer().is_empty() {
                return Err(conn.broken("the relay sent data before the TLS handshake"));
            }
            let Either::Left(tcp) = conn.io.into_inner() else {
                return Err(connect_err("TLS is already on".into()));
            };
            let tls = connector
                .connect(server_name, tcp)
                .await
                .map_err(|e| connect_err(format!("TLS: {e}")))?;
            conn.io = BufReader::new(Either::Right(Box::new(tls)));
            ehlo = conn.ehlo(&config.ehlo_name).await?;
        }
        if let Some((user, password)) = &config.auth {
            // A password crosses the network only inside TLS; on this host it never leaves.
            let loopback = config.host == "localhost"
                || config
                    .host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if config.security == Security::None && !loopback {
                return Err(conn.broken(
                    "a user name is configured but the connection is not encrypted: use STARTTLS or TLS (SmtpSecurity)",
                ));
            }
            if ehlo.capabilities & EXT_AUTH == 0 {
                return Err(conn.broken("a user name is configured but the relay offers no AUTH"));
            }
            let token = STANDARD.encode(format!("\0{user}\0{password}"));
            let reply = conn
                .command(format!("AUTH PLAIN {token}\r\n").as_bytes())
                .await?;
            if !reply.is_positive() {
                return Err(SmtpError::Refused { relay, reply });
            }
        }
        conn.pipelining = config.pipelining && ehlo.capabilities & EXT_PIPELINING != 0;
        Ok(conn)
    }

    fn broken(&self, reason: impl Into<String>) -> SmtpError {
        SmtpError::Broken {
            relay: self.relay.clone(),
            reason: reason.into(),
        }
    }

    async fn read(&mut self, patience: u32) -> Result<Reply, SmtpError> {
        match tokio::time::timeout(self.reply_timeout * patience, read_reply(&mut self.io)).await {
            Err(_) => Err(self.broken(format!(
                "no reply within {:?}",
                self.reply_timeout * patience
            ))),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(ReadError::Closed)) => Err(self.broken("the relay closed the connection")),
            Ok(Err(e)) => Err(self.broken(e.to_string())),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        let io = self.io.get_mut();
        match io.write_all(bytes).await {
            Ok(()) => io.flush().await.map_err(|e| self.broken(e.to_string())),
            Err(e) => Err(self.broken(e.to_string())),
        }
    }

    async fn command(&mut self, line: &[u8]) -> Result<Reply, SmtpError> {
        self.write(line).await?;
        self.read(1).await
    }

    async fn ehlo(&mut self, name: &str) -> Result<EhloResponse<String>, SmtpError> {
        let reply = self.command(format!("EHLO {name}\r\n").as_bytes()).await?;
        if !reply.is_positive() {
            return Err(SmtpError::Refused {
                relay: self.relay.clone(),
                reply,
            });
        }
        let mut raw = reply.lines.join("\r\n");
        raw.push_str("\r\n");
        EhloResponse::parse(&mut raw.as_bytes().iter())
            .map_err(|e| self.broken(format!("cannot read the EHLO reply: {e:?}")))
    }

    /// Whether the relay pipelines with this client.
    pub fn pipelining(&self) -> bool {
        self.pipelining
    }

    /// Sends `messages` one after the other; returns each message's recipients' outcomes
    /// in order. An `Err` means the connection broke: the messages before it have their
    /// outcomes (in the `Ok` part of the pair), the rest have none and must be retried.
    pub async fn send_all(
        &mut self,
        messages: &[Outgoing<'_>],
    ) -> (Vec<Vec<Outcome>>, Option<SmtpError>) {
        let mut results = Vec::with_capacity(messages.len());
        if !self.pipelining {
            for message in messages {
                match self.send_sequential(message).await {
                    Ok(outcomes) => results.push(outcomes),
                    Err(e) => return (results, Some(e)),
                }
            }
            return (results, None);
        }
        let mut group_sent = false;
        for (i, message) in messages.iter().enumerate() {
            if !group_sent {
                let group = envelope_commands(message);
                if let Err(e) = self.write(&group).await {
                    return (results, Some(e));
                }
            }
            match self.finish_one(message, messages.get(i + 1)).await {
                Ok((outcomes, next_sent)) => {
                    results.push(outcomes);
                    group_sent = next_sent;
                }
                Err(e) => return (results, Some(e)),
            }
        }
        (results, None)
    }

    /// One message, each command waiting for its reply.
    async fn send_sequential(&mut self, message: &Outgoing<'_>) -> Result<Vec<Outcome>, SmtpError> {
        let mail = self
            .command(format!("MAIL FROM:<{}>\r\n", message.from).as_bytes())
            .await?;
        if !mail.is_positive() {
            self.command(b"RSET\r\n").await?;
            return Ok(message
                .to
                .iter()
                .map(|_| Outcome::from_reply(&mail))
                .collect());
        }
        let mut rcpt_replies = Vec::with_capacity(message.to.len());
        for to in message.to {
            rcpt_replies.push(
                self.command(format!("RCPT TO:<{to}>\r\n").as_bytes())
                    .await?,
            );
        }
        if !rcpt_replies.iter().any(Reply::is_positive) {
            self.command(b"RSET\r\n").await?;
            return Ok(rcpt_replies.iter().map(Outcome::from_reply).collect());
        }
        let data = self.command(b"DATA\r\n").await?;
        let end = if data.code == 354 {
            let mut out = Vec::with_capacity(message.content.len() + 64);
            dot_stuff(message.content, &mut out);
            out.extend_from_slice(b".\r\n");
            self.write(&out).await?;
            self.sent += 1;
            self.read(10).await?
        } else {
            self.command(b"RSET\r\n").await?;
            data
        };
        Ok(rcpt_replies
            .iter()
            .map(|r| {
                if r.is_positive() {
                    Outcome::from_reply(&end)
                } else {
                    Outcome::from_reply(r)
                }
            })
            .collect())
    }

    /// Reads the envelope replies of `message`, sends its content, and (pipelining) the
    /// next message's envelope with it; returns the outcomes and whether the next
    /// envelope went out.
    async fn finish_one(
        &mut self,
        message: &Outgoing<'_>,
        next: Option<&Outgoing<'_>>,
    ) -> Result<(Vec<Outcome>, bool), SmtpError> {
        let mail = self.read(1).await?;
        let mut rcpt_replies = Vec::with_capacity(message.to.len());
        for _ in message.to {
            rcpt_replies.push(self.read(1).await?);
        }
        let data = self.read(1).await?;
        let accepted_any = mail.is_positive() && rcpt_replies.iter().any(Reply::is_positive);
        if data.code != 354 {
            // No content goes; the transaction is reset (RFC 2920: RSET after a failed DATA).
            let reset = self.command(b"RSET\r\n").await?;
            if !reset.is_positive() {
                return Err(self.broken(format!("RSET was refused: {reset}")));
            }
            let outcomes = rcpt_replies
                .iter()
                .map(|r| {
                    if !mail.is_positive() {
                        Outcome::from_reply(&mail)
                    } else if !r.is_positive() {
                        Outcome::from_reply(r)
                    } else {
                        Outcome::from_reply(&data)
                    }
                })
                .collect();
            return Ok((outcomes, false));
        }
        let mut out = Vec::with_capacity(message.content.len() + message.content.len() / 50 + 64);
        if accepted_any {
            dot_stuff(message.content, &mut out);
        }
        out.extend_from_slice(b".\r\n");
        let next_sent = self.pipelining && next.is_some();
        if let (true, Some(next)) = (next_sent, next) {
            out.extend_from_slice(&envelope_commands(next));
        }
        self.write(&out).await?;
        let end = self.read(10).await?;
        self.sent += 1;
        let outcomes = rcpt_replies
            .iter()
            .map(|r| {
                if !mail.is_positive() {
                    Outcome::from_reply(&mail)
                } else if !r.is_positive() {
                    Outcome::from_reply(r)
                } else {
                    Outcome::from_reply(&end)
                }
            })
            .collect();
        if !accepted_any && !next_sent {
            let _ = self.command(b"RSET\r\n").await?;
        }
        Ok((outcomes, next_sent))
    }

    /// Says goodbye (best effort).
    pub async fn quit(mut self) {
        let _ = self.command(b"QUIT\r\n").await;
    }
}

fn envelope_commands(message: &Outgoing<'_>) -> Vec<u8> {
    let mut group = format!("MAIL FROM:<{}>\r\n", message.from);
    for to in message.to {
        group.push_str(&format!("RCPT TO:<{to}>\r\n"));
    }
    group.push_str("DATA\r\n");
    group.into_bytes()
}

/// Appends `content` with every line that starts with `.` given another `.` (RFC 5321
/// 4.5.2), ending in CRLF.
pub fn dot_stuff(content: &[u8], out: &mut Vec<u8>) {
    let mut line_start = true;
    for &b in content {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !content.is_empty() && !content.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_at_line_starts_are_doubled() {
        let mut out = Vec::new();
        dot_stuff(b".hidden\r\nok\r\n..two\r\nend", &mut out);
        assert_eq!(out, b"..hidden\r\nok\r\n...two\r\nend\r\n");
    }
}
