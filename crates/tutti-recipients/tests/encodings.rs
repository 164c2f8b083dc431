//! Files in other encodings than UTF-8: detected, or given.
#![allow(clippy::unwrap_used)]

use encoding_rs::{SHIFT_JIS, UTF_16LE, WINDOWS_1252};
use tutti_recipients::{EncodingSource, Options, Reason, RecipientReader, Record, sniff};

fn rows(file: &[u8], options: &Options) -> Vec<Record> {
    RecipientReader::new(file, options)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn field(record: &Record, i: usize) -> &str {
    match record {
        Record::Accepted { fields, .. } => &fields[i],
        Record::Rejected { raw, reason, .. } => panic!("rejected {raw:?}: {reason}"),
    }
}

#[test]
fn latin1_with_umlauts_is_detected_and_decoded() {
    let text = "E-Mail;Name;Ort\n\
                juergen@example.de;Jürgen Müller;Köln\n\
                baerbel@example.de;Bärbel Groß;Düsseldorf\n\
                oe@example.at;Österreicher;Graz\n";
    let (bytes, _, unmappable) = WINDOWS_1252.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err());
    let sniffed = sniff(&bytes, &Options::default()).unwrap();
    assert_eq!(sniffed.encoding, "windows-1252");
    assert_eq!(sniffed.encoding_source, EncodingSource::Guessed);
    assert_eq!(sniffed.separator, ';');
    assert_eq!(sniffed.columns, ["E-Mail", "Name", "Ort"]);
    let got = rows(&bytes, &Options::default());
    assert_eq!(field(&got[0], 1), "Jürgen Müller");
    assert_eq!(field(&got[1], 2), "Düsseldorf");
    assert_eq!(field(&got[2], 1), "Österreicher");
    // The same file read with the label users know it by.
    let options = Options {
        encoding: Some("ISO-8859-1".into()),
        ..Options::default()
    };
    assert_eq!(field(&rows(&bytes, &options)[1], 1), "Bärbel Groß");
}

#[test]
fn utf8_with_a_byte_order_mark() {
    let file = "\u{feff}email,name\nzoe@example.com,Zoë\n".as_bytes();
    let sniffed = sniff(file, &Options::default()).unwrap();
    assert_eq!(
        (sniffed.encoding, sniffed.encoding_source),
        ("UTF-8", EncodingSource::ByteOrderMark)
    );
    assert_eq!(sniffed.columns, ["email", "name"]);
    assert_eq!(field(&rows(file, &Options::default())[0], 1), "Zoë");
    // The mark wins over a wrong encoding given by the user.
    let options = Options {
        encoding: Some("windows-1252".into()),
        ..Options::default()
    };
    assert_eq!(field(&rows(file, &options)[0], 1), "Zoë");
}

#[test]
fn utf16_with_a_byte_order_mark() {
    let mut file = vec![0xFF, 0xFE];
    for unit in "email\tname\r\nzoe@example.com\tZoë\r\n".encode_utf16() {
        file.extend_from_slice(&unit.to_le_bytes());
    }
    let sniffed = sniff(&file, &Options::default()).unwrap();
    assert_eq!(
        (sniffed.encoding, sniffed.separator),
        (UTF_16LE.name(), '\t')
    );
    assert_eq!(field(&rows(&file, &Options::default())[0], 1), "Zoë");
}

#[test]
fn shift_jis_when_given() {
    // ポ is 0x83 0x7C and ソ is 0x83 0x5C in Shift_JIS: a '|' and a '\' byte inside
    // characters, which must not split fields.
    let text = "email|name\ntaro@example.jp|山田太郎\nhana@example.jp|ポソ花子\n";
    let (bytes, _, unmappable) = SHIFT_JIS.encode(text);
    assert!(!unmappable);
    assert!(bytes.windows(2).any(|w| w == [0x83, b'|']));
    let options = Options {
        encoding: Some("Shift_JIS".into()),
        separator: Some('|'),
        ..Options::default()
    };
    let sniffed = sniff(&bytes, &options).unwrap();
    assert_eq!(
        (sniffed.encoding, sniffed.encoding_source),
        ("Shift_JIS", EncodingSource::Given)
    );
    let got = rows(&bytes, &options);
    assert_eq!(field(&got[0], 1), "山田太郎");
    assert_eq!(field(&got[1], 1), "ポソ花子");
    assert_eq!(got[1].line(), 3);
}

#[test]
fn bytes_invalid_in_the_given_encoding_reject_their_row() {
    let (bytes, _, _) = SHIFT_JIS.encode("email,name\na@example.jp,山田\nb@example.jp,Z\n");
    let mut bytes = bytes.into_owned();
    // A lead byte followed by a byte that cannot trail it.
    let at = bytes.iter().position(|&b| b == b'Z').unwrap();
    bytes.splice(at..at, [0x81, b' ']);
    let options = Options {
        encoding: Some("Shift_JIS".into()),
        ..Options::default()
    };
    let got = rows(&bytes, &options);
    assert!(matches!(got[0], Record::Accepted { .. }));
    assert!(matches!(
        &got[1],
        Record::Rejected {
            line: 3,
            reason: Reason::Undecodable {
                encoding: "Shift_JIS"
            },
            ..
        }
    ));
}
