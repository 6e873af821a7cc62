//! What decides which variables a service receives, judged by compose v2 itself: for projects
//! of one or several files (`-f a -f b`, `COMPOSE_FILE`, `compose.yaml` with its override picked
//! up by default), `environment` as map and list, `env_file` (`required: false`), `extends` (the
//! same file and `file:`), `include:`, YAML anchors and `<<` merges and `x-` fields,
//! `docker compose config --format json` says which variables each service receives and
//! `config --variables` which variables the files use; fetch-env's reading of the same files
//! (the one `check --compose` cross-checks) must say the same.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use fetch_env_core::ComposeFile;

use common::FetchEnv;
use common::docker::{compose_binary, hermetic_environment};
use common::run::write;

/// One project: its files, and how compose is pointed at them.
struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    /// `-f` arguments; empty: compose's own discovery (or `COMPOSE_FILE`).
    args: &'static [&'static str],
    compose_file: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        name: "environment as map and list",
        files: &[(
            "compose.yaml",
            "services:\n  a:\n    image: x\n    environment:\n      A: ${A}\n      FIXED: x\n      BARE:\n  b:\n    image: x\n    environment:\n      - B=${B}\n      - LIST_BARE\n      - C=$C\n",
        )],
        args: &["-f", "compose.yaml"],
        compose_file: None,
    },
    Case {
        name: "anchors, merges and x- fields",
        files: &[(
            "compose.yaml",
            "x-common: &common\n  image: x\n  environment:\n    A: ${A}\n    SHARED: s\nx-note: ${B}\nservices:\n  a:\n    <<: *common\n  b:\n    <<: *common\n    environment:\n      OWN: ${C:-c}\n",
        )],
        args: &["-f", "compose.yaml"],
        compose_file: None,
    },
    Case {
        name: "extends in the same file and of another file",
        files: &[
            (
                "compose.yaml",
                "services:\n  base:\n    image: x\n    environment:\n      A: ${A}\n      KEEP: k\n  same:\n    extends: base\n    environment:\n      KEEP: own\n      B: ${B}\n  other:\n    extends:\n      file: common.yaml\n      service: web\n    environment:\n      C: ${C}\n",
            ),
            (
                "common.yaml",
                "services:\n  web:\n    image: x\n    environment:\n      - FROM_COMMON=${A}\n      - C=overridden\n",
            ),
        ],
        args: &["-f", "compose.yaml"],
        compose_file: None,
    },
    Case {
        name: "include",
        files: &[
            (
                "compose.yaml",
                "include:\n  - db.yaml\n  - path: [cache.yaml]\nservices:\n  app:\n    image: x\n    environment:\n      A: ${A}\n",
            ),
            (
                "db.yaml",
                "services:\n  db:\n    image: x\n    environment:\n      B: ${B}\n",
            ),
            (
                "cache.yaml",
                "services:\n  cache:\n    image: x\n    environment:\n      - C=${C}\n",
            ),
        ],
        args: &["-f", "compose.yaml"],
        compose_file: None,
    },
    Case {
        name: "several files with -f",
        files: &[
            (
                "a.yaml",
                "services:\n  app:\n    image: x\n    environment:\n      A: ${A}\n      OVER: first\n",
            ),
            (
                "b.yaml",
                "services:\n  app:\n    environment:\n      OVER: ${B}\n      ADDED: ${C}\n  extra:\n    image: x\n",
            ),
        ],
        args: &["-f", "a.yaml", "-f", "b.yaml"],
        compose_file: None,
    },
    Case {
        name: "COMPOSE_FILE with its separator",
        files: &[
            (
                "a.yaml",
                "services:\n  app:\n    image: x\n    environment:\n      A: ${A}\n",
            ),
            (
                "b.yaml",
                "services:\n  app:\n    environment:\n      B: ${B}\n",
            ),
        ],
        args: &[],
        compose_file: Some("a.yaml:b.yaml"),
    },
    Case {
        name: "the override file picked up by default",
        files: &[
            (
                "compose.yaml",
                "services:\n  app:\n    image: x\n    environment:\n      A: ${A}\n",
            ),
            (
                "compose.override.yaml",
                "services:\n  app:\n    environment:\n      B: ${B}\n  debug:\n    image: x\n    environment:\n      - C\n",
            ),
        ],
        args: &[],
        compose_file: None,
    },
    Case {
        name: "an optional env_file that is not there",
        files: &[(
            "compose.yaml",
            "services:\n  app:\n    image: x\n    env_file:\n      - path: missing.env\n        required: false\n    environment:\n      A: ${A}\n",
        )],
        args: &["-f", "compose.yaml"],
        compose_file: None,
    },
];

