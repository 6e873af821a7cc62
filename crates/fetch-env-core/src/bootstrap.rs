//! The bootstrap file (`/opt/deployment/.env`), parsed as the shell-sourceable subset of dotenv.
//!
//! The same file is `source`d by the host's init script, so every value must read the same in a
//! shell and here. Anything a shell would evaluate (`$(…)`, backticks, `$VAR`, an unquoted
//! space, shell operators) is an error rather than a guess. Nothing is ever executed.
//!
//! The file may hold credentials (`AWS_SECRET_ACCESS_KEY`), so an error names the line number
//! and the key, never the text of the line.

use std::fmt;
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
        })?);
        Self::parse(name, &bytes)
    }

    /// Parses `bytes`, naming `path` in errors.
    pub fn parse(path: Arc<str>, bytes: &[u8]) -> Result<Self, BootstrapError> {
        let fail = |line: u64, message: String| BootstrapError {
            path: Arc::clone(&path),
            line,
            message,
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
        let text = Zeroizing::new(text.replace("\r\n", "\n"));
        if let Some(at) = text.find('\r') {
            return Err(fail(
                line_of(&text.as_bytes()[..at]),
                "a carriage return that does not end the line (a shell would keep it in the value)"
                    .into(),
            ));
        }
        let chars: Zeroizing<Vec<char>> = Zeroizing::new(text.chars().collect());
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
            line: 1,
        };
        let mut entries = Vec::new();
        while let Some(entry) = parser.next_entry().map_err(|(line, m)| fail(line, m))? {
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

type ParseResult<T> = Result<T, (u64, String)>;

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
                Some(_) => break,
            }
        }
        let line = self.line;
        let mut key = self.word();
        if key == "export" && matches!(self.peek(), Some(' ' | '\t')) {
            self.skip_blanks();
            key = self.word();
        }
        // The rest of the key-like token, so that `AWS-KEY=x` is reported as a bad key rather
        // than as a missing `=`.
        let mut token = key.clone();
        while let Some(c) = self
            .peek()
            .filter(|c| !matches!(c, '=' | ' ' | '\t' | '\n'))
        {
            token.push(c);
            self.pos += 1;
        }
        if self.peek() != Some('=') {
            // The line is not shown: without an `=` it may be a bare credential.
            self.skip_blanks();
            return Err(if self.peek() == Some('=') {
                (
                    line,
                    "spaces around '=': a shell would run a command".into(),
                )
            } else {
                (line, "expected KEY=value".into())
            });
        }
        if let Err(e) = EnvName::new(&token) {
            return Err((line, format!("invalid key: {e}")));
        }
        self.bump();
        let value = self.value(&key)?;
        self.end_of_assignment(&key)?;
        Ok(Some(Entry {
            key,
            value: SecretValue::new(value.to_string()),
            line,
        }))
    }

    fn value(&mut self, key: &str) -> ParseResult<Zeroizing<String>> {
        let line = self.line;
        match self.peek() {
            None | Some('\n') => Ok(Zeroizing::new(String::new())),
            Some(' ' | '\t') => {
                self.skip_blanks();
                if matches!(self.peek(), None | Some('\n' | '#')) {
                    Ok(Zeroizing::new(String::new()))
                } else {
                    Err((
                        line,
                        format!(
                            "space after '=' in {key}: a shell would set it empty and run the rest as a command; quote the value"
                        ),
                    ))
                }
            }
            Some('\'') => self.single_quoted(key),
            Some('"') => self.double_quoted(key),
            Some(_) => self.unquoted(key),
        }
    }

    fn single_quoted(&mut self, key: &str) -> ParseResult<Zeroizing<String>> {
        let line = self.line;
        self.bump();
        let mut out = Zeroizing::new(String::new());
        loop {
            match self.bump() {
                None => {
                    return Err((
                        line,
                        format!("the single quote opening the value of {key} is never closed"),
                    ));
                }
                Some('\'') => return Ok(out),
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
                    return Err((
                        line,
                        format!("the double quote opening the value of {key} is never closed"),
                    ));
                }
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('$') => out.push('$'),
                    Some('`') => out.push('`'),
                    Some('n') => out.push('\n'),
                    _ => {
                        return Err((
                            here,
                            format!(
                                "unsupported backslash escape in the value of {key} (supported: \\\" \\\\ \\$ \\` \\n)"
                            ),
                        ));
                    }
                },
                Some('`') => return Err((here, command_substitution(key))),
                Some('$') => {
                    self.check_dollar(key, here)?;
                    out.push('$');
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn unquoted(&mut self, key: &str) -> ParseResult<Zeroizing<String>> {
        let line = self.line;
        let mut out = Zeroizing::new(String::new());
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' => break,
                '`' => return Err((line, command_substitution(key))),
                '$' => {
                    self.pos += 1;
                    self.check_dollar(key, line)?;
                    out.push('$');
                    continue;
                }
                '\'' | '"' => {
                    return Err((
                        line,
                        format!(
                            "a quote inside the unquoted value of {key}: quote the whole value instead"
                        ),
                    ));
                }
                '\\' => {
                    return Err((
                        line,
                        format!(
                            "a backslash in the unquoted value of {key}: a shell would drop it; use single quotes"
                        ),
                    ));
                }
                ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                    return Err((
                        line,
                        format!(
                            "the shell operator '{c}' in the unquoted value of {key}: quote the value"
                        ),
                    ));
                }
                '~' if out.is_empty() || out.ends_with(':') => {
                    return Err((
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
            Some('(') => Err((line, command_substitution(key))),
            Some(c)
                if c.is_ascii_alphanumeric()
                    || matches!(c, '_' | '{' | '@' | '*' | '#' | '?' | '$' | '!' | '-') =>
            {
                Err((
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
            Some('#') if had_blank => {
                self.skip_to_line_end();
                Ok(())
            }
            Some(_) if had_blank && self.peek_at(0).is_some() => Err((
                line,
                format!(
                    "text after the value of {key}: an unquoted value cannot contain spaces; quote it"
                ),
            )),
            Some(_) => Err((
                line,
                format!(
                    "text joined to the quoted value of {key}: quote the whole value as one string"
                ),
            )),
        }
    }
}

fn command_substitution(key: &str) -> String {
    format!("command substitution in the value of {key}: fetch-env never runs commands")
}

impl fmt::Display for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} assignments)", self.path, self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Bootstrap, BootstrapError> {
        Bootstrap::parse(Arc::from("b.env"), text.as_bytes())
    }

    fn value(b: &Bootstrap, key: &str) -> String {
        b.get(key).map(|(v, _)| v.expose().to_owned()).unwrap()
    }

    #[test]
    fn parses_the_supported_subset() {
        let b = parse(concat!(
            "# comment\n",
            "\n",
            "A=plain\n",
            "export B='single $x \"q\" `b`'\n",
            "C=\"dq \\\" \\\\ \\$ \\n end\"\n",
            "D=value # trailing comment\n",
            "E=\n",
            "F='multi\nline'\r\n",
            "G=a#b\r\n",
            "  H=arn:aws:secretsmanager:eu-central-1:1:secret:rds!cluster-x\n",
            "I=$ # a lone dollar is literal\n",
            "A=second\n",
        ))
        .unwrap();
        assert_eq!(value(&b, "A"), "second");
        assert_eq!(value(&b, "B"), "single $x \"q\" `b`");
        assert_eq!(value(&b, "C"), "dq \" \\ $ \n end");
        assert_eq!(value(&b, "D"), "value");
        assert_eq!(value(&b, "E"), "");
        assert_eq!(value(&b, "F"), "multi\nline");
        assert_eq!(value(&b, "G"), "a#b");
        assert_eq!(
            value(&b, "H"),
            "arn:aws:secretsmanager:eu-central-1:1:secret:rds!cluster-x"
        );
        assert_eq!(value(&b, "I"), "$");
        assert_eq!(b.get("F").unwrap().1, 8);
        assert_eq!(b.get("G").unwrap().1, 10);
        assert_eq!(b.keys(), vec!["A", "B", "C", "D", "E", "F", "G", "H", "I"]);
    }

    #[test]
    fn rejects_what_a_shell_would_read_differently() {
        let cases: &[(&str, u64, &str)] = &[
            ("A=$(id)\n", 1, "command substitution"),
            ("\nA=`id`\n", 2, "command substitution"),
            ("A=\"x $(id)\"\n", 1, "command substitution"),
            ("A=$HOME\n", 1, "'$' expansion"),
            ("A=\"${HOME}\"\n", 1, "'$' expansion"),
            ("A=two words\n", 1, "cannot contain spaces"),
            ("A= value\n", 1, "space after '='"),
            ("A = b\n", 1, "spaces around '='"),
            ("1A=b\n", 1, "invalid key"),
            ("A-B=c\n", 1, "invalid key: a name may only contain"),
            ("just text\n", 1, "expected KEY=value"),
            ("hunter2\n", 1, "expected KEY=value"),
            ("A='open\n", 1, "never closed"),
            ("A=\"open\n", 1, "never closed"),
            ("A='x'y\n", 1, "joined"),
            ("A=x;y\n", 1, "shell operator"),
            ("A=~/x\n", 1, "'~'"),
            ("A=a\\b\n", 1, "backslash"),
            ("A=\"\\q\"\n", 1, "unsupported backslash escape"),
            ("A=ab'c'\n", 1, "quote inside"),
            ("A=1\rB=2\n", 1, "carriage return"),
        ];
        for (text, line, needle) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, *line, "{text:?}: {err}");
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn errors_never_show_the_line() {
        let err = parse("AWS_SECRET_ACCESS_KEY=abc def-SECRET\n").unwrap_err();
        assert!(!err.to_string().contains("SECRET\n"));
        assert!(!err.to_string().contains("def-SECRET"));
        assert!(err.to_string().starts_with("b.env:1: "));
    }

    #[test]
    fn non_utf8_and_nul_are_located() {
        let err = Bootstrap::parse(Arc::from("b"), b"A=1\nB=\xff\n").unwrap_err();
        assert_eq!(
            (err.line, err.message.as_str()),
            (2, "the file is not valid UTF-8")
        );
        let err = Bootstrap::parse(Arc::from("b"), b"A=1\n\nB=\0\n").unwrap_err();
        assert_eq!(err.line, 3);
    }
}
