//! `set`, `unset` and `seed` against moto and the file store: values reach the place a resolve
//! reads them from, no update of a bundle is lost to a concurrent one, and no value is ever on
//! a command line, in `--verbose`, in `--dry-run` or in an error.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::fault_proxy::FaultProxy;
use common::moto::moto;
use common::run::{Run, replace_all, write};
use common::{FetchEnv, example, fetch_env_example};

/// A manifest with plain and sensitive remote variables, a local one, one from an `arn_from`
/// secret and a composed one.
fn manifest(keys: usize) -> String {
    let mut text = String::from(
        "service: api\nvariables:\n  - name: DB_SECRET_ARN\n    source: local\n  - name: HOST\n  - name: TOKEN\n    sensitive: true\n  - name: PASSWORD\n    secret: { arn_from: DB_SECRET_ARN, type: json, key: password }\n  - name: URL\n    compose:\n      template: \"postgres://u@${HOST}/db\"\n",
    );
    for i in 1..=keys {
        text.push_str(&format!("  - name: KEY_{i:02}\n    sensitive: true\n"));
    }
    text
}

/// A service of its own on moto (`namespace`), with its manifest and bootstrap file.
struct Service {
    dir: tempfile::TempDir,
    namespace: String,
}

impl Service {
    fn new(namespace: &str, keys: usize) -> Service {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "vars.yaml", manifest(keys));
        write(
            dir.path(),
            "bootstrap.env",
            format!("NAMESPACE={namespace}\n"),
        );
        Service {
            dir,
            namespace: namespace.to_owned(),
        }
    }

    /// Seeds moto with `store` (a store file's text), kept beside the service's files.
    fn seed(&self, store: &str) {
        moto().seed(&write(self.dir.path(), "store.yaml", store));
    }

    fn fetch_env(&self, endpoint: &str) -> FetchEnv {
        FetchEnv::new()
            .arg("--manifest")
            .arg(self.dir.path().join("vars.yaml"))
            .arg("--bootstrap")
            .arg(self.dir.path().join("bootstrap.env"))
            .on_aws(endpoint)
            .with_test_credentials()
    }

    /// `set NAME` with `value` on standard input.
    fn set(&self, endpoint: &str, name: &str, value: &str) -> Run {
        with_stdin(
            self.fetch_env(endpoint).args(["--verbose", "set", name]),
            value,
        )
    }

    /// The bundle's keys as moto holds them now.
    fn bundle(&self) -> HashMap<String, String> {
        let output = moto().seed_py(&["--get-secret", &format!("{}/api/secrets", self.namespace)]);
        serde_json::from_slice(&output).expect("the bundle is a JSON object")
    }
}

/// Nothing was written to moto under `prefix`: no secret, and no parameter under `/prefix`.
fn assert_no_secret_under(prefix: &str) {
    let output = moto().seed_py(&["--list-secrets", prefix]);
    assert_eq!(String::from_utf8(output).unwrap().trim(), "[]", "{prefix}");
}

/// Runs `builder` with `input` on its standard input.
fn with_stdin(builder: FetchEnv, input: &str) -> Run {
    builder.run_with_stdin(input.as_bytes())
}

#[test]
fn twenty_concurrent_sets_of_different_keys_lose_none() {
    let service = Service::new("prov-concurrent", 20);
    // The bundle exists with two keys of someone else's.
    service.seed(
        "secrets:\n  prov-concurrent/api/secrets:\n    TOKEN: CANARY-token-0\n    OTHER: kept\n",
    );
    let proxy = FaultProxy::start(moto().port);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=20)
            .map(|i| {
                let service = &service;
                let endpoint = proxy.endpoint.clone();
                scope.spawn(move || {
                    service.set(
                        &endpoint,
                        &format!("KEY_{i:02}"),
                        &format!("CANARY-value-{i}\n"),
                    )
                })
            })
            .collect();
        for handle in handles {
            let run = handle.join().unwrap();
            run.assert_ok();
            run.assert_no_canary(false);
        }
    });
    let bundle = service.bundle();
    for i in 1..=20 {
        assert_eq!(
            bundle.get(&format!("KEY_{i:02}")).map(String::as_str),
            Some(format!("CANARY-value-{i}").as_str()),
            "KEY_{i:02} was lost: {:?}",
            bundle.keys().collect::<Vec<_>>()
        );
    }
    assert_eq!(bundle["TOKEN"], "CANARY-token-0");
    assert_eq!(bundle["OTHER"], "kept");
    assert_eq!(bundle.len(), 22);
    let operations = proxy.operations();
    let moves = operations
        .get("secretsmanager.UpdateSecretVersionStage")
        .copied()
        .unwrap_or(0);
    eprintln!("20 concurrent sets: {moves} conditional stage moves (20 without any conflict)");
    // Writers did collide (or the test proved nothing), and every collision was retried.
    assert!(moves > 20, "no write collided with another: {operations:?}");
}

