//! Messages written for recipients, parsed back with mail-parser and checked field by field.
#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use std::collections::HashMap;

use mail_parser::{MessageParser, MimeHeaders};
use tutti_merge::Fields;
use tutti_message::charset::Charset;
use tutti_message::{Attachment, Composer, Envelope, MessageSpec, TrackingUrls};

struct Urls(&'static str);

impl TrackingUrls for Urls {
    fn unsubscribe(&self, out: &mut String) {
        out.push_str(&format!(
            "https://t.example/trk/unsubscribe?ref=U{}",
            self.0
        ));
    }
    fn open(&self, out: &mut String) {
        out.push_str(&format!("https://t.example/trk/open?ref=O{}", self.0));
    }
    fn click(&self, link: usize, merged: Option<&str>, out: &mut String) {
        out.push_str(&format!(
            "https://t.example/trk/click?ref=C{}L{link}",
            self.0
        ));
        if let Some(m) = merged {
            out.push_str(&format!("T{}", m.len()));
        }
    }
}

fn fields() -> Fields {
    Fields::new(&["EMAIL", "NAME", "CITY", "ID"], Some(0))
}

fn spec(charset: &str) -> MessageSpec {
    MessageSpec {
        job: "261125A".into(),
        subject: "Hello &NAME;, news from {{city}}".into(),
        from_name: "Shop Ünïcode".into(),
        from_address: "news@shop.example".into(),
        reply_to: "help@shop.example".into(),
        html: Some("<html><body><p>Dear &NAME;</p>\n.BB &CITY = \"Köln\"\n<p>Grüße nach Köln!</p>\n.EB\n<a href=\"https://shop.example/?a=1&amp;id=&ID;\">Your page</a> <a href=\"https://shop.example/sale\">Sale</a> <a href=\"https://shop.example/plain\">Plain</a>\n<img src=\"cid:logo\">{{footer}}</body></html>".into()),
        text: Some("Dear &NAME;\nSale: \"https://shop.example/sale\"\nBye: {{*UnsubscribeURL}}\n".into()),
        charset: Charset::from_name(charset).unwrap(),
        attachments: vec![
            Attachment {
                filename: "Preisliste März.pdf".into(),
                content_type: "application/pdf".into(),
                data: (0..=255u8).cycle().take(3000).collect(),
                content_id: None,
            },
            Attachment {
                filename: "logo.png".into(),
                content_type: "image/png".into(),
                data: vec![0x89, b'P', b'N', b'G'],
                content_id: Some("logo".into()),
            },
        ],
        dropins: HashMap::from([
            ("city".to_string(), "&CITY;".to_string()),
            ("footer".to_string(), "<p><a href=\"https://shop.example/footer\">About</a></p>".to_string()),
            ("unused".to_string(), "漢字 cannot be Latin-1 but is never used".to_string()),
        ]),
        dropins_enabled: true,
        track_opens: true,
        track_clicks: true,
        untracked: vec!["https://shop.example/plain".into()],
    }
}

fn write(composer: &Composer, row: &[&str], urls: &Urls) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let written = composer
        .compose(
            &Envelope {
                fields: row,
                address: row[0],
                name: row[1],
                date: "Wed, 25 Nov 2026 10:00:00 +0000",
                message_id: "261125A.1.x@shop.example",
            },
            urls,
            &mut out,
        )
        .unwrap();
    (out, written.utf8_fallback)
}

