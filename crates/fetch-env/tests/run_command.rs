//! `fetch-env … run -- CMD ARGS…`: the command gets its arguments untouched, the resolved
//! variables on top of the parent's environment, and its exit status or death by a signal is
//! fetch-env's own. When resolution fails the command never starts.

mod common;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

fn sh() -> PathBuf {
    common::require_tool("sh", "apt-get install dash")
}

fn bash() -> PathBuf {
    common::require_tool("bash", "apt-get install bash")
}

/// `fetch-env` over `examples/api` with `run [RUN_OPTIONS] -- COMMAND…` appended.
fn run_example<S: AsRef<OsStr>>(run_options: &[&str], command: &[S]) -> Command {
    let mut fetch_env = common::fetch_env_example("api");
    fetch_env
        .arg("run")
        .args(run_options)
        .arg("--")
        .args(command);
    fetch_env
}

fn output(command: &mut Command) -> Output {
    command.output().expect("run fetch-env")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Splits NUL-terminated fields.
fn nul_fields(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut fields: Vec<Vec<u8>> = bytes.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
    assert_eq!(
        fields.pop().as_deref(),
        Some(&b""[..]),
        "output does not end in NUL: {:?}",
        String::from_utf8_lossy(bytes)
    );
    fields
}

/// The child's environment, from `env -0`.
fn child_environment(output: &Output) -> BTreeMap<OsString, OsString> {
    assert!(output.status.success(), "{}", stderr(output));
    nul_fields(&output.stdout)
        .into_iter()
        .map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=').expect("NAME=value");
            (
                OsString::from_vec(entry[..eq].to_vec()),
                OsString::from_vec(entry[eq + 1..].to_vec()),
            )
        })
        .collect()
}

/// What the example resolves to, by the binary's own JSON output.
fn resolved(container: Option<&str>) -> BTreeMap<String, String> {
    let mut command = common::fetch_env_example("api");
    command.args(["--format", "json"]);
    if let Some(container) = container {
        command.args(["--container", container]);
    }
    let output = output(&mut command);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("JSON output");
    json.into_iter()
        .map(|(k, v)| (k, v.as_str().expect("string value").to_owned()))
        .collect()
}

/// Arguments a shell would split, expand or eat, and that an option parser would take.
fn awkward_arguments() -> Vec<&'static str> {
    vec![
        "plain",
        "with space",
        "  leading and trailing  ",
        "",
        "'single'",
        "\"double\"",
        "it's",
        "*",
        "*.yaml",
        "?",
        "[a-z]*",
        "~",
        "$HOME",
        "$(id)",
        "`id`",
        "\\",
        "back\\slash",
        "-",
        "-x",
        "-h",
        "--",
        "--help",
        "--manifest",
        "--container=telapi",
        "--format=json",
        "run",
        "a=b",
        "%s\\0",
        "; | & > <",
        "line1\nline2\n",
        "\t",
        "",
        "é",
        "日本",
        "😀",
    ]
}

#[test]
fn arguments_reach_the_command_untouched() {
    let printf = common::require_tool("printf", "apt-get install coreutils");
    let arguments = awkward_arguments();
    // A directory with files the globs would match if a shell were involved.
    let dir = tempfile::tempdir().expect("temporary directory");
    for file in ["a.yaml", "b.yaml", "x"] {
        std::fs::write(dir.path().join(file), "").expect("write a file");
    }
    let mut command: Vec<&OsStr> = vec![printf.as_os_str(), OsStr::new("%s\\0")];
    command.extend(arguments.iter().map(OsStr::new));
    let output = output(run_example(&[], &command).current_dir(dir.path()));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expected: Vec<Vec<u8>> = arguments.iter().map(|a| a.as_bytes().to_vec()).collect();
    assert_eq!(nul_fields(&output.stdout), expected);
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
}

#[test]
fn arguments_pass_through_after_run_options_and_by_path_lookup() {
    // The command found through PATH, after `--container`, with a second `--` among its
    // arguments.
    common::require_tool("printf", "apt-get install coreutils");
    let arguments = ["--", "-n", "", "*", "x y"];
    let mut command = vec!["printf", "%s\\0"];
    command.extend(arguments);
    let output = output(&mut run_example(&["--container", "telapi"], &command));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expected: Vec<Vec<u8>> = arguments.iter().map(|a| a.as_bytes().to_vec()).collect();
    assert_eq!(nul_fields(&output.stdout), expected);
}

