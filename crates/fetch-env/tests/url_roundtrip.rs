//! The composed `DATABASE_URL` of the api example decodes to exactly the secret's username and
//! password through real parsers: Python's `urllib.parse`, node's `pg-connection-string`, and
//! libpq itself (psql logging in to a PostgreSQL server this test starts).

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tempfile::TempDir;

use common::run::yaml_single_quoted;

/// The master secret of `examples/api/store.yaml`, written out again so that a change to the
/// example cannot make the round trip pass by changing both sides.
const EXAMPLE_USERNAME: &str = "postgres_admin";
const EXAMPLE_PASSWORD: &str = "p@ss:w/rd?#[]&=+% 'Zürich\"42";

/// `DATABASE_NAME` in `examples/api/store.yaml`.
const DATABASE: &str = "telapi";

/// Host and port of the generated stores that no server listens on (parsers only).
const PARSER_HOST: &str = "db.internal.example";
const PARSER_PORT: &str = "6543";

/// Passwords beyond the example's: each character a URL gives a meaning to on its own, then the
/// traps of decoding (a `%` that looks like an escape, an already-escaped `%25`), non-ASCII,
/// shell and template metacharacters, whitespace, and everything at once.
const PASSWORDS: &[&str] = &[
    "at@sign",
    "col:on",
    "sl/ash",
    "quest?ion",
    "hash#tag",
    "open[bracket",
    "close]bracket",
    "amp&ersand",
    "equals=sign",
    "plus+sign",
    "per%cent",
    "per%41cent",
    "per%25cent",
    "%",
    "spa ce",
    " leading and trailing ",
    "apos'trophe",
    "quo\"te",
    "Ångström",
    "naïve-日本語-🔑",
    "dol$lar\\back\\slash",
    "${DATABASE_HOST}",
    "$${DATABASE_PORT}",
    "$(id)`id`;|<>*!",
    "new\nline\ttab",
    "a@b:c/d?e#f[g]h&i=j+k%l m'n\"o$p\\qé",
];

/// Usernames that need encoding too (the manifest encodes DATABASE_USERNAME as well).
const USERNAMES: &[&str] = &["svc@acme:ro/1", "Jürgen O'Brien", "u%2Fx#y"];

/// Passwords the PostgreSQL test switches the role to after the example's, one `ALTER ROLE` each.
const PSQL_PASSWORDS: &[&str] = &[
    "a@b:c/d?e#f[g]h&i=j+k%l m'n\"o$p\\qé",
    "per%41cent Ångström",
    "dol$lar\\back'slash\"",
];

const FETCH_ENV_TIMEOUT: Duration = Duration::from_secs(20);
const PARSER_TIMEOUT: Duration = Duration::from_secs(20);
const SERVER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }
}

/// What a parser made of a URL.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    user: String,
    password: String,
    host: String,
    port: String,
    database: String,
}

