//! One connection of an event loop: the bytes read and not yet answered, the answers
//! waiting for their pass to be durable, and the answers ready to write.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use mio::net::TcpStream;

use super::request::{self, Parsed};
use super::{HotPaths, Reply};

/// Most answers one connection may have waiting (a client that pipelines more is read
/// again once they are out).
const MAX_HELD: usize = 64;

/// What the loop is to do with a connection after driving it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Nothing to do until it is readable or writable again, or its answers are released.
    Wait,
    Close,
    /// Its next request is hyper's.
    HandOff,
}

/// An answer waiting for its pass, and what to count once it goes out.
struct Held {
    pass: u64,
    /// Where in `Conn::held` it ends.
    end: usize,
    route: usize,
    head: bool,
    status: StatusCode,
    /// The turn of the loop that read the request.
    started: Instant,
}

/// What one drive of a connection needs from its loop.
pub(super) struct Pass<'a, H: HotPaths> {
    pub paths: &'a H,
    pub reply: &'a mut Reply,
    pub batch: &'a mut H::Batch,
    /// Whether an answer of this pass waits for `batch`.
    pub batch_waits: &'a mut bool,
    pub pass: u64,
    /// The `date` header's value.
    pub date: &'a [u8],
    /// When this turn of the loop began (the clock is read once a turn, not per request).
    pub now: Instant,
    pub wall: SystemTime,
}

