//! `iam-policy`: the least-privilege IAM policy of this manifest on this host, derived from the
//! very [`fetch_env_core::StoreRequest`] a resolve would hand the AWS store (same manifest,
//! bootstrap file, flags, environment and lookup modes, through [`store_request`]). The
//! derivation itself lives beside the AWS requests it grants ([`fetch_env_aws::iam_policy`]).

use fetch_env_aws::iam_policy::{
    Place, SecretId, account, is_region, kms_note, policy, provisioning_policy,
};
use fetch_env_core::{
    BundleQuery, Diagnostic, DiagnosticKind, Origin, ParameterQuery, ResolveError, store_request,
};

use crate::cli::{Global, IamPolicyArgs, PolicyRole};
use crate::context::Inputs;
use crate::diagnostics::emit;
use crate::exit::{Exit, Failure};

pub fn iam_policy(global: &Global, args: &IamPolicyArgs) -> Result<Exit, Failure> {
    let inputs = Inputs::load(global)?;
    let options = inputs.options(global)?;
    if args.role == PolicyRole::Provisioning {
        return provisioning(&inputs, global, args, &options);
    }
    let request = store_request(&inputs.manifest, &inputs.bootstrap, &options)
        .map_err(|e| request_failure(&inputs, global, e))?;
    let nothing_remote = request.parameters == ParameterQuery::None
        && request.bundles == BundleQuery::None
        && request.secrets.is_empty();
    if nothing_remote {
        // Attaching nothing is the least privilege here: say so rather than print a document
        // with no statement that looks like something to attach.
        return Err(Failure::usage(format!(
            "{} declares no variable read from AWS (every one is `source: local` or composed of local ones): fetch-env makes no AWS request for it, so its hosts need no IAM policy for it",
            inputs.manifest.path
        )));
    }
    let region = region(&inputs, global)?;
    let secrets = request
        .secrets
        .iter()
        .map(|id| SecretId::parse(id).map_err(|why| secret_failure(&inputs, id, &why)))
        .collect::<Result<Vec<_>, _>>()?;
    let (account, account_warning) =
        account(args.account_id.as_deref(), &secrets).map_err(Failure::usage)?;
    let place = Place::new(region, account);

    let warnings: Vec<Diagnostic> = account_warning
        .into_iter()
        .chain(unset_arn_from(&inputs))
        .map(|warning| Diagnostic::warning(DiagnosticKind::Setting, warning))
        .collect();
    emit(&warnings);
    crate::exit::print(&policy(&request, &secrets, &place))?;
    let notes: Vec<Diagnostic> = kms_note(&place)
        .into_iter()
        .map(|line| Diagnostic::note(DiagnosticKind::Setting, line))
        .collect();
    emit(&notes);
    Ok(Exit::Success)
}

/// The policy of the role that runs `set`, `unset` and `seed` on this manifest.
fn provisioning(
    inputs: &Inputs,
    global: &Global,
    args: &IamPolicyArgs,
    options: &fetch_env_core::ResolveOptions,
) -> Result<Exit, Failure> {
    let writable = inputs
        .manifest
        .variables()
        .iter()
        .any(|v| matches!(v.origin, Origin::Remote));
    if !writable {
        return Err(Failure::usage(format!(
            "{} declares no variable that `set` can write (every one is `source: local`, read from an `arn_from` secret, or composed): no provisioning policy is needed",
            inputs.manifest.path
        )));
    }
    let namespace = options
        .namespace
        .as_deref()
        .map(|n| n.trim_matches('/').to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Failure::usage("NAMESPACE is not set, and the policy's ARNs need it: put NAMESPACE=… in the environment or the bootstrap file, or pass --namespace")
        })?;
    let service = &inputs.manifest.service;
    let region = region(inputs, global)?;
    let request = store_request(&inputs.manifest, &inputs.bootstrap, options)
        .map_err(|e| request_failure(inputs, global, e))?;
    let secrets = request
        .secrets
        .iter()
        .map(|id| SecretId::parse(id).map_err(|why| secret_failure(inputs, id, &why)))
        .collect::<Result<Vec<_>, _>>()?;
    let (account, account_warning) =
        account(args.account_id.as_deref(), &secrets).map_err(Failure::usage)?;
    let warnings: Vec<Diagnostic> = account_warning
        .into_iter()
        .map(|warning| Diagnostic::warning(DiagnosticKind::Setting, warning))
        .collect();
    emit(&warnings);
    let place = Place::new(region, account);
    crate::exit::print(&provisioning_policy(
        &format!("/{namespace}/{service}/"),
        &fetch_env_core::canonical_bundle(&namespace, service),
        &place,
    ))?;
    Ok(Exit::Success)
}

/// The region the AWS store would use: its own settings are read, so that `AWS_REGION` and
/// `AWS_DEFAULT_REGION` take the same precedence (environment, then bootstrap file) as there.
fn region(inputs: &Inputs, global: &Global) -> Result<String, Failure> {
    let settings = inputs.aws_settings(global)?;
    let region = settings.region.ok_or_else(|| {
        Failure::usage(
            "AWS_REGION is not set, and the policy's ARNs need it: put AWS_REGION=… in the environment or the bootstrap file",
        )
    })?;
    if !is_region(&region) {
        return Err(Failure::usage(format!(
            "AWS_REGION `{}` is not a region name (like eu-central-1)",
            region
        )));
    }
    Ok(region)
}

/// Variables whose `arn_from` bootstrap variable is unset: the request has no secret for them,
/// and neither has the policy.
fn unset_arn_from(inputs: &Inputs) -> Vec<String> {
    let mut unset: Vec<(&str, Vec<&str>)> = Vec::new();
    for variable in inputs.manifest.variables() {
        let Origin::Secret(secret) = &variable.origin else {
            continue;
        };
        let key = secret.arn_from.as_str();
        if inputs
            .bootstrap
            .get(key)
            .is_some_and(|(v, _)| !v.is_empty())
        {
            continue;
        }
        match unset.iter_mut().find(|(k, _)| *k == key) {
            Some((_, users)) => users.push(variable.name.as_str()),
            None => unset.push((key, vec![variable.name.as_str()])),
        }
    }
    unset
        .into_iter()
        .map(|(key, users)| {
            format!(
                "{} does not set {key}, so the policy grants no secret for {} (arn_from {key})",
                inputs.bootstrap.path(),
                users.join(", ")
            )
        })
        .collect()
}

fn secret_failure(inputs: &Inputs, id: &str, why: &str) -> Failure {
    let from = inputs
        .manifest
        .variables()
        .iter()
        .filter_map(|v| match &v.origin {
            Origin::Secret(secret) => Some(secret.arn_from.as_str()),
            _ => None,
        })
        .find_map(|key| {
            let (value, line) = inputs.bootstrap.get(key)?;
            (value.expose() == id).then(|| format!("{key} ({}:{line})", inputs.bootstrap.path()))
        })
        .unwrap_or_else(|| "an arn_from variable".to_owned());
    Failure::usage(format!("{from} `{id}` {why}"))
}

fn request_failure(inputs: &Inputs, global: &Global, error: ResolveError) -> Failure {
    match error {
        ResolveError::InvalidNamespace(_) => {
            let origin = inputs
                .lookup("NAMESPACE", global.namespace.as_deref())
                .map(|s| s.origin.to_string())
                .unwrap_or_default();
            Failure::usage(format!("{error} (from {origin})"))
        }
        other => Failure::usage(other),
    }
}