#[test]
fn example_url_decodes_through_python_and_node() {
    let resolved = fetch_env_json(common::fetch_env_example("api"));
    assert_eq!(
        (
            text(&resolved, "DATABASE_USERNAME"),
            text(&resolved, "DATABASE_PASSWORD")
        ),
        (EXAMPLE_USERNAME, EXAMPLE_PASSWORD),
        "examples/api/store.yaml holds other credentials than EXAMPLE_USERNAME/EXAMPLE_PASSWORD"
    );
    let expected = Decoded {
        user: EXAMPLE_USERNAME.into(),
        password: EXAMPLE_PASSWORD.into(),
        host: text(&resolved, "DATABASE_HOST").into(),
        port: text(&resolved, "DATABASE_PORT").into(),
        database: DATABASE.into(),
    };
    let failures = mismatches(&[text(&resolved, "DATABASE_URL").to_owned()], &[expected]);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn special_credentials_decode_through_python_and_node() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let cases: Vec<Credentials> = PASSWORDS
        .iter()
        .map(|password| Credentials::new(EXAMPLE_USERNAME, password))
        .chain(
            USERNAMES
                .iter()
                .map(|username| Credentials::new(username, "plain-password")),
        )
        .collect();
    let urls: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(index, credentials)| {
            let store = dir.path().join(format!("store-{index}.yaml"));
            write_store(&store, credentials, PARSER_HOST, PARSER_PORT);
            database_url(&store)
        })
        .collect();
    let expected: Vec<Decoded> = cases
        .iter()
        .map(|credentials| Decoded {
            user: credentials.username.clone(),
            password: credentials.password.clone(),
            host: PARSER_HOST.into(),
            port: PARSER_PORT.into(),
            database: DATABASE.into(),
        })
        .collect();
    let failures = mismatches(&urls, &expected);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn psql_logs_in_with_the_composed_url() {
    let psql = common::require_tool("psql", "apt-get install postgresql-client");
    let server = Postgres::start();
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = server.port.to_string();

    server.admin_sql(
        &[
            ("user", EXAMPLE_USERNAME),
            ("pw", EXAMPLE_PASSWORD),
            ("db", DATABASE),
        ],
        "CREATE ROLE :\"user\" LOGIN PASSWORD :'pw';\nCREATE DATABASE :\"db\" OWNER :\"user\";\n",
    );

    // The shipped store, secret untouched, pointed at this server.
    let example_store = dir.path().join("example-store.yaml");
    write_local_copy_of_example_store(&example_store, &port);
    let resolved = resolve(&example_store);
    assert_eq!(
        text(&resolved, "DATABASE_PASSWORD"),
        EXAMPLE_PASSWORD,
        "the copied store must keep the example's secret"
    );
    let mut previous_url = text(&resolved, "DATABASE_URL").to_owned();
    assert_login(&server, &psql, &previous_url, EXAMPLE_USERNAME);

    for (index, password) in PSQL_PASSWORDS.iter().enumerate() {
        server.admin_sql(
            &[("user", EXAMPLE_USERNAME), ("pw", password)],
            "ALTER ROLE :\"user\" PASSWORD :'pw';\n",
        );
        let store = dir.path().join(format!("store-{index}.yaml"));
        write_store(
            &store,
            &Credentials::new(EXAMPLE_USERNAME, password),
            "127.0.0.1",
            &port,
        );
        let url = database_url(&store);
        assert_login(&server, &psql, &url, EXAMPLE_USERNAME);
        // The server really checks the password: the URL of the password before is refused now.
        let refused = psql_current_user(&server, &psql, &previous_url);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success() && stderr.contains("password authentication failed"),
            "psql with the previous password was not refused by password authentication \
             (status {}): {stderr}",
            refused.status
        );
        previous_url = url;
    }
}

// ---------------------------------------------------------------------------------------------
// fetch-env and the stores it reads

fn bootstrap_value(key: &str) -> String {
    let path = common::example("api", "bootstrap.env");
    let text = fs::read_to_string(&path).expect("examples/api/bootstrap.env");
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{key} is not set in {}", path.display()))
        .to_owned()
}

/// `/NAMESPACE/api/`, where the api example's SSM parameters live.
fn parameter_prefix() -> String {
    format!("/{}/api/", bootstrap_value("NAMESPACE"))
}

/// A store for the api example whose master secret holds `credentials`. The secret is the JSON
/// text AWS would hold, serialised by serde_json and embedded as a single-quoted YAML scalar, so
/// the password reaches fetch-env without any YAML escape in between.
fn write_store(path: &Path, credentials: &Credentials, host: &str, port: &str) {
    let prefix = parameter_prefix();
    let secret = serde_json::json!({
        "username": credentials.username,
        "password": credentials.password,
        "engine": "postgres",
        "port": 5432,
        "dbClusterIdentifier": "api-dev",
    })
    .to_string();
    let text = format!(
        "parameters:\n\
         \x20 {prefix}DATABASE_HOST: {host}\n\
         \x20 {prefix}DATABASE_PORT: {port}\n\
         \x20 {prefix}DATABASE_NAME: {database}\n\
         \x20 {prefix}DATABASE_SSL_MODE: disable\n\
         secrets:\n\
         \x20 {bundle}:\n\
         \x20   JWT_SIGNING_KEY: url-roundtrip-jwt\n\
         \x20 {arn}: {secret}\n",
        host = yaml_single_quoted(host),
        port = yaml_single_quoted(port),
        database = yaml_single_quoted(DATABASE),
        bundle = yaml_single_quoted(&format!("{}/api/secrets", bootstrap_value("NAMESPACE"))),
        arn = yaml_single_quoted(&bootstrap_value("DB_MASTER_SECRET_ARN")),
        secret = yaml_single_quoted(&secret),
    );
    fs::write(path, text).expect("write the store file");
}

