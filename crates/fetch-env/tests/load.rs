//! A fleet restart: 200 hosts resolve the same 100-variable service at once against moto, with
//! the account's request rate capped by a proxy that throttles everything above it. Backoff must
//! carry every resolve to success within a bounded time; the retries and the total requests are
//! printed (run with `--nocapture` to see them) and recorded in docs/faults.md. Also: how many
//! name batches one resolve has in flight at once.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fault_proxy::{Fault, FaultProxy};
use common::fetch_env;
use common::moto::moto;

const HOSTS: usize = 200;
const RATE: usize = 150;
const VARIABLES: usize = 100;

/// A 100-variable service: 80 SSM parameters (every fourth a SecureString), 12 keys in two
/// bundles, username and password from one RDS-style secret, and a composed URL.
fn service(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut manifest = String::from(
        "service: api\nvariables:\n  - { name: DB_ARN, source: local, required: true }\n",
    );
    let mut store = String::from("parameters:\n");
    for i in 0..80 {
        manifest.push_str(&format!("  - {{ name: P{i:02}, required: true }}\n"));
        if i % 4 == 0 {
            store.push_str(&format!(
                "  /load/fleet/api/P{i:02}: {{ value: secure-{i}, type: SecureString }}\n"
            ));
        } else {
            store.push_str(&format!("  /load/fleet/api/P{i:02}: value-{i}\n"));
        }
    }
    store.push_str("secrets:\n");
    for bundle in 0..2 {
        store.push_str(&format!("  load/fleet/api/bundle{bundle}:\n"));
        for i in 0..6 {
            let name = format!("B{bundle}{i}");
            manifest.push_str(&format!("  - {{ name: {name}, required: true }}\n"));
            store.push_str(&format!("    {name}: bundle-{bundle}-{i}\n"));
        }
    }
    manifest.push_str("  - { name: DB_USER, required: true, secret: { arn_from: DB_ARN, type: json, key: username } }\n");
    manifest.push_str("  - { name: DB_PASSWORD, required: true, secret: { arn_from: DB_ARN, type: json, key: password } }\n");
    manifest.push_str("  - name: DATABASE_URL\n    required: true\n    compose: { template: 'postgresql://${DB_USER}:${DB_PASSWORD}@db/app', encode: [DB_USER, DB_PASSWORD] }\n");
    for i in 0..(VARIABLES - 80 - 12 - 4) {
        manifest.push_str(&format!("  - {{ name: D{i}, default: d{i} }}\n"));
    }
    store.push_str("  'arn:aws:secretsmanager:eu-central-1:123456789012:secret:load-fleet-rds-AbC123': { username: admin, password: 'p@ss:w/rd' }\n");
    let manifest_path = dir.join("vars.yaml");
    let store_path = dir.join("store.yaml");
    std::fs::write(&manifest_path, manifest).unwrap();
    std::fs::write(&store_path, store).unwrap();
    (manifest_path, store_path)
}

/// The tests that load moto run one at a time: a resolve counted alone must not wait behind
/// 200 others at moto, or its attempts time out and are retried.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One resolve of `manifest` through `proxy`, printing JSON.
fn resolve(proxy: &FaultProxy, manifest: &Path, bootstrap: &Path) -> Command {
    let mut command = fetch_env();
    command
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .args(["--store", "aws", "--manifest"])
        .arg(manifest)
        .arg("--bootstrap")
        .arg(bootstrap)
        .args(["--format", "json"]);
    command
}

