//! The bootstrap parser against bash, the reader it must agree with.
//!
//! The host's init script sources the same file with bash. So for every file fetch-env either
//! refuses it (exit 2, an error located at `PATH:LINE:`), or gives every variable the value
//! bash gives it, byte for byte; and a file bash cannot source cleanly (a syntax error, a
//! non-zero status, anything written to stderr or by a command to stdout) fetch-env must
//! refuse. The expectation always comes from bash run here, never from a list written down.
//!
//! The files: random ones from a grammar of lines (seeded, so a run repeats; a disagreement is
//! shrunk to the smallest file that shows it), every piece of that grammar in every position of
//! a one-line file, every input of the parser's unit tests
//! (`fetch-env-core/src/bootstrap/cases.rs`), and every bootstrap file of the trycmd cases and
//! of the examples.
//!
//! bash runs sealed: an empty environment but `PATH=/nonexistent`, `--norc --noprofile`, an
//! empty working directory (checked still empty after every run), stdin from /dev/null. A line
//! bash would run as a command finds nothing to run; the grammar never writes `>`, so no
//! redirection can create a file, and every command word it can spell is either not found or a
//! harmless builtin (`echo` inside `$(…)`, `:`, `export`, `readonly`, `.` with nothing to read).
//!
//! CRLF line ends are the one agreed exception: the contract (SPEC 2.1) accepts them and reads
//! them as LF, while bash would keep each carriage return in its value; bash is given the same
//! file with LF line ends. A carriage return anywhere else is refused.
//!
//! fetch-env omits a variable whose value is empty ("an empty string from any source is no
//! value"), so an empty value in bash and an unset one both compare equal to an absent one.

mod common;

#[allow(dead_code)]
#[path = "../../fetch-env-core/src/bootstrap/cases.rs"]
mod parser_cases;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use tempfile::TempDir;

/// The keys of the random files. None is a variable bash sets or treats specially itself.
const POOL: &[&str] = &["A", "B", "C_1", "_d", "lower"];

/// Random files per run. Each costs one bash and one fetch-env process.
const RANDOM_FILES: u32 = 1000;

#[test]
fn random_files_are_refused_or_read_as_bash_reads_them() {
    let oracle = Oracle::new();
    let manifest = oracle.manifest(POOL);
    let (agreed, refused) = (Cell::new(0u32), Cell::new(0u32));
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: RANDOM_FILES,
            failure_persistence: None,
            max_shrink_iters: 512,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x5e; 32]),
    );
    let result = runner.run(&file(), |text| {
        match oracle.compare(text.as_bytes(), &manifest, POOL) {
            Ok(Verdict::Agreed) => agreed.set(agreed.get() + 1),
            Ok(Verdict::Refused) => refused.set(refused.get() + 1),
            Err(disagreement) => return Err(TestCaseError::fail(disagreement)),
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("fetch-env and bash disagree (shrunk to the smallest such file): {failure}");
    }
    let (agreed, refused) = (agreed.get(), refused.get());
    eprintln!("{RANDOM_FILES} random files: {agreed} read alike, {refused} refused by fetch-env");
    // A parser that refused everything would pass the comparison; the grammar is weighted so
    // that a good share of the files is valid.
    assert!(
        agreed * 4 >= RANDOM_FILES,
        "only {agreed} of {RANDOM_FILES} random files were accepted: the grammar no longer \
         exercises agreement"
    );
}

/// Where the sweep puts each piece (`@` stands for it): bare and inside an unquoted value, after
/// `export`, in both quotes, in a comment line and a trailing comment, before another line.
const POSITIONS: &[&str] = &[
    "A=@\n",
    "A=x@y\n",
    "export A=x@y\n",
    "A='x@y'\n",
    "A=\"x@y\"\n",
    "export A=\"@\"\n",
    "# x@y\nA=1\n",
    "A=x #@\n",
    "A=@\nB=after\n",
];

#[test]
fn every_piece_in_every_position_is_refused_or_read_as_bash_reads_it() {
    let oracle = Oracle::new();
    let manifest = oracle.manifest(POOL);
    let mut pieces: Vec<&str> = Vec::new();
    for piece in [PLAIN, SPECIAL, IN_SINGLE_QUOTES, IN_DOUBLE_QUOTES].concat() {
        if !pieces.contains(&piece) {
            pieces.push(piece);
        }
    }
    let mut problems = Vec::new();
    let mut files = 0;
    for position in POSITIONS {
        for piece in &pieces {
            let text = position.replace('@', piece);
            files += 1;
            if let Err(disagreement) = oracle.compare(text.as_bytes(), &manifest, POOL) {
                problems.push(disagreement);
            }
        }
    }
    assert!(
        problems.is_empty(),
        "fetch-env and bash disagree on {} of {files} files:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn the_parsers_own_cases_are_refused_or_read_as_bash_reads_them() {
    let oracle = Oracle::new();
    let mut texts: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, case) in parser_cases::ACCEPTED.iter().enumerate() {
        texts.push((
            format!("cases::ACCEPTED[{i}]"),
            case.text.as_bytes().to_vec(),
        ));
    }
    for (i, case) in parser_cases::REFUSED.iter().enumerate() {
        texts.push((format!("cases::REFUSED[{i}]"), case.text.to_vec()));
    }
    let root = common::root();
    let mut files = Vec::new();
    for group in read_dir(&root.join("crates/fetch-env/tests/cmd")) {
        files.extend(env_files(&group.join("inputs")));
        files.extend(env_files(&group));
    }
    for example in read_dir(&root.join("examples")) {
        files.extend(env_files(&example));
    }
    assert!(
        files.len() >= 20,
        "expected the trycmd and example bootstrap files, found {files:?}"
    );
    for path in files {
        let text = std::fs::read(&path).expect("read a bootstrap file");
        texts.push((path.display().to_string(), text));
    }

    let mut problems = Vec::new();
    for (name, text) in &texts {
        let mut keys: Vec<String> = POOL.iter().map(|&k| k.to_owned()).collect();
        for key in assigned_keys(text) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let manifest = oracle.manifest(&keys);
        if let Err(disagreement) = oracle.compare(text, &manifest, &keys) {
            problems.push(format!("{name}: {disagreement}"));
        }
    }
    assert!(
        problems.is_empty(),
        "fetch-env and bash disagree on {} of {} files:\n\n{}",
        problems.len(),
        texts.len(),
        problems.join("\n\n")
    );
}

/// How a file was read when fetch-env and bash did not disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// fetch-env accepted it and every key has bash's value.
    Agreed,
    /// fetch-env refused it, located.
    Refused,
}

