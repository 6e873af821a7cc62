//! `consumers VARIABLE`: the containers that receive a variable, directly or through the
//! variables made from it: composed variables whose templates use it, `arn_from` secrets it
//! names, files whose path it holds. Rotating a database password restarts every container
//! that gets `DATABASE_URL`. Reads the manifest only.

use crate::cli::{ConsumersArgs, Global};
use crate::context::Inputs;
use crate::exit::{Exit, Failure};

pub fn consumers(global: &Global, args: &ConsumersArgs) -> Result<Exit, Failure> {
    let inputs = Inputs::load(global)?;
    let manifest = &inputs.manifest;
    let Some(start) = manifest.variable(&args.variable) else {
        let names: Vec<&str> = manifest
            .variables()
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        let hint = fetch_env_core::did_you_mean(&args.variable, names.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(Failure::usage(format!(
            "`{}` is not declared in {}{hint}",
            args.variable, manifest.path
        )));
    };
    let receivers = manifest.receivers(start);
    let text = if args.names {
        let names: Vec<&str> = receivers.keys().copied().collect();
        format!("{}\n", names.join(","))
    } else {
        receivers
            .iter()
            .map(|(container, via)| format!("{container}: {}\n", via.join(", ")))
            .collect()
    };
    crate::exit::print(&text)?;
    Ok(Exit::Success)
}
