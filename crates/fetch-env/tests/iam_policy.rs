//! `iam-policy`, proved three ways on the api example, in every lookup mode:
//!
//! 1. actions: on moto with IAM enforced, a user holding the generated policy resolves, and a
//!    user missing any one of its actions fails with exit 3 and a message naming it. moto
//!    evaluates every request against the resource `*` only, so the test widens each statement's
//!    resources to `*` (the generated policy itself is never widened). Two actions of the prefix
//!    mode are proved otherwise: without `BatchGetSecretValue` the store falls back to
//!    `ListSecrets` and one `GetSecretValue` per secret, so the resolve succeeds at the cost of
//!    more requests (shown by `--verbose`); `ListSecrets` is required by AWS for a
//!    `BatchGetSecretValue` with `Filters`, which moto does not model, so what moto can show is
//!    that without both the resolve fails naming both;
//! 2. resources: the exact policy text, ARN by ARN;
//! 3. parliament, an IAM policy auditor, finds nothing in any of them.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::moto::{Moto, venv};
use common::{example, fetch_env};
use serde_json::Value;

const INSTALL: &str =
    "scripts/install-test-deps.sh (it installs moto[server] and parliament into target/test-venv)";

/// The lookup modes, as flags.
const MODES: &[(&str, &[&str])] = &[
    ("default", &[]),
    ("bundle", &["--secrets-lookup", "bundle"]),
    ("by-name", &["--ssm-lookup", "by-name"]),
    (
        "by-name-bundle",
        &["--ssm-lookup", "by-name", "--secrets-lookup", "bundle"],
    ),
];

/// The ARN `examples/api/bootstrap.env` names in `DB_MASTER_SECRET_ARN`.
const MASTER_ARN: &str = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-3f1c1e2a-9b8c-4d5e-8f70-0123456789ab-AbC123";

/// `fetch-env --manifest M --bootstrap B iam-policy ARGS…`.
fn iam_policy(manifest: &Path, bootstrap: &Path, args: &[&str]) -> Output {
    fetch_env()
        .arg("--manifest")
        .arg(manifest)
        .arg("--bootstrap")
        .arg(bootstrap)
        .arg("iam-policy")
        .args(args)
        .output()
        .expect("run fetch-env")
}

/// The policy of the api example with `bootstrap`, in the mode of `args`; stderr must hold only
/// the KMS note.
fn api_policy(bootstrap: &Path, args: &[&str]) -> String {
    let output = iam_policy(&example("api", "vars.yaml"), bootstrap, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    assert!(
        stderr.lines().all(|l| l.starts_with("note: ")),
        "{args:?}: {stderr}"
    );
    String::from_utf8(output.stdout).expect("UTF-8 policy")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The actions of a statement (a string or a list).
fn statement_actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(action) => vec![action.clone()],
        list => serde_json::from_value(list.clone()).expect("a list of actions"),
    }
}

/// The policy with every statement's resources widened to `*` (what moto can match), and the
/// actions in `without` taken out (a statement left with none is dropped).
fn widened(policy: &Value, without: &[String]) -> Value {
    let statements: Vec<Value> = policy["Statement"]
        .as_array()
        .expect("a Statement list")
        .iter()
        .filter_map(|s| {
            let actions: Vec<String> = statement_actions(s)
                .into_iter()
                .filter(|a| !without.contains(a))
                .collect();
            if actions.is_empty() {
                return None;
            }
            let mut s = s.clone();
            s["Action"] = Value::from(actions);
            s["Resource"] = Value::from("*");
            Some(s)
        })
        .collect();
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The distinct actions of a policy, in statement order.
fn actions(policy: &Value) -> Vec<String> {
    let mut actions: Vec<String> = Vec::new();
    for statement in policy["Statement"].as_array().expect("a Statement list") {
        for action in statement_actions(statement) {
            if !actions.contains(&action) {
                actions.push(action);
            }
        }
    }
    actions
}

const BATCH: &str = "secretsmanager:BatchGetSecretValue";
const LIST: &str = "secretsmanager:ListSecrets";

struct User {
    mode: &'static str,
    flags: &'static [&'static str],
    /// The actions taken out of the (widened) policy.
    without: Vec<String>,
    key_id: String,
    secret: String,
}

