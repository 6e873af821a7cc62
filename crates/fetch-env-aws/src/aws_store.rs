//! [`AwsStore`]: one [`StoreRequest`] answered with the fewest, most concurrent requests.
//!
//! - SSM by path: `GetParametersByPath` pages, one after another (each needs the previous
//!   page's token). By names: `GetParameters`, ten names a call, the calls concurrently (at
//!   most `max_in_flight` at once, 16 by default: each needs a connection and a handshake).
//! - Bundles by prefix: `BatchGetSecretValue` with a name filter (names and values together);
//!   where that call is refused, `ListSecrets` then one `GetSecretValue` per secret. The
//!   canonical bundle: one `GetSecretValue`, a missing bundle being empty.
//! - `arn_from` secrets: one `GetSecretValue` per distinct id, concurrently (at most
//!   `max_in_flight` at once).
//!
//! The three run concurrently on one thread; nothing is requested twice.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::imds;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder as HttpClientBuilder, Connector};
use aws_types::app_name::AppName;
use aws_types::region::Region;
use fetch_env_core::{
    BundleQuery, FetchedSecret, Parameter, ParameterQuery, SecretFetchError, SecretPayload,
    SecretValue, Store, StoreError, StoreRequest, StoreResponse,
};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::actions::{
    BATCH_GET_SECRET_VALUE, GET_PARAMETERS, GET_PARAMETERS_BY_PATH, GET_SECRET_VALUE, LIST_SECRETS,
};
use crate::aws_settings::{AwsSettings, CaBundle, RetryMode, without_userinfo};
use crate::call_counter::CallCounter;
use crate::certificate_probe::{self, Presented, Proxies};
use crate::error_translation::{batch_read_error, chain, is_not_found, is_refused, translate};

/// SSM and Secrets Manager through the AWS SDK.
pub struct AwsStore {
    runtime: tokio::runtime::Runtime,
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
    credentials: SharedCredentialsProvider,
    region: String,
    endpoint: Option<String>,
    counter: CallCounter,
    /// Requests of one group in flight at once (AwsSettings::max_in_flight).
    in_flight: usize,
    phases: Mutex<Vec<(&'static str, Duration)>>,
    /// What is needed to say whose certificate was refused, should TLS refuse one.
    tls: TlsFacts,
}

/// The trust settings and proxies the connections use, for [`certificate_probe`].
struct TlsFacts {
    ca_bundle: Option<CaBundle>,
    profile: String,
    proxies: Proxies,
}

impl fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsStore")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint.as_deref().map(without_userinfo))
            .finish_non_exhaustive()
    }
}

/// How long the credential chain may take before fetch-env gives up: off EC2 the instance
/// metadata service never answers, and a boot must not hang on it.
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(2);

