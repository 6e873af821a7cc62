//! The one way the integration tests run fetch-env: [`FetchEnv`] builds the command (an
//! environment cleared of every setting, AWS and proxy variable of whoever runs the tests, or
//! sealed entirely; the manifest, bootstrap file and store; an AWS-compatible endpoint) and
//! [`FetchEnv::run`] runs it under a hang guard with backtraces on, failing the test when
//! fetch-env panicked. [`Run`] holds what happened and the assertions of the failure contract.
//!
//! A panic is the one output path that no code of fetch-env formats, so it is checked on every
//! run: exit 101, and on stderr either the panic hook's `error: internal error at …` (main.rs)
//! or, should the hook ever be lost, Rust's own `panicked at` with the message and, under
//! `RUST_BACKTRACE=1`, a backtrace.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::example;
use super::moto::free_port;

/// Every setting fetch-env reads from its environment.
pub const SETTINGS: &[&str] = &[
    "NAMESPACE",
    "FETCH_ENV_STORE",
    "FETCH_ENV_MANIFEST",
    "FETCH_ENV_BOOTSTRAP",
    "FETCH_ENV_SSM_LOOKUP",
    "FETCH_ENV_SECRETS_LOOKUP",
    "FETCH_ENV_SERVICE",
    "FETCH_ENV_COMPOSE",
    "FETCH_ENV_AWS_MAX_ATTEMPTS",
    "FETCH_ENV_AWS_CONNECT_TIMEOUT",
    "FETCH_ENV_AWS_ATTEMPT_TIMEOUT",
    "FETCH_ENV_AWS_OPERATION_TIMEOUT",
    "FETCH_ENV_AWS_MAX_IN_FLIGHT",
    "FETCH_ENV_RECORD",
];

/// Every AWS and proxy variable the SDK or fetch-env would take from the environment.
pub const AWS_ENVIRONMENT: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CA_BUNDLE",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_SDK_UA_APP_ID",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// Every planted secret value holds this; nothing else in any input does, so finding it in an
/// output means a value leaked (or a part of one: the canaries are long enough that a
/// truncated leak still shows the prefix).
pub const CANARY: &str = "CANARY";

/// The region of every AWS test.
pub const REGION: &str = "eu-central-1";

/// Retries and timeouts small enough that every fault ends within seconds.
pub const FAST: &[&str] = &[
    "--aws-max-attempts",
    "2",
    "--aws-connect-timeout",
    "1",
    "--aws-attempt-timeout",
    "1",
    "--aws-operation-timeout",
    "5",
];

/// fetch-env, built up for one run.
pub struct FetchEnv {
    command: Command,
}

