//! Cutting decoded text into records: where each starts (its physical line), where quoted
//! fields open and close, and what to do when they do not, all within bounded memory.
//!
//! Records end at a line break (`\n`, `\r\n` or a lone `\r`) outside quotes; blank lines are
//! skipped. A quote opens a quoted field only at the start of a field, as in RFC 4180 and the
//! `csv` crate; inside one a doubled quote stands for a quote. Unlike the `csv` crate, a
//! quote that is never closed, or text after a closing quote, rejects the record, and reading
//! goes on at the line after the one where the record started: one bad quote then costs one
//! row, not the rest of the file.

use std::io::{self, Read};

use crate::encoding::Decoder;
use crate::error::{QuoteProblem, Reason};

/// The longest text kept to show a record that was cut off or skipped.
const PREVIEW_BYTES: usize = 1024;

/// One record cut from the stream; its text is in the buffer given to [`Framer::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// 1-based physical line where the record starts.
    pub line: u64,
    /// Whether the end of the input ended the record (no line break after it).
    pub at_eof: bool,
    pub kind: FrameKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameKind {
    /// A well-formed record; the text is its content without the line break.
    Record {
        /// Whether some bytes in it could not be decoded.
        malformed: bool,
    },
    /// A record that cannot be read; the text is its first line (perhaps cut short).
    Broken(Reason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartField,
    InField,
    InQuoted,
    /// After a closing quote; `spaced` once blanks followed it.
    AfterQuote {
        spaced: bool,
    },
}

/// Where a scan of the current record has got to, kept while more input is read.
#[derive(Debug, Clone)]
struct Scan {
    i: usize,
    state: State,
    /// Line breaks inside quoted fields so far.
    lines: u64,
    /// End of the record's first physical line and the start of the next, once seen.
    first_line: Option<(usize, usize)>,
    /// Line and column where the current quoted field opened.
    opened: (u64, usize),
}

enum Outcome {
    NeedMore,
    /// Content ends at `end`; the next record may start at `next`.
    Done {
        end: usize,
        next: usize,
    },
    Broken(Reason),
}

pub(crate) struct Framer<R> {
    decoder: Decoder<R>,
    buf: Vec<u8>,
    pos: usize,
    /// Offset in the decoded stream of `buf[0]`.
    base: u64,
    eof: bool,
    line: u64,
    separator: Vec<u8>,
    quote: Option<u8>,
    limit: usize,
    /// Offsets (from the record's start) of the separators outside quotes in the last record.
    seps: Vec<usize>,
}

impl<R: Read> Framer<R> {
    pub(crate) fn new(
        decoder: Decoder<R>,
        separator: char,
        quote: Option<char>,
        max_record_bytes: usize,
    ) -> Self {
        let mut sep = [0; 4];
        Framer {
            decoder,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            eof: false,
            line: 1,
            separator: separator.encode_utf8(&mut sep).as_bytes().to_vec(),
            // Options::validate keeps quotes ASCII.
            quote: quote.and_then(|q| u8::try_from(q).ok()),
            limit: max_record_bytes,
            seps: Vec::new(),
        }
    }

    /// Where the separators outside quotes stand in the last record's text.
    pub(crate) fn separators(&self) -> &[usize] {
        &self.seps
    }

    /// The next record, its text put in `text`; `None` at the end of input.
    pub(crate) fn next(&mut self, text: &mut Vec<u8>) -> io::Result<Option<Frame>> {
        text.clear();
        self.seps.clear();
        self.compact();
        if !self.skip_blank_lines()? {
            return Ok(None);
        }
        let start = self.pos;
        let line = self.line;
        let mut scan = Scan {
            i: start,
            state: State::StartField,
            lines: 0,
            first_line: None,
            opened: (0, 0),
        };
        loop {
            match self.scan(&mut scan) {
                Outcome::NeedMore => {
                    self.fill()?;
                }
                Outcome::Done { end, next } => {
                    text.extend_from_slice(&self.buf[start..end]);
                    let malformed = self.decoder.malformed_before(self.base + next as u64);
                    let at_eof = end == next;
                    self.line += scan.lines + u64::from(!at_eof);
                    self.pos = next;
                    return Ok(Some(Frame {
                        line,
                        at_eof,
                        kind: FrameKind::Record { malformed },
                    }));
                }
                Outcome::Broken(reason) => {
                    let at_eof = match scan.first_line {
                        Some((end, next)) => {
                            text.extend_from_slice(preview(&self.buf[start..end]));
                            self.decoder.malformed_before(self.base + next as u64);
                            self.line += 1;
                            self.pos = next;
                            false
                        }
                        None => {
                            text.extend_from_slice(preview(&self.buf[start..scan.i]));
                            self.line += scan.lines;
                            let at_eof = self.skip_line(scan.i, text)?;
                            let keep = preview(text).len();
                            text.truncate(keep);
                            at_eof
                        }
                    };
                    return Ok(Some(Frame {
                        line,
                        at_eof,
                        kind: FrameKind::Broken(reason),
                    }));
                }
            }
        }
    }

    /// Moves past the blank lines before a record; false at the end of input.
    fn skip_blank_lines(&mut self) -> io::Result<bool> {
        loop {
            if self.pos == self.buf.len() {
                if self.eof {
                    return Ok(false);
                }
                self.compact();
                self.fill()?;
                continue;
            }
            match self.buf[self.pos] {
                b'\n' => {}
                b'\r' if self.pos + 1 == self.buf.len() && !self.eof => {
                    self.compact();
                    self.fill()?;
                    continue;
                }
                b'\r' if self.buf.get(self.pos + 1) == Some(&b'\n') => self.pos += 1,
                b'\r' => {}
                _ => return Ok(true),
            }
            self.pos += 1;
            self.line += 1;
        }
    }

    /// Skips from `from` to the next line break, quotes or not, reading as needed without
    /// keeping what it passes (but the start of it, in `text`); true if the input ended first.
    fn skip_line(&mut self, mut from: usize, text: &mut Vec<u8>) -> io::Result<bool> {
        loop {
            let found = self.buf[from..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r');
            let upto = found.map_or(self.buf.len(), |at| from + at);
            let room = (PREVIEW_BYTES + 4).saturating_sub(text.len());
            text.extend_from_slice(&self.buf[from..upto.min(from + room)]);
            match found {
                Some(_) if self.buf[upto] == b'\r' && upto + 1 == self.buf.len() && !self.eof => {
                    from = upto;
                }
                Some(_) => {
                    let crlf = self.buf[upto] == b'\r' && self.buf.get(upto + 1) == Some(&b'\n');
                    self.pos = upto + 1 + usize::from(crlf);
                    self.decoder.malformed_before(self.base + self.pos as u64);
                    self.line += 1;
                    return Ok(false);
                }
                None if self.eof => {
                    self.pos = self.buf.len();
                    self.decoder.malformed_before(u64::MAX);
                    return Ok(true);
                }
                None => from = upto,
            }
            // Forget what was passed, keeping a trailing '\r' whose partner may follow.
            self.base += from as u64;
            self.buf.drain(..from);
            self.pos = 0;
            from = 0;
            self.fill()?;
        }
    }

    fn compact(&mut self) {
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos >= 64 * 1024) {
            self.base += self.pos as u64;
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        if !self.eof && self.decoder.fill(&mut self.buf)? == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// Runs the record's state machine as far as the buffer goes.
    fn scan(&mut self, scan: &mut Scan) -> Outcome {
        let start = self.pos;
        let buf = &self.buf;
        loop {
            let i = scan.i;
            if i - start > self.limit {
                let (line, column) = scan.opened;
                return Outcome::Broken(match scan.state {
                    State::InQuoted => Reason::BrokenQuoting(QuoteProblem::Unclosed {
                        line,
                        column,
                        limit: self.limit,
                    }),
                    _ => {
                        // Not in quotes: drop the whole record up to its current line's end.
                        scan.first_line = None;
                        Reason::RecordTooLong { limit: self.limit }
                    }
                });
            }
            let Some(&b) = buf.get(i) else {
                if !self.eof {
                    return Outcome::NeedMore;
                }
                if scan.state == State::InQuoted {
                    let (line, column) = scan.opened;
                    return Outcome::Broken(Reason::BrokenQuoting(QuoteProblem::Unterminated {
                        line,
                        column,
                    }));
                }
                return Outcome::Done { end: i, next: i };
            };
            let line_break = b == b'\n' || b == b'\r';
            if b == b'\r' && i + 1 == buf.len() && !self.eof {
                return Outcome::NeedMore;
            }
            let break_len = if b == b'\r' && buf.get(i + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            let at_separator = buf[i..].starts_with(&self.separator);
            match scan.state {
                State::StartField if self.quote == Some(b) => {
                    scan.opened = (self.line + scan.lines, self.seps.len() + 1);
                    scan.state = State::InQuoted;
                    scan.i += 1;
                }
                State::StartField => scan.state = State::InField,
                State::InField | State::AfterQuote { .. } if at_separator => {
                    self.seps.push(i - start);
                    scan.state = State::StartField;
                    scan.i += self.separator.len();
                }
                State::InField | State::AfterQuote { .. } if line_break => {
                    return Outcome::Done {
                        end: i,
                        next: i + break_len,
                    };
                }
                State::InField => scan.i += 1,
                State::InQuoted if self.quote == Some(b) => {
                    scan.state = State::AfterQuote { spaced: false };
                    scan.i += 1;
                }
                State::InQuoted if line_break => {
                    scan.first_line.get_or_insert((i, i + break_len));
                    scan.lines += 1;
                    scan.i += break_len;
                }
                State::InQuoted => scan.i += 1,
                State::AfterQuote { spaced: false } if self.quote == Some(b) => {
                    scan.state = State::InQuoted;
                    scan.i += 1;
                }
                State::AfterQuote { .. } if b == b' ' || b == b'\t' => {
                    scan.state = State::AfterQuote { spaced: true };
                    scan.i += 1;
                }
                State::AfterQuote { .. } => {
                    return Outcome::Broken(Reason::BrokenQuoting(QuoteProblem::TextAfterQuote {
                        line: self.line + scan.lines,
                        column: self.seps.len() + 1,
                    }));
                }
            }
        }
    }
}

/// The start of `bytes`, cut to at most [`PREVIEW_BYTES`] at a character boundary.
fn preview(bytes: &[u8]) -> &[u8] {
    if bytes.len() <= PREVIEW_BYTES {
        return bytes;
    }
    let mut end = PREVIEW_BYTES;
    while end > 0 && (bytes[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use encoding_rs::UTF_8;

    /// (line, at_eof, kind, text) of every record of `input`.
    fn cut(input: &[u8], limit: usize) -> Vec<(u64, bool, FrameKind, String)> {
        let mut framer = Framer::new(Decoder::new(input, UTF_8), ',', Some('"'), limit);
        let mut text = Vec::new();
        let mut out = Vec::new();
        while let Some(f) = framer.next(&mut text).unwrap() {
            out.push((
                f.line,
                f.at_eof,
                f.kind,
                String::from_utf8(text.clone()).unwrap(),
            ));
        }
        out
    }

    fn ok(line: u64, text: &str) -> (u64, bool, FrameKind, String) {
        (
            line,
            false,
            FrameKind::Record { malformed: false },
            text.to_string(),
        )
    }

    fn quote(problem: QuoteProblem) -> FrameKind {
        FrameKind::Broken(Reason::BrokenQuoting(problem))
    }

    #[test]
    fn counts_physical_lines_across_blank_lines_and_quoted_breaks() {
        let input = b"a,b\r\n\r\n\"x\ny\",z\rc\n\n\nd";
        assert_eq!(
            cut(input, 1000),
            [
                ok(1, "a,b"),
                ok(3, "\"x\ny\",z"),
                ok(5, "c"),
                (
                    8,
                    true,
                    FrameKind::Record { malformed: false },
                    "d".to_string()
                ),
            ]
        );
    }

    #[test]
    fn an_unterminated_quote_costs_one_line() {
        let input = b"a,\"open\nb,c\nd,e\n";
        assert_eq!(
            cut(input, 1000),
            [
                (
                    1,
                    false,
                    quote(QuoteProblem::Unterminated { line: 1, column: 2 }),
                    "a,\"open".into()
                ),
                ok(2, "b,c"),
                ok(3, "d,e"),
            ]
        );
    }

    #[test]
    fn text_after_a_closing_quote_is_broken() {
        let input = b"a,\"Ann\"x,b\nc,\"Lee \"\"J\"\" \" ,d\n";
        assert_eq!(
            cut(input, 1000),
            [
                (
                    1,
                    false,
                    quote(QuoteProblem::TextAfterQuote { line: 1, column: 2 }),
                    "a,\"Ann\"x,b".into()
                ),
                ok(2, "c,\"Lee \"\"J\"\" \" ,d"),
            ]
        );
        // A runaway quote closed by the next line's quote: both lines are still read.
        let input = b"a@x.com,\"Ann\nb@x.com,\"Bob\"\nc@x.com,Carl\n";
        assert_eq!(
            cut(input, 1000),
            [
                (
                    1,
                    false,
                    quote(QuoteProblem::TextAfterQuote { line: 2, column: 2 }),
                    "a@x.com,\"Ann".into()
                ),
                ok(2, "b@x.com,\"Bob\""),
                ok(3, "c@x.com,Carl"),
            ]
        );
    }

    #[test]
    fn overlong_records_are_skipped_to_the_next_line() {
        let long = format!("{}\nb\n", "x".repeat(5000));
        let frames = cut(long.as_bytes(), 100);
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0].2,
            FrameKind::Broken(Reason::RecordTooLong { limit: 100 })
        );
        assert_eq!(frames[0].3.len(), PREVIEW_BYTES);
        assert_eq!(frames[1], ok(2, "b"));
        let open = format!("a,\"{}\nb\nc", "y\n".repeat(100));
        let frames = cut(open.as_bytes(), 50);
        assert_eq!(
            frames[0],
            (
                1,
                false,
                quote(QuoteProblem::Unclosed {
                    line: 1,
                    column: 2,
                    limit: 50
                }),
                "a,\"y".into()
            )
        );
        assert_eq!(frames[1], ok(2, "y"));
        // Line 101 is blank.
        assert_eq!(frames[100], ok(102, "b"));
        assert_eq!(frames.len(), 102);
        assert_eq!(
            frames[101],
            (
                103,
                true,
                FrameKind::Record { malformed: false },
                "c".into()
            )
        );
    }

    #[test]
    fn an_overlong_line_without_end_runs_to_the_end_of_input() {
        let long = "é".repeat(100_000);
        let frames = cut(long.as_bytes(), 100);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].1);
        assert!(frames[0].3.len() <= PREVIEW_BYTES && frames[0].3.starts_with("éé"));
    }

    #[test]
    fn malformed_bytes_mark_their_record_only() {
        let mut framer = Framer::new(
            Decoder::new(&b"a\xff\nb\n\xfe\"\nc"[..], UTF_8),
            ',',
            Some('"'),
            100,
        );
        let mut text = Vec::new();
        let mut kinds = Vec::new();
        while let Some(f) = framer.next(&mut text).unwrap() {
            kinds.push((f.line, f.kind));
        }
        assert_eq!(
            kinds,
            [
                (1, FrameKind::Record { malformed: true }),
                (2, FrameKind::Record { malformed: false }),
                (3, FrameKind::Record { malformed: true }),
                (4, FrameKind::Record { malformed: false }),
            ]
        );
    }

    #[test]
    fn memory_stays_bounded_on_endless_blank_lines_and_long_lines() {
        /// `n` bytes of `byte`, then `tail`.
        struct Endless(usize, u8, &'static [u8]);
        impl Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return self.2.read(out);
                }
                let n = out.len().min(self.0);
                out[..n].fill(self.1);
                self.0 -= n;
                Ok(n)
            }
        }
        for (byte, tail) in [
            (b'\n', &b"a"[..]),
            (b'\r', b"a"),
            (b'x', b"\na"),
            (b'"', b"\na"),
        ] {
            let input = Endless(20 << 20, byte, tail);
            let mut framer = Framer::new(Decoder::new(input, UTF_8), ',', Some('"'), 1000);
            let mut text = Vec::new();
            let mut lines = Vec::new();
            while let Some(f) = framer.next(&mut text).unwrap() {
                assert!(
                    framer.buf.capacity() < 1 << 20,
                    "{byte}: {}",
                    framer.buf.capacity()
                );
                lines.push(f.line);
            }
            assert_eq!(
                lines.last(),
                Some(&if byte == b'x' || byte == b'"' {
                    2
                } else {
                    (20 << 20) + 1
                })
            );
        }
    }

    #[test]
    fn separators_outside_quotes_are_listed() {
        let mut framer = Framer::new(
            Decoder::new("a¦\"b¦c\"¦d".as_bytes(), UTF_8),
            '¦',
            Some('"'),
            100,
        );
        let mut text = Vec::new();
        framer.next(&mut text).unwrap();
        assert_eq!(framer.separators(), [1, 9]);
    }
}
