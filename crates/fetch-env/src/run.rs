//! `run -- CMD ARGS…`: replace fetch-env with CMD, its environment extended by the resolved
//! variables. No shell re-splits the arguments and no file is written. Because fetch-env
//! `exec`s, the caller sees CMD's own exit status, or its death by a signal (a shell reports
//! 128+N), exactly as if CMD had been started directly; signals reach CMD without a middleman.

use std::os::unix::process::CommandExt as _;
use std::process::Command;

use crate::cli::{Global, RunArgs};
use crate::context::with_resolved;
use crate::exit::{Exit, Failure};

pub fn run(global: &Global, args: &RunArgs) -> Result<Exit, Failure> {
    let Some((program, arguments)) = args.command.split_first() else {
        return Err(Failure::usage(
            "run needs a command: fetch-env run -- CMD ARGS…",
        ));
    };
    with_resolved(global, args.container.as_deref(), |_, resolution| {
        let environment = resolution.environment(args.container.as_deref());
        if global.dry_run {
            let shown: Vec<String> = args
                .command
                .iter()
                .map(|a| fetch_env_core::sanitize(&a.to_string_lossy()))
                .collect();
            crate::exit::eprintln_line(&format!("fetch-env: would run: {}", shown.join(" ")));
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
            std::io::ErrorKind::PermissionDenied => {
                (Exit::CommandNotExecutable, "permission denied")
            }
            _ => (Exit::CommandNotExecutable, "cannot execute"),
        };
        Err(Failure::new(
            exit,
            format!(
                "{}: {what} ({error})",
                fetch_env_core::sanitize(&program.to_string_lossy())
            ),
        ))
    })
}
