//! Redaction: no secret value reaches stderr, `explain`, `--verbose`, `check --remote`, or the
//! stdout of a run that failed, on any path, on the file store and on the AWS store (moto on
//! loopback) alike.
//!
//! Secret values are canaries (`CANARY-…`, see `safety::CANARY`) planted in every place a
//! secret can come from: an SSM SecureString, the Secrets Manager bundle, an `arn_from`
//! secret, the bootstrap file's AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (the AWS store
//! uses bootstrap keys as they are, so they take part in every AWS request), a proxy password
//! and undeclared (drift) keys. Then every error path is driven: a missing key or secret,
//! invalid JSON in a bundle and in an `arn_from` secret, a nested value, a template input that
//! is unset, a required value missing, a NUL byte, AccessDenied (IAM enforced on a private
//! moto), throttling, 5xx answers, resets, timeouts, invalid answers and a dead endpoint
//! (FaultProxy), malformed manifests, bootstrap lines and store files that hold canaries where
//! a parser could quote them. Each path runs every command that can report it, with
//! `--verbose`.
//!
//! The successful case also proves that the canaries are live: the same values do reach the
//! stdout of `--format export` and `--format json`, which is where they belong.
//!
//! Panics: every run of this file (as of every safety suite) has `RUST_BACKTRACE=1` and fails
//! when fetch-env panicked (`safety::Run::panicked`); `no_command_panics_with_backtraces_enabled`
//! adds the commands and inputs the other tests do not reach (help, usage errors, unreadable
//! files), `a_closed_stdout_never_panics` a reader that went away, and
//! `an_injected_panic_shows_no_value_even_with_backtraces` the panic path itself, through the
//! debug-build injection of main.rs.

mod common;
mod safety;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::example;
use common::fault_proxy::{Fault, FaultProxy};
use common::moto::{Moto, moto};
use safety::{
    CANARY, FAST, Run, closed_endpoint, file_store, on_aws, run_allowing_panic, run_bounded,
    run_with_closed_stdout, sealed, write,
};

const ARN_PREFIX: &str = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:";

/// Every secret-bearing place of one service. `DATABASE_URL` and `AUTH_HEADER` are composed of
/// secrets; `AUTH_HEADER` is not marked sensitive, so only its origin can mask it.
const MANIFEST: &str = r#"service: svc
variables:
  - { name: DB_SECRET_ARN, source: local, required: true }
  - { name: PLAIN_HOST, required: true }
  - { name: API_TOKEN, required: true }
  - { name: JWT_KEY, required: true }
  - { name: DB_USER, required: true, secret: { arn_from: DB_SECRET_ARN, type: json, key: username } }
  - { name: DB_PASSWORD, required: true, sensitive: true, secret: { arn_from: DB_SECRET_ARN, type: json, key: password } }
  - name: DATABASE_URL
    required: true
    sensitive: true
    compose:
      template: 'postgresql://${DB_USER}:${DB_PASSWORD}@${PLAIN_HOST}/app'
      encode: [DB_USER, DB_PASSWORD]
  - { name: AUTH_HEADER, compose: { template: 'Bearer ${API_TOKEN}' } }
"#;

/// The ARN key of a case's `arn_from` secret as the store file writes it.
fn arn_key(case: &str) -> String {
    format!("{ARN_PREFIX}red-{case}-db-AbC123")
}

/// The store of a case, every secret a canary naming where it was planted.
fn base_store(case: &str) -> String {
    store(
        case,
        &format!(
            "\n    JWT_KEY: CANARY-bundle-{case}\n    UNDECLARED_KEY: CANARY-bundle-drift-{case}"
        ),
        &format!(
            "\n    username: CANARY-arn-user-{case}\n    password: \"CANARY-arn-p@ss:w/rd-{case}\"\n    engine: postgres"
        ),
    )
}

/// A store whose bundle and `arn_from` secret are the YAML values given (a mapping, which the
/// store holds as a JSON object, or a string, held as it is).
fn store(case: &str, bundle: &str, arn_secret: &str) -> String {
    format!(
        r#"parameters:
  /red/{case}/svc/PLAIN_HOST: db.example
  /red/{case}/svc/API_TOKEN: {{ type: SecureString, value: CANARY-ssm-securestring-{case} }}
  /red/{case}/svc/UNDECLARED_PARAMETER: {{ type: SecureString, value: CANARY-ssm-drift-{case} }}
secrets:
  red/{case}/svc/secrets: {bundle}
  "{arn}": {arn_secret}
"#,
        arn = arn_key(case)
    )
}

/// The bootstrap file of a case, with the AWS keys as canaries.
fn bootstrap(case: &str, arn: &str) -> String {
    format!(
        "NAMESPACE=red/{case}\nDB_SECRET_ARN={arn}\nAWS_ACCESS_KEY_ID=AKIAREDACTIONTEST\n\
         AWS_SECRET_ACCESS_KEY=CANARY-aws-secret-access-key\n\
         AWS_SESSION_TOKEN=CANARY-aws-session-token\n"
    )
}

/// One scenario: the base world with one thing broken, and the exit code that must follow.
struct Case {
    name: &'static str,
    manifest: String,
    store: String,
    /// An ARN in the bootstrap file that the store does not hold, instead of the seeded one.
    arn: Option<String>,
    exit: i32,
}

