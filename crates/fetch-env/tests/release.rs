//! The release artifacts of `scripts/release.sh`, as a host receives them: the portable binary
//! needs nothing newer than glibc 2.17 and no shared library but glibc's, and resolves the api
//! example, on the file store and against moto, in a root filesystem that holds only it, glibc's
//! libraries and a CA bundle; the Debian package installs into a fresh root with every file
//! where it says, a binary that runs there, a man page `man` reads and a unit systemd accepts.
//!
//! The artifacts are built once per change of their source: when `target/dist/.source-sha256`
//! is not the hash `scripts/release.sh --source-hash` prints for the working tree, the first
//! test that needs them runs `scripts/release.sh` (a release build of the whole workspace with
//! fat LTO: about 7 to 10 minutes on two cores), and every other test waits for it.

mod common;

use common::run::replace_all;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::docker::{Engine, engine};
use common::moto::moto;
use common::run::REGION;
use common::{example, fetch_env_example, require_tool, root};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The newest glibc the binary may need: that of the oldest host it must run on (RHEL/CentOS 7,
/// Amazon Linux 2).
const GLIBC_FLOOR: (u32, u32) = (2, 17);

/// The shared libraries that are glibc's own, by file name.
const GLIBC_LIBRARIES: &[&str] = &[
    "linux-vdso.so.1",
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
];

/// Every file the package installs: the binary, its documents and the unit.
const PACKAGE_FILES: &[&str] = &[
    "/usr/bin/fetch-env",
    "/usr/share/man/man1/fetch-env.1.gz",
    "/usr/share/bash-completion/completions/fetch-env",
    "/usr/share/zsh/vendor-completions/_fetch-env",
    "/usr/share/fish/vendor_completions.d/fetch-env.fish",
    "/usr/share/fetch-env/vars.schema.json",
    "/usr/share/doc/fetch-env/copyright",
    "/lib/systemd/system/fetch-env@.service",
    "/lib/systemd/system/fetch-env-changed@.service",
    "/lib/systemd/system/fetch-env-changed@.timer",
];

/// What `scripts/release.sh` leaves in `target/dist`.
struct Artifacts {
    binary: PathBuf,
    deb: PathBuf,
}

/// The artifacts of the working tree as it is, built first when they are missing or stale.
fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| {
        let dist = root().join("target/dist");
        let script = root().join("scripts/release.sh");
        let hash = stdout_of(Command::new(&script).arg("--source-hash"));
        let built = fs::read_to_string(dist.join(".source-sha256")).unwrap_or_default();
        if built.trim() != hash.trim() {
            eprintln!(
                "release.rs: target/dist is not built from this source; running \
                 scripts/release.sh (about 7 to 10 minutes)"
            );
            // The commit of this test binary's build (cargo hands a build script's rustc-env
            // to the tests it runs) is not the builder's choice: build.rs finds the commit.
            let status = Command::new(&script)
                .current_dir(root())
                .env_remove("FETCH_ENV_COMMIT")
                .status()
                .expect("run scripts/release.sh");
            assert!(status.success(), "scripts/release.sh failed ({status})");
        }
        Artifacts {
            binary: dist.join(format!("fetch-env-{VERSION}-x86_64-linux")),
            deb: dist.join(format!("fetch-env_{VERSION}_amd64.deb")),
        }
    })
}

#[test]
fn sha256sums_verifies_both_artifacts() {
    let artifacts = artifacts();
    let dist = artifacts.binary.parent().unwrap();
    let checked = stdout_of(
        Command::new(require_tool("sha256sum", INSTALL))
            .args(["-c", "--strict", "SHA256SUMS"])
            .current_dir(dist),
    );
    let names = |path: &Path| path.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        checked,
        format!(
            "{}: OK\n{}: OK\n",
            names(&artifacts.binary),
            names(&artifacts.deb)
        )
    );
}

