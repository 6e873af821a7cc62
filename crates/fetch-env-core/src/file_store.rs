//! The file store: one YAML file standing in for SSM Parameter Store and Secrets Manager.
//!
//! ```yaml
//! parameters:                      # full SSM path -> value
//!   /voiceai/dev/api/DATABASE_HOST: db.internal
//!   /voiceai/dev/api/API_TOKEN: { value: "t0ken", type: SecureString }
//! secrets:                         # name or ARN -> JSON object (as YAML) or string
//!   voiceai/dev/api/secrets:
//!     STRIPE_KEY: sk_test_123
//!   "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-x-AbCdEf": '{"username":"postgres","password":"pw"}'
//! ```
//!
//! It answers the same [`StoreRequest`] as the AWS store and follows the same lookup rules
//! (recursive paths, prefix discovery by secret name, lookup by ARN, partial ARN or name), so
//! every resolution rule can be exercised without an AWS account. A secret written as a YAML
//! mapping is handed to the resolver as the JSON text AWS would hold.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::location::Location;
use crate::secret_value::SecretValue;
use crate::store::{
    BundleQuery, FetchedSecret, Parameter, ParameterQuery, SecretFetchError, SecretPayload, Store,
    StoreError, StoreRequest, StoreResponse,
};
use crate::yaml::{self, Entries, KeyTracker, YamlProblem, skip_value};

/// The parsed store file.
#[derive(Debug)]
pub struct FileStore {
    path: Arc<str>,
    parameters: Vec<Parameter>,
    secrets: Vec<StoredSecret>,
}

#[derive(Debug)]
struct StoredSecret {
    name: String,
    arn: Option<String>,
    value: SecretValue,
}

/// Every problem of a store file (exit 2), located; values are never quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(|(l, m)| format!("{l}: {m}")).collect::<Vec<_>>().join("\n"))]
pub struct FileStoreError {
    pub problems: Vec<(Location, String)>,
}

impl FileStore {
    /// Reads and checks the store file at `path`.
    pub fn open(path: &Path) -> Result<Self, FileStoreError> {
        let name: Arc<str> = Arc::from(path.display().to_string());
        let bytes = std::fs::read(path).map_err(|e| FileStoreError {
            problems: vec![(
                Location::new(&name, 0, 0),
                format!("cannot read the store file: {e}"),
            )],
        })?;
        let bytes = zeroize::Zeroizing::new(bytes);
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            let line = yaml::invalid_utf8_line(&bytes, &e);
            FileStoreError {
                problems: vec![(
                    Location::new(&name, line, 0),
                    "the store file is not valid UTF-8".into(),
                )],
            }
        })?;
        Self::parse(name, text)
    }

    /// Parses `text`, naming `path` in problems.
    pub fn parse(path: Arc<str>, text: &str) -> Result<Self, FileStoreError> {
        let locate = |p: YamlProblem| (Location::new(&path, p.line, p.column), p.message);
        let raw: RawStore = match serde_saphyr::from_str_with_options(text, yaml::options()) {
            Ok(Some(raw)) => raw,
            Ok(None) => RawStore::default(),
            Err(e) => {
                return Err(FileStoreError {
                    problems: vec![locate(yaml::problem_from_error(&e))],
                });
            }
        };
        let mut problems: Vec<(Location, String)> = raw.problems.into_iter().map(locate).collect();
        let mut parameters = Vec::new();
        for (key, value) in raw.parameters {
            let at = Location::from_yaml(&path, &key.referenced);
            if !key.value.starts_with('/') || key.value.ends_with('/') || key.value.contains("//") {
                problems.push((
                    at,
                    format!(
                        "parameter path `{}` must start with '/' and name a parameter (like /NAMESPACE/service/NAME)",
                        key.value
                    ),
                ));
                continue;
            }
            match value.value {
                RawParameter::Value { value, secure } => parameters.push(Parameter {
                    path: key.value,
                    version: Some(entry_version(value.expose())),
                    value,
                    secure,
                }),
                RawParameter::Invalid(message) => {
                    problems.push((Location::from_yaml(&path, &value.referenced), message))
                }
            }
        }
        let mut secrets = Vec::new();
        for (key, value) in raw.secrets {
            let at = Location::from_yaml(&path, &key.referenced);
            let (name, arn) = if key.value.starts_with("arn:") {
                match name_from_arn(&key.value) {
                    Some(name) => (name.to_owned(), Some(key.value.clone())),
                    None => {
                        problems.push((
                            at,
                            format!(
                                "`{}` is not a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX)",
                                key.value
                            ),
                        ));
                        continue;
                    }
                }
            } else if key.value.is_empty() {
                problems.push((at, "a secret name cannot be empty".into()));
                continue;
            } else {
                (key.value.clone(), None)
            };
            match value.value {
                RawSecretValue::Text(value) => secrets.push(StoredSecret { name, arn, value }),
                RawSecretValue::Invalid(message) => {
                    let message = format!("secret `{}`: {message}", key.value);
                    problems.push((Location::from_yaml(&path, &value.referenced), message))
                }
                RawSecretValue::DuplicateKey {
                    key: name,
                    first,
                    again,
                } => problems.push((
                    Location::from_yaml(&path, &again),
                    yaml::duplicate_key(&name, &first),
                )),
            }
        }
        if problems.is_empty() {
            Ok(Self {
                path,
                parameters,
                secrets,
            })
        } else {
            problems.sort();
            Err(FileStoreError { problems })
        }
    }

    /// Finds a secret as `GetSecretValue` would: by full ARN, by partial ARN (the ARN without
    /// its random suffix), or by name.
    fn find_secret(&self, id: &str) -> Option<&StoredSecret> {
        if !id.starts_with("arn:") {
            return self.secrets.iter().find(|s| s.name == id);
        }
        self.secrets.iter().find(|s| {
            s.arn.as_deref().is_some_and(|arn| {
                arn == id || arn.strip_suffix(&arn[arn.len() - SUFFIX_LEN..]) == Some(id)
            })
        })
    }
}

