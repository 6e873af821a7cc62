//! TLS material as files (SPEC 3.4): validated, written atomically with its mode and owner,
//! only after the whole resolution succeeded, only when it changed, never through a symlink;
//! `--dry-run` writes nothing.

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{example, fetch_env};

/// The tls-files example with every `*_FILE` path moved into `dir`.
struct Case {
    dir: tempfile::TempDir,
    store: PathBuf,
}

impl Case {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = std::fs::read_to_string(example("tls-files", "store.yaml"))
            .unwrap()
            .replace("/tmp/fetch-env-tls-example", dir.path().to_str().unwrap());
        let path = dir.path().join("store.yaml");
        std::fs::write(&path, store).unwrap();
        Case { dir, store: path }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn run(&self, args: &[&str]) -> Output {
        fetch_env()
            .arg("--manifest")
            .arg(example("tls-files", "vars.yaml"))
            .arg("--bootstrap")
            .arg(example("tls-files", "bootstrap.env"))
            .arg("--store")
            .arg(format!("file:{}", self.store.display()))
            .args(args)
            .output()
            .unwrap()
    }

    /// Replaces one line of the store file.
    fn edit_store(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.store).unwrap();
        assert!(text.contains(from), "{from} not in the store");
        std::fs::write(&self.store, text.replace(from, to)).unwrap();
    }
}

/// The base64 value of `name` in the example's store.
fn b64(name: &str) -> String {
    let store = std::fs::read_to_string(example("tls-files", "store.yaml")).unwrap();
    let line = store
        .lines()
        .find(|l| l.contains(&format!("{name}: ")))
        .unwrap();
    line.rsplit(' ').next().unwrap().to_owned()
}

/// The PEM text `name` holds in the example's store.
fn pem(name: &str) -> String {
    let b64 = b64(name);
    let output = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(b64.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[test]
fn files_are_written_validated_with_mode_and_owner() {
    assert!(
        is_root(),
        "this test sets a file owner (70:70) and must run as root, as CI does"
    );
    let case = Case::new();
    let output = case.run(&[]);
    assert_ok(&output);
    let ca = case.path("database/ca.crt");
    let key = case.path("internal/tls.key");
    assert_eq!(
        std::fs::read_to_string(&ca).unwrap(),
        pem("DATABASE_SSL_CA_BUNDLE_B64")
    );
    assert_eq!(
        std::fs::read_to_string(case.path("internal/ca.crt")).unwrap(),
        pem("INTERNAL_CA_CRT_B64")
    );
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert_eq!(mode(&ca), 0o644);
    assert_eq!(mode(&key), 0o600);
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (70, 70));
    // The path variables are exported too, so the application finds the files.
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(&format!("export DATABASE_SSL_CA_FILE='{}'", ca.display())),
        "{stdout}"
    );
    // No temporary file is left behind.
    for dir in ["database", "internal"] {
        for entry in std::fs::read_dir(case.path(dir)).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                !name.to_string_lossy().starts_with(".fetch-env."),
                "{name:?} left behind"
            );
        }
    }
}

#[test]
fn files_are_rewritten_only_when_they_change() {
    let case = Case::new();
    assert_ok(&case.run(&[]));
    let ca = case.path("database/ca.crt");
    let first = std::fs::metadata(&ca).unwrap();
    assert_ok(&case.run(&[]));
    let second = std::fs::metadata(&ca).unwrap();
    assert_eq!(
        first.ino(),
        second.ino(),
        "an unchanged file must not be replaced"
    );
    assert_eq!(first.mtime_nsec(), second.mtime_nsec());

    // A rotated CA: the file is replaced by a new one (rename gives a new inode).
    let internal = pem("INTERNAL_CA_CRT_B64");
    let database_b64 = b64("DATABASE_SSL_CA_BUNDLE_B64");
    let internal_b64 = b64("INTERNAL_CA_CRT_B64");
    case.edit_store(
        &format!("DATABASE_SSL_CA_BUNDLE_B64: {database_b64}"),
        &format!("DATABASE_SSL_CA_BUNDLE_B64: {internal_b64}"),
    );
    assert_ok(&case.run(&[]));
    let third = std::fs::metadata(&ca).unwrap();
    assert_ne!(first.ino(), third.ino());
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), internal);

    // A changed mode alone is repaired.
    std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_ok(&case.run(&[]));
    assert_eq!(mode(&ca), 0o644);

    // A file everyone may write to may have been tampered with: refused, for the operator to
    // look at, as an `--output` target would be.
    std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o666)).unwrap();
    let refused = case.run(&[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("refusing to replace a file writable by everyone (mode 0666)")
    );
    assert!(refused.stdout.is_empty());
}

