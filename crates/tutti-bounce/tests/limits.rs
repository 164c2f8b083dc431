//! Inputs near the size limit shaped to find quadratic behaviour: each must be read (or
//! refused) in time linear in its length. The bound is generous (an unoptimised build on a
//! slow machine); a quadratic path takes hours on these sizes.
#![allow(clippy::unwrap_used)] // a test helper that fails is a failed test

use std::time::{Duration, Instant};

use tutti_bounce::{MAX_SIZE, Report, parse};

const HEAD: &str =
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n";

/// A byte count that, with the frame around it, stays under the limit.
const FILL: usize = MAX_SIZE - 4096;

fn repeat(unit: &str) -> String {
    unit.repeat(FILL / unit.len())
}

fn dsn(status: &str, third: &str) -> String {
    format!(
        "{HEAD}--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n{status}\n\
         --b\nContent-Type: text/rfc822-headers\n\n{third}\n--b--\n"
    )
}

const RECIPIENT: &str = "Final-Recipient: rfc822; a@b\nAction: failed\nStatus: 5.1.1\n";

fn timed(name: &str, raw: &str) -> Result<Report, tutti_bounce::ParseError> {
    assert!(raw.len() <= MAX_SIZE, "{name}: {} bytes", raw.len());
    let start = Instant::now();
    let result = parse(raw.as_bytes());
    let took = start.elapsed();
    assert!(took < Duration::from_secs(30), "{name} took {took:?}");
    result
}

#[test]
fn huge_folded_top_header() {
    let raw = format!("X-Long: a{}\n{HEAD}", repeat("\n b"));
    assert!(timed("folded top header", &raw).is_err());
}

#[test]
fn many_top_headers() {
    let raw = format!("{}{HEAD}", repeat("X-A: b\n"));
    assert!(timed("many top headers", &raw).is_err());
}

#[test]
fn huge_folded_diagnostic() {
    let status = format!("{RECIPIENT}Diagnostic-Code: smtp; 550{}", repeat("\n x"));
    let Report::Delivery(d) = timed("folded diagnostic", &dsn(&status, "")).unwrap() else {
        panic!()
    };
    assert!(d.recipients[0].diagnostic.as_ref().unwrap().len() > MAX_SIZE / 2);
}

#[test]
fn many_recipients() {
    let status = repeat(&format!("{RECIPIENT}\n"));
    let Report::Delivery(d) = timed("many recipients", &dsn(&status, "")).unwrap() else {
        panic!()
    };
    assert!(d.recipients.len() > 100_000);
}

#[test]
fn many_fields_in_one_recipient() {
    let status = format!("{RECIPIENT}{}", repeat("X-Field: value\n"));
    assert!(timed("many fields", &dsn(&status, "")).is_ok());
}

#[test]
fn huge_address_headers_in_the_original() {
    for unit in ["(", "\"", "<", "a,", ":", "\\"] {
        let third = format!(
            "To: {}\nMessage-ID: <{}",
            repeat(unit).get(..FILL / 2).unwrap(),
            "<".repeat(1000)
        );
        assert!(timed(unit, &dsn(RECIPIENT, &third)).is_ok());
    }
}

#[test]
fn many_parts() {
    let parts = repeat("--b\n\n\n");
    let raw =
        format!("{HEAD}{parts}--b\nContent-Type: message/delivery-status\n\n\n{RECIPIENT}--b--\n");
    assert!(timed("many parts", &raw).is_ok());
}

#[test]
fn long_boundary_over_dashes() {
    let boundary = format!("{}x", "-".repeat(199));
    let raw = format!(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\n\n{}",
        repeat("-")
    );
    assert!(timed("dashes", &raw).is_err());
    let raw = format!(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"{}\"\n\n{}",
        "-".repeat(FILL / 2),
        "-".repeat(FILL / 2)
    );
    assert!(timed("huge boundary", &raw).is_err());
}

#[test]
fn content_type_with_many_parameters() {
    let continuations: String = (0..FILL / 40)
        .map(|i| format!(";\n boundary*{i}=\"b{i}\""))
        .collect();
    let raw = format!(
        "Content-Type: multipart/report; report-type=delivery-status{continuations}\n\n--b--\n"
    );
    assert!(timed("boundary continuations", &raw).is_err());
    let raw = format!(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b {}\n\n--b--\n",
        repeat("(")
    );
    assert!(timed("comments", &raw).is_err());
}

#[test]
fn one_long_line() {
    let raw = format!("{HEAD}{}", repeat("a"));
    assert!(timed("long line", &raw).is_err());
    let raw = repeat("a");
    assert!(timed("no header", &raw).is_err());
}

#[test]
fn many_parts_with_long_content_types() {
    for unit in [";\n boundary*{i}=a", ";\n p{i}*1=a", ";\n p{i}*=utf-8''%41"] {
        let mut content_type = String::from("text/plain");
        for i in 0.. {
            let more = unit.replace("{i}", &i.to_string());
            if content_type.len() + more.len() > 1000 {
                break;
            }
            content_type.push_str(&more);
        }
        let part = format!("--b\nContent-Type: {content_type}\n\n\n");
        let parts = part.repeat(FILL / part.len());
        let raw = format!("{HEAD}{parts}--b--\n");
        assert!(timed(unit, &raw).is_err());
    }
}
