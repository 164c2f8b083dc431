//! Any bytes must give a report or an error, never a panic, and the same one each time;
//! a report's values are single trimmed lines, its statuses codes like 5.1.1, its
//! severities in line with its actions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tutti_bounce::{Action, OriginalHeaders, ParseError, Report, Severity, parse};

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

fuzz_target!(|data: &[u8]| {
    let result = parse(data);
    match &result {
        Ok(Report::Delivery(d)) => {
            assert!(!d.recipients.is_empty());
            optional(&d.reporting_mta);
            optional(&d.original_envelope_id);
            original(&d.original);
            for r in &d.recipients {
                text(&r.final_recipient);
                for v in [&r.original_recipient, &r.diagnostic, &r.remote_mta, &r.last_attempt] {
                    optional(v);
                }
                let parts: Vec<&str> = r.status.split('.').collect();
                assert_eq!(parts.len(), 3, "{}", r.status);
                assert!(["2", "4", "5"].contains(&parts[0]), "{}", r.status);
                for p in &parts[1..] {
                    assert!((1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
                }
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
                assert!(*line >= 1 && *line <= data.len() + 1);
                assert!(message.chars().count() < 200, "{message}");
            }
        }
    }
    assert_eq!(result, parse(data), "not deterministic");
});
