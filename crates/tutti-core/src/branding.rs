//! Branding of the User Interface's and the Administration Hub's pages: company name,
//! header text, logo and colours, from `lui/branding/branding.ini` and
//! `hub/branding/branding.ini` of the installation root (Java properties, like the INI
//! files).
//!
//! The file is read once when the component starts; the logo is kept in memory. A wrong
//! value never stops the component: it is reported (file, line, key) and that one value
//! keeps its default. Without the file the pages look as they always did.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::component::Component;
use crate::properties;

/// The largest logo accepted, in bytes.
pub const MAX_LOGO_BYTES: u64 = 512 * 1024;

/// The longest company name or header text kept, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// The company name when none is set.
pub const DEFAULT_COMPANY_NAME: &str = "Tutti";

/// Every key of `branding.ini`.
pub const KEYS: [&str; 6] = [
    "CompanyName",
    "HeaderText",
    "PrimaryColor",
    "HeaderBackground",
    "HeaderForeground",
    "Logo",
];

/// The branding file of `component`, e.g. `ROOT/lui/branding/branding.ini`.
pub fn file(root: &Path, component: Component) -> PathBuf {
    root.join(component.dir())
        .join("branding")
        .join("branding.ini")
}

/// A CSS colour, written `#rrggbb` (or `#rgb`) in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color(pub [u8; 3]);

impl Color {
    /// Parses `#rrggbb` or `#rgb` (hex digits in either case); nothing else, so a value can
    /// never carry CSS or HTML of its own.
    pub fn parse(s: &str) -> Result<Color, String> {
        let bad = || format!("\"{s}\" is not a colour of the form #rrggbb (or #rgb)");
        let hex = s.strip_prefix('#').ok_or_else(bad)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).map_err(|_| bad());
        match hex.len() {
            6 => {
                let pair = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
                Ok(Color([pair(0)?, pair(2)?, pair(4)?]))
            }
            3 => Ok(Color([digit(0)? * 17, digit(1)? * 17, digit(2)? * 17])),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

/// The image types a logo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoType {
    Png,
    Svg,
    Jpeg,
}

impl LogoType {
    /// By the file name's extension.
    fn of_name(name: &str) -> Option<LogoType> {
        let ext = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(LogoType::Png),
            "svg" => Some(LogoType::Svg),
            "jpg" | "jpeg" => Some(LogoType::Jpeg),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            LogoType::Png => "image/png",
            LogoType::Svg => "image/svg+xml",
            LogoType::Jpeg => "image/jpeg",
        }
    }

    fn name(self) -> &'static str {
        match self {
            LogoType::Png => "PNG",
            LogoType::Svg => "SVG",
            LogoType::Jpeg => "JPEG",
        }
    }

    /// Whether the bytes look like an image of this type.
    fn matches(self, bytes: &[u8]) -> bool {
        match self {
            LogoType::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            LogoType::Jpeg => bytes.starts_with(&[0xff, 0xd8, 0xff]),
            LogoType::Svg => std::str::from_utf8(bytes).is_ok_and(|t| t.contains("<svg")),
        }
    }
}

/// A logo held in memory, served at `{prefix}/branding/logo`.
#[derive(Debug, Clone)]
pub struct Logo {
    bytes: Bytes,
    kind: LogoType,
    /// Hex SHA-256 of the bytes: the ETag and the URL's version.
    digest: String,
}

impl Logo {
    fn new(bytes: Vec<u8>, kind: LogoType) -> Logo {
        let digest = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Logo {
            bytes: Bytes::from(bytes),
            kind,
            digest,
        }
    }

    pub fn kind(&self) -> LogoType {
        self.kind
    }
}

/// What the pages of one component show.
#[derive(Debug, Clone)]
pub struct Branding {
    component: Component,
    /// In `<title>` and the header; never empty.
    pub company_name: String,
    /// Beside the company name in the header; may be empty.
    pub header_text: String,
    /// Buttons, links and, unless `header_background` is set, the header.
    pub primary_color: Option<Color>,
    pub header_background: Option<Color>,
    pub header_foreground: Option<Color>,
    pub logo: Option<Logo>,
}

impl Branding {
    /// Today's look: no file.
    pub fn default_for(component: Component) -> Branding {
        Branding {
            component,
            company_name: DEFAULT_COMPANY_NAME.into(),
            header_text: String::new(),
            primary_color: None,
            header_background: None,
            header_foreground: None,
            logo: None,
        }
    }

    /// The logo's URL, with its digest as version so a changed logo is fetched again.
    pub fn logo_url(&self) -> Option<String> {
        self.logo.as_ref().map(|l| {
            format!(
                "{}/branding/logo?v={}",
                self.component.prefix(),
                &l.digest[..16]
            )
        })
    }

