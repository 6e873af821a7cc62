//! One resolution suite, two backends. Every case under `tests/backends/` runs against the file
//! store and against moto's server seeded from the same store file, and both must give the same
//! exit code, the same stdout and the same stderr. The only difference allowed is the random
//! suffix the server appends to a secret's ARN, which is mapped back to the store file's ARN
//! before comparing, and, in `explain`'s report, the store it names (see [`normalise_aws`]).
//!
//! A case folder holds `vars.yaml`, `bootstrap.env`, `store.yaml` and `case.json`:
//!
//! ```json
//! {
//!   "about": "what the case shows",
//!   "example": "aurora-reader",                  // optional: take the files from examples/NAME
//!   "rename": [["voiceai/dev", "t2b/x"]],        // optional: text replaced in every file
//!   "runs": [
//!     { "args": ["--ssm-lookup", "by-name", "explain"], "exit": 0,
//!       "stdout_has": ["…"], "stdout_lacks": ["…"], "stderr_has": ["…"],
//!       "stderr_lacks": ["…"], "stderr_is_empty": true }
//!   ]
//! }
//! ```
//!
//! JSON because it is what this crate can already read; no comment syntax, hence `about`.
//! Every case uses its own NAMESPACE and its own secret names, because all of them share one
//! moto server (seed.py refuses two stores holding the same name). fetch-env runs in the case
//! folder with relative paths, so the file names in its messages are the same on both backends.
//!
//! Besides the suite: a rotation picked up by the next resolve, and the exact number of requests
//! a 100-variable service costs, counted by a proxy in front of moto and by fetch-env itself.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::fault_proxy::FaultProxy;
use common::moto::{Moto, moto};
use common::run::REGION;
use common::{FetchEnv, root};
use serde_json::Value;

/// How the file store describes itself in `explain`, with the relative path every run uses.
const FILE_STORE_DESCRIPTION: &str = "file:store.yaml";

// ---------------------------------------------------------------------------------------------
// Cases

/// One case, instantiated: the files each backend runs on, and what to run.
struct Case {
    name: String,
    /// Everything the file store run needs, store.yaml included, renames applied.
    file_dir: PathBuf,
    /// The same files for the AWS run, the bootstrap file's ARNs replaced by the server's,
    /// without store.yaml.
    aws_dir: PathBuf,
    /// The server's ARN -> the store file's ARN.
    arns_back: Vec<(String, String)>,
    runs: Vec<Run>,
}

/// One invocation of a case and what its outcome must hold.
#[derive(Debug, Default)]
struct Run {
    args: Vec<String>,
    exit: i32,
    stdout_has: Vec<String>,
    stdout_lacks: Vec<String>,
    stderr_has: Vec<String>,
    stderr_lacks: Vec<String>,
    stderr_is_empty: bool,
}

/// A case.json, read strictly: an unknown field is a typo that would silently test nothing.
struct Spec {
    example: Option<String>,
    rename: Vec<(String, String)>,
    runs: Vec<Run>,
}

fn strings(value: &Value, what: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} must be a list of strings"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{what} must be a list of strings"))
                .to_owned()
        })
        .collect()
}

fn read_spec(path: &Path) -> Spec {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let object = json.as_object().expect("case.json holds an object");
    assert!(
        object.get("about").is_some_and(Value::is_string),
        "{}: `about` says what the case shows",
        path.display()
    );
    let mut spec = Spec {
        example: None,
        rename: Vec::new(),
        runs: Vec::new(),
    };
    for (key, value) in object {
        let what = format!("{}: {key}", path.display());
        match key.as_str() {
            "about" => {}
            "example" => spec.example = Some(value.as_str().expect("example is a name").to_owned()),
            "rename" => {
                spec.rename = value
                    .as_array()
                    .unwrap_or_else(|| panic!("{what} must be a list of [from, to] pairs"))
                    .iter()
                    .map(|pair| match strings(pair, &what).as_slice() {
                        [from, to] => (from.clone(), to.clone()),
                        _ => panic!("{what}: each entry is [from, to]"),
                    })
                    .collect();
            }
            "runs" => {
                for run in value
                    .as_array()
                    .unwrap_or_else(|| panic!("{what} must be a list"))
                {
                    spec.runs.push(read_run(run, &what));
                }
            }
            _ => panic!("{what}: unknown field"),
        }
    }
    assert!(!spec.runs.is_empty(), "{}: no runs", path.display());
    spec
}

