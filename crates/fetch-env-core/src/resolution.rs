//! Resolution: from a validated manifest, a bootstrap file and one store answer to the values of
//! every declared variable, each with the source it came from.
//!
//! The order of SPEC 3.1, later overriding earlier: the bootstrap file (local variables only),
//! SSM parameters, Secrets Manager bundles, the `arn_from` secret, the default, and last the
//! templates of composed variables in dependency order. An empty string is no value. Every
//! failure is collected so that one run lists them all; nothing here aborts on the first.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::bootstrap::Bootstrap;
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::env_name::EnvName;
use crate::lookup::{BundleLookup, SsmLookup};
use crate::manifest::{Manifest, Origin, Requirement, SecretType, Variable};
use crate::material::{Material, MaterialError};
use crate::secret_json::{SecretJsonError, parse_object};
use crate::secret_value::SecretValue;
use crate::store::{
    BundleQuery, ParameterQuery, SecretFetchError, SecretPayload, Store, StoreError, StoreRequest,
};
use crate::value::Value;

/// How one resolve looks things up; the defaults are the documented behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolveOptions {
    /// `NAMESPACE`, e.g. `voiceai/staging`; needed when any variable is remote.
    pub namespace: Option<String>,
    /// How SSM parameters are found: by path (the default) or by declared names.
    pub ssm_lookup: SsmLookup,
    /// How bundles are found: every secret under the prefix (the default), or only the
    /// canonical bundle `${NAMESPACE}/${service}/secrets`.
    pub bundle_lookup: BundleLookup,
}

/// Where a variable's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Bootstrap {
        line: u64,
    },
    Ssm {
        path: String,
        secure: bool,
        version: Option<String>,
    },
    Bundle {
        name: String,
        key: String,
        version: Option<String>,
    },
    Secret {
        id: String,
        key: Option<String>,
        version: Option<String>,
    },
    Default,
    Compose,
}

impl Source {
    /// The version of the place the value came from (SSM's `Version`, Secrets Manager's
    /// `VersionId`), when the store reported one. Not part of how a source is shown.
    pub fn version(&self) -> Option<&str> {
        match self {
            Source::Ssm { version, .. }
            | Source::Bundle { version, .. }
            | Source::Secret { version, .. } => version.as_deref(),
            _ => None,
        }
    }

    /// `true` when the value came from a place meant for secrets, so that `explain` masks it
    /// whatever the manifest says.
    pub fn is_secret_store(&self) -> bool {
        matches!(
            self,
            Source::Ssm { secure: true, .. } | Source::Bundle { .. } | Source::Secret { .. }
        )
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bootstrap { line } => write!(f, "bootstrap:{line}"),
            Source::Ssm { path, .. } => write!(f, "ssm:{path}"),
            Source::Bundle { name, key, .. } => write!(f, "sm:{name}#{key}"),
            Source::Secret { id, key, .. } => {
                let shown = if id.starts_with("arn:") {
                    id.clone()
                } else {
                    format!("sm:{id}")
                };
                match key {
                    Some(key) => write!(f, "{shown}#{key}"),
                    None => f.write_str(&shown),
                }
            }
            Source::Default => f.write_str("default"),
            Source::Compose => f.write_str("compose"),
        }
    }
}

/// The outcome for one variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableStatus {
    /// Has a value.
    Resolved,
    /// Optional and no source gave a value: not emitted.
    Unset,
    /// Required (or required by `required_when`) and no value: resolution fails.
    Missing,
}

impl fmt::Display for VariableStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VariableStatus::Resolved => "ok",
            VariableStatus::Unset => "unset",
            VariableStatus::Missing => "MISSING",
        })
    }
}

/// One declared variable after resolution.
#[derive(Debug, Clone)]
pub struct ResolvedVariable<'m> {
    pub variable: &'m Variable,
    /// The value, which knows whether it may be shown (see [`Value::shown`]).
    pub value: Option<Value>,
    pub source: Option<Source>,
    pub status: VariableStatus,
}