impl AwsStore {
    /// Builds the clients. Nothing is sent until [`Store::fetch`].
    pub fn new(settings: &AwsSettings) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start the I/O runtime: {e}")))?;
        // Without a region nothing can be asked of AWS; that is an error only for a request
        // that needs AWS (a manifest of local variables runs anywhere).
        let region = settings.region.clone().unwrap_or_default();
        let proxy = proxy_config(settings)?;
        let tls_context = tls_context(settings.ca_bundle.as_ref())?;
        let http_client =
            HttpClientBuilder::new().build_with_connector_fn(move |settings, components| {
                let mut builder = Connector::builder();
                builder.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    builder.set_sleep_impl(components.sleep_impl());
                }
                builder
                    .proxy_config(proxy.clone())
                    .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                    .tls_context(tls_context.clone())
                    .build()
            });
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.attempt_timeout)
            .operation_attempt_timeout(settings.attempt_timeout)
            .operation_timeout(settings.operation_timeout)
            .build();
        let credentials = match &settings.credentials {
            Some(keys) => SharedCredentialsProvider::new(Credentials::new(
                keys.access_key_id.expose(),
                keys.secret_access_key.expose(),
                keys.session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "bootstrap file",
            )),
            None => {
                // The default chain (environment, profile, web identity, ECS, IMDSv2), with an
                // instance metadata client that gives up quickly off EC2.
                let provider_config = ProviderConfig::default()
                    .with_http_client(http_client.clone())
                    .with_region(Some(Region::new(region.clone())));
                let imds = imds::Client::builder()
                    .configure(&provider_config)
                    .connect_timeout(Duration::from_millis(500))
                    .read_timeout(Duration::from_millis(1000))
                    .max_attempts(1)
                    .build();
                let chain = runtime.block_on(
                    DefaultCredentialsChain::builder()
                        .configure(provider_config)
                        // Without it the chain would ask the metadata service for the region.
                        .region(Region::new(region.clone()))
                        .imds_client(imds)
                        .build(),
                );
                SharedCredentialsProvider::new(chain)
            }
        };
        let app_name = AppName::new(settings.app_id.clone()).map_err(|_| {
            StoreError::Invalid(format!(
                "the SDK app id `{}` holds a character a user agent may not",
                settings.app_id
            ))
        })?;
        let retry = match settings.retry_mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .http_client(http_client)
            .credentials_provider(credentials.clone())
            .app_name(app_name)
            .retry_config(
                retry
                    .with_max_attempts(settings.max_attempts)
                    .with_initial_backoff(AwsSettings::INITIAL_BACKOFF)
                    .with_max_backoff(AwsSettings::MAX_BACKOFF),
            )
            .timeout_config(timeouts);
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let config = runtime.block_on(loader.load());
        let counter = CallCounter::default();
        let ssm = aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&config)
                .interceptor(counter.clone())
                .build(),
        );
        let secrets = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&config)
                .interceptor(counter.clone())
                .build(),
        );
        Ok(Self {
            runtime,
            ssm,
            secrets,
            credentials,
            region,
            endpoint: settings.endpoint_url.clone(),
            counter,
            in_flight: settings.max_in_flight.max(1),
            phases: Mutex::new(Vec::new()),
            tls: TlsFacts {
                ca_bundle: settings.ca_bundle.clone(),
                profile: settings.profile.clone(),
                proxies: Proxies {
                    https: settings.https_proxy.clone(),
                    no_proxy: settings.no_proxy.clone(),
                },
            },
        })
    }

    /// Resolves credentials once, before any request, so that a host without any fails fast
    /// with one clear message instead of one per request.
    async fn check_credentials(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let result =
            tokio::time::timeout(CREDENTIALS_TIMEOUT, self.credentials.provide_credentials()).await;
        self.record("credentials", started);
        let hint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment or the bootstrap file, set AWS_PROFILE, or run on an instance with a role";
        let hop_limit = |timed_out: bool| match (timed_out, container_clue()) {
            (true, Some(clue)) => format!("\n{}", hop_limit_hint(clue)),
            _ => String::new(),
        };
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let metadata_timed_out = {
                    let lower = chain(&e).to_ascii_lowercase();
                    (lower.contains("imds") || lower.contains("metadata"))
                        && (lower.contains("timeout") || lower.contains("timed out"))
                };
                Err(StoreError::Unavailable(format!(
                    "no AWS credentials could be loaded ({e}); {hint}{}",
                    hop_limit(metadata_timed_out)
                )))
            }
            Err(_) => Err(StoreError::Unavailable(format!(
                "no AWS credentials within {} s (the instance metadata service did not answer); {hint}{}",
                CREDENTIALS_TIMEOUT.as_secs(),
                hop_limit(true)
            ))),
        }
    }

    fn record(&self, phase: &'static str, started: Instant) {
        if let Ok(mut phases) = self.phases.lock() {
            phases.push((phase, started.elapsed()));
        }
    }

    async fn parameters(&self, query: &ParameterQuery) -> Result<Vec<Parameter>, StoreError> {
        let started = Instant::now();
        let result = match query {
            ParameterQuery::None => Ok(Vec::new()),
            ParameterQuery::ByPath { path } => self.parameters_by_path(path).await,
            ParameterQuery::ByNames { path, names } => self.parameters_by_names(path, names).await,
        };
        self.record("ssm", started);
        result
    }

    async fn parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, StoreError> {
        // SSM authorizes GetParametersByPath against the path without its trailing slash.
        let request_path = path.trim_end_matches('/');
        let mut parameters = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .ssm
                .get_parameters_by_path()
                .path(request_path)
                .recursive(true)
                .with_decryption(true)
                .max_results(10)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| translate(&e, GET_PARAMETERS_BY_PATH, request_path))?;
            parameters.extend(page.parameters().iter().filter_map(parameter));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(parameters)
    }

    async fn parameters_by_names(
        &self,
        path: &str,
        names: &[String],
    ) -> Result<Vec<Parameter>, StoreError> {
        let calls = names.chunks(10).map(|chunk| async move {
            let full: Vec<String> = chunk.iter().map(|n| format!("{path}{n}")).collect();
            let answer = self
                .ssm
                .get_parameters()
                .set_names(Some(full))
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| translate(&e, GET_PARAMETERS, &format!("{path}*")))?;
            // Names SSM does not know come back in `InvalidParameters`: simply absent.
            Ok::<_, StoreError>(
                answer
                    .parameters()
                    .iter()
                    .filter_map(parameter)
                    .collect::<Vec<_>>(),
            )
        });
        let batches: Vec<Vec<Parameter>> = stream::iter(calls)
            .buffered(self.in_flight)
            .try_collect()
            .await?;
        Ok(batches.into_iter().flatten().collect())
    }

    async fn bundles(&self, query: &BundleQuery) -> Result<Vec<FetchedSecret>, StoreError> {
        let started = Instant::now();
        let result = match query {
            BundleQuery::None => Ok(Vec::new()),
            BundleQuery::Named { name } => match self.secret_by_id(name).await? {
                Ok(secret) => Ok(vec![secret]),
                Err(SecretFetchError::NotFound) => Ok(Vec::new()),
            },
            BundleQuery::Prefix { prefix } => self.bundles_by_prefix(prefix).await,
        };
        self.record("secrets manager bundles", started);
        result
    }

    async fn bundles_by_prefix(&self, prefix: &str) -> Result<Vec<FetchedSecret>, StoreError> {
        let filter = Filter::builder()
            .key(FilterNameStringType::Name)
            .values(prefix)
            .build();
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .secrets
                .batch_get_secret_value()
                .filters(filter.clone())
                .max_results(20)
                .set_next_token(token.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) if is_refused(&e) && found.is_empty() => {
                    // Roles granted ListSecrets but not the newer BatchGetSecretValue.
                    return self.bundles_by_listing(prefix, &filter).await.map_err(|fallback| {
                        StoreError::Unavailable(format!(
                            "{BATCH_GET_SECRET_VALUE} on {prefix}* was refused, and so was the fallback: {fallback}"
                        ))
                    });
                }
                Err(e) => {
                    return Err(translate(&e, BATCH_GET_SECRET_VALUE, &format!("{prefix}*")));
                }
            };
            for value in page.secret_values() {
                let Some(name) = value.name() else { continue };
                found.push(FetchedSecret {
                    name: name.to_owned(),
                    payload: payload(value.secret_string(), value.secret_binary().is_some()),
                    version: value.version_id().map(str::to_owned),
                });
            }
            // Every error of the page counts, not only the first: a secret that could not be
            // read is missing from `secret_values`, and its variables would silently fall back
            // to their defaults.
            let unreadable: Vec<String> = page
                .errors()
                .iter()
                .filter(|error| !vanished_after_listing(error))
                .map(|error| {
                    batch_read_error(
                        error.secret_id().unwrap_or(prefix),
                        error.error_code().unwrap_or("an unknown error"),
                        error.message(),
                    )
                })
                .collect();
            if !unreadable.is_empty() {
                return Err(StoreError::Unavailable(unreadable.join("\n")));
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        // The service's name filter is a prefix match that may ignore case; ours does not.
        found.retain(|s| s.name.starts_with(prefix));
        Ok(found)
    }

    async fn bundles_by_listing(
        &self,
        prefix: &str,
        filter: &Filter,
    ) -> Result<Vec<FetchedSecret>, StoreError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .secrets
                .list_secrets()
                .filters(filter.clone())
                .max_results(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    translate(
                        &e,
                        LIST_SECRETS,
                        &format!("{prefix}* (or use --secrets-lookup bundle)"),
                    )
                })?;
            names.extend(
                page.secret_list()
                    .iter()
                    .filter_map(|s| s.name())
                    .filter(|n| n.starts_with(prefix))
                    .map(str::to_owned),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        let reads = names.iter().map(|name| self.secret_by_id(name));
        let read: Vec<_> = stream::iter(reads)
            .buffered(self.in_flight)
            .try_collect()
            .await?;
        Ok(read.into_iter().filter_map(Result::ok).collect())
    }

    async fn secret_by_id(
        &self,
        id: &str,
    ) -> Result<Result<FetchedSecret, SecretFetchError>, StoreError> {
        match self.current_secret(id).await {
            Ok(answer) => Ok(Ok(FetchedSecret {
                name: answer.name().unwrap_or(id).to_owned(),
                payload: payload(answer.secret_string(), answer.secret_binary().is_some()),
                version: answer.version_id().map(str::to_owned),
            })),
            Err(e) if is_not_found(&e) => Ok(Err(SecretFetchError::NotFound)),
            Err(e) => Err(translate(&e, GET_SECRET_VALUE, id)),
        }
    }

    /// `GetSecretValue` of `id`'s current version. `AWSCURRENT` is the default; naming it also
    /// makes moto answer the current version after a stage move (its default does not follow
    /// `UpdateSecretVersionStage`).
    pub(crate) async fn current_secret(
        &self,
        id: &str,
    ) -> Result<
        aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput,
        aws_sdk_secretsmanager::error::SdkError<
            aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    > {
        self.secrets
            .get_secret_value()
            .secret_id(id)
            .version_stage(CURRENT_STAGE)
            .send()
            .await
    }

    async fn arn_secrets(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, Result<FetchedSecret, SecretFetchError>)>, StoreError> {
        let started = Instant::now();
        let reads = ids.iter().map(|id| async move {
            Ok::<_, StoreError>((id.clone(), self.secret_by_id(id).await?))
        });
        let result = stream::iter(reads)
            .buffered(self.in_flight)
            .try_collect()
            .await;
        self.record("arn_from secrets", started);
        result
    }
}