fn read_run(value: &Value, what: &str) -> Run {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{what}: a run is an object"));
    let mut run = Run {
        exit: -1,
        ..Run::default()
    };
    for (key, value) in object {
        let what = format!("{what}: {key}");
        match key.as_str() {
            "args" => run.args = strings(value, &what),
            "exit" => {
                run.exit = value
                    .as_i64()
                    .unwrap_or_else(|| panic!("{what} is a number"))
                    as i32
            }
            "stdout_has" => run.stdout_has = strings(value, &what),
            "stdout_lacks" => run.stdout_lacks = strings(value, &what),
            "stderr_has" => run.stderr_has = strings(value, &what),
            "stderr_lacks" => run.stderr_lacks = strings(value, &what),
            "stderr_is_empty" => {
                run.stderr_is_empty = value
                    .as_bool()
                    .unwrap_or_else(|| panic!("{what} is a boolean"))
            }
            _ => panic!("{what}: unknown field"),
        }
    }
    assert!(run.exit >= 0, "{what}: every run states its exit code");
    run
}

/// Copies every file of `source` but case.json into `into`, each `(from, to)` of `rename`
/// replaced in its text.
fn instantiate(source: &Path, rename: &[(String, String)], into: &Path) {
    std::fs::create_dir_all(into).expect("create the case folder");
    for entry in std::fs::read_dir(source).expect("read the case folder") {
        let path = entry.expect("a folder entry").path();
        let name = path.file_name().expect("a file name");
        if name == "case.json" || !path.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = rename
            .iter()
            .fold(text, |t, (from, to)| t.replace(from, to));
        std::fs::write(into.join(name), text).expect("write a case file");
    }
}

/// The AWS run's copy of a case: every file but store.yaml, the bootstrap file's ARNs replaced
/// by those the server assigned.
fn aws_copy(file_dir: &Path, arns: &HashMap<String, String>, into: &Path) {
    std::fs::create_dir_all(into).expect("create the AWS case folder");
    for entry in std::fs::read_dir(file_dir).expect("read the case folder") {
        let path = entry.expect("a folder entry").path();
        let name = path.file_name().expect("a file name");
        if name == "store.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a case file");
        let text = if name == "bootstrap.env" {
            arns.iter()
                .fold(text, |t, (file, server)| t.replace(file, server))
        } else {
            text
        };
        std::fs::write(into.join(name), text).expect("write a case file");
    }
}

fn arns_back(arns: &HashMap<String, String>) -> Vec<(String, String)> {
    arns.iter()
        .map(|(file, server)| (server.clone(), file.clone()))
        .collect()
}

