//! The parts of a `docker-compose.yaml` that `check --compose` cross-checks against the
//! manifest: the services, what each passes into its environment, and every interpolation the
//! file contains. Only reading; compose itself stays the authority on everything else.
//!
//! The file is parsed as YAML (anchors, aliases and `<<` merges resolved, comments ignored) and
//! interpolation is applied, as compose applies it, to every string value, never to keys. Each
//! interpolation is located at its own `$` in the source: the scalar's raw text is scanned the
//! same way as its value, and where the two disagree (an escape sequence spelling a `$`, say)
//! the scalar's start is named instead.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::location::Location;
use crate::yaml;
use crate::yaml_tree::{Node, NodeValue};

/// A compose file, as far as fetch-env needs it.
#[derive(Debug, Clone)]
pub struct ComposeFile {
    pub path: Arc<str>,
    pub services: Vec<ComposeService>,
    /// Every interpolation in the file, in file order (an anchored value once, however often
    /// it is aliased).
    pub references: Vec<ComposeReference>,
    /// Every `${` that compose refuses to interpolate ("Invalid template").
    pub invalid: Vec<InvalidInterpolation>,
    /// Top-level `secrets:` whose content compose takes from its environment
    /// (`db_password: {environment: DATABASE_PASSWORD}`).
    pub secrets: Vec<EnvironmentSecret>,
    /// Top-level `include:` paths, read when the file is read from disk.
    includes: Vec<(String, Location)>,
}

/// A secret compose makes from one of its environment variables and mounts as a file
/// (`/run/secrets/NAME`) in the services that list it: the value never appears in the
/// container's environment or in `docker inspect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentSecret {
    pub name: String,
    pub variable: String,
    /// Where `environment:` names the variable.
    pub location: Location,
}

/// One service and what it passes into its containers' environment.
#[derive(Debug, Clone)]
pub struct ComposeService {
    pub name: String,
    pub location: Location,
    /// `environment:` entries, in list or map form; with `extends:` of a service of the same
    /// file, the inherited entries too (the service's own win, as in compose).
    pub environment: Vec<EnvironmentEntry>,
    /// Sources of environment variables that cannot be read statically.
    pub opaque: Vec<OpaqueSource>,
    /// The secrets the service lists (`secrets: [db_password]` or `- source: db_password`).
    pub secrets: Vec<SecretUse>,
    /// `env_file:` entries: path, whether compose requires it, where it is named; and where
    /// `env_file:` itself is.
    env_files: Vec<(String, bool, Location)>,
    env_file_at: Option<Location>,
    /// `extends: {file: …, service: …}`: read when the file is read from disk.
    extends_file: Option<(String, String, Location)>,
}

/// A secret listed by a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretUse {
    pub name: String,
    pub location: Location,
}

/// One entry of a service's `environment:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentEntry {
    /// The variable the container receives.
    pub name: String,
    pub location: Location,
    pub value: EntryValue,
}

/// What an environment entry gives the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryValue {
    /// `- NAME` or `NAME:` (no value): compose passes NAME from its own environment.
    PassThrough,
    /// A value: the names it interpolates (`NAME=${OTHER}` gives `["OTHER"]`; a fixed value
    /// gives none).
    Set { references: Vec<String> },
}

/// Where a service gets variables that `check` cannot see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueSource {
    pub location: Location,
    pub kind: OpaqueKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpaqueKind {
    /// `env_file:`: a file read when compose runs.
    EnvFile,
    /// `extends:` of a service in another file.
    ExtendsFile,
}

impl fmt::Display for OpaqueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpaqueKind::EnvFile => "`env_file`",
            OpaqueKind::ExtendsFile => "`extends` of another file",
        })
    }
}

impl EnvironmentEntry {
    /// Whether this entry hands the value of `variable` to the container, under its own name
    /// or another: `NAME=${NAME}`, `NAME: ${NAME:-x}`, a bare `NAME`, or `ALIAS=${NAME}`.
    pub fn passes(&self, variable: &str) -> bool {
        match &self.value {
            EntryValue::PassThrough => self.name == variable,
            EntryValue::Set { references } => references.iter().any(|r| r == variable),
        }
    }

    /// `- NAME` or `NAME:`: the value comes from compose's own environment.
    pub fn is_pass_through(&self) -> bool {
        self.value == EntryValue::PassThrough
    }

    /// The names the entry's value interpolates (none for a pass-through or a fixed value).
    pub fn references(&self) -> &[String] {
        match &self.value {
            EntryValue::PassThrough => &[],
            EntryValue::Set { references } => references,
        }
    }
}

/// A `${` compose refuses, and when compose reads it: always, or only when the words it sits
/// in are evaluated (`${A:-${}}` is refused only when A is unset or empty).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InvalidInterpolation {
    pub location: Location,
    pub on: Vec<Condition>,
}

/// One interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
/// `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}` or `$VAR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeReference {
    pub name: String,
    pub location: Location,
    pub fallback: Fallback,
    /// Compose reads it only when all of these hold (it is in the default or alternative of
    /// other interpolations); empty: always.
    pub on: Vec<Condition>,
}

/// What compose does when the variable is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// `${VAR}`, `$VAR`: substitutes an empty string (with a warning).
    Empty,
    /// `${VAR:-x}`, `${VAR-x}`: substitutes the default.
    Default,
    /// `${VAR:+x}`, `${VAR+x}`: substitutes nothing; the variable only switches a value on.
    Alternative,
    /// `${VAR:?msg}`, `${VAR?msg}`: refuses the file.
    Required,
}

impl ComposeReference {
    /// Whether compose has something of its own to use when the variable is unset.
    pub fn has_default(&self) -> bool {
        matches!(self.fallback, Fallback::Default | Fallback::Alternative)
    }

    /// `${VAR:?message}` or `${VAR?message}`: compose refuses the file when VAR is unset.
    pub fn is_required(&self) -> bool {
        self.fallback == Fallback::Required
    }
}

/// A compose file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ComposeError {
    pub location: Location,
    pub message: String,
}

