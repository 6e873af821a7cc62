//! One diagnostic type for every problem of outside input: the manifest, the bootstrap file,
//! the store file, compose files, secret JSON, settings and AWS answers.
//!
//! A diagnostic is data: a severity, a kind, a message, a primary location with the span it
//! covers, an optional secondary location (the other place of a duplicate), an optional help
//! line, and whether the source line at the primary location may be shown. It holds no secret
//! and is not yet safe for a terminal: the binary renders every diagnostic in one place, and
//! strips control characters from all of its text there, so no message built anywhere can
//! forget to.

use std::fmt;

use crate::location::Location;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// Which input or part of fetch-env a diagnostic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosticKind {
    /// `vars.yaml`.
    Manifest,
    /// The bootstrap file.
    Bootstrap,
    /// The file store.
    StoreFile,
    /// A compose file, read or cross-checked against the manifest.
    Compose,
    /// A setting (flag, environment, bootstrap file).
    Setting,
    /// An answer of AWS, or AWS not answering.
    Backend,
    /// Resolution: a missing value, drift.
    Resolution,
    /// The command line, or a file fetch-env was asked to write.
    Usage,
}

/// The other place a diagnostic concerns, with what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secondary {
    pub location: Location,
    pub label: String,
}

/// One problem, warning or note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub kind: DiagnosticKind,
    pub message: String,
    pub location: Option<Location>,
    /// Characters the problem covers from the location's column (0: a point).
    pub span: u64,
    pub secondary: Option<Secondary>,
    pub help: Option<String>,
    /// The source line at `location` may be shown: it holds nothing that could be a secret.
    /// Never set for bootstrap, store and compose lines.
    pub show_source: bool,
}

impl Diagnostic {
    pub fn new(severity: Severity, kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self {
            severity,
            kind,
            message: message.into(),
            location: None,
            span: 0,
            secondary: None,
            help: None,
            show_source: false,
        }
    }

    pub fn error(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, kind, message)
    }

    pub fn warning(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, kind, message)
    }

    pub fn note(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self::new(Severity::Note, kind, message)
    }

    /// Located at `location`; a location with line 0 is the whole file.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Covering `span` characters from the location's column.
    pub fn spanning(mut self, span: u64) -> Self {
        self.span = span;
        self
    }

    /// With the other place it concerns.
    pub fn also_at(mut self, location: Location, label: impl Into<String>) -> Self {
        self.secondary = Some(Secondary {
            location,
            label: label.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The source line at the location may be shown.
    pub fn showing_source(mut self, show: bool) -> Self {
        self.show_source = show;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `file:line:column: message`, or the message alone: the diagnostic without its severity,
/// source line and help, as tests and plain-text reports compare it. Not sanitized.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Anything that reports problems as diagnostics.
pub trait IntoDiagnostics {
    fn into_diagnostics(self) -> Vec<Diagnostic>;
}

impl IntoDiagnostics for Diagnostic {
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        vec![self]
    }
}

impl IntoDiagnostics for Vec<Diagnostic> {
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        self
    }
}

impl IntoDiagnostics for crate::bootstrap::BootstrapError {
    /// The bootstrap file may hold credentials: its lines are never shown.
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        let diagnostic = Diagnostic::error(DiagnosticKind::Bootstrap, self.message)
            .at(Location::new(&self.path, self.line, 0));
        vec![match self.help {
            Some(help) => diagnostic.with_help(help),
            None => diagnostic,
        }]
    }
}

impl IntoDiagnostics for crate::file_store::FileStoreError {
    /// A store file holds secrets: its lines are never shown.
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.problems
            .into_iter()
            .map(|(location, message)| {
                Diagnostic::error(DiagnosticKind::StoreFile, message).at(location)
            })
            .collect()
    }
}

impl IntoDiagnostics for crate::compose_file::ComposeError {
    /// A compose file may hold literal secrets in `environment`: its lines are never shown.
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        vec![Diagnostic::error(DiagnosticKind::Compose, self.message).at(self.location)]
    }
}
