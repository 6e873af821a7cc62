//! Writing into a store file as `set`, `unset` and `seed` do on AWS, by editing its text line by
//! line: an entry that changes is replaced where it is, a new one is added after the last entry
//! of its mapping, a removed one is deleted, and every other line (comments, order, quoting)
//! stays as it was. The edited text is read back as a store and must hold exactly what was
//! written, or nothing is written.

use std::sync::Arc;

use crate::file_store::FileStore;
use crate::provision::{WriteReport, WriteRequest};
use crate::secret_json::parse_object;
use crate::secret_value::SecretValue;
use crate::store::{BundleQuery, ParameterQuery, SecretPayload, Store, StoreError, StoreRequest};
use crate::yaml_tree::{Node, NodeValue, parse};

/// `text` (the store file `path`) with `request` applied, and what was written where.
pub fn edit_store_file(
    path: &str,
    text: &str,
    request: &WriteRequest,
) -> Result<(String, WriteReport), StoreError> {
    let invalid = |message: String| StoreError::Invalid(format!("{path}: {message}"));
    let before = FileStore::parse(Arc::from(path), text).map_err(|e| invalid(e.to_string()))?;
    let root =
        parse(text).map_err(|p| invalid(format!("{}:{}: {}", p.line, p.column, p.message)))?;
    let mut editor = Editor::new(text, root.as_ref());
    let mut report = WriteReport::default();
    for (parameter, value) in &request.parameters {
        let line = value
            .as_ref()
            .map(|v| format!("{}: {}", quoted(parameter), quoted(v.expose())));
        report.lines.push(
            match (&line, editor.replace("parameters", parameter, line.clone())) {
                (Some(_), true) => format!("ssm:{parameter}: replaced"),
                (Some(_), false) => format!("ssm:{parameter}: created"),
                (None, true) => format!("ssm:{parameter}: deleted"),
                (None, false) => format!("ssm:{parameter}: was not set"),
            },
        );
    }
    if let Some(bundle) = &request.bundle {
        let current = current_keys(&before, &bundle.name).map_err(invalid)?;
        let mut merged: Vec<(String, SecretValue)> = current.clone().unwrap_or_default();
        for (key, value) in &bundle.keys {
            let at = merged.iter().position(|(k, _)| k == key);
            match (value, at) {
                (Some(value), Some(i)) => merged[i].1 = value.clone(),
                (Some(value), None) => merged.push((key.clone(), value.clone())),
                (None, Some(i)) => {
                    merged.remove(i);
                }
                (None, None) => {}
            }
            let was = current
                .as_ref()
                .is_some_and(|c| c.iter().any(|(k, _)| k == key));
            report.lines.push(match (value, was) {
                (Some(_), true) => format!("sm:{}#{key}: replaced", bundle.name),
                (Some(_), false) => format!("sm:{}#{key}: created", bundle.name),
                (None, true) => format!("sm:{}#{key}: deleted", bundle.name),
                (None, false) => format!("sm:{}#{key}: was not set", bundle.name),
            });
        }
        let changes = bundle.keys.iter().any(|(key, value)| {
            let was = current
                .as_ref()
                .and_then(|c| c.iter().find(|(k, _)| k == key));
            match (value, was) {
                (Some(v), Some((_, old))) => v.expose() != old.expose(),
                (Some(_), None) => true,
                (None, Some(_)) => true,
                (None, None) => false,
            }
        });
        if changes {
            let lines = if merged.is_empty() {
                vec![format!("{}: {{}}", quoted(&bundle.name))]
            } else {
                std::iter::once(format!("{}:", quoted(&bundle.name)))
                    .chain(
                        merged
                            .iter()
                            .map(|(k, v)| format!("  {}: {}", quoted(k), quoted(v.expose()))),
                    )
                    .collect()
            };
            editor.replace_block("secrets", &bundle.name, lines);
        }
    }
    let edited = editor.finish();
    check(path, &before, &edited, request).map_err(invalid)?;
    Ok((edited, report))
}

/// The keys of the bundle `name` in `store`: `Ok(None)` when it does not exist, an error when
/// it is not a flat JSON object of strings (its keys cannot be merged without losing some).
fn current_keys(
    store: &FileStore,
    name: &str,
) -> Result<Option<Vec<(String, SecretValue)>>, String> {
    let request = StoreRequest {
        parameters: ParameterQuery::None,
        bundles: BundleQuery::Named { name: name.into() },
        secrets: Vec::new(),
    };
    let Some(found) = store
        .fetch(&request)
        .map_err(|e| e.to_string())?
        .bundles
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    match found.payload {
        SecretPayload::Text(text) => parse_object(text.expose()).map(Some).map_err(|e| {
            format!(
                "secret {name} is not a flat object of strings ({e}); its keys cannot be merged"
            )
        }),
        SecretPayload::Binary => Err(format!("secret {name} is binary; it cannot take keys")),
    }
}

