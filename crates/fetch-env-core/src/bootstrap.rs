//! The bootstrap file (`/opt/deployment/.env`), parsed as the shell-sourceable subset of dotenv.
//!
//! The same file is `source`d by the host's init script (bash), so every value must read the same
//! in bash and here. Anything a shell would evaluate (`$(…)`, backticks, `$VAR`, an unquoted
//! space, shell operators) is an error rather than a guess. Inside double quotes only the
//! escapes bash honours there are read (`\"`, `\\`, `\$`, `` \` ``); any other backslash, `\n`
//! included (bash keeps it as a backslash and an `n`), is an error too, and so is a carriage
//! return outside a comment (bash keeps it in the value). Nothing is ever executed.
//! `crates/fetch-env/tests/bootstrap_bash.rs` holds the parser to this: on random files, on every
//! piece of their grammar and on every case in `bootstrap/cases.rs` it must refuse the file or
//! agree with bash byte for byte.
//!
//! The file may hold credentials (`AWS_SECRET_ACCESS_KEY`), so an error names the line number
//! and the key, never the text of the line.

use std::path::Path;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::env_name::EnvName;
use crate::secret_value::SecretValue;

/// One `KEY=value` assignment.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: SecretValue,
    line: u64,
}

/// A parsed bootstrap file. Later assignments of the same key win, as in a shell.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    path: Arc<str>,
    entries: Vec<Entry>,
}

/// Why a bootstrap file could not be read; `line` is 1-based, 0 for the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", location(path, *line))]
pub struct BootstrapError {
    pub path: Arc<str>,
    pub line: u64,
    pub message: String,
    /// What to write instead, where the parser knows.
    pub help: Option<String>,
}

fn location(path: &str, line: u64) -> String {
    if line == 0 {
        path.to_owned()
    } else {
        format!("{path}:{line}")
    }
}

impl Bootstrap {
    /// A bootstrap with no assignments (no `--bootstrap` given).
    pub fn empty() -> Self {
        Self {
            path: Arc::from("(no bootstrap file)"),
            entries: Vec::new(),
        }
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<Self, BootstrapError> {
        let name: Arc<str> = Arc::from(path.display().to_string());
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| BootstrapError {
            path: Arc::clone(&name),
            line: 0,
            message: format!("cannot read the bootstrap file: {e}"),
            help: None,
        })?);
        Self::parse(name, &bytes)
    }

    /// Parses `bytes`, naming `path` in errors.
    pub fn parse(path: Arc<str>, bytes: &[u8]) -> Result<Self, BootstrapError> {
        let fail = |line: u64, message: String| BootstrapError {
            path: Arc::clone(&path),
            line,
            message,
            help: None,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = crate::yaml::invalid_utf8_line(bytes, &e);
            fail(line, "the file is not valid UTF-8".into())
        })?;
        if let Some(at) = text.find('\0') {
            return Err(fail(
                line_of(&text.as_bytes()[..at]),
                "the file contains a NUL byte".into(),
            ));
        }
        // CRLF line ends are accepted (SPEC 2.1) and read as LF; bash would keep each carriage
        // return in its value. Any other carriage return is refused by the parser.
        let text = Zeroizing::new(text.replace("\r\n", "\n"));
        let chars: Zeroizing<Vec<char>> = Zeroizing::new(text.chars().collect());
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
            line: 1,
        };
        let mut entries = Vec::new();
        while let Some(entry) = parser.next_entry().map_err(|refusal| BootstrapError {
            help: refusal.help.map(str::to_owned),
            ..fail(refusal.line, refusal.message)
        })? {
            entries.push(entry);
        }
        Ok(Self { path, entries })
    }

    /// The last value assigned to `key`, with its line number.
    pub fn get(&self, key: &str) -> Option<(&SecretValue, u64)> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| (&e.value, e.line))
    }

    /// The file this was read from.
    pub fn path(&self) -> &Arc<str> {
        &self.path
    }

    /// Every key assigned, in file order, each once.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for entry in &self.entries {
            if !keys.contains(&entry.key.as_str()) {
                keys.push(&entry.key);
            }
        }
        keys
    }
}

fn line_of(prefix: &[u8]) -> u64 {
    1 + prefix.iter().filter(|&&b| b == b'\n').count() as u64
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    line: u64,
}

type ParseResult<T> = Result<T, Refusal>;

