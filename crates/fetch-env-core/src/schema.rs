//! The JSON Schema (draft 2020-12) of `vars.yaml`, for editors (`# yaml-language-server:
//! $schema=…`) and validators, generated from what the manifest reader itself uses: the field
//! names of each mapping are the reader's own lists, every choice is the `Choice` of the
//! validator, and each field's type is given once, in [`field_type`], which a test holds to
//! those lists so that a field cannot be added to one and not the other.
//!
//! What a schema can say is said: unknown fields, wrong types, a variable name's pattern, the
//! choices, the fields a mapping needs, and the contradictions between fields. What needs the
//! whole file (references to other variables, cycles, duplicates) stays with `check`.

use serde_json::{Value, json};

use crate::lookup::{BundleLookup, Choice, SsmLookup};
use crate::manifest::{Decode, LocalSource, PemContent, Scope, SecretKind};
use crate::raw_manifest::{
    COMPOSE_FIELDS, FILE_FIELDS, LOOKUP_FIELDS, MANIFEST_FIELDS, SECRET_FIELDS, VARIABLE_FIELDS,
};

/// The type of one field of one mapping of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldType {
    /// Any scalar, read as its text (`default: 5432`).
    Text,
    /// `[A-Za-z_][A-Za-z0-9_]*`.
    Name,
    Boolean,
    /// One of a validator's choices.
    Choice(Vec<&'static str>),
    /// A list of names.
    Names,
    /// A list of compose service names.
    Services,
    /// A nested mapping of the manifest.
    Mapping(&'static str),
    /// The list of variables.
    Variables,
}

const NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
const SERVICE_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]*$";

fn words<T: Choice>() -> Vec<&'static str> {
    T::VALUES.iter().map(|(word, _)| *word).collect()
}

/// The mappings of the manifest and the reader's field list of each.
pub(crate) const MAPPINGS: &[(&str, &[&str])] = &[
    ("manifest", MANIFEST_FIELDS),
    ("lookup", LOOKUP_FIELDS),
    ("variable", VARIABLE_FIELDS),
    ("secret", SECRET_FIELDS),
    ("compose", COMPOSE_FIELDS),
    ("file", FILE_FIELDS),
];

/// The type of `field` in `mapping`, or `None` for a field the reader does not know.
pub(crate) fn field_type(mapping: &str, field: &str) -> Option<FieldType> {
    use FieldType::*;
    Some(match (mapping, field) {
        ("manifest", "service") => Text,
        ("manifest", "lookup") => Mapping("lookup"),
        ("manifest", "variables") => Variables,
        ("lookup", "ssm") => Choice(words::<SsmLookup>()),
        ("lookup", "secrets") => Choice(words::<BundleLookup>()),
        ("variable", "name") => Name,
        ("variable", "description" | "default" | "required_when") => Text,
        ("variable", "required" | "sensitive") => Boolean,
        ("variable", "source") => Choice(words::<LocalSource>()),
        ("variable", "scope") => Choice(words::<Scope>()),
        ("variable", "containers") => Services,
        ("variable", "secret") => Mapping("secret"),
        ("variable", "compose") => Mapping("compose"),
        ("variable", "file") => Mapping("file"),
        ("secret", "arn_from") => Name,
        ("secret", "type") => Choice(words::<SecretKind>()),
        ("secret", "key") => Text,
        ("compose", "template") => Text,
        ("compose", "encode") => Names,
        ("file", "path_from") => Name,
        ("file", "decode") => Choice(words::<Decode>()),
        ("file", "content") => Choice(words::<PemContent>()),
        ("file", "mode" | "owner") => Text,
        _ => return None,
    })
}

