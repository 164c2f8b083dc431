//! Reading a request head, and telling whether the loop answers it or hyper does.

use std::mem::MaybeUninit;
use std::time::SystemTime;

/// A request for a hot path.
#[derive(Debug, PartialEq, Eq)]
pub struct HotRequest<'a> {
    /// Which of [`super::HotPaths::paths`] it is for.
    pub route: usize,
    pub head: bool,
    /// Everything after the `?` of the request target.
    pub query: Option<&'a str>,
    /// The `User-Agent`, if it is printable ASCII (as `http::HeaderValue::to_str` reads it).
    pub user_agent: Option<&'a str>,
    /// When the loop read it.
    pub received: SystemTime,
}

/// What the start of a connection's unread bytes holds.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed<'a> {
    /// A request the loop answers: `len` bytes long; `close` after the answer, or keep
    /// the connection open (an HTTP/1.0 client then hears `connection: keep-alive`).
    Hot {
        request: HotRequest<'a>,
        len: usize,
        close: bool,
        http10: bool,
    },
    /// A request hyper is to answer, or bytes that are no request the loop understands.
    Other,
    /// The head is not complete yet.
    Partial,
}

/// Heads longer than this go to hyper, which refuses them properly.
pub(super) const MAX_HEAD: usize = 16 * 1024;
/// More headers than this go to hyper.
const MAX_HEADERS: usize = 64;

/// A header value hyper would read as text (`HeaderValue::to_str`).
fn visible(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// Whether a `Connection` header value lists `token`.
fn lists(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Reads the request at the start of `input`, received at `received`.
pub(super) fn parse<'a>(
    input: &'a [u8],
    paths: &[&'static str],
    received: SystemTime,
) -> Parsed<'a> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(input, &mut headers) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() <= MAX_HEAD => return Parsed::Partial,
        _ => return Parsed::Other,
    };
    let head = match request.method {
        Some("GET") => false,
        Some("HEAD") => true,
        _ => return Parsed::Other,
    };
    let Some(target) = request.path.filter(|t| t.starts_with('/')) else {
        return Parsed::Other;
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let Some(route) = paths.iter().position(|p| *p == path) else {
        return Parsed::Other;
    };
    let http10 = request.version == Some(0);
    let mut close = http10;
    let mut user_agent = None;
    for h in request.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            if h.value != b"0" {
                return Parsed::Other;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
            || name.eq_ignore_ascii_case("expect")
        {
            return Parsed::Other;
        } else if name.eq_ignore_ascii_case("connection") {
            if lists(h.value, "close") {
                close = true;
            } else if http10 && lists(h.value, "keep-alive") {
                close = false;
            }
        } else if name.eq_ignore_ascii_case("user-agent") {
            user_agent = visible(h.value);
        }
    }
    // Not a request the loop must hold back for: hyper answers what it would with the
    // same bytes, so a head the loop is unsure of goes there.
    if query.is_some_and(|q| visible(q.as_bytes()).is_none()) {
        return Parsed::Other;
    }
    Parsed::Hot {
        request: HotRequest {
            route,
            head,
            query,
            user_agent,
            received,
        },
        len,
        close,
        http10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PATHS: &[&str] = &["/trk/click", "/trk/open"];

    fn parse<'a>(input: &'a [u8], paths: &[&'static str]) -> Parsed<'a> {
        super::parse(input, paths, SystemTime::UNIX_EPOCH)
    }

    fn hot(input: &[u8]) -> (HotRequest<'_>, usize, bool, bool) {
        match parse(input, PATHS) {
            Parsed::Hot {
                request,
                len,
                close,
                http10,
            } => (request, len, close, http10),
            other => panic!("not answered by the loop: {other:?}"),
        }
    }

    #[test]
    fn a_click_is_answered_by_the_loop_with_its_query_and_agent() {
        let input =
            b"GET /trk/click?ref=abc HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.0\r\n\r\nGET";
        let (request, len, close, http10) = hot(input);
        assert_eq!(
            request,
            HotRequest {
                route: 0,
                head: false,
                query: Some("ref=abc"),
                user_agent: Some("Mozilla/5.0"),
                received: SystemTime::UNIX_EPOCH,
            }
        );
        assert_eq!(len, input.len() - 3, "the pipelined rest is not part of it");
        assert!(!close && !http10);
        let (request, ..) = hot(b"HEAD /trk/open HTTP/1.1\r\n\r\n");
        assert_eq!(
            (request.route, request.head, request.query),
            (1, true, None)
        );
    }

    #[test]
    fn connection_close_and_http10_keep_alive_are_followed() {
        assert!(hot(b"GET /trk/open HTTP/1.1\r\nConnection: Close\r\n\r\n").2);
        assert!(hot(b"GET /trk/open HTTP/1.1\r\nConnection: foo, close\r\n\r\n").2);
        assert!(hot(b"GET /trk/open HTTP/1.0\r\n\r\n").2);
        let (_, _, close, http10) =
            hot(b"GET /trk/open HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(!close && http10);
    }

    #[test]
    fn an_incomplete_head_waits_for_more_unless_it_is_too_long() {
        assert_eq!(parse(b"GET /trk/click?ref=a", PATHS), Parsed::Partial);
        assert_eq!(parse(b"", PATHS), Parsed::Partial);
        let mut long = b"GET /trk/click?ref=".to_vec();
        long.resize(MAX_HEAD + 1, b'a');
        assert_eq!(parse(&long, PATHS), Parsed::Other);
    }

    #[test]
    fn everything_else_goes_to_hyper() {
        for input in [
            &b"GET /trk/unsubscribe?ref=a HTTP/1.1\r\n\r\n"[..],
            b"POST /trk/click?ref=a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
            b"GET /trk/click?ref=a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            b"GET /trk/click?ref=a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /trk/click?ref=a HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            b"GET /trk/click?ref=a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            b"GET http://x/trk/click?ref=a HTTP/1.1\r\n\r\n",
            b"GET /trk/clickx HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01",
            b"GET /trk/click HTTP/1.1\r\nBad Header\r\n\r\n",
        ] {
            assert_eq!(
                parse(input, PATHS),
                Parsed::Other,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let (request, ..) = hot(b"GET /trk/click HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(request.route, 0);
    }

    #[test]
    fn an_agent_hyper_would_not_read_as_text_is_none() {
        let (request, ..) = hot(b"GET /trk/open HTTP/1.1\r\nUser-Agent: caf\xc3\xa9\r\n\r\n");
        assert_eq!(request.user_agent, None);
    }

    proptest! {
        /// Whatever arrives, parsing ends, and a head the loop answers is a prefix of it.
        #[test]
        fn any_bytes_are_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Parsed::Hot { len, .. } = parse(&bytes, PATHS) {
                prop_assert!(len <= bytes.len());
            }
        }

        /// Cutting a request anywhere before its end asks for more bytes.
        #[test]
        fn a_cut_request_is_partial(cut in 0usize..60) {
            let input = b"GET /trk/click?ref=abc HTTP/1.1\r\nUser-Agent: x\r\n\r\n";
            let cut = cut.min(input.len() - 1);
            prop_assert_eq!(parse(&input[..cut], PATHS), Parsed::Partial);
        }
    }
}
