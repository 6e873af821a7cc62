//! The AWS store over TLS as a host configured for the aws CLI reaches it: moto served over
//! HTTPS with a certificate signed by a CA that openssl makes for the test (what a
//! TLS-inspecting proxy or a VPC endpoint behind a corporate CA presents), trusted through
//! `AWS_CA_BUNDLE` (environment, bootstrap file) or the active profile's `ca_bundle`, directly
//! and through tinyproxy as an HTTP CONNECT proxy.
//!
//! Where the aws CLI reads the same setting, the aws CLI of the test venv runs with the same
//! configuration against the same server, and its verdict (trusted or refused) is the
//! expectation. One difference is fetch-env's own and documented (docs/aws.md): a bundle is
//! added to the system store instead of replacing it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::moto::{Moto, venv_tool};
use common::run::{REGION, Run, replace_all, write};
use common::tinyproxy::Tinyproxy;
use common::{FetchEnv, example, fetch_env_example, require_tool};

/// A CA, a server certificate it signed for `localhost` and `127.0.0.1`, and a second CA that
/// signed nothing here.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
}

const CA_SUBJECT: &str = "CN=fetch-env test CA,O=fetch-env tests";
const SERVER_SUBJECT: &str = "CN=localhost,O=fetch-env tests";

/// moto on TLS, seeded with the api example, and what every trusted run prints.
struct Server {
    pki: Pki,
    moto: Moto,
    bootstrap: PathBuf,
    expected: String,
}

fn openssl(args: &[&str], dir: &Path) {
    let output = Command::new(require_tool("openssl", "apt-get install openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn make_ca(dir: &Path, name: &str, subject: &str) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "3",
            "-subj",
            subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
        dir,
    );
}

fn pki_and_server_certificate() -> (Pki, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d, "ca", "/O=fetch-env tests/CN=fetch-env test CA");
    make_ca(d, "other-ca", "/O=fetch-env tests/CN=another CA");
    openssl(
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/O=fetch-env tests/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        d,
    );
    fs::write(
        d.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-days",
            "3",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
        d,
    );
    let (cert, key) = (d.join("server.crt"), d.join("server.key"));
    (
        Pki {
            ca: d.join("ca.crt"),
            other_ca: d.join("other-ca.crt"),
            _dir: dir,
        },
        cert,
        key,
    )
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (pki, cert, key) = pki_and_server_certificate();
        let moto = Moto::start_tls((&cert, &key, &pki.ca));
        let arns = moto.seed(&example("api", "store.yaml"));
        let bootstrap = fs::read_to_string(example("api", "bootstrap.env")).unwrap();
        let dir = pki.ca.parent().unwrap().to_owned();
        let bootstrap = write(&dir, "bootstrap.env", replace_all(&bootstrap, &arns));
        let on_file = fetch_env_example("api").output().expect("run fetch-env");
        assert!(on_file.status.success());
        let expected = replace_all(&String::from_utf8(on_file.stdout).unwrap(), &arns);
        Server {
            pki,
            moto,
            bootstrap,
            expected,
        }
    })
}

/// fetch-env against the TLS server with moto's keys and `environment`.
fn fetch_env(environment: &[(&str, &str)]) -> Run {
    let server = server();
    let home = tempfile::tempdir().unwrap();
    FetchEnv::new()
        .env("HOME", home.path())
        .arg("--manifest")
        .arg(example("api", "vars.yaml"))
        .arg("--bootstrap")
        .arg(&server.bootstrap)
        .on_aws(&server.moto.endpoint)
        .with_test_credentials()
        .envs(environment.iter().copied())
        .run()
}

