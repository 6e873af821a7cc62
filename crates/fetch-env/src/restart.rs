//! `restart [--containers a,b]`: the `update.sh --restart-only` step as one command. Resolve
//! afresh (a rotated password is read now), write the files, then replace fetch-env with
//! `docker compose up -d` (with `--no-deps` and the named services when `--containers` is
//! given) carrying the resolved environment, so that compose interpolates the new values into
//! exactly the containers being recreated.
//!
//! compose recreates a service whose configuration changed, and an `environment` value is
//! part of it; a value a service receives as a file through `secrets: {NAME: {environment:
//! VAR}}` is not, so after a rotation compose would leave the old file in place. When a service
//! being restarted receives a declared variable that way (in the compose file compose itself
//! would read here: `COMPOSE_FILE`, else `compose.yaml`, `compose.yml`, `docker-compose.yaml`
//! or `docker-compose.yml`), `--force-recreate` is added.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use fetch_env_core::ComposeFile;

use crate::cli::{Global, RestartArgs};
use crate::context::{check_container, with_resolved};
use crate::exec::exec_with_environment;
use crate::exit::{Exit, Failure};

const DEFAULT_COMPOSE: &str = "docker compose";

pub fn restart(global: &Global, args: &RestartArgs) -> Result<Exit, Failure> {
    with_resolved(global, None, |inputs, resolution| {
        for container in &args.containers {
            check_container(inputs, container)?;
        }
        let compose = inputs
            .lookup("FETCH_ENV_COMPOSE", args.compose_command.as_deref())
            .map(|s| s.value)
            .unwrap_or_else(|| DEFAULT_COMPOSE.to_owned());
        let mut words = compose.split_whitespace();
        let Some(program) = words.next() else {
            return Err(Failure::usage(
                "the compose command is empty (FETCH_ENV_COMPOSE)",
            ));
        };
        let mut arguments: Vec<OsString> = words.map(OsString::from).collect();
        arguments.extend(["up".into(), "-d".into()]);
        let through_secrets = secret_receivers(inputs, &args.containers);
        if !through_secrets.is_empty() {
            crate::exit::info(&format!(
                "recreating every service restarted: {} receive{} declared values through compose secrets, which compose does not compare",
                through_secrets.join(", "),
                if through_secrets.len() == 1 { "s" } else { "" }
            ));
            arguments.push("--force-recreate".into());
        }
        if !args.containers.is_empty() {
            arguments.push("--no-deps".into());
            arguments.extend(args.containers.iter().map(OsString::from));
        }
        // Compose interpolates the whole file, so it gets every resolved variable; which
        // containers are recreated is chosen by the arguments above.
        let environment = resolution.environment(None);
        exec_with_environment(
            OsStr::new(program),
            &arguments,
            &environment,
            global.dry_run,
            |_, error| {
                format!(
                    "cannot run the compose command `{}`: {error} (set FETCH_ENV_COMPOSE or --compose-command)",
                    compose
                )
            },
        )
    })
}

/// The services among `containers` (all when empty) that receive a declared variable through
/// a secret of the compose files compose would read in the working directory.
fn secret_receivers(inputs: &crate::context::Inputs, containers: &[String]) -> Vec<String> {
    let mut receivers: Vec<String> = Vec::new();
    for path in compose_files(inputs) {
        // A file compose cannot read either fails compose itself; nothing to add here.
        let Ok(compose) = ComposeFile::read(&path) else {
            continue;
        };
        for variable in inputs.manifest.variables() {
            for service in compose.secret_receivers(variable.name.as_str()) {
                let targeted = containers.is_empty() || containers.contains(&service.name);
                if targeted && !receivers.contains(&service.name) {
                    receivers.push(service.name.clone());
                }
            }
        }
    }
    receivers.sort();
    receivers
}

/// The compose files compose reads without `-f`: `COMPOSE_FILE` (environment, then bootstrap
/// file; separated by `COMPOSE_PATH_SEPARATOR`, `:` by default), else the first of its default
/// names in the working directory with its override file.
fn compose_files(inputs: &crate::context::Inputs) -> Vec<PathBuf> {
    if let Some(list) = inputs.lookup("COMPOSE_FILE", None) {
        let separator = inputs
            .lookup("COMPOSE_PATH_SEPARATOR", None)
            .map(|s| s.value)
            .unwrap_or_else(|| ":".to_owned());
        return list
            .value
            .split(separator.as_str())
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    let Some(file) = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file()) else {
        return Vec::new();
    };
    // The override file beside it, as compose picks it up.
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let overrides = ["yaml", "yml"].map(|ext| PathBuf::from(format!("{stem}.override.{ext}")));
    std::iter::once(file)
        .chain(overrides.into_iter().filter(|p| p.is_file()).take(1))
        .collect()
}
