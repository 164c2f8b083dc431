//! Compiling a text into a [`Template`] and filling it in per recipient.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::condition::{self, Condition};
use crate::error::{MergeError, MergeErrors};
use crate::{Env, Escape, Options, Recipient, SystemDropIn};

/// A program (not a person) marks slot N in a text as `SLOT_OPEN N SLOT_CLOSE`: the
/// Mailer does so for the links it tracks. Both are Unicode noncharacters.
pub const SLOT_OPEN: char = '\u{FDD0}';
pub const SLOT_CLOSE: char = '\u{FDD1}';

/// The marker for slot `n`.
pub fn slot_marker(n: usize) -> String {
    format!("{SLOT_OPEN}{n}{SLOT_CLOSE}")
}

/// How deep blocks may nest, and drop-ins include drop-ins.
const MAX_DEPTH: usize = 32;

/// How large one text may grow with its drop-ins filled in (in bytes of text read, the
/// text itself included), and how many drop-ins it may fill in: drop-ins that include
/// drop-ins multiply, and a few small ones would otherwise expand to gigabytes.
pub const MAX_EXPANDED_BYTES: usize = 4 << 20;
pub const MAX_DROPIN_EXPANSIONS: usize = 10_000;

/// How large one text may come out for one recipient: each field may hold up to a whole
/// recipient row, and a text may insert it many times.
pub const MAX_RENDERED_BYTES: usize = 16 << 20;

/// A text that came out larger than [`MAX_RENDERED_BYTES`] for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the text comes out larger than {} MiB with this recipient's fields", MAX_RENDERED_BYTES >> 20)]
pub struct TooLarge;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Field(usize),
    Slot(usize),
    Block {
        condition: Condition,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

/// A compiled text: filled per recipient without parsing again.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
    escape: Escape,
}

/// A block being read: its condition (none for the text itself, or when the condition
/// had an error), where it began, and its two branches.
struct Frame {
    condition: Option<Condition>,
    line: usize,
    then: Vec<Node>,
    otherwise: Option<Vec<Node>>,
}

impl Frame {
    fn nodes(&mut self) -> &mut Vec<Node> {
        match &mut self.otherwise {
            Some(otherwise) => otherwise,
            None => &mut self.then,
        }
    }
}

enum Directive<'a> {
    Comment,
    Begin(&'a str),
    Else(&'a str),
    End(&'a str),
}

/// Reads a line that starts with `.` as a directive, if it is one. The text after it is
/// returned for the caller to check.
fn directive(line: &str) -> Option<Directive<'_>> {
    let rest = line.strip_prefix('.')?;
    if rest.starts_with('*') {
        return Some(Directive::Comment);
    }
    let word_end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let (word, after) = rest.split_at(word_end);
    match word.to_ascii_uppercase().as_str() {
        "BB" => Some(Directive::Begin(after)),
        "ELSE" => Some(Directive::Else(after)),
        "EB" => Some(Directive::End(after)),
        _ => None,
    }
}

fn html_entities() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        entities::ENTITIES
            .iter()
            .filter(|e| e.entity.ends_with(';'))
            .map(|e| e.entity)
            .collect()
    })
}

fn push_text(nodes: &mut Vec<Node>, text: &str) {
    if text.is_empty() {
        return;
    }
    match nodes.last_mut() {
        Some(Node::Text(t)) => t.push_str(text),
        _ => nodes.push(Node::Text(text.to_string())),
    }
}

/// What the texts of one message have read so far with their drop-ins filled in: shared
/// by every text of the message (subject, bodies, each link's URL), so that the limits hold
/// for the whole message and not once per text.
#[derive(Debug, Default)]
pub struct Budget {
    expanded_bytes: usize,
    expansions: usize,
    over_limit: bool,
}

struct Compiler<'e, 'b> {
    env: &'e Env,
    options: Options,
    errors: Vec<MergeError>,
    /// The drop-ins being expanded, outermost first.
    including: Vec<String>,
    /// Bytes of text read so far (the texts and every drop-in each time it is filled in),
    /// and drop-ins filled in; once either passes its limit, nothing more is expanded.
    budget: &'b mut Budget,
}

