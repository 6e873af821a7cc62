//! The validated manifest: once a [`Manifest`] exists, every name is legal, every reference
//! points at a declared variable of the right kind, every template parses and composed
//! variables form no cycle. Validation runs before any network call and reports every problem
//! at once, each with `file:line:column`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, DiagnosticKind, IntoDiagnostics};
use crate::env_name::EnvName;
use crate::location::Location;
use crate::lookup::{BundleLookup, Choice, SsmLookup};
use crate::raw_manifest::{RawCompose, RawLookup, RawManifest, RawSecret, RawVariable};
use crate::template::Template;
use crate::yaml::{self, YamlProblem, did_you_mean};

/// A validated `vars.yaml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: Arc<str>,
    pub service: String,
    /// Where [`Manifest::service`] came from.
    pub service_origin: ServiceOrigin,
    /// `lookup:`: how this service's remote values are best found.
    pub lookup: Lookup,
    variables: Vec<Variable>,
    index: HashMap<EnvName, usize>,
    /// Lines whose source must never be shown (see [`Manifest::shows_line`]).
    unsafe_lines: BTreeSet<u64>,
}

/// Where a manifest's service name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceOrigin {
    /// `service:` of the mapping form, at this place.
    Manifest(Location),
    /// A setting from outside the file (`--service`, `FETCH_ENV_SERVICE`), described.
    Setting(String),
    /// The name of the manifest's directory (the bare form: `/opt/services/api/vars.yaml` is
    /// `api`).
    Directory,
}

impl fmt::Display for ServiceOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceOrigin::Manifest(location) => write!(f, "`service:` at {location}"),
            ServiceOrigin::Setting(origin) => f.write_str(origin),
            ServiceOrigin::Directory => f.write_str("the manifest's directory"),
        }
    }
}

/// A service name given from outside the manifest, and where it came from (for messages:
/// `--service`, `FETCH_ENV_SERVICE (environment)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSetting {
    pub name: String,
    pub origin: String,
}

/// `lookup:` of a manifest: the service's own choice of lookup modes, which the command line,
/// the environment and the bootstrap file override.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// `ssm: by-path` or `ssm: by-name`.
    pub ssm: Option<SsmLookup>,
    /// `secrets: prefix` or `secrets: bundle`.
    pub secrets: Option<BundleLookup>,
}

/// One declared variable.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: EnvName,
    pub location: Location,
    pub description: Option<String>,
    pub requirement: Requirement,
    pub default: Option<String>,
    pub sensitive: bool,
    pub origin: Origin,
    pub scope: Scope,
    pub containers: Vec<Container>,
    /// `file:`: the value is also written to a file (TLS material).
    pub file: Option<FileSpec>,
}

/// `file:` of a variable: where and how its value is materialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// The declared variable holding the path (its `default` is the default path).
    pub path_from: EnvName,
    pub decode: Decode,
    pub content: PemContent,
    /// Permission bits, e.g. `0o600`.
    pub mode: u32,
    /// `uid:gid`.
    pub owner: Option<(u32, u32)>,
}

/// How a `file:` value becomes the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decode {
    /// Raw PEM is written as is; anything else is base64-decoded (the default).
    Auto,
    Base64,
    Pem,
}

/// What a `file:` must contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemContent {
    /// One or more `CERTIFICATE` sections (a CA bundle).
    Certificates,
    /// Exactly one private key (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`).
    PrivateKey,
}

/// One entry of `containers:`: a docker compose service, and where the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub location: Location,
}

/// Whether resolution fails when the variable has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Optional,
    Required,
    /// Required only when `other` resolves to exactly `value`.
    RequiredWhen {
        other: EnvName,
        value: String,
    },
}

/// Where a variable's value may come from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// `source: local`: the bootstrap file only.
    Local,
    /// SSM Parameter Store, then Secrets Manager bundles.
    Remote,
    /// `secret.arn_from`: one key (or the whole value) of the secret named by a local variable.
    Secret(SecretRef),
    /// `compose.template`, built after everything else.
    Composed(Composition),
}

/// `secret:` of a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub arn_from: EnvName,
    pub kind: SecretType,
}

/// How the secret named by `arn_from` is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretType {
    /// A JSON object; the variable is the value at `key`.
    Json { key: String },
    /// The whole secret string.
    String,
}

/// `compose:` of a variable.
#[derive(Debug, Clone)]
pub struct Composition {
    pub template: Template,
    pub encode: Vec<EnvName>,
}

/// Who uses the variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Containers (those listed in `containers`) and the host.
    Containers,
    /// `scope: init`: the host's init script only, never a container.
    Init,
}