/// The README's cloud-init snippets name the files the script builds, and their checksum lines,
/// run as written where those files are, pass.
#[test]
fn the_readme_install_snippets_check_the_artifacts_as_built() {
    let dist = artifacts().binary.parent().unwrap();
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let install = readme
        .split("\n## Install\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has an Install section");
    let mut snippets = 0;
    let mut lines = install.lines();
    while let Some(line) = lines.next() {
        if line != "```yaml" {
            continue;
        }
        snippets += 1;
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let mut checks = 0;
        for line in block.iter().map(|l| l.trim()) {
            if let Some(url) = line.strip_prefix("aws s3 cp ") {
                let name = url
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap();
                assert!(
                    dist.join(name).is_file(),
                    "the README fetches {name}, which release.sh does not build"
                );
            }
            if line.contains("sha256sum -c") {
                checks += 1;
                let output = Command::new("sh")
                    .args(["-euc", line])
                    .current_dir(dist)
                    .output()
                    .expect("run sh");
                succeeded(&output, line);
            }
        }
        assert_eq!(
            checks,
            1,
            "a snippet without its checksum line:\n{}",
            block.join("\n")
        );
    }
    assert_eq!(snippets, 2, "the binary's snippet and the package's");
}

#[test]
fn the_binary_needs_no_glibc_symbol_newer_than_2_17() {
    let symbols = stdout_of(
        Command::new(require_tool("objdump", INSTALL))
            .arg("-T")
            .arg(&artifacts().binary),
    );
    let versions: BTreeSet<(u32, u32, u32)> = symbols
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|version| {
            let mut numbers = version.split('.').map(|n| n.parse::<u32>().ok());
            Some((
                numbers.next()??,
                numbers.next()??,
                numbers.next().flatten().unwrap_or(0),
            ))
        })
        .collect();
    let newest = *versions
        .last()
        .unwrap_or_else(|| panic!("objdump -T shows no GLIBC_ symbol version:\n{symbols}"));
    assert!(
        (newest.0, newest.1) <= GLIBC_FLOOR,
        "the binary needs GLIBC_{}.{}.{} (all: {versions:?})",
        newest.0,
        newest.1,
        newest.2
    );
}

#[test]
fn the_binary_links_only_glibc_libraries() {
    let binary = &artifacts().binary;
    let needed = stdout_of(
        Command::new(require_tool("objdump", INSTALL))
            .arg("-p")
            .arg(binary),
    );
    let needed: Vec<&str> = needed
        .lines()
        .filter_map(|line| line.trim().strip_prefix("NEEDED"))
        .map(str::trim)
        .collect();
    assert!(needed.contains(&"libc.so.6"), "{needed:?}");
    for library in &needed {
        assert!(
            GLIBC_LIBRARIES.contains(library),
            "the binary needs {library}: {needed:?}"
        );
    }
    // ldd shows what the loader resolves, the libraries of those libraries included.
    for (library, _) in ldd(binary) {
        assert!(
            GLIBC_LIBRARIES.contains(&library.as_str()),
            "ldd lists {library}, which is not glibc's"
        );
    }
}

#[test]
fn the_binary_resolves_the_api_example_on_the_file_store_in_a_minimal_root() {
    let engine = engine();
    let image = minimal_image(engine);
    let examples = example("api", "vars.yaml");
    let inputs = examples.parent().unwrap();
    let output = in_minimal_root(
        engine,
        &image,
        inputs,
        "none",
        &[],
        "file:/inputs/store.yaml",
    );
    let expected = fetch_env_example("api").output().expect("run fetch-env");
    assert!(expected.status.success());
    assert_eq!(
        succeeded(&output, "the binary in the minimal root"),
        String::from_utf8(expected.stdout).unwrap()
    );
}

