//! The charsets a message can be written in, and text in them.
//!
//! Encoding is done with `encoding_rs`, which follows the WHATWG Encoding Standard: there
//! `iso-8859-1` *is* windows-1252, `iso-8859-9` windows-1254 and `iso-8859-11` windows-874.
//! Mail must be true to the MIME name it declares, so ISO-8859-1 is written byte = code
//! point, and for -9 and -11 the Windows encoder's bytes 0x80–0x9F (not in the ISO sets)
//! count as unencodable.

use std::borrow::Cow;

use encoding_rs::{EncoderResult, Encoding};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ascii,
    Utf8,
    Latin1,
    Whatwg {
        encoding: &'static Encoding,
        /// The ISO sets lack the Windows sets' 0x80–0x9F characters.
        no_c1: bool,
    },
}

/// A charset a message is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charset {
    name: &'static str,
    kind: Kind,
}

/// The charsets users can pick, by their MIME names.
pub const NAMES: &[&str] = &[
    "UTF-8",
    "US-ASCII",
    "ISO-8859-1",
    "ISO-8859-2",
    "ISO-8859-3",
    "ISO-8859-4",
    "ISO-8859-5",
    "ISO-8859-6",
    "ISO-8859-7",
    "ISO-8859-8",
    "ISO-8859-9",
    "ISO-8859-10",
    "ISO-8859-11",
    "ISO-8859-13",
    "ISO-8859-14",
    "ISO-8859-15",
    "ISO-8859-16",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "windows-1253",
    "windows-1254",
    "windows-1255",
    "windows-1256",
    "windows-1257",
    "windows-1258",
    "KOI8-R",
    "KOI8-U",
    "Shift_JIS",
    "EUC-JP",
    "ISO-2022-JP",
    "GB2312",
    "GBK",
    "GB18030",
    "Big5",
    "EUC-KR",
];

/// A character a charset cannot hold, and where it is (byte offset in the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unencodable {
    pub character: char,
    pub offset: usize,
}

impl Charset {
    pub const UTF_8: Charset = Charset {
        name: "UTF-8",
        kind: Kind::Utf8,
    };

    /// The charset with this MIME name (any case; `utf8`, `latin1`, `ascii` and
    /// `windows-125x`'s `cp125x` are understood too).
    pub fn from_name(name: &str) -> Option<Charset> {
        let lower = name.trim().to_ascii_lowercase();
        let canonical = match lower.as_str() {
            "utf8" => "UTF-8",
            "ascii" | "us-ascii" => "US-ASCII",
            "latin1" | "iso8859-1" => "ISO-8859-1",
            "sjis" | "shift-jis" => "Shift_JIS",
            _ if lower.starts_with("cp125") => {
                return Charset::from_name(&format!("windows-{}", &lower[2..]));
            }
            _ => NAMES
                .iter()
                .find(|n| n.eq_ignore_ascii_case(&lower))
                .copied()?,
        };
        let kind = match canonical {
            "UTF-8" => Kind::Utf8,
            "US-ASCII" => Kind::Ascii,
            "ISO-8859-1" => Kind::Latin1,
            "ISO-8859-9" => Kind::Whatwg {
                encoding: encoding_rs::WINDOWS_1254,
                no_c1: true,
            },
            "ISO-8859-11" => Kind::Whatwg {
                encoding: encoding_rs::WINDOWS_874,
                no_c1: true,
            },
            "GB2312" => Kind::Whatwg {
                encoding: encoding_rs::GBK,
                no_c1: false,
            },
            other => Kind::Whatwg {
                encoding: Encoding::for_label(other.as_bytes())?,
                no_c1: false,
            },
        };
        Some(Charset {
            name: canonical,
            kind,
        })
    }

    /// The name to declare in `Content-Type` and encoded words.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether a character takes more than one byte in this charset, for the choice of
    /// transfer encoding (base64 suits those better than quoted-printable).
    pub fn is_multibyte(&self) -> bool {
        match self.kind {
            Kind::Ascii | Kind::Latin1 => false,
            Kind::Utf8 => true,
            Kind::Whatwg { encoding, .. } => !encoding.is_single_byte(),
        }
    }

    /// The characters of `text` this charset cannot hold, at most `limit` of them.
    pub fn unencodable(&self, text: &str, limit: usize) -> Vec<Unencodable> {
        let mut found = Vec::new();
        for (offset, character) in text.char_indices() {
            if found.len() >= limit {
                break;
            }
            if !self.holds(character) {
                found.push(Unencodable { character, offset });
            }
        }
        found
    }

    fn holds(&self, c: char) -> bool {
        match self.kind {
            Kind::Utf8 => true,
            Kind::Ascii => c.is_ascii(),
            Kind::Latin1 => u32::from(c) <= 0xFF,
            Kind::Whatwg { .. } if c.is_ascii() => true,
            Kind::Whatwg { .. } => {
                let mut buf = [0u8; 4];
                self.encode(c.encode_utf8(&mut buf)).is_ok()
            }
        }
    }

