//! Transfer encodings (quoted-printable, base64), RFC 2047 encoded words for headers and
//! RFC 2231 parameters for file names. Everything is written with CRLF line ends.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::charset::Charset;

/// Longest encoded line (RFC 2045 allows 76 characters).
const LINE: usize = 76;

/// Appends `data` as base64 in lines of 76 characters, each ending in CRLF.
pub fn base64_lines(data: &[u8], out: &mut Vec<u8>) {
    // 57 bytes make one full line of 76 characters.
    for chunk in data.chunks(LINE / 4 * 3) {
        let start = out.len();
        out.resize(start + chunk.len().div_ceil(3) * 4, 0);
        let written = STANDARD
            .encode_slice(chunk, &mut out[start..])
            .unwrap_or_default();
        out.truncate(start + written);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `data` (lines ending in LF or CRLF) as quoted-printable with CRLF line ends.
pub fn quoted_printable(data: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut lines = data.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut width = 0;
        for (i, &b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let literal =
                matches!(b, b'!'..=b'<' | b'>'..=b'~') || (matches!(b, b' ' | b'\t') && !last);
            let needed = if literal { 1 } else { 3 };
            // Keep room for the soft break `=` unless this is the line's last character.
            if width + needed > LINE - 1 && !(last && width + needed <= LINE) {
                out.extend_from_slice(b"=\r\n");
                width = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            width += needed;
        }
        if lines.peek().is_some() {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Whether `text` can go into a header as it is: printable ASCII and spaces, and nothing
/// a decoder would take for an encoded word.
fn header_safe(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' '..=b'~')) && !text.contains("=?")
}

/// `text` for an unstructured header (Subject): as it is when plain ASCII, otherwise as
/// RFC 2047 encoded words in `charset` (base64), each at most 75 characters, folded.
/// A character the charset cannot hold sends the header in UTF-8.
pub fn header_text(text: &str, charset: Charset) -> String {
    if header_safe(text) {
        return text.to_string();
    }
    let charset = if charset.encode(text).is_ok() {
        charset
    } else {
        Charset::UTF_8
    };
    let name = charset.name();
    // "=?" name "?B?" … "?=": what is left of 75 for base64, in whole 4-character groups.
    let room = (75 - name.len() - 7) / 4 * 3;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        chunk.push(c);
        // Each word is encoded on its own, so ISO-2022-JP words end back in ASCII.
        let encoded_len = charset.encode(&chunk).map_or(usize::MAX, |b| b.len());
        if encoded_len > room && chunk.chars().count() > 1 {
            chunk.pop();
            words.push(encoded_word(&chunk, charset));
            chunk.clear();
            chunk.push(c);
        }
    }
    if !chunk.is_empty() {
        words.push(encoded_word(&chunk, charset));
    }
    words.join("\r\n ")
}

fn encoded_word(text: &str, charset: Charset) -> String {
    let bytes = charset
        .encode(text)
        .unwrap_or(std::borrow::Cow::Borrowed(text.as_bytes()));
    format!("=?{}?B?{}?=", charset.name(), STANDARD.encode(&bytes))
}

/// A mailbox: `address` alone, or `"Name" <address>` with the name quoted or encoded.
pub fn mailbox(name: &str, address: &str, charset: Charset) -> String {
    let name = name.trim();
    if name.is_empty() {
        return address.to_string();
    }
    if header_safe(name) {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{address}>")
    } else {
        format!("{} <{address}>", header_text(name, charset))
    }
}

/// A `filename` (or `name`) parameter: quoted when plain ASCII, else RFC 2231 in UTF-8.
pub fn file_parameter(param: &str, filename: &str) -> String {
    if header_safe(filename) && !filename.contains(['"', '\\']) {
        return format!("{param}=\"{filename}\"");
    }
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{param}*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_qp(encoded: &[u8]) -> Vec<u8> {
        let text = String::from_utf8(encoded.to_vec()).unwrap();
        let mut out = Vec::new();
        let joined = text.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                out.push(u8::from_str_radix(&joined[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else if bytes[i] == b'\r' {
                out.push(b'\n');
                i += 2;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn quoted_printable_keeps_lines_short_and_trailing_spaces_visible() {
        let mut out = Vec::new();
        quoted_printable(b"caf\xe9 = ok \nnext\t\n", &mut out);
        assert_eq!(out, b"caf=E9 =3D ok=20\r\nnext=09\r\n");
        let mut long = Vec::new();
        quoted_printable(&[b'x'; 200], &mut long);
        assert!(
            long.split(|b| *b == b'\n').all(|l| l.len() <= 77),
            "76 + CR"
        );
    }

    #[test]
    fn header_words_are_short_and_in_the_charset() {
        let latin1 = Charset::from_name("ISO-8859-1").unwrap();
        assert_eq!(header_text("Hello", latin1), "Hello");
        assert_eq!(header_text("Café", latin1), "=?ISO-8859-1?B?Q2Fm6Q==?=");
        let long = header_text(&"Grüße aus Köln ".repeat(10), latin1);
        assert!(
            long.split("\r\n ")
                .all(|w| w.len() <= 75 && w.starts_with("=?ISO-8859-1?B?"))
        );
        assert!(
            header_text("漢字", latin1).starts_with("=?UTF-8?B?"),
            "falls back to UTF-8"
        );
        assert_eq!(
            header_text("a =?x?= b", latin1)
                .chars()
                .take(2)
                .collect::<String>(),
            "=?"
        );
        assert_eq!(
            mailbox("Shop \"A\"", "a@x.example", latin1),
            "\"Shop \\\"A\\\"\" <a@x.example>"
        );
        assert_eq!(
            file_parameter("filename", "Prüfung.pdf"),
            "filename*=UTF-8''Pr%C3%BCfung.pdf"
        );
    }

    proptest! {
        #[test]
        fn quoted_printable_round_trips(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            // Bare CRs are not line ends in mail; leave them out of the comparison.
            let data: Vec<u8> = data.into_iter().filter(|b| *b != b'\r').collect();
            let mut out = Vec::new();
            quoted_printable(&data, &mut out);
            prop_assert!(out.split(|b| *b == b'\n').all(|l| l.len() <= 77));
            prop_assert!(out.iter().all(|b| b.is_ascii()));
            prop_assert_eq!(decode_qp(&out), data);
        }

        #[test]
        fn base64_lines_round_trip(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut out = Vec::new();
            base64_lines(&data, &mut out);
            let joined: Vec<u8> = out.iter().copied().filter(|b| *b != b'\r' && *b != b'\n').collect();
            prop_assert_eq!(STANDARD.decode(joined).unwrap(), data);
            prop_assert!(out.split(|b| *b == b'\n').all(|l| l.len() <= 77));
        }
    }
}