/// Against moto on the host's loopback, reached as `localhost`, so that the name goes through
/// glibc's resolver (its `files` source and the `/etc/hosts` the engine provides) in a root
/// that holds no other library.
#[test]
fn the_binary_resolves_the_api_example_against_moto_in_a_minimal_root() {
    let engine = engine();
    let image = minimal_image(engine);
    let moto = moto();
    let arns = moto.seed(&example("api", "store.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = fs::read_to_string(example("api", "bootstrap.env")).unwrap();
    fs::write(
        dir.path().join("bootstrap.env"),
        replace_all(&bootstrap, &arns),
    )
    .unwrap();
    fs::copy(example("api", "vars.yaml"), dir.path().join("vars.yaml")).unwrap();
    let environment = container_environment(&format!("http://localhost:{}", moto.port));
    let output = on_aws_in_minimal_root(engine, &image, dir.path(), &environment);
    let on_aws = succeeded(&output, "the binary in the minimal root, against moto");
    let on_file = fetch_env_example("api").output().expect("run fetch-env");
    assert!(on_file.status.success());
    let back: HashMap<String, String> = arns.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
    assert_eq!(
        replace_all(&on_aws, &back),
        String::from_utf8(on_file.stdout).unwrap()
    );
}

/// In a container, credentials from an instance metadata service that takes the token
/// request and never answers it (what IMDSv2 does to a container behind a bridge when the
/// instance's hop limit is 1): the error says that the hop limit is the likely cause and how to
/// raise it. The metadata endpoint is a loopback listener of this test, reached through the
/// host's network.
#[test]
fn a_metadata_timeout_in_a_container_names_the_imdsv2_hop_limit() {
    let engine = engine();
    let image = minimal_image(engine);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&asked);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    fs::copy(example("api", "vars.yaml"), dir.path().join("vars.yaml")).unwrap();
    fs::copy(
        example("api", "bootstrap.env"),
        dir.path().join("bootstrap.env"),
    )
    .unwrap();
    let environment: Vec<String> = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        ),
        ("AWS_CONFIG_FILE", "/nonexistent".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
    ]
    .iter()
    .flat_map(|(key, value)| ["-e".to_owned(), format!("{key}={value}")])
    .collect();
    let output = on_aws_in_minimal_root(engine, &image, dir.path(), &environment);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(output.stdout.is_empty());
    for words in [
        "fetch-env runs in a container (/.dockerenv exists)",
        "IMDSv2 hop limit",
        "--http-put-response-hop-limit 2",
    ] {
        assert!(stderr.contains(words), "`{words}` in:\n{stderr}");
    }
    assert!(
        asked.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the metadata service was never asked:\n{stderr}"
    );
}

#[test]
fn the_package_says_what_it_is() {
    let deb = &artifacts().deb;
    let field = |name: &str| {
        stdout_of(Command::new("dpkg-deb").arg("--field").arg(deb).arg(name))
            .trim()
            .to_owned()
    };
    assert_eq!(field("Package"), "fetch-env");
    assert_eq!(field("Version"), VERSION);
    assert_eq!(field("Architecture"), "amd64");
    // The binary's own floor, so that dpkg refuses a host it would not run on.
    assert_eq!(field("Depends"), "libc6 (>= 2.17)");
}

