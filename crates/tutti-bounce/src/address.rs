//! Addresses and typed values: `rfc822; <Bob@Example.COM>` → `Bob@example.com`,
//! `dns; mx.example.org` → `mx.example.org`, the first address of a `To:` header.

/// The value after a leading `type;` (`rfc822;`, `utf-8;`, `dns;`, `smtp;`, `X-Postfix;`),
/// trimmed. The part before the first `;` only counts as a type when it is one word of
/// letters, digits, `-`, `_` or `.`; otherwise the whole value is returned, trimmed.
pub(crate) fn strip_type(value: &str) -> (Option<&str>, &str) {
    if let Some((kind, rest)) = value.split_once(';') {
        let kind = kind.trim();
        let is_type = !kind.is_empty()
            && kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if is_type {
            return (Some(kind), rest.trim());
        }
    }
    (None, value.trim())
}

/// An address field value (`Final-Recipient`, `Original-Recipient`): the type dropped, the
/// address normalised as in [`normalize`]; `utf-8` addresses have their `\x{HEX}` escapes
/// (RFC 6533) decoded.
pub(crate) fn typed_address(value: &str) -> Option<String> {
    match strip_type(value) {
        (Some(kind), address) if kind.eq_ignore_ascii_case("utf-8") => {
            normalize(&decode_unicode_escapes(address))
        }
        (_, address) => normalize(address),
    }
}

/// A bare address: trimmed, one pair of surrounding `<>` removed, the domain (after the last
/// `@`) lowercased, the local part kept as it is. `None` when nothing is left (`<>`).
pub(crate) fn normalize(address: &str) -> Option<String> {
    let mut address = address.trim();
    if let Some(inner) = address.strip_prefix('<') {
        address = inner.strip_suffix('>').unwrap_or(inner).trim();
    }
    if address.is_empty() {
        return None;
    }
    Some(match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => address.to_string(),
    })
}

/// The first address of an address-list header (`To`, `Return-Path`): display names,
/// quoted strings, comments and group names skipped, normalised as in [`normalize`].
pub(crate) fn first_address(value: &str) -> Option<String> {
    let mut bare = String::new();
    let mut angle: Option<String> = None;
    let mut in_angle = false;
    let mut in_quote = false;
    let mut escaped = false;
    let mut comment = 0usize;
    for c in value.chars() {
        if escaped {
            escaped = false;
            push(&mut bare, &mut angle, in_angle, comment, c);
            continue;
        }
        match c {
            '\\' if in_quote || comment > 0 => {
                escaped = true;
                push(&mut bare, &mut angle, in_angle, comment, c);
            }
            '"' if comment == 0 => {
                in_quote = !in_quote;
                push(&mut bare, &mut angle, in_angle, comment, c);
            }
            _ if in_quote => push(&mut bare, &mut angle, in_angle, comment, c),
            '(' => comment += 1,
            ')' if comment > 0 => comment -= 1,
            _ if comment > 0 => {}
            '<' if !in_angle => {
                in_angle = true;
                angle = Some(String::new());
            }
            '>' if in_angle => in_angle = false,
            ',' | ';' if !in_angle => {
                if let Some(found) = candidate(&bare, angle.as_deref()) {
                    return Some(found);
                }
                bare.clear();
                angle = None;
            }
            // A group's name ("undisclosed-recipients:") is not an address.
            ':' if !in_angle => {
                bare.clear();
                angle = None;
            }
            _ => push(&mut bare, &mut angle, in_angle, comment, c),
        }
    }
    candidate(&bare, angle.as_deref())
}

fn push(bare: &mut String, angle: &mut Option<String>, in_angle: bool, comment: usize, c: char) {
    if comment > 0 {
        return;
    }
    match angle {
        Some(a) if in_angle => a.push(c),
        _ => bare.push(c),
    }
}

/// The address of one list item: what was in `<>`, or else the item without its comments.
fn candidate(bare: &str, angle: Option<&str>) -> Option<String> {
    match angle {
        Some(a) => normalize(a),
        None => normalize(bare),
    }
}

/// `\x{F6}` → `ö` (RFC 6533 embedded-unicode-char); an escape that does not name a
/// character is kept as it is.
fn decode_unicode_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\x{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let decoded = after.find('}').and_then(|end| {
            let hex = &after[..end];
            let ok = (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
            let c = u32::from_str_radix(hex, 16).ok().filter(|_| ok)?;
            Some((char::from_u32(c)?, end + 1))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push_str("\\x{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_addresses() {
        assert_eq!(
            typed_address("rfc822; <Bob@Example.COM>").as_deref(),
            Some("Bob@example.com")
        );
        assert_eq!(typed_address("RFC822;x@Y.org").as_deref(), Some("x@y.org"));
        assert_eq!(typed_address("x@Y.org").as_deref(), Some("x@y.org"));
        assert_eq!(typed_address("rfc822;").as_deref(), None);
        assert_eq!(typed_address("rfc822; <>").as_deref(), None);
        assert_eq!(
            typed_address("utf-8; J\\x{F6}rg@B\\x{FC}cher.EXAMPLE").as_deref(),
            Some("Jörg@bücher.example")
        );
        assert_eq!(
            typed_address("utf-8; a\\x{110000}\\x{zz}b@x").as_deref(),
            Some("a\\x{110000}\\x{zz}b@x")
        );
        assert_eq!(
            typed_address("utf-8; 用户@例子.广告").as_deref(),
            Some("用户@例子.广告")
        );
    }

    #[test]
    fn types_are_single_words() {
        assert_eq!(strip_type("smtp; 550 a; b"), (Some("smtp"), "550 a; b"));
        assert_eq!(
            strip_type("X-Postfix; connect to x"),
            (Some("X-Postfix"), "connect to x")
        );
        assert_eq!(
            strip_type("550 user unknown; try later"),
            (None, "550 user unknown; try later")
        );
        assert_eq!(strip_type(" dns;mx.example "), (Some("dns"), "mx.example"));
    }

    #[test]
    fn first_addresses() {
        let cases = [
            (
                "\"Doe, John\" <John@Example.COM>, b@c",
                Some("John@example.com"),
            ),
            (
                "plain@Example.com (Plain, Person)",
                Some("plain@example.com"),
            ),
            ("undisclosed-recipients:;", None),
            ("friends: a@B.example, c@d;, e@f", Some("a@b.example")),
            ("<>", None),
            (
                "  <bounce+x@Tutti.Example>  ",
                Some("bounce+x@tutti.example"),
            ),
            ("=?utf-8?q?J=C3=B6rg?= <j@X>", Some("j@x")),
            ("\"a\\\"<b>\" <c@d>", Some("c@d")),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(first_address(value).as_deref(), want, "{value}");
        }
    }
}
