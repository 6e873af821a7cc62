//! Hostile input: values at the size limit of Secrets Manager, a manifest of 10,000 variables,
//! YAML built to exhaust a parser (deep nesting, alias bombs) in each YAML file fetch-env
//! reads, NUL bytes in values, bytes that are not UTF-8, `--output` targets another user could
//! redirect, and CRLF bootstrap files. Each gets a bounded, located error with its documented
//! exit code, or is handled exactly.
//!
//! Every run is bounded by `safety::HANG_GUARD` (30 s), a guard against a hang and never a
//! benchmark; the one timing of interest (10,000 variables) is printed, not asserted.

mod common;
mod safety;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::OnceLock;

use common::moto::moto;
use common::require_tool;
use common::run::yaml_quoted;
use safety::{Run, file_store, on_aws, run_bounded, sealed, write};

const ARN_PREFIX: &str = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:";

/// fetch-env on the file store with `manifest`, `bootstrap` and `store`, then `args`.
fn on_file_store(
    dir: &Path,
    manifest: &Path,
    bootstrap: &Path,
    store: &Path,
    args: &[&str],
) -> Run {
    let mut command = sealed(dir);
    command
        .arg("--manifest")
        .arg(manifest)
        .arg("--bootstrap")
        .arg(bootstrap)
        .arg("--store")
        .arg(file_store(store))
        .args(args);
    run_bounded(&mut command)
}

/// Exactly 65,536 bytes of UTF-8 (the largest SecretString Secrets Manager stores): every
/// ASCII character but NUL (quotes, `$`, backticks, backslashes, CR, LF, tabs, DEL) and
/// non-ASCII ones a parser or shell might treat specially (NEL, LINE SEPARATOR, BOM, NBSP, a
/// C1 control, a 4-byte emoji), in a pseudo-random order fixed by `seed`.
fn value_of_64_kib(seed: u64) -> String {
    const EXTRA: [char; 8] = [
        'ü', '€', '😀', '\u{85}', '\u{2028}', '\u{feff}', '\u{a0}', '\u{9f}',
    ];
    let mut state = seed.max(1);
    let mut value = String::with_capacity(65_536);
    loop {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let pick = (state % (127 + EXTRA.len() as u64)) as usize;
        let c = if pick < 127 {
            char::from(pick as u8 + 1)
        } else {
            EXTRA[pick - 127]
        };
        if value.len() + c.len_utf8() > 65_536 {
            break;
        }
        value.push(c);
    }
    while value.len() < 65_536 {
        value.push('x');
    }
    value
}

/// Stores seeded into the shared moto once, in one interpreter start.
struct AwsWorld {
    _dir: tempfile::TempDir,
    /// The ARN of the 64 KiB string secret.
    large_arn: String,
    /// The ARN of the secret holding a NUL byte.
    nul_arn: String,
}

fn aws_world() -> &'static AwsWorld {
    static WORLD: OnceLock<AwsWorld> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let large_key = format!("{ARN_PREFIX}hostile-large-AbC123");
        let large = write(
            dir.path(),
            "large.yaml",
            format!(
                "secrets:\n  \"{large_key}\": {}\n",
                yaml_quoted(&value_of_64_kib(3))
            ),
        );
        let nul_key = format!("{ARN_PREFIX}hostile-nul-AbC123");
        let nul = write(
            dir.path(),
            "nul.yaml",
            format!(
                "secrets:\n  hostile/nul/svc/secrets:\n    V_BUNDLE: \"before\\0after\"\n  \"{nul_key}\":\n    key: \"before\\0after\"\n"
            ),
        );
        let arns = moto().seed_many(&[large.clone(), nul.clone()]);
        AwsWorld {
            large_arn: arns[&large][&large_key].clone(),
            nul_arn: arns[&nul][&nul_key].clone(),
            _dir: dir,
        }
    })
}

