//! `run -- CMD ARGS…`: replace fetch-env with CMD, its environment extended by the resolved
//! variables. No shell re-splits the arguments and no file is written; CMD's exit status, or
//! its death by a signal, is fetch-env's (see [`crate::exec`]).

use crate::cli::{Global, RunArgs};
use crate::context::with_resolved;
use crate::exec::exec_with_environment;
use crate::exit::{Exit, Failure};

pub fn run(global: &Global, args: &RunArgs) -> Result<Exit, Failure> {
    let Some((program, arguments)) = args.command.split_first() else {
        return Err(Failure::usage(
            "run needs a command: fetch-env run -- CMD ARGS…",
        ));
    };
    with_resolved(global, args.container.as_deref(), |_, resolution| {
        let environment = resolution.environment(args.container.as_deref());
        // `run` becomes the command: the record is written before, once everything resolved.
        if let Some(path) = args.record.as_ref().filter(|_| !global.dry_run) {
            let record = crate::record_file::fresh(path, resolution)?;
            crate::record_file::write(path, &record)?;
        }
        exec_with_environment(
            program,
            arguments,
            &environment,
            global.dry_run,
            |what, error| format!("{}: {what} ({error})", program.to_string_lossy()),
        )
    })
}
