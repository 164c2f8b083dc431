//! The recipient fields a job's templates may name.

use std::collections::HashMap;

/// The special field that is the recipient's address, written `&*TO;`.
pub const ADDRESS: &str = "*TO";

/// The recipient fields of a job, in column order: `&NAME;` names a field by its column
/// header, case-insensitively. Headers that are not merge names (letters, digits and `_`,
/// starting with a letter) stay in the data but cannot be named.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

/// Whether `name` can be written as a merge field: a letter, then letters, digits or `_`.
pub fn is_merge_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Fields {
    /// Fields named by `headers`, in column order; `address` is the column of the
    /// recipient's address (`&*TO;`).
    pub fn new<S: AsRef<str>>(headers: &[S], address: Option<usize>) -> Fields {
        let mut index = HashMap::new();
        let mut names = Vec::with_capacity(headers.len());
        for (i, header) in headers.iter().enumerate() {
            let header = header.as_ref().trim();
            if is_merge_name(header) {
                // The first of two equal headers wins, as a reader of the file would expect.
                index.entry(header.to_ascii_uppercase()).or_insert(i);
            }
            names.push(header.to_string());
        }
        if let Some(a) = address.filter(|a| *a < headers.len()) {
            index.insert(ADDRESS.to_string(), a);
        }
        Fields { names, index }
    }

    /// The column of `name` (without `&` and `;`; `*TO` for the address).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.index.get(&name.to_ascii_uppercase()).copied()
    }

    /// How many columns a recipient has.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names a template can use, for messages.
    pub fn usable(&self) -> Vec<String> {
        let mut usable: Vec<String> = self
            .names
            .iter()
            .enumerate()
            .filter(|(i, n)| is_merge_name(n) && self.column(n) == Some(*i))
            .map(|(_, n)| n.clone())
            .collect();
        if self.index.contains_key(ADDRESS) {
            usable.push(ADDRESS.to_string());
        }
        usable
    }

    /// The usable name nearest to a misspelt one, if any is near.
    pub fn nearest(&self, name: &str) -> Option<String> {
        let upper = name.to_ascii_uppercase();
        self.usable()
            .into_iter()
            .map(|n| (strsim::jaro_winkler(&upper, &n.to_ascii_uppercase()), n))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_the_address_is_star_to() {
        let f = Fields::new(&["Email", "First_Name", "2nd", "First_name"], Some(0));
        assert_eq!(f.column("FIRST_NAME"), Some(1));
        assert_eq!(f.column("first_name"), Some(1));
        assert_eq!(f.column("2nd"), None, "not a merge name");
        assert_eq!(f.column("*to"), Some(0));
        assert_eq!(f.nearest("FRIST_NAME").as_deref(), Some("First_Name"));
        assert_eq!(f.len(), 4);
    }
}
