//! Any text as a secret's JSON: a flat object, or an error that names a position, a kind or a
//! key, never a value. Two oracles. serde_json's own reading of the text (`Value`) must agree
//! with the verdict. And the same document with every string value replaced by a canary, whole
//! and cut short after each canary, must give errors without a canary in them. (The fuzzer's
//! own values are not searched for in the messages: it learns to spell the messages' fixed
//! wording into values, as it did against the bootstrap target.)
#![no_main]

use fetch_env_core::{SecretJsonError, SecretValue, parse_object};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const CANARY: &str = "CANARY-7f3a";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verdict = parse_object(text);
    let reading = serde_json::from_str::<Value>(text);
    agrees(text, &verdict, reading.as_ref().ok());
    if let Ok(value) = reading {
        canaries(value);
    }
});

/// The verdict against serde_json's reading (`None`: serde_json refuses the text).
fn agrees(
    text: &str,
    verdict: &Result<Vec<(String, SecretValue)>, SecretJsonError>,
    reading: Option<&Value>,
) {
    match (verdict, reading) {
        (Ok(entries), Some(Value::Object(map))) => same_entries(entries, map),
        (Ok(_), _) => panic!("accepted what serde_json does not read as an object"),
        (Err(SecretJsonError::Syntax { line, .. }), None) => {
            let lines = 1 + text.matches('\n').count();
            assert!((1..=lines).contains(line), "line {line} of {lines}");
        }
        (Err(SecretJsonError::Syntax { .. }), Some(_)) => {
            panic!("refused as invalid JSON what serde_json reads")
        }
        (Err(SecretJsonError::NotAnObject { kind }), Some(value)) => {
            assert_eq!(*kind, kind_of(value));
        }
        (
            Err(SecretJsonError::Nested { key, .. } | SecretJsonError::Null { key }),
            Some(Value::Object(map)),
        ) => assert!(map.contains_key(key), "no key {key:?}"),
        (Err(error), Some(_)) => panic!("{error:?} for JSON that is not an object"),
        // A nested value is skipped, not read: serde_json's `Value` is stricter there (nesting
        // depth, number range, lone surrogates), and the answer is an error either way.
        (Err(_), None) => {}
    }
}

/// The accepted entries are the object's: each key once, the last duplicate's value.
fn same_entries(entries: &[(String, SecretValue)], map: &Map<String, Value>) {
    assert_eq!(entries.len(), map.len());
    for (key, value) in entries {
        let shown = value.expose();
        match map.get(key) {
            Some(Value::String(s)) => assert_eq!(shown, s),
            Some(Value::Bool(b)) => assert_eq!(shown, b.to_string()),
            Some(Value::Number(n)) => {
                assert_eq!(shown.parse::<f64>().ok(), n.as_f64(), "{shown} for {n}")
            }
            other => panic!("{key:?} accepted as {other:?}"),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Replaces every string value (not the keys) with a canary; false when a key holds the canary.
fn plant(value: &mut Value) -> bool {
    match value {
        Value::String(s) => {
            *s = CANARY.to_owned();
            true
        }
        Value::Array(items) => items.iter_mut().all(plant),
        Value::Object(map) => map.iter_mut().all(|(k, v)| !k.contains(CANARY) && plant(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

fn canaries(mut value: Value) {
    if !plant(&mut value) {
        return;
    }
    let Ok(document) = serde_json::to_string(&value) else {
        return;
    };
    let mut cuts: Vec<usize> = document
        .match_indices(CANARY)
        .map(|(at, _)| at + CANARY.len() + 1)
        .take(16)
        .collect();
    cuts.push(document.len());
    for cut in cuts {
        let Some(text) = document.get(..cut) else {
            continue;
        };
        for text in [text.to_owned(), format!("{text}x")] {
            match parse_object(&text) {
                Ok(entries) => {
                    for (_, value) in &entries {
                        let shown = value.expose();
                        assert!(shown == CANARY || !shown.contains(CANARY), "{shown}");
                    }
                }
                Err(error) => {
                    let message = error.to_string();
                    assert!(!message.contains(CANARY), "{text}: {message}");
                    assert!(!format!("{error:?}").contains(CANARY), "{text}: {error:?}");
                }
            }
        }
    }
}