/// `NAME='value'` lines evaluated by `shell`; returns what `printf %s "$NAME"` prints.
fn through_shell(shell: &[&str], exports: &Path, name: &str) -> Vec<u8> {
    let program = require_tool(shell[0], "apt-get install bash dash busybox");
    let output = std::process::Command::new(program)
        .args(&shell[1..])
        .arg("-c")
        .arg(format!(". '{}'; printf %s \"${name}\"", exports.display()))
        .env_clear()
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{shell:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Values of 64 KiB from SSM, the bundle and an `arn_from` string secret on the file store,
/// and from an `arn_from` secret on moto (the only AWS place that holds 64 KiB: a parameter
/// holds at most 8 KiB, and a bundle's JSON would not fit): `export` reads back byte for byte
/// in bash (and dash and busybox sh), `json` parses back to the same strings, and `run` hands
/// them to the command unchanged.
#[test]
fn values_of_64_kib_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let values = [value_of_64_kib(1), value_of_64_kib(2), value_of_64_kib(3)];
    let names = ["V_SSM", "V_BUNDLE", "V_ARN"];
    let arn_key = format!("{ARN_PREFIX}hostile-file-AbC123");
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: svc\nvariables:\n  - { name: ARN, source: local }\n  - { name: V_SSM }\n  - { name: V_BUNDLE }\n  - { name: V_ARN, required: true, secret: { arn_from: ARN, type: string } }\n",
    );
    let store = write(
        dir.path(),
        "store.yaml",
        format!(
            "parameters:\n  /hostile/svc/V_SSM: {}\nsecrets:\n  hostile/svc/secrets:\n    V_BUNDLE: {}\n  \"{arn_key}\": {}\n",
            yaml_quoted(&values[0]),
            yaml_quoted(&values[1]),
            yaml_quoted(&values[2])
        ),
    );
    let file_bootstrap = write(
        dir.path(),
        "file.env",
        format!("NAMESPACE=hostile\nARN={arn_key}\n"),
    );
    let aws_bootstrap = write(
        dir.path(),
        "aws.env",
        format!("NAMESPACE=hostile-aws\nARN={}\n", aws_world().large_arn),
    );
    let run_on = |backend: &str, args: &[&str]| {
        let mut command = sealed(dir.path());
        command.arg("--manifest").arg(&manifest);
        if backend == "file" {
            command
                .arg("--bootstrap")
                .arg(&file_bootstrap)
                .arg("--store")
                .arg(file_store(&store));
        } else {
            command
                .arg("--bootstrap")
                .arg(&aws_bootstrap)
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing");
            on_aws(&mut command, &moto().endpoint);
        }
        let run = run_bounded(command.args(args));
        run.assert_ok();
        run
    };

    for (backend, checked) in [("file", &names[..]), ("aws", &names[2..])] {
        let exports = write(dir.path(), "exports.sh", run_on(backend, &[]).stdout);
        for shell in [&["bash"][..], &["dash"], &["busybox", "sh"]] {
            for name in checked {
                let index = names.iter().position(|n| n == name).unwrap();
                let read_back = through_shell(shell, &exports, name);
                assert!(
                    read_back == values[index].as_bytes(),
                    "{backend}: {shell:?} read {name} back as {} bytes, not the 65536 written",
                    read_back.len()
                );
            }
        }
        let json: serde_json::Value =
            serde_json::from_slice(&run_on(backend, &["--format", "json"]).stdout).unwrap();
        for name in checked {
            let index = names.iter().position(|n| n == name).unwrap();
            assert!(
                json[name].as_str() == Some(values[index].as_str()),
                "{backend}: json {name}"
            );
        }
        let mut printed = Vec::new();
        for name in checked {
            let index = names.iter().position(|n| n == name).unwrap();
            printed.extend_from_slice(values[index].as_bytes());
            printed.push(b'\n');
        }
        let mut run_args = vec!["run", "--", "printenv"];
        run_args.extend(checked);
        assert!(
            run_on(backend, &run_args).stdout == printed,
            "{backend}: run hands the values over unchanged"
        );
    }
}

/// 10,000 required variables, half from SSM and half from the bundle, resolve on the file
/// store in manifest order. The time is printed (`--nocapture`), not asserted.
#[test]
fn ten_thousand_variables_resolve_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = String::from("service: big\nvariables:\n");
    let mut parameters = String::from("parameters:\n");
    let mut bundle = String::from("secrets:\n  hostile/big/secrets:\n");
    for i in 0..10_000 {
        manifest.push_str(&format!("  - {{ name: V{i:05}, required: true }}\n"));
        if i % 2 == 0 {
            parameters.push_str(&format!("  /hostile/big/V{i:05}: value-{i}\n"));
        } else {
            bundle.push_str(&format!("    V{i:05}: secret-{i}\n"));
        }
    }
    let manifest = write(dir.path(), "vars.yaml", manifest);
    let store = write(dir.path(), "store.yaml", parameters + &bundle);
    let bootstrap = write(dir.path(), "b.env", "NAMESPACE=hostile\n");
    let run = on_file_store(dir.path(), &manifest, &bootstrap, &store, &[]);
    run.assert_ok();
    let stdout = run.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10_000);
    for (i, line) in lines.iter().enumerate() {
        let kind = if i % 2 == 0 { "value" } else { "secret" };
        assert_eq!(*line, format!("export V{i:05}='{kind}-{i}'"));
    }
    eprintln!(
        "10,000 variables resolved on the file store in {} ms",
        run.elapsed.as_millis()
    );
}

