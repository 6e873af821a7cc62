//! The cross-check of a manifest and a compose file, as diagnostics: what `check --compose`
//! reports, each finding at its place.
//!
//! | finding | severity |
//! |---|---|
//! | a `containers` entry that is not a service of the compose file | error |
//! | a variable declared for a service whose `environment` does not pass it | error (warning when the service also reads an `env_file`, which cannot be read statically) |
//! | a service whose `environment` gives a declared variable a value of its own | error |
//! | an interpolation of an undeclared variable | error; warning with a `:-`/`-`/`:+`/`+` fallback |
//! | a `$` compose cannot interpolate | error |
//! | an interpolation or pass-through of a `scope: init` variable | warning |
//! | a service that receives a variable whose `containers` do not list it | warning |
//! | a declared variable that nothing uses | warning |
//!
//! Errors make `check` exit 2 (the files disagree: starting the containers would hand them the wrong
//! environment); warnings alone exit 0.

use std::collections::HashSet;

use crate::compose_file::{ComposeFile, ComposeService};
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::location::Location;
use crate::manifest::{Manifest, Origin, Requirement, Scope, Variable};

/// Every disagreement of `manifest` and `compose`, sorted by file, line and column: the order
/// in which an operator fixes them.
pub fn cross_check(manifest: &Manifest, compose: &ComposeFile) -> Vec<Diagnostic> {
    let mut findings = Findings {
        manifest,
        found: Vec::new(),
    };
    check(manifest, compose, &mut findings);
    let mut found = findings.found;
    found.sort_by(|a, b| a.location.cmp(&b.location));
    found
}

/// The findings so far. A manifest line is shown under its finding when it holds nothing that
/// could be a secret; a compose line never is (its `environment` may hold literal secrets).
struct Findings<'m> {
    manifest: &'m Manifest,
    found: Vec<Diagnostic>,
}

impl Findings<'_> {
    fn push(&mut self, diagnostic: Diagnostic, location: &Location) {
        let show = location.file == self.manifest.path && self.manifest.shows_line(location.line);
        self.found
            .push(diagnostic.at(location.clone()).showing_source(show));
    }

    fn error(&mut self, location: &Location, message: String) {
        self.push(
            Diagnostic::error(DiagnosticKind::Compose, message),
            location,
        );
    }

    fn warning(&mut self, location: &Location, message: String) {
        self.push(
            Diagnostic::warning(DiagnosticKind::Compose, message),
            location,
        );
    }
}

/// Everything that the manifest and the compose file must agree on.
fn check(manifest: &Manifest, compose: &ComposeFile, findings: &mut Findings<'_>) {
    let services: Vec<&str> = compose.services.iter().map(|s| s.name.as_str()).collect();

    // Manifest to compose: every `containers` entry is a service that receives the variable.
    for variable in manifest.variables() {
        for container in &variable.containers {
            match compose.service(&container.name) {
                None => findings.error(
                    &container.location,
                    format!(
                        "{} is declared for container `{}`, which is not a service of {} (services: {})",
                        variable.name,
                        container.name,
                        compose.path,
                        services.join(", ")
                    ),
                ),
                Some(service) => receives(variable, &container.location, service, findings),
            }
        }
    }
    // A service whose env_file may carry what its `environment` lacks: one warning naming all
    // of them, since check cannot know what the file will hold when compose runs.
    for service in &compose.services {
        let Some(opaque) = service.opaque.first() else {
            continue;
        };
        let lacking: Vec<&str> = manifest
            .variables()
            .iter()
            .filter(|v| v.is_for_container(&service.name))
            .filter(|v| {
                !service
                    .environment
                    .iter()
                    .any(|e| e.passes(v.name.as_str()))
            })
            .map(|v| v.name.as_str())
            .collect();
        if !lacking.is_empty() {
            findings.warning(
                &opaque.location,
                format!(
                    "service `{}` takes variables from {}, which check cannot read: {} (declared for `{}` in {}) {} not in its `environment` and must come from there",
                    service.name,
                    opaque.kind,
                    lacking.join(", "),
                    service.name,
                    manifest.path,
                    if lacking.len() == 1 { "is" } else { "are" },
                ),
            );
        }
    }

    // Compose to manifest: every interpolation names a declared variable.
    for reference in &compose.references {
        let name = &reference.name;
        match manifest.variable(name) {
            None if reference.has_default() => findings.warning(
                &reference.location,
                format!(
                    "${{{name}}} is not declared in {}; compose will use its fallback",
                    manifest.path
                ),
            ),
            None if reference.is_required() => findings.error(
                &reference.location,
                format!(
                    "${{{name}}} is not declared in {}; compose refuses to start while it is unset",
                    manifest.path
                ),
            ),
            None => findings.error(
                &reference.location,
                format!(
                    "${{{name}}} is not declared in {}; compose would substitute an empty string",
                    manifest.path
                ),
            ),
            Some(v) if v.scope == Scope::Init => findings.warning(
                &reference.location,
                format!(
                    "${{{name}}} is `scope: init` in {}, but the compose file uses it",
                    manifest.path
                ),
            ),
            Some(_) => {}
        }
    }
    for location in &compose.invalid {
        findings.error(
            location,
            "compose cannot interpolate this `$` and refuses the file; write `$$` for a literal `$`"
                .to_owned(),
        );
    }
    // A service that receives a declared variable the manifest does not give it: with
    // `--container SERVICE` it would get nothing.
    for service in &compose.services {
        for entry in &service.environment {
            for variable in manifest.variables() {
                if !entry.passes(variable.name.as_str())
                    || variable.containers.iter().any(|c| c.name == service.name)
                {
                    continue;
                }
                if variable.scope == Scope::Init {
                    // An interpolation is reported above; a bare pass-through is not.
                    if entry.is_pass_through() {
                        findings.warning(
                            &entry.location,
                            format!(
                                "service `{}` receives {}, which is `scope: init` in {}",
                                service.name, variable.name, manifest.path
                            ),
                        );
                    }
                    continue;
                }
                findings.warning(
                    &entry.location,
                    format!(
                        "service `{}` receives {}, but {} ({}) does not list `{}` in `containers`, so `--container {}` leaves it out",
                        service.name,
                        variable.name,
                        variable.name,
                        variable.location,
                        service.name,
                        service.name
                    ),
                );
            }
        }
    }

    unused(manifest, compose, findings);
}

