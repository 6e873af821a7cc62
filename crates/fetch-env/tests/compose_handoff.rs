//! The hand-off to a real compose implementation: Debian's `docker-compose` 1.29, whose
//! `config` command interpolates and resolves a compose file exactly as `up` would, without a
//! Docker engine. Its YAML output is read with PyYAML (the test venv's Python).
//!
//! Every run of docker-compose is hermetic: an environment holding only `PATH` and a UTF-8
//! locale (no `COMPOSE_*`, no stale variable of whoever runs the tests), and a fresh directory
//! holding only the compose file and what the test puts beside it, so that no `.env` file is
//! read for interpolation.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// The master secret's password of `examples/api/store.yaml`, written out again so that a
/// change to the example cannot make a test pass by changing both sides.
const EXAMPLE_PASSWORD: &str = "p@ss:w/rd?#[]&=+% 'Zürich\"42";

const INSTALL: &str = "scripts/install-test-deps.sh";

fn docker_compose() -> PathBuf {
    common::require_tool(
        "docker-compose",
        "apt-get install docker-compose (or scripts/install-test-deps.sh)",
    )
}

/// The test venv's Python, which has PyYAML (a dependency of moto and the AWS CLI there).
fn python() -> PathBuf {
    let python = common::moto::venv().join("bin/python");
    assert!(
        python.is_file(),
        "{} is missing; run `{INSTALL}` (scripts/test.sh runs it)",
        python.display()
    );
    python
}

/// A directory with nothing but the compose file `text`.
fn compose_dir(text: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("docker-compose.yaml"), text).unwrap();
    dir
}

/// `command` with the hermetic environment described above, in `dir`.
fn hermetic(mut command: Command, dir: &Path) -> Command {
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .current_dir(dir);
    command
}

/// The arguments of `docker-compose config` on the compose file of `dir`.
fn config_args(dir: &Path) -> Vec<String> {
    vec![
        "-f".into(),
        dir.join("docker-compose.yaml").display().to_string(),
        "--project-directory".into(),
        dir.display().to_string(),
        "config".into(),
    ]
}

/// The YAML that `docker-compose config` printed, as JSON.
fn parse_config(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "docker-compose config failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut child = Command::new(python())
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin.buffer), sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&output.stdout).unwrap();
    }
    let parsed = child.wait_with_output().unwrap();
    assert!(
        parsed.status.success(),
        "PyYAML could not read the output of docker-compose config: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    serde_json::from_slice(&parsed.stdout).unwrap()
}

/// `services.SERVICE.environment` of a `docker-compose config` output, as the container would
/// receive it. `config` prints a compose file again, so every `$` of a value is written `$$`;
/// that escape is undone here. A `null` (a pass-through of an unset variable) is no variable.
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
    let output = common::fetch_env_example("api")
        .args(["--format", "json", "--container", "telapi"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: BTreeMap<String, String> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["DATABASE_PASSWORD"], EXAMPLE_PASSWORD);
    json
}