/// Every problem of a manifest, or the reason it could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: cannot read the manifest: {reason}")]
    Unreadable { path: Arc<str>, reason: String },
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render_problems(problems: &[Diagnostic]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

impl IntoDiagnostics for ManifestError {
    fn into_diagnostics(self) -> Vec<Diagnostic> {
        match self {
            ManifestError::Unreadable { path, reason } => vec![
                Diagnostic::error(
                    DiagnosticKind::Manifest,
                    format!("cannot read the manifest: {reason}"),
                )
                .at(Location::new(&path, 0, 0)),
            ],
            ManifestError::Invalid(problems) => problems,
        }
    }
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        Self::read_with(path, None)
    }

    /// Reads and validates the manifest at `path`, with the service name given from outside
    /// the file when there is one. The bare form takes its service from `service`, else from
    /// the name of the manifest's directory.
    pub fn read_with(path: &Path, service: Option<&ServiceSetting>) -> Result<Self, ManifestError> {
        let name: Arc<str> = Arc::from(path.display().to_string());
        let bytes = std::fs::read(path).map_err(|e| ManifestError::Unreadable {
            path: Arc::clone(&name),
            reason: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let line = yaml::invalid_utf8_line(e.as_bytes(), &e.utf8_error());
            ManifestError::Invalid(vec![
                Diagnostic::error(DiagnosticKind::Manifest, "the file is not valid UTF-8")
                    .at(Location::new(&name, line, 0)),
            ])
        })?;
        // The directory as the file system knows it: `vars.yaml` in the working directory is
        // in a directory with a name too.
        let directory = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| directory_name(&p));
        Self::validate(name, &text, service, directory)
    }

    /// Validates `text`, naming `path` in problems.
    pub fn parse(path: Arc<str>, text: &str) -> Result<Self, ManifestError> {
        Self::parse_with(path, text, None)
    }

    /// Validates `text`, naming `path` in problems, with the service name given from outside
    /// the file when there is one.
    pub fn parse_with(
        path: Arc<str>,
        text: &str,
        service: Option<&ServiceSetting>,
    ) -> Result<Self, ManifestError> {
        let directory = directory_name(Path::new(&*path));
        Self::validate(path, text, service, directory)
    }

    fn validate(
        path: Arc<str>,
        text: &str,
        service: Option<&ServiceSetting>,
        directory: Option<String>,
    ) -> Result<Self, ManifestError> {
        let locate = |p: YamlProblem| {
            Diagnostic::error(DiagnosticKind::Manifest, p.message)
                .at(Location::new(&path, p.line, p.column))
                .spanning(p.span)
        };
        let root = match crate::yaml_tree::parse(text) {
            Ok(Some(root)) => root,
            Ok(None) => {
                return Err(ManifestError::Invalid(vec![
                    Diagnostic::error(
                        DiagnosticKind::Manifest,
                        "the manifest is empty (expected a list of variables, or `service` and `variables`)",
                    )
                    .at(Location::new(&path, 1, 1)),
                ]));
            }
            Err(problem) => return Err(ManifestError::Invalid(vec![locate(problem)])),
        };
        let raw = crate::raw_manifest::read(&root);
        let mut v = Validator {
            path: Arc::clone(&path),
            problems: Vec::new(),
            unsafe_lines: raw.unsafe_lines.clone(),
        };
        let manifest = v.manifest(raw, service, directory);
        if v.problems.is_empty() {
            Ok(manifest)
        } else {
            v.problems.sort_by(|a, b| a.location.cmp(&b.location));

            v.problems.dedup();
            Err(ManifestError::Invalid(v.problems))
        }
    }

    /// `true` when line `line` of the manifest may be shown under a diagnostic: it holds no
    /// value that could be a secret (a `default`, a template, anything misplaced or unknown).
    pub fn shows_line(&self, line: u64) -> bool {
        line > 0 && !self.unsafe_lines.contains(&line)
    }

    /// Every variable, in manifest order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// The variable called `name`.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.index.get(name).map(|&i| &self.variables[i])
    }

    /// `start` and every variable whose value is made from it, in manifest order: composed
    /// variables whose templates use it, variables read from the `arn_from` secret it names,
    /// files whose path it holds, and so on transitively.
    pub fn dependents(&self, start: &Variable) -> Vec<&Variable> {
        let mut found = vec![start.name.as_str()];
        // Each pass adds the variables that use one already found; a fixed point is reached in
        // at most as many passes as there are variables.
        loop {
            let before = found.len();
            for variable in self.variables() {
                if found.contains(&variable.name.as_str()) {
                    continue;
                }
                let made_from_found = match &variable.origin {
                    Origin::Composed(c) => c
                        .template
                        .placeholders()
                        .iter()
                        .any(|p| found.contains(&p.as_str())),
                    Origin::Secret(s) => found.contains(&s.arn_from.as_str()),
                    _ => false,
                } || variable
                    .file
                    .as_ref()
                    .is_some_and(|f| found.contains(&f.path_from.as_str()));
                if made_from_found {
                    found.push(variable.name.as_str());
                }
            }
            if found.len() == before {
                break;
            }
        }
        self.variables()
            .iter()
            .filter(|v| found.contains(&v.name.as_str()))
            .collect()
    }

    /// The containers that receive `start` or a variable made from it, each with the variables
    /// it receives them through (an init-only variable reaches no container).
    pub fn receivers(&self, start: &Variable) -> std::collections::BTreeMap<&str, Vec<&str>> {
        let mut receivers: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for variable in self.dependents(start) {
            if variable.scope == Scope::Init {
                continue;
            }
            for container in &variable.containers {
                receivers
                    .entry(&container.name)
                    .or_default()
                    .push(variable.name.as_str());
            }
        }
        receivers
    }

    /// Composed variables ordered so that each comes after the composed variables it uses.
    pub fn composition_order(&self) -> Vec<&Variable> {
        let mut order = Vec::new();
        let mut done = BTreeSet::new();
        for variable in &self.variables {
            self.visit_composed(variable, &mut done, &mut order);
        }
        order
    }

    fn visit_composed<'a>(
        &'a self,
        variable: &'a Variable,
        done: &mut BTreeSet<&'a str>,
        order: &mut Vec<&'a Variable>,
    ) {
        let Origin::Composed(composition) = &variable.origin else {
            return;
        };
        if !done.insert(variable.name.as_str()) {
            return;
        }
        for input in composition.template.placeholders() {
            if let Some(input) = self.variable(input.as_str()) {
                self.visit_composed(input, done, order);
            }
        }
        order.push(variable);
    }
}

