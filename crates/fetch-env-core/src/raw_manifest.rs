//! `vars.yaml` as written: every field optional and spanned, unknown and duplicate keys
//! collected rather than fatal. [`crate::Manifest`] validates this into the model the resolver
//! uses; nothing outside the manifest module sees these types.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::yaml::{KeyTracker, YamlProblem, skip_value};

pub(crate) const MANIFEST_FIELDS: &[&str] = &["service", "lookup", "variables"];
pub(crate) const LOOKUP_FIELDS: &[&str] = &["ssm", "secrets"];
pub(crate) const VARIABLE_FIELDS: &[&str] = &[
    "name",
    "description",
    "required",
    "required_when",
    "default",
    "sensitive",
    "source",
    "scope",
    "containers",
    "secret",
    "compose",
    "file",
];
pub(crate) const SECRET_FIELDS: &[&str] = &["arn_from", "type", "key"];
pub(crate) const COMPOSE_FIELDS: &[&str] = &["template", "encode"];
pub(crate) const FILE_FIELDS: &[&str] = &["path_from", "decode", "content", "mode", "owner"];

#[derive(Default)]
pub(crate) struct RawManifest {
    pub service: Option<Spanned<String>>,
    pub lookup: Option<Spanned<RawLookup>>,
    pub variables: Option<Spanned<Vec<Spanned<RawVariable>>>>,
    pub problems: Vec<YamlProblem>,
}

#[derive(Default)]
pub(crate) struct RawLookup {
    pub ssm: Option<Spanned<String>>,
    pub secrets: Option<Spanned<String>>,
    pub problems: Vec<YamlProblem>,
}

#[derive(Default)]
pub(crate) struct RawVariable {
    pub name: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub required: Option<Spanned<bool>>,
    pub required_when: Option<Spanned<String>>,
    pub default: Option<Spanned<String>>,
    pub sensitive: Option<Spanned<bool>>,
    pub source: Option<Spanned<String>>,
    pub scope: Option<Spanned<String>>,
    pub containers: Option<Spanned<Vec<Spanned<String>>>>,
    pub secret: Option<Spanned<RawSecret>>,
    pub compose: Option<Spanned<RawCompose>>,
    pub file: Option<Spanned<RawFile>>,
    pub problems: Vec<YamlProblem>,
}

#[derive(Default)]
pub(crate) struct RawSecret {
    pub arn_from: Option<Spanned<String>>,
    pub kind: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub problems: Vec<YamlProblem>,
}

#[derive(Default)]
pub(crate) struct RawFile {
    pub path_from: Option<Spanned<String>>,
    pub decode: Option<Spanned<String>>,
    pub content: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub owner: Option<Spanned<String>>,
    pub problems: Vec<YamlProblem>,
}

#[derive(Default)]
pub(crate) struct RawCompose {
    pub template: Option<Spanned<String>>,
    pub encode: Option<Spanned<Vec<Spanned<String>>>>,
    pub problems: Vec<YamlProblem>,
}

/// Implements `Deserialize` for a raw mapping type whose visitor is `$visit`.
macro_rules! mapping {
    ($ty:ty, $expecting:literal, $visit:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct MappingVisitor;
                impl<'de> Visitor<'de> for MappingVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        $visit(map)
                    }
                }
                deserializer.deserialize_map(MappingVisitor)
            }
        }
    };
}

mapping!(
    RawManifest,
    "a mapping with `service` and `variables`",
    |mut map: A| {
        let mut keys = KeyTracker::new("the manifest", MANIFEST_FIELDS);
        let mut out = RawManifest::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match keys.accept(&key) {
                Some("service") => out.service = Some(map.next_value()?),
                Some("lookup") => out.lookup = Some(map.next_value()?),
                Some("variables") => out.variables = Some(map.next_value()?),
                _ => skip_value(&mut map)?,
            }
        }
        out.problems = keys.problems;
        Ok(out)
    }
);

mapping!(
    RawLookup,
    "a `lookup` mapping (`ssm`, `secrets`)",
    |mut map: A| {
        let mut keys = KeyTracker::new("`lookup`", LOOKUP_FIELDS);
        let mut out = RawLookup::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match keys.accept(&key) {
                Some("ssm") => out.ssm = Some(map.next_value()?),
                Some("secrets") => out.secrets = Some(map.next_value()?),
                _ => skip_value(&mut map)?,
            }
        }
        out.problems = keys.problems;
        Ok(out)
    }
);

mapping!(
    RawVariable,
    "a variable (a mapping with `name`)",
    |mut map: A| {
        let mut keys = KeyTracker::new("a variable", VARIABLE_FIELDS);
        let mut out = RawVariable::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match keys.accept(&key) {
                Some("name") => out.name = Some(map.next_value()?),
                Some("description") => out.description = Some(map.next_value()?),
                Some("required") => out.required = Some(map.next_value()?),
                Some("required_when") => out.required_when = Some(map.next_value()?),
                Some("default") => out.default = Some(map.next_value()?),
                Some("sensitive") => out.sensitive = Some(map.next_value()?),
                Some("source") => out.source = Some(map.next_value()?),
                Some("scope") => out.scope = Some(map.next_value()?),
                Some("containers") => out.containers = Some(map.next_value()?),
                Some("secret") => out.secret = Some(map.next_value()?),
                Some("compose") => out.compose = Some(map.next_value()?),
                Some("file") => out.file = Some(map.next_value()?),
                _ => skip_value(&mut map)?,
            }
        }
        out.problems = keys.problems;
        Ok(out)
    }
);

mapping!(
    RawSecret,
    "a `secret` mapping (`arn_from`, `type`, `key`)",
    |mut map: A| {
        let mut keys = KeyTracker::new("`secret`", SECRET_FIELDS);
        let mut out = RawSecret::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match keys.accept(&key) {
                Some("arn_from") => out.arn_from = Some(map.next_value()?),
                Some("type") => out.kind = Some(map.next_value()?),
                Some("key") => out.key = Some(map.next_value()?),
                _ => skip_value(&mut map)?,
            }
        }
        out.problems = keys.problems;
        Ok(out)
    }
);

mapping!(
    RawFile,
    "a `file` mapping (`path_from`, `decode`, `content`, `mode`, `owner`)",
    |mut map: A| {
        let mut keys = KeyTracker::new("`file`", FILE_FIELDS);
        let mut out = RawFile::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match keys.accept(&key) {
                Some("path_from") => out.path_from = Some(map.next_value()?),
                Some("decode") => out.decode = Some(map.next_value()?),
                Some("content") => out.content = Some(map.next_value()?),
                Some("mode") => out.mode = Some(map.next_value()?),
                Some("owner") => out.owner = Some(map.next_value()?),
                _ => skip_value(&mut map)?,
            }
        }
        out.problems = keys.problems;
        Ok(out)
    }
);

mapping!(
    RawCompose,
    "a `compose` mapping (`template`, `encode`)",
    |mut map: A| {
        let mut keys = KeyTracker::new("`compose`", COMPOSE_FIELDS);
        let mut out = RawCompose::default();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match keys.accept(&key) {
                Some("template") => out.template = Some(map.next_value()?),
                Some("encode") => out.encode = Some(map.next_value()?),
                _ => skip_value(&mut map)?,
            }
        }
        out.problems = keys.problems;
        Ok(out)
    }
);
