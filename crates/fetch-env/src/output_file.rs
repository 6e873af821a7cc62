//! Writing files without ever leaving a partial or over-readable one: a temporary file created
//! with the final mode in the target's directory, owner set, fsync, rename over the target,
//! fsync of the directory. A symlink or anything but a regular file at the target is refused
//! rather than followed or replaced, and so is a target another user could change or swap (a
//! file everyone may write to, a directory everyone may write to without the sticky bit).

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use zeroize::Zeroizing;

/// How a file is written.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// Permission bits.
    pub mode: u32,
    /// `uid:gid`, when the file must belong to someone else (a database's TLS key).
    pub owner: Option<(u32, u32)>,
    /// Create missing parent directories (mode 0755).
    pub create_parents: bool,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Replaced,
    /// Same bytes, mode and owner already: nothing was touched.
    Unchanged,
}

/// Refuses a target that is not safe to write: a symlink or anything but a regular file, a
/// file writable by everyone, or a directory writable by everyone without the sticky bit (where
/// another user could swap the file). A missing directory is refused unless it may be created.
/// Returns the current file's metadata, if there is one.
pub fn check_target(
    path: &Path,
    create_parents: bool,
) -> Result<Option<std::fs::Metadata>, String> {
    let shown = path.display();
    let directory = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(directory) {
        Ok(meta) => {
            let mode = meta.permissions().mode();
            if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                return Err(format!(
                    "{shown}: refusing to write in {}, which is writable by everyone and has no sticky bit",
                    directory.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create_parents => {}
        Err(e) => return Err(format!("{shown}: {}: {e}", directory.display())),
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{shown}: {e}")),
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(format!("{shown}: refusing to write through a symlink"))
        }
        Ok(meta) if !meta.file_type().is_file() => {
            Err(format!("{shown}: exists and is not a regular file"))
        }
        Ok(meta) if meta.permissions().mode() & 0o002 != 0 => Err(format!(
            "{shown}: refusing to replace a file writable by everyone (mode {:04o})",
            meta.permissions().mode() & 0o7777
        )),
        Ok(meta) => Ok(Some(meta)),
    }
}

/// What writing `contents` to `path` would do, without doing it.
pub fn plan(path: &Path, contents: &[u8], options: WriteOptions) -> Result<Written, String> {
    let shown = path.display();
    let Some(meta) = check_target(path, options.create_parents)? else {
        return Ok(Written::Created);
    };
    let same_mode = meta.permissions().mode() & 0o7777 == options.mode;
    let same_owner = options
        .owner
        .is_none_or(|(uid, gid)| meta.uid() == uid && meta.gid() == gid);
    if same_mode && same_owner && meta.len() == contents.len() as u64 {
        let mut current = Zeroizing::new(Vec::with_capacity(contents.len()));
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut current))
            .map_err(|e| format!("{shown}: {e}"))?;
        if current.as_slice() == contents {
            return Ok(Written::Unchanged);
        }
    }
    Ok(Written::Replaced)
}

/// Writes `contents` to `path` atomically, unless it already holds exactly that.
pub fn write_atomically(
    path: &Path,
    contents: &[u8],
    options: WriteOptions,
) -> Result<Written, String> {
    let shown = path.display();
    let outcome = plan(path, contents, options)?;
    if outcome == Written::Unchanged {
        return Ok(outcome);
    }
    let directory = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if options.create_parents && !directory.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(directory)
            .map_err(|e| format!("{shown}: cannot create {}: {e}", directory.display()))?;
    }
    // tempfile creates the file with O_EXCL and mode 0600; the final mode and owner are set
    // before the rename, so the target never has other permissions than asked.
    let mut file = tempfile::Builder::new()
        .prefix(".fetch-env.")
        .tempfile_in(directory)
        .map_err(|e| {
            format!(
                "{shown}: cannot create a temporary file in {}: {e}",
                directory.display()
            )
        })?;
    file.write_all(contents)
        .and_then(|()| {
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(options.mode))
        })
        .and_then(|()| match options.owner {
            Some((uid, gid)) => std::os::unix::fs::fchown(file.as_file(), Some(uid), Some(gid)),
            None => Ok(()),
        })
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    file.persist(path)
        .map_err(|e| format!("{shown}: cannot replace the file: {}", e.error))?;
    if let Ok(dir) = std::fs::File::open(directory) {
        let _ = dir.sync_all();
    }
    Ok(outcome)
}
