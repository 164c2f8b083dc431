//! Property tests: any input gives a report or an error that holds together, never a panic;
//! a generated DSN reads back as it was generated.
#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use proptest::prelude::*;
use proptest::sample::{Index, select};
use tutti_bounce::{
    Action, DeliveryReport, OriginalHeaders, ParseError, RecipientStatus, Report, Severity, parse,
};

const SAMPLES: [&[u8]; 11] = [
    include_bytes!("samples/postfix-hard-5.1.1.eml"),
    include_bytes!("samples/postfix-delayed-4.4.1.eml"),
    include_bytes!("samples/exim-5.0.0.eml"),
    include_bytes!("samples/office365-5.1.10.eml"),
    include_bytes!("samples/gmail-5.2.2-mailbox-full.eml"),
    include_bytes!("samples/sendmail-two-recipients.eml"),
    include_bytes!("samples/postfix-global-utf8.eml"),
    include_bytes!("samples/arf-yahoo-abuse.eml"),
    include_bytes!("samples/arf-aol-abuse.eml"),
    include_bytes!("samples/not-a-report-autoreply.eml"),
    include_bytes!("samples/missing-status.eml"),
];

/// What any result must satisfy: values are single trimmed lines, statuses are codes,
/// severities agree with actions, errors say where.
fn check(result: &Result<Report, ParseError>) {
    fn text(value: &str) {
        assert!(!value.is_empty());
        assert_eq!(value.trim(), value);
        assert!(!value.contains(['\r', '\n']), "{value:?}");
    }
    fn optional(value: &Option<String>) {
        if let Some(v) = value {
            text(v);
        }
    }
    fn original(o: &OriginalHeaders) {
        for v in [&o.message_id, &o.job, &o.to, &o.return_path] {
            optional(v);
        }
    }
    match result {
        Ok(Report::Delivery(d)) => {
            assert!(!d.recipients.is_empty());
            optional(&d.reporting_mta);
            optional(&d.original_envelope_id);
            original(&d.original);
            for r in &d.recipients {
                text(&r.final_recipient);
                for v in [
                    &r.original_recipient,
                    &r.diagnostic,
                    &r.remote_mta,
                    &r.last_attempt,
                ] {
                    optional(v);
                }
                let parts: Vec<&str> = r.status.split('.').collect();
                assert_eq!(parts.len(), 3, "{}", r.status);
                assert!(["2", "4", "5"].contains(&parts[0]), "{}", r.status);
                assert!(
                    parts[1..].iter().all(
                        |p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
                    )
                );
                match r.action {
                    Action::Delivered | Action::Relayed | Action::Expanded => {
                        assert_eq!(r.severity, Severity::None)
                    }
                    Action::Delayed => assert_eq!(r.severity, Severity::Soft),
                    Action::Failed => assert_ne!(r.severity, Severity::None),
                }
            }
        }
        Ok(Report::Complaint(c)) => {
            text(&c.feedback_type);
            assert!(!c.feedback_type.contains(char::is_whitespace));
            assert!(!c.feedback_type.bytes().any(|b| b.is_ascii_uppercase()));
            for v in [
                &c.user_agent,
                &c.version,
                &c.original_rcpt_to,
                &c.original_mail_from,
                &c.reporting_mta,
                &c.arrival_date,
                &c.source_ip,
            ] {
                optional(v);
            }
            original(&c.original);
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            if let ParseError::BadField { line, message, .. } = e {
                assert!(*line >= 1);
                assert!(message.chars().count() < 200, "{message}");
            }
        }
    }
}

