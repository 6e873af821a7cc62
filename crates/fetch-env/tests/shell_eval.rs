//! `--format export` is read back by bash, dash and busybox sh byte for byte.
//!
//! Every test writes a manifest (`service: svc`, variables V0..Vn) and a file store holding one
//! SSM parameter per value into a temporary directory, runs the real binary, writes its stdout
//! to a file, sources that file in each shell and has the shell print every variable
//! NUL-terminated. NUL is the one byte no value can hold, so splitting on it is unambiguous.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tempfile::TempDir;

use common::run::yaml_quoted;

/// A shell as it is called: the program and the arguments before `-c`.
struct Shell {
    name: &'static str,
    argv: Vec<OsString>,
}

/// bash, dash and busybox sh; a missing one fails the test with the package to install.
fn shells() -> Vec<Shell> {
    let bash = common::require_tool("bash", "apt-get install bash");
    let dash = common::require_tool("dash", "apt-get install dash");
    let busybox = common::require_tool("busybox", "apt-get install busybox");
    vec![
        Shell {
            name: "bash",
            argv: vec![bash.into()],
        },
        Shell {
            name: "dash",
            argv: vec![dash.into()],
        },
        Shell {
            name: "busybox sh",
            argv: vec![busybox.into(), "sh".into()],
        },
    ]
}

/// coreutils `env`, which lists the environment NUL-separated (`env -0`). Called by its path so
/// that busybox sh cannot substitute its own applet.
fn env_tool() -> PathBuf {
    common::require_tool("env", "apt-get install coreutils")
}

/// A manifest with one required remote variable per value and a store holding the values as
/// SSM parameters under `/ns/svc/`.
fn fixture(values: &[String]) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut manifest = String::from("service: svc\nvariables:\n");
    let mut store = String::from("parameters:\n");
    for (i, value) in values.iter().enumerate() {
        manifest.push_str(&format!("  - name: V{i}\n    required: true\n"));
        store.push_str(&format!("  /ns/svc/V{i}: {}\n", yaml_quoted(value)));
    }
    std::fs::write(dir.path().join("vars.yaml"), manifest).expect("write the manifest");
    std::fs::write(dir.path().join("store.yaml"), store).expect("write the store");
    dir
}

/// `fetch-env --format export` over the fixture in `dir`.
fn fetch_env_export(dir: &Path) -> Output {
    common::fetch_env()
        .arg("--manifest")
        .arg(dir.join("vars.yaml"))
        .arg("--store")
        .arg(format!("file:{}", dir.join("store.yaml").display()))
        .arg("--namespace")
        .arg("ns")
        .arg("--format")
        .arg("export")
        .output()
        .expect("run fetch-env")
}

/// Runs fetch-env over `values`, writes its output to `exports` in the fixture directory and
/// returns that path.
fn export_file(dir: &Path, values: &[String]) -> PathBuf {
    let output = fetch_env_export(dir);
    assert!(
        output.status.success(),
        "fetch-env failed ({}) for values {values:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let path = dir.join("exports");
    std::fs::write(&path, &output.stdout).expect("write the export output");
    path
}

/// Sources `exports` in `shell` under `locale` and returns, per variable V0..V{count-1}, the
/// value the shell holds (`printf '%s\0' "$Vi"`) and the value a child of the shell receives
/// in its environment (`env -0`), which also shows that every line exported its variable.
///
/// The file is read with `.`, which hands the shell its bytes as they are, so a value's
/// trailing newlines survive. `eval "$(cat exports)"` would also be safe for this format
/// (command substitution strips trailing newlines, but every value's newlines sit inside its
/// quotes and only the unquoted line end after the last quote is lost), yet the test should
/// not lean on that. The path is passed as `$1`, coreutils `env` as `$2`, so neither needs
/// quoting inside the script.
fn evaluate(
    shell: &Shell,
    locale: &str,
    exports: &Path,
    count: usize,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut script = String::from(". \"$1\" || exit 99\nprintf '%s\\0'");
    for i in 0..count {
        script.push_str(&format!(" \"$V{i}\""));
    }
    script.push_str("\nexec \"$2\" -0\n");
    let output = Command::new(&shell.argv[0])
        .args(&shell.argv[1..])
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .arg(exports)
        .arg(env_tool())
        // Files a non-interactive shell would read first.
        .env_remove("BASH_ENV")
        .env_remove("ENV")
        .env("LC_ALL", locale)
        .output()
        .expect("run the shell");
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{} (LC_ALL={locale}) failed to source the export output ({}): {}",
        shell.name,
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut fields: Vec<Vec<u8>> = output
        .stdout
        .split(|&b| b == 0)
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(
        fields.pop().as_deref(),
        Some(&b""[..]),
        "{}: output does not end in NUL",
        shell.name
    );
    assert!(
        fields.len() >= count,
        "{}: fewer fields than variables",
        shell.name
    );
    let environment = fields.split_off(count);
    let mut exported = vec![None; count];
    for entry in environment {
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (&entry[..eq], &entry[eq + 1..]);
        let index = name
            .strip_prefix(b"V")
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<usize>().ok())
            .filter(|&i| i < count && name == format!("V{i}").as_bytes());
        if let Some(i) = index {
            exported[i] = Some(value.to_vec());
        }
    }
    let exported = exported
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.unwrap_or_else(|| panic!("{}: V{i} was not exported", shell.name)))
        .collect();
    (fields, exported)
}

