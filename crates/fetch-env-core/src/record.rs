//! What a host's containers were given, without any value: per variable, where its value came
//! from, the version of that source (SSM's `Version`, Secrets Manager's `VersionId`, a file
//! store entry's), and the containers it was declared for. A non-secret value whose source has
//! no version (the bootstrap file, a default, a composition of plain values) is recorded by a
//! keyed digest that the caller computes (the key never enters the record); a secret value is
//! never recorded, nor any digest of it: a secret from the bootstrap file is compared by its
//! line alone, and a composed secret (`DATABASE_URL`) changes when one of its inputs does.
//!
//! [`changes`] compares a record with a fresh resolution and says, per variable, what moved
//! and which containers must be recreated for it: those that receive the variable or a value
//! made from it ([`Manifest::receivers`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::env_name::EnvName;
use crate::manifest::Manifest;
use crate::resolution::{Resolution, VariableStatus};

/// The record's format, written into it; a record of another format is read as no record.
pub const FORMAT: u32 = 1;

/// The record of one service on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub format: u32,
    pub service: String,
    /// The manifest it was made from, as it was named (`--manifest`).
    pub manifest: String,
    /// When it was written (RFC 3339, UTC).
    pub written: String,
    /// Every variable that had a value, by name.
    pub variables: BTreeMap<String, Entry>,
}

/// One variable: where its value came from, and the containers it was declared for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The source as `explain` shows it: `ssm:/voiceai/dev/api/DATABASE_HOST`, `bootstrap:7`,
    /// `sm:NAME#KEY`, an ARN with `#KEY`, `default`, `compose`.
    pub source: String,
    /// The version of that source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The keyed digest of a non-secret value whose source has no version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The value is a secret (its versions are not shown by `changed`).
    #[serde(default)]
    pub secret: bool,
    pub containers: Vec<String>,
}

/// What one variable's move was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Not in the record, set now.
    Added,
    /// In the record, unset now.
    Removed,
    /// Another source gives it now.
    Source { before: String },
    /// The same source, another version.
    Version {
        before: Option<String>,
        after: Option<String>,
    },
    /// The same source, without versions, and another (non-secret) value.
    Value,
    /// The same value, declared for other containers.
    Containers { before: Vec<String> },
    /// It is made from a variable that changed.
    MadeFrom(EnvName),
}

/// One variable whose value may have moved, and the containers to recreate for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub variable: EnvName,
    /// The value is a secret: what moved is said without its versions.
    pub secret: bool,
    /// Where the value comes from now (`explain`'s source), when it is set.
    pub source: Option<String>,
    pub what: Move,
    pub containers: Vec<String>,
}

impl Record {
    /// The record of `resolution` (which succeeded), written at `written`. `digest` gives the
    /// keyed digest of a non-secret value; it is never called with a secret one.
    pub fn of(
        resolution: &Resolution<'_>,
        written: String,
        digest: &dyn Fn(&str) -> String,
    ) -> Record {
        let mut variables = BTreeMap::new();
        for resolved in &resolution.variables {
            let (Some(value), Some(source)) = (&resolved.value, &resolved.source) else {
                continue;
            };
            if resolved.status != VariableStatus::Resolved {
                continue;
            }
            let version = source.version().map(str::to_owned);
            let digest = match (&version, value.shown()) {
                (None, Some(plain)) => Some(digest(plain)),
                _ => None,
            };
            variables.insert(
                resolved.variable.name.to_string(),
                Entry {
                    source: source.to_string(),
                    version,
                    digest,
                    secret: value.shown().is_none(),
                    containers: resolved
                        .variable
                        .containers
                        .iter()
                        .map(|c| c.name.clone())
                        .collect(),
                },
            );
        }
        Record {
            format: FORMAT,
            service: resolution.manifest.service.clone(),
            manifest: resolution.manifest.path.to_string(),
            written,
            variables,
        }
    }

