//! SDK errors, translated for the operator who reads them at 3 a.m.: which action on which
//! resource, what to grant or check. Server messages never hold a value; the binary's one
//! renderer makes them safe for a terminal.

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use fetch_env_core::StoreError;

use crate::actions::BATCH_GET_SECRET_VALUE;

/// The error code and message of a service error. Where the answer was not in the protocol's
/// own shape (an XML `ErrorResponse` from a proxy or an AWS-compatible server), they are read
/// from the body, and a bare 403 is an access denial.
fn code_and_message<E: ProvideErrorMetadata>(
    error: &SdkError<E, HttpResponse>,
) -> Option<(String, Option<String>)> {
    if let Some(code) = error.as_service_error().and_then(|s| s.code()) {
        let message = error.as_service_error().and_then(|s| s.message());
        return Some((code.to_owned(), message.map(str::to_owned)));
    }
    // An answer the protocol could not parse: a service error without a code, or (for some
    // clients) a response error. Either may still be an error in another shape.
    let response = error.raw_response()?;
    let body = response
        .body()
        .bytes()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let element = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_owned())
    };
    match (element("Code"), response.status().as_u16()) {
        (Some(code), _) => Some((code, element("Message"))),
        (None, 403) => Some(("AccessDenied".to_owned(), None)),
        // A success status whose body could not be read is not an error code.
        (None, status) if status < 300 => None,
        (None, status) => Some((format!("HTTP {status}"), None)),
    }
}

/// Translates `error` from calling `action` (e.g. `ssm:GetParametersByPath`) on `resource`.
pub(crate) fn translate<E>(
    error: &SdkError<E, HttpResponse>,
    action: &str,
    resource: &str,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = match error {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
            answer_message(error, action, resource)
        }
        SdkError::TimeoutError(_) => {
            let cause = chain(error);
            let setting = if cause.contains("attempt") {
                "FETCH_ENV_AWS_ATTEMPT_TIMEOUT"
            } else {
                "FETCH_ENV_AWS_OPERATION_TIMEOUT"
            };
            format!(
                "{action} on {resource} timed out ({cause}); raise {setting} or check the network path to AWS"
            )
        }
        SdkError::DispatchFailure(failure) => {
            let cause = chain(error);
            if cause.contains("credentials") || cause.contains("identity") {
                credentials_message(&cause)
            } else if cause.contains("invalid peer certificate") {
                // The store adds whose certificate it was and where to trust its CA.
                format!(
                    "{action} on {resource}: the endpoint's TLS certificate was refused ({cause})"
                )
            } else if failure.is_timeout() && cause.contains("connect") {
                format!(
                    "{action} on {resource}: the connection timed out ({cause}); raise FETCH_ENV_AWS_CONNECT_TIMEOUT or check AWS_ENDPOINT_URL and the proxy settings"
                )
            } else if failure.is_timeout() {
                format!(
                    "{action} on {resource}: no answer in time ({cause}); raise FETCH_ENV_AWS_ATTEMPT_TIMEOUT or check the network path to AWS"
                )
            } else if failure.is_io() && cause.contains("refused") {
                format!(
                    "{action} on {resource}: cannot reach the endpoint ({cause}); check AWS_ENDPOINT_URL and the proxy settings (HTTPS_PROXY for https://, HTTP_PROXY for http://, NO_PROXY)"
                )
            } else if failure.is_io() {
                format!(
                    "{action} on {resource}: the connection failed ({cause}); check AWS_ENDPOINT_URL and the proxy settings (HTTPS_PROXY for https://, HTTP_PROXY for http://, NO_PROXY)"
                )
            } else {
                format!("{action} on {resource}: the request failed ({cause})")
            }
        }
        SdkError::ConstructionFailure(_) => {
            let cause = chain(error);
            if cause.contains("credentials") || cause.contains("identity") {
                credentials_message(&cause)
            } else {
                format!("{action} on {resource}: the request could not be built ({cause})")
            }
        }
        _ => format!("{action} on {resource} failed ({})", chain(error)),
    };
    StoreError::Unavailable(message)
}