/// A valid manifest, for the compose checks.
const SMALL_MANIFEST: &str = "service: s\nvariables:\n  - { name: A, containers: [app] }\n";

/// Where a hostile document goes.
#[derive(Clone, Copy, Debug)]
enum Target {
    Manifest,
    Store,
    Compose,
}

/// Runs fetch-env with `text` as the manifest, the store or the compose file (the others
/// valid), checks the failure contract with exit `exit` and returns the run and the file's
/// name as errors show it.
fn run_with(target: Target, text: &[u8], exit: i32) -> (Run, String) {
    let dir = tempfile::tempdir().unwrap();
    let hostile = write(dir.path(), "hostile.yaml", text);
    let manifest = write(dir.path(), "vars.yaml", SMALL_MANIFEST);
    let store = write(dir.path(), "store.yaml", "parameters: {}\n");
    let bootstrap = write(dir.path(), "b.env", "NAMESPACE=hostile\n");
    let run = match target {
        Target::Manifest => on_file_store(dir.path(), &hostile, &bootstrap, &store, &[]),
        Target::Store => on_file_store(dir.path(), &manifest, &bootstrap, &hostile, &[]),
        Target::Compose => on_file_store(
            dir.path(),
            &manifest,
            &bootstrap,
            &store,
            &["check", "--compose", hostile.to_str().unwrap()],
        ),
    };
    run.assert_failed(exit);
    (run, hostile.display().to_string())
}

/// The first error line, which must start `file:LINE:COLUMN: error:`.
fn located_error<'r>(run: &'r Run, file: &str, what: &str) -> &'r str {
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(": error: "))
        .unwrap_or_default();
    let rest = line.strip_prefix(&format!("{file}:")).unwrap_or_else(|| {
        panic!(
            "{what}: the error does not name {file}:LINE:COLUMN\n{}",
            run.show()
        )
    });
    let mut parts = rest.splitn(3, ':');
    let located = parts
        .next()
        .is_some_and(|l| l.parse::<u64>().is_ok_and(|n| n > 0))
        && parts.next().is_some_and(|c| c.parse::<u64>().is_ok())
        && parts
            .next()
            .is_some_and(|rest| rest.starts_with(" error: "));
    assert!(located, "{what}: no LINE:COLUMN\n{}", run.show());
    line
}

/// Nested 10,000 levels deep (`[`, `{a: `, closed or not) and block mappings.
fn deep_documents() -> Vec<(&'static str, Target, String)> {
    let open = "[".repeat(10_000);
    let closed = format!("{open}{}", "]".repeat(10_000));
    let flow_map = format!("{}{}", "{a: ".repeat(10_000), "}".repeat(10_000));
    // Block mappings nest by indentation: 1,000 levels (far past the parser's limit of 64)
    // keep the file at half a megabyte.
    let block_map: String = (0..1_000)
        .map(|i| format!("{}a:\n", " ".repeat(i + 2)))
        .collect();
    vec![
        (
            "manifest, sequences",
            Target::Manifest,
            format!("service: s\nvariables: {closed}\n"),
        ),
        (
            "manifest, unclosed",
            Target::Manifest,
            format!("service: s\nvariables: {open}\n"),
        ),
        (
            "manifest, in a field",
            Target::Manifest,
            format!("{SMALL_MANIFEST}    description: {closed}\n"),
        ),
        (
            "manifest, unknown field",
            Target::Manifest,
            format!("service: s\nx-deep: {closed}\nvariables: []\n"),
        ),
        (
            "store, parameter",
            Target::Store,
            format!("parameters:\n  /hostile/s/A: {closed}\n"),
        ),
        (
            "store, secret",
            Target::Store,
            format!("secrets:\n  hostile/s/secrets:\n    A: {closed}\n"),
        ),
        (
            "store, unclosed",
            Target::Store,
            format!("secrets:\n  hostile/s/secrets: {open}\n"),
        ),
        (
            "compose, services",
            Target::Compose,
            format!("services: {closed}\n"),
        ),
        (
            "compose, extension",
            Target::Compose,
            format!("services:\n  app:\n    image: x\nx-deep: {closed}\n"),
        ),
        (
            "compose, unclosed",
            Target::Compose,
            format!("services:\n  app:\n    image: {open}\n"),
        ),
        (
            "manifest, flow mappings",
            Target::Manifest,
            format!("service: s\nx-deep: {flow_map}\nvariables: []\n"),
        ),
        (
            "store, flow mappings",
            Target::Store,
            format!("secrets:\n  hostile/s/secrets: {flow_map}\n"),
        ),
        (
            "compose, flow mappings",
            Target::Compose,
            format!("x-deep: {flow_map}\nservices: {{}}\n"),
        ),
        (
            "store, block mappings",
            Target::Store,
            format!("parameters:\n  /hostile/s/A:\n{block_map}"),
        ),
    ]
}