impl FetchEnv {
    /// fetch-env with no setting, AWS or proxy variable from whoever runs the tests, no AWS
    /// profile file and the instance metadata client disabled, so that nothing but what the
    /// test gives it can change a result or leave loopback.
    pub fn new() -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fetch-env"));
        for key in SETTINGS.iter().chain(AWS_ENVIRONMENT) {
            command.env_remove(key);
        }
        command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("FETCH_ENV_RECORD", private_record());
        Self { command }
    }

    /// fetch-env with an empty environment but for PATH, a HOME of the test's own, backtraces
    /// on, and every AWS credential source that is not the test's disabled: no profile file, and
    /// the instance metadata service both disabled and pointed at a closed loopback port, so
    /// that no packet leaves loopback whatever the SDK decides.
    pub fn sealed(home: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fetch-env"));
        command.env_clear();
        for (key, value) in sealed_environment(home) {
            command.env(key, value);
        }
        Self { command }
    }

    /// fetch-env with an empty environment, for a test that gives it every variable itself.
    pub fn bare() -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fetch-env"));
        command
            .env_clear()
            .env("FETCH_ENV_RECORD", private_record());
        Self { command }
    }

    /// `command` as it is: fetch-env under another program (`prlimit … fetch-env`), whose
    /// arguments the builder then extends.
    pub fn wrapping(command: Command) -> Self {
        Self { command }
    }

    pub fn envs<I, K, V>(mut self, variables: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.command.envs(variables);
        self
    }

    /// `--manifest`, `--bootstrap` and the file store `--store file:…`.
    pub fn inputs(self, manifest: &Path, bootstrap: &Path, store: &Path) -> Self {
        self.arg("--manifest")
            .arg(manifest)
            .arg("--bootstrap")
            .arg(bootstrap)
            .arg("--store")
            .arg(file_store(store))
    }

    /// The manifest, bootstrap file and file store of `examples/NAME`.
    pub fn example(self, name: &str) -> Self {
        self.inputs(
            &example(name, "vars.yaml"),
            &example(name, "bootstrap.env"),
            &example(name, "store.yaml"),
        )
    }

    /// The AWS store at an AWS-compatible `endpoint`. The region is in the environment: with it
    /// only in the bootstrap file the credential chain would consult instance metadata.
    pub fn on_aws(self, endpoint: &str) -> Self {
        self.env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", REGION)
            .arg("--store")
            .arg("aws")
    }

    /// moto's test credentials in the environment.
    pub fn with_test_credentials(self) -> Self {
        self.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.command.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Runs it with stdin empty and both outputs captured, under [`HANG_GUARD`]; fails the test
    /// when fetch-env panicked.
    pub fn run(mut self) -> Run {
        run_bounded(&mut self.command)
    }

    /// Like [`FetchEnv::run`], with a hang guard of `limit` (for runs that wait out retries).
    pub fn run_within(mut self, limit: Duration) -> Run {
        run_bounded_within(&mut self.command, limit)
    }

    /// Like [`FetchEnv::run`], with `input` on standard input (from a file, not a terminal).
    pub fn run_with_stdin(mut self, input: &[u8]) -> Run {
        let mut file = tempfile::tempfile().expect("a temporary file");
        std::io::Write::write_all(&mut file, input).expect("write the input");
        std::io::Seek::rewind(&mut file).expect("rewind the input");
        self.command
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::from(file))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let run = finish(&mut self.command, HANG_GUARD);
        assert!(!run.panicked(), "fetch-env panicked\n{}", run.show());
        run
    }

    /// Runs it to completion without the guard's checks (for a test that reads the raw output).
    pub fn output(mut self) -> Output {
        self.command.output().expect("run fetch-env")
    }

    /// The command, for a test that runs fetch-env under another program or in parallel.
    pub fn command(self) -> Command {
        self.command
    }
}

impl Default for FetchEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// A record path of one run's own (under the target's temporary folder), so that no run writes
/// the default `/run/fetch-env/SERVICE.json` of the machine or reads another run's record. A
/// test comparing two runs names its record with `--record`, which wins.
pub fn private_record() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("records")
        .join(format!("{}-{n}", std::process::id()))
        .join("record.json")
}

/// The hang guard for one run: far above what any run takes, never a benchmark.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// What one run of fetch-env did.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The run, for failure messages.
    pub fn show(&self) -> String {
        format!(
            "fetch-env {}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args.join(" "),
            self.code,
            self.stdout(),
            self.stderr
        )
    }

    /// fetch-env panicked: its panic hook's message, Rust's default one, or the status a
    /// panic leaves (101, which fetch-env never uses otherwise).
    pub fn panicked(&self) -> bool {
        self.code == Some(101)
            || self.stderr.contains("error: internal error")
            || self.stderr.contains("panicked")
            || self.stdout().contains("panicked")
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success\n{}", self.show());
        self
    }

    /// The documented failure contract: exit `code`, nothing at all on stdout, and at least
    /// one `error:` line on stderr saying why.
    pub fn assert_failed(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\n{}",
            self.show()
        );
        assert!(
            self.stdout.is_empty(),
            "a failed run printed to stdout\n{}",
            self.show()
        );
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with("error: ") || l.contains(": error: ")),
            "a failed run must say why on stderr\n{}",
            self.show()
        );
        self
    }

    /// No canary on stderr, ever; none on stdout either unless the run succeeded and its
    /// stdout is the resolved environment itself (`values_on_stdout`).
    pub fn assert_no_canary(&self, values_on_stdout: bool) -> &Self {
        self.assert_none_of(&[CANARY], values_on_stdout)
    }

    /// Like [`Run::assert_no_canary`] for any set of secret strings (keys that a server chose,
    /// which cannot hold the word CANARY).
    pub fn assert_none_of(&self, secrets: &[&str], values_on_stdout: bool) -> &Self {
        for secret in secrets {
            assert!(
                !self.stderr.contains(secret),
                "a secret ({secret}…) reached stderr\n{}",
                self.show()
            );
            if !(values_on_stdout && self.code == Some(0)) {
                assert!(
                    !self.stdout().contains(secret),
                    "a secret ({secret}…) reached stdout\n{}",
                    self.show()
                );
            }
        }
        self
    }
}

