//! `restart [--containers a,b]`: the `update.sh --restart-only` step as one command. Resolve
//! afresh (a rotated password is read now), write the files, then replace fetch-env with
//! `docker compose up -d` (with `--no-deps` and the named services when `--containers` is
//! given) carrying the resolved environment, so that compose interpolates the new values into
//! exactly the containers being recreated.

use std::os::unix::process::CommandExt as _;
use std::process::Command;

use crate::cli::{Global, RestartArgs};
use crate::context::{check_container, with_resolved};
use crate::exit::{Exit, Failure, eprintln_line};

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
        let mut arguments: Vec<String> = words.map(str::to_owned).collect();
        arguments.extend(["up".to_owned(), "-d".to_owned()]);
        if !args.containers.is_empty() {
            arguments.push("--no-deps".to_owned());
            arguments.extend(args.containers.iter().cloned());
        }
        if global.dry_run {
            eprintln_line(&format!(
                "fetch-env: would run: {program} {}",
                arguments.join(" ")
            ));
            return Ok(Exit::Success);
        }
        let mut command = Command::new(program);
        command.args(&arguments);
        // Compose interpolates the whole file, so it gets every resolved variable; which
        // containers are recreated is chosen by the arguments above.
        for (name, value) in resolution.environment(None) {
            command.env(name.as_str(), value.expose());
        }
        let error = command.exec();
        let exit = if error.kind() == std::io::ErrorKind::NotFound {
            Exit::CommandNotFound
        } else {
            Exit::CommandNotExecutable
        };
        Err(Failure::new(
            exit,
            format!(
                "cannot run the compose command `{}`: {error} (set FETCH_ENV_COMPOSE or --compose-command)",
                fetch_env_core::sanitize(&compose)
            ),
        ))
    })
}
