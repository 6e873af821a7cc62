//! `check`: offline validation of the manifest (and the bootstrap file when given), an optional
//! cross-check against a compose file ([`fetch_env_core::cross_check`]), and with `--remote` a
//! resolve that reports drift.

use fetch_env_core::{ComposeFile, Diagnostic, DiagnosticKind, Origin, Requirement, cross_check};

use crate::cli::{CheckArgs, Global};
use std::path::PathBuf;

use crate::context::{Inputs, default_compose_files, failure_diagnostic};
use crate::diagnostics::emit;
use crate::exit::{Exit, Failure};

pub fn check(global: &Global, args: &CheckArgs) -> Result<Exit, Failure> {
    let inputs = Inputs::load(global)?;
    let manifest = &inputs.manifest;
    let mut findings: Vec<Diagnostic> = Vec::new();
    // Required values missing from the bootstrap file: a resolution failure (exit 1), not an
    // invalid file.
    let mut missing: Vec<Diagnostic> = Vec::new();

    for variable in manifest.variables() {
        if let Origin::Composed(c) = &variable.origin
            && c.template.literal_contains("sslmode=")
        {
            findings.push(
                Diagnostic::warning(
                    DiagnosticKind::Manifest,
                    format!(
                        "the template of {} hard-codes `sslmode=`; TLS belongs to DATABASE_SSL_MODE and the CA bundle",
                        variable.name
                    ),
                )
                .at(variable.location.clone())
                .showing_source(manifest.shows_line(variable.location.line)),
            );
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
            missing.push(
                Diagnostic::error(
                    DiagnosticKind::Resolution,
                    format!(
                        "{} is required and `source: local`, but {} does not set it",
                        variable.name,
                        inputs.bootstrap.path()
                    ),
                )
                .at(variable.location.clone())
                .showing_source(manifest.shows_line(variable.location.line)),
            );
        }
    }

    if !args.compose.is_empty() {
        let mut files: Vec<PathBuf> = Vec::new();
        for file in &args.compose {
            if file.is_empty() {
                let found = default_compose_files(&inputs);
                if found.is_empty() {
                    return Err(Failure::usage(
                        "--compose without FILE reads the files compose would read here (COMPOSE_FILE, else compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml), and there is none",
                    ));
                }
                files.extend(found);
            } else {
                files.push(PathBuf::from(file));
            }
        }
        let compose = ComposeFile::read_all(&files).map_err(Failure::invalid)?;
        findings.extend(cross_check(manifest, &compose));
    }
    findings.sort_by(|a, b| a.location.cmp(&b.location));
    let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) =
        findings.into_iter().partition(Diagnostic::is_error);

    let mut resolution_warnings = Vec::new();
    let resolution_failures: Vec<Diagnostic> = if args.remote {
        let store = inputs.store(global)?;
        let resolution = inputs.resolve(global, store.as_ref())?;
        resolution_warnings = resolution.warnings.clone();
        resolution
            .failures
            .iter()
            .map(|failure| {
                let diagnostic = failure_diagnostic(failure);
                match crate::provision::to_do(&inputs, global, failure) {
                    Some(help) => diagnostic.with_help(help),
                    None => diagnostic,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    // Warnings first, then errors: the errors are what the exit code is about.
    emit(&warnings);
    emit(&resolution_warnings);
    emit(&errors);
    emit(&missing);
    emit(&resolution_failures);
    if !errors.is_empty() {
        return Ok(Exit::Usage);
    }
    if !missing.is_empty() || !resolution_failures.is_empty() {
        return Ok(Exit::ResolutionFailed);
    }
    crate::exit::print(&format!(
        "ok: {} ({} variables, service {} from {})\n",
        manifest.path,
        manifest.variables().len(),
        manifest.service,
        manifest.service_origin
    ))?;
    Ok(Exit::Success)
}
