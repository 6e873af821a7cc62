//! A panic (a bug) prints where it happened, never its message, which could hold a value.

mod common;

#[test]
fn a_panic_prints_no_value() {
    let output = common::fetch_env_example("api")
        .env(
            "FETCH_ENV_TEST_PANIC_WITH",
            "CANARY-panic-payload p@ss:w/rd",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(101), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("error: internal error at crates/fetch-env/src/main.rs:"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("CANARY") && !stderr.contains("p@ss"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