fn parse_and_check(raw: &[u8]) {
    let result = parse(raw);
    check(&result);
    assert_eq!(result, parse(raw), "not deterministic");
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let chunk = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..8),
        select(vec![
            b"\r\n".to_vec(),
            b"\n\n".to_vec(),
            b"\n ".to_vec(),
            b":".to_vec(),
            b";".to_vec(),
            b"<".to_vec(),
            b"\"".to_vec(),
            b"(".to_vec(),
            b"--".to_vec(),
            b"\nContent-Type: message/delivery-status\n\n".to_vec(),
            b"\nContent-Transfer-Encoding: base64\n".to_vec(),
            b"\nFinal-Recipient: rfc822; x@y\n".to_vec(),
            b"\xff\xfe".to_vec(),
            "ü".as_bytes().to_vec(),
        ]),
    ];
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), chunk).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<Index>(), 1usize..200).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1usize..400).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(raw: &mut Vec<u8>, m: &Mutation) {
    if raw.is_empty() {
        return;
    }
    match m {
        Mutation::Flip(i, b) => {
            let at = i.index(raw.len());
            raw[at] ^= b;
        }
        Mutation::Truncate(i) => raw.truncate(i.index(raw.len())),
        Mutation::Insert(i, chunk) => {
            let at = i.index(raw.len() + 1);
            raw.splice(at..at, chunk.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = i.index(raw.len());
            let end = (at + n).min(raw.len());
            raw.drain(at..end);
        }
        Mutation::Duplicate(i, n) => {
            let at = i.index(raw.len());
            let end = (at + n).min(raw.len());
            let copy = raw[at..end].to_vec();
            raw.splice(at..at, copy);
        }
    }
}

/// A delivery-status body from field names and the characters that matter to it.
fn status_body() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        select(vec![
            "Reporting-MTA: ",
            "Final-Recipient: ",
            "Original-Recipient: ",
            "Action: ",
            "Status: ",
            "Diagnostic-Code: ",
            "Remote-MTA: ",
            "Last-Attempt-Date: ",
            "Original-Envelope-Id: ",
            "Feedback-Type: ",
            "failed",
            "delayed",
            "delivered",
            "5.1.1",
            "4.2.2",
            "5.2.2",
            "rfc822; ",
            "utf-8; \\x{",
            "}",
            "smtp; ",
            "dns; ",
        ])
        .prop_map(str::to_string),
        "[ \t\r\n:;<>@.(\")\\\\a-zA-Z0-9ü]{1,6}",
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

fn report_around(kind: &str, body: &str, third: Option<&str>) -> Vec<u8> {
    let mut raw = format!(
        "Content-Type: multipart/report; report-type={kind}; boundary=\"b\"\n\n--b\n\
         Content-Type: text/plain\n\nhello\n--b\nContent-Type: message/{kind}\n\n{body}\n"
    );
    if let Some(third) = third {
        raw.push_str("--b\nContent-Type: text/rfc822-headers\n\n");
        raw.push_str(third);
        raw.push('\n');
    }
    raw.push_str("--b--\n");
    raw.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse_and_check(&raw);
    }

    #[test]
    fn mutated_samples(
        sample in 0..SAMPLES.len(),
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let mut raw = SAMPLES[sample].to_vec();
        for m in &mutations {
            apply(&mut raw, m);
        }
        parse_and_check(&raw);
    }

    #[test]
    fn any_fields_in_a_report(
        body in status_body(),
        third in proptest::option::of(status_body()),
        arf in any::<bool>(),
    ) {
        let kind = if arf { "feedback-report" } else { "delivery-status" };
        parse_and_check(&report_around(kind, &body, third.as_deref()));
    }
}

// Round trip: a DSN written from random recipients reads back as they were.

#[derive(Debug, Clone)]
struct Generated {
    /// The field lines of the group, one string per field (folds included), shuffled.
    lines: Vec<String>,
    want: RecipientStatus,
}

fn name_case(name: &'static str) -> impl Strategy<Value = String> {
    select(vec![
        name.to_string(),
        name.to_ascii_lowercase(),
        name.to_ascii_uppercase(),
    ])
}

