//! Header-style fields (`Name: value`) as found in delivery-status and feedback-report parts
//! and in header blocks: lines split on LF (a CR before it dropped), folded lines joined,
//! blank lines separating groups, each field remembering the line it starts on.

/// One field, unfolded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The name as written (compare with [`Group::get`], which ignores case).
    pub name: String,
    /// The value, trimmed, each fold (line break and the indentation after it) made one space.
    pub value: String,
    /// The line (from 1) the field starts on.
    pub line: usize,
}

/// Fields up to a blank line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Group {
    /// The line (from 1) of the group's first line.
    pub line: usize,
    pub fields: Vec<Field>,
}

impl Group {
    /// The first field called `name`, in any case.
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The value of the first field called `name`, if it is not empty.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name)
            .map(|f| f.value.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Groups of fields separated by blank (or white) lines; empty groups are not returned.
///
/// A line that is neither a field nor a continuation is skipped, and so are the continuation
/// lines that follow it: real reports carry the odd stray line, and nothing useful is lost.
pub(crate) fn groups(text: &str) -> Vec<Group> {
    let mut out = Vec::new();
    let mut group = Group::default();
    // Whether continuation lines belong to the group's last field.
    let mut continuing = false;
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !group.fields.is_empty() {
                out.push(std::mem::take(&mut group));
            }
            group.line = 0;
            continuing = false;
            continue;
        }
        if group.line == 0 {
            group.line = number;
        }
        if line.starts_with([' ', '\t']) {
            if continuing && let Some(field) = group.fields.last_mut() {
                append(&mut field.value, line);
            }
            continue;
        }
        continuing = match field_start(line) {
            Some((name, value)) => {
                let mut field = Field {
                    name: name.to_string(),
                    value: String::new(),
                    line: number,
                };
                append(&mut field.value, value);
                group.fields.push(field);
                true
            }
            None => false,
        };
    }
    if !group.fields.is_empty() {
        out.push(group);
    }
    out
}

/// The header block at the start of `text`: the fields up to the first blank line, after
/// skipping blank lines and an mbox `From ` line before it.
pub(crate) fn header_block(text: &str) -> Group {
    let start = text
        .char_indices()
        .find(|&(_, c)| !c.is_whitespace())
        .map_or(text.len(), |(i, _)| i);
    // Back to the start of that line, so that a first header folded oddly stays whole.
    let start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut rest = &text[start..];
    if rest.starts_with("From ") {
        rest = rest.split_once('\n').map_or("", |(_, after)| after);
    }
    let end = blank_line(rest).unwrap_or(rest.len());
    groups(&rest[..end]).into_iter().next().unwrap_or_default()
}

/// Where the first blank line (empty or white) of `text` starts.
fn blank_line(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// `Name: value` split at the colon; `None` when the line is not a field (no colon, or a
/// name that is empty or holds white space or control characters).
fn field_start(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim_end();
    let is_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic());
    is_name.then_some((name, value))
}

/// Appends a (continuation) line to a value: one space between the parts, the ends trimmed,
/// a CR left inside a line made a space so that no value holds a line break.
fn append(value: &mut String, line: &str) {
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    if !value.is_empty() {
        value.push(' ');
    }
    value.extend(line.chars().map(|c| if c == '\r' { ' ' } else { c }));
}

/// `text` in quotes, shortened to `max` characters (with "…"), for an error message.
pub(crate) fn quote(text: &str, max: usize) -> String {
    format!("\"{}\"", shorten(text, max))
}

/// `text` shortened to `max` characters (with "…").
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_with_lines_folds_and_crlf() {
        let text = "\r\nReporting-MTA: dns; a.example\r\n\r\n\r\nFinal-Recipient: rfc822; x@y\r\n\
                    Diagnostic-Code: smtp; 550 one\r\n    two\r\n\tthree  \r\nStatus : 5.1.1\r\n";
        let g = groups(text);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].line, 2);
        assert_eq!(g[0].value("reporting-mta"), Some("dns; a.example"));
        assert_eq!(g[1].line, 5);
        let d = g[1].get("DIAGNOSTIC-CODE").unwrap();
        assert_eq!(d.value, "smtp; 550 one two three");
        assert_eq!(d.line, 6);
        assert_eq!(g[1].get("status").unwrap().line, 9);
        assert_eq!(g[1].value("Status"), Some("5.1.1"));
    }

    #[test]
    fn first_occurrence_wins_and_stray_lines_are_skipped() {
        let g = groups("A: 1\nnot a field\n  lost continuation\nA: 2\nB C: 3\n");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].value("a"), Some("1"));
        assert_eq!(g[0].fields.len(), 2);
        assert_eq!(g[0].fields[1].value, "2");
    }

    #[test]
    fn white_lines_separate_groups_and_empty_values_are_none() {
        let g = groups("A:\n \t \nB: 1\n");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].value("a"), None);
        assert!(g[0].get("a").is_some());
    }

    #[test]
    fn header_block_stops_at_the_body() {
        let h = header_block("\n\nFrom someone Thu Mar  5 10:00:00 2026\nTo: a@b\n c\n\nX: body\n");
        assert_eq!(h.value("to"), Some("a@b c"));
        assert!(h.get("x").is_none());
        assert_eq!(header_block("").fields.len(), 0);
    }

    #[test]
    fn quote_cuts_on_characters() {
        assert_eq!(quote("äöü", 2), "\"äö…\"");
        assert_eq!(quote("ab", 2), "\"ab\"");
    }
}
