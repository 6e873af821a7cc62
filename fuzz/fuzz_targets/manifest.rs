//! Any text as a manifest: validation answers with a manifest or located problems, never a
//! panic; every problem carries a line of the text (a bare list takes its service from the
//! manifest's directory).
#![no_main]

use std::sync::Arc;

use fetch_env_core::{Manifest, ManifestError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // In a named directory, so that a bare list has a service to take.
    match Manifest::parse(Arc::from("/srv/api/vars.yaml"), text) {
        Ok(manifest) => {
            // A valid manifest's composition order holds every composed variable once.
            let order = manifest.composition_order();
            let mut names: Vec<&str> = order.iter().map(|v| v.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), order.len());
        }
        Err(ManifestError::Invalid(problems)) => {
            assert!(!problems.is_empty());
            // YAML also ends a line at a lone carriage return.
            let lines = 1 + text.matches(['\n', '\r']).count() as u64;
            for problem in &problems {
                let line = problem.location.as_ref().map_or(0, |l| l.line);
                assert!((1..=lines + 1).contains(&line), "{problem}: line {line} of {lines}");
            }
        }
        Err(ManifestError::Unreadable { .. }) => unreachable!("parse reads no file"),
    }
});