/// `-XXXXXX`: the random suffix AWS appends to a secret's name in its ARN.
const SUFFIX_LEN: usize = 7;

/// `NAME` of `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`.
fn name_from_arn(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    if parts.len() != 7 || parts[2] != "secretsmanager" || parts[5] != "secret" {
        return None;
    }
    let full = parts[6];
    let (name, suffix) = full.rsplit_once('-')?;
    (suffix.len() == SUFFIX_LEN - 1
        && suffix.chars().all(|c| c.is_ascii_alphanumeric())
        && !name.is_empty())
    .then_some(name)
}

impl Store for FileStore {
    fn fetch(&self, request: &StoreRequest) -> Result<StoreResponse, StoreError> {
        let parameters = match &request.parameters {
            ParameterQuery::None => Vec::new(),
            ParameterQuery::ByPath { path } => self
                .parameters
                .iter()
                .filter(|p| p.path.starts_with(path.as_str()))
                .cloned()
                .collect(),
            ParameterQuery::ByNames { path, names } => self
                .parameters
                .iter()
                .filter(|p| {
                    p.path
                        .strip_prefix(path.as_str())
                        .is_some_and(|name| names.iter().any(|n| n == name))
                })
                .cloned()
                .collect(),
        };
        let fetched = |s: &StoredSecret| FetchedSecret {
            name: s.name.clone(),
            payload: SecretPayload::Text(s.value.clone()),
            version: Some(entry_version(s.value.expose())),
        };
        let bundles = match &request.bundles {
            BundleQuery::None => Vec::new(),
            BundleQuery::Prefix { prefix } => self
                .secrets
                .iter()
                .filter(|s| s.name.starts_with(prefix.as_str()))
                .map(fetched)
                .collect(),
            BundleQuery::Named { name } => self
                .secrets
                .iter()
                .filter(|s| &s.name == name)
                .map(fetched)
                .collect(),
        };
        let secrets = request
            .secrets
            .iter()
            .map(|id| {
                let found = self
                    .find_secret(id)
                    .map(fetched)
                    .ok_or(SecretFetchError::NotFound);
                (id.clone(), found)
            })
            .collect();
        Ok(StoreResponse {
            parameters,
            bundles,
            secrets,
        })
    }

    fn describe(&self) -> String {
        format!("file:{}", self.path)
    }
}

/// The version of a file-store entry: the first 16 hex digits of the SHA-256 of its text. A
/// development store has no versions of its own; an entry's text changing is what a new version
/// is on AWS.
fn entry_version(text: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Default)]
struct RawStore {
    parameters: Vec<(Spanned<String>, Spanned<RawParameter>)>,
    secrets: Vec<(Spanned<String>, Spanned<RawSecretValue>)>,
    problems: Vec<YamlProblem>,
}

enum RawParameter {
    Value { value: SecretValue, secure: bool },
    Invalid(String),
}

enum RawSecretValue {
    Text(SecretValue),
    Invalid(String),
    /// A key written twice inside a secret's mapping, at its second place.
    DuplicateKey {
        key: String,
        first: serde_saphyr::Location,
        again: serde_saphyr::Location,
    },
}

