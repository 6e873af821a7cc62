//! Replacing fetch-env with a command that carries the resolved environment: the one way `run`
//! and `restart` start anything. Because fetch-env `exec`s, the caller sees the command's own
//! exit status, or its death by a signal, exactly as if it had been started directly; signals
//! reach it without a middleman. An `exec` that fails maps to a shell's codes: 127 when the
//! command does not exist, 126 when it cannot be executed.

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
    let mut command = Command::new(program);
    command.args(arguments);
    for (name, value) in environment {
        command.env(name.as_str(), value.expose());
    }
    // `exec` only returns on failure.
    let error = command.exec();
    let (exit, what) = match error.kind() {
        std::io::ErrorKind::NotFound => (Exit::CommandNotFound, "command not found"),
        std::io::ErrorKind::PermissionDenied => (Exit::CommandNotExecutable, "permission denied"),
        _ => (Exit::CommandNotExecutable, "cannot execute"),
    };
    Err(Failure::new(exit, describe(what, &error)))
}
