//! moto's server on a free loopback port, shared by every test of one test binary, and the
//! seeding of it from a file-store YAML (tests/aws/seed.py, boto3 from moto's own venv).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::root;

const INSTALL: &str =
    "scripts/install-test-deps.sh (it installs moto[server] into target/test-venv)";

/// A running moto server. It is stopped when the test binary exits: it is started under a
/// shell that kills it as soon as its standard input (held by this process) closes.
pub struct Moto {
    pub endpoint: String,
    pub port: u16,
    /// What seed.py needs besides the endpoint (the CA of a server on TLS).
    seed_environment: Vec<(String, String)>,
    _watchdog: Mutex<Child>,
}

/// The venv holding moto and boto3.
pub fn venv() -> PathBuf {
    std::env::var_os("FETCH_ENV_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/test-venv"))
}

/// A program of the test venv, failing the test with how to install it when it is missing.
pub fn venv_tool(name: &str) -> PathBuf {
    let path = venv().join("bin").join(name);
    assert!(
        path.is_file(),
        "{name} is not installed at {}; run scripts/install-test-deps.sh (it installs the test venv)",
        path.display()
    );
    path
}

fn moto_server() -> PathBuf {
    venv_tool("moto_server")
}

/// The shared server, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
}

impl Moto {
    /// Starts a private server (for tests that must not share state, such as IAM enforcement).
    pub fn start() -> Moto {
        Self::start_with(&[])
    }

    pub fn start_with(environment: &[(&str, &str)]) -> Moto {
        Self::spawn(environment, None)
    }

    /// A private server on TLS with the certificate and key of `tls` (PEM files), reached as
    /// `https://localhost:PORT`; `tls.2` is the CA that signed it, which seeding trusts.
    pub fn start_tls(tls: (&Path, &Path, &Path)) -> Moto {
        Self::spawn(&[], Some(tls))
    }

    fn spawn(environment: &[(&str, &str)], tls: Option<(&Path, &Path, &Path)>) -> Moto {
        let server = moto_server();
        let port = free_port();
        let tls_arguments = match tls {
            Some((cert, key, _)) => format!(
                " --ssl-cert \"{}\" --ssl-key \"{}\"",
                cert.display(),
                key.display()
            ),
            None => String::new(),
        };
        let script = format!(
            "\"{}\" -H 127.0.0.1 -p {port}{tls_arguments} >/dev/null 2>&1 & pid=$!; read _; kill $pid",
            server.display()
        );
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        for (k, v) in environment {
            command.env(k, v);
        }
        let child = command.spawn().expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (endpoint, seed_environment) = match tls {
            Some((_, _, ca)) => (
                format!("https://localhost:{port}"),
                vec![("AWS_CA_BUNDLE".to_owned(), ca.display().to_string())],
            ),
            None => (format!("http://127.0.0.1:{port}"), Vec::new()),
        };
        Moto {
            endpoint,
            port,
            seed_environment,
            _watchdog: Mutex::new(child),
        }
    }

    /// Creates every parameter and secret of `store` (file-store YAML); returns the ARNs the
    /// server assigned, keyed by the ARN written in the store file.
    pub fn seed(&self, store: &Path) -> HashMap<String, String> {
        let output = self.seed_py(&[store.as_os_str().to_str().expect("utf-8 path")]);
        serde_json::from_slice(&output).expect("seed.py prints a JSON object")
    }

    /// Seeds every store file with one interpreter start; returns, per store path, the ARNs
    /// the server assigned, keyed by the ARN written in that store.
    pub fn seed_many(&self, stores: &[PathBuf]) -> HashMap<PathBuf, HashMap<String, String>> {
        let mut args = vec!["--many"];
        args.extend(stores.iter().map(|s| s.to_str().expect("utf-8 path")));
        let by_path: HashMap<String, HashMap<String, String>> =
            serde_json::from_slice(&self.seed_py(&args)).expect("seed.py prints a JSON object");
        by_path
            .into_iter()
            .map(|(path, arns)| (PathBuf::from(path), arns))
            .collect()
    }

    /// On a server started with `INITIAL_NO_AUTH_ACTION_COUNT=3`: seeds `store` as an
    /// administrator, then creates a user holding only `policy` (IAM JSON). Returns the ARN map
    /// and that user's access key id and secret key.
    pub fn iam_setup(
        &self,
        policy: &str,
        store: &Path,
    ) -> (HashMap<String, String>, String, String) {
        let output = self.seed_py(&["--iam-setup", policy, store.to_str().expect("utf-8 path")]);
        let answer: serde_json::Value = serde_json::from_slice(&output).expect("JSON from seed.py");
        let arns = serde_json::from_value(answer["arns"].clone()).expect("ARN map");
        let text = |key: &str| answer[key].as_str().expect("a key").to_owned();
        (arns, text("access_key_id"), text("secret_access_key"))
    }

    /// Creates a secret holding `bytes` as `SecretBinary`; returns its ARN.
    pub fn create_binary_secret(&self, name: &str, bytes: &str) -> String {
        let output = self.seed_py(&["--create-binary-secret", name, bytes]);
        let arns: HashMap<String, String> = serde_json::from_slice(&output).expect("JSON");
        arns[name].clone()
    }

    /// Puts a new value into a secret (what a rotation does).
    /// Overwrites the String parameter `name` with `value`: a new version.
    pub fn put_parameter(&self, name: &str, value: &str) {
        self.seed_py(&["--put-parameter", name, value]);
    }

    pub fn put_secret(&self, id: &str, value: &str) {
        self.seed_py(&["--put-secret", id, value]);
    }

    /// Deletes a secret without recovery.
    pub fn delete_secret(&self, id: &str) {
        self.seed_py(&["--delete-secret", id]);
    }

    /// Runs tests/aws/seed.py against this server with `args` and returns what it printed.
    pub fn seed_py(&self, args: &[&str]) -> Vec<u8> {
        let output = Command::new(venv().join("bin/python"))
            .arg(root().join("tests/aws/seed.py"))
            .arg(&self.endpoint)
            .args(args)
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .envs(self.seed_environment.iter().cloned())
            .output()
            .unwrap_or_else(|e| panic!("run seed.py: {e}; run {INSTALL}"));
        assert!(
            output.status.success(),
            "seed.py {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Reads lines from `reader` until one contains `needle` or `timeout` passes.
pub fn wait_for_line(reader: impl std::io::Read, needle: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut lines = BufReader::new(reader).lines();
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) if line.contains(needle) => return true,
            Some(Ok(_)) => {}
            _ => return false,
        }
    }
    false
}
