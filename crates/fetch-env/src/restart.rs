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

use fetch_env_core::ComposeFile;
use std::ffi::{OsStr, OsString};

use crate::cli::{Global, RestartArgs};
use crate::context::{check_container, default_compose_files, with_resolved};
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
    // Files compose cannot read fail compose itself; nothing to add here.
    let Ok(compose) = ComposeFile::read_all(&default_compose_files(inputs)) else {
        return receivers;
    };
    for variable in inputs.manifest.variables() {
        for service in compose.secret_receivers(variable.name.as_str()) {
            let targeted = containers.is_empty() || containers.contains(&service.name);
            if targeted && !receivers.contains(&service.name) {
                receivers.push(service.name.clone());
            }
        }
    }
    receivers.sort();
    receivers
}
