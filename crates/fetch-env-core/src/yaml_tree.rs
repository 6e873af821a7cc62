//! A YAML document as a spanned tree, read before any field is given a type.
//!
//! Deserializing straight into typed structs stops at the first value of the wrong type, so one
//! `required: maybe` hid every other problem of a manifest. Reading the document into this tree
//! first can only fail on YAML syntax; every type is then checked field by field, each wrong one
//! a located problem among the others.
//!
//! A scalar keeps the text it was written with (`1.50`, `0x1f`, `yes`), taken from the source by
//! its span: YAML's typing of plain scalars decides which kind of node it is, never its text.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::yaml::{self, YamlProblem};

/// One node and where it is: `at` is where it is used (an alias's place for an alias).
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub at: Location,
    /// Where the node's text is written (the anchor's place for an alias).
    defined: Location,
    /// The lines the node's text covers, first and last.
    pub lines: (u64, u64),
    pub value: NodeValue,
}

/// What a node holds.
#[derive(Clone, Debug)]
pub(crate) enum NodeValue {
    /// `~`, `null` or nothing at all.
    Null,
    /// A plain `true`/`false` (YAML 1.1 spellings included), with its text.
    Bool {
        value: bool,
        text: String,
    },
    /// A plain number, with its text.
    Number(String),
    /// Any other scalar.
    String(String),
    Sequence(Vec<Node>),
    /// Entries in document order; a key written twice is kept twice (the readers report it).
    Mapping(Vec<(Node, Node)>),
}

/// Parses `text` into a tree; `Ok(None)` for an empty document. Only YAML syntax (and the
/// parser's limits on nesting and aliases) can fail here.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, YamlProblem> {
    let root: Option<Node> = serde_saphyr::from_str_with_options(text, yaml::options())
        .map_err(|e| yaml::problem_from_error(&e))?;
    Ok(root.map(|mut node| {
        node.read_source(text);
        node
    }))
}

impl Node {
    /// Where the node's text is written (the anchor's place for an alias).
    pub fn defined(&self) -> &Location {
        &self.defined
    }