/// `http://127.0.0.1:PORT` with nothing listening on PORT.
pub fn closed_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// [`FetchEnv::sealed`], as a command.
pub fn sealed(home: &Path) -> Command {
    FetchEnv::sealed(home).command()
}

/// The environment of [`sealed`], for commands that run fetch-env under another program.
pub fn sealed_environment(home: &Path) -> Vec<(String, String)> {
    let home = home.to_str().expect("UTF-8 temporary path").to_owned();
    vec![
        (
            "PATH".into(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        ),
        ("HOME".into(), home.clone()),
        ("RUST_BACKTRACE".into(), "1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT".into(),
            closed_endpoint(),
        ),
        ("AWS_CONFIG_FILE".into(), format!("{home}/no-aws-config")),
        (
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            format!("{home}/no-aws-credentials"),
        ),
        (
            "FETCH_ENV_RECORD".into(),
            format!("{home}/fetch-env/record.json"),
        ),
    ]
}

/// [`FetchEnv::on_aws`] for a command built already.
pub fn on_aws(command: &mut Command, endpoint: &str) {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", REGION)
        .arg("--store")
        .arg("aws");
}

/// Runs `command` with stdin empty and both outputs captured. A run that outlasts
/// [`HANG_GUARD`] is killed and fails the test; so does one whose output says "panicked".
pub fn run_bounded(command: &mut Command) -> Run {
    run_bounded_within(command, HANG_GUARD)
}

/// [`run_bounded`] with a hang guard of `limit`.
pub fn run_bounded_within(command: &mut Command, limit: Duration) -> Run {
    command
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = finish(command, limit);
    assert!(!run.panicked(), "fetch-env panicked\n{}", run.show());
    run
}

/// Like [`run_bounded`], but the caller decides what a panic means, and RUST_BACKTRACE is left
/// as the command has it.
pub fn run_allowing_panic(command: &mut Command) -> Run {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    finish(command, HANG_GUARD)
}

/// Like [`run_bounded`] with stdout already closed by its reader (`fetch-env | head -0`); the
/// caller decides what a panic means.
pub fn run_with_closed_stdout(command: &mut Command) -> Run {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    command
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped());
    finish(command, HANG_GUARD)
}

fn finish(command: &mut Command, limit: Duration) -> Run {
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let started = Instant::now();
    let mut child = command.spawn().expect("start fetch-env");
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .map(|stream| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    })
    .collect();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for fetch-env") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fetch-env {} hung: killed after {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let mut outputs = readers.into_iter().map(|r| r.join().expect("reader"));
    let stdout = outputs.next().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&outputs.next().unwrap_or_default()).into_owned();
    Run {
        args,
        code: status.code(),
        stdout,
        stderr,
        elapsed,
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the parent directory");
    }
    std::fs::write(&path, text).expect("write a test input");
    path
}

/// `file:PATH` for `--store`.
pub fn file_store(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// `value` as a YAML double-quoted scalar that reads back as exactly `value`: printable ASCII as
/// is, everything else escaped, so the file itself is plain ASCII whatever the value holds.
pub fn yaml_quoted(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// `text` as a YAML single-quoted scalar: no escapes at all, only `'` doubled, so a value reaches
/// fetch-env without any YAML escape in between (text without line breaks).
pub fn yaml_single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `text` with every key of `map` replaced by its value (the ARNs moto gave, and back).
pub fn replace_all(text: &str, map: &std::collections::HashMap<String, String>) -> String {
    map.iter()
        .fold(text.to_owned(), |t, (from, to)| t.replace(from, to))
}