#[test]
fn deep_nesting_fails_fast_with_a_located_error() {
    for (what, target, text) in deep_documents() {
        let (run, file) = run_with(target, text.as_bytes(), 2);
        located_error(&run, &file, what);
    }
}

/// The depth limit's message is the parser's Debug value of its budget
/// (`budget breached: Depth { depth: 65 }`) for nested mappings; a readable message says,
/// in words, that the document nests too deep.
#[test]
fn deeply_nested_mappings_get_a_readable_error() {
    let mut unreadable = Vec::new();
    for (what, target, text) in deep_documents() {
        let (run, file) = run_with(target, text.as_bytes(), 2);
        let line = located_error(&run, &file, what);
        if line.contains('{') || line.contains('}') {
            unreadable.push(format!("{what}: {line}"));
        }
    }
    assert!(unreadable.is_empty(), "{}", unreadable.join("\n"));
}

/// Nine levels of ten aliases each (a billion laughs in ten-fold): the parser's replay budget
/// stops it early, in each YAML file, whether the bomb sits in an unknown field or is used as
/// a value.
#[test]
fn alias_bombs_fail_fast_with_a_located_error() {
    let anchors: String = std::iter::once("x-a0: &a0 [a,a,a,a,a,a,a,a,a,a]\n".to_owned())
        .chain((1..9).map(|i| {
            format!(
                "x-a{i}: &a{i} [{}]\n",
                vec![format!("*a{}", i - 1); 10].join(",")
            )
        }))
        .collect();
    let nested: String = std::iter::once("    x0: &a0 [a,a,a,a,a,a,a,a,a,a]\n".to_owned())
        .chain((1..9).map(|i| {
            format!(
                "    x{i}: &a{i} [{}]\n",
                vec![format!("*a{}", i - 1); 10].join(",")
            )
        }))
        .collect();
    for (what, target, text) in [
        (
            "manifest, unknown field",
            Target::Manifest,
            format!("service: s\n{anchors}variables: []\n"),
        ),
        (
            "manifest, used",
            Target::Manifest,
            format!("service: s\n{anchors}variables:\n  - name: A\n    containers: *a8\n"),
        ),
        (
            "store, parameters",
            Target::Store,
            format!("parameters:\n  /hostile/s/B:\n{nested}"),
        ),
        (
            "store, bundle",
            Target::Store,
            format!("secrets:\n  hostile/s/secrets:\n{nested}"),
        ),
        (
            "compose",
            Target::Compose,
            format!("{anchors}services:\n  app:\n    image: x\n    command: *a8\n"),
        ),
    ] {
        let (run, file) = run_with(target, text.as_bytes(), 2);
        let line = located_error(&run, &file, what);
        assert!(
            line.contains("alias"),
            "{what}: the error says what was refused\n{}",
            run.show()
        );
    }
}