impl ComposeFile {
    /// Reads the compose file at `path`, with what it takes from other files as compose does:
    /// the services of its `include:` files, the base services of `extends: {file: …}`, and
    /// whether each `env_file` is there (a missing one is refused unless `required: false`).
    pub fn read(path: &Path) -> Result<Self, ComposeError> {
        Self::read_at(path, 0)
    }

    /// Several files as `docker compose -f A -f B` reads them: services merged by name, each
    /// later file's `environment` entries over the earlier ones', key by key.
    pub fn read_all(paths: &[std::path::PathBuf]) -> Result<Self, ComposeError> {
        let mut files = paths.iter().map(|p| Self::read(p));
        let Some(first) = files.next() else {
            return Ok(Self {
                path: Arc::from("(no compose file)"),
                services: Vec::new(),
                references: Vec::new(),
                invalid: Vec::new(),
                secrets: Vec::new(),
                includes: Vec::new(),
            });
        };
        let mut merged = first?;
        for file in files {
            merged.overlay(file?);
        }
        Ok(merged)
    }

    /// `other` over this file, as a later `-f` file.
    fn overlay(&mut self, other: ComposeFile) {
        self.path = Arc::from(format!("{} + {}", self.path, other.path));
        for service in other.services {
            match self.services.iter_mut().find(|s| s.name == service.name) {
                Some(existing) => {
                    merge(&mut existing.environment, &service.environment);
                    existing.opaque.extend(service.opaque);
                    existing.secrets.extend(service.secrets);
                }
                None => self.services.push(service),
            }
        }
        self.references.extend(other.references);
        self.references.sort_by(|a, b| a.location.cmp(&b.location));
        self.invalid.extend(other.invalid);
        self.invalid.sort();
        for secret in other.secrets {
            self.secrets.retain(|s| s.name != secret.name);
            self.secrets.push(secret);
        }
    }