#[test]
fn the_package_installs_into_a_fresh_root() {
    let artifacts = artifacts();
    let fresh = fresh_root();
    let root = fresh.path();
    let dpkg = |args: &[&str]| {
        let mut command = Command::new(require_tool("dpkg", INSTALL));
        command.arg(format!("--root={}", root.display())).args(args);
        command
    };
    stdout_of(dpkg(&["-i"]).arg(&artifacts.deb));
    let status = stdout_of(&mut dpkg(&["-s", "fetch-env"]));
    assert!(status.contains("Status: install ok installed"), "{status}");
    // Every file's content is what the package's md5sums say.
    assert_eq!(stdout_of(&mut dpkg(&["--verify", "fetch-env"])), "");

    // Every file is where the package's listing says, as its listing says it.
    let listed = package_listing(&artifacts.deb);
    let files: BTreeSet<&str> = listed
        .iter()
        .filter(|(_, entry)| !entry.directory)
        .map(|(path, _)| path.as_str())
        .collect();
    assert_eq!(files, PACKAGE_FILES.iter().copied().collect());
    for (path, entry) in &listed {
        let installed = root.join(path.trim_start_matches('/'));
        let metadata = fs::symlink_metadata(&installed)
            .unwrap_or_else(|e| panic!("{path} is not in the installed root: {e}"));
        assert_eq!(metadata.is_dir(), entry.directory, "{path}");
        assert_eq!(metadata.permissions().mode() & 0o7777, entry.mode, "{path}");
        if !entry.directory {
            assert_eq!(metadata.len(), entry.size, "{path}");
        }
        assert_eq!(entry.owner, "root/root", "{path}");
        assert_eq!((metadata.uid(), metadata.gid()), (0, 0), "{path}");
    }
    let owned = stdout_of(&mut dpkg(&["-L", "fetch-env"]));
    for file in PACKAGE_FILES {
        assert!(
            owned.lines().any(|l| l == *file),
            "dpkg -L lacks {file}:\n{owned}"
        );
    }

    // The installed binary is the released one, and what it prints is what the package holds.
    let installed = |path: &str| root.join(path.trim_start_matches('/'));
    assert_eq!(
        fs::read(installed("/usr/bin/fetch-env")).unwrap(),
        fs::read(&artifacts.binary).unwrap()
    );
    for (path, args) in [
        (
            "/usr/share/bash-completion/completions/fetch-env",
            &["completions", "bash"][..],
        ),
        (
            "/usr/share/zsh/vendor-completions/_fetch-env",
            &["completions", "zsh"],
        ),
        (
            "/usr/share/fish/vendor_completions.d/fetch-env.fish",
            &["completions", "fish"],
        ),
        ("/usr/share/fetch-env/vars.schema.json", &["schema"]),
    ] {
        assert_eq!(
            fs::read_to_string(installed(path)).unwrap(),
            stdout_of(Command::new(&artifacts.binary).args(args)),
            "{path}"
        );
    }
    let copyright = fs::read_to_string(installed("/usr/share/doc/fetch-env/copyright")).unwrap();
    assert!(
        copyright.contains("License: MIT or Apache-2.0"),
        "{copyright}"
    );
}

/// The installed root, imported as an image, runs `fetch-env --version` with nothing but the
/// package and glibc's libraries.
#[test]
fn the_installed_binary_runs_in_the_fresh_root() {
    let artifacts = artifacts();
    let fresh = fresh_root();
    let status = Command::new(require_tool("dpkg", INSTALL))
        .arg(format!("--root={}", fresh.path().display()))
        .arg("-i")
        .arg(&artifacts.deb)
        .output()
        .expect("run dpkg");
    succeeded(&status, "dpkg -i");
    let engine = engine();
    let image = "fetch-env-test/release-installed:latest";
    import_root(engine, fresh.path(), image);
    let output = engine
        .docker()
        .args(["run", "--rm", "--network", "none", "--read-only"])
        .arg(image)
        .args(["/usr/bin/fetch-env", "--version"])
        .output()
        .expect("run docker");
    let version = succeeded(&output, "fetch-env --version in the installed root");
    assert!(
        version.starts_with(&format!("fetch-env {VERSION} (commit ")),
        "{version}"
    );
    assert_eq!(
        version,
        stdout_of(Command::new(&artifacts.binary).arg("--version"))
    );
}

#[test]
fn man_reads_the_packaged_man_page() {
    let listed = package_listing(&artifacts().deb);
    assert!(listed.contains_key("/usr/share/man/man1/fetch-env.1.gz"));
    let dir = extracted_package();
    let page = dir.path().join("usr/share/man/man1/fetch-env.1.gz");
    let output = Command::new(require_tool("man", INSTALL))
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "")
        .env("LANG", "C.UTF-8")
        .output()
        .expect("run man");
    let text = succeeded(&output, "man -l");
    let warnings = String::from_utf8_lossy(&output.stderr);
    assert!(warnings.trim().is_empty(), "man (groff) warns:\n{warnings}");
    for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "SUBCOMMANDS"] {
        assert!(
            text.lines().any(|l| l.trim() == heading),
            "no {heading}:\n{text}"
        );
    }
    for command in ["explain", "restart", "changed", "completions", "schema"] {
        assert!(
            text.contains(command),
            "the man page lacks {command}:\n{text}"
        );
    }
}