/// What bash made of a file.
enum BashReading {
    /// Sourced cleanly: each key's value, `None` when unset.
    Values(BTreeMap<String, Option<Vec<u8>>>),
    /// Why bash's reading does not count as clean.
    Failed(String),
}

/// bash, fetch-env and a scratch directory for the two to read files from.
struct Oracle {
    bash: PathBuf,
    scratch: TempDir,
    /// bash's working directory, kept empty.
    cwd: PathBuf,
    /// `--store file:…` with nothing in it: local variables need no store, and naming one keeps
    /// the AWS settings (checked when the AWS store opens) out of a test of the parser.
    empty_store: String,
    manifests: Cell<u32>,
}

impl Oracle {
    fn new() -> Self {
        let bash = common::require_tool("bash", "apt-get install bash");
        let scratch = tempfile::tempdir().expect("temporary directory");
        let cwd = scratch.path().join("cwd");
        std::fs::create_dir(&cwd).expect("create bash's working directory");
        let store = scratch.path().join("store.yaml");
        std::fs::write(&store, "parameters: {}\n").expect("write the empty store");
        let empty_store = format!("file:{}", store.display());
        Self {
            empty_store,
            bash,
            scratch,
            cwd,
            manifests: Cell::new(0),
        }
    }

    /// A manifest declaring every key as `source: local` (no store is ever opened).
    fn manifest(&self, keys: &[&str]) -> PathBuf {
        let n = self.manifests.get();
        self.manifests.set(n + 1);
        let mut text = String::from("service: svc\nvariables:\n");
        for key in keys {
            text.push_str(&format!("  - name: {key}\n    source: local\n"));
        }
        let path = self.scratch.path().join(format!("vars-{n}.yaml"));
        std::fs::write(&path, text).expect("write the manifest");
        path
    }