/// Runs the whole round trip for `values` in every shell, under every locale in `locales`.
fn assert_round_trip(values: &[String], locales: &[&str]) {
    let dir = fixture(values);
    let exports = export_file(dir.path(), values);
    for shell in shells() {
        for locale in locales {
            let (held, exported) = evaluate(&shell, locale, &exports, values.len());
            for (i, value) in values.iter().enumerate() {
                assert!(
                    held[i] == value.as_bytes(),
                    "{} (LC_ALL={locale}): V{i} is {:?}, expected {value:?}",
                    shell.name,
                    String::from_utf8_lossy(&held[i])
                );
                assert!(
                    exported[i] == value.as_bytes(),
                    "{} (LC_ALL={locale}): exported V{i} is {:?}, expected {value:?}",
                    shell.name,
                    String::from_utf8_lossy(&exported[i])
                );
            }
        }
    }
}

/// Values that each break some naive quoting.
fn hard_values() -> Vec<String> {
    let pem = "-----BEGIN PRIVATE KEY-----\n\
               MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n\
               MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n\
               +/Z0eA==\n\
               -----END PRIVATE KEY-----\n";
    let mut values: Vec<String> = [
        "it's",
        "say \"hi\"",
        "'",
        "''",
        "\"",
        "'\\''",
        "a'\\''b",
        "$HOME",
        "$",
        "$$",
        "${HOME:-x}",
        "$(id)",
        "`id`",
        "$((1+1))",
        "\\",
        "trailing backslash\\",
        "\\\\double",
        "\\n not a newline",
        "back\\'slash quote",
        "!",
        "!!",
        "hello!world",
        "!$",
        "-n",
        "-e",
        "--",
        "-",
        "=",
        "a=b=c",
        "==",
        "tab\there",
        "\t",
        "  leading",
        "trailing  ",
        " ",
        "   both   ",
        "*",
        "*.yaml",
        "/*",
        "?",
        "[a-z]",
        "~",
        "~root",
        "~/x",
        "é",
        "Zürich",
        "日本",
        "日本語のテキスト",
        "😀",
        "👩‍💻 zwj",
        "%",
        "%s%d%n%%",
        "100%",
        "\n",
        "\n\n",
        "line1\nline2",
        "trailing newline\n",
        "\r\n",
        "\u{1b}[31mred\u{1b}[0m",
        "\u{7f}",
        "\u{85}",
        "\u{2028}\u{2029}",
        "\u{feff}bom",
        "\u{fffd}",
        "\u{10ffff}",
        // Bytes 0x81..=0x88 are dash's and busybox ash's internal control characters (CTLESC,
        // CTLVAR, …); these characters contain them in their UTF-8 encoding.
        "\u{81}\u{82}\u{83}\u{84}\u{86}\u{87}\u{88}",
        "āĂăĄąĆćĈ",
        "#not a comment",
        "a;b&c|d>e<f",
        "(subshell)",
        "{a,b}",
        "export X=1",
        "'; echo pwned; '",
        "\"; echo pwned; \"",
        "postgresql://u:p%40ss@host:5432/db?sslmode=verify-full",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    values.push(pem.to_owned());
    values.push(pem.trim_end().to_owned());
    // 8 KiB, the SSM advanced-parameter limit, of everything above mixed together.
    let mix = values.concat();
    values.push(
        mix.chars()
            .cycle()
            .scan(0, |len, c| {
                *len += c.len_utf8();
                (*len <= 8192).then_some(c)
            })
            .collect(),
    );
    values.push("x".repeat(8192));
    values
}

#[test]
fn every_shell_reads_back_every_hard_value() {
    let values = hard_values();
    assert!(values.iter().all(|v| !v.is_empty() && !v.contains('\0')));
    assert_round_trip(&values, &["C", "C.UTF-8"]);
}

#[test]
fn the_fixture_is_resolved_exactly() {
    // The shells are only as good as what they are given: the JSON output of the same store
    // must hold exactly the values written, so a store-encoding mistake cannot cancel out.
    let values = hard_values();
    let dir = fixture(&values);
    let output = common::fetch_env()
        .arg("--manifest")
        .arg(dir.path().join("vars.yaml"))
        .arg("--store")
        .arg(format!("file:{}", dir.path().join("store.yaml").display()))
        .arg("--namespace")
        .arg("ns")
        .arg("--format")
        .arg("json")
        .output()
        .expect("run fetch-env");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(json.len(), values.len());
    for (i, value) in values.iter().enumerate() {
        assert_eq!(
            json[&format!("V{i}")].as_str(),
            Some(value.as_str()),
            "V{i}"
        );
    }
}

/// Characters that mean something to a shell, to YAML or to JSON.
const META: &[char] = &[
    '\'', '"', '$', '`', '\\', '!', '*', '?', '[', ']', '{', '}', '(', ')', ';', '&', '|', '<',
    '>', '~', '#', '%', '=', '-', ' ', '\t', '\n', '\r', '^', ':', ',', '@',
];

/// Characters whose UTF-8 encoding holds a byte in 0x81..=0x88 (dash's internal markers),
/// multibyte text, and characters YAML only takes escaped.
const AWKWARD: &[char] = &[
    '\u{81}', '\u{82}', '\u{83}', '\u{84}', '\u{85}', '\u{86}', '\u{87}', '\u{88}', 'ā', 'Ă', 'ă',
    'Ą', 'ą', 'Ć', 'ć', 'Ĉ', 'é', 'ü', '日', '本', '😀', '\u{7f}', '\u{1b}', '\u{fffe}',
    '\u{ffff}', '\u{feff}', '\u{2028}', '\u{200d}',
];

fn value_char() -> impl Strategy<Value = char> {
    prop_oneof![
        5 => proptest::sample::select(META),
        2 => proptest::sample::select(AWKWARD),
        2 => proptest::char::range(' ', '~'),
        2 => any::<char>().prop_filter("no NUL", |c| *c != '\0'),
    ]
}

fn value() -> impl Strategy<Value = String> {
    proptest::collection::vec(value_char(), 1..40).prop_map(|chars| chars.into_iter().collect())
}

#[test]
fn every_shell_reads_back_random_values() {
    // Each case resolves a batch of values in one fetch-env call and one call per shell, so
    // a few dozen cases cover thousands of values in a few seconds. Failures are not persisted
    // to a regressions file; proptest prints the shrunk input.
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    });
    let batch = proptest::collection::vec(value(), 1..64);
    runner
        .run(&batch, |values| {
            assert_round_trip(&values, &["C.UTF-8"]);
            Ok(())
        })
        .expect("every shell reads back every value");
}

#[test]
fn a_nul_byte_is_refused() {
    let values = ["fine".to_owned(), "a\0b".to_owned(), "also fine".to_owned()];
    let dir = fixture(&values);
    let store = std::fs::read_to_string(dir.path().join("store.yaml")).expect("read the store");
    // The NUL reaches the store only as a JSON escape; the file itself holds no NUL byte.
    assert!(
        store.contains("\"a\\u0000b\"") && !store.contains('\0'),
        "{store}"
    );
    let output = fetch_env_export(dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        stderr.contains("V1") && stderr.contains("NUL"),
        "stderr: {stderr}"
    );
    assert!(
        !stderr.contains("V0") && !stderr.contains("V2"),
        "stderr: {stderr}"
    );
}
