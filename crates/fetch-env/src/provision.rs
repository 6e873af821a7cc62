//! `set NAME`, `unset NAME` and `seed --from FILE`: writing values where a resolve on this host
//! reads them (see [`fetch_env_core::destination`]), on AWS or in the file store. A value is
//! never taken from the command line: `set` reads it from standard input (a prompt without echo
//! on a terminal), `seed` from a file in the bootstrap file's syntax. Nothing that is printed
//! (`--dry-run`, `--verbose`, a report, an error) holds a value.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;

use fetch_env_core::{
    Bootstrap, Destination, Diagnostic, DiagnosticKind, Location, SecretValue, WriteReport,
    WriteRequest, destination, edit_store_file,
};

use crate::cli::{Global, SeedArgs, SetArgs, UnsetArgs};
use crate::context::Inputs;
use crate::exit::{Exit, Failure, info, print};
use crate::output_file::{WriteOptions, check_target, write_atomically};

pub fn set(global: &Global, args: &SetArgs) -> Result<Exit, Failure> {
    let inputs = Inputs::load(global)?;
    let place = place_of(&inputs, global, &args.name)?;
    if global.dry_run {
        info(&format!("would write {} to {place}", args.name));
        return Ok(Exit::Success);
    }
    let value = read_value(&args.name, args.keep_newline)?;
    let mut request = WriteRequest::default();
    request.add(&place, Some(value));
    let report = write(&inputs, global, &request)?;
    print_report(&report)?;
    after_write(
        &inputs,
        global,
        &[(args.name.clone(), place)],
        global.verbose,
    );
    Ok(Exit::Success)
}

pub fn unset(global: &Global, args: &UnsetArgs) -> Result<Exit, Failure> {
    let inputs = Inputs::load(global)?;
    let place = place_of(&inputs, global, &args.name)?;
    if global.dry_run {
        info(&format!("would remove {} from {place}", args.name));
        return Ok(Exit::Success);
    }
    let mut request = WriteRequest::default();
    request.add(&place, None);
    let report = write(&inputs, global, &request)?;
    print_report(&report)
}

pub fn seed(global: &Global, args: &SeedArgs) -> Result<Exit, Failure> {
    let inputs = Inputs::load(global)?;
    let values = Bootstrap::read(&args.from).map_err(Failure::invalid)?;
    let options = inputs.options(global)?;
    // Every name is checked before anything is written; every problem is reported at once.
    let mut problems = Vec::new();
    let mut planned: Vec<(String, Destination, SecretValue)> = Vec::new();
    for name in values.keys() {
        let Some((value, line)) = values.get(name) else {
            continue;
        };
        let at = Location::new(values.path(), line, 1);
        if value.is_empty() {
            problems.push(
                Diagnostic::error(
                    DiagnosticKind::Usage,
                    format!("`{name}` has an empty value"),
                )
                .at(at.clone()),
            );
            continue;
        }
        match destination(&inputs.manifest, &options, name) {
            Ok(place) => planned.push((name.to_owned(), place, value.clone())),
            Err(why) => problems
                .push(Diagnostic::error(DiagnosticKind::Usage, why.to_string()).at(at.clone())),
        }
    }
    if !problems.is_empty() {
        return Err(Failure {
            exit: Exit::Usage,
            diagnostics: problems,
        });
    }
    if planned.is_empty() {
        return Err(Failure::usage(format!(
            "{} holds no value to write",
            args.from.display()
        )));
    }
    if global.dry_run {
        for (name, place, _) in &planned {
            info(&format!("would write {name} to {place}"));
        }
        return Ok(Exit::Success);
    }
    let mut request = WriteRequest::default();
    let mut planned_places = Vec::new();
    for (name, place, value) in planned {
        request.add(&place, Some(value));
        planned_places.push((name, place));
    }
    let report = write(&inputs, global, &request)?;
    print_report(&report)?;
    let written: Vec<(String, Destination)> = planned_places;
    let Some(failures) = after_write(&inputs, global, &written, true) else {
        return Ok(Exit::Success);
    };
    for failure in &failures {
        let what = crate::context::failure_diagnostic(failure).message;
        let line = match to_do(&inputs, global, failure) {
            Some(help) => format!("still needed: {what}; {help}\n"),
            None => format!("still needed: {what}\n"),
        };
        print(&line)?;
    }
    Ok(Exit::Success)
}

