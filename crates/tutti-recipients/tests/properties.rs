//! Properties over generated input: nothing panics, and what a CSV writer writes reads back.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tutti_recipients::{Column, Limits, Options, RecipientReader, Record, sniff};

fn options() -> impl Strategy<Value = Options> {
    (
        prop::option::of(prop::sample::select(vec![',', ';', '\t', '|', '¦', ' '])),
        prop::option::of(prop::sample::select(vec!['"', '\''])),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![
            "UTF-8",
            "windows-1252",
            "Shift_JIS",
            "UTF-16BE",
        ])),
        prop::option::of((0usize..4).prop_map(Column::Index)),
        (16usize..300, 1usize..100, 1usize..10),
    )
        .prop_filter("separator and quote differ", |(s, q, ..)| {
            s.is_none() || *s != *q
        })
        .prop_map(
            |(separator, quote, header, encoding, email_column, (rec, field, cols))| Options {
                separator,
                quote,
                header,
                encoding: encoding.map(str::to_string),
                email_column,
                name_column: None,
                preview_rows: 5,
                limits: Limits {
                    max_record_bytes: rec,
                    max_field_bytes: field,
                    max_columns: cols,
                },
            },
        )
}

/// Bytes that look a little like CSV, so that more than the first branch gets exercised.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b",".to_vec()),
        Just(b";".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"a@example.com".to_vec()),
        Just(b"email".to_vec()),
        Just(b" ".to_vec()),
        Just(vec![0xEF, 0xBB, 0xBF]),
        prop::collection::vec(any::<u8>(), 0..6),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

/// Reads all of `bytes`, checking what holds for any input.
fn read_all(bytes: &[u8], options: &Options) {
    let _ = sniff(bytes, options);
    let Ok(reader) = RecipientReader::new(bytes, options) else {
        return;
    };
    let breaks = bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64;
    let mut last = 0;
    for record in reader {
        let record = record.unwrap();
        assert!(
            record.line() > last,
            "lines go forward: {record:?} after line {last}"
        );
        // A line ends at \n, \r\n or \r, counted at most once per break byte; UTF-16 files
        // hold their breaks in two bytes, so this bound is loose for them.
        assert!(record.line() <= breaks + 1, "{record:?}");
        last = record.line();
        if let Record::Accepted {
            fields,
            address,
            key,
            ..
        } = &record
        {
            assert!(
                fields
                    .iter()
                    .all(|f| f.len() <= options.limits.max_field_bytes)
            );
            assert!(fields.len() <= options.limits.max_columns);
            assert_eq!(address.trim(), address);
            assert!(key.contains('@'));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), options in options()) {
        read_all(&bytes, &options);
    }

    #[test]
    fn csvish_bytes_never_panic(bytes in csvish(), options in options()) {
        read_all(&bytes, &options);
    }
}

/// A field with separators, quotes and line breaks inside but no white space around it
/// (fields are read trimmed).
fn field() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'z').prop_map(String::from),
            1 => prop::sample::select(vec![",", ";", "\t", "|", "¦", "\"", "'", "\n", "\r\n", "\r", " ", "ü", "名", "@", "#"])
                .prop_map(str::to_string),
        ],
        0..8,
    )
    .prop_map(|p| p.concat())
    .prop_filter("no white space around", |f| f.trim() == f)
}

fn address() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9.+]{0,6}[a-z0-9]",
        "[a-z]{1,8}",
        prop::sample::select(vec!["com", "de", "example"]),
    )
        .prop_filter("no double dots", |(local, ..)| !local.contains(".."))
        .prop_map(|(local, domain, tld)| format!("{local}@{domain}.{tld}"))
}

/// Rows whose first field is an address, all of the same width, and blank lines to put
/// before each.
fn table() -> impl Strategy<Value = (usize, Vec<(Vec<String>, usize)>)> {
    (0usize..4).prop_flat_map(|extra| {
        let row = (
            address(),
            prop::collection::vec(field(), extra..=extra),
            0usize..3,
        )
            .prop_map(|(a, mut rest, blanks)| {
                rest.insert(0, a);
                (rest, blanks)
            });
        (Just(extra + 1), prop::collection::vec(row, 1..30))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn written_csv_reads_back_with_its_lines(
        (width, rows) in table(),
        separator in prop::sample::select(vec![',', ';', '\t', '|', '¦']),
        crlf in any::<bool>(),
        always_quote in any::<bool>(),
    ) {
        // Write with the csv crate; a non-ASCII separator is written as 0x1F, which the
        // fields never hold, then replaced.
        let byte_sep = if separator.is_ascii() { separator as u8 } else { 0x1F };
        let style = if always_quote || !separator.is_ascii() {
            csv::QuoteStyle::Always
        } else {
            csv::QuoteStyle::Necessary
        };
        let write = |fields: &[String]| {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(byte_sep)
                .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
                .quote_style(style)
                .from_writer(Vec::new());
            writer.write_record(fields).unwrap();
            writer.into_inner().unwrap()
        };
        let header: Vec<String> =
            std::iter::once("email".to_string()).chain((1..width).map(|i| format!("f{i}"))).collect();
        let mut file = write(&header);
        let mut starts = Vec::new();
        for (fields, blanks) in &rows {
            for _ in 0..*blanks {
                file.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            starts.push(file.len());
            file.extend_from_slice(&write(fields));
        }
        if !separator.is_ascii() {
            // Offsets move by the separator's extra bytes.
            let extra = separator.len_utf8() - 1;
            for start in &mut starts {
                *start += extra * file[..*start].iter().filter(|&&b| b == 0x1F).count();
            }
            file = String::from_utf8(file).unwrap().replace('\u{1F}', &separator.to_string()).into_bytes();
        }
        let line_of = |offset: usize| {
            let before = &file[..offset];
            let crlfs = before.windows(2).filter(|w| w == b"\r\n").count();
            let breaks = before.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
            (breaks - crlfs + 1) as u64
        };
        let options = Options {
            separator: Some(separator),
            email_column: Some(Column::Index(0)),
            ..Options::default()
        };
        let reader = RecipientReader::new(&file[..], &options).unwrap();
        prop_assert_eq!(&reader.sniffed().columns, &header);
        let got: Vec<Record> = reader.map(Result::unwrap).collect();
        prop_assert_eq!(got.len(), rows.len());
        for ((record, (fields, _)), start) in got.iter().zip(&rows).zip(&starts) {
            match record {
                Record::Accepted { line, fields: read, address, .. } => {
                    prop_assert_eq!(read, fields);
                    prop_assert_eq!(address, &fields[0]);
                    prop_assert_eq!(*line, line_of(*start));
                }
                Record::Rejected { raw, reason, .. } => {
                    prop_assert!(false, "rejected {:?}: {}", raw, reason);
                }
            }
        }
    }
}
