//! Everything the AWS store needs to know before its first request: region, endpoint,
//! credentials, proxies, CA bundle, retries, timeouts and the app id. Each comes from the
//! process environment first, then from the bootstrap file (cloud-init puts `AWS_REGION`,
//! proxies and sometimes keys there); the CA bundle, retry settings and app id then from the
//! active profile of the shared config files, as the aws CLI reads them.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use aws_runtime::env_config::file::EnvConfigFiles;
use aws_runtime::env_config::section::EnvConfigSections;
use aws_types::os_shim_internal::{Env, Fs};
use fetch_env_core::{Bootstrap, SecretValue};
use futures_util::FutureExt as _;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

/// Access keys found in the bootstrap file (keys in the process environment are left to the
/// SDK's default chain, which reads them first).
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    pub access_key_id: SecretValue,
    pub secret_access_key: SecretValue,
    pub session_token: Option<SecretValue>,
}

/// CA certificates to trust besides the system's, read from `AWS_CA_BUNDLE` or the profile's
/// `ca_bundle`.
#[derive(Clone)]
pub struct CaBundle {
    pub path: PathBuf,
    /// The setting that named it, with where it was found: `AWS_CA_BUNDLE (environment)`.
    pub setting: String,
    /// The file as read, every certificate in it checked.
    pub pem: Vec<u8>,
    pub certificates: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("path", &self.path)
            .field("setting", &self.setting)
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

/// How failed requests are retried. The aws CLI's `legacy` mode has no counterpart in the SDK
/// and is read as `standard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    Standard,
    Adaptive,
}

/// The AWS store's settings. Its `Debug` shows the endpoint and proxy URLs without their
/// `user:password@` part.
#[derive(Clone)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub credentials: Option<StaticCredentials>,
    pub http_proxy: Option<String>,
    pub https_proxy: Option<String>,
    pub no_proxy: Option<String>,
    pub ca_bundle: Option<CaBundle>,
    /// The active profile of the shared config files (`AWS_PROFILE`, else `default`).
    pub profile: String,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Requests of one group (SSM name batches, `arn_from` secrets, listed bundles) in flight
    /// at once; each needs a connection of its own.
    pub max_in_flight: usize,
    pub retry_mode: RetryMode,
    pub connect_timeout: Duration,
    /// One attempt, from sending the request to the end of the response.
    pub attempt_timeout: Duration,
    /// One request, all attempts and backoff included.
    pub operation_timeout: Duration,
    /// The SDK app id every request carries in its user agent (`app/...`).
    pub app_id: String,
}

/// A setting that cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AwsSettingsError(pub String);

/// A setting's value and where it was found, for messages.
struct Found {
    value: String,
    origin: String,
}

impl AwsSettings {
    // A boot would rather wait than fail: when a whole fleet restarts at once the account's
    // request rate is exceeded for a while, and eight attempts with backoff up to 10 s carry
    // every host through (the load test: 200 hosts at 150 requests a second).
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
    // Every request in flight holds a connection, and every new connection costs a TCP and a
    // TLS handshake (about half a millisecond of CPU each, on one thread): 16 at once keep a
    // 1000-variable service by name (100 batches) from paying 100 handshakes, at no cost to
    // one of 100 variables (10 batches), and stay well inside SSM's request rate. Measured in
    // BENCHMARKS.md ("Requests in flight").
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
    pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
    /// The first retry waits up to this long (jittered), each next one up to twice as long.
    pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
    pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