/// A NUL byte cannot be in an environment variable: exit 1, each variable named, from SSM, the
/// bundle and an `arn_from` secret on the file store, and from the bundle and an `arn_from`
/// secret on moto. Every output command refuses, JSON (which could carry `\u0000`) included.
#[test]
fn nul_bytes_in_values_are_refused_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: svc\nvariables:\n  - { name: ARN, source: local }\n  - { name: V_SSM }\n  - { name: V_BUNDLE }\n  - { name: V_ARN, secret: { arn_from: ARN, type: json, key: key } }\n",
    );
    let arn_key = format!("{ARN_PREFIX}hostile-nul-file-AbC123");
    let store = write(
        dir.path(),
        "store.yaml",
        format!(
            "parameters:\n  /hostile/nul/svc/V_SSM: \"before\\0after\"\nsecrets:\n  hostile/nul/svc/secrets:\n    V_BUNDLE: \"before\\0after\"\n  \"{arn_key}\":\n    key: \"before\\0after\"\n"
        ),
    );
    let file_bootstrap = write(
        dir.path(),
        "file.env",
        format!("NAMESPACE=hostile/nul\nARN={arn_key}\n"),
    );
    let aws_bootstrap = write(
        dir.path(),
        "aws.env",
        format!("NAMESPACE=hostile/nul\nARN={}\n", aws_world().nul_arn),
    );
    for args in [&[][..], &["--format", "json"], &["run", "--", "true"]] {
        let run = on_file_store(dir.path(), &manifest, &file_bootstrap, &store, args);
        run.assert_failed(1);
        for name in ["V_SSM", "V_BUNDLE", "V_ARN"] {
            assert!(
                run.stderr
                    .contains(&format!("error: the value of {name} contains a NUL byte")),
                "file store: {name} is named\n{}",
                run.show()
            );
        }
        let mut command = sealed(dir.path());
        command
            .arg("--manifest")
            .arg(&manifest)
            .arg("--bootstrap")
            .arg(&aws_bootstrap)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        on_aws(&mut command, &moto().endpoint);
        let run = run_bounded(command.args(args));
        run.assert_failed(1);
        for name in ["V_BUNDLE", "V_ARN"] {
            assert!(
                run.stderr
                    .contains(&format!("error: the value of {name} contains a NUL byte")),
                "AWS store: {name} is named\n{}",
                run.show()
            );
        }
    }
}

/// A byte that is not UTF-8 in the manifest, the bootstrap file or the store file: exit 2,
/// the file and the line named.
#[test]
fn non_utf8_input_files_are_refused_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: s\nvariables:\n  - { name: A, source: local }\n  - { name: B }\n",
    );
    let bootstrap = write(dir.path(), "b.env", "NAMESPACE=hostile\nA=1\n");
    let store = write(dir.path(), "store.yaml", "parameters:\n  /hostile/s/B: b\n");
    let bad_manifest = write(dir.path(), "bad-vars.yaml", b"service: s\nvariables:\n  - { name: A, source: local }\n  - { name: B, description: \"caf\xe9\" }\n");
    let bad_bootstrap = write(dir.path(), "bad.env", b"NAMESPACE=hostile\nA='caf\xe9'\n");
    let bad_store = write(
        dir.path(),
        "bad-store.yaml",
        b"parameters:\n  /hostile/s/A: a\n  /hostile/s/B: \"\xff\xfe\"\n",
    );
    for (manifest, bootstrap, store, shown) in [
        (
            &bad_manifest,
            &bootstrap,
            &store,
            format!("{}:4", bad_manifest.display()),
        ),
        (
            &manifest,
            &bad_bootstrap,
            &store,
            format!("{}:2", bad_bootstrap.display()),
        ),
        (
            &manifest,
            &bootstrap,
            &bad_store,
            format!("{}:3", bad_store.display()),
        ),
    ] {
        let run = on_file_store(dir.path(), manifest, bootstrap, store, &[]);
        run.assert_failed(2);
        assert!(
            run.stderr.contains(&format!("{shown}: error: ")),
            "names {shown}\n{}",
            run.show()
        );
        assert!(run.stderr.contains("UTF-8"), "{}", run.show());
    }
}

/// The same for a compose file: today the error is `cannot read the compose file: stream did
/// not contain valid UTF-8`, with neither line nor column.
#[test]
fn non_utf8_compose_file_is_refused_with_its_location() {
    let text = b"services:\n  app:\n    image: x\n    environment:\n      - A=caf\xe9\n";
    let (run, file) = run_with(Target::Compose, text, 2);
    assert!(
        run.stderr.contains(&format!("{file}:5:")),
        "the compose error names the line\n{}",
        run.show()
    );
}

