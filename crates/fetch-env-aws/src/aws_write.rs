//! `set`, `unset` and `seed` on AWS: SSM parameters put (`String`, overwritten) or deleted, all
//! at once, and the keys of the service's bundle changed without losing anyone else's.
//!
//! Secrets Manager has no conditional put, but moving the `AWSCURRENT` stage is conditional:
//! `UpdateSecretVersionStage(MoveToVersionId, RemoveFromVersionId)` fails when the stage is no
//! longer on the version that was read. So a bundle is read, the keys merged into it, the result
//! put as a new version staged [`PENDING_STAGE`] only (not current), and `AWSCURRENT` moved from
//! the version read to it; when another writer moved it first, the bundle is read again, merged
//! again and written again, up to [`BUNDLE_ATTEMPTS`] times. No write of another key is ever
//! lost; a bundle that does not exist yet is created (`CreateSecret`), and a creation that lost
//! the race to another becomes an update.

use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use fetch_env_core::{
    BundleWrite, SecretValue, StoreError, WriteReport, WriteRequest, parse_object,
};
use futures_util::future::try_join_all;

use crate::actions::{
    CREATE_SECRET, DELETE_PARAMETER, GET_SECRET_VALUE, PUT_PARAMETER, PUT_SECRET_VALUE,
    UPDATE_SECRET_VERSION_STAGE,
};
use crate::aws_store::{AwsStore, CURRENT_STAGE};
use crate::error_translation::{code_of, is_not_found, translate};

/// The stage of a bundle version written but not yet made current.
pub const PENDING_STAGE: &str = "FETCHENV_PENDING";

/// Reads, merges and conditional moves of one bundle before giving up: each retry follows
/// another writer's success, so this many only under a storm of concurrent writers.
pub const BUNDLE_ATTEMPTS: u32 = 30;

impl AwsStore {
    /// Writes `request`; returns what was written where, never a value.
    pub fn write(&self, request: &WriteRequest) -> Result<WriteReport, StoreError> {
        self.require_region()?;
        self.block_on(async {
            self.credentials_ready().await?;
            let parameters = request
                .parameters
                .iter()
                .map(|(path, value)| self.write_parameter(path, value.as_ref()));
            let (parameters, bundle) = tokio::try_join!(try_join_all(parameters), async {
                match &request.bundle {
                    Some(bundle) => self.write_bundle(bundle).await,
                    None => Ok(Vec::new()),
                }
            })?;
            let mut report = WriteReport::default();
            report.lines.extend(parameters);
            report.lines.extend(bundle);
            Ok(report)
        })
    }

    async fn write_parameter(
        &self,
        path: &str,
        value: Option<&SecretValue>,
    ) -> Result<String, StoreError> {
        match value {
            Some(value) => {
                let answer = self
                    .ssm()
                    .put_parameter()
                    .name(path)
                    .value(value.expose())
                    .r#type(ParameterType::String)
                    .overwrite(true)
                    .send()
                    .await
                    .map_err(|e| translate(&e, PUT_PARAMETER, path))?;
                Ok(format!("ssm:{path}: version {}", answer.version()))
            }
            None => match self.ssm().delete_parameter().name(path).send().await {
                Ok(_) => Ok(format!("ssm:{path}: deleted")),
                Err(e) if is_not_found(&e) => Ok(format!("ssm:{path}: was not set")),
                Err(e) => Err(translate(&e, DELETE_PARAMETER, path)),
            },
        }
    }

