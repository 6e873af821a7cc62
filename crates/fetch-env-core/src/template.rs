//! `compose.template`: text with `${NAME}` placeholders.
//!
//! A template is parsed once, at manifest validation, into literal text and placeholders; it is
//! rendered by substituting values into that structure, so a substituted value is never scanned
//! again (a password containing `${X}` stays exactly that). `$${` is a literal `${`; a `$` that
//! does not start `${` is a literal `$`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::env_name::EnvName;
use crate::secret_value::SecretValue;
use crate::value::Value;

/// Everything outside RFC 3986 "unreserved" (`A-Z a-z 0-9 - . _ ~`) is percent-encoded.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes every byte of the UTF-8 `text` outside the RFC 3986 unreserved set, with
/// upper-case hex digits.
pub fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(EnvName),
}

/// A parsed `compose.template`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

/// Why a template could not be parsed; `offset` is the character offset in the template.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`${{` at character {offset} is never closed by `}}`")]
    Unclosed { offset: usize },
    #[error("`${{{text}}}` at character {offset} is not a variable name ({reason})")]
    BadName {
        offset: usize,
        text: String,
        reason: &'static str,
    },
}

impl Template {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(dollar) = rest.find('$') {
            literal.push_str(&rest[..dollar]);
            offset += rest[..dollar].chars().count();
            let after = &rest[dollar..];
            if let Some(after_literal) = after.strip_prefix("$${") {
                literal.push_str("${");
                rest = after_literal;
                offset += 3;
            } else if let Some(body) = after.strip_prefix("${") {
                let close = body.find('}').ok_or(TemplateError::Unclosed { offset })?;
                let name_text = &body[..close];
                let name = EnvName::new(name_text).map_err(|e| TemplateError::BadName {
                    offset,
                    text: name_text.to_owned(),
                    reason: e.reason,
                })?;
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Placeholder(name));
                offset += 3 + name_text.chars().count();
                rest = &body[close + 1..];
            } else {
                literal.push('$');
                rest = &after[1..];
                offset += 1;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Self { segments })
    }

    /// The placeholders in order of first appearance, each once.
    pub fn placeholders(&self) -> Vec<&EnvName> {
        let mut names: Vec<&EnvName> = Vec::new();
        for segment in &self.segments {
            if let Segment::Placeholder(name) = segment
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
        names
    }

    /// Substitutes every placeholder with `value(name)`, percent-encoded when `encode(name)`.
    /// Returns the first placeholder whose value is missing as `Err`.
    pub fn render<'v>(
        &self,
        mut value: impl FnMut(&EnvName) -> Option<&'v str>,
        encode: impl Fn(&EnvName) -> bool,
    ) -> Result<Zeroizing<String>, EnvName> {
        let mut out = Zeroizing::new(String::new());
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Placeholder(name) => {
                    let text = value(name).ok_or_else(|| name.clone())?;
                    if encode(name) {
                        let encoded = Zeroizing::new(percent_encode(text));
                        out.push_str(&encoded);
                    } else {
                        out.push_str(text);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The value of this template over `value(name)`: rendered as [`Template::render`] does,
    /// and secret when any input is, so that no caller can forget to mask a value built from a
    /// secret.
    pub fn compose<'v>(
        &self,
        mut value: impl FnMut(&EnvName) -> Option<&'v Value>,
        encode: impl Fn(&EnvName) -> bool,
    ) -> Result<Value, EnvName> {
        let mut inputs: Vec<&'v Value> = Vec::new();
        let text = self.render(
            |name| {
                let input = value(name)?;
                inputs.push(input);
                Some(input.expose())
            },
            encode,
        )?;
        Ok(Value::derived(SecretValue::new(text.to_string()), inputs))
    }

    /// `true` when the literal text of the template contains `needle` (used by `check` to find
    /// hard-coded settings such as `sslmode=`).
    pub fn literal_contains(&self, needle: &str) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Literal(text) if text.contains(needle)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> EnvName {
        EnvName::new(text).unwrap()
    }

    #[test]
    fn parses_placeholders_and_literal_dollars() {
        let t = Template::parse("a${X}b$${Y}c$d${X}").unwrap();
        assert_eq!(t.placeholders(), vec![&name("X")]);
        let out = t.render(|_| Some("v"), |_| false).unwrap();
        assert_eq!(out.as_str(), "avb${Y}c$dv");
    }

    #[test]
    fn substituted_values_are_not_rescanned() {
        let t = Template::parse("${A}-${B}").unwrap();
        let out = t
            .render(
                |n| Some(if n.as_str() == "A" { "${B}" } else { "b" }),
                |_| false,
            )
            .unwrap();
        assert_eq!(out.as_str(), "${B}-b");
    }

    #[test]
    fn reports_bad_templates() {
        assert_eq!(
            Template::parse("x${A"),
            Err(TemplateError::Unclosed { offset: 1 })
        );
        assert!(matches!(
            Template::parse("${A-B}"),
            Err(TemplateError::BadName { .. })
        ));
        assert!(matches!(
            Template::parse("${}"),
            Err(TemplateError::BadName { .. })
        ));
    }

    #[test]
    fn missing_input_is_named() {
        let t = Template::parse("${A}${B}").unwrap();
        let err = t
            .render(|n| (n.as_str() == "A").then_some("a"), |_| false)
            .unwrap_err();
        assert_eq!(err.as_str(), "B");
    }

    #[test]
    fn encodes_everything_outside_unreserved() {
        assert_eq!(
            percent_encode("aZ09-._~@:/?#[]&=+% '\"é"),
            "aZ09-._~%40%3A%2F%3F%23%5B%5D%26%3D%2B%25%20%27%22%C3%A9"
        );
    }

    #[test]
    fn a_composed_value_is_secret_when_any_input_is() {
        let t = Template::parse("x-${A}-${B}").unwrap();
        let public = Value::public(SecretValue::from("a"));
        let secret = Value::secret(SecretValue::from("b"));
        let both = t
            .compose(
                |n| Some(if n.as_str() == "A" { &public } else { &secret }),
                |_| false,
            )
            .unwrap();
        assert_eq!(both.expose(), "x-a-b");
        assert!(both.is_secret());
        let plain = t.compose(|_| Some(&public), |_| false).unwrap();
        assert_eq!(plain.shown(), Some("x-a-a"));
    }

    #[test]
    fn encode_applies_only_to_named_inputs() {
        let t = Template::parse("${U}:${P}").unwrap();
        let out = t.render(|_| Some("a@b"), |n| n.as_str() == "P").unwrap();
        assert_eq!(out.as_str(), "a@b:a%40b");
    }
}