#[test]
fn values_go_where_a_resolve_reads_them_and_nothing_else_is_written() {
    let service = Service::new("prov-places", 1);
    let endpoint = moto().endpoint.clone();
    service.set(&endpoint, "HOST", "db.internal\n").assert_ok();
    let run = service.set(&endpoint, "TOKEN", "CANARY-token-1\n");
    run.assert_ok();
    assert!(
        run.stdout()
            .contains("sm:prov-places/api/secrets#TOKEN: created"),
        "{}",
        run.show()
    );
    run.assert_no_canary(false);
    // A trailing newline is dropped, unless asked to keep it.
    with_stdin(
        service
            .fetch_env(&endpoint)
            .args(["set", "KEY_01", "--keep-newline"]),
        "two\nlines\n",
    )
    .assert_ok();
    // By GetSecretValue: moto's BatchGetSecretValue answers the version that was current
    // before a stage move (docs/aws.md).
    let json = service
        .fetch_env(&endpoint)
        .args(["--secrets-lookup", "bundle", "--format", "json"])
        .run();
    let values: HashMap<String, String> = serde_json::from_slice(&json.stdout).unwrap_or_default();
    assert_eq!(
        values.get("HOST").map(String::as_str),
        Some("db.internal"),
        "{}",
        json.show()
    );
    assert_eq!(values["TOKEN"], "CANARY-token-1");
    assert_eq!(values["KEY_01"], "two\nlines\n");
    assert_eq!(values["URL"], "postgres://u@db.internal/db");
    // unset removes the parameter and the key, and the rest of the bundle stays.
    service
        .fetch_env(&endpoint)
        .args(["unset", "HOST"])
        .run()
        .assert_ok();
    let run = service.fetch_env(&endpoint).args(["unset", "TOKEN"]).run();
    run.assert_ok();
    assert!(run.stdout().contains("#TOKEN: deleted"), "{}", run.show());
    let bundle = service.bundle();
    assert!(
        !bundle.contains_key("TOKEN") && bundle.contains_key("KEY_01"),
        "{bundle:?}"
    );
    let again = service.fetch_env(&endpoint).args(["unset", "HOST"]).run();
    again.assert_ok();
    assert!(again.stdout().contains("was not set"), "{}", again.show());
}

#[test]
fn names_with_nothing_to_write_are_refused_saying_where_the_value_comes_from() {
    let service = Service::new("prov-refused", 0);
    let endpoint = moto().endpoint.clone();
    for (name, words) in [
        ("DB_SECRET_ARN", "`source: local`"),
        (
            "PASSWORD",
            "nothing to seed; put the secret's ARN in DB_SECRET_ARN",
        ),
        ("URL", "composed"),
        ("HOTS", "did you mean `HOST`?"),
    ] {
        let run = service.set(&endpoint, name, "CANARY-refused\n");
        run.assert_failed(2);
        assert!(
            run.stderr.contains(words),
            "{name}: `{words}` in:\n{}",
            run.show()
        );
        run.assert_no_canary(false);
    }
    assert_no_secret_under("prov-refused/");
}

