//! The default command: print (or write) the resolved environment. Nothing reaches stdout or
//! the output file unless the whole resolution succeeded.

use fetch_env_core::{Format, render};

use crate::cli::{FormatArg, Global, OutputArgs};
use crate::context::with_resolved;
use crate::exit::{Exit, Failure, print};
use crate::output_file::{WriteOptions, check_target, write_atomically};

pub fn export(global: &Global, args: &OutputArgs) -> Result<Exit, Failure> {
    // A target that will be refused is refused before anything is resolved or written.
    if let Some(path) = &args.output {
        check_target(path, false).map_err(Failure::usage)?;
    }
    with_resolved(global, args.container.as_deref(), |_, resolution| {
        let environment = resolution.environment(args.container.as_deref());
        let format = match args.format.unwrap_or(FormatArg::Export) {
            FormatArg::Export => Format::Export,
            FormatArg::File => Format::File,
            FormatArg::Json => Format::Json,
        };
        let text =
            render(&environment, format).map_err(|e| Failure::new(Exit::ResolutionFailed, e))?;
        match &args.output {
            Some(path) => {
                let options = WriteOptions {
                    mode: 0o600,
                    owner: None,
                    create_parents: false,
                };
                write_atomically(path, text.as_bytes(), options).map_err(Failure::usage)?;
            }
            None => print(&text)?,
        }
        if let Some(path) = &args.record {
            let record = crate::record_file::fresh(path, resolution)?;
            crate::record_file::write(path, &record)?;
        }
        Ok(Exit::Success)
    })
}