/// One fetch-env run writing `--output target` from a small local-only manifest.
fn write_output(dir: &Path, target: &Path) -> Run {
    let manifest = write(
        dir,
        "vars.yaml",
        "service: s\nvariables:\n  - { name: A, source: local }\n",
    );
    let bootstrap = write(dir, "b.env", "A=value\n");
    let mut command = sealed(dir);
    command
        .arg("--manifest")
        .arg(&manifest)
        .arg("--bootstrap")
        .arg(&bootstrap)
        .args(["--format", "file", "--output"])
        .arg(target);
    run_bounded(&mut command)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn a_symlinked_output_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = write(dir.path(), "elsewhere", "untouched");
    let link = dir.path().join("out.env");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let run = write_output(dir.path(), &link);
    run.assert_failed(2);
    assert!(run.stderr.contains("symlink"), "{}", run.show());
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "untouched");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A target file that anyone may write is one that someone else may have prepared (or may
/// rewrite after fetch-env, if it were kept): refused with exit 2, left as it was.
#[test]
fn world_writable_output_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = write(dir.path(), "out.env", "previous");
    set_mode(&target, 0o666);
    let run = write_output(dir.path(), &target);
    let refused = run.code == Some(2) && run.stdout.is_empty();
    assert!(
        refused && run.stderr.contains("writable"),
        "a world-writable --output target must be refused (exit 2, a message saying it is writable by others)\n{}",
        run.show()
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "previous");
    assert_eq!(mode(&target), 0o666);
}

/// A directory that anyone may write without the sticky bit lets another user rename or
/// replace the file fetch-env just wrote: refused with exit 2, nothing created.
#[test]
fn world_writable_output_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    set_mode(&open, 0o777);
    let target = open.join("out.env");
    let run = write_output(dir.path(), &target);
    let refused = run.code == Some(2) && run.stdout.is_empty();
    assert!(
        refused && run.stderr.contains("writable"),
        "--output in a world-writable directory without the sticky bit must be refused (exit 2, a message naming the directory)\n{}",
        run.show()
    );
    assert_eq!(
        std::fs::read_dir(&open).unwrap().count(),
        0,
        "nothing may be created in the directory"
    );
}

/// With the sticky bit (`/tmp`'s 1777), only the owner may rename or remove the file: the
/// directory is safe to write into, and is accepted.
#[test]
fn a_sticky_world_writable_output_directory_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let sticky = dir.path().join("sticky");
    std::fs::create_dir(&sticky).unwrap();
    set_mode(&sticky, 0o1777);
    let target = sticky.join("out.env");
    write_output(dir.path(), &target).assert_ok();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "A='value'\n");
    assert_eq!(mode(&target), 0o600);
}

/// A bootstrap file with CRLF line ends (edited on Windows) is accepted, and no value keeps a
/// carriage return: plain, quoted, exported, commented and multi-line values alike.
#[test]
fn a_crlf_bootstrap_file_is_read_without_carriage_returns() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: s\nvariables:\n  - { name: PLAIN, source: local }\n  - { name: SINGLE, source: local }\n  - { name: DOUBLE, source: local }\n  - { name: EXPORTED, source: local }\n  - { name: COMMENTED, source: local }\n  - { name: MULTI, source: local }\n  - { name: LAST, source: local }\n",
    );
    let bootstrap = write(
        dir.path(),
        "b.env",
        "# written on Windows\r\n\r\nPLAIN=plain\r\nSINGLE='single quoted'\r\nDOUBLE=\"double \\\"quoted\\\"\"\r\nexport EXPORTED=exported\r\nCOMMENTED=value # a comment\r\nMULTI='line one\r\nline two'\r\nLAST=last\r\n",
    );
    let store = write(dir.path(), "store.yaml", "parameters: {}\n");
    let run = on_file_store(
        dir.path(),
        &manifest,
        &bootstrap,
        &store,
        &["--format", "json"],
    );
    run.assert_ok();
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "PLAIN": "plain",
            "SINGLE": "single quoted",
            "DOUBLE": "double \"quoted\"",
            "EXPORTED": "exported",
            "COMMENTED": "value",
            "MULTI": "line one\nline two",
            "LAST": "last",
        })
    );
    assert!(!run.stdout.contains(&b'\r'));
}

