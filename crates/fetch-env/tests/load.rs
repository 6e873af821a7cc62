//! A fleet restart: 200 hosts resolve the same 100-variable service at once against moto, with
//! the account's request rate capped by a proxy that throttles everything above it. Backoff must
//! carry every resolve to success within a bounded time; the retries and the total requests are
//! printed (run with `--nocapture` to see them) and recorded in docs/faults.md.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::fault_proxy::FaultProxy;
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

#[test]
fn a_fleet_restart_succeeds_under_a_rate_limit() {
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
            fetch_env()
                .env("AWS_ENDPOINT_URL", &proxy.endpoint)
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env_remove("HTTP_PROXY")
                .env_remove("http_proxy")
                .args(["--store", "aws", "--manifest"])
                .arg(&manifest)
                .arg("--bootstrap")
                .arg(&bootstrap)
                .args(["--format", "json", "--verbose"])
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
