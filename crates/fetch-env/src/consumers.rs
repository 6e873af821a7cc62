//! `consumers VARIABLE`: the containers that receive a variable, directly or through the
//! variables made from it: composed variables whose templates use it, `arn_from` secrets it
//! names, files whose path it holds. Rotating a database password restarts every container
//! that gets `DATABASE_URL`. Reads the manifest only.

use std::collections::BTreeMap;

use fetch_env_core::{Manifest, Origin, Variable};

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
    let mut receivers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for variable in dependents(manifest, start) {
        if variable.scope == fetch_env_core::Scope::Init {
            continue;
        }
        for container in &variable.containers {
            receivers
                .entry(&container.name)
                .or_default()
                .push(variable.name.as_str());
        }
    }
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

/// `start` and every variable whose value is made from it, in manifest order.
fn dependents<'m>(manifest: &'m Manifest, start: &'m Variable) -> Vec<&'m Variable> {
    let mut found = vec![start.name.as_str()];
    // Each pass adds the variables that use one already found; a fixed point is reached in at
    // most as many passes as there are variables.
    loop {
        let before = found.len();
        for variable in manifest.variables() {
            if found.contains(&variable.name.as_str()) {
                continue;
            }
            let made_from_found = match &variable.origin {
                Origin::Composed(c) => c
                    .template
                    .placeholders()
                    .iter()
                    .any(|p| found.contains(&p.as_str())),
                Origin::Secret(s) => found.contains(&s.arn_from.as_str()),
                _ => false,
            } || variable
                .file
                .as_ref()
                .is_some_and(|f| found.contains(&f.path_from.as_str()));
            if made_from_found {
                found.push(variable.name.as_str());
            }
        }
        if found.len() == before {
            break;
        }
    }
    manifest
        .variables()
        .iter()
        .filter(|v| found.contains(&v.name.as_str()))
        .collect()
}
