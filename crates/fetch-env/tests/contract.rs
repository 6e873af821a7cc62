//! The exit-code and side-effect contract (README, Exit codes; SPEC 6, Atomicity): a failure
//! exits with its documented code, prints nothing on stdout, starts no command, writes no
//! `file:` material and creates no `--output` file. Proven for every persistent backend fault
//! on the AWS store (moto on loopback, FaultProxy in front of it, IAM enforced on a private
//! moto for AccessDenied) and for every kind of failed resolution and invalid input on the
//! file store, through each command that could leave a trace: the default output with
//! `file:` material, `--output`, `run` and `restart` (their command is a script that creates
//! a marker file, so a start would show).
//!
//! A control run of the same world without a fault leaves every trace, so the absence of
//! traces in the failing runs is a result, not a blind spot.

mod common;
mod safety;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::example;
use common::fault_proxy::{Fault, FaultProxy};
use common::moto::{Moto, moto};
use safety::{
    FAST, Run, closed_endpoint, file_store, marker_script, on_aws, run_bounded, sealed, write,
};

/// A certificate bundle that is written to a file, and a password.
const MANIFEST: &str = "service: svc
variables:
  - { name: CA_FILE, source: local, required: true }
  - { name: CA_BUNDLE_B64, required: true, file: { path_from: CA_FILE, content: certificates } }
  - { name: DB_PASSWORD, required: true, sensitive: true }
";

/// The example CA bundle (base64 of PEM), from examples/tls-files.
fn certificate() -> String {
    let store = std::fs::read_to_string(example("tls-files", "store.yaml")).unwrap();
    store
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("/voiceai/dev/db/DATABASE_SSL_CA_BUNDLE_B64: ")
        })
        .expect("the example's CA bundle")
        .to_owned()
}

fn store(namespace: &str) -> String {
    format!(
        "parameters:\n  /{namespace}/svc/CA_BUNDLE_B64: {}\nsecrets:\n  {namespace}/svc/secrets:\n    DB_PASSWORD: CANARY-contract-password\n",
        certificate()
    )
}

/// Seeds the shared moto with the contract store, once.
fn seeded() {
    static SEEDED: OnceLock<()> = OnceLock::new();
    SEEDED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "store.yaml", store("con"));
        moto().seed_many(std::slice::from_ref(&path));
    });
}

/// The commands that could leave a trace.
#[derive(Clone, Copy, Debug)]
enum Command {
    /// `--format export`: prints, and writes the `file:` material.
    Export,
    /// `--format file --output F`.
    Output,
    /// `run -- MARKER`.
    Run,
    /// `restart --compose-command MARKER`.
    Restart,
}

const COMMANDS: [Command; 4] = [
    Command::Export,
    Command::Output,
    Command::Run,
    Command::Restart,
];

/// One command in a directory of its own, so that every trace it leaves is its own.
struct Attempt {
    dir: tempfile::TempDir,
    command: Command,
}

impl Attempt {
    fn new(command: Command) -> Attempt {
        Attempt {
            dir: tempfile::tempdir().unwrap(),
            command,
        }
    }

    fn material(&self) -> PathBuf {
        self.dir.path().join("tls/ca.crt")
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("out.env")
    }

    fn marker(&self) -> PathBuf {
        self.dir.path().join("started")
    }

    /// The bootstrap file: the namespace, the material's path, and `extra` lines.
    fn bootstrap(&self, namespace: &str, extra: &str) -> PathBuf {
        write(
            self.dir.path(),
            "bootstrap.env",
            format!(
                "NAMESPACE={namespace}\nCA_FILE={}\n{extra}",
                self.material().display()
            ),
        )
    }

    /// fetch-env with `manifest` and `bootstrap`, the command's own arguments appended by
    /// [`Attempt::finish`].
    fn start(&self, manifest: &Path, bootstrap: &Path) -> std::process::Command {
        let mut command = sealed(self.dir.path());
        command
            .arg("--manifest")
            .arg(manifest)
            .arg("--bootstrap")
            .arg(bootstrap);
        command
    }

    fn finish(&self, mut command: std::process::Command) -> Run {
        let marker = marker_script(self.dir.path(), &self.marker());
        match self.command {
            Command::Export => command.args(["--format", "export"]),
            Command::Output => command
                .args(["--format", "file", "--output"])
                .arg(self.output()),
            Command::Run => command.arg("run").arg("--").arg(&marker),
            Command::Restart => command.arg("restart").arg("--compose-command").arg(&marker),
        };
        run_bounded(&mut command)
    }

    /// Failed with `exit`, nothing on stdout, and no trace of any kind.
    fn assert_failed_without_trace(&self, run: &Run, exit: i32, what: &str) {
        assert_eq!(
            run.code,
            Some(exit),
            "{what}, {:?}: expected exit {exit}\n{}",
            self.command,
            run.show()
        );
        run.assert_failed(exit).assert_no_canary(false);
        assert!(
            !self.marker().exists(),
            "{what}, {:?}: the command was started\n{}",
            self.command,
            run.show()
        );
        assert!(
            !self.material().parent().unwrap().exists(),
            "{what}, {:?}: file: material (or its directory) was written\n{}",
            self.command,
            run.show()
        );
        assert!(
            !self.output().exists(),
            "{what}, {:?}: the --output file was created\n{}",
            self.command,
            run.show()
        );
    }

