//! Where something was written: a file, a line and a column.

use std::fmt;
use std::sync::Arc;

/// A position in an input file, 1-based. `column == 0` means "the whole line".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u64,
    pub column: u64,
}

impl Location {
    pub fn new(file: &Arc<str>, line: u64, column: u64) -> Self {
        Self {
            file: Arc::clone(file),
            line,
            column,
        }
    }

    /// A location from a serde-saphyr span; YAML locations are 1-based already.
    pub(crate) fn from_yaml(file: &Arc<str>, location: &serde_saphyr::Location) -> Self {
        Self::new(file, location.line(), location.column())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.file),
            (line, 0) => write!(f, "{}:{line}", self.file),
            (line, column) => write!(f, "{}:{line}:{column}", self.file),
        }
    }
}
