//! Shared by the safety suites (redaction.rs, no_disk.rs, contract.rs, hostile_input.rs): the
//! binary run in a sealed environment under a hang guard with backtraces on, the failure
//! contract (exit code, empty stdout, a message on stderr), the canary convention, and the
//! retry and timeout flags that make every AWS fault end within seconds.
//!
//! Every run goes through [`run_bounded`], which fails the test when fetch-env panicked: exit
//! 101, and on stderr either the panic hook's `error: internal error at …` (main.rs) or, should
//! the hook ever be lost, Rust's own `panicked at` with the message and, under
//! `RUST_BACKTRACE=1`, a backtrace. A panic is the one output path that no code of fetch-env
//! formats, so it is checked on every run of every suite rather than in one place.
#![allow(dead_code)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::fetch_env;
use crate::common::moto::free_port;

/// Every planted secret value holds this; nothing else in any input does, so finding it in an
/// output means a value leaked (or a part of one: the canaries are long enough that a
/// truncated leak still shows the prefix).
pub const CANARY: &str = "CANARY";

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

/// fetch-env with an empty environment but for PATH, a HOME of the test's own, backtraces on,
/// and every AWS credential source that is not the test's disabled: no profile file, and the
/// instance metadata service both disabled and pointed at a closed loopback port, so that no
/// packet leaves loopback whatever the SDK decides.
pub fn sealed(home: &Path) -> Command {
    let mut command = fetch_env();
    command.env_clear();
    for (key, value) in sealed_environment(home) {
        command.env(key, value);
    }
    command
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
    ]
}

/// Points a sealed command at an AWS-compatible endpoint. The region is in the environment:
/// with it only in the bootstrap file the credential chain would consult instance metadata.
pub fn on_aws(command: &mut Command, endpoint: &str) {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "eu-central-1")
        .arg("--store")
        .arg("aws");
}

/// Runs `command` with stdin empty and both outputs captured. A run that outlasts
/// [`HANG_GUARD`] is killed and fails the test; so does one whose output says "panicked".
pub fn run_bounded(command: &mut Command) -> Run {
    command
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = finish(command);
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
    finish(command)
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
    finish(command)
}

fn finish(command: &mut Command) -> Run {
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
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "fetch-env {} hung: killed after {HANG_GUARD:?}",
                args.join(" ")
            );
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

/// A script that, when run, creates `marker`: the stand-in for a child that must never start.
pub fn marker_script(dir: &Path, marker: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = write(
        dir,
        "marker.sh",
        format!("#!/bin/sh\n: > '{}'\n", marker.display()),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("make the marker script executable");
    script
}