/// The edited file read back holds exactly what was written, and everything else exactly as
/// it was: every other parameter, every other secret, every other key of the bundle.
fn check(
    path: &str,
    before: &FileStore,
    edited: &str,
    request: &WriteRequest,
) -> Result<(), String> {
    let after = FileStore::parse(Arc::from(path), edited).map_err(|e| {
        format!("the edited file would not be a store file ({e}); nothing was written")
    })?;
    let broken = || "editing this file's layout is not supported; nothing was written".to_owned();
    let everything = StoreRequest {
        parameters: ParameterQuery::ByPath { path: "/".into() },
        bundles: BundleQuery::Prefix {
            prefix: String::new(),
        },
        secrets: Vec::new(),
    };
    let read = |store: &FileStore| store.fetch(&everything).map_err(|_| broken());
    let (was, is) = (read(before)?, read(&after)?);
    // Parameters: the written ones as written, the others as they were.
    let value_of = |parameters: &[crate::store::Parameter], name: &str| {
        parameters
            .iter()
            .find(|p| p.path == name)
            .map(|p| (p.value.expose().to_owned(), p.secure))
    };
    let mut names: Vec<&str> = was
        .parameters
        .iter()
        .chain(&is.parameters)
        .map(|p| p.path.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let expected = match request.parameters.iter().find(|(p, _)| p == name) {
            Some((_, value)) => value.as_ref().map(|v| (v.expose().to_owned(), false)),
            None => value_of(&was.parameters, name),
        };
        if value_of(&is.parameters, name) != expected {
            return Err(broken());
        }
    }
    // Secrets: the bundle written holds the merge, every other secret is as it was.
    let text_of = |secrets: &[crate::store::FetchedSecret], name: &str| {
        secrets
            .iter()
            .find(|s| s.name == name)
            .map(|s| match &s.payload {
                SecretPayload::Text(t) => t.expose().to_owned(),
                SecretPayload::Binary => String::new(),
            })
    };
    let written = request.bundle.as_ref().map(|b| b.name.as_str());
    let mut secrets: Vec<&str> = was
        .bundles
        .iter()
        .chain(&is.bundles)
        .map(|s| s.name.as_str())
        .collect();
    secrets.sort_unstable();
    secrets.dedup();
    for name in secrets {
        if Some(name) != written && text_of(&was.bundles, name) != text_of(&is.bundles, name) {
            return Err(broken());
        }
    }
    if let Some(bundle) = &request.bundle {
        let before_keys = current_keys(before, &bundle.name)?.unwrap_or_default();
        let keys = current_keys(&after, &bundle.name)?.unwrap_or_default();
        let get = |keys: &[(String, SecretValue)], key: &str| {
            keys.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.expose().to_owned())
        };
        let mut all: Vec<&str> = before_keys
            .iter()
            .chain(&keys)
            .map(|(k, _)| k.as_str())
            .collect();
        all.sort_unstable();
        all.dedup();
        for key in all {
            let expected = match bundle.keys.iter().find(|(k, _)| k == key) {
                Some((_, value)) => value.as_ref().map(|v| v.expose().to_owned()),
                None => get(&before_keys, key),
            };
            if get(&keys, key) != expected {
                return Err(broken());
            }
        }
    }
    Ok(())
}

/// A YAML double-quoted scalar holding `text` exactly.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// (first line, last line, replacement), 1-based, inclusive; an insertion after line N is
/// (N + 1, N, lines).
type Edit = (usize, usize, Vec<String>);

/// Line edits on the original text, applied at the end from the bottom up.
struct Editor<'a> {
    lines: Vec<String>,
    root: Option<&'a Node>,
    edits: Vec<Edit>,
    /// Lines appended at the end of the file.
    appended: Vec<String>,
    /// Entries added to a mapping that did not exist, by its key.
    new_sections: Vec<(String, Vec<String>)>,
}

impl<'a> Editor<'a> {
    fn new(text: &str, root: Option<&'a Node>) -> Self {
        Self {
            lines: text.lines().map(str::to_owned).collect(),
            root,
            edits: Vec::new(),
            appended: Vec::new(),
            new_sections: Vec::new(),
        }
    }

    /// The top-level mapping `section`'s entries, with the lines its value covers.
    fn section(&self, section: &str) -> Option<(&'a Node, &'a [(Node, Node)])> {
        let NodeValue::Mapping(entries) = &self.root?.value else {
            return None;
        };
        let (key, value) = entries
            .iter()
            .find(|(k, _)| k.scalar_text() == Some(section))?;
        match &value.value {
            // A block mapping starts below its key; a flow one on the key's line is re-written
            // whole by the caller.
            NodeValue::Mapping(entries) if value.lines.0 > key.lines.0 => Some((value, entries)),
            _ => None,
        }
    }

