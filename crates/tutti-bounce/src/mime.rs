//! The MIME structure of a report (RFC 6522 `multipart/report`): which kind it is, its
//! machine-readable part and the returned original.
//!
//! mail-parser reads the header blocks and content types, finds the boundaries and undoes
//! transfer encodings; its `MessageStream` is driven here for the one level a report needs,
//! rather than through `MessageParser::parse`, for two reasons:
//!
//! - `parse` also parses every returned message nested in a `message/rfc822` part, which is
//!   not needed (only the original's header block is read), and with debug assertions on,
//!   as in tests and fuzzing, malformed nested messages trip its `debug_assert!`s.
//! - Its `Content-Type` parser joins RFC 2231 continuations (`boundary*0`, `boundary*1`, ...)
//!   in quadratic time; here only `Content-Type` values up to [`MAX_CONTENT_TYPE`] bytes are
//!   given to it, which real ones never reach.

use std::borrow::Cow;

use mail_parser::parsers::MessageStream;
use mail_parser::{ContentType, Header, HeaderName, HeaderValue, MessageParser};

use crate::error::ParseError;
use crate::fields::{quote, shorten};
use crate::original::OriginalHeaders;

/// Which machine-readable part a report has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Delivery,
    Complaint,
}

/// A part [`locate`] reads.
#[derive(Clone, Copy)]
enum Part {
    Status(Kind),
    Original,
}

/// What [`locate`] found.
pub(crate) struct Located {
    pub kind: Kind,
    /// The machine-readable part's text, transfer encoding undone.
    pub text: String,
    pub original: OriginalHeaders,
}

/// The longest `Content-Type` value read; a part with a longer one is skipped.
const MAX_CONTENT_TYPE: usize = 1024;

/// The longest boundary accepted. RFC 2046 allows 70 characters; a long one would make
/// every `--` in the message cost its length to check.
const MAX_BOUNDARY: usize = 200;

const DELIVERY: [&str; 2] = ["delivery-status", "global-delivery-status"];
const COMPLAINT: [&str; 1] = ["feedback-report"];
/// Parts holding the original message or its headers (`message/rfc822-headers` is a common
/// mislabelling of `text/rfc822-headers`).
const ORIGINAL: [(&str, &str); 5] = [
    ("text", "rfc822-headers"),
    ("message", "rfc822-headers"),
    ("message", "rfc822"),
    ("message", "global"),
    ("message", "global-headers"),
];

