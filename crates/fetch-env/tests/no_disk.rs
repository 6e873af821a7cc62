//! No-disk proof (SPEC 6, "Secrets: never written to disk except an explicit `file:` or
//! `--format file`"): fetch-env runs under strace, and every system call that can put bytes
//! into a file is checked against the files the command line or the manifest asked for.
//!
//! Traced: `open`, `openat`, `openat2`, `creat`, `rename`, `renameat`, `renameat2`, `link`,
//! `linkat`, `truncate`, `ftruncate`, with `-f` (threads and children: the AWS SDK's tokio
//! workers, and for `run` the command fetch-env replaces itself with). Two additions to that
//! set: `-y`, so that every file descriptor is printed with its path (an `openat` relative to
//! a directory descriptor, or an `ftruncate`, can then be checked as well as an absolute
//! path); and `execve`, so that a `run` test can prove the command really started.
//!
//! A write is an open with `O_WRONLY`, `O_RDWR`, `O_CREAT` or `O_TRUNC` (whether it succeeded
//! or not: an attempt that failed for lack of permission is still an attempt), and every
//! `creat`, `truncate`, `ftruncate`, rename (both names) and link (the new name). Allowed
//! targets are exactly the `--output` file and the `file:` targets, each with the temporary
//! siblings `.fetch-env.*` in its own directory that the atomic write goes through. A write
//! anywhere else, or one whose path cannot be resolved, fails the test with its strace line.
//!
//! The child of `run`: strace follows it after the `exec`, so its calls are in the same log.
//! The tests run `true`, which writes nothing, and judge the whole log by the same rule: the
//! claim proven is that fetch-env plus a silent command write nothing, hence that fetch-env
//! writes nothing before it hands over. A real command (docker compose) writes what it
//! writes; that is its business and not traced here.
//!
//! `mkdir` is not traced: directories hold no data. That `file:` parents are created (mode
//! 0755) is tests/tls_files.rs's subject.

mod common;
mod safety;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use common::moto::moto;
use common::{example, require_tool};
use safety::{Run, run_bounded, sealed_environment, write};

/// The system calls traced (see the module documentation for the two additions).
const TRACED: &str =
    "open,openat,openat2,creat,rename,renameat,renameat2,link,linkat,truncate,ftruncate,execve";

/// One traced run: what fetch-env did, and strace's log of it.
struct Trace {
    run: Run,
    log: String,
}

/// Runs fetch-env with `args` under strace, in `cwd`, with `environment` only.
fn traced(cwd: &Path, environment: &[(String, String)], args: &[OsString]) -> Trace {
    let strace = require_tool("strace", "apt-get install strace");
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("strace.log");
    let mut command = Command::new(strace);
    command
        .env_clear()
        .envs(environment.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .args(["-f", "-y", "-e", &format!("trace={TRACED}"), "-o"])
        .arg(&log)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_fetch-env"))
        .args(args);
    let run = run_bounded(&mut command);
    let log = std::fs::read_to_string(&log).expect("strace wrote its log");
    assert!(
        log.contains("execve("),
        "strace traced nothing:\n{log}\n{}",
        run.show()
    );
    Trace { run, log }
}

fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

// ---------------------------------------------------------------------------------------------
// The log

/// A traced call that writes, with the paths it writes to (`None`: not resolvable).
#[derive(Debug, Clone, PartialEq, Eq)]
struct WriteCall {
    line: String,
    syscall: String,
    targets: Vec<Option<PathBuf>>,
}

/// Every write in `log`, in order.
fn writes(log: &str) -> Vec<WriteCall> {
    log.lines().filter_map(write_call).collect()
}

/// The successful `execve` calls of `log`, by program path.
fn executed(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|line| {
            let (syscall, args, result) = split(line)?;
            (syscall == "execve" && result.is_some_and(|r| r.trim_start().starts_with("= 0")))
                .then(|| args.first().map(|p| unquote(p)))?
        })
        .collect()
}