fn address() -> impl Strategy<Value = (String, String)> {
    (
        "[a-zA-Z0-9._+-]{1,16}",
        "[a-zA-Z0-9-]{1,10}\\.[a-zA-Z]{2,6}",
    )
        .prop_map(|(local, domain)| {
            (
                format!("{local}@{domain}"),
                format!("{local}@{}", domain.to_lowercase()),
            )
        })
}

/// An address value as MTAs write it, and the address it stands for.
fn address_field() -> impl Strategy<Value = (String, String)> {
    (
        address(),
        select(vec!["rfc822; ", "RFC822;", "rfc822 ; ", "rfc822;<", ""]),
    )
        .prop_map(|((written, want), kind)| {
            let close = if kind.ends_with('<') { ">" } else { "" };
            (format!("{kind}{written}{close}"), want)
        })
}

/// Words joined by single spaces, written with random folds (LF plus a space or tab).
fn folded_text() -> impl Strategy<Value = (String, String)> {
    proptest::collection::vec(
        (
            "[A-Za-z0-9<>@.:;,()=/+-]{1,12}",
            select(vec![" ", "\n ", "\n\t", "\n    "]),
        ),
        1..12,
    )
    .prop_map(|words| {
        let mut written = String::new();
        let mut want = String::new();
        for (i, (word, gap)) in words.iter().enumerate() {
            if i > 0 {
                written.push_str(gap);
                want.push(' ');
            }
            written.push_str(word);
            want.push_str(word);
        }
        (written, want)
    })
}

fn severity(action: Action, class: u8, subject: u16, detail: u16) -> Severity {
    match action {
        Action::Delivered | Action::Relayed | Action::Expanded => Severity::None,
        Action::Delayed => Severity::Soft,
        Action::Failed => {
            let room_or_size = matches!((subject, detail), (2, 2) | (2, 3) | (3, 1) | (3, 4));
            if class == 5 && !room_or_size {
                Severity::Hard
            } else {
                Severity::Soft
            }
        }
    }
}

fn recipient() -> impl Strategy<Value = Generated> {
    let action = select(vec![
        ("failed", Action::Failed),
        ("Failed", Action::Failed),
        ("delayed", Action::Delayed),
        ("delivered (to mailbox)", Action::Delivered),
        ("RELAYED", Action::Relayed),
        ("expanded", Action::Expanded),
    ]);
    let status = (
        select(vec![2u8, 4, 5]),
        prop_oneof![4 => 0u16..8, 1 => 0u16..1000],
        prop_oneof![4 => 0u16..12, 1 => 0u16..1000],
    );
    let date = "[A-Za-z0-9,:+-]([A-Za-z0-9 ,:+-]{0,28}[A-Za-z0-9,:+-])?";
    (
        (
            address_field(),
            proptest::option::of(address_field()),
            action,
            status,
        ),
        (
            proptest::option::of(folded_text()),
            proptest::option::of("[a-z0-9][a-z0-9.-]{0,20}"),
            proptest::option::of(date),
            proptest::collection::vec("X-[A-Za-z]{1,8}: [a-z ]{0,10}", 0..3),
        ),
        (
            name_case("Final-Recipient"),
            name_case("Original-Recipient"),
            name_case("Action"),
            name_case("Status"),
            name_case("Diagnostic-Code"),
            name_case("Remote-MTA"),
            name_case("Last-Attempt-Date"),
        ),
    )
        .prop_flat_map(
            |(
                (fin, orig, (action_word, action), (class, subject, detail)),
                (diag, remote, last, extra),
                names,
            )| {
                let status = format!("{class}.{subject}.{detail}");
                let mut lines = vec![
                    format!("{}: {}", names.0, fin.0),
                    format!("{}: {action_word}", names.2),
                    format!("{}: {status}", names.3),
                ];
                if let Some((written, _)) = &orig {
                    lines.push(format!("{}: {written}", names.1));
                }
                if let Some((written, _)) = &diag {
                    lines.push(format!("{}: smtp; {written}", names.4));
                }
                if let Some(r) = &remote {
                    lines.push(format!("{}: dns; {r}", names.5));
                }
                if let Some(l) = &last {
                    lines.push(format!("{}: {l}", names.6));
                }
                lines.extend(extra);
                let want = RecipientStatus {
                    final_recipient: fin.1,
                    original_recipient: orig.map(|o| o.1),
                    action,
                    status,
                    severity: severity(action, class, subject, detail),
                    diagnostic: diag.map(|d| d.1),
                    remote_mta: remote,
                    last_attempt: last,
                };
                (Just(lines).prop_shuffle(), Just(want))
            },
        )
        .prop_map(|(lines, want)| Generated { lines, want })
}

