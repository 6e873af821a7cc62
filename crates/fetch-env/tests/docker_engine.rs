//! The hand-off on a real Docker engine: `fetch-env run -- docker compose up -d` and
//! `fetch-env restart` against Debian's dockerd, with compose v2 as the docker CLI plugin (both
//! private to the tests: `common/docker.rs`). What each container receives is read back from the
//! engine (`docker inspect`, `docker exec`), never from compose's own account of it.
//!
//! Every test runs a compose project of its own (`name:` in its compose file), whose services
//! are busybox `sleep` with `network_mode: none` and `stop_signal: SIGKILL` (a `sleep` that is
//! PID 1 ignores SIGTERM, and each recreation would wait out the 10 s grace period), and
//! removes it at the end, failed or not.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::FetchEnv;
use common::docker::{Engine, HOSTILE_VALUES, IMAGE, engine};
use common::run::{Run, write, yaml_quoted};
use serde_json::Value;
use tempfile::TempDir;

/// Compose pulls, creates and starts within seconds; this only guards against a hang.
const COMPOSE_LIMIT: Duration = Duration::from_secs(120);

/// The secret that `arn_from` names, as the file store holds it.
const SECRET_ARN: &str = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop-db-AbC123";

/// The database password before and after the rotation: leading and trailing spaces, both
/// quotes, `$` forms compose would interpolate in a compose file, backslashes (one at the end),
/// a line break and non-ASCII text.
const PASSWORD: &str = " p@ss'\"$x ${HOME} $$ \\n\\ ü\nline2 \\";
const ROTATED_PASSWORD: &str = "  r0tated'\"${DATABASE_HOST}\t\\\\ 日本\r\n ";

/// One container of a compose project, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Container {
    id: String,
    status: String,
    started_at: String,
    environment: BTreeMap<String, String>,
}

/// A compose project in a folder of its own: the manifest, bootstrap file and file store, the
/// compose file, and the engine. Dropping it removes every container of the project.
struct Project {
    dir: TempDir,
    name: String,
    engine: &'static Engine,
}

