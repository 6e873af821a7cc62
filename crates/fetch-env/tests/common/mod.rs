//! Shared by the integration tests: the built binary and the shipped examples.
#![allow(dead_code)]

pub mod docker;
pub mod fault_proxy;
pub mod moto;
pub mod run;
pub mod tinyproxy;

pub use run::FetchEnv;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// A file of `examples/NAME/`.
pub fn example(name: &str, file: &str) -> PathBuf {
    root().join("examples").join(name).join(file)
}

/// `fetch-env` with the manifest, bootstrap file and file store of `examples/NAME`, and an
/// environment cleared of anything that could change resolution.
pub fn fetch_env_example(name: &str) -> Command {
    FetchEnv::new().example(name).command()
}

/// The `fetch-env` binary under test, with every setting, AWS and proxy variable removed from
/// its environment ([`FetchEnv::new`]).
pub fn fetch_env() -> Command {
    FetchEnv::new().command()
}

/// The AWS retry, timeout and concurrency settings: environment variable, flag, and the default the AWS
/// store uses (its own constants), in seconds for the timeouts.
pub fn aws_defaults() -> [(&'static str, &'static str, f64); 5] {
    use fetch_env_aws::AwsSettings;
    [
        (
            "FETCH_ENV_AWS_MAX_ATTEMPTS",
            "--aws-max-attempts",
            f64::from(AwsSettings::DEFAULT_MAX_ATTEMPTS),
        ),
        (
            "FETCH_ENV_AWS_CONNECT_TIMEOUT",
            "--aws-connect-timeout",
            AwsSettings::DEFAULT_CONNECT_TIMEOUT.as_secs_f64(),
        ),
        (
            "FETCH_ENV_AWS_ATTEMPT_TIMEOUT",
            "--aws-attempt-timeout",
            AwsSettings::DEFAULT_ATTEMPT_TIMEOUT.as_secs_f64(),
        ),
        (
            "FETCH_ENV_AWS_OPERATION_TIMEOUT",
            "--aws-operation-timeout",
            AwsSettings::DEFAULT_OPERATION_TIMEOUT.as_secs_f64(),
        ),
        (
            "FETCH_ENV_AWS_MAX_IN_FLIGHT",
            "--aws-max-in-flight",
            AwsSettings::DEFAULT_MAX_IN_FLIGHT as f64,
        ),
    ]
}

/// Fails the test with an install hint when `tool` is not on PATH: a missing tool is never a
/// reason to skip.
pub fn require_tool(tool: &str, install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{tool}` is not installed; run `{install}` (scripts/test.sh installs it)");
}