/// `true` for the one error of a `BatchGetSecretValue` answer that is no failure: a secret
/// the service listed under the prefix and that was deleted before it could be read, which is
/// then simply absent, as it would be a moment later. Any other error (access denied, a key KMS
/// would not use, a not-found that names no secret) leaves a bundle unread.
fn vanished_after_listing(error: &aws_sdk_secretsmanager::types::ApiErrorType) -> bool {
    error.error_code() == Some("ResourceNotFoundException")
        && error.secret_id().is_some_and(|id| !id.is_empty())
}

fn parameter(p: &aws_sdk_ssm::types::Parameter) -> Option<Parameter> {
    Some(Parameter {
        path: p.name()?.to_owned(),
        value: SecretValue::from(p.value().unwrap_or_default()),
        secure: p.r#type() == Some(&aws_sdk_ssm::types::ParameterType::SecureString),
        version: Some(p.version().to_string()),
    })
}

impl AwsStore {
    /// Fails when no region is set: nothing can be asked of AWS without one.
    pub(crate) fn require_region(&self) -> Result<(), StoreError> {
        if self.region.is_empty() {
            return Err(StoreError::Invalid(
                "AWS_REGION is not set: put AWS_REGION=… in the environment or the bootstrap file"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Runs `future` on the store's runtime; a refused certificate is named as in a fetch.
    pub(crate) fn block_on<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.runtime.block_on(async {
            match future.await {
                Err(StoreError::Unavailable(message)) if message.contains(CERTIFICATE_REFUSED) => {
                    Err(StoreError::Unavailable(format!(
                        "{message}\n{}",
                        self.refused_certificate().await
                    )))
                }
                other => other,
            }
        })
    }

    pub(crate) async fn credentials_ready(&self) -> Result<(), StoreError> {
        self.check_credentials().await
    }

    pub(crate) fn ssm(&self) -> &aws_sdk_ssm::Client {
        &self.ssm
    }

    pub(crate) fn secrets(&self) -> &aws_sdk_secretsmanager::Client {
        &self.secrets
    }
}

/// The stage of a secret's current version.
pub(crate) const CURRENT_STAGE: &str = "AWSCURRENT";

/// What rustls says when it refuses a server's certificate.
const CERTIFICATE_REFUSED: &str = "invalid peer certificate";

impl AwsStore {
    /// Whose certificate was refused, read by one more handshake with each HTTPS endpoint
    /// requested, and where to add its CA.
    async fn refused_certificate(&self) -> String {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(bundle) = &self.tls.ca_bundle {
            roots.add_parsable_certificates(bundle.certificates.iter().cloned());
        }
        let roots = Arc::new(roots);
        let mut shown = None;
        for endpoint in self.counter.endpoints() {
            if !endpoint.starts_with("https://") {
                continue;
            }
            if let Some(presented) = certificate_probe::presented(
                &endpoint,
                &self.tls.proxies,
                roots.clone(),
                Duration::from_secs(5),
            )
            .await
            {
                shown = Some(presented);
                break;
            }
        }
        let trust = format!(
            "to trust its CA, name a PEM file of CA certificates in AWS_CA_BUNDLE (environment or bootstrap file) or in `ca_bundle` of profile `{}` in the shared config file (they are added to the system store), or add the CA to the system store (SSL_CERT_FILE, /etc/ssl/certs)",
            self.tls.profile
        );
        let bundle = match &self.tls.ca_bundle {
            Some(bundle) => format!(
                "; {} names {} now, and no certificate in it vouches for this one",
                bundle.setting,
                bundle.path.display()
            ),
            None => String::new(),
        };
        match shown {
            Some(Presented {
                host,
                subject,
                issuer,
                top,
                verdict,
            }) => {
                let chain = match top {
                    Some((top_subject, top_issuer)) => format!(
                        "; the chain it sent ends at `{top_subject}`, issued by `{top_issuer}`"
                    ),
                    None => String::new(),
                };
                format!(
                    "{host} presented a certificate for `{subject}`, issued by `{issuer}`{chain} ({verdict}): {trust}{bundle}"
                )
            }
            None => format!("the server's certificate was refused: {trust}{bundle}"),
        }
    }
}

/// The trust store of every connection: the system's roots and those of the CA bundle.
fn tls_context(bundle: Option<&CaBundle>) -> Result<TlsContext, StoreError> {
    let mut trust = TrustStore::empty().with_native_roots(true);
    if let Some(bundle) = bundle {
        trust = trust.with_pem_certificate(bundle.pem.clone());
    }
    TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| StoreError::Invalid(format!("cannot set up TLS: {e}")))
}

/// Why this process is likely in a container, if it is.
fn container_clue() -> Option<&'static str> {
    if std::path::Path::new("/.dockerenv").exists() {
        Some("/.dockerenv exists")
    } else if std::path::Path::new("/run/.containerenv").exists() {
        Some("/run/.containerenv exists")
    } else if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        Some("KUBERNETES_SERVICE_HOST is set")
    } else if std::env::var_os("ECS_CONTAINER_METADATA_URI_V4").is_some() {
        Some("ECS_CONTAINER_METADATA_URI_V4 is set")
    } else if std::env::var_os("container").is_some() {
        Some("the `container` variable is set")
    } else {
        None
    }
}

