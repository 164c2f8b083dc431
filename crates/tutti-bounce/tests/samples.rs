//! Reports in the styles of real MTAs and feedback loops (tests/samples/), read field by field.
#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use tutti_bounce::{
    Action, Complaint, DeliveryReport, MAX_SIZE, OriginalHeaders, ParseError, RecipientStatus,
    Report, Severity, parse,
};

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn delivery(name: &str) -> DeliveryReport {
    match parse(&sample(name)) {
        Ok(Report::Delivery(report)) => report,
        other => panic!("{name}: {other:?}"),
    }
}

fn complaint(name: &str) -> Complaint {
    match parse(&sample(name)) {
        Ok(Report::Complaint(complaint)) => complaint,
        other => panic!("{name}: {other:?}"),
    }
}

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn original(message_id: &str, job: &str, to: &str, return_path: Option<&str>) -> OriginalHeaders {
    OriginalHeaders {
        message_id: some(message_id),
        job: some(job),
        to: some(to),
        return_path: return_path.map(str::to_string),
    }
}

#[test]
fn postfix_hard_bounce_with_headers_part() {
    assert_eq!(
        delivery("postfix-hard-5.1.1.eml"),
        DeliveryReport {
            reporting_mta: some("mx1.tutti.example"),
            original_envelope_id: None,
            recipients: vec![RecipientStatus {
                final_recipient: "nosuchuser@example.org".into(),
                original_recipient: some("NoSuchUser@example.org"),
                action: Action::Failed,
                status: "5.1.1".into(),
                severity: Severity::Hard,
                diagnostic: some(
                    "550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: User \
                     unknown in virtual mailbox table"
                ),
                remote_mta: some("mx.example.org"),
                last_attempt: None,
            }],
            original: original(
                "261125A.42.k3j9@tutti.example",
                "261125A",
                "nosuchuser@example.org",
                Some("bounce+261125A.42@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn postfix_delayed_is_soft() {
    assert_eq!(
        delivery("postfix-delayed-4.4.1.eml"),
        DeliveryReport {
            reporting_mta: some("mx1.tutti.example"),
            original_envelope_id: None,
            recipients: vec![RecipientStatus {
                final_recipient: "slow@mail.example.net".into(),
                original_recipient: some("slow@mail.example.net"),
                action: Action::Delayed,
                status: "4.4.1".into(),
                severity: Severity::Soft,
                diagnostic: some(
                    "connect to mail.example.net[203.0.113.9]:25: Connection timed out"
                ),
                remote_mta: None,
                last_attempt: None,
            }],
            original: original(
                "261125A.77.p2x8@tutti.example",
                "261125A",
                "slow@mail.example.net",
                Some("bounce+261125A.77@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn exim_with_action_first_and_the_whole_original() {
    assert_eq!(
        delivery("exim-5.0.0.eml"),
        DeliveryReport {
            reporting_mta: some("mail.example.net"),
            original_envelope_id: None,
            recipients: vec![RecipientStatus {
                final_recipient: "Gone.Away@example.net".into(),
                original_recipient: None,
                action: Action::Failed,
                status: "5.0.0".into(),
                severity: Severity::Hard,
                diagnostic: some("550 No such user here"),
                remote_mta: some("mx.example.net"),
                last_attempt: None,
            }],
            original: original(
                "2603B.9.a1b2@tutti.example",
                "2603B",
                "Gone.Away@example.net",
                Some("bounce+2603B.9@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn office365_with_folded_diagnostic_and_crlf() {
    assert_eq!(
        delivery("office365-5.1.10.eml"),
        DeliveryReport {
            reporting_mta: some("AM0PR01MB1234.eurprd01.prod.exchangelabs.com"),
            original_envelope_id: None,
            recipients: vec![RecipientStatus {
                final_recipient: "Jane.Doe@contoso.example".into(),
                original_recipient: None,
                action: Action::Failed,
                status: "5.1.10".into(),
                severity: Severity::Hard,
                diagnostic: some(
                    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient \
                     Jane.Doe@contoso.example not found by SMTP address lookup"
                ),
                remote_mta: some("AM0PR01MB1234.eurprd01.prod.exchangelabs.com"),
                last_attempt: None,
            }],
            original: original(
                "2603C.5.q7w8@tutti.example",
                "2603C",
                "Jane.Doe@contoso.example",
                Some("bounce+2603C.5@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn gmail_mailbox_full_is_soft() {
    assert_eq!(
        delivery("gmail-5.2.2-mailbox-full.eml"),
        DeliveryReport {
            reporting_mta: some("googlemail.com"),
            original_envelope_id: None,
            recipients: vec![RecipientStatus {
                final_recipient: "full.inbox@gmail.com".into(),
                original_recipient: None,
                action: Action::Failed,
                status: "5.2.2".into(),
                severity: Severity::Soft,
                diagnostic: some(
                    "552-5.2.2 The email account that you tried to reach is over quota. Please \
                     direct 552-5.2.2 the recipient to 552 5.2.2  \
                     https://support.google.com/mail/?p=OverQuotaTemp a1si1234567wra.123 - gsmtp"
                ),
                remote_mta: some("gmail-smtp-in.l.google.com. 2a00:1450:400c:c0b::1b"),
                last_attempt: some("Thu, 05 Mar 2026 02:21:03 -0800 (PST)"),
            }],
            original: original(
                "2603C.11.zz9@tutti.example",
                "2603C",
                "full.inbox@gmail.com",
                Some("bounce+2603C.11@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn two_recipients_one_delivered_one_failed() {
    assert_eq!(
        delivery("sendmail-two-recipients.eml"),
        DeliveryReport {
            reporting_mta: some("mail.example.com"),
            original_envelope_id: some("2603D.1"),
            recipients: vec![
                RecipientStatus {
                    final_recipient: "alice@example.com".into(),
                    original_recipient: None,
                    action: Action::Delivered,
                    status: "2.0.0".into(),
                    severity: Severity::None,
                    diagnostic: None,
                    remote_mta: some("mx.example.com"),
                    last_attempt: some("Thu, 5 Mar 2026 11:30:20 +0100"),
                },
                RecipientStatus {
                    final_recipient: "carol@example.com".into(),
                    original_recipient: some("Carol@example.com"),
                    action: Action::Failed,
                    status: "5.1.1".into(),
                    severity: Severity::Hard,
                    diagnostic: some("550 5.1.1 <carol@example.com>... User unknown"),
                    remote_mta: some("mx.example.com"),
                    last_attempt: some("Thu, 5 Mar 2026 11:30:20 +0100"),
                },
            ],
            original: original(
                "2603D.1.t0@tutti.example",
                "2603D",
                "alice@example.com",
                Some("bounce+2603D.1@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn global_dsn_with_utf8_addresses() {
    assert_eq!(
        delivery("postfix-global-utf8.eml"),
        DeliveryReport {
            reporting_mta: some("mx1.tutti.example"),
            original_envelope_id: None,
            recipients: vec![RecipientStatus {
                final_recipient: "Jörg.Müller@bücher.example".into(),
                original_recipient: some("Jörg.Müller@bücher.example"),
                action: Action::Failed,
                status: "5.1.1".into(),
                severity: Severity::Hard,
                diagnostic: some("550 5.1.1 <Jörg.Müller@bücher.example>: Empfänger unbekannt"),
                remote_mta: some("mx.xn--bcher-kva.example"),
                last_attempt: None,
            }],
            original: original(
                "2603E.3.ü7@tutti.example",
                "2603E",
                "Jörg.Müller@bücher.example",
                Some("bounce+2603E.3@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn yahoo_abuse_report() {
    assert_eq!(
        complaint("arf-yahoo-abuse.eml"),
        Complaint {
            feedback_type: "abuse".into(),
            user_agent: some("Yahoo!-Mail-Feedback/2.0"),
            version: some("0.1"),
            original_rcpt_to: some("Reader@yahoo.com"),
            original_mail_from: some("bounce+2603B.17@bounces.tutti.example"),
            reporting_mta: some("mta1003.mail.bf1.yahoo.com"),
            arrival_date: some("Thu, 05 Mar 2026 11:58:42 +0000"),
            source_ip: some("198.51.100.7"),
            original: original(
                "2603B.17.c4d5@tutti.example",
                "2603B",
                "reader@yahoo.com",
                Some("bounce+2603B.17@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn aol_abuse_report_in_capitals_with_received_date() {
    assert_eq!(
        complaint("arf-aol-abuse.eml"),
        Complaint {
            feedback_type: "abuse".into(),
            user_agent: some("AOL SComp"),
            version: some("0.1"),
            original_rcpt_to: None,
            original_mail_from: None,
            reporting_mta: None,
            arrival_date: some("Thu, 05 Mar 2026 08:05:00 -0500"),
            source_ip: some("198.51.100.7"),
            original: original(
                "2603B.23.e6f7@tutti.example",
                "2603B",
                "redacted@aol.com",
                Some("bounce+2603B.23@bounces.tutti.example"),
            ),
        }
    );
}

#[test]
fn return_paths_are_read_from_the_complaint_and_the_returned_headers() {
    let paths = |name: &str| -> Vec<String> {
        parse(&sample(name))
            .unwrap()
            .return_paths()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        paths("arf-yahoo-abuse.eml"),
        [
            "bounce+2603B.17@bounces.tutti.example",
            "bounce+2603B.17@bounces.tutti.example"
        ]
    );
    // AOL leaves out Original-Mail-From; the returned headers still have the Return-Path.
    assert_eq!(
        paths("arf-aol-abuse.eml"),
        ["bounce+2603B.23@bounces.tutti.example"]
    );
    assert_eq!(
        paths("postfix-hard-5.1.1.eml"),
        ["bounce+261125A.42@bounces.tutti.example"]
    );
}

#[test]
fn an_auto_reply_is_not_a_report() {
    let err = parse(&sample("not-a-report-autoreply.eml")).unwrap_err();
    assert_eq!(
        err,
        ParseError::NotAReport {
            content_type: "text/plain".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "not a delivery report or complaint: the message is text/plain, not multipart/report \
         with report-type delivery-status or feedback-report"
    );
}

#[test]
fn a_recipient_without_status_names_its_line() {
    let err = parse(&sample("missing-status.eml")).unwrap_err();
    assert_eq!(
        err,
        ParseError::BadField {
            part: "delivery-status",
            line: 9,
            message: "the recipient group starting on this line has no Status field".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "the delivery-status part, line 9: the recipient group starting on this line has no \
         Status field"
    );
}

// Variations on the samples, and errors.

fn with(name: &str, from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(sample(name)).unwrap();
    assert!(text.contains(from), "{name} lacks {from:?}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn a_bad_status_names_its_line() {
    let raw = with("postfix-hard-5.1.1.eml", "Status: 5.1.1", "Status: 5.x");
    let err = parse(&raw).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the delivery-status part, line 9: Status \"5.x\" is not a status code like 5.1.1"
    );
}

#[test]
fn an_unknown_action_names_its_line() {
    let raw = with(
        "postfix-hard-5.1.1.eml",
        "Action: failed",
        "Action: bounced",
    );
    assert_eq!(
        parse(&raw).unwrap_err().to_string(),
        "the delivery-status part, line 8: Action \"bounced\" is not one of failed, delayed, \
         delivered, relayed, expanded"
    );
}

#[test]
fn an_empty_final_recipient_is_an_error() {
    let raw = with(
        "postfix-hard-5.1.1.eml",
        "Final-Recipient: rfc822; nosuchuser@Example.ORG",
        "Final-Recipient: rfc822; <>",
    );
    assert_eq!(
        parse(&raw).unwrap_err(),
        ParseError::BadField {
            part: "delivery-status",
            line: 6,
            message: "Final-Recipient \"rfc822; <>\" has no address".into(),
        }
    );
}

#[test]
fn lf_and_crlf_read_the_same() {
    for name in [
        "postfix-hard-5.1.1.eml",
        "exim-5.0.0.eml",
        "gmail-5.2.2-mailbox-full.eml",
        "sendmail-two-recipients.eml",
        "postfix-global-utf8.eml",
        "arf-yahoo-abuse.eml",
    ] {
        let lf = sample(name);
        let crlf = String::from_utf8(lf.clone())
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
        assert_eq!(parse(&lf), parse(&crlf), "{name}");
    }
    let crlf = sample("office365-5.1.10.eml");
    let lf = String::from_utf8(crlf.clone())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    assert_eq!(parse(&lf), parse(&crlf));
}

#[test]
fn a_report_without_report_type_is_read_by_its_part() {
    let raw = with(
        "postfix-hard-5.1.1.eml",
        "multipart/report; report-type=delivery-status;",
        "multipart/report;",
    );
    assert_eq!(parse(&raw), parse(&sample("postfix-hard-5.1.1.eml")));
    let raw = with("arf-yahoo-abuse.eml", "report-type=feedback-report;", "");
    assert_eq!(parse(&raw), parse(&sample("arf-yahoo-abuse.eml")));
}

#[test]
fn a_read_receipt_is_not_a_report() {
    let raw = with(
        "postfix-hard-5.1.1.eml",
        "report-type=delivery-status",
        "report-type=disposition-notification",
    );
    assert_eq!(
        parse(&raw).unwrap_err(),
        ParseError::NotAReport {
            content_type: "multipart/report; report-type=disposition-notification".into()
        }
    );
}

#[test]
fn a_report_type_without_its_part() {
    let raw = with(
        "postfix-hard-5.1.1.eml",
        "Content-Type: message/delivery-status",
        "Content-Type: text/plain",
    );
    assert_eq!(parse(&raw).unwrap_err(), ParseError::NoStatusPart);
    let raw = with(
        "arf-yahoo-abuse.eml",
        "report-type=feedback-report",
        "report-type=delivery-status",
    );
    assert_eq!(parse(&raw).unwrap_err(), ParseError::NoStatusPart);
}

#[test]
fn per_message_fields_only() {
    let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n\
                --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n--b--\n";
    assert_eq!(parse(raw).unwrap_err(), ParseError::NoRecipients);
    let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n\
                --b\nContent-Type: message/delivery-status\n\n\n--b--\n";
    assert_eq!(parse(raw).unwrap_err(), ParseError::NoRecipients);
}

#[test]
fn one_group_for_message_and_recipient() {
    let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n\
                --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x.example\n\
                Final-Recipient: a@B\nAction: Failed\nStatus: 4.2.2\n--b--\n";
    let Report::Delivery(report) = parse(raw).unwrap() else {
        panic!("not a DSN")
    };
    assert_eq!(report.reporting_mta.as_deref(), Some("x.example"));
    assert_eq!(report.recipients.len(), 1);
    assert_eq!(report.recipients[0].final_recipient, "a@b");
    assert_eq!(report.recipients[0].severity, Severity::Soft);
    assert_eq!(report.original, OriginalHeaders::default());
}

#[test]
fn a_base64_status_part_is_decoded() {
    let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
                --b\r\nContent-Type: message/global-delivery-status\r\n\
                Content-Transfer-Encoding: base64\r\n\r\n\
                UmVwb3J0aW5nLU1UQTogZG5zOyB4CgpGaW5hbC1SZWNpcGllbnQ6IHV0Zi04OyDDpEB4CkFjdGlv\r\n\
                bjogZmFpbGVkClN0YXR1czogNS4xLjEK\r\n--b--\r\n";
    let Report::Delivery(report) = parse(raw).unwrap() else {
        panic!("not a DSN")
    };
    assert_eq!(report.recipients[0].final_recipient, "ä@x");
    assert_eq!(report.recipients[0].severity, Severity::Hard);
}

#[test]
fn a_missing_feedback_type_is_an_error() {
    let raw = with("arf-yahoo-abuse.eml", "Feedback-Type: abuse\n", "");
    assert_eq!(
        parse(&raw).unwrap_err().to_string(),
        "the feedback-report part, line 1: the report has no Feedback-Type field"
    );
}

#[test]
fn not_mime_and_too_large() {
    assert_eq!(parse(b"").unwrap_err(), ParseError::NotMime);
    let qmail =
        b"From: MAILER-DAEMON@x\nSubject: failure notice\n\nHi. This is the qmail-send program.\n";
    assert_eq!(parse(qmail).unwrap_err(), ParseError::NotMime);
    let big = vec![b'a'; MAX_SIZE + 1];
    let err = parse(&big).unwrap_err();
    assert_eq!(err, ParseError::TooLarge { size: MAX_SIZE + 1 });
    assert_eq!(
        err.to_string(),
        "the message is 10485761 bytes, more than the 10485760 accepted (10 MiB)"
    );
}

#[test]
fn an_empty_returned_message_before_another() {
    // With debug assertions on, mail-parser's `MessageParser::parse` trips a `debug_assert!`
    // on this shape; the report is read without it.
    let raw = b"Content-Type: multipart/report; boundary=b\n\n--b\n\
                Content-Type: message/feedback-report\n\nFeedback-Type: fraud\n\n--b\n\
                Content-Type: message/rfc822\n\n--b\nContent-Type: message/rfc822\n\n\
                X-Tutti-Job: 2603F\n\nbody\n--b--\n";
    let Report::Complaint(complaint) = parse(raw).unwrap() else {
        panic!("not a complaint")
    };
    assert_eq!(complaint.feedback_type, "fraud");
    assert_eq!(complaint.original.job.as_deref(), Some("2603F"));
}