    /// Succeeded, and left exactly the traces this command leaves.
    fn assert_succeeded_with_traces(&self, run: &Run) {
        run.assert_ok();
        assert!(self.material().is_file(), "{:?}: no material", self.command);
        let started = matches!(self.command, Command::Run | Command::Restart);
        assert_eq!(self.marker().exists(), started, "{:?}", self.command);
        assert_eq!(
            self.output().exists(),
            matches!(self.command, Command::Output),
            "{:?}",
            self.command
        );
    }
}

/// Runs every command, concurrently, against the AWS store at `endpoint` with `keys` (access
/// key id and secret key) in the environment, or with no keys anywhere; returns each attempt
/// and its run.
fn on_endpoint(endpoint: &str, keys: Option<(&str, &str)>) -> Vec<(Attempt, Run)> {
    seeded();
    std::thread::scope(|scope| {
        let handles: Vec<_> = COMMANDS
            .into_iter()
            .map(|command| {
                scope.spawn(move || {
                    let attempt = Attempt::new(command);
                    let manifest = write(attempt.dir.path(), "vars.yaml", MANIFEST);
                    let bootstrap = attempt.bootstrap("con", "");
                    let mut fetch_env = attempt.start(&manifest, &bootstrap);
                    on_aws(&mut fetch_env, endpoint);
                    if let Some((id, secret)) = keys {
                        fetch_env
                            .env("AWS_ACCESS_KEY_ID", id)
                            .env("AWS_SECRET_ACCESS_KEY", secret);
                    }
                    fetch_env.args(FAST);
                    let run = attempt.finish(fetch_env);
                    (attempt, run)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

const KEYS: Option<(&str, &str)> = Some(("testing", "testing"));

#[test]
fn without_a_fault_every_trace_is_left() {
    for (attempt, run) in on_endpoint(&moto().endpoint, KEYS) {
        attempt.assert_succeeded_with_traces(&run);
    }
}

#[test]
fn persistent_backend_faults_exit_3_and_leave_no_trace() {
    let faults = [
        Fault::Throttle,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Reset,
        Fault::Truncated,
        Fault::InvalidJson,
        Fault::Delay(Duration::from_millis(2500)),
    ];
    std::thread::scope(|scope| {
        for fault in faults {
            scope.spawn(move || {
                let proxy = FaultProxy::start(moto().port);
                proxy.inject(fault, usize::MAX);
                for (attempt, run) in on_endpoint(&proxy.endpoint, KEYS) {
                    attempt.assert_failed_without_trace(&run, 3, &format!("{fault:?}"));
                }
                assert!(proxy.requests() > 0, "{fault:?} was never reached");
            });
        }
        scope.spawn(|| {
            for (attempt, run) in on_endpoint(&closed_endpoint(), KEYS) {
                attempt.assert_failed_without_trace(&run, 3, "endpoint down");
            }
        });
        scope.spawn(|| {
            // No keys anywhere, instance metadata disabled (safety::sealed).
            for (attempt, run) in on_endpoint(&moto().endpoint, None) {
                attempt.assert_failed_without_trace(&run, 3, "no credentials");
            }
        });
    });
}

/// IAM enforced on a private moto: the role may read SSM only.
#[test]
fn access_denied_exits_3_and_leaves_no_trace() {
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": ["ssm:GetParametersByPath"], "Resource": "*" }]
    });
    let dir = tempfile::tempdir().unwrap();
    let store = write(dir.path(), "store.yaml", store("con"));
    let (_, key_id, secret) = moto.iam_setup(&policy.to_string(), &store);
    for (attempt, run) in on_endpoint(&moto.endpoint, Some((&key_id, &secret))) {
        attempt.assert_failed_without_trace(&run, 3, "access denied");
        assert!(run.stderr.contains("access denied"), "{}", run.show());
        run.assert_none_of(&[&secret], false);
    }
}

/// One file-store case: the manifest, the store and extra bootstrap lines, and the exit code.
struct FileCase {
    what: &'static str,
    manifest: String,
    store: String,
    bootstrap: &'static str,
    exit: i32,
}

fn file_cases() -> Vec<FileCase> {
    let case = |what, exit| FileCase {
        what,
        manifest: MANIFEST.to_owned(),
        store: store("con"),
        bootstrap: "",
        exit,
    };
    let mut cases = Vec::new();
    cases.push(case("control", 0));
    let mut c = case("required value missing", 1);
    c.store = c.store.replace("DB_PASSWORD:", "OTHER_KEY:");
    cases.push(c);
    let mut c = case("bundle not JSON", 1);
    c.store = c.store.replace(
        "\n    DB_PASSWORD: CANARY-contract-password",
        " '{\"DB_PASSWORD\": CANARY-unquoted'",
    );
    cases.push(c);
    let mut c = case("material not PEM", 1);
    c.store = c
        .store
        .replace(&certificate(), "Q0FOQVJZLW5vdC1hLWNlcnRpZmljYXRl");
    cases.push(c);
    let mut c = case("NUL byte", 1);
    c.store = c
        .store
        .replace("CANARY-contract-password", "\"CANARY-contract\\0password\"");
    cases.push(c);
    let mut c = case("template input unset", 1);
    c.manifest.push_str(
        "  - { name: UNSET }\n  - { name: URL, required: true, compose: { template: 'x://${UNSET}' } }\n",
    );
    cases.push(c);
    let mut c = case("malformed manifest", 2);
    c.manifest.push_str("  - { name: X, requird: true }\n");
    cases.push(c);
    let mut c = case("malformed store", 2);
    c.store.push_str("  bogus: [\n");
    cases.push(c);
    let mut c = case("malformed bootstrap", 2);
    c.bootstrap = "PASSWORD=CANARY-unquoted with-space\n";
    cases.push(c);
    cases
}

#[test]
fn failed_resolutions_and_invalid_inputs_leave_no_trace() {
    std::thread::scope(|scope| {
        for case in file_cases() {
            scope.spawn(move || {
                for command in COMMANDS {
                    let attempt = Attempt::new(command);
                    let manifest = write(attempt.dir.path(), "vars.yaml", &case.manifest);
                    let store = write(attempt.dir.path(), "store.yaml", &case.store);
                    let bootstrap = attempt.bootstrap("con", case.bootstrap);
                    let mut fetch_env = attempt.start(&manifest, &bootstrap);
                    fetch_env.arg("--store").arg(file_store(&store));
                    let run = attempt.finish(fetch_env);
                    if case.exit == 0 {
                        attempt.assert_succeeded_with_traces(&run);
                    } else {
                        attempt.assert_failed_without_trace(&run, case.exit, case.what);
                    }
                }
            });
        }
    });
}

/// `--output` refused (a symlink, a directory that does not exist) is a usage error found
/// after resolution; by then nothing may have been written: the `file:` material must wait
/// until every output of the command is known to be writable, or the failed command leaves
/// new TLS files behind (SPEC 6: any failure, no partial file).
#[test]
fn a_refused_output_target_writes_no_file_material() {
    let mut written = Vec::new();
    for refused in ["symlink", "missing directory"] {
        let attempt = Attempt::new(Command::Export);
        let manifest = write(attempt.dir.path(), "vars.yaml", MANIFEST);
        let store = write(attempt.dir.path(), "store.yaml", store("con"));
        let bootstrap = attempt.bootstrap("con", "");
        let output = match refused {
            "symlink" => {
                let link = attempt.dir.path().join("link.env");
                std::os::unix::fs::symlink(attempt.dir.path().join("elsewhere"), &link).unwrap();
                link
            }
            _ => attempt.dir.path().join("no/such/dir/out.env"),
        };
        let mut fetch_env = attempt.start(&manifest, &bootstrap);
        fetch_env
            .arg("--store")
            .arg(file_store(&store))
            .args(["--format", "file", "--output"])
            .arg(&output);
        let run = run_bounded(&mut fetch_env);
        run.assert_failed(2).assert_no_canary(false);
        if attempt.material().exists() {
            written.push(format!(
                "{refused}: the command failed (exit 2) but wrote {}\n{}",
                attempt.material().display(),
                run.show()
            ));
        }
    }
    assert!(written.is_empty(), "{}", written.join("\n"));
}

/// `--format` and `--output` belong to the default command. Given before another command they
/// are accepted and silently ignored today: `fetch-env --output app.env explain` exits 0 and
/// writes no app.env. An option that asks for a file and is dropped is a usage error (exit 2).
#[test]
fn output_options_before_a_subcommand_are_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let attempt = Attempt::new(Command::Export);
    let manifest = write(dir.path(), "vars.yaml", MANIFEST);
    let store = write(dir.path(), "store.yaml", store("con"));
    let bootstrap = attempt.bootstrap("con", "");
    let output = dir.path().join("app.env");
    let output = output.to_str().unwrap();
    let mut ignored = Vec::new();
    for args in [
        &["--output", output, "explain"][..],
        &["--output", output, "run", "--", "true"],
        &["--format", "json", "check"],
        &["--format", "json", "explain"],
    ] {
        let mut fetch_env = attempt.start(&manifest, &bootstrap);
        fetch_env.arg("--store").arg(file_store(&store)).args(args);
        let run = run_bounded(&mut fetch_env);
        if run.code != Some(2) || !run.stdout.is_empty() {
            ignored.push(format!("{} (exit {:?})", args.join(" "), run.code));
        }
    }
    assert!(
        ignored.is_empty(),
        "accepted and ignored:\n{}",
        ignored.join("\n")
    );
}
