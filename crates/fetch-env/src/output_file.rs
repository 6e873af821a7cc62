//! Writing an output file without ever leaving a partial or world-readable one: a temporary
//! file with mode 0600 in the target's directory, fsync, rename over the target, fsync of the
//! directory. A symlink at the target is refused rather than followed.

use std::io::Write as _;
use std::path::Path;

pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), String> {
    let shown = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return Err(format!("{shown}: refusing to write through a symlink"));
        }
        if !meta.file_type().is_file() {
            return Err(format!("{shown}: exists and is not a regular file"));
        }
    }
    let directory = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // tempfile creates the file with mode 0600 and O_EXCL.
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
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    file.persist(path)
        .map_err(|e| format!("{shown}: cannot replace the file: {}", e.error))?;
    if let Ok(dir) = std::fs::File::open(directory) {
        let _ = dir.sync_all();
    }
    Ok(())
}