    /// The scalar's text when the node is a scalar (a string, number or boolean as written).
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(text) | NodeValue::Number(text) => Some(text),
            NodeValue::Bool { text, .. } => Some(text),
            NodeValue::Null | NodeValue::Sequence(_) | NodeValue::Mapping(_) => None,
        }
    }

    /// What the node is, for "… must be X, found Y": with `quote`, a scalar's text is shown
    /// (shortened); without, only its kind, for fields that may hold a secret.
    pub fn describe(&self, quote: bool) -> String {
        let kind = match &self.value {
            NodeValue::Null => return "nothing (an empty value)".to_owned(),
            NodeValue::Sequence(_) => return "a list".to_owned(),
            NodeValue::Mapping(_) => return "a mapping".to_owned(),
            NodeValue::Bool { .. } => "the boolean",
            NodeValue::Number(_) => "the number",
            NodeValue::String(_) => "the string",
        };
        match (quote, self.scalar_text()) {
            (true, Some(text)) => format!("{kind} `{}`", shorten(text)),
            _ => match &self.value {
                NodeValue::Bool { .. } => "a boolean".to_owned(),
                NodeValue::Number(_) => "a number".to_owned(),
                _ => "a string".to_owned(),
            },
        }
    }

    /// The node as a spanned value of the typed readers.
    pub fn spanned<T>(&self, value: T) -> Spanned<T> {
        Spanned::new(value, self.at, self.defined)
    }

    /// Every line this node is written on or used at: where a value could be, whose source a
    /// diagnostic must then not show.
    pub fn covered_lines(&self) -> impl Iterator<Item = u64> + '_ {
        (self.lines.0..=self.lines.1).chain(std::iter::once(self.at.line()))
    }

    /// Puts back the source text of plain numbers and booleans, which the parser typed, and
    /// finds the lines each node covers.
    fn read_source(&mut self, source: &str) {
        let span = self.defined.span();
        let written = span
            .byte_offset()
            .zip(span.byte_len())
            .and_then(|(start, len)| {
                let start = usize::try_from(start).ok()?;
                let end = usize::try_from(len).ok()?.checked_add(start)?;
                source.get(start..end)
            });
        let first = self.defined.line();
        // A block scalar's span takes in its final line break and the blank lines after it:
        // they are not its lines.
        let last = first + written.map_or(0, |w| w.trim_end().matches('\n').count() as u64);
        self.lines = (first, last);
        match &mut self.value {
            NodeValue::Bool { text, .. } | NodeValue::Number(text) => {
                if let Some(written) = written {
                    *text = written.trim().to_owned();
                }
            }
            NodeValue::Sequence(items) => items.iter_mut().for_each(|n| n.read_source(source)),
            NodeValue::Mapping(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.read_source(source);
                v.read_source(source);
            }),
            NodeValue::Null | NodeValue::String(_) => {}
        }
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX - 1).collect();
        format!("{head}…")
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<NodeValue>::deserialize(deserializer)?;
        Ok(Node {
            at: spanned.referenced,
            defined: spanned.defined,
            lines: (spanned.defined.line(), spanned.defined.line()),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(deserializer)
    }

    fn visit_bool<E>(self, value: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool {
            value,
            text: value.to_string(),
        })
    }

    fn visit_i64<E>(self, value: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(value.to_string()))
    }

    fn visit_i128<E>(self, value: i128) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(value.to_string()))
    }

    fn visit_u128<E>(self, value: u128) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(value.to_string()))
    }

    fn visit_str<E>(self, value: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<NodeValue, E> {
        Ok(NodeValue::String(value))
    }

    fn visit_bytes<E>(self, value: &[u8]) -> Result<NodeValue, E> {
        Ok(NodeValue::String(
            String::from_utf8_lossy(value).into_owned(),
        ))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeValue::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(NodeValue::Mapping(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        parse(text).unwrap().unwrap()
    }

    #[test]
    fn scalars_keep_their_written_text_and_kind() {
        let node = root("a: 1.50\nb: 0x1f\nc: yes\nd: 'q'\ne:\nf: [1, x]\n");
        let NodeValue::Mapping(entries) = &node.value else {
            panic!("a mapping")
        };
        let texts: Vec<(Option<&str>, String)> = entries
            .iter()
            .map(|(_, v)| (v.scalar_text(), v.describe(true)))
            .collect();
        assert_eq!(texts[0], (Some("1.50"), "the number `1.50`".to_owned()));
        assert_eq!(texts[1].0, Some("0x1f"));
        assert_eq!(texts[2], (Some("yes"), "the boolean `yes`".to_owned()));
        assert_eq!(texts[3], (Some("q"), "the string `q`".to_owned()));
        assert_eq!(texts[4].1, "nothing (an empty value)");
        assert_eq!(texts[5].1, "a list");
        assert_eq!(entries[1].1.at.line(), 2);
        assert_eq!(entries[1].1.at.column(), 4);
    }

    #[test]
    fn nodes_know_the_lines_they_cover() {
        let node = root("a: |\n  one\n  two\nb: x\n");
        let NodeValue::Mapping(entries) = &node.value else {
            panic!("a mapping")
        };
        // A block scalar's text starts on the line after its indicator.
        let (first, last) = entries[0].1.lines;
        assert!(first <= 2 && last >= 3, "{:?}", entries[0].1.lines);
        assert_eq!(entries[1].1.lines, (4, 4));
    }

    #[test]
    fn an_unquoted_description_shows_no_text() {
        let node = root("s3cr3t");
        assert_eq!(node.describe(false), "a string");
    }

    #[test]
    fn aliases_keep_the_anchor_text() {
        let node = root("a: &x 007\nb: *x\n");
        let NodeValue::Mapping(entries) = &node.value else {
            panic!("a mapping")
        };
        assert_eq!(entries[1].1.scalar_text(), entries[0].1.scalar_text());
        assert_eq!(entries[1].1.at.line(), 2);
    }
}
