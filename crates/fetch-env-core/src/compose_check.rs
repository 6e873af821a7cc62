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

use crate::compose_file::{ComposeFile, ComposeService, Condition, Evaluated};
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

/// Whether compose reads a word: always, never or depending on values, as far as the manifest
/// tells what compose's environment holds under `fetch-env run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Always,
    Maybe,
    Never,
}

/// What compose's environment holds for `variable` when fetch-env resolved in full: a declared
/// variable that is required or has a default is set and not empty; an undeclared one is not
/// set (fetch-env never emits it); any other may be either. (An empty value is never emitted.)
fn state(manifest: &Manifest, variable: &str) -> Option<bool> {
    match manifest.variable(variable) {
        None => Some(false),
        Some(v) if v.requirement == Requirement::Required || v.default.is_some() => Some(true),
        Some(_) => None,
    }
}

/// Whether compose evaluates a word read only when all of `on` hold.
fn evaluation(manifest: &Manifest, on: &[Condition]) -> Read {
    let mut read = Read::Always;
    for condition in on {
        let wants_set = matches!(condition.when, Evaluated::SetNotEmpty | Evaluated::Set);
        match state(manifest, &condition.variable) {
            Some(set) if set == wants_set => {}
            Some(_) => return Read::Never,
            None => read = Read::Maybe,
        }
    }
    read
}