impl<'de> Deserialize<'de> for RawStore {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StoreVisitor;
        impl<'de> Visitor<'de> for StoreVisitor {
            type Value = RawStore;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping with `parameters` and `secrets`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawStore, A::Error> {
                let mut keys = KeyTracker::new("the store file", &["parameters", "secrets"]);
                let mut out = RawStore::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    match keys.accept(&key) {
                        Some("parameters") => {
                            let Entries(entries, problems) = map.next_value()?;
                            out.parameters = entries;
                            out.problems.extend(problems);
                        }
                        Some("secrets") => {
                            let Entries(entries, problems) = map.next_value()?;
                            out.secrets = entries;
                            out.problems.extend(problems);
                        }
                        _ => skip_value(&mut map)?,
                    }
                }
                out.problems.extend(keys.problems);
                Ok(out)
            }
        }
        deserializer.deserialize_map(StoreVisitor)
    }
}

/// Implements the scalar `visit_*` methods of a value visitor by turning the scalar into its text,
/// so that no default `visit_*` (which would quote the value in its error) is ever reached.
macro_rules! scalar_as_text {
    ($wrap:expr) => {
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok($wrap(SecretValue::from(v)))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok($wrap(SecretValue::new(v)))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($wrap(SecretValue::new(v.to_string())))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($wrap(SecretValue::new(v.to_string())))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($wrap(SecretValue::new(v.to_string())))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($wrap(SecretValue::new(v.to_string())))
        }
        fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            Err(E::custom("binary values are not supported"))
        }
    };
}

impl<'de> Deserialize<'de> for RawParameter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParameterVisitor;
        impl<'de> Visitor<'de> for ParameterVisitor {
            type Value = RawParameter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, or a mapping with `value` and `type`")
            }
            scalar_as_text!(|value| RawParameter::Value {
                value,
                secure: false
            });
            fn visit_unit<E>(self) -> Result<RawParameter, E> {
                Ok(RawParameter::Invalid(
                    "a parameter needs a value (SSM does not store empty parameters)".into(),
                ))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawParameter, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(RawParameter::Invalid(
                    "a parameter value must be a string, not a list".into(),
                ))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawParameter, A::Error> {
                // A mapping here may be a value written in braces by mistake (`{ hunter2 }`), so
                // its keys are never quoted back.
                let mut value: Option<RawParameter> = None;
                let mut kind: Option<String> = None;
                let mut problem: Option<&str> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "value" if value.is_none() => {
                            value = Some(match map.next_value::<ScalarText>()? {
                                ScalarText(Some(value)) => RawParameter::Value {
                                    value,
                                    secure: false,
                                },
                                ScalarText(None) => RawParameter::Invalid(
                                    "`value` of a parameter must be a string".into(),
                                ),
                            })
                        }
                        "type" if kind.is_none() => kind = Some(map.next_value()?),
                        "value" | "type" => {
                            problem.get_or_insert("a parameter sets `value` or `type` twice");
                            skip_value(&mut map)?;
                        }
                        _ => {
                            problem.get_or_insert(
                                "a parameter written as a mapping takes only `value` and `type`",
                            );
                            skip_value(&mut map)?;
                        }
                    }
                }
                if let Some(problem) = problem {
                    return Ok(RawParameter::Invalid(problem.into()));
                }
                let secure = match kind.as_deref() {
                    None | Some("String") => false,
                    Some("SecureString") => true,
                    Some(_) => {
                        return Ok(RawParameter::Invalid(
                            "`type` must be `String` or `SecureString`".into(),
                        ));
                    }
                };
                Ok(match value {
                    Some(RawParameter::Value { value, .. }) => {
                        RawParameter::Value { value, secure }
                    }
                    Some(invalid) => invalid,
                    None => RawParameter::Invalid("missing field `value` in a parameter".into()),
                })
            }
        }
        deserializer.deserialize_any(ParameterVisitor)
    }
}

