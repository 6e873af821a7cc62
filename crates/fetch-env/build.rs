//! Records the commit the binary is built from, for `--version`: `git rev-parse --short=12 HEAD`
//! when the source is a git checkout (with `-dirty` when it has uncommitted changes), else
//! `unknown` (a source archive), or `FETCH_ENV_COMMIT` when the builder sets it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=FETCH_ENV_COMMIT");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for watched in [".git/HEAD", ".git/index"] {
        let path = root.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = std::env::var("FETCH_ENV_COMMIT").ok().unwrap_or_else(|| {
        match git(&["rev-parse", "--short=12", "HEAD"]) {
            Some(commit) => {
                let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                    .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{commit}-dirty")
                } else {
                    commit
                }
            }
            None => "unknown".to_owned(),
        }
    });
    println!("cargo:rustc-env=FETCH_ENV_COMMIT={commit}");
}