/// A resolve after a write: warns about each written value that a resolve reads from another
/// place (one read later wins), and returns what the manifest still needs; `None` when the
/// store cannot be read (a role that may only write), said on stderr when `say`.
fn after_write(
    inputs: &Inputs,
    global: &Global,
    written: &[(String, Destination)],
    say: bool,
) -> Option<Vec<fetch_env_core::Failure>> {
    let resolution = inputs
        .store(global)
        .and_then(|store| {
            let resolution = inputs.resolve(global, store.as_ref())?;
            let shadowed: Vec<Diagnostic> = written
                .iter()
                .filter_map(|(name, place)| {
                    let resolved = resolution
                        .variables
                        .iter()
                        .find(|v| v.variable.name.as_str() == name)?;
                    let source = resolved.source.as_ref()?.to_string();
                    (source != place.to_string()).then(|| {
                        Diagnostic::warning(
                            DiagnosticKind::Resolution,
                            format!(
                                "{name} was written to {place}, but a resolve reads it from {source}, which wins; remove it there"
                            ),
                        )
                    })
                })
                .collect();
            crate::diagnostics::emit(&shadowed);
            Ok(resolution.failures)
        });
    match resolution {
        Ok(failures) => Some(failures),
        Err(failure) => {
            if say {
                let why = failure
                    .diagnostics
                    .first()
                    .map(|d| d.message.clone())
                    .unwrap_or_default();
                info(&format!("cannot tell what a resolve reads now: {why}"));
            }
            None
        }
    }
}

/// Where `name` is written, or why it has nothing to write (exit 2).
fn place_of(inputs: &Inputs, global: &Global, name: &str) -> Result<Destination, Failure> {
    let options = inputs.options(global)?;
    destination(&inputs.manifest, &options, name).map_err(Failure::usage)
}

/// The value of `name` from standard input: typed at a prompt without echo on a terminal, else
/// read whole; one trailing newline is dropped unless `keep_newline`.
fn read_value(name: &str, keep_newline: bool) -> Result<SecretValue, Failure> {
    let stdin = std::io::stdin();
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    if stdin.is_terminal() {
        eprint_prompt(&format!("{name} (not echoed): "));
        let echo_off = EchoOff::new();
        let mut line = zeroize::Zeroizing::new(String::new());
        let read = stdin.read_line(&mut line);
        drop(echo_off);
        eprint_prompt("\n");
        read.map_err(|e| Failure::usage(format!("cannot read the value from the terminal: {e}")))?;
        bytes.extend_from_slice(line.as_bytes());
    } else {
        stdin.lock().read_to_end(&mut bytes).map_err(|e| {
            Failure::usage(format!("cannot read the value from standard input: {e}"))
        })?;
    }
    if !keep_newline {
        let length = bytes.len();
        if bytes.ends_with(b"\r\n") {
            bytes.truncate(length - 2);
        } else if bytes.ends_with(b"\n") {
            bytes.truncate(length - 1);
        }
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::usage(format!("the value of {name} is not UTF-8")))?;
    if text.is_empty() {
        return Err(Failure::usage(format!(
            "the value of {name} on standard input is empty; to remove it, use `unset {name}`"
        )));
    }
    if text.contains('\0') {
        return Err(Failure::usage(format!(
            "the value of {name} holds a NUL byte"
        )));
    }
    Ok(SecretValue::from(text))
}