#[test]
fn arguments_that_are_not_utf8_pass_through() {
    let printf = common::require_tool("printf", "apt-get install coreutils");
    let arguments = [
        OsStr::from_bytes(b"\xff\xfe"),
        OsStr::from_bytes(b"caf\xe9"),
        OsStr::from_bytes(b"\xc3"),
    ];
    let mut command: Vec<&OsStr> = vec![printf.as_os_str(), OsStr::new("%s\\0")];
    command.extend(arguments);
    let output = output(&mut run_example(&[], &command));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expected: Vec<Vec<u8>> = arguments.iter().map(|a| a.as_bytes().to_vec()).collect();
    assert_eq!(nul_fields(&output.stdout), expected);
}

/// All names the example manifest resolves, removed from the test's own environment so that
/// nothing the test runner happens to export can be mistaken for a resolved value.
fn clean(command: &mut Command) -> &mut Command {
    for name in resolved(None).keys() {
        command.env_remove(name);
    }
    command
}

#[test]
fn the_command_sees_the_resolved_variables_and_the_parents_environment() {
    let env = common::require_tool("env", "apt-get install coreutils");
    let mut command = run_example(&[], &[env.as_os_str(), OsStr::new("-0")]);
    clean(&mut command)
        .env("FETCH_ENV_TEST_INHERITED", "kept 'as' $is\n")
        // A stale value in the parent's environment is replaced by the resolved one.
        .env("DATABASE_HOST", "stale.example");
    let environment = child_environment(&output(&mut command));

    let expected = resolved(None);
    assert_eq!(expected.len(), 13, "{expected:?}");
    for (name, value) in &expected {
        assert_eq!(
            environment.get(OsStr::new(name)),
            Some(&OsString::from(value)),
            "{name}"
        );
    }
    // Not only consistent with the export output, but the values of the example.
    assert_eq!(
        environment.get(OsStr::new("DATABASE_PASSWORD")),
        Some(&OsString::from("p@ss:w/rd?#[]&=+% 'Zürich\"42"))
    );
    assert_eq!(
        environment.get(OsStr::new("DATABASE_HOST")),
        Some(&OsString::from(
            "api-dev.cluster-c1a2b3c4d5e6.eu-central-1.rds.amazonaws.com"
        ))
    );
    assert_eq!(
        environment.get(OsStr::new("FETCH_ENV_TEST_INHERITED")),
        Some(&OsString::from("kept 'as' $is\n"))
    );
    assert_eq!(
        environment.get(OsStr::new("PATH")),
        std::env::var_os("PATH").as_ref()
    );
}

#[test]
fn container_limits_the_resolved_variables() {
    let env = common::require_tool("env", "apt-get install coreutils");
    let mut command = run_example(
        &["--container", "telapi"],
        &[env.as_os_str(), OsStr::new("-0")],
    );
    clean(&mut command).env("FETCH_ENV_TEST_INHERITED", "kept");
    let environment = child_environment(&output(&mut command));

    let all = resolved(None);
    let telapi = resolved(Some("telapi"));
    // The local (bootstrap) variables are declared for no container.
    for name in ["ECR_REGISTRY", "ECR_TAG", "DB_MASTER_SECRET_ARN"] {
        assert!(
            all.contains_key(name) && !telapi.contains_key(name),
            "{name}"
        );
    }
    assert_eq!(telapi.len(), 10, "{telapi:?}");
    for name in all.keys() {
        assert_eq!(
            environment.get(OsStr::new(name)),
            telapi.get(name).map(OsString::from).as_ref(),
            "{name}"
        );
    }
    assert_eq!(
        environment.get(OsStr::new("FETCH_ENV_TEST_INHERITED")),
        Some(&OsString::from("kept"))
    );
}

#[test]
fn the_commands_exit_status_is_fetch_envs() {
    let sh = sh();
    for code in [0, 1, 2, 3, 42, 126, 127, 255] {
        let code_text = code.to_string();
        let command = [
            sh.as_os_str(),
            OsStr::new("-c"),
            OsStr::new("exit \"$1\""),
            OsStr::new("sh"),
            OsStr::new(&code_text),
        ];
        let output = output(&mut run_example(&[], &command));
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
        assert!(output.stdout.is_empty() && output.stderr.is_empty());
    }
}

/// `run -- sh -c 'kill -SIGNAL $$'`.
fn killed_by(signal: &str) -> Command {
    let script = format!("kill -{signal} $$");
    run_example(
        &[],
        &[sh().as_os_str(), OsStr::new("-c"), OsStr::new(&script)],
    )
}

#[test]
fn a_death_by_signal_is_fetch_envs() {
    for (signal, number) in [("TERM", 15), ("KILL", 9)] {
        let output = output(&mut killed_by(signal));
        // fetch-env exec'd the shell, so the process the test started is the one killed.
        assert_eq!(output.status.signal(), Some(number), "{}", output.status);
        assert_eq!(output.status.code(), None);
    }
}

