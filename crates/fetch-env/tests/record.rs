//! The record and `changed` against moto: the versions SSM and Secrets Manager report
//! (`Version` of `GetParametersByPath` and `GetParameters`, `VersionId` of
//! `BatchGetSecretValue` and `GetSecretValue`) are what the record compares, so a rotation made
//! with the AWS APIs (`PutSecretValue`, `PutParameter`) is seen in every lookup mode, and the
//! record holds no value of the store, nor a digest of a secret one.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::FetchEnv;
use common::moto::moto;
use common::run::{Run, write};
use hmac::{KeyInit as _, Mac as _};

/// The ARN of the RDS-style secret of `namespace` as the store file writes it (moto assigns
/// the real one).
fn arn(namespace: &str) -> String {
    format!(
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-{namespace}-AbC123"
    )
}

const MANIFEST: &str = r#"
service: api
variables:
  - name: DB_SECRET_ARN
    source: local
  - name: DATABASE_HOST
    containers: [telapi, worker]
  - name: DATABASE_PASSWORD
    secret: { arn_from: DB_SECRET_ARN, type: json, key: password }
    containers: [vault]
  - name: DATABASE_URL
    compose:
      template: "postgresql://app:${DATABASE_PASSWORD}@${DATABASE_HOST}/db"
      encode: [DATABASE_PASSWORD]
    containers: [telapi]
  - name: JWT_SIGNING_KEY
    sensitive: true
    containers: [telapi]
  - name: LOG_LEVEL
    containers: [worker]
  - name: QUEUE
    default: jobs
    containers: [idle]
"#;

/// Every secret value holds `CANARY`; the plain ones do not.
fn store(namespace: &str) -> String {
    format!(
        "parameters:\n  /{namespace}/api/DATABASE_HOST: db.internal\n  /{namespace}/api/LOG_LEVEL: info\n\
         secrets:\n  {namespace}/api/secrets:\n    JWT_SIGNING_KEY: CANARY-jwt-1\n  \"{}\":\n    password: \"CANARY-p@ss-1\"\n",
        arn(namespace)
    )
}

struct Seeded {
    dir: tempfile::TempDir,
    namespace: String,
    arn: String,
}

impl Seeded {
    fn new(namespace: &str) -> Seeded {
        let dir = tempfile::tempdir().unwrap();
        let store = write(dir.path(), "store.yaml", store(namespace));
        let arns: HashMap<String, String> = moto().seed(&store);
        let arn = arns[&arn(namespace)].clone();
        write(dir.path(), "vars.yaml", MANIFEST);
        write(
            dir.path(),
            "bootstrap.env",
            format!("NAMESPACE={namespace}\nDB_SECRET_ARN={arn}\n"),
        );
        Seeded {
            dir,
            namespace: namespace.to_owned(),
            arn,
        }
    }

    fn record(&self) -> PathBuf {
        self.dir.path().join("run/api.json")
    }

    fn fetch_env(&self, lookup: &[&str], args: &[&str]) -> Run {
        FetchEnv::new()
            .arg("--manifest")
            .arg(self.dir.path().join("vars.yaml"))
            .arg("--bootstrap")
            .arg(self.dir.path().join("bootstrap.env"))
            .on_aws(&moto().endpoint)
            .with_test_credentials()
            .args(lookup)
            .args(args)
            .arg("--record")
            .arg(self.record())
            .run()
    }

    fn changed(&self, lookup: &[&str]) -> Vec<String> {
        let run = self.fetch_env(lookup, &["changed"]);
        run.assert_ok();
        run.assert_no_canary(false);
        run.stdout().lines().map(str::to_owned).collect()
    }
}

fn names(lines: &[String]) -> Vec<&str> {
    lines.iter().map(|l| l.split(':').next().unwrap()).collect()
}

/// No value of the store is in the record, nor the keyed digest of any secret value.
fn assert_record_holds_no_secret(record: &Path) {
    let text = std::fs::read_to_string(record).unwrap();
    assert!(!text.contains("CANARY"), "{text}");
    let key = std::fs::read(record.with_file_name("fetch-env.key")).unwrap();
    for secret in ["CANARY-jwt-1", "CANARY-p@ss-1", "CANARY-p@ss-2"] {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(secret.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            !text.contains(&hex),
            "the digest of a secret is in:\n{text}"
        );
    }
}

/// The requests a run says it made (`--verbose`), by operation.
fn requests(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| l.ends_with(" requests"))
        .map(str::to_owned)
        .collect()
}

fn rotation_is_seen(namespace: &str, lookup: &[&str]) {
    let seeded = Seeded::new(namespace);
    let first = seeded.fetch_env(lookup, &["--verbose", "--format", "json"]);
    first.assert_ok();
    assert_record_holds_no_secret(&seeded.record());
    assert_eq!(seeded.changed(lookup), Vec::<String>::new(), "{lookup:?}");
    // Comparing costs what a resolve costs, and not one request more.
    let compared = seeded.fetch_env(lookup, &["--verbose", "changed"]);
    assert!(!requests(&first).is_empty(), "{}", first.show());
    assert_eq!(requests(&compared), requests(&first), "{lookup:?}");

    // The RDS-style secret gets a new version, and a plain parameter another value.
    moto().put_secret(
        &seeded.arn,
        r#"{"password":"CANARY-p@ss-2","username":"app"}"#,
    );
    moto().put_parameter(&format!("/{}/api/LOG_LEVEL", seeded.namespace), "debug");
    let lines = seeded.changed(lookup);
    assert_eq!(
        names(&lines),
        ["DATABASE_PASSWORD", "DATABASE_URL", "LOG_LEVEL"],
        "{lookup:?}: {lines:?}"
    );
    assert!(
        lines[2].contains("LOG_LEVEL: new version (ssm:/") && lines[2].contains(": 1 -> 2)"),
        "SSM's own Version: {lines:?}"
    );
    assert!(lines[0].ends_with("recreate telapi, vault"), "{lines:?}");
    let run = seeded.fetch_env(lookup, &["changed", "--names"]);
    assert_eq!(run.stdout(), "telapi,vault,worker\n");
    // Recorded again, nothing moved; the bundle's key rotates alone.
    seeded.fetch_env(lookup, &["--format", "json"]).assert_ok();
    assert_record_holds_no_secret(&seeded.record());
    assert_eq!(seeded.changed(lookup), Vec::<String>::new());
    moto().put_secret(
        &format!("{}/api/secrets", seeded.namespace),
        r#"{"JWT_SIGNING_KEY":"CANARY-jwt-2"}"#,
    );
    let lines = seeded.changed(lookup);
    assert_eq!(names(&lines), ["JWT_SIGNING_KEY"], "{lookup:?}: {lines:?}");
}

#[test]
fn a_rotation_is_seen_by_path_and_with_the_bundles_by_prefix() {
    // GetParametersByPath and BatchGetSecretValue.
    rotation_is_seen("rec-path", &[]);
}

#[test]
fn a_rotation_is_seen_by_name_and_with_the_canonical_bundle() {
    // GetParameters and GetSecretValue.
    rotation_is_seen(
        "rec-name",
        &["--ssm-lookup", "by-name", "--secrets-lookup", "bundle"],
    );
}
