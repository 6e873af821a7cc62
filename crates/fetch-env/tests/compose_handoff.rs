//! The hand-off to Docker Compose v2 (`docker compose`, the official Go binary, as the docker
//! CLI plugin of the tests' own DOCKER_CONFIG: see `common/docker.rs`), whose
//! `config --format json` interpolates and resolves a compose file, `env_file:` included, exactly
//! as `up` would, without a Docker engine. `docker_engine.rs` proves the same on a real engine.
//!
//! Every run of compose is hermetic: an environment holding only `PATH`, a UTF-8 locale,
//! `HOME` and `DOCKER_CONFIG` (no `COMPOSE_*`, no stale variable of whoever runs the tests), and
//! a fresh directory holding only the compose file and what the test puts beside it, so that no
//! `.env` file is read for interpolation.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::FetchEnv;
use common::docker::{assert_compose_v2, compose, config_args, hermetic_environment, parse_config};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use tempfile::TempDir;

/// The master secret's password of `examples/api/store.yaml`, written out again so that a
/// change to the example cannot make a test pass by changing both sides.
const EXAMPLE_PASSWORD: &str = "p@ss:w/rd?#[]&=+% 'Zürich\"42";

/// A directory with nothing but the compose file `text`.
fn compose_dir(text: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("docker-compose.yaml"), text).unwrap();
    dir
}

/// `fetch-env … run -- docker compose config --format json` on the project in `dir`, with the
/// hermetic environment of compose and nothing else.
fn run_compose_config(fetch_env: FetchEnv, dir: &Path) -> std::process::Output {
    assert_compose_v2();
    fetch_env
        .envs(hermetic_environment())
        .current_dir(dir)
        .args(["run", "--", "docker", "compose"])
        .args(config_args(dir))
        .output()
}

/// `services.SERVICE.environment` of a `docker compose config` output, as the container would
/// receive it. `config` prints a compose file again, so every `$` of a value is written `$$`;
/// that escape is undone here (`docker_engine.rs` reads the containers' environments on a real
/// engine, where nothing is escaped). A `null` (a pass-through of an unset variable) is no
/// variable.
fn environment(config: &Value, service: &str) -> BTreeMap<String, String> {
    let environment = config["services"][service]["environment"]
        .as_object()
        .unwrap_or_else(|| panic!("no services.{service}.environment in {config}"));
    environment
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = v
                .as_str()
                .unwrap_or_else(|| panic!("{k} is not a string: {v}"));
            (k.clone(), text.replace("$$", "$"))
        })
        .collect()
}

/// What `fetch-env --format json` resolves for the api example's `telapi` container.
fn resolved_for_telapi() -> BTreeMap<String, String> {
    let run = FetchEnv::bare()
        .example("api")
        .args(["--format", "json", "--container", "telapi"])
        .run();
    run.assert_ok();
    let json: BTreeMap<String, String> = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(json["DATABASE_PASSWORD"], EXAMPLE_PASSWORD);
    json
}

#[test]
fn run_hands_every_value_to_docker_compose_exactly() {
    let example = fs::read_to_string(common::example("api", "docker-compose.yaml")).unwrap();
    let dir = compose_dir(&example);
    assert!(!dir.path().join(".env").exists());

    let output = run_compose_config(FetchEnv::bare().example("api"), dir.path());
    let config = parse_config(&output);
    // Interpolation warned about no unset variable.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("is not set"), "{stderr}");

    let mut expected = resolved_for_telapi();
    // The example passes the optional CA bundle as `${DATABASE_SSL_CA_BUNDLE_B64:-}`: unset in
    // the example's store, it reaches the container as an empty string, which is what that
    // form asks compose for (a bare `- DATABASE_SSL_CA_BUNDLE_B64` would leave it unset).
    assert!(!expected.contains_key("DATABASE_SSL_CA_BUNDLE_B64"));
    expected.insert("DATABASE_SSL_CA_BUNDLE_B64".into(), String::new());
    let received = environment(&config, "telapi");
    assert_same(&received, &expected);
    assert_eq!(
        received["DATABASE_PASSWORD"].as_bytes(),
        EXAMPLE_PASSWORD.as_bytes()
    );
    // `run` without --container also hands compose the bootstrap values its file interpolates.
    assert_eq!(
        config["services"]["telapi"]["image"],
        "123456789012.dkr.ecr.eu-central-1.amazonaws.com/voiceai-telapi:2026.11.3"
    );
}

/// Writes `--format file` of the resolved environment to `dir/app.env`, then reads it back
/// through compose as the only source of a service's environment. `Err` holds compose's
/// message when it refused the file.
fn through_env_file(fetch_env: FetchEnv, dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let env_file = dir.join("app.env");
    let _ = fs::remove_file(&env_file);
    fetch_env
        .args(["--format", "file", "--output"])
        .arg(&env_file)
        .run()
        .assert_ok();
    assert_compose_v2();
    let output = compose(dir).args(config_args(dir)).output().unwrap();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
    }
    Ok(environment(&parse_config(&output), "app"))
}

const ENV_FILE_COMPOSE: &str = "services:\n  app:\n    image: app:latest\n    env_file: app.env\n";

#[test]
fn env_file_of_the_api_example_reads_back_exactly() {
    let dir = compose_dir(ENV_FILE_COMPOSE);
    let fetch_env = FetchEnv::bare()
        .example("api")
        .args(["--container", "telapi"]);
    let received = through_env_file(fetch_env, dir.path()).expect("compose reads the env file");
    assert_same(&received, &resolved_for_telapi());
    assert_eq!(
        received["DATABASE_PASSWORD"].as_bytes(),
        EXAMPLE_PASSWORD.as_bytes()
    );
}