/// Finds the parts of a `multipart/report`. The report type comes from `report-type`; a report
/// without one is taken for what its first machine-readable part is. The first part of each
/// kind counts (the first original that holds any of the headers read).
pub(crate) fn locate(raw: &[u8]) -> Result<Located, ParseError> {
    let parser = MessageParser::new()
        .header_raw(HeaderName::ContentType)
        .header_raw(HeaderName::ContentTransferEncoding)
        .default_header_ignore();
    let mut stream = MessageStream::new(raw);
    let mut headers = Vec::new();
    let has_body = stream.parse_headers(&parser, &mut headers);
    let top = match content_type(raw, &headers) {
        Read::Missing => return Err(ParseError::NotMime),
        Read::Unreadable(value) => {
            return Err(ParseError::NotAReport {
                content_type: quote(&value, 100),
            });
        }
        Read::Type(c) => c,
    };
    let report_type = top
        .attribute("report-type")
        .map(|t| t.trim().to_ascii_lowercase());
    let wanted = match (is(&top, "multipart", "report"), report_type.as_deref()) {
        (true, Some("delivery-status")) => (true, false),
        (true, Some("feedback-report")) => (false, true),
        (true, None) => (true, true),
        _ => {
            return Err(ParseError::NotAReport {
                content_type: describe(&top),
            });
        }
    };
    let boundary = top
        .attribute("boundary")
        .map(str::as_bytes)
        .filter(|b| (1..=MAX_BOUNDARY).contains(&b.len()))
        .ok_or(ParseError::NoStatusPart)?;
    if !has_body || !stream.seek_next_part(boundary) {
        return Err(ParseError::NoStatusPart);
    }
    stream.skip_crlf();

    let mut status: Option<(Kind, Cow<'_, [u8]>)> = None;
    let mut original: Option<OriginalHeaders> = None;
    loop {
        let start = stream.offset();
        let mut part_headers = Vec::new();
        if !stream.parse_headers(&parser, &mut part_headers) {
            break;
        }
        let part = content_type(raw, &part_headers).get().and_then(|c| {
            if status.is_none() && is_message(c, &DELIVERY) && wanted.0 {
                Some(Part::Status(Kind::Delivery))
            } else if status.is_none() && is_message(c, &COMPLAINT) && wanted.1 {
                Some(Part::Status(Kind::Complaint))
            } else if original.is_none() && ORIGINAL.iter().any(|&(t, s)| is(c, t, s)) {
                Some(Part::Original)
            } else {
                None
            }
        });
        let last = match part {
            Some(part) => {
                let (body, last) = body(&mut stream, &part_headers, boundary);
                match part {
                    Part::Status(kind) => status = Some((kind, body)),
                    // An empty returned message does not hide one that follows.
                    Part::Original => {
                        original = Some(OriginalHeaders::from_part(&body))
                            .filter(|o| *o != OriginalHeaders::default());
                    }
                }
                last
            }
            None => !stream.seek_part_end(Some(boundary)).1,
        };
        let done = status.is_some() && original.is_some();
        if done || last || stream.is_multipart_end() || stream.offset() <= start {
            break;
        }
    }

    let (kind, text) = status.ok_or(ParseError::NoStatusPart)?;
    Ok(Located {
        kind,
        text: String::from_utf8_lossy(&text).into_owned(),
        original: original.unwrap_or_default(),
    })
}

/// A part's body up to the next boundary, transfer encoding undone, and whether the
/// boundary is missing (so this is the last part). A body that does not decode is taken as
/// it is, as mail-parser does.
fn body<'x>(
    stream: &mut MessageStream<'x>,
    headers: &[Header<'x>],
    boundary: &[u8],
) -> (Cow<'x, [u8]>, bool) {
    let start = stream.offset();
    let encoding = headers.iter().find_map(|h| match (&h.name, &h.value) {
        (HeaderName::ContentTransferEncoding, HeaderValue::Text(e)) => {
            e.split([' ', '\t', '\r', '\n', '(', ';']).next()
        }
        _ => None,
    });
    let (end, bytes) = match encoding {
        Some(e) if e.eq_ignore_ascii_case("base64") => stream.decode_base64_mime(boundary),
        Some(e) if e.eq_ignore_ascii_case("quoted-printable") => {
            stream.decode_quoted_printable_mime(boundary)
        }
        _ => stream.mime_part(boundary),
    };
    if end != usize::MAX {
        return (bytes, false);
    }
    let (end, found) = stream.seek_part_end(Some(boundary));
    (Cow::Borrowed(stream.bytes(start..end)), !found)
}

/// A `Content-Type` header as read.
enum Read {
    Missing,
    /// Too long, or not `type/subtype`: the value as written (its start, white space
    /// collapsed).
    Unreadable(String),
    Type(ContentType<'static>),
}

impl Read {
    fn get(&self) -> Option<&ContentType<'static>> {
        match self {
            Read::Type(c) => Some(c),
            _ => None,
        }
    }
}

/// The first `Content-Type` among `headers` (parsed as raw text, found in `raw`).
fn content_type(raw: &[u8], headers: &[Header<'_>]) -> Read {
    let Some(header) = headers.iter().find(|h| h.name == HeaderName::ContentType) else {
        return Read::Missing;
    };
    let value = raw
        .get(header.offset_start as usize..header.offset_end as usize)
        .unwrap_or_default();
    let parsed = (value.len() <= MAX_CONTENT_TYPE)
        .then(|| {
            let mut value = value.to_vec();
            if !value.ends_with(b"\n") {
                value.push(b'\n');
            }
            MessageStream::new(&value)
                .parse_content_type()
                .into_owned()
                .into_content_type()
        })
        .flatten();
    match parsed {
        Some(c) => Read::Type(c),
        None => Read::Unreadable(
            String::from_utf8_lossy(&value[..value.len().min(400)])
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

fn is(content_type: &ContentType<'_>, ctype: &str, subtype: &str) -> bool {
    content_type.ctype().eq_ignore_ascii_case(ctype)
        && content_type
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case(subtype))
}

fn is_message(content_type: &ContentType<'_>, subtypes: &[&str]) -> bool {
    subtypes.iter().any(|s| is(content_type, "message", s))
}

/// `text/plain`, or `multipart/report; report-type=disposition-notification`.
fn describe(content_type: &ContentType<'_>) -> String {
    let mut out = content_type.ctype().to_ascii_lowercase();
    if let Some(subtype) = content_type.subtype() {
        out.push('/');
        out.push_str(&subtype.to_ascii_lowercase());
    }
    if let Some(report_type) = content_type.attribute("report-type") {
        out.push_str("; report-type=");
        out.push_str(report_type.trim());
    }
    shorten(&out, 100)
}
