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
//!
//! After compose succeeded, the record of what the recreated containers received is written
//! (`/run/fetch-env/SERVICE.json`, or `--record FILE`; see [`fetch_env_core::record`]), so
//! compose runs as a child; with `--no-record`, compose replaces fetch-env as `run`'s command
//! does. `--changed` compares the record with the fresh resolution and recreates exactly the
//! containers that receive a value that moved, with `--no-deps --force-recreate` (a value
//! received as a secret file or a `file:` mount is not part of what compose compares), and
//! nothing when nothing moved; without a record it recreates every container.

use fetch_env_core::record::{Record, containers_to_recreate};
use fetch_env_core::{ComposeFile, Diagnostic, DiagnosticKind};
use std::ffi::{OsStr, OsString};

use crate::cli::{Global, RestartArgs};
use crate::context::{check_container, default_compose_files, with_resolved};
use crate::exec::{exec_with_environment, run_with_environment};
use crate::exit::{Exit, Failure, info};
use crate::record_file;

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
        // `--changed` reads the record; any restart but `--no-record` writes it.
        let (record, chosen) = crate::changed::record_path(args.record.as_deref(), inputs);
        // The containers to recreate: those named, those whose values moved (`--changed`), or
        // all; `None` is all.
        let targets: Option<Vec<String>> = if args.changed {
            let path = record.as_path();
            let compared = crate::changed::compare(path, resolution, &inputs.manifest)?;
            match compared.recorded {
                None => {
                    info("recreating every container, and writing the record");
                    arguments.push("--force-recreate".into());
                    None
                }
                Some(recorded) => {
                    let containers = containers_to_recreate(&compared.changes);
                    for change in &compared.changes {
                        info(&crate::changed::describe(change));
                    }
                    if containers.is_empty() {
                        info(&format!(
                            "nothing to recreate: no container received a value that moved since {} was written",
                            recorded.written
                        ));
                        if !compared.changes.is_empty() && !global.dry_run {
                            // Variables no container receives moved: the record says so now.
                            let updated =
                                recorded.updated(compared.fresh, &inputs.manifest, Some(&[]));
                            record_file::write(path, &updated)?;
                        }
                        return Ok(Exit::Success);
                    }
                    // A value received as a secret file or a `file:` mount is not part of what
                    // compose compares: every target is recreated.
                    arguments.push("--force-recreate".into());
                    Some(containers)
                }
            }
        } else {
            let through_secrets = secret_receivers(inputs, &args.containers);
            if !through_secrets.is_empty() {
                info(&format!(
                    "recreating every service restarted: {} receive{} declared values through compose secrets, which compose does not compare",
                    through_secrets.join(", "),
                    if through_secrets.len() == 1 { "s" } else { "" }
                ));
                arguments.push("--force-recreate".into());
            }
            (!args.containers.is_empty()).then(|| args.containers.clone())
        };
        if let Some(containers) = &targets {
            arguments.push("--no-deps".into());
            arguments.extend(containers.iter().map(OsString::from));
        }
        // Compose interpolates the whole file, so it gets every resolved variable; which
        // containers are recreated is chosen by the arguments above.
        let environment = resolution.environment(None);
        let describe = |_: &str, error: &std::io::Error| {
            format!(
                "cannot run the compose command `{}`: {error} (set FETCH_ENV_COMPOSE or --compose-command)",
                compose
            )
        };
        if args.no_record || global.dry_run {
            return exec_with_environment(
                OsStr::new(program),
                &arguments,
                &environment,
                global.dry_run,
                describe,
            );
        }
        let path = record;
        let forced = arguments.iter().any(|a| a == "--force-recreate");
        // The record is written once compose succeeded, so compose runs as a child.
        let exit = run_with_environment(OsStr::new(program), &arguments, &environment, describe)?;
        if exit == Exit::Success {
            let written = (|| {
                let fresh = record_file::fresh(&path, resolution)?;
                // Without a record, only what the recreated containers received is known.
                let recorded = record_file::trusted(&path, &fresh).unwrap_or_else(|| Record {
                    variables: Default::default(),
                    ..fresh.clone()
                });
                let mut record = recorded.updated(fresh, &inputs.manifest, targets.as_deref());
                // Without --force-recreate, compose leaves a container whose only change is a
                // `file:` it mounts (the file was replaced, the mount holds the old one): those
                // values were not delivered, and the record keeps what it had for them.
                if !forced {
                    for variable in inputs.manifest.variables() {
                        if variable.file.is_none() {
                            continue;
                        }
                        let name = variable.name.as_str();
                        match recorded.variables.get(name) {
                            Some(entry) => {
                                record.variables.insert(name.to_owned(), entry.clone());
                            }
                            None => {
                                record.variables.remove(name);
                            }
                        }
                    }
                }
                record_file::write(&path, &record)
            })();
            match written {
                Ok(()) => {}
                // A record asked for is an error; the default one (under /run, which only root
                // may write) a warning: compose did its work.
                Err(failure) if chosen => {
                    info("compose succeeded, but the record could not be written:");
                    return Err(failure);
                }
                Err(failure) => {
                    let warnings: Vec<Diagnostic> = failure
                        .diagnostics
                        .iter()
                        .map(|d| {
                            Diagnostic::warning(
                                DiagnosticKind::Usage,
                                format!(
                                    "the record was not written ({}); the next `restart --changed` recreates every container",
                                    d.message
                                ),
                            )
                        })
                        .collect();
                    crate::diagnostics::emit(&warnings);
                }
            }
        }
        Ok(exit)
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