/// `PID  name(args) = result`, `PID  name(args <unfinished ...>`: the name, the top-level
/// arguments and what follows them (`None` when the call is unfinished). A `<... resumed>`
/// line carries no arguments that matter here: the path and flags are printed before the
/// split.
fn split(line: &str) -> Option<(&str, Vec<&str>, Option<&str>)> {
    let rest = line.trim_start();
    let rest = rest
        .strip_prefix(|c: char| c.is_ascii_digit())
        .map(|r| {
            r.trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start()
        })
        .unwrap_or(rest);
    let open = rest.find('(')?;
    let name = &rest[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let body = &rest[open + 1..];
    let (args, result) = match body.find(" <unfinished ...>") {
        Some(at) => (&body[..at], None),
        None => {
            let end = arguments_end(body)?;
            (&body[..end], Some(&body[end + 1..]))
        }
    };
    Some((name, top_level(args), result))
}

/// The index of the `)` that closes the argument list of `body` (quotes and brackets skipped).
fn arguments_end(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' | '<' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' | ']' | '}' | '>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Splits an argument list at its top-level commas.
fn top_level(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0);
    for (i, c) in args.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' | '<' => depth += 1,
            ')' | ']' | '}' | '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = args[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// A quoted path as strace prints it, unescaped (`\"`, `\\`, `\n`, `\t`, `\xNN`).
fn unquote(arg: &str) -> String {
    let inner = arg
        .trim()
        .strip_prefix('"')
        .and_then(|a| a.strip_suffix('"'))
        .unwrap_or(arg);
    let mut bytes = Vec::new();
    let mut chars = inner.bytes().peekable();
    while let Some(b) = chars.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match chars.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(b'x') => {
                let hex: Vec<u8> = chars.by_ref().take(2).collect();
                let text = String::from_utf8_lossy(&hex).into_owned();
                bytes.push(u8::from_str_radix(&text, 16).unwrap_or(b'?'));
            }
            Some(other) => bytes.push(other),
            None => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The path inside `3</some/path>` or `AT_FDCWD</cwd>` (printed by `-y`).
fn descriptor_path(arg: &str) -> Option<PathBuf> {
    let start = arg.find('<')?;
    let end = arg.rfind('>')?;
    (end > start).then(|| PathBuf::from(&arg[start + 1..end]))
}

/// `path` relative to the directory descriptor `dirfd` (`None`: the current directory,
/// which `-y` prints as `AT_FDCWD</cwd>` when a descriptor is given).
fn resolve(dirfd: Option<&str>, path: &str) -> Option<PathBuf> {
    let path = unquote(path);
    if path.starts_with('/') {
        return Some(normalize(Path::new(&path)));
    }
    let base = descriptor_path(dirfd?)?;
    Some(normalize(&base.join(path)))
}

/// `.` and `..` removed lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn opens_for_writing(flags: &str) -> bool {
    flags
        .split(|c: char| c == '|' || c == ',' || c == '=' || c.is_whitespace() || c == '{')
        .any(|f| matches!(f, "O_WRONLY" | "O_RDWR" | "O_CREAT" | "O_TRUNC"))
}

fn write_call(line: &str) -> Option<WriteCall> {
    let (syscall, args, _) = split(line)?;
    let arg = |i: usize| args.get(i).copied();
    let targets = match syscall {
        "open" if opens_for_writing(arg(1)?) => vec![resolve(None, arg(0)?)],
        "openat" | "openat2" if opens_for_writing(arg(2)?) => vec![resolve(arg(0), arg(1)?)],
        "creat" | "truncate" => vec![resolve(None, arg(0)?)],
        "ftruncate" => vec![descriptor_path(arg(0)?)],
        "rename" => vec![resolve(None, arg(0)?), resolve(None, arg(1)?)],
        "renameat" | "renameat2" => vec![resolve(arg(0), arg(1)?), resolve(arg(2), arg(3)?)],
        "link" => vec![resolve(None, arg(1)?)],
        "linkat" => vec![resolve(arg(2), arg(3)?)],
        _ => return None,
    };
    Some(WriteCall {
        line: line.to_owned(),
        syscall: syscall.to_owned(),
        targets,
    })
}

/// The writes of `log` that touch anything but `allowed` and their `.fetch-env.*` siblings.
fn offending(log: &str, allowed: &[PathBuf]) -> Vec<String> {
    let allowed: Vec<PathBuf> = allowed.iter().map(|p| canonical_target(p)).collect();
    let permitted = |path: &Path| {
        allowed.iter().any(|target| {
            path == target
                || (path.parent() == target.parent()
                    && path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(".fetch-env.")))
        })
    };
    writes(log)
        .into_iter()
        .filter(|w| {
            w.targets
                .iter()
                .any(|t| t.as_deref().is_none_or(|p| !permitted(p)))
        })
        .map(|w| w.line)
        .collect()
}

/// `path` with its directory resolved (the target itself may not exist yet, or be replaced).
fn canonical_target(path: &Path) -> PathBuf {
    let parent = path.parent().expect("a target has a directory");
    let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| normalize(parent));
    parent.join(path.file_name().expect("a target has a name"))
}