    /// Reads `text` with bash and with fetch-env and says how they compare.
    fn compare(&self, text: &[u8], manifest: &Path, keys: &[&str]) -> Result<Verdict, String> {
        let path = self.scratch.path().join("bootstrap.env");
        std::fs::write(&path, text).expect("write the bootstrap file");
        let fetch_env = common::fetch_env()
            .arg("--store")
            .arg(&self.empty_store)
            .arg("--manifest")
            .arg(manifest)
            .arg("--bootstrap")
            .arg(&path)
            .arg("--format")
            .arg("json")
            .output()
            .expect("run fetch-env");
        let stderr = String::from_utf8_lossy(&fetch_env.stderr);
        let shown = format!("file {:?}", String::from_utf8_lossy(text));

        if fetch_env.status.code() == Some(2) {
            return check_location(&stderr, &path, text, &fetch_env.stdout)
                .map(|()| Verdict::Refused)
                .map_err(|e| format!("{shown}: fetch-env refused it, but {e}"));
        }
        if !fetch_env.status.success() {
            return Err(format!(
                "{shown}: fetch-env exited with {} (expected 0 or 2): {stderr}",
                fetch_env.status
            ));
        }
        // Only a file fetch-env accepts needs bash's reading. CRLF line ends are accepted and
        // read as LF by contract (SPEC 2.1), where bash would keep each carriage return in its
        // value: bash reads the same file with LF line ends.
        let for_bash = self.scratch.path().join("bootstrap-lf.env");
        std::fs::write(&for_bash, crlf_as_lf(text)).expect("write the LF copy");
        let bash = match self.source(&for_bash, keys) {
            BashReading::Values(values) => values,
            BashReading::Failed(why) => {
                return Err(format!(
                    "{shown}: fetch-env accepted it, but bash does not source it cleanly: {why}"
                ));
            }
        };
        let json: BTreeMap<String, String> = serde_json::from_slice(&fetch_env.stdout)
            .map_err(|e| format!("{shown}: fetch-env's JSON does not parse: {e}"))?;
        let mut differences = Vec::new();
        for key in keys {
            let expected = bash[*key].as_deref().filter(|v| !v.is_empty());
            let actual = json.get(*key).map(String::as_bytes);
            if expected != actual {
                differences.push(format!(
                    "{key}: bash {}, fetch-env {}",
                    describe(bash[*key].as_deref()),
                    describe(actual)
                ));
            }
        }
        if differences.is_empty() {
            Ok(Verdict::Agreed)
        } else {
            Err(format!(
                "{shown}: fetch-env accepted it and reads it differently: {}",
                differences.join("; ")
            ))
        }
    }

    /// Sources `path` in sealed bash and reads back every key, NUL-separated (no value can
    /// hold a NUL). What the file itself writes to stdout goes to stderr, which must stay
    /// empty.
    fn source(&self, path: &Path, keys: &[&str]) -> BashReading {
        let mut script = String::from(". \"$1\" >&2; builtin printf '%s\\0' \"$?\"");
        for key in keys {
            script.push_str(&format!(" \"${{{key}+set}}\" \"${{{key}-}}\""));
        }
        let output = Command::new(&self.bash)
            .env_clear()
            .env("PATH", "/nonexistent")
            .current_dir(&self.cwd)
            .args(["--norc", "--noprofile", "-c", &script, "bash"])
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .expect("run bash");
        let left: Vec<_> = read_dir(&self.cwd);
        assert!(
            left.is_empty(),
            "bash left {left:?} in its working directory: the grammar must not write files"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() || !stderr.is_empty() {
            return BashReading::Failed(format!("exit {}, stderr {stderr:?}", output.status));
        }
        let mut fields = output.stdout.split(|&b| b == 0);
        let status = fields.next().unwrap_or_default();
        if status != b"0" {
            return BashReading::Failed(format!(
                "`.` returned {:?}",
                String::from_utf8_lossy(status)
            ));
        }
        let mut values = BTreeMap::new();
        for key in keys {
            let (Some(set), Some(value)) = (fields.next(), fields.next()) else {
                return BashReading::Failed("the file stopped the script".into());
            };
            values.insert((*key).to_owned(), (set == b"set").then(|| value.to_vec()));
        }
        BashReading::Values(values)
    }
}

/// A refusal must be exit 2 with nothing on stdout and an error located in the file:
/// `error: PATH:LINE: ` with LINE within the file.
/// `text` with every CRLF line end as LF.
fn crlf_as_lf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter().peekable();
    while let Some(&b) = bytes.next() {
        if b == b'\r' && bytes.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

fn check_location(stderr: &str, path: &Path, text: &[u8], stdout: &[u8]) -> Result<(), String> {
    if !stdout.is_empty() {
        return Err("it printed to stdout".into());
    }
    let prefix = format!("{}:", path.display());
    let line = stderr
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once(": error: "))
        .and_then(|(line, _)| line.parse::<u64>().ok())
        .ok_or_else(|| {
            format!("the error is not located as `{prefix}LINE: error: `: {stderr:?}")
        })?;
    let lines = 1 + text.iter().filter(|&&b| b == b'\n').count() as u64;
    if (1..=lines).contains(&line) {
        Ok(())
    } else {
        Err(format!(
            "line {line} is outside the file's {lines} lines: {stderr:?}"
        ))
    }
}

fn describe(value: Option<&[u8]>) -> String {
    match value {
        None => "unset".into(),
        Some(v) => format!("{:?}", String::from_utf8_lossy(v)),
    }
}

/// Keys a line assigns, roughly (`[export ]NAME=`): the variables to compare for a file of the
/// corpus. A key missed here is only a key not compared.
fn assigned_keys(text: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(text);
    let mut keys = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches([' ', '\t']);
        let line = line
            .strip_prefix("export")
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map_or(line, |rest| rest.trim_start_matches([' ', '\t']));
        if let Some((name, _)) = line.split_once('=')
            && fetch_env_core::EnvName::is_valid(name)
            && !keys.iter().any(|k| k == name)
        {
            keys.push(name.to_owned());
        }
    }
    keys
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .collect();
    paths.sort();
    paths
}

