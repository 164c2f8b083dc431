//! Checking one e-mail address and making the key recipients are de-duplicated on.

use email_address::{EmailAddress, Error as ParseError};
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use crate::error::AddressProblem;

/// The longest address accepted, in bytes (RFC 5321's path limit less the angle brackets).
pub const MAX_ADDRESS_BYTES: usize = 254;

/// Checks `address` (already trimmed) and returns its de-duplication key: the local part
/// with its ASCII letters lower-cased, `@`, and the domain lower-cased in its IDNA ASCII
/// form (`Ann@Bücher.Example` becomes `ann@xn--bcher-kva.example`).
///
/// RFC 5321 lets a server tell `Ann` from `ann`, but no mail service does, and people type
/// their address in any case: the same person in two spellings must get one message, and
/// an unsubscribe must hold whatever case the next upload writes. Only ASCII is folded, as
/// the databases' `lower()` does, so keys made here and by SQL agree.
///
/// The rules are strict: a dot in the domain, no display name (`Ann <a@b.example>`), no IP
/// address in brackets, host-name characters only in the domain.
pub fn address_key(address: &str) -> Result<String, AddressProblem> {
    if address.len() > MAX_ADDRESS_BYTES {
        return Err(AddressProblem::TooLong {
            length: address.len(),
        });
    }
    if address.ends_with('>') && address.contains('<') {
        return Err(AddressProblem::DisplayName);
    }
    let (local, domain) = split(address)?;
    let local_quoted = local.starts_with('"');
    if (!local_quoted && local.chars().any(char::is_whitespace))
        || domain.chars().any(char::is_whitespace)
    {
        return Err(AddressProblem::Spaces);
    }
    if local.is_empty() {
        return Err(AddressProblem::EmptyLocalPart);
    }
    if domain.is_empty() {
        return Err(AddressProblem::EmptyDomain);
    }
    if domain.starts_with('[') {
        return Err(AddressProblem::DomainLiteral);
    }
    if let Some(c) = domain
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(AddressProblem::BadDomain(format!(
            "the character {c:?} is not allowed"
        )));
    }
    let strict = email_address::Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    EmailAddress::parse_with_options(address, strict).map_err(|e| problem(e, local))?;
    let ascii = Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .map_err(|_| {
            AddressProblem::BadDomain("not a valid (international) domain name".to_string())
        })?;
    let tld = ascii.rsplit('.').next().unwrap_or_default();
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressProblem::BadDomain(
            "its last part is a number, not a top-level domain".to_string(),
        ));
    }
    Ok(format!("{}@{ascii}", local.to_ascii_lowercase()))
}

/// Splits at the `@` that ends the local part, which may be quoted and hold `@` itself.
fn split(address: &str) -> Result<(&str, &str), AddressProblem> {
    let local_end = if let Some(rest) = address.strip_prefix('"') {
        let mut escaped = false;
        let mut close = None;
        for (i, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    close = Some(i + 2);
                    break;
                }
                _ => {}
            }
        }
        match close {
            Some(end) if address[end..].starts_with('@') => end,
            _ if address.contains('@') => return Err(AddressProblem::BadLocalPart),
            _ => return Err(AddressProblem::NoAt),
        }
    } else {
        address.find('@').ok_or(AddressProblem::NoAt)?
    };
    let (local, domain) = (&address[..local_end], &address[local_end + 1..]);
    if domain.contains('@') {
        return Err(AddressProblem::SeveralAt);
    }
    Ok((local, domain))
}

/// Says which part of the address `email_address` found at fault.
fn problem(error: ParseError, local: &str) -> AddressProblem {
    match error {
        ParseError::LocalPartEmpty => AddressProblem::EmptyLocalPart,
        ParseError::LocalPartTooLong => AddressProblem::LocalPartTooLong,
        ParseError::DomainEmpty => AddressProblem::EmptyDomain,
        ParseError::DomainTooFew => AddressProblem::NoDotInDomain,
        ParseError::DomainTooLong => {
            AddressProblem::BadDomain("longer than 254 characters".to_string())
        }
        ParseError::SubDomainEmpty | ParseError::DomainInvalidSeparator => {
            AddressProblem::BadDomain(
                "an empty part: two dots in a row, or a dot at its start or end".to_string(),
            )
        }
        ParseError::SubDomainTooLong => AddressProblem::BadDomain(
            "a part between dots is longer than 63 characters".to_string(),
        ),
        ParseError::UnsupportedDomainLiteral | ParseError::InvalidIPAddress => {
            AddressProblem::DomainLiteral
        }
        ParseError::UnsupportedDisplayName
        | ParseError::MissingDisplayName
        | ParseError::MissingEndBracket => AddressProblem::DisplayName,
        ParseError::InvalidCharacter if EmailAddress::is_valid_local_part(local) => {
            AddressProblem::BadDomain(
                "a part between dots starts or ends with '-', or holds a character that is not \
                 allowed"
                    .to_string(),
            )
        }
        ParseError::InvalidCharacter
        | ParseError::UnbalancedQuotes
        | ParseError::InvalidComment
        | ParseError::MissingSeparator => match local.chars().find(|c| !is_local_char(*c)) {
            Some(c) if !local.starts_with('"') => AddressProblem::BadLocalCharacter(c),
            _ => AddressProblem::BadLocalPart,
        },
    }
}