    /// Reads the settings from `environment` (the process environment), then `bootstrap`,
    /// then the active profile. `overrides` holds command-line values for the retry and
    /// timeout settings, by their environment name. `service` names the default app id.
    pub fn load(
        environment: &dyn Fn(&str) -> Option<String>,
        bootstrap: &Bootstrap,
        overrides: &dyn Fn(&str) -> Option<String>,
        service: &str,
    ) -> Result<Self, AwsSettingsError> {
        let found = |key: &str| -> Option<Found> {
            let non_empty = |v: &String| !v.is_empty();
            if let Some(value) = overrides(key).filter(non_empty) {
                return Some(Found {
                    value,
                    origin: "command line".into(),
                });
            }
            if let Some(value) = environment(key).filter(non_empty) {
                return Some(Found {
                    value,
                    origin: "environment".into(),
                });
            }
            bootstrap
                .get(key)
                .filter(|(v, _)| !v.is_empty())
                .map(|(v, line)| Found {
                    value: v.expose().to_owned(),
                    origin: format!("{}:{line}", bootstrap.path()),
                })
        };
        let lookup = |keys: &[&str]| -> Option<String> {
            keys.iter()
                .find_map(|k| overrides(k))
                .or_else(|| keys.iter().find_map(|k| environment(k)))
                .or_else(|| {
                    keys.iter()
                        .find_map(|k| bootstrap.get(k).map(|(v, _)| v.expose().to_owned()))
                })
                .filter(|v| !v.is_empty())
        };
        let credentials = if environment("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty()) {
            None
        } else {
            let secret = |k: &str| {
                bootstrap
                    .get(k)
                    .map(|(v, _)| v.clone())
                    .filter(|v| !v.is_empty())
            };
            match (secret("AWS_ACCESS_KEY_ID"), secret("AWS_SECRET_ACCESS_KEY")) {
                (Some(access_key_id), Some(secret_access_key)) => Some(StaticCredentials {
                    access_key_id,
                    secret_access_key,
                    session_token: secret("AWS_SESSION_TOKEN"),
                }),
                (None, None) => None,
                _ => {
                    return Err(AwsSettingsError(format!(
                        "{} sets only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                        bootstrap.path()
                    )));
                }
            }
        };
        let profile = Profile::load(environment)?;
        // A setting of the aws CLI: the environment, the bootstrap file, then the profile.
        let cli_setting = |key: &str, profile_key: &str| -> Option<Found> {
            found(key).or_else(|| profile.get(profile_key))
        };
        let number = |key: &str| -> Result<Option<f64>, AwsSettingsError> {
            match lookup(&[key]) {
                None => Ok(None),
                Some(text) => match text.parse::<f64>() {
                    Ok(n) if n > 0.0 && n.is_finite() => Ok(Some(n)),
                    _ => Err(AwsSettingsError(format!(
                        "{key} must be a positive number, not `{}`",
                        text
                    ))),
                },
            }
        };
        let seconds = |key: &str, default: Duration| -> Result<Duration, AwsSettingsError> {
            Ok(number(key)?.map_or(default, Duration::from_secs_f64))
        };
        let max_attempts = match number("FETCH_ENV_AWS_MAX_ATTEMPTS")? {
            Some(n) if n.fract() == 0.0 && n <= 20.0 => n as u32,
            Some(_) => {
                return Err(AwsSettingsError(
                    "FETCH_ENV_AWS_MAX_ATTEMPTS must be a whole number from 1 to 20".into(),
                ));
            }
            None => match cli_setting("AWS_MAX_ATTEMPTS", "max_attempts") {
                None => Self::DEFAULT_MAX_ATTEMPTS,
                Some(Found { value, origin }) => match value.trim().parse::<u32>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return Err(AwsSettingsError(format!(
                            "AWS_MAX_ATTEMPTS ({origin}) must be a whole number of 1 or more, not `{value}`"
                        )));
                    }
                },
            },
        };
        let max_in_flight = match number("FETCH_ENV_AWS_MAX_IN_FLIGHT")? {
            None => Self::DEFAULT_MAX_IN_FLIGHT,
            Some(n) if n.fract() == 0.0 && n <= 100.0 => n as usize,
            Some(_) => {
                return Err(AwsSettingsError(
                    "FETCH_ENV_AWS_MAX_IN_FLIGHT must be a whole number from 1 to 100".into(),
                ));
            }
        };
        let retry_mode = match cli_setting("AWS_RETRY_MODE", "retry_mode") {
            None => RetryMode::Standard,
            Some(Found { value, origin }) => match value.trim() {
                "standard" | "legacy" => RetryMode::Standard,
                "adaptive" => RetryMode::Adaptive,
                _ => {
                    return Err(AwsSettingsError(format!(
                        "AWS_RETRY_MODE ({origin}) must be `standard`, `adaptive` or `legacy`, not `{value}`"
                    )));
                }
            },
        };
        let ca_bundle = match cli_setting("AWS_CA_BUNDLE", "ca_bundle") {
            None => None,
            Some(Found { value, origin }) => Some(CaBundle::read(
                PathBuf::from(value),
                format!("AWS_CA_BUNDLE ({origin})"),
            )?),
        };
        let app_id = match cli_setting("AWS_SDK_UA_APP_ID", "sdk_ua_app_id") {
            Some(Found { value, .. }) => app_id(&value),
            None => app_id(&format!("fetch-env/{service}")),
        };
        Ok(Self {
            region: lookup(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
            endpoint_url: lookup(&["AWS_ENDPOINT_URL"]),
            credentials,
            http_proxy: lookup(&["HTTP_PROXY", "http_proxy"]),
            https_proxy: lookup(&["HTTPS_PROXY", "https_proxy"]),
            no_proxy: lookup(&["NO_PROXY", "no_proxy"]),
            ca_bundle,
            profile: profile.name,
            max_attempts,
            max_in_flight,
            retry_mode,
            connect_timeout: seconds(
                "FETCH_ENV_AWS_CONNECT_TIMEOUT",
                Self::DEFAULT_CONNECT_TIMEOUT,
            )?,
            attempt_timeout: seconds(
                "FETCH_ENV_AWS_ATTEMPT_TIMEOUT",
                Self::DEFAULT_ATTEMPT_TIMEOUT,
            )?,
            operation_timeout: seconds(
                "FETCH_ENV_AWS_OPERATION_TIMEOUT",
                Self::DEFAULT_OPERATION_TIMEOUT,
            )?,
            app_id,
        })
    }
}

