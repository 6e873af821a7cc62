//! Any text as a manifest: validation answers with a manifest or located problems, never a
//! panic; every problem carries a line number.
#![no_main]

use std::sync::Arc;

use fetch_env_core::{Manifest, ManifestError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Manifest::parse(Arc::from("vars.yaml"), text) {
        Ok(manifest) => {
            // A valid manifest's composition order holds every composed variable once.
            let order = manifest.composition_order();
            let mut names: Vec<&str> = order.iter().map(|v| v.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), order.len());
        }
        Err(ManifestError::Invalid(problems)) => assert!(!problems.is_empty()),
        Err(ManifestError::Unreadable { .. }) => unreachable!("parse reads no file"),
    }
});