/// A manifest, a store and a bootstrap file in `dir` declaring `values` for the container
/// `app`, each the value of one SSM parameter.
fn inputs_for(dir: &Path, values: &[(&str, &str)]) -> FetchEnv {
    let mut manifest = String::from("service: svc\nvariables:\n");
    let mut store = String::from("parameters:\n");
    for (name, value) in values {
        manifest.push_str(&format!("  - {{ name: {name}, containers: [app] }}\n"));
        store.push_str(&format!(
            "  /ns/svc/{name}: {}\n",
            common::run::yaml_quoted(value)
        ));
    }
    let manifest = common::run::write(dir, "vars.yaml", manifest);
    let store = common::run::write(dir, "store.yaml", store);
    let bootstrap = common::run::write(dir, "bootstrap.env", "NAMESPACE=ns\n");
    FetchEnv::bare().inputs(&manifest, &bootstrap, &store)
}

/// Compares name by name first, for a message that names the value that differs. `String`
/// equality is byte equality.
fn assert_same(received: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) {
    for (name, value) in expected {
        assert_eq!(received.get(name), Some(value), "{name}");
    }
    assert_eq!(received, expected);
}

fn as_map(values: &[(&str, &str)]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The measurement behind the `--format file` limits of docs/compose.md: every hostile value written by
/// `--format file` and read back by compose v2's env-file reader (compose-go's dotenv) as the
/// `env_file:` of a service. All of them in one file first (as a host writes it: a value that
/// swallowed the line after it would show there); should that differ, each value alone in a
/// file of its own, so that the failure names every value compose does not read back, and how
/// it reads it.
#[test]
fn env_file_values_read_back_exactly() {
    let dir = compose_dir(ENV_FILE_COMPOSE);
    let inputs = tempfile::tempdir().unwrap();
    let expected = as_map(common::docker::HOSTILE_VALUES);
    let together = through_env_file(
        inputs_for(inputs.path(), common::docker::HOSTILE_VALUES),
        dir.path(),
    );
    if together.as_ref() == Ok(&expected) {
        return;
    }
    let mut misread = Vec::new();
    for &(name, value) in common::docker::HOSTILE_VALUES {
        // A neighbour on each side, as in a real file.
        let values = [("BEFORE", "b"), (name, value), ("AFTER", "a")];
        let single = tempfile::tempdir().unwrap();
        let received = through_env_file(inputs_for(single.path(), &values), dir.path());
        if received.as_ref() != Ok(&as_map(&values)) {
            misread.push(format!("{name} = {value:?}: compose read {received:?}"));
        }
    }
    panic!(
        "compose v2 does not read back every --format file value as written \
         (all in one file: {together:?}); value by value:\n{}",
        misread.join("\n")
    );
}

/// Characters that mean something to compose-go's dotenv parser, to compose's interpolation or
/// to a line-oriented reader, and text it treats as white space.
const ENV_FILE_META: &[char] = &[
    '\'', '"', '\\', '$', '{', '}', '#', '=', ':', ' ', '\t', '\n', '\r', '`', '!', 'n', 'r', '0',
    '\u{85}', '\u{a0}', '\u{feff}', '\u{2028}', 'ü', '日', '😀',
];

fn env_file_value() -> impl Strategy<Value = String> {
    let character = prop_oneof![
        6 => proptest::sample::select(ENV_FILE_META),
        2 => proptest::char::range(' ', '~'),
        1 => any::<char>().prop_filter("no NUL", |c| *c != '\0'),
    ];
    proptest::collection::vec(character, 1..24).prop_map(|chars| chars.into_iter().collect())
}

/// Random values from [`ENV_FILE_META`], many to a file, read back through compose v2's
/// `env_file:` byte for byte. Each case is one fetch-env run and one compose run.
#[test]
fn env_file_reads_back_random_values() {
    let dir = compose_dir(ENV_FILE_COMPOSE);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        max_shrink_iters: 128,
        ..Config::default()
    });
    let batch = proptest::collection::vec(env_file_value(), 1..48);
    runner
        .run(&batch, |values| {
            let names: Vec<String> = (0..values.len()).map(|i| format!("V{i}")).collect();
            let pairs: Vec<(&str, &str)> = names
                .iter()
                .map(String::as_str)
                .zip(values.iter().map(String::as_str))
                .collect();
            let inputs = tempfile::tempdir().unwrap();
            let received = through_env_file(inputs_for(inputs.path(), &pairs), dir.path());
            prop_assert_eq!(received, Ok(as_map(&pairs)));
            Ok(())
        })
        .expect("compose v2 reads back every --format file value");
}

/// `run` hands compose every hostile value exactly, whatever its quotes, `$`, backslashes or
/// line breaks: compose interpolates `${NAME}` once and never scans the value it inserted.
#[test]
fn run_hands_any_value_to_docker_compose() {
    let values = common::docker::HOSTILE_VALUES;
    let mut compose = String::from("services:\n  app:\n    image: app:latest\n    environment:\n");
    for (name, _) in values {
        compose.push_str(&format!("      - {name}=${{{name}}}\n"));
    }
    let dir = compose_dir(&compose);
    let inputs = tempfile::tempdir().unwrap();
    let output = run_compose_config(inputs_for(inputs.path(), values), dir.path());
    let received = environment(&parse_config(&output), "app");
    assert_same(&received, &as_map(values));
}
