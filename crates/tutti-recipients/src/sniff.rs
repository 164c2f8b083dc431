//! Looking at the start of a file: its encoding, separator, header and columns, and the
//! first rows as they would be imported, for the preview page.

use encoding_rs::Encoding;

use crate::encoding::{self, Decoder, EncodingSource};
use crate::error::ImportError;
use crate::fields::FieldSplitter;
use crate::framer::{Frame, FrameKind, Framer};
use crate::header;
use crate::options::{CANDIDATE_SEPARATORS, Column, Limits, Options, SAMPLE_BYTES, show_char};
use crate::record::{Layout, Record, is_address, judge, trimmed};

/// How many records are looked at to detect the separator and the e-mail column.
const DETECT_ROWS: usize = 100;

/// What [`sniff`] found out about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// The field separator.
    pub separator: char,
    /// Whether it was detected rather than given.
    pub separator_detected: bool,
    /// The quote character, if quoting is on.
    pub quote: Option<char>,
    /// The encoding's name, e.g. `UTF-8`, `windows-1252` (which `ISO-8859-1` means on the
    /// web and here), `Shift_JIS`.
    pub encoding: &'static str,
    /// How the encoding was settled.
    pub encoding_source: EncodingSource,
    /// Whether the first row is a header.
    pub header: bool,
    /// Column names: the header's, or `COL1`, `COL2`… without one.
    pub columns: Vec<String>,
    /// 0-based column of the e-mail address.
    pub email_column: usize,
    /// 0-based column of the recipient's name, if any.
    pub name_column: Option<usize>,
    /// The first [`Options::preview_rows`] records after the header, judged as the import
    /// would judge them.
    pub rows: Vec<Record>,
    /// The limits in force.
    pub limits: Limits,
    preview_rows: usize,
    decoding: &'static Encoding,
}

impl Sniffed {
    /// Options that read the file exactly as sniffed, every choice made explicit; the
    /// preview page shows them for the user to change.
    pub fn options(&self) -> Options {
        Options {
            separator: Some(self.separator),
            quote: self.quote,
            header: self.header,
            encoding: Some(self.encoding.to_string()),
            email_column: Some(Column::Index(self.email_column)),
            name_column: self.name_column.map(Column::Index),
            preview_rows: self.preview_rows,
            limits: self.limits,
        }
    }

    pub(crate) fn decoding(&self) -> &'static Encoding {
        self.decoding
    }

    pub(crate) fn layout(&self) -> Layout {
        Layout {
            columns: self.columns.len(),
            email: self.email_column,
            encoding: self.encoding,
            limits: self.limits,
        }
    }
}

/// A record cut from the sample, with its text and where its separators stand.
struct Sampled {
    frame: Frame,
    text: Vec<u8>,
    separators: Vec<usize>,
}

impl Sampled {
    fn fields(&self) -> usize {
        match self.frame.kind {
            FrameKind::Record { .. } => self.separators.len() + 1,
            FrameKind::Broken(_) => 0,
        }
    }
}

/// Looks at `sample`, the first [`SAMPLE_BYTES`] of a file (or all of it if shorter), and
/// settles what `options` leave open.
pub fn sniff(sample: &[u8], options: &Options) -> Result<Sniffed, ImportError> {
    options.validate()?;
    let truncated = sample.len() >= SAMPLE_BYTES;
    let (encoding, encoding_source) =
        encoding::resolve(options.encoding.as_deref(), sample, truncated)?;
    let cut = |separator, max| {
        frames(
            sample,
            encoding,
            separator,
            options.quote,
            options.limits,
            truncated,
            max,
        )
    };
    let header_rows = usize::from(options.header);
    let wanted = header_rows + DETECT_ROWS.max(options.preview_rows);
    let (separator, records) = match options.separator {
        Some(separator) => {
            let records = cut(separator, wanted);
            if records.first().is_some_and(|r| r.fields() == 1)
                && let Some(better) = detect_separator(&cut).filter(|&s| s != separator)
            {
                return Err(ImportError::WrongSeparator {
                    line: records.first().map_or(1, |r| r.frame.line),
                    used: show_char(separator),
                    suggested: show_char(better),
                });
            }
            (separator, records)
        }
        None => {
            let separator = detect_separator(&cut).unwrap_or(CANDIDATE_SEPARATORS[0]);
            (separator, cut(separator, wanted))
        }
    };
    let Some(first) = records.first() else {
        return Err(if truncated {
            ImportError::NoRowInSample(sample.len())
        } else {
            ImportError::Empty {
                header: options.header,
            }
        });
    };
    let mut splitter = FieldSplitter::new(separator, options.quote);
    let columns = if options.header {
        header_names(first, &mut splitter, encoding)?
    } else {
        let counts: Vec<usize> = records
            .iter()
            .map(Sampled::fields)
            .filter(|&n| n > 0)
            .collect();
        let n = mode(&counts).map_or(1, |(n, _)| n);
        (1..=n).map(|i| format!("COL{i}")).collect()
    };
    let data = &records[header_rows..];
    let email_column = match &options.email_column {
        Some(column) => resolve(column, &columns)?,
        None => detect_email_column(options.header, &columns, data, &mut splitter)?,
    };
    let name_column = match &options.name_column {
        Some(column) => Some(resolve(column, &columns)?),
        None if options.header => header::name_by_name(&columns, email_column),
        None => None,
    };
    let mut sniffed = Sniffed {
        separator,
        separator_detected: options.separator.is_none(),
        quote: options.quote,
        encoding: encoding.name(),
        encoding_source,
        header: options.header,
        columns,
        email_column,
        name_column,
        rows: Vec::new(),
        limits: options.limits,
        preview_rows: options.preview_rows,
        decoding: encoding,
    };
    let layout = sniffed.layout();
    sniffed.rows = data
        .iter()
        .take(options.preview_rows)
        .map(|r| {
            judge(
                r.frame.clone(),
                &r.text,
                &r.separators,
                &mut splitter,
                &layout,
            )
        })
        .collect();
    Ok(sniffed)
}