#[test]
fn run_hands_every_value_to_docker_compose_exactly() {
    let docker_compose = docker_compose();
    let example = fs::read_to_string(common::example("api", "docker-compose.yaml")).unwrap();
    let dir = compose_dir(&example);
    assert!(!dir.path().join(".env").exists());

    let mut command = hermetic(common::fetch_env_example("api"), dir.path());
    command.arg("run").arg("--").arg(&docker_compose);
    command.args(config_args(dir.path()));
    let output = command.output().unwrap();
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
/// through docker-compose as the only source of a service's environment.
fn through_env_file(mut fetch_env: Command, dir: &TempDir) -> BTreeMap<String, String> {
    let env_file = dir.path().join("app.env");
    let output = fetch_env
        .args(["--format", "file", "--output"])
        .arg(&env_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut command = hermetic(Command::new(docker_compose()), dir.path());
    command.args(config_args(dir.path()));
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // python-dotenv reports a line it cannot parse on stderr and drops it (and with it, a
    // value that ran into the next lines), yet compose succeeds.
    assert!(!stderr.contains("could not parse"), "{stderr}");
    environment(&parse_config(&output), "app")
}

const ENV_FILE_COMPOSE: &str = "services:\n  app:\n    image: app:latest\n    env_file: app.env\n";

#[test]
fn env_file_of_the_api_example_reads_back_exactly() {
    let dir = compose_dir(ENV_FILE_COMPOSE);
    let mut fetch_env = common::fetch_env_example("api");
    fetch_env.args(["--container", "telapi"]);
    let received = through_env_file(fetch_env, &dir);
    assert_same(&received, &resolved_for_telapi());
    assert_eq!(
        received["DATABASE_PASSWORD"].as_bytes(),
        EXAMPLE_PASSWORD.as_bytes()
    );
}

/// Values that docker-compose 1.29 (python-dotenv 0.21) reads back from `--format file`
/// exactly, in both of the format's quotings: single quotes (a value without `'`) and double
/// quotes (a value with `'`, where `\\`, `\"`, `\n` and `$` are escaped).
const ENV_FILE_VALUES: &[(&str, &str)] = &[
    ("PLAIN", "verify-full"),
    ("PASSWORD", EXAMPLE_PASSWORD),
    ("DOLLAR_WORD", "pa$word $HOME $1 $"),
    ("DQUOTE", "say \"hi\""),
    ("HASH", "a #b # c"),
    ("SPACES", "  padded  "),
    ("SHELL", "a`b`!c;d&e|f<g>h(i)*?~"),
    ("UNICODE", "Zürich ✓ 日本"),
    ("TAB", "a\tb"),
    ("BACKSLASHES", "C:\\path\\to\\n and \\t"),
    (
        "PEM",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n",
    ),
    ("QUOTE_NEWLINE", "it's\nmulti\nline"),
    ("QUOTE_BACKSLASH", "it's a\\b and c\\\\d and \\n"),
    ("QUOTE_DQUOTE", "it's \"quoted\""),
    ("QUOTE_UNICODE", "l'été à Zürich"),
];

/// Values that docker-compose 1.29 (python-dotenv 0.21) does NOT read back from
/// `--format file` as written (found with this same setup), so the env_file test leaves them
/// out. `run` hands every one of them over exactly ([`run_hands_any_value_to_docker_compose`]).
const ENV_FILE_MISREAD: &[(&str, &str)] = &[
    // `${NAME}` in either quoting is interpolated from compose's environment and the lines
    // above: `'pa${HOME}x'` becomes `pa/rootx`. (`$NAME` without braces is kept.)
    ("BRACED", "pa${HOME}x ${PLAIN:-d}"),
    // A `$` in a double-quoted value is written `\$`, which python-dotenv does not unescape:
    // `it's \$x` stays `it's \$x`.
    ("QUOTE_DOLLAR", "it's $x"),
    // In single quotes python-dotenv unescapes `\\` (and `\'`): `'a\\b'` becomes `a\b`.
    ("DOUBLE_BACKSLASH", "a\\\\b"),
    // A trailing backslash escapes the closing quote: the value runs into the next lines up to
    // the next quote of its kind, and python-dotenv drops that statement with a warning on
    // stderr while compose exits 0; the variables on those lines are lost too. Double quotes
    // fail the same way when another `"` follows later in the file.
    ("TRAILING_BACKSLASH", "abc\\"),
    ("QUOTE_TRAILING_BACKSLASH", "it's\\"),
    // The file is read with universal newlines: `\r` and `\r\n` inside quotes become `\n`.
    ("CR", "a\rb"),
    ("CRLF", "a\r\nb"),
];

/// A manifest, a store and a bootstrap file in `dir` declaring `values` for the container
/// `app`, each the value of one SSM parameter.
fn inputs_for(dir: &Path, values: &[(&str, &str)]) -> Command {
    let mut manifest = String::from("service: svc\nvariables:\n");
    let mut store = String::from("parameters:\n");
    for (name, value) in values {
        manifest.push_str(&format!("  - {{ name: {name}, containers: [app] }}\n"));
        // A JSON string is a YAML double-quoted scalar with the same meaning.
        store.push_str(&format!(
            "  /ns/svc/{name}: {}\n",
            serde_json::to_string(value).unwrap()
        ));
    }
    fs::write(dir.join("vars.yaml"), manifest).unwrap();
    fs::write(dir.join("store.yaml"), store).unwrap();
    fs::write(dir.join("bootstrap.env"), "NAMESPACE=ns\n").unwrap();
    let mut fetch_env = common::fetch_env();
    fetch_env
        .arg("--manifest")
        .arg(dir.join("vars.yaml"))
        .arg("--bootstrap")
        .arg(dir.join("bootstrap.env"))
        .arg("--store")
        .arg(format!("file:{}", dir.join("store.yaml").display()));
    fetch_env
}

fn as_map(values: &[(&str, &str)]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Compares name by name first, for a message that names the value that differs. `String`
/// equality is byte equality.
fn assert_same(received: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) {
    for (name, value) in expected {
        assert_eq!(received.get(name), Some(value), "{name}");
    }
    assert_eq!(received, expected);
}

#[test]
fn env_file_values_read_back_exactly() {
    let dir = compose_dir(ENV_FILE_COMPOSE);
    let inputs = tempfile::tempdir().unwrap();
    let fetch_env = inputs_for(inputs.path(), ENV_FILE_VALUES);
    let received = through_env_file(fetch_env, &dir);
    assert_same(&received, &as_map(ENV_FILE_VALUES));
}

#[test]
fn run_hands_any_value_to_docker_compose() {
    let docker_compose = docker_compose();
    let values: Vec<(&str, &str)> = ENV_FILE_VALUES
        .iter()
        .chain(ENV_FILE_MISREAD)
        .copied()
        .collect();
    let mut compose = String::from("services:\n  app:\n    image: app:latest\n    environment:\n");
    for (name, _) in &values {
        compose.push_str(&format!("      - {name}=${{{name}}}\n"));
    }
    let dir = compose_dir(&compose);
    let inputs = tempfile::tempdir().unwrap();
    let mut command = hermetic(inputs_for(inputs.path(), &values), dir.path());
    command.arg("run").arg("--").arg(&docker_compose);
    command.args(config_args(dir.path()));
    let received = environment(&parse_config(&command.output().unwrap()), "app");
    assert_same(&received, &as_map(&values));
}
