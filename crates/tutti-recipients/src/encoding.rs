//! Which encoding a file is in, and decoding it to UTF-8 as a stream while noting where
//! bytes could not be decoded.

use std::collections::VecDeque;
use std::io::{self, Read};

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{DecoderResult, Encoding, UTF_8};

use crate::error::ImportError;

/// How the encoding was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingSource {
    /// Given in the options.
    Given,
    /// Read from a byte order mark, which wins over a given encoding.
    ByteOrderMark,
    /// The sample is valid UTF-8.
    Utf8,
    /// Guessed from the sample's bytes (chardetng).
    Guessed,
}

/// Settles the encoding of a file from `label` or from its first bytes. `truncated` says the
/// sample is cut off, so a partial character at its end is no sign of a bad encoding.
pub(crate) fn resolve(
    label: Option<&str>,
    sample: &[u8],
    truncated: bool,
) -> Result<(&'static Encoding, EncodingSource), ImportError> {
    if let Some((encoding, _)) = Encoding::for_bom(sample) {
        return Ok((encoding, EncodingSource::ByteOrderMark));
    }
    if let Some(label) = label {
        return Encoding::for_label_no_replacement(label.trim().as_bytes())
            .map(|e| (e, EncodingSource::Given))
            .ok_or_else(|| ImportError::UnknownEncoding(label.to_string()));
    }
    let utf8 = match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(e) => truncated && e.error_len().is_none(),
    };
    if utf8 {
        return Ok((UTF_8, EncodingSource::Utf8));
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(sample, !truncated);
    Ok((
        detector.guess(None, Utf8Detection::Deny),
        EncodingSource::Guessed,
    ))
}

const RAW_CHUNK: usize = 16 * 1024;

/// Decodes a byte stream to UTF-8, writing U+FFFD for bytes that are not valid in the
/// encoding and remembering where in the output each such replacement stands.
pub(crate) struct Decoder<R> {
    input: R,
    decoder: encoding_rs::Decoder,
    raw: Vec<u8>,
    raw_start: usize,
    input_done: bool,
    finished: bool,
    produced: u64,
    malformed: VecDeque<u64>,
}

impl<R: Read> Decoder<R> {
    pub(crate) fn new(input: R, encoding: &'static Encoding) -> Self {
        Decoder {
            input,
            decoder: encoding.new_decoder_with_bom_removal(),
            raw: Vec::with_capacity(RAW_CHUNK),
            raw_start: 0,
            input_done: false,
            finished: false,
            produced: 0,
            malformed: VecDeque::new(),
        }
    }

    /// Appends decoded text to `out`; returns how many bytes, 0 only at the end of input.
    pub(crate) fn fill(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        let before = out.len();
        while out.len() == before && !self.finished {
            if self.raw_start == self.raw.len() && !self.input_done {
                self.raw.resize(RAW_CHUNK, 0);
                self.raw_start = 0;
                let n = loop {
                    match self.input.read(&mut self.raw) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other,
                    }
                };
                let n = n.inspect_err(|_| self.raw.clear())?;
                self.raw.truncate(n);
                self.input_done = n == 0;
            }
            let src = &self.raw[self.raw_start..];
            let len = out.len();
            out.resize(len + 4 * src.len() + 16, 0);
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                src,
                &mut out[len..],
                self.input_done,
            );
            out.truncate(len + written);
            self.raw_start += read;
            self.produced += written as u64;
            match result {
                DecoderResult::Malformed(_, _) => {
                    self.malformed.push_back(self.produced);
                    out.extend_from_slice("\u{FFFD}".as_bytes());
                    self.produced += 3;
                }
                DecoderResult::InputEmpty => self.finished = self.input_done,
                DecoderResult::OutputFull => {}
            }
        }
        Ok(out.len() - before)
    }

    /// Whether any byte could not be decoded before output offset `end`; forgets those.
    pub(crate) fn malformed_before(&mut self, end: u64) -> bool {
        let mut any = false;
        while self.malformed.front().is_some_and(|&at| at < end) {
            self.malformed.pop_front();
            any = true;
        }
        any
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use encoding_rs::{SHIFT_JIS, UTF_16LE, WINDOWS_1252};

    fn decode_all(bytes: &[u8], encoding: &'static Encoding) -> (String, Vec<u64>) {
        let mut d = Decoder::new(bytes, encoding);
        let mut out = Vec::new();
        while d.fill(&mut out).unwrap() > 0 {}
        let bad = d.malformed.iter().copied().collect();
        (String::from_utf8(out).unwrap(), bad)
    }

    #[test]
    fn resolves_bom_label_utf8_and_guess() {
        let r = |label, sample: &[u8]| resolve(label, sample, false).unwrap();
        assert_eq!(
            r(None, b"\xef\xbb\xbfa"),
            (UTF_8, EncodingSource::ByteOrderMark)
        );
        assert_eq!(
            r(Some("latin1"), b"\xff\xfea\0"),
            (UTF_16LE, EncodingSource::ByteOrderMark)
        );
        assert_eq!(
            r(Some("ISO-8859-1"), b"a"),
            (WINDOWS_1252, EncodingSource::Given)
        );
        assert_eq!(
            r(Some(" shift_jis "), b"a"),
            (SHIFT_JIS, EncodingSource::Given)
        );
        assert_eq!(r(None, "Jürgen".as_bytes()), (UTF_8, EncodingSource::Utf8));
        assert_eq!(
            r(None, b"email,name\nj@example.de,J\xfcrgen M\xfcller\n"),
            (WINDOWS_1252, EncodingSource::Guessed)
        );
        assert!(matches!(
            resolve(Some("klingon"), b"a", false),
            Err(ImportError::UnknownEncoding(l)) if l == "klingon"
        ));
        assert!(resolve(Some("replacement"), b"a", false).is_err());
    }

    #[test]
    fn a_cut_character_at_the_end_of_a_sample_is_still_utf8() {
        let sample = "aü".as_bytes();
        let cut = &sample[..sample.len() - 1];
        assert_eq!(resolve(None, cut, true).unwrap().1, EncodingSource::Utf8);
        assert_eq!(
            resolve(None, cut, false).unwrap().1,
            EncodingSource::Guessed
        );
    }

    #[test]
    fn decodes_and_marks_malformed_bytes() {
        assert_eq!(
            decode_all(b"\xef\xbb\xbfa\xc3\xbc", UTF_8),
            ("aü".to_string(), vec![])
        );
        assert_eq!(
            decode_all(b"a\xffb\xc3", UTF_8),
            ("a\u{FFFD}b\u{FFFD}".to_string(), vec![1, 5])
        );
        assert_eq!(decode_all(b"J\xfcrgen", WINDOWS_1252).0, "Jürgen");
        let long = vec![b'x'; 100_000];
        assert_eq!(decode_all(&long, UTF_8).0.len(), 100_000);
    }

    #[test]
    fn malformed_before_forgets_what_it_reports() {
        let mut d = Decoder::new(&b"\xffa\xffb"[..], UTF_8);
        let mut out = Vec::new();
        while d.fill(&mut out).unwrap() > 0 {}
        assert!(!d.malformed_before(0));
        assert!(d.malformed_before(1));
        assert!(!d.malformed_before(3));
        assert!(d.malformed_before(100));
    }
}