/// Seeds a private IAM-enforcing moto with the api example's store and creates one user per
/// entry of `policies`; returns the ARN map and each user's keys.
fn iam_users(
    moto: &Moto,
    policies: &serde_json::Map<String, Value>,
) -> (HashMap<String, String>, HashMap<String, (String, String)>) {
    let policies: serde_json::Map<String, Value> = policies
        .iter()
        .map(|(name, policy)| (name.clone(), Value::from(policy.to_string())))
        .collect();
    let store = example("api", "store.yaml");
    let stdout = moto.seed_py(&[
        "--iam-users",
        &Value::Object(policies).to_string(),
        store.to_str().expect("UTF-8 path"),
    ]);
    let answer: Value = serde_json::from_slice(&stdout).expect("JSON from seed.py");
    let arns = serde_json::from_value(answer["arns"].clone()).expect("ARN map");
    let users = answer["users"]
        .as_object()
        .expect("users")
        .iter()
        .map(|(name, keys)| {
            let text = |k: &str| keys[k].as_str().expect("a key").to_owned();
            (
                name.clone(),
                (text("access_key_id"), text("secret_access_key")),
            )
        })
        .collect();
    (arns, users)
}

#[test]
fn every_action_is_needed_and_together_they_suffice() {
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let example_bootstrap = example("api", "bootstrap.env");

    // Per mode: one user with the whole policy, one without each of its actions, and, where
    // the policy discovers bundles, one without both discovery actions.
    let mut policies = serde_json::Map::new();
    let mut plan: Vec<(String, &'static str, &'static [&'static str], Vec<String>)> = Vec::new();
    for (mode, flags) in MODES {
        let policy: Value =
            serde_json::from_str(&api_policy(&example_bootstrap, flags)).expect("policy JSON");
        let all = actions(&policy);
        let mut removals: Vec<Vec<String>> = vec![Vec::new()];
        removals.extend(
            all.iter()
                .filter(|a| a.as_str() != LIST)
                .map(|a| vec![a.clone()]),
        );
        if all.iter().any(|a| a == LIST) {
            removals.push(vec![BATCH.to_owned(), LIST.to_owned()]);
        }
        for without in removals {
            let name = if without.is_empty() {
                format!("{mode}-all")
            } else {
                format!("{mode}-without-{}", without.join("-").replace(':', "."))
            };
            policies.insert(name.clone(), widened(&policy, &without));
            plan.push((name, mode, flags, without));
        }
    }
    let (arns, keys) = iam_users(&moto, &policies);
    let users: Vec<User> = plan
        .into_iter()
        .map(|(name, mode, flags, without)| {
            let (key_id, secret) = keys[&name].clone();
            User {
                mode,
                flags,
                without,
                key_id,
                secret,
            }
        })
        .collect();

    // The host's bootstrap file names the secret as the server created it; the policy for it
    // names that very ARN and is otherwise the example's.
    let moto_arn = arns[MASTER_ARN].clone();
    let dir = tempfile::tempdir().expect("temporary directory");
    let bootstrap = dir.path().join("bootstrap.env");
    let text = std::fs::read_to_string(&example_bootstrap).expect("bootstrap");
    std::fs::write(&bootstrap, text.replace(MASTER_ARN, &moto_arn)).expect("write bootstrap");
    for (_, flags) in MODES {
        assert_eq!(
            api_policy(&bootstrap, flags),
            api_policy(&example_bootstrap, flags).replace(MASTER_ARN, &moto_arn)
        );
    }

    let resolve = |user: &User| -> Output {
        fetch_env()
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", &user.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &user.secret)
            .arg("--store")
            .arg("aws")
            .arg("--verbose")
            .arg("--manifest")
            .arg(example("api", "vars.yaml"))
            .arg("--bootstrap")
            .arg(&bootstrap)
            .args(user.flags)
            .output()
            .expect("run fetch-env")
    };
    let outputs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = users
            .iter()
            .map(|user| scope.spawn(move || resolve(user)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a resolve"))
            .collect()
    });

    let mut problems = Vec::new();
    for (user, output) in users.iter().zip(&outputs) {
        let stderr = stderr_of(output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let resolved = output.status.success()
            && stdout.contains("export DATABASE_URL='postgresql://postgres_admin:p%40ss")
            && stdout.contains("export JWT_SIGNING_KEY='dev-jwt-9f8e7d6c5b4a'")
            && stdout.contains("export DATABASE_NAME='telapi'");
        // `--verbose` reports the requests per operation: the fallback shows as ListSecrets.
        let fell_back = stderr.contains("ListSecrets: ");
        let scenario = format!("{}: without {:?}", user.mode, user.without);
        let without: Vec<&str> = user.without.iter().map(String::as_str).collect();
        match without.as_slice() {
            [] => {
                if !resolved || fell_back {
                    problems.push(format!(
                        "{scenario}: did not resolve in full with the fewest requests:\n{stderr}"
                    ));
                }
            }
            [BATCH] => {
                if !resolved || !fell_back {
                    problems.push(format!(
                        "{scenario}: expected the ListSecrets fallback to resolve:\n{stderr}"
                    ));
                }
            }
            refused => {
                let named = refused.iter().all(|a| stderr.contains(a));
                if output.status.code() != Some(3) || !output.stdout.is_empty() || !named {
                    problems.push(format!(
                        "{scenario}: expected exit 3, empty stdout and a message naming {refused:?}; got {:?}, {} bytes on stdout:\n{stderr}",
                        output.status.code(),
                        output.stdout.len()
                    ));
                }
            }
        }
    }
    // Each mode's own action set was proved, not just one mode's.
    for (mode, _) in MODES {
        assert!(
            users.iter().filter(|u| u.mode == *mode).count() >= 3,
            "{mode}"
        );
    }
    assert_eq!(users.len(), 16, "scenarios");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_policy_names_exactly_the_service_resources_in_each_mode() {
    let ssm_by_path = r#"    {
      "Sid": "ReadServiceParametersByPath",
      "Effect": "Allow",
      "Action": "ssm:GetParametersByPath",
      "Resource": [
        "arn:aws:ssm:eu-central-1:123456789012:parameter/voiceai/dev/api",
        "arn:aws:ssm:eu-central-1:123456789012:parameter/voiceai/dev/api/*"
      ]
    }"#;
    let ssm_by_name = r#"    {
      "Sid": "ReadServiceParametersByName",
      "Effect": "Allow",
      "Action": "ssm:GetParameters",
      "Resource": "arn:aws:ssm:eu-central-1:123456789012:parameter/voiceai/dev/api/*"
    }"#;
    let bundles_by_prefix = r#"    {
      "Sid": "FindServiceSecrets",
      "Effect": "Allow",
      "Action": [
        "secretsmanager:BatchGetSecretValue",
        "secretsmanager:ListSecrets"
      ],
      "Resource": "*"
    },
    {
      "Sid": "ReadServiceSecrets",
      "Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:voiceai/dev/api/*"
    }"#;
    let canonical_bundle = r#"    {
      "Sid": "ReadServiceBundle",
      "Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:voiceai/dev/api/secrets-??????"
    }"#;
    let arn_from = r#"    {
      "Sid": "ReadArnFromSecrets",
      "Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-3f1c1e2a-9b8c-4d5e-8f70-0123456789ab-AbC123"
    }"#;
    let document = |parts: &[&str]| {
        format!(
            "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
            parts.join(",\n")
        )
    };
    let expected = [
        document(&[ssm_by_path, bundles_by_prefix, arn_from]),
        document(&[ssm_by_path, canonical_bundle, arn_from]),
        document(&[ssm_by_name, bundles_by_prefix, arn_from]),
        document(&[ssm_by_name, canonical_bundle, arn_from]),
    ];
    let bootstrap = example("api", "bootstrap.env");
    for ((mode, flags), expected) in MODES.iter().zip(&expected) {
        let policy = api_policy(&bootstrap, flags);
        assert_eq!(&policy, expected, "{mode}");
        serde_json::from_str::<Value>(&policy).expect("JSON");
    }

    // The same modes from the environment and from the manifest's `lookup:`, as a resolve
    // takes them.
    let by_env = fetch_env()
        .env("FETCH_ENV_SSM_LOOKUP", "by-name")
        .env("FETCH_ENV_SECRETS_LOOKUP", "bundle")
        .arg("--manifest")
        .arg(example("api", "vars.yaml"))
        .arg("--bootstrap")
        .arg(&bootstrap)
        .arg("iam-policy")
        .output()
        .expect("run fetch-env");
    assert_eq!(String::from_utf8_lossy(&by_env.stdout), expected[3]);
}

