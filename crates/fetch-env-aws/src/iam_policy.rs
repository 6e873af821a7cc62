//! The least-privilege IAM policy of a [`StoreRequest`], next to the store that makes the
//! requests it grants: every action name is written once, in [`crate::actions`], and used both
//! by the requests (in their error messages) and by the policy.
//!
//! The policy is derived from the very [`StoreRequest`] a resolve would hand the AWS store, one
//! statement per kind of call the AWS store makes for each part of it:
//!
//! | request part | calls | resources |
//! |---|---|---|
//! | SSM by path | `ssm:GetParametersByPath` | the path itself (what the call is authorized against) and everything under it |
//! | SSM by names | `ssm:GetParameters` | everything directly or deeper under the path |
//! | bundles by prefix | `secretsmanager:BatchGetSecretValue`, `secretsmanager:ListSecrets` | `*`, the only resource either accepts |
//! | | `secretsmanager:GetSecretValue` | every secret under the prefix (BatchGetSecretValue needs it per secret) |
//! | the canonical bundle | `secretsmanager:GetSecretValue` | that one secret, with its random suffix |
//! | `arn_from` | `secretsmanager:GetSecretValue` | exactly each distinct secret |
//!
//! `secretsmanager:ListSecrets` is in the prefix mode's grant although the store never calls it
//! when `BatchGetSecretValue` is allowed: AWS requires it of a `BatchGetSecretValue` that
//! selects its secrets with `Filters`, as the store's does ("If you use filters, you must also
//! have secretsmanager:ListSecrets", BatchGetSecretValue in the Secrets Manager API reference).
//! Where `BatchGetSecretValue` is refused, the store's fallback calls it directly. The `bundle`
//! mode needs neither, which is what that mode is for.
//!
//! No `kms:Decrypt`: values encrypted with the AWS-managed keys need none, and which
//! customer-managed keys a host's values use is not in its files (a note on stderr says so).
//!
//! By-name lookups are granted the whole service path rather than one ARN per declared name:
//! one resource whatever the size of the manifest (an inline role policy holds 10,240
//! characters), and declaring a variable needs no policy change. The path is the service's own,
//! which the by-path mode grants in full anyway.

use std::collections::BTreeSet;

use fetch_env_core::{BundleQuery, ParameterQuery, StoreRequest};

use crate::actions::{
    BATCH_GET_SECRET_VALUE, CREATE_SECRET, DELETE_PARAMETER, GET_PARAMETERS,
    GET_PARAMETERS_BY_PATH, GET_SECRET_VALUE, LIST_SECRETS, PUT_PARAMETER, PUT_SECRET_VALUE,
    UPDATE_SECRET_VERSION_STAGE,
};

/// The partition, region and account of the ARNs of the service's own parameters and secrets.
#[derive(Debug)]
pub struct Place {
    pub partition: &'static str,
    pub region: String,
    pub account: String,
}

impl Place {
    /// The place of `region` (its partition follows from it) and `account` (`*` for any).
    pub fn new(region: String, account: String) -> Self {
        Self {
            partition: partition(&region),
            region,
            account,
        }
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }
}

/// One `Allow` statement. One action or resource is written as a string, several as a list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    sid: &'static str,
    actions: Vec<&'static str>,
    resources: Vec<String>,
}