fn cases() -> Vec<Case> {
    let case = |name: &'static str, exit: i32| Case {
        name,
        manifest: MANIFEST.to_owned(),
        store: base_store(name),
        arn: None,
        exit,
    };
    let mut all = Vec::new();
    all.push(case("ok", 0));

    let mut c = case("missing-key", 1);
    c.manifest = c.manifest.replace("key: password", "key: passphrase");
    all.push(c);

    let mut c = case("missing-secret", 1);
    c.arn = Some(format!("{ARN_PREFIX}red-missing-secret-nosuch-XyZ789"));
    all.push(c);

    let mut c = case("bundle-not-json", 1);
    c.store = store(
        c.name,
        "'{\"JWT_KEY\": CANARY-bundle-unquoted, \"X\": 1'",
        "{ username: CANARY-arn-user, password: CANARY-arn-pass }",
    );
    all.push(c);

    let mut c = case("arn-not-json", 1);
    c.store = store(
        c.name,
        "{ JWT_KEY: CANARY-bundle }",
        "'{\"username\": \"CANARY-arn-user\", \"password\": CANARY-arn-unquoted}'",
    );
    all.push(c);

    let mut c = case("arn-nested", 1);
    c.store = store(
        c.name,
        "{ JWT_KEY: CANARY-bundle }",
        "{ username: CANARY-arn-user, password: { inner: CANARY-arn-nested-value } }",
    );
    all.push(c);

    let mut c = case("template-input-unset", 1);
    c.manifest.push_str(
        "  - { name: OPTIONAL_SUFFIX }\n  - { name: SIGNED, required: true, sensitive: true, compose: { template: '${API_TOKEN}.${OPTIONAL_SUFFIX}' } }\n",
    );
    all.push(c);

    let mut c = case("required-missing", 1);
    c.manifest
        .push_str("  - { name: NOWHERE, required: true }\n");
    all.push(c);

    let mut c = case("nul-byte", 1);
    c.store = c.store.replace(
        "JWT_KEY: CANARY-bundle-nul-byte",
        "JWT_KEY: \"CANARY-bundle-before-nul\\0CANARY-after-nul\"",
    );
    all.push(c);

    all
}

/// One case, written out for both stores.
struct Prepared {
    case: Case,
    manifest: PathBuf,
    store: PathBuf,
    /// The bootstrap file for the file store (the ARN as the store file writes it) and for
    /// moto (the ARN moto assigned).
    bootstrap_file: PathBuf,
    bootstrap_aws: PathBuf,
}

impl Prepared {
    fn on_file(&self) -> Inputs<'_> {
        Inputs {
            manifest: &self.manifest,
            bootstrap: &self.bootstrap_file,
            store: Store::File(&self.store),
        }
    }

    fn on_aws<'a>(&'a self, endpoint: &'a str) -> Inputs<'a> {
        Inputs {
            manifest: &self.manifest,
            bootstrap: &self.bootstrap_aws,
            store: Store::Aws(endpoint),
        }
    }
}

struct World {
    _dir: tempfile::TempDir,
    cases: Vec<Prepared>,
}

/// Every case written once and seeded into the shared moto in one interpreter start.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cases = cases();
        let stores: Vec<PathBuf> = cases
            .iter()
            .map(|case| write(&dir.path().join(case.name), "store.yaml", &case.store))
            .collect();
        let mut arns = moto().seed_many(&stores);
        let cases = cases
            .into_iter()
            .zip(stores)
            .map(|(case, store)| {
                let case_dir = dir.path().join(case.name);
                let assigned = arns.remove(&store).unwrap_or_default();
                let (file_arn, aws_arn) = match &case.arn {
                    Some(arn) => (arn.clone(), arn.clone()),
                    None => (
                        arn_key(case.name),
                        assigned
                            .get(&arn_key(case.name))
                            .cloned()
                            .unwrap_or_else(|| panic!("moto has no ARN for {}", case.name)),
                    ),
                };
                Prepared {
                    manifest: write(&case_dir, "vars.yaml", &case.manifest),
                    bootstrap_file: write(&case_dir, "file.env", bootstrap(case.name, &file_arn)),
                    bootstrap_aws: write(&case_dir, "aws.env", bootstrap(case.name, &aws_arn)),
                    store,
                    case,
                }
            })
            .collect();
        World { _dir: dir, cases }
    })
}

fn prepared(name: &str) -> &'static Prepared {
    world()
        .cases
        .iter()
        .find(|c| c.case.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// What a command line resolves: the manifest, the bootstrap file and the store.
#[derive(Clone, Copy, Debug)]
struct Inputs<'a> {
    manifest: &'a Path,
    bootstrap: &'a Path,
    store: Store<'a>,
}

#[derive(Clone, Copy, Debug)]
enum Store<'a> {
    File(&'a Path),
    /// The AWS store at this endpoint.
    Aws(&'a str),
}

/// The file store's inputs at these paths.
fn input<'a>(manifest: &'a Path, bootstrap: &'a Path, store: &'a Path) -> Inputs<'a> {
    Inputs {
        manifest,
        bootstrap,
        store: Store::File(store),
    }
}