#[test]
fn dry_run_says_where_without_the_value_and_writes_nothing() {
    let service = Service::new("prov-dry", 0);
    let endpoint = moto().endpoint.clone();
    let run = with_stdin(
        service
            .fetch_env(&endpoint)
            .args(["--dry-run", "--verbose", "set", "TOKEN"]),
        "CANARY-dry\n",
    );
    run.assert_ok();
    assert!(
        run.stderr
            .contains("would write TOKEN to sm:prov-dry/api/secrets#TOKEN"),
        "{}",
        run.show()
    );
    run.assert_no_canary(false);
    let seed = write(
        service.dir.path(),
        "seed.env",
        "HOST=CANARY-host\nTOKEN=CANARY-t\n",
    );
    let run = service
        .fetch_env(&endpoint)
        .args(["--dry-run", "seed", "--from"])
        .arg(&seed)
        .run();
    run.assert_ok();
    assert!(
        run.stderr
            .contains("would write HOST to ssm:/prov-dry/api/HOST"),
        "{}",
        run.show()
    );
    run.assert_no_canary(false);
    assert_no_secret_under("prov-dry/");
}

#[test]
fn seed_checks_every_line_before_writing_any() {
    let service = Service::new("prov-seed-check", 0);
    let endpoint = moto().endpoint.clone();
    let seed = write(
        service.dir.path(),
        "seed.env",
        "HOST=CANARY-h\nPASSWORD=CANARY-p\nNOPE=CANARY-n\nTOKEN=\nURL=CANARY-u\n",
    );
    let run = service
        .fetch_env(&endpoint)
        .args(["seed", "--from"])
        .arg(&seed)
        .run();
    run.assert_failed(2);
    run.assert_no_canary(false);
    for (line, words) in [
        (2, "nothing to seed"),
        (3, "`NOPE` is not declared"),
        (4, "`TOKEN` has an empty value"),
        (5, "composed"),
    ] {
        let at = format!("{}:{line}:1: error: ", seed.display());
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with(&at) && l.contains(words)),
            "line {line}: `{words}` in:\n{}",
            run.show()
        );
    }
    assert_no_secret_under("prov-seed-check/");
}

/// What a newcomer does with `fetch_env` (fetch-env on the api example and a store): `seed
/// --from` the values that are not AWS's own, two `set`, then the README's call line. Returns
/// the seed's run and the call line's, each having succeeded.
fn newcomer(fetch_env: &dyn Fn() -> FetchEnv, dir: &Path) -> (Run, Run) {
    let values = newcomer_values(dir);
    let seeded = fetch_env().args(["seed", "--from"]).arg(&values).run();
    seeded.assert_ok();
    with_stdin(
        fetch_env().args(["set", "DATABASE_SSL_MODE"]),
        "verify-full\n",
    )
    .assert_ok();
    with_stdin(
        fetch_env().args(["set", "JWT_SIGNING_KEY"]),
        "dev-jwt-9f8e7d6c5b4a\n",
    )
    .assert_ok();
    let exports = fetch_env().args(["--format", "export"]).run();
    exports.assert_ok();
    (seeded, exports)
}

/// The api example's values that are not AWS's own, as a newcomer writes them for `seed`.
fn newcomer_values(dir: &Path) -> PathBuf {
    write(
        dir,
        "values.env",
        "DATABASE_HOST=api-dev.cluster-c1a2b3c4d5e6.eu-central-1.rds.amazonaws.com\nDATABASE_NAME=telapi\nLOG_LEVEL=debug\n",
    )
}

/// From an empty moto to the api example resolving with the documented call line: the RDS
/// master secret is AWS's (created here as RDS creates it); everything else is `seed --from`
/// and one `set`.
#[test]
fn a_newcomer_goes_from_an_empty_moto_to_the_resolving_api_example() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::fs::read_to_string(example("api", "store.yaml")).unwrap();
    // Only what RDS owns, renamed so that this test's server state is its own.
    let aws_owned =
        store[store.find("  # The RDS-managed").unwrap()..].replace("3f1c1e2a", "4e2d2f3b");
    let owned = write(dir.path(), "rds.yaml", format!("secrets:\n{aws_owned}"));
    let arns = moto().seed(&owned);
    let bootstrap = std::fs::read_to_string(example("api", "bootstrap.env"))
        .unwrap()
        .replace("voiceai/dev", "voiceai/newcomer")
        .replace("3f1c1e2a", "4e2d2f3b");
    let bootstrap = write(dir.path(), "bootstrap.env", replace_all(&bootstrap, &arns));
    let fetch_env = || {
        FetchEnv::new()
            .arg("--manifest")
            .arg(example("api", "vars.yaml"))
            .arg("--bootstrap")
            .arg(&bootstrap)
            .on_aws(&moto().endpoint)
            .with_test_credentials()
    };
    let (seeded, exports) = newcomer(&fetch_env, dir.path());
    assert!(
        seeded.stdout().contains("still needed: "),
        "{}",
        seeded.show()
    );
    let expected = fetch_env_example("api").output().unwrap();
    let back: HashMap<String, String> = arns.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
    assert_eq!(
        replace_all(&exports.stdout(), &back)
            .replace("voiceai/newcomer", "voiceai/dev")
            .replace("4e2d2f3b", "3f1c1e2a"),
        String::from_utf8(expected.stdout).unwrap()
    );
}