/// The policy document for `request`, whose `arn_from` secrets are `secrets`, in `place`.
pub fn policy(request: &StoreRequest, secrets: &[SecretId<'_>], place: &Place) -> String {
    render(&statements(request, secrets, place))
}

fn statements(request: &StoreRequest, secrets: &[SecretId<'_>], place: &Place) -> Vec<Statement> {
    let mut statements = Vec::new();
    match &request.parameters {
        ParameterQuery::None => {}
        ParameterQuery::ByPath { path } => {
            // The store asks for the path without its trailing slash, and SSM authorizes the
            // call against that path; the parameters it returns lie under it.
            let path = path.trim_end_matches('/');
            statements.push(Statement {
                sid: "ReadServiceParametersByPath",
                actions: vec![GET_PARAMETERS_BY_PATH],
                resources: vec![
                    place.arn("ssm", &format!("parameter{path}")),
                    place.arn("ssm", &format!("parameter{path}/*")),
                ],
            });
        }
        ParameterQuery::ByNames { path, .. } => statements.push(Statement {
            sid: "ReadServiceParametersByName",
            actions: vec![GET_PARAMETERS],
            resources: vec![place.arn("ssm", &format!("parameter{path}*"))],
        }),
    }
    match &request.bundles {
        BundleQuery::None => {}
        BundleQuery::Prefix { prefix } => {
            statements.push(Statement {
                sid: "FindServiceSecrets",
                actions: vec![BATCH_GET_SECRET_VALUE, LIST_SECRETS],
                resources: vec!["*".to_owned()],
            });
            statements.push(Statement {
                sid: "ReadServiceSecrets",
                actions: vec![GET_SECRET_VALUE],
                resources: vec![place.arn("secretsmanager", &format!("secret:{prefix}*"))],
            });
        }
        BundleQuery::Named { name } => statements.push(Statement {
            sid: "ReadServiceBundle",
            actions: vec![GET_SECRET_VALUE],
            resources: vec![place.arn("secretsmanager", &format!("secret:{name}-??????"))],
        }),
    }
    let mut resources: Vec<String> = Vec::new();
    for secret in secrets {
        let resource = secret.resource(place);
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    if !resources.is_empty() {
        statements.push(Statement {
            sid: "ReadArnFromSecrets",
            actions: vec![GET_SECRET_VALUE],
            resources,
        });
    }
    statements
}

/// The policy of the role that runs `set`, `unset` and `seed` for the service whose SSM path
/// is `path` (`/NS/SERVICE/`) and whose canonical bundle is `bundle` (`NS/SERVICE/secrets`),
/// in `place`: parameters put and deleted under the path; the bundle read, created, given a
/// new version and its `AWSCURRENT` stage moved (the no-lost-update write of
/// [`crate::AwsStore::write`]). Nothing else: `seed`'s report of what is still needed is left
/// out when the role may not read.
pub fn provisioning_policy(path: &str, bundle: &str, place: &Place) -> String {
    let path = path.trim_end_matches('/');
    render(&[
        Statement {
            sid: "WriteServiceParameters",
            actions: vec![PUT_PARAMETER, DELETE_PARAMETER],
            resources: vec![place.arn("ssm", &format!("parameter{path}/*"))],
        },
        Statement {
            sid: "WriteServiceBundle",
            actions: vec![
                GET_SECRET_VALUE,
                PUT_SECRET_VALUE,
                CREATE_SECRET,
                UPDATE_SECRET_VERSION_STAGE,
            ],
            resources: vec![place.arn("secretsmanager", &format!("secret:{bundle}-??????"))],
        },
    ])
}

/// The policy document, pretty-printed with two-space indents, keys in the order IAM's own
/// examples use, one action or resource as a string and several as a list. Written by hand
/// because serde_json's maps sort their keys.
fn render(statements: &[Statement]) -> String {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let value = |items: &[&str]| match items {
        [one] => quote(one),
        many => format!(
            "[\n{}\n      ]",
            many.iter()
                .map(|item| format!("        {}", quote(item)))
                .collect::<Vec<_>>()
                .join(",\n")
        ),
    };
    let statements: Vec<String> = statements
        .iter()
        .map(|statement| {
            let resources: Vec<&str> = statement.resources.iter().map(String::as_str).collect();
            format!(
                "    {{\n      \"Sid\": {},\n      \"Effect\": \"Allow\",\n      \"Action\": {},\n      \"Resource\": {}\n    }}",
                quote(statement.sid),
                value(&statement.actions),
                value(&resources)
            )
        })
        .collect();
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
        statements.join(",\n")
    )
}

/// An `arn_from` secret id as the bootstrap file gives it: a full or partial ARN, or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretId<'a> {
    Arn { arn: &'a str, account: &'a str },
    Name(&'a str),
}

impl<'a> SecretId<'a> {
    /// Reads `id`; the error says what it is not (never anything that widens a grant).
    pub fn parse(id: &'a str) -> Result<Self, String> {
        let Some(rest) = id.strip_prefix("arn:") else {
            return if secret_name_is_valid(id) {
                Ok(SecretId::Name(id))
            } else {
                Err("is not a secret name (A-Z, a-z, 0-9 and /_+=.@!-)".into())
            };
        };
        let parts: Vec<&str> = rest.splitn(6, ':').collect();
        let &[partition, service, region, account, kind, name] = parts.as_slice() else {
            return Err(
                "is not a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"
                    .into(),
            );
        };
        let valid = !partition.is_empty()
            && service == "secretsmanager"
            && is_region(region)
            && is_account_id(account)
            && kind == "secret"
            && secret_name_is_valid(name);
        if valid {
            Ok(SecretId::Arn { arn: id, account })
        } else {
            Err(
                "is not a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"
                    .into(),
            )
        }
    }

    /// The ARN IAM evaluates a `GetSecretValue` of this id against. AWS adds `-` and six random
    /// characters to every secret's name in its ARN: an ARN that ends so is complete and
    /// granted as written; an ARN without them (a partial ARN) or a bare name matches only
    /// with `-??????` appended, exactly six characters, so that `db` does not grant `db-old`.
    fn resource(&self, place: &Place) -> String {
        match self {
            SecretId::Arn { arn, .. } if has_random_suffix(arn) => (*arn).to_owned(),
            SecretId::Arn { arn, .. } => format!("{arn}-??????"),
            SecretId::Name(name) => place.arn("secretsmanager", &format!("secret:{name}-??????")),
        }
    }
}

/// Characters of secret names (AWS-owned ones such as `rds!cluster-…` use `!`); `*` and `?`
/// above all must not reach a policy, where they would be wildcards.
fn secret_name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@!-".contains(c))
}

fn has_random_suffix(arn: &str) -> bool {
    let bytes = arn.as_bytes();
    bytes.len() > 7
        && bytes[bytes.len() - 7] == b'-'
        && bytes[bytes.len() - 6..]
            .iter()
            .all(u8::is_ascii_alphanumeric)
}

/// The twelve digits of an AWS account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A region name as ARNs hold it (`eu-central-1`).
pub fn is_region(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The partition of a region's ARNs.
fn partition(region: &str) -> &'static str {
    const PARTITIONS: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ];
    PARTITIONS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// `--account-id`, else the one account of the `arn_from` ARNs, else `*` with a warning.
pub fn account(
    flag: Option<&str>,
    secrets: &[SecretId<'_>],
) -> Result<(String, Option<String>), String> {
    if let Some(account) = flag {
        if !is_account_id(account) {
            return Err(format!(
                "--account-id must be the 12 digits of an AWS account id, not `{}`",
                account
            ));
        }
        return Ok((account.to_owned(), None));
    }
    let arns: Vec<(&str, &str)> = secrets
        .iter()
        .filter_map(|s| match s {
            SecretId::Arn { arn, account } => Some((*arn, *account)),
            SecretId::Name(_) => None,
        })
        .collect();
    let accounts: BTreeSet<&str> = arns.iter().map(|(_, account)| *account).collect();
    match accounts.len() {
        0 => Ok((
            "*".to_owned(),
            Some(
                "no --account-id and no arn_from ARN to take the account from: the service's parameters and secrets are granted in any account (`*`); pass --account-id ID"
                    .to_owned(),
            ),
        )),
        1 => Ok((arns[0].1.to_owned(), None)),
        _ => Err(format!(
            "the arn_from ARNs are in {} accounts ({}), so the service's own account is unknown: pass --account-id ID",
            accounts.len(),
            arns.iter()
                .map(|(arn, _)| arn.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// JSON has no comments, so what the policy leaves out on purpose goes to stderr.
pub fn kms_note(place: &Place) -> Vec<String> {
    let domain = if place.partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let region = &place.region;
    vec![
        "the policy grants no kms:Decrypt: SecureString parameters and secrets encrypted with the AWS-managed keys aws/ssm and aws/secretsmanager need none.".to_owned(),
        "a parameter or secret encrypted with a customer-managed key also needs kms:Decrypt on that key (an RDS-managed master secret is, when its cluster was given a MasterUserSecretKmsKeyId), for example:".to_owned(),
        format!(
            "  {{\"Sid\": \"DecryptServiceValues\", \"Effect\": \"Allow\", \"Action\": \"kms:Decrypt\", \"Resource\": \"{}\", \"Condition\": {{\"StringEquals\": {{\"kms:ViaService\": [\"ssm.{region}.{domain}\", \"secretsmanager.{region}.{domain}\"]}}}}}}",
            place.arn("kms", "key/KEY-ID")
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> Place {
        Place {
            partition: "aws",
            region: "eu-central-1".into(),
            account: "123456789012".into(),
        }
    }

    #[test]
    fn complete_arns_are_granted_as_written_partial_ones_and_names_with_the_suffix() {
        let place = place();
        let full = "arn:aws:secretsmanager:eu-west-1:210987654321:secret:rds!cluster-x-AbC123";
        assert_eq!(
            SecretId::parse(full).unwrap().resource(&place),
            full,
            "a complete ARN, even in another region and account"
        );
        let partial = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:app/db";
        assert_eq!(
            SecretId::parse(partial).unwrap().resource(&place),
            format!("{partial}-??????")
        );
        assert_eq!(
            SecretId::parse("shared/db-user").unwrap().resource(&place),
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret:shared/db-user-??????"
        );
    }

    #[test]
    fn ids_that_would_widen_the_grant_are_refused() {
        for id in [
            "db/*",
            "db?",
            "",
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret:*",
            "arn:aws:ssm:eu-central-1:123456789012:parameter/x",
            "arn:aws:secretsmanager:eu-central-1:12345:secret:x",
            "arn:aws:secretsmanager:eu-central-1:123456789012:secret",
        ] {
            assert!(SecretId::parse(id).is_err(), "{id}");
        }
    }

    #[test]
    fn the_partition_follows_the_region() {
        assert_eq!(partition("eu-central-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    }

    #[test]
    fn the_account_is_the_flag_else_that_of_the_arns_else_any() {
        let a = SecretId::parse("arn:aws:secretsmanager:eu-central-1:111111111111:secret:a-AbC123")
            .unwrap();
        let b = SecretId::parse("arn:aws:secretsmanager:eu-central-1:222222222222:secret:b-AbC123")
            .unwrap();
        let name = SecretId::parse("c").unwrap();
        assert_eq!(
            account(Some("333333333333"), &[a.clone(), b.clone()])
                .unwrap()
                .0,
            "333333333333"
        );
        assert!(account(Some("3333"), &[]).is_err());
        assert_eq!(
            account(None, &[a.clone(), name.clone(), a.clone()])
                .unwrap()
                .0,
            "111111111111"
        );
        let (any, warning) = account(None, &[name]).unwrap();
        assert_eq!(any, "*");
        assert!(warning.is_some());
        let mixed = account(None, &[a, b]).unwrap_err();
        assert!(mixed.contains("111111111111:secret:a-AbC123"));
        assert!(mixed.contains("222222222222:secret:b-AbC123"));
    }

    #[test]
    fn the_rendering_is_json_in_a_fixed_key_order() {
        let statements = vec![
            Statement {
                sid: "A",
                actions: vec!["x:Y", "x:W"],
                resources: vec!["*".into()],
            },
            Statement {
                sid: "B",
                actions: vec!["x:Z"],
                resources: vec!["r1".into(), "r\"2".into()],
            },
        ];
        let text = render(&statements);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["Statement"][0]["Action"][1], "x:W");
        assert_eq!(parsed["Statement"][0]["Resource"], "*");
        assert_eq!(parsed["Statement"][1]["Action"], "x:Z");
        assert_eq!(parsed["Statement"][1]["Resource"][1], "r\"2");
        let pretty = serde_json::to_string_pretty(&parsed).unwrap();
        // serde_json sorts keys; the layout is otherwise the same.
        assert_eq!(text.len(), pretty.len() + 1);
        assert!(text.find("\"Sid\"").unwrap() < text.find("\"Effect\"").unwrap());
        assert!(text.find("\"Version\"").unwrap() < text.find("\"Statement\"").unwrap());
    }
}
