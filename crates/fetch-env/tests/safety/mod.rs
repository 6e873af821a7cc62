//! Shared by the safety suites (redaction.rs, no_disk.rs, contract.rs, hostile_input.rs): the
//! binary run in a sealed environment under a hang guard with backtraces on, the failure
//! contract (exit code, empty stdout, a message on stderr), the canary convention, and the
//! retry and timeout flags that make every AWS fault end within seconds.
//!
//! Every run goes through [`run_bounded`], which fails the test when fetch-env panicked: exit
//! 101, and on stderr either the panic hook's `error: internal error at …` (main.rs) or, should
//! the hook ever be lost, Rust's own `panicked at` with the message and, under
//! `RUST_BACKTRACE=1`, a backtrace. A panic is the one output path that no code of fetch-env
//! formats, so it is checked on every run of every suite rather than in one place.
#![allow(dead_code)]

// Each suite uses a part of the runner.
#[allow(unused_imports)]
pub use crate::common::run::{
    CANARY, FAST, HANG_GUARD, Run, closed_endpoint, file_store, on_aws, run_allowing_panic,
    run_bounded, run_with_closed_stdout, sealed, sealed_environment, write,
};

use std::path::{Path, PathBuf};

/// A script that, when run, creates `marker`: the stand-in for a child that must never start.
pub fn marker_script(dir: &Path, marker: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = write(
        dir,
        "marker.sh",
        format!("#!/bin/sh\n: > '{}'\n", marker.display()),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("make the marker script executable");
    script
}
