//! Reading a secret's text as a flat JSON object of strings, numbers and booleans.
//!
//! serde_json's stock visitors quote the offending text in their errors ("invalid type: string
//! \"hunter2\""), so every visitor here overrides every `visit_*` it could receive and words its
//! own error, which names a position and a kind, never a value.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::secret_value::SecretValue;

/// Why a secret's text is not the flat JSON object it should be. No variant holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretJsonError {
    #[error("is not valid JSON (line {line}, column {column})")]
    Syntax { line: usize, column: usize },
    #[error("is JSON but not an object (it is {kind})")]
    NotAnObject { kind: &'static str },
    #[error(
        "has a nested {kind} at key `{key}` (only strings, numbers and booleans can be variables)"
    )]
    Nested { key: String, kind: &'static str },
    #[error("has a null at key `{key}`")]
    Null { key: String },
}

/// Parses `text` as a flat JSON object; numbers and booleans become their JSON text.
/// Later duplicates of a key win, as in most JSON readers.
pub fn parse_object(text: &str) -> Result<Vec<(String, SecretValue)>, SecretJsonError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let result = FlatObject::deserialize(&mut deserializer).and_then(|o| {
        deserializer.end()?;
        Ok(o)
    });
    match result {
        Ok(FlatObject(Ok(entries))) => Ok(entries),
        Ok(FlatObject(Err(e))) => Err(e),
        Err(e) => Err(SecretJsonError::Syntax {
            line: e.line(),
            column: e.column(),
        }),
    }
}

struct FlatObject(Result<Vec<(String, SecretValue)>, SecretJsonError>);

enum Field {
    Value(SecretValue),
    Nested(&'static str),
    Null,
}

impl<'de> Deserialize<'de> for FlatObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = FlatObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FlatObject, A::Error> {
                let mut entries: Vec<(String, SecretValue)> = Vec::new();
                let mut first_error = None;
                while let Some(key) = map.next_key::<String>()? {
                    match map.next_value::<Field>()? {
                        Field::Value(value) => {
                            entries.retain(|(k, _)| k != &key);
                            entries.push((key, value));
                        }
                        Field::Nested(kind) => {
                            first_error.get_or_insert(SecretJsonError::Nested { key, kind });
                        }
                        Field::Null => {
                            first_error.get_or_insert(SecretJsonError::Null { key });
                        }
                    }
                }
                Ok(FlatObject(match first_error {
                    Some(e) => Err(e),
                    None => Ok(entries),
                }))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlatObject, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(not_an_object("an array"))
            }
            fn visit_str<E>(self, _: &str) -> Result<FlatObject, E> {
                Ok(not_an_object("a string"))
            }
            fn visit_string<E>(self, _: String) -> Result<FlatObject, E> {
                Ok(not_an_object("a string"))
            }
            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<FlatObject, E> {
                Ok(not_an_object("a string"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<FlatObject, E> {
                Ok(not_an_object("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<FlatObject, E> {
                Ok(not_an_object("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<FlatObject, E> {
                Ok(not_an_object("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<FlatObject, E> {
                Ok(not_an_object("a number"))
            }
            fn visit_unit<E>(self) -> Result<FlatObject, E> {
                Ok(not_an_object("null"))
            }
        }
        deserializer.deserialize_any(ObjectVisitor)
    }
}

fn not_an_object(kind: &'static str) -> FlatObject {
    FlatObject(Err(SecretJsonError::NotAnObject { kind }))
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<Field, E> {
                Ok(Field::Value(SecretValue::from(v)))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Field, E> {
                Ok(Field::Value(SecretValue::from(v)))
            }
            fn visit_string<E>(self, v: String) -> Result<Field, E> {
                Ok(Field::Value(SecretValue::new(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Field, E> {
                Ok(Field::Value(SecretValue::new(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Field, E> {
                Ok(Field::Value(SecretValue::new(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Field, E> {
                Ok(Field::Value(SecretValue::new(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Field, E> {
                Ok(Field::Value(SecretValue::new(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Field, E> {
                Ok(Field::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Field::Nested("object"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Field::Nested("array"))
            }
        }
        deserializer.deserialize_any(FieldVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_objects() {
        let entries =
            parse_object(r#"{"u":"a\"b","port":5432,"tls":true,"f":1.5,"u":"c"}"#).unwrap();
        let shown: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(
            shown,
            vec![("port", "5432"), ("tls", "true"), ("f", "1.5"), ("u", "c")]
        );
    }

    #[test]
    fn errors_never_quote_values() {
        let cases = [
            (r#"{"password": "CANARY"#, "not valid JSON"),
            (r#""CANARY""#, "not an object (it is a string)"),
            (r#"CANARY"#, "not valid JSON"),
            (r#"["CANARY"]"#, "not an object (it is an array)"),
            (r#"{"a": {"b": "CANARY"}}"#, "nested object at key `a`"),
            (r#"{"a": ["CANARY"]}"#, "nested array at key `a`"),
            (r#"{"a": null}"#, "null at key `a`"),
            (r#"{"a": "CANARY"} trailing"#, "not valid JSON"),
        ];
        for (text, needle) in cases {
            let message = parse_object(text).unwrap_err().to_string();
            assert!(message.contains(needle), "{text}: {message}");
            assert!(!message.contains("CANARY"), "{text}: {message}");
        }
    }
}