impl Variable {
    /// `true` when `container` receives this variable.
    pub fn is_for_container(&self, container: &str) -> bool {
        self.scope == Scope::Containers && self.containers.iter().any(|c| c.name == container)
    }
}

/// `source:`: its one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LocalSource;

impl Choice for LocalSource {
    const WHAT: &'static str = "source";
    const VALUES: &'static [(&'static str, Self)] = &[("local", LocalSource)];
    const HINT: Option<&'static str> =
        Some("use `source: local` for the bootstrap file, or omit it for AWS");
}

impl Choice for Scope {
    const WHAT: &'static str = "scope";
    const VALUES: &'static [(&'static str, Self)] = &[("init", Scope::Init)];
    const HINT: Option<&'static str> =
        Some("the only scope is `init`; omit it for container variables");
}

impl Choice for Decode {
    const WHAT: &'static str = "decode";
    const VALUES: &'static [(&'static str, Self)] = &[
        ("auto", Decode::Auto),
        ("base64", Decode::Base64),
        ("pem", Decode::Pem),
    ];
}

impl Choice for PemContent {
    const WHAT: &'static str = "content";
    const VALUES: &'static [(&'static str, Self)] = &[
        ("certificates", PemContent::Certificates),
        ("private-key", PemContent::PrivateKey),
    ];
}

/// `type:` of a `secret`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SecretKind {
    Json,
    String,
}

impl Choice for SecretKind {
    const WHAT: &'static str = "secret type";
    const VALUES: &'static [(&'static str, Self)] =
        &[("json", SecretKind::Json), ("string", SecretKind::String)];
}

/// Octal permission bits, three or four digits (`'600'`, `'0600'`), optionally after `0o`
/// (`'0o600'`): `'07'` and `'0o7'` are refused alike.
fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if !(3..=4).contains(&digits.len()) || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o777)
}

/// The name of the directory holding the manifest at `path`.
fn directory_name(path: &Path) -> Option<String> {
    let name = path.parent()?.file_name()?.to_str()?;
    Some(name.to_owned())
}

