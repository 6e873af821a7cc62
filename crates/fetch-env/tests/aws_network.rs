//! The AWS store's network path against real parts on loopback: moto's server, Debian's
//! tinyproxy as the HTTP proxy (from the bootstrap file or the environment, with `NO_PROXY`),
//! `FaultProxy` between fetch-env and moto for throttling, 5xx, closed connections, slow,
//! truncated and invalid answers, and the credential chain with nothing to find.
//!
//! Which faults the SDK retries and what fetch-env then does is recorded in docs/faults.md;
//! the tests below are that table's evidence. Every failing case also checks that nothing
//! reached stdout and that no secret value of the seeded store (each holds `CANARY`) reached
//! stderr. Only loopback addresses are used: the instance metadata endpoint is always
//! redirected to a loopback port, never left at 169.254.169.254.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::fault_proxy::{Fault, FaultProxy};
use common::moto::{moto, venv_tool};
use common::run::{Run, closed_endpoint};
use common::tinyproxy::Tinyproxy;
use common::{FetchEnv, example, fetch_env};

/// Every secret value of the seeded store holds this; stderr must never show it.
const CANARY: &str = "CANARY";

/// The ARN key of the RDS-style secret as the store file writes it (moto assigns the real one).
const STORE_ARN: &str =
    "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-net-AbC123";

/// The api example's shape under a namespace of its own, every secret value a canary.
const STORE: &str = r#"
parameters:
  /voiceai/net/api/DATABASE_HOST: db.net.example
  /voiceai/net/api/DATABASE_NAME: telapi
  /voiceai/net/api/DATABASE_SSL_MODE:
    type: SecureString
    value: CANARY-ssm-securestring-5d1e
secrets:
  voiceai/net/api/secrets:
    JWT_SIGNING_KEY: CANARY-jwt-8c2f
  "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-net-AbC123":
    username: CANARY-user-1a7b
    password: "CANARY-p@ss:w/rd?#-3e9c"
    engine: postgres
"#;

/// The bootstrap lines every run shares (the ARN is added per run).
const BOOTSTRAP: &str = "ECR_REGISTRY=registry.example\nECR_TAG=2026.11.3\nNAMESPACE=voiceai/net\n";

struct Seeded {
    /// The ARN moto gave the RDS-style secret.
    arn: String,
    /// What every successful run prints: the file store's output for the same store.
    expected: String,
}

/// Seeds the shared moto once per test binary.
fn seeded() -> &'static Seeded {
    static SEEDED: OnceLock<Seeded> = OnceLock::new();
    SEEDED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store.yaml");
        fs::write(&store, STORE).unwrap();
        let arn = moto()
            .seed(&store)
            .remove(STORE_ARN)
            .expect("seed.py returns the secret's ARN");
        let bootstrap = dir.path().join("bootstrap.env");
        fs::write(
            &bootstrap,
            format!("{BOOTSTRAP}DB_MASTER_SECRET_ARN={STORE_ARN}\n"),
        )
        .unwrap();
        let on_file = fetch_env()
            .arg("--manifest")
            .arg(example("api", "vars.yaml"))
            .arg("--bootstrap")
            .arg(&bootstrap)
            .arg("--store")
            .arg(format!("file:{}", store.display()))
            .output()
            .unwrap();
        assert!(
            on_file.status.success(),
            "{}",
            String::from_utf8_lossy(&on_file.stderr)
        );
        let expected = String::from_utf8(on_file.stdout)
            .unwrap()
            .replace(STORE_ARN, &arn);
        assert!(
            expected.contains(CANARY),
            "the seeded values reach the output"
        );
        Seeded { arn, expected }
    })
}

/// One fetch-env run against the seeded store.
struct Case {
    dir: tempfile::TempDir,
    bootstrap: String,
    environment: Vec<(String, String)>,
    args: Vec<String>,
}

