//! What every YAML input of fetch-env shares: the parser options, the translation of parser
//! errors into located problems, and the bookkeeping of mapping keys that lets a single pass
//! report every unknown and duplicate field instead of stopping at the first.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, Options, Spanned};

/// A problem found while reading a YAML file, located but not yet tied to the file's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct YamlProblem {
    pub line: u64,
    pub column: u64,
    /// Characters the problem covers (0: a point).
    pub span: u64,
    pub message: String,
}

impl YamlProblem {
    pub(crate) fn at(location: &serde_saphyr::Location, message: String) -> Self {
        Self {
            line: location.line(),
            column: location.column(),
            span: location.span().len(),
            message,
        }
    }
}

/// Parser options for every file fetch-env reads: duplicate keys reach our visitors (which
/// report both places), and aliases are bounded so that an alias bomb fails fast.
pub(crate) fn options() -> Options {
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.alias_limits.max_total_replayed_events = 100_000;
    options.alias_limits.max_alias_expansions_per_anchor = 1_000;
    options.with_snippet = false;
    options
}

/// The message for `key` written a second time in a mapping, the first place named.
pub(crate) fn duplicate_key(key: &str, first: &serde_saphyr::Location) -> String {
    format!(
        "duplicate key `{}` (first at line {}, column {})",
        key,
        first.line(),
        first.column()
    )
}

/// Turns a parser error into a located problem. The parser's message names types and positions,
/// never the text of a scalar: our visitors override every `visit_*` that would quote a value.
pub(crate) fn problem_from_error(error: &serde_saphyr::Error) -> YamlProblem {
    let (line, column) = error
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let mut message = error.without_snippet().to_string();
    // The parser appends its own "at line X column Y"; ours is in front of the message.
    if let Some(at) = message.find(" at line ") {
        message.truncate(at);
    }
    // The parser's resource limits speak in its own debug terms.
    if message.contains("budget breached") {
        message = if message.contains("Depth") {
            "the YAML nests too deeply (more than 64 levels)".to_owned()
        } else if message.contains("Alias")
            || message.contains("alias")
            || message.contains("Replay")
        {
            "the YAML expands too many aliases (an alias bomb?)".to_owned()
        } else {
            "the YAML is too large or too complex to read".to_owned()
        };
    }
    YamlProblem {
        line,
        column,
        span: 0,
        message,
    }
}

/// Tracks the keys of one mapping: which are known, which were seen, what is wrong.
pub(crate) struct KeyTracker {
    what: &'static str,
    known: &'static [&'static str],
    seen: Vec<(String, serde_saphyr::Location)>,
    pub problems: Vec<YamlProblem>,
}

impl KeyTracker {
    pub(crate) fn new(what: &'static str, known: &'static [&'static str]) -> Self {
        Self {
            what,
            known,
            seen: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// What the mapping is, as messages name it.
    pub(crate) fn what(&self) -> &'static str {
        self.what
    }

    /// Returns the field name when `key` is known and seen for the first time; otherwise records
    /// a problem and returns `None` (the caller then skips the value).
    pub(crate) fn accept(&mut self, key: &Spanned<String>) -> Option<&'static str> {
        let name = key.value.as_str();
        if let Some((_, first)) = self.seen.iter().find(|(seen, _)| seen == name) {
            let message = format!(
                "duplicate key `{}` in {} (first at line {}, column {})",
                name,
                self.what,
                first.line(),
                first.column()
            );
            self.problems
                .push(YamlProblem::at(&key.referenced, message));
            return None;
        }
        self.seen.push((name.to_owned(), key.referenced));
        match self.known.iter().find(|known| **known == name) {
            Some(known) => Some(known),
            None => {
                let mut message = format!("unknown field `{}` in {}", name, self.what);
                if let Some(suggestion) = did_you_mean(name, self.known.iter().copied()) {
                    message.push_str(&format!(" (did you mean `{suggestion}`?)"));
                } else {
                    message.push_str(&format!(" (expected one of: {})", self.known.join(", ")));
                }
                self.problems
                    .push(YamlProblem::at(&key.referenced, message));
                None
            }
        }
    }
}

/// The 1-based line of the first byte that is not UTF-8, for reading a file's bytes as text.
pub(crate) fn invalid_utf8_line(bytes: &[u8], error: &std::str::Utf8Error) -> u64 {
    1 + bytes[..error.valid_up_to()]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
}

/// Skips the value of a key that was not accepted.
pub(crate) fn skip_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// The closest candidate to `text`, if any is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    text: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&text.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A mapping read entry by entry, with duplicate keys reported at both places.
pub(crate) struct Entries<V>(pub Vec<(Spanned<String>, Spanned<V>)>, pub Vec<YamlProblem>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Entries(Vec::new(), Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(Spanned<String>, Spanned<V>)> = Vec::new();
                // Where each key was first seen: a store of ten thousand parameters must not
                // cost a scan of all earlier keys for each one.
                let mut seen: std::collections::HashMap<String, serde_saphyr::Location> =
                    std::collections::HashMap::new();
                let mut problems = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if let Some(first) = seen.get(&key.value) {
                        problems.push(YamlProblem::at(
                            &key.referenced,
                            duplicate_key(&key.value, first),
                        ));
                        skip_value(&mut map)?;
                        continue;
                    }
                    seen.insert(key.value.clone(), key.referenced);
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Entries(entries, problems))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggestions() {
        let known = ["name", "required", "required_when", "containers"];
        assert_eq!(super::did_you_mean("requird", known), Some("required"));
        assert_eq!(super::did_you_mean("container", known), Some("containers"));
        assert_eq!(super::did_you_mean("zzz", known), None);
    }
}