/// Cuts up to `max` records from the sample; a record the end of a cut-off sample runs into
/// is left out.
fn frames(
    sample: &[u8],
    encoding: &'static Encoding,
    separator: char,
    quote: Option<char>,
    limits: Limits,
    truncated: bool,
    max: usize,
) -> Vec<Sampled> {
    let decoder = Decoder::new(sample, encoding);
    let mut framer = Framer::new(decoder, separator, quote, limits.max_record_bytes);
    let mut out = Vec::new();
    let mut text = Vec::new();
    // Reading from memory cannot fail.
    while out.len() < max
        && let Ok(Some(frame)) = framer.next(&mut text)
    {
        if truncated && frame.at_eof {
            break;
        }
        out.push(Sampled {
            frame,
            text: text.clone(),
            separators: framer.separators().to_vec(),
        });
    }
    out
}

/// The candidate separator that splits the most records into the same number (at least
/// two) of columns; `None` if every candidate leaves most records in one column.
fn detect_separator(cut: &dyn Fn(char, usize) -> Vec<Sampled>) -> Option<char> {
    let mut best: Option<(char, usize, usize)> = None;
    for candidate in CANDIDATE_SEPARATORS {
        let records = cut(candidate, DETECT_ROWS);
        let counts: Vec<usize> = records.iter().map(Sampled::fields).collect();
        let Some((columns, agreeing)) = mode(&counts) else {
            continue;
        };
        if columns < 2 || agreeing * 2 <= counts.len() {
            continue;
        }
        // Compare agreeing / total as fractions.
        let better = best.is_none_or(|(_, a, t)| agreeing * t > a * counts.len());
        if better {
            best = Some((candidate, agreeing, counts.len()));
        }
    }
    best.map(|(separator, _, _)| separator)
}

/// The most frequent value (the larger on ties) and how often it occurs.
fn mode(values: &[usize]) -> Option<(usize, usize)> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mut best: Option<(usize, usize)> = None;
    for run in sorted.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, n)| run.len() >= n) {
            best = Some((run[0], run.len()));
        }
    }
    best
}

/// The header row's names, checked.
fn header_names(
    first: &Sampled,
    splitter: &mut FieldSplitter,
    encoding: &'static Encoding,
) -> Result<Vec<String>, ImportError> {
    let line = first.frame.line;
    match &first.frame.kind {
        FrameKind::Broken(reason) => {
            return Err(ImportError::HeaderUnreadable {
                line,
                reason: reason.clone(),
            });
        }
        FrameKind::Record { malformed: true } => {
            let reason = crate::error::Reason::Undecodable {
                encoding: encoding.name(),
            };
            return Err(ImportError::HeaderUnreadable { line, reason });
        }
        FrameKind::Record { malformed: false } => {}
    }
    let names = trimmed(splitter.split(&first.text, &first.separators), 0);
    if let Some(i) = names.iter().position(|n| is_address(n)) {
        return Err(ImportError::HeaderMissing {
            line,
            column: i + 1,
            value: names[i].clone(),
        });
    }
    header::check_names(line, &names)?;
    Ok(names)
}

fn resolve(column: &Column, columns: &[String]) -> Result<usize, ImportError> {
    match column {
        Column::Index(i) if *i < columns.len() => Ok(*i),
        Column::Index(i) => Err(ImportError::ColumnOutOfRange {
            column: i + 1,
            columns: columns.len(),
        }),
        Column::Name(name) => header::find(columns, name),
    }
}

