//! `vars.yaml` as written: every field optional and spanned, unknown and duplicate keys and
//! values of the wrong type collected rather than fatal. It is read from the spanned YAML tree
//! ([`crate::yaml_tree`]) field by field, so a wrong type is one problem among the others.
//! [`crate::Manifest`] validates this into the model the resolver uses; nothing outside the
//! manifest module sees these types.
//!
//! Both forms of the file are read: the platform's bare list of variables, and the mapping with
//! `service`, `lookup` and `variables`.

use std::collections::BTreeSet;

use serde_saphyr::Spanned;

use crate::yaml::{KeyTracker, YamlProblem};
use crate::yaml_tree::{Node, NodeValue};

pub(crate) const MANIFEST_FIELDS: &[&str] = &["service", "lookup", "variables"];
pub(crate) const LOOKUP_FIELDS: &[&str] = &["ssm", "secrets"];
pub(crate) const VARIABLE_FIELDS: &[&str] = &[
    "name",
    "description",
    "required",
    "required_when",
    "default",
    "sensitive",
    "source",
    "scope",
    "containers",
    "secret",
    "compose",
    "file",
];
pub(crate) const SECRET_FIELDS: &[&str] = &["arn_from", "type", "key"];
pub(crate) const COMPOSE_FIELDS: &[&str] = &["template", "encode"];
pub(crate) const FILE_FIELDS: &[&str] = &["path_from", "decode", "content", "mode", "owner"];

#[derive(Default)]
pub(crate) struct RawManifest {
    /// Lines holding a value that could be a secret: never shown under a diagnostic.
    pub unsafe_lines: BTreeSet<u64>,
    /// The fields written, whatever their type (a mistyped field is not also missing).
    pub present: Vec<&'static str>,
    /// The file is the bare list of variables (no `service`, no `lookup`).
    pub bare: bool,
    pub service: Option<Spanned<String>>,
    pub lookup: Option<Spanned<RawLookup>>,
    pub variables: Option<Spanned<Vec<Spanned<RawVariable>>>>,
    pub problems: Vec<YamlProblem>,
}

#[derive(Default)]
pub(crate) struct RawLookup {
    pub ssm: Option<Spanned<String>>,
    pub secrets: Option<Spanned<String>>,
}

#[derive(Default)]
pub(crate) struct RawVariable {
    /// The fields written, whatever their type (a mistyped field is not also missing).
    pub present: Vec<&'static str>,
    pub name: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub required: Option<Spanned<bool>>,
    pub required_when: Option<Spanned<String>>,
    pub default: Option<Spanned<String>>,
    pub sensitive: Option<Spanned<bool>>,
    pub source: Option<Spanned<String>>,
    pub scope: Option<Spanned<String>>,
    pub containers: Option<Spanned<Vec<Spanned<String>>>>,
    pub secret: Option<Spanned<RawSecret>>,
    pub compose: Option<Spanned<RawCompose>>,
    pub file: Option<Spanned<RawFile>>,
    /// Every problem of the variable, its nested mappings included.
    pub problems: Vec<YamlProblem>,
    /// The entry is not a mapping; its one problem says so.
    pub unreadable: bool,
}

#[derive(Default)]
pub(crate) struct RawSecret {
    /// The fields written, whatever their type (a mistyped field is not also missing).
    pub present: Vec<&'static str>,
    pub arn_from: Option<Spanned<String>>,
    pub kind: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
}

#[derive(Default)]
pub(crate) struct RawFile {
    /// The fields written, whatever their type (a mistyped field is not also missing).
    pub present: Vec<&'static str>,
    pub path_from: Option<Spanned<String>>,
    pub decode: Option<Spanned<String>>,
    pub content: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub owner: Option<Spanned<String>>,
}

#[derive(Default)]
pub(crate) struct RawCompose {
    /// The fields written, whatever their type (a mistyped field is not also missing).
    pub present: Vec<&'static str>,
    pub template: Option<Spanned<String>>,
    pub encode: Option<Spanned<Vec<Spanned<String>>>>,
}

/// What a field holds, for "must be …" messages, and whether a found scalar may be quoted
/// (never for a field that could hold a secret: `default`, a template, a mapping written as
/// the value itself).
struct Field {
    name: &'static str,
    quote: bool,
}

const fn field(name: &'static str, quote: bool) -> Field {
    Field { name, quote }
}

/// Reads typed values out of nodes, recording a located problem for each wrong type and the
/// lines of every value that could be a secret.
#[derive(Default)]
struct Reader {
    problems: Vec<YamlProblem>,
    unsafe_lines: BTreeSet<u64>,
}

impl Reader {
    /// The lines of `node` hold a value that could be a secret.
    fn mark_unsafe(&mut self, node: &Node) {
        self.unsafe_lines.extend(node.covered_lines());
    }