/// `examples/api/store.yaml` with DATABASE_HOST replaced by 127.0.0.1 and a DATABASE_PORT
/// parameter added; every other line, the master secret included, is copied byte for byte.
fn write_local_copy_of_example_store(path: &Path, port: &str) {
    let host_key = format!("{}DATABASE_HOST:", parameter_prefix());
    let original = fs::read_to_string(common::example("api", "store.yaml")).expect("store.yaml");
    let mut replaced = 0;
    let mut text = String::new();
    for line in original.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(&host_key) {
            let indent = &line[..line.len() - trimmed.len()];
            let port_key = host_key.replace("DATABASE_HOST", "DATABASE_PORT");
            text.push_str(&format!("{indent}{host_key} 127.0.0.1\n"));
            text.push_str(&format!("{indent}{port_key} '{port}'\n"));
            replaced += 1;
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    assert_eq!(
        replaced, 1,
        "examples/api/store.yaml should set {host_key} exactly once"
    );
    fs::write(path, text).expect("write the store file");
}

/// Resolves the api example against `store` and returns the variables.
fn resolve(store: &Path) -> Map<String, Value> {
    let mut command = common::fetch_env();
    command
        .arg("--manifest")
        .arg(common::example("api", "vars.yaml"))
        .arg("--bootstrap")
        .arg(common::example("api", "bootstrap.env"))
        .arg("--store")
        .arg(format!("file:{}", store.display()));
    fetch_env_json(command)
}

fn fetch_env_json(mut command: Command) -> Map<String, Value> {
    command.args(["--format", "json"]);
    let output = run(&mut command, b"", FETCH_ENV_TIMEOUT, "fetch-env");
    assert!(
        output.status.success(),
        "fetch-env failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("fetch-env --format json prints one JSON object")
}

fn text<'a>(resolved: &'a Map<String, Value>, name: &str) -> &'a str {
    resolved
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("fetch-env resolved no string {name}"))
}

fn database_url(store: &Path) -> String {
    text(&resolve(store), "DATABASE_URL").to_owned()
}

// ---------------------------------------------------------------------------------------------
// The parsers

fn python() -> PathBuf {
    common::require_tool("python3", "apt-get install python3")
}

fn node() -> PathBuf {
    let node = common::require_tool("node", "apt-get install nodejs");
    let package = common::root().join("tests/node/node_modules/pg-connection-string");
    assert!(
        package.join("package.json").is_file(),
        "pg-connection-string is not installed in tests/node; run `cd tests/node && npm ci` \
         (scripts/install-test-deps.sh does)"
    );
    node
}

/// `urlsplit` then `unquote` with strict UTF-8, as a Python service would read DATABASE_URL;
/// one JSON object per URL argument, `{"error": ...}` for a URL it rejects.
const PYTHON_DECODE: &str = r#"
import json, sys
from urllib.parse import unquote, urlsplit

for url in sys.argv[1:]:
    try:
        parts = urlsplit(url)
        result = {
            "user": unquote(parts.username, errors="strict"),
            "password": unquote(parts.password, errors="strict"),
            "host": parts.hostname,
            "port": str(parts.port),
            "database": unquote(parts.path.removeprefix("/"), errors="strict"),
        }
    except Exception as error:
        result = {"error": repr(error)}
    print(json.dumps(result))
"#;