fn eprint_prompt(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// The terminal's echo turned off while it lives.
struct EchoOff {
    saved: Option<rustix::termios::Termios>,
}

impl EchoOff {
    fn new() -> Self {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
            let _ =
                rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet);
        }
        Self { saved }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

/// Writes `request` to the store of this invocation.
fn write(inputs: &Inputs, global: &Global, request: &WriteRequest) -> Result<WriteReport, Failure> {
    match inputs.store_spec(global) {
        crate::context::StoreSpec::File(path) => write_store_file(&path, request),
        crate::context::StoreSpec::Aws => {
            let store = inputs.aws_store(global)?;
            store.write(request).map_err(crate::context::store_failure)
        }
        crate::context::StoreSpec::Unknown(spec) => Err(Failure::usage(format!(
            "unknown store `{spec}` (expected `aws` or `file:PATH`)"
        ))),
    }
}

/// Edits the store file at `path` (created, mode 0600, when missing) and replaces it
/// atomically, keeping its mode; a symlink or a file others may write is refused.
fn write_store_file(path: &Path, request: &WriteRequest) -> Result<WriteReport, Failure> {
    let existing = check_target(path, false).map_err(Failure::usage)?;
    let text = match &existing {
        Some(_) => std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?,
        None => String::new(),
    };
    let (edited, report) =
        edit_store_file(&path.display().to_string(), &text, request).map_err(|e| match e {
            fetch_env_core::StoreError::Invalid(m) | fetch_env_core::StoreError::Unavailable(m) => {
                Failure::usage(m)
            }
        })?;
    let mode = existing.map_or(0o600, |meta| {
        use std::os::unix::fs::PermissionsExt as _;
        meta.permissions().mode() & 0o777
    });
    let options = WriteOptions {
        mode,
        owner: None,
        create_parents: false,
    };
    write_atomically(path, edited.as_bytes(), options).map_err(Failure::usage)?;
    Ok(report)
}

fn print_report(report: &WriteReport) -> Result<Exit, Failure> {
    let text: String = report.lines.iter().map(|l| format!("{l}\n")).collect();
    print(&text)?;
    Ok(Exit::Success)
}

/// For a required variable that no source gave (`failure`), the place it must go and the
/// command that puts it there; for one read from an `arn_from` secret, the bootstrap variable
/// that must hold the ARN instead.
pub fn to_do(
    inputs: &Inputs,
    global: &Global,
    failure: &fetch_env_core::Failure,
) -> Option<String> {
    let name = match failure {
        fetch_env_core::Failure::RequiredMissing { name, .. }
        | fetch_env_core::Failure::RequiredWhenMissing { name, .. } => name,
        _ => return None,
    };
    let options = inputs.options(global).ok()?;
    let bootstrap = global.bootstrap.as_deref().map_or_else(
        || "the bootstrap file".to_owned(),
        |p| p.display().to_string(),
    );
    match destination(&inputs.manifest, &options, name.as_str()) {
        Ok(place) => {
            let mut command = String::from("fetch-env");
            if let Some(manifest) = &global.manifest {
                command.push_str(&format!(" --manifest {}", manifest.display()));
            }
            if let Some(path) = &global.bootstrap {
                command.push_str(&format!(" --bootstrap {}", path.display()));
            }
            if let Some(store) = &global.store {
                command.push_str(&format!(" --store {store}"));
            }
            if let Some(namespace) = &global.namespace {
                command.push_str(&format!(" --namespace {namespace}"));
            }
            Some(format!(
                "it goes to {place}: `{command} set {name}` (the value on standard input)"
            ))
        }
        Err(fetch_env_core::NotWritable::Local { .. }) => {
            Some(format!("add `{name}=…` to {bootstrap}"))
        }
        Err(fetch_env_core::NotWritable::FromSecret { arn_from, .. }) => Some(format!(
            "it is read from the secret {arn_from} names: put that secret's ARN in `{arn_from}` in {bootstrap}"
        )),
        Err(_) => None,
    }
}