#[test]
fn a_calling_shell_sees_128_plus_the_signal() {
    let bash = bash();
    for (signal, status) in [("TERM", "143\n"), ("KILL", "137\n")] {
        let inner = killed_by(signal);
        let mut wrapper = Command::new(&bash);
        wrapper
            .arg("-c")
            .arg("\"$@\"; echo $?")
            .arg("bash")
            .arg(inner.get_program())
            .args(inner.get_args());
        for (key, value) in inner.get_envs() {
            match value {
                Some(value) => wrapper.env(key, value),
                None => wrapper.env_remove(key),
            };
        }
        let output = output(&mut wrapper);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout), status, "{signal}");
    }
}

#[test]
fn stdin_reaches_the_command() {
    let cat = common::require_tool("cat", "apt-get install coreutils");
    let mut command = run_example(&[], &[cat.as_os_str()]);
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run fetch-env");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"to the child\n\0binary\xff")
            .expect("write stdin");
    }
    let output = child.wait_with_output().expect("wait for fetch-env");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(output.stdout, b"to the child\n\0binary\xff");
}

#[test]
fn a_missing_command_exits_127() {
    for missing in [
        "fetch-env-test-no-such-command",
        "/nonexistent/fetch-env-test/cmd",
    ] {
        let output = output(&mut run_example(&[], &[missing, "arg"]));
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(127), "{message}");
        assert!(output.stdout.is_empty());
        assert!(
            message.contains(missing) && message.contains("not found"),
            "{message}"
        );
    }
}

#[test]
fn a_command_that_is_not_executable_exits_126() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write the script");
    let output = output(&mut run_example(&[], &[&script]));
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(126), "{message}");
    assert!(output.stdout.is_empty());
    assert!(message.contains("script.sh"), "{message}");
}

/// A manifest (`service: svc`) and a file store in a temporary directory, and a command that
/// creates a marker file there: the marker exists exactly when the command was started.
struct Broken {
    dir: TempDir,
}

impl Broken {
    fn new(variables: &str, parameters: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(
            dir.path().join("vars.yaml"),
            format!("service: svc\nvariables:\n{variables}"),
        )
        .expect("write the manifest");
        std::fs::write(
            dir.path().join("store.yaml"),
            format!("parameters:\n{parameters}"),
        )
        .expect("write the store");
        Self { dir }
    }

    fn marker(&self) -> PathBuf {
        self.dir.path().join("started")
    }

    /// `run [RUN_OPTIONS] -- sh -c 'touch MARKER'`.
    fn run(&self, run_options: &[&str]) -> Output {
        let path: &Path = self.dir.path();
        output(
            common::fetch_env()
                .arg("--manifest")
                .arg(path.join("vars.yaml"))
                .arg("--store")
                .arg(format!("file:{}", path.join("store.yaml").display()))
                .arg("--namespace")
                .arg("ns")
                .arg("run")
                .args(run_options)
                .arg("--")
                .arg(sh())
                .arg("-c")
                .arg(": > \"$1\"")
                .arg("sh")
                .arg(self.marker()),
        )
    }
}

#[test]
fn a_failed_resolution_does_not_start_the_command() {
    let broken = Broken::new(
        "  - name: PRESENT\n    required: true\n  - name: MISSING\n    required: true\n",
        "  /ns/svc/PRESENT: here\n",
    );
    let output = broken.run(&[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(output.stdout.is_empty());
    assert!(message.contains("MISSING"), "{message}");
    assert!(!broken.marker().exists(), "the command was started");

    // The same fixture with MISSING in the store does start it: the marker is a real witness.
    let fixed = Broken::new(
        "  - name: PRESENT\n    required: true\n  - name: MISSING\n    required: true\n",
        "  /ns/svc/PRESENT: here\n  /ns/svc/MISSING: now here\n",
    );
    let output = fixed.run(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(fixed.marker().exists());
}

#[test]
fn a_nul_byte_does_not_start_the_command() {
    let broken = Broken::new(
        "  - name: PRESENT\n    required: true\n  - name: WITH_NUL\n    required: true\n",
        "  /ns/svc/PRESENT: here\n  /ns/svc/WITH_NUL: \"a\\u0000b\"\n",
    );
    let output = broken.run(&[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(output.stdout.is_empty());
    assert!(
        message.contains("WITH_NUL") && message.contains("NUL"),
        "{message}"
    );
    assert!(!broken.marker().exists(), "the command was started");
}

#[test]
fn an_unknown_container_does_not_start_the_command() {
    let broken = Broken::new(
        "  - name: PRESENT\n    required: true\n    containers: [web]\n",
        "  /ns/svc/PRESENT: here\n",
    );
    let output = broken.run(&["--container", "wbe"]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(output.stdout.is_empty());
    assert!(message.contains("wbe"), "{message}");
    assert!(!broken.marker().exists(), "the command was started");
}