impl Compiler<'_, '_> {
    fn error(&mut self, source: &str, line: usize, column: usize, message: impl Into<String>) {
        let e = MergeError {
            source: source.to_string(),
            line,
            column,
            message: message.into(),
        };
        // A drop-in used twice would report its problems twice.
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    fn text(&mut self, source: &str, text: &str) -> Vec<Node> {
        let mut frames = vec![Frame {
            condition: None,
            line: 0,
            then: Vec::new(),
            otherwise: None,
        }];
        for (index, raw) in text.split_inclusive('\n').enumerate() {
            let line = index + 1;
            if self.options.directives && raw.starts_with('.') {
                let body = raw.trim_end_matches(['\n', '\r']);
                if let Some(d) = directive(body) {
                    self.directive(source, line, body, d, &mut frames);
                    continue;
                }
            }
            if let Some(frame) = frames.last_mut() {
                self.inline(source, line, raw, frame.nodes());
            }
        }
        while frames.len() > 1 {
            if let Some(open) = frames.pop() {
                self.error(source, open.line, 1, "this .BB block has no .EB to end it");
            }
        }
        frames.pop().map(|f| f.then).unwrap_or_default()
    }

    fn directive(
        &mut self,
        source: &str,
        line: usize,
        body: &str,
        directive: Directive<'_>,
        frames: &mut Vec<Frame>,
    ) {
        let alone = |after: &str| after.trim().is_empty();
        match directive {
            Directive::Comment => {}
            Directive::Begin(after) => {
                let condition_column = body.chars().count() - after.chars().count() + 1;
                let condition = match condition::parse(after, &self.env.fields) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        self.error(source, line, condition_column + e.offset, e.message);
                        None
                    }
                };
                if frames.len() > MAX_DEPTH {
                    self.error(
                        source,
                        line,
                        1,
                        format!("blocks nest deeper than {MAX_DEPTH} levels"),
                    );
                }
                frames.push(Frame {
                    condition,
                    line,
                    then: Vec::new(),
                    otherwise: None,
                });
            }
            Directive::Else(after) => {
                if !alone(after) {
                    self.error(source, line, 6, "nothing may follow .ELSE on its line");
                }
                let open = frames.len() > 1;
                match frames.last_mut() {
                    Some(frame) if open => {
                        if frame.otherwise.is_some() {
                            let opened = frame.line;
                            self.error(
                                source,
                                line,
                                1,
                                format!("a second .ELSE in the block that begins at line {opened}"),
                            );
                        } else {
                            frame.otherwise = Some(Vec::new());
                        }
                    }
                    _ => self.error(source, line, 1, ".ELSE without a .BB before it"),
                }
            }
            Directive::End(after) => {
                if !alone(after) {
                    self.error(source, line, 4, "nothing may follow .EB on its line");
                }
                if frames.len() < 2 {
                    self.error(source, line, 1, ".EB without a .BB before it");
                    return;
                }
                if let Some(frame) = frames.pop()
                    && let (Some(condition), Some(parent)) = (frame.condition, frames.last_mut())
                {
                    parent.nodes().push(Node::Block {
                        condition,
                        then: frame.then,
                        otherwise: frame.otherwise.unwrap_or_default(),
                    });
                }
            }
        }
    }

    /// Reads one line of text: fields, drop-ins and the literal text between them.
    fn inline(&mut self, source: &str, line: usize, text: &str, nodes: &mut Vec<Node>) {
        let mut literal_from = 0;
        let mut i = 0;
        let bytes = text.as_bytes();
        while i < bytes.len() {
            let column = || text[..i].chars().count() + 1;
            match bytes[i] {
                b'&' => {
                    let Some((name, len)) = field_at(&text[i..]) else {
                        i += 1;
                        continue;
                    };
                    if let Some(col) = self.env.fields.column(name) {
                        push_text(nodes, &text[literal_from..i]);
                        nodes.push(Node::Field(col));
                        literal_from = i + len;
                    } else if name.starts_with('*') || !html_entities().contains(&text[i..i + len])
                    {
                        let hint = self
                            .env
                            .fields
                            .nearest(name)
                            .map(|n| format!("; did you mean &{n};?"))
                            .unwrap_or_else(|| {
                                let usable = self.env.fields.usable();
                                if usable.is_empty() {
                                    "; this job's recipients have no fields".to_string()
                                } else {
                                    format!("; the fields are {}", usable.join(", "))
                                }
                            });
                        let message = format!("unknown merge field &{name};{hint}");
                        self.error(source, line, column(), message);
                    }
                    i += len;
                }
                // U+FDD0 (a Unicode noncharacter, so never typed) starts a slot marker.
                0xEF if text[i..].starts_with(SLOT_OPEN) => {
                    let digits_from = i + SLOT_OPEN.len_utf8();
                    let digits = text[digits_from..]
                        .bytes()
                        .take_while(u8::is_ascii_digit)
                        .count();
                    let close_at = digits_from + digits;
                    match text[digits_from..close_at].parse::<usize>() {
                        Ok(slot) if text[close_at..].starts_with(SLOT_CLOSE) => {
                            push_text(nodes, &text[literal_from..i]);
                            nodes.push(Node::Slot(slot));
                            i = close_at + SLOT_CLOSE.len_utf8();
                            literal_from = i;
                        }
                        _ => i += SLOT_OPEN.len_utf8(),
                    }
                }
                b'{' if self.env.dropins_enabled && text[i..].starts_with("{{") => {
                    let Some(end) = text[i + 2..].find("}}") else {
                        i += 2;
                        continue;
                    };
                    let name = text[i + 2..i + 2 + end].trim();
                    let len = end + 4;
                    if name.is_empty() {
                        i += len;
                        continue;
                    }
                    let at = column();
                    push_text(nodes, &text[literal_from..i]);
                    literal_from = i + len;
                    self.dropin(source, line, at, name, nodes);
                    i += len;
                }
                _ => i += 1,
            }
        }
        push_text(nodes, &text[literal_from..]);
    }

    fn dropin(
        &mut self,
        source: &str,
        line: usize,
        column: usize,
        name: &str,
        nodes: &mut Vec<Node>,
    ) {
        if name.starts_with('*') {
            match self.env.system.get(name) {
                Some(SystemDropIn::Text(text)) => {
                    let mut value = String::new();
                    escape_into(text, self.options.escape, &mut value);
                    push_text(nodes, &value);
                }
                Some(SystemDropIn::Slot(slot)) => nodes.push(Node::Slot(*slot)),
                None => {
                    let mut known: Vec<&str> = self.env.system.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    self.error(
                        source,
                        line,
                        column,
                        format!(
                            "unknown system drop-in {{{{{name}}}}}; the system drop-ins are {}",
                            known.join(", ")
                        ),
                    );
                }
            }
            return;
        }
        let Some(content) = self.env.dropins.get(name) else {
            self.error(
                source,
                line,
                column,
                format!("unknown drop-in {{{{{name}}}}}"),
            );
            return;
        };
        if self.including.iter().any(|n| n == name) || self.including.len() >= MAX_DEPTH {
            let chain = self.including.join(" → ");
            self.error(
                source,
                line,
                column,
                format!("drop-in {{{{{name}}}}} includes itself ({chain} → {name})"),
            );
            return;
        }
        if self.budget.over_limit {
            return;
        }
        self.budget.expanded_bytes += content.len();
        self.budget.expansions += 1;
        if self.budget.expanded_bytes > MAX_EXPANDED_BYTES
            || self.budget.expansions > MAX_DROPIN_EXPANSIONS
        {
            self.budget.over_limit = true;
            let chain: Vec<&str> = self
                .including
                .iter()
                .map(String::as_str)
                .chain([name])
                .collect();
            self.error(
                source,
                line,
                column,
                format!(
                    "the drop-ins grow the text past {} MiB or {MAX_DROPIN_EXPANSIONS} drop-ins filled in ({}); \
                     drop-ins that include other drop-ins several times multiply",
                    MAX_EXPANDED_BYTES >> 20,
                    chain.join(" → ")
                ),
            );
            return;
        }
        self.including.push(name.to_string());
        let inner = self.text(&format!("drop-in \"{name}\""), content);
        self.including.pop();
        for node in inner {
            match node {
                Node::Text(t) => push_text(nodes, &t),
                other => nodes.push(other),
            }
        }
    }
}

