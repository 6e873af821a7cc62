//! `restart [--containers a,b]`: the `update.sh --restart-only` step as one command. Resolve
//! afresh (a rotated password is read now), write the files, then replace fetch-env with
//! `docker compose up -d` (with `--no-deps` and the named services when `--containers` is
//! given) carrying the resolved environment, so that compose interpolates the new values into
//! exactly the containers being recreated.

use std::ffi::{OsStr, OsString};

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