    fn wrong_type(&mut self, node: &Node, field: &Field, expected: &str) {
        if !field.quote {
            self.mark_unsafe(node);
        }
        // A field is named in backticks; a whole entry ("a variable") is not a field.
        let what = if field.name.contains(' ') {
            field.name.to_owned()
        } else {
            format!("`{}`", field.name)
        };
        let message = format!(
            "{what} must be {expected}, found {}",
            node.describe(field.quote)
        );
        self.problems.push(YamlProblem::at(&node.at, message));
    }

    /// A scalar as text (`5432`, `true` and `1.50` as written).
    fn text(&mut self, node: &Node, field: &Field) -> Option<Spanned<String>> {
        if !field.quote {
            self.mark_unsafe(node);
        }
        match node.scalar_text() {
            Some(text) => Some(node.spanned(text.to_owned())),
            None => {
                self.wrong_type(node, field, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, field: &Field) -> Option<Spanned<bool>> {
        match &node.value {
            NodeValue::Bool { value, .. } => Some(node.spanned(*value)),
            _ => {
                self.wrong_type(node, field, "true or false");
                None
            }
        }
    }

    /// A list of scalars; `what` names one entry.
    fn strings(
        &mut self,
        node: &Node,
        field: &Field,
        what: &str,
    ) -> Option<Spanned<Vec<Spanned<String>>>> {
        let NodeValue::Sequence(items) = &node.value else {
            self.wrong_type(node, field, &format!("a list of {what}"));
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            if let Some(text) = self.text(item, field) {
                out.push(text);
            }
        }
        Some(node.spanned(out))
    }

    /// The entries of a mapping with their accepted field names; unknown and duplicate keys are
    /// recorded by `keys`.
    fn entries<'n>(
        &mut self,
        node: &'n Node,
        field: &Field,
        expected: &str,
        keys: &mut KeyTracker,
    ) -> Option<Vec<(&'static str, &'n Node)>> {
        let NodeValue::Mapping(entries) = &node.value else {
            self.wrong_type(node, field, expected);
            return None;
        };
        let mut accepted = Vec::new();
        for (key, value) in entries {
            let Some(text) = key.scalar_text() else {
                let message = format!(
                    "a key of {} must be a string, found {}",
                    keys.what(),
                    key.describe(false)
                );
                self.problems.push(YamlProblem::at(&key.at, message));
                self.mark_unsafe(key);
                self.mark_unsafe(value);
                continue;
            };
            match keys.accept(&key.spanned(text.to_owned())) {
                Some(name) => accepted.push((name, value)),
                // An unknown field (`defualt: s3cr3t`) may hold anything.
                None => self.mark_unsafe(value),
            }
        }
        self.problems.append(&mut keys.problems);
        Some(accepted)
    }
}

/// Reads the manifest from its tree: a list is the bare form, a mapping the full one.
pub(crate) fn read(root: &Node) -> RawManifest {
    let mut out = RawManifest::default();
    let mut reader = Reader::default();
    match &root.value {
        NodeValue::Sequence(_) => {
            out.bare = true;
            out.variables = variables(&mut reader, root);
        }
        NodeValue::Mapping(_) => {
            let mut keys = KeyTracker::new("the manifest", MANIFEST_FIELDS);
            let fields = reader.entries(
                root,
                &field("the manifest", false),
                "a list of variables or a mapping with `service` and `variables`",
                &mut keys,
            );
            let fields = fields.unwrap_or_default();
            out.present = fields.iter().map(|(name, _)| *name).collect();
            for (name, value) in fields {
                match name {
                    "service" => out.service = reader.text(value, &field("service", true)),
                    "lookup" => out.lookup = lookup(&mut reader, value),
                    "variables" => out.variables = variables(&mut reader, value),
                    _ => {}
                }
            }
        }
        _ => {
            let message = format!(
                "the manifest must be a list of variables or a mapping with `service` and `variables`, found {}",
                root.describe(false)
            );
            reader.problems.push(YamlProblem::at(&root.at, message));
            reader.mark_unsafe(root);
        }
    }
    out.problems = reader.problems;
    out.unsafe_lines = reader.unsafe_lines;
    out
}

fn lookup(reader: &mut Reader, node: &Node) -> Option<Spanned<RawLookup>> {
    let mut keys = KeyTracker::new("`lookup`", LOOKUP_FIELDS);
    let fields = reader.entries(
        node,
        &field("lookup", true),
        "a mapping (`ssm`, `secrets`)",
        &mut keys,
    )?;
    let mut out = RawLookup::default();
    for (name, value) in fields {
        match name {
            "ssm" => out.ssm = reader.text(value, &field("ssm", true)),
            "secrets" => out.secrets = reader.text(value, &field("secrets", true)),
            _ => {}
        }
    }
    Some(node.spanned(out))
}

fn variables(reader: &mut Reader, node: &Node) -> Option<Spanned<Vec<Spanned<RawVariable>>>> {
    let NodeValue::Sequence(items) = &node.value else {
        reader.wrong_type(
            node,
            &field("variables", false),
            "a list of variables (`- name: …` entries)",
        );
        return None;
    };
    let list = items.iter().map(|item| variable(reader, item)).collect();
    Some(node.spanned(list))
}

/// One variable; every problem inside it (nested mappings included) is its own.
fn variable(parent: &mut Reader, node: &Node) -> Spanned<RawVariable> {
    let mut out = RawVariable::default();
    // The variable's problems are its own; the lines it marks are the file's.
    let mut reader = Reader::default();
    let mut keys = KeyTracker::new("a variable", VARIABLE_FIELDS);
    let Some(fields) = reader.entries(
        node,
        &field("a variable", false),
        "a mapping with `name`",
        &mut keys,
    ) else {
        // Not a variable at all: its problem is reported as the list's.
        parent.unsafe_lines.append(&mut reader.unsafe_lines);
        return node.spanned(RawVariable {
            problems: reader.problems,
            unreadable: true,
            ..RawVariable::default()
        });
    };
    out.present = fields.iter().map(|(name, _)| *name).collect();
    for (name, value) in fields {
        let quote = !matches!(name, "default" | "description");
        let f = field(name, quote);
        match name {
            "name" => out.name = reader.text(value, &f),
            "description" => out.description = reader.text(value, &f),
            "required" => out.required = reader.boolean(value, &f),
            "required_when" => out.required_when = reader.text(value, &f),
            "default" => out.default = reader.text(value, &f),
            "sensitive" => out.sensitive = reader.boolean(value, &f),
            "source" => out.source = reader.text(value, &f),
            "scope" => out.scope = reader.text(value, &f),
            "containers" => out.containers = reader.strings(value, &f, "compose service names"),
            "secret" => out.secret = secret(&mut reader, value),
            "compose" => out.compose = compose(&mut reader, value),
            "file" => out.file = file(&mut reader, value),
            _ => {}
        }
    }
    out.problems = reader.problems;
    parent.unsafe_lines.append(&mut reader.unsafe_lines);
    node.spanned(out)
}

fn secret(reader: &mut Reader, node: &Node) -> Option<Spanned<RawSecret>> {
    let mut keys = KeyTracker::new("`secret`", SECRET_FIELDS);
    let fields = reader.entries(
        node,
        &field("secret", false),
        "a mapping (`arn_from`, `type`, `key`)",
        &mut keys,
    )?;
    let mut out = RawSecret {
        present: fields.iter().map(|(name, _)| *name).collect(),
        ..RawSecret::default()
    };
    for (name, value) in fields {
        let f = field(name, true);
        match name {
            "arn_from" => out.arn_from = reader.text(value, &f),
            "type" => out.kind = reader.text(value, &f),
            "key" => out.key = reader.text(value, &f),
            _ => {}
        }
    }
    Some(node.spanned(out))
}

fn compose(reader: &mut Reader, node: &Node) -> Option<Spanned<RawCompose>> {
    let mut keys = KeyTracker::new("`compose`", COMPOSE_FIELDS);
    let fields = reader.entries(
        node,
        &field("compose", false),
        "a mapping (`template`, `encode`)",
        &mut keys,
    )?;
    let mut out = RawCompose {
        present: fields.iter().map(|(name, _)| *name).collect(),
        ..RawCompose::default()
    };
    for (name, value) in fields {
        match name {
            "template" => out.template = reader.text(value, &field("template", false)),
            "encode" => {
                out.encode = reader.strings(value, &field("encode", true), "variable names")
            }
            _ => {}
        }
    }
    Some(node.spanned(out))
}

fn file(reader: &mut Reader, node: &Node) -> Option<Spanned<RawFile>> {
    let mut keys = KeyTracker::new("`file`", FILE_FIELDS);
    let fields = reader.entries(
        node,
        &field("file", false),
        "a mapping (`path_from`, `decode`, `content`, `mode`, `owner`)",
        &mut keys,
    )?;
    let mut out = RawFile {
        present: fields.iter().map(|(name, _)| *name).collect(),
        ..RawFile::default()
    };
    for (name, value) in fields {
        let f = field(name, true);
        match name {
            "path_from" => out.path_from = reader.text(value, &f),
            "decode" => out.decode = reader.text(value, &f),
            "content" => out.content = reader.text(value, &f),
            "mode" => out.mode = reader.text(value, &f),
            "owner" => out.owner = reader.text(value, &f),
            _ => {}
        }
    }
    Some(node.spanned(out))
}
