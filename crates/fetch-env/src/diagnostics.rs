//! The one place diagnostics become text on stderr, and the one place their text is made safe
//! for a terminal: every message, help line, label, file name and source line passes through
//! [`sanitize`] here, so no message built anywhere else can forget to.
//!
//! ```text
//! vars.yaml:8:15: error: `required` must be true or false, found the string `maybe`
//!   8 |     required: maybe
//!     |               ^^^^^
//! help: …
//! ```
//!
//! The source line is shown only when the diagnostic allows it (a manifest line that holds no
//! value that could be a secret); bootstrap, store and compose lines never are.

use std::collections::HashMap;
use std::sync::Arc;

use fetch_env_core::{Diagnostic, Location, sanitize};

/// Writes `diagnostics` to stderr, in order.
pub fn emit(diagnostics: &[Diagnostic]) {
    let mut sources = Sources::default();
    for diagnostic in diagnostics {
        for line in render(diagnostic, &mut sources).lines() {
            crate::exit::eprintln_line(line);
        }
    }
}

/// The text of one diagnostic, lines ending in `\n`.
pub fn render(diagnostic: &Diagnostic, sources: &mut Sources) -> String {
    let mut out = String::new();
    let message = sanitize(&diagnostic.message);
    match &diagnostic.location {
        Some(location) => out.push_str(&format!(
            "{}: {}: {message}\n",
            shown_location(location),
            diagnostic.severity
        )),
        None => out.push_str(&format!("{}: {message}\n", diagnostic.severity)),
    }
    if diagnostic.show_source
        && let Some(location) = &diagnostic.location
        && let Some(line) = sources.line(location)
    {
        out.push_str(&snippet(location, diagnostic.span, &line));
    }
    if let Some(secondary) = &diagnostic.secondary {
        out.push_str(&format!(
            "{}: note: {}\n",
            shown_location(&secondary.location),
            sanitize(&secondary.label)
        ));
    }
    if let Some(help) = &diagnostic.help {
        out.push_str(&format!("help: {}\n", sanitize(help)));
    }
    out
}

fn shown_location(location: &Location) -> String {
    sanitize(&location.to_string())
}

/// The source line with carets under the span, as `rustc` and `just` show it.
fn snippet(location: &Location, span: u64, line: &str) -> String {
    // A tab is one character wide here, so that the carets stay under their characters.
    let text: String = sanitize(&line.replace('\t', " "));
    let number = location.line.to_string();
    let gutter = " ".repeat(number.len());
    let mut out = format!("  {number} | {text}\n");
    if location.column > 0 {
        let width = text.chars().count() as u64;
        let start = location.column.saturating_sub(1).min(width);
        let carets = span.clamp(1, (width - start).max(1));
        out.push_str(&format!(
            "  {gutter} | {}{}\n",
            " ".repeat(start as usize),
            "^".repeat(carets as usize)
        ));
    }
    out
}

/// The lines of the files diagnostics point into, each file read once.
#[derive(Default)]
pub struct Sources {
    files: HashMap<Arc<str>, Option<Vec<String>>>,
}

impl Sources {
    fn line(&mut self, location: &Location) -> Option<String> {
        let lines = self
            .files
            .entry(Arc::clone(&location.file))
            .or_insert_with(|| {
                std::fs::read_to_string(&*location.file)
                    .ok()
                    .map(|text| text.lines().map(str::to_owned).collect())
            });
        let index = usize::try_from(location.line.checked_sub(1)?).ok()?;
        lines.as_ref()?.get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fetch_env_core::DiagnosticKind;

    fn at(file: &str, line: u64, column: u64) -> Location {
        Location::new(&Arc::from(file), line, column)
    }

    #[test]
    fn a_located_error_shows_its_line_and_carets_under_the_span() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars.yaml");
        std::fs::write(&path, "variables:\n  - name: B\n    required: maybe\n").unwrap();
        let file = path.display().to_string();
        let diagnostic = Diagnostic::error(DiagnosticKind::Manifest, "`required` must be true")
            .at(at(&file, 3, 15))
            .spanning(5)
            .showing_source(true)
            .with_help("write true or false");
        assert_eq!(
            render(&diagnostic, &mut Sources::default()),
            format!(
                "{file}:3:15: error: `required` must be true\n  3 |     required: maybe\n    |               ^^^^^\nhelp: write true or false\n"
            )
        );
    }

    #[test]
    fn a_line_that_may_hold_a_secret_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.env");
        std::fs::write(&path, "PASSWORD=s3cr3t\n").unwrap();
        let file = path.display().to_string();
        let diagnostic =
            Diagnostic::error(DiagnosticKind::Bootstrap, "bad value").at(at(&file, 1, 10));
        let text = render(&diagnostic, &mut Sources::default());
        assert_eq!(text, format!("{file}:1:10: error: bad value\n"));
    }

    #[test]
    fn every_text_is_sanitized_at_the_one_place_that_renders() {
        let diagnostic = Diagnostic::warning(DiagnosticKind::Backend, "key \u{1b}[2J")
            .also_at(at("f\u{7}", 2, 1), "first \u{1b}here")
            .with_help("\u{1b}]0;title\u{7}");
        let text = render(&diagnostic, &mut Sources::default());
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.starts_with("warning: key \\u{1b}[2J\n"), "{text}");
        assert!(
            text.contains("f\\u{7}:2:1: note: first \\u{1b}here\n"),
            "{text}"
        );
    }
}
