//! The default command: print (or write) the resolved environment. Nothing reaches stdout or
//! the output file unless the whole resolution succeeded.

use std::io::Write as _;

use fetch_env_core::{Format, render};

use crate::cli::{FormatArg, Global, OutputArgs};
use crate::context::{Inputs, require_success};
use crate::exit::{Exit, Failure};
use crate::output_file::write_atomically;

pub fn export(global: &Global, args: &OutputArgs) -> Result<Exit, Failure> {
    let inputs = Inputs::load(global)?;
    let store = inputs.store(global)?;
    let resolution = inputs.resolve(global, store.as_ref())?;
    require_success(&resolution)?;
    if let Some(container) = &args.container {
        check_container(&inputs, container)?;
    }
    let environment = resolution.environment(args.container.as_deref());
    let format = match args.format {
        FormatArg::Export => Format::Export,
        FormatArg::File => Format::File,
        FormatArg::Json => Format::Json,
    };
    let text = render(&environment, format).map_err(|e| Failure::new(Exit::ResolutionFailed, e))?;
    match &args.output {
        Some(path) => write_atomically(path, text.as_bytes()).map_err(Failure::usage)?,
        None => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // A reader that went away is not an error worth a message (as with ripgrep).
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(Failure::new(
                        Exit::Usage,
                        format!("cannot write to stdout: {e}"),
                    ));
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// `--container NAME` must name a container some variable is declared for: a typo would
/// otherwise silently produce an empty environment.
pub fn check_container(inputs: &Inputs, container: &str) -> Result<(), Failure> {
    let known: Vec<&str> = {
        let mut names: Vec<&str> = inputs
            .manifest
            .variables()
            .iter()
            .flat_map(|v| v.containers.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    };
    if known.contains(&container) {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "no variable of {} is declared for container `{}` (containers: {})",
        inputs.manifest.path,
        fetch_env_core::sanitize(container),
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )))
}