/// The aws CLI reading one parameter of the same server, with the same `environment`.
fn aws_cli(environment: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(venv_tool("aws"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        // aws CLI v1 reads the region from AWS_DEFAULT_REGION only.
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(environment.iter().copied())
        .args([
            "ssm",
            "get-parameter",
            "--name",
            "/voiceai/dev/api/DATABASE_NAME",
        ])
        .args(["--endpoint-url", &server().moto.endpoint])
        .args(["--cli-read-timeout", "5", "--cli-connect-timeout", "5"]);
    command.output().expect("run the aws CLI")
}

/// The aws CLI's verdict, with its stderr for a failing assertion.
fn cli_trusts(environment: &[(&str, &str)]) -> (bool, String) {
    let output = aws_cli(environment);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        assert!(
            stderr.contains("CERTIFICATE_VERIFY_FAILED") || stderr.contains("SSL"),
            "the aws CLI failed for a reason other than the certificate:\n{stderr}"
        );
    }
    (output.status.success(), stderr)
}

fn assert_trusted(run: &Run) {
    run.assert_ok();
    assert_eq!(run.stdout(), server().expected, "{}", run.show());
}

/// Refused with exit 3, naming the server's certificate, its issuer and the three places a CA
/// can be added.
fn assert_refused_naming_the_certificate(run: &Run) {
    run.assert_failed(3);
    for words in [
        "TLS certificate was refused",
        &format!("presented a certificate for `{SERVER_SUBJECT}`"),
        &format!("issued by `{CA_SUBJECT}`"),
        "UnknownIssuer",
        "AWS_CA_BUNDLE",
        "`ca_bundle` of profile",
        "system store",
    ] {
        assert!(run.stderr.contains(words), "`{words}` in:\n{}", run.show());
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_private_ca_is_refused_without_a_bundle_and_the_certificate_is_named() {
    let (trusted, stderr) = cli_trusts(&[]);
    assert!(
        !trusted,
        "the aws CLI trusts the test CA unasked:\n{stderr}"
    );
    assert_refused_naming_the_certificate(&fetch_env(&[]));
}

#[test]
fn aws_ca_bundle_in_the_environment_is_trusted_as_by_the_aws_cli() {
    let ca = path(&server().pki.ca);
    let (trusted, stderr) = cli_trusts(&[("AWS_CA_BUNDLE", ca)]);
    assert!(trusted, "{stderr}");
    assert_trusted(&fetch_env(&[("AWS_CA_BUNDLE", ca)]));
}

#[test]
fn aws_ca_bundle_in_the_bootstrap_file_is_trusted() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let bootstrap = fs::read_to_string(&server.bootstrap).unwrap();
    let with_bundle = write(
        dir.path(),
        "bootstrap.env",
        format!("{bootstrap}AWS_CA_BUNDLE={}\n", server.pki.ca.display()),
    );
    let run = FetchEnv::new()
        .arg("--manifest")
        .arg(example("api", "vars.yaml"))
        .arg("--bootstrap")
        .arg(&with_bundle)
        .on_aws(&server.moto.endpoint)
        .with_test_credentials()
        .run();
    assert_trusted(&run);
}

/// A config file whose `ops` profile names the CA and whose default profile does not.
fn config_with_ops_profile(dir: &Path, bundle: &Path) -> PathBuf {
    write(
        dir,
        "config",
        format!(
            "[default]\nregion = {REGION}\n\n[profile ops]\nregion = {REGION}\nca_bundle = {}\n",
            bundle.display()
        ),
    )
}

#[test]
fn ca_bundle_of_the_active_profile_is_trusted_as_by_the_aws_cli() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_ops_profile(dir.path(), &server().pki.ca);
    let ops = [("AWS_CONFIG_FILE", path(&config)), ("AWS_PROFILE", "ops")];
    let (trusted, stderr) = cli_trusts(&ops);
    assert!(trusted, "{stderr}");
    assert_trusted(&fetch_env(&ops));
    // The default profile names no bundle: refused by both.
    let default = [("AWS_CONFIG_FILE", path(&config))];
    let (trusted, stderr) = cli_trusts(&default);
    assert!(!trusted, "{stderr}");
    assert_refused_naming_the_certificate(&fetch_env(&default));
}

#[test]
fn aws_ca_bundle_in_the_environment_wins_over_the_profile_as_in_the_aws_cli() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_ops_profile(dir.path(), &server.pki.ca);
    let environment = [
        ("AWS_CONFIG_FILE", path(&config)),
        ("AWS_PROFILE", "ops"),
        ("AWS_CA_BUNDLE", path(&server.pki.other_ca)),
    ];
    let (trusted, stderr) = cli_trusts(&environment);
    assert!(!trusted, "{stderr}");
    let run = fetch_env(&environment);
    assert_refused_naming_the_certificate(&run);
    let named = format!(
        "AWS_CA_BUNDLE (environment) names {} now",
        server.pki.other_ca.display()
    );
    assert!(run.stderr.contains(&named), "{}", run.show());
}

