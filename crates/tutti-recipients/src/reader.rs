//! Reading a whole recipient file as a stream of judged records, in constant memory.

use std::io::{self, Cursor, Read};

use crate::encoding::Decoder;
use crate::error::ImportError;
use crate::fields::FieldSplitter;
use crate::framer::Framer;
use crate::options::{Options, SAMPLE_BYTES};
use crate::record::{Layout, Record, judge};
use crate::sniff::{Sniffed, sniff};

type Input<R> = io::Chain<Cursor<Vec<u8>>, R>;

/// Reads a recipient file record by record. Each item is a [`Record`] (accepted or
/// rejected); an `Err` means reading the input failed, and ends the iteration.
///
/// ```
/// use tutti_recipients::{Counts, Options, RecipientReader, Record};
///
/// let file = "Email;Name\nann@example.com;Ann\nnot-an-address;Bob\n";
/// let reader = RecipientReader::new(file.as_bytes(), &Options::default())?;
/// assert_eq!(reader.sniffed().separator, ';');
/// let mut counts = Counts::default();
/// for record in reader {
///     let record = record?;
///     counts.add(&record);
///     if let Record::Accepted { key, fields, .. } = &record {
///         assert_eq!((key.as_str(), fields[1].as_str()), ("ann@example.com", "Ann"));
///     }
/// }
/// assert_eq!((counts.read, counts.accepted, counts.rejected), (2, 1, 1));
/// # Ok::<(), tutti_recipients::ImportError>(())
/// ```
pub struct RecipientReader<R: Read> {
    framer: Framer<Input<R>>,
    splitter: FieldSplitter,
    sniffed: Sniffed,
    layout: Layout,
    text: Vec<u8>,
    header_pending: bool,
    done: bool,
}

impl<R: Read> RecipientReader<R> {
    /// Reads the start of `input` to settle what `options` leave open (as [`sniff`] does),
    /// failing on the same file-level errors, then stands ready to read it all.
    pub fn new(mut input: R, options: &Options) -> Result<Self, ImportError> {
        let mut sample = Vec::with_capacity(SAMPLE_BYTES);
        (&mut input)
            .take(SAMPLE_BYTES as u64)
            .read_to_end(&mut sample)?;
        let sniffed = sniff(&sample, options)?;
        let decoder = Decoder::new(Cursor::new(sample).chain(input), sniffed.decoding());
        let limit = sniffed.limits.max_record_bytes;
        Ok(RecipientReader {
            framer: Framer::new(decoder, sniffed.separator, sniffed.quote, limit),
            splitter: FieldSplitter::new(sniffed.separator, sniffed.quote),
            layout: sniffed.layout(),
            header_pending: sniffed.header,
            sniffed,
            text: Vec::new(),
            done: false,
        })
    }

    /// What was settled about the file, with a preview of its first rows.
    pub fn sniffed(&self) -> &Sniffed {
        &self.sniffed
    }
}