    /// The CSS rule that sets the configured colours as custom properties (`--accent`,
    /// `--header-bg`, `--header-fg`), or "" when none is set. Made only of validated
    /// colours, so it is safe inside `<style>`.
    pub fn css(&self) -> String {
        let mut vars = String::new();
        for (name, color) in [
            ("--accent", self.primary_color),
            ("--header-bg", self.header_background),
            ("--header-fg", self.header_foreground),
        ] {
            if let Some(c) = color {
                vars.push_str(&format!("{name}:{c};"));
            }
        }
        if vars.is_empty() {
            vars
        } else {
            format!(":root{{{vars}}}")
        }
    }

    /// The answer to `GET {prefix}/branding/logo`: the image with its type and caching
    /// headers (304 when the browser has it), 404 without a logo.
    pub fn logo_response(&self, request: &HeaderMap) -> Response {
        let Some(logo) = &self.logo else {
            return (StatusCode::NOT_FOUND, "no logo is configured").into_response();
        };
        let etag = format!("\"{}\"", logo.digest);
        let fresh = crate::browser_headers::etag_matches(request, &etag);
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // An SVG opened on its own must not run scripts in the component's origin.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
        );
        if fresh {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(logo.kind.content_type()),
        );
        (StatusCode::OK, headers, logo.bytes.clone()).into_response()
    }
}

/// The branding read from the file, and what was wrong in it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub branding: Branding,
    /// One line each: file, line, key, what is wrong and what is used instead.
    pub warnings: Vec<String>,
}

/// Reads `component`'s branding file. Never fails: without the file the default look is
/// used; every wrong value is a warning and keeps its default.
pub fn load(root: &Path, component: Component) -> Loaded {
    let path = file(root, component);
    let mut branding = Branding::default_for(component);
    let mut warnings = Vec::new();
    let entries = match properties::read_file(&path) {
        Ok(Ok(entries)) => entries,
        Ok(Err(e)) => {
            warnings.push(format!(
                "{}, line {}: {}; the default look is used",
                path.display(),
                e.line,
                e.message
            ));
            return Loaded { branding, warnings };
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded { branding, warnings };
        }
        Err(e) => {
            warnings.push(format!(
                "{}: cannot be read ({e}); the default look is used",
                path.display()
            ));
            return Loaded { branding, warnings };
        }
    };
    let folder = path.parent().unwrap_or(root).to_path_buf();
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for entry in entries {
        let at = format!("{}, line {}", path.display(), entry.line);
        let Some(key) = KEYS
            .iter()
            .copied()
            .find(|k| k.eq_ignore_ascii_case(&entry.key))
        else {
            warnings.push(format!(
                "{at}: unknown key \"{}\" is ignored (the keys are {})",
                entry.key,
                KEYS.join(", ")
            ));
            continue;
        };
        if let Some((_, earlier)) = seen.iter().find(|(k, _)| *k == key) {
            warnings.push(format!(
                "{at}: {key} is set again; this value replaces the one on line {earlier}"
            ));
        }
        seen.push((key, entry.line));
        let value = entry.value.trim();
        let mut warn = |what: String| warnings.push(format!("{at}: {key}: {what}"));
        match key {
            "CompanyName" | "HeaderText" => {
                let text = clean_text(value, &mut warn);
                if key == "CompanyName" {
                    branding.company_name = if text.is_empty() {
                        DEFAULT_COMPANY_NAME.into()
                    } else {
                        text
                    };
                } else {
                    branding.header_text = text;
                }
            }
            "PrimaryColor" | "HeaderBackground" | "HeaderForeground" => {
                let color = if value.is_empty() {
                    None
                } else {
                    Color::parse(value)
                        .map_err(|e| warn(format!("{e}; the default colour is used")))
                        .ok()
                };
                match key {
                    "PrimaryColor" => branding.primary_color = color,
                    "HeaderBackground" => branding.header_background = color,
                    _ => branding.header_foreground = color,
                }
            }
            _ => {
                branding.logo = if value.is_empty() {
                    None
                } else {
                    read_logo(&folder, value)
                        .map_err(|e| warn(format!("{e}; no logo is shown")))
                        .ok()
                };
            }
        }
    }
    Loaded { branding, warnings }
}

/// A text as shown: control characters become spaces, at most [`MAX_TEXT_CHARS`].
fn clean_text(value: &str, warn: &mut impl FnMut(String)) -> String {
    let text: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > MAX_TEXT_CHARS {
        warn(format!(
            "longer than {MAX_TEXT_CHARS} characters; the rest is left out"
        ));
        return text.chars().take(MAX_TEXT_CHARS).collect();
    }
    text
}

