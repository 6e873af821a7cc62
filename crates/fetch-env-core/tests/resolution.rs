//! Resolution rules of SPEC 3.1–3.3 on the file store: precedence, empty values, defaults,
//! `required_when`, `arn_from` (once per distinct ARN), templates, drift and collisions.

use std::sync::Arc;

use fetch_env_core::{
    Bootstrap, BundleLookup, BundleQuery, Failure, FileStore, Manifest, ParameterQuery, Resolution,
    ResolveOptions, SsmLookup, Store, StoreError, StoreRequest, StoreResponse, VariableStatus,
    resolve,
};

const ARN: &str = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-a-AbC123";

struct Case {
    manifest: Manifest,
    bootstrap: Bootstrap,
    store: FileStore,
}

impl Case {
    fn new(manifest: &str, bootstrap: &str, store: &str) -> Self {
        Self {
            manifest: Manifest::parse(Arc::from("vars.yaml"), manifest).unwrap(),
            bootstrap: Bootstrap::parse(Arc::from("b.env"), bootstrap.as_bytes()).unwrap(),
            store: FileStore::parse(Arc::from("store.yaml"), store).unwrap(),
        }
    }

    fn resolve(&self) -> Resolution<'_> {
        self.resolve_with(ResolveOptions {
            namespace: Some("ns".into()),
            ..ResolveOptions::default()
        })
    }

    fn resolve_with(&self, options: ResolveOptions) -> Resolution<'_> {
        resolve(&self.manifest, &self.bootstrap, &options, &self.store).unwrap()
    }
}

fn value<'a>(r: &'a Resolution<'_>, name: &str) -> Option<&'a str> {
    r.variables
        .iter()
        .find(|v| v.variable.name.as_str() == name)
        .and_then(|v| v.value.as_ref())
        .map(|v| v.expose())
}

fn source(r: &Resolution<'_>, name: &str) -> Option<String> {
    r.variables
        .iter()
        .find(|v| v.variable.name.as_str() == name)
        .and_then(|v| v.source.as_ref())
        .map(ToString::to_string)
}

