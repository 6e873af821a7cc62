//! The record of what containers received (no value), and what moved since: on the file
//! store, whose entries have versions of their own.

use std::sync::Arc;

use fetch_env_core::record::{Move, Record, changes, containers_to_recreate};
use fetch_env_core::{Bootstrap, FileStore, Manifest, ResolveOptions, resolve};

const ARN: &str = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-a-AbC123";

const MANIFEST: &str = r#"
service: api
variables:
  - name: DB_SECRET_ARN
    source: local
  - name: DATABASE_HOST
    containers: [api, worker]
  - name: DATABASE_PASSWORD
    secret: { arn_from: DB_SECRET_ARN, type: json, key: password }
    containers: [vault]
  - name: DATABASE_URL
    compose:
      template: "postgres://u:${DATABASE_PASSWORD}@${DATABASE_HOST}/db"
      encode: [DATABASE_PASSWORD]
    containers: [api]
  - name: LOG_LEVEL
    default: info
    containers: [worker]
  - name: FEATURE
    source: local
    containers: [idle]
  - name: TOKEN
    sensitive: true
    containers: [idle]
"#;

fn store(password: &str, host: &str) -> String {
    format!(
        "parameters:\n  /ns/api/DATABASE_HOST: {host}\n  /ns/api/TOKEN: {{ value: CANARY-token-1, type: SecureString }}\nsecrets:\n  \"{ARN}\":\n    password: \"{password}\"\n"
    )
}

/// The record of a resolve with `bootstrap` lines and the store text, with a digest that shows
/// what it was given (so that a test can see no secret was).
fn record(bootstrap: &str, store_text: &str) -> Record {
    let manifest = Manifest::parse(Arc::from("vars.yaml"), MANIFEST).unwrap();
    let bootstrap = Bootstrap::parse(
        Arc::from("b.env"),
        format!("DB_SECRET_ARN={ARN}\n{bootstrap}").as_bytes(),
    )
    .unwrap();
    let store = FileStore::parse(Arc::from("store.yaml"), store_text).unwrap();
    let options = ResolveOptions {
        namespace: Some("ns".into()),
        ..ResolveOptions::default()
    };
    let resolution = resolve(&manifest, &bootstrap, &options, &store).unwrap();
    assert!(resolution.succeeded(), "{:?}", resolution.failures);
    Record::of(&resolution, "2026-12-02T00:00:00Z".into(), &|value| {
        format!("digest-of-{value}")
    })
}

fn manifest() -> Manifest {
    Manifest::parse(Arc::from("vars.yaml"), MANIFEST).unwrap()
}

#[test]
fn the_record_holds_sources_versions_and_digests_of_plain_values_only() {
    let r = record("FEATURE=on\n", &store("CANARY-pass-1", "db1"));
    let text = serde_json::to_string(&r).unwrap();
    assert!(
        !text.contains("CANARY"),
        "a secret reached the record: {text}"
    );
    let entry = |name: &str| r.variables.get(name).unwrap_or_else(|| panic!("{name}"));
    assert_eq!(entry("DATABASE_HOST").source, "ssm:/ns/api/DATABASE_HOST");
    assert!(entry("DATABASE_HOST").version.is_some());
    assert_eq!(entry("DATABASE_HOST").digest, None, "a version is enough");
    assert!(entry("DATABASE_PASSWORD").version.is_some());
    assert_eq!(entry("DATABASE_PASSWORD").digest, None);
    // Secret, composed: neither version nor digest; it moves with its inputs.
    assert_eq!(entry("DATABASE_URL").source, "compose");
    assert_eq!(entry("DATABASE_URL").digest, None);
    assert_eq!(entry("LOG_LEVEL").digest.as_deref(), Some("digest-of-info"));
    assert_eq!(entry("FEATURE").digest.as_deref(), Some("digest-of-on"));
    assert_eq!(entry("FEATURE").source, "bootstrap:2");
    assert_eq!(entry("DATABASE_HOST").containers, ["api", "worker"]);
}

#[test]
fn nothing_moved_is_no_change() {
    let before = record("FEATURE=on\n", &store("p1", "db1"));
    let after = record("FEATURE=on\n", &store("p1", "db1"));
    assert_eq!(changes(&before, &after, &manifest()), []);
}

