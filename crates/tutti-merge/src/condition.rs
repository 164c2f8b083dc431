//! Conditions of `.BB` blocks: `&FIELD = "text"`, `&AGE >= 18 AND NOT (&CITY = "Paris")`.
//!
//! Fields are written `&NAME` (a trailing `;` is tolerated); values are quoted text
//! (`"…"`, a quote inside doubled) or numbers. Comparison operators are `=`, `<>` (also
//! `^=` and `!=`), `<`, `>`, `<=`, `>=`; they join with `AND`, `OR`, `NOT` and parentheses.
//! Two values that both read as numbers compare as numbers; otherwise as text, ignoring
//! case.

use std::cmp::Ordering;

use crate::FieldValues;
use crate::fields::Fields;

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(usize),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Operand, Op, Operand),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

/// A problem in a condition: the column (in characters, from 0 within the condition) and
/// what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub offset: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    Text(String),
    Number(String),
    Op(Op),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn err(offset: usize, message: impl Into<String>) -> ConditionError {
    ConditionError {
        offset,
        message: message.into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>, ConditionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                toks.push((start, Tok::Open));
                i += 1;
            }
            ')' => {
                toks.push((start, Tok::Close));
                i += 1;
            }
            '&' => {
                i += 1;
                let star = chars.get(i) == Some(&'*');
                if star {
                    i += 1;
                }
                let name_start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[name_start..i].iter().collect();
                if !crate::fields::is_merge_name(&name) {
                    return Err(err(
                        start,
                        "`&` must be followed by a field name, as in &NAME",
                    ));
                }
                if chars.get(i) == Some(&';') {
                    i += 1;
                }
                toks.push((
                    start,
                    Tok::Field(if star { format!("*{name}") } else { name }),
                ));
            }
            '"' | '\'' => {
                let quote = c;
                i += 1;
                let mut value = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, "this quoted text has no closing quote")),
                        Some(&q) if q == quote => {
                            if chars.get(i + 1) == Some(&quote) {
                                value.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&other) => {
                            value.push(other);
                            i += 1;
                        }
                    }
                }
                toks.push((start, Tok::Text(value)));
            }
            '=' => {
                toks.push((start, Tok::Op(Op::Eq)));
                i += 1;
            }
            '<' | '>' | '^' | '!' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('<', Some('>')) => (Op::Ne, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('>', _) => (Op::Gt, 1),
                    ('^' | '!', Some('=')) => (Op::Ne, 2),
                    _ => return Err(err(start, format!("unexpected `{c}`"))),
                };
                toks.push((start, Tok::Op(op)));
                i += len;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let number: String = chars[start..i].iter().collect();
                if parse_number(&number).is_none() {
                    return Err(err(start, format!("`{number}` is not a number")));
                }
                toks.push((start, Tok::Number(number)));
            }
            c if c.is_alphabetic() => {
                while i < chars.len() && chars[i].is_alphanumeric() {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                toks.push((
                    start,
                    match word.to_ascii_uppercase().as_str() {
                        "AND" => Tok::And,
                        "OR" => Tok::Or,
                        "NOT" => Tok::Not,
                        _ => {
                            return Err(err(
                                start,
                                format!(
                                    "`{word}` is neither a field (&{word}) nor quoted text (\"{word}\")"
                                ),
                            ));
                        }
                    },
                ));
            }
            other => return Err(err(start, format!("unexpected `{other}`"))),
        }
    }
    Ok(toks)
}

/// How deep `NOT` and parentheses may nest.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
    end: usize,
    fields: &'a Fields,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(o, _)| *o)
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.not()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            left = Condition::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, ConditionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(
                self.offset(),
                format!("the condition nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        let result = self.not_inner();
        self.depth -= 1;
        result
    }

    fn not_inner(&mut self) -> Result<Condition, ConditionError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        if self.peek() == Some(&Tok::Open) {
            let open = self.offset();
            self.pos += 1;
            let inner = self.or()?;
            if self.peek() != Some(&Tok::Close) {
                return Err(err(
                    self.offset(),
                    format!("the `(` at column {} is not closed", open + 1),
                ));
            }
            self.pos += 1;
            return Ok(inner);
        }
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            _ => {
                return Err(err(
                    self.offset(),
                    "expected a comparison (=, <>, <, >, <=, >=) here",
                ));
            }
        };
        self.pos += 1;
        let right = self.operand()?;
        Ok(Condition::Compare(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, ConditionError> {
        let offset = self.offset();
        let operand = match self.toks.get(self.pos).map(|(_, t)| t.clone()) {
            Some(Tok::Field(name)) => match self.fields.column(&name) {
                Some(column) => Operand::Field(column),
                None => {
                    let hint = self
                        .fields
                        .nearest(&name)
                        .map(|n| format!("; did you mean &{n}?"))
                        .unwrap_or_default();
                    return Err(err(
                        offset,
                        format!("unknown field &{name} in the condition{hint}"),
                    ));
                }
            },
            Some(Tok::Text(t)) | Some(Tok::Number(t)) => Operand::Text(t),
            _ => {
                return Err(err(
                    offset,
                    "expected a field (&NAME), quoted text or a number here",
                ));
            }
        };
        self.pos += 1;
        Ok(operand)
    }
}

/// Parses and checks a condition against the job's fields.
pub fn parse(text: &str, fields: &Fields) -> Result<Condition, ConditionError> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(err(0, "`.BB` needs a condition, as in .BB &NAME <> \"\""));
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        depth: 0,
        end: text.chars().count(),
        fields,
    };
    let condition = parser.or()?;
    if parser.pos < parser.toks.len() {
        return Err(err(
            parser.offset(),
            "the condition should end here (join conditions with AND or OR)",
        ));
    }
    Ok(condition)
}

