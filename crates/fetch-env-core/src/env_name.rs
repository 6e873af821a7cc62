//! Environment variable names, validated once.

use std::fmt;

/// A legal environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvName(String);

/// The text that was offered as a name, and why it is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidEnvName {
    pub reason: &'static str,
}

impl EnvName {
    /// Validates `text` as a name.
    pub fn new(text: &str) -> Result<Self, InvalidEnvName> {
        if Self::is_valid(text) {
            Ok(Self(text.to_owned()))
        } else if text.is_empty() {
            Err(InvalidEnvName {
                reason: "a name cannot be empty",
            })
        } else if text.as_bytes()[0].is_ascii_digit() {
            Err(InvalidEnvName {
                reason: "a name cannot start with a digit",
            })
        } else {
            Err(InvalidEnvName {
                reason: "a name may only contain A-Z, a-z, 0-9 and _",
            })
        }
    }

    /// `true` when `text` matches `[A-Za-z_][A-Za-z0-9_]*`.
    pub fn is_valid(text: &str) -> bool {
        let mut bytes = text.bytes();
        match bytes.next() {
            Some(first) if first.is_ascii_alphabetic() || first == b'_' => {}
            _ => return false,
        }
        bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for EnvName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects_names() {
        for good in ["A", "_", "DATABASE_URL", "a1_b2"] {
            assert!(EnvName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "É", "A.B"] {
            assert!(EnvName::new(bad).is_err(), "{bad}");
        }
    }
}
