//! `changed`: resolve afresh and say which variables moved since the record was written (their
//! source, its version, or a non-secret value without a version), with the containers that must
//! be recreated for each, through composed variables, `arn_from` secrets and files. Nothing is
//! printed when nothing moved. Reads the record; writes nothing (no `file:` material either).

use std::path::{Path, PathBuf};

use fetch_env_core::Manifest;
use fetch_env_core::record::{Change, Move, Record, changes, containers_to_recreate};

use crate::cli::{ChangedArgs, Global};
use crate::context::{Inputs, require_success, with_resolution};
use crate::exit::{Exit, Failure, info, print};
use crate::record_file;

pub fn changed(global: &Global, args: &ChangedArgs) -> Result<Exit, Failure> {
    with_resolution(global, None, |inputs, _, resolution| {
        require_success(&resolution)?;
        let (path, _) = record_path(args.record.as_deref(), inputs);
        let found = compare(&path, &resolution, &inputs.manifest)?;
        let text = if args.names {
            let containers = containers_to_recreate(&found.changes);
            if containers.is_empty() {
                String::new()
            } else {
                format!("{}\n", containers.join(","))
            }
        } else {
            found
                .changes
                .iter()
                .map(|c| format!("{}\n", describe(c)))
                .collect()
        };
        print(&text)?;
        Ok(if args.exit_code && !found.changes.is_empty() {
            Exit::Changed
        } else {
            Exit::Success
        })
    })
}

/// The record's path: `--record`, else `FETCH_ENV_RECORD` (environment, then bootstrap file),
/// else the default for the manifest's service; and whether it was chosen (not the default).
pub fn record_path(given: Option<&Path>, inputs: &Inputs) -> (PathBuf, bool) {
    let flag = given.and_then(Path::to_str);
    match inputs.lookup("FETCH_ENV_RECORD", flag) {
        Some(setting) => (PathBuf::from(setting.value), true),
        None => (record_file::default_path(&inputs.manifest.service), false),
    }
}

/// What a comparison found: the record as it was (none when there was none), the record of the
/// fresh resolution, and what moved in between.
pub struct Compared {
    pub recorded: Option<Record>,
    pub fresh: Record,
    pub changes: Vec<Change>,
}

/// Compares the record at `path` with `resolution` (which succeeded). Without a record every
/// variable counts as changed, which is said on stderr.
pub fn compare(
    path: &Path,
    resolution: &fetch_env_core::Resolution<'_>,
    manifest: &Manifest,
) -> Result<Compared, Failure> {
    let fresh = record_file::fresh_for_comparison(path, resolution)?;
    let recorded = record_file::trusted(path, &fresh);
    let empty;
    let before = match &recorded {
        Some(record) => record,
        None => {
            // An untrusted record has been reported already.
            if !path.exists() {
                info(&format!(
                    "no record at {}: every variable counts as changed",
                    path.display()
                ));
            }
            empty = Record {
                variables: Default::default(),
                ..fresh.clone()
            };
            &empty
        }
    };
    let changes = changes(before, &fresh, manifest);
    Ok(Compared {
        recorded,
        fresh,
        changes,
    })
}

/// One line: the variable, what moved, and the containers to recreate.
pub fn describe(change: &Change) -> String {
    let source = change.source.as_deref().unwrap_or("");
    let what = match &change.what {
        Move::Added => format!("set ({source})"),
        Move::Removed => "no longer set".to_owned(),
        Move::Source { before } => format!("source {before} -> {source}"),
        // A secret's versions are not shown: in the file store they derive from its text.
        Move::Version { .. } if change.secret => format!("new version ({source})"),
        Move::Version { before, after } => format!(
            "new version ({source}: {} -> {})",
            before.as_deref().unwrap_or("none"),
            after.as_deref().unwrap_or("none")
        ),
        Move::Value => format!("value changed ({source})"),
        Move::Containers { before } => format!(
            "declared for other containers (before: {})",
            if before.is_empty() {
                "none".to_owned()
            } else {
                before.join(", ")
            }
        ),
        Move::MadeFrom(input) => format!("made from {input}"),
    };
    let containers = if change.containers.is_empty() {
        "no container receives it".to_owned()
    } else {
        format!("recreate {}", change.containers.join(", "))
    };
    format!("{}: {what}; {containers}", change.variable)
}