fn assert_only_writes_to(trace: &Trace, allowed: &[PathBuf]) {
    trace.run.assert_ok();
    let offending = offending(&trace.log, allowed);
    assert!(
        offending.is_empty(),
        "fetch-env {} wrote outside {allowed:?}:\n{}",
        trace.run.args.join(" "),
        offending.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The checker itself

/// The checker must see every kind of write, or the tests below would prove nothing.
#[test]
fn the_checker_flags_every_kind_of_write_outside_the_targets() {
    let log = r#"100   openat(AT_FDCWD</work>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>
100   openat(AT_FDCWD</work>, "/tmp/t/.fetch-env.AbCdEf", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 3</tmp/t/.fetch-env.AbCdEf>
100   renameat(AT_FDCWD</work>, "/tmp/t/.fetch-env.AbCdEf", AT_FDCWD</work>, "/tmp/t/out.env") = 0
100   openat(AT_FDCWD</work>, "/root/.aws/cache.json", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = -1 EACCES (Permission denied)
101   open("/var/tmp/spill", O_RDWR) = 4</var/tmp/spill>
101   openat(5</home/u>, "relative.txt", O_WRONLY|O_APPEND <unfinished ...>
101   <... openat resumed>) = 6</home/u/relative.txt>
102   openat(AT_FDCWD</work>, "sub/../../escape", O_TRUNC|O_RDONLY) = 7</escape>
102   openat2(AT_FDCWD</work>, "/tmp/t/x", {flags=O_WRONLY|O_CREAT, mode=0600, resolve=0}, 24) = 8</tmp/t/x>
102   creat("/tmp/creat", 0600) = 9</tmp/creat>
102   rename("/tmp/t/out.env", "/tmp/elsewhere") = 0
102   renameat2(AT_FDCWD</work>, "/tmp/t/.fetch-env.x", AT_FDCWD</work>, "/tmp/t/out.env", RENAME_NOREPLACE) = 0
102   link("/tmp/t/out.env", "/tmp/hardlink") = 0
102   linkat(AT_FDCWD</work>, "/tmp/t/.fetch-env.y", AT_FDCWD</work>, "/tmp/t/out.env", 0) = 0
102   truncate("/tmp/truncated", 0) = 0
102   ftruncate(9</tmp/creat>, 0) = 0
102   ftruncate(3</tmp/t/.fetch-env.AbCdEf>, 10) = 0
102   openat(7, "unresolvable", O_WRONLY) = 10
102   openat(AT_FDCWD</work>, "/tmp/t/reader", O_RDONLY|O_CLOEXEC) = 11</tmp/t/reader>
102   +++ exited with 0 +++"#;
    let allowed = [PathBuf::from("/tmp/t/out.env")];
    let flagged = offending(log, &allowed);
    let expected: Vec<&str> = vec![
        "/root/.aws/cache.json",
        "/var/tmp/spill",
        "relative.txt",
        "sub/../../escape",
        "openat2(AT_FDCWD</work>, \"/tmp/t/x\"",
        "creat(",
        "/tmp/elsewhere",
        "/tmp/hardlink",
        "truncate(\"/tmp/truncated\"",
        "ftruncate(9</tmp/creat>",
        "\"unresolvable\"",
    ];
    assert_eq!(flagged.len(), expected.len(), "{flagged:#?}");
    for (line, needle) in flagged.iter().zip(&expected) {
        assert!(line.contains(needle), "{line} vs {needle}");
    }
    // Dirfd-relative paths resolve against the descriptor's own path.
    let relative = writes(log)
        .into_iter()
        .find(|w| w.line.contains("relative.txt"))
        .unwrap();
    assert_eq!(
        relative.targets,
        vec![Some(PathBuf::from("/home/u/relative.txt"))]
    );
}

// ---------------------------------------------------------------------------------------------
// fetch-env

fn api_args(extra: &[&str]) -> Vec<OsString> {
    let mut args = vec![
        OsString::from("--manifest"),
        example("api", "vars.yaml").into(),
        "--bootstrap".into(),
        example("api", "bootstrap.env").into(),
        "--store".into(),
        format!("file:{}", example("api", "store.yaml").display()).into(),
    ];
    args.extend(os_args(extra));
    args
}

/// Printing, explaining and handing over to a command write no file at all.
#[test]
fn export_explain_and_run_write_no_file() {
    let home = tempfile::tempdir().unwrap();
    let environment = sealed_environment(home.path());
    for extra in [
        &["--format", "export"][..],
        &["--format", "json"],
        &["--format", "file"],
        &["explain"],
        &["check", "--remote"],
        &["run", "--", "true"],
    ] {
        let trace = traced(home.path(), &environment, &api_args(extra));
        assert_only_writes_to(&trace, &[]);
        if extra[0] == "run" {
            assert!(
                executed(&trace.log).iter().any(|p| p.ends_with("/true")),
                "`true` was executed:\n{}",
                trace.log
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(home.path()).unwrap().count(),
        0,
        "nothing appeared in HOME"
    );
}

/// `--format file --output F` writes F (through a temporary sibling) and nothing else, for an
/// absolute path and for a path relative to the current directory.
#[test]
fn the_output_file_is_the_only_file_written() {
    let dir = tempfile::tempdir().unwrap();
    let environment = sealed_environment(dir.path());
    let absolute = dir.path().join("absolute.env");
    for (output, target) in [
        (absolute.to_str().unwrap(), absolute.clone()),
        ("relative.env", dir.path().join("relative.env")),
    ] {
        let trace = traced(
            dir.path(),
            &environment,
            &api_args(&["--format", "file", "--output", output]),
        );
        assert_only_writes_to(&trace, std::slice::from_ref(&target));
        // The checker saw the write it allows: the rename onto the target.
        let target = canonical_target(&target);
        assert!(
            writes(&trace.log)
                .iter()
                .any(|w| w.syscall.starts_with("rename")
                    && w.targets.last() == Some(&Some(target.clone()))),
            "no rename onto {}:\n{}",
            target.display(),
            trace.log
        );
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

/// The record (and the key of its digests, beside it) is the only file written by printing with
/// `--record`, by `run --record`, and by `restart`, which writes it once compose (here `true`)
/// succeeded.
#[test]
fn the_record_and_its_key_are_the_only_files_written() {
    let dir = tempfile::tempdir().unwrap();
    let environment = sealed_environment(dir.path());
    let record = dir.path().join("records/api.json");
    let key = dir.path().join("records/fetch-env.key");
    let r = record.to_str().unwrap();
    for extra in [
        &["--format", "json", "--record", r][..],
        &["run", "--record", r, "--", "true"],
        &["restart", "--compose-command", "true", "--record", r],
        &[
            "restart",
            "--changed",
            "--compose-command",
            "true",
            "--record",
            r,
        ],
    ] {
        let _ = std::fs::remove_file(&record);
        let trace = traced(dir.path(), &environment, &api_args(extra));
        assert_only_writes_to(&trace, &[record.clone(), key.clone()]);
        assert!(record.is_file(), "{extra:?} wrote no record");
        let mode = std::fs::metadata(&record).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

/// The tls-files example with its `*_FILE` paths in a temporary directory (as in
/// tests/tls_files.rs): the three files are written, and nothing else.
#[test]
fn tls_material_is_written_only_to_its_targets() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::fs::read_to_string(example("tls-files", "store.yaml"))
        .unwrap()
        .replace("/tmp/fetch-env-tls-example", dir.path().to_str().unwrap());
    let store = write(dir.path(), "store.yaml", store);
    let targets = [
        dir.path().join("database/ca.crt"),
        dir.path().join("internal/ca.crt"),
        dir.path().join("internal/tls.key"),
    ];
    let environment = sealed_environment(dir.path());
    let args = |extra: &[&str]| {
        let mut args = vec![
            OsString::from("--manifest"),
            example("tls-files", "vars.yaml").into(),
            "--bootstrap".into(),
            example("tls-files", "bootstrap.env").into(),
            "--store".into(),
            format!("file:{}", store.display()).into(),
        ];
        args.extend(os_args(extra));
        args
    };

    let first = traced(dir.path(), &environment, &args(&["--format", "export"]));
    assert_only_writes_to(&first, &targets);
    for target in &targets {
        assert!(target.is_file(), "{} was written", target.display());
    }
    // Unchanged material is left alone: the second run writes nothing at all.
    let second = traced(dir.path(), &environment, &args(&["run", "--", "true"]));
    assert_only_writes_to(&second, &[]);

    // Changed material with an output file: the material and the output file, nothing else.
    std::fs::remove_file(&targets[0]).unwrap();
    let output = dir.path().join("app.env");
    let third = traced(
        dir.path(),
        &environment,
        &args(&["--format", "file", "--output", output.to_str().unwrap()]),
    );
    let mut allowed = targets.to_vec();
    allowed.push(output);
    assert_only_writes_to(&third, &allowed);
    assert!(
        !offending(&third.log, &targets[1..]).is_empty(),
        "the checker sees the writes of the third run"
    );
}

/// The AWS store (moto on loopback) with HOME an empty directory and no AWS_CONFIG_FILE or
/// AWS_SHARED_CREDENTIALS_FILE: the SDK looks for ~/.aws/config and ~/.aws/credentials there
/// and must neither write them nor any cache (SSO tokens, credentials, endpoints).
#[test]
fn the_aws_store_writes_no_file() {
    let moto = moto();
    let arns = moto.seed(&example("api", "store.yaml"));
    let home = tempfile::tempdir().unwrap();
    let bootstrap = arns.iter().fold(
        std::fs::read_to_string(example("api", "bootstrap.env")).unwrap(),
        |text, (from, to)| text.replace(from, to),
    );
    let work = tempfile::tempdir().unwrap();
    let bootstrap = write(work.path(), "bootstrap.env", bootstrap);
    let mut environment: Vec<(String, String)> = sealed_environment(home.path())
        .into_iter()
        .filter(|(k, _)| k != "AWS_CONFIG_FILE" && k != "AWS_SHARED_CREDENTIALS_FILE")
        .collect();
    for (key, value) in [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_REGION", "eu-central-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ] {
        environment.push((key.to_owned(), value.to_owned()));
    }
    for extra in [&["--format", "export"][..], &["run", "--", "true"]] {
        let mut args = vec![
            OsString::from("--manifest"),
            example("api", "vars.yaml").into(),
            "--bootstrap".into(),
            bootstrap.clone().into(),
            "--store".into(),
            "aws".into(),
        ];
        args.extend(os_args(extra));
        let trace = traced(work.path(), &environment, &args);
        assert_only_writes_to(&trace, &[]);
        // The SDK did look for its files in this HOME, so this HOME is where it would write.
        let config = format!("\"{}/.aws/config\"", home.path().display());
        assert!(
            trace.log.contains(&config),
            "{config} was not read:\n{}",
            trace.log
        );
        if extra[0] == "--format" {
            assert!(
                trace.run.stdout().contains("export DATABASE_URL="),
                "{}",
                trace.run.show()
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(home.path()).unwrap().count(),
        0,
        "the SDK created something in HOME"
    );
}