#[test]
fn parliament_finds_nothing_in_any_mode() {
    let parliament = venv().join("bin/parliament");
    assert!(
        parliament.is_file(),
        "parliament is not installed at {}; run {INSTALL}",
        parliament.display()
    );
    let audit = |policy: &str| -> String {
        let output = Command::new(&parliament)
            .arg("--string")
            .arg(policy)
            .arg("--json")
            .arg("--minimum_severity")
            .arg("INFO")
            .arg("--include-community-auditors")
            .output()
            .expect("run parliament");
        let findings = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success() && findings.trim().is_empty(),
            "parliament ({:?}) on\n{policy}\nfound:\n{findings}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
        findings
    };
    // The auditor itself must see what it is for: a BatchGetSecretValue on a secret ARN (it
    // accepts only `*`) and a malformed ARN.
    let broken = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:x"},
        {"Effect": "Allow", "Action": "ssm:GetParametersByPath", "Resource": "arn:aws:ssm:eu-central-1:1:parameter/x"}]}"#;
    let output = Command::new(&parliament)
        .args(["--string", broken, "--json"])
        .output()
        .expect("run parliament");
    let findings = String::from_utf8_lossy(&output.stdout);
    assert!(
        findings.contains("RESOURCE_MISMATCH") && findings.contains("INVALID_ARN"),
        "{findings}"
    );

    let bootstrap = example("api", "bootstrap.env");
    for (_, flags) in MODES {
        audit(&api_policy(&bootstrap, flags));
    }
    // A secret name instead of an ARN, and so no account: `*` in every ARN.
    let dir = tempfile::tempdir().expect("temporary directory");
    let by_name = dir.path().join("bootstrap.env");
    std::fs::write(
        &by_name,
        "NAMESPACE=voiceai/dev\nAWS_REGION=eu-central-1\nECR_REGISTRY=r\nECR_TAG=t\nDB_MASTER_SECRET_ARN=shared/rds-master\n",
    )
    .expect("write bootstrap");
    let output = iam_policy(&example("api", "vars.yaml"), &by_name, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    audit(&String::from_utf8_lossy(&output.stdout));

    // The kms:Decrypt statement the note suggests is sound too.
    let output = iam_policy(&example("api", "vars.yaml"), &bootstrap, &[]);
    let stderr = stderr_of(&output);
    let suggested = stderr
        .lines()
        .find_map(|l| l.strip_prefix("note:   "))
        .unwrap_or_else(|| panic!("no suggested statement in:\n{stderr}"));
    audit(&format!(
        "{{\"Version\": \"2012-10-17\", \"Statement\": [{suggested}]}}"
    ));

    // The provisioning role's policy.
    let output = iam_policy(
        &example("api", "vars.yaml"),
        &bootstrap,
        &["--for", "provisioning"],
    );
    assert!(output.status.success(), "{}", stderr_of(&output));
    audit(&String::from_utf8_lossy(&output.stdout));
}