/// `&NAME;` or `&*NAME;` at the start of `text`: the name (with `*`) and the length.
fn field_at(text: &str) -> Option<(&str, usize)> {
    let rest = text.strip_prefix('&')?;
    let star = usize::from(rest.starts_with('*'));
    let name_len = rest[star..]
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let name = &rest[..star + name_len];
    (crate::is_merge_name(&name[star..]) && rest[star + name_len..].starts_with(';'))
        .then_some((name, 1 + star + name_len + 1))
}

fn escape_into(value: &str, escape: Escape, out: &mut String) {
    match escape {
        Escape::None => out.push_str(value),
        Escape::Html => {
            for c in value.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
        }
        Escape::SingleLine => {
            for c in value.chars() {
                out.push(if matches!(c, '\r' | '\n') { ' ' } else { c });
            }
        }
    }
}

/// Compiles `text` (named `source` in errors) against `env`. Every problem is reported,
/// each with its line and column.
pub fn compile(
    source: &str,
    text: &str,
    env: &Env,
    options: Options,
) -> Result<Template, MergeErrors> {
    compile_within(&mut Budget::default(), source, text, env, options)
}

/// [`compile`], counting against `budget`, which the other texts of the same message share.
pub fn compile_within(
    budget: &mut Budget,
    source: &str,
    text: &str,
    env: &Env,
    options: Options,
) -> Result<Template, MergeErrors> {
    budget.expanded_bytes += text.len();
    if budget.expanded_bytes > MAX_EXPANDED_BYTES && !budget.over_limit {
        budget.over_limit = true;
        return Err(MergeErrors(vec![MergeError {
            source: source.to_string(),
            line: 1,
            column: 1,
            message: format!(
                "the message's texts grow past {} MiB with their drop-ins filled in",
                MAX_EXPANDED_BYTES >> 20
            ),
        }]));
    }
    let mut compiler = Compiler {
        env,
        options,
        errors: Vec::new(),
        including: Vec::new(),
        budget,
    };
    let nodes = compiler.text(source, text);
    if compiler.errors.is_empty() {
        Ok(Template {
            nodes,
            escape: options.escape,
        })
    } else {
        Err(MergeErrors(compiler.errors))
    }
}