#[test]
fn a_fleet_restart_succeeds_under_a_rate_limit() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let moto = moto();
    let dir = tempfile::tempdir().unwrap();
    let (manifest, store) = service(dir.path());
    let arns = moto.seed(&store);
    let arn = arns.values().next().unwrap().clone();
    let bootstrap = dir.path().join("bootstrap.env");
    std::fs::write(
        &bootstrap,
        format!("NAMESPACE=load/fleet\nAWS_REGION=eu-central-1\nDB_ARN={arn}\n"),
    )
    .unwrap();
    let proxy = FaultProxy::start(moto.port);
    proxy.limit_rate(RATE);

    let started = Instant::now();
    let children: Vec<Child> = (0..HOSTS)
        .map(|_| {
            resolve(&proxy, &manifest, &bootstrap)
                .arg("--verbose")
                // moto, one Python process on a small machine, answers 200 hosts slowly; a long
                // attempt timeout keeps the test about throttling and backoff, not moto's queue.
                .args(["--aws-attempt-timeout", "30"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn fetch-env")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let elapsed = started.elapsed();

    let failures: Vec<String> = outputs
        .iter()
        .filter(|o| !o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {HOSTS} resolves failed, e.g.:\n{}",
        failures.len(),
        failures
            .first()
            .map(|f| f
                .lines()
                .filter(|l| l.starts_with("error"))
                .collect::<Vec<_>>()
                .join("\n"))
            .unwrap_or_default()
    );
    let first = &outputs[0].stdout;
    assert!(
        outputs.iter().all(|o| &o.stdout == first),
        "every host resolves the same values"
    );
    let json: serde_json::Value = serde_json::from_slice(first).unwrap();
    assert_eq!(
        json["DATABASE_URL"],
        "postgresql://admin:p%40ss%3Aw%2Frd@db/app"
    );

    // The minimum per host: 8 parameter pages + 1 empty page (80 is a multiple of 10), one
    // BatchGetSecretValue, one GetSecretValue.
    let minimal = HOSTS * (9 + 1 + 1);
    let requests = proxy.requests();
    let throttled = proxy.throttled();
    println!(
        "{HOSTS} concurrent resolves of a {VARIABLES}-variable service at most {RATE} requests/s: all succeeded in {:.1} s; {requests} requests in all ({minimal} needed, {throttled} throttled and retried)",
        elapsed.as_secs_f64()
    );
    // What the hosts themselves counted (`--verbose`: operations and requests, retries included).
    let mut by_operation: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for output in &outputs {
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            let Some((operation, counts)) = line
                .strip_prefix("fetch-env: ")
                .and_then(|l| l.split_once(": "))
            else {
                continue;
            };
            let numbers: Vec<usize> = counts
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            if let [calls, sent] = numbers[..]
                && counts.contains("calls")
            {
                let entry = by_operation.entry(operation.to_owned()).or_default();
                entry.0 += calls;
                entry.1 += sent;
            }
        }
    }
    println!(
        "counted by the hosts: {by_operation:?}; by the proxy: {:?}",
        proxy.operations()
    );
    let sent: usize = by_operation.values().map(|(_, sent)| sent).sum();
    assert_eq!(
        sent, requests,
        "the hosts count every request the proxy saw"
    );
    // A hang guard, not a benchmark: the work is ~2200 requests at 150 a second.
    assert!(elapsed < Duration::from_secs(180), "took {elapsed:?}");
}

/// One resolve of the service by name, every request held 300 ms by the proxy so that those
/// sent together overlap there; the proxy counts how many `GetParameters` it held at once.
fn most_batches_at_once(extra: &[&str]) -> usize {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The same service under a namespace of its own, seeded once for both runs.
    static SEEDED: std::sync::OnceLock<(tempfile::TempDir, String)> = std::sync::OnceLock::new();
    let (dir, arn) = SEEDED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (_, store) = service(dir.path());
        for file in ["vars.yaml", "store.yaml"] {
            let path = dir.path().join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                &path,
                text.replace("load/fleet", "load/batches")
                    .replace("load-fleet-rds", "load-batches-rds"),
            )
            .unwrap();
        }
        let arn = moto().seed(&store).values().next().unwrap().clone();
        (dir, arn)
    });
    let moto = moto();
    let manifest = dir.path().join("vars.yaml");
    let bootstrap = dir.path().join("bootstrap.env");
    std::fs::write(
        &bootstrap,
        format!("NAMESPACE=load/batches\nAWS_REGION=eu-central-1\nDB_ARN={arn}\n"),
    )
    .unwrap();
    let proxy = FaultProxy::start(moto.port);
    proxy.inject(Fault::Delay(Duration::from_millis(300)), usize::MAX);
    let output = resolve(&proxy, &manifest, &bootstrap)
        .args(["--ssm-lookup", "by-name"])
        // Held 300 ms by the proxy and served by one moto: no attempt may time out and be
        // retried, or an abandoned attempt and its retry would both be counted in flight.
        .args(["--aws-attempt-timeout", "30"])
        .args(extra)
        .output()
        .expect("run fetch-env");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["P79"], "value-79", "every batch was answered");
    // 80 parameters, 12 bundle keys and 2 arn_from keys asked for by name: 10 batches.
    assert_eq!(proxy.operations()["AmazonSSM.GetParameters"], 10);
    proxy.most_in_flight("AmazonSSM.GetParameters")
}

#[test]
fn name_batches_in_flight_are_capped_at_the_setting() {
    // The default (16) leaves the ten batches of a 100-variable service in one round...
    assert_eq!(most_batches_at_once(&[]), 10);
    // ...and the setting caps them: two at a time, then two more as each pair is answered.
    assert_eq!(most_batches_at_once(&["--aws-max-in-flight", "2"]), 2);
}

#[test]
fn a_max_in_flight_that_is_no_whole_number_from_1_to_100_is_refused() {
    for bad in ["0", "101", "2.5", "many"] {
        let output = fetch_env()
            .env("FETCH_ENV_AWS_MAX_IN_FLIGHT", bad)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["--store", "aws", "--manifest"])
            .arg(common::example("api", "vars.yaml"))
            .arg("--bootstrap")
            .arg(common::example("api", "bootstrap.env"))
            .output()
            .expect("run fetch-env");
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("FETCH_ENV_AWS_MAX_IN_FLIGHT"),
            "{bad}: {stderr}"
        );
    }
}
