//! What fetch-env prints about itself, judged by the programs that read it: the bash
//! completion by a real bash, the JSON Schema of `vars.yaml` by `check-jsonschema` (PyPI) on
//! every manifest `check` accepts and on manifests it refuses, and the schema shipped in the
//! repository (`docs/vars.schema.json`, which the examples name for editors) by
//! `fetch-env schema` itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::moto::venv_tool;
use common::run::write;
use common::{FetchEnv, fetch_env, require_tool, root};

/// Completes `line` (the words so far, the last possibly empty) with the bash completion that
/// `fetch-env completions bash` prints, in a real bash; the candidates, sorted.
fn complete(line: &[&str]) -> Vec<String> {
    let bash = require_tool("bash", "apt-get install bash");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fetch-env.bash");
    let output = fetch_env().args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    std::fs::write(&script, &output.stdout).unwrap();
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"source '{script}'
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
function=$(complete -p fetch-env | sed -E 's/.* -F ([^ ]+) .*/\1/')
"$function" fetch-env "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        script = script.display(),
        words = words.join(" "),
    );
    let output = Command::new(bash)
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut candidates: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .filter(|w| !w.is_empty())
        .collect();
    candidates.sort();
    candidates
}

#[test]
fn bash_completes_commands_and_the_choices_of_settings() {
    assert_eq!(complete(&["fetch-env", "ex"]), ["explain"]);
    assert_eq!(
        complete(&["fetch-env", "--ssm-lookup", ""]),
        ["by-name", "by-path"]
    );
    assert_eq!(
        complete(&["fetch-env", "--secrets-lookup", ""]),
        ["bundle", "prefix"]
    );
    assert!(complete(&["fetch-env", "--ma"]).contains(&"--manifest".to_owned()));
}

fn schema_file() -> PathBuf {
    root().join("docs/vars.schema.json")
}

/// The schema in the repository is what `fetch-env schema` prints: generated, never edited.
#[test]
fn the_shipped_schema_is_the_generated_one() {
    let output = fetch_env().arg("schema").output().unwrap();
    assert!(output.status.success());
    let shipped = std::fs::read_to_string(schema_file()).unwrap_or_default();
    assert!(
        shipped == String::from_utf8(output.stdout).unwrap(),
        "docs/vars.schema.json is not what `fetch-env schema` prints; regenerate it with \
         `cargo run -q -p fetch-env -- schema > docs/vars.schema.json`"
    );
}

/// Every example names the schema for editors (yaml-language-server).
#[test]
fn every_example_names_the_schema() {
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let manifest = entry.unwrap().path().join("vars.yaml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(
            text.lines()
                .any(|l| l == "# yaml-language-server: $schema=../../docs/vars.schema.json"),
            "{} does not name the schema",
            manifest.display()
        );
    }
}

fn check_jsonschema() -> PathBuf {
    venv_tool("check-jsonschema")
}

/// `check-jsonschema`'s verdict on `manifest`.
fn schema_accepts(manifest: &Path) -> (bool, String) {
    let output = Command::new(check_jsonschema())
        .arg("--schemafile")
        .arg(schema_file())
        .arg(manifest)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

/// `fetch-env check`'s verdict on `manifest` (offline; the bare form in a `api/` directory).
fn check_accepts(manifest: &Path) -> (bool, String) {
    let run = FetchEnv::new()
        .arg("--manifest")
        .arg(manifest)
        .arg("check")
        .run();
    (run.code == Some(0), run.stderr)
}

/// Every manifest the tests keep that `check` accepts, in both forms, validates against the
/// schema; and manifests with unknown fields, wrong types, bad names and contradictory fields
/// are refused by both.
#[test]
fn the_schema_and_check_agree_on_what_is_a_manifest() {
    let mut accepted: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path().join("vars.yaml"))
        .collect();
    for dir in std::fs::read_dir(root().join("crates/fetch-env/tests/backends")).unwrap() {
        let path = dir.unwrap().path().join("vars.yaml");
        if path.is_file() {
            accepted.push(path);
        }
    }
    accepted.push(root().join("crates/fetch-env/tests/cmd/fixture/vars.yaml"));
    accepted.push(root().join("crates/fetch-env/tests/fixtures/seed/api/vars.yaml"));
    let mut problems = Vec::new();
    for manifest in &accepted {
        let (check, said) = check_accepts(manifest);
        assert!(check, "{} is refused by check: {said}", manifest.display());
        let (schema, said) = schema_accepts(manifest);
        if !schema {
            problems.push(format!(
                "{} is refused by the schema: {said}",
                manifest.display()
            ));
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let refused = [
        ("unknown field", "  - { name: A, requird: true }\n"),
        ("wrong type", "  - { name: A, required: maybe }\n"),
        ("bad name", "  - { name: 9A }\n"),
        ("bad name with a dash", "  - { name: A-B }\n"),
        (
            "source: local with secret",
            "  - { name: ARN, source: local }\n  - { name: A, source: local, secret: { arn_from: ARN, type: string } }\n",
        ),
        (
            "secret with compose",
            "  - { name: A, secret: { arn_from: A, type: string }, compose: { template: x } }\n",
        ),
        (
            "compose with default",
            "  - { name: A, default: x, compose: { template: y } }\n",
        ),
        (
            "json without a key",
            "  - { name: ARN, source: local }\n  - { name: A, secret: { arn_from: ARN, type: json } }\n",
        ),
        ("an unknown choice", "  - { name: A, scope: container }\n"),
        (
            "containers not a list",
            "  - { name: A, containers: web }\n",
        ),
        ("variables as a mapping", "__MAPPING__"),
    ];
    for (what, variables) in refused {
        let text = if variables == "__MAPPING__" {
            "service: api\nvariables:\n  A: { source: local }\n".to_owned()
        } else {
            format!("service: api\nvariables:\n{variables}")
        };
        let manifest = write(
            dir.path(),
            &format!("{}.yaml", what.replace(' ', "-")),
            text,
        );
        let (check, _) = check_accepts(&manifest);
        let (schema, _) = schema_accepts(&manifest);
        if check || schema {
            problems.push(format!(
                "{what}: check {}, the schema {}",
                if check { "accepts it" } else { "refuses it" },
                if schema { "accepts it" } else { "refuses it" }
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