impl Inputs<'_> {
    /// fetch-env on these inputs, sealed, with `home` as HOME.
    fn command(&self, home: &Path) -> std::process::Command {
        let mut command = sealed(home);
        command
            .arg("--manifest")
            .arg(self.manifest)
            .arg("--bootstrap")
            .arg(self.bootstrap);
        match self.store {
            Store::File(path) => {
                command.arg("--store").arg(file_store(path));
            }
            Store::Aws(endpoint) => on_aws(&mut command, endpoint),
        }
        command
    }
}

/// Every command that reports a resolution, with `--verbose`, and whether its stdout holds
/// the resolved values (on success only). `{output}` stands for a fresh `--output` or
/// `--record` path: a file that only a successful run may write, and that never holds a secret
/// unless it is the `--output` of the values.
const COMMANDS: &[(&[&str], bool)] = &[
    (&["--verbose"], true),
    (&["--verbose", "--format", "json"], true),
    (
        &["--verbose", "--format", "file", "--output", "{output}"],
        false,
    ),
    (&["--verbose", "explain"], false),
    (
        &[
            "--verbose",
            "--ssm-lookup",
            "by-name",
            "--secrets-lookup",
            "bundle",
            "explain",
        ],
        false,
    ),
    (&["--verbose", "check", "--remote"], false),
    (&["--verbose", "run", "--", "true"], false),
    (
        &["--verbose", "--format", "json", "--record", "{output}"],
        true,
    ),
    (
        &["--verbose", "run", "--record", "{output}", "--", "true"],
        false,
    ),
    (
        &[
            "--verbose",
            "restart",
            "--compose-command",
            "true",
            "--record",
            "{output}",
        ],
        false,
    ),
    (&["--verbose", "changed", "--record", "{output}"], false),
];