/// Why resolution failed (exit 1). No variant holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{name} is required but no source gave it a value ({looked})")]
    RequiredMissing { name: EnvName, looked: String },
    #[error("{name} is required because {other}={value}, but no source gave it a value ({looked})")]
    RequiredWhenMissing {
        name: EnvName,
        other: EnvName,
        value: String,
        looked: String,
    },
    #[error("{name} is required but its template input {input} is unset")]
    ComposeInputUnset { name: EnvName, input: EnvName },
    #[error(
        "secret {id} (named by {arn_from}) does not exist or is not visible to these credentials"
    )]
    SecretNotFound { id: String, arn_from: EnvName },
    #[error("secret {id} has no key `{key}` (needed by {name}); its keys are: {}", list(.available))]
    KeyMissing {
        id: String,
        key: String,
        name: EnvName,
        available: Vec<String>,
    },
    #[error("secret {id} {error}")]
    SecretNotJson { id: String, error: SecretJsonError },
    #[error("secret {id} is binary (SecretBinary); only SecretString secrets can be read")]
    SecretBinary { id: String },
    #[error("SSM parameters {first} and {second} have the same name {name}")]
    ParameterCollision {
        name: String,
        first: String,
        second: String,
    },
    #[error("the value of {name} contains a NUL byte, which no environment variable can hold")]
    NulByte { name: EnvName },
    #[error("{name} is to be written to the file named by {path_from}, but {path_from} is unset")]
    MaterialPathUnset { name: EnvName, path_from: EnvName },
    #[error(
        "{name} is to be written to the file named by {path_from}, whose value is not an absolute path"
    )]
    MaterialPathRelative { name: EnvName, path_from: EnvName },
    #[error("the value of {name} {error}")]
    InvalidMaterial { name: EnvName, error: MaterialError },
}

fn list(keys: &[String]) -> String {
    if keys.is_empty() {
        "(none)".into()
    } else {
        keys.join(", ")
    }
}

/// Why resolution could not start or reach its store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "NAMESPACE is not set: pass --namespace, set it in the environment, or put NAMESPACE=… in the bootstrap file"
    )]
    MissingNamespace,
    #[error("NAMESPACE `{0}` is not a valid namespace (like voiceai/staging)")]
    InvalidNamespace(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of one resolve: every variable with its status, every failure, every warning.
#[derive(Debug)]
pub struct Resolution<'m> {
    pub manifest: &'m Manifest,
    pub variables: Vec<ResolvedVariable<'m>>,
    pub failures: Vec<Failure>,
    /// Drift and other things worth a look that do not fail resolution.
    pub warnings: Vec<Diagnostic>,
    /// What was asked of the store.
    pub request: StoreRequest,
    /// The files (`file:`) to write, decoded and validated, in manifest order.
    pub materials: Vec<Material>,
}

impl<'m> Resolution<'m> {
    /// `true` when nothing failed: the only state in which values may be output.
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }

    /// The files of the variables that `container` receives (all of them when `None`).
    pub fn materials(&self, container: Option<&str>) -> Vec<&Material> {
        self.materials
            .iter()
            .filter(|m| {
                container.is_none_or(|c| {
                    self.manifest
                        .variable(m.variable.as_str())
                        .is_some_and(|v| v.is_for_container(c))
                })
            })
            .collect()
    }

    /// The resolved variables that `container` receives (all of them when `None`), in manifest
    /// order, with their values.
    pub fn environment(&self, container: Option<&str>) -> Vec<(&EnvName, &SecretValue)> {
        self.variables
            .iter()
            .filter(|r| container.is_none_or(|c| r.variable.is_for_container(c)))
            .filter_map(|r| r.value.as_ref().map(|v| (&r.variable.name, v.text())))
            .collect()
    }
}