/// A column named like `email`, else the first column that holds an address in most rows.
fn detect_email_column(
    has_header: bool,
    columns: &[String],
    data: &[Sampled],
    splitter: &mut FieldSplitter,
) -> Result<usize, ImportError> {
    if has_header && let Some(i) = header::email_by_name(columns) {
        return Ok(i);
    }
    let rows: Vec<Vec<String>> = data
        .iter()
        .take(DETECT_ROWS)
        .filter(|r| matches!(r.frame.kind, FrameKind::Record { malformed: false }))
        .map(|r| splitter.split(&r.text, &r.separators))
        .collect();
    let found = (0..columns.len()).find(|&c| {
        let hits = rows
            .iter()
            .filter(|f| f.get(c).is_some_and(|v| is_address(v)))
            .count();
        hits * 2 > rows.len()
    });
    found.ok_or_else(|| {
        let named = if has_header {
            "no column is named like 'email', and "
        } else {
            ""
        };
        ImportError::NoEmailColumn(if rows.is_empty() {
            format!("{named}there are no rows to look for addresses in")
        } else {
            format!(
                "{named}no column holds an e-mail address in most of the first {} rows",
                rows.len()
            )
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::error::Reason;

    fn sniffed(file: &str) -> Sniffed {
        sniff(file.as_bytes(), &Options::default()).unwrap()
    }

    fn error(file: &str, options: &Options) -> String {
        sniff(file.as_bytes(), options).unwrap_err().to_string()
    }

    #[test]
    fn detects_each_candidate_separator() {
        for sep in CANDIDATE_SEPARATORS {
            let file = format!("email{sep}name\na@example.com{sep}Ann\nb@example.com{sep}Bob\n");
            let s = sniffed(&file);
            assert_eq!(s.separator, sep);
            assert!(s.separator_detected);
            assert_eq!(s.columns, ["email", "name"]);
            assert_eq!((s.email_column, s.name_column), (0, Some(1)));
            assert_eq!(s.rows.len(), 2);
        }
    }

    #[test]
    fn semicolons_win_over_commas_inside_names() {
        let s = sniffed("Name;E-Mail\nLee, Ann;a@example.com\nBob;b@example.com\n");
        assert_eq!(s.separator, ';');
        assert_eq!((s.email_column, s.name_column), (1, Some(0)));
    }

    #[test]
    fn a_plain_list_is_one_column_without_header() {
        let options = Options {
            header: false,
            ..Options::default()
        };
        let s = sniff(b"a@example.com\nb@example.com\nnope\n", &options).unwrap();
        assert_eq!(s.columns, ["COL1"]);
        assert_eq!((s.email_column, s.name_column), (0, None));
        assert_eq!(s.rows.len(), 3);
        assert_eq!(s.rows[2].line(), 3);
        assert!(matches!(
            &s.rows[2],
            Record::Rejected {
                reason: Reason::InvalidAddress(_),
                ..
            }
        ));
    }

    #[test]
    fn finds_the_email_column_by_content_without_header() {
        let options = Options {
            header: false,
            ..Options::default()
        };
        let s = sniff(
            b"1,Ann,a@example.com\n2,Bob,b@example.com\n3,Cy,x\n",
            &options,
        )
        .unwrap();
        assert_eq!((s.separator, s.columns.len(), s.email_column), (',', 3, 2));
        let s = sniff(
            b"1,Ann,a@example.com\n",
            &Options {
                email_column: Some(Column::Name("col3".into())),
                ..options
            },
        )
        .unwrap();
        assert_eq!(s.email_column, 2);
    }

    #[test]
    fn finds_the_email_column_by_content_under_an_unusual_header() {
        let s = sniffed("id,who,contact\n1,Ann,a@example.com\n2,Bob,b@example.com\n");
        assert_eq!((s.email_column, s.name_column), (2, None));
    }

    #[test]
    fn columns_can_be_picked_by_name_or_index() {
        let file = "id,Contact,Who\n1,a@example.com,Ann\n";
        let options = Options {
            email_column: Some(Column::Name("contact".into())),
            name_column: Some(Column::Index(2)),
            ..Options::default()
        };
        let s = sniff(file.as_bytes(), &options).unwrap();
        assert_eq!((s.email_column, s.name_column), (1, Some(2)));
        let again = sniff(file.as_bytes(), &s.options()).unwrap();
        assert_eq!(again.rows, s.rows);
        assert_eq!(
            error(
                file,
                &Options {
                    email_column: Some(Column::Name("mail".into())),
                    ..Options::default()
                }
            ),
            "there is no column named \"mail\"; the columns are \"id\", \"Contact\", \"Who\""
        );
        assert_eq!(
            error(
                file,
                &Options {
                    email_column: Some(Column::Index(3)),
                    ..Options::default()
                }
            ),
            "column 4 was picked, but the file has only 3 column(s)"
        );
    }

    #[test]
    fn file_level_errors_say_what_and_where() {
        assert_eq!(
            error("", &Options::default()),
            "the file is empty: it has no rows, not even a header row"
        );
        assert_eq!(
            error(
                "\n\r\n",
                &Options {
                    header: false,
                    ..Options::default()
                }
            ),
            "the file is empty: it has no rows"
        );
        assert_eq!(
            error("\na@example.com,Ann\n", &Options::default()),
            "line 2: the first row should hold the column names but column 1 holds the e-mail \
             address \"a@example.com\": add a header row, or say that the file has none"
        );
        assert_eq!(
            error("email,,name\n", &Options::default()),
            "line 1: column 2 has no name in the header row"
        );
        assert_eq!(
            error("email,Name,NAME\n", &Options::default()),
            "line 1: columns 2 and 3 are both named \"NAME\" (names are compared ignoring case)"
        );
        assert_eq!(
            sniffed("email,1st\na@example.com,x\n").columns,
            ["email", "1st"]
        );
        assert_eq!(
            error("id,who\n1,Ann\n2,Bob\n", &Options::default()),
            "no e-mail column found: no column is named like 'email', and no column holds an \
             e-mail address in most of the first 2 rows"
        );
        assert_eq!(
            error("id,who\n", &Options::default()),
            "no e-mail column found: no column is named like 'email', and there are no rows to \
             look for addresses in"
        );
        assert_eq!(
            error("email,\"name\n", &Options::default()),
            "line 1: the header row cannot be read: broken quoting: the quote that opens column \
             2 on line 1 is never closed"
        );
        assert_eq!(
            error(
                "email,n\u{e4}me\n",
                &Options {
                    encoding: Some("klingon".into()),
                    ..Options::default()
                }
            ),
            "unknown encoding \"klingon\": use a name like UTF-8, ISO-8859-1, windows-1252 or Shift_JIS"
        );
        assert_eq!(
            error(
                "a@example.com\n",
                &Options {
                    separator: Some('"'),
                    ..Options::default()
                }
            ),
            "invalid import options: the separator and the quote character are both '\"'"
        );
    }

    #[test]
    fn a_wrong_separator_is_named() {
        let file = "email;name\na@example.com;Ann\nb@example.com;Bob\n";
        let options = Options {
            separator: Some(','),
            ..Options::default()
        };
        assert_eq!(
            error(file, &options),
            "line 1: reading with ',' as separator gives a single column, but the file seems to \
             use ';' as separator"
        );
        let tabs = "email\tname\na@example.com\tAnn\n";
        assert!(
            error(
                tabs,
                &Options {
                    separator: Some(';'),
                    ..Options::default()
                }
            )
            .ends_with("the file seems to use TAB as separator")
        );
        // A real one-column file read with an explicit separator is fine.
        let s = sniff(b"email\na@example.com\n", &options).unwrap();
        assert_eq!(s.columns, ["email"]);
    }

    #[test]
    fn a_cut_off_sample_leaves_out_its_last_record() {
        let mut file = String::from("email,name\n");
        let mut n = 0;
        while file.len() < SAMPLE_BYTES + 10 {
            file.push_str(&format!("user{n}@example.com,Name {n}\n"));
            n += 1;
        }
        let options = Options {
            preview_rows: 100_000,
            ..Options::default()
        };
        let s = sniff(&file.as_bytes()[..SAMPLE_BYTES], &options).unwrap();
        assert!(s.rows.iter().all(|r| matches!(r, Record::Accepted { .. })));
        assert_eq!(
            s.rows.len(),
            DETECT_ROWS.max(options.preview_rows).min(n - 1)
        );
    }

    #[test]
    fn a_first_row_longer_than_the_sample_is_named() {
        let file = format!("email,{}\na@example.com,x\n", "n".repeat(SAMPLE_BYTES));
        assert_eq!(
            error(&file[..SAMPLE_BYTES], &Options::default()),
            format!("the first {SAMPLE_BYTES} bytes of the file hold no complete row")
        );
    }

    #[test]
    fn preview_rows_are_bounded() {
        let file: String = std::iter::once("email\n".to_string())
            .chain((0..50).map(|i| format!("u{i}@example.com\n")))
            .collect();
        assert_eq!(sniffed(&file).rows.len(), 10);
    }
}