/// Runs every command on `inputs` concurrently (the processes mostly wait), with `extra`
/// arguments (retry settings). Returns each run, whether its stdout may hold values, and its
/// `--output` path.
fn run_all(inputs: Inputs<'_>, extra: &[&str]) -> Vec<(Run, bool, PathBuf)> {
    let home = tempfile::tempdir().unwrap();
    // Kept after the runs (under the target's temporary folder), so that what they wrote can
    // be examined.
    let outputs = tempfile::Builder::new()
        .prefix("redaction-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    std::thread::scope(|scope| {
        let handles: Vec<_> = COMMANDS
            .iter()
            .enumerate()
            .map(|(i, (args, values))| {
                let home = home.path();
                let output = outputs.join(format!("out-{i}.env"));
                scope.spawn(move || {
                    let mut command = inputs.command(home);
                    command.args(extra);
                    for arg in *args {
                        match *arg {
                            "{output}" => command.arg(&output),
                            other => command.arg(other),
                        };
                    }
                    (run_bounded(&mut command), *values, output)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The contract of a failed case: the exit code, nothing on stdout, no canary anywhere, no
/// `--output` file.
fn assert_failed_quietly(runs: &[(Run, bool, PathBuf)], exit: i32) {
    for (run, _, output) in runs {
        run.assert_failed(exit).assert_no_canary(false);
        assert!(!output.exists(), "--output was created\n{}", run.show());
    }
}

#[test]
fn a_successful_resolution_shows_secrets_only_where_they_are_the_output() {
    let case = prepared("ok");
    for inputs in [case.on_file(), case.on_aws(&moto().endpoint)] {
        for (run, values_on_stdout, output) in run_all(inputs, &[]) {
            run.assert_ok().assert_no_canary(values_on_stdout);
            // A record holds no value; nor does anything but the values' `--output`.
            let writes_values = run.args.iter().any(|a| a == "--output");
            if let Ok(written) = std::fs::read_to_string(&output)
                && !writes_values
            {
                assert!(
                    !written.contains(CANARY),
                    "{:?}: a secret reached {}:\n{written}",
                    inputs.store,
                    output.display()
                );
            }
            if run.args.iter().any(|a| a == "--record") && !run.args.contains(&"changed".to_owned())
            {
                assert!(output.is_file(), "no record written\n{}", run.show());
            }
            if values_on_stdout {
                // The canaries are live: they reach the output that is meant to carry them.
                for canary in [
                    "CANARY-ssm-securestring-ok",
                    "CANARY-bundle-ok",
                    "CANARY-arn-user-ok",
                    "CANARY-arn-p@ss:w/rd-ok",
                ] {
                    assert!(
                        run.stdout().contains(canary),
                        "{:?}: {canary} missing\n{}",
                        inputs.store,
                        run.show()
                    );
                }
            }
            if run.args.contains(&"explain".to_owned()) {
                assert!(
                    run.stdout().contains("DB_PASSWORD") && run.stdout().contains("********"),
                    "{:?}: explain prints its table\n{}",
                    inputs.store,
                    run.show()
                );
            }
        }
    }
}

#[test]
fn resolution_failures_show_no_secret_on_either_store() {
    std::thread::scope(|scope| {
        for case in world().cases.iter().filter(|c| c.case.exit != 0) {
            scope.spawn(move || assert_case_failed(case, case.on_file()));
            scope.spawn(move || assert_case_failed(case, case.on_aws(&moto().endpoint)));
        }
    });
}

fn assert_case_failed(case: &Prepared, inputs: Inputs<'_>) {
    let backend = inputs.store;
    let runs = run_all(inputs, &[]);
    for (run, _, _) in &runs {
        assert_eq!(
            run.code,
            Some(case.case.exit),
            "case {} on {backend:?}\n{}",
            case.case.name,
            run.show()
        );
    }
    assert_failed_quietly(&runs, case.case.exit);
    // explain puts its masked table beside the errors on stderr.
    let explain = runs
        .iter()
        .find(|(r, _, _)| r.args.last().is_some_and(|a| a == "explain"))
        .unwrap();
    assert!(
        explain.0.stderr.contains("NAME") && explain.0.stderr.contains("DB_PASSWORD"),
        "case {} on {backend:?}: explain shows its table on stderr\n{}",
        case.case.name,
        explain.0.show()
    );
}

#[test]
fn backend_faults_show_no_secret() {
    let case = prepared("ok");
    let faults = [
        Fault::Throttle,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Reset,
        Fault::Truncated,
        Fault::InvalidJson,
        Fault::Delay(std::time::Duration::from_millis(2500)),
    ];
    std::thread::scope(|scope| {
        for fault in faults {
            scope.spawn(move || {
                let proxy = FaultProxy::start(moto().port);
                proxy.inject(fault, usize::MAX);
                let runs = run_all(case.on_aws(&proxy.endpoint), FAST);
                for (run, _, _) in &runs {
                    assert_eq!(run.code, Some(3), "{fault:?}\n{}", run.show());
                }
                assert_failed_quietly(&runs, 3);
                assert!(proxy.requests() > 0, "{fault:?} was never reached");
            });
        }
    });
    // Nothing listens at the endpoint.
    assert_failed_quietly(&run_all(case.on_aws(&closed_endpoint()), FAST), 3);
}

/// A proxy that asks for credentials (407) on every connection, counting them.
fn proxy_demanding_authentication() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (url, count)
}

/// A proxy URL in the bootstrap file carries a password (a Squid with authentication): it is
/// a secret too, whether the proxy refuses the credentials or cannot be reached.
#[test]
fn a_proxy_password_is_never_shown() {
    let case = prepared("ok");
    let (demanding, connections) = proxy_demanding_authentication();
    let closed = closed_endpoint().trim_start_matches("http://").to_owned();
    for proxy in [demanding, closed] {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(&case.bootstrap_aws).unwrap()
            + &format!("HTTP_PROXY=http://proxyuser:CANARY-proxy-password@{proxy}\n");
        let bootstrap = write(dir.path(), "aws.env", text);
        let endpoint = moto().endpoint.clone();
        let inputs = Inputs {
            bootstrap: &bootstrap,
            ..case.on_aws(&endpoint)
        };
        assert_failed_quietly(&run_all(inputs, FAST), 3);
    }
    assert!(
        connections.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the proxy was used"
    );
}

/// IAM enforced on a private moto: a role that may only read SSM is refused every Secrets
/// Manager call. The keys in the bootstrap file are that role's real keys; the secret key,
/// which moto chose, is checked like a canary. No session token here: moto refuses a user's
/// long-term key sent with one (InvalidClientTokenId) before IAM is consulted, which would
/// bypass the AccessDenied path; the token canary takes part in every other AWS case.
#[test]
fn access_denied_shows_no_secret_nor_the_secret_key() {
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": ["ssm:GetParametersByPath"], "Resource": "*" }]
    });
    let case = prepared("ok");
    let (arns, key_id, secret_key) = moto.iam_setup(&policy.to_string(), &case.store);
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = format!(
        "NAMESPACE=red/ok\nDB_SECRET_ARN={}\nAWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret_key}\n",
        arns[&arn_key("ok")]
    );
    let bootstrap_aws = write(dir.path(), "aws.env", &bootstrap);
    let bundle_only = write(
        dir.path(),
        "bundle.env",
        format!("{bootstrap}FETCH_ENV_SECRETS_LOOKUP=bundle\n"),
    );
    // The prefix mode (BatchGetSecretValue, then ListSecrets), then the canonical bundle only
    // (GetSecretValue), chosen in the bootstrap file so that the by-name command keeps its flag.
    for bootstrap in [&bootstrap_aws, &bundle_only] {
        let inputs = Inputs {
            bootstrap,
            ..case.on_aws(&moto.endpoint)
        };
        let runs = run_all(inputs, &[]);
        assert_failed_quietly(&runs, 3);
        for (run, _, _) in &runs {
            run.assert_none_of(&[&secret_key], false);
            assert!(
                run.stderr.contains("access denied") || run.stderr.contains("was refused"),
                "the AccessDenied path was taken\n{}",
                run.show()
            );
        }
    }
}

/// Runs the commands that read `manifest`, `bootstrap` and `store` on the file store and on
/// the AWS store (pointed at nothing: these inputs fail before any request), and checks the
/// failure contract (exit `exit`) and that no canary shows. A problem of the store file shows
/// only where the store file is read (the file store, and `check` only with `--remote`);
/// elsewhere only the absence of canaries is checked.
fn assert_input_failure(
    manifest: &Path,
    bootstrap: &Path,
    store: &Path,
    exit: i32,
    what: &str,
) -> Vec<Run> {
    let home = tempfile::tempdir().unwrap();
    let endpoint = closed_endpoint();
    let store_problem = what.starts_with("store");
    let commands = [
        &["--verbose"][..],
        &["--verbose", "explain"],
        &["--verbose", "check"],
        &["--verbose", "check", "--remote"],
        &["--verbose", "run", "--", "true"],
    ];
    let runs: Vec<(Run, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = commands
            .iter()
            .flat_map(|args| [(args, Store::File(store)), (args, Store::Aws(&endpoint))])
            .map(|(args, store)| {
                let home = home.path();
                scope.spawn(move || {
                    let inputs = Inputs {
                        manifest,
                        bootstrap,
                        store,
                    };
                    let run = run_bounded(inputs.command(home).args(*args));
                    let offline = args.contains(&"check") && !args.contains(&"--remote");
                    let reads_the_problem =
                        !(store_problem && (matches!(store, Store::Aws(_)) || offline));
                    (run, reads_the_problem)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    runs.into_iter()
        .filter_map(|(run, reads_the_problem)| {
            if reads_the_problem {
                assert_eq!(run.code, Some(exit), "{what}\n{}", run.show());
                run.assert_failed(exit);
            }
            run.assert_no_canary(false);
            reads_the_problem.then_some(run)
        })
        .collect()
}

#[test]
fn malformed_manifests_show_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = write(dir.path(), "b.env", "NAMESPACE=red/manifest\n");
    let store = write(dir.path(), "store.yaml", "parameters: {}\n");
    let head = "service: svc\nvariables:\n  - name: A\n";
    let manifests = [
        // A `default` holding a canary in a file that is malformed elsewhere.
        format!("{head}    default: CANARY-default-beside-a-typo\n    requird: true\n"),
        format!(
            "{head}    default: CANARY-default-1\n  - name: 9BAD\n    default: CANARY-default-2\n"
        ),
        format!("{head}    default: [CANARY-default-in-a-list]\n"),
        format!("{head}    default: {{ CANARY-default-as-a-key: x }}\n"),
        format!("{head}    default: \"CANARY-default-unclosed\n"),
        format!("{head}    default: 'CANARY-default-unclosed-single\n  - name: B\n"),
        format!("{head}    default: CANARY-default-first\n    default: CANARY-default-duplicate\n"),
        format!("{head}\tdefault: CANARY-default-after-a-tab\n"),
        format!("{head}    default: CANARY-default-then-bad-indent\n   sensitive: true\n"),
        format!("{head}    default: !!binary CANARY-default-not-base64\n"),
        format!("{head}    default: CANARY-default: nested-colon\n"),
        format!("{head}    default: \"CANARY-default-bad-escape\\q\"\n"),
        format!("{head}    default: &a CANARY-default-anchor\n    description: *b\n"),
        format!(
            "{head}    default: CANARY-default-with-compose\n    compose: {{ template: '${{NOPE}}' }}\n"
        ),
        // A value where a mapping belongs may be the secret itself: named by its kind only.
        // (`required: maybe` is quoted on purpose: a boolean field cannot hold a secret.)
        format!("{head}    secret: CANARY-secret-written-as-the-value\n"),
        format!("{head}    compose: CANARY-compose-written-as-a-string\n"),
        format!("{head}    file: CANARY-file-written-as-a-string\n"),
        format!("{head}    sensitive: true\n    defualt: CANARY-under-a-misspelt-field\n"),
        format!(
            "{head}    sensitive: true\n    default: [CANARY-default-in-a-list, {{}}]\n    required: maybe\n"
        ),
        format!("{head}    default: >\n CANARY-default-folded-bad-indent\n"),
        "service: svc\nvariables: CANARY-variables-not-a-list\n".to_owned(),
        "service: svc\nvariables:\n  - CANARY-variable-not-a-mapping\n".to_owned(),
        format!("{head}    default: CANARY-default-then-garbage\n]]]\n"),
    ];
    for (i, text) in manifests.iter().enumerate() {
        let manifest = write(dir.path(), &format!("vars-{i}.yaml"), text);
        assert_input_failure(&manifest, &bootstrap, &store, 2, &format!("manifest {i}"));
    }
}

#[test]
fn malformed_bootstrap_lines_show_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: svc\nvariables:\n  - { name: A, source: local }\n",
    );
    let store = write(dir.path(), "store.yaml", "parameters: {}\n");
    let lines: [&[u8]; 20] = [
        b"CANARY-pasted-on-a-line-of-its-own",
        b"export CANARY-export-without-equals",
        b"MY KEY=CANARY-key-with-space",
        b"A=CANARY-unquoted with-space",
        b"A=\"CANARY-unclosed-double",
        b"A='CANARY-unclosed-single",
        b"A=CANARY-command$(id)",
        b"A=`CANARY-backticks`",
        b"A=CANARY-semicolon;b",
        b"A = CANARY-spaces-around-equals",
        b"A=\"CANARY-bad-escape\\q\"",
        b"A=CANARY-backslash\\x",
        b"A=CANARY-joined\"quote\"",
        b"A=$CANARY_EXPANSION",
        b"A=\"${CANARY-expansion-in-double-quotes}\"",
        b"A=CANARY-non-utf8-\xff\xfe",
        b"A=CANARY-nul-\x00-byte",
        b"A=CANARY-carriage\rreturn",
        b"AWS_SECRET_ACCESS_KEY=CANARY-secret-key with-space",
        b"AWS_SESSION_TOKEN=\"CANARY-session-token-unclosed",
    ];
    for (i, line) in lines.iter().enumerate() {
        let mut text = b"NAMESPACE=red/bootstrap\n".to_vec();
        text.extend_from_slice(line);
        text.push(b'\n');
        let bootstrap = write(dir.path(), &format!("b-{i}.env"), text);
        for run in assert_input_failure(&manifest, &bootstrap, &store, 2, &format!("line {i}")) {
            assert!(
                run.stderr.contains(&format!("b-{i}.env:2")),
                "the error names the line\n{}",
                run.show()
            );
        }
    }
}

#[test]
fn invalid_store_files_show_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: svc\nvariables:\n  - { name: A }\n  - { name: K }\n",
    );
    let bootstrap = write(dir.path(), "b.env", "NAMESPACE=ns\n");
    let stores: [(&str, i32); 17] = [
        (
            "parameters:\n  /ns/svc/A: { value: CANARY-p1, type: Bogus }\n",
            2,
        ),
        (
            "parameters:\n  /ns/svc/A: { value: CANARY-p2, typo: SecureString }\n",
            2,
        ),
        ("parameters:\n  /ns/svc/A: [CANARY-p3]\n", 2),
        ("parameters:\n  ns/svc/A: CANARY-p4-path-without-slash\n", 2),
        ("parameters:\n  /ns/svc/A: \"CANARY-p5-unclosed\n", 2),
        (
            "parameters:\n  /ns/svc/A: CANARY-p6\n  /ns/svc/A: CANARY-p7-duplicate\n",
            2,
        ),
        (
            "parameters:\n  /ns/svc/A: { value: CANARY-p8, type: SecureString, extra: CANARY-p9 }\n",
            2,
        ),
        (
            "parameters:\n  /ns/svc/A: \"CANARY-p11-bad-escape\\q\"\n",
            2,
        ),
        ("bogus:\n  x: CANARY-p12-unknown-section\n", 2),
        ("parameters:\n\t/ns/svc/A: CANARY-p13-tab\n", 2),
        ("secrets:\n  ns/svc/secrets: [CANARY-s1-list]\n", 1),
        (
            "secrets:\n  ns/svc/secrets:\n    K: { nested: CANARY-s2 }\n",
            1,
        ),
        ("secrets:\n  ns/svc/secrets:\n    K: [CANARY-s3]\n", 1),
        (
            "secrets:\n  ns/svc/secrets: '{\"K\": \"CANARY-s4-unterminated'\n",
            1,
        ),
        ("secrets:\n  ns/svc/secrets: 'CANARY-s5 is not json'\n", 1),
        (
            "secrets:\n  ns/svc/secrets: '{\"K\": \"CANARY-s6\\q\"}'\n",
            1,
        ),
        (
            "secrets:\n  ns/svc/secrets:\n    K: CANARY-s7\n  ns/svc/secrets:\n    K: CANARY-s8\n",
            2,
        ),
    ];
    for (i, (text, exit)) in stores.iter().enumerate() {
        let store = write(dir.path(), &format!("store-{i}.yaml"), text);
        for run in assert_input_failure(&manifest, &bootstrap, &store, *exit, &format!("store {i}"))
        {
            if *exit == 2 {
                assert!(
                    run.stderr.contains(&format!("store-{i}.yaml:")),
                    "the error names the store file\n{}",
                    run.show()
                );
            }
        }
    }
}

/// A parameter's mapping has two fields, `value` and `type`; anything else in it is most
/// likely a value written in the wrong shape: `{ hunter2 }` (braces taken for quotes, or a
/// template that substituted `{{ password }}` inside its braces) is a mapping whose one key is
/// the password, and `value: { … }` nests it one level down. The error must say that the
/// parameter is malformed without quoting that key.
#[test]
fn a_braced_parameter_value_is_not_quoted_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: svc\nvariables:\n  - { name: A }\n",
    );
    let bootstrap = write(dir.path(), "b.env", "NAMESPACE=ns\n");
    for (i, text) in [
        "parameters:\n  /ns/svc/A: { CANARY-braced-password }\n",
        "parameters:\n  /ns/svc/A:\n    value: { CANARY-nested-password: x }\n",
    ]
    .iter()
    .enumerate()
    {
        let store = write(dir.path(), &format!("store-{i}.yaml"), text);
        let run = run_bounded(&mut input(&manifest, &bootstrap, &store).command(dir.path()));
        run.assert_failed(2);
        assert!(
            run.stderr.contains(&format!("store-{i}.yaml:2:"))
                || run.stderr.contains(&format!("store-{i}.yaml:3:")),
            "{}",
            run.show()
        );
        run.assert_no_canary(false);
    }
}

/// The endpoint URL is shown in `explain`'s header; a URL with a password in it
/// (`http://user:password@host`) must not show that password.
#[test]
fn explain_does_not_show_credentials_in_the_endpoint_url() {
    let case = prepared("ok");
    let endpoint = moto()
        .endpoint
        .replace("http://", "http://user:CANARY-endpoint-password@");
    let home = tempfile::tempdir().unwrap();
    let run = run_bounded(case.on_aws(&endpoint).command(home.path()).arg("explain"));
    run.assert_ok();
    assert!(
        run.stdout().contains("store aws:eu-central-1 via http://"),
        "{}",
        run.show()
    );
    run.assert_no_canary(false);
}

/// Every command on good and bad inputs, plus the ways to misuse the command line, with
/// backtraces on: none panics (`run_bounded` checks each run), and none shows a canary.
#[test]
fn no_command_panics_with_backtraces_enabled() {
    let case = prepared("ok");
    let broken = prepared("bundle-not-json");
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.yaml", "");
    let compose = example("api", "docker-compose.yaml");
    let compose = compose.to_str().unwrap();
    let directory = dir.path().to_str().unwrap();
    let missing = dir.path().join("missing.yaml");
    let missing = missing.to_str().unwrap();
    let output = dir.path().join("out.env");
    let output = output.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec![],
        vec!["--format", "json"],
        vec!["--format", "file"],
        vec!["--format", "file", "--output", output],
        vec!["--format", "export", "--container", "nosuch"],
        vec!["--dry-run"],
        vec!["explain"],
        vec!["explain", "--container", "nosuch"],
        vec!["check"],
        vec!["check", "--remote"],
        vec!["check", "--compose", compose],
        vec!["check", "--compose", missing],
        vec!["check", "--compose", directory],
        vec!["run", "--", "true"],
        vec!["run", "--dry-run", "--", "true"],
        vec!["run", "--"],
        vec!["run", "--", "/nonexistent/command"],
        vec!["run", "--", directory],
        vec!["restart", "--dry-run"],
        vec!["restart", "--compose-command", "/nonexistent/compose"],
        vec!["restart", "--compose-command", " "],
        vec!["restart", "--containers", "nosuch", "--dry-run"],
        vec!["consumers", "DB_PASSWORD"],
        vec!["consumers", "DB_PASSWORD", "--names"],
        vec!["consumers", "NOSUCH"],
        vec!["iam-policy"],
        vec!["iam-policy", "--account-id", "not-an-account"],
        vec!["--help"],
        vec!["--version"],
        vec!["help", "run"],
        vec!["--no-such-flag"],
        vec!["no-such-command"],
        vec!["--format", "yaml"],
        vec!["--aws-max-attempts", "0"],
        vec!["--aws-max-attempts", "-1"],
        vec!["--aws-attempt-timeout", "1e400"],
        vec!["--aws-connect-timeout", "NaN"],
        vec!["--ssm-lookup", "sideways"],
        vec!["--namespace", "//"],
        vec!["--store", "file:"],
        vec!["--store", "bogus"],
    ];
    // The good and the broken case get every command; the unusable inputs get the commands
    // that read them.
    let short: Vec<Vec<&str>> = vec![
        vec![],
        vec!["explain"],
        vec!["check"],
        vec!["check", "--remote"],
        vec!["run", "--", "true"],
    ];
    let (dir_path, empty, missing) = (dir.path(), empty.as_path(), Path::new(missing));
    let everything = [
        (case.on_file(), &commands),
        (broken.on_file(), &commands),
        (input(empty, &case.bootstrap_file, &case.store), &short),
        (input(&case.manifest, empty, &case.store), &short),
        (input(&case.manifest, &case.bootstrap_file, empty), &short),
        (input(dir_path, &case.bootstrap_file, &case.store), &short),
        (input(&case.manifest, dir_path, &case.store), &short),
        (
            input(&case.manifest, &case.bootstrap_file, dir_path),
            &short,
        ),
        (input(missing, &case.bootstrap_file, &case.store), &short),
    ];
    let home = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        for (inputs, commands) in everything {
            let home = home.path();
            scope.spawn(move || {
                for args in commands.iter() {
                    let run = run_bounded(inputs.command(home).args(args));
                    let values = run.args.iter().all(|a| a != "explain" && a != "check");
                    run.assert_no_canary(values);
                    if run.code != Some(0) {
                        assert!(
                            run.stdout.is_empty(),
                            "a failed run printed to stdout\n{}",
                            run.show()
                        );
                    }
                }
            });
        }
    });
    // The AWS store with nothing to reach, and with no credentials anywhere.
    let without_keys = write(
        dir.path(),
        "no-keys.env",
        format!("NAMESPACE=red/ok\nDB_SECRET_ARN={}\n", arn_key("ok")),
    );
    for (bootstrap, words) in [
        (&case.bootstrap_aws, "cannot reach the endpoint"),
        (&without_keys, "credentials"),
    ] {
        let endpoint = closed_endpoint();
        let inputs = Inputs {
            bootstrap,
            ..case.on_aws(&endpoint)
        };
        let run = run_bounded(inputs.command(home.path()).args(FAST));
        run.assert_failed(3).assert_no_canary(false);
        assert!(run.stderr.contains(words), "{}", run.show());
    }
}

