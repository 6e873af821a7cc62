//! Any text as a file store: parsed or refused with located problems, never a panic.
#![no_main]

use std::sync::Arc;

use fetch_env_core::{BundleQuery, FileStore, ParameterQuery, Store, StoreRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match FileStore::parse(Arc::from("store.yaml"), text) {
        Ok(store) => {
            let request = StoreRequest {
                parameters: ParameterQuery::ByPath { path: "/".into() },
                bundles: BundleQuery::Prefix { prefix: String::new() },
                secrets: vec!["arn:aws:secretsmanager:r:1:secret:x-AbC123".into(), "x".into()],
            };
            store.fetch(&request).expect("the file store answers every request");
        }
        Err(error) => assert!(!error.problems.is_empty()),
    }
});
