//! SMTP replies: reading them off the wire, and what they mean.

use std::fmt;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// Longest reply line read (RFC 5321 allows 512; servers exceed it).
const MAX_LINE: usize = 4096;
/// Most lines one reply may have.
const MAX_LINES: usize = 200;

/// A server's reply: its code, enhanced status code when given (RFC 3463), and text (the
/// lines joined with a space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<[u16; 3]>,
    pub text: String,
    /// The lines as received, for EHLO.
    pub(crate) lines: Vec<String>,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: will not succeed as it is.
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// A reply the client makes up for a failure that has no server reply (a lost
    /// connection, a timeout), so that every recipient's fate carries one.
    pub fn local(code: u16, text: impl Into<String>) -> Reply {
        let text = text.into();
        Reply {
            code,
            enhanced: None,
            lines: vec![text.clone()],
            text,
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some([a, b, c]) = self.enhanced {
            write!(f, " {a}.{b}.{c}")?;
        }
        write!(f, " {}", self.text)
    }
}

/// A reply that is not SMTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server's reply is not SMTP: {0}")]
pub struct BadReply(pub String);

/// `x.y.z` at the start of `text` (class 2, 4 or 5), and the rest.
fn enhanced_code(text: &str) -> Option<([u16; 3], &str)> {
    let word_end = text.find(' ').unwrap_or(text.len());
    let mut parts = text[..word_end].split('.');
    let mut code = [0u16; 3];
    for slot in &mut code {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    if parts.next().is_some() || !matches!(code[0], 2 | 4 | 5) {
        return None;
    }
    Some((code, text[word_end..].trim_start()))
}

/// Parses the lines of one reply (without line ends).
pub fn parse_lines(lines: &[String]) -> Result<Reply, BadReply> {
    let mut code = None;
    let mut enhanced = None;
    let mut texts = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let bytes = line.as_bytes();
        let ok_code = bytes.len() >= 3
            && bytes[..3].iter().all(u8::is_ascii_digit)
            && (b'2'..=b'5').contains(&bytes[0]);
        if !ok_code {
            return Err(BadReply(line.clone()));
        }
        let this: u16 = line[..3].parse().map_err(|_| BadReply(line.clone()))?;
        if *code.get_or_insert(this) != this {
            return Err(BadReply(format!("a reply mixes codes: {line}")));
        }
        let last = i + 1 == lines.len();
        match bytes.get(3) {
            None | Some(b' ') if last => {}
            Some(b'-') if !last => {}
            _ => return Err(BadReply(line.clone())),
        }
        let text = line.get(4..).unwrap_or("");
        let text = match enhanced_code(text) {
            Some((esc, rest)) => {
                enhanced.get_or_insert(esc);
                rest
            }
            None => text,
        };
        texts.push(text.trim_end());
    }
    Ok(Reply {
        code: code.ok_or_else(|| BadReply(String::new()))?,
        enhanced,
        text: texts.join(" ").trim().to_string(),
        lines: lines.to_vec(),
    })
}

/// Why no reply could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the connection closed")]
    Closed,
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Bad(#[from] BadReply),
}

/// Reads one (possibly multi-line) reply.
pub async fn read_reply<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Reply, ReadError> {
    let mut lines = Vec::new();
    loop {
        let mut raw = Vec::new();
        let n = (&mut *reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut raw)
            .await?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        if raw.last() != Some(&b'\n') {
            return Err(BadReply("a reply line is too long or cut off".into()).into());
        }
        let line = String::from_utf8_lossy(&raw)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(line);
        if !more {
            return Ok(parse_lines(&lines)?);
        }
        if lines.len() >= MAX_LINES {
            return Err(BadReply("a reply has too many lines".into()).into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn codes_enhanced_codes_and_text() {
        let r = parse_lines(&lines(
            "550-5.1.1 The email account does not exist.\n550 5.1.1 Try again",
        ))
        .unwrap();
        assert_eq!(r.code, 550);
        assert_eq!(r.enhanced, Some([5, 1, 1]));
        assert_eq!(r.text, "The email account does not exist. Try again");
        assert!(r.is_permanent());
        assert_eq!(
            r.to_string(),
            "550 5.1.1 The email account does not exist. Try again"
        );
        let r = parse_lines(&lines("421 Too busy")).unwrap();
        assert!(r.is_transient() && r.enhanced.is_none());
        assert_eq!(parse_lines(&lines("250")).unwrap().text, "");
        assert!(parse_lines(&lines("250-a\n251 b")).is_err(), "mixed codes");
        assert!(parse_lines(&lines("hello")).is_err());
        assert!(
            parse_lines(&lines("250-a")).is_err(),
            "a last line must not continue"
        );
        assert!(
            parse_lines(&lines("250 9.9.9 x"))
                .unwrap()
                .enhanced
                .is_none()
        );
    }

    #[tokio::test]
    async fn replies_are_read_one_at_a_time() {
        let wire = b"250-first\r\n250 SIZE 100\r\n354 go ahead\r\n";
        let mut reader = tokio::io::BufReader::new(&wire[..]);
        assert_eq!(read_reply(&mut reader).await.unwrap().lines.len(), 2);
        assert_eq!(read_reply(&mut reader).await.unwrap().code, 354);
        assert!(matches!(
            read_reply(&mut reader).await,
            Err(ReadError::Closed)
        ));
        let long = vec![b'2'; MAX_LINE + 10];
        let mut reader = tokio::io::BufReader::new(&long[..]);
        assert!(matches!(
            read_reply(&mut reader).await,
            Err(ReadError::Bad(_))
        ));
    }

    proptest! {
        #[test]
        fn any_line_is_a_reply_or_an_error(text in "\\PC{0,80}") {
            let _ = parse_lines(&[text]);
        }
    }
}