/// Builds the store request for `manifest` and resolves every variable.
pub fn resolve<'m>(
    manifest: &'m Manifest,
    bootstrap: &Bootstrap,
    options: &ResolveOptions,
    store: &dyn Store,
) -> Result<Resolution<'m>, ResolveError> {
    let request = store_request(manifest, bootstrap, options)?;
    let response = store.fetch(&request)?;
    let mut r = Resolver {
        manifest,
        bootstrap,
        failures: Vec::new(),
        warnings: Vec::new(),
        explained: Vec::new(),
    };

    let parameters = r.parameters_by_name(response.parameters);
    let bundles = r.bundle_keys(response.bundles);
    let secrets = r.secrets(response.secrets);

    // Every value is made with its secrecy: from the variable (`sensitive`) and from where it
    // came (a place meant for secrets); a composed value inherits it from its inputs.
    let mut values: HashMap<&str, (Value, Source)> = HashMap::new();
    for variable in manifest.variables() {
        let name = variable.name.as_str();
        let mut found: Option<(SecretValue, Source)> = None;
        let offer = |found: &mut Option<(SecretValue, Source)>,
                     candidate: Option<(SecretValue, Source)>| {
            if let Some((value, source)) = candidate
                && !value.is_empty()
            {
                *found = Some((value, source));
            }
        };
        match &variable.origin {
            Origin::Local => offer(
                &mut found,
                bootstrap
                    .get(name)
                    .map(|(v, line)| (v.clone(), Source::Bootstrap { line })),
            ),
            Origin::Remote | Origin::Secret(_) => {
                offer(&mut found, parameters.get(name).cloned());
                offer(&mut found, bundles.get(name).cloned());
                if let Origin::Secret(secret) = &variable.origin {
                    let value = r.secret_value(variable, secret, &secrets);
                    offer(&mut found, value);
                }
            }
            Origin::Composed(_) => {}
        }
        if found.is_none()
            && let Some(default) = &variable.default
        {
            offer(
                &mut found,
                Some((SecretValue::from(default.as_str()), Source::Default)),
            );
        }
        if let Some((text, source)) = found {
            let secret = variable.sensitive || source.is_secret_store();
            values.insert(name, (Value::public(text).secret_if(secret), source));
        }
    }

    let mut unset_inputs: HashMap<&str, EnvName> = HashMap::new();
    for variable in manifest.composition_order() {
        let Origin::Composed(composition) = &variable.origin else {
            continue;
        };
        let composed = composition.template.compose(
            |input| values.get(input.as_str()).map(|(v, _)| v),
            |input| composition.encode.contains(input),
        );
        match composed {
            Ok(value) => {
                values.insert(
                    variable.name.as_str(),
                    (value.secret_if(variable.sensitive), Source::Compose),
                );
            }
            Err(input) => {
                // An input whose absence is already explained explains this one too.
                if r.explained.contains(&input) {
                    r.explained.push(variable.name.clone());
                }
                unset_inputs.insert(variable.name.as_str(), input);
            }
        }
    }

    let mut variables = Vec::new();
    for variable in manifest.variables() {
        let name = variable.name.as_str();
        let (value, source) = match values.get(name) {
            Some((value, source)) => (Some(value.clone()), Some(source.clone())),
            None => (None, None),
        };
        let required = match &variable.requirement {
            Requirement::Optional => None,
            Requirement::Required => Some(None),
            Requirement::RequiredWhen { other, value } => {
                let actual = values.get(other.as_str()).map(|(v, _)| v.expose());
                (actual == Some(value.as_str())).then_some(Some((other, value)))
            }
        };
        let status = match (&value, required) {
            (Some(_), _) => VariableStatus::Resolved,
            (None, None) => VariableStatus::Unset,
            (None, Some(_)) if r.explained.contains(&variable.name) => VariableStatus::Missing,
            (None, Some(when)) => {
                let looked = r.looked(variable, options);
                r.failures.push(match (unset_inputs.get(name), when) {
                    (Some(input), _) => Failure::ComposeInputUnset {
                        name: variable.name.clone(),
                        input: input.clone(),
                    },
                    (None, None) => Failure::RequiredMissing {
                        name: variable.name.clone(),
                        looked,
                    },
                    (None, Some((other, value))) => Failure::RequiredWhenMissing {
                        name: variable.name.clone(),
                        other: other.clone(),
                        value: value.clone(),
                        looked,
                    },
                });
                VariableStatus::Missing
            }
        };
        if value.as_ref().is_some_and(|v| v.expose().contains('\0')) {
            r.failures.push(Failure::NulByte {
                name: variable.name.clone(),
            });
        }
        variables.push(ResolvedVariable {
            variable,
            value,
            source,
            status,
        });
    }
    let mut materials = Vec::new();
    for resolved in &variables {
        let (Some(spec), Some(value)) = (&resolved.variable.file, &resolved.value) else {
            continue;
        };
        let name = resolved.variable.name.clone();
        let path = variables
            .iter()
            .find(|v| v.variable.name == spec.path_from)
            .and_then(|v| v.value.as_ref());
        let Some(path) = path else {
            r.failures.push(Failure::MaterialPathUnset {
                name,
                path_from: spec.path_from.clone(),
            });
            continue;
        };
        if !path.expose().starts_with('/') {
            r.failures.push(Failure::MaterialPathRelative {
                name,
                path_from: spec.path_from.clone(),
            });
            continue;
        }
        match crate::material::decode(value.expose(), spec.decode, spec.content) {
            Ok(contents) => materials.push(Material {
                variable: name,
                path: path.expose().to_owned(),
                contents,
                mode: spec.mode,
                owner: spec.owner,
            }),
            Err(error) => r.failures.push(Failure::InvalidMaterial { name, error }),
        }
    }
    Ok(Resolution {
        manifest,
        variables,
        failures: r.failures,
        warnings: r.warnings,
        request,
        materials,
    })
}

