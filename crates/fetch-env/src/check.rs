//! `check`: offline validation of the manifest (and the bootstrap file when given), an optional
//! cross-check against a compose file, and with `--remote` a resolve that reports drift.

use fetch_env_core::{ComposeFile, Origin, Requirement, Scope};

use crate::cli::{CheckArgs, Global};
use crate::context::Inputs;
use crate::exit::{Exit, Failure, eprintln_line};

pub fn check(global: &Global, args: &CheckArgs) -> Result<Exit, Failure> {
    let inputs = Inputs::load(global)?;
    let manifest = &inputs.manifest;
    let mut errors: Vec<String> = Vec::new();
    // Required values missing from the bootstrap file: a resolution failure (exit 1), not an
    // invalid file.
    let mut missing: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();

    for variable in manifest.variables() {
        if let Origin::Composed(c) = &variable.origin
            && c.template.literal_contains("sslmode=")
        {
            warnings.push(format!(
                "{}: the template of {} hard-codes `sslmode=`; TLS belongs to DATABASE_SSL_MODE and the CA bundle",
                variable.location, variable.name
            ));
        }
        if global.bootstrap.is_some()
            && matches!(variable.origin, Origin::Local)
            && variable.requirement == Requirement::Required
            && variable.default.is_none()
            && inputs
                .bootstrap
                .get(variable.name.as_str())
                .is_none_or(|(v, _)| v.is_empty())
        {
            missing.push(format!(
                "{}: {} is required and `source: local`, but {} does not set it",
                variable.location,
                variable.name,
                inputs.bootstrap.path()
            ));
        }
    }

    if let Some(path) = &args.compose {
        let compose = ComposeFile::read(path).map_err(Failure::usage)?;
        for variable in manifest.variables() {
            for container in &variable.containers {
                if compose.service(&container.name).is_none() {
                    let services: Vec<&str> =
                        compose.services.iter().map(|s| s.name.as_str()).collect();
                    errors.push(format!(
                        "{}: {} is declared for container `{}`, which is not a service of {} (services: {})",
                        container.location,
                        variable.name,
                        container.name,
                        compose.path,
                        services.join(", ")
                    ));
                }
            }
        }
        for reference in &compose.references {
            let declared = manifest.variable(&reference.name);
            match declared {
                None if reference.has_default => warnings.push(format!(
                    "{}: ${{{}}} is not declared in {}; compose will use its default",
                    reference.location, reference.name, manifest.path
                )),
                None => errors.push(format!(
                    "{}: ${{{}}} is not declared in {}; compose would substitute an empty string",
                    reference.location, reference.name, manifest.path
                )),
                Some(v) if v.scope == Scope::Init => warnings.push(format!(
                    "{}: ${{{}}} is `scope: init` in {}, but the compose file uses it",
                    reference.location, reference.name, manifest.path
                )),
                Some(_) => {}
            }
        }
    }

    let resolution_failures = if args.remote {
        let store = inputs.store(global)?;
        let resolution = inputs.resolve(global, store.as_ref())?;
        warnings.extend(resolution.warnings.iter().cloned());
        resolution
            .failures
            .iter()
            .map(ToString::to_string)
            .collect()
    } else {
        Vec::new()
    };
    for warning in &warnings {
        eprintln_line(&format!("warning: {warning}"));
    }
    for error in errors.iter().chain(&missing).chain(&resolution_failures) {
        eprintln_line(&format!("error: {error}"));
    }
    if !errors.is_empty() {
        return Ok(Exit::Usage);
    }
    if !missing.is_empty() || !resolution_failures.is_empty() {
        return Ok(Exit::ResolutionFailed);
    }
    println!(
        "ok: {} ({} variables, service {})",
        manifest.path,
        manifest.variables().len(),
        manifest.service
    );
    Ok(Exit::Success)
}