/// ` (read only when A is unset or empty)` for a word that compose may not read.
fn condition_text(on: &[Condition]) -> String {
    if on.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = on
        .iter()
        .map(|c| {
            let when = match c.when {
                Evaluated::UnsetOrEmpty => "is unset or empty",
                Evaluated::Unset => "is unset",
                Evaluated::SetNotEmpty => "is set and not empty",
                Evaluated::Set => "is set",
            };
            format!("{} {when}", c.variable)
        })
        .collect();
    format!(" (read only when {})", parts.join(" and "))
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
                Some(service) => receives(variable, &container.location, service, compose, findings),
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

    // Compose to manifest: every interpolation names a declared variable. One inside the
    // default or alternative of another is read only when compose evaluates that word: never
    // reported when it never is, a warning when it may be.
    for reference in &compose.references {
        let name = &reference.name;
        let read = evaluation(manifest, &reference.on);
        let unless = condition_text(&reference.on);
        let finding = |error: bool, message: String| (error && read == Read::Always, message);
        let found = match manifest.variable(name) {
            _ if read == Read::Never => None,
            None if reference.has_default() => Some(finding(
                false,
                format!(
                    "${{{name}}} is not declared in {}; compose will use its fallback{unless}",
                    manifest.path
                ),
            )),
            None if reference.is_required() => Some(finding(
                true,
                format!(
                    "${{{name}}} is not declared in {}; compose refuses to start while it is unset{unless}",
                    manifest.path
                ),
            )),
            None => Some(finding(
                true,
                format!(
                    "${{{name}}} is not declared in {}; compose would substitute an empty string{unless}",
                    manifest.path
                ),
            )),
            Some(v) if v.scope == Scope::Init => Some(finding(
                false,
                format!(
                    "${{{name}}} is `scope: init` in {}, but the compose file uses it{unless}",
                    manifest.path
                ),
            )),
            Some(_) => None,
        };
        match found {
            Some((true, message)) => findings.error(&reference.location, message),
            Some((false, message)) => findings.warning(&reference.location, message),
            None => {}
        }
    }
    // Compose substitutes every default, alternative and message it meets, whether or not the
    // value needs it (compose-go before its January 2026 change, as in compose v2.40.3): a
    // malformed `${` inside one is refused whatever the values.
    for invalid in &compose.invalid {
        findings.error(
            &invalid.location,
            "compose refuses this `${`: it must be `${NAME}`, or `${NAME` with `:-`, `-`, `:?`, `?`, `:+` or `+` and a `}` on the same line; write `$$` for a literal `$`".to_owned(),
        );
    }
    // Secrets compose makes from its environment: the variable must be declared, and a service
    // listing the secret receives it.
    for secret in &compose.secrets {
        match manifest.variable(&secret.variable) {
            None => findings.error(
                &secret.location,
                format!(
                    "secret `{}` takes its content from {}, which is not declared in {}",
                    secret.name, secret.variable, manifest.path
                ),
            ),
            Some(variable) => {
                for service in compose.secret_receivers(&secret.variable) {
                    if variable.scope == Scope::Containers
                        && !variable.containers.iter().any(|c| c.name == service.name)
                    {
                        findings.warning(
                            &service.location,
                            format!(
                                "service `{}` receives {} through secret `{}`, but {} ({}) does not list `{}` in `containers`",
                                service.name,
                                variable.name,
                                secret.name,
                                variable.name,
                                variable.location,
                                service.name
                            ),
                        );
                    }
                }
            }
        }
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
    compose: &ComposeFile,
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
    // Through a secret compose makes from the variable: a file, not an environment variable.
    if compose
        .secret_receivers(name)
        .iter()
        .any(|s| s.name == service.name)
    {
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
    used.extend(compose.secrets.iter().map(|s| s.variable.as_str()));
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn findings(compose: &str) -> Vec<String> {
        let manifest = Manifest::parse(
            Arc::from("vars.yaml"),
            "service: s\nvariables:\n  - { name: SET, required: true, source: local, containers: [app] }\n  - { name: MAYBE, source: local, containers: [app] }\n",
        )
        .unwrap();
        let compose = ComposeFile::parse(Arc::from("c.yaml"), compose).unwrap();
        cross_check(&manifest, &compose)
            .iter()
            .filter(|d| d.message.contains("NESTED"))
            .map(|d| format!("{}: {}", d.severity, d.message))
            .collect()
    }

    fn compose(value: &str) -> String {
        format!(
            "services:\n  app:\n    image: x\n    environment:\n      SET: ${{SET}}\n      MAYBE: ${{MAYBE}}\n      V: '{value}'\n"
        )
    }

    /// A variable used only inside a word that compose never evaluates is not reported; one
    /// inside a word it may evaluate is a warning; one it surely evaluates, an error.
    #[test]
    fn a_reference_inside_a_word_counts_as_compose_evaluates_the_word() {
        assert!(findings(&compose("${SET:-${NESTED}}")).is_empty());
        assert!(findings(&compose("${UNSET:+${NESTED}}")).is_empty());
        let maybe = findings(&compose("${MAYBE:-${NESTED}}"));
        assert_eq!(maybe.len(), 1, "{maybe:?}");
        assert!(
            maybe[0].starts_with("warning: ")
                && maybe[0].ends_with("(read only when MAYBE is unset or empty)"),
            "{maybe:?}"
        );
        let surely = findings(&compose("${SET:+${NESTED}}"));
        assert_eq!(surely.len(), 1, "{surely:?}");
        assert!(surely[0].starts_with("error: "), "{surely:?}");
    }

    /// `secrets: {db_password: {environment: DATABASE_PASSWORD}}` and a service listing the
    /// secret: the service receives the declared variable as a file, which `check` counts as
    /// received; a secret from an undeclared variable is an error.
    #[test]
    fn a_variable_passed_as_an_environment_secret_is_received() {
        let manifest = Manifest::parse(
            Arc::from("vars.yaml"),
            "service: s\nvariables:\n  - { name: DATABASE_PASSWORD, required: true, source: local, containers: [api] }\n",
        )
        .unwrap();
        let file = |secrets: &str| {
            ComposeFile::parse(
                Arc::from("c.yaml"),
                &format!("services:\n  api:\n    image: x\n    secrets:\n      - db_password\n      - source: other\nsecrets:\n{secrets}"),
            )
            .unwrap()
        };
        let passed =
            file("  db_password:\n    environment: DATABASE_PASSWORD\n  other:\n    file: ./x\n");
        let found: Vec<String> = cross_check(&manifest, &passed)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(found.is_empty(), "{found:?}");

        let undeclared = file("  db_password:\n    environment: DB_PASSWORD\n");
        let found: Vec<(bool, String)> = cross_check(&manifest, &undeclared)
            .iter()
            .map(|d| (d.is_error(), d.to_string()))
            .collect();
        assert!(
            found.contains(&(
                true,
                "c.yaml:9:18: secret `db_password` takes its content from DB_PASSWORD, which is not declared in vars.yaml".to_owned()
            )),
            "{found:?}"
        );
        assert!(
            found.iter().any(|(error, m)| *error
                && m.contains(
                    "DATABASE_PASSWORD is declared for container `api`, but service `api`"
                )),
            "{found:?}"
        );
    }
}
