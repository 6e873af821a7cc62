//! A resolved value, and whether a person may see it.
//!
//! Secrecy is a property of the value, set where the value is made and carried by every value
//! made from it, never recomputed by a pass over a table afterwards. A value is secret when its
//! variable is `sensitive`, when it came from a place meant for secrets (a SecureString, a
//! Secrets Manager bundle, an `arn_from` secret), or when it was composed from any secret input,
//! however far down the chain. A secret value can never become public again: there is no call
//! that lowers it. [`Value::shown`] is the one way a value reaches human-facing output (`explain`,
//! messages), and it gives nothing for a secret.

use std::fmt;

use crate::secret_value::SecretValue;

/// The value of a variable after resolution.
#[derive(Clone, PartialEq, Eq)]
pub struct Value {
    text: SecretValue,
    secret: bool,
}

impl Value {
    /// A value that a person may see (unless something marks it secret later).
    pub fn public(text: SecretValue) -> Self {
        Self {
            text,
            secret: false,
        }
    }

    /// A value that no person may see.
    pub fn secret(text: SecretValue) -> Self {
        Self { text, secret: true }
    }

    /// This value, secret when `secret` is `true`; a secret value stays secret either way.
    pub fn secret_if(self, secret: bool) -> Self {
        Self {
            secret: self.secret || secret,
            ..self
        }
    }

    /// A value made from `inputs`: secret when any input is.
    pub fn derived<'a>(text: SecretValue, inputs: impl IntoIterator<Item = &'a Value>) -> Self {
        let secret = inputs.into_iter().any(Value::is_secret);
        Self { text, secret }
    }

    /// `true` when no person may see this value.
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// The text, for human-facing output: `None` for a secret. The only way a value reaches
    /// `explain`, a warning or an error.
    pub fn shown(&self) -> Option<&str> {
        (!self.secret).then(|| self.text.expose())
    }

    /// The text, for the outputs that carry values (stdout export, a child's environment, an
    /// explicit file) and for inspecting it (emptiness, comparisons). Never for a message.
    pub fn expose(&self) -> &str {
        self.text.expose()
    }

    /// The text as the memory type the outputs take.
    pub fn text(&self) -> &SecretValue {
        &self.text
    }

    /// `true` for the empty string, which counts as "no value" everywhere in resolution.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Even a public value stays out of `Debug`: a Debug print is not a place a value is
        // meant to reach.
        f.write_str(if self.secret {
            "Value(secret, [REDACTED])"
        } else {
            "Value(public, [REDACTED])"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_never_shown_and_never_lowered() {
        let secret = Value::secret(SecretValue::from("hunter2"));
        assert_eq!(secret.shown(), None);
        assert!(secret.clone().secret_if(false).is_secret());
        assert_eq!(secret.expose(), "hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn a_value_derived_from_any_secret_is_secret() {
        let public = Value::public(SecretValue::from("plain-7"));
        let secret = Value::secret(SecretValue::from("hunter2"));
        assert!(!Value::derived(SecretValue::from("x"), [&public]).is_secret());
        assert!(Value::derived(SecretValue::from("x"), [&public, &secret]).is_secret());
        assert_eq!(public.shown(), Some("plain-7"));
        assert!(!format!("{public:?}").contains("plain-7"));
    }
}