/// The one request this manifest needs: the service path, the bundle prefix (or the canonical
/// bundle), and each distinct `arn_from` secret whose bootstrap variable is set.
pub fn store_request(
    manifest: &Manifest,
    bootstrap: &Bootstrap,
    options: &ResolveOptions,
) -> Result<StoreRequest, ResolveError> {
    let mut secrets: Vec<String> = Vec::new();
    for variable in manifest.variables() {
        if let Origin::Secret(secret) = &variable.origin
            && let Some((id, _)) = bootstrap.get(secret.arn_from.as_str())
            && !id.is_empty()
            && !secrets.iter().any(|s| s == id.expose())
        {
            secrets.push(id.expose().to_owned());
        }
    }
    let remote: Vec<String> = manifest
        .variables()
        .iter()
        .filter(|v| matches!(v.origin, Origin::Remote | Origin::Secret(_)))
        .map(|v| v.name.to_string())
        .collect();
    if remote.is_empty() {
        return Ok(StoreRequest {
            parameters: ParameterQuery::None,
            bundles: BundleQuery::None,
            secrets,
        });
    }
    let namespace = namespace(options)?;
    let path = format!("/{namespace}/{}/", manifest.service);
    let prefix = format!("{namespace}/{}/", manifest.service);
    Ok(StoreRequest {
        parameters: if options.ssm_lookup == SsmLookup::ByName {
            ParameterQuery::ByNames {
                path,
                names: remote,
            }
        } else {
            ParameterQuery::ByPath { path }
        },
        bundles: if options.bundle_lookup == BundleLookup::Bundle {
            BundleQuery::Named {
                name: format!("{prefix}secrets"),
            }
        } else {
            BundleQuery::Prefix { prefix }
        },
        secrets,
    })
}

pub(crate) fn namespace(options: &ResolveOptions) -> Result<&str, ResolveError> {
    let raw = options
        .namespace
        .as_deref()
        .ok_or(ResolveError::MissingNamespace)?;
    let trimmed = raw.trim_matches('/');
    let valid = !trimmed.is_empty()
        && trimmed.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if valid {
        Ok(trimmed)
    } else {
        Err(ResolveError::InvalidNamespace(raw.to_owned()))
    }
}

struct Resolver<'a> {
    manifest: &'a Manifest,
    bootstrap: &'a Bootstrap,
    failures: Vec<Failure>,
    warnings: Vec<Diagnostic>,
    /// Variables whose absence is already explained by a recorded failure.
    explained: Vec<EnvName>,
}

/// A secret read for `arn_from`: its whole text, and its keys when a `type: json` variable needs
/// them and the text is a flat JSON object (otherwise the failure is already recorded).
struct ReadSecret {
    text: SecretValue,
    object: Option<Vec<(String, SecretValue)>>,
    version: Option<String>,
}

