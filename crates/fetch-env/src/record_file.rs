//! The record on disk (see [`fetch_env_core::record`] for what it holds): one JSON file per
//! service, by default `/run/fetch-env/SERVICE.json` (a tmpfs on systemd hosts, so it goes with
//! the containers it describes at a reboot), written atomically with mode 0600 in a directory
//! created 0700. Beside it, `fetch-env.key`: 32 random bytes, mode 0600, the key of the
//! digests of non-secret values (HMAC-SHA-256), so that a record read elsewhere tells nothing
//! of a value.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use fetch_env_core::record::{FORMAT, Record};
use fetch_env_core::{Diagnostic, DiagnosticKind, Resolution};
use hmac::{KeyInit as _, Mac as _};

use crate::exit::Failure;
use crate::output_file::{WriteOptions, write_atomically};

/// Where `restart` and `changed` keep the record of `service` unless told otherwise.
pub fn default_path(service: &str) -> PathBuf {
    Path::new("/run/fetch-env").join(format!("{service}.json"))
}

/// The record at `path` when it can be trusted for `fresh` (the record of the resolution just
/// made): `None` when there is none, and also, said on stderr, when it cannot be read, is not a
/// record, is of another format, or was written for another service or from another manifest.
/// An untrusted record is as good as none: every container is recreated, and a fresh record
/// replaces it.
pub fn trusted(path: &Path, fresh: &Record) -> Option<Record> {
    let distrust = |why: String| {
        crate::diagnostics::emit(&[Diagnostic::warning(
            DiagnosticKind::Usage,
            format!(
                "{}: the record is not trusted ({why}): every variable counts as changed",
                path.display()
            ),
        )]);
        None
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return distrust(format!("it cannot be read: {e}")),
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) => {
            return distrust(format!(
                "line {}, column {}: {}",
                e.line(),
                e.column(),
                without_position(&e)
            ));
        }
    };
    if value.get("format").and_then(serde_json::Value::as_u64) != Some(u64::from(FORMAT)) {
        return distrust(format!("it is not of format {FORMAT}"));
    }
    let record: Record = match serde_json::from_value(value) {
        Ok(record) => record,
        Err(e) => return distrust(format!("it is not a fetch-env record: {e}")),
    };
    match record.foreign_to(fresh) {
        Some(why) => distrust(why),
        None => Some(record),
    }
}

/// serde_json's message without its own ` at line L column C`, which the message already says.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The record of `resolution`, made now, its digests keyed with the key beside `path`
/// (created when missing, with the directory).
pub fn fresh(path: &Path, resolution: &Resolution<'_>) -> Result<Record, Failure> {
    let key = key(path)?;
    made(path, resolution, &key)
}

/// Like [`fresh`], for a comparison only: nothing is created. Without a key beside `path`
/// the digests are of a key of the moment, and so differ from any recorded one.
pub fn fresh_for_comparison(path: &Path, resolution: &Resolution<'_>) -> Result<Record, Failure> {
    let key = match std::fs::read(key_path(path)) {
        Ok(key) => key,
        Err(_) => random_key(path)?,
    };
    made(path, resolution, &key)
}

fn made(path: &Path, resolution: &Resolution<'_>, key: &[u8]) -> Result<Record, Failure> {
    let keyed = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
        .map_err(|e| Failure::usage(format!("{}: the key cannot be used: {e}", path.display())))?;
    let digest = |value: &str| {
        let mut mac = keyed.clone();
        mac.update(value.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("hmac-sha256:{hex}")
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let written = aws_smithy_types::DateTime::from_secs(i64::try_from(now).unwrap_or(0))
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let mut record = Record::of(resolution, written, &digest);
    // The manifest by its full path, so that a record made with a relative one matches.
    if let Ok(full) = std::fs::canonicalize(&record.manifest) {
        record.manifest = full.display().to_string();
    }
    Ok(record)
}

fn key_path(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join("fetch-env.key"),
        _ => PathBuf::from("fetch-env.key"),
    }
}

/// 32 bytes of the system's random source.
fn random_key(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut random = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .map_err(|e| {
            Failure::usage(format!(
                "{}: cannot read /dev/urandom for the key: {e}",
                key_path(path).display()
            ))
        })?;
    Ok(random)
}

/// Writes `record` to `path` atomically, mode 0600.
pub fn write(path: &Path, record: &Record) -> Result<(), Failure> {
    directory(path)?;
    let mut text = serde_json::to_string_pretty(record)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    text.push('\n');
    let options = WriteOptions {
        mode: 0o600,
        owner: None,
        create_parents: false,
    };
    write_atomically(path, text.as_bytes(), options).map_err(Failure::usage)?;
    Ok(())
}

/// The record's directory, created 0700 when missing.
fn directory(path: &Path) -> Result<&Path, Failure> {
    let directory = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !directory.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(|e| {
                Failure::usage(format!(
                    "{}: cannot create {}: {e}",
                    path.display(),
                    directory.display()
                ))
            })?;
    }
    Ok(directory)
}

/// The digest key beside the record at `path`: read, or made from the system's random source
/// and written with mode 0600 (by whichever process gets there first).
fn key(path: &Path) -> Result<Vec<u8>, Failure> {
    directory(path)?;
    let key_path = key_path(path);
    let failed = |e: std::io::Error| {
        Failure::usage(format!("{}: cannot use the key: {e}", key_path.display()))
    };
    let random = random_key(path)?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_path)
    {
        Ok(mut file) => {
            file.write_all(&random)
                .and_then(|()| file.sync_all())
                .map_err(failed)?;
            Ok(random)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let key = std::fs::read(&key_path).map_err(failed)?;
            if key.len() < 16 {
                return Err(Failure::usage(format!(
                    "{}: the key is shorter than 16 bytes; remove it and the record",
                    key_path.display()
                )));
            }
            Ok(key)
        }
        Err(e) => Err(failed(e)),
    }
}