    async fn write_bundle(&self, write: &BundleWrite) -> Result<Vec<String>, StoreError> {
        let name = write.name.as_str();
        // The secret exists but has no current version (created empty, by Terraform say).
        let mut exists_without_value = false;
        for attempt in 1..=BUNDLE_ATTEMPTS {
            let current = match self.current_secret(name).await {
                Ok(answer) => {
                    let version = answer.version_id().unwrap_or_default().to_owned();
                    let Some(text) = answer.secret_string() else {
                        return Err(StoreError::Unavailable(format!(
                            "secret {name} holds a binary value; it cannot take keys"
                        )));
                    };
                    let keys = parse_object(text).map_err(|e| {
                        StoreError::Unavailable(format!(
                            "secret {name} is not a JSON object of strings ({e}); it cannot take keys"
                        ))
                    })?;
                    Some((version, keys))
                }
                Err(e) if is_not_found(&e) => None,
                Err(e) => return Err(translate(&e, GET_SECRET_VALUE, name)),
            };
            let merge = merged(write, current.as_ref().map(|(_, keys)| keys.as_slice()));
            if !merge.changes {
                return Ok(merge.lines);
            }
            match current {
                None if !exists_without_value => {
                    match self
                        .secrets()
                        .create_secret()
                        .name(name)
                        .secret_string(merge.json.expose())
                        .send()
                        .await
                    {
                        Ok(answer) => {
                            return Ok(with_version(merge.lines, answer.version_id(), "created"));
                        }
                        // Another writer created it in between, or it exists with no value:
                        // read again.
                        Err(e) if code_of(&e).as_deref() == Some("ResourceExistsException") => {
                            exists_without_value = true;
                            continue;
                        }
                        Err(e) => return Err(translate(&e, CREATE_SECRET, name)),
                    }
                }
                None => {
                    // The first version of a secret becomes current by itself; when another
                    // writer's first version won, this one stays aside and the next read merges.
                    let written = self.put_pending(name, &merge.json).await?;
                    if let Ok(answer) = self.current_secret(name).await
                        && answer.version_id() == Some(written.as_str())
                    {
                        return Ok(with_version(merge.lines, Some(&written), "version"));
                    }
                }
                Some((read, _)) => {
                    let written = self.put_pending(name, &merge.json).await?;
                    let moved = self
                        .secrets()
                        .update_secret_version_stage()
                        .secret_id(name)
                        .version_stage(CURRENT_STAGE)
                        .move_to_version_id(&written)
                        .remove_from_version_id(&read)
                        .send()
                        .await;
                    match moved {
                        Ok(_) => return Ok(with_version(merge.lines, Some(&written), "version")),
                        // The stage is no longer on the version read: another write won.
                        Err(e) if code_of(&e).as_deref() == Some("InvalidParameterException") => {}
                        Err(e) => return Err(translate(&e, UPDATE_SECRET_VERSION_STAGE, name)),
                    }
                }
            }
            // Writers that collided should not collide again at once: a random wait, its bound
            // doubling from 50 ms to 2 s.
            let bound = (50u64 << attempt.min(6)).min(2000);
            tokio::time::sleep(Duration::from_millis(random() % bound)).await;
        }
        Err(StoreError::Unavailable(format!(
            "secret {name} kept changing under concurrent writes ({BUNDLE_ATTEMPTS} attempts); run it again"
        )))
    }

    /// Puts `json` as a new version of `name`, staged [`PENDING_STAGE`] only; its version id.
    async fn put_pending(&self, name: &str, json: &SecretValue) -> Result<String, StoreError> {
        let put = self
            .secrets()
            .put_secret_value()
            .secret_id(name)
            .secret_string(json.expose())
            .version_stages(PENDING_STAGE)
            .send()
            .await
            .map_err(|e| translate(&e, PUT_SECRET_VALUE, name))?;
        Ok(put.version_id().unwrap_or_default().to_owned())
    }
}

/// A random number, from the keys std draws for each hash map.
fn random() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A bundle with the keys of a write merged in.
struct Merged {
    /// A line per key written.
    lines: Vec<String>,
    json: SecretValue,
    /// Whether any key changes: when none does, nothing is written.
    changes: bool,
}

/// The bundle's keys (`current`, `None` for a bundle that does not exist) with `write` applied.
fn merged(write: &BundleWrite, current: Option<&[(String, SecretValue)]>) -> Merged {
    let mut keys: Vec<(String, SecretValue)> = current.map(<[_]>::to_vec).unwrap_or_default();
    let mut lines = Vec::new();
    let mut changes = false;
    for (key, value) in &write.keys {
        let at = keys.iter().position(|(k, _)| k == key);
        let what = match (value, at) {
            (Some(value), Some(i)) => {
                changes |= keys[i].1.expose() != value.expose();
                keys[i].1 = value.clone();
                "replaced"
            }
            (Some(value), None) => {
                changes = true;
                keys.push((key.clone(), value.clone()));
                "created"
            }
            (None, Some(i)) => {
                changes = true;
                keys.remove(i);
                "deleted"
            }
            (None, None) => "was not set",
        };
        lines.push(format!("sm:{}#{key}: {what}", write.name));
    }
    let object: serde_json::Map<String, serde_json::Value> = keys
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v.expose().to_owned())))
        .collect();
    let json = serde_json::to_string(&object).unwrap_or_else(|_| "{}".to_owned());
    Merged {
        lines,
        json: SecretValue::from(json.as_str()),
        changes,
    }
}

fn with_version(lines: Vec<String>, version: Option<&str>, verb: &str) -> Vec<String> {
    let version = version.unwrap_or("unknown");
    let mut lines = lines;
    lines.push(match verb {
        "created" => format!("the bundle was created (version {version})"),
        _ => format!("the bundle's current version is {version}"),
    });
    lines
}
