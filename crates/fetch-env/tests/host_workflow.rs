//! The restart step and `consumers`: a rotated password reaches exactly the containers that
//! consume it. The compose command is a stand-in executable that records its arguments and
//! environment.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{example, fetch_env};

/// A copy of `examples/NAME` (so its store can be rotated) and a stand-in compose command.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new(example_name: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for file in ["vars.yaml", "bootstrap.env", "store.yaml"] {
            std::fs::copy(example(example_name, file), dir.path().join(file)).unwrap();
        }
        let compose = dir.path().join("compose-stand-in");
        // Records argv (one per line) and the environment (NUL-separated), then exits 0.
        std::fs::write(
            &compose,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{dir}/argv'\nenv -0 > '{dir}/env'\nls '{dir}' > '{dir}/seen-files'\n",
                dir = dir.path().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &compose,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        Host { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn fetch_env(&self, args: &[&str]) -> Output {
        fetch_env()
            .arg("--manifest")
            .arg(self.file("vars.yaml"))
            .arg("--bootstrap")
            .arg(self.file("bootstrap.env"))
            .arg("--store")
            .arg(format!("file:{}", self.file("store.yaml").display()))
            .env("FETCH_ENV_COMPOSE", self.file("compose-stand-in"))
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    fn argv(&self) -> Vec<String> {
        std::fs::read_to_string(self.file("argv"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn env(&self, name: &str) -> Option<String> {
        let env = std::fs::read(self.file("env")).unwrap();
        env.split(|b| *b == 0)
            .filter_map(|entry| std::str::from_utf8(entry).ok())
            .find_map(|entry| entry.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    fn rotate(&self, from: &str, to: &str) {
        let store = std::fs::read_to_string(self.file("store.yaml")).unwrap();
        assert!(store.contains(from));
        std::fs::write(self.file("store.yaml"), store.replace(from, to)).unwrap();
    }

    fn started(&self) -> bool {
        Path::new(&self.file("argv")).exists()
    }
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn restart_hands_the_fresh_environment_to_compose() {
    let host = Host::new("api");
    ok(&host.fetch_env(&["restart"]));
    assert_eq!(host.argv(), vec!["up", "-d"]);
    let url = host.env("DATABASE_URL").unwrap();
    assert!(
        url.starts_with("postgresql://postgres_admin:p%40ss%3Aw%2Frd"),
        "{url}"
    );
    assert_eq!(host.env("ECR_TAG").as_deref(), Some("2026.11.3"));

    // AWS rotates the password; the next restart of the consumers carries the new one.
    host.rotate(
        "password: \"p@ss:w/rd?#[]&=+% 'Zürich\\\"42\"",
        "password: \"r0tated/n3w@pw\"",
    );
    let consumers = ok(&host.fetch_env(&["consumers", "DATABASE_PASSWORD", "--names"]));
    assert_eq!(consumers, "telapi\n");
    ok(&host.fetch_env(&["restart", "--containers", consumers.trim()]));
    assert_eq!(host.argv(), vec!["up", "-d", "--no-deps", "telapi"]);
    assert_eq!(
        host.env("DATABASE_URL").as_deref(),
        Some(
            "postgresql://postgres_admin:r0tated%2Fn3w%40pw@api-dev.cluster-c1a2b3c4d5e6.eu-central-1.rds.amazonaws.com:5432/telapi"
        )
    );
}

#[test]
fn restart_writes_the_files_before_compose_starts() {
    let host = Host::new("tls-files");
    let store = std::fs::read_to_string(host.file("store.yaml")).unwrap();
    std::fs::write(
        host.file("store.yaml"),
        store
            .replace(
                "/tmp/fetch-env-tls-example/internal",
                host.dir.path().to_str().unwrap(),
            )
            .replace(
                "/tmp/fetch-env-tls-example/database",
                host.dir.path().to_str().unwrap(),
            ),
    )
    .unwrap();
    ok(&host.fetch_env(&["restart", "--containers", "postgres,pgbouncer"]));
    assert_eq!(
        host.argv(),
        vec!["up", "-d", "--no-deps", "postgres", "pgbouncer"]
    );
    let seen = std::fs::read_to_string(host.file("seen-files")).unwrap();
    assert!(
        seen.lines().any(|l| l == "tls.key") && seen.lines().any(|l| l == "ca.crt"),
        "{seen}"
    );
}

#[test]
fn restart_starts_nothing_when_resolution_fails_or_a_container_is_unknown() {
    let host = Host::new("api");
    let unknown = host.fetch_env(&["restart", "--containers", "telapi,telapj"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("container `telapj`"));
    assert!(!host.started());
    host.rotate("JWT_SIGNING_KEY:", "JWT_SIGNING_KEY_RENAMED:");
    let failed = host.fetch_env(&["restart"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(failed.stdout.is_empty());
    assert!(!host.started());
}

#[test]
fn restart_dry_run_and_a_configurable_compose_command() {
    let host = Host::new("api");
    let output = host.fetch_env(&[
        "restart",
        "--containers",
        "telapi",
        "--dry-run",
        "--compose-command",
        "docker-compose -p api",
    ]);
    ok(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("fetch-env: would run: docker-compose -p api up -d --no-deps telapi")
    );
    assert!(!host.started());
    // The setting can also come from the bootstrap file.
    let bootstrap = std::fs::read_to_string(host.file("bootstrap.env")).unwrap();
    std::fs::write(
        host.file("bootstrap.env"),
        format!(
            "{bootstrap}FETCH_ENV_COMPOSE='{} --project-name api'\n",
            host.file("compose-stand-in").display()
        ),
    )
    .unwrap();
    let output = fetch_env()
        .arg("--manifest")
        .arg(host.file("vars.yaml"))
        .arg("--bootstrap")
        .arg(host.file("bootstrap.env"))
        .arg("--store")
        .arg(format!("file:{}", host.file("store.yaml").display()))
        .arg("restart")
        .output()
        .unwrap();
    ok(&output);
    assert_eq!(host.argv(), vec!["--project-name", "api", "up", "-d"]);
}

#[test]
fn consumers_follow_templates_secrets_and_files() {
    let run = |example_name: &str, args: &[&str]| {
        fetch_env()
            .arg("--manifest")
            .arg(example(example_name, "vars.yaml"))
            .arg("consumers")
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(
        ok(&run("api", &["DATABASE_PASSWORD"])),
        "telapi: DATABASE_PASSWORD, DATABASE_URL\n"
    );
    assert_eq!(
        ok(&run("api", &["DB_MASTER_SECRET_ARN"])),
        "telapi: DATABASE_USERNAME, DATABASE_PASSWORD, DATABASE_URL\n"
    );
    assert_eq!(
        ok(&run("aurora-reader", &["DATABASE_HOST"])),
        "reports: DATABASE_HOST, DATABASE_URL\n"
    );
    assert_eq!(
        ok(&run("aurora-reader", &["DATABASE_PORT", "--names"])),
        "reports\n"
    );
    assert_eq!(
        ok(&run("tls-files", &["INTERNAL_CA_FILE"])),
        "pgbouncer: INTERNAL_CA_CRT_B64, INTERNAL_CA_FILE\npostgres: INTERNAL_CA_CRT_B64, INTERNAL_CA_FILE\n"
    );
    let unknown = run("api", &["DATABASE_PASWORD"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("did you mean `DATABASE_PASSWORD`?"));
}

#[test]
fn composed_of_composed_reaches_every_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("vars.yaml");
    std::fs::write(
        &manifest,
        "service: s\nvariables:\n  - { name: PASS, containers: [a] }\n  - { name: URL, containers: [b], compose: { template: 'x://${PASS}' } }\n  - { name: WRAPPED, containers: [c, b], compose: { template: '${URL}/y' } }\n  - { name: INIT_ONLY, scope: init, compose: { template: '${PASS}' } }\n  - { name: OTHER, containers: [d] }\n",
    )
    .unwrap();
    let output = fetch_env()
        .arg("--manifest")
        .arg(&manifest)
        .args(["consumers", "PASS"])
        .output()
        .unwrap();
    assert_eq!(ok(&output), "a: PASS\nb: URL, WRAPPED\nc: WRAPPED\n");
}

/// compose does not recreate a service whose rotated value reaches it only as a secret file
/// (`secrets: {NAME: {environment: VAR}}`): `restart` adds `--force-recreate` when a service it
/// restarts receives a declared variable that way, and only then.
#[test]
fn restart_force_recreates_when_a_service_receives_a_declared_value_through_a_secret() {
    let host = Host::new("api");
    std::fs::write(
        host.file("compose.yaml"),
        "services:\n  telapi:\n    image: x\n    secrets: [db_password]\n  worker:\n    image: x\nsecrets:\n  db_password:\n    environment: DATABASE_PASSWORD\n",
    )
    .unwrap();
    let output = host.fetch_env(&["restart"]);
    ok(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(host.argv(), ["up", "-d", "--force-recreate"], "{stderr}");
    assert!(
        stderr.contains("telapi receives declared values through compose secrets"),
        "{stderr}"
    );

    // Not when the restarted services receive nothing that way.
    std::fs::write(
        host.file("compose.yaml"),
        "services:\n  telapi:\n    image: x\n    environment: [DATABASE_PASSWORD]\n",
    )
    .unwrap();
    ok(&host.fetch_env(&["restart"]));
    assert_eq!(host.argv(), ["up", "-d"]);
}

/// The api example's password, as its store holds it, and a rotated one.
const EXAMPLE_PASSWORD: &str = "password: \"p@ss:w/rd?#[]&=+% 'Zürich\\\"42\"";

#[test]
fn restart_changed_recreates_everything_without_a_record_then_exactly_what_moved() {
    let host = Host::new("api");
    let record = host.file("run/api.json");
    let record_arg = record.to_str().unwrap();
    // No record yet: every container, and the record is written.
    ok(&host.fetch_env(&["restart", "--changed", "--record", record_arg]));
    assert_eq!(host.argv(), vec!["up", "-d", "--force-recreate"]);
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains("\"DATABASE_PASSWORD\""), "{text}");
    assert!(
        !text.contains("Zürich"),
        "a value reached the record:\n{text}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&record), 0o600);
    assert_eq!(mode(&host.file("run")), 0o700);
    assert_eq!(mode(&host.file("run/fetch-env.key")), 0o600);

    // Nothing moved: compose is not started, and stderr says so.
    std::fs::remove_file(host.file("argv")).unwrap();
    let unchanged = host.fetch_env(&["restart", "--changed", "--record", record_arg]);
    ok(&unchanged);
    assert!(!host.started(), "compose ran with nothing to recreate");
    assert!(
        String::from_utf8_lossy(&unchanged.stderr).contains("nothing to recreate"),
        "{}",
        String::from_utf8_lossy(&unchanged.stderr)
    );
    let changed = host.fetch_env(&["changed", "--record", record_arg, "--exit-code"]);
    assert_eq!(changed.status.code(), Some(0));
    assert!(changed.stdout.is_empty());

    // The password rotates: `changed` names every variable of the secret (a new version of a
    // secret is a new version of each of its keys), the URL made from them, and telapi.
    host.rotate(EXAMPLE_PASSWORD, "password: \"r0tated/n3w@pw\"");
    let changed = host.fetch_env(&["changed", "--record", record_arg, "--exit-code"]);
    assert_eq!(changed.status.code(), Some(10));
    let lines = String::from_utf8(changed.stdout).unwrap();
    let names: Vec<&str> = lines
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["DATABASE_USERNAME", "DATABASE_PASSWORD", "DATABASE_URL"],
        "{lines}"
    );
    assert!(lines.contains("recreate telapi"), "{lines}");
    assert!(!lines.contains("r0tated"), "{lines}");
    let names = ok(&host.fetch_env(&["changed", "--record", record_arg, "--names"]));
    assert_eq!(names, "telapi\n");
    // restart --changed recreates exactly that, and only once.
    ok(&host.fetch_env(&["restart", "--changed", "--record", record_arg]));
    assert_eq!(
        host.argv(),
        vec!["up", "-d", "--force-recreate", "--no-deps", "telapi"]
    );
    assert!(
        host.env("DATABASE_URL")
            .unwrap()
            .contains("r0tated%2Fn3w%40pw")
    );
    std::fs::remove_file(host.file("argv")).unwrap();
    ok(&host.fetch_env(&["restart", "--changed", "--record", record_arg]));
    assert!(
        !host.started(),
        "a second restart --changed recreated something"
    );
}

#[test]
fn a_failed_compose_leaves_the_record_as_it_was() {
    let host = Host::new("api");
    let record = host.file("run/api.json");
    let record_arg = record.to_str().unwrap();
    ok(&host.fetch_env(&["restart", "--record", record_arg]));
    let before = std::fs::read_to_string(&record).unwrap();
    host.rotate(EXAMPLE_PASSWORD, "password: \"another\"");
    let failing = host.file("compose-failing");
    std::fs::write(&failing, "#!/bin/sh\nexit 3\n").unwrap();
    std::fs::set_permissions(
        &failing,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let failed = host.fetch_env(&[
        "restart",
        "--changed",
        "--record",
        record_arg,
        "--compose-command",
        failing.to_str().unwrap(),
    ]);
    assert_eq!(
        failed.status.code(),
        Some(3),
        "compose's status is passed on"
    );
    assert_eq!(std::fs::read_to_string(&record).unwrap(), before);
    let names = ok(&host.fetch_env(&["changed", "--record", record_arg, "--names"]));
    assert_eq!(names, "telapi\n", "the rotation is still to be delivered");
}

#[test]
fn output_and_run_write_the_record_they_are_asked_for() {
    let host = Host::new("api");
    let record = host.file("out/api.json");
    let record_arg = record.to_str().unwrap();
    ok(&host.fetch_env(&["--format", "json", "--record", record_arg]));
    assert!(record.is_file());
    let changed = ok(&host.fetch_env(&["changed", "--record", record_arg]));
    assert_eq!(changed, "");
    let by_run = host.file("run-record/api.json");
    ok(&host.fetch_env(&[
        "run",
        "--record",
        by_run.to_str().unwrap(),
        "--",
        "/bin/sh",
        "-c",
        "test -f \"$0\"",
        by_run.to_str().unwrap(),
    ]));
    // No record: everything counts as changed, and stderr says why.
    let missing = host.file("none/api.json");
    let all = host.fetch_env(&["changed", "--record", missing.to_str().unwrap()]);
    ok(&all);
    assert!(String::from_utf8_lossy(&all.stderr).contains("no record at"));
    assert!(String::from_utf8_lossy(&all.stdout).contains("DATABASE_PASSWORD: set ("));
    assert!(
        !host.file("none").exists(),
        "changed created the record's directory"
    );
}

#[test]
fn a_damaged_foreign_or_unreadable_record_is_not_trusted() {
    let host = Host::new("api");
    let record = host.file("run/api.json");
    let record_arg = record.to_str().unwrap();
    ok(&host.fetch_env(&["restart", "--record", record_arg]));
    let good = std::fs::read_to_string(&record).unwrap();
    let damaged: Vec<(&str, String)> = vec![
        ("not JSON", "{\"format\": 1, \"service\"".to_owned()),
        (
            "another format",
            good.replace("\"format\": 1", "\"format\": 7"),
        ),
        (
            "another service",
            good.replace("\"service\": \"api\"", "\"service\": \"billing\""),
        ),
        (
            "another manifest",
            good.replace("vars.yaml\"", "other/vars.yaml\""),
        ),
        ("no variables", "{\"format\": 1}".to_owned()),
    ];
    for (what, text) in damaged {
        assert_ne!(text, good, "{what}: the damage did not apply");
        std::fs::write(&record, &text).unwrap();
        let _ = std::fs::remove_file(host.file("argv"));
        let run = host.fetch_env(&["restart", "--changed", "--record", record_arg]);
        ok(&run);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains("the record is not trusted"),
            "{what}: {stderr}"
        );
        assert_eq!(
            host.argv(),
            vec!["up", "-d", "--force-recreate"],
            "{what}: every container is recreated"
        );
        assert_eq!(
            std::fs::read_to_string(&record).unwrap().len(),
            good.len(),
            "{what}: a fresh record replaces it"
        );
        let changed = host.fetch_env(&["changed", "--record", record_arg, "--exit-code"]);
        assert_eq!(changed.status.code(), Some(0), "{what}");
    }
    // A record that cannot be read (a directory in its place): not trusted either; compose
    // still recreates everything, and the record asked for cannot be written (exit 2).
    std::fs::remove_file(&record).unwrap();
    std::fs::create_dir(&record).unwrap();
    let _ = std::fs::remove_file(host.file("argv"));
    let run = host.fetch_env(&["restart", "--changed", "--record", record_arg]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("cannot be read"), "{stderr}");
    assert_eq!(host.argv(), vec!["up", "-d", "--force-recreate"]);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
}