/// The same on the file store: an empty store file that holds only what AWS owns.
#[test]
fn a_newcomer_goes_from_an_almost_empty_store_file_to_the_resolving_api_example() {
    let dir = tempfile::tempdir().unwrap();
    let store_text = std::fs::read_to_string(example("api", "store.yaml")).unwrap();
    let aws_owned = &store_text[store_text.find("  # The RDS-managed").unwrap()..];
    let store = write(
        dir.path(),
        "store.yaml",
        format!("# Mine.\nsecrets:\n{aws_owned}"),
    );
    let fetch_env = || {
        FetchEnv::new()
            .arg("--manifest")
            .arg(example("api", "vars.yaml"))
            .arg("--bootstrap")
            .arg(example("api", "bootstrap.env"))
            .arg("--store")
            .arg(format!("file:{}", store.display()))
    };
    let (_, exports) = newcomer(&fetch_env, dir.path());
    let expected = fetch_env_example("api").output().unwrap();
    assert_eq!(
        exports.stdout(),
        String::from_utf8(expected.stdout).unwrap()
    );
    let text = std::fs::read_to_string(&store).unwrap();
    assert!(text.starts_with("# Mine.\n"), "{text}");
    assert!(text.contains("  # The RDS-managed master secret"), "{text}");
    // A store file others may write, or a symlink to one, is refused.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o666)).unwrap();
    let refused = with_stdin(fetch_env().args(["set", "LOG_LEVEL"]), "info\n");
    refused.assert_failed(2);
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("link.yaml");
    std::os::unix::fs::symlink(&store, &link).unwrap();
    let through_link = with_stdin(
        FetchEnv::new()
            .arg("--manifest")
            .arg(example("api", "vars.yaml"))
            .arg("--bootstrap")
            .arg(example("api", "bootstrap.env"))
            .arg("--store")
            .arg(format!("file:{}", link.display()))
            .args(["set", "LOG_LEVEL"]),
        "info\n",
    );
    through_link.assert_failed(2);
}

/// `check --remote` ends the operator's to-do list: each required variable no source gives,
/// with the place it must go and the command that puts it there, or, for one read from an
/// `arn_from` secret, the bootstrap variable that must hold the ARN.
#[test]
fn check_remote_says_where_each_missing_value_goes_and_how() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: api\nvariables:\n  - name: DB_SECRET_ARN\n    source: local\n  - name: HOST\n    required: true\n  - name: TOKEN\n    sensitive: true\n    required: true\n  - name: PASSWORD\n    required: true\n    secret: { arn_from: DB_SECRET_ARN, type: json, key: password }\n  - name: SITE\n    source: local\n    required: true\n",
    );
    let bootstrap = write(dir.path(), "bootstrap.env", "NAMESPACE=prov-todo\n");
    let run = FetchEnv::new()
        .arg("--manifest")
        .arg(&manifest)
        .arg("--bootstrap")
        .arg(&bootstrap)
        .on_aws(&moto().endpoint)
        .with_test_credentials()
        .args(["check", "--remote"])
        .run();
    run.assert_failed(1);
    let command = format!(
        "fetch-env --manifest {} --bootstrap {} --store aws",
        manifest.display(),
        bootstrap.display()
    );
    for help in [
        format!("help: it goes to ssm:/prov-todo/api/HOST: `{command} set HOST`"),
        format!("help: it goes to sm:prov-todo/api/secrets#TOKEN: `{command} set TOKEN`"),
        format!(
            "help: it is read from the secret DB_SECRET_ARN names: put that secret's ARN in `DB_SECRET_ARN` in {}",
            bootstrap.display()
        ),
        format!("help: add `SITE=…` to {}", bootstrap.display()),
    ] {
        assert!(
            run.stderr.lines().any(|l| l.starts_with(&help)),
            "`{help}` in:\n{}",
            run.show()
        );
    }
}