#[test]
fn a_full_message_reads_back_field_by_field() {
    let composer = Composer::new(&spec("ISO-8859-1"), &fields()).unwrap();
    let links: Vec<(&str, Option<&str>, bool)> = composer
        .links()
        .iter()
        .map(|l| (l.written.as_str(), l.target.as_deref(), l.tracked))
        .collect();
    assert_eq!(
        links,
        vec![
            ("https://shop.example/?a=1&id=&ID;", None, true),
            (
                "https://shop.example/sale",
                Some("https://shop.example/sale"),
                true
            ),
            (
                "https://shop.example/plain",
                Some("https://shop.example/plain"),
                false
            ),
            (
                "https://shop.example/footer",
                Some("https://shop.example/footer"),
                true
            ),
        ]
    );
    let row = ["ann@example.org", "Änne", "Köln", "A&7"];
    let (raw, fallback) = write(&composer, &row, &Urls("1"));
    assert!(!fallback);
    assert!(
        raw.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'),
        "CRLF only"
    );
    assert!(raw.split(|b| *b == b'\n').all(|l| l.len() <= 998));
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("Hello Änne, news from Köln"));
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(
        (from.name(), from.address()),
        (Some("Shop Ünïcode"), Some("news@shop.example"))
    );
    let to = m.to().unwrap().first().unwrap();
    assert_eq!(
        (to.name(), to.address()),
        (Some("Änne"), Some("ann@example.org"))
    );
    assert_eq!(
        m.reply_to().unwrap().first().unwrap().address(),
        Some("help@shop.example")
    );
    assert_eq!(m.message_id(), Some("261125A.1.x@shop.example"));
    assert_eq!(
        m.header_raw("List-Unsubscribe").map(str::trim),
        Some("<https://t.example/trk/unsubscribe?ref=U1>")
    );
    assert_eq!(
        m.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(m.header_raw("X-Tutti-Job").map(str::trim), Some("261125A"));

    let html_part = m.html_bodies().next().unwrap();
    assert_eq!(
        html_part.content_type().unwrap().attribute("charset"),
        Some("ISO-8859-1")
    );
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("<p>Dear &#196;nne</p>") || html.contains("<p>Dear Änne</p>"),
        "{html}"
    );
    assert!(html.contains("Grüße nach Köln!"));
    // The merged link carries the recipient's own target (the test tracker writes its
    // length): `&amp;` as written is `&`, and field values go in as they are.
    let merged_target = "https://shop.example/?a=1&id=A&7";
    assert!(
        html.contains(&format!(
            "href=\"https://t.example/trk/click?ref=C1L0T{}\"",
            merged_target.len()
        )),
        "{html}"
    );
    assert!(html.contains("href=\"https://t.example/trk/click?ref=C1L1\""));
    assert!(
        html.contains("href=\"https://shop.example/plain\""),
        "untracked links stay"
    );
    assert!(
        html.contains("href=\"https://t.example/trk/click?ref=C1L3\""),
        "links in drop-ins are tracked"
    );
    assert!(html.contains("<img src=\"https://t.example/trk/open?ref=O1\""));
    assert!(html.trim_end().ends_with("</body></html>"));

    let text = m.body_text(0).unwrap();
    assert_eq!(
        text.replace("\r\n", "\n"),
        "Dear Änne\nSale: \"https://t.example/trk/click?ref=C1L1\"\nBye: https://t.example/trk/unsubscribe?ref=U1\n"
    );

    let attachments: Vec<_> = m.attachments().collect();
    let pdf = attachments
        .iter()
        .find(|a| a.attachment_name() == Some("Preisliste März.pdf"))
        .unwrap();
    assert_eq!(
        pdf.contents(),
        (0..=255u8)
            .cycle()
            .take(3000)
            .collect::<Vec<_>>()
            .as_slice()
    );
    let logo = attachments
        .iter()
        .find(|a| a.content_id() == Some("logo"))
        .unwrap();
    assert_eq!(logo.contents(), &[0x89, b'P', b'N', b'G']);
}

#[test]
fn data_the_charset_cannot_hold_sends_that_message_in_utf8() {
    let composer = Composer::new(&spec("ISO-8859-1"), &fields()).unwrap();
    let (raw, fallback) = write(
        &composer,
        &["li@example.org", "李", "Köln", "1"],
        &Urls("2"),
    );
    assert!(fallback);
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("Hello 李, news from Köln"));
    assert_eq!(
        m.html_bodies()
            .next()
            .unwrap()
            .content_type()
            .unwrap()
            .attribute("charset"),
        Some("UTF-8")
    );
    assert!(m.body_text(0).unwrap().starts_with("Dear 李"));
}

#[test]
fn japanese_in_iso_2022_jp_and_shift_jis() {
    for charset in ["ISO-2022-JP", "Shift_JIS", "EUC-JP"] {
        let mut s = spec(charset);
        s.subject = "&NAME;様、セールのお知らせ".into();
        s.from_name = "ショップ".into();
        s.html = None;
        s.text = Some("&NAME;様\nセールは明日までです。\n".into());
        s.attachments.clear();
        let composer = Composer::new(&s, &fields()).unwrap();
        let (raw, fallback) = write(
            &composer,
            &["k@example.jp", "山田", "東京", "1"],
            &Urls("3"),
        );
        assert!(!fallback, "{charset}");
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some("山田様、セールのお知らせ"), "{charset}");
        assert_eq!(m.from().unwrap().first().unwrap().name(), Some("ショップ"));
        assert_eq!(
            m.body_text(0).unwrap().replace("\r\n", "\n"),
            "山田様\nセールは明日までです。\n",
            "{charset}"
        );
        assert_eq!(
            m.text_bodies()
                .next()
                .unwrap()
                .content_type()
                .unwrap()
                .attribute("charset"),
            Some(charset)
        );
    }
}