#[test]
fn the_unit_runs_the_restart_step_of_the_instance_service() {
    let dir = extracted_package();
    let unit =
        fs::read_to_string(dir.path().join("lib/systemd/system/fetch-env@.service")).unwrap();
    let keys = unit_keys(&unit);
    let key = |section: &str, name: &str| -> Vec<&str> {
        keys.get(&(section.to_owned(), name.to_owned()))
            .map(|values| values.iter().map(String::as_str).collect())
            .unwrap_or_default()
    };
    assert_eq!(key("Service", "Type"), ["oneshot"]);
    assert_eq!(key("Service", "RemainAfterExit"), ["no"]);
    assert_eq!(
        key("Service", "ExecStart"),
        [
            "/usr/bin/fetch-env --manifest /opt/services/%i/vars.yaml --bootstrap /opt/deployment/.env restart"
        ]
    );
    // compose reads the compose file of the working directory.
    assert_eq!(key("Service", "WorkingDirectory"), ["/opt/services/%i"]);
    for dependency in ["After", "Wants"] {
        assert_eq!(
            key("Unit", dependency),
            ["docker.service network-online.target"],
            "{dependency}"
        );
    }
    assert_eq!(key("Install", "WantedBy"), ["multi-user.target"]);

    // systemd's own reading of an instance, in the package's root with the host's targets
    // (which the default dependencies of a service name) and a manifest for the instance.
    let root = dir.path();
    ready_for_verify(root);
    verify_units(root, &["fetch-env@api.service"]);
}

/// `systemd-analyze verify` of `units` in the package's `root`: it exits 0 on a key it ignores,
/// saying so on stderr, so silence is the verdict.
fn verify_units(root: &Path, units: &[&str]) {
    let output = Command::new(require_tool("systemd-analyze", INSTALL))
        .arg(format!("--root={}", root.display()))
        .args(["verify", "--man=no"])
        .args(units)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify {units:?}: {}\n{stderr}",
        output.status
    );
}

/// The timer runs `restart --changed` for the instance's service, at an interval and with a
/// spread of its own, and systemd accepts it with the service it starts.
#[test]
fn the_timer_runs_restart_changed_for_the_instance() {
    let dir = extracted_package();
    let root = dir.path();
    let read = |name: &str| fs::read_to_string(root.join("lib/systemd/system").join(name)).unwrap();
    let timer = unit_keys(&read("fetch-env-changed@.timer"));
    let service = unit_keys(&read("fetch-env-changed@.service"));
    let key = |keys: &HashMap<(String, String), Vec<String>>, section: &str, name: &str| {
        keys.get(&(section.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        key(&timer, "Timer", "Unit"),
        ["fetch-env-changed@%i.service"]
    );
    assert_eq!(key(&timer, "Timer", "OnUnitActiveSec"), ["15min"]);
    assert_eq!(key(&timer, "Install", "WantedBy"), ["timers.target"]);
    assert_eq!(
        key(&service, "Service", "ExecStart"),
        [
            "/usr/bin/fetch-env --manifest /opt/services/%i/vars.yaml --bootstrap /opt/deployment/.env restart --changed"
        ]
    );
    assert_eq!(
        key(&service, "Service", "WorkingDirectory"),
        ["/opt/services/%i"]
    );
    ready_for_verify(root);
    verify_units(
        root,
        &[
            "fetch-env-changed@api.timer",
            "fetch-env-changed@api.service",
        ],
    );
}

const INSTALL: &str = "scripts/install-test-deps.sh";

/// The source hash the artifacts were built from.
fn source_hash() -> String {
    artifacts();
    let hash = fs::read_to_string(root().join("target/dist/.source-sha256")).unwrap();
    hash.trim().to_owned()
}

/// A root filesystem holding the released binary as `/usr/bin/fetch-env`, the glibc libraries
/// it is linked with (the host's, at the paths the loader looks in), and the host's CA bundle;
/// imported as an image once per source.
fn minimal_image(engine: &Engine) -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let binary = &artifacts().binary;
            let image = "fetch-env-test/release-minimal:latest".to_owned();
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            install_file(binary, &root.join("usr/bin/fetch-env"));
            copy_glibc(binary, root);
            let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
            assert!(
                bundle.is_file(),
                "{} is missing: apt-get install ca-certificates ({INSTALL} does)",
                bundle.display()
            );
            install_file(bundle, &root.join("etc/ssl/certs/ca-certificates.crt"));
            import_root(engine, root, &image);
            image
        })
        .clone()
}

