//! Any text given as a template must compile or be refused with errors inside the text,
//! and a compiled template must fill in for any recipient, never panicking or looping.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use tutti_merge::{Env, FieldValues, Fields, Options, Recipient, SystemDropIn, compile};

struct Row;

impl FieldValues for Row {
    fn field(&self, column: usize) -> &str {
        ["a@x.example", "Ann", "42", "<b>&amp;</b>\r\n"][column % 4]
    }
}

impl Recipient for Row {
    fn slot(&self, _slot: usize, out: &mut String) {
        out.push_str("https://t.example/u");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = Env {
        fields: Fields::new(&["EMAIL", "NAME", "AGE", "NOTE"], Some(0)),
        dropins: HashMap::from([
            ("head".to_string(), "Hello &NAME;\n".to_string()),
            ("self".to_string(), "{{self}}".to_string()),
            ("block".to_string(), ".BB &AGE > 1\nold\n.EB\n".to_string()),
        ]),
        system: HashMap::from([
            ("*FromAddress".to_string(), SystemDropIn::Text("f@x.example".into())),
            ("*UnsubscribeURL".to_string(), SystemDropIn::Slot(0)),
        ]),
        dropins_enabled: true,
    };
    for options in [Options::HTML, Options::TEXT, Options::HEADER] {
        match compile("body", text, &env, options) {
            Ok(t) => {
                t.render(&Row);
            }
            Err(errors) => {
                assert!(!errors.0.is_empty());
                let lines: Vec<&str> = text.split('\n').collect();
                for e in errors.0.iter().filter(|e| e.source == "body") {
                    assert!(e.line >= 1 && e.line <= lines.len(), "{e}");
                    assert!(e.column >= 1 && e.column <= lines[e.line - 1].chars().count() + 1, "{e}");
                }
            }
        }
    }
});