#[test]
fn problems_are_all_reported_with_their_place_and_nothing_is_built() {
    let mut s = spec("ISO-8859-1");
    s.subject = "Sale € now, &NAM;".into();
    s.text = Some("ok\n.BB &CITY = \n.EB\n{{footer}} ✓\n".into());
    let problems = Composer::new(&s, &fields()).err().unwrap();
    let got: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(got.contains(&"subject, line 1, column 6: ISO-8859-1 cannot hold the character '€' (U+20AC); choose UTF-8 or change the text".to_string()), "{got:#?}");
    assert!(
        got.iter()
            .any(|p| p.starts_with("subject, line 1, column 13: unknown merge field &NAM;")),
        "{got:#?}"
    );
    assert!(
        got.iter().any(|p| p
            .starts_with("text body, line 4, column 12: ISO-8859-1 cannot hold the character '✓'")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|p| p.starts_with("text body, line 2, column 13:")),
        "{got:#?}"
    );
    assert!(
        !got.iter().any(|p| p.contains("unused")),
        "unused drop-ins are not checked: {got:#?}"
    );
}

#[test]
fn a_sender_address_merged_from_bad_data_fails_that_recipient_only() {
    let mut s = spec("UTF-8");
    s.from_address = "&CITY;@shop.example".into();
    let composer = Composer::new(&s, &fields()).unwrap();
    let mut out = Vec::new();
    let row = ["a@example.org", "A", "Bad City", "1"];
    let e = composer
        .compose(
            &Envelope {
                fields: &row[..],
                address: row[0],
                name: row[1],
                date: "x",
                message_id: "m@x",
            },
            &Urls("4"),
            &mut out,
        )
        .unwrap_err();
    assert!(e.contains("Bad City@shop.example"), "{e}");
}

#[test]
fn an_empty_subject_and_addresses_that_are_not_addresses_are_problems_before_any_recipient() {
    let problems = |subject: &str, from: &str, reply_to: &str| {
        let mut s = spec("UTF-8");
        s.subject = subject.into();
        s.from_address = from.into();
        s.reply_to = reply_to.into();
        match Composer::new(&s, &fields()) {
            Ok(_) => Vec::new(),
            Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }
    };
    assert_eq!(
        problems(" ", "not an address", "bad@"),
        [
            "subject, line 1, column 1: the subject is empty",
            "sender address, line 1, column 1: \"not an address\" is not an e-mail address (name@domain.example)",
            "reply-to, line 1, column 1: \"bad@\" is not an e-mail address (name@domain.example)",
        ]
    );
    assert_eq!(
        problems("Hi", "", ""),
        ["sender address, line 1, column 1: the sender address is missing"]
    );
    // Merged addresses are checked per recipient (above); an empty reply-to is none.
    assert!(problems("Hi", "&CITY;@shop.example", "").is_empty());
    assert!(problems("Hi", "news@shop.example", "{{*FromAddress}}").is_empty());
}

#[test]
fn a_content_type_with_parameters_or_stray_characters_is_refused() {
    for good in ["image/png", "application/vnd.ms-excel", "text/x-c++"] {
        assert!(tutti_message::check_content_type(good).is_ok(), "{good}");
    }
    for bad in [
        "image/png; name=\"evil.exe\"",
        "image/png;name=x",
        "text/html\r\nX-Evil: 1",
        "image",
        "image/",
        "/png",
        "image/png/x",
        "image /png",
        "imäge/png",
        "",
    ] {
        assert!(tutti_message::check_content_type(bad).is_err(), "{bad:?}");
    }
    let mut injected = spec("UTF-8");
    injected.attachments[0].content_type = "application/pdf; name=\"x.exe\"".into();
    let Err(problems) = Composer::new(&injected, &fields()) else {
        panic!("an injected Content-Type was accepted");
    };
    assert!(
        problems
            .iter()
            .any(|p| p.source == "file Preisliste März.pdf" && p.message.contains("type/subtype")),
        "{problems:?}"
    );
}