/// A fresh root for `dpkg --root`: glibc's libraries (as in [`minimal_image`]) and a package
/// database that knows only the host's `libc6`, the one package fetch-env depends on, since
/// those libraries are its files.
fn fresh_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_glibc(&artifacts().binary, root);
    let admin = root.join("var/lib/dpkg");
    for sub in ["info", "updates", "triggers"] {
        fs::create_dir_all(admin.join(sub)).unwrap();
    }
    let libc6 = stdout_of(Command::new("dpkg-query").args(["--status", "libc6"]));
    fs::write(admin.join("status"), format!("{}\n", libc6.trim_end())).unwrap();
    fs::write(admin.join("available"), "").unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    dir
}

/// Copies into `root` every library `ldd` resolves for `binary`, at the same path, as a file.
fn copy_glibc(binary: &Path, root: &Path) {
    for (library, path) in ldd(binary) {
        let Some(path) = path else {
            assert_eq!(
                library, "linux-vdso.so.1",
                "ldd found no file for {library}"
            );
            continue;
        };
        install_file(&path, &root.join(path.strip_prefix("/").unwrap()));
    }
}

/// `ldd binary` as (library name, the file the loader found), the loader itself included.
fn ldd(binary: &Path) -> Vec<(String, Option<PathBuf>)> {
    let text = stdout_of(Command::new(require_tool("ldd", INSTALL)).arg(binary));
    text.lines()
        .map(|line| {
            let line = line.trim();
            let line = line.split(" (0x").next().unwrap().trim();
            match line.split_once(" => ") {
                Some((name, path)) => (name.to_owned(), Some(PathBuf::from(path))),
                None if line.starts_with('/') => {
                    let name = Path::new(line).file_name().unwrap().to_string_lossy();
                    (name.into_owned(), Some(PathBuf::from(line)))
                }
                None => (line.to_owned(), None),
            }
        })
        .collect()
}

fn install_file(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}

/// `docker import`s the directory `root` as `image`, unless the engine has it from the same
/// source: the image's comment is the artifacts' source hash, and an image of another source is
/// removed first, so that the engine's data root keeps one copy of each image.
fn import_root(engine: &Engine, root: &Path, image: &str) {
    let source = source_hash();
    let comment = engine
        .docker()
        .args(["image", "inspect", "--format", "{{.Comment}}", image])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match comment {
        Some(comment) if comment == source => return,
        Some(_) => {
            engine.run(&["rmi", "--force", image]);
        }
        None => {}
    }
    let archive = tempfile::NamedTempFile::new().unwrap();
    stdout_of(
        Command::new("tar")
            .arg("-C")
            .arg(root)
            .arg("-cf")
            .arg(archive.path())
            .arg("."),
    );
    engine.run(&[
        "import",
        "--message",
        &source,
        &archive.path().display().to_string(),
        image,
    ]);
}

/// The released binary in `image`, on the docker network `network`, resolving
/// `inputs/vars.yaml` and `inputs/bootstrap.env` (mounted read-only) with `--store store` and
/// `environment` (`-e` pairs).
fn in_minimal_root(
    engine: &Engine,
    image: &str,
    inputs: &Path,
    network: &str,
    environment: &[String],
    store: &str,
) -> Output {
    engine
        .docker()
        .args(["run", "--rm", "--network", network, "--read-only"])
        .arg("-v")
        .arg(format!("{}:/inputs:ro", inputs.display()))
        .args(environment)
        .arg(image)
        .args([
            "/usr/bin/fetch-env",
            "--manifest",
            "/inputs/vars.yaml",
            "--bootstrap",
            "/inputs/bootstrap.env",
            "--store",
            store,
        ])
        .output()
        .expect("run docker")
}