/// The SDK app id for `wanted` as the aws CLI sends it: every character a user agent may not
/// hold (`/` among them: it separates a name from its version) becomes `-`. The aws CLI keeps
/// `,`, which the SDK for Rust refuses: it becomes `-` too.
fn app_id(wanted: &str) -> String {
    wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The active profile of the shared config and credentials files, read as the SDK reads them
/// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_PROFILE`, `~`).
struct Profile {
    name: String,
    sections: Option<EnvConfigSections>,
}

impl Profile {
    fn load(environment: &dyn Fn(&str) -> Option<String>) -> Result<Self, AwsSettingsError> {
        let keys = [
            "HOME",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_PROFILE",
        ];
        let values: Vec<(&str, String)> = keys
            .iter()
            .filter_map(|k| environment(k).map(|v| (*k, v)))
            .collect();
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let env = Env::from_slice(&pairs);
        let name = environment("AWS_PROFILE")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        // The SDK reads the files with blocking calls inside its async API: one poll finishes.
        let source =
            aws_runtime::env_config::source::load(&env, &Fs::real(), &EnvConfigFiles::default())
                .now_or_never();
        let sections = match source {
            None => None,
            Some(Err(e)) => {
                return Err(AwsSettingsError(format!(
                    "cannot read the shared AWS config files: {e}"
                )));
            }
            Some(Ok(source)) => Some(EnvConfigSections::parse(source).map_err(|e| {
                AwsSettingsError(format!("cannot read the shared AWS config files: {e}"))
            })?),
        };
        Ok(Self { name, sections })
    }

    fn get(&self, key: &str) -> Option<Found> {
        let sections = self.sections.as_ref()?;
        let value = sections.get_profile(&self.name)?.get(key)?;
        (!value.is_empty()).then(|| Found {
            value: value.to_owned(),
            origin: format!("`{key}` of profile `{}`", self.name),
        })
    }
}

impl CaBundle {
    /// Reads `path` and checks that it holds PEM certificates, each usable as a trust anchor.
    fn read(path: PathBuf, setting: String) -> Result<Self, AwsSettingsError> {
        let refuse = |what: String| {
            AwsSettingsError(format!(
                "{setting} names {}, which {what}; it must be a file of PEM certificates (-----BEGIN CERTIFICATE-----)",
                path.display()
            ))
        };
        let pem = std::fs::read(&path).map_err(|e| refuse(format!("cannot be read ({e})")))?;
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| refuse(format!("is not valid PEM ({e})")))?;
        if certificates.is_empty() {
            return Err(refuse("holds no certificate".into()));
        }
        for (index, certificate) in certificates.iter().enumerate() {
            rustls::RootCertStore::empty()
                .add(certificate.clone())
                .map_err(|e| {
                    refuse(format!(
                        "holds a certificate (number {} in the file) that cannot be read ({e})",
                        index + 1
                    ))
                })?;
        }
        Ok(Self {
            path,
            setting,
            pem,
            certificates,
        })
    }
}

impl fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = |u: &Option<String>| u.as_deref().map(without_userinfo);
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("endpoint_url", &url(&self.endpoint_url))
            .field("credentials", &self.credentials)
            .field("http_proxy", &url(&self.http_proxy))
            .field("https_proxy", &url(&self.https_proxy))
            .field("no_proxy", &self.no_proxy)
            .field("ca_bundle", &self.ca_bundle)
            .field("profile", &self.profile)
            .field("max_attempts", &self.max_attempts)
            .field("max_in_flight", &self.max_in_flight)
            .field("retry_mode", &self.retry_mode)
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("app_id", &self.app_id)
            .finish()
    }
}