    /// This record brought up to `fresh` for the containers that were recreated (`None`: all
    /// of them). A variable takes its fresh entry only when every container that receives it
    /// was recreated; otherwise its old entry stays (or it stays unrecorded), so that the next
    /// comparison still reports it for the containers that kept the old value.
    pub fn updated(
        &self,
        fresh: Record,
        manifest: &Manifest,
        recreated: Option<&[String]>,
    ) -> Record {
        let Some(recreated) = recreated else {
            return fresh;
        };
        let mut variables = BTreeMap::new();
        for variable in manifest.variables() {
            let name = variable.name.as_str();
            let all_recreated = manifest
                .receivers(variable)
                .keys()
                .all(|c| recreated.iter().any(|r| r == c));
            let entry = if all_recreated {
                fresh.variables.get(name)
            } else {
                self.variables.get(name)
            };
            if let Some(entry) = entry {
                variables.insert(name.to_owned(), entry.clone());
            }
        }
        Record { variables, ..fresh }
    }
}

impl Record {
    /// Why this record cannot be compared with `fresh` (the record of a resolution just made),
    /// if it cannot: it was written for another service or from another manifest.
    pub fn foreign_to(&self, fresh: &Record) -> Option<String> {
        if self.service != fresh.service {
            Some(format!(
                "it was written for service `{}`, not `{}`",
                self.service, fresh.service
            ))
        } else if self.manifest != fresh.manifest {
            Some(format!(
                "it was written from {}, not {}",
                self.manifest, fresh.manifest
            ))
        } else {
            None
        }
    }
}

/// What moved between `record` and `fresh` (a record of a resolution just made), in manifest
/// order, with the containers to recreate for each. Nothing when nothing moved.
pub fn changes(record: &Record, fresh: &Record, manifest: &Manifest) -> Vec<Change> {
    let mut moved: BTreeMap<&str, Move> = BTreeMap::new();
    for variable in manifest.variables() {
        let name = variable.name.as_str();
        let what = match (record.variables.get(name), fresh.variables.get(name)) {
            (None, None) => continue,
            (None, Some(_)) => Move::Added,
            (Some(_), None) => Move::Removed,
            (Some(before), Some(after)) if before.source != after.source => Move::Source {
                before: before.source.clone(),
            },
            (Some(before), Some(after)) if before.version != after.version => Move::Version {
                before: before.version.clone(),
                after: after.version.clone(),
            },
            (Some(before), Some(after)) if before.digest != after.digest => Move::Value,
            (Some(before), Some(after)) if before.containers != after.containers => {
                Move::Containers {
                    before: before.containers.clone(),
                }
            }
            _ => continue,
        };
        moved.insert(name, what);
    }
    // A variable made from one that moved moves with it.
    let direct: Vec<&str> = moved.keys().copied().collect();
    for name in direct {
        let Some(start) = manifest.variable(name) else {
            continue;
        };
        for dependent in manifest.dependents(start) {
            let dependent_name = dependent.name.as_str();
            if dependent_name != name && !moved.contains_key(dependent_name) {
                moved.insert(dependent_name, Move::MadeFrom(start.name.clone()));
            }
        }
    }
    let secret = |name: &str| {
        [record, fresh]
            .iter()
            .any(|r| r.variables.get(name).is_some_and(|e| e.secret))
    };
    let mut found: Vec<Change> = manifest
        .variables()
        .iter()
        .filter_map(|variable| {
            let what = moved.remove(variable.name.as_str())?;
            let mut containers: BTreeSet<String> = manifest
                .receivers(variable)
                .into_keys()
                .map(str::to_owned)
                .collect();
            // Containers it no longer goes to had it too.
            if let Some(before) = record.variables.get(variable.name.as_str()) {
                containers.extend(before.containers.iter().cloned());
            }
            Some(Change {
                variable: variable.name.clone(),
                secret: secret(variable.name.as_str()),
                source: fresh
                    .variables
                    .get(variable.name.as_str())
                    .map(|e| e.source.clone()),
                what,
                containers: containers.into_iter().collect(),
            })
        })
        .collect();
    // Variables the manifest no longer declares: their containers still hold them.
    for (name, entry) in &record.variables {
        if manifest.variable(name).is_none()
            && let Ok(variable) = EnvName::new(name)
        {
            found.push(Change {
                variable,
                secret: entry.secret,
                source: None,
                what: Move::Removed,
                containers: entry.containers.clone(),
            });
        }
    }
    found
}

/// The containers to recreate for `changes`, each once, sorted.
pub fn containers_to_recreate(changes: &[Change]) -> Vec<String> {
    let set: BTreeSet<&str> = changes
        .iter()
        .flat_map(|c| c.containers.iter().map(String::as_str))
        .collect();
    set.into_iter().map(str::to_owned).collect()
}