/// Reads the logo `name` (a file name in `folder`, nothing more) and checks its type and
/// size.
fn read_logo(folder: &Path, name: &str) -> Result<Logo, String> {
    let plain = !name.contains(['/', '\\'])
        && Path::new(name).file_name().and_then(|n| n.to_str()) == Some(name);
    if !plain {
        return Err(format!(
            "\"{name}\" must be the name of a file in {}, without a folder",
            folder.display()
        ));
    }
    let Some(kind) = LogoType::of_name(name) else {
        return Err(format!(
            "\"{name}\" is not a PNG, SVG or JPEG file (.png, .svg, .jpg or .jpeg)"
        ));
    };
    let path = folder.join(name);
    let file = std::fs::File::open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("the file {} does not exist", path.display())
        } else {
            format!("the file {} cannot be read ({e})", path.display())
        }
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_LOGO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("the file {} cannot be read ({e})", path.display()))?;
    if bytes.len() as u64 > MAX_LOGO_BYTES {
        return Err(format!(
            "the file {} is larger than {} kB",
            path.display(),
            MAX_LOGO_BYTES / 1024
        ));
    }
    if !kind.matches(&bytes) {
        return Err(format!(
            "the file {} does not hold a valid {} image",
            path.display(),
            kind.name()
        ));
    }
    Ok(Logo::new(bytes, kind))
}

