//! The default command: print (or write) the resolved environment. Nothing reaches stdout or
//! the output file unless the whole resolution succeeded.

use std::io::Write as _;

use fetch_env_core::{Format, render};

use crate::cli::{FormatArg, Global, OutputArgs};
use crate::context::with_resolved;
use crate::exit::{Exit, Failure};
use crate::output_file::{WriteOptions, write_atomically};

pub fn export(global: &Global, args: &OutputArgs) -> Result<Exit, Failure> {
    with_resolved(global, args.container.as_deref(), |_, resolution| {
        let environment = resolution.environment(args.container.as_deref());
        let format = match args.format {
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
            None => {
                let mut stdout = std::io::stdout().lock();
                if let Err(e) = stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                {
                    // A reader that went away is not an error worth a message (as with ripgrep).
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        return Err(Failure::usage(format!("cannot write to stdout: {e}")));
                    }
                }
            }
        }
        Ok(Exit::Success)
    })
}