/// fetch-env's own rule, not the aws CLI's (which replaces the system store with the bundle):
/// the system store (here `SSL_CERT_FILE`, which replaces the system's certificates) still
/// counts beside a bundle that does not hold the server's CA.
#[test]
fn the_system_store_keeps_working_beside_a_bundle() {
    let server = server();
    assert_trusted(&fetch_env(&[
        ("SSL_CERT_FILE", path(&server.pki.ca)),
        ("AWS_CA_BUNDLE", path(&server.pki.other_ca)),
    ]));
    assert_trusted(&fetch_env(&[("SSL_CERT_FILE", path(&server.pki.ca))]));
}

#[test]
fn a_bundle_that_cannot_be_used_is_refused_with_exit_2_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = server();
    let key = fs::read_to_string(server.pki.ca.with_file_name("ca.key")).unwrap();
    let garbage =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let cases: Vec<(PathBuf, &str)> = vec![
        (d.join("absent.crt"), "cannot be read"),
        (write(d, "empty.crt", ""), "holds no certificate"),
        (
            write(d, "text.crt", "not a certificate\n"),
            "holds no certificate",
        ),
        (write(d, "key.pem", key), "holds no certificate"),
        (write(d, "garbage.crt", garbage), "cannot be read"),
        (d.to_owned(), "cannot be read"),
    ];
    for (bundle, why) in cases {
        let run = fetch_env(&[("AWS_CA_BUNDLE", path(&bundle))]);
        run.assert_failed(2);
        let named = format!("AWS_CA_BUNDLE (environment) names {}", bundle.display());
        assert!(run.stderr.contains(&named), "{}", run.show());
        assert!(run.stderr.contains(why), "`{why}` in:\n{}", run.show());
    }
}

#[test]
fn https_through_tinyproxy_as_a_connect_proxy_trusts_the_bundle_and_names_a_refusal() {
    let server = server();
    let proxy = Tinyproxy::start();
    let ca = path(&server.pki.ca);
    let through = [("HTTPS_PROXY", proxy.url.as_str())];
    let (trusted, stderr) = cli_trusts(&[through[0], ("AWS_CA_BUNDLE", ca)]);
    assert!(trusted, "{stderr}");
    let cli_tunnels = proxy.requests().len();
    assert!(cli_tunnels > 0, "the aws CLI did not use the proxy");
    assert_trusted(&fetch_env(&[through[0], ("AWS_CA_BUNDLE", ca)]));
    let target = format!("CONNECT localhost:{}", server.moto.port);
    let tunnels = proxy.requests();
    assert!(
        tunnels.len() > cli_tunnels && tunnels.iter().all(|r| *r == target),
        "every connection is a tunnel to the endpoint: {tunnels:?}"
    );
    // Without the bundle the certificate is refused, and the second handshake that names it
    // goes through the proxy too.
    let before = proxy.requests().len();
    assert_refused_naming_the_certificate(&fetch_env(&through));
    let tunnels = proxy.requests();
    assert!(
        tunnels.len() >= before + 2 && tunnels.iter().all(|r| *r == target),
        "{tunnels:?}"
    );
}