/// RFC 5322 `atext` plus the dot, with RFC 6531's non-ASCII letters.
fn is_local_char(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn bad(address: &str) -> AddressProblem {
        address_key(address).unwrap_err()
    }

    #[test]
    fn keys_lower_case_ascii_letters_and_encode_idn() {
        assert_eq!(
            address_key("Ann.Lee@Example.COM").unwrap(),
            "ann.lee@example.com"
        );
        assert_eq!(
            address_key("JÜRGEN@Example.de").unwrap(),
            "jÜrgen@example.de",
            "as SQL's lower() folds it"
        );
        assert_eq!(
            address_key("jo@Bücher.example").unwrap(),
            "jo@xn--bcher-kva.example"
        );
        assert_eq!(
            address_key("jo@xn--bcher-kva.example").unwrap(),
            "jo@xn--bcher-kva.example"
        );
        assert_eq!(
            address_key("a+tag@sub.example.org").unwrap(),
            "a+tag@sub.example.org"
        );
        assert_eq!(
            address_key("\"a b@c\"@example.org").unwrap(),
            "\"a b@c\"@example.org"
        );
        assert_eq!(
            address_key("jürgen@example.de").unwrap(),
            "jürgen@example.de"
        );
    }

    #[test]
    fn each_problem_is_named() {
        assert_eq!(bad("ann.example.com"), AddressProblem::NoAt);
        assert_eq!(bad("a@b@example.com"), AddressProblem::SeveralAt);
        assert_eq!(bad("ann lee@example.com"), AddressProblem::Spaces);
        assert_eq!(bad("ann@exa mple.com"), AddressProblem::Spaces);
        assert_eq!(bad("Ann <ann@example.com>"), AddressProblem::DisplayName);
        assert_eq!(bad("@example.com"), AddressProblem::EmptyLocalPart);
        assert_eq!(bad("ann@"), AddressProblem::EmptyDomain);
        assert_eq!(
            bad(&format!("{}@example.com", "a".repeat(65))),
            AddressProblem::LocalPartTooLong
        );
        let long = format!("a@{}.com", "b".repeat(60).repeat(5));
        assert_eq!(bad(&long), AddressProblem::TooLong { length: long.len() });
        assert_eq!(bad("ann@localhost"), AddressProblem::NoDotInDomain);
        assert_eq!(bad("ann@[192.0.2.1]"), AddressProblem::DomainLiteral);
        assert_eq!(
            bad("ann(x)@example.com"),
            AddressProblem::BadLocalCharacter('(')
        );
        assert_eq!(bad("ann..lee@example.com"), AddressProblem::BadLocalPart);
        assert_eq!(bad(".ann@example.com"), AddressProblem::BadLocalPart);
        assert!(matches!(
            bad("ann@exa_mple.com"),
            AddressProblem::BadDomain(_)
        ));
        assert!(matches!(
            bad("ann@example..com"),
            AddressProblem::BadDomain(_)
        ));
        assert!(matches!(
            bad("ann@-example.com"),
            AddressProblem::BadDomain(_)
        ));
        assert!(matches!(
            bad("ann@example.com."),
            AddressProblem::BadDomain(_)
        ));
        assert!(matches!(bad("ann@192.0.2.1"), AddressProblem::BadDomain(_)));
        assert!(matches!(
            bad(&format!("a@{}.com", "b".repeat(64))),
            AddressProblem::BadDomain(_)
        ));
    }

    #[test]
    fn problems_read_well() {
        assert_eq!(bad("x").to_string(), "no '@'");
        assert_eq!(
            bad("ann@localhost").to_string(),
            "bad domain: it has no dot (like example.com)"
        );
    }
}