#[test]
fn raw_pem_is_accepted_as_is() {
    let case = Case::new();
    let database_b64 = b64("DATABASE_SSL_CA_BUNDLE_B64");
    let raw = pem("DATABASE_SSL_CA_BUNDLE_B64");
    let quoted = serde_json::to_string(&raw).unwrap();
    case.edit_store(
        &format!("DATABASE_SSL_CA_BUNDLE_B64: {database_b64}"),
        &format!("DATABASE_SSL_CA_BUNDLE_B64: {quoted}"),
    );
    assert_ok(&case.run(&[]));
    assert_eq!(
        std::fs::read_to_string(case.path("database/ca.crt")).unwrap(),
        raw
    );
}

#[test]
fn content_that_is_not_pem_fails_and_writes_nothing() {
    let case = Case::new();
    let key_b64 = b64("INTERNAL_TLS_KEY_B64");
    // A certificate where a private key belongs, and a value that is not PEM at all.
    let cert_b64 = b64("INTERNAL_CA_CRT_B64");
    case.edit_store(
        &format!("INTERNAL_TLS_KEY_B64: {key_b64}"),
        &format!("INTERNAL_TLS_KEY_B64: {cert_b64}"),
    );
    case.edit_store(
        &format!("INTERNAL_CA_CRT_B64: {cert_b64}"),
        "INTERNAL_CA_CRT_B64: Q0FOQVJZIG5vdCBhIGNlcnRpZmljYXRl",
    );
    let output = case.run(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains("the value of INTERNAL_CA_CRT_B64 is not PEM (no `-----BEGIN` section after base64 decoding)"), "{stderr}");
    assert!(stderr.contains("the value of INTERNAL_TLS_KEY_B64 must hold exactly one private key, but holds Certificate"), "{stderr}");
    assert!(
        !stderr.contains("CANARY") && !stderr.contains(&cert_b64[..20]),
        "{stderr}"
    );
    // The valid database CA is not written either: nothing is, unless everything resolved.
    assert!(!case.path("database/ca.crt").exists());
}

#[test]
fn nothing_is_written_unless_the_whole_resolution_succeeded() {
    let case = Case::new();
    // The required key is missing from the bundle (it holds another key instead).
    case.edit_store("    INTERNAL_TLS_KEY_B64:", "    UNRELATED_KEY:");
    let output = case.run(&[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(
        !case.path("database").exists(),
        "no file (nor directory) may be written"
    );
}

#[test]
fn a_symlink_at_the_target_is_refused() {
    let case = Case::new();
    std::fs::create_dir_all(case.path("database")).unwrap();
    let elsewhere = case.path("elsewhere.txt");
    std::fs::write(&elsewhere, "untouched").unwrap();
    std::os::unix::fs::symlink(&elsewhere, case.path("database/ca.crt")).unwrap();
    let output = case.run(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("database/ca.crt: refusing to write through a symlink"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "untouched");
    assert!(
        std::fs::symlink_metadata(case.path("database/ca.crt"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn dry_run_shows_and_writes_nothing() {
    let case = Case::new();
    let output = case.run(&["--dry-run"]);
    assert_ok(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "fetch-env: would create {} (INTERNAL_TLS_KEY_B64: 241 bytes, mode 0600, owner 70:70)",
            case.path("internal/tls.key").display()
        )),
        "{stderr}"
    );
    assert!(!case.path("database").exists() && !case.path("internal").exists());
    assert_ok(&case.run(&[]));
    let output = case.run(&["--dry-run"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("would leave unchanged"));
}

#[test]
fn a_container_gets_only_its_own_files() {
    let case = Case::new();
    assert_ok(&case.run(&["--container", "pgbouncer"]));
    assert!(case.path("database/ca.crt").exists());
    assert!(case.path("internal/ca.crt").exists());
    assert!(
        !case.path("internal/tls.key").exists(),
        "the key belongs to postgres only"
    );
}

#[test]
fn run_writes_the_files_before_the_command_starts() {
    let case = Case::new();
    let output = case.run(&[
        "run",
        "--",
        "cat",
        case.path("internal/ca.crt").to_str().unwrap(),
    ]);
    assert_ok(&output);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        pem("INTERNAL_CA_CRT_B64")
    );
}