/// A service name forms the AWS paths: A-Z, a-z, 0-9, '-', '_' and '.', not empty.
fn is_service_name(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

const SERVICE_NAME_RULE: &str =
    "a non-empty name of A-Z, a-z, 0-9, '-', '_' and '.' (it forms the AWS paths)";

struct Validator {
    path: Arc<str>,
    problems: Vec<Diagnostic>,
    /// Lines that hold a value that could be a secret (a `default`, a template, anything
    /// misplaced or unknown): their source is never shown under a problem.
    unsafe_lines: BTreeSet<u64>,
}

fn loc_of<T>(spanned: &Spanned<T>) -> &serde_saphyr::Location {
    &spanned.referenced
}

impl Validator {
    fn at(&self, location: &serde_saphyr::Location) -> Location {
        Location::from_yaml(&self.path, location)
    }

    fn problem(&mut self, location: &serde_saphyr::Location, message: impl Into<String>) {
        let span = location.span().len();
        let at = self.at(location);
        self.problem_at(at, span, message);
    }

    /// A problem at `location` covering `span` characters; its source line is shown when the
    /// line holds nothing that could be a secret.
    fn problem_at(&mut self, location: Location, span: u64, message: impl Into<String>) {
        let show = location.line > 0 && !self.unsafe_lines.contains(&location.line);
        self.problems.push(
            Diagnostic::error(DiagnosticKind::Manifest, message)
                .at(location)
                .spanning(span)
                .showing_source(show),
        );
    }

    /// A problem of the whole file, reported at its start; no source line is shown.
    fn file_problem(&mut self, message: impl Into<String>) {
        self.problems.push(
            Diagnostic::error(DiagnosticKind::Manifest, message)
                .at(Location::new(&self.path, 1, 1)),
        );
    }

    /// The last problem also concerns `location`.
    fn also_at(&mut self, location: Location, label: &str) {
        if let Some(last) = self.problems.pop() {
            self.problems.push(last.also_at(location, label));
        }
    }

    fn absorb(&mut self, problems: Vec<YamlProblem>) {
        for p in problems {
            let location = Location::new(&self.path, p.line, p.column);
            self.problem_at(location, p.span, p.message);
        }
    }

    fn manifest(
        &mut self,
        raw: RawManifest,
        setting: Option<&ServiceSetting>,
        directory: Option<String>,
    ) -> Manifest {
        let mut raw = raw;
        self.absorb(std::mem::take(&mut raw.problems));
        let (service, service_origin) = self.service(&raw, setting, directory);
        let raw_variables = match raw.variables {
            Some(list) => list.value,
            None if raw.bare || raw.present.contains(&"variables") => Vec::new(),
            None => {
                self.file_problem("missing field `variables` in the manifest");
                Vec::new()
            }
        };

        // First pass: names, so that references can be checked in the second.
        let declared = self.declarations(&raw_variables);
        let local: BTreeSet<&str> = raw_variables
            .iter()
            .filter(|v| v.value.source.as_ref().is_some_and(|s| s.value == "local"))
            .filter_map(|v| v.value.name.as_ref().map(|n| n.value.as_str()))
            .collect();
        let mut names: Vec<&str> = declared.keys().map(String::as_str).collect();
        names.sort_unstable();
        let context = Context {
            declared: &names,
            local: &local,
        };

        let mut variables = Vec::new();
        for raw in raw_variables.iter() {
            if let Some(variable) = self.variable(raw, &context) {
                variables.push(variable);
            }
        }
        let mut index = HashMap::new();
        for (i, v) in variables.iter().enumerate() {
            index.entry(v.name.clone()).or_insert(i);
        }
        let lookup = raw.lookup.map(|l| self.lookup(l)).unwrap_or_default();
        let manifest = Manifest {
            path: Arc::clone(&self.path),
            service,
            service_origin,
            lookup,
            variables,
            index,
            unsafe_lines: self.unsafe_lines.clone(),
        };
        self.check_cycles(&manifest);
        manifest
    }

    /// Every declared name with where it is declared first; a name declared again is reported
    /// at both places.
    fn declarations(
        &mut self,
        raw_variables: &[Spanned<RawVariable>],
    ) -> HashMap<String, (usize, serde_saphyr::Location)> {
        let mut declared: HashMap<String, (usize, serde_saphyr::Location)> = HashMap::new();
        for (i, raw) in raw_variables.iter().enumerate() {
            let Some(name) = &raw.value.name else {
                continue;
            };
            match declared.get(&name.value) {
                Some((_, first)) => {
                    let message = format!(
                        "`{}` is declared twice (first at line {}, column {})",
                        name.value,
                        first.line(),
                        first.column()
                    );
                    let first_message = format!(
                        "`{}` is declared again at line {}, column {}",
                        name.value,
                        name.referenced.line(),
                        name.referenced.column()
                    );
                    let first = *first;
                    let (here, there) = (self.at(loc_of(name)), self.at(&first));
                    self.problem(loc_of(name), message);
                    self.also_at(there.clone(), "the first declaration");
                    self.problem(&first, first_message);
                    self.also_at(here, "the other declaration");
                }
                None => {
                    declared.insert(name.value.clone(), (i, name.referenced));
                }
            }
        }
        declared
    }

    /// The service name and where it came from. The mapping form names it in `service:`; a
    /// setting may repeat it but never contradict it (a host-wide setting must not send one
    /// service's manifest to another service's secrets). The bare form takes the setting,
    /// else the name of the manifest's directory.
    fn service(
        &mut self,
        raw: &RawManifest,
        setting: Option<&ServiceSetting>,
        directory: Option<String>,
    ) -> (String, ServiceOrigin) {
        let file = Location::new(&self.path, 0, 0);
        match (&raw.service, setting) {
            (Some(service), Some(setting)) if service.value.trim() != setting.name => {
                let message = format!(
                    "the manifest names service `{}`, but {} says `{}`: remove one of them",
                    service.value, setting.origin, setting.name
                );
                self.problem(loc_of(service), message);
                (
                    String::new(),
                    ServiceOrigin::Manifest(self.at(loc_of(service))),
                )
            }
            (Some(service), _) => {
                if !is_service_name(service.value.trim()) {
                    self.problem(
                        loc_of(service),
                        format!("`service` must be {SERVICE_NAME_RULE}"),
                    );
                }
                (
                    service.value.clone(),
                    ServiceOrigin::Manifest(self.at(loc_of(service))),
                )
            }
            (None, Some(setting)) => {
                if !is_service_name(&setting.name) {
                    self.problem_at(
                        file,
                        0,
                        format!(
                            "the service `{}` from {} must be {SERVICE_NAME_RULE}",
                            setting.name, setting.origin
                        ),
                    );
                }
                (
                    setting.name.clone(),
                    ServiceOrigin::Setting(setting.origin.clone()),
                )
            }
            (None, None) if raw.present.contains(&"service") => {
                (String::new(), ServiceOrigin::Directory)
            }
            (None, None) if !raw.bare => {
                self.file_problem(
                    "missing field `service` in the manifest (or pass --service NAME)",
                );
                (String::new(), ServiceOrigin::Directory)
            }
            (None, None) => match directory {
                Some(name) if is_service_name(&name) => (name, ServiceOrigin::Directory),
                other => {
                    let found = match other {
                        Some(name) => format!(
                            "the name of its directory, `{}`, is not {SERVICE_NAME_RULE}",
                            name
                        ),
                        None => "it is in no named directory".to_owned(),
                    };
                    self.problem_at(file, 0, format!(
                            "a manifest written as a bare list takes its service from its directory, but {found}; pass --service NAME (or set FETCH_ENV_SERVICE)"
                        ));
                    (String::new(), ServiceOrigin::Directory)
                }
            },
        }
    }

    fn lookup(&mut self, raw: Spanned<RawLookup>) -> Lookup {
        let raw = raw.value;
        Lookup {
            ssm: raw.ssm.as_ref().and_then(|field| self.one_of(field)),
            secrets: raw.secrets.as_ref().and_then(|field| self.one_of(field)),
        }
    }

    /// The value a word names, or a located "unknown …" problem.
    fn one_of<T: Choice>(&mut self, field: &Spanned<String>) -> Option<T> {
        match T::parse(&field.value) {
            Ok(value) => Some(value),
            Err(unknown) => {
                self.problem(loc_of(field), unknown.to_string());
                None
            }
        }
    }

    /// One variable, validated in steps: its name, where it comes from and who uses it, the
    /// fields that contradict each other, its requirement, its containers, its origin and its
    /// file.
    fn variable(&mut self, raw: &Spanned<RawVariable>, context: &Context<'_>) -> Option<Variable> {
        let at = raw.referenced;
        let raw = &raw.value;
        self.absorb(raw.problems.clone());
        if raw.unreadable {
            return None;
        }
        let Some(raw_name) = &raw.name else {
            if !raw.present.contains(&"name") {
                self.problem(&at, "missing field `name` in a variable");
            }
            return None;
        };
        let name = self.variable_name(raw_name);
        let local = raw
            .source
            .as_ref()
            .and_then(|s| self.one_of::<LocalSource>(s))
            .is_some();
        let scope = raw
            .scope
            .as_ref()
            .and_then(|s| self.one_of::<Scope>(s))
            .unwrap_or(Scope::Containers);
        self.contradictions(raw, &at, local, scope);
        let requirement = match (&raw.required_when, &raw.required) {
            (Some(when), _) => self.required_when(when, name.as_ref(), context),
            (None, Some(r)) if r.value => Requirement::Required,
            _ => Requirement::Optional,
        };
        let containers = raw
            .containers
            .as_ref()
            .map(|list| self.containers(list))
            .unwrap_or_default();
        let origin = self.origin(raw, name.as_ref(), local, context);
        let file = match &raw.file {
            Some(file) => Some(self.file(file, name.as_ref(), context)?),
            None => None,
        };
        Some(Variable {
            name: name?,
            location: self.at(loc_of(raw_name)),
            file,
            description: raw.description.as_ref().map(|d| d.value.clone()),
            requirement,
            default: raw.default.as_ref().map(|d| d.value.clone()),
            sensitive: raw.sensitive.as_ref().is_some_and(|s| s.value),
            origin: origin?,
            scope,
            containers,
        })
    }

    fn variable_name(&mut self, raw_name: &Spanned<String>) -> Option<EnvName> {
        match EnvName::new(&raw_name.value) {
            Ok(name) => Some(name),
            Err(e) => {
                let message = format!("invalid variable name `{}`: {e}", raw_name.value);
                self.problem(loc_of(raw_name), message);
                None
            }
        }
    }

    /// Fields that cannot go together, each reported at the second of the pair.
    fn contradictions(
        &mut self,
        raw: &RawVariable,
        at: &serde_saphyr::Location,
        local: bool,
        scope: Scope,
    ) {
        let place = |field: Option<serde_saphyr::Location>| field.unwrap_or(*at);
        let secret = raw.secret.as_ref().map(|s| s.referenced);
        let compose = raw.compose.as_ref().map(|s| s.referenced);
        let pairs = [
            (
                local && secret.is_some(),
                secret,
                "`source: local` and `secret`",
            ),
            (
                local && compose.is_some(),
                compose,
                "`source: local` and `compose`",
            ),
            (
                secret.is_some() && compose.is_some(),
                compose,
                "`secret` and `compose`",
            ),
            (
                compose.is_some() && raw.default.is_some(),
                raw.default.as_ref().map(|s| s.referenced),
                "`compose` and `default` (a composed value always comes from its template)",
            ),
            (
                raw.required.as_ref().is_some_and(|r| r.value) && raw.required_when.is_some(),
                raw.required_when.as_ref().map(|s| s.referenced),
                "`required: true` and `required_when`",
            ),
            (
                scope == Scope::Init
                    && raw.containers.as_ref().is_some_and(|c| !c.value.is_empty()),
                raw.containers.as_ref().map(|s| s.referenced),
                "`scope: init` and `containers` (init variables belong to no container)",
            ),
        ];
        for (contradictory, field, what) in pairs {
            if contradictory {
                self.problem(&place(field), format!("contradictory fields: {what}"));
            }
        }
    }

    /// `containers:`: compose service names, each once.
    fn containers(&mut self, list: &Spanned<Vec<Spanned<String>>>) -> Vec<Container> {
        let mut seen: Vec<&str> = Vec::new();
        for c in &list.value {
            let valid = c
                .value
                .chars()
                .next()
                .is_some_and(|f| f.is_ascii_alphanumeric())
                && c.value
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'));
            if !valid {
                let message = format!("`{}` is not a valid compose service name", c.value);
                self.problem(loc_of(c), message);
            } else if seen.contains(&c.value.as_str()) {
                let message = format!("container `{}` is listed twice", c.value);
                self.problem(loc_of(c), message);
            }
            seen.push(&c.value);
        }
        list.value
            .iter()
            .map(|c| Container {
                name: c.value.clone(),
                location: self.at(loc_of(c)),
            })
            .collect()
    }

    /// Where the value comes from: an `arn_from` secret, a template, the bootstrap file or AWS.
    fn origin(
        &mut self,
        raw: &RawVariable,
        name: Option<&EnvName>,
        local: bool,
        context: &Context<'_>,
    ) -> Option<Origin> {
        if let Some(secret) = &raw.secret {
            self.secret(secret, context).map(Origin::Secret)
        } else if let Some(compose) = &raw.compose {
            self.compose(compose, name, context).map(Origin::Composed)
        } else if local {
            Some(Origin::Local)
        } else {
            Some(Origin::Remote)
        }
    }

    fn file(
        &mut self,
        file: &Spanned<crate::raw_manifest::RawFile>,
        name: Option<&EnvName>,
        context: &Context<'_>,
    ) -> Option<FileSpec> {
        let raw = &file.value;
        let mut ok = true;
        let path_from = match &raw.path_from {
            None if raw.present.contains(&"path_from") => None,
            None => {
                self.problem(
                    loc_of(file),
                    "missing field `path_from` in `file` (the variable holding the path)",
                );
                None
            }
            Some(p) if name.is_some_and(|n| n.as_str() == p.value) => {
                self.problem(loc_of(p), "`path_from` cannot be the variable itself");
                None
            }
            Some(p) => self.reference(
                &p.value,
                loc_of(p),
                "`path_from` variable",
                context.declared,
            ),
        };
        let decode = match &raw.decode {
            None => Decode::Auto,
            Some(d) => self.one_of(d).unwrap_or_else(|| {
                ok = false;
                Decode::Auto
            }),
        };
        let content = match &raw.content {
            None => PemContent::Certificates,
            Some(c) => self.one_of(c).unwrap_or_else(|| {
                ok = false;
                PemContent::Certificates
            }),
        };
        let mode = match &raw.mode {
            None if content == PemContent::PrivateKey => 0o600,
            None => 0o644,
            Some(m) => match parse_mode(&m.value) {
                Some(mode) => mode,
                None => {
                    let message = format!(
                        "`mode` must be octal permission bits like '0600', not `{}`",
                        m.value
                    );
                    self.problem(loc_of(m), message);
                    ok = false;
                    0
                }
            },
        };
        if content == PemContent::PrivateKey && mode & 0o077 != 0 {
            let at = raw
                .mode
                .as_ref()
                .map(|m| m.referenced)
                .unwrap_or(file.referenced);
            self.problem(
                &at,
                format!("a private key must not be readable by group or others (mode {mode:04o})"),
            );
            ok = false;
        }
        let owner = match &raw.owner {
            None => None,
            Some(o) => match o
                .value
                .split_once(':')
                .map(|(u, g)| (u.parse::<u32>(), g.parse::<u32>()))
            {
                Some((Ok(uid), Ok(gid))) => Some((uid, gid)),
                _ => {
                    let message = format!(
                        "`owner` must be numeric `uid:gid` like '70:70', not `{}`",
                        o.value
                    );
                    self.problem(loc_of(o), message);
                    ok = false;
                    None
                }
            },
        };
        let path_from = path_from?;
        ok.then_some(FileSpec {
            path_from,
            decode,
            content,
            mode,
            owner,
        })
    }

    fn reference(
        &mut self,
        text: &str,
        at: &serde_saphyr::Location,
        what: &str,
        candidates: &[&str],
    ) -> Option<EnvName> {
        if candidates.contains(&text) {
            return EnvName::new(text).ok();
        }
        let mut message = format!("{what} `{}` is not declared", text);
        if let Some(s) = did_you_mean(text, candidates.iter().copied()) {
            message.push_str(&format!(" (did you mean `{s}`?)"));
        }
        self.problem(at, message);
        None
    }

    fn required_when(
        &mut self,
        when: &Spanned<String>,
        name: Option<&EnvName>,
        context: &Context<'_>,
    ) -> Requirement {
        let Some((other, value)) = when.value.split_once('=') else {
            self.problem(loc_of(when), "`required_when` must be `OTHER=value`");
            return Requirement::Optional;
        };
        let other = other.trim();
        if value.is_empty() {
            self.problem(
                loc_of(when),
                "`required_when` needs a value after `=` (an empty value counts as unset)",
            );
            return Requirement::Optional;
        }
        if name.is_some_and(|n| n.as_str() == other) {
            self.problem(
                loc_of(when),
                "`required_when` cannot refer to the variable itself",
            );
            return Requirement::Optional;
        }
        match self.reference(
            other,
            loc_of(when),
            "`required_when` variable",
            context.declared,
        ) {
            Some(other) => Requirement::RequiredWhen {
                other,
                value: value.to_owned(),
            },
            None => Requirement::Optional,
        }
    }

    fn secret(&mut self, secret: &Spanned<RawSecret>, context: &Context<'_>) -> Option<SecretRef> {
        let raw = &secret.value;
        let Some(arn_from) = &raw.arn_from else {
            if !raw.present.contains(&"arn_from") {
                self.problem(loc_of(secret), "missing field `arn_from` in `secret`");
            }
            return None;
        };
        let arn_from_name = if context.local.contains(arn_from.value.as_str()) {
            EnvName::new(&arn_from.value).ok()
        } else if context.declared.contains(&arn_from.value.as_str()) {
            let message = format!(
                "`arn_from` must name a `source: local` variable; `{}` is not local",
                arn_from.value
            );
            self.problem(loc_of(arn_from), message);
            None
        } else {
            let locals: Vec<&str> = context.local.iter().copied().collect();
            self.reference(
                &arn_from.value,
                loc_of(arn_from),
                "`arn_from` variable",
                &locals,
            )
        };
        let kind = match &raw.kind {
            Some(kind) => match self.one_of::<SecretKind>(kind) {
                Some(SecretKind::Json) => match &raw.key {
                    Some(key) if !key.value.is_empty() => Some(SecretType::Json {
                        key: key.value.clone(),
                    }),
                    None if raw.present.contains(&"key") => None,
                    _ => {
                        self.problem(loc_of(secret), "`secret` of `type: json` needs a `key`");
                        None
                    }
                },
                Some(SecretKind::String) => {
                    if let Some(key) = &raw.key {
                        self.problem(
                            loc_of(key),
                            "contradictory fields: `type: string` takes the whole secret and has no `key`",
                        );
                    }
                    Some(SecretType::String)
                }
                None => None,
            },
            None if raw.present.contains(&"type") => None,
            None => {
                self.problem(
                    loc_of(secret),
                    "missing field `type` in `secret` (`json` or `string`)",
                );
                None
            }
        };
        Some(SecretRef {
            arn_from: arn_from_name?,
            kind: kind?,
        })
    }

    fn compose(
        &mut self,
        compose: &Spanned<RawCompose>,
        name: Option<&EnvName>,
        context: &Context<'_>,
    ) -> Option<Composition> {
        let raw = &compose.value;
        let Some(template_text) = &raw.template else {
            if !raw.present.contains(&"template") {
                self.problem(loc_of(compose), "missing field `template` in `compose`");
            }
            return None;
        };
        let template = match Template::parse(&template_text.value) {
            Ok(t) => t,
            Err(e) => {
                self.problem(loc_of(template_text), format!("invalid template: {e}"));
                return None;
            }
        };
        let mut ok = true;
        for placeholder in template.placeholders() {
            if name == Some(placeholder) {
                self.problem(
                    loc_of(template_text),
                    format!("the template of `{placeholder}` uses itself"),
                );
                ok = false;
            } else if self
                .reference(
                    placeholder.as_str(),
                    loc_of(template_text),
                    "placeholder",
                    context.declared,
                )
                .is_none()
            {
                ok = false;
            }
        }
        let mut encode = Vec::new();
        if let Some(list) = &raw.encode {
            for entry in &list.value {
                let Ok(entry_name) = EnvName::new(&entry.value) else {
                    let message =
                        format!("`encode` entry `{}` is not a variable name", entry.value);
                    self.problem(loc_of(entry), message);
                    ok = false;
                    continue;
                };
                if encode.contains(&entry_name) {
                    self.problem(
                        loc_of(entry),
                        format!("`encode` lists `{entry_name}` twice"),
                    );
                    ok = false;
                } else if !context.declared.contains(&entry_name.as_str()) {
                    self.reference(
                        entry_name.as_str(),
                        loc_of(entry),
                        "`encode` entry",
                        context.declared,
                    );
                    ok = false;
                } else if !template.placeholders().contains(&&entry_name) {
                    self.problem(
                        loc_of(entry),
                        format!("`encode` entry `{entry_name}` is not used by the template"),
                    );
                    ok = false;
                } else {
                    encode.push(entry_name);
                }
            }
        }
        ok.then_some(Composition { template, encode })
    }

    fn check_cycles(&mut self, manifest: &Manifest) {
        // Depth-first search over composed variables; a back edge is a cycle.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut marks = vec![Mark::New; manifest.variables.len()];
        let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
        fn visit(
            manifest: &Manifest,
            i: usize,
            marks: &mut [Mark],
            stack: &mut Vec<usize>,
            cycles: &mut Vec<Vec<usize>>,
        ) {
            marks[i] = Mark::Active;
            stack.push(i);
            if let Origin::Composed(c) = &manifest.variables[i].origin {
                for input in c.template.placeholders() {
                    let Some(&j) = manifest.index.get(input.as_str()) else {
                        continue;
                    };
                    match marks[j] {
                        Mark::Active => {
                            let start = stack.iter().position(|&s| s == j).unwrap_or(0);
                            cycles.push(stack[start..].to_vec());
                        }
                        Mark::New => visit(manifest, j, marks, stack, cycles),
                        Mark::Done => {}
                    }
                }
            }
            stack.pop();
            marks[i] = Mark::Done;
        }
        let mut cycles = Vec::new();
        for i in 0..manifest.variables.len() {
            if marks[i] == Mark::New {
                visit(manifest, i, &mut marks, &mut Vec::new(), &mut cycles);
            }
        }
        for cycle in cycles {
            let mut names: Vec<String> = cycle
                .iter()
                .map(|&i| manifest.variables[i].name.to_string())
                .collect();
            let mut key = names.clone();
            key.sort();
            if !reported.insert(key) {
                continue;
            }
            names.push(names[0].clone());
            let first = &manifest.variables[cycle[0]];
            self.problem_at(
                first.location.clone(),
                0,
                format!("composed variables form a cycle: {}", names.join(" -> ")),
            );
        }
    }
}

struct Context<'a> {
    declared: &'a [&'a str],
    local: &'a BTreeSet<&'a str>,
}