/// Reads every case folder, instantiates it under `work` and seeds all stores at once.
fn load_cases(moto: &Moto, work: &Path) -> Vec<Case> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/backends");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .expect("tests/backends")
        .map(|e| {
            e.expect("a folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut specs = Vec::new();
    for name in &names {
        let spec = read_spec(&folder.join(name).join("case.json"));
        let source = match &spec.example {
            Some(example) => root().join("examples").join(example),
            None => folder.join(name),
        };
        let file_dir = work.join("file").join(name);
        instantiate(&source, &spec.rename, &file_dir);
        for file in ["vars.yaml", "bootstrap.env", "store.yaml"] {
            assert!(file_dir.join(file).is_file(), "case {name} has no {file}");
        }
        specs.push((name.clone(), file_dir, spec));
    }

    // Cases share the server: each needs a NAMESPACE of its own (secret names are checked by
    // seed.py, which refuses a name two stores hold).
    let mut namespaces: BTreeMap<String, String> = BTreeMap::new();
    for (name, dir, _) in &specs {
        let bootstrap = std::fs::read_to_string(dir.join("bootstrap.env")).expect("bootstrap");
        let namespace = bootstrap
            .lines()
            .find_map(|l| l.strip_prefix("NAMESPACE="))
            .unwrap_or_else(|| panic!("case {name}: bootstrap.env sets no NAMESPACE"))
            .to_owned();
        if let Some(other) = namespaces.insert(namespace.clone(), name.clone()) {
            panic!("cases {other} and {name} share NAMESPACE={namespace}");
        }
    }

    let stores: Vec<PathBuf> = specs
        .iter()
        .map(|(_, dir, _)| dir.join("store.yaml"))
        .collect();
    let mut seeded = moto.seed_many(&stores);
    specs
        .into_iter()
        .map(|(name, file_dir, spec)| {
            let arns = seeded.remove(&file_dir.join("store.yaml")).expect("seeded");
            let aws_dir = work.join("aws").join(&name);
            aws_copy(&file_dir, &arns, &aws_dir);
            Case {
                name,
                file_dir,
                aws_dir,
                arns_back: arns_back(&arns),
                runs: spec.runs,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running fetch-env

#[derive(Clone, Copy)]
enum Backend<'a> {
    File,
    /// `AWS_ENDPOINT_URL`: moto, or the counting proxy in front of it.
    Aws(&'a str),
}

/// fetch-env in `dir` with its manifest and bootstrap file, on `backend`. Test credentials and a
/// disabled instance metadata client on both backends, so nothing ever leaves loopback.
fn command(dir: &Path, backend: Backend<'_>, args: &[String]) -> Command {
    let mut command = FetchEnv::new()
        .with_test_credentials()
        .env("AWS_REGION", REGION)
        .current_dir(dir)
        .command();
    command.args([
        "--manifest",
        "vars.yaml",
        "--bootstrap",
        "bootstrap.env",
        "--store",
    ]);
    match backend {
        // Relative to `dir`, as the manifest and the bootstrap file are.
        Backend::File => {
            command.arg(FILE_STORE_DESCRIPTION);
        }
        Backend::Aws(endpoint) => {
            command.arg("aws").env("AWS_ENDPOINT_URL", endpoint);
        }
    }
    command.args(args);
    command
}

/// Exit code, stdout and stderr of one run, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    exit: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Self {
        Outcome {
            exit: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }
}

/// Starts both commands, then waits for both.
fn run_both(mut file: Command, mut aws: Command) -> (Outcome, Outcome) {
    let spawn = |c: &mut Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start fetch-env")
    };
    let (file, aws) = (spawn(&mut file), spawn(&mut aws));
    let file = file.wait_with_output().expect("wait for fetch-env");
    let aws = aws.wait_with_output().expect("wait for fetch-env");
    (file.into(), aws.into())
}

/// The AWS run's text as the file store run would print it:
///
/// - the server's ARNs (random suffix) become the store file's ARNs;
/// - in `explain`'s header line (`manifest … (service …), store DESCRIPTION, namespace …`), the
///   AWS store's description becomes the file store's;
/// - the `requests and timings:` block that `explain` appends for the AWS store (requests per
///   operation and milliseconds per phase; the file store reports none) is removed. That block
///   is a second backend-specific difference in `explain` beyond the header; only lines of the
///   statistics' shape right after an explain table are removed, so nothing else can hide in it.
fn normalise_aws(text: &str, arns_back: &[(String, String)], endpoint: &str) -> String {
    let text = arns_back
        .iter()
        .fold(text.to_owned(), |t, (server, file)| t.replace(server, file));
    let aws_description = format!(", store aws:{REGION} via {endpoint}");
    let file_description = format!(", store {FILE_STORE_DESCRIPTION}");
    let mut out: Vec<String> = Vec::new();
    let mut in_report = false;
    let mut in_statistics = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with("manifest ") && line.contains(&aws_description) {
            in_report = true;
            out.push(line.replacen(&aws_description, &file_description, 1));
            continue;
        }
        if in_report && line == "requests and timings:\n" && out.last().is_some_and(|l| l == "\n") {
            out.pop();
            in_statistics = true;
            continue;
        }
        if in_statistics {
            // Anything else ends the block and stays, to show up in the comparison.
            if line
                .strip_prefix("  ")
                .is_some_and(|entry| is_statistics_line(entry.trim_end()))
            {
                continue;
            }
            in_statistics = false;
            in_report = false;
        }
        out.push(line.to_owned());
    }
    out.concat()
}

/// `Operation: N calls, M requests` or `phase: N ms`.
fn is_statistics_line(line: &str) -> bool {
    let Some((name, rest)) = line.rsplit_once(": ") else {
        return false;
    };
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let counts = rest
        .split_once(" calls, ")
        .and_then(|(calls, requests)| Some((calls, requests.strip_suffix(" requests")?)))
        .is_some_and(|(c, r)| number(c) && number(r));
    let millis = rest.strip_suffix(" ms").is_some_and(number);
    !name.is_empty() && (counts || millis)
}

/// Every way `run`'s outcomes differ from each other or from what the case expects.
fn check_run(run: &Run, file: &Outcome, aws: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    if file != aws {
        problems.push(format!(
            "the backends differ:\n--- file store: exit {}\nstdout:\n{}\nstderr:\n{}\n--- moto (normalised): exit {}\nstdout:\n{}\nstderr:\n{}",
            file.exit, file.stdout, file.stderr, aws.exit, aws.stdout, aws.stderr
        ));
    }
    for (backend, outcome) in [("file store", file), ("moto", aws)] {
        let mut fail = |what: String| {
            problems.push(format!(
                "{backend}: {what}\nexit {}\nstdout:\n{}\nstderr:\n{}",
                outcome.exit, outcome.stdout, outcome.stderr
            ))
        };
        if outcome.exit != run.exit {
            fail(format!("exit code {}, expected {}", outcome.exit, run.exit));
        }
        if outcome.exit != 0 && !outcome.stdout.is_empty() {
            fail("stdout is not empty although the run failed".into());
        }
        if run.stderr_is_empty && !outcome.stderr.is_empty() {
            fail("stderr is not empty".into());
        }
        for needle in &run.stdout_has {
            if !outcome.stdout.contains(needle.as_str()) {
                fail(format!("stdout lacks {needle:?}"));
            }
        }
        for needle in &run.stdout_lacks {
            if outcome.stdout.contains(needle.as_str()) {
                fail(format!("stdout holds {needle:?}"));
            }
        }
        for needle in &run.stderr_has {
            if !outcome.stderr.contains(needle.as_str()) {
                fail(format!("stderr lacks {needle:?}"));
            }
        }
        for needle in &run.stderr_lacks {
            if outcome.stderr.contains(needle.as_str()) {
                fail(format!("stderr holds {needle:?}"));
            }
        }
        if outcome.stdout.contains("requests and timings:")
            || outcome.stderr.contains("requests and timings:")
        {
            fail("a `requests and timings:` block is left (the file store reports none)".into());
        }
    }
    problems
}

fn run_case(case: &Case, endpoint: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for run in &case.runs {
        let (file, mut aws) = run_both(
            command(&case.file_dir, Backend::File, &run.args),
            command(&case.aws_dir, Backend::Aws(endpoint), &run.args),
        );
        aws.stdout = normalise_aws(&aws.stdout, &case.arns_back, endpoint);
        aws.stderr = normalise_aws(&aws.stderr, &case.arns_back, endpoint);
        for problem in check_run(run, &file, &aws) {
            problems.push(format!(
                "case {} `fetch-env {}`: {problem}",
                case.name,
                run.args.join(" ")
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------
// The suite

#[test]
fn every_case_resolves_alike_on_the_file_store_and_on_moto() {
    let moto = moto();
    let work = tempfile::tempdir().expect("a temporary folder");
    let cases = load_cases(moto, work.path());
    assert!(cases.len() >= 20, "only {} cases found", cases.len());
    let problems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| scope.spawn(|| run_case(case, &moto.endpoint)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a case thread"))
            .collect()
    });
    assert!(
        problems.is_empty(),
        "{} problem(s):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Rotation

/// examples/api under its own namespace and secret name, seeded; returns (file dir, AWS dir,
/// server ARN, ARNs back).
fn rotation_service(moto: &Moto, work: &Path) -> (PathBuf, PathBuf, String, Vec<(String, String)>) {
    let rename = [
        ("voiceai/dev".to_owned(), "t2b-rotation/dev".to_owned()),
        (
            ":secret:rds!".to_owned(),
            ":secret:t2b-rotation-rds!".to_owned(),
        ),
    ];
    let file_dir = work.join("file");
    instantiate(&root().join("examples/api"), &rename, &file_dir);
    let store = file_dir.join("store.yaml");
    let arns = moto
        .seed_many(std::slice::from_ref(&store))
        .remove(&store)
        .expect("seeded");
    assert_eq!(arns.len(), 1, "examples/api holds one secret by ARN");
    let server_arn = arns.values().next().expect("one ARN").clone();
    let aws_dir = work.join("aws");
    aws_copy(&file_dir, &arns, &aws_dir);
    (file_dir, aws_dir, server_arn, arns_back(&arns))
}

fn database_url(stdout: &str) -> &str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("export DATABASE_URL='"))
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no DATABASE_URL in\n{stdout}"))
}

#[test]
fn a_rotated_password_is_in_the_next_resolve_on_both_backends() {
    let moto = moto();
    let work = tempfile::tempdir().expect("a temporary folder");
    let (file_dir, aws_dir, server_arn, back) = rotation_service(moto, work.path());
    let host = "api-dev.cluster-c1a2b3c4d5e6.eu-central-1.rds.amazonaws.com";

    let resolve = || {
        let (file, mut aws) = run_both(
            command(&file_dir, Backend::File, &[]),
            command(&aws_dir, Backend::Aws(&moto.endpoint), &[]),
        );
        aws.stdout = normalise_aws(&aws.stdout, &back, &moto.endpoint);
        aws.stderr = normalise_aws(&aws.stderr, &back, &moto.endpoint);
        assert_eq!(file.exit, 0, "file store:\n{}", file.stderr);
        assert_eq!(aws.exit, 0, "moto:\n{}", aws.stderr);
        assert_eq!(file, aws, "the backends differ");
        file.stdout
    };

    let before = resolve();
    assert_eq!(
        database_url(&before),
        format!(
            "postgresql://postgres_admin:p%40ss%3Aw%2Frd%3F%23%5B%5D%26%3D%2B%25%20%27Z%C3%BCrich%2242@{host}:5432/telapi"
        )
    );

    // What the rotation does: a new version of the same secret, same keys, a new password.
    let rotated = "n3w:r0t@ted/p&ss=% ü#";
    let secret = serde_json::json!({
        "dbClusterIdentifier": "api-dev",
        "engine": "postgres",
        "password": rotated,
        "port": 5432,
        "username": "postgres_admin",
    });
    moto.put_secret(&server_arn, &secret.to_string());
    let store = file_dir.join("store.yaml");
    let text = std::fs::read_to_string(&store).expect("store.yaml");
    let old_line = r#"    password: "p@ss:w/rd?#[]&=+% 'Zürich\"42""#;
    assert!(
        text.contains(old_line),
        "examples/api/store.yaml changed its password line"
    );
    std::fs::write(
        &store,
        text.replace(old_line, &format!("    password: \"{rotated}\"")),
    )
    .expect("rewrite store.yaml");

    let after = resolve();
    assert_eq!(
        database_url(&after),
        format!(
            "postgresql://postgres_admin:n3w%3Ar0t%40ted%2Fp%26ss%3D%25%20%C3%BC%23@{host}:5432/telapi"
        )
    );
    assert!(
        after.contains(&format!("export DATABASE_PASSWORD='{rotated}'")),
        "{after}"
    );
}

// ---------------------------------------------------------------------------------------------
// Requests

/// The generated service of the request-count test.
struct BigService {
    /// SSM parameters, all declared, every third a SecureString.
    parameters: usize,
    /// Variables that are not `source: local` (what by-name lookup asks SSM for).
    remote_names: usize,
    variables: usize,
}

/// Writes a 100-variable service into `dir`: 2 `source: local` ARN variables, 10 variables from
/// the 2 `arn_from` secrets (5 each), 18 keys from 3 bundles under the prefix (6 each) and 70 SSM
/// parameters.
fn write_big_service(dir: &Path) -> BigService {
    const NS: &str = "t2b-requests/prod";
    const SERVICE: &str = "big";
    let db_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:t2b-requests-rds!cluster-big-Db0001";
    let cache_arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:t2b-requests/elasticache/big-user-Ca0002";
    std::fs::create_dir_all(dir).expect("create the service folder");
    let mut vars = format!("service: {SERVICE}\nvariables:\n");
    let mut store = String::from("parameters:\n");
    vars.push_str("  - name: DB_SECRET_ARN\n    source: local\n    required: true\n");
    vars.push_str("  - name: CACHE_SECRET_ARN\n    source: local\n    required: true\n");
    let mut variables = 2;
    let mut remote_names = 0;
    for (prefix, from) in [("DB", "DB_SECRET_ARN"), ("CACHE", "CACHE_SECRET_ARN")] {
        for key in ["username", "password", "host", "port", "name"] {
            vars.push_str(&format!(
                "  - name: {prefix}_{}\n    required: true\n    secret: {{ arn_from: {from}, type: json, key: {key} }}\n",
                key.to_uppercase()
            ));
            variables += 1;
            remote_names += 1;
        }
    }
    let parameters = 70;
    for i in 0..parameters {
        vars.push_str(&format!("  - name: SETTING_{i:03}\n    required: true\n"));
        let path = format!("/{NS}/{SERVICE}/SETTING_{i:03}");
        if i % 3 == 0 {
            store.push_str(&format!(
                "  {path}: {{ value: secure-{i:03}, type: SecureString }}\n"
            ));
        } else {
            store.push_str(&format!("  {path}: plain-{i:03}\n"));
        }
        variables += 1;
        remote_names += 1;
    }
    store.push_str("secrets:\n");
    for bundle in ["a-core", "b-features", "secrets"] {
        store.push_str(&format!("  {NS}/{SERVICE}/{bundle}:\n"));
        for k in 0..6 {
            let name = format!("{}_{k}", bundle.replace('-', "_").to_uppercase());
            vars.push_str(&format!("  - name: {name}\n    required: true\n"));
            store.push_str(&format!("    {name}: {bundle}-value-{k}\n"));
            variables += 1;
            remote_names += 1;
        }
    }
    for (arn, user) in [(db_arn, "db_user"), (cache_arn, "cache-user")] {
        store.push_str(&format!(
            "  \"{arn}\":\n    username: {user}\n    password: \"p@ss/{user}\"\n    host: {user}.internal\n    port: 5432\n    name: {user}db\n"
        ));
    }
    std::fs::write(dir.join("vars.yaml"), vars).expect("write vars.yaml");
    std::fs::write(dir.join("store.yaml"), store).expect("write store.yaml");
    std::fs::write(
        dir.join("bootstrap.env"),
        format!("NAMESPACE={NS}\nAWS_REGION={REGION}\nDB_SECRET_ARN={db_arn}\nCACHE_SECRET_ARN={cache_arn}\n"),
    )
    .expect("write bootstrap.env");
    assert_eq!(variables, 100);
    BigService {
        parameters,
        remote_names,
        variables,
    }
}

/// `fetch-env: Operation: N calls, M requests` lines of `--verbose`, as operation -> (N, M);
/// the phase timings (`fetch-env: ssm: 12 ms`) are left out.
fn reported_counts(stderr: &str) -> BTreeMap<String, (usize, usize)> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("fetch-env: "))
        .filter_map(|l| {
            let (operation, rest) = l.split_once(": ")?;
            let (calls, requests) = rest.split_once(" calls, ")?;
            let requests = requests.strip_suffix(" requests")?;
            Some((
                operation.to_owned(),
                (calls.parse().ok()?, requests.parse().ok()?),
            ))
        })
        .collect()
}

#[test]
fn a_100_variable_service_costs_the_minimal_number_of_requests() {
    let moto = moto();
    let work = tempfile::tempdir().expect("a temporary folder");
    let file_dir = work.path().join("file");
    let service = write_big_service(&file_dir);
    let store = file_dir.join("store.yaml");
    let arns = moto
        .seed_many(std::slice::from_ref(&store))
        .remove(&store)
        .expect("seeded");
    assert_eq!(arns.len(), 2);
    let aws_dir = work.path().join("aws");
    aws_copy(&file_dir, &arns, &aws_dir);
    let back = arns_back(&arns);
    let proxy = FaultProxy::start(moto.port);

    // moto answers a full page of GetParametersByPath with a NextToken even when nothing
    // follows, so a listing costs params/10 + 1 pages (integer division): with 70 parameters
    // the 8th page is empty (ceil(70/10) + 1), with 73 the 8th holds the last 3 (ceil(73/10)).
    // Checked against moto 5.2.5 with both counts. fetch-env cannot know that a full page is
    // the last one without asking for the next.
    let by_path_pages = service.parameters / 10 + 1;
    // GetParameters takes at most 10 names; by name, every remote variable is asked for, since
    // fetch-env cannot know which of them live in Secrets Manager instead.
    let by_name_calls = service.remote_names.div_ceil(10);
    assert_eq!((by_path_pages, by_name_calls), (8, 10));

    let mut verbose = Vec::new();
    for (strategy, ssm_operation, ssm_requests) in [
        ("by-path", "GetParametersByPath", by_path_pages),
        ("by-name", "GetParameters", by_name_calls),
    ] {
        let args = [
            "--ssm-lookup".to_owned(),
            strategy.to_owned(),
            "--verbose".to_owned(),
        ];
        proxy.reset();
        let aws: Outcome = command(&aws_dir, Backend::Aws(&proxy.endpoint), &args)
            .output()
            .expect("run fetch-env")
            .into();
        assert_eq!(aws.exit, 0, "{strategy}: {}", aws.stderr);
        let expected: BTreeMap<String, usize> = [
            (format!("AmazonSSM.{ssm_operation}"), ssm_requests),
            // One page of up to 20 secrets holds the 3 bundles, values included.
            ("secretsmanager.BatchGetSecretValue".to_owned(), 1),
            // One per distinct arn_from secret, however many variables use it (5 each).
            ("secretsmanager.GetSecretValue".to_owned(), 2),
        ]
        .into();
        assert_eq!(
            proxy.operations(),
            expected,
            "{strategy}: requests the server saw"
        );

        // The same values as on the file store.
        let file: Outcome = command(&file_dir, Backend::File, &args[..2])
            .output()
            .expect("run fetch-env")
            .into();
        assert_eq!(file.exit, 0, "{}", file.stderr);
        assert_eq!(
            normalise_aws(&aws.stdout, &back, &proxy.endpoint),
            file.stdout,
            "{strategy}"
        );
        assert_eq!(file.stdout.lines().count(), service.variables);

        verbose.push((strategy, reported_counts(&aws.stderr), expected, aws.stderr));
    }

    // What fetch-env reports of itself must be what the server saw: per operation, as many
    // operations started as requests sent (no retries against a healthy server), and no
    // operation the server did not see. Checked after both strategies' request counts.
    for (strategy, reported, expected, stderr) in verbose {
        let seen: BTreeMap<String, (usize, usize)> = expected
            .iter()
            .map(|(target, n)| {
                let operation = target.split_once('.').expect("Service.Operation").1;
                (operation.to_owned(), (*n, *n))
            })
            .collect();
        assert_eq!(
            reported, seen,
            "{strategy}: `--verbose` reports (operation -> (calls, requests)) other counts than the server saw; stderr:\n{stderr}"
        );
    }
}