    fn read_at(path: &Path, depth: usize) -> Result<Self, ComposeError> {
        let mut file = Self::read_one(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let nested = |location: &Location| ComposeError {
            location: location.clone(),
            message: "`include:` and `extends:` nest more than 8 files deep (a cycle?)".into(),
        };
        for service in &mut file.services {
            service.opaque.retain(|o| o.kind != OpaqueKind::EnvFile);
            let mut read = false;
            for (env_file, required, location) in &service.env_files {
                if dir.join(env_file).is_file() {
                    read = true;
                } else if *required {
                    return Err(ComposeError {
                        location: location.clone(),
                        message: format!(
                            "the env file {env_file} does not exist; compose refuses a missing `env_file` unless it is `required: false`"
                        ),
                    });
                }
            }
            if let (true, Some(at)) = (read, &service.env_file_at) {
                service.opaque.push(OpaqueSource {
                    location: at.clone(),
                    kind: OpaqueKind::EnvFile,
                });
            }
        }
        for i in 0..file.services.len() {
            let Some((other, name, location)) = file.services[i].extends_file.clone() else {
                continue;
            };
            if depth >= 8 {
                return Err(nested(&location));
            }
            let base_file = Self::read_at(&dir.join(&other), depth + 1)?;
            let Some(base) = base_file.service(&name) else {
                return Err(ComposeError {
                    location,
                    message: format!(
                        "`extends` names service `{name}`, which {other} does not define"
                    ),
                });
            };
            let service = &mut file.services[i];
            service.opaque.retain(|o| o.kind != OpaqueKind::ExtendsFile);
            let mut environment = base.environment.clone();
            merge(&mut environment, &service.environment);
            service.environment = environment;
            service.opaque.extend(base.opaque.iter().cloned());
        }
        for (included, location) in std::mem::take(&mut file.includes) {
            if depth >= 8 {
                return Err(nested(&location));
            }
            let other = Self::read_at(&dir.join(&included), depth + 1)?;
            for service in other.services {
                if file.service(&service.name).is_some() {
                    return Err(ComposeError {
                        location,
                        message: format!(
                            "{included} defines service `{}`, which this file defines too; compose refuses the conflict",
                            service.name
                        ),
                    });
                }
                file.services.push(service);
            }
            file.references.extend(other.references);
            file.invalid.extend(other.invalid);
            file.secrets.extend(other.secrets);
        }
        Ok(file)
    }

    fn read_one(path: &Path) -> Result<Self, ComposeError> {
        let name: Arc<str> = Arc::from(path.display().to_string());
        let bytes = std::fs::read(path).map_err(|e| ComposeError {
            location: Location::new(&name, 0, 0),
            message: format!("cannot read the compose file: {e}"),
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| ComposeError {
            location: Location::new(&name, yaml::invalid_utf8_line(&bytes, &e), 0),
            message: "the compose file is not valid UTF-8".into(),
        })?;
        Self::parse(name, text)
    }

    /// Parses `text`, naming `path` in errors.
    pub fn parse(path: Arc<str>, text: &str) -> Result<Self, ComposeError> {
        let root = crate::yaml_tree::parse(text).map_err(|p| ComposeError {
            location: Location::new(&path, p.line, p.column),
            message: p.message,
        })?;
        let reader = Reader {
            path: Arc::clone(&path),
            text,
            lines: LineIndex::new(text),
        };
        if let Some(root) = &root {
            reader.duplicate_key(root)?;
        }

        let mut references = Vec::new();
        let mut invalid = Vec::new();
        let mut seen = HashSet::new();
        if let Some(root) = &root {
            reader.collect(root, &mut seen, &mut references, &mut invalid);
        }
        references.sort_by(|a, b| a.location.cmp(&b.location));
        invalid.sort();

        let services = match &root {
            None => Vec::new(),
            Some(root) => reader.services(root)?,
        };
        let secrets = match &root {
            None => Vec::new(),
            Some(root) => reader.secrets(root),
        };
        let includes = match &root {
            None => Vec::new(),
            Some(root) => reader.includes(root),
        };
        let mut file = Self {
            path,
            services,
            references,
            invalid,
            secrets,
            includes,
        };
        // Without the file's directory, an `env_file` cannot be looked at (assume it is there)
        // and `extends` of another file cannot be followed.
        for service in &mut file.services {
            if let Some((_, _, at)) = &service.extends_file {
                service.opaque.push(OpaqueSource {
                    location: at.clone(),
                    kind: OpaqueKind::ExtendsFile,
                });
            }
            if let (Some(at), false) = (&service.env_file_at, service.env_files.is_empty()) {
                service.opaque.push(OpaqueSource {
                    location: at.clone(),
                    kind: OpaqueKind::EnvFile,
                });
            }
        }
        Ok(file)
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&ComposeService> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The variable whose value the secret `name` holds, when compose takes it from its
    /// environment.
    pub fn secret_variable(&self, name: &str) -> Option<&EnvironmentSecret> {
        self.secrets.iter().find(|s| s.name == name)
    }

    /// The services that receive `variable` through a secret.
    pub fn secret_receivers(&self, variable: &str) -> Vec<&ComposeService> {
        self.services
            .iter()
            .filter(|service| {
                service.secrets.iter().any(|used| {
                    self.secret_variable(&used.name)
                        .is_some_and(|s| s.variable == variable)
                })
            })
            .collect()
    }
}

struct Reader<'t> {
    path: Arc<str>,
    text: &'t str,
    lines: LineIndex,
}

impl Reader<'_> {
    fn at(&self, location: &serde_saphyr::Location) -> Location {
        Location::from_yaml(&self.path, location)
    }

    fn error(&self, location: &serde_saphyr::Location, message: impl Into<String>) -> ComposeError {
        ComposeError {
            location: self.at(location),
            message: message.into(),
        }
    }

    /// The first key written twice in one mapping, in file order, located where it is written
    /// again. (Checked here rather than while reading: the parser locates an error raised by a
    /// visitor at the enclosing mapping, and the top-level mapping not at all.)
    fn duplicate_key(&self, node: &Node) -> Result<(), ComposeError> {
        match &node.value {
            NodeValue::Mapping(entries) => {
                // A mapping of ten thousand keys must not cost a scan of the earlier keys for each.
                let mut seen: HashMap<&str, &serde_saphyr::Location> = HashMap::new();
                for (key, value) in entries {
                    let name = key.scalar_text().unwrap_or_default();
                    if let Some(first) = seen.insert(name, &key.at) {
                        return Err(self.error(&key.at, yaml::duplicate_key(name, first)));
                    }
                    self.duplicate_key(value)?;
                }
            }
            NodeValue::Sequence(items) => {
                for item in items {
                    self.duplicate_key(item)?;
                }
            }
            NodeValue::String(_)
            | NodeValue::Number(_)
            | NodeValue::Bool { .. }
            | NodeValue::Null => {}
        }
        Ok(())
    }

    /// Every interpolation of every string value below `node`. An aliased value is scanned
    /// once, at its definition.
    fn collect(
        &self,
        node: &Node,
        seen: &mut HashSet<(u64, u64)>,
        references: &mut Vec<ComposeReference>,
        invalid: &mut Vec<InvalidInterpolation>,
    ) {
        match &node.value {
            NodeValue::Mapping(entries) => {
                for (_, value) in entries {
                    self.collect(value, seen, references, invalid);
                }
            }
            NodeValue::Sequence(items) => {
                for item in items {
                    self.collect(item, seen, references, invalid);
                }
            }
            NodeValue::String(text) => {
                let at = &node.defined();
                if seen.insert((at.line(), at.column())) {
                    let (found, bad) = self.scan(text, at);
                    references.extend(found);
                    invalid.extend(bad);
                }
            }
            NodeValue::Number(_) | NodeValue::Bool { .. } | NodeValue::Null => {}
        }
    }

    /// The interpolations of the string `value` whose scalar starts at `at`, each located at
    /// its own `$` when the raw text of the scalar shows the same interpolations.
    fn scan(
        &self,
        value: &str,
        at: &serde_saphyr::Location,
    ) -> (Vec<ComposeReference>, Vec<InvalidInterpolation>) {
        let tokens = tokenize(value, 0);
        let span = at.span();
        let raw = match (span.byte_offset(), span.byte_len()) {
            (Some(start), Some(len)) => {
                let start = start as usize;
                let end = start.saturating_add(len as usize);
                self.text.get(start..end).map(|raw| (start, raw))
            }
            _ => None,
        };
        let raw_tokens = raw.map(|(start, raw)| (start, tokenize(raw, 0)));
        let positions: Option<Vec<usize>> = raw_tokens.and_then(|(start, raw)| {
            let same =
                raw.len() == tokens.len() && raw.iter().zip(&tokens).all(|(r, t)| r.kind == t.kind);
            same.then(|| raw.iter().map(|r| start + r.at).collect())
        });
        let fallback = self.at(at);
        let mut references = Vec::new();
        let mut invalid = Vec::new();
        for (i, token) in tokens.into_iter().enumerate() {
            let location = match &positions {
                Some(p) => self.lines.location(&self.path, self.text, p[i]),
                None => fallback.clone(),
            };
            match token.kind {
                TokenKind::Reference { name, fallback } => references.push(ComposeReference {
                    name,
                    location,
                    fallback,
                    on: token.on,
                }),
                TokenKind::Invalid => invalid.push(InvalidInterpolation {
                    location,
                    on: token.on,
                }),
            }
        }
        (references, invalid)
    }

    /// Top-level `secrets:` entries with `environment:`.
    fn secrets(&self, root: &Node) -> Vec<EnvironmentSecret> {
        let NodeValue::Mapping(top) = &root.value else {
            return Vec::new();
        };
        let Some((_, secrets)) = top
            .iter()
            .rev()
            .find(|(k, _)| k.scalar_text() == Some("secrets"))
        else {
            return Vec::new();
        };
        let NodeValue::Mapping(entries) = &secrets.value else {
            return Vec::new();
        };
        entries
            .iter()
            .filter_map(|(name, definition)| {
                let NodeValue::Mapping(fields) = &definition.value else {
                    return None;
                };
                fields.iter().find_map(|(k, v)| match &v.value {
                    NodeValue::String(variable) if k.scalar_text() == Some("environment") => {
                        Some(EnvironmentSecret {
                            name: text(name),
                            variable: variable.clone(),
                            location: self.at(&v.at),
                        })
                    }
                    _ => None,
                })
            })
            .collect()
    }

    /// `env_file:` as a path, a list of paths, or a list of `{path, required}` (required by
    /// default).
    fn env_files(&self, node: &Node) -> Vec<(String, bool, Location)> {
        let one = |item: &Node| match &item.value {
            NodeValue::String(path) => Some((path.clone(), true, self.at(&item.at))),
            NodeValue::Mapping(fields) => {
                let path = fields.iter().find_map(|(k, v)| match &v.value {
                    NodeValue::String(p) if k.scalar_text() == Some("path") => Some(p.clone()),
                    _ => None,
                })?;
                let required = !fields.iter().any(|(k, v)| {
                    k.scalar_text() == Some("required")
                        && matches!(&v.value, NodeValue::Bool { value: false, .. })
                });
                Some((path, required, self.at(&item.at)))
            }
            _ => None,
        };
        match &node.value {
            NodeValue::Sequence(items) => items.iter().filter_map(one).collect(),
            _ => one(node).into_iter().collect(),
        }
    }

    /// Top-level `include:`: paths, or mappings whose `path` is one path or a list.
    fn includes(&self, root: &Node) -> Vec<(String, Location)> {
        let NodeValue::Mapping(top) = &root.value else {
            return Vec::new();
        };
        let Some((_, include)) = top
            .iter()
            .rev()
            .find(|(k, _)| k.scalar_text() == Some("include"))
        else {
            return Vec::new();
        };
        let NodeValue::Sequence(items) = &include.value else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                NodeValue::String(path) => out.push((path.clone(), self.at(&item.at))),
                NodeValue::Mapping(fields) => {
                    for (k, v) in fields {
                        if k.scalar_text() != Some("path") {
                            continue;
                        }
                        match &v.value {
                            NodeValue::String(path) => out.push((path.clone(), self.at(&v.at))),
                            NodeValue::Sequence(paths) => {
                                for p in paths {
                                    if let NodeValue::String(path) = &p.value {
                                        out.push((path.clone(), self.at(&p.at)));
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// A service's `secrets:`: names, or mappings with `source:`.
    fn secret_uses(&self, node: &Node) -> Vec<SecretUse> {
        let NodeValue::Sequence(items) = &node.value else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| {
                let name = match &item.value {
                    NodeValue::String(name) => name.clone(),
                    NodeValue::Mapping(fields) => {
                        fields.iter().find_map(|(k, v)| match &v.value {
                            NodeValue::String(source) if k.scalar_text() == Some("source") => {
                                Some(source.clone())
                            }
                            _ => None,
                        })?
                    }
                    _ => return None,
                };
                Some(SecretUse {
                    name,
                    location: self.at(&item.at),
                })
            })
            .collect()
    }

    fn services(&self, root: &Node) -> Result<Vec<ComposeService>, ComposeError> {
        let NodeValue::Mapping(top) = &root.value else {
            if matches!(root.value, NodeValue::Null) {
                return Ok(Vec::new());
            }
            return Err(self.error(&root.at, "a compose file is a mapping (with `services`)"));
        };
        let Some((_, services)) = top
            .iter()
            .rev()
            .find(|(k, _)| k.scalar_text() == Some("services"))
        else {
            return Ok(Vec::new());
        };
        let entries = match &services.value {
            NodeValue::Mapping(entries) => entries.as_slice(),
            NodeValue::Null => &[],
            _ => {
                return Err(self.error(
                    &services.at,
                    "`services` must be a mapping of service names",
                ));
            }
        };

        let mut read = Vec::new();
        for (name, service) in entries {
            read.push(self.service(name, service)?);
        }
        // `extends: other` (same file): the environment of `other` first, the service's own
        // entries over it. Followed to a fixed depth, which also ends a cycle.
        let own: Vec<Vec<EnvironmentEntry>> =
            read.iter().map(|(s, _)| s.environment.clone()).collect();
        let bases: Vec<Option<String>> = read.iter().map(|(_, b)| b.clone()).collect();
        let mut out = Vec::new();
        for (i, (mut service, _)) in read.into_iter().enumerate() {
            let mut chain = Vec::new();
            let mut base = bases[i].clone();
            while let Some(name) = base.take() {
                let Some(j) = entries
                    .iter()
                    .position(|(k, _)| k.scalar_text() == Some(name.as_str()))
                else {
                    break;
                };
                if chain.contains(&j) || j == i || chain.len() > entries.len() {
                    break;
                }
                chain.push(j);
                base = bases[j].clone();
            }
            let mut environment: Vec<EnvironmentEntry> = Vec::new();
            for j in chain.iter().rev() {
                merge(&mut environment, &own[*j]);
            }
            merge(&mut environment, &own[i]);
            service.environment = environment;
            out.push(service);
        }
        Ok(out)
    }

    /// One service, and the name of the service of the same file it extends.
    fn service(
        &self,
        name: &Node,
        service: &Node,
    ) -> Result<(ComposeService, Option<String>), ComposeError> {
        let mut out = ComposeService {
            name: text(name),
            location: self.at(&name.at),
            environment: Vec::new(),
            opaque: Vec::new(),
            secrets: Vec::new(),
            env_files: Vec::new(),
            env_file_at: None,
            extends_file: None,
        };
        let fields = match &service.value {
            NodeValue::Mapping(fields) => fields.as_slice(),
            NodeValue::Null => &[],
            _ => {
                return Err(self.error(
                    &service.at,
                    format!("service `{}` must be a mapping", text(name)),
                ));
            }
        };
        let mut extends = None;
        for (key, value) in fields {
            match key.scalar_text().unwrap_or_default() {
                "environment" => out.environment = self.environment(value)?,
                "secrets" => out.secrets = self.secret_uses(value),
                "env_file" => {
                    out.env_files = self.env_files(value);
                    out.env_file_at = Some(self.at(&key.at));
                }
                "extends" => match &value.value {
                    NodeValue::String(base) => extends = Some(base.clone()),
                    NodeValue::Mapping(options) => {
                        let get = |field: &str| {
                            options.iter().find_map(|(k, v)| match &v.value {
                                NodeValue::String(s) if k.scalar_text() == Some(field) => {
                                    Some(s.clone())
                                }
                                _ => None,
                            })
                        };
                        match (get("file"), get("service")) {
                            (Some(file), Some(service)) => {
                                out.extends_file = Some((file, service, self.at(&key.at)))
                            }
                            (Some(_), None) => out.opaque.push(OpaqueSource {
                                location: self.at(&key.at),
                                kind: OpaqueKind::ExtendsFile,
                            }),
                            (None, service) => extends = service,
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        Ok((out, extends))
    }

    /// `environment:` in list form (`- KEY=value`, `- KEY`) or map form (`KEY: value`,
    /// `KEY:`).
    fn environment(&self, node: &Node) -> Result<Vec<EnvironmentEntry>, ComposeError> {
        let mut entries = Vec::new();
        match &node.value {
            NodeValue::Null => {}
            NodeValue::Sequence(items) => {
                for item in items {
                    let text = match &item.value {
                        NodeValue::String(s) | NodeValue::Number(s) => s.as_str(),
                        NodeValue::Bool { text, .. } => text.as_str(),
                        _ => {
                            return Err(self.error(
                                &item.at,
                                "an `environment` list entry must be `KEY=value` or `KEY`",
                            ));
                        }
                    };
                    let (name, value) = match text.split_once('=') {
                        Some((name, _)) => (
                            name,
                            EntryValue::Set {
                                references: self.names(item),
                            },
                        ),
                        None => (text, EntryValue::PassThrough),
                    };
                    entries.push(EnvironmentEntry {
                        name: name.trim().to_owned(),
                        location: self.at(&item.at),
                        value,
                    });
                }
            }
            NodeValue::Mapping(items) => {
                for (key, value) in items {
                    let value = match &value.value {
                        NodeValue::Null => EntryValue::PassThrough,
                        NodeValue::String(_) => EntryValue::Set {
                            references: self.names(value),
                        },
                        NodeValue::Number(_) | NodeValue::Bool { .. } => EntryValue::Set {
                            references: Vec::new(),
                        },
                        NodeValue::Mapping(_) | NodeValue::Sequence(_) => {
                            return Err(self.error(
                                &value.at,
                                format!(
                                    "the value of `{}` in `environment` must be a string, a number or empty",
                                    text(key)
                                ),
                            ));
                        }
                    };
                    entries.push(EnvironmentEntry {
                        name: text(key),
                        location: self.at(&key.at),
                        value,
                    });
                }
            }
            _ => {
                return Err(self.error(
                    &node.at,
                    "`environment` must be a list of KEY=value or a mapping",
                ));
            }
        }
        Ok(entries)
    }

    /// The names a string node interpolates, each once.
    fn names(&self, node: &Node) -> Vec<String> {
        let NodeValue::String(text) = &node.value else {
            return Vec::new();
        };
        let mut names = BTreeSet::new();
        for token in tokenize(text, 0) {
            if let TokenKind::Reference { name, .. } = token.kind {
                names.insert(name);
            }
        }
        names.into_iter().collect()
    }
}

/// A key or name node's text (empty for a key that is no scalar).
fn text(node: &Node) -> String {
    node.scalar_text().unwrap_or_default().to_owned()
}

/// `own` over `inherited`, entry by entry (compose merges environments by key).
fn merge(environment: &mut Vec<EnvironmentEntry>, own: &[EnvironmentEntry]) {
    for entry in own {
        environment.retain(|e| e.name != entry.name);
        environment.push(entry.clone());
    }
}

/// Names from a compose file in messages: printable, bounded.

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    /// Byte offset of the `$`.
    at: usize,
    kind: TokenKind,
    /// Compose reads this token only when all of `on` hold: a token inside the default or the
    /// alternative of other interpolations.
    on: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenKind {
    Reference { name: String, fallback: Fallback },
    Invalid,
}

/// When compose evaluates the word of an interpolation, by the variable it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Condition {
    pub variable: String,
    pub when: Evaluated,
}

/// The states of a variable in which compose evaluates a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evaluated {
    /// `${V:-word}`, `${V:?word}`: V unset or empty.
    UnsetOrEmpty,
    /// `${V-word}`, `${V?word}`: V unset.
    Unset,
    /// `${V:+word}`: V set and not empty.
    SetNotEmpty,
    /// `${V+word}`: V set.
    Set,
}

/// The interpolations of `text` exactly as compose v2 reads them (compose-go's `template`
/// package, which `docker compose` uses):
///
/// - `$$` is a literal `$`; `$NAME` substitutes, NAME being `[A-Za-z_][A-Za-z0-9_]*`;
/// - `${` must start `${NAME}` or `${NAME` followed by `:-`, `-`, `:?`, `?`, `:+` or `+`, a word,
///   and a `}` later on the same line, or compose refuses the file ("Invalid template");
/// - any other `$` (`a $ b`, `5$`, `$1`, `$}`, `$ {A}`) is a literal `$`;
/// - the word of `${NAME op word}` ends at the `}` that closes the `${` (counting `{` and `}`),
///   and the text after that `}` is read as a template of its own. The word's value is used
///   only when compose evaluates it (see [`Evaluated`]), but compose v2.40.3 substitutes every
///   word it meets (compose-go before its lazy defaults of January 2026), so a malformed `${`
///   inside one is refused whatever the values.
fn tokenize(text: &str, offset: usize) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let at = offset + i;
        let token = |kind| Token {
            at,
            kind,
            on: Vec::new(),
        };
        match bytes.get(i + 1) {
            Some(b'$') => i += 2,
            Some(&c) if is_name_start(c) => {
                let end = name_end(bytes, i + 1);
                tokens.push(token(TokenKind::Reference {
                    name: text[i + 1..end].to_owned(),
                    fallback: Fallback::Empty,
                }));
                i = end;
            }
            Some(b'{') => {
                let start = i + 2;
                let Some(braced) = braced(bytes, start) else {
                    // The pattern's `invalid` group: `${` alone is matched, and refused.
                    tokens.push(token(TokenKind::Invalid));
                    i += 2;
                    continue;
                };
                let name = text[start..braced.name_end].to_owned();
                let Some((operator, word_start)) = braced.operator else {
                    tokens.push(token(TokenKind::Reference {
                        name,
                        fallback: Fallback::Empty,
                    }));
                    i = braced.end;
                    continue;
                };
                // What compose substitutes: the match cut at the brace that closes `${`, and
                // the rest of the match read on its own.
                let matched = &text[i..braced.end];
                let cut = first_closing_brace(matched.as_bytes()).map(|c| i + c);
                let word_end = cut.unwrap_or(braced.end - 1);
                tokens.push(token(TokenKind::Reference {
                    name: name.clone(),
                    fallback: operator.fallback(),
                }));
                let on = Condition {
                    variable: name,
                    when: operator.evaluated(),
                };
                for mut nested in tokenize(&text[word_start..word_end], offset + word_start) {
                    nested.on.insert(0, on.clone());
                    tokens.push(nested);
                }
                if let Some(cut) = cut {
                    tokens.extend(tokenize(&text[cut + 1..braced.end], offset + cut + 1));
                }
                i = braced.end;
            }
            // Not a template: a literal `$`.
            _ => i += 1,
        }
    }
    tokens
}

/// The operator after the name in `${NAME op word}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    ColonDash,
    Dash,
    ColonQuestion,
    Question,
    ColonPlus,
    Plus,
}

impl Operator {
    fn fallback(self) -> Fallback {
        match self {
            Operator::ColonDash | Operator::Dash => Fallback::Default,
            Operator::ColonQuestion | Operator::Question => Fallback::Required,
            Operator::ColonPlus | Operator::Plus => Fallback::Alternative,
        }
    }

    fn evaluated(self) -> Evaluated {
        match self {
            Operator::ColonDash | Operator::ColonQuestion => Evaluated::UnsetOrEmpty,
            Operator::Dash | Operator::Question => Evaluated::Unset,
            Operator::ColonPlus => Evaluated::SetNotEmpty,
            Operator::Plus => Evaluated::Set,
        }
    }
}

/// A `${…}` that compose's pattern matches.
struct Braced {
    name_end: usize,
    /// The operator and where its word starts.
    operator: Option<(Operator, usize)>,
    /// Just past the match's closing `}`.
    end: usize,
}

/// compose-go's braced pattern `[_a-z][_a-z0-9]*(?::?[-+?](.*))?}` (case-insensitive) at
/// `start`, just after `${`. With an operator the greedy `.*` reaches the last `}` of the line.
fn braced(bytes: &[u8], start: usize) -> Option<Braced> {
    if !bytes.get(start).is_some_and(|&c| is_name_start(c)) {
        return None;
    }
    let name_end = name_end(bytes, start);
    let operator = match (bytes.get(name_end), bytes.get(name_end + 1)) {
        (Some(b':'), Some(b'-')) => Some((Operator::ColonDash, name_end + 2)),
        (Some(b':'), Some(b'?')) => Some((Operator::ColonQuestion, name_end + 2)),
        (Some(b':'), Some(b'+')) => Some((Operator::ColonPlus, name_end + 2)),
        (Some(b'-'), _) => Some((Operator::Dash, name_end + 1)),
        (Some(b'?'), _) => Some((Operator::Question, name_end + 1)),
        (Some(b'+'), _) => Some((Operator::Plus, name_end + 1)),
        _ => None,
    };
    if let Some((operator, word)) = operator {
        let line_end = bytes[word..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| word + p);
        if let Some(close) = bytes[word..line_end].iter().rposition(|&b| b == b'}') {
            return Some(Braced {
                name_end,
                operator: Some((operator, word)),
                end: word + close + 1,
            });
        }
    }
    (bytes.get(name_end) == Some(&b'}')).then_some(Braced {
        name_end,
        operator: None,
        end: name_end + 1,
    })
}

/// compose-go's `getFirstBraceClosingIndex`: the `}` that brings the count of open braces back
/// to zero, where each `{` counts and skips the character after it.
fn first_closing_brace(s: &[u8]) -> Option<usize> {
    let mut open = 0i64;
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'}' {
            open -= 1;
            if open == 0 {
                return Some(i);
            }
        }
        if s[i] == b'{' {
            open += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn name_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
        end += 1;
    }
    end
}

/// Byte offsets to 1-based lines and (character) columns, as the YAML parser counts them.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        // YAML ends a line at `\n`, at `\r\n` and at a `\r` alone.
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        Self { starts }
    }

    fn location(&self, path: &Arc<str>, text: &str, offset: usize) -> Location {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = text
            .get(start..offset)
            .map_or(0, |prefix| prefix.chars().count());
        Location::new(path, line as u64, column as u64 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ComposeFile {
        ComposeFile::parse(Arc::from("c.yaml"), text).unwrap()
    }

    fn refs(f: &ComposeFile) -> Vec<(String, String, Fallback)> {
        f.references
            .iter()
            .map(|r| (r.name.clone(), r.location.to_string(), r.fallback))
            .collect()
    }

    fn r(name: &str, at: &str, fallback: Fallback) -> (String, String, Fallback) {
        (name.to_owned(), format!("c.yaml:{at}"), fallback)
    }

    fn set(names: &[&str]) -> EntryValue {
        EntryValue::Set {
            references: names.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn services_environment_and_interpolations() {
        let text = "services:\n  telapi:\n    image: ${ECR_REGISTRY}/x:${ECR_TAG:-latest}\n    environment:\n      - DATABASE_URL=${DATABASE_URL}\n      - LITERAL=$$NOT\n      - PASSED\n      - RENAMED=${ORIGINAL-x}\n  worker:\n    environment:\n      LOG_LEVEL: $LOG_LEVEL\n      REQ: ${REQ:?set REQ}\n      BARE:\n      PORT: 5432\n# ${IN_COMMENT}\n    # - X=${IN_INDENTED_COMMENT}\n";
        let f = parse(text);
        let env: Vec<Vec<(&str, EntryValue)>> = f
            .services
            .iter()
            .map(|s| {
                s.environment
                    .iter()
                    .map(|e| (e.name.as_str(), e.value.clone()))
                    .collect()
            })
            .collect();
        assert_eq!(
            env,
            vec![
                vec![
                    ("DATABASE_URL", set(&["DATABASE_URL"])),
                    ("LITERAL", set(&[])),
                    ("PASSED", EntryValue::PassThrough),
                    ("RENAMED", set(&["ORIGINAL"])),
                ],
                vec![
                    ("LOG_LEVEL", set(&["LOG_LEVEL"])),
                    ("REQ", set(&["REQ"])),
                    ("BARE", EntryValue::PassThrough),
                    ("PORT", set(&[])),
                ],
            ]
        );
        assert_eq!(f.services[0].name, "telapi");
        assert_eq!(f.services[1].location.to_string(), "c.yaml:9:3");
        assert_eq!(
            f.services[0].environment[2].location.to_string(),
            "c.yaml:7:9"
        );
        assert_eq!(
            f.services[1].environment[2].location.to_string(),
            "c.yaml:13:7"
        );
        assert_eq!(
            refs(&f),
            vec![
                r("ECR_REGISTRY", "3:12", Fallback::Empty),
                r("ECR_TAG", "3:30", Fallback::Default),
                r("DATABASE_URL", "5:22", Fallback::Empty),
                r("ORIGINAL", "8:17", Fallback::Default),
                r("LOG_LEVEL", "11:18", Fallback::Empty),
                r("REQ", "12:12", Fallback::Required),
            ]
        );
        assert!(f.invalid.is_empty());
        assert!(f.services[0].environment[0].passes("DATABASE_URL"));
        assert!(f.services[0].environment[2].passes("PASSED"));
        assert!(f.services[0].environment[3].passes("ORIGINAL"));
        assert!(!f.services[0].environment[3].passes("RENAMED"));
    }

    #[test]
    fn every_form_of_interpolation() {
        let text = concat!(
            "services:\n",
            "  a:\n",
            "    command: [\"$A\", \"${B}\", \"${C:-d}\", \"${D-d}\", \"${E:?m}\", \"${F?m}\", \"${G:+x}\", \"${H+x}\"]\n",
            "    labels:\n",
            "      nested: ${OUTER:-${INNER}}\n",
            "      dollars: $$A $${B} $$$C\n",
            "      mixed: x${lower_case}y$_U\n",
        );
        let f = parse(text);
        assert_eq!(
            refs(&f),
            vec![
                r("A", "3:16", Fallback::Empty),
                r("B", "3:22", Fallback::Empty),
                r("C", "3:30", Fallback::Default),
                r("D", "3:41", Fallback::Default),
                r("E", "3:51", Fallback::Required),
                r("F", "3:62", Fallback::Required),
                r("G", "3:72", Fallback::Alternative),
                r("H", "3:83", Fallback::Alternative),
                r("OUTER", "5:15", Fallback::Default),
                r("INNER", "5:24", Fallback::Empty),
                r("C", "6:28", Fallback::Empty),
                r("lower_case", "7:15", Fallback::Empty),
                r("_U", "7:29", Fallback::Empty),
            ]
        );
        assert!(f.invalid.is_empty());
    }

    #[test]
    fn invalid_interpolations_are_located() {
        // `pa$ word` and `x$` are literal dollars in compose v2; every malformed `${` is not.
        let text = "services:\n  a:\n    environment:\n      - P=pa$ word\n      - Q=${}\n      - R=${1X}\n      - S=${OPEN\n      - T=x$\n      - U=${A B}\n      - V=${A:-${}}\n";
        let f = parse(text);
        let at: Vec<(String, usize)> = f
            .invalid
            .iter()
            .map(|i| (i.location.to_string(), i.on.len()))
            .collect();
        assert_eq!(
            at,
            vec![
                ("c.yaml:5:11".to_owned(), 0),
                ("c.yaml:6:11".to_owned(), 0),
                ("c.yaml:7:11".to_owned(), 0),
                ("c.yaml:9:11".to_owned(), 0),
                ("c.yaml:10:16".to_owned(), 1),
            ]
        );
    }

    #[test]
    fn quoted_block_and_commented_scalars() {
        let text = concat!(
            "services:\n",
            "  a:\n",
            "    environment:\n",
            "      SQ: 'it''s ${SQ}'\n",
            "      DQ: \"tab\\t${DQ}\"\n",
            "      TRAIL: ${TRAIL} # ${NOT_A_REFERENCE}\n",
            "      BLOCK: |\n",
            "        first ${B1}\n",
            "          second $B2\n",
            "      FOLDED: >-\n",
            "        ${F1}\n",
            "        ${F2}\n",
            "      MULTI: \"one ${M1}\n",
            "        two ${M2}\"\n",
            "      ESCAPED: \"\\x24{HIDDEN}\"\n",
        );
        let f = parse(text);
        assert_eq!(
            refs(&f),
            vec![
                r("SQ", "4:18", Fallback::Empty),
                r("DQ", "5:17", Fallback::Empty),
                r("TRAIL", "6:14", Fallback::Empty),
                r("B1", "8:15", Fallback::Empty),
                r("B2", "9:18", Fallback::Empty),
                r("F1", "11:9", Fallback::Empty),
                r("F2", "12:9", Fallback::Empty),
                r("M1", "13:19", Fallback::Empty),
                r("M2", "14:13", Fallback::Empty),
                // `\x24` is a `$` in the value but not in the text: the scalar is named.
                r("HIDDEN", "15:16", Fallback::Empty),
            ]
        );
    }

    #[test]
    fn anchors_merges_and_extends() {
        let text = concat!(
            "x-common: &common\n",
            "  LOG_LEVEL: ${LOG_LEVEL}\n",
            "  SHARED:\n",
            "services:\n",
            "  base:\n",
            "    environment:\n",
            "      <<: *common\n",
            "      OWN: ${OWN}\n",
            "  child:\n",
            "    extends: base\n",
            "    environment:\n",
            "      - OWN=fixed\n",
            "      - CHILD=${CHILD}\n",
            "  grandchild:\n",
            "    extends: { service: child }\n",
            "  loop:\n",
            "    extends: loop\n",
            "    env_file: [a.env]\n",
            "  elsewhere:\n",
            "    extends: { file: other.yaml, service: x }\n",
        );
        let f = parse(text);
        // Sorted: a merge (`<<`) adds its keys after the mapping's own.
        let names = |s: &str| -> Vec<(String, EntryValue)> {
            let mut names: Vec<_> = f
                .service(s)
                .unwrap()
                .environment
                .iter()
                .map(|e| (e.name.clone(), e.value.clone()))
                .collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            names
        };
        assert_eq!(
            names("base"),
            vec![
                ("LOG_LEVEL".to_owned(), set(&["LOG_LEVEL"])),
                ("OWN".to_owned(), set(&["OWN"])),
                ("SHARED".to_owned(), EntryValue::PassThrough),
            ]
        );
        let child = vec![
            ("CHILD".to_owned(), set(&["CHILD"])),
            ("LOG_LEVEL".to_owned(), set(&["LOG_LEVEL"])),
            ("OWN".to_owned(), set(&[])),
            ("SHARED".to_owned(), EntryValue::PassThrough),
        ];
        assert_eq!(names("child"), child);
        assert_eq!(names("grandchild"), child);
        assert_eq!(names("loop"), vec![]);
        let opaque = |s: &str| -> Vec<(String, OpaqueKind)> {
            f.service(s)
                .unwrap()
                .opaque
                .iter()
                .map(|o| (o.location.to_string(), o.kind))
                .collect()
        };
        assert_eq!(
            opaque("loop"),
            vec![("c.yaml:18:5".to_owned(), OpaqueKind::EnvFile)]
        );
        assert_eq!(
            opaque("elsewhere"),
            vec![("c.yaml:20:5".to_owned(), OpaqueKind::ExtendsFile)]
        );
        // The anchored value is one place in the file, however often it is merged.
        assert_eq!(
            refs(&f),
            vec![
                r("LOG_LEVEL", "2:14", Fallback::Empty),
                r("OWN", "8:12", Fallback::Empty),
                r("CHILD", "13:15", Fallback::Empty),
            ]
        );
    }

    #[test]
    fn bad_shapes_are_located_errors() {
        let cases = [
            (
                "- a\n",
                "c.yaml:1:1: a compose file is a mapping (with `services`)",
            ),
            (
                "services: [a]\n",
                "c.yaml:1:11: `services` must be a mapping of service names",
            ),
            (
                "services:\n  a: 1\n",
                "c.yaml:2:6: service `a` must be a mapping",
            ),
            (
                "services:\n  a:\n    environment: X=1\n",
                "c.yaml:3:18: `environment` must be a list of KEY=value or a mapping",
            ),
            (
                "services:\n  a:\n    environment:\n      X: [1]\n",
                "c.yaml:4:10: the value of `X` in `environment` must be a string, a number or empty",
            ),
        ];
        for (text, expected) in cases {
            let error = ComposeFile::parse(Arc::from("c.yaml"), text).unwrap_err();
            assert_eq!(error.to_string(), expected, "{text}");
        }
        let error = ComposeFile::parse(Arc::from("c.yaml"), "services:\n  a:\n  a:\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "c.yaml:3:3: duplicate key `a` (first at line 2, column 3)"
        );
        let error = ComposeFile::parse(Arc::from("c.yaml"), "services: [\n").unwrap_err();
        assert!(error.to_string().starts_with("c.yaml:"), "{error}");
        assert!(parse("").services.is_empty());
        assert!(parse("services:\n").services.is_empty());
    }

    /// Found by the `compose_file` fuzz target: YAML ends a line at a carriage return alone
    /// too, so the parser's positions count it; an interpolation after one was placed on the
    /// line before, past its end (`c.yaml:1:9` for the `$` at 2:4 here).
    #[test]
    fn reference_after_a_lone_carriage_return_is_located() {
        let f = parse("a: x\rb: ${B}\r\nc: $C\rd:\r\r  - ${D}\n");
        assert_eq!(
            refs(&f),
            vec![
                r("B", "2:4", Fallback::Empty),
                r("C", "3:4", Fallback::Empty),
                r("D", "6:5", Fallback::Empty),
            ]
        );
        let error = ComposeFile::parse(Arc::from("c.yaml"), "a: 1\rb: 2\ra: 3\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "c.yaml:3:1: duplicate key `a` (first at line 1, column 1)"
        );
    }

    /// Found by the `compose_file` fuzz target: a key repeated in the top-level mapping was
    /// refused with no position at all (`c.yaml: duplicate key …`), and one repeated deeper was
    /// located at its mapping rather than at the repetition.
    #[test]
    fn duplicate_top_level_key_is_located() {
        let cases = [
            (
                "services:\n  a:\nservices:\n",
                "c.yaml:3:1: duplicate key `services` (first at line 1, column 1)",
            ),
            (
                "services:\r\n  a:\r\nservices:\r\n",
                "c.yaml:3:1: duplicate key `services` (first at line 1, column 1)",
            ),
            (
                "x: 1\nservices: {}\nx: 2\n",
                "c.yaml:3:1: duplicate key `x` (first at line 1, column 1)",
            ),
            (
                "services: {a: {environment: {K: 1, K: 2}}}\n",
                "c.yaml:1:36: duplicate key `K` (first at line 1, column 30)",
            ),
            (
                "x:\n  - a: 1\n    a: 2\n",
                "c.yaml:3:5: duplicate key `a` (first at line 2, column 5)",
            ),
        ];
        for (text, expected) in cases {
            let error = ComposeFile::parse(Arc::from("c.yaml"), text).unwrap_err();
            assert_eq!(error.to_string(), expected, "{text:?}");
        }
        // A merge (`<<`) is not a repetition: the mapping's own key wins, as in compose.
        assert!(
            ComposeFile::parse(Arc::from("c.yaml"), "x: &a {A: 1}\ns:\n  <<: *a\n  A: 2\n").is_ok()
        );
    }
}