impl Project {
    /// A folder with `manifest` and the compose file `compose` (its `name:` is added here).
    fn new(test: &str, manifest: &str, compose: &str) -> Project {
        let engine = engine();
        let name = format!("fetch-env-{test}-{}", std::process::id());
        let dir = tempfile::tempdir().expect("a project folder");
        write(dir.path(), "vars.yaml", manifest);
        write(
            dir.path(),
            "bootstrap.env",
            format!("NAMESPACE=ns\nDB_SECRET_ARN={SECRET_ARN}\n"),
        );
        write(
            dir.path(),
            "docker-compose.yaml",
            format!("name: {name}\n{compose}"),
        );
        Project { dir, name, engine }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Rewrites the file store: what a rotation at the store (or a deleted value) looks like
    /// to the next resolve.
    fn store(&self, text: &str) {
        write(self.dir.path(), "store.yaml", text);
    }

    /// fetch-env on this project's inputs, in its folder, with only the environment of the
    /// private engine and compose plugin (`DOCKER_HOST`, `DOCKER_CONFIG`, `PATH`, …).
    fn fetch_env(&self) -> FetchEnv {
        FetchEnv::bare()
            .envs(self.engine.environment())
            .current_dir(self.dir.path())
            .inputs(
                &self.path("vars.yaml"),
                &self.path("bootstrap.env"),
                &self.path("store.yaml"),
            )
    }

    /// `fetch-env run -- docker compose ARGS…`.
    fn run_compose(&self, args: &[&str]) -> Run {
        self.fetch_env()
            .args(["run", "--", "docker", "compose"])
            .args(args)
            .run_within(COMPOSE_LIMIT)
    }

    /// What fetch-env resolves for `container` (`--format json --container`).
    fn resolved(&self, container: &str) -> BTreeMap<String, String> {
        let run = self
            .fetch_env()
            .args(["--format", "json", "--container", container])
            .run();
        run.assert_ok();
        serde_json::from_slice(&run.stdout).expect("a JSON object of strings")
    }

    /// Every container of the project, by compose service.
    fn containers(&self) -> BTreeMap<String, Container> {
        let label = format!("label=com.docker.compose.project={}", self.name);
        let ids = self
            .engine
            .run(&["ps", "-a", "-q", "--no-trunc", "--filter", &label]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return BTreeMap::new();
        }
        let mut args = vec!["inspect"];
        args.extend(&ids);
        let inspected: Vec<Value> =
            serde_json::from_str(&self.engine.run(&args)).expect("docker inspect prints JSON");
        inspected
            .iter()
            .map(|c| {
                let text = |v: &Value| v.as_str().expect("a string").to_owned();
                let service = text(&c["Config"]["Labels"]["com.docker.compose.service"]);
                let environment = c["Config"]["Env"]
                    .as_array()
                    .map(|entries| {
                        entries
                            .iter()
                            .map(|entry| {
                                let entry = entry.as_str().expect("NAME=value");
                                let (name, value) = entry.split_once('=').expect("NAME=value");
                                (name.to_owned(), value.to_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let container = Container {
                    id: text(&c["Id"]),
                    status: text(&c["State"]["Status"]),
                    started_at: text(&c["State"]["StartedAt"]),
                    environment,
                };
                (service, container)
            })
            .collect()
    }

    /// The variables the container of `service` holds, less the `PATH` the engine adds to an
    /// image that sets none.
    fn environment_of(&self, service: &str) -> BTreeMap<String, String> {
        let mut environment = self.containers()[service].environment.clone();
        environment.remove("PATH");
        environment
    }

    /// `docker exec` of `command` in the container of `service`; its standard output.
    fn exec(&self, service: &str, command: &[&str]) -> Vec<u8> {
        let id = self.containers()[service].id.clone();
        let output = self
            .engine
            .docker()
            .arg("exec")
            .arg(&id)
            .args(command)
            .output()
            .expect("run docker exec");
        assert!(
            output.status.success(),
            "docker exec {service} {command:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let output = self
            .engine
            .docker()
            .current_dir(self.dir.path())
            .args(["compose", "-p", &self.name])
            .args(["down", "--timeout", "0", "--remove-orphans"])
            .output();
        let removed = output.as_ref().is_ok_and(|o| o.status.success());
        if !removed && !std::thread::panicking() {
            panic!(
                "docker compose down of {} failed: {:?}",
                self.name,
                output.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            );
        }
    }
}

/// Compares name by name first, for a message that names the variable that differs.
fn assert_same(
    service: &str,
    received: &BTreeMap<String, String>,
    expected: &BTreeMap<String, String>,
) {
    for (name, value) in expected {
        assert_eq!(received.get(name), Some(value), "{service}: {name}");
    }
    assert_eq!(received, expected, "{service}: the variables differ");
}

/// The hostile values as variables `H_<NAME>`.
fn hostile_names() -> Vec<String> {
    HOSTILE_VALUES
        .iter()
        .map(|(name, _)| format!("H_{name}"))
        .collect()
}

const HANDOFF_SERVICES: [&str; 4] = ["app", "worker", "web", "filed"];

/// The shop service: the password and user from an `arn_from` secret, the host from SSM, the
/// URL composed from them, and every hostile value from SSM. `app` receives the password
/// itself, `worker` only the URL made from it, `web` and `filed` neither.
fn handoff_manifest() -> String {
    let mut manifest = String::from(
        "service: shop
variables:
  - name: DB_SECRET_ARN
    source: local
    required: true
  - name: DATABASE_USERNAME
    required: true
    containers: [app, worker]
    secret: { arn_from: DB_SECRET_ARN, type: json, key: username }
  - name: DATABASE_PASSWORD
    required: true
    sensitive: true
    containers: [app]
    secret: { arn_from: DB_SECRET_ARN, type: json, key: password }
  - name: DATABASE_HOST
    required: true
    containers: [app, worker]
  - name: DATABASE_URL
    required: true
    sensitive: true
    containers: [worker]
    compose:
      template: 'postgresql://${DATABASE_USERNAME}:${DATABASE_PASSWORD}@${DATABASE_HOST}:5432/shop'
      encode: [DATABASE_USERNAME, DATABASE_PASSWORD]
",
    );
    for name in hostile_names() {
        manifest.push_str(&format!(
            "  - {{ name: {name}, containers: [app, web, filed] }}\n"
        ));
    }
    manifest
}

/// The compose file: `app` passes its variables in the map form (`NAME: ${NAME}`), `worker` in
/// the list form (`NAME=${NAME}`, and a bare `NAME` that compose copies from its own
/// environment), `web` as bare names only, `filed` through `env_file:` written by
/// `--format file`.
fn handoff_compose() -> String {
    let service = |name: &str| {
        format!(
            "  {name}:\n    image: {IMAGE}\n    command: [sleep, '86400']\n    network_mode: none\n    stop_signal: SIGKILL\n"
        )
    };
    let mut compose = String::from("services:\n");
    compose.push_str(&service("app"));
    compose.push_str("    environment:\n");
    for name in ["DATABASE_USERNAME", "DATABASE_PASSWORD", "DATABASE_HOST"]
        .into_iter()
        .map(str::to_owned)
        .chain(hostile_names())
    {
        compose.push_str(&format!("      {name}: ${{{name}}}\n"));
    }
    compose.push_str(&service("worker"));
    compose.push_str(
        "    environment:\n      - DATABASE_USERNAME=${DATABASE_USERNAME}\n      - DATABASE_HOST=${DATABASE_HOST}\n      - DATABASE_URL\n",
    );
    compose.push_str(&service("web"));
    compose.push_str("    environment:\n");
    for name in hostile_names() {
        compose.push_str(&format!("      - {name}\n"));
    }
    compose.push_str(&service("filed"));
    compose.push_str("    env_file: filed.env\n");
    compose
}

/// The file store: the `arn_from` secret with `password`, every hostile value, and the host
/// unless `with_host` is false (a required value missing).
fn handoff_store(password: &str, with_host: bool) -> String {
    let mut store = String::from("parameters:\n");
    if with_host {
        store.push_str("  /ns/shop/DATABASE_HOST: db.internal\n");
    }
    for (name, value) in HOSTILE_VALUES {
        store.push_str(&format!("  /ns/shop/H_{name}: {}\n", yaml_quoted(value)));
    }
    store.push_str(&format!(
        "secrets:\n  {}:\n    username: shop_admin\n    password: {}\n",
        yaml_quoted(SECRET_ARN),
        yaml_quoted(password)
    ));
    store
}

/// Every container holds exactly what `--format json --container SERVICE` resolves for it.
fn assert_every_container_holds_what_was_resolved(project: &Project) {
    for service in HANDOFF_SERVICES {
        assert_same(
            service,
            &project.environment_of(service),
            &project.resolved(service),
        );
    }
}

#[test]
fn run_hands_every_container_its_values_and_restart_recreates_exactly_the_consumers() {
    let project = Project::new("handoff", &handoff_manifest(), &handoff_compose());

    // A failed resolution starts nothing: compose is not run, so the project has no container
    // (every container compose creates carries the project's label).
    project.store(&handoff_store(PASSWORD, false));
    let run = project.run_compose(&["up", "-d"]);
    run.assert_failed(1);
    assert!(run.stderr.contains("DATABASE_HOST"), "{}", run.show());
    assert_eq!(
        project.containers(),
        BTreeMap::new(),
        "a failed resolution created a container"
    );

    // The hand-off.
    project.store(&handoff_store(PASSWORD, true));
    project
        .fetch_env()
        .args(["--format", "file", "--container", "filed", "--output"])
        .arg(project.path("filed.env"))
        .run()
        .assert_ok();
    project.run_compose(&["up", "-d"]).assert_ok();
    let started = project.containers();
    assert_eq!(
        started.keys().map(String::as_str).collect::<Vec<_>>(),
        ["app", "filed", "web", "worker"]
    );
    for (service, container) in &started {
        assert_eq!(container.status, "running", "{service}");
    }
    assert_every_container_holds_what_was_resolved(&project);
    let app = project.environment_of("app");
    assert_eq!(app["DATABASE_PASSWORD"].as_bytes(), PASSWORD.as_bytes());
    for (name, value) in HOSTILE_VALUES {
        assert_eq!(
            app[&format!("H_{name}")].as_bytes(),
            value.as_bytes(),
            "{name}"
        );
    }

    // A rotation at the store: the consumers of the password, and only they, are recreated.
    project.store(&handoff_store(ROTATED_PASSWORD, true));
    let consumers = project
        .fetch_env()
        .args(["consumers", "DATABASE_PASSWORD", "--names"])
        .run();
    consumers.assert_ok();
    let names = consumers.stdout();
    assert_eq!(names.trim(), "app,worker");
    project
        .fetch_env()
        .args(["restart", "--containers", names.trim()])
        .run_within(COMPOSE_LIMIT)
        .assert_ok();
    let restarted = project.containers();
    for service in ["app", "worker"] {
        assert_ne!(
            restarted[service].id, started[service].id,
            "{service} was not recreated"
        );
        assert_eq!(restarted[service].status, "running", "{service}");
    }
    for service in ["web", "filed"] {
        assert_eq!(
            restarted[service], started[service],
            "{service} does not consume the password, yet it was touched"
        );
    }
    assert_every_container_holds_what_was_resolved(&project);
    assert_eq!(
        project.environment_of("app")["DATABASE_PASSWORD"].as_bytes(),
        ROTATED_PASSWORD.as_bytes()
    );
    assert_ne!(
        project.environment_of("worker")["DATABASE_URL"],
        started["worker"].environment["DATABASE_URL"],
        "worker's DATABASE_URL still holds the old password"
    );

    // A failed resolution stops and starts nothing: same containers, same states, same starts.
    project.store(&handoff_store(ROTATED_PASSWORD, false));
    project
        .run_compose(&["up", "-d", "--force-recreate"])
        .assert_failed(1);
    project
        .fetch_env()
        .args(["restart", "--containers", names.trim()])
        .run_within(COMPOSE_LIMIT)
        .assert_failed(1);
    assert_eq!(project.containers(), restarted);
}

const SECRET_MANIFEST: &str = "service: shop
variables:
  - name: DB_SECRET_ARN
    source: local
    required: true
  - name: DATABASE_PASSWORD
    required: true
    sensitive: true
    containers: [telapi, app]
    secret: { arn_from: DB_SECRET_ARN, type: json, key: password }
";

/// The documented compose snippet (docs/compose.md) for a secret from the environment (the `yaml` block that
/// declares `environment: DATABASE_PASSWORD`), run as written: `telapi` receives the password
/// only as a file. Added to it: what each service needs to run here, and a service `app` that
/// receives the password in its environment, for contrast.
fn secret_compose() -> String {
    let readme =
        std::fs::read_to_string(common::root().join("docs/compose.md")).expect("docs/compose.md");
    let mut blocks = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split_once("```"));
    let snippet = blocks
        .find(|(block, _)| block.contains("environment: DATABASE_PASSWORD"))
        .map(|(block, _)| block)
        .expect("docs/compose.md shows a secret from the environment in a yaml block");
    let runnable = format!(
        "    image: {IMAGE}\n    command: [sleep, '86400']\n    network_mode: none\n    stop_signal: SIGKILL\n"
    );
    let mut compose = String::new();
    for line in snippet.lines() {
        if line == "secrets:" {
            compose.push_str("  app:\n");
            compose.push_str(&runnable);
            compose.push_str("    environment:\n      DATABASE_PASSWORD: ${DATABASE_PASSWORD}\n");
        }
        compose.push_str(line);
        compose.push('\n');
        if line == "  telapi:" {
            compose.push_str(&runnable);
        }
    }
    assert!(
        compose.contains("  app:") && compose.contains(IMAGE),
        "the snippet of docs/compose.md changed shape:\n{snippet}"
    );
    compose
}

fn secret_store(password: &str) -> String {
    format!(
        "secrets:\n  {}:\n    password: {}\n",
        yaml_quoted(SECRET_ARN),
        yaml_quoted(password)
    )
}

/// What `docker inspect` shows of the container of `service`, whole.
fn inspect_text(project: &Project, service: &str) -> String {
    let id = project.containers()[service].id.clone();
    project.engine.run(&["inspect", &id])
}

#[test]
fn a_secret_from_the_environment_is_an_exact_file_kept_out_of_inspect_and_restart_renews_it() {
    const MARK: &str = "CANARY-telapi-7f3a";
    const ROTATED_MARK: &str = "CANARY-rotated-91c2";
    let password = format!("{PASSWORD}{MARK}");
    let rotated = format!("{ROTATED_PASSWORD}{ROTATED_MARK}");
    let project = Project::new("secret", SECRET_MANIFEST, &secret_compose());
    project.store(&secret_store(&password));
    project.run_compose(&["up", "-d"]).assert_ok();

    let file = project.exec("telapi", &["cat", "/run/secrets/db_password"]);
    assert_eq!(
        file,
        password.as_bytes(),
        "the secret file differs from the value"
    );
    assert!(
        !project
            .environment_of("telapi")
            .contains_key("DATABASE_PASSWORD")
    );
    let inspected = inspect_text(&project, "telapi");
    assert!(
        !inspected.contains(MARK),
        "the password reached docker inspect of telapi:\n{inspected}"
    );
    let started = project.containers();

    // Measured with compose v2.40.3: after a rotation a plain `up -d` recreates the service
    // whose environment changed (compose compares a hash of its configuration, which holds the
    // environment but not a secret's content), and leaves the one that receives the value only
    // through a secret running, its file holding the old value.
    project.store(&secret_store(&rotated));
    project.run_compose(&["up", "-d"]).assert_ok();
    let after_up = project.containers();
    assert_ne!(
        after_up["app"].id, started["app"].id,
        "app was not recreated"
    );
    assert_eq!(
        project.environment_of("app")["DATABASE_PASSWORD"].as_bytes(),
        rotated.as_bytes()
    );
    assert_eq!(
        after_up["telapi"], started["telapi"],
        "compose now recreates a service whose only change is a secret's value: \
         the note on secrets in docs/compose.md (and restart) can be revisited"
    );
    assert_eq!(
        project.exec("telapi", &["cat", "/run/secrets/db_password"]),
        password.as_bytes(),
        "telapi's secret file changed without a recreation"
    );

    // `--force-recreate` does recreate it, with the new value in its file; `restart` adds it
    // because the service receives a declared variable through a secret.
    let consumers = project
        .fetch_env()
        .args(["consumers", "DATABASE_PASSWORD", "--names"])
        .run();
    consumers.assert_ok();
    let restart = project
        .fetch_env()
        .args(["restart", "--containers", consumers.stdout().trim()])
        .run_within(COMPOSE_LIMIT);
    restart.assert_ok();
    assert!(
        restart
            .stderr
            .contains("recreating every service restarted: telapi"),
        "{}",
        restart.show()
    );
    let restarted = project.containers();
    for service in ["telapi", "app"] {
        assert_ne!(
            restarted[service].id, after_up[service].id,
            "restart did not recreate {service}"
        );
    }
    assert_eq!(
        project.exec("telapi", &["cat", "/run/secrets/db_password"]),
        rotated.as_bytes()
    );
    assert!(!inspect_text(&project, "telapi").contains(ROTATED_MARK));

    // And a plain `up -d --force-recreate` recreates it too, with the value of the moment.
    let third = format!("third {PASSWORD}");
    project.store(&secret_store(&third));
    project
        .run_compose(&["up", "-d", "--force-recreate"])
        .assert_ok();
    let forced = project.containers();
    assert_ne!(
        forced["telapi"].id, restarted["telapi"].id,
        "telapi was not recreated"
    );
    assert_eq!(
        project.exec("telapi", &["cat", "/run/secrets/db_password"]),
        third.as_bytes()
    );
}

/// The engine helper's own promise: the engine answers, and the image runs its busybox.
#[test]
fn the_private_engine_runs_the_busybox_image() {
    let engine = engine();
    let output = engine.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo hello from busybox",
    ]);
    assert_eq!(output, "hello from busybox\n");
    if let Some(pid) = engine.pid() {
        assert!(Path::new(&format!("/proc/{pid}")).exists());
    }
}

/// A service host after a rotation on moto: the RDS-style master secret gets a new version
/// (`PutSecretValue`) and a plain SSM parameter of another container a new value
/// (`PutParameter`). `restart --changed` recreates exactly the containers that receive either,
/// the one that receives the password only as a compose secret file among them, and leaves the
/// rest running; a second one recreates nothing.
#[test]
fn restart_changed_recreates_exactly_the_consumers_of_a_rotation_on_moto() {
    const ROTATION_MANIFEST: &str = r#"
service: shop
variables:
  - name: DB_SECRET_ARN
    source: local
  - name: DATABASE_HOST
    containers: [telapi]
  - name: DATABASE_PASSWORD
    secret: { arn_from: DB_SECRET_ARN, type: json, key: password }
    containers: [vault]
  - name: DATABASE_URL
    compose:
      template: "postgresql://app:${DATABASE_PASSWORD}@${DATABASE_HOST}/db"
      encode: [DATABASE_PASSWORD]
    containers: [telapi]
  - name: LOG_LEVEL
    containers: [worker]
  - name: QUEUE
    default: jobs
    containers: [idle]
"#;
    let service = |name: &str, extra: &str| {
        format!(
            "  {name}:\n    image: {IMAGE}\n    command: [sleep, '86400']\n    network_mode: none\n    stop_signal: SIGKILL\n{extra}"
        )
    };
    let compose = format!(
        "services:\n{}{}{}{}secrets:\n  db_password:\n    environment: DATABASE_PASSWORD\n",
        service(
            "telapi",
            "    environment:\n      DATABASE_URL: ${DATABASE_URL}\n"
        ),
        service("vault", "    secrets: [db_password]\n"),
        service(
            "worker",
            "    environment:\n      LOG_LEVEL: ${LOG_LEVEL}\n"
        ),
        service("idle", "    environment:\n      QUEUE: ${QUEUE}\n"),
    );
    let project = Project::new("rotation", ROTATION_MANIFEST, &compose);
    let moto = common::moto::moto();
    let arn_in_store =
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-engine-AbC123";
    let store = write(
        project.dir.path(),
        "seed.yaml",
        format!(
            "parameters:\n  /engine/shop/DATABASE_HOST: db.internal\n  /engine/shop/LOG_LEVEL: info\n\
             secrets:\n  \"{arn_in_store}\":\n    password: \"first p@ss/1\"\n"
        ),
    );
    let arn = moto.seed(&store)[arn_in_store].clone();
    write(
        project.dir.path(),
        "bootstrap.env",
        format!("NAMESPACE=engine\nDB_SECRET_ARN={arn}\n"),
    );
    let record = project.path("run/shop.json");
    let fetch_env = |args: &[&str]| {
        FetchEnv::bare()
            .envs(project.engine.environment())
            .current_dir(project.dir.path())
            .arg("--manifest")
            .arg(project.path("vars.yaml"))
            .arg("--bootstrap")
            .arg(project.path("bootstrap.env"))
            .on_aws(&moto.endpoint)
            .with_test_credentials()
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(args)
            .arg("--record")
            .arg(&record)
            .run_within(COMPOSE_LIMIT)
    };
    let secret_file =
        |project: &Project| project.exec("vault", &["cat", "/run/secrets/db_password"]);

    // No record yet: every container is (re)created, and the record is written.
    fetch_env(&["restart", "--changed"]).assert_ok();
    let started = project.containers();
    assert_eq!(started.len(), 4, "{started:?}");
    assert_eq!(secret_file(&project), b"first p@ss/1");
    let again = fetch_env(&["restart", "--changed"]);
    again.assert_ok();
    assert!(
        again.stderr.contains("nothing to recreate"),
        "{}",
        again.show()
    );
    assert_eq!(
        project.containers(),
        started,
        "nothing moved, nothing recreated"
    );

    moto.put_secret(&arn, r#"{"password":"rotated p@ss/2"}"#);
    moto.put_parameter("/engine/shop/LOG_LEVEL", "debug");
    let names = fetch_env(&["changed", "--names"]);
    names.assert_ok();
    assert_eq!(names.stdout(), "telapi,vault,worker\n");

    fetch_env(&["restart", "--changed"]).assert_ok();
    let after = project.containers();
    for recreated in ["telapi", "vault", "worker"] {
        assert_ne!(
            after[recreated].id, started[recreated].id,
            "{recreated} was not recreated"
        );
        assert_eq!(after[recreated].status, "running", "{recreated}");
    }
    assert_eq!(after["idle"], started["idle"], "idle was recreated");
    assert_eq!(secret_file(&project), b"rotated p@ss/2");
    assert_eq!(
        project.environment_of("telapi")["DATABASE_URL"],
        "postgresql://app:rotated%20p%40ss%2F2@db.internal/db"
    );
    assert_eq!(project.environment_of("worker")["LOG_LEVEL"], "debug");

    let last = fetch_env(&["restart", "--changed"]);
    last.assert_ok();
    assert!(
        last.stderr.contains("nothing to recreate"),
        "{}",
        last.show()
    );
    assert_eq!(
        project.containers(),
        after,
        "a second restart --changed recreated something"
    );
}
