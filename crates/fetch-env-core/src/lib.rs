//! The resolver core of fetch-env.
//!
//! Everything that does not need a network lives here: the manifest (`vars.yaml`), the
//! bootstrap file, resolution with provenance, templates and their URL encoding, output
//! rendering, the [`Store`] interface and the file store used for development and tests.
//!
//! This crate never prints, never reads the process environment on its own, and never holds a
//! secret in a type that can be displayed: values travel as [`SecretValue`], which prints
//! `[REDACTED]` and is zeroed on drop. The only ways out are the explicit `expose` calls made by
//! the output renderers and by the binary when it builds a child's environment.

// The core never prints: diagnostics are data that the binary renders once.
#![deny(clippy::print_stdout, clippy::print_stderr)]
// No unwrap outside tests: a panic is never an acceptable answer to bad input.
#![warn(clippy::unwrap_used)]

mod bootstrap;
mod compose_check;
mod compose_file;
mod diagnostic;
mod env_name;
mod file_store;
mod location;
mod lookup;
mod manifest;
mod material;
mod provision;
mod raw_manifest;
pub mod record;
mod render;
mod resolution;
mod sanitize;
mod schema;
mod secret_json;
mod secret_value;
mod settings;
mod store;
mod store_edit;
mod template;
mod value;
mod yaml;
mod yaml_tree;

pub use bootstrap::{Bootstrap, BootstrapError};
pub use compose_check::cross_check;
pub use compose_file::{ComposeError, ComposeFile, ComposeReference, ComposeService};
pub use diagnostic::{Diagnostic, DiagnosticKind, IntoDiagnostics, Secondary, Severity};
pub use env_name::{EnvName, InvalidEnvName};
pub use file_store::{FileStore, FileStoreError};
pub use location::Location;
pub use lookup::{BundleLookup, Choice, SsmLookup, UnknownChoice};
pub use manifest::{
    Composition, Container, Decode, FileSpec, Lookup, Manifest, ManifestError, Origin, PemContent,
    Requirement, Scope, SecretRef, SecretType, ServiceOrigin, ServiceSetting, Variable,
};
pub use material::{Material, MaterialError};
pub use render::{Format, RenderError, render};
pub use resolution::{
    Failure, Resolution, ResolveError, ResolveOptions, ResolvedVariable, Source, VariableStatus,
    resolve, store_request,
};
pub use sanitize::sanitize;
pub use schema::manifest_schema;
// The error is part of `ResolveError::SecretNotJson`; the parser is public for the fuzz target
// only (`fuzz/fuzz_targets/secret_json.rs`), not for callers.
pub use provision::{
    BundleWrite, Destination, NotWritable, WriteReport, WriteRequest, canonical_bundle, destination,
};
pub use secret_json::SecretJsonError;
#[doc(hidden)]
pub use secret_json::parse_object;
pub use secret_value::SecretValue;
pub use settings::{Setting, SettingOrigin, SettingsContext};
pub use store::{
    BundleQuery, FetchedSecret, Parameter, ParameterQuery, SecretFetchError, SecretPayload, Store,
    StoreError, StoreRequest, StoreResponse,
};
pub use store_edit::edit_store_file;
pub use template::{Template, TemplateError, percent_encode};
pub use value::Value;
pub use yaml::did_you_mean;