/// Every URL through Python, in one process.
fn python_decode(python: &Path, urls: &[String]) -> Vec<Result<Decoded, String>> {
    let mut command = Command::new(python);
    command.arg("-c").arg(PYTHON_DECODE).args(urls);
    decode(command, "python urllib.parse", urls.len())
}

/// Every URL through `node tests/node/parse-url.js`, in one process.
fn node_decode(node: &Path, urls: &[String]) -> Vec<Result<Decoded, String>> {
    let mut command = Command::new(node);
    command
        .arg(common::root().join("tests/node/parse-url.js"))
        .args(urls);
    decode(command, "node pg-connection-string", urls.len())
}

fn decode(mut command: Command, parser: &str, count: usize) -> Vec<Result<Decoded, String>> {
    let output = run(&mut command, b"", PARSER_TIMEOUT, parser);
    assert!(
        output.status.success(),
        "{parser} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("the parser prints UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), count, "{parser} printed one line per URL");
    lines
        .into_iter()
        .map(|line| decoded(parser, line))
        .collect()
}

fn decoded(parser: &str, line: &str) -> Result<Decoded, String> {
    let value: Map<String, Value> =
        serde_json::from_str(line).map_err(|e| format!("{parser} printed no JSON object: {e}"))?;
    if let Some(error) = value.get("error") {
        return Err(format!("{parser} rejected it: {error}"));
    }
    let field = |name: &str| match value.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        other => Err(format!("{parser} gave no string {name}: {other:?}")),
    };
    Ok(Decoded {
        user: field("user")?,
        password: field("password")?,
        host: field("host")?,
        port: field("port")?,
        database: field("database")?,
    })
}

/// Both parsers on every URL; the mismatches, each with the values in full (test fixtures).
fn mismatches(urls: &[String], expected: &[Decoded]) -> Vec<String> {
    let python = python_decode(&python(), urls);
    let node = node_decode(&node(), urls);
    let mut failures = Vec::new();
    for (index, (url, expected)) in urls.iter().zip(expected).enumerate() {
        check(&mut failures, "python", &python[index], expected, url);
        check(&mut failures, "node", &node[index], expected, url);
    }
    failures
}

