//! TLS material as files (`file:` in the manifest): a CA bundle or a private key carried in a
//! variable as base64 or raw PEM, decoded and checked before anything is written. Writing is the
//! binary's job; this module only turns a value into validated bytes, and never quotes them.

use base64::Engine as _;
use rustls_pki_types::pem::{PemObject, SectionKind};
use zeroize::Zeroizing;

use crate::env_name::EnvName;
use crate::manifest::{Decode, PemContent};

/// One file to write: validated contents and where they go.
#[derive(Clone)]
pub struct Material {
    /// The variable whose value this is.
    pub variable: EnvName,
    /// Absolute path, from the `path_from` variable.
    pub path: String,
    pub contents: Zeroizing<Vec<u8>>,
    pub mode: u32,
    pub owner: Option<(u32, u32)>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("variable", &self.variable)
            .field("path", &self.path)
            .field("contents", &format_args!("[{} bytes]", self.contents.len()))
            .field("mode", &format_args!("{:04o}", self.mode))
            .field("owner", &self.owner)
            .finish()
    }
}

/// Why a value is not the material it should be. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaterialError {
    #[error("is neither PEM nor base64 of PEM")]
    NotBase64,
    #[error("is not PEM (no `-----BEGIN` section{})", if *.decoded { " after base64 decoding" } else { "" })]
    NotPem { decoded: bool },
    #[error("holds a PEM section that is not valid base64")]
    BadSection,
    #[error("must hold only CERTIFICATE sections, but holds {0}")]
    NotCertificates(String),
    #[error("must hold exactly one private key, but holds {0}")]
    NotOnePrivateKey(String),
}

/// The bytes `value` stands for under `decode`, checked to be `content`.
pub(crate) fn decode(
    value: &str,
    decode: Decode,
    content: PemContent,
) -> Result<Zeroizing<Vec<u8>>, MaterialError> {
    let raw_pem = value.trim_start().starts_with("-----BEGIN");
    let (bytes, decoded) = match decode {
        Decode::Pem => (Zeroizing::new(value.as_bytes().to_vec()), false),
        Decode::Auto if raw_pem => (Zeroizing::new(value.as_bytes().to_vec()), false),
        Decode::Auto | Decode::Base64 => {
            let compact: Zeroizing<String> =
                Zeroizing::new(value.chars().filter(|c| !c.is_ascii_whitespace()).collect());
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| MaterialError::NotBase64)?;
            (Zeroizing::new(bytes), true)
        }
    };
    let mut kinds = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes) {
        let (kind, der) = section.map_err(|_| MaterialError::BadSection)?;
        // The DER of a private key is as secret as its PEM.
        drop(Zeroizing::new(der));
        kinds.push(kind);
    }
    if kinds.is_empty() {
        return Err(MaterialError::NotPem { decoded });
    }
    let describe = |kinds: &[SectionKind]| {
        let names: Vec<String> = kinds.iter().map(|k| format!("{k:?}")).collect();
        names.join(", ")
    };
    match content {
        PemContent::Certificates if kinds.iter().all(|k| *k == SectionKind::Certificate) => {}
        PemContent::Certificates => return Err(MaterialError::NotCertificates(describe(&kinds))),
        PemContent::PrivateKey
            if kinds.len() == 1
                && matches!(
                    kinds[0],
                    SectionKind::PrivateKey
                        | SectionKind::RsaPrivateKey
                        | SectionKind::EcPrivateKey
                ) => {}
        PemContent::PrivateKey => return Err(MaterialError::NotOnePrivateKey(describe(&kinds))),
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A syntactically valid PEM section (PEM checks the base64 framing, not the DER inside).
    const CERT: &str =
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0FOQVJZ\n-----END CERTIFICATE-----\n";
    const KEY: &str =
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqG\n-----END PRIVATE KEY-----\n";

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn raw_pem_and_base64_pem_are_accepted() {
        let bundle = format!("{CERT}{CERT}");
        for value in [bundle.clone(), b64(&bundle), format!("{}\n", b64(&bundle))] {
            let bytes = decode(&value, Decode::Auto, PemContent::Certificates).unwrap();
            assert_eq!(bytes.as_slice(), bundle.as_bytes());
        }
        let key = decode(&b64(KEY), Decode::Base64, PemContent::PrivateKey).unwrap();
        assert_eq!(key.as_slice(), KEY.as_bytes());
    }

    #[test]
    fn everything_else_is_refused_without_quoting_it() {
        let cases = [
            (
                "CANARY not base64 !",
                Decode::Auto,
                PemContent::Certificates,
                "neither PEM nor base64",
            ),
            (
                &b64("CANARY plain text") as &str,
                Decode::Auto,
                PemContent::Certificates,
                "not PEM (no `-----BEGIN` section after base64 decoding)",
            ),
            (
                "plain CANARY",
                Decode::Pem,
                PemContent::Certificates,
                "not PEM (no `-----BEGIN` section)",
            ),
            (
                KEY,
                Decode::Auto,
                PemContent::Certificates,
                "only CERTIFICATE sections, but holds PrivateKey",
            ),
            (
                CERT,
                Decode::Auto,
                PemContent::PrivateKey,
                "exactly one private key, but holds Certificate",
            ),
            (
                &format!("{KEY}{KEY}"),
                Decode::Auto,
                PemContent::PrivateKey,
                "exactly one private key, but holds PrivateKey, PrivateKey",
            ),
            (
                "-----BEGIN CERTIFICATE-----\n!!CANARY!!\n-----END CERTIFICATE-----\n",
                Decode::Auto,
                PemContent::Certificates,
                "not valid base64",
            ),
        ];
        for (value, mode, content, needle) in cases {
            let message = decode(value, mode, content).unwrap_err().to_string();
            assert!(message.contains(needle), "{value}: {message}");
            assert!(!message.contains("CANARY"), "{message}");
        }
    }
}
