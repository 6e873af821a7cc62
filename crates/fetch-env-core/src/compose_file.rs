//! The parts of a `docker-compose.yaml` that `check --compose` cross-checks against the
//! manifest: the services, what each passes into its environment, and every `${VAR}` the file
//! interpolates. Only reading; compose itself stays the authority on everything else.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::location::Location;
use crate::yaml::{self, Entries, skip_value};

/// A compose file, as far as fetch-env needs it.
#[derive(Debug, Clone)]
pub struct ComposeFile {
    pub path: Arc<str>,
    pub services: Vec<ComposeService>,
    pub references: Vec<ComposeReference>,
}

/// One service and the environment keys it declares.
#[derive(Debug, Clone)]
pub struct ComposeService {
    pub name: String,
    pub location: Location,
    /// `environment:` keys, in list or map form.
    pub environment: Vec<String>,
}

/// One interpolation (`${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$VAR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeReference {
    pub name: String,
    pub location: Location,
    /// `${VAR:-x}` / `${VAR-x}`: compose has a fallback when the variable is unset.
    pub has_default: bool,
}

/// A compose file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ComposeError {
    pub location: Location,
    pub message: String,
}

impl ComposeFile {
    /// Reads the compose file at `path`.
    pub fn read(path: &Path) -> Result<Self, ComposeError> {
        let name: Arc<str> = Arc::from(path.display().to_string());
        let text = std::fs::read_to_string(path).map_err(|e| ComposeError {
            location: Location::new(&name, 0, 0),
            message: format!("cannot read the compose file: {e}"),
        })?;
        Self::parse(name, &text)
    }

    /// Parses `text`, naming `path` in errors.
    pub fn parse(path: Arc<str>, text: &str) -> Result<Self, ComposeError> {
        let raw: RawCompose =
            serde_saphyr::from_str_with_options::<Option<RawCompose>>(text, yaml::options())
                .map_err(|e| {
                    let p = yaml::problem_from_error(&e);
                    ComposeError {
                        location: Location::new(&path, p.line, p.column),
                        message: p.message,
                    }
                })?
                .unwrap_or_default();
        let services = raw
            .services
            .into_iter()
            .map(|(name, service)| ComposeService {
                location: Location::from_yaml(&path, &name.referenced),
                name: name.value,
                environment: service.value.environment,
            })
            .collect();
        let references = interpolations(&path, text);
        Ok(Self {
            path,
            services,
            references,
        })
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&ComposeService> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// Every interpolation in `text`, located. Comment lines are skipped; `$$` is a literal `$`.
fn interpolations(path: &Arc<str>, text: &str) -> Vec<ComposeReference> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            if chars[j] != '$' {
                j += 1;
                continue;
            }
            let column = j as u64 + 1;
            match chars.get(j + 1) {
                Some('$') => j += 2,
                Some('{') => {
                    let start = j + 2;
                    let mut end = start;
                    while end < chars.len()
                        && (chars[end].is_ascii_alphanumeric() || chars[end] == '_')
                    {
                        end += 1;
                    }
                    let name: String = chars[start..end].iter().collect();
                    let has_default = matches!(
                        (chars.get(end), chars.get(end + 1)),
                        (Some(':'), Some('-')) | (Some('-'), _)
                    );
                    if !name.is_empty() {
                        found.push(ComposeReference {
                            name,
                            location: Location::new(path, i as u64 + 1, column),
                            has_default,
                        });
                    }
                    j = end;
                }
                Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                    let start = j + 1;
                    let mut end = start;
                    while end < chars.len()
                        && (chars[end].is_ascii_alphanumeric() || chars[end] == '_')
                    {
                        end += 1;
                    }
                    found.push(ComposeReference {
                        name: chars[start..end].iter().collect(),
                        location: Location::new(path, i as u64 + 1, column),
                        has_default: false,
                    });
                    j = end;
                }
                _ => j += 1,
            }
        }
    }
    found
}

#[derive(Default)]
struct RawCompose {
    services: Vec<(Spanned<String>, Spanned<RawService>)>,
}

#[derive(Default)]
struct RawService {
    environment: Vec<String>,
}

/// `environment:` in list form (`- KEY=value`, `- KEY`) or map form (`KEY: value`).
struct RawEnvironment(Vec<String>);

impl<'de> Deserialize<'de> for RawCompose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ComposeVisitor;
        impl<'de> Visitor<'de> for ComposeVisitor {
            type Value = RawCompose;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a compose file (a mapping with `services`)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawCompose, A::Error> {
                let mut out = RawCompose::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "services" {
                        let Entries(entries, _) = map.next_value::<Entries<RawService>>()?;
                        out.services = entries;
                    } else {
                        skip_value(&mut map)?;
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(ComposeVisitor)
    }
}

impl<'de> Deserialize<'de> for RawService {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ServiceVisitor;
        impl<'de> Visitor<'de> for ServiceVisitor {
            type Value = RawService;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a service (a mapping)")
            }
            fn visit_unit<E>(self) -> Result<RawService, E> {
                Ok(RawService::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawService, A::Error> {
                let mut out = RawService::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "environment" {
                        out.environment = map.next_value::<RawEnvironment>()?.0;
                    } else {
                        skip_value(&mut map)?;
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_any(ServiceVisitor)
    }
}

impl<'de> Deserialize<'de> for RawEnvironment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvironmentVisitor;
        impl<'de> Visitor<'de> for EnvironmentVisitor {
            type Value = RawEnvironment;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`environment` as a list of KEY=value or a mapping")
            }
            fn visit_unit<E>(self) -> Result<RawEnvironment, E> {
                Ok(RawEnvironment(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEnvironment, A::Error> {
                let mut keys = Vec::new();
                while let Some(entry) = seq.next_element::<String>()? {
                    let key = entry.split_once('=').map_or(entry.as_str(), |(k, _)| k);
                    keys.push(key.trim().to_owned());
                }
                Ok(RawEnvironment(keys))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEnvironment, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    skip_value(&mut map)?;
                    keys.push(key);
                }
                Ok(RawEnvironment(keys))
            }
        }
        deserializer.deserialize_any(EnvironmentVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_environment_and_interpolations() {
        let text = "services:\n  telapi:\n    image: ${ECR_REGISTRY}/x:${ECR_TAG:-latest}\n    environment:\n      - DATABASE_URL=${DATABASE_URL}\n      - LITERAL=$$NOT\n  worker:\n    environment:\n      LOG_LEVEL: $LOG_LEVEL\n      REQ: ${REQ:?set REQ}\n# ${IN_COMMENT}\n";
        let f = ComposeFile::parse(Arc::from("c.yaml"), text).unwrap();
        let names: Vec<_> = f
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.environment.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    "telapi",
                    vec!["DATABASE_URL".to_owned(), "LITERAL".to_owned()]
                ),
                ("worker", vec!["LOG_LEVEL".to_owned(), "REQ".to_owned()]),
            ]
        );
        assert_eq!(f.services[1].location.to_string(), "c.yaml:7:3");
        let refs: Vec<_> = f
            .references
            .iter()
            .map(|r| (r.name.as_str(), r.location.to_string(), r.has_default))
            .collect();
        assert_eq!(
            refs,
            vec![
                ("ECR_REGISTRY", "c.yaml:3:12".to_owned(), false),
                ("ECR_TAG", "c.yaml:3:30".to_owned(), true),
                ("DATABASE_URL", "c.yaml:5:22".to_owned(), false),
                ("LOG_LEVEL", "c.yaml:9:18".to_owned(), false),
                ("REQ", "c.yaml:10:12".to_owned(), false),
            ]
        );
    }
}