/// A reader that closes stdout early (`fetch-env check | head -0`, a pager quit) is not an
/// error (README, Output formats), and certainly no reason to panic: every command that
/// prints, run on the good input with its stdout already closed.
#[test]
fn a_closed_stdout_never_panics() {
    let case = prepared("ok");
    let compose = example("api", "docker-compose.yaml");
    let home = tempfile::tempdir().unwrap();
    let mut panicked = Vec::new();
    for args in [
        &[][..],
        &["--format", "json"],
        &["explain"],
        &["check"],
        &["check", "--remote"],
        &["check", "--compose", compose.to_str().unwrap()],
        &["consumers", "DB_PASSWORD"],
        &["iam-policy"],
        &["--help"],
        &["--version"],
    ] {
        let mut command = case.on_file().command(home.path());
        // iam-policy needs a region to print its policy.
        command.env("AWS_REGION", "eu-central-1").args(args);
        let run = run_with_closed_stdout(&mut command);
        run.assert_no_canary(false);
        if run.panicked() {
            panicked.push(format!("`{}` (exit {:?})", args.join(" "), run.code));
        }
    }
    assert!(
        panicked.is_empty(),
        "fetch-env panicked with stdout closed, for: {}",
        panicked.join(", ")
    );
}

/// The panic path itself: main.rs panics with the text of FETCH_ENV_TEST_PANIC_WITH (debug
/// builds, which `cargo test` runs), here a canary, under every RUST_BACKTRACE setting. The
/// hook prints where the panic happened and exit 101, never the message; no backtrace either
/// (a backtrace holds symbols, not values, but the hook prints none).
#[test]
fn an_injected_panic_shows_no_value_even_with_backtraces() {
    let case = prepared("ok");
    let home = tempfile::tempdir().unwrap();
    for backtrace in ["0", "1", "full"] {
        for args in [&[][..], &["explain"], &["run", "--", "true"], &["check"]] {
            let mut command = case.on_file().command(home.path());
            command
                .env("RUST_BACKTRACE", backtrace)
                .env(
                    "FETCH_ENV_TEST_PANIC_WITH",
                    "CANARY-panic-payload p@ss:w/rd",
                )
                .args(args);
            let run = run_allowing_panic(&mut command);
            assert_eq!(run.code, Some(101), "{}", run.show());
            assert!(
                run.stderr.starts_with("error: internal error at "),
                "{}",
                run.show()
            );
            assert!(run.stdout.is_empty(), "{}", run.show());
            run.assert_none_of(&["CANARY", "p@ss", "panicked"], false);
        }
    }
}

