//! `explain`: one row per variable with its status, source and containers. A value is shown
//! only when it is not secret ([`fetch_env_core::Value::shown`]): not `sensitive`, not from a
//! place meant for secrets (SecureString, Secrets Manager) and not composed from any secret
//! input; everything else is masked.

use std::io::Write as _;

use fetch_env_core::{Origin, Resolution, Scope, Store, VariableStatus, sanitize};

use crate::cli::{ExplainArgs, Global};
use crate::context::{Inputs, require_success, with_resolution};
use crate::exit::{Exit, Failure};

const MASK: &str = "********";
const MAX_SHOWN: usize = 60;

pub fn explain(global: &Global, args: &ExplainArgs) -> Result<Exit, Failure> {
    with_resolution(
        global,
        args.container.as_deref(),
        |inputs, store, resolution| report(global, args, inputs, store, &resolution),
    )
}

fn report(
    global: &Global,
    args: &ExplainArgs,
    inputs: &Inputs,
    store: &dyn Store,
    resolution: &Resolution<'_>,
) -> Result<Exit, Failure> {
    let header = format!(
        "manifest {} (service {}, from {}), store {}{}",
        inputs.manifest.path,
        inputs.manifest.service,
        inputs.manifest.service_origin,
        store.describe(),
        inputs
            .options(global)?
            .namespace
            .map(|ns| format!(", namespace {ns}"))
            .unwrap_or_default()
    );
    // The header names files and endpoints from outside: made safe for a terminal, as every
    // cell of the table is.
    let mut report = sanitize(&header) + "\n\n" + &table(resolution, args.container.as_deref());
    let statistics = store.statistics();
    if !statistics.is_empty() {
        report.push_str("\nrequests and timings:\n");
        for line in statistics {
            report.push_str(&format!("  {line}\n"));
        }
    }
    crate::diagnostics::emit(&resolution.warnings);
    if resolution.succeeded() {
        crate::exit::print(&report)?;
    } else {
        // Nothing reaches stdout from a failed resolution; the table (which masks every
        // secret) still shows the operator which rows are MISSING.
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(report.as_bytes());
    }
    require_success(resolution)?;
    Ok(Exit::Success)
}

fn table(resolution: &Resolution<'_>, container: Option<&str>) -> String {
    let mut rows = vec![[
        "NAME".to_owned(),
        "STATUS".to_owned(),
        "SOURCE".to_owned(),
        "CONTAINERS".to_owned(),
        "VALUE".to_owned(),
    ]];
    for resolved in &resolution.variables {
        let variable = resolved.variable;
        if container.is_some_and(|c| !variable.is_for_container(c)) {
            continue;
        }
        let containers = match variable.scope {
            Scope::Init => "(init)".to_owned(),
            Scope::Containers if variable.containers.is_empty() => "-".to_owned(),
            Scope::Containers => {
                let names: Vec<&str> = variable
                    .containers
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                names.join(",")
            }
        };
        let source = match (&resolved.source, &variable.origin) {
            (Some(source), _) => source.to_string(),
            (None, Origin::Composed(_)) => "compose (input unset)".to_owned(),
            (None, _) => "-".to_owned(),
        };
        let value = match resolved.value.as_ref().map(|v| v.shown()) {
            None => "-".to_owned(),
            Some(None) => MASK.to_owned(),
            Some(Some(text)) => shorten(&sanitize(text)),
        };
        let status = match resolved.status {
            VariableStatus::Resolved => "ok".to_owned(),
            other => other.to_string(),
        };
        rows.push([
            variable.name.to_string(),
            status,
            sanitize(&source),
            containers,
            value,
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == 4 {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_SHOWN {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX_SHOWN - 1).collect();
        format!("{head}…")
    }
}
