//! Any text as a `docker-compose.yaml`: read, or refused with an error located inside the file,
//! never a panic. Read, every service, environment entry, opaque source, interpolation and
//! invalid `$` is located inside the file; interpolations come in file order with legal names;
//! and every name an environment entry interpolates is among the file's interpolations.
#![no_main]

use std::collections::HashSet;
use std::sync::Arc;

use fetch_env_core::{ComposeFile, Location};
use libfuzzer_sys::fuzz_target;

/// The lines of `text` as YAML reads them: a line ends at `\n`, `\r\n` or a `\r` alone.
fn lines(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    text.split(['\n', '\r']).map(str::to_owned).collect()
}

/// Whether `location` names a line of the file, and a column of it or the whole line.
fn inside(lines: &[String], location: &Location) -> bool {
    let Some(line) = lines.get((location.line as usize).wrapping_sub(1)) else {
        return false;
    };
    location.column <= line.chars().count() as u64 + 1
}

fn is_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = lines(text);
    match ComposeFile::parse(Arc::from("c.yaml"), text) {
        Ok(file) => {
            for reference in &file.references {
                assert!(
                    inside(&lines, &reference.location),
                    "{}",
                    reference.location
                );
                assert!(is_name(&reference.name), "{:?}", reference.name);
            }
            assert!(
                file.references
                    .is_sorted_by(|a, b| a.location <= b.location)
            );
            for invalid in &file.invalid {
                assert!(inside(&lines, &invalid.location), "{}", invalid.location);
            }
            assert!(file.invalid.is_sorted());
            let referenced: HashSet<&str> =
                file.references.iter().map(|r| r.name.as_str()).collect();
            for service in &file.services {
                assert!(inside(&lines, &service.location), "{}", service.location);
                for entry in &service.environment {
                    assert!(inside(&lines, &entry.location), "{}", entry.location);
                    for name in entry.references() {
                        assert!(referenced.contains(name.as_str()), "{name} not collected");
                    }
                }
                for source in &service.opaque {
                    assert!(inside(&lines, &source.location), "{}", source.location);
                }
            }
        }
        Err(error) => {
            assert!(inside(&lines, &error.location), "{error}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("{}: ", error.location))
            );
        }
    }
});