/// The JSON Schema of `vars.yaml`: the bare list of variables or the mapping with `service` and
/// `variables`.
pub fn manifest_schema() -> Value {
    let definitions: serde_json::Map<String, Value> = MAPPINGS
        .iter()
        .filter(|(name, _)| *name != "manifest")
        .map(|(name, fields)| ((*name).to_owned(), mapping(name, fields)))
        .collect();
    let mut root = mapping("manifest", MANIFEST_FIELDS);
    root["required"] = json!(["service", "variables"]);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://fetch-env.invalid/vars.schema.json",
        "title": "fetch-env vars.yaml",
        "description": "A service's manifest: the bare list of its variables, or a mapping with `service` and `variables`.",
        "oneOf": [
            { "$ref": "#/$defs/variables" },
            root,
        ],
        "$defs": Value::Object({
            let mut defs = definitions;
            defs.insert("variables".into(), json!({
                "type": "array",
                "items": { "$ref": "#/$defs/variable" },
            }));
            defs
        }),
    })
}

fn mapping(name: &str, fields: &[&str]) -> Value {
    let properties: serde_json::Map<String, Value> = fields
        .iter()
        .map(|field| {
            let kind = field_type(name, field).unwrap_or(FieldType::Text);
            ((*field).to_owned(), type_schema(kind))
        })
        .collect();
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    let (required, rules): (&[&str], Value) = match name {
        "variable" => (&["name"], contradictions()),
        "secret" => (
            &["arn_from", "type"],
            json!([
                { "if": { "properties": { "type": { "const": "json" } } }, "then": { "required": ["key"] } },
                { "if": { "properties": { "type": { "const": "string" } } }, "then": { "not": { "required": ["key"] } } },
            ]),
        ),
        "compose" => (&["template"], json!([])),
        "file" => (&["path_from"], json!([])),
        _ => (&[], json!([])),
    };
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    if rules.as_array().is_some_and(|r| !r.is_empty()) {
        schema["allOf"] = rules;
    }
    schema
}

/// The contradictory fields of a variable, as the validator refuses them.
fn contradictions() -> Value {
    let not_both = |a: &str, b: &str| json!({ "not": { "required": [a, b] } });
    let local_with = |field: &str| {
        json!({ "not": {
            "required": ["source", field],
            "properties": { "source": { "const": "local" } },
        } })
    };
    json!([
        local_with("secret"),
        local_with("compose"),
        not_both("secret", "compose"),
        not_both("compose", "default"),
        { "not": {
            "required": ["required", "required_when"],
            "properties": { "required": { "const": true } },
        } },
        { "not": {
            "required": ["scope", "containers"],
            "properties": { "scope": { "const": "init" }, "containers": { "minItems": 1 } },
        } },
    ])
}

fn type_schema(kind: FieldType) -> Value {
    match kind {
        FieldType::Text => json!({ "type": ["string", "number", "boolean"] }),
        FieldType::Name => json!({ "type": "string", "pattern": NAME_PATTERN }),
        FieldType::Boolean => json!({ "type": "boolean" }),
        FieldType::Choice(words) => json!({ "enum": words }),
        FieldType::Names => json!({
            "type": "array",
            "items": { "type": "string", "pattern": NAME_PATTERN },
            "uniqueItems": true,
        }),
        FieldType::Services => json!({
            "type": "array",
            "items": { "type": "string", "pattern": SERVICE_PATTERN },
            "uniqueItems": true,
        }),
        FieldType::Mapping(name) => json!({ "$ref": format!("#/$defs/{name}") }),
        FieldType::Variables => json!({ "$ref": "#/$defs/variables" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field the reader knows has a type here (the schema lists exactly the reader's
    /// fields, so a field added to the reader without a type fails this test).
    #[test]
    fn every_field_of_the_reader_has_a_type_and_no_other_does() {
        for (mapping, fields) in MAPPINGS {
            for field in *fields {
                assert!(
                    field_type(mapping, field).is_some(),
                    "{mapping}.{field} is read but has no schema type"
                );
            }
        }
    }

    #[test]
    fn choices_are_the_validators_own() {
        let schema = manifest_schema();
        assert_eq!(
            schema["$defs"]["lookup"]["properties"]["ssm"]["enum"],
            json!(["by-path", "by-name"])
        );
        assert_eq!(
            schema["$defs"]["file"]["properties"]["decode"]["enum"],
            json!(["auto", "base64", "pem"])
        );
    }
}