/// `set`, `unset` and `seed`, with `--verbose` and `--dry-run`, succeeding and refused, on both
/// stores: the values written (canaries) never reach stdout or stderr. The writes go to a
/// namespace and a store file of their own, so the other tests' values stay as seeded.
#[test]
fn provisioning_shows_no_value() {
    let case = prepared("ok");
    let dir = tempfile::tempdir().unwrap();
    let store = write(
        dir.path(),
        "store.yaml",
        std::fs::read_to_string(&case.store).unwrap(),
    );
    let values = write(
        dir.path(),
        "values.env",
        "PLAIN_HOST=CANARY-seed-host\nAPI_TOKEN=CANARY-seed-token\n",
    );
    let refused = write(
        dir.path(),
        "refused.env",
        "DB_PASSWORD=CANARY-seed-refused\nUNDECLARED=CANARY-seed-undeclared\n",
    );
    let aws_bootstrap = write(
        dir.path(),
        "aws.env",
        std::fs::read_to_string(&case.bootstrap_aws)
            .unwrap()
            .replace("NAMESPACE=red/ok", "NAMESPACE=red/provisioning"),
    );
    let endpoint = moto().endpoint.clone();
    for inputs in [
        input(&case.manifest, &case.bootstrap_file, &store),
        Inputs {
            manifest: &case.manifest,
            bootstrap: &aws_bootstrap,
            store: Store::Aws(&endpoint),
        },
    ] {
        let home = tempfile::tempdir().unwrap();
        let steps: Vec<(Vec<&str>, &str, i32)> = vec![
            (
                vec!["--verbose", "set", "API_TOKEN"],
                "CANARY-set-token\n",
                0,
            ),
            (
                vec!["--verbose", "--dry-run", "set", "JWT_KEY"],
                "CANARY-dry\n",
                0,
            ),
            (
                vec!["--verbose", "set", "DB_PASSWORD"],
                "CANARY-set-refused\n",
                2,
            ),
            (
                vec!["--verbose", "set", "DATABASE_URL"],
                "CANARY-composed\n",
                2,
            ),
            (vec!["--verbose", "unset", "API_TOKEN"], "", 0),
            (
                vec!["--verbose", "seed", "--from", values.to_str().unwrap()],
                "",
                0,
            ),
            (
                vec![
                    "--verbose",
                    "--dry-run",
                    "seed",
                    "--from",
                    values.to_str().unwrap(),
                ],
                "",
                0,
            ),
            (
                vec!["--verbose", "seed", "--from", refused.to_str().unwrap()],
                "",
                2,
            ),
        ];
        for (args, stdin, exit) in steps {
            let mut command = inputs.command(home.path());
            command.args(&args);
            let run = common::FetchEnv::wrapping(command).run_with_stdin(stdin.as_bytes());
            assert_eq!(
                run.code,
                Some(exit),
                "{:?} {args:?}\n{}",
                inputs.store,
                run.show()
            );
            run.assert_no_canary(false);
        }
    }
}