/// On a terminal, `set` prompts on stderr and turns echo off while the value is typed: driven
/// through a real pseudo-terminal (Python's `pty`), the transcript holds the prompt and never
/// the value, and the value is written.
#[test]
fn on_a_terminal_the_value_is_typed_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let store = write(dir.path(), "store.yaml", "");
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: api\nvariables:\n  - name: TOKEN\n    sensitive: true\n",
    );
    let bootstrap = write(dir.path(), "bootstrap.env", "NAMESPACE=ns\n");
    let driver = r#"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
def read_until(needle, limit):
    global seen
    deadline = time.time() + limit
    while needle not in seen and time.time() < deadline:
        try:
            seen += os.read(fd, 1024)
        except OSError:
            break
read_until(b"(not echoed): ", 20)
time.sleep(0.2)
os.write(fd, b"CANARY-typed-1\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let python = common::require_tool("python3", "apt-get install python3");
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(driver)
        .arg(env!("CARGO_BIN_EXE_fetch-env"))
        .arg("--manifest")
        .arg(&manifest)
        .arg("--bootstrap")
        .arg(&bootstrap)
        .arg("--store")
        .arg(format!("file:{}", store.display()))
        .args(["set", "TOKEN"])
        .output()
        .expect("run the terminal driver");
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{transcript}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(transcript.contains("TOKEN (not echoed): "), "{transcript}");
    assert!(
        !transcript.contains("CANARY"),
        "the value was echoed:\n{transcript}"
    );
    let written = std::fs::read_to_string(&store).unwrap();
    assert!(
        written.contains("\"TOKEN\": \"CANARY-typed-1\""),
        "{written}"
    );
}

/// A value written where a resolve reads it first, but overridden by a later place (a bundle
/// key of the same name overrides the parameter): `set` says so.
#[test]
fn a_value_a_later_place_overrides_is_reported() {
    let service = Service::new("prov-shadow", 0);
    service.seed("secrets:\n  prov-shadow/api/secrets:\n    HOST: from-the-bundle\n");
    let run = service.set(&moto().endpoint, "HOST", "db.internal\n");
    run.assert_ok();
    assert!(
        run.stderr.contains(
            "HOST was written to ssm:/prov-shadow/api/HOST, but a resolve reads it from sm:prov-shadow/api/secrets#HOST, which wins"
        ),
        "{}",
        run.show()
    );
    let quiet = service.set(&moto().endpoint, "TOKEN", "t\n");
    quiet.assert_ok();
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.show());
}

/// A bundle created empty (no version yet, as infrastructure code often leaves it) takes its
/// first key; removing a key that is not there writes nothing (no new version, so nothing
/// counts as changed).
#[test]
fn an_empty_bundle_takes_keys_and_removing_an_absent_key_writes_nothing() {
    let service = Service::new("prov-empty", 1);
    moto().seed_py(&["--create-empty-secret", "prov-empty/api/secrets"]);
    let run = service.set(&moto().endpoint, "TOKEN", "CANARY-first\n");
    run.assert_ok();
    assert_eq!(service.bundle()["TOKEN"], "CANARY-first");
    let proxy = FaultProxy::start(moto().port);
    let run = service
        .fetch_env(&proxy.endpoint)
        .args(["unset", "KEY_01"])
        .run();
    run.assert_ok();
    assert!(
        run.stdout().contains("KEY_01: was not set"),
        "{}",
        run.show()
    );
    let operations = proxy.operations();
    assert!(
        !operations.contains_key("secretsmanager.PutSecretValue")
            && !operations.contains_key("secretsmanager.CreateSecret"),
        "{operations:?}"
    );
    assert_eq!(service.bundle().len(), 1);
}
