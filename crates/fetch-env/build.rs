//! Records the commit the binary is built from, for `--version`: `git rev-parse --short=12 HEAD`
//! when the source is a git checkout (with `-dirty` when it has uncommitted changes), else
//! `unknown` (a source archive), or `FETCH_ENV_COMMIT` when the builder sets it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=FETCH_ENV_COMMIT");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    // Built again when HEAD moves: HEAD itself, the branch it names (a commit changes that, not
    // HEAD), the packed refs and the index (for `-dirty`), wherever git keeps them (a worktree's
    // `.git` is a file naming another directory).
    let mut watched = vec![
        "HEAD".to_owned(),
        "index".to_owned(),
        "packed-refs".to_owned(),
    ];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = root.join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
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
