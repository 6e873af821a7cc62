//! The AWS store against moto's server on loopback: the same cases as the file store, with the
//! same output.

mod common;

use std::collections::HashMap;
use std::process::{Command, Output};

use common::moto::{Moto, moto};
use common::{example, fetch_env};

/// `fetch-env` against `endpoint` with test credentials and no proxy from the outside.
fn fetch_env_aws(endpoint: &str) -> Command {
    let mut command = fetch_env();
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-central-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for key in ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "AWS_PROFILE", "AWS_SESSION_TOKEN"] {
        command.env_remove(key);
    }
    command.arg("--store").arg("aws");
    command
}

/// Replaces every key of `map` by its value in `text`.
fn replace_all(text: &str, map: &HashMap<String, String>) -> String {
    map.iter().fold(text.to_owned(), |t, (from, to)| t.replace(from, to))
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run fetch-env")
}

#[test]
fn the_seed_scenario_resolves_as_on_the_file_store() {
    let moto: &Moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let arns = moto.seed(&example("api", "store.yaml"));
    let bootstrap = std::fs::read_to_string(example("api", "bootstrap.env")).unwrap();
    let bootstrap_path = dir.path().join("bootstrap.env");
    std::fs::write(&bootstrap_path, replace_all(&bootstrap, &arns)).unwrap();

    let on_aws = run(fetch_env_aws(&moto.endpoint)
        .arg("--manifest")
        .arg(example("api", "vars.yaml"))
        .arg("--bootstrap")
        .arg(&bootstrap_path));
    assert!(on_aws.status.success(), "{}", String::from_utf8_lossy(&on_aws.stderr));
    let on_file = run(&mut common::fetch_env_example("api"));
    assert!(on_file.status.success());
    let back: HashMap<String, String> = arns.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
    assert_eq!(
        replace_all(&String::from_utf8(on_aws.stdout).unwrap(), &back),
        String::from_utf8(on_file.stdout).unwrap()
    );
}
