//! The one type secret material travels in.
//!
//! Every value that came from the bootstrap file or a store is a [`SecretValue`], whether or not
//! the manifest marks it sensitive: an SSM `String` parameter declared non-sensitive today may
//! hold a password tomorrow. `Debug` and `Display` print `[REDACTED]`; the memory is zeroed when
//! the value is dropped. Reading the text is an explicit [`SecretValue::expose`] call, made only
//! where a value must leave the process (rendered output, a child's environment, an explicit file)
//! or must be inspected (emptiness, JSON parsing, templates).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A value that must never reach a log, an error message or a `Debug` print.
#[derive(Clone)]
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Takes ownership of `text`; the allocation is zeroed when the value is dropped.
    pub fn new(text: String) -> Self {
        Self(SecretString::from(text))
    }

    /// The text itself. Callers must not put it in a message.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `true` for the empty string, which counts as "no value" everywhere in resolution.
    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl From<&str> for SecretValue {
    fn from(text: &str) -> Self {
        Self::new(text.to_owned())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretValue {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let value = SecretValue::from("hunter2");
        assert_eq!(format!("{value:?}"), "[REDACTED]");
        assert_eq!(format!("{value}"), "[REDACTED]");
        assert_eq!(format!("{:?}", Some(value.clone())), "Some([REDACTED])");
        assert_eq!(value.expose(), "hunter2");
    }
}