fn render_nodes<R: Recipient + ?Sized>(
    nodes: &[Node],
    escape: Escape,
    recipient: &R,
    out: &mut String,
) -> Result<(), TooLarge> {
    for node in nodes {
        if out.len() > MAX_RENDERED_BYTES {
            return Err(TooLarge);
        }
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Field(column) => escape_into(recipient.field(*column), escape, out),
            Node::Slot(slot) => recipient.slot(*slot, out),
            Node::Block {
                condition,
                then,
                otherwise,
            } => {
                let branch = if condition.holds(recipient) {
                    then
                } else {
                    otherwise
                };
                render_nodes(branch, escape, recipient, out)?;
            }
        }
    }
    if out.len() > MAX_RENDERED_BYTES {
        return Err(TooLarge);
    }
    Ok(())
}

impl Template {
    /// Appends the text for `recipient` to `out`; stops when `out` passes
    /// [`MAX_RENDERED_BYTES`].
    pub fn render_into<R: Recipient + ?Sized>(
        &self,
        recipient: &R,
        out: &mut String,
    ) -> Result<(), TooLarge> {
        render_nodes(&self.nodes, self.escape, recipient, out)
    }

    /// The text for `recipient`, unless it would pass [`MAX_RENDERED_BYTES`].
    pub fn try_render<R: Recipient + ?Sized>(&self, recipient: &R) -> Result<String, TooLarge> {
        let mut out = String::new();
        self.render_into(recipient, &mut out)?;
        Ok(out)
    }