impl Case {
    /// fetch-env with `--store aws` against `endpoint`, test keys and region in the environment,
    /// and nothing else from the outside: the environment is cleared, so no proxy, profile or
    /// credential variable of the machine running the tests takes part. The instance metadata
    /// service is disabled and, should anything ask it anyway, pointed at a closed loopback
    /// port: no test may send a packet to 169.254.169.254. The region is in the environment
    /// because with keys in the environment a region from the bootstrap file alone makes the
    /// credential chain ask the metadata service (a bug with a test of its own, below), which
    /// would add requests to the proxy logs these tests count.
    fn new(endpoint: &str) -> Case {
        let seeded = seeded();
        let dir = tempfile::tempdir().unwrap();
        let environment = [
            ("HOME", dir.path().to_str().unwrap()),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_CONFIG_FILE", "/nonexistent/aws/config"),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws/credentials",
            ),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &closed_endpoint()),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        Case {
            dir,
            bootstrap: format!("{BOOTSTRAP}DB_MASTER_SECRET_ARN={}\n", seeded.arn),
            environment,
            args: Vec::new(),
        }
    }

    fn env(mut self, key: &str, value: &str) -> Case {
        self.environment.retain(|(k, _)| k != key);
        self.environment.push((key.to_owned(), value.to_owned()));
        self
    }

    fn env_remove(mut self, key: &str) -> Case {
        self.environment.retain(|(k, _)| k != key);
        self
    }

    fn bootstrap_line(mut self, line: &str) -> Case {
        self.bootstrap.push_str(line);
        self.bootstrap.push('\n');
        self
    }

    fn args(mut self, args: &[&str]) -> Case {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Small retry and timeout settings, so that every failure is quick.
    fn fast(self) -> Case {
        self.args(&[
            "--aws-max-attempts",
            &MAX_ATTEMPTS.to_string(),
            "--aws-connect-timeout",
            "1",
            "--aws-attempt-timeout",
            "1",
            "--aws-operation-timeout",
            "8",
        ])
    }

    fn run(&self) -> Run {
        let bootstrap = self.dir.path().join("bootstrap.env");
        fs::write(&bootstrap, &self.bootstrap).unwrap();
        FetchEnv::bare()
            .envs(self.environment.iter().map(|(k, v)| (k, v)))
            .arg("--manifest")
            .arg(example("api", "vars.yaml"))
            .arg("--bootstrap")
            .arg(&bootstrap)
            .arg("--store")
            .arg("aws")
            .arg("--verbose")
            .args(&self.args)
            .run_within(Duration::from_secs(60))
    }
}

/// Attempts per request in the fault cases.
const MAX_ATTEMPTS: usize = 3;

/// What the network cases read from a run.
trait NetworkRun {
    fn requests(&self) -> Vec<(String, usize)>;
    fn total_requests(&self) -> usize;
    fn assert_resolved(&self);
    fn assert_backend_failure(&self, words: &[&str]);
}

