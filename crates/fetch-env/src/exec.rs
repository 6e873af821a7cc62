//! Replacing fetch-env with a command that carries the resolved environment: the one way `run`
//! and `restart` start anything. Because fetch-env `exec`s, the caller sees the command's own
//! exit status, or its death by a signal, exactly as if it had been started directly; signals
//! reach it without a middleman. An `exec` that fails maps to a shell's codes: 127 when the
//! command does not exist, 126 when it cannot be executed.
//!
//! An environment the kernel would refuse (`E2BIG`: one string over 128 KiB, or arguments and
//! environment together over the system's limit) is refused before the `exec`, naming the
//! variable: a boot then fails with what to change, not with "Argument list too long".

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt as _;
use std::process::Command;

use fetch_env_core::{EnvName, SecretValue};

use crate::exit::{Exit, Failure, info};

/// Execs `program` with `arguments` and `environment` added to fetch-env's own, or with
/// `dry_run` says on stderr what would run. Returns only on a dry run or a failure, whose
/// message `describe` words from what went wrong (`command not found`) and the error.
pub fn exec_with_environment(
    program: &OsStr,
    arguments: &[OsString],
    environment: &[(&EnvName, &SecretValue)],
    dry_run: bool,
    describe: impl FnOnce(&str, &std::io::Error) -> String,
) -> Result<Exit, Failure> {
    if dry_run {
        let shown: Vec<String> = std::iter::once(program)
            .chain(arguments.iter().map(OsString::as_os_str))
            .map(|word| word.to_string_lossy().into_owned())
            .collect();
        info(&format!("would run: {}", shown.join(" ")));
        return Ok(Exit::Success);
    }
    let mut command = command(program, arguments, environment)?;
    // `exec` only returns on failure.
    let error = command.exec();
    Err(start_failure(&error, describe))
}

/// Runs `program` like [`exec_with_environment`], but as a child, and waits for it: for a
/// caller with work left once it succeeded. Its status is passed on (a death by signal N as
/// 128+N, as a shell reports it).
pub fn run_with_environment(
    program: &OsStr,
    arguments: &[OsString],
    environment: &[(&EnvName, &SecretValue)],
    describe: impl FnOnce(&str, &std::io::Error) -> String,
) -> Result<Exit, Failure> {
    use std::os::unix::process::ExitStatusExt as _;
    let status = command(program, arguments, environment)?
        .status()
        .map_err(|error| start_failure(&error, describe))?;
    Ok(match (status.code(), status.signal()) {
        (Some(0), _) => Exit::Success,
        (Some(code), _) => Exit::Child(u8::try_from(code).unwrap_or(1)),
        (None, Some(signal)) => Exit::Child(u8::try_from(128 + signal).unwrap_or(255)),
        (None, None) => Exit::Child(1),
    })
}

/// The command, once its environment is known to fit what the kernel accepts.
fn command(
    program: &OsStr,
    arguments: &[OsString],
    environment: &[(&EnvName, &SecretValue)],
) -> Result<Command, Failure> {
    let overrides: Vec<(&str, &[u8])> = environment
        .iter()
        .map(|(name, value)| (name.as_str(), value.expose().as_bytes()))
        .collect();
    if let Err(problem) = fits(program, arguments, &overrides, argument_space()) {
        return Err(Failure::new(Exit::CommandNotExecutable, problem));
    }
    let mut command = Command::new(program);
    command.args(arguments);
    for (name, value) in environment {
        command.env(name.as_str(), value.expose());
    }
    Ok(command)
}

/// A command that could not be started, with a shell's exit code.
fn start_failure(
    error: &std::io::Error,
    describe: impl FnOnce(&str, &std::io::Error) -> String,
) -> Failure {
    if error.kind() == std::io::ErrorKind::ArgumentListTooLong {
        return Failure::new(
            Exit::CommandNotExecutable,
            format!(
                "{}: the environment and arguments are too large for this system; {PASS_AS_FILE}",
                describe("argument list too long", error)
            ),
        );
    }
    let (exit, what) = match error.kind() {
        std::io::ErrorKind::NotFound => (Exit::CommandNotFound, "command not found"),
        std::io::ErrorKind::PermissionDenied => (Exit::CommandNotExecutable, "permission denied"),
        _ => (Exit::CommandNotExecutable, "cannot execute"),
    };
    Failure::new(exit, describe(what, error))
}

