//! Command-line cases kept as files (trycmd): each `tests/cmd/GROUP/NAME.toml` runs fetch-env
//! once and compares its exit status, stdout and stderr with `NAME.stdout` and `NAME.stderr`.
//!
//! Groups: `ok` (every command on the good fixture in `tests/cmd/fixture/`), `manifest`,
//! `bootstrap`, `store`, `secret`, `resolve` (malformed or incomplete inputs, each group with its
//! files in `GROUP/inputs/`) and `usage` (bad command lines).
//!
//! Cases compare bytes (`binary = true`): in text mode trycmd turns every backslash into '/'
//! (Windows path normalisation), which would hide a quoting bug such as `'\''` becoming `'/''`.
//! The two cases that need a wildcard use text mode and say why in their `.toml`.
//!
//! Regenerate the expected files with `TRYCMD=overwrite cargo test -p fetch-env --test cli`, then
//! read every changed one: overwrite also rewrites `status.code`.
//!
//! Every secret-ish value of the inputs (passwords, bundle values, bootstrap credentials, the
//! values on a bad bootstrap line, the text of invalid JSON) contains `CANARY`. trycmd proves that
//! the actual output equals the expected files; [`no_case_expects_a_secret_or_partial_output`]
//! proves that no expected stderr holds a canary and that no failing case expects anything on
//! stdout. Together: no secret reaches stderr, and a failure prints nothing to stdout.

mod common;

use std::path::{Path, PathBuf};

const CANARY: &str = "CANARY";

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin("fetch-env", trycmd::cargo::cargo_bin!("fetch-env"))
        .timeout(std::time::Duration::from_secs(60))
        .case("tests/cmd/**/*.toml");
}

#[test]
fn no_case_expects_a_secret_or_partial_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cmd");
    let mut cases = Vec::new();
    collect_cases(&root, &mut cases);
    assert!(
        cases.len() >= 30,
        "expected the case files under {}, found {}",
        root.display(),
        cases.len()
    );

    let mut problems = Vec::new();
    for case in &cases {
        let shown = case
            .strip_prefix(&root)
            .unwrap_or(case)
            .display()
            .to_string();
        let toml = std::fs::read_to_string(case).expect("readable case file");
        let stdout = case.with_extension("stdout");
        let stderr = case.with_extension("stderr");
        let expected_stdout = std::fs::read(&stdout).ok();
        let expected_stderr = std::fs::read(&stderr).ok();

        if let Some(text) = &expected_stderr
            && contains(text, CANARY)
        {
            problems.push(format!("{shown}: the expected stderr contains {CANARY}"));
        }
        if toml.contains("stdout =") || toml.contains("stderr =") {
            problems.push(format!(
                "{shown}: keep expected output in .stdout/.stderr files, not inline"
            ));
        }
        // Every case removes every setting, so that the environment of whoever runs the tests
        // cannot change a result.
        for setting in common::run::SETTINGS {
            if !removed_settings(&toml).iter().any(|s| s == setting) {
                problems.push(format!("{shown}: env.remove does not remove {setting}"));
            }
        }
        let args = args_line(&toml);
        if args.contains("\"explain\"")
            && let Some(text) = &expected_stdout
            && contains(text, CANARY)
        {
            problems.push(format!(
                "{shown}: explain shows a secret value ({CANARY}) on stdout"
            ));
        }

        match status_code(&toml) {
            None => problems.push(format!("{shown}: no `status.code = N` line")),
            Some(0) => {}
            Some(code) => {
                // An absent NAME.stdout is not checked by trycmd, so a failing case needs an
                // empty one to prove that nothing reached stdout.
                match &expected_stdout {
                    None => problems.push(format!(
                        "{shown}: exits {code} but has no (empty) NAME.stdout"
                    )),
                    Some(text) if !text.is_empty() => problems.push(format!(
                        "{shown}: exits {code} but expects output on stdout"
                    )),
                    Some(_) => {}
                }
                // Any other status is that of a command started by `run`, which may be silent.
                let own_failure = matches!(code, 1 | 2 | 3 | 126 | 127);
                if own_failure && expected_stderr.as_ref().is_none_or(Vec::is_empty) {
                    problems.push(format!(
                        "{shown}: exits {code} but expects no message on stderr"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `--help` states the retry and timeout defaults the AWS store uses. It once said 4 attempts
/// and 15 s while the code used 8 and 60, and the snapshot of `--help` froze the wrong text.
#[test]
fn the_help_states_the_aws_defaults_the_code_uses() {
    let output = common::fetch_env().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (_, flag, default) in common::aws_defaults() {
        // The flag's line, then its description up to the next blank line.
        let description: String = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(&format!("{flag} ")))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .collect();
        let stated = description
            .split_once("(default ")
            .and_then(|(_, rest)| rest.split_once(')'))
            .and_then(|(number, _)| number.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{flag} states no default:\n{help}"));
        assert_eq!(stated, default, "{flag}: {description}");
    }
}

fn collect_cases(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable tests/cmd")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_cases(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The value of `status.code = N` (the only form the case files use).
fn status_code(toml: &str) -> Option<i32> {
    toml.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("status.code")?;
        rest.trim_start().strip_prefix('=')?.trim().parse().ok()
    })
}

fn args_line(toml: &str) -> &str {
    toml.lines()
        .find(|line| line.trim_start().starts_with("args"))
        .unwrap_or_default()
}

/// The names in `env.remove = ["A", "B"]`.
fn removed_settings(toml: &str) -> Vec<String> {
    toml.lines()
        .find_map(|line| line.trim().strip_prefix("env.remove"))
        .and_then(|rest| rest.trim_start().strip_prefix('='))
        .map(|list| {
            list.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split(',')
                .map(|s| s.trim().trim_matches('"').to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `--version` names the commit the binary was built from: this checkout's HEAD.
#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let head = std::process::Command::new("git")
        .current_dir(common::root())
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .expect("git (the tests run in a checkout)");
    let head = String::from_utf8(head.stdout).unwrap();
    let output = common::fetch_env().arg("--version").output().unwrap();
    let version = String::from_utf8(output.stdout).unwrap();
    assert!(
        version.starts_with(&format!(
            "fetch-env {} (commit {}",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )),
        "{version}"
    );
}
