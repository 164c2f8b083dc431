//! The header row: its names become merge field names, and they say which column holds the
//! address and which the name.

use std::collections::HashMap;

use crate::error::ImportError;

/// Whether `name` can be a merge field name; if not, what is wrong.
///
/// A merge field name (the merge language's rule, DESIGN.md §3) has letters (ASCII),
/// digits and `_`, and starts with a letter.
pub fn check_field_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("it is empty".to_string());
    };
    if !first.is_ascii_alphabetic() {
        return Err(format!("it starts with {first:?}, not a letter"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        Some(' ') => Err("it holds a space".to_string()),
        Some(c) => Err(format!("it holds the character {c:?}")),
        None => Ok(()),
    }
}

/// Checks the header row's names (already trimmed): each non-empty, without control
/// characters, and unique ignoring case. A name that is not a merge field name
/// ([`check_field_name`]) is kept: its column is imported and shown, but cannot be merged
/// as `&NAME;` (common headers like `E-Mail` or `First Name` must not refuse a file).
pub(crate) fn check_names(line: u64, names: &[String]) -> Result<(), ImportError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let column = i + 1;
        if name.is_empty() {
            return Err(ImportError::EmptyHeaderName { line, column });
        }
        if name.chars().any(char::is_control) {
            return Err(ImportError::InvalidHeaderName {
                line,
                column,
                name: name.clone(),
                problem: "it holds a control character".into(),
            });
        }
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), column) {
            return Err(ImportError::DuplicateHeaderName {
                line,
                name: name.clone(),
                first,
                second: column,
            });
        }
    }
    Ok(())
}

/// A header name reduced for matching: lower case, letters and digits only.
fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

const EMAIL_NAMES: [&str; 7] = [
    "email",
    "mail",
    "address",
    "emailaddress",
    "mailaddress",
    "emailadresse",
    "emailadress",
];
const NAME_NAMES: [&str; 4] = ["name", "fullname", "displayname", "recipientname"];

/// The first column whose header is named like an e-mail column (`E-Mail`, `email_address`).
pub(crate) fn email_by_name(names: &[String]) -> Option<usize> {
    names
        .iter()
        .position(|n| EMAIL_NAMES.contains(&folded(n).as_str()))
}

/// The first column, other than `email`, whose header is named like a name column.
pub(crate) fn name_by_name(names: &[String], email: usize) -> Option<usize> {
    names
        .iter()
        .enumerate()
        .position(|(i, n)| i != email && NAME_NAMES.contains(&folded(n).as_str()))
}

/// The column named `wanted` (ignoring case and surrounding spaces).
pub(crate) fn find(names: &[String], wanted: &str) -> Result<usize, ImportError> {
    let wanted_trimmed = wanted.trim();
    names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(wanted_trimmed))
        .ok_or_else(|| ImportError::UnknownColumn {
            name: wanted.to_string(),
            available: names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn field_names_follow_the_merge_rules() {
        assert!(check_field_name("first_name").is_ok());
        assert!(check_field_name("Zip_Code2").is_ok());
        assert_eq!(
            check_field_name("Zip-Code").unwrap_err(),
            "it holds the character '-'"
        );
        assert_eq!(
            check_field_name("_x").unwrap_err(),
            "it starts with '_', not a letter"
        );
        assert_eq!(
            check_field_name("2nd").unwrap_err(),
            "it starts with '2', not a letter"
        );
        assert_eq!(
            check_field_name("first name").unwrap_err(),
            "it holds a space"
        );
        assert_eq!(
            check_field_name("Straße").unwrap_err(),
            "it holds the character 'ß'"
        );
    }

    #[test]
    fn header_errors_name_the_column() {
        let err = check_names(1, &names(&["email", "", "x"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: column 2 has no name in the header row"
        );
        let err = check_names(3, &names(&["email", "Name", "NAME"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: columns 2 and 3 are both named \"NAME\" (names are compared ignoring case)"
        );
        let err = check_names(1, &names(&["email", "first\u{7}name"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: column 2 is named \"first\\u{7}name\", which cannot be a column name: it \
             holds a control character"
        );
        // Names that cannot be merge fields are still columns.
        assert!(check_names(1, &names(&["E-Mail", "First Name", "1st"])).is_ok());
        assert!(check_names(1, &names(&["email", "name", "zip"])).is_ok());
    }

    #[test]
    fn finds_the_email_and_name_columns_by_name() {
        assert_eq!(email_by_name(&names(&["Name", "E-Mail"])), Some(1));
        assert_eq!(email_by_name(&names(&["id", "Email_Address"])), Some(1));
        assert_eq!(email_by_name(&names(&["MAIL"])), Some(0));
        assert_eq!(email_by_name(&names(&["id", "phone"])), None);
        assert_eq!(name_by_name(&names(&["email", "Full-Name"]), 0), Some(1));
        assert_eq!(name_by_name(&names(&["name"]), 0), None);
        assert_eq!(find(&names(&["email", "Name"]), " NAME ").unwrap(), 1);
        assert_eq!(
            find(&names(&["email", "Name"]), "zip")
                .unwrap_err()
                .to_string(),
            "there is no column named \"zip\"; the columns are \"email\", \"Name\""
        );
    }
}