/// A scalar's text; `None` for a mapping or a list (whose content is skipped, never quoted).
struct ScalarText(Option<SecretValue>);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            scalar_as_text!(|value| ScalarText(Some(value)));
            fn visit_unit<E>(self) -> Result<ScalarText, E> {
                Ok(ScalarText(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ScalarText, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(ScalarText(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ScalarText, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(ScalarText(None))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl<'de> Deserialize<'de> for RawSecretValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;
        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = RawSecretValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, or a mapping (a JSON object)")
            }
            scalar_as_text!(RawSecretValue::Text);
            fn visit_unit<E>(self) -> Result<RawSecretValue, E> {
                Ok(RawSecretValue::Invalid("a secret needs a value".into()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<RawSecretValue, A::Error> {
                let value = serde_json::Value::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(seq),
                )?;
                Ok(RawSecretValue::Text(SecretValue::new(value.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSecretValue, A::Error> {
                // The JSON text AWS would hold for this object; nested values are kept so that
                // the resolver reports them exactly as it would for AWS. A key written twice is
                // refused, as everywhere in the file (the keys are variable names, not values).
                let mut object = serde_json::Map::new();
                let mut seen: std::collections::HashMap<String, serde_saphyr::Location> =
                    std::collections::HashMap::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value: serde_json::Value = map.next_value()?;
                    if let Some(first) = seen.get(&key.value) {
                        return Ok(RawSecretValue::DuplicateKey {
                            key: key.value,
                            first: *first,
                            again: key.referenced,
                        });
                    }
                    seen.insert(key.value.clone(), key.referenced);
                    object.insert(key.value, value);
                }
                Ok(RawSecretValue::Text(SecretValue::new(
                    serde_json::Value::Object(object).to_string(),
                )))
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-abc-AbC123";

    fn store(text: &str) -> FileStore {
        FileStore::parse(Arc::from("s.yaml"), text).unwrap()
    }

    fn request(parameters: ParameterQuery, bundles: BundleQuery, secrets: &[&str]) -> StoreRequest {
        StoreRequest {
            parameters,
            bundles,
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn paths_are_recursive_and_names_are_exact() {
        let s = store(
            "parameters:\n  /ns/api/A: '1'\n  /ns/api/sub/B: 2\n  /ns/apix/C: '3'\n  /ns/api/D: { value: d, type: SecureString }\n",
        );
        let r = s
            .fetch(&request(
                ParameterQuery::ByPath {
                    path: "/ns/api/".into(),
                },
                BundleQuery::None,
                &[],
            ))
            .unwrap();
        let paths: Vec<_> = r
            .parameters
            .iter()
            .map(|p| (p.path.as_str(), p.value.expose(), p.secure))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("/ns/api/A", "1", false),
                ("/ns/api/sub/B", "2", false),
                ("/ns/api/D", "d", true)
            ]
        );
        let r = s
            .fetch(&request(
                ParameterQuery::ByNames {
                    path: "/ns/api/".into(),
                    names: vec!["A".into(), "B".into()],
                },
                BundleQuery::None,
                &[],
            ))
            .unwrap();
        assert_eq!(r.parameters.len(), 1);
    }

    #[test]
    fn secrets_by_arn_partial_arn_name_and_prefix() {
        let s = store(&format!(
            "secrets:\n  '{ARN}': '{{\"password\":\"p\"}}'\n  ns/api/secrets:\n    K: v\n    N: 5\n  ns/api/extra: x\n  ns/apix/secrets: y\n"
        ));
        let partial = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-abc";
        let r = s
            .fetch(&request(
                ParameterQuery::None,
                BundleQuery::Prefix {
                    prefix: "ns/api/".into(),
                },
                &[ARN, partial, "rds!cluster-abc", "missing"],
            ))
            .unwrap();
        let names: Vec<_> = r.bundles.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, vec!["ns/api/secrets", "ns/api/extra"]);
        let SecretPayload::Text(bundle) = &r.bundles[0].payload else {
            panic!()
        };
        assert_eq!(bundle.expose(), r#"{"K":"v","N":5}"#);
        assert!(r.secrets[0].1.is_ok() && r.secrets[1].1.is_ok() && r.secrets[2].1.is_ok());
        assert_eq!(
            r.secrets[3].1.as_ref().unwrap_err(),
            &SecretFetchError::NotFound
        );
    }

    #[test]
    fn problems_are_located_and_never_quote_values() {
        let err = FileStore::parse(
            Arc::from("s.yaml"),
            "parameters:\n  relative/NAME: CANARY1\n  /a/B: [CANARY2]\n  /a/B: CANARY3\nsecrets:\n  'arn:aws:nope': CANARY4\nsecret: {}\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("CANARY"), "{text}");
        assert!(
            text.contains("s.yaml:2:3: parameter path `relative/NAME`"),
            "{text}"
        );
        assert!(
            text.contains("s.yaml:3:9: a parameter value must be a string"),
            "{text}"
        );
        assert!(text.contains("s.yaml:4:3: duplicate key `/a/B`"), "{text}");
        assert!(
            text.contains("s.yaml:6:3: `arn:aws:nope` is not a Secrets Manager ARN"),
            "{text}"
        );
        assert!(
            text.contains(
                "s.yaml:7:1: unknown field `secret` in the store file (did you mean `secrets`?)"
            ),
            "{text}"
        );
    }

    #[test]
    fn arn_names() {
        assert_eq!(name_from_arn(ARN), Some("rds!cluster-abc"));
        assert_eq!(
            name_from_arn("arn:aws:secretsmanager:r:1:secret:short"),
            None
        );
    }
}