/// compose's reading of a case: each service's environment keys, and the variables used.
fn compose_reads(
    dir: &Path,
    case: &Case,
) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let run = |extra: &[&str]| {
        let mut command = Command::new(compose_binary());
        command
            .current_dir(dir)
            .env_clear()
            .envs(hermetic_environment())
            .env("A", "a")
            .env("B", "b")
            .env("C", "c")
            .args(case.args)
            .args(extra);
        if let Some(files) = case.compose_file {
            command.env("COMPOSE_FILE", files);
        }
        let output = command.output().expect("run compose v2");
        assert!(
            output.status.success(),
            "{}: compose refused the project: {}",
            case.name,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let config: serde_json::Value =
        serde_json::from_str(&run(&["config", "--format", "json"])).expect("compose's JSON");
    let services = config["services"]
        .as_object()
        .expect("services")
        .iter()
        .map(|(name, service)| {
            let keys = service["environment"]
                .as_object()
                .map(|e| e.keys().cloned().collect())
                .unwrap_or_default();
            (name.clone(), keys)
        })
        .collect();
    let variables = run(&["config", "--variables"])
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    (services, variables)
}

/// fetch-env's reading of the files compose reads.
fn fetch_env_reads(
    dir: &Path,
    case: &Case,
) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let files: Vec<PathBuf> = if let Some(list) = case.compose_file {
        list.split(':').map(|f| dir.join(f)).collect()
    } else if case.args.is_empty() {
        ["compose.yaml", "compose.override.yaml"]
            .iter()
            .map(|f| dir.join(f))
            .filter(|f| f.is_file())
            .collect()
    } else {
        case.args
            .iter()
            .filter(|a| **a != "-f")
            .map(|f| dir.join(f))
            .collect()
    };
    let compose = ComposeFile::read_all(&files)
        .unwrap_or_else(|e| panic!("{}: fetch-env cannot read the project: {e}", case.name));
    let services = compose
        .services
        .iter()
        .map(|s| {
            assert!(
                s.opaque.is_empty(),
                "{}: {} reads something it cannot see",
                case.name,
                s.name
            );
            (
                s.name.clone(),
                s.environment.iter().map(|e| e.name.clone()).collect(),
            )
        })
        .collect();
    let variables = compose.references.iter().map(|r| r.name.clone()).collect();
    (services, variables)
}

#[test]
fn each_service_receives_what_compose_v2_gives_it() {
    let mut disagreements = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in case.files {
            write(dir.path(), name, text);
        }
        let theirs = compose_reads(dir.path(), case);
        let ours = fetch_env_reads(dir.path(), case);
        if theirs != ours {
            disagreements.push(format!(
                "{}:\n  compose v2:  services {:?}, variables {:?}\n  fetch-env:   services {:?}, variables {:?}",
                case.name, theirs.0, theirs.1, ours.0, ours.1
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "fetch-env and compose v2 read {} of {} projects differently:\n{}",
        disagreements.len(),
        CASES.len(),
        disagreements.join("\n")
    );
}

/// `check --compose` without a file reads what compose reads in the working directory: the
/// override's service is a service, and a `containers` entry naming it is no error.
#[test]
fn check_compose_without_a_file_reads_the_files_compose_reads() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  app:\n    image: x\n    environment:\n      A: ${A}\n",
    );
    write(
        dir.path(),
        "compose.override.yaml",
        "services:\n  debug:\n    image: x\n    environment:\n      - A\n",
    );
    write(
        dir.path(),
        "vars.yaml",
        "service: s\nvariables:\n  - { name: A, source: local, containers: [app, debug] }\n",
    );
    let run = FetchEnv::new()
        .current_dir(dir.path())
        .args(["--manifest", "vars.yaml", "check", "--compose"])
        .run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(!run.stderr.contains("error"), "{}", run.show());
}