/// An answer that came back: an error in the protocol's shape (or an XML one, or a bare 403),
/// or one that could not be read at all.
fn answer_message<E>(error: &SdkError<E, HttpResponse>, action: &str, resource: &str) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match code_and_message(error) {
        Some((code, message)) => {
            let detail = message.map(|m| format!(": {}", m)).unwrap_or_default();
            service_message(&code.to_string(), &detail, action, resource)
        }
        None => format!(
            "{action} on {resource}: the answer could not be read ({})",
            chain(error)
        ),
    }
}

fn service_message(code: &str, detail: &str, action: &str, resource: &str) -> String {
    let lower = detail.to_ascii_lowercase();
    match code {
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation"
            if lower.contains("kms") =>
        {
            format!(
                "access denied: KMS would not decrypt for {action} on {resource}; grant kms:Decrypt on the key that encrypts it{detail}"
            )
        }
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => format!(
            "access denied: the credentials may not call {action} on {resource}; grant it to the host's role{detail}"
        ),
        "DecryptionFailure"
        | "KMSAccessDeniedException"
        | "KMSDisabledException"
        | "KMSInvalidStateException"
        | "KMSNotFoundException"
        | "InvalidKeyId" => format!(
            "KMS could not decrypt for {action} on {resource} ({code}); check the key and grant kms:Decrypt{detail}"
        ),
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => format!(
            "{action} on {resource} is still throttled after every retry ({code}); raise FETCH_ENV_AWS_MAX_ATTEMPTS or restart hosts in smaller waves{detail}"
        ),
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "ExpiredTokenException" => format!(
            "AWS rejected the credentials ({code}) for {action} on {resource}; check the access keys or the instance role{detail}"
        ),
        _ => format!("{action} on {resource} failed: {code}{detail}"),
    }
}

/// One entry of a `BatchGetSecretValue` answer's `Errors`: the secret it could not read and the
/// service's code, with what to grant where the code says. The call reads each secret with the
/// caller's `secretsmanager:GetSecretValue` on it, and decrypts with `kms:Decrypt` on its key.
pub(crate) fn batch_read_error(secret: &str, code: &str, message: Option<&str>) -> String {
    let secret = secret.to_string();
    let code = code.to_string();
    let detail = message
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {}", m))
        .unwrap_or_default();
    let hint = match code.as_str() {
        "AccessDeniedException" | "AccessDenied" => {
            "; grant secretsmanager:GetSecretValue on it to the host's role"
        }
        "DecryptionFailure"
        | "KMSAccessDeniedException"
        | "KMSDisabledException"
        | "KMSInvalidStateException"
        | "KMSNotFoundException" => {
            "; check the KMS key that encrypts it and grant kms:Decrypt on it"
        }
        _ => "",
    };
    format!("{BATCH_GET_SECRET_VALUE} could not read {secret}: {code}{detail}{hint}")
}

fn credentials_message(cause: &str) -> String {
    format!(
        "no AWS credentials could be loaded ({cause}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment or the bootstrap file, set AWS_PROFILE, or run on an instance with a role"
    )
}

/// The error and its sources, as one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    (parts.join(": ")).to_string()
}

/// The service's error code of `error`, if it answered with one.
pub(crate) fn code_of<E: ProvideErrorMetadata>(
    error: &SdkError<E, HttpResponse>,
) -> Option<String> {
    code_and_message(error).map(|(code, _)| code)
}

/// `true` when `error` is the service saying the thing does not exist.
pub(crate) fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    code_and_message(error)
        .is_some_and(|(code, _)| code == "ResourceNotFoundException" || code == "ParameterNotFound")
}

/// `true` when the service refused the call itself (not the resource): a cue to fall back to
/// an older or narrower API.
pub(crate) fn is_refused<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    code_and_message(error).is_some_and(|(code, _)| {
        matches!(
            code.as_str(),
            "AccessDeniedException"
                | "AccessDenied"
                | "UnknownOperationException"
                | "InvalidAction"
                | "NotImplemented"
        )
    })
}