/// `url` without a `user:password@` part, which is no business of a report or a `Debug`
/// print. The authority ends at the first `/`; a proxy written without a scheme
/// (`user:password@squid:3128`) is stripped too.
pub(crate) fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match (rest[..authority_end].rfind('@'), scheme) {
        (None, _) => url.to_owned(),
        (Some(at), Some(scheme)) => format!("{scheme}://{}", &rest[at + 1..]),
        (Some(at), None) => rest[at + 1..].to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn bootstrap(text: &str) -> Bootstrap {
        Bootstrap::parse(Arc::from("b.env"), text.as_bytes()).unwrap()
    }

    #[test]
    fn environment_first_then_bootstrap() {
        let b = bootstrap(
            "AWS_REGION=eu-central-1\nHTTPS_PROXY=http://squid:3128\nAWS_ACCESS_KEY_ID=AKIA\nAWS_SECRET_ACCESS_KEY=s\nFETCH_ENV_AWS_MAX_ATTEMPTS=7\n",
        );
        let env = |k: &str| (k == "AWS_REGION").then(|| "us-east-1".to_owned());
        let none = |_: &str| None;
        let s = AwsSettings::load(&env, &b, &none, "api").unwrap();
        assert_eq!(s.region.as_deref(), Some("us-east-1"));
        assert_eq!(s.https_proxy.as_deref(), Some("http://squid:3128"));
        assert_eq!(s.credentials.unwrap().access_key_id.expose(), "AKIA");
        assert_eq!(s.max_attempts, 7);
        assert_eq!(s.connect_timeout, AwsSettings::DEFAULT_CONNECT_TIMEOUT);
        let flag = |k: &str| (k == "FETCH_ENV_AWS_MAX_ATTEMPTS").then(|| "2".to_owned());
        assert_eq!(
            AwsSettings::load(&env, &b, &flag, "api")
                .unwrap()
                .max_attempts,
            2
        );
    }

    #[test]
    fn keys_in_the_environment_leave_credentials_to_the_sdk_chain() {
        let b = bootstrap("AWS_ACCESS_KEY_ID=AKIA\nAWS_SECRET_ACCESS_KEY=s\n");
        let env = |k: &str| (k == "AWS_ACCESS_KEY_ID").then(|| "ENV".to_owned());
        let none = |_: &str| None;
        assert!(
            AwsSettings::load(&env, &b, &none, "api")
                .unwrap()
                .credentials
                .is_none()
        );
    }

    /// Proxy and endpoint URLs with a password in them, as a bootstrap file may hold them.
    fn settings_with_userinfo() -> AwsSettings {
        let b = bootstrap(
            "AWS_REGION=eu-central-1\nAWS_ACCESS_KEY_ID=AKIA\nAWS_SECRET_ACCESS_KEY=key-s3cret\n",
        );
        let env = |k: &str| match k {
            "HTTPS_PROXY" => Some("http://user:s3cret@proxy:3128".to_owned()),
            "HTTP_PROXY" => Some("user:s3cret@plain-proxy:3128".to_owned()),
            "AWS_ENDPOINT_URL" => Some("https://user:s3cret@endpoint.example:4566/".to_owned()),
            _ => None,
        };
        AwsSettings::load(&env, &b, &|_| None, "api").unwrap()
    }

    #[test]
    fn debug_never_prints_url_userinfo() {
        let settings = settings_with_userinfo();
        assert_eq!(
            settings.https_proxy.as_deref(),
            Some("http://user:s3cret@proxy:3128"),
            "the settings keep the credentials the proxy needs"
        );
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("user:"), "{shown}");
        assert!(shown.contains("http://proxy:3128"), "{shown}");
        assert!(shown.contains("plain-proxy:3128"), "{shown}");
        assert!(shown.contains("https://endpoint.example:4566/"), "{shown}");
        assert!(shown.contains("eu-central-1"), "{shown}");
    }

    #[test]
    fn userinfo_is_stripped_from_the_authority_only() {
        for (url, stripped) in [
            ("http://user:s3cret@proxy:3128", "http://proxy:3128"),
            ("http://user@proxy:3128/", "http://proxy:3128/"),
            ("http://us@r:s3cr@t@proxy:3128", "http://proxy:3128"),
            ("user:s3cret@proxy:3128", "proxy:3128"),
            ("http://proxy:3128/a@b", "http://proxy:3128/a@b"),
            (
                "https://ssm.eu-central-1.amazonaws.com",
                "https://ssm.eu-central-1.amazonaws.com",
            ),
        ] {
            assert_eq!(without_userinfo(url), stripped, "{url}");
        }
    }

    #[test]
    fn half_a_key_pair_and_bad_numbers_are_errors() {
        let none = |_: &str| None;
        let err = AwsSettings::load(&none, &bootstrap("AWS_ACCESS_KEY_ID=AKIA\n"), &none, "api")
            .unwrap_err();
        assert!(err.0.contains("only one of"), "{err}");
        let err = AwsSettings::load(
            &none,
            &bootstrap("FETCH_ENV_AWS_CONNECT_TIMEOUT=soon\n"),
            &none,
            "api",
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "FETCH_ENV_AWS_CONNECT_TIMEOUT must be a positive number, not `soon`"
        );
    }
}
