//! Whose certificate a server presented when TLS refused it. rustls says only why
//! (`UnknownIssuer`); to know which CA to trust, an operator needs to know whose certificate it
//! was: AWS's, a TLS-inspecting proxy's, or a VPC endpoint's behind a corporate CA. After a
//! refusal, one more handshake to the same host, through the same proxy and with the same
//! roots, keeps the chain the server sends and gives the same verdict. Certificates are public:
//! nothing of a request or a credential is sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tower_service::Service as _;
use x509_cert::der::Decode as _;

/// What the server at `host` presented and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presented {
    pub host: String,
    pub subject: String,
    pub issuer: String,
    /// The subject and issuer of the last certificate of the chain, when it is not the server's
    /// own: the one whose issuer no root vouches for.
    pub top: Option<(String, String)>,
    /// rustls's verdict (`invalid peer certificate: UnknownIssuer`).
    pub verdict: String,
}

/// The proxies of the store's settings, as the SDK's connector applies them.
pub(crate) struct Proxies {
    pub https: Option<String>,
    pub no_proxy: Option<String>,
}

/// Handshakes with `endpoint` (`https://host[:port]`) and describes its certificate chain, or
/// `None` when the handshake could not be made, or succeeded.
pub(crate) async fn presented(
    endpoint: &str,
    proxies: &Proxies,
    roots: Arc<RootCertStore>,
    limit: Duration,
) -> Option<Presented> {
    tokio::time::timeout(limit, probe(endpoint, proxies, roots))
        .await
        .ok()
        .flatten()
}

async fn probe(endpoint: &str, proxies: &Proxies, roots: Arc<RootCertStore>) -> Option<Presented> {
    let uri: Uri = endpoint.parse().ok()?;
    let host = uri.host()?.trim_matches(['[', ']']).to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let stream = connect(&uri, &host, port, proxies).await?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .ok()?;
    let keeping = Arc::new(Keeping {
        inner,
        chain: Mutex::new(Vec::new()),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(keeping.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).ok()?;
    let verdict = match tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
    {
        Ok(_) => return None,
        Err(e) => e.to_string(),
    };
    let chain = keeping.chain.lock().ok()?.clone();
    let names = |der: &CertificateDer<'_>| {
        let certificate = x509_cert::Certificate::from_der(der).ok()?;
        let tbs = certificate.tbs_certificate();
        Some((tbs.subject().to_string(), tbs.issuer().to_string()))
    };
    let (subject, issuer) = names(chain.first()?)?;
    let top = match chain.len() {
        0 | 1 => None,
        n => names(&chain[n - 1]),
    };
    Some(Presented {
        host: match uri.port_u16() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        },
        subject,
        issuer,
        top,
        verdict,
    })
}

/// A TCP connection to `host:port`, through an HTTP CONNECT tunnel where `HTTPS_PROXY` applies.
async fn connect(uri: &Uri, host: &str, port: u16, proxies: &Proxies) -> Option<TcpStream> {
    let mut matcher = Matcher::builder();
    if let Some(proxy) = &proxies.https {
        matcher = matcher.https(proxy.clone());
    }
    if let Some(rules) = &proxies.no_proxy {
        matcher = matcher.no(rules.clone());
    }
    match matcher.build().intercept(uri) {
        None => TcpStream::connect((host, port)).await.ok(),
        Some(intercept) => {
            let mut tunnel = Tunnel::new(intercept.uri().clone(), HttpConnector::new());
            if let Some(auth) = intercept.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            std::future::poll_fn(|cx| tunnel.poll_ready(cx))
                .await
                .ok()?;
            let target: Uri = format!("https://{host}:{port}").parse().ok()?;
            Some(tunnel.call(target).await.ok()?.into_inner())
        }
    }
}

/// WebPKI verification that keeps the chain it was shown.
#[derive(Debug)]
struct Keeping {
    inner: Arc<WebPkiServerVerifier>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Keeping {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