pub(super) struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// Read, not yet answered.
    pub input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    held: Vec<u8>,
    marks: VecDeque<Held>,
    /// Close once every answer so far is out (the client asked, or the loop stops).
    pub closing: bool,
    eof: bool,
    /// Whether the socket may hold bytes not read yet. Reads are edge-triggered: a read
    /// that returns less than it asked for has emptied the socket, and the next bytes to
    /// arrive bring a new readable event; until then a read would only say "would block".
    pub readable: bool,
    /// The client has shut down its side (the FIN may come with the last bytes, in the
    /// same event): read on until a read returns nothing.
    pub read_closed: bool,
    /// When the first bytes of the request head not yet complete were read.
    head_started: Option<Instant>,
    hand_off: bool,
    pub last_active: Instant,
    /// The newest pass whose waiting list names this connection.
    pub listed: u64,
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn {
            stream,
            peer,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            held: Vec::new(),
            marks: VecDeque::new(),
            closing: false,
            eof: false,
            readable: true,
            read_closed: false,
            head_started: None,
            hand_off: false,
            last_active: Instant::now(),
            listed: 0,
        }
    }

    /// The newest pass an answer of this connection waits for.
    pub fn waits_for(&self) -> Option<u64> {
        self.marks.back().map(|m| m.pass)
    }

    /// Whether nothing is being answered: no request read, no answer held or unwritten.
    pub fn idle(&self) -> bool {
        self.marks.is_empty() && self.written >= self.output.len()
    }

    /// Whether a request head has been coming in for `limit` or longer (a client that
    /// sends a byte now and then does not keep it open).
    pub fn head_overdue(&self, now: Instant, limit: std::time::Duration) -> bool {
        self.head_started
            .is_some_and(|t| now.saturating_duration_since(t) >= limit)
    }

    /// Moves the answers of passes up to `durable` to the output.
    pub fn release<H: HotPaths>(&mut self, durable: u64, paths: &H, now: Instant) {
        let mut end = 0;
        while let Some(mark) = self.marks.front() {
            if mark.pass > durable {
                break;
            }
            end = mark.end;
            paths.answered(
                mark.route,
                mark.head,
                mark.status,
                now.saturating_duration_since(mark.started),
            );
            self.marks.pop_front();
        }
        if end > 0 {
            self.output.extend_from_slice(&self.held[..end]);
            self.held.drain(..end);
            for mark in &mut self.marks {
                mark.end -= end;
            }
        }
    }

    /// Writes what is ready, answers what was read, reads more: until the socket would
    /// block, or the connection waits for its answers, is to close, or is hyper's.
    pub fn drive<H: HotPaths>(&mut self, pass: &mut Pass<'_, H>) -> Next {
        loop {
            while self.written < self.output.len() {
                match self.stream.write(&self.output[self.written..]) {
                    Ok(0) => return Next::Close,
                    Ok(n) => {
                        self.written += n;
                        self.last_active = pass.now;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close,
                }
            }
            self.output.clear();
            self.written = 0;
            if !self.marks.is_empty() {
                if self.closing || self.hand_off || self.marks.len() >= MAX_HELD {
                    return Next::Wait;
                }
            } else if self.hand_off {
                // Even when the loop stops: hyper is still there to answer it.
                return Next::HandOff;
            } else if self.closing {
                return Next::Close;
            }
            match request::parse(&self.input, pass.paths.paths(), pass.wall) {
                Parsed::Hot {
                    request,
                    len,
                    close,
                    http10,
                } => {
                    pass.reply.clear();
                    let answered = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        pass.paths.answer(&request, pass.reply, pass.batch)
                    }));
                    let Ok(waits) = answered else {
                        // A bug, not the client's doing: the loop and its other
                        // connections go on.
                        tracing::error!(
                            "answering {} on a connection from {} failed; closing it",
                            pass.paths.paths().get(request.route).unwrap_or(&"?"),
                            self.peer
                        );
                        return Next::Close;
                    };
                    *pass.batch_waits |= waits;
                    let holds = waits || !self.marks.is_empty();
                    let out = if holds {
                        &mut self.held
                    } else {
                        &mut self.output
                    };
                    write_answer(out, pass.reply, request.head, close, http10, pass.date);
                    if holds {
                        self.marks.push_back(Held {
                            pass: if waits {
                                pass.pass
                            } else {
                                self.marks.back().map_or(pass.pass, |m| m.pass)
                            },
                            end: self.held.len(),
                            route: request.route,
                            head: request.head,
                            status: pass.reply.status,
                            started: pass.now,
                        });
                    } else {
                        pass.paths.answered(
                            request.route,
                            request.head,
                            pass.reply.status,
                            Duration::ZERO,
                        );
                    }
                    self.closing |= close;
                    self.input.drain(..len);
                    self.head_started = (!self.input.is_empty()).then_some(pass.now);
                }
                Parsed::Other => self.hand_off = true,
                Parsed::Partial if self.eof => self.closing = true,
                Parsed::Partial if !self.readable => return Next::Wait,
                Parsed::Partial => {
                    let mut chunk = [0u8; 4096];
                    match self.stream.read(&mut chunk) {
                        Ok(0) => self.eof = true,
                        Ok(n) => {
                            if self.input.is_empty() {
                                self.head_started = Some(pass.now);
                            }
                            self.input.extend_from_slice(&chunk[..n]);
                            self.readable = n == chunk.len() || self.read_closed;
                            self.last_active = pass.now;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            self.readable = false;
                            return Next::Wait;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Next::Close,
                    }
                }
            }
        }
    }
}

/// Writes a whole answer: status line, the reply's headers, the loop's, and the body
/// unless the request was a HEAD.
fn write_answer(
    out: &mut Vec<u8>,
    reply: &Reply,
    head: bool,
    close: bool,
    http10: bool,
    date: &[u8],
) {
    let status = reply.status;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&reply.headers);
    // Writing to a Vec cannot fail.
    let _ = write!(out, "content-length: {}\r\ndate: ", reply.body.len());
    out.extend_from_slice(date);
    if close {
        out.extend_from_slice(b"\r\nconnection: close");
    } else if http10 {
        out.extend_from_slice(b"\r\nconnection: keep-alive");
    }
    out.extend_from_slice(b"\r\n\r\n");
    if !head {
        out.extend_from_slice(reply.body);
    }
}
