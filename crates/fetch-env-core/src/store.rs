//! The interface between resolution and the places values live.
//!
//! One resolve asks for everything it needs in a single [`StoreRequest`]: every parameter under
//! the service path (or every declared name), every bundle under the service prefix (or the one
//! canonical bundle), and every distinct `arn_from` secret. A store is free to batch those and run
//! them concurrently; resolution never asks for a value at a time. Stores return raw material
//! (parameter paths, secret strings); every rule about what that material means (basenames,
//! collisions, JSON objects, precedence) lives in the resolver, so that all stores behave alike.

use std::fmt;

use crate::secret_value::SecretValue;

/// What one resolve needs from a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRequest {
    pub parameters: ParameterQuery,
    pub bundles: BundleQuery,
    /// Distinct secret ids (ARNs or names) named by `arn_from` variables, in manifest order.
    pub secrets: Vec<String>,
}

/// Which SSM parameters to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterQuery {
    /// Nothing remote is declared.
    None,
    /// Every parameter under `path` (ending in `/`), recursively, decrypted.
    ByPath { path: String },
    /// Exactly `path` + each name (the flat layout); blind to nested parameters.
    ByNames { path: String, names: Vec<String> },
}

/// Which Secrets Manager bundles to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleQuery {
    /// Nothing remote is declared.
    None,
    /// Every secret whose name starts with `prefix`.
    Prefix { prefix: String },
    /// Only the secret called `name`; absent is not an error.
    Named { name: String },
}

/// What a store found.
#[derive(Debug, Default)]
pub struct StoreResponse {
    pub parameters: Vec<Parameter>,
    pub bundles: Vec<FetchedSecret>,
    /// One entry per requested secret id, in request order.
    pub secrets: Vec<(String, Result<FetchedSecret, SecretFetchError>)>,
}

/// One SSM parameter.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// The full path, e.g. `/voiceai/staging/api/DATABASE_HOST`.
    pub path: String,
    pub value: SecretValue,
    /// A `SecureString` (its value is masked in `explain` whatever the manifest says).
    pub secure: bool,
    /// The parameter's version (SSM's `Version`), when the store knows it.
    pub version: Option<String>,
}

/// One Secrets Manager secret.
#[derive(Debug, Clone)]
pub struct FetchedSecret {
    pub name: String,
    pub payload: SecretPayload,
    /// The secret's version (Secrets Manager's `VersionId`), when the store knows it.
    pub version: Option<String>,
}

/// A secret's value as stored.
#[derive(Debug, Clone)]
pub enum SecretPayload {
    Text(SecretValue),
    /// `SecretBinary`: never a valid source for an environment variable.
    Binary,
}

/// Why one `arn_from` secret could not be read, when the store itself worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFetchError {
    NotFound,
}

/// The store could not be used at all. `Invalid` is a broken store file (exit 2);
/// `Unavailable` is a backend that could not be reached or refused us (exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unavailable(String),
}

/// A place values live: the file store, or AWS.
pub trait Store: fmt::Debug {
    /// Fetches everything `request` asks for.
    fn fetch(&self, request: &StoreRequest) -> Result<StoreResponse, StoreError>;

    /// A short description for `explain` (`file:examples/api/store.yaml`, `aws:eu-central-1`).
    fn describe(&self) -> String;

    /// What the last fetch cost, one line each (requests per API operation, time per phase),
    /// for `explain` and `--verbose`. Never holds a value.
    fn statistics(&self) -> Vec<String> {
        Vec::new()
    }
}