impl<R: Read> Iterator for RecipientReader<R> {
    type Item = Result<Record, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let frame = match self.framer.next(&mut self.text) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            };
            if std::mem::take(&mut self.header_pending) {
                continue;
            }
            let separators = self.framer.separators();
            return Some(Ok(judge(
                frame,
                &self.text,
                separators,
                &mut self.splitter,
                &self.layout,
            )));
        }
        self.done = true;
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::error::{AddressProblem, QuoteProblem, Reason};
    use crate::options::{Column, Limits};
    use crate::record::Counts;

    fn read(file: &[u8], options: &Options) -> Vec<Record> {
        RecipientReader::new(file, options)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn reasons(file: &[u8], options: &Options) -> Vec<(u64, Option<Reason>)> {
        read(file, options)
            .into_iter()
            .map(|r| match r {
                Record::Accepted { line, .. } => (line, None),
                Record::Rejected { line, reason, .. } => (line, Some(reason)),
            })
            .collect()
    }

    #[test]
    fn accepts_rows_with_fields_address_and_key() {
        let file = b"Email,Name\n Ann@Example.COM , Ann Lee \n\"b@x.example\",\"Lee, Bob\"\n";
        assert_eq!(
            read(file, &Options::default()),
            [
                Record::Accepted {
                    line: 2,
                    fields: vec!["Ann@Example.COM".into(), "Ann Lee".into()],
                    address: "Ann@Example.COM".into(),
                    key: "ann@example.com".into(),
                },
                Record::Accepted {
                    line: 3,
                    fields: vec!["b@x.example".into(), "Lee, Bob".into()],
                    address: "b@x.example".into(),
                    key: "b@x.example".into(),
                },
            ]
        );
    }

    #[test]
    fn each_reason_is_given_with_its_line() {
        let file = "email,name\n\
                    ,Nobody\n\
                    ann,Ann\n\
                    b@x.example\n\
                    c@x.example,C,extra\n\
                    d@x.example,\"D\n\
                    e@x.example,\"E\"e\n\
                    f@x.example,F,,\n\
                    g@x.example,\"G\nstill G\"\n";
        assert_eq!(
            reasons(file.as_bytes(), &Options::default()),
            [
                (2, Some(Reason::EmptyAddress { column: 1 })),
                (3, Some(Reason::InvalidAddress(AddressProblem::NoAt))),
                (
                    4,
                    Some(Reason::WrongColumnCount {
                        expected: 2,
                        found: 1
                    })
                ),
                (
                    5,
                    Some(Reason::WrongColumnCount {
                        expected: 2,
                        found: 3
                    })
                ),
                (
                    6,
                    Some(Reason::BrokenQuoting(QuoteProblem::TextAfterQuote {
                        line: 7,
                        column: 2
                    }))
                ),
                (
                    7,
                    Some(Reason::BrokenQuoting(QuoteProblem::TextAfterQuote {
                        line: 7,
                        column: 2
                    }))
                ),
                (8, None),
                (9, None),
            ]
        );
        let rows = read(file.as_bytes(), &Options::default());
        assert!(matches!(&rows[4], Record::Rejected { raw, .. } if raw == "d@x.example,\"D"));
        assert!(matches!(&rows[6], Record::Accepted { fields, .. } if fields.len() == 2));
        assert!(matches!(&rows[7], Record::Accepted { fields, .. } if fields[1] == "G\nstill G"));
    }

    #[test]
    fn an_unterminated_quote_at_the_end_is_named() {
        let file = b"email,name\na@x.example,Ann\nb@x.example,\"Bob\n";
        let got = reasons(file, &Options::default());
        assert_eq!(
            got[1],
            (
                3,
                Some(Reason::BrokenQuoting(QuoteProblem::Unterminated {
                    line: 3,
                    column: 2
                }))
            )
        );
        let rows = read(file, &Options::default());
        assert_eq!(
            rows[1].to_string(),
            "line 3: broken quoting: the quote that opens column 2 on line 3 is never closed"
        );
    }

    #[test]
    fn undecodable_bytes_reject_their_row_when_the_encoding_is_given() {
        let options = Options {
            encoding: Some("UTF-8".into()),
            ..Options::default()
        };
        let file = b"email,name\na@x.example,J\xfcrgen\nb@x.example,Bob\n";
        assert_eq!(
            reasons(file, &options),
            [
                (2, Some(Reason::Undecodable { encoding: "UTF-8" })),
                (3, None)
            ]
        );
        assert_eq!(
            Reason::Undecodable { encoding: "UTF-8" }.to_string(),
            "holds bytes that are not valid UTF-8 text"
        );
    }

    #[test]
    fn limits_reject_long_rows_fields_and_many_columns() {
        let limits = Limits {
            max_record_bytes: 200,
            max_field_bytes: 20,
            max_columns: 3,
        };
        let options = Options {
            limits,
            ..Options::default()
        };
        let file = format!(
            "email,x\na@x.example,ok\n{}\nb@x.example,{}\nc@x.example,1,2,3,4\nd@x.example,\"{}\"\ne@x.example,ok\n",
            "z".repeat(1000),
            "y".repeat(21),
            "w\n".repeat(150),
        );
        let got = reasons(file.as_bytes(), &options);
        assert_eq!(got[0], (2, None));
        assert_eq!(got[1], (3, Some(Reason::RecordTooLong { limit: 200 })));
        assert_eq!(
            got[2],
            (
                4,
                Some(Reason::FieldTooLong {
                    column: 2,
                    limit: 20
                })
            )
        );
        assert_eq!(got[3], (5, Some(Reason::TooManyColumns { limit: 3 })));
        assert_eq!(
            got[4],
            (
                6,
                Some(Reason::BrokenQuoting(QuoteProblem::Unclosed {
                    line: 6,
                    column: 2,
                    limit: 200
                }))
            )
        );
        // The lines of the runaway field are read again as rows of their own.
        assert_eq!(
            got[5],
            (
                7,
                Some(Reason::WrongColumnCount {
                    expected: 2,
                    found: 1
                })
            )
        );
        assert_eq!(got.last(), Some(&(157, None)));
    }

    #[test]
    fn reads_in_constant_memory_and_counts() {
        /// `n` generated rows, every tenth one bad, handed out in small reads.
        struct Rows {
            n: u64,
            pending: Vec<u8>,
        }
        impl Read for Rows {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.pending.is_empty() && self.n > 0 {
                    self.n -= 1;
                    self.pending = if self.n.is_multiple_of(10) {
                        b"bad row,x\n".to_vec()
                    } else {
                        format!("user{}@example.com,Name\n", self.n).into_bytes()
                    };
                }
                let n = self.pending.len().min(out.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                Ok(n)
            }
        }
        let options = Options {
            header: false,
            ..Options::default()
        };
        let mut counts = Counts::default();
        let mut last = 0;
        for record in RecipientReader::new(
            Rows {
                n: 50_000,
                pending: Vec::new(),
            },
            &options,
        )
        .unwrap()
        {
            let record = record.unwrap();
            assert_eq!(record.line(), last + 1);
            last = record.line();
            counts.add(&record);
        }
        assert_eq!(
            counts,
            Counts {
                read: 50_000,
                accepted: 45_000,
                rejected: 5_000
            }
        );
    }

    #[test]
    fn read_errors_end_the_iteration() {
        struct Failing(bool);
        impl Read for Failing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if std::mem::replace(&mut self.0, true) {
                    return Err(io::Error::other("disk on fire"));
                }
                let head = b"email\na@x.example\n";
                out[..head.len()].copy_from_slice(head);
                Ok(head.len())
            }
        }
        let err = RecipientReader::new(Failing(false), &Options::default())
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "reading the file failed: disk on fire");
    }

    #[test]
    fn a_reader_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<RecipientReader<std::fs::File>>();
        send::<Sniffed>();
        send::<ImportError>();
    }

    #[test]
    fn a_non_ascii_separator_and_no_quoting() {
        let options = Options {
            separator: Some('¦'),
            quote: None,
            ..Options::default()
        };
        let file = "email¦name\na@x.example¦\"Ann\"\n".as_bytes();
        let rows = read(file, &options);
        assert!(matches!(&rows[0], Record::Accepted { fields, .. } if fields[1] == "\"Ann\""));
        let options = Options {
            email_column: Some(Column::Index(1)),
            header: false,
            ..Options::default()
        };
        let rows = read(b"Ann,a@x.example\n", &options);
        assert!(matches!(&rows[0], Record::Accepted { address, .. } if address == "a@x.example"));
    }
}