fn hop_limit_hint(clue: &str) -> String {
    format!(
        "fetch-env runs in a container ({clue}): the instance metadata service answers a container behind a bridge only when the instance's IMDSv2 hop limit is 2 or more (the default is 1 on many AMIs); raise it with `aws ec2 modify-instance-metadata-options --instance-id INSTANCE --http-put-response-hop-limit 2 --http-endpoint enabled` (or HttpPutResponseHopLimit in the launch template's metadata options), run the container on the host's network, or give it credentials another way"
    )
}

fn payload(text: Option<&str>, binary: bool) -> SecretPayload {
    match text {
        Some(text) => SecretPayload::Text(SecretValue::from(text)),
        None if binary => SecretPayload::Binary,
        None => SecretPayload::Text(SecretValue::from("")),
    }
}

/// `HTTPS_PROXY` for an `https://` endpoint (AWS itself), `HTTP_PROXY` for an `http://` one,
/// with `NO_PROXY` exemptions. Plain-HTTP credential endpoints (instance metadata, ECS) are
/// proxied only when the endpoint is plain HTTP too, and then `NO_PROXY` should exempt them.
fn proxy_config(settings: &AwsSettings) -> Result<ProxyConfig, StoreError> {
    let plain_http = settings
        .endpoint_url
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let config = if plain_http {
        settings.http_proxy.as_deref().map(ProxyConfig::http)
    } else {
        settings.https_proxy.as_deref().map(ProxyConfig::https)
    };
    match config {
        None => Ok(ProxyConfig::disabled()),
        Some(Ok(config)) => Ok(match &settings.no_proxy {
            Some(rules) => config.no_proxy(rules),
            None => config,
        }),
        Some(Err(e)) => Err(StoreError::Invalid(format!(
            "the proxy setting is not a URL: {}",
            e
        ))),
    }
}