/// A decimal number: optional `-`, digits, optionally `.` and digits.
fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if plain(int) && plain(frac) {
        t.parse().ok()
    } else {
        None
    }
}

fn compare(a: &str, b: &str) -> Ordering {
    if let (Some(x), Some(y)) = (parse_number(a), parse_number(b)) {
        return x.total_cmp(&y);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

impl Condition {
    /// Whether the condition holds for a recipient.
    pub fn holds<V: FieldValues + ?Sized>(&self, values: &V) -> bool {
        match self {
            Condition::Compare(a, op, b) => {
                let a = match a {
                    Operand::Field(i) => values.field(*i),
                    Operand::Text(t) => t.as_str(),
                };
                let b = match b {
                    Operand::Field(i) => values.field(*i),
                    Operand::Text(t) => t.as_str(),
                };
                let ord = compare(a, b);
                match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Lt => ord == Ordering::Less,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Le => ord != Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                }
            }
            Condition::And(a, b) => a.holds(values) && b.holds(values),
            Condition::Or(a, b) => a.holds(values) || b.holds(values),
            Condition::Not(a) => !a.holds(values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields() -> Fields {
        Fields::new(&["EMAIL", "NAME", "AGE", "CITY"], Some(0))
    }

    fn holds(cond: &str, row: &[&str]) -> bool {
        let c = parse(cond, &fields()).unwrap();
        c.holds(row)
    }

    #[test]
    fn numbers_compare_as_numbers_and_text_ignores_case() {
        let row = ["a@x.example", "Ann", "9", "PARIS"];
        assert!(holds("&AGE < 10", &row));
        assert!(!holds("&AGE > 10", &row), "9 < 10 as numbers, not as text");
        assert!(holds("&CITY = \"paris\"", &row));
        assert!(holds("&name <> \"\"", &row));
        assert!(holds(
            "&AGE >= 9 AND NOT (&CITY = 'Rome' OR &NAME = \"Bob\")",
            &row
        ));
        assert!(holds("&*TO = \"A@X.EXAMPLE\"", &row));
        assert!(holds("&NAME; = \"ann\"", &row), "a trailing ; is tolerated");
        assert!(holds("\"say \"\"hi\"\"\" = 'say \"hi\"'", &row));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = |c: &str| parse(c, &fields()).unwrap_err();
        assert_eq!(e("&NAM = \"x\"").offset, 0);
        assert!(e("&NAM = \"x\"").message.contains("did you mean &NAME"));
        assert_eq!(e("&NAME = ").offset, 8);
        assert_eq!(e("&NAME \"x\"").offset, 6);
        assert_eq!(e("(&NAME = \"x\"").offset, 12);
        assert!(e("&NAME = \"x").message.contains("closing quote"));
        assert!(e("&NAME = x").message.contains("quoted text"));
        assert!(e("").message.contains("needs a condition"));
        assert_eq!(e("&AGE = 1 &AGE = 2").offset, 9);
        assert!(e("&AGE = 1.2.3").message.contains("not a number"));
    }

    proptest! {
        #[test]
        fn numeric_comparison_agrees_with_integers(a in -100_000i64..100_000, b in -100_000i64..100_000) {
            let age = a.to_string();
            let row = ["", "", age.as_str(), ""];
            let c = parse(&format!("&AGE < {b}"), &fields()).unwrap();
            prop_assert_eq!(c.holds(&row[..]), a < b);
            let c = parse(&format!("&AGE = {b} OR &AGE <> {b}"), &fields()).unwrap();
            prop_assert!(c.holds(&row[..]));
        }

        #[test]
        fn any_condition_text_parses_or_errs_inside_it(text in "\\PC{0,40}") {
            if let Err(e) = parse(&text, &fields()) {
                prop_assert!(e.offset <= text.chars().count());
            }
        }
    }
}