fn env_files(dir: &Path) -> Vec<PathBuf> {
    read_dir(dir)
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "env"))
        .collect()
}

// The grammar. Weighted towards files the parser should accept, with every construct bash reads
// in its own way mixed in.

/// Text that reads the same everywhere (outside a comment, `#` only after a blank).
const PLAIN: &[&str] = &[
    "plain",
    "x",
    "eu-central-1",
    "arn:aws:secretsmanager:eu-central-1:1:secret:rds!cluster-x",
    "https://proxy.internal:3128",
    "a=b",
    "=",
    "a#b",
    "é",
    "日本",
    "🙂",
    "\u{a0}",
    ",",
    ":",
    "@",
    "%",
    "^",
    "-",
    "+",
    ".",
    "/",
    "]",
    "}",
];

/// What bash treats specially somewhere: quotes, escapes, expansions, operators, blanks, line
/// breaks and carriage returns.
const SPECIAL: &[&str] = &[
    " ",
    "\t",
    " #",
    "# ",
    "#",
    "'",
    "\"",
    "\\",
    "\\\"",
    "\\\\",
    "\\$",
    "\\`",
    "\\n",
    "\\t",
    "\\a",
    "\\'",
    "\\ ",
    "\\é",
    "\\\n",
    "\n",
    "\r",
    // Control characters; bash quotes internally with \x01 and \x7f.
    "\u{1}",
    "\u{7f}",
    "\u{b}",
    "\u{c}",
    "\u{1b}",
    "\u{feff}",
    "$",
    "$X",
    "${X}",
    "${X-d}",
    "$1",
    "$?",
    "$$",
    "$@",
    "$_",
    "$(echo sub)",
    "$((2))",
    "$[1+1]",
    "$'q'",
    "$\"q\"",
    "`echo tick`",
    "~",
    ":~",
    "*",
    "?",
    "[a]",
    "{a,b}",
    "{1..2}",
    "{}",
    "{",
    "!",
    ";",
    "|",
    "&",
    "<",
    "(",
    ")",
];

/// Inside single quotes everything but `'` is literal.
const IN_SINGLE_QUOTES: &[&str] = &[
    " ",
    "\t",
    "#",
    "\"",
    "\\",
    "\\n",
    "$X",
    "${X}",
    "$(echo sub)",
    "`echo tick`",
    "\n",
    "~",
    "*",
    "{a,b}",
];

/// Inside double quotes these read the same in bash and in the parser.
const IN_DOUBLE_QUOTES: &[&str] = &[
    " ", "\t", "#", " # ", "'", "\\\"", "\\\\", "\\$", "\\`", "\n", "$ ", "~", "*", "{a,b}",
];