impl Store for AwsStore {
    fn fetch(&self, request: &StoreRequest) -> Result<StoreResponse, StoreError> {
        let nothing_remote = request.parameters == ParameterQuery::None
            && request.bundles == BundleQuery::None
            && request.secrets.is_empty();
        if nothing_remote {
            return Ok(StoreResponse::default());
        }
        self.require_region()?;
        self.block_on(async {
            self.check_credentials().await?;
            let (parameters, bundles, secrets) = tokio::try_join!(
                self.parameters(&request.parameters),
                self.bundles(&request.bundles),
                self.arn_secrets(&request.secrets),
            )?;
            Ok(StoreResponse {
                parameters,
                bundles,
                secrets,
            })
        })
    }

    fn describe(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("aws:{} via {}", self.region, without_userinfo(endpoint)),
            None => format!("aws:{}", self.region),
        }
    }

    fn statistics(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .counter
            .snapshot()
            .into_iter()
            .map(|(operation, calls, requests)| {
                format!("{operation}: {calls} calls, {requests} requests")
            })
            .collect();
        if let Ok(phases) = self.phases.lock() {
            lines.extend(
                phases
                    .iter()
                    .map(|(phase, took)| format!("{phase}: {} ms", took.as_millis())),
            );
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StaticCredentials;

    #[test]
    fn debug_never_prints_url_userinfo() {
        let settings = AwsSettings {
            region: Some("eu-central-1".into()),
            endpoint_url: Some("https://user:s3cret@endpoint.example:4566".into()),
            credentials: Some(StaticCredentials {
                access_key_id: SecretValue::from("AKIA"),
                secret_access_key: SecretValue::from("key-s3cret"),
                session_token: None,
            }),
            http_proxy: None,
            https_proxy: Some("http://user:s3cret@proxy:3128".into()),
            no_proxy: None,
            ca_bundle: None,
            profile: "default".into(),
            max_attempts: AwsSettings::DEFAULT_MAX_ATTEMPTS,
            max_in_flight: AwsSettings::DEFAULT_MAX_IN_FLIGHT,
            retry_mode: RetryMode::Standard,
            connect_timeout: AwsSettings::DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: AwsSettings::DEFAULT_ATTEMPT_TIMEOUT,
            operation_timeout: AwsSettings::DEFAULT_OPERATION_TIMEOUT,
            app_id: "fetch-env-api".into(),
        };
        let store = AwsStore::new(&settings).unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("user:"), "{shown}");
        assert!(shown.contains("https://endpoint.example:4566"), "{shown}");
        let described = store.describe();
        assert_eq!(
            described,
            "aws:eu-central-1 via https://endpoint.example:4566"
        );
    }
}