/// Whether `service` hands `variable` (declared for it at `declared`) to its containers.
///
/// Received: an `environment` entry that passes the value, under the variable's name
/// (`NAME=${NAME}`, `NAME: ${NAME:-x}`, a bare `NAME`) or another (`ALIAS=${NAME}`: the
/// container gets the value the manifest resolves, which is what `containers` promises).
/// Not received: no such entry, or an entry called NAME whose value is something else
/// (`NAME=${OTHER}`, `NAME=fixed`): the container's NAME then is not the resolved one.
fn receives(
    variable: &Variable,
    declared: &Location,
    service: &ComposeService,
    findings: &mut Findings<'_>,
) {
    let name = variable.name.as_str();
    let mut shadowed = false;
    for entry in service.environment.iter().filter(|e| e.name == name) {
        if entry.passes(name) {
            continue;
        }
        shadowed = true;
        let value = match entry.references() {
            [] => "a fixed value".to_owned(),
            names => {
                let names: Vec<String> = names.iter().map(|n| format!("${{{n}}}")).collect();
                format!("a value from {}", names.join(", "))
            }
        };
        findings.error(
            &entry.location,
            format!(
                "service `{svc}` sets {name} to {value}, not to the {name} that fetch-env resolves for it (declared for `{svc}` at {declared})",
                svc = service.name,
            ),
        );
    }
    if shadowed || service.environment.iter().any(|e| e.passes(name)) {
        return;
    }
    if !service.opaque.is_empty() {
        // Reported once per service, naming every such variable.
        return;
    }
    findings.error(
        declared,
        format!(
            "{name} is declared for container `{svc}`, but service `{svc}` ({}) does not pass it: add `{name}=${{{name}}}` (or a bare `{name}`) to its `environment`, or drop `{svc}` from `containers`",
            service.location,
            svc = service.name,
        ),
    );
}

/// A declared variable that nothing uses: no `containers` (those are checked above), not
/// `scope: init` (the host's init script uses it), never interpolated or passed by the compose
/// file, and no input of another variable (a template placeholder, an `arn_from`, the condition
/// of a `required_when`, the path of a `file:`) nor itself written to a `file:`.
fn unused(manifest: &Manifest, compose: &ComposeFile, findings: &mut Findings<'_>) {
    let mut used: HashSet<&str> = HashSet::new();
    for variable in manifest.variables() {
        match &variable.origin {
            Origin::Composed(c) => {
                used.extend(c.template.placeholders().iter().map(|n| n.as_str()))
            }
            Origin::Secret(s) => {
                used.insert(s.arn_from.as_str());
            }
            Origin::Local | Origin::Remote => {}
        }
        if let Requirement::RequiredWhen { other, .. } = &variable.requirement {
            used.insert(other.as_str());
        }
        if let Some(file) = &variable.file {
            used.insert(variable.name.as_str());
            used.insert(file.path_from.as_str());
        }
    }
    used.extend(compose.references.iter().map(|r| r.name.as_str()));
    for service in &compose.services {
        used.extend(
            service
                .environment
                .iter()
                .filter(|e| e.is_pass_through())
                .map(|e| e.name.as_str()),
        );
    }
    for variable in manifest.variables() {
        if variable.scope == Scope::Init
            || !variable.containers.is_empty()
            || used.contains(variable.name.as_str())
        {
            continue;
        }
        findings.warning(
            &variable.location,
            format!(
                "{} is declared but nothing uses it: it has no `containers`, {} neither passes nor interpolates it, and no other variable is built from it",
                variable.name, compose.path
            ),
        );
    }
}
