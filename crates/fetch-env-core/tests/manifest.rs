//! Manifest validation: every problem of SPEC 2.2 is reported, all at once, each located.

use std::sync::Arc;

use fetch_env_core::{Manifest, ManifestError, Origin, Requirement, Scope, SecretType};

fn problems(text: &str) -> Vec<String> {
    match Manifest::parse(Arc::from("vars.yaml"), text) {
        Ok(_) => panic!("expected problems"),
        Err(ManifestError::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        Err(other) => panic!("unexpected {other}"),
    }
}

fn assert_has(problems: &[String], expected: &str) {
    assert!(
        problems.iter().any(|p| p == expected),
        "missing problem\n  {expected}\nin\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_seed_manifest_is_valid_and_modelled() {
    let m = Manifest::read(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/api/vars.yaml"
    )))
    .unwrap();
    assert_eq!(m.service, "api");
    let password = m.variable("DATABASE_PASSWORD").unwrap();
    assert!(password.sensitive);
    assert_eq!(password.requirement, Requirement::Required);
    assert_eq!(password.containers[0].name, "telapi");
    assert_eq!(
        password.containers[0].location.to_string(),
        format!("{}:31:18", m.path)
    );
    match &password.origin {
        Origin::Secret(s) => {
            assert_eq!(s.arn_from.as_str(), "DB_MASTER_SECRET_ARN");
            assert_eq!(
                s.kind,
                SecretType::Json {
                    key: "password".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        m.variable("DB_MASTER_SECRET_ARN").unwrap().scope,
        Scope::Init
    );
    assert_eq!(
        m.variable("DATABASE_PORT").unwrap().default.as_deref(),
        Some("5432")
    );
    let order: Vec<&str> = m
        .composition_order()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(order, vec!["DATABASE_URL"]);
}

#[test]
fn scalar_defaults_are_taken_as_their_text() {
    let m = Manifest::parse(
        Arc::from("vars.yaml"),
        "service: s\nvariables:\n  - { name: A, default: 5432 }\n  - { name: B, default: true }\n  - { name: C, default: 1.50 }\n  - { name: D, default: 0x1F }\n  - { name: E, default: 'quoted' }\n",
    )
    .unwrap();
    let defaults: Vec<&str> = m
        .variables()
        .iter()
        .map(|v| v.default.as_deref().unwrap())
        .collect();
    assert_eq!(defaults, vec!["5432", "true", "1.50", "0x1F", "quoted"]);
}

#[test]
fn every_problem_is_reported_at_once_with_its_location() {
    let text = r#"service: api
servise: typo
variables:
  - name: DB_ARN
    source: local
  - name: 1BAD
  - name: DUP
  - name: DUP
  - name: A
    requird: true
    secret: { arn_from: NOT_DECLARED, type: json, key: k }
  - name: B
    secret: { arn_from: A, type: json }
  - name: C
    compose:
      template: 'x${UNDECLARED}${D}'
      encode: [D, A]
  - name: D
    compose: { template: '${C}' }
  - name: E
    source: local
    secret: { arn_from: DB_ARN, type: string }
  - name: F
    required_when: NOPE=1
  - name: G
    scope: init
    containers: [web]
  - name: H
    source: remote
    name: H2
"#;
    let p = problems(text);
    assert_has(
        &p,
        "vars.yaml:2:1: unknown field `servise` in the manifest (did you mean `service`?)",
    );
    assert_has(
        &p,
        "vars.yaml:6:11: invalid variable name `1BAD`: a name cannot start with a digit",
    );
    assert_has(
        &p,
        "vars.yaml:7:11: `DUP` is declared again at line 8, column 11",
    );
    assert_has(
        &p,
        "vars.yaml:8:11: `DUP` is declared twice (first at line 7, column 11)",
    );
    assert_has(
        &p,
        "vars.yaml:10:5: unknown field `requird` in a variable (did you mean `required`?)",
    );
    assert_has(
        &p,
        "vars.yaml:11:25: `arn_from` variable `NOT_DECLARED` is not declared",
    );
    assert_has(
        &p,
        "vars.yaml:13:25: `arn_from` must name a `source: local` variable; `A` is not local",
    );
    assert_has(
        &p,
        "vars.yaml:13:13: `secret` of `type: json` needs a `key`",
    );
    assert_has(
        &p,
        "vars.yaml:16:17: placeholder `UNDECLARED` is not declared",
    );
    assert_has(
        &p,
        "vars.yaml:17:19: `encode` entry `A` is not used by the template",
    );
    assert_has(
        &p,
        "vars.yaml:22:13: contradictory fields: `source: local` and `secret`",
    );
    assert_has(
        &p,
        "vars.yaml:24:20: `required_when` variable `NOPE` is not declared",
    );
    assert_has(
        &p,
        "vars.yaml:27:17: contradictory fields: `scope: init` and `containers` (init variables belong to no container)",
    );
    assert_has(
        &p,
        "vars.yaml:29:13: unknown source `remote` (use `source: local` for the bootstrap file, or omit it for AWS)",
    );
    assert_has(
        &p,
        "vars.yaml:30:5: duplicate key `name` in a variable (first at line 28, column 5)",
    );
    // Sorted by location, so the report reads top to bottom.
    let mut sorted = p.clone();
    sorted.sort_by_key(|line| {
        let mut parts = line.split(':').skip(1);
        let line_no: u64 = parts.next().unwrap().parse().unwrap();
        let column: u64 = parts.next().unwrap().parse().unwrap();
        (line_no, column)
    });
    assert_eq!(p, sorted);
}

#[test]
fn cycles_between_composed_variables_are_named() {
    let p = problems(
        "service: s\nvariables:\n  - name: A\n    compose: { template: '${B}' }\n  - name: B\n    compose: { template: '${C}' }\n  - name: C\n    compose: { template: '${A}' }\n  - name: SELF\n    compose: { template: 'x${SELF}' }\n",
    );
    assert_has(
        &p,
        "vars.yaml:3:11: composed variables form a cycle: A -> B -> C -> A",
    );
    assert_has(&p, "vars.yaml:10:26: the template of `SELF` uses itself");
    assert_eq!(p.len(), 2, "{p:?}");
}

#[test]
fn composition_order_puts_inputs_first() {
    let m = Manifest::parse(
        Arc::from("vars.yaml"),
        "service: s\nvariables:\n  - name: URL\n    compose: { template: '${BASE}/x' }\n  - name: BASE\n    compose: { template: 'https://${HOST}' }\n  - name: HOST\n",
    )
    .unwrap();
    let order: Vec<&str> = m
        .composition_order()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(order, vec!["BASE", "URL"]);
}

#[test]
fn yaml_errors_are_located() {
    let p = problems("service: s\nvariables:\n  - name: A\n   bad indent: [\n");
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("vars.yaml:4:"), "{p:?}");
    let p = problems("service: [a, b]\nvariables: []\n");
    assert!(p[0].starts_with("vars.yaml:1:10: "), "{p:?}");
    let p = problems("");
    assert_eq!(
        p,
        vec!["vars.yaml:1:1: the manifest is empty (expected `service` and `variables`)"]
    );
}

#[test]
fn alias_bombs_are_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    text.push_str("service: s\nvariables: []\n");
    let started = std::time::Instant::now();
    let result = Manifest::parse(Arc::from("vars.yaml"), &text);
    assert!(result.is_err());
    // A bound, not a benchmark: an unbounded expansion of 10^12 nodes would never return.
    assert!(started.elapsed().as_secs() < 30);
}

#[test]
fn file_specs_are_validated() {
    let p = problems(
        "service: s\nvariables:\n  - name: KEY\n    file: { path_from: KEY_FILE, content: private-key, mode: '0644' }\n  - name: CA\n    file: { path_from: NOPE, decode: hex, mode: '999', owner: 'postgres' }\n  - name: OTHER\n    file: { content: chain }\n  - { name: KEY_FILE, default: /etc/ssl/k }\n",
    );
    assert_has(
        &p,
        "vars.yaml:4:62: a private key must not be readable by group or others (mode 0644)",
    );
    assert_has(
        &p,
        "vars.yaml:6:24: `path_from` variable `NOPE` is not declared",
    );
    assert_has(
        &p,
        "vars.yaml:6:38: unknown decode `hex` (expected `auto`, `base64` or `pem`)",
    );
    assert_has(
        &p,
        "vars.yaml:6:49: `mode` must be octal permission bits like '0600', not `999`",
    );
    assert_has(
        &p,
        "vars.yaml:6:63: `owner` must be numeric `uid:gid` like '70:70', not `postgres`",
    );
    assert_has(
        &p,
        "vars.yaml:8:11: missing field `path_from` in `file` (the variable holding the path)",
    );
    assert_has(
        &p,
        "vars.yaml:8:22: unknown content `chain` (expected `certificates` or `private-key`)",
    );
}

#[test]
fn file_specs_default_their_mode_by_content() {
    let m = Manifest::parse(
        Arc::from("vars.yaml"),
        "service: s\nvariables:\n  - { name: KEY, file: { path_from: P, content: private-key, owner: '70:70' } }\n  - { name: CA, file: { path_from: P } }\n  - { name: P, default: /x }\n",
    )
    .unwrap();
    let key = m.variable("KEY").unwrap().file.clone().unwrap();
    assert_eq!((key.mode, key.owner), (0o600, Some((70, 70))));
    assert_eq!(m.variable("CA").unwrap().file.clone().unwrap().mode, 0o644);
}
