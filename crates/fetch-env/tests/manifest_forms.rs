//! Both manifest forms: the bare list of variables that the platform's hosts already have at
//! `/opt/services/<service>/vars.yaml` (the managed-database guide's own manifest, kept in
//! `tests/fixtures/seed/api/vars.yaml`), and the `service:` + `variables:` mapping. The bare
//! form takes its service from its directory, or from `--service` / `FETCH_ENV_SERVICE`; both
//! forms give identical output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{FetchEnv, example, fetch_env, root};

fn seed_manifest() -> PathBuf {
    root().join("crates/fetch-env/tests/fixtures/seed/api/vars.yaml")
}

/// fetch-env on `manifest` with the api example's bootstrap file and file store.
fn run(manifest: &Path, args: &[&str]) -> Output {
    FetchEnv::new()
        .inputs(
            manifest,
            &example("api", "bootstrap.env"),
            &example("api", "store.yaml"),
        )
        .args(args)
        .output()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The seed's variables in the mapping form, in a directory that is not named after the
/// service (so only `service:` can name it).
fn mapping_form(dir: &Path) -> PathBuf {
    let bare = std::fs::read_to_string(seed_manifest()).unwrap();
    let indented: String = bare.lines().map(|l| format!("  {l}\n")).collect();
    let path = dir.join("vars.yaml");
    std::fs::write(&path, format!("service: api\nvariables:\n{indented}")).unwrap();
    path
}

/// The finding: the seed document's manifest was refused with `expected mapping start`.
#[test]
fn the_seed_documents_own_bare_manifest_resolves_like_the_mapping_form() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = mapping_form(dir.path());
    for args in [
        &[][..],
        &["--format", "json"],
        &["--format", "file"],
        &["--container", "telapi"],
    ] {
        let bare = run(&seed_manifest(), args);
        assert_eq!(
            bare.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&bare.stderr)
        );
        let full = run(&mapping, args);
        assert_eq!(
            full.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&full.stderr)
        );
        assert_eq!(text(&bare.stdout), text(&full.stdout), "{args:?}");
        assert!(text(&bare.stdout).contains("DATABASE_URL"), "{args:?}");
    }
    // explain: the same table, and a header that says where the service name came from.
    let bare = run(&seed_manifest(), &["explain"]);
    let full = run(&mapping, &["explain"]);
    let (bare_header, bare_table) = text(&bare.stdout)
        .split_once('\n')
        .map(|(h, t)| (h.to_owned(), t.to_owned()))
        .unwrap();
    let (full_header, full_table) = text(&full.stdout)
        .split_once('\n')
        .map(|(h, t)| (h.to_owned(), t.to_owned()))
        .unwrap();
    assert_eq!(bare_table, full_table);
    assert!(
        bare_header.contains("(service api, from the manifest's directory)"),
        "{bare_header}"
    );
    assert!(
        full_header.contains("(service api, from `service:` at "),
        "{full_header}"
    );
}

#[test]
fn check_says_which_service_name_was_used_and_where_it_came_from() {
    let check = |args: &[&str], env: &[(&str, &str)], bootstrap: Option<&Path>| {
        let mut command = fetch_env();
        command.arg("--manifest").arg(seed_manifest());
        if let Some(bootstrap) = bootstrap {
            command.arg("--bootstrap").arg(bootstrap);
        }
        command.args(args).arg("check").envs(env.iter().copied());
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = dir.path().join("b.env");
    std::fs::write(
        &bootstrap,
        format!(
            "{}FETCH_ENV_SERVICE=from-bootstrap\n",
            std::fs::read_to_string(example("api", "bootstrap.env")).unwrap()
        ),
    )
    .unwrap();
    let line = std::fs::read_to_string(&bootstrap).unwrap().lines().count();

    assert!(check(&[], &[], None).ends_with("service api from the manifest's directory)\n"));
    assert!(check(&[], &[], Some(&bootstrap)).ends_with(&format!(
        "service from-bootstrap from FETCH_ENV_SERVICE at {}:{line})\n",
        bootstrap.display()
    )));
    assert!(
        check(&[], &[("FETCH_ENV_SERVICE", "from-env")], Some(&bootstrap))
            .ends_with("service from-env from FETCH_ENV_SERVICE in the environment)\n")
    );
    assert!(
        check(
            &["--service", "from-flag"],
            &[("FETCH_ENV_SERVICE", "from-env")],
            Some(&bootstrap)
        )
        .ends_with("service from-flag from --service)\n")
    );
}

#[test]
fn the_service_setting_names_the_aws_paths_of_a_bare_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.yaml");
    // The api example's store, moved to another service's paths.
    let moved = std::fs::read_to_string(example("api", "store.yaml"))
        .unwrap()
        .replace("voiceai/dev/api/", "voiceai/dev/billing/");
    std::fs::write(&store, moved).unwrap();
    let output = |service: Option<&str>| {
        let mut command = fetch_env();
        command
            .arg("--manifest")
            .arg(seed_manifest())
            .arg("--bootstrap")
            .arg(example("api", "bootstrap.env"))
            .arg("--store")
            .arg(format!("file:{}", store.display()));
        if let Some(service) = service {
            command.arg("--service").arg(service);
        }
        command.output().unwrap()
    };
    let billing = output(Some("billing"));
    assert_eq!(billing.status.code(), Some(0), "{}", text(&billing.stderr));
    assert!(text(&billing.stdout).contains("export DATABASE_HOST="));
    // Without the setting the directory names `api`, whose paths hold nothing here.
    let api = output(None);
    assert_eq!(api.status.code(), Some(1));
    assert!(
        text(&api.stderr).contains("ssm:/voiceai/dev/api/DATABASE_HOST"),
        "{}",
        text(&api.stderr)
    );
}

#[test]
fn a_bare_manifest_in_a_directory_that_is_no_service_name_asks_for_service() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("my service");
    std::fs::create_dir(&odd).unwrap();
    let manifest = odd.join("vars.yaml");
    std::fs::copy(seed_manifest(), &manifest).unwrap();
    let output = run(&manifest, &["check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "{}: error: a manifest written as a bare list",
            manifest.display()
        )) && stderr.contains("`my service`")
            && stderr.contains("pass --service NAME"),
        "{stderr}"
    );
    let fixed = run(&manifest, &["--service", "api", "check"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", text(&fixed.stderr));
}

#[test]
fn a_service_setting_that_contradicts_service_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = mapping_form(dir.path());
    let output = run(&mapping, &["--service", "web", "check"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        format!(
            "{}:1:10: error: the manifest names service `api`, but --service says `web`: remove one of them\n  1 | service: api\n    |          ^^^\n",
            mapping.display()
        )
    );
}
