//! The AWS store: SSM Parameter Store and Secrets Manager through the official SDK, behind the
//! core's [`fetch_env_core::Store`] interface.
//!
//! One [`fetch_env_core::StoreRequest`] becomes the fewest requests AWS allows, run
//! concurrently: SSM pages (sequential by nature) or name batches (concurrent), bundle
//! discovery, and one `GetSecretValue` per distinct `arn_from` secret. Every error is translated
//! for an operator (which permission on which resource is missing) and never quotes a value.
//! Only one HTTP/TLS stack is compiled in: hyper 1 with rustls on ring.

// No unwrap outside tests: a panic is never an acceptable answer to a server's reply.
#![warn(clippy::unwrap_used)]

pub mod actions;
mod aws_settings;
mod aws_store;
mod aws_write;
mod call_counter;
mod certificate_probe;
mod error_translation;
pub mod iam_policy;

pub use aws_settings::{AwsSettings, AwsSettingsError, CaBundle, RetryMode, StaticCredentials};
pub use aws_store::AwsStore;
