//! `run` and `restart` refuse, before they exec, an environment the kernel would refuse with
//! `E2BIG`, naming the variable. The kernel is the oracle: the same environment is handed to
//! `/bin/true` by `execve` (through `Command::spawn`, and under `prlimit` for a smaller stack
//! limit), and fetch-env must refuse exactly what it refuses (for one long string) or refuse
//! no more than 8 KiB early (for the whole environment, which fetch-env counts with the longest
//! path a `PATH` search could give the program).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::run::{Run, write};
use common::{FetchEnv, require_tool};

/// A manifest of local variables `names`, and a bootstrap file giving each `size` bytes of
/// `x` (its own letter, so that no value is a part of another).
fn inputs(dir: &Path, variables: &[(&str, usize)]) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut manifest = String::from("service: api\nvariables:\n");
    let mut bootstrap = String::new();
    for (name, size) in variables {
        manifest.push_str(&format!("  - name: {name}\n    source: local\n"));
        bootstrap.push_str(&format!("{name}={}\n", value(name, *size)));
    }
    (
        write(dir, "vars.yaml", manifest),
        write(dir, "bootstrap.env", bootstrap),
    )
}

/// The value of variable `name`: `size` copies of a letter of its own.
fn value(name: &str, size: usize) -> String {
    let letter = name.chars().last().unwrap().to_ascii_lowercase();
    std::iter::repeat_n(letter, size).collect()
}

fn path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
}

/// Whether the kernel starts `/bin/true` with `PATH` and `variables` as its environment,
/// under `prefix` (e.g. `prlimit --stack=…`).
fn kernel_starts(prefix: &[&str], variables: &[(&str, usize)]) -> bool {
    let (program, rest) = match prefix.split_first() {
        Some((program, rest)) => (*program, rest.to_vec()),
        None => ("/bin/true", Vec::new()),
    };
    let mut command = Command::new(program);
    command.args(&rest);
    if !prefix.is_empty() {
        command.arg("/bin/true");
    }
    command.env_clear().env("PATH", path());
    for (name, size) in variables {
        command.env(name, value(name, *size));
    }
    match command.stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) => status.success(),
        Err(e) if e.kind() == std::io::ErrorKind::ArgumentListTooLong => false,
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

/// `fetch-env run -- /bin/true` with `variables` from the bootstrap file, under `prefix`.
fn fetch_env_run(prefix: &[&str], variables: &[(&str, usize)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (manifest, bootstrap) = inputs(dir.path(), variables);
    let fetch_env = env!("CARGO_BIN_EXE_fetch-env");
    let mut wrapped = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(fetch_env);
            c
        }
        None => Command::new(fetch_env),
    };
    wrapped.env_clear().env("PATH", path());
    FetchEnv::wrapping(wrapped)
        .arg("--manifest")
        .arg(&manifest)
        .arg("--bootstrap")
        .arg(&bootstrap)
        .args(["--store", "file:/dev/null", "run", "--", "/bin/true"])
        .run()
}

fn assert_refused_naming(run: &Run, names: &[&str], variables: &[(&str, usize)]) {
    run.assert_failed(126);
    for name in names {
        assert!(
            run.stderr.contains(&format!("`{name}`")),
            "`{name}` in:\n{}",
            run.show()
        );
    }
    for words in ["E2BIG", "file:", "secrets:"] {
        assert!(run.stderr.contains(words), "`{words}` in:\n{}", run.show());
    }
    for (name, size) in variables {
        let part = value(name, (*size).min(64));
        assert!(
            !run.stderr.contains(&part),
            "a value reached stderr:\n{}",
            run.show()
        );
    }
}

#[test]
fn one_value_is_refused_exactly_where_the_kernel_refuses_it() {
    // `BIG=` and the value's bytes and a NUL: the kernel's limit is 128 KiB for the whole.
    let limit = 128 * 1024 - "BIG=".len() - 1;
    let mut verdicts = Vec::new();
    for size in [limit - 1, limit, limit + 1, limit + 4096] {
        let variables = [("BIG", size)];
        let kernel = kernel_starts(&[], &variables);
        let run = fetch_env_run(&[], &variables);
        verdicts.push((size, kernel, run.code));
        if kernel {
            run.assert_ok();
        } else {
            assert_refused_naming(&run, &["BIG"], &variables);
        }
    }
    // Both verdicts occur, so the boundary was crossed.
    assert!(
        verdicts.iter().any(|v| v.1) && verdicts.iter().any(|v| !v.1),
        "{verdicts:?}"
    );
}

#[test]
fn the_whole_environment_over_the_systems_limit_is_refused_naming_the_largest_variables() {
    let prlimit = require_tool("prlimit", "apt-get install util-linux");
    let prlimit = prlimit.to_str().unwrap();
    // A 2 MiB stack limit: a quarter of it, 512 KiB, for arguments and environment.
    let prefix = [prlimit, "--stack=2097152"];
    let fixed = [
        ("AAAA", 120 * 1024),
        ("BBBB", 120 * 1024),
        ("CCCC", 120 * 1024),
        ("DDDD", 120 * 1024),
    ];
    let with = |padding: usize| {
        let mut variables = fixed.to_vec();
        variables.push(("PADE", padding));
        variables
    };
    // The largest padding the kernel still accepts, by bisection.
    let (mut accepted, mut refused) = (0, 128 * 1024 - 8);
    assert!(
        kernel_starts(&prefix, &with(accepted)),
        "the kernel refuses the fixed part alone"
    );
    assert!(
        !kernel_starts(&prefix, &with(refused)),
        "the kernel accepts the largest padding"
    );
    while refused - accepted > 1 {
        let middle = (accepted + refused) / 2;
        if kernel_starts(&prefix, &with(middle)) {
            accepted = middle;
        } else {
            refused = middle;
        }
    }
    fetch_env_run(&prefix, &with(accepted - 8 * 1024)).assert_ok();
    let over = with(refused);
    assert_refused_naming(
        &fetch_env_run(&prefix, &over),
        &["AAAA", "BBBB", "CCCC"],
        &over,
    );
}

#[test]
fn restart_refuses_before_it_runs_compose() {
    let dir = tempfile::tempdir().unwrap();
    let variables = [("BIG", 200 * 1024)];
    let (manifest, bootstrap) = inputs(dir.path(), &variables);
    let marker = dir.path().join("compose-ran");
    let compose = write(
        dir.path(),
        "compose.sh",
        format!("#!/bin/sh\ntouch {}\n", marker.display()),
    );
    let sh = require_tool("sh", "apt-get install dash");
    let run = FetchEnv::bare()
        .env("PATH", path())
        .arg("--manifest")
        .arg(&manifest)
        .arg("--bootstrap")
        .arg(&bootstrap)
        .args(["--store", "file:/dev/null", "restart", "--compose-command"])
        .arg(format!("{} {}", sh.display(), compose.display()))
        .current_dir(dir.path())
        .run();
    assert_refused_naming(&run, &["BIG"], &variables);
    assert!(!marker.exists(), "compose ran");
}