#[test]
fn stderr_says_why_there_is_no_kms_statement() {
    let output = iam_policy(
        &example("api", "vars.yaml"),
        &example("api", "bootstrap.env"),
        &[],
    );
    let stderr = stderr_of(&output);
    assert!(output.status.success(), "{stderr}");
    for needle in [
        "note: the policy grants no kms:Decrypt",
        "aws/ssm and aws/secretsmanager need none",
        "customer-managed key also needs kms:Decrypt",
        "\"Resource\": \"arn:aws:kms:eu-central-1:123456789012:key/KEY-ID\"",
        "\"kms:ViaService\": [\"ssm.eu-central-1.amazonaws.com\", \"secretsmanager.eu-central-1.amazonaws.com\"]",
    ] {
        assert!(stderr.contains(needle), "{needle} not in:\n{stderr}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("kms"), "{stdout}");
}

/// A manifest with two `arn_from` secrets, and a bootstrap file naming them with `first` and
/// `second` plus `extra` lines.
fn two_secrets(dir: &Path, first: &str, second: &str, extra: &str) -> (PathBuf, PathBuf) {
    let manifest = dir.join("vars.yaml");
    std::fs::write(
        &manifest,
        "service: billing\nvariables:\n  - { name: A_ARN, source: local }\n  - { name: B_ARN, source: local }\n  - { name: A, secret: { arn_from: A_ARN, type: string } }\n  - { name: A_AGAIN, secret: { arn_from: A_ARN, type: json, key: k } }\n  - { name: B, secret: { arn_from: B_ARN, type: string } }\n  - { name: PLAIN }\n",
    )
    .expect("write manifest");
    let bootstrap = dir.join("bootstrap.env");
    std::fs::write(
        &bootstrap,
        format!(
            "NAMESPACE=/shop/prod/\nAWS_REGION=us-east-1\nA_ARN={first}\nB_ARN={second}\n{extra}"
        ),
    )
    .expect("write bootstrap");
    (manifest, bootstrap)
}

fn resources(output: &Output, sid: &str) -> Vec<String> {
    let policy: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no policy on stdout:\n{}", stderr_of(output)));
    policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|s| s["Sid"] == sid)
        .map(|s| match &s["Resource"] {
            Value::String(r) => vec![r.clone()],
            list => serde_json::from_value(list.clone()).expect("resources"),
        })
        .unwrap_or_default()
}

#[test]
fn arn_from_secrets_are_granted_one_by_one_and_give_the_account() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = "arn:aws:secretsmanager:us-east-1:111122223333:secret:shop/a-Xy12Z9";
    // A partial ARN (no random suffix) and a bare name match only with the suffix pattern.
    let partial = "arn:aws:secretsmanager:us-east-1:111122223333:secret:shared/b";
    let (manifest, bootstrap) = two_secrets(dir.path(), a, partial, "");
    let output = iam_policy(&manifest, &bootstrap, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(
        resources(&output, "ReadArnFromSecrets"),
        [a.to_owned(), format!("{partial}-??????")],
        "one resource per distinct secret, however many variables use it"
    );
    assert_eq!(
        resources(&output, "ReadServiceParametersByPath"),
        [
            "arn:aws:ssm:us-east-1:111122223333:parameter/shop/prod/billing",
            "arn:aws:ssm:us-east-1:111122223333:parameter/shop/prod/billing/*"
        ],
        "the account of the ARNs; the namespace without its slashes"
    );

    let (manifest, bootstrap) = two_secrets(dir.path(), a, "shared/b", "");
    let output = iam_policy(&manifest, &bootstrap, &["--account-id", "444455556666"]);
    assert_eq!(
        resources(&output, "ReadArnFromSecrets"),
        [
            a.to_owned(),
            "arn:aws:secretsmanager:us-east-1:444455556666:secret:shared/b-??????".to_owned()
        ]
    );
    assert_eq!(
        resources(&output, "ReadServiceSecrets"),
        ["arn:aws:secretsmanager:us-east-1:444455556666:secret:shop/prod/billing/*"]
    );

    // Two accounts: which one is the service's is not for fetch-env to guess.
    let other = "arn:aws:secretsmanager:us-east-1:999988887777:secret:shop/b-Ab12Cd";
    let (manifest, bootstrap) = two_secrets(dir.path(), a, other, "");
    let output = iam_policy(&manifest, &bootstrap, &[]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains(a) && stderr.contains(other) && stderr.contains("--account-id"),
        "{stderr}"
    );
    let output = iam_policy(&manifest, &bootstrap, &["--account-id", "111122223333"]);
    assert!(output.status.success(), "{}", stderr_of(&output));

    // No ARN at all: any account, with a warning.
    let (manifest, bootstrap) = two_secrets(dir.path(), "shared/a", "shared/b", "");
    let output = iam_policy(&manifest, &bootstrap, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains("warning: no --account-id and no arn_from ARN"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(
        resources(&output, "ReadServiceSecrets"),
        ["arn:aws:secretsmanager:us-east-1:*:secret:shop/prod/billing/*"]
    );

    // An id that would be a wildcard in a policy, or a bad --account-id: exit 2, nothing out.
    for (first, args) in [
        ("shared/*", &[][..]),
        ("arn:aws:ssm:us-east-1:111122223333:parameter/x", &[][..]),
        (a, &["--account-id", "1234"][..]),
    ] {
        let (manifest, bootstrap) = two_secrets(dir.path(), first, "shared/b", "");
        let output = iam_policy(&manifest, &bootstrap, args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{first}: {}",
            stderr_of(&output)
        );
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn the_settings_follow_the_precedence_of_a_resolve() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let a = "arn:aws:secretsmanager:us-east-1:111122223333:secret:shop/a-Xy12Z9";
    let (manifest, bootstrap) = two_secrets(dir.path(), a, "", "");

    // The environment's region and the flag's namespace win over the bootstrap file's.
    let output = fetch_env()
        .env("AWS_REGION", "eu-west-3")
        .env("NAMESPACE", "ignored/by-the-flag")
        .arg("--manifest")
        .arg(&manifest)
        .arg("--bootstrap")
        .arg(&bootstrap)
        .arg("--namespace")
        .arg("shop/staging")
        .arg("iam-policy")
        .output()
        .expect("run fetch-env");
    assert_eq!(
        resources(&output, "ReadServiceParametersByPath"),
        [
            "arn:aws:ssm:eu-west-3:111122223333:parameter/shop/staging/billing",
            "arn:aws:ssm:eu-west-3:111122223333:parameter/shop/staging/billing/*"
        ]
    );
    // B_ARN is empty: the request holds no secret for B, and neither does the policy.
    assert_eq!(resources(&output, "ReadArnFromSecrets"), [a]);
    let stderr = stderr_of(&output);
    assert!(
        stderr
            .contains("does not set B_ARN, so the policy grants no secret for B (arn_from B_ARN)"),
        "{stderr}"
    );

    // The partition follows the region.
    let output = fetch_env()
        .env("AWS_REGION", "cn-north-1")
        .arg("--manifest")
        .arg(&manifest)
        .arg("--bootstrap")
        .arg(&bootstrap)
        .arg("iam-policy")
        .output()
        .expect("run fetch-env");
    assert_eq!(
        resources(&output, "ReadServiceSecrets"),
        ["arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:shop/prod/billing/*"]
    );

    // No region, no namespace: exit 2 and nothing on stdout, as for a resolve.
    let bare = dir.path().join("bare.env");
    std::fs::write(&bare, format!("NAMESPACE=shop/prod\nA_ARN={a}\n")).expect("write");
    let output = iam_policy(&manifest, &bare, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(output.stdout.is_empty());
    assert!(stderr_of(&output).contains("AWS_REGION is not set"));
    std::fs::write(&bare, format!("AWS_REGION=us-east-1\nA_ARN={a}\n")).expect("write");
    let output = iam_policy(&manifest, &bare, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    assert!(output.stdout.is_empty());
    assert!(stderr_of(&output).contains("NAMESPACE is not set"));
}

#[test]
fn a_manifest_that_reads_nothing_from_aws_gets_no_policy() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let manifest = dir.path().join("vars.yaml");
    std::fs::write(
        &manifest,
        "service: static\nvariables:\n  - { name: TAG, source: local }\n  - { name: IMAGE, compose: { template: 'api:${TAG}' } }\n",
    )
    .expect("write manifest");
    let bootstrap = dir.path().join("bootstrap.env");
    std::fs::write(&bootstrap, "AWS_REGION=eu-central-1\nTAG=1\n").expect("write bootstrap");
    let output = iam_policy(&manifest, &bootstrap, &[]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("declares no variable read from AWS")
            && stderr.contains("need no IAM policy"),
        "{stderr}"
    );
}

/// One user's run of the provisioning steps: its name, the actions its policy lacks, and the
/// first step that failed with what it printed.
type Outcome = (String, Vec<String>, Result<(), (usize, String)>);

/// `iam-policy --for provisioning` on moto with IAM enforced: a user holding it can `set` a
/// parameter, `unset` it, create the service's bundle with a first key and add a second; a user
/// without any one of its actions is refused at the step that needs it, with exit 3 and a
/// message naming the action.
#[test]
fn the_provisioning_policy_suffices_and_every_action_is_needed() {
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let output = iam_policy(
        &example("api", "vars.yaml"),
        &example("api", "bootstrap.env"),
        &["--for", "provisioning"],
    );
    assert!(output.status.success(), "{}", stderr_of(&output));
    let policy: Value = serde_json::from_slice(&output.stdout).expect("policy JSON");
    let all = actions(&policy);
    assert_eq!(all.len(), 6, "{all:?}");
    let mut policies = serde_json::Map::new();
    let mut plan: Vec<(String, Vec<String>)> = vec![("all".to_owned(), Vec::new())];
    plan.extend(
        all.iter()
            .map(|a| (format!("without-{}", a.replace(':', ".")), vec![a.clone()])),
    );
    for (name, without) in &plan {
        policies.insert(name.clone(), widened(&policy, without));
    }
    let (_, keys) = iam_users(&moto, &policies);
    let dir = tempfile::tempdir().expect("temporary directory");
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .iter()
            .enumerate()
            .map(|(index, (name, without))| {
                let (key_id, secret) = keys[name].clone();
                let endpoint = moto.endpoint.clone();
                let bootstrap = dir.path().join(format!("bootstrap-{index}.env"));
                std::fs::write(
                    &bootstrap,
                    format!("NAMESPACE=provisioning/u{index}\nAWS_REGION=eu-central-1\n"),
                )
                .expect("write bootstrap");
                scope.spawn(move || {
                    let step = |args: &[&str], value: &str| {
                        common::FetchEnv::new()
                            .env("AWS_ENDPOINT_URL", &endpoint)
                            .env("AWS_REGION", "eu-central-1")
                            .env("AWS_ACCESS_KEY_ID", &key_id)
                            .env("AWS_SECRET_ACCESS_KEY", &secret)
                            .args(["--store", "aws", "--manifest"])
                            .arg(example("api", "vars.yaml"))
                            .arg("--bootstrap")
                            .arg(&bootstrap)
                            .args(args)
                            .run_with_stdin(value.as_bytes())
                    };
                    let steps: [(&[&str], &str); 4] = [
                        (&["set", "LOG_LEVEL"], "info\n"),
                        (&["unset", "LOG_LEVEL"], ""),
                        (&["set", "JWT_SIGNING_KEY"], "first\n"),
                        (&["set", "JWT_SIGNING_KEY"], "second\n"),
                    ];
                    let mut outcome = Ok(());
                    for (number, (args, value)) in steps.iter().enumerate() {
                        let run = step(args, value);
                        if run.code != Some(0) {
                            outcome = Err((number, run.show()));
                            break;
                        }
                    }
                    (name.clone(), without.clone(), outcome)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a user"))
            .collect()
    });
    let mut problems = Vec::new();
    for (name, without, outcome) in outcomes {
        match (without.as_slice(), outcome) {
            ([], Ok(())) => {}
            ([], Err((step, shown))) => {
                problems.push(format!("{name}: step {step} failed:\n{shown}"))
            }
            ([action], Err((_, shown))) => {
                if !(shown.contains("exit: Some(3)") && shown.contains(action.as_str())) {
                    problems.push(format!(
                        "{name}: not refused with exit 3 naming {action}:\n{shown}"
                    ));
                }
            }
            (_, Ok(())) => {
                problems.push(format!("{name}: every step succeeded without {without:?}"))
            }
            _ => unreachable!(),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