/// The finding: outside text reached the terminal unsanitized where a message builder forgot
/// to clean it (a compose service name, a key of a secret's JSON, a bundle name, the `arn_from`
/// value, "did you mean" drawn from a raw name). Every diagnostic is now cleaned where it is
/// printed; each of those places gets a terminal escape and must show it escaped.
#[test]
fn outside_text_reaches_the_terminal_only_sanitized() {
    // A terminal escape (ESC [2J clears the screen) as it is written in each input: YAML's and
    // JSON's escapes, a raw byte in the bootstrap file.
    const ESCAPE: &str = "\u{1b}[2J";
    const YAML_ESCAPE: &str = "\\e[2J";
    const JSON_ESCAPE: &str = "\\u001b[2J";
    let dir = tempfile::tempdir().unwrap();
    let run = |manifest: &str, bootstrap: &str, store: &str, args: &[&str]| {
        let manifest = write(dir.path(), "vars.yaml", manifest);
        let bootstrap = write(dir.path(), "b.env", bootstrap);
        let store = write(dir.path(), "store.yaml", store);
        on_file_store(dir.path(), &manifest, &bootstrap, &store, args)
    };
    let plain = "service: s\nvariables:\n  - { name: A }\n";
    let cases: Vec<(&str, Run)> = vec![
        ("a compose service name", {
            write(
                dir.path(),
                "compose.yaml",
                format!("services:\n  \"web{YAML_ESCAPE}\":\n    image: x\n"),
            );
            let compose = dir.path().join("compose.yaml");
            run(
                "service: s\nvariables:\n  - { name: A, containers: [web] }\n",
                "NAMESPACE=n\n",
                "parameters: {}\n",
                &["check", "--compose", compose.to_str().unwrap()],
            )
        }),
        (
            "a key of a secret's JSON",
            run(
                plain,
                "NAMESPACE=n\n",
                &format!("secrets:\n  n/s/secrets: '{{\"k{JSON_ESCAPE}\": null}}'\n"),
                &[],
            ),
        ),
        (
            "a bundle name",
            run(
                plain,
                "NAMESPACE=n\n",
                &format!("secrets:\n  \"n/s/b{YAML_ESCAPE}\": {{ A: a, UNDECLARED: u }}\n"),
                &["explain"],
            ),
        ),
        (
            "the arn_from value",
            run(
                "service: s\nvariables:\n  - { name: ARN, source: local }\n  - { name: P, required: true, secret: { arn_from: ARN, type: string } }\n",
                &format!("NAMESPACE=n\nARN='gone{ESCAPE}'\n"),
                "parameters: {}\n",
                &[],
            ),
        ),
        (
            "did you mean, drawn from a raw name",
            run(
                &format!(
                    "service: s\nvariables:\n  - name: A\n    \"requir{YAML_ESCAPE}ed\": true\n"
                ),
                "NAMESPACE=n\n",
                "parameters: {}\n",
                &[],
            ),
        ),
    ];
    for (what, run) in cases {
        assert!(
            run.stderr.contains("\\u{1b}[2J"),
            "{what}: the escape is shown escaped\n{}",
            run.show()
        );
        assert!(
            !run.stderr.contains('\u{1b}') && !run.stdout().contains('\u{1b}'),
            "{what}: a raw terminal escape reached the terminal\n{}",
            run.show()
        );
    }
}

/// A key twice in one secret's mapping of the store file: the parameters and the secrets
/// themselves report a duplicate with both places, but inside a secret written as a mapping
/// the later value silently wins, so which password is used depends on line order.
#[test]
fn duplicate_key_in_a_store_secret_mapping_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "vars.yaml",
        "service: s\nvariables:\n  - { name: K }\n",
    );
    let bootstrap = write(dir.path(), "b.env", "NAMESPACE=hostile\n");
    let store = write(
        dir.path(),
        "store.yaml",
        "secrets:\n  hostile/s/secrets:\n    K: first\n    K: second\n",
    );
    let run = on_file_store(dir.path(), &manifest, &bootstrap, &store, &[]);
    assert!(
        run.code == Some(2)
            && run.stderr.contains(&format!(
                "{}:4:5: error: duplicate key `K`",
                store.display()
            )),
        "expected exit 2 and `store.yaml:4:5: duplicate key `K` (first at line 3, column 5)`\n{}",
        run.show()
    );
    run.assert_failed(2);
}