    /// `text` in this charset, or the first character it cannot hold.
    pub fn encode<'a>(&self, text: &'a str) -> Result<Cow<'a, [u8]>, char> {
        match self.kind {
            Kind::Utf8 => Ok(Cow::Borrowed(text.as_bytes())),
            Kind::Ascii => match text.chars().find(|c| !c.is_ascii()) {
                Some(c) => Err(c),
                None => Ok(Cow::Borrowed(text.as_bytes())),
            },
            Kind::Latin1 => {
                if text.is_ascii() {
                    return Ok(Cow::Borrowed(text.as_bytes()));
                }
                text.chars()
                    .map(|c| u8::try_from(u32::from(c)).map_err(|_| c))
                    .collect::<Result<Vec<u8>, char>>()
                    .map(Cow::Owned)
            }
            Kind::Whatwg { encoding, no_c1 } => {
                if text.is_ascii() && encoding != encoding_rs::ISO_2022_JP {
                    return Ok(Cow::Borrowed(text.as_bytes()));
                }
                let bytes = encode_whatwg(encoding, text)?;
                if no_c1 && bytes.iter().any(|b| (0x80..=0x9F).contains(b)) {
                    // Find which character it was.
                    for c in text.chars().filter(|c| !c.is_ascii()) {
                        let mut buf = [0u8; 4];
                        let one = encode_whatwg(encoding, c.encode_utf8(&mut buf))?;
                        if one.iter().any(|b| (0x80..=0x9F).contains(b)) {
                            return Err(c);
                        }
                    }
                }
                Ok(Cow::Owned(bytes))
            }
        }
    }
}

fn encode_whatwg(encoding: &'static Encoding, text: &str) -> Result<Vec<u8>, char> {
    let mut encoder = encoding.new_encoder();
    let capacity = encoder
        .max_buffer_length_from_utf8_without_replacement(text.len())
        .unwrap_or(text.len() * 8);
    let mut out = vec![0u8; capacity];
    let (result, _read, written) =
        encoder.encode_from_utf8_without_replacement(text, &mut out, true);
    match result {
        EncoderResult::InputEmpty => {
            out.truncate(written);
            Ok(out)
        }
        EncoderResult::Unmappable(c) => Err(c),
        // Cannot happen with the buffer sized by the encoder itself; say which text it was.
        EncoderResult::OutputFull => text.chars().next().map_or(Ok(Vec::new()), Err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_charset_is_known() {
        for name in NAMES {
            let c = Charset::from_name(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(c.name(), *name);
            assert_eq!(
                c.encode("plain ASCII").as_deref(),
                Ok(&b"plain ASCII"[..]),
                "{name}"
            );
        }
        assert_eq!(
            Charset::from_name("latin1").map(|c| c.name()),
            Some("ISO-8859-1")
        );
        assert_eq!(
            Charset::from_name("cp1251").map(|c| c.name()),
            Some("windows-1251")
        );
        assert_eq!(Charset::from_name("x-unknown"), None);
    }

    #[test]
    fn iso_8859_1_is_not_windows_1252() {
        let latin1 = Charset::from_name("ISO-8859-1").unwrap();
        assert_eq!(latin1.encode("café").as_deref(), Ok(&b"caf\xe9"[..]));
        assert_eq!(latin1.encode("5 €"), Err('€'), "€ is in windows-1252 only");
        let w1252 = Charset::from_name("windows-1252").unwrap();
        assert_eq!(w1252.encode("5 €").as_deref(), Ok(&b"5 \x80"[..]));
        let iso9 = Charset::from_name("ISO-8859-9").unwrap();
        assert_eq!(iso9.encode("ğ").as_deref(), Ok(&b"\xf0"[..]));
        assert_eq!(
            iso9.encode("a…"),
            Err('…'),
            "windows-1254 has it at 0x85, ISO-8859-9 not"
        );
    }

    #[test]
    fn unencodable_characters_are_named_with_their_place() {
        let koi8 = Charset::from_name("KOI8-R").unwrap();
        let found = koi8.unencodable("Привет, 世界 ✓", 10);
        let chars: Vec<char> = found.iter().map(|u| u.character).collect();
        assert_eq!(chars, vec!['世', '界', '✓']);
        assert_eq!(found[0].offset, "Привет, ".len());
        let sjis = Charset::from_name("Shift_JIS").unwrap();
        assert!(sjis.unencodable("こんにちは世界", 10).is_empty());
        assert_eq!(sjis.encode("日本").as_deref(), Ok(&b"\x93\xfa\x96\x7b"[..]));
        let jis = Charset::from_name("ISO-2022-JP").unwrap();
        assert_eq!(
            jis.encode("日本").as_deref(),
            Ok(&b"\x1b$BF|K\\\x1b(B"[..]),
            "ends back in ASCII"
        );
    }
}