/// Records a mismatch; the values are test fixtures, so a failure shows them in full.
fn check(
    failures: &mut Vec<String>,
    parser: &str,
    decoded: &Result<Decoded, String>,
    expected: &Decoded,
    url: &str,
) {
    match decoded {
        Ok(decoded) if decoded == expected => {}
        Ok(decoded) => failures.push(format!(
            "{parser} decoded {url:?}\n  as       {decoded:?}\n  expected {expected:?}"
        )),
        Err(problem) => failures.push(format!("{url:?}: {problem}")),
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// How commands run as the unprivileged server user when the test runs as root.
#[derive(Debug)]
enum Demote {
    /// Not root: run as ourselves.
    No,
    Setpriv {
        setpriv: PathBuf,
        uid: u32,
        gid: u32,
    },
    Runuser {
        runuser: PathBuf,
        user: String,
    },
}

/// A PostgreSQL server in a temporary directory, stopped (fast shutdown) when dropped.
#[derive(Debug)]
struct Postgres {
    bin: PathBuf,
    demote: Demote,
    /// Data directory, unix socket and log; owned by the server user.
    dir: TempDir,
    port: u16,
    child: Option<Child>,
}

/// The bootstrap superuser initdb creates; it logs in over the unix socket (trust).
const SUPERUSER: &str = "fetch_env_test_superuser";

impl Postgres {
    fn start() -> Self {
        let bin = postgres_bin();
        let demote = demote();
        let dir = tempfile::Builder::new()
            .prefix("fetch-env-pg-")
            .tempdir()
            .expect("temporary directory");
        if let Demote::Setpriv { uid, gid, .. } = demote {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("chown the server directory");
        } else if let Demote::Runuser { user, .. } = &demote {
            let ids = (id(&["-u", user]), id(&["-g", user]));
            std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1))
                .expect("chown the server directory");
        }
        let mut server = Postgres {
            bin,
            demote,
            dir,
            port: 0,
            child: None,
        };
        server.initdb();
        // The port is free when chosen but may be taken before the server binds it: try again.
        for attempt in 1..=3 {
            server.port = free_port();
            match server.launch() {
                Ok(()) => return server,
                Err(log)
                    if attempt < 3 && server.child.is_none() && log.contains("could not bind") => {}
                Err(log) => panic!("PostgreSQL did not start:\n{log}"),
            }
        }
        unreachable!("the last attempt either returns or panics")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// `program` (a server binary) as the server user.
    fn server_command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = match &self.demote {
            Demote::No => Command::new(program),
            Demote::Setpriv { setpriv, uid, gid } => {
                let mut command = Command::new(setpriv);
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .args(["--clear-groups", "--"])
                    .arg(program);
                command
            }
            Demote::Runuser { runuser, user } => {
                let mut command = Command::new(runuser);
                command.args(["-u", user, "--"]).arg(program);
                command
            }
        };
        // The server user may not be allowed into the test's working directory.
        command.current_dir(self.dir.path());
        command.env("LC_ALL", "C");
        command
    }

    fn initdb(&self) {
        let output = run(
            self.server_command("initdb")
                .arg("--pgdata")
                .arg(self.data())
                .args([
                    "--username",
                    SUPERUSER,
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ]),
            b"",
            SERVER_TIMEOUT,
            "initdb",
        );
        assert!(
            output.status.success(),
            "initdb failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the server on `self.port` and waits until it accepts connections; on failure the
    /// server log.
    fn launch(&mut self) -> Result<(), String> {
        let log = fs::File::create(self.log()).expect("create the server log");
        let child = self
            .server_command("postgres")
            .arg("-D")
            .arg(self.data())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("port={}", self.port))
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args([
                "-c",
                "password_encryption=scram-sha-256",
                "-c",
                "ssl=off",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("server log"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        let deadline = Instant::now() + SERVER_TIMEOUT;
        loop {
            let exited = match &mut self.child {
                Some(child) => child.try_wait().expect("poll postgres"),
                None => None,
            };
            if let Some(status) = exited {
                self.child = None;
                return Err(format!("postgres exited ({status}):\n{}", self.read_log()));
            }
            let ready = run(
                Command::new(self.bin.join("pg_isready"))
                    .arg("--host")
                    .arg(self.dir.path())
                    .arg("--port")
                    .arg(self.port.to_string())
                    .args(["--timeout=2", "--quiet"]),
                b"",
                SERVER_TIMEOUT,
                "pg_isready",
            );
            if ready.status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "postgres did not accept connections within {SERVER_TIMEOUT:?}:\n{}",
                    self.read_log()
                ));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    fn read_log(&self) -> String {
        fs::read_to_string(self.log()).unwrap_or_else(|e| format!("(no server log: {e})"))
    }

    /// Runs `sql` as the superuser over the unix socket; `variables` are psql variables, which
    /// `:'name'` and `:"name"` quote, so no value is ever quoted by hand.
    fn admin_sql(&self, variables: &[(&str, &str)], sql: &str) {
        let psql = common::require_tool("psql", "apt-get install postgresql-client");
        let mut command = Command::new(psql);
        self.client_env(&mut command);
        command
            .env("PGCLIENTENCODING", "UTF8")
            .args(["-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "--host"])
            .arg(self.dir.path())
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--username", SUPERUSER, "--dbname", "postgres"]);
        for (name, value) in variables {
            command.arg("-v").arg(format!("{name}={value}"));
        }
        command.args(["-f", "-"]);
        let output = run(&mut command, sql.as_bytes(), SERVER_TIMEOUT, "psql (admin)");
        assert!(
            output.status.success(),
            "psql (admin) failed ({}) running {sql:?}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A client environment that holds no password and no other connection setting: no PG*
    /// variable, a password file that does not exist, a HOME without .psqlrc or .pgpass.
    fn client_env(&self, command: &mut Command) {
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                command.env_remove(key);
            }
        }
        command
            .env("HOME", self.dir.path())
            .env("PGPASSFILE", self.dir.path().join("no-such-pgpass"))
            .env("PGCONNECT_TIMEOUT", "10");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Fast shutdown through pg_ctl (it signals the postmaster by its pid file, whatever
        // process is our direct child), then SIGKILL to whatever is left after the timeout.
        let mut stop = self.server_command("pg_ctl");
        stop.arg("stop")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "-t", "10"]);
        let stopped = spawn_and_wait(&mut stop, b"", Duration::from_secs(15));
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = child.wait();
        if let Err(problem) = stopped {
            eprintln!("pg_ctl stop: {problem}");
        }
    }
}

/// The newest `/usr/lib/postgresql/*/bin` holding initdb and postgres.
fn postgres_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            let complete = ["initdb", "postgres", "pg_ctl", "pg_isready"]
                .iter()
                .all(|tool| bin.join(tool).is_file());
            complete.then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server under /usr/lib/postgresql/*/bin; run `apt-get install \
             postgresql` (scripts/test.sh installs it)"
        ),
    }
}

/// `id ARGS` as a number.
fn id(args: &[&str]) -> u32 {
    let output = run(Command::new("id").args(args), b"", SERVER_TIMEOUT, "id");
    assert!(output.status.success(), "id {args:?} failed");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("id {args:?} printed no number: {e}"))
}

fn user_exists(user: &str) -> bool {
    run(Command::new("id").arg(user), b"", SERVER_TIMEOUT, "id")
        .status
        .success()
}

/// PostgreSQL refuses to run as root: as root, run the server as `postgres` (or `nobody`).
fn demote() -> Demote {
    if id(&["-u"]) != 0 {
        return Demote::No;
    }
    let user = if user_exists("postgres") {
        "postgres"
    } else {
        "nobody"
    };
    let on_path = |tool: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|dir| dir.join(tool))
            .find(|path| path.is_file())
    };
    if let Some(setpriv) = on_path("setpriv") {
        Demote::Setpriv {
            setpriv,
            uid: id(&["-u", user]),
            gid: id(&["-g", user]),
        }
    } else if let Some(runuser) = on_path("runuser") {
        Demote::Runuser {
            runuser,
            user: user.to_owned(),
        }
    } else {
        panic!(
            "running as root needs `setpriv` or `runuser` to start PostgreSQL as `{user}`; run \
             `apt-get install util-linux` (scripts/test.sh installs it)"
        )
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// `psql URL -Atc 'select current_user'` with no password from anywhere but the URL.
fn psql_current_user(server: &Postgres, psql: &Path, url: &str) -> Output {
    let mut command = Command::new(psql);
    server.client_env(&mut command);
    command
        .arg(url)
        .args(["-X", "-w", "-Atc", "select current_user"]);
    run(&mut command, b"", SERVER_TIMEOUT, "psql")
}

fn assert_login(server: &Postgres, psql: &Path, url: &str, username: &str) {
    let output = psql_current_user(server, psql, url);
    assert!(
        output.status.success(),
        "psql could not log in with DATABASE_URL {url:?} ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim_end(),
        username,
        "psql logged in as someone else"
    );
}

// ---------------------------------------------------------------------------------------------
// Processes

/// Runs `command` with `stdin`, capturing its output; fails the test when it cannot start or
/// does not finish within `timeout`. `what` names it in messages (never its arguments, which
/// may hold a password).
fn run(command: &mut Command, stdin: &[u8], timeout: Duration, what: &str) -> Output {
    spawn_and_wait(command, stdin, timeout).unwrap_or_else(|problem| panic!("{what}: {problem}"))
}

fn spawn_and_wait(
    command: &mut Command,
    stdin: &[u8],
    timeout: Duration,
) -> Result<Output, String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        // A program that exits without reading its input is not an error here.
        let _ = input.write_all(&stdin);
    });
    let stdout = reader(child.stdout.take().expect("piped stdout"));
    let stderr = reader(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("cannot wait: {e}"))? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not finish within {timeout:?}"));
        }
        thread::sleep(Duration::from_millis(2));
    };
    let _ = writer.join();
    Ok(Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    })
}

fn reader(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}