#[test]
fn a_rotated_secret_moves_its_consumers_and_what_is_made_from_it() {
    let before = record("FEATURE=on\n", &store("p1", "db1"));
    let after = record("FEATURE=on\n", &store("p2", "db1"));
    let found = changes(&before, &after, &manifest());
    let names: Vec<&str> = found.iter().map(|c| c.variable.as_str()).collect();
    assert_eq!(names, ["DATABASE_PASSWORD", "DATABASE_URL"]);
    assert!(matches!(found[0].what, Move::Version { .. }));
    assert!(matches!(&found[1].what, Move::MadeFrom(n) if n.as_str() == "DATABASE_PASSWORD"));
    assert_eq!(found[0].containers, ["api", "vault"]);
    assert_eq!(containers_to_recreate(&found), ["api", "vault"]);
}

#[test]
fn plain_values_without_versions_move_by_digest_and_sources_by_name() {
    let before = record("FEATURE=on\n", &store("p1", "db1"));
    let after = record("FEATURE=off\n", &store("p1", "db2"));
    let found = changes(&before, &after, &manifest());
    let names: Vec<&str> = found.iter().map(|c| c.variable.as_str()).collect();
    assert_eq!(names, ["DATABASE_HOST", "DATABASE_URL", "FEATURE"]);
    assert_eq!(found[2].what, Move::Value);
    assert_eq!(containers_to_recreate(&found), ["api", "idle", "worker"]);
    // A line added above moves the bootstrap source: another line is another source.
    let moved = record("# a comment\nFEATURE=on\n", &store("p1", "db1"));
    let found = changes(&before, &moved, &manifest());
    assert!(matches!(&found[0].what, Move::Source { before } if before == "bootstrap:2"));
    // Unset, and set again.
    let unset = record("", &store("p1", "db1"));
    assert_eq!(changes(&before, &unset, &manifest())[0].what, Move::Removed);
    assert_eq!(changes(&unset, &before, &manifest())[0].what, Move::Added);
}

#[test]
fn a_partial_update_keeps_the_old_entry_of_a_variable_a_kept_container_receives() {
    let manifest = manifest();
    let before = record("FEATURE=on\n", &store("p1", "db1"));
    let after = record("FEATURE=on\n", &store("p2", "db2"));
    // Only api was recreated: DATABASE_HOST also reaches worker, so it stays as it was;
    // DATABASE_URL reaches api alone.
    let updated = before.updated(after.clone(), &manifest, Some(&["api".to_owned()]));
    assert_eq!(
        updated.variables["DATABASE_HOST"],
        before.variables["DATABASE_HOST"]
    );
    assert_eq!(
        updated.variables["DATABASE_PASSWORD"],
        before.variables["DATABASE_PASSWORD"]
    );
    let left: Vec<String> = changes(&updated, &after, &manifest)
        .iter()
        .map(|c| c.variable.to_string())
        .collect();
    assert_eq!(left, ["DATABASE_HOST", "DATABASE_PASSWORD", "DATABASE_URL"]);
    // All recreated: the fresh record.
    assert_eq!(before.updated(after.clone(), &manifest, None), after);
}

#[test]
fn a_variable_declared_for_other_containers_moves_for_all_of_them() {
    let before = record("FEATURE=on\n", &store("p1", "db1"));
    let mut after = before.clone();
    after
        .variables
        .get_mut("FEATURE")
        .unwrap()
        .containers
        .push("worker".into());
    let found = changes(&before, &after, &manifest());
    assert_eq!(found.len(), 1);
    assert!(matches!(found[0].what, Move::Containers { .. }));
    // A variable the manifest no longer declares is still in its containers.
    let mut gone = before.clone();
    gone.variables
        .insert("OLD_ONE".into(), before.variables["FEATURE"].clone());
    let found = changes(&gone, &before, &manifest());
    assert_eq!(found[0].variable.as_str(), "OLD_ONE");
    assert_eq!(found[0].what, Move::Removed);
    assert_eq!(found[0].containers, ["idle"]);
}
