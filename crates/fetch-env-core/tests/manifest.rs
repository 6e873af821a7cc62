//! Manifest validation: every problem of SPEC 2.2 is reported, all at once, each located.

use std::sync::Arc;

use fetch_env_core::{
    Manifest, ManifestError, Origin, Requirement, Scope, SecretType, ServiceOrigin, ServiceSetting,
};

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
        format!("{}:32:18", m.path)
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
        vec![
            "vars.yaml:1:1: the manifest is empty (expected a list of variables, or `service` and `variables`)"
        ]
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

/// The finding: one wrong YAML type hid every other problem of the manifest.
#[test]
fn a_wrong_type_a_typo_and_an_undeclared_placeholder_are_reported_together() {
    let p = problems(
        "service: s\nvariables:\n  - name: A\n    contaners: [web]\n  - name: URL\n    compose: { template: 'x-${UNDECLARED}' }\n  - name: B\n    required: maybe\n",
    );
    assert_eq!(
        p,
        vec![
            "vars.yaml:4:5: unknown field `contaners` in a variable (did you mean `containers`?)",
            "vars.yaml:6:26: placeholder `UNDECLARED` is not declared",
            "vars.yaml:8:15: `required` must be true or false, found the string `maybe`",
        ]
    );
}

#[test]
fn every_wrong_type_is_named_with_its_field_and_what_it_expects() {
    let p = problems(
        "service: s\nvariables:\n  - name: [A]\n    sensitive: 'yes'\n    containers: web\n  - name: B\n    secret: { arn_from: [X], type: json, key: k }\n  - name: C\n    compose: { template: t, encode: P }\n  - name: D\n    file: '0600'\n",
    );
    assert_eq!(
        p,
        vec![
            "vars.yaml:3:11: `name` must be a string, found a list",
            "vars.yaml:4:16: `sensitive` must be true or false, found the string `yes`",
            "vars.yaml:5:17: `containers` must be a list of compose service names, found the string `web`",
            "vars.yaml:7:25: `arn_from` must be a string, found a list",
            "vars.yaml:9:37: `encode` must be a list of variable names, found the string `P`",
            "vars.yaml:11:11: `file` must be a mapping (`path_from`, `decode`, `content`, `mode`, `owner`), found a string",
        ]
    );
}

#[test]
fn variables_written_as_a_mapping_names_variables() {
    let p = problems("service: s\nvariables:\n  A: { source: local }\n");
    assert_eq!(
        p,
        vec![
            "vars.yaml:3:3: `variables` must be a list of variables (`- name: …` entries), found a mapping"
        ]
    );
}

/// A value where a mapping or a template belongs may be the secret itself: only its kind is
/// named, never its text.
#[test]
fn a_misplaced_value_that_could_be_a_secret_is_never_quoted() {
    let p = problems(
        "service: s\nvariables:\n  - name: A\n    sensitive: true\n    default: [s3cr3t-default]\n  - name: B\n    secret: s3cr3t-secret\n  - name: C\n    compose: s3cr3t-compose\n  - name: D\n    compose: { template: [s3cr3t-template] }\n  - s3cr3t-entry\n",
    );
    assert_eq!(p.len(), 5, "{p:?}");
    for problem in &p {
        assert!(!problem.contains("s3cr3t"), "{problem}");
    }
    assert_has(
        &p,
        "vars.yaml:7:13: `secret` must be a mapping (`arn_from`, `type`, `key`), found a string",
    );
    assert_has(
        &p,
        "vars.yaml:12:5: a variable must be a mapping with `name`, found a string",
    );
}

#[test]
fn numbers_and_booleans_keep_the_text_they_were_written_with() {
    let m = Manifest::parse(
        Arc::from("vars.yaml"),
        "service: s\nvariables:\n  - { name: A, default: 1.50 }\n  - { name: B, default: 0x1f }\n  - { name: C, default: yes }\n  - { name: D, default: 007 }\n",
    )
    .unwrap();
    let defaults: Vec<&str> = m
        .variables()
        .iter()
        .map(|v| v.default.as_deref().unwrap())
        .collect();
    assert_eq!(defaults, ["1.50", "0x1f", "yes", "007"]);
}

