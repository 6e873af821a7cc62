//! Secrecy travels with the value: over random manifests (random chains and declaration orders
//! of composed, sensitive, SecureString, bundle, `arn_from`, default, bootstrap and plain
//! variables), no value derived from a secret appears in any human-facing output (`explain`,
//! `check --remote`, `--verbose`, warnings and errors, on success and on failure), and every
//! plain value, composed ones included, stays visible in `explain`.
//!
//! Which variables are secret is decided here, from the definition (a variable is secret when
//! it is `sensitive`, comes from a SecureString, a bundle or an `arn_from` secret, or is composed
//! from any secret input, transitively), never by asking fetch-env.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use common::FetchEnv;
use common::run::{Run, write};

const ARN: &str = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-p-AbC123";

/// Where a non-composed variable's value comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    SecureString,
    Bundle,
    ArnSecret,
    SensitiveParameter,
    SensitiveDefault,
    PlainDefault,
    Bootstrap,
    SensitiveBootstrap,
}

impl Kind {
    fn secret(self) -> bool {
        !matches!(self, Kind::Plain | Kind::PlainDefault | Kind::Bootstrap)
    }
}

/// One generated variable: a base variable or a composition of earlier-generated ones.
#[derive(Debug, Clone)]
enum Generated {
    Base(Kind),
    Composed { inputs: Vec<usize>, sensitive: bool },
}

#[derive(Debug, Clone)]
struct Case {
    variables: Vec<Generated>,
    /// The order in which the variables are declared: a permutation of their indices.
    order: Vec<usize>,
    /// A required variable that no source gives: the run fails and `explain` prints its table
    /// to stderr.
    missing: bool,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Plain),
        Just(Kind::SecureString),
        Just(Kind::Bundle),
        Just(Kind::ArnSecret),
        Just(Kind::SensitiveParameter),
        Just(Kind::SensitiveDefault),
        Just(Kind::PlainDefault),
        Just(Kind::Bootstrap),
        Just(Kind::SensitiveBootstrap),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(kind(), 2..7),
        prop::collection::vec(
            (
                prop::collection::vec(any::<prop::sample::Index>(), 1..4),
                prop::bool::weighted(0.25),
            ),
            1..7,
        ),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(bases, composed, missing, shuffle)| {
            let mut variables: Vec<Generated> = bases.into_iter().map(Generated::Base).collect();
            for (inputs, sensitive) in composed {
                // A composition uses only variables generated before it: no cycle, and chains
                // of any depth.
                let available = variables.len();
                let mut inputs: Vec<usize> = inputs.iter().map(|i| i.index(available)).collect();
                inputs.dedup();
                variables.push(Generated::Composed { inputs, sensitive });
            }
            let mut order: Vec<usize> = (0..variables.len()).collect();
            // A deterministic shuffle from the seed (proptest shrinks the seed).
            let mut state = shuffle | 1;
            for i in (1..order.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                order.swap(i, (state % (i as u64 + 1)) as usize);
            }
            Case {
                variables,
                order,
                missing,
            }
        })
}

/// The inputs of one case, written to files, and what each variable must look like.
struct Written {
    dir: tempfile::TempDir,
    /// Per variable name: its value and whether it is secret (by the definition).
    expected: BTreeMap<String, (String, bool)>,
    /// Secret values that no variable declares (drift), which must never be shown either.
    undeclared_secrets: Vec<String>,
}

fn name(i: usize) -> String {
    format!("V{i:02}")
}

