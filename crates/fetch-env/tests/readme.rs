//! The README's promises, executed: its first command resolves the api example, its second is
//! what CI runs, and `check` is clean on every example.

mod common;

use std::path::Path;
use std::process::Command;

use common::{example, fetch_env, root};

fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line == "```sh" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            commands.push(block.join("\n"));
        }
    }
    commands
}

#[test]
fn the_first_command_resolves_the_api_example() {
    let first = readme_commands().into_iter().next().unwrap();
    let args = first
        .strip_prefix("cargo run -q -p fetch-env -- ")
        .expect("the first README command runs fetch-env through cargo");
    // The arguments hold no quotes or spaces inside words, so splitting on spaces is exact.
    let output = fetch_env()
        .current_dir(root())
        .args(args.split(' '))
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("DATABASE_URL"), "{stdout}");
    assert!(stdout.contains("compose"), "{stdout}");
    assert!(
        !stdout.contains("p@ss"),
        "explain must mask the password: {stdout}"
    );
}

#[test]
fn the_second_command_is_what_ci_runs() {
    let commands = readme_commands();
    assert_eq!(commands[1], "scripts/test.sh");
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(ci.lines().any(|l| l.trim() == "scripts/test.sh"), "{ci}");
    let status = Command::new("bash")
        .arg("-n")
        .arg(root().join("scripts/test.sh"))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn check_is_clean_on_every_example() {
    for name in [
        "api",
        "aurora-reader",
        "elasticache-rbac",
        "app-db-user",
        "tls-files",
    ] {
        let output = fetch_env()
            .arg("--manifest")
            .arg(example(name, "vars.yaml"))
            .arg("--bootstrap")
            .arg(example(name, "bootstrap.env"))
            .arg("--store")
            .arg(format!("file:{}", example(name, "store.yaml").display()))
            .arg("check")
            .arg("--remote")
            .arg("--compose")
            .arg(example(name, "docker-compose.yaml"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{name}: {stderr}");
        assert!(stderr.is_empty(), "{name}: check is not clean:\n{stderr}");
    }
}

#[test]
fn every_example_composes_its_urls() {
    let expectations = [
        (
            "api",
            "DATABASE_URL",
            "postgresql://postgres_admin:p%40ss%3Aw%2Frd%3F%23%5B%5D%26%3D%2B%25%20%27Z%C3%BCrich%2242@api-dev.cluster-c1a2b3c4d5e6.eu-central-1.rds.amazonaws.com:5432/telapi",
        ),
        (
            "aurora-reader",
            "DATABASE_READ_URL",
            "postgresql://reports_ro:r%23ead%3Fonly%20%C3%BCn%C3%AFcode%27%22@reports-dev.cluster-ro-c1a2b3c4d5e6.eu-central-1.rds.amazonaws.com:5432/reports",
        ),
        (
            "elasticache-rbac",
            "REDIS_URL",
            "rediss://voice-app:Rbac%2FPa55%3Aw%40rd%26x%3D1%20%C3%BC@master.voice-dev.abc123.euc1.cache.amazonaws.com:6379",
        ),
        (
            "app-db-user",
            "DATABASE_URL",
            "postgresql://web_app:rot%40ted%2F3%3A%26%25%3F%23@web-dev.cluster-c1a2b3c4d5e6.eu-central-1.rds.amazonaws.com:5432/web",
        ),
    ];
    for (name, variable, expected) in expectations {
        let output = common::fetch_env_example(name)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json[variable], expected, "{name}");
    }
}

/// The AWS settings table (docs/aws.md) states the retry and timeout defaults the AWS store
/// uses.
#[test]
fn the_docs_state_the_aws_defaults_the_code_uses() {
    let readme = std::fs::read_to_string(root().join("docs/aws.md")).unwrap();
    for (variable, flag, default) in common::aws_defaults() {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{variable}`, `{flag}` |")))
            .unwrap_or_else(|| panic!("docs/aws.md's settings table has no row for {variable}"));
        let stated = row
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .and_then(|cell| cell.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no default in the last cell: {row}"));
        assert_eq!(stated, default, "{row}");
    }
}

/// Every `console` block of the README: each `$ F …` line runs in bash (with `F` the README's
/// abbreviation) from a directory holding the examples, and prints exactly the lines below it.
#[test]
fn the_command_examples_print_what_the_readme_shows() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let definition = readme
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("`fetch-env --manifest examples/api/vars.yaml")
        })
        .map(|rest| {
            format!(
                "fetch-env --manifest examples/api/vars.yaml{}",
                rest.trim_end_matches('.').trim_end_matches('`')
            )
        })
        .expect("the README defines F");
    let work = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("examples"), work.path().join("examples")).unwrap();
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_fetch-env"))
        .parent()
        .unwrap()
        .to_owned();
    let mut checked = 0;
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line != "```console" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let mut i = 0;
        while i < block.len() {
            let command = block[i]
                .strip_prefix("$ ")
                .expect("a console block starts with a command");
            let expected: Vec<&str> = block[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("$ "))
                .copied()
                .collect();
            i += 1 + expected.len();
            let script = format!("F() {{ {definition} \"$@\"; }}\n{command}\n");
            let output = Command::new("bash")
                .arg("-c")
                .arg(&script)
                .current_dir(work.path())
                .env(
                    "PATH",
                    format!(
                        "{}:{}",
                        binary_dir.display(),
                        std::env::var("PATH").unwrap()
                    ),
                )
                .env_remove("NAMESPACE")
                .env_remove("FETCH_ENV_STORE")
                .output()
                .unwrap();
            let mut actual = String::from_utf8(output.stdout).unwrap();
            actual.push_str(&String::from_utf8(output.stderr).unwrap());
            let shown: String = expected.iter().map(|l| format!("{l}\n")).collect();
            assert_eq!(actual, shown, "README example `{command}`");
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} README examples found");
}