impl Resolver<'_> {
    fn declared_remote(&self, name: &str) -> Option<&Variable> {
        self.manifest
            .variable(name)
            .filter(|v| matches!(v.origin, Origin::Remote | Origin::Secret(_)))
    }

    fn drift(&mut self, name: &str, place: String) {
        match self.manifest.variable(name) {
            None => {
                let warning = if crate::env_name::EnvName::is_valid(name) {
                    format!("{place} is not declared in the manifest")
                } else {
                    format!("{place} is not a valid variable name and is ignored")
                };
                self.warnings
                    .push(Diagnostic::warning(DiagnosticKind::Resolution, warning));
            }
            Some(v) if self.declared_remote(name).is_none() => {
                let kind = match v.origin {
                    Origin::Local => "`source: local`",
                    _ => "`compose`",
                };
                self.warnings.push(Diagnostic::warning(
                    DiagnosticKind::Resolution,
                    format!("{place} is ignored: {name} is declared with {kind}"),
                ));
            }
            Some(_) => {}
        }
    }

    fn parameters_by_name(
        &mut self,
        parameters: Vec<crate::store::Parameter>,
    ) -> HashMap<String, (SecretValue, Source)> {
        let mut by_name: BTreeMap<String, (SecretValue, Source)> = BTreeMap::new();
        let mut collided: Vec<String> = Vec::new();
        let mut parameters = parameters;
        parameters.sort_by(|a, b| a.path.cmp(&b.path));
        for p in parameters {
            let name = p.path.rsplit('/').next().unwrap_or_default().to_owned();
            if let Some((_, Source::Ssm { path: first, .. })) = by_name.get(&name) {
                self.failures.push(Failure::ParameterCollision {
                    name: name.to_string(),
                    first: first.to_string(),
                    second: p.path.to_string(),
                });
                collided.push(name);
                continue;
            }
            self.drift(&name, format!("ssm:{}", p.path));
            let source = Source::Ssm {
                path: p.path,
                secure: p.secure,
                version: p.version,
            };
            by_name.insert(name, (p.value, source));
        }
        // Neither of two colliding parameters is a value: which one was meant is unknown.
        for name in collided {
            by_name.remove(&name);
            if let Ok(name) = EnvName::new(&name) {
                self.explained.push(name);
            }
        }
        by_name.into_iter().collect()
    }

    fn bundle_keys(
        &mut self,
        bundles: Vec<crate::store::FetchedSecret>,
    ) -> HashMap<String, (SecretValue, Source)> {
        let mut bundles = bundles;
        bundles.sort_by(|a, b| a.name.cmp(&b.name));
        let mut keys: HashMap<String, (SecretValue, Source)> = HashMap::new();
        for bundle in bundles {
            let text = match &bundle.payload {
                SecretPayload::Text(text) => text,
                SecretPayload::Binary => {
                    self.failures
                        .push(Failure::SecretBinary { id: bundle.name });
                    continue;
                }
            };
            let entries = match parse_object(text.expose()) {
                Ok(entries) => entries,
                Err(error) => {
                    self.failures.push(Failure::SecretNotJson {
                        id: bundle.name.to_string(),
                        error,
                    });
                    continue;
                }
            };
            for (key, value) in entries {
                self.drift(&key, format!("sm:{}#{key}", bundle.name));
                if let Some((_, Source::Bundle { name: earlier, .. })) = keys.get(&key) {
                    self.warnings.push(Diagnostic::warning(
                        DiagnosticKind::Resolution,
                        format!(
                            "key {key} is in both sm:{earlier} and sm:{}; the latter wins",
                            bundle.name
                        ),
                    ));
                }
                let source = Source::Bundle {
                    name: bundle.name.clone(),
                    key: key.clone(),
                    version: bundle.version.clone(),
                };
                keys.insert(key, (value, source));
            }
        }
        keys
    }

    fn secrets(
        &mut self,
        fetched: Vec<(
            String,
            Result<crate::store::FetchedSecret, SecretFetchError>,
        )>,
    ) -> HashMap<String, Option<ReadSecret>> {
        let mut read = HashMap::new();
        for (id, result) in fetched {
            let users: Vec<&Variable> = self
                .manifest
                .variables()
                .iter()
                .filter(|v| match &v.origin {
                    Origin::Secret(s) => self
                        .bootstrap
                        .get(s.arn_from.as_str())
                        .is_some_and(|(value, _)| value.expose() == id),
                    _ => false,
                })
                .collect();
            let needs_json = users.iter().any(|v| {
                matches!(&v.origin, Origin::Secret(s) if matches!(s.kind, SecretType::Json { .. }))
            });
            let secret = match result {
                Err(SecretFetchError::NotFound) => {
                    let arn_from = users.iter().find_map(|v| match &v.origin {
                        Origin::Secret(s) => Some(s.arn_from.clone()),
                        _ => None,
                    });
                    if let Some(arn_from) = arn_from {
                        self.failures.push(Failure::SecretNotFound {
                            id: id.to_string(),
                            arn_from,
                        });
                    }
                    None
                }
                Ok(secret) => match secret.payload {
                    SecretPayload::Binary => {
                        self.failures
                            .push(Failure::SecretBinary { id: id.to_string() });
                        None
                    }
                    SecretPayload::Text(text) => {
                        let object = if needs_json {
                            match parse_object(text.expose()) {
                                Ok(entries) => Some(entries),
                                Err(error) => {
                                    self.failures.push(Failure::SecretNotJson {
                                        id: id.to_string(),
                                        error,
                                    });
                                    None
                                }
                            }
                        } else {
                            None
                        };
                        Some(ReadSecret {
                            text,
                            object,
                            version: secret.version,
                        })
                    }
                },
            };
            read.insert(id, secret);
        }
        read
    }

    fn secret_value(
        &mut self,
        variable: &Variable,
        secret: &crate::manifest::SecretRef,
        secrets: &HashMap<String, Option<ReadSecret>>,
    ) -> Option<(SecretValue, Source)> {
        let (id, _) = self.bootstrap.get(secret.arn_from.as_str())?;
        if id.is_empty() {
            return None;
        }
        let found = self.secret_key(variable, id.expose(), secret, secrets);
        if found.is_none() {
            // Every way to get here has recorded its own failure; a second "required but
            // missing" for the same cause would only add noise.
            self.explained.push(variable.name.clone());
        }
        found
    }

    fn secret_key(
        &mut self,
        variable: &Variable,
        id: &str,
        secret: &crate::manifest::SecretRef,
        secrets: &HashMap<String, Option<ReadSecret>>,
    ) -> Option<(SecretValue, Source)> {
        let read = secrets.get(id)?.as_ref()?;
        let key = match &secret.kind {
            SecretType::String => None,
            SecretType::Json { key } => Some(key),
        };
        let source = Source::Secret {
            id: id.to_owned(),
            key: key.cloned(),
            version: read.version.clone(),
        };
        let Some(key) = key else {
            return Some((read.text.clone(), source));
        };
        let entries = read.object.as_ref()?;
        match entries.iter().find(|(k, _)| k == key) {
            Some((_, value)) => Some((value.clone(), source)),
            None => {
                self.failures.push(Failure::KeyMissing {
                    id: id.to_string(),
                    key: key.clone(),
                    name: variable.name.clone(),
                    available: entries.iter().map(|(k, _)| k.to_string()).collect(),
                });
                None
            }
        }
    }

    /// Where a value was looked for, for the "required but missing" message.
    fn looked(&self, variable: &Variable, options: &ResolveOptions) -> String {
        let name = &variable.name;
        let remote = |options: &ResolveOptions| -> String {
            let ns = namespace(options).unwrap_or("NAMESPACE");
            let service = &self.manifest.service;
            let bundles = if options.bundle_lookup == BundleLookup::Bundle {
                format!("sm:{ns}/{service}/secrets")
            } else {
                format!("sm:{ns}/{service}/*")
            };
            format!("ssm:/{ns}/{service}/{name}, {bundles}")
        };
        match &variable.origin {
            Origin::Local => format!("bootstrap file {}", self.bootstrap.path()),
            Origin::Remote => format!("looked in {}", remote(options)),
            Origin::Secret(secret) => match self.bootstrap.get(secret.arn_from.as_str()) {
                Some((id, _)) if !id.is_empty() => {
                    format!(
                        "looked in {} and the secret named by {}",
                        remote(options),
                        secret.arn_from
                    )
                }
                _ => format!(
                    "{} is not set in the bootstrap file {}",
                    secret.arn_from,
                    self.bootstrap.path()
                ),
            },
            Origin::Composed(_) => "composed".into(),
        }
    }
}
