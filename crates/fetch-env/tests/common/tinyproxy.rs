//! Debian's tinyproxy as the HTTP proxy of a test: plain requests and CONNECT tunnels.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::moto::free_port;
use super::require_tool;

/// Debian's tinyproxy in the foreground on a free loopback port, logging every request it
/// proxies to a file of its own. Stopped (by its process id) when dropped.
pub struct Tinyproxy {
    pub url: String,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    pub fn start() -> Tinyproxy {
        let binary = require_tool("tinyproxy", "apt-get install tinyproxy");
        let dir = tempfile::Builder::new()
            .prefix("tinyproxy-")
            .tempdir()
            .unwrap();
        // Started as root, tinyproxy switches to `User` before it opens its log file, so the
        // directory and the log must be writable by that user; as anyone else it keeps its
        // identity and ignores `User`.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let log = dir.path().join("tinyproxy.log");
        fs::write(&log, "").unwrap();
        fs::set_permissions(&log, fs::Permissions::from_mode(0o666)).unwrap();
        let port = free_port();
        let config = dir.path().join("tinyproxy.conf");
        fs::write(
            &config,
            format!(
                "User nobody\nPort {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 10\n\
                 LogFile \"{}\"\nLogLevel Info\nMaxClients 50\n",
                log.display()
            ),
        )
        .unwrap();
        let console = fs::File::create(dir.path().join("console.txt")).unwrap();
        let mut child = Command::new(binary)
            .arg("-d")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(console.try_clone().unwrap())
            .stderr(console)
            .spawn()
            .expect("start tinyproxy");
        // Ready once its own log says so: that also proves the log is written.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Accepting connections") {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "tinyproxy exited ({status}):\n{}\n{text}",
                    fs::read_to_string(dir.path().join("console.txt")).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "tinyproxy did not log `Accepting connections` within 10 s:\n{}\n{text}",
                    fs::read_to_string(dir.path().join("console.txt")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Tinyproxy {
            url: format!("http://127.0.0.1:{port}"),
            log,
            child,
            _dir: dir,
        }
    }

    /// The request lines of its log (`Request (file descriptor N): POST http://… HTTP/1.1`),
    /// as `METHOD URL`.
    pub fn requests(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once("]: Request (file descriptor "))
            .filter_map(|(_, rest)| rest.split_once("): "))
            .map(|(_, request)| {
                request
                    .trim_end_matches(" HTTP/1.1")
                    .trim_end_matches(" HTTP/1.0")
                    .to_owned()
            })
            .collect()
    }

    /// Connections accepted, whether or not a request followed.
    pub fn connections(&self) -> usize {
        self.log_text()
            .matches("]: Connect (file descriptor ")
            .count()
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