/// Why the parser refused a line: the line, what is wrong, and what to write instead.
struct Refusal {
    line: u64,
    message: String,
    help: Option<&'static str>,
}

fn refuse(line: u64, message: String) -> Refusal {
    Refusal {
        line,
        message,
        help: None,
    }
}

impl Refusal {
    fn with_help(self, help: &'static str) -> Self {
        Self {
            help: Some(help),
            ..self
        }
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn skip_to_line_end(&mut self) {
        while !matches!(self.peek(), None | Some('\n')) {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn next_entry(&mut self) -> ParseResult<Option<Entry>> {
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Ok(None),
                Some('\n') => {
                    self.bump();
                }
                Some('#') => self.skip_to_line_end(),
                Some('\r') => return Err(refuse(self.line, carriage_return(None))),
                Some(_) => break,
            }
        }
        let line = self.line;
        let mut key = self.word();
        let exported = key == "export" && matches!(self.peek(), Some(' ' | '\t'));
        if exported {
            self.skip_blanks();
            key = self.word();
        }
        // The rest of the key-like token, so that `AWS-KEY=x` is reported as a bad key rather
        // than as a missing `=`.
        let mut token = key.clone();
        while let Some(c) = self
            .peek()
            .filter(|c| !matches!(c, '=' | ' ' | '\t' | '\n' | '\r'))
        {
            token.push(c);
            self.pos += 1;
        }
        if self.peek() == Some('\r') {
            return Err(refuse(line, carriage_return(None)));
        }
        if self.peek() != Some('=') {
            // The line is not shown: without an `=` it may be a bare credential.
            self.skip_blanks();
            return Err(if self.peek() == Some('=') {
                refuse(
                    line,
                    "spaces around '=': a shell would run a command".into(),
                )
            } else {
                refuse(line, "expected KEY=value".into())
            });
        }
        if let Err(e) = EnvName::new(&token) {
            return Err(refuse(line, format!("invalid key: {e}")));
        }
        self.bump();
        let value = self.value(&key, exported)?;
        self.end_of_assignment(&key)?;
        Ok(Some(Entry {
            key,
            value: SecretValue::new(value.to_string()),
            line,
        }))
    }

    /// The value after `=`; `exported` when the line starts with `export `, where bash also
    /// brace-expands the assignment.
    fn value(&mut self, key: &str, exported: bool) -> ParseResult<Zeroizing<String>> {
        let line = self.line;
        match self.peek() {
            None | Some('\n') => Ok(Zeroizing::new(String::new())),
            Some(' ' | '\t') => {
                self.skip_blanks();
                if matches!(self.peek(), None | Some('\n' | '#')) {
                    Ok(Zeroizing::new(String::new()))
                } else if self.peek() == Some('\r') {
                    Err(refuse(line, carriage_return(Some(key))))
                } else {
                    Err(refuse(
                        line,
                        format!(
                            "space after '=' in {key}: a shell would set it empty and run the rest as a command; quote the value"
                        ),
                    ))
                }
            }
            Some('\'') => self.single_quoted(key),
            Some('"') => self.double_quoted(key),
            Some(_) => self.unquoted(key, exported),
        }
    }

    fn single_quoted(&mut self, key: &str) -> ParseResult<Zeroizing<String>> {
        let line = self.line;
        self.bump();
        let mut out = Zeroizing::new(String::new());
        loop {
            let here = self.line;
            match self.bump() {
                None => {
                    return Err(refuse(
                        line,
                        format!("the single quote opening the value of {key} is never closed"),
                    ));
                }
                Some('\'') => return Ok(out),
                Some('\r') => return Err(refuse(here, carriage_return(Some(key)))),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self, key: &str) -> ParseResult<Zeroizing<String>> {
        let line = self.line;
        self.bump();
        let mut out = Zeroizing::new(String::new());
        loop {
            let here = self.line;
            match self.bump() {
                None => {
                    return Err(refuse(
                        line,
                        format!("the double quote opening the value of {key} is never closed"),
                    ));
                }
                Some('"') => return Ok(out),
                Some('\r') => return Err(refuse(here, carriage_return(Some(key)))),
                // Only the escapes bash honours inside double quotes; any other backslash
                // bash either keeps (`\n`, `\t`) or removes with the line break after it.
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('$') => out.push('$'),
                    Some('`') => out.push('`'),
                    Some('n') => {
                        return Err(refuse(
                            here,
                            format!(
                                "the escape \\n in the double-quoted value of {key}: bash keeps it as a backslash and an n, not a newline"
                            ),
                        )
                        .with_help(
                            "write a real newline inside the quotes, or use single quotes for a literal backslash-n",
                        ));
                    }
                    Some('\n') => {
                        return Err(refuse(
                            here,
                            format!(
                                "a backslash at the end of a line inside the double-quoted value of {key}: bash drops it and the line break, joining the lines"
                            ),
                        )
                        .with_help("join the lines in the file, or use single quotes to keep both"));
                    }
                    _ => {
                        return Err(refuse(
                            here,
                            format!(
                                "unsupported backslash escape in the value of {key}: bash would keep the backslash (supported: \\\" \\\\ \\$ \\`)"
                            ),
                        ));
                    }
                },
                Some('`') => return Err(refuse(here, command_substitution(key))),
                Some('$') => {
                    self.check_dollar(key, here)?;
                    out.push('$');
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn unquoted(&mut self, key: &str, exported: bool) -> ParseResult<Zeroizing<String>> {
        let line = self.line;
        let mut out = Zeroizing::new(String::new());
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' => break,
                '\r' => return Err(refuse(line, carriage_return(Some(key)))),
                // `export A={a,b}` is the command `export A=a A=b` to bash; a plain assignment
                // is not brace-expanded.
                '{' if exported => {
                    return Err(refuse(
                        line,
                        format!(
                            "an unquoted '{{' in the value of {key} after `export`: bash would brace-expand it ({{a,b}} becomes two words); quote the value"
                        ),
                    ));
                }
                '`' => return Err(refuse(line, command_substitution(key))),
                '$' => {
                    self.pos += 1;
                    self.check_dollar(key, line)?;
                    out.push('$');
                    continue;
                }
                '\'' | '"' => {
                    return Err(refuse(
                        line,
                        format!(
                            "a quote inside the unquoted value of {key}: quote the whole value instead"
                        ),
                    ));
                }
                '\\' => {
                    return Err(refuse(
                        line,
                        format!(
                            "a backslash in the unquoted value of {key}: a shell would drop it; use single quotes"
                        ),
                    ));
                }
                ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                    return Err(refuse(
                        line,
                        format!(
                            "the shell operator '{c}' in the unquoted value of {key}: quote the value"
                        ),
                    ));
                }
                '~' if out.is_empty() || out.ends_with(':') => {
                    return Err(refuse(
                        line,
                        format!(
                            "an unquoted '~' in the value of {key}: a shell would expand it to a home directory; quote the value"
                        ),
                    ));
                }
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        Ok(out)
    }

    /// Called after a `$` was consumed: fails when a shell would expand what follows.
    fn check_dollar(&self, key: &str, line: u64) -> ParseResult<()> {
        match self.peek() {
            Some('(') => Err(refuse(line, command_substitution(key))),
            Some(c)
                // `$[…]` is bash's old spelling of `$((…))`.
                if c.is_ascii_alphanumeric()
                    || matches!(c, '_' | '{' | '[' | '@' | '*' | '#' | '?' | '$' | '!' | '-') =>
            {
                Err(refuse(
                    line,
                    format!(
                        "a '$' expansion in the value of {key}: a shell would substitute it; use single quotes or \\$"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    fn end_of_assignment(&mut self, key: &str) -> ParseResult<()> {
        let line = self.line;
        let had_blank = matches!(self.peek(), Some(' ' | '\t'));
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some('\n') => {
                self.bump();
                Ok(())
            }
            Some('\r') => Err(refuse(line, carriage_return(Some(key)))),
            Some('#') if had_blank => {
                self.skip_to_line_end();
                Ok(())
            }
            Some(_) if had_blank && self.peek_at(0).is_some() => Err(refuse(
                line,
                format!(
                    "text after the value of {key}: an unquoted value cannot contain spaces; quote it"
                ),
            )),
            Some(_) => Err(refuse(
                line,
                format!(
                    "text joined to the quoted value of {key}: quote the whole value as one string"
                ),
            )),
        }
    }
}

/// A carriage return outside a comment: bash reads it as an ordinary character, so it stays in the
/// value (`A=x` then CRLF gives `x\r`) or is run as a command (a blank CRLF line). A file saved
/// with Windows line ends is therefore refused at its first line that is not a comment.
fn carriage_return(key: Option<&str>) -> String {
    let what = match key {
        Some(key) => format!("in the value of {key}, or after it"),
        None => "where a key should start".to_owned(),
    };
    format!(
        "a carriage return {what}: bash keeps it as part of the line (a Windows line end?); save the file with LF line ends"
    )
}

fn command_substitution(key: &str) -> String {
    format!("command substitution in the value of {key}: fetch-env never runs commands")
}

#[cfg(test)]
mod cases;

#[cfg(test)]
mod tests {
    use super::cases::{self, Accepted, Refused};
    use super::*;

    fn parse(text: &[u8]) -> Result<Bootstrap, BootstrapError> {
        Bootstrap::parse(Arc::from("b.env"), text)
    }

    fn value(b: &Bootstrap, key: &str) -> String {
        b.get(key).map(|(v, _)| v.expose().to_owned()).unwrap()
    }

    fn assert_accepted(case: &Accepted) -> Bootstrap {
        let b = parse(case.text.as_bytes()).unwrap_or_else(|e| panic!("{:?}: {e}", case.text));
        for (key, expected) in case.values {
            assert_eq!(value(&b, key), *expected, "{key} in {:?}", case.text);
        }
        b
    }

    fn assert_refused(case: &Refused) {
        let err = parse(case.text).unwrap_err();
        assert_eq!(err.line, case.line, "{:?}: {err}", case.text);
        assert!(err.message.contains(case.needle), "{:?}: {err}", case.text);
        assert!(
            err.to_string()
                .starts_with(&format!("b.env:{}: ", case.line)),
            "{err}"
        );
    }

    #[test]
    fn parses_the_supported_subset() {
        let b = assert_accepted(&cases::SUPPORTED_SUBSET);
        assert_eq!(b.get("F").unwrap().1, 8);
        assert_eq!(b.get("G").unwrap().1, 10);
        assert_eq!(
            b.keys(),
            vec!["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"]
        );
    }

    #[test]
    fn rejects_what_a_shell_would_read_differently() {
        for case in cases::REFUSED {
            assert_refused(case);
        }
    }

    #[test]
    fn errors_never_show_the_line() {
        let err = parse(b"AWS_SECRET_ACCESS_KEY=abc def-SECRET\n").unwrap_err();
        assert!(!err.to_string().contains("SECRET\n"));
        assert!(!err.to_string().contains("def-SECRET"));
        assert!(err.to_string().starts_with("b.env:1: "));
        let err = parse(cases::BACKSLASH_N_IN_DOUBLE_QUOTES.text).unwrap_err();
        assert!(!err.to_string().contains("CANARY"), "{err}");
    }

    #[test]
    fn backslash_n_in_double_quotes_is_refused_because_bash_keeps_it() {
        assert_refused(&cases::BACKSLASH_N_IN_DOUBLE_QUOTES);
        let err = parse(cases::BACKSLASH_N_IN_DOUBLE_QUOTES.text).unwrap_err();
        assert!(err.message.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
        assert_eq!(
            err.help.as_deref(),
            Some(
                "write a real newline inside the quotes, or use single quotes for a literal backslash-n"
            )
        );
    }

    #[test]
    fn backslash_newline_in_double_quotes_is_refused_because_bash_joins_the_lines() {
        assert_refused(&cases::BACKSLASH_NEWLINE_IN_DOUBLE_QUOTES);
    }

    #[test]
    fn every_accepted_case_gives_its_values() {
        for case in cases::ACCEPTED {
            assert_accepted(case);
        }
    }

    #[test]
    fn crlf_line_ends_are_read_as_lf_and_a_lone_carriage_return_is_refused() {
        assert_accepted(&cases::CRLF_LINE_ENDS);
        assert_accepted(&cases::CARRIAGE_RETURNS_IN_COMMENTS);
        assert_refused(&cases::LONE_CARRIAGE_RETURN);
        assert_refused(&cases::LONE_CARRIAGE_RETURN_BEFORE_A_KEY);
    }

    #[test]
    fn brace_expansion_after_export_is_refused_because_bash_expands_it() {
        assert_refused(&cases::BRACE_EXPANSION_AFTER_EXPORT);
    }

    #[test]
    fn dollar_bracket_is_refused_because_bash_evaluates_it_as_arithmetic() {
        assert_refused(&cases::DOLLAR_BRACKET_ARITHMETIC);
    }
}