#[test]
fn later_sources_override_earlier_and_empty_is_no_value() {
    let case = Case::new(
        "service: svc\nvariables:\n  - name: ARN\n    source: local\n  - name: ONLY_SSM\n  - name: SSM_THEN_SM\n  - name: SM_EMPTY\n  - name: FROM_ARN\n    secret: { arn_from: ARN, type: json, key: k }\n  - name: DEFAULTED\n    default: d\n  - name: NOT_DEFAULTED\n    default: d\n  - name: LOCAL\n    source: local\n",
        &format!("ARN={ARN}\nLOCAL=from-bootstrap\nONLY_SSM=ignored-for-remote\n"),
        &format!(
            "parameters:\n  /ns/svc/ONLY_SSM: ssm\n  /ns/svc/SSM_THEN_SM: ssm\n  /ns/svc/SM_EMPTY: ssm\n  /ns/svc/FROM_ARN: ssm\n  /ns/svc/NOT_DEFAULTED: ssm\n  /ns/svc/LOCAL: ssm-for-local\nsecrets:\n  ns/svc/secrets:\n    SSM_THEN_SM: sm\n    SM_EMPTY: ''\n    FROM_ARN: sm\n  '{ARN}': {{ k: arn }}\n"
        ),
    );
    let r = case.resolve();
    assert!(r.succeeded(), "{:?}", r.failures);
    assert_eq!(value(&r, "ONLY_SSM"), Some("ssm"));
    assert_eq!(value(&r, "SSM_THEN_SM"), Some("sm"));
    assert_eq!(
        source(&r, "SSM_THEN_SM").as_deref(),
        Some("sm:ns/svc/secrets#SSM_THEN_SM")
    );
    assert_eq!(value(&r, "SM_EMPTY"), Some("ssm"));
    assert_eq!(value(&r, "FROM_ARN"), Some("arn"));
    assert_eq!(source(&r, "FROM_ARN"), Some(format!("{ARN}#k")));
    assert_eq!(value(&r, "DEFAULTED"), Some("d"));
    assert_eq!(source(&r, "DEFAULTED").as_deref(), Some("default"));
    assert_eq!(value(&r, "NOT_DEFAULTED"), Some("ssm"));
    // A local variable comes from the bootstrap file only; the SSM key is drift.
    assert_eq!(value(&r, "LOCAL"), Some("from-bootstrap"));
    assert_eq!(source(&r, "LOCAL").as_deref(), Some("bootstrap:2"));
    assert!(
        r.warnings.iter().any(|w| w.to_string()
            == "ssm:/ns/svc/LOCAL is ignored: LOCAL is declared with `source: local`"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn required_and_required_when_are_all_reported() {
    let case = Case::new(
        "service: svc\nvariables:\n  - { name: A, required: true }\n  - { name: B, required: true }\n  - { name: TLS, default: 'true' }\n  - { name: CA, required_when: TLS=true }\n  - { name: OFF, default: 'false' }\n  - { name: NOT_NEEDED, required_when: OFF=true }\n  - { name: EMPTY, required: true }\n",
        "",
        "secrets:\n  ns/svc/secrets: { EMPTY: '' }\n",
    );
    let r = case.resolve();
    let messages: Vec<String> = r.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            "A is required but no source gave it a value (looked in ssm:/ns/svc/A, sm:ns/svc/*)",
            "B is required but no source gave it a value (looked in ssm:/ns/svc/B, sm:ns/svc/*)",
            "CA is required because TLS=true, but no source gave it a value (looked in ssm:/ns/svc/CA, sm:ns/svc/*)",
            "EMPTY is required but no source gave it a value (looked in ssm:/ns/svc/EMPTY, sm:ns/svc/*)",
        ]
    );
    let status = |n: &str| {
        r.variables
            .iter()
            .find(|v| v.variable.name.as_str() == n)
            .unwrap()
            .status
    };
    assert_eq!(status("NOT_NEEDED"), VariableStatus::Unset);
    assert_eq!(status("CA"), VariableStatus::Missing);
}

#[test]
fn arn_secrets_are_requested_once_and_missing_keys_name_the_others() {
    let case = Case::new(
        "service: svc\nvariables:\n  - { name: ARN, source: local }\n  - { name: U, secret: { arn_from: ARN, type: json, key: username } }\n  - { name: P, secret: { arn_from: ARN, type: json, key: password } }\n  - { name: W, secret: { arn_from: ARN, type: string } }\n  - { name: X, secret: { arn_from: ARN, type: json, key: nope } }\n",
        &format!("ARN={ARN}\n"),
        &format!("secrets:\n  '{ARN}': {{ username: u, password: CANARY-pw }}\n"),
    );
    let r = case.resolve();
    assert_eq!(r.request.secrets, vec![ARN.to_owned()]);
    assert_eq!(value(&r, "U"), Some("u"));
    assert_eq!(
        value(&r, "W"),
        Some(r#"{"password":"CANARY-pw","username":"u"}"#)
    );
    let messages: Vec<String> = r.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![format!(
            "secret {ARN} has no key `nope` (needed by X); its keys are: password, username"
        )]
    );
    assert!(!messages.concat().contains("CANARY"));
}

#[test]
fn secret_problems_name_the_secret_never_the_value() {
    let other = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:other-XyZ987";
    let case = Case::new(
        "service: svc\nvariables:\n  - { name: ARN, source: local }\n  - { name: MISSING_ARN, source: local }\n  - { name: U, secret: { arn_from: ARN, type: json, key: username } }\n  - { name: M, secret: { arn_from: MISSING_ARN, type: json, key: k } }\n",
        &format!("ARN={ARN}\nMISSING_ARN={other}\n"),
        &format!(
            "secrets:\n  '{ARN}': '{{\"username\": \"CANARY'\n  ns/svc/secrets: '[\"CANARY\"]'\n"
        ),
    );
    let r = case.resolve();
    let messages: Vec<String> = r.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec![
            "secret ns/svc/secrets is JSON but not an object (it is an array)".to_owned(),
            format!("secret {ARN} is not valid JSON (line 1, column 20)"),
            format!(
                "secret {other} (named by MISSING_ARN) does not exist or is not visible to these credentials"
            ),
        ]
    );
}

