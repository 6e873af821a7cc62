//! The AWS store against moto's server on loopback: the same cases as the file store, with the
//! same output.

mod common;

use common::run::replace_all;

use std::collections::HashMap;
use std::process::{Command, Output};

use common::moto::{Moto, moto};
use common::{FetchEnv, example};

/// `fetch-env` against `endpoint` with test credentials and nothing from the outside.
fn fetch_env_aws(endpoint: &str) -> Command {
    FetchEnv::new()
        .with_test_credentials()
        .on_aws(endpoint)
        .command()
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
    assert!(
        on_aws.status.success(),
        "{}",
        String::from_utf8_lossy(&on_aws.stderr)
    );
    let on_file = run(&mut common::fetch_env_example("api"));
    assert!(on_file.status.success());
    let back: HashMap<String, String> = arns.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
    assert_eq!(
        replace_all(&String::from_utf8(on_aws.stdout).unwrap(), &back),
        String::from_utf8(on_file.stdout).unwrap()
    );
}

/// With IAM enforced, a role missing a permission gets exit 3, nothing on stdout, and a
/// message naming the refused action and the resource it was asked for.
#[test]
fn a_missing_permission_is_named() {
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": ["ssm:GetParametersByPath", "secretsmanager:GetSecretValue"], "Resource": "*" }
        ]
    });
    let (arns, key_id, secret) = moto.iam_setup(&policy.to_string(), &example("api", "store.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = std::fs::read_to_string(example("api", "bootstrap.env")).unwrap();
    let bootstrap_path = dir.path().join("bootstrap.env");
    std::fs::write(&bootstrap_path, replace_all(&bootstrap, &arns)).unwrap();
    let resolve = |extra: &[&str]| {
        run(fetch_env_aws(&moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", &key_id)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .arg("--manifest")
            .arg(example("api", "vars.yaml"))
            .arg("--bootstrap")
            .arg(&bootstrap_path)
            .args(extra))
    };

    let denied = resolve(&[]);
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert_eq!(denied.status.code(), Some(3), "{stderr}");
    assert!(denied.stdout.is_empty());
    assert!(
        stderr.contains("secretsmanager:BatchGetSecretValue on voiceai/dev/api/* was refused"),
        "{stderr}"
    );
    assert!(stderr.contains("access denied: the credentials may not call secretsmanager:ListSecrets on voiceai/dev/api/*"), "{stderr}");
    assert!(!stderr.contains("p@ss"), "{stderr}");

    // The same role resolves with the canonical bundle only, which needs neither call.
    let allowed = resolve(&["--secrets-lookup", "bundle"]);
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert!(
        String::from_utf8_lossy(&allowed.stdout)
            .contains("export DATABASE_URL='postgresql://postgres_admin:p%40ss")
    );
}

/// A binary secret cannot be an environment variable: exit 1, the secret named, its bytes not.
#[test]
fn a_binary_secret_is_refused_by_name() {
    let moto = moto();
    let arn = moto.create_binary_secret("aws-backend/binary-secret", "CANARY-binary-bytes");
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("vars.yaml");
    std::fs::write(
        &manifest,
        "service: svc\nvariables:\n  - { name: ARN, source: local }\n  - { name: KEY, required: true, secret: { arn_from: ARN, type: string } }\n",
    )
    .unwrap();
    let bootstrap = dir.path().join("bootstrap.env");
    std::fs::write(
        &bootstrap,
        format!("NAMESPACE=aws-backend/binary\nARN={arn}\n"),
    )
    .unwrap();
    let output = run(fetch_env_aws(&moto.endpoint)
        .arg("--manifest")
        .arg(&manifest)
        .arg("--bootstrap")
        .arg(&bootstrap));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains(&format!("secret {arn} is binary (SecretBinary)")),
        "{stderr}"
    );
    assert!(!stderr.contains("CANARY"), "{stderr}");
}
