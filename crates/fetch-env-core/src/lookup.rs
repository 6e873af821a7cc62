//! The lookup modes, parsed once: the manifest's `lookup:`, the command-line flags, the
//! environment and the bootstrap file all name them with the same words, read here.

use std::fmt;

/// A setting with a fixed set of values, each with the word that names it.
pub trait Choice: Copy + PartialEq + Sized + 'static {
    /// What the setting is, for messages (`SSM lookup`).
    const WHAT: &'static str;
    /// Every value with its word, the documented default first.
    const VALUES: &'static [(&'static str, Self)];
    /// Said instead of the list of words when a word is unknown, where a list would mislead.
    const HINT: Option<&'static str> = None;

    /// The value named `word`.
    fn parse(word: &str) -> Result<Self, UnknownChoice> {
        Self::VALUES
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, value)| *value)
            .ok_or_else(|| UnknownChoice {
                what: Self::WHAT,
                found: word.to_string(),
                expected: match Self::HINT {
                    Some(hint) => hint.to_owned(),
                    None => format!(
                        "expected {}",
                        expected_list(
                            &Self::VALUES
                                .iter()
                                .map(|(name, _)| *name)
                                .collect::<Vec<_>>()
                        )
                    ),
                },
            })
    }

    /// The word that names this value.
    fn word(self) -> &'static str {
        Self::VALUES
            .iter()
            .find(|(_, value)| *value == self)
            .map(|(name, _)| *name)
            .unwrap_or_default()
    }
}

/// A word that names none of a setting's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{found}` ({expected})")]
pub struct UnknownChoice {
    pub what: &'static str,
    /// The word found.
    pub found: String,
    /// What would have been right: `expected `a` or `b``, or the setting's hint.
    pub expected: String,
}

fn expected_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// How SSM parameters are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SsmLookup {
    /// Every parameter under the service path, recursively (the documented behaviour).
    #[default]
    ByPath,
    /// Only the declared names, ten a call, all at once.
    ByName,
}

impl Choice for SsmLookup {
    const WHAT: &'static str = "SSM lookup";
    const VALUES: &'static [(&'static str, Self)] = &[
        ("by-path", SsmLookup::ByPath),
        ("by-name", SsmLookup::ByName),
    ];
}

/// How Secrets Manager bundles are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BundleLookup {
    /// Every secret under `${NAMESPACE}/${service}/` (needs `secretsmanager:ListSecrets`).
    #[default]
    Prefix,
    /// Only the canonical bundle `${NAMESPACE}/${service}/secrets`.
    Bundle,
}

impl Choice for BundleLookup {
    const WHAT: &'static str = "secrets lookup";
    const VALUES: &'static [(&'static str, Self)] = &[
        ("prefix", BundleLookup::Prefix),
        ("bundle", BundleLookup::Bundle),
    ];
}

impl fmt::Display for SsmLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl fmt::Display for BundleLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_name_values_both_ways() {
        for (word, value) in SsmLookup::VALUES {
            assert_eq!(SsmLookup::parse(word), Ok(*value));
            assert_eq!(value.word(), *word);
        }
        assert_eq!(BundleLookup::parse("bundle"), Ok(BundleLookup::Bundle));
        assert_eq!(
            SsmLookup::parse("by-nmae").unwrap_err().to_string(),
            "unknown SSM lookup `by-nmae` (expected `by-path` or `by-name`)"
        );
    }
}