/// The binary in `image` against AWS (the environment names the endpoint), on the host's
/// network.
fn on_aws_in_minimal_root(
    engine: &Engine,
    image: &str,
    inputs: &Path,
    environment: &[String],
) -> Output {
    in_minimal_root(engine, image, inputs, "host", environment, "aws")
}

/// The Debian package, extracted.
fn extracted_package() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    stdout_of(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&artifacts().deb)
            .arg(dir.path()),
    );
    dir
}

/// `root` (an extracted package) made ready for `systemd-analyze verify` of the api instance:
/// the host's targets (which the default dependencies of a service name) and the instance's
/// folder with a manifest.
fn ready_for_verify(root: &Path) {
    let host_units = Path::new("/lib/systemd/system");
    let entries = fs::read_dir(host_units).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; apt-get install systemd ({INSTALL} does)",
            host_units.display()
        )
    });
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "target") && path.is_file() {
            let to = root
                .join("lib/systemd/system")
                .join(path.file_name().unwrap());
            fs::copy(&path, to).unwrap();
        }
    }
    fs::create_dir_all(root.join("opt/services/api")).unwrap();
    fs::write(
        root.join("opt/services/api/vars.yaml"),
        "service: api\nvariables: []\n",
    )
    .unwrap();
}

/// The environment of the binary in a container: an AWS-compatible endpoint, moto's test
/// credentials, and no other credential source.
fn container_environment(endpoint: &str) -> Vec<String> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ]
    .iter()
    .flat_map(|(key, value)| ["-e".to_owned(), format!("{key}={value}")])
    .collect()
}

/// One entry of `dpkg-deb --contents`.
#[derive(Debug)]
struct Listed {
    directory: bool,
    mode: u32,
    owner: String,
    size: u64,
}

/// `dpkg-deb --contents deb`, by absolute path (directories without their trailing `/`).
fn package_listing(deb: &Path) -> BTreeMap<String, Listed> {
    let text = stdout_of(Command::new("dpkg-deb").arg("--contents").arg(deb));
    text.lines()
        .filter_map(|line| {
            // drwxr-xr-x root/root         0 2026-01-01 00:00 ./usr/bin/
            let words: Vec<&str> = line.split_whitespace().collect();
            let [permissions, owner, size, _, _, path] = words[..] else {
                panic!("dpkg-deb --contents printed {line:?}");
            };
            let path = path.trim_start_matches('.').trim_end_matches('/');
            if path.is_empty() {
                return None;
            }
            let directory = permissions.starts_with('d');
            assert!(
                directory || permissions.starts_with('-'),
                "the package holds a special file: {line}"
            );
            Some((
                path.to_owned(),
                Listed {
                    directory,
                    mode: mode_of(&permissions[1..]),
                    owner: owner.to_owned(),
                    size: size.parse().unwrap(),
                },
            ))
        })
        .collect()
}

/// `rwxr-xr-x` as 0o755.
fn mode_of(permissions: &str) -> u32 {
    permissions
        .chars()
        .fold(0, |mode, c| (mode << 1) | u32::from(c != '-'))
}

/// A unit file's `Key=value` lines by (section, key), in order.
fn unit_keys(unit: &str) -> HashMap<(String, String), Vec<String>> {
    let mut keys: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut section = String::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("a unit line that is no Key=value: {line}"));
        keys.entry((section.clone(), key.trim().to_owned()))
            .or_default()
            .push(value.trim().to_owned());
    }
    keys
}

/// Runs `command`; fails the test unless it succeeds; returns its stdout.
fn stdout_of(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    succeeded(&output, &format!("{command:?}"))
}

/// The stdout of `output`, after failing the test unless it succeeded.
fn succeeded(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}
