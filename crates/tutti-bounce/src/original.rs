//! The headers of the message a report is about, from the report's third part.

use crate::address::first_address;
use crate::fields::{Group, header_block};

/// What a report tells of the message it is about, from the returned message or its
/// headers. Every field is `None` when the report carries neither, or lacks the header.
/// Like the rest of a report, these are written by whoever sent it: they name a message,
/// they do not prove that the report is about it (see the crate's "Trust").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalHeaders {
    /// `Message-ID`, without the angle brackets.
    pub message_id: Option<String>,
    /// `X-Tutti-Job`, trimmed.
    pub job: Option<String>,
    /// The first address of `To`, without display name or angle brackets, domain lowercased.
    pub to: Option<String>,
    /// The address of `Return-Path` (the envelope sender, the VERP address for Tutti's mail),
    /// domain lowercased.
    pub return_path: Option<String>,
}

impl OriginalHeaders {
    /// From a header block; the first occurrence of a header counts.
    pub(crate) fn from_headers(text: &str) -> OriginalHeaders {
        from_group(&header_block(text))
    }

    /// From the body of a `text/rfc822-headers`, `message/rfc822`, `message/global` or
    /// `message/global-headers` part (transfer encoding undone): its header block.
    pub(crate) fn from_part(body: &[u8]) -> OriginalHeaders {
        OriginalHeaders::from_headers(&String::from_utf8_lossy(header_bytes(body)))
    }
}

/// The start of `body` up to the first blank line after something that is not blank: no
/// need to convert a whole returned message to read its headers.
fn header_bytes(body: &[u8]) -> &[u8] {
    let mut seen = false;
    let mut offset = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let blank = line.iter().all(u8::is_ascii_whitespace);
        if blank && seen {
            return &body[..offset];
        }
        seen |= !blank;
        offset += line.len();
    }
    body
}

fn from_group(headers: &Group) -> OriginalHeaders {
    OriginalHeaders {
        message_id: headers.value("Message-ID").and_then(message_id),
        job: headers.value("X-Tutti-Job").map(str::to_string),
        to: headers.value("To").and_then(first_address),
        return_path: headers.value("Return-Path").and_then(first_address),
    }
}

/// `<id@host>` → `id@host`; a value without brackets gives its first word.
fn message_id(value: &str) -> Option<String> {
    let id = match value.find('<') {
        Some(open) => {
            let inner = &value[open + 1..];
            inner.find('>').map_or(inner, |close| &inner[..close])
        }
        None => value.split_whitespace().next().unwrap_or(""),
    };
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_first_occurrence_wins() {
        let h = OriginalHeaders::from_headers(
            "Return-Path: <Bounce+j1@Tutti.Example>\r\nTo: \"Ann\" <ann@Shop.Example>\r\n\
             Message-ID:\r\n <261125A.1.x@tutti.example>\r\nX-Tutti-Job: 261125A \r\n\
             X-Tutti-Job: other\r\nTo: b@c\r\n\r\nX-Tutti-Job: body\r\n",
        );
        assert_eq!(
            h,
            OriginalHeaders {
                message_id: Some("261125A.1.x@tutti.example".into()),
                job: Some("261125A".into()),
                to: Some("ann@shop.example".into()),
                return_path: Some("Bounce+j1@tutti.example".into()),
            }
        );
    }

    #[test]
    fn odd_message_ids() {
        assert_eq!(message_id("abc@x (comment)").as_deref(), Some("abc@x"));
        assert_eq!(message_id("<unclosed@x").as_deref(), Some("unclosed@x"));
        assert_eq!(message_id("<>"), None);
    }
}
