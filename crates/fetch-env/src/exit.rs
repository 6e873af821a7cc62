//! Exit codes and the one place errors become text on stderr.

use std::fmt;

use fetch_env_core::{Diagnostic, DiagnosticKind, IntoDiagnostics};
use std::process::ExitCode;

/// fetch-env's exit codes (`run` passes its command's status through instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A required value is missing, a secret or key does not exist, a secret is not the JSON it
    /// should be, a template input is unset.
    ResolutionFailed,
    /// Bad command line, or an invalid manifest, bootstrap, store or compose file.
    Usage,
    /// The backend could not be used: unreachable, timed out, access denied, throttled.
    Backend,
    /// `changed --exit-code`: something changed since the record was written.
    Changed,
    /// `run`: the command could not be executed (as in a shell).
    CommandNotExecutable,
    /// `run`: the command was not found (as in a shell).
    CommandNotFound,
    /// `restart` (recording): compose's own status, passed through.
    Child(u8),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::ResolutionFailed => 1,
            Exit::Usage => 2,
            Exit::Backend => 3,
            Exit::Changed => 10,
            Exit::CommandNotExecutable => 126,
            Exit::CommandNotFound => 127,
            Exit::Child(code) => code,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// An error on its way to stderr, with the exit code it causes. Its diagnostics never hold a
/// value; they are rendered (and sanitized) by [`crate::diagnostics`].
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub diagnostics: Vec<Diagnostic>,
}

impl Failure {
    /// A failure with one unlocated error per line of `message`.
    pub fn new(exit: Exit, message: impl fmt::Display) -> Self {
        let kind = match exit {
            Exit::Backend => DiagnosticKind::Backend,
            Exit::ResolutionFailed => DiagnosticKind::Resolution,
            _ => DiagnosticKind::Usage,
        };
        Self {
            exit,
            diagnostics: message
                .to_string()
                .lines()
                .map(|line| Diagnostic::error(kind, line))
                .collect(),
        }
    }

    pub fn usage(message: impl fmt::Display) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// A failure reporting the located problems of an input.
    pub fn problems(exit: Exit, problems: impl IntoDiagnostics) -> Self {
        Self {
            exit,
            diagnostics: problems.into_diagnostics(),
        }
    }

    /// An invalid input file or setting (exit 2), with its located problems.
    pub fn invalid(problems: impl IntoDiagnostics) -> Self {
        Self::problems(Exit::Usage, problems)
    }
}

/// Prints the failure's diagnostics to stderr.
pub fn report(failure: &Failure) {
    crate::diagnostics::emit(&failure.diagnostics);
}

/// A line of information on stderr (`fetch-env: would run: …`, `--verbose` figures), made safe
/// for a terminal as diagnostics are.
pub fn info(line: &str) {
    eprintln_line(&format!("fetch-env: {}", fetch_env_core::sanitize(line)));
}

/// One line to stderr; a closed stderr is not worth dying over.
pub fn eprintln_line(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes `text` to stdout. A reader that went away is not an error worth a message (as with
/// ripgrep); any other failure to write is.
pub fn print(text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::usage(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
