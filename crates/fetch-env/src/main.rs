//! fetch-env: resolve a service's `vars.yaml` from the host's bootstrap file, SSM Parameter
//! Store and Secrets Manager, and hand the result to a shell (`eval`), a file or a command.
//!
//! `main` parses the command line, runs one command, and maps its outcome to an exit code in
//! one place (see [`exit::Exit`]).

// No unwrap outside tests: a panic is never an acceptable answer to bad input.
#![warn(clippy::unwrap_used)]

mod changed;
mod check;
mod cli;
mod consumers;
mod context;
mod diagnostics;
mod documents;
mod exec;
mod exit;
mod explain;
mod export;
mod iam_policy;
mod output_file;
mod provision;
mod record_file;
mod restart;
mod run;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::exit::{Exit, report};

fn main() -> ExitCode {
    // A panic is a bug; its message could hold anything, so only its place is printed.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        exit::eprintln_line(&format!(
            "error: internal error{place}; this is a bug in fetch-env (the message is withheld: it could hold a value)"
        ));
    }));
    // Debug builds only: the test suite proves with it that a panic prints no value.
    #[cfg(debug_assertions)]
    if let Some(value) = std::env::var_os("FETCH_ENV_TEST_PANIC_WITH") {
        panic!("{}", value.to_string_lossy());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with status 0, usage errors with status 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            });
        }
    };
    // `--format`, `--output` and `--container` before a subcommand belong to the default
    // command; silently ignoring them would hide a mistake.
    if cli.command.is_some() && cli.output.any() {
        report(&exit::Failure::usage(
            "--format, --output and --container (before the command) apply only to printing the environment; a command takes its own options after its name (e.g. `run --container NAME`)",
        ));
        return Exit::Usage.into();
    }
    let outcome = match &cli.command {
        None => export::export(&cli.global, &cli.output),
        Some(Command::Run(args)) => run::run(&cli.global, args),
        Some(Command::Check(args)) => check::check(&cli.global, args),
        Some(Command::Explain(args)) => explain::explain(&cli.global, args),
        Some(Command::Restart(args)) => restart::restart(&cli.global, args),
        Some(Command::Consumers(args)) => consumers::consumers(&cli.global, args),
        Some(Command::Changed(args)) => changed::changed(&cli.global, args),
        Some(Command::Set(args)) => provision::set(&cli.global, args),
        Some(Command::Unset(args)) => provision::unset(&cli.global, args),
        Some(Command::Seed(args)) => provision::seed(&cli.global, args),
        Some(Command::IamPolicy(args)) => iam_policy::iam_policy(&cli.global, args),
        Some(Command::Completions(args)) => documents::completions(args.shell),
        Some(Command::Manpage) => documents::manpage(),
        Some(Command::Schema) => documents::schema(),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(failure) => {
            report(&failure);
            failure.exit.into()
        }
    }
}