#[derive(Debug, Clone)]
struct Original {
    message_id: String,
    job: String,
    to: (String, String),
    as_message: bool,
}

fn original() -> impl Strategy<Value = Original> {
    (
        "[a-zA-Z0-9.]{1,20}@[a-z.]{1,12}",
        "[0-9]{6}[A-Z]",
        address(),
        any::<bool>(),
    )
        .prop_map(|(message_id, job, to, as_message)| Original {
            message_id,
            job,
            to,
            as_message,
        })
}

proptest! {
    #[test]
    fn generated_dsn_round_trips(
        reporting in proptest::option::of("[a-z0-9][a-z0-9.-]{0,20}"),
        envid in proptest::option::of("[A-Za-z0-9.+-]{1,20}"),
        recipients in proptest::collection::vec(recipient(), 1..6),
        original in proptest::option::of(original()),
        global in any::<bool>(),
        crlf in any::<bool>(),
    ) {
        let mut status = String::new();
        if let Some(r) = &reporting {
            status.push_str(&format!("Reporting-MTA: dns; {r}\n"));
        }
        if let Some(e) = &envid {
            status.push_str(&format!("Original-Envelope-Id: {e}\n"));
        }
        status.push_str("Arrival-Date: Thu, 5 Mar 2026 10:00:00 +0000\n");
        for r in &recipients {
            status.push('\n');
            for line in &r.lines {
                status.push_str(line);
                status.push('\n');
            }
        }
        let kind = if global { "global-delivery-status" } else { "delivery-status" };
        let mut raw = format!(
            "From: MAILER-DAEMON@x.example\nContent-Type: multipart/report;\n \
             report-type=delivery-status; boundary=\"=_b\"\nMIME-Version: 1.0\n\n\
             --=_b\nContent-Type: text/plain\n\nNot delivered.\n\n\
             --=_b\nContent-Type: message/{kind}\n\n{status}\n"
        );
        if let Some(o) = &original {
            let (ctype, body) = if o.as_message {
                ("message/rfc822", "\nbody text\n")
            } else {
                ("text/rfc822-headers", "")
            };
            raw.push_str(&format!(
                "--=_b\nContent-Type: {ctype}\n\nReturn-Path: <bounce@tutti.example>\n\
                 Message-ID: <{}>\nX-Tutti-Job: {}\nTo: Someone <{}>\nSubject: Hi\n{body}\n",
                o.message_id, o.job, o.to.0
            ));
        }
        raw.push_str("--=_b--\n");
        if crlf {
            raw = raw.replace('\n', "\r\n");
        }

        let want = DeliveryReport {
            reporting_mta: reporting,
            original_envelope_id: envid,
            recipients: recipients.into_iter().map(|r| r.want).collect(),
            original: original
                .map(|o| OriginalHeaders {
                    message_id: Some(o.message_id),
                    job: Some(o.job),
                    to: Some(o.to.1),
                    return_path: Some("bounce@tutti.example".into()),
                })
                .unwrap_or_default(),
        };
        prop_assert_eq!(parse(raw.as_bytes()), Ok(Report::Delivery(want)), "{}", raw);
    }
}