impl NetworkRun for Run {
    /// The requests fetch-env says it sent (`--verbose`), retries included, by operation.
    fn requests(&self) -> Vec<(String, usize)> {
        self.stderr
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("fetch-env: ")?;
                let (operation, counts) = rest.split_once(": ")?;
                let requests = counts.strip_suffix(" requests")?.rsplit(' ').next()?;
                Some((operation.to_owned(), requests.parse().ok()?))
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    fn total_requests(&self) -> usize {
        self.requests().iter().map(|(_, n)| n).sum()
    }

    /// Resolved in full, with exactly the seeded values.
    fn assert_resolved(&self) {
        assert_eq!(self.code, Some(0), "fetch-env failed:\n{}", self.stderr);
        assert_eq!(self.stdout(), seeded().expected, "stderr:\n{}", self.stderr);
    }

    /// Backend unusable: exit 3, nothing on stdout, an error line holding every one of `words`
    /// (case-insensitive), no secret value on stderr.
    fn assert_backend_failure(&self, words: &[&str]) {
        assert_eq!(
            self.code,
            Some(3),
            "expected exit 3\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr
        );
        assert_eq!(
            self.stdout(),
            "",
            "nothing may reach stdout when the backend fails"
        );
        assert_no_secret(&self.stderr);
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert!(
            errors.iter().any(|l| {
                let l = l.to_lowercase();
                words.iter().all(|w| l.contains(&w.to_lowercase()))
            }),
            "no error line says {words:?}:\n{}",
            self.stderr
        );
    }
}

fn assert_no_secret(stderr: &str) {
    assert!(
        !stderr.contains(CANARY),
        "a secret value reached stderr:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// Proxies

/// Every request through tinyproxy, counted three ways: tinyproxy's log, the FaultProxy behind
/// it (which sees exactly what reaches the endpoint) and fetch-env's own `--verbose` count.
fn assert_all_proxied(run: &Run, tinyproxy: &Tinyproxy, endpoint: &FaultProxy) {
    run.assert_resolved();
    let logged = tinyproxy.requests();
    let expected = format!("POST {}/", endpoint.endpoint);
    assert!(
        logged.iter().all(|r| *r == expected),
        "tinyproxy proxied something other than the endpoint: {logged:?}"
    );
    assert!(
        run.total_requests() > 0,
        "--verbose counts the requests:\n{}",
        run.stderr
    );
    assert_eq!(
        logged.len(),
        run.total_requests(),
        "tinyproxy log vs --verbose:\n{}\n{}",
        tinyproxy.log_text(),
        run.stderr
    );
    assert_eq!(
        logged.len(),
        endpoint.requests(),
        "tinyproxy log vs the endpoint's count"
    );
}

#[test]
fn http_proxy_from_the_bootstrap_file_carries_every_request() {
    let tinyproxy = Tinyproxy::start();
    let endpoint = FaultProxy::start(moto().port);
    let run = Case::new(&endpoint.endpoint)
        .bootstrap_line(&format!("HTTP_PROXY={}", tinyproxy.url))
        .run();
    assert_all_proxied(&run, &tinyproxy, &endpoint);
}

/// Not one connection reached tinyproxy; every request reached the endpoint directly.
fn assert_bypassed(run: &Run, tinyproxy: &Tinyproxy, endpoint: &FaultProxy) {
    run.assert_resolved();
    assert_eq!(tinyproxy.connections(), 0, "{}", tinyproxy.log_text());
    assert!(endpoint.requests() > 0);
    assert_eq!(endpoint.requests(), run.total_requests(), "{}", run.stderr);
}

#[test]
fn no_proxy_in_the_bootstrap_file_exempts_loopback() {
    let tinyproxy = Tinyproxy::start();
    let endpoint = FaultProxy::start(moto().port);
    let run = Case::new(&endpoint.endpoint)
        .bootstrap_line(&format!("HTTP_PROXY={}", tinyproxy.url))
        .bootstrap_line("NO_PROXY=127.0.0.1")
        .run();
    assert_bypassed(&run, &tinyproxy, &endpoint);
}

#[test]
fn no_proxy_in_the_environment_exempts_loopback_from_the_bootstrap_proxy() {
    for key in ["NO_PROXY", "no_proxy"] {
        let tinyproxy = Tinyproxy::start();
        let endpoint = FaultProxy::start(moto().port);
        let run = Case::new(&endpoint.endpoint)
            .bootstrap_line(&format!("HTTP_PROXY={}", tinyproxy.url))
            .env(key, "localhost,127.0.0.1")
            .run();
        assert_bypassed(&run, &tinyproxy, &endpoint);
    }
}

#[test]
fn the_proxy_in_the_environment_wins_over_the_bootstrap_file() {
    // The bootstrap file names a proxy nobody listens on: were it used, every request would fail.
    for key in ["HTTP_PROXY", "http_proxy"] {
        let tinyproxy = Tinyproxy::start();
        let endpoint = FaultProxy::start(moto().port);
        let run = Case::new(&endpoint.endpoint)
            .bootstrap_line(&format!("HTTP_PROXY={}", closed_endpoint()))
            .env(key, &tinyproxy.url)
            .fast()
            .run();
        assert_all_proxied(&run, &tinyproxy, &endpoint);
    }
}

// ---------------------------------------------------------------------------------------------
// Faults

/// `--aws-attempt-timeout` in the fault cases is 1 s: this delay outlasts it.
const SLOW: Fault = Fault::Delay(Duration::from_millis(2500));

/// Requests in one resolve of the api example: `GetParametersByPath` (one page),
/// `BatchGetSecretValue` (the bundle prefix) and `GetSecretValue` (the `arn_from` secret).
const REQUESTS: usize = 3;

/// A fault for the first `count` requests (fewer than the attempts each request gets): the SDK
/// retries past it, and the output is exactly the seeded store's.
fn assert_retried_past(fault: Fault, count: usize) {
    assert!(count < MAX_ATTEMPTS);
    let endpoint = FaultProxy::start(moto().port);
    endpoint.inject(fault, count);
    let run = Case::new(&endpoint.endpoint).fast().run();
    run.assert_resolved();
    // Each failed attempt was repeated once, and nothing else was.
    assert_eq!(
        endpoint.requests(),
        REQUESTS + count,
        "{fault:?}: {:?}",
        endpoint.operations()
    );
    assert_eq!(
        run.total_requests(),
        endpoint.requests(),
        "--verbose vs the endpoint:\n{}",
        run.stderr
    );
}

/// The fault on every request: exit 3 once the operation that failed first has used all its
/// attempts, within the configured timeouts, with an error that says `words`.
fn assert_gives_up(fault: Fault, words: &[&str]) -> Run {
    let endpoint = FaultProxy::start(moto().port);
    endpoint.inject(fault, usize::MAX);
    let run = Case::new(&endpoint.endpoint).fast().run();
    run.assert_backend_failure(words);
    let operations = endpoint.operations();
    // Retried up to the limit: the other operations are abandoned as soon as one fails.
    assert_eq!(
        operations.values().max(),
        Some(&MAX_ATTEMPTS),
        "{fault:?}: {operations:?}"
    );
    // Attempts × attempt timeout plus backoff, far below the 8 s operation timeout; a bound,
    // not a benchmark.
    assert!(
        run.elapsed < Duration::from_secs(15),
        "{fault:?} took {:?}",
        run.elapsed
    );
    run
}

#[test]
fn endpoint_down_fails_fast_with_exit_3() {
    let run = Case::new(&closed_endpoint()).fast().run();
    run.assert_backend_failure(&["cannot reach the endpoint", "connection refused"]);
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn throttling_is_retried_then_reported_as_throttling() {
    assert_retried_past(Fault::Throttle, 2);
    assert_gives_up(Fault::Throttle, &["throttled", "ThrottlingException"]);
}

#[test]
fn server_errors_are_retried_then_reported() {
    assert_retried_past(Fault::ServerError, 2);
    assert_gives_up(Fault::ServerError, &["InternalServerError"]);
}

#[test]
fn service_unavailable_is_retried_then_reported() {
    assert_retried_past(Fault::Unavailable, 2);
    assert_gives_up(Fault::Unavailable, &["ServiceUnavailable"]);
}

#[test]
fn a_closed_connection_is_retried_then_reported() {
    assert_retried_past(Fault::Reset, 2);
    assert_gives_up(Fault::Reset, &["connection closed"]);
}

#[test]
fn a_truncated_answer_is_retried_then_reported() {
    assert_retried_past(Fault::Truncated, 2);
    assert_gives_up(Fault::Truncated, &["could not be read"]);
}

#[test]
fn a_slow_answer_is_retried_then_reported_as_a_timeout() {
    assert_retried_past(SLOW, 2);
    // Every attempt hit the 1 s attempt timeout, long before the 8 s operation timeout: the
    // message must point at the attempt timeout, the setting that would help.
    let run = assert_gives_up(SLOW, &["timed out", "attempt"]);
    assert!(
        run.elapsed >= Duration::from_secs(MAX_ATTEMPTS as u64),
        "each attempt waited its 1 s: {:?}",
        run.elapsed
    );
}

/// A 200 whose body is not JSON is not retried by the SDK's standard strategy (it is not
/// transient by any of its classifiers): one bad answer fails the run, with exit 3 and nothing
/// on stdout.
#[test]
fn an_invalid_json_answer_is_not_retried_and_fails_with_exit_3() {
    let endpoint = FaultProxy::start(moto().port);
    endpoint.inject(Fault::InvalidJson, 1);
    let run = Case::new(&endpoint.endpoint).fast().run();
    assert_eq!(run.code, Some(3), "{run:#?}");
    assert_eq!(run.stdout(), "");
    assert_no_secret(&run.stderr);
    let operations = endpoint.operations();
    assert_eq!(
        operations.values().max(),
        Some(&1),
        "nothing is retried: {operations:?}"
    );
}

/// The invalid answer for one operation at a time (the others answered by moto): each gives
/// exit 3 and an error that names the operation and says its answer could not be understood.
#[test]
fn an_invalid_json_answer_is_reported_for_every_operation() {
    let mut wrong = Vec::new();
    for (target, action) in [
        ("AmazonSSM.GetParametersByPath", "ssm:GetParametersByPath"),
        (
            "secretsmanager.BatchGetSecretValue",
            "secretsmanager:BatchGetSecretValue",
        ),
        (
            "secretsmanager.GetSecretValue",
            "secretsmanager:GetSecretValue",
        ),
    ] {
        let faulty = FaultProxy::start(moto().port);
        faulty.inject(Fault::InvalidJson, usize::MAX);
        let router = OperationRouter::start(target, &faulty, moto().port);
        let run = Case::new(&router.endpoint).fast().run();
        assert_eq!(run.code, Some(3), "{target}: {run:#?}");
        assert_eq!(run.stdout(), "");
        assert_no_secret(&run.stderr);
        assert_eq!(faulty.requests(), 1, "{target} is not retried");
        let error = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default();
        let lower = error.to_lowercase();
        if !(error.contains(&format!("{action} "))
            && (lower.contains("answer") || lower.contains("response"))
            && !lower.contains("unknown error"))
        {
            wrong.push(format!("{target}: {error}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "each error should name the operation and say its answer could not be read:\n{}",
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Errors inside a BatchGetSecretValue answer

/// The bundle of the seeded store, which the api example's required `JWT_SIGNING_KEY` comes from.
const BUNDLE: &str = "voiceai/net/api/secrets";

/// A secret under the bundle prefix that the service listed and could not read any more: it was
/// deleted in between.
const VANISHED: &str = "voiceai/net/api/vanished";

/// The `BatchGetSecretValue` answers of moto, each with `errors` (secret, code) as its
/// `Errors` and without the values of the secrets those errors name: what AWS answers when it
/// listed a secret under the prefix and then could not read it.
fn with_batch_errors(proxy: &FaultProxy, errors: &'static [(&'static str, &'static str)]) {
    proxy.rewrite_answers("secretsmanager.BatchGetSecretValue", move |body| {
        let mut answer: serde_json::Value = serde_json::from_str(body).expect("moto's JSON");
        let values = answer["SecretValues"]
            .as_array_mut()
            .expect("SecretValues in moto's answer");
        assert!(
            values.iter().any(|v| v["Name"] == BUNDLE),
            "moto answers with the bundle: {body}"
        );
        values.retain(|v| !errors.iter().any(|(secret, _)| v["Name"] == *secret));
        answer["Errors"] = errors
            .iter()
            .map(|(secret, code)| {
                serde_json::json!({
                    "SecretId": secret,
                    "ErrorCode": code,
                    "Message": format!("{code} for {secret} (injected)"),
                })
            })
            .collect();
        answer.to_string()
    });
}

/// Exit 3 naming `secret` and `code`; the vanished secret is not reported as a failure.
fn assert_batch_error_fails(errors: &'static [(&'static str, &'static str)], code: &str) {
    let endpoint = FaultProxy::start(moto().port);
    with_batch_errors(&endpoint, errors);
    let run = Case::new(&endpoint.endpoint).fast().run();
    run.assert_backend_failure(&["secretsmanager:BatchGetSecretValue", BUNDLE, code]);
    assert_eq!(endpoint.rewritten(), 1, "{:?}", endpoint.operations());
    assert!(
        !run.stderr
            .lines()
            .any(|l| l.starts_with("error: ") && l.contains(VANISHED)),
        "a vanished secret is no failure:\n{}",
        run.stderr
    );
}

/// Only the first error of a page used to be read: a not-found first hid the access denial
/// behind it, and the bundle's variables silently fell back to their defaults.
#[test]
fn a_second_batch_error_is_not_hidden_by_a_first_not_found() {
    assert_batch_error_fails(
        &[
            (VANISHED, "ResourceNotFoundException"),
            (BUNDLE, "AccessDeniedException"),
        ],
        "AccessDeniedException",
    );
}

#[test]
fn a_first_batch_error_fails_the_run_whatever_follows_it() {
    assert_batch_error_fails(
        &[
            (BUNDLE, "AccessDeniedException"),
            (VANISHED, "ResourceNotFoundException"),
        ],
        "AccessDeniedException",
    );
}

#[test]
fn a_decryption_failure_behind_a_first_not_found_is_not_hidden() {
    assert_batch_error_fails(
        &[
            (VANISHED, "ResourceNotFoundException"),
            (BUNDLE, "DecryptionFailure"),
        ],
        "DecryptionFailure",
    );
}

/// Every error that is no vanished secret is named, one line each.
#[test]
fn every_unreadable_secret_of_a_batch_is_named() {
    let endpoint = FaultProxy::start(moto().port);
    with_batch_errors(
        &endpoint,
        &[
            (BUNDLE, "DecryptionFailure"),
            ("voiceai/net/api/denied", "AccessDeniedException"),
        ],
    );
    let run = Case::new(&endpoint.endpoint).fast().run();
    run.assert_backend_failure(&[BUNDLE, "DecryptionFailure", "kms:Decrypt"]);
    run.assert_backend_failure(&[
        "voiceai/net/api/denied",
        "AccessDeniedException",
        "grant secretsmanager:GetSecretValue",
    ]);
}

/// A secret deleted between the service's listing and its read is simply absent, as it would
/// be a moment later: the run resolves as before.
#[test]
fn a_secret_that_vanished_between_listing_and_reading_is_tolerated() {
    let endpoint = FaultProxy::start(moto().port);
    with_batch_errors(&endpoint, &[(VANISHED, "ResourceNotFoundException")]);
    let run = Case::new(&endpoint.endpoint).fast().run();
    run.assert_resolved();
    assert_eq!(endpoint.rewritten(), 1, "{:?}", endpoint.operations());
}

// ---------------------------------------------------------------------------------------------
// The aws CLI's settings: retries and the app id

/// The aws CLI of the test venv reading the seeded store's SSM path from `endpoint`, with
/// moto's keys, no config file but the one `environment` may name, and `environment`.
fn aws_cli(endpoint: &str, environment: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(venv_tool("aws"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        // aws CLI v1 reads the region from AWS_DEFAULT_REGION only.
        .env("AWS_DEFAULT_REGION", "eu-central-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(environment.iter().copied())
        .args([
            "ssm",
            "get-parameters-by-path",
            "--path",
            "/voiceai/net/api",
        ])
        .args(["--recursive", "--endpoint-url", endpoint])
        .output()
        .expect("run the aws CLI")
}

/// A config file whose default profile holds `lines`.
fn config_file(dir: &std::path::Path, lines: &str) -> String {
    let path = dir.join("config");
    fs::write(
        &path,
        format!("[default]\nregion = eu-central-1\n{lines}\n"),
    )
    .unwrap();
    path.display().to_string()
}

/// Requests for one `GetParametersByPath` that is throttled on every attempt (the other
/// operations reach moto): made by the aws CLI, when `cli` holds, and by fetch-env, with the
/// same `environment`, and with `case` changing fetch-env's run.
fn throttled_attempts(
    environment: &[(&str, &str)],
    cli: bool,
    case: impl FnOnce(Case) -> Case,
) -> (Option<usize>, usize) {
    let target = "AmazonSSM.GetParametersByPath";
    let by_cli = cli.then(|| {
        let faulty = FaultProxy::start(moto().port);
        faulty.inject(Fault::Throttle, usize::MAX);
        let router = OperationRouter::start(target, &faulty, moto().port);
        let output = aws_cli(&router.endpoint, environment);
        assert!(
            !output.status.success(),
            "the aws CLI got past a throttled operation"
        );
        faulty.requests()
    });
    let faulty = FaultProxy::start(moto().port);
    faulty.inject(Fault::Throttle, usize::MAX);
    let router = OperationRouter::start(target, &faulty, moto().port);
    let mut fetch = Case::new(&router.endpoint).args(&[
        "--aws-connect-timeout",
        "1",
        "--aws-attempt-timeout",
        "2",
    ]);
    for (key, value) in environment {
        fetch = fetch.env(key, value);
    }
    let run = case(fetch).run();
    run.assert_backend_failure(&["throttled"]);
    (by_cli, faulty.requests())
}

#[test]
fn aws_max_attempts_from_the_environment_and_the_profile_count_as_in_the_aws_cli() {
    let dir = tempfile::tempdir().unwrap();
    let two = config_file(dir.path(), "max_attempts = 2");
    for environment in [
        vec![("AWS_MAX_ATTEMPTS", "3")],
        vec![("AWS_CONFIG_FILE", two.as_str())],
        // The environment wins over the profile.
        vec![("AWS_CONFIG_FILE", two.as_str()), ("AWS_MAX_ATTEMPTS", "3")],
    ] {
        let (cli, fetch_env) = throttled_attempts(&environment, true, |c| c);
        assert_eq!(Some(fetch_env), cli, "{environment:?}");
    }
}

#[test]
fn the_retry_modes_of_the_aws_cli_are_accepted_from_the_environment_and_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let adaptive = config_file(dir.path(), "retry_mode = adaptive\nmax_attempts = 2");
    for environment in [
        vec![("AWS_RETRY_MODE", "standard"), ("AWS_MAX_ATTEMPTS", "2")],
        vec![("AWS_RETRY_MODE", "legacy"), ("AWS_MAX_ATTEMPTS", "2")],
        vec![("AWS_CONFIG_FILE", adaptive.as_str())],
    ] {
        let (cli, fetch_env) = throttled_attempts(&environment, true, |c| c);
        assert_eq!(Some(fetch_env), cli, "{environment:?}");
    }
}

#[test]
fn fetch_env_settings_win_over_the_aws_cli_settings() {
    let environment = [("AWS_MAX_ATTEMPTS", "3")];
    let own = |c: Case| c.env("FETCH_ENV_AWS_MAX_ATTEMPTS", "2");
    assert_eq!(throttled_attempts(&environment, false, own).1, 2);
    let flag = |c: Case| {
        c.env("FETCH_ENV_AWS_MAX_ATTEMPTS", "2")
            .args(&["--aws-max-attempts", "1"])
    };
    assert_eq!(throttled_attempts(&environment, false, flag).1, 1);
    // The bootstrap file comes after the environment, before the profile.
    let from_file = |c: Case| c.bootstrap_line("AWS_MAX_ATTEMPTS=2");
    assert_eq!(throttled_attempts(&[], false, from_file).1, 2);
    assert_eq!(throttled_attempts(&environment, false, from_file).1, 3);
}

#[test]
fn retry_settings_the_aws_cli_refuses_are_refused_with_exit_2_naming_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "retry_mode = sometimes");
    for (environment, words) in [
        (
            vec![("AWS_RETRY_MODE", "sometimes")],
            "AWS_RETRY_MODE (environment) must be",
        ),
        (
            vec![("AWS_CONFIG_FILE", config.as_str())],
            "AWS_RETRY_MODE (`retry_mode` of profile `default`) must be",
        ),
        (
            vec![("AWS_MAX_ATTEMPTS", "many")],
            "AWS_MAX_ATTEMPTS (environment) must be a whole number",
        ),
    ] {
        let cli = aws_cli(&moto().endpoint, &environment);
        assert!(
            !cli.status.success(),
            "the aws CLI accepted {environment:?}"
        );
        let mut case = Case::new(&moto().endpoint);
        for (key, value) in &environment {
            case = case.env(key, value);
        }
        let run = case.run();
        run.assert_failed(2);
        assert!(run.stderr.contains(words), "`{words}` in:\n{}", run.show());
    }
}

/// The `app/…` part of a user agent.
fn app_id(user_agent: &str) -> Option<&str> {
    user_agent
        .split(' ')
        .find_map(|part| part.strip_prefix("app/"))
}

/// The app ids of the user agents `proxy` saw; fails unless every request carried the same.
fn one_app_id(proxy: &FaultProxy) -> String {
    let agents = proxy.user_agents();
    assert!(!agents.is_empty(), "no request seen");
    let ids: std::collections::BTreeSet<Option<&str>> = agents.iter().map(|a| app_id(a)).collect();
    assert_eq!(ids.len(), 1, "requests with different app ids: {agents:?}");
    ids.into_iter()
        .next()
        .flatten()
        .unwrap_or_else(|| panic!("no app id in {agents:?}"))
        .to_owned()
}

#[test]
fn every_request_carries_the_services_app_id_unless_the_aws_cli_settings_name_another() {
    let proxy = FaultProxy::start(moto().port);
    Case::new(&proxy.endpoint).run().assert_resolved();
    // `/` may not be in a user agent's app id: the aws CLI makes it `-`, and so does fetch-env.
    let expected = {
        let cli_proxy = FaultProxy::start(moto().port);
        let output = aws_cli(
            &cli_proxy.endpoint,
            &[("AWS_SDK_UA_APP_ID", "fetch-env/api")],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        one_app_id(&cli_proxy)
    };
    assert_eq!(one_app_id(&proxy), expected);
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "sdk_ua_app_id = from-the-profile");
    for environment in [
        vec![("AWS_SDK_UA_APP_ID", "ops/boot team#7")],
        vec![("AWS_CONFIG_FILE", config.as_str())],
        vec![
            ("AWS_CONFIG_FILE", config.as_str()),
            ("AWS_SDK_UA_APP_ID", "environment-wins"),
        ],
    ] {
        let cli_proxy = FaultProxy::start(moto().port);
        let output = aws_cli(&cli_proxy.endpoint, &environment);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let proxy = FaultProxy::start(moto().port);
        let mut case = Case::new(&proxy.endpoint);
        for (key, value) in &environment {
            case = case.env(key, value);
        }
        case.run().assert_resolved();
        assert_eq!(
            one_app_id(&proxy),
            one_app_id(&cli_proxy),
            "{environment:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials

/// Removes every credential source but the instance metadata service, which is left enabled and
/// pointed at `imds` (loopback).
fn without_credentials(case: Case, imds: &str) -> Case {
    case.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds)
}

#[test]
fn no_credentials_anywhere_fails_fast_with_a_hint() {
    // The metadata endpoint refuses connections (a closed port), then accepts them and never
    // answers (off EC2, where nothing answers at 169.254.169.254).
    let silent = Listener::start(true);
    let closed = closed_endpoint();
    for imds in [closed.clone(), silent.endpoint.clone()] {
        let endpoint = FaultProxy::start(moto().port);
        let run = without_credentials(Case::new(&endpoint.endpoint), &imds).run();
        run.assert_backend_failure(&["credentials", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
        // A metadata service that refuses connections is no hop-limit problem, in a container
        // or not (the one that never answers is: release.rs runs that case in a container).
        if imds == closed {
            assert!(!run.stderr.contains("hop limit"), "{}", run.stderr);
        }
        assert!(
            run.elapsed < Duration::from_secs(4),
            "metadata at {imds}: took {:?}",
            run.elapsed
        );
        assert_eq!(
            endpoint.requests(),
            0,
            "no request is sent without credentials"
        );
    }
}

#[test]
fn credentials_from_the_bootstrap_file_alone_are_used() {
    let imds = closed_endpoint();
    let keys =
        "AWS_ACCESS_KEY_ID=AKIAFETCHENVTEST\nAWS_SECRET_ACCESS_KEY=CANARY-secret-access-key-77f0";
    let run = without_credentials(Case::new(&moto().endpoint), &imds)
        .bootstrap_line(keys)
        .run();
    run.assert_resolved();
    // A failure with the same keys never shows the secret key.
    let run = without_credentials(Case::new(&closed_endpoint()), &imds)
        .bootstrap_line(keys)
        .fast()
        .run();
    run.assert_backend_failure(&["cannot reach the endpoint"]);
}

/// Keys in the environment and the region in the bootstrap file (where cloud-init puts it):
/// nothing needs the instance metadata service, which off EC2 does not answer.
#[test]
fn keys_in_the_environment_with_the_region_in_the_bootstrap_file_never_ask_instance_metadata() {
    let imds = Listener::start(false);
    let run = Case::new(&moto().endpoint)
        .env_remove("AWS_REGION")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.endpoint)
        .bootstrap_line("AWS_REGION=eu-central-1")
        .run();
    run.assert_resolved();
    assert_eq!(
        imds.connections(),
        0,
        "the instance metadata service was asked ({:?}):\n{}",
        run.elapsed,
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Loopback helpers

/// A loopback listener that counts connections and either closes them at once or holds them
/// open without a word.
struct Listener {
    endpoint: String,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    fn start(hold: bool) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (Arc::clone(&connections), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                count.fetch_add(1, Ordering::SeqCst);
                if hold {
                    held.extend(stream.ok());
                }
            }
        });
        Listener {
            endpoint,
            connections,
            stop,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

/// Sends the requests of one API operation (by `X-Amz-Target`) to a `FaultProxy` and every
/// other request to the server: a fault for that operation alone, whatever order the
/// concurrent requests arrive in.
struct OperationRouter {
    endpoint: String,
    stop: Arc<AtomicBool>,
}

impl OperationRouter {
    fn start(target: &'static str, faulty: &FaultProxy, healthy_port: u16) -> OperationRouter {
        let faulty_port: u16 = faulty.endpoint.rsplit(':').next().unwrap().parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = stream else { continue };
                std::thread::spawn(move || route(client, target, faulty_port, healthy_port));
            }
        });
        OperationRouter { endpoint, stop }
    }
}

impl Drop for OperationRouter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

/// One request: read it whole, pass it on, copy the answer back until the upstream closes.
fn route(mut client: TcpStream, target: &str, faulty_port: u16, healthy_port: u16) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.strip_prefix(name)
                .map(|v| v.trim_start_matches(':').trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let port = if header("x-amz-target").as_deref() == Some(&target.to_ascii_lowercase()) {
        faulty_port
    } else {
        healthy_port
    };
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    if upstream.write_all(&request).is_ok() {
        let _ = std::io::copy(&mut upstream, &mut client);
    }
    let _ = client.shutdown(Shutdown::Both);
}
