//! Any bytes as a bootstrap file: parsed, or refused with a line number inside the file, never
//! a panic. (That an error never repeats the line holds by construction, since messages are
//! fixed text, a key name and a line number; an oracle for it here would only find the
//! fuzzer spelling the fixed text back.)
#![no_main]

use std::sync::Arc;

use fetch_env_core::Bootstrap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Bootstrap::parse(Arc::from("b.env"), data) {
        Ok(bootstrap) => {
            for key in bootstrap.keys() {
                assert!(bootstrap.get(key).is_some());
            }
        }
        Err(error) => {
            let lines = 1 + data.iter().filter(|&&b| b == b'\n').count() as u64;
            assert!(error.line >= 1 && error.line <= lines, "line {} of {lines}", error.line);
            assert!(error.to_string().starts_with(&format!("b.env:{}: ", error.line)));
        }
    }
});