fn write_case(case: &Case) -> Written {
    let dir = tempfile::tempdir().unwrap();
    let mut expected: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut manifest = String::from("service: svc\nvariables:\n");
    let mut parameters = String::new();
    let mut bundle = String::new();
    let mut arn_secret = String::new();
    let mut bootstrap = format!("SECRET_ARN='{ARN}'\n");
    manifest.push_str("  - { name: SECRET_ARN, source: local, required: true }\n");
    expected.insert("SECRET_ARN".into(), (ARN.into(), false));

    // Values first (compositions need their inputs' values), in generation order.
    let mut values: Vec<(String, bool)> = Vec::new();
    for (i, generated) in case.variables.iter().enumerate() {
        let value = match generated {
            Generated::Base(kind) => (format!("Qz{i:02}v{}Zq", *kind as u8), kind.secret()),
            Generated::Composed { inputs, sensitive } => {
                let text: Vec<&str> = inputs.iter().map(|&j| values[j].0.as_str()).collect();
                let secret = *sensitive || inputs.iter().any(|&j| values[j].1);
                (format!("C{i:02}[{}]", text.join("+")), secret)
            }
        };
        values.push(value);
    }

    for &i in &case.order {
        let n = name(i);
        let (value, secret) = &values[i];
        let line = match &case.variables[i] {
            Generated::Base(kind) => match kind {
                Kind::Plain => {
                    parameters.push_str(&format!("  /ns/svc/{n}: {value}\n"));
                    format!("  - {{ name: {n} }}\n")
                }
                Kind::SecureString => {
                    parameters.push_str(&format!(
                        "  /ns/svc/{n}: {{ value: {value}, type: SecureString }}\n"
                    ));
                    format!("  - {{ name: {n} }}\n")
                }
                Kind::Bundle => {
                    bundle.push_str(&format!("    {n}: {value}\n"));
                    format!("  - {{ name: {n} }}\n")
                }
                Kind::ArnSecret => {
                    arn_secret.push_str(&format!("    key{i}: {value}\n"));
                    format!(
                        "  - {{ name: {n}, secret: {{ arn_from: SECRET_ARN, type: json, key: key{i} }} }}\n"
                    )
                }
                Kind::SensitiveParameter => {
                    parameters.push_str(&format!("  /ns/svc/{n}: {value}\n"));
                    format!("  - {{ name: {n}, sensitive: true }}\n")
                }
                Kind::SensitiveDefault => {
                    format!("  - {{ name: {n}, sensitive: true, default: {value} }}\n")
                }
                Kind::PlainDefault => format!("  - {{ name: {n}, default: {value} }}\n"),
                Kind::Bootstrap => {
                    bootstrap.push_str(&format!("{n}={value}\n"));
                    format!("  - {{ name: {n}, source: local }}\n")
                }
                Kind::SensitiveBootstrap => {
                    bootstrap.push_str(&format!("{n}={value}\n"));
                    format!("  - {{ name: {n}, source: local, sensitive: true }}\n")
                }
            },
            Generated::Composed { inputs, sensitive } => {
                let placeholders: Vec<String> = inputs
                    .iter()
                    .map(|&j| format!("${{{}}}", name(j)))
                    .collect();
                format!(
                    "  - name: {n}\n    sensitive: {sensitive}\n    compose: {{ template: 'C{i:02}[{}]' }}\n",
                    placeholders.join("+")
                )
            }
        };
        manifest.push_str(&line);
        expected.insert(n, (value.clone(), *secret));
    }
    if case.missing {
        manifest.push_str("  - { name: NEVER_SET, required: true }\n");
    }
    let undeclared = "Qz99undeclaredZq".to_owned();
    bundle.push_str(&format!("    UNDECLARED: {undeclared}\n"));
    if parameters.is_empty() {
        parameters.push_str("  /ns/other/UNUSED: x\n");
    }
    let store = format!(
        "parameters:\n{parameters}secrets:\n  ns/svc/secrets:\n{bundle}  \"{ARN}\":\n    unused: x\n{arn_secret}"
    );
    write(dir.path(), "vars.yaml", manifest);
    write(dir.path(), "b.env", format!("NAMESPACE=ns\n{bootstrap}"));
    write(dir.path(), "store.yaml", store);
    Written {
        dir,
        expected,
        undeclared_secrets: vec![undeclared],
    }
}

fn fetch_env(dir: &Path, args: &[&str]) -> Run {
    FetchEnv::sealed(dir)
        .inputs(
            &dir.join("vars.yaml"),
            &dir.join("b.env"),
            &dir.join("store.yaml"),
        )
        .args(args)
        .run()
}

/// The VALUE cell of each row of an `explain` table, by variable name.
fn explain_values(table: &str) -> BTreeMap<String, String> {
    table
        .lines()
        .skip_while(|l| !l.starts_with("NAME "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            Some((fields.first()?.to_string(), fields.last()?.to_string()))
        })
        .collect()
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let written = write_case(case);
    let dir = written.dir.path();
    let secrets: Vec<&str> = written
        .expected
        .values()
        .filter(|(_, secret)| *secret)
        .map(|(value, _)| value.as_str())
        .chain(written.undeclared_secrets.iter().map(String::as_str))
        .collect();
    let code = if case.missing { 1 } else { 0 };

    let explain = fetch_env(dir, &["--verbose", "explain"]);
    prop_assert_eq!(explain.code, Some(code), "{}", explain.show());
    explain.assert_none_of(&secrets, false);
    let table = if case.missing {
        explain.stderr.clone()
    } else {
        explain.stdout()
    };
    let shown = explain_values(&table);
    for (variable, (value, secret)) in &written.expected {
        let cell = shown.get(variable).map(String::as_str);
        if *secret {
            prop_assert_eq!(
                cell,
                Some("********"),
                "{} is secret\n{}",
                variable,
                explain.show()
            );
        } else if value.chars().count() <= 60 {
            prop_assert_eq!(
                cell,
                Some(value.as_str()),
                "{} is plain\n{}",
                variable,
                explain.show()
            );
        } else {
            prop_assert!(
                cell.is_some_and(|c| c.ends_with('…') && value.starts_with(c.trim_end_matches('…'))),
                "{} is plain (shortened)\n{}",
                variable,
                explain.show()
            );
        }
    }

    let remote = fetch_env(dir, &["--verbose", "check", "--remote"]);
    prop_assert_eq!(remote.code, Some(code), "{}", remote.show());
    remote.assert_none_of(&secrets, false);

    // The values do reach the export, where they belong; the diagnostics beside it never.
    let export = fetch_env(dir, &["--verbose"]);
    prop_assert_eq!(export.code, Some(code), "{}", export.show());
    export.assert_none_of(&secrets, true);
    if !case.missing {
        for (value, _) in written.expected.values() {
            prop_assert!(
                export.stdout().contains(value.as_str()),
                "{}",
                export.show()
            );
        }
    }
    Ok(())
}

#[test]
fn no_secret_derived_value_is_shown_whatever_the_declaration_order() {
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case(), |case| check(&case))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The reported case, as the issue gives it: `OUTER` composed from `INNER`, declared before it,
/// composed from a bundle secret.
#[test]
fn explain_masks_an_outer_first_chain_of_compositions_of_a_bundle_secret() {
    let case = Case {
        variables: vec![
            Generated::Base(Kind::Bundle),
            Generated::Composed {
                inputs: vec![0],
                sensitive: false,
            },
            Generated::Composed {
                inputs: vec![1],
                sensitive: false,
            },
        ],
        order: vec![2, 1, 0],
        missing: false,
    };
    check(&case).unwrap_or_else(|e| panic!("{e}"));
}
