//! Where `set`, `unset` and `seed` write a value: the place a resolve on this host reads it
//! from. A non-sensitive remote variable is the SSM parameter `/${NAMESPACE}/${service}/NAME`;
//! a sensitive one is the key NAME of the service's canonical bundle
//! `${NAMESPACE}/${service}/secrets`. Every other variable has nothing to write: its value
//! comes from the bootstrap file, from a secret someone else owns (`arn_from`, such as the
//! master password RDS manages), or from other variables.

use crate::env_name::EnvName;
use crate::manifest::{Manifest, Origin};
use crate::resolution::{ResolveError, ResolveOptions, namespace};
use crate::secret_value::SecretValue;
use crate::yaml::did_you_mean;

/// Where one variable's value is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An SSM `String` parameter at this path.
    Parameter { path: String },
    /// A key of this Secrets Manager secret (a JSON object).
    BundleKey { bundle: String, key: String },
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Parameter { path } => write!(f, "ssm:{path}"),
            Destination::BundleKey { bundle, key } => write!(f, "sm:{bundle}#{key}"),
        }
    }
}

/// Why a name has nothing to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotWritable {
    #[error("`{name}` is not declared in {manifest}{hint}")]
    Undeclared {
        name: String,
        manifest: String,
        hint: String,
    },
    #[error(
        "`{name}` has `source: local`: its value comes from the bootstrap file only; write it there"
    )]
    Local { name: EnvName },
    #[error(
        "`{name}` is read from the secret that {arn_from} names (an AWS-owned secret such as an RDS master password): nothing to seed; put the secret's ARN in {arn_from} in the bootstrap file"
    )]
    FromSecret { name: EnvName, arn_from: EnvName },
    #[error("`{name}` is composed from other variables (`compose:`): set those instead")]
    Composed { name: EnvName },
    #[error("{0}")]
    Namespace(String),
}

/// Where `name` is written on this host (the namespace of `options`).
pub fn destination(
    manifest: &Manifest,
    options: &ResolveOptions,
    name: &str,
) -> Result<Destination, NotWritable> {
    let Some(variable) = manifest.variable(name) else {
        let hint = did_you_mean(name, manifest.variables().iter().map(|v| v.name.as_str()))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(NotWritable::Undeclared {
            name: name.to_owned(),
            manifest: manifest.path.to_string(),
            hint,
        });
    };
    let namespace =
        namespace(options).map_err(|e: ResolveError| NotWritable::Namespace(e.to_string()))?;
    match &variable.origin {
        Origin::Local => Err(NotWritable::Local {
            name: variable.name.clone(),
        }),
        Origin::Secret(secret) => Err(NotWritable::FromSecret {
            name: variable.name.clone(),
            arn_from: secret.arn_from.clone(),
        }),
        Origin::Composed(_) => Err(NotWritable::Composed {
            name: variable.name.clone(),
        }),
        Origin::Remote if variable.sensitive => Ok(Destination::BundleKey {
            bundle: canonical_bundle(namespace, &manifest.service),
            key: variable.name.to_string(),
        }),
        Origin::Remote => Ok(Destination::Parameter {
            path: format!("/{namespace}/{}/{}", manifest.service, variable.name),
        }),
    }
}

/// The service's canonical bundle, `${NAMESPACE}/${service}/secrets`.
pub fn canonical_bundle(namespace: &str, service: &str) -> String {
    format!("{namespace}/{service}/secrets")
}

/// What to write: parameters to put (`Some`) or delete (`None`), and keys of one bundle to
/// put or remove, the other keys of the bundle kept as they are.
#[derive(Debug, Clone, Default)]
pub struct WriteRequest {
    pub parameters: Vec<(String, Option<SecretValue>)>,
    pub bundle: Option<BundleWrite>,
}

/// Keys of one bundle to put (`Some`) or remove (`None`).
#[derive(Debug, Clone)]
pub struct BundleWrite {
    pub name: String,
    pub keys: Vec<(String, Option<SecretValue>)>,
}

impl WriteRequest {
    /// The request that writes `value` (or removes the value, with `None`) at `destination`,
    /// added to this one.
    pub fn add(&mut self, destination: &Destination, value: Option<SecretValue>) {
        match destination {
            Destination::Parameter { path } => self.parameters.push((path.clone(), value)),
            Destination::BundleKey { bundle, key } => {
                let write = self.bundle.get_or_insert_with(|| BundleWrite {
                    name: bundle.clone(),
                    keys: Vec::new(),
                });
                write.keys.push((key.clone(), value));
            }
        }
    }
}

/// What one write did, per place, without any value: `ssm:/ns/api/X` and its new version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub lines: Vec<String>,
}
