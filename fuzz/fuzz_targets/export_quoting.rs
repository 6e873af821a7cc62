//! Any value through `--format export`: the line parses back, by the rules of POSIX single
//! quoting, to exactly the value. (The test suite evaluates the same output in bash, dash and
//! busybox sh; here the reading is done by the shell grammar's rules, fast enough to fuzz.)
#![no_main]

use fetch_env_core::{EnvName, Format, SecretValue, render};
use libfuzzer_sys::fuzz_target;

/// Reads `'…'` and `\'` sequences as a POSIX shell does, and fails on anything else.
fn unquote(mut text: &str) -> Option<String> {
    let mut out = String::new();
    while !text.is_empty() {
        if let Some(rest) = text.strip_prefix("\\'") {
            out.push('\'');
            text = rest;
        } else if let Some(rest) = text.strip_prefix('\'') {
            let end = rest.find('\'')?;
            out.push_str(&rest[..end]);
            text = &rest[end + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    let name = EnvName::new("V").expect("a valid name");
    let secret = SecretValue::from(value);
    match render(&[(&name, &secret)], Format::Export) {
        Ok(text) => {
            let line = text.strip_prefix("export V=").expect("the export prefix");
            let quoted = line.strip_suffix('\n').expect("one line per variable");
            assert_eq!(unquote(quoted).as_deref(), Some(value));
        }
        Err(_) => assert!(value.contains('\0')),
    }
});