/// The finding: the seed document's own manifest, a bare list at
/// `/opt/services/api/vars.yaml`, was refused with `expected mapping start`.
#[test]
fn the_bare_list_form_takes_its_service_from_the_manifest_directory() {
    let text = "- name: DB_MASTER_SECRET_ARN\n  source: local\n  required: true\n- name: DATABASE_PORT\n  default: '5432'\n  containers: [telapi]\n";
    let m = Manifest::parse(Arc::from("/opt/services/api/vars.yaml"), text).unwrap();
    assert_eq!(m.service, "api");
    assert_eq!(m.service_origin, ServiceOrigin::Directory);
    assert_eq!(m.variables().len(), 2);
    assert_eq!(
        m.variable("DATABASE_PORT").unwrap().default.as_deref(),
        Some("5432")
    );

    let setting = ServiceSetting {
        name: "web".into(),
        origin: "--service".into(),
    };
    let m = Manifest::parse_with(
        Arc::from("/opt/services/api/vars.yaml"),
        text,
        Some(&setting),
    )
    .unwrap();
    assert_eq!(m.service, "web");
    assert_eq!(m.service_origin.to_string(), "--service");
}

#[test]
fn a_directory_that_is_no_service_name_asks_for_service() {
    let text = "- name: A\n";
    let err = Manifest::parse(Arc::from("/opt/my services/vars.yaml"), text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/opt/my services/vars.yaml: a manifest written as a bare list takes its service from its directory, but the name of its directory, `my services`, is not a non-empty name of A-Z, a-z, 0-9, '-', '_' and '.' (it forms the AWS paths); pass --service NAME (or set FETCH_ENV_SERVICE)"
    );
    let err = Manifest::parse(Arc::from("vars.yaml"), text).unwrap_err();
    assert!(
        err.to_string().contains("it is in no named directory"),
        "{err}"
    );
}

/// A host-wide setting must never send one service's manifest to another service's secrets.
#[test]
fn a_service_setting_may_repeat_service_but_never_contradict_it() {
    let text = "service: api\nvariables:\n  - name: A\n";
    let same = ServiceSetting {
        name: "api".into(),
        origin: "FETCH_ENV_SERVICE in the environment".into(),
    };
    let m = Manifest::parse_with(Arc::from("vars.yaml"), text, Some(&same)).unwrap();
    assert_eq!(m.service_origin.to_string(), "`service:` at vars.yaml:1:10");
    let other = ServiceSetting {
        name: "web".into(),
        ..same
    };
    let err = Manifest::parse_with(Arc::from("vars.yaml"), text, Some(&other)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "vars.yaml:1:10: the manifest names service `api`, but FETCH_ENV_SERVICE in the environment says `web`: remove one of them"
    );
}

#[test]
fn both_manifest_forms_give_the_same_model() {
    let variables = "- name: ARN\n  source: local\n- name: PASSWORD\n  sensitive: true\n  secret: { arn_from: ARN, type: json, key: password }\n- name: URL\n  compose: { template: 'x://${PASSWORD}' }\n";
    let bare = Manifest::parse(Arc::from("/srv/api/vars.yaml"), variables).unwrap();
    let indented: String = variables.lines().map(|l| format!("  {l}\n")).collect();
    let mapping = Manifest::parse(
        Arc::from("/srv/api/vars.yaml"),
        &format!("service: api\nvariables:\n{indented}"),
    )
    .unwrap();
    assert_eq!(bare.service, mapping.service);
    assert_eq!(
        format!(
            "{:?}",
            bare.variables()
                .iter()
                .map(|v| (&v.name, &v.origin, v.sensitive))
                .collect::<Vec<_>>()
        ),
        format!(
            "{:?}",
            mapping
                .variables()
                .iter()
                .map(|v| (&v.name, &v.origin, v.sensitive))
                .collect::<Vec<_>>()
        )
    );
}

#[test]
fn file_modes_of_too_few_digits_are_refused_with_or_without_0o() {
    let manifest = |mode: &str| {
        format!(
            "service: s\nvariables:\n  - {{ name: P, default: /x }}\n  - name: K\n    file: {{ path_from: P, mode: '{mode}' }}\n"
        )
    };
    for bad in ["07", "0o7", "0o", "8", "0o1777", "0999"] {
        let p = problems(&manifest(bad));
        assert_eq!(
            p,
            vec![format!(
                "vars.yaml:5:33: `mode` must be octal permission bits like '0600', not `{bad}`"
            )],
            "{bad}"
        );
    }
    for good in ["0644", "644", "0o644"] {
        assert!(
            Manifest::parse(Arc::from("vars.yaml"), &manifest(good)).is_ok(),
            "{good}"
        );
    }
}