#[test]
fn templates_compose_in_order_and_encode_only_what_is_listed() {
    let case = Case::new(
        "service: svc\nvariables:\n  - { name: USER }\n  - { name: PASS }\n  - { name: HOST }\n  - name: URL\n    compose: { template: 'postgresql://${USER}:${PASS}@${HOST}/db', encode: [PASS] }\n  - name: WRAPPED\n    compose: { template: 'url=${URL} lit=$${USER}' }\n  - name: OPTIONAL_URL\n    compose: { template: '${UNSET}' }\n  - { name: UNSET }\n  - name: REQUIRED_URL\n    required: true\n    compose: { template: '${HOST}:${UNSET}' }\n",
        "",
        "parameters:\n  /ns/svc/USER: 'a@b'\n  /ns/svc/PASS: 'p@ss ${HOST}'\n  /ns/svc/HOST: h\n",
    );
    let r = case.resolve();
    assert_eq!(
        value(&r, "URL"),
        Some("postgresql://a@b:p%40ss%20%24%7BHOST%7D@h/db")
    );
    assert_eq!(
        value(&r, "WRAPPED"),
        Some("url=postgresql://a@b:p%40ss%20%24%7BHOST%7D@h/db lit=${USER}")
    );
    assert_eq!(value(&r, "OPTIONAL_URL"), None);
    let messages: Vec<String> = r.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec!["REQUIRED_URL is required but its template input UNSET is unset"]
    );
    // A composed value of public inputs is public.
    assert!(!secret(&r, "URL"));
}

fn secret(r: &Resolution<'_>, name: &str) -> bool {
    r.variables
        .iter()
        .find(|v| v.variable.name.as_str() == name)
        .and_then(|v| v.value.as_ref())
        .unwrap_or_else(|| panic!("{name} has no value"))
        .is_secret()
}

/// The finding: `OUTER` composed from `INNER`, declared before it, composed from a secret,
/// was shown by `explain` because masking was one pass in manifest order.
#[test]
fn a_chain_of_composed_values_declared_outer_first_stays_secret() {
    let case = Case::new(
        "service: svc\nvariables:\n  - name: OUTER\n    compose: { template: 'x-${INNER}' }\n  - name: INNER\n    compose: { template: 'y-${PASS}' }\n  - name: PASS\n  - name: SENSITIVE_DEFAULT\n    sensitive: true\n    default: d3f\n  - name: OUTER2\n    compose: { template: 'x-${INNER2}' }\n  - name: INNER2\n    compose: { template: 'y-${SENSITIVE_DEFAULT}-${PLAIN}' }\n  - name: PLAIN\n  - name: PLAIN_URL\n    compose: { template: 'p-${PLAIN}' }\n",
        "",
        "parameters:\n  /ns/svc/PLAIN: plain\nsecrets:\n  ns/svc/secrets: { PASS: s3cr3t }\n",
    );
    let r = case.resolve();
    assert!(r.succeeded());
    assert_eq!(value(&r, "OUTER"), Some("x-y-s3cr3t"));
    for name in [
        "PASS",
        "INNER",
        "OUTER",
        "SENSITIVE_DEFAULT",
        "INNER2",
        "OUTER2",
    ] {
        assert!(secret(&r, name), "{name} must be secret");
    }
    for name in ["PLAIN", "PLAIN_URL"] {
        assert!(!secret(&r, name), "{name} must be shown");
    }
}