    /// Puts (`Some`: one line, `NAME: value`) or deletes (`None`) the entry `name` of the
    /// top-level mapping `section`. Returns whether the entry existed.
    fn replace(&mut self, section: &str, name: &str, line: Option<String>) -> bool {
        match self.section(section) {
            Some((_, entries)) => {
                let indent = indent_of(entries);
                let found = entries.iter().find(|(k, _)| k.scalar_text() == Some(name));
                match (found, line) {
                    (Some((k, v)), line) => {
                        let replacement =
                            line.map(|l| format!("{indent}{l}")).into_iter().collect();
                        self.edits.push((
                            k.lines.0 as usize,
                            last_line(k, v) as usize,
                            replacement,
                        ));
                        true
                    }
                    (None, Some(line)) => {
                        let after = end_of(entries);
                        self.edits
                            .push((after + 1, after, vec![format!("{indent}{line}")]));
                        false
                    }
                    (None, None) => false,
                }
            }
            None => {
                if let Some(line) = line {
                    self.add_to_new_section(section, vec![format!("  {line}")]);
                }
                false
            }
        }
    }

    /// Replaces the entry `name` of the top-level mapping `section` (all its lines) with
    /// `lines` (written at the entry's indentation), or adds it.
    fn replace_block(&mut self, section: &str, name: &str, lines: Vec<String>) {
        match self.section(section) {
            Some((_, entries)) => {
                let indent = indent_of(entries);
                let indented: Vec<String> = lines.iter().map(|l| format!("{indent}{l}")).collect();
                match entries.iter().find(|(k, _)| k.scalar_text() == Some(name)) {
                    Some((k, v)) => {
                        self.edits
                            .push((k.lines.0 as usize, last_line(k, v) as usize, indented))
                    }
                    None => {
                        let after = end_of(entries);
                        self.edits.push((after + 1, after, indented));
                    }
                }
            }
            None => {
                let indented = lines.iter().map(|l| format!("  {l}")).collect();
                self.add_to_new_section(section, indented);
            }
        }
    }

    fn add_to_new_section(&mut self, section: &str, lines: Vec<String>) {
        // A section written on one line (`secrets: {}`) is replaced by the new block.
        if let Some(NodeValue::Mapping(entries)) = self.root.map(|r| &r.value)
            && let Some((k, v)) = entries
                .iter()
                .find(|(k, _)| k.scalar_text() == Some(section))
        {
            self.edits.push((
                k.lines.0 as usize,
                last_line(k, v) as usize,
                std::iter::once(format!("{section}:"))
                    .chain(lines)
                    .collect(),
            ));
            return;
        }
        match self.new_sections.iter_mut().find(|(s, _)| s == section) {
            Some((_, existing)) => existing.extend(lines),
            None => self.new_sections.push((section.to_owned(), lines)),
        }
    }

    fn finish(mut self) -> String {
        // Bottom up, so that earlier line numbers stay valid; insertions at one place keep
        // their order.
        let mut edits: Vec<(usize, Edit)> = std::mem::take(&mut self.edits)
            .into_iter()
            .enumerate()
            .collect();
        edits.sort_by_key(|(index, (first, _, _))| std::cmp::Reverse((*first, *index)));
        for (_, (first, last, replacement)) in edits {
            let start = first.saturating_sub(1).min(self.lines.len());
            let end = last.min(self.lines.len());
            let end = end.max(start);
            self.lines.splice(start..end, replacement);
        }
        for (section, lines) in std::mem::take(&mut self.new_sections) {
            self.appended.push(format!("{section}:"));
            self.appended.extend(lines);
        }
        self.lines.append(&mut self.appended);
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }
}

/// The last line of a block mapping's entries.
fn end_of(entries: &[(Node, Node)]) -> usize {
    entries
        .iter()
        .map(|(k, v)| last_line(k, v))
        .max()
        .unwrap_or(0) as usize
}

/// The indentation of a block mapping's entries.
fn indent_of(entries: &[(Node, Node)]) -> String {
    let column = entries.first().map_or(3, |(k, _)| k.at.column());
    " ".repeat(column.saturating_sub(1) as usize)
}

/// The last line of the entry `key: value`, nested entries included.
fn last_line(key: &Node, value: &Node) -> u64 {
    fn deepest(node: &Node) -> u64 {
        let own = node.lines.1.max(node.lines.0);
        match &node.value {
            NodeValue::Mapping(entries) => entries
                .iter()
                .map(|(k, v)| deepest(k).max(deepest(v)))
                .fold(own, u64::max),
            NodeValue::Sequence(items) => items.iter().map(deepest).fold(own, u64::max),
            _ => own,
        }
    }
    deepest(key).max(deepest(value))
}