    /// The text for `recipient`, cut where it passes [`MAX_RENDERED_BYTES`] (for previews
    /// and values that are checked elsewhere).
    pub fn render<R: Recipient + ?Sized>(&self, recipient: &R) -> String {
        let mut out = String::new();
        // A text cut at the limit is what a preview can show.
        let _ = self.render_into(recipient, &mut out);
        out
    }

    /// The text when it is the same for every recipient (no fields, slots or blocks).
    pub fn constant(&self) -> Option<&str> {
        match self.nodes.as_slice() {
            [] => Some(""),
            [Node::Text(t)] => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldValues, Fields};
    use proptest::prelude::*;
    use std::collections::HashMap;

    struct Row(Vec<String>);

    impl FieldValues for Row {
        fn field(&self, column: usize) -> &str {
            self.0.field(column)
        }
    }

    impl Recipient for Row {
        fn slot(&self, slot: usize, out: &mut String) {
            out.push_str(&format!("<slot {slot} of {}>", self.0[0]));
        }
    }

    fn row(values: &[&str]) -> Row {
        Row(values.iter().map(|s| s.to_string()).collect())
    }

    fn env() -> Env {
        Env {
            fields: Fields::new(&["EMAIL", "FirstName", "AGE", "CITY"], Some(0)),
            dropins: HashMap::from([
                (
                    "footer".to_string(),
                    "Bye &FIRSTNAME;\n{{*UnsubscribeURL}}".to_string(),
                ),
                ("loop".to_string(), "a {{loop2}}".to_string()),
                ("loop2".to_string(), "b {{loop}}".to_string()),
                (
                    "kids".to_string(),
                    ".BB &AGE < 18\nkid\n.ELSE\nadult\n.EB\n".to_string(),
                ),
            ]),
            system: HashMap::from([
                (
                    "*FromAddress".to_string(),
                    SystemDropIn::Text("news@shop.example".into()),
                ),
                ("*UnsubscribeURL".to_string(), SystemDropIn::Slot(7)),
            ]),
            dropins_enabled: true,
        }
    }

    fn errors(text: &str, options: Options) -> Vec<MergeError> {
        compile("body", text, &env(), options).unwrap_err().0
    }

    #[test]
    fn fields_blocks_dropins_and_slots_are_filled_per_recipient() {
        let text = "Dear &FirstName; (&*TO;),\n.* a comment\n.bb &CITY = \"paris\" AND &AGE >= 18\nBonjour!\n.else\n.BB &AGE < 18\nHi kid!\n.EB\n.EB\n{{kids}}From {{ *FromAddress }} &amp; &copy;\n{{footer}}";
        let t = compile("body", text, &env(), Options::TEXT).unwrap();
        assert_eq!(
            t.render(&row(&["a@x.example", "Ann", "30", "Paris"])),
            "Dear Ann (a@x.example),\nBonjour!\nadult\nFrom news@shop.example &amp; &copy;\nBye Ann\n<slot 7 of a@x.example>"
        );
        assert_eq!(
            t.render(&row(&["b@x.example", "Bo", "9", "Paris"])),
            "Dear Bo (b@x.example),\nHi kid!\nkid\nFrom news@shop.example &amp; &copy;\nBye Bo\n<slot 7 of b@x.example>"
        );
        assert_eq!(t.constant(), None);
    }

    #[test]
    fn html_escapes_values_and_headers_lose_line_breaks() {
        let r = row(&["a@x.example", "<b>Ann & \"Bo\"</b>", "1", "x\r\ny"]);
        let html = compile("HTML body", "<p>&FIRSTNAME;</p>", &env(), Options::HTML).unwrap();
        assert_eq!(
            html.render(&r),
            "<p>&lt;b&gt;Ann &amp; &quot;Bo&quot;&lt;/b&gt;</p>"
        );
        let subject = compile("subject", ".BB &CITY; for &CITY;", &env(), Options::HEADER).unwrap();
        assert_eq!(
            subject.render(&r),
            ".BB x  y for x  y",
            "no directives in a header"
        );
    }

    #[test]
    fn every_error_has_its_place() {
        let e = errors(
            "Hi &FRISTNAME;\n.BB &AGE >\nx\n.ELSE\n.ELSE\n.EB trailing\n.EB\n{{nope}} {{*Nope}}\n.BB &AGE = 1\n",
            Options::TEXT,
        );
        let got: Vec<(usize, usize)> = e.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(
            got,
            vec![
                (1, 4),
                (2, 11),
                (5, 1),
                (6, 4),
                (7, 1),
                (8, 1),
                (8, 10),
                (9, 1)
            ],
            "{e:#?}"
        );
        assert!(
            e[0].message.contains("did you mean &FirstName;"),
            "{}",
            e[0]
        );
        assert!(e[3].message.contains("nothing may follow .EB"));
        assert!(e[4].message.contains(".EB without a .BB"));
        assert!(
            e[6].message.contains("*FromAddress"),
            "lists the known ones: {}",
            e[6]
        );
        assert!(e[7].message.contains("no .EB"));
        assert_eq!(
            e[0].to_string(),
            "body, line 1, column 4: unknown merge field &FRISTNAME;; did you mean &FirstName;?"
        );
    }

    #[test]
    fn dropins_that_include_themselves_are_refused() {
        let e = errors("{{loop}}", Options::TEXT);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].message
                .contains("includes itself (loop → loop2 → loop)"),
            "{}",
            e[0]
        );
        assert_eq!(e[0].source, "drop-in \"loop2\"");
    }

    /// Each level includes the next eight times: 8^10 copies of "x" would be a gigabyte.
    fn multiplying_env(levels: usize, leaf: &str) -> Env {
        let mut env = env();
        for level in 0..levels {
            env.dropins.insert(
                format!("d{level}"),
                format!("{{{{d{}}}}}", level + 1).repeat(8),
            );
        }
        env.dropins.insert(format!("d{levels}"), leaf.to_string());
        env
    }

    #[test]
    fn drop_ins_that_multiply_are_refused_naming_the_chain() {
        for leaf in ["x", ""] {
            let started = std::time::Instant::now();
            let e = compile(
                "HTML body",
                "a {{d0}}",
                &multiplying_env(10, leaf),
                Options::HTML,
            )
            .unwrap_err()
            .0;
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "stopped early"
            );
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(
                e[0].message.contains("d0 → d1 → d2") && e[0].message.contains("MiB"),
                "{}",
                e[0]
            );
        }
        // Four levels (4,096 copies) are fine.
        let t = compile("body", "{{d0}}", &multiplying_env(4, "x"), Options::TEXT).unwrap();
        assert_eq!(t.constant().map(str::len), Some(4096));
    }

    #[test]
    fn the_texts_of_one_message_share_one_budget() {
        let mut env = env();
        env.dropins.insert("big".into(), "x".repeat(3 << 20));
        // Alone, each link's URL fits; together (as one message's links) they do not.
        assert!(compile("link 1", "https://x/{{big}}", &env, Options::TEXT).is_ok());
        let mut budget = Budget::default();
        assert!(
            compile_within(
                &mut budget,
                "link 1",
                "https://x/{{big}}",
                &env,
                Options::TEXT
            )
            .is_ok()
        );
        let e = compile_within(
            &mut budget,
            "link 2",
            "https://y/{{big}}",
            &env,
            Options::TEXT,
        )
        .unwrap_err()
        .0;
        assert!(e[0].message.contains("MiB"), "{e:?}");
    }

    #[test]
    fn a_text_that_comes_out_too_large_for_a_recipient_is_refused() {
        let text = "&CITY;".repeat(100);
        let t = compile("body", &text, &env(), Options::TEXT).unwrap();
        let big = "y".repeat(1 << 20);
        let r = row(&["a@x.example", "Ann", "30", &big]);
        assert_eq!(t.try_render(&r), Err(TooLarge));
        let small = row(&["a@x.example", "Ann", "30", "Paris"]);
        assert_eq!(t.try_render(&small).map(|s| s.len()), Ok(500));
    }

    #[test]
    fn slot_markers_are_slots() {
        let text = format!(
            "<a href=\"{}\">x</a> {}9 {SLOT_CLOSE}",
            slot_marker(12),
            SLOT_OPEN
        );
        let t = compile("body", &text, &env(), Options::HTML).unwrap();
        assert_eq!(
            t.render(&row(&["a@x.example"])),
            "<a href=\"<slot 12 of a@x.example>\">x</a> \u{FDD0}9 \u{FDD1}"
        );
    }

    #[test]
    fn dropins_off_leave_braces_alone() {
        let mut env = env();
        env.dropins_enabled = false;
        let t = compile("body", "{{nope}} {{*UnsubscribeURL}}", &env, Options::TEXT).unwrap();
        assert_eq!(t.constant(), Some("{{nope}} {{*UnsubscribeURL}}"));
    }

    #[test]
    fn lines_that_only_look_like_directives_are_text() {
        let t = compile(
            "body",
            ".htaccess\n.BBQ party\n...\n",
            &env(),
            Options::TEXT,
        )
        .unwrap();
        assert_eq!(t.constant(), Some(".htaccess\n.BBQ party\n...\n"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let text = ".BB &AGE = 1\n".repeat(100) + &".EB\n".repeat(100);
        assert!(
            errors(&text, Options::TEXT)
                .iter()
                .any(|e| e.message.contains("nest deeper"))
        );
        let cond = format!(".BB {}&AGE = 1{}\n.EB\n", "(".repeat(500), ")".repeat(500));
        assert!(
            errors(&cond, Options::TEXT)
                .iter()
                .any(|e| e.message.contains("nests deeper"))
        );
        let nots = format!(".BB {}&AGE = 1\n.EB\n", "NOT ".repeat(500));
        assert!(!errors(&nots, Options::TEXT).is_empty());
    }

    proptest! {
        /// Text with no `&`, `{{` or leading `.` comes out as it went in.
        #[test]
        fn plain_text_is_kept(text in "[^&{.]{0,200}") {
            let t = compile("body", &text, &env(), Options::TEXT).unwrap();
            prop_assert_eq!(t.render(&row(&["a", "b", "c", "d"])), text);
        }

        /// A field anywhere is its value, however the value looks.
        #[test]
        fn fields_are_their_values(before in "[^&{.]{0,30}", value in "\\PC{0,30}", after in "[^&{\n]{0,30}") {
            let t = compile("body", &format!("{before}&firstname;{after}"), &env(), Options::TEXT).unwrap();
            prop_assert_eq!(t.render(&row(&["a", &value, "c", "d"])), format!("{before}{value}{after}"));
        }

        /// Any text compiles or reports errors that lie inside it; it never panics.
        #[test]
        fn errors_lie_inside_the_text(text in "(\\PC|\n|&[a-zA-Z*]{1,6};|\\{\\{[a-z*]{0,6}\\}\\}|\n\\.(BB|ELSE|EB|\\*) ?){0,60}") {
            match compile("body", &text, &env(), Options::TEXT) {
                Ok(t) => { t.render(&row(&["a", "b", "1", "d"])); }
                Err(e) => {
                    let lines: Vec<&str> = text.split('\n').collect();
                    for e in e.0.iter().filter(|e| e.source == "body") {
                        prop_assert!(e.line >= 1 && e.line <= lines.len(), "{}", e);
                        prop_assert!(e.column >= 1 && e.column <= lines[e.line - 1].chars().count() + 1, "{}", e);
                    }
                }
            }
        }
    }
}
