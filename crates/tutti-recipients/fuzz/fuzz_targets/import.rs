//! Any bytes given as a recipient file, with any options, must be sniffed and read without
//! panicking (debug assertions on: the framer and the `csv` crate must agree on every
//! record), with lines going forward and every accepted row within the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_recipients::{Column, Limits, Options, RecipientReader, Record, sniff};

const SEPARATORS: [Option<char>; 8] = [
    None,
    Some(','),
    Some(';'),
    Some('\t'),
    Some('|'),
    Some('¦'),
    Some(' '),
    Some(':'),
];
const ENCODINGS: [Option<&str>; 6] = [
    None,
    None,
    Some("UTF-8"),
    Some("windows-1252"),
    Some("Shift_JIS"),
    Some("UTF-16LE"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b, c], file)) = data.split_first_chunk::<3>() else {
        return;
    };
    let options = Options {
        separator: SEPARATORS[usize::from(a & 7)],
        quote: [Some('"'), Some('\''), None, Some('"')][usize::from(a >> 3 & 3)],
        header: a & 0x20 != 0,
        encoding: ENCODINGS[usize::from(b % 6)].map(str::to_string),
        email_column: (b & 0x40 != 0).then(|| Column::Index(usize::from(c & 3))),
        name_column: (b & 0x80 != 0).then(|| Column::Name("name".into())),
        preview_rows: usize::from(c >> 4),
        limits: if c & 4 != 0 {
            Limits {
                max_record_bytes: 40,
                max_field_bytes: 8,
                max_columns: 3,
            }
        } else {
            Limits::default()
        },
    };
    let _ = sniff(file, &options);
    let Ok(reader) = RecipientReader::new(file, &options) else {
        return;
    };
    let columns = reader.sniffed().columns.len();
    let mut last = 0;
    for record in reader {
        let Ok(record) = record else {
            panic!("reading from memory failed")
        };
        assert!(record.line() > last, "{record:?} after line {last}");
        last = record.line();
        if let Record::Accepted {
            fields,
            address,
            key,
            ..
        } = &record
        {
            assert_eq!(fields.len(), columns);
            assert!(
                fields
                    .iter()
                    .all(|f| f.len() <= options.limits.max_field_bytes)
            );
            assert_eq!(address.trim(), address);
            assert!(key.contains('@') && key.len() <= 2 * 254, "{key}");
        }
    }
});
