//! Splitting one framed record into fields with the `csv` crate.
//!
//! The framer has already found where the record ends and checked its quotes, so the `csv`
//! reader is handed exactly one record at a time, ended by `\n`. A non-ASCII separator is
//! replaced (outside quotes) by the byte 0xFF, which never occurs in UTF-8, so that `csv`,
//! which splits on bytes, can split on it.

use std::io::{self, Read};

use csv::{ByteRecord, ReaderBuilder};

/// The bytes of the record being split, read by the `csv` reader.
#[derive(Default)]
struct Feed {
    data: Vec<u8>,
    pos: usize,
}

impl Read for Feed {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out.len().min(self.data.len() - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

pub(crate) struct FieldSplitter {
    builder: ReaderBuilder,
    reader: csv::Reader<Feed>,
    record: ByteRecord,
    /// The separator's bytes when it is not ASCII.
    wide_separator: Option<Vec<u8>>,
    /// Bytes handed to `reader` so far.
    fed: u64,
}

impl FieldSplitter {
    pub(crate) fn new(separator: char, quote: Option<char>) -> Self {
        let mut builder = ReaderBuilder::new();
        let (delimiter, wide_separator) = match u8::try_from(separator) {
            Ok(b) if b.is_ascii() => (b, None),
            _ => (0xFF, Some(separator.to_string().into_bytes())),
        };
        builder
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .double_quote(true)
            .quoting(quote.is_some())
            .quote(quote.and_then(|q| u8::try_from(q).ok()).unwrap_or(b'"'))
            .buffer_capacity(8 * 1024);
        let (reader, fed) = fresh(&builder);
        FieldSplitter {
            builder,
            reader,
            record: ByteRecord::new(),
            wide_separator,
            fed,
        }
    }

    /// The fields of `text`, a record cut by the framer, whose separators outside quotes
    /// stand at `separators`.
    pub(crate) fn split(&mut self, text: &[u8], separators: &[usize]) -> Vec<String> {
        let feed = self.reader.get_mut();
        feed.data.clear();
        feed.pos = 0;
        match &self.wide_separator {
            None => feed.data.extend_from_slice(text),
            Some(sep) => {
                let mut from = 0;
                for &at in separators {
                    feed.data.extend_from_slice(&text[from..at]);
                    feed.data.push(0xFF);
                    from = at + sep.len();
                }
                feed.data.extend_from_slice(&text[from..]);
            }
        }
        feed.data.push(b'\n');
        self.fed += feed.data.len() as u64;
        let read = self.reader.read_byte_record(&mut self.record);
        let in_step = matches!(read, Ok(true)) && self.reader.position().byte() == self.fed;
        debug_assert!(
            in_step,
            "csv and the framer disagree on {:?}",
            String::from_utf8_lossy(text)
        );
        if !in_step {
            // Never expected: start afresh so that one record cannot shift the next ones.
            (self.reader, self.fed) = fresh(&self.builder);
        }
        self.record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    }
}

/// A reader that has read one record already: `csv` drops a byte order mark at the start of
/// its input, but here that is the start of a record, where U+FEFF is text.
fn fresh(builder: &ReaderBuilder) -> (csv::Reader<Feed>, u64) {
    let primer = b"-\n";
    let mut reader = builder.from_reader(Feed {
        data: primer.to_vec(),
        pos: 0,
    });
    let _ = reader.read_byte_record(&mut ByteRecord::new());
    (reader, primer.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields_one_record_at_a_time() {
        let mut s = FieldSplitter::new(',', Some('"'));
        assert_eq!(s.split("\u{feff}a".as_bytes(), &[]), ["\u{feff}a"]);
        assert_eq!(
            s.split(b"a,\"b,\"\"c\"\"\nd\",", &[1, 13]),
            ["a", "b,\"c\"\nd", ""]
        );
        assert_eq!(s.split(b"x", &[]), ["x"]);
        assert_eq!(s.split(b"\"\"", &[]), [""]);
        assert_eq!(s.split("\u{feff}".as_bytes(), &[]), ["\u{feff}"]);
    }

    #[test]
    fn splits_on_a_non_ascii_separator_outside_quotes_only() {
        let mut s = FieldSplitter::new('¦', Some('"'));
        let text = "a¦\"b¦c\"¦d".as_bytes();
        assert_eq!(s.split(text, &[1, 9]), ["a", "b¦c", "d"]);
    }

    #[test]
    fn without_quoting_quotes_are_text() {
        let mut s = FieldSplitter::new(';', None);
        assert_eq!(s.split(b"\"a;b\"", &[2]), ["\"a", "b\""]);
    }
}