/// Up to four pieces from `PLAIN` and from the pieces `context` reads the same in bash and in
/// the parser; in a `wild` line one of them from `SPECIAL`, so that a line holds one hazard and
/// the rest of the file is likely to be accepted.
fn pieces(context: &'static [&'static str], wild: bool) -> impl Strategy<Value = String> {
    let careful = prop_oneof![
        3 => prop::sample::select(PLAIN),
        1 => prop::sample::select(context),
    ];
    (
        prop::collection::vec(careful, 0..=3),
        prop::sample::select(SPECIAL),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(mut pieces, special, at)| {
            if wild {
                pieces.insert(at.index(pieces.len() + 1), special);
            }
            pieces.concat()
        })
}

/// A quoted value; one quote in ten in a wild line is never closed.
fn quoted(
    quote: char,
    inside: &'static [&'static str],
    wild: bool,
) -> impl Strategy<Value = String> {
    let closed = if wild { 0.9 } else { 1.0 };
    (pieces(inside, wild), prop::bool::weighted(closed)).prop_map(move |(body, closed)| {
        let mut text = format!("{quote}{body}");
        if closed {
            text.push(quote);
        }
        text
    })
}

fn value(wild: bool) -> impl Strategy<Value = String> {
    let single = move || quoted('\'', IN_SINGLE_QUOTES, wild);
    let double = move || quoted('"', IN_DOUBLE_QUOTES, wild);
    let unquoted = move || pieces(PLAIN, wild);
    if wild {
        prop_oneof![
            4 => unquoted(),
            3 => single(),
            3 => double(),
            // A quoted value with text joined to it.
            1 => (prop_oneof![single(), double()], pieces(PLAIN, false)).prop_map(|(a, b)| a + &b),
        ]
        .boxed()
    } else {
        prop_oneof![4 => unquoted(), 3 => single(), 3 => double()].boxed()
    }
}

/// Where an assignment line holds its one hazard, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hazard {
    None,
    InValue,
    AtEquals,
    AfterValue,
}

/// `[export ]KEY=value`, with blanks and a trailing comment, and at most one hazard: a special
/// piece in the value, a blank around `=`, or more text after the value.
fn assignment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(Hazard::None),
        4 => Just(Hazard::InValue),
        1 => Just(Hazard::AtEquals),
        1 => Just(Hazard::AfterValue),
    ]
    .prop_flat_map(|hazard| {
        let equals: &'static [&'static str] = if hazard == Hazard::AtEquals {
            &[" =", "= ", " = ", "\t="]
        } else {
            &["="]
        };
        let trailers: &'static [&'static str] = if hazard == Hazard::AfterValue {
            &[
                "#x",
                " x",
                " B=2",
                "\\",
                " \\",
                "\t# it's \"quoted\" $(x) \\",
                "; B=2",
            ]
        } else {
            &["", "", "", " ", "\t", "  ", " # comment", " #", "\t#"]
        };
        (
            prop::sample::select(&["", "", "", "", " ", "\t", "  "][..]),
            prop::sample::select(&["", "", "", "export ", "export\t", "export  "][..]),
            prop::sample::select(POOL),
            prop::sample::select(equals),
            value(hazard == Hazard::InValue),
            prop::sample::select(trailers),
        )
            .prop_map(|(lead, export, key, equals, value, trail)| {
                format!("{lead}{export}{key}{equals}{value}{trail}")
            })
    })
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        16 => assignment(),
        2 => prop::sample::select(&["", " ", "\t", "  \t"][..]).prop_map(str::to_owned),
        2 => (prop::sample::select(&["", " ", "\t"][..]), pieces(SPECIAL, true))
            .prop_map(|(lead, body)| format!("{lead}#{body}")),
        1 => prop::sample::select(
            &[
                "just text", "export", "export A", "A", "A = b", "A =b", "1A=x", "A-B=x",
                "É=x", "=x", "A+=x", "A[0]=x", "export -n A", "A=1 :", "{A,B}=x",
                "\u{feff}A=x", "readonly A=x", "A=x\u{0}",
            ][..],
        )
        .prop_map(str::to_owned),
    ]
}

/// A file of up to 7 lines: ended by LF, or in a fifth of the files some of them by CRLF; the
/// last line sometimes without a line end.
fn file() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((line(), any::<bool>()), 0..8),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(lines, crlf, last_ended)| {
            let mut text = String::new();
            let count = lines.len();
            for (i, (line, cr)) in lines.into_iter().enumerate() {
                text.push_str(&line);
                if i + 1 < count || last_ended {
                    text.push_str(if crlf && cr { "\r\n" } else { "\n" });
                }
            }
            text
        })
}