/// A commented example for `tutti init` and the documentation.
pub const EXAMPLE: &str = "\
# Branding of this component's pages and login screen. Remove the # of a line to use it;
# a key left out keeps the default look. Read when the component starts: restart after a
# change (tutti check reports wrong values).
#
# In the page title and the header.
#CompanyName=Acme Mail
# Beside the company name in the header.
#HeaderText=Newsletters and announcements
# Colours, as #rrggbb: buttons and links; the header's background (default: PrimaryColor)
# and text.
#PrimaryColor=#0b5394
#HeaderBackground=#073763
#HeaderForeground=#ffffff
# A PNG, SVG or JPEG file in this folder, at most 512 kB, shown in the header.
#Logo=logo.png
";

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\nrest-of-a-png";

    fn root_with(component: Component, ini: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let path = file(dir.path(), component);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, ini).unwrap();
        for (name, bytes) in files {
            std::fs::write(path.parent().unwrap().join(name), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn colours_parse_only_hex() {
        assert_eq!(Color::parse("#12aBcD"), Ok(Color([0x12, 0xab, 0xcd])));
        assert_eq!(Color::parse("#fa0"), Ok(Color([0xff, 0xaa, 0x00])));
        assert_eq!(Color::parse("#12aBcD").unwrap().to_string(), "#12abcd");
        for bad in [
            "",
            "#",
            "red",
            "12abcd",
            "#12abc",
            "#12abcdz",
            "#1234567",
            "#ééé",
            "#123;}</style>",
            "rgb(1,2,3)",
            "#+12345",
        ] {
            assert!(Color::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn without_a_file_the_default_look_and_no_warning() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(dir.path(), Component::Lui);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.branding.company_name, "Tutti");
        assert_eq!(loaded.branding.header_text, "");
        assert_eq!(loaded.branding.css(), "");
        assert_eq!(loaded.branding.logo_url(), None);
    }

    #[test]
    fn every_key_is_read() {
        let dir = root_with(
            Component::Hub,
            "# a comment\nCompanyName = Acme \\u00c9clair\nHeaderText=Mail <desk>\nPrimaryColor=#0B5394\nHeaderBackground=#073763\nheaderforeground=#fff\nLogo=logo.PNG\n",
            &[("logo.PNG", PNG)],
        );
        let loaded = load(dir.path(), Component::Hub);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let b = &loaded.branding;
        assert_eq!(b.company_name, "Acme Éclair");
        assert_eq!(b.header_text, "Mail <desk>");
        assert_eq!(
            b.css(),
            ":root{--accent:#0b5394;--header-bg:#073763;--header-fg:#ffffff;}"
        );
        let url = b.logo_url().unwrap();
        assert!(url.starts_with("/hub/branding/logo?v="), "{url}");
        assert_eq!(b.logo.as_ref().unwrap().kind(), LogoType::Png);
    }

    #[test]
    fn a_wrong_value_is_a_warning_with_file_line_and_key_and_keeps_its_default() {
        let dir = root_with(
            Component::Lui,
            "CompanyName=Acme\nPrimaryColor=red\nHeaderBackground=#123456\nLogo=missing.png\nColour=#fff\n",
            &[],
        );
        let loaded = load(dir.path(), Component::Lui);
        let b = &loaded.branding;
        assert_eq!(b.company_name, "Acme");
        assert_eq!(b.primary_color, None);
        assert_eq!(b.header_background, Some(Color([0x12, 0x34, 0x56])));
        assert!(b.logo.is_none());
        let w = &loaded.warnings;
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].contains("branding.ini, line 2: PrimaryColor: \"red\" is not a colour"),
            "{}",
            w[0]
        );
        assert!(
            w[1].contains("line 4: Logo: the file") && w[1].contains("does not exist"),
            "{}",
            w[1]
        );
        assert!(w[2].contains("line 5: unknown key \"Colour\""), "{}", w[2]);
    }

    #[test]
    fn logos_of_another_type_too_big_or_outside_the_folder_are_refused() {
        let big = [PNG, &vec![0u8; MAX_LOGO_BYTES as usize]].concat();
        type Files<'a> = &'a [(&'a str, &'a [u8])];
        let cases: [(&str, Files, &str); 5] = [
            (
                "logo.gif",
                &[("logo.gif", b"GIF89a")],
                "is not a PNG, SVG or JPEG",
            ),
            (
                "logo.png",
                &[("logo.png", b"GIF89a")],
                "does not hold a valid PNG image",
            ),
            ("big.png", &[("big.png", &big)], "is larger than 512 kB"),
            ("../lui.ini", &[], "without a folder"),
            (
                "logo.svg",
                &[("logo.svg", b"<html></html>")],
                "does not hold a valid SVG image",
            ),
        ];
        for (name, files, expected) in cases {
            let dir = root_with(Component::Lui, &format!("Logo={name}\n"), files);
            let loaded = load(dir.path(), Component::Lui);
            assert!(loaded.branding.logo.is_none(), "{name}");
            assert_eq!(loaded.warnings.len(), 1, "{name}: {:?}", loaded.warnings);
            assert!(
                loaded.warnings[0].contains("line 1: Logo: ")
                    && loaded.warnings[0].contains(expected)
                    && loaded.warnings[0].ends_with("no logo is shown"),
                "{name}: {}",
                loaded.warnings[0]
            );
        }
    }

    #[test]
    fn svg_and_jpeg_logos_are_accepted() {
        let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
        for (name, bytes, kind) in [
            ("l.svg", &svg[..], LogoType::Svg),
            ("l.jpg", &[0xff, 0xd8, 0xff, 0xe0][..], LogoType::Jpeg),
        ] {
            let dir = root_with(Component::Lui, &format!("Logo={name}\n"), &[(name, bytes)]);
            let loaded = load(dir.path(), Component::Lui);
            assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
            assert_eq!(loaded.branding.logo.unwrap().kind(), kind);
        }
    }

    #[test]
    fn a_syntax_error_keeps_the_default_look() {
        let dir = root_with(
            Component::Lui,
            "CompanyName=Acme\nHeaderText=\\u12G4\n",
            &[],
        );
        let loaded = load(dir.path(), Component::Lui);
        assert_eq!(loaded.branding.company_name, "Tutti");
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0].contains("line 2"),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn texts_lose_control_characters_and_are_cut_to_length() {
        let long = "x".repeat(MAX_TEXT_CHARS + 5);
        let dir = root_with(
            Component::Lui,
            &format!("CompanyName=A\\nB\nHeaderText={long}\n"),
            &[],
        );
        let loaded = load(dir.path(), Component::Lui);
        assert_eq!(loaded.branding.company_name, "A B");
        assert_eq!(loaded.branding.header_text.chars().count(), MAX_TEXT_CHARS);
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("line 2: HeaderText: longer than"));
    }

    #[test]
    fn the_example_is_all_comments() {
        let entries = properties::parse(EXAMPLE.as_bytes()).unwrap();
        assert!(entries.is_empty(), "{entries:?}");
        // and each commented key is one of the keys
        for line in EXAMPLE.lines().filter_map(|l| l.strip_prefix('#')) {
            if let Some((key, _)) = line.split_once('=') {
                assert!(KEYS.contains(&key), "{key}");
            }
        }
    }

    #[tokio::test]
    async fn the_logo_is_served_with_type_and_caching_headers() {
        let dir = root_with(Component::Lui, "Logo=logo.png\n", &[("logo.png", PNG)]);
        let b = load(dir.path(), Component::Lui).branding;
        let r = b.logo_response(&HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers().clone();
        assert_eq!(h[header::CONTENT_TYPE], "image/png");
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=86400");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&body[..], PNG);
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, h[header::ETAG].clone());
        assert_eq!(b.logo_response(&again).status(), StatusCode::NOT_MODIFIED);
        let none = Branding::default_for(Component::Lui);
        assert_eq!(
            none.logo_response(&HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }
}
