//! Writing into a store file keeps every line that is not written: comments, order, quoting.

use fetch_env_core::{Destination, SecretValue, WriteRequest, edit_store_file};

const STORE: &str = r#"# The development store.
parameters:
  # the database
  /ns/api/DATABASE_HOST: db.internal   # a comment after it
  /ns/api/LOG_LEVEL: debug
  /ns/api/TOKEN: { value: t0ken, type: SecureString }
secrets:
  # the bundle
  ns/api/secrets:
    JWT_SIGNING_KEY: "dev-jwt"
    OTHER: kept
  "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-a-AbC123":
    password: "p@ss"
# the end
"#;

fn parameter(path: &str) -> Destination {
    Destination::Parameter { path: path.into() }
}

fn key(key: &str) -> Destination {
    Destination::BundleKey {
        bundle: "ns/api/secrets".into(),
        key: key.into(),
    }
}

fn edit(writes: &[(Destination, Option<&str>)]) -> (String, Vec<String>) {
    let mut request = WriteRequest::default();
    for (destination, value) in writes {
        request.add(destination, value.map(SecretValue::from));
    }
    let (text, report) = edit_store_file("store.yaml", STORE, &request).unwrap();
    (text, report.lines)
}

#[test]
fn a_replaced_parameter_keeps_every_other_line() {
    let (text, report) = edit(&[(parameter("/ns/api/LOG_LEVEL"), Some("info"))]);
    assert_eq!(report, ["ssm:/ns/api/LOG_LEVEL: replaced"]);
    let expected = STORE.replace(
        "  /ns/api/LOG_LEVEL: debug",
        "  \"/ns/api/LOG_LEVEL\": \"info\"",
    );
    assert_eq!(text, expected);
}

#[test]
fn new_entries_go_after_the_last_of_their_mapping() {
    let (text, report) = edit(&[
        (parameter("/ns/api/NEW"), Some("a \"quoted\"\nvalue\\")),
        (key("NEW_KEY"), Some("s3cr#t: {x}")),
    ]);
    assert_eq!(
        report,
        [
            "ssm:/ns/api/NEW: created",
            "sm:ns/api/secrets#NEW_KEY: created"
        ]
    );
    assert!(text.starts_with("# The development store.\nparameters:\n  # the database\n"));
    assert!(
        text.contains(
            "type: SecureString }\n  \"/ns/api/NEW\": \"a \\\"quoted\\\"\\nvalue\\\\\"\nsecrets:"
        ),
        "{text}"
    );
    assert!(text.contains("  # the bundle\n  \"ns/api/secrets\":\n    \"JWT_SIGNING_KEY\": \"dev-jwt\"\n    \"OTHER\": \"kept\"\n    \"NEW_KEY\": \"s3cr#t: {x}\"\n"), "{text}");
    assert!(
        text.ends_with("    password: \"p@ss\"\n# the end\n"),
        "{text}"
    );
}

#[test]
fn removed_entries_are_deleted_and_the_rest_kept() {
    let (text, report) = edit(&[
        (parameter("/ns/api/DATABASE_HOST"), None),
        (parameter("/ns/api/ABSENT"), None),
        (key("OTHER"), None),
    ]);
    assert_eq!(
        report,
        [
            "ssm:/ns/api/DATABASE_HOST: deleted",
            "ssm:/ns/api/ABSENT: was not set",
            "sm:ns/api/secrets#OTHER: deleted"
        ]
    );
    assert!(!text.contains("DATABASE_HOST"), "{text}");
    assert!(!text.contains("OTHER"), "{text}");
    assert!(
        text.contains("  # the database\n  /ns/api/LOG_LEVEL: debug\n"),
        "{text}"
    );
}

#[test]
fn an_empty_store_gets_its_sections() {
    let mut request = WriteRequest::default();
    request.add(&parameter("/ns/api/A"), Some(SecretValue::from("1")));
    request.add(&key("K"), Some(SecretValue::from("v")));
    for empty in ["", "# nothing yet\n", "parameters: {}\nsecrets: {}\n"] {
        let (text, _) = edit_store_file("store.yaml", empty, &request).unwrap();
        assert!(
            text.contains("parameters:\n  \"/ns/api/A\": \"1\"\n"),
            "{empty:?}: {text}"
        );
        assert!(
            text.contains("secrets:\n  \"ns/api/secrets\":\n    \"K\": \"v\"\n"),
            "{empty:?}: {text}"
        );
    }
}

#[test]
fn a_block_scalar_is_replaced_without_the_line_after_it() {
    let store = "parameters:\n  /ns/api/CA: |\n    abc\n    def\n\n  /ns/api/LOG_LEVEL: debug\n";
    let mut request = WriteRequest::default();
    request.add(&parameter("/ns/api/CA"), Some(SecretValue::from("x")));
    let (text, _) = edit_store_file("store.yaml", store, &request).unwrap();
    assert!(text.contains("/ns/api/LOG_LEVEL: debug"), "{text}");
    assert!(text.contains("\"/ns/api/CA\": \"x\""), "{text}");
}

#[test]
fn layouts_that_cannot_be_edited_safely_are_refused_and_nothing_is_lost() {
    let mut request = WriteRequest::default();
    request.add(&parameter("/ns/api/B"), Some(SecretValue::from("2")));
    // A flow mapping with entries: editing it would lose them.
    let flow = "parameters: {\"/ns/api/A\": \"1\"}\n";
    assert!(edit_store_file("store.yaml", flow, &request).is_err());
    // A bundle whose values are not all strings cannot take a key without losing one.
    let mut request = WriteRequest::default();
    request.add(&key("K"), Some(SecretValue::from("v")));
    let nested = "secrets:\n  ns/api/secrets:\n    META: { k: v }\n";
    let error = edit_store_file("store.yaml", nested, &request).unwrap_err();
    assert!(error.to_string().contains("cannot be merged"), "{error}");
}

#[test]
fn removing_the_last_key_leaves_an_empty_bundle_and_an_absent_key_changes_nothing() {
    let store = "secrets:\n  ns/api/secrets:\n    ONLY: v\n";
    let mut request = WriteRequest::default();
    request.add(&key("ONLY"), None);
    let (text, _) = edit_store_file("store.yaml", store, &request).unwrap();
    assert!(text.contains("\"ns/api/secrets\": {}"), "{text}");
    let mut request = WriteRequest::default();
    request.add(&key("ABSENT"), None);
    let (text, report) = edit_store_file("store.yaml", store, &request).unwrap();
    assert_eq!(text, store);
    assert_eq!(report.lines, ["sm:ns/api/secrets#ABSENT: was not set"]);
}