/// The longest string the kernel copies into a new program: `MAX_ARG_STRLEN`, 32 pages of
/// 4 KiB, the terminating NUL included.
const MAX_STRING: usize = 32 * 4096;

/// The space for arguments and environment the kernel never goes below (`ARG_MAX`) and never
/// above (three quarters of the default 8 MiB stack limit).
const SPACE_FLOOR: usize = 32 * 4096;
const SPACE_CEILING: usize = 8 * 1024 * 1024 / 4 * 3;

/// The longest path a search of `PATH` may give the program: the kernel copies it too.
const PATH_MAX: usize = 4096;

/// What to do instead of handing a large value over in the environment.
const PASS_AS_FILE: &str = "give large values to the program as files: `file:` in vars.yaml writes a variable to a file and passes its path, and a container can receive it through compose `secrets:`";

/// The space the kernel gives a new program's arguments and environment: a quarter of the
/// stack limit (`ulimit -s`), within [`SPACE_FLOOR`] and [`SPACE_CEILING`].
fn argument_space() -> usize {
    let stack = rustix::process::getrlimit(rustix::process::Resource::Stack)
        .current
        .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
    (stack / 4).clamp(SPACE_FLOOR, SPACE_CEILING)
}

/// Whether `program` with `arguments` and fetch-env's environment with `overrides` fits what
/// the kernel accepts (`space` from [`argument_space`]); otherwise what to say. The count is
/// the kernel's: every string with its NUL, one pointer per string, and the program's path
/// (taken at its longest, `PATH_MAX`, since a search of `PATH` may lengthen it).
fn fits(
    program: &OsStr,
    arguments: &[OsString],
    overrides: &[(&str, &[u8])],
    space: usize,
) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt as _;
    let mut variables: Vec<(Vec<u8>, usize, bool)> = std::env::vars_os()
        .filter(|(name, _)| {
            !overrides
                .iter()
                .any(|(n, _)| name.as_bytes() == n.as_bytes())
        })
        .map(|(name, value)| {
            (
                name.as_bytes().to_vec(),
                name.len() + 1 + value.len() + 1,
                false,
            )
        })
        .collect();
    variables.extend(overrides.iter().map(|(name, value)| {
        (
            name.as_bytes().to_vec(),
            name.len() + 1 + value.len() + 1,
            true,
        )
    }));
    let name = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let kib = |bytes: usize| format!("{:.1} KiB", bytes as f64 / 1024.0);
    let origin = |resolved: bool| {
        if resolved {
            "resolved from vars.yaml"
        } else {
            "inherited from fetch-env's own environment"
        }
    };
    if let Some((variable, size, resolved)) =
        variables.iter().find(|(_, size, _)| *size > MAX_STRING)
    {
        return Err(format!(
            "`{}` ({}) takes {} in the environment (`NAME=value`), and Linux starts no program with a string over 128 KiB in its environment (E2BIG); {PASS_AS_FILE}",
            name(variable),
            origin(*resolved),
            kib(*size)
        ));
    }
    let words: Vec<&OsStr> = std::iter::once(program)
        .chain(arguments.iter().map(OsString::as_os_str))
        .collect();
    if let Some((index, _)) = words
        .iter()
        .enumerate()
        .find(|(_, w)| w.len() + 1 > MAX_STRING)
    {
        return Err(format!(
            "argument {index} of the command is over 128 KiB, and Linux starts no program with such an argument (E2BIG)"
        ));
    }
    let pointer = std::mem::size_of::<usize>();
    let needed = PATH_MAX
        + words.iter().map(|w| w.len() + 1 + pointer).sum::<usize>()
        + variables
            .iter()
            .map(|(_, size, _)| size + pointer)
            .sum::<usize>();
    if needed > space {
        let mut largest: Vec<&(Vec<u8>, usize, bool)> = variables.iter().collect();
        largest.sort_by_key(|v| std::cmp::Reverse(v.1));
        let shown: Vec<String> = largest
            .iter()
            .take(3)
            .map(|(variable, size, _)| format!("`{}` ({})", name(variable), kib(*size)))
            .collect();
        return Err(format!(
            "the command's arguments and environment take {}, over this system's {} (a quarter of the stack limit, `ulimit -s`), and Linux would not start it (E2BIG); the largest variables: {}; {PASS_AS_FILE}",
            kib(needed),
            kib(space),
            shown.join(", ")
        ));
    }
    Ok(())
}