#[test]
fn drift_and_collisions() {
    let case = Case::new(
        "service: svc\nvariables:\n  - { name: A }\n  - { name: B }\n",
        "",
        "parameters:\n  /ns/svc/A: a\n  /ns/svc/nested/A: a2\n  /ns/svc/TYPO_B: x\n  /ns/svc/bad-name: x\nsecrets:\n  ns/svc/secrets: { B: b, EXTRA: e }\n  ns/svc/more: { B: b2 }\n",
    );
    let r = case.resolve();
    let messages: Vec<String> = r.failures.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        vec!["SSM parameters /ns/svc/A and /ns/svc/nested/A have the same name A"]
    );
    assert_eq!(
        r.warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "ssm:/ns/svc/TYPO_B is not declared in the manifest",
            "ssm:/ns/svc/bad-name is not a valid variable name and is ignored",
            "key B is in both sm:ns/svc/more and sm:ns/svc/secrets; the latter wins",
            "sm:ns/svc/secrets#EXTRA is not declared in the manifest",
        ]
    );
    assert_eq!(value(&r, "B"), Some("b"));
}

#[test]
fn lookup_modes_shape_the_request() {
    let case = Case::new(
        "service: svc\nvariables:\n  - { name: A }\n  - { name: L, source: local }\n  - { name: C, compose: { template: '${A}' } }\n",
        "",
        "parameters:\n  /ns/svc/A: a\n  /ns/svc/sub/A2: nested\nsecrets:\n  ns/svc/secrets: { A: from-bundle }\n  ns/svc/other: { A: from-other }\n",
    );
    let r = case.resolve_with(ResolveOptions {
        namespace: Some("/ns/".into()),
        ssm_lookup: SsmLookup::ByName,
        bundle_lookup: BundleLookup::Bundle,
    });
    assert_eq!(
        r.request,
        StoreRequest {
            parameters: ParameterQuery::ByNames {
                path: "/ns/svc/".into(),
                names: vec!["A".into()]
            },
            bundles: BundleQuery::Named {
                name: "ns/svc/secrets".into()
            },
            secrets: vec![],
        }
    );
    assert_eq!(value(&r, "A"), Some("from-bundle"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn namespace_is_needed_only_for_remote_variables() {
    let local_only = Case::new(
        "service: svc\nvariables:\n  - { name: L, source: local }\n",
        "L=x\n",
        "",
    );
    let r = resolve(
        &local_only.manifest,
        &local_only.bootstrap,
        &ResolveOptions::default(),
        &local_only.store,
    )
    .unwrap();
    assert_eq!(value(&r, "L"), Some("x"));
    let remote = Case::new("service: svc\nvariables:\n  - { name: R }\n", "", "");
    let err = resolve(
        &remote.manifest,
        &remote.bootstrap,
        &ResolveOptions::default(),
        &remote.store,
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("NAMESPACE is not set"), "{err}");
    let bad = ResolveOptions {
        namespace: Some("a//b".into()),
        ..ResolveOptions::default()
    };
    let err = resolve(&remote.manifest, &remote.bootstrap, &bad, &remote.store).unwrap_err();
    assert_eq!(
        err.to_string(),
        "NAMESPACE `a//b` is not a valid namespace (like voiceai/staging)"
    );
}

/// A store that cannot be reached: resolution stops with its error, nothing is resolved.
#[derive(Debug)]
struct Unreachable;

impl Store for Unreachable {
    fn fetch(&self, _: &StoreRequest) -> Result<StoreResponse, StoreError> {
        Err(StoreError::Unavailable("endpoint unreachable".into()))
    }
    fn describe(&self) -> String {
        "unreachable".into()
    }
}

#[test]
fn an_unusable_store_fails_the_whole_resolve() {
    let case = Case::new("service: svc\nvariables:\n  - { name: R }\n", "", "");
    let options = ResolveOptions {
        namespace: Some("ns".into()),
        ..ResolveOptions::default()
    };
    let err = resolve(&case.manifest, &case.bootstrap, &options, &Unreachable).unwrap_err();
    assert_eq!(err.to_string(), "endpoint unreachable");
}

#[test]
fn nul_bytes_fail_resolution() {
    let case = Case::new(
        "service: svc\nvariables:\n  - { name: R }\n",
        "",
        "parameters:\n  /ns/svc/R: \"a\\0b\"\n",
    );
    let r = case.resolve();
    assert_eq!(
        r.failures,
        vec![Failure::NulByte {
            name: fetch_env_core::EnvName::new("R").unwrap()
        }]
    );
}
