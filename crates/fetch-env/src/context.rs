//! Loading what every command needs: the manifest, the bootstrap file, the settings and the
//! store, each failure already mapped to its exit code.

use std::path::{Path, PathBuf};

use fetch_env_core::{
    Bootstrap, Choice, Diagnostic, DiagnosticKind, FileStore, Manifest, Resolution, ResolveOptions,
    ServiceSetting, Setting, SettingOrigin, SettingsContext, Store, resolve,
};

use fetch_env_aws::{AwsSettings, AwsStore};

use crate::cli::Global;
use crate::exit::{Exit, Failure};
use crate::output_file::{WriteOptions, Written, plan, write_atomically};

/// Which store an invocation uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    File(PathBuf),
    Aws,
    Unknown(String),
}

/// The manifest and bootstrap file of one invocation.
#[derive(Debug)]
pub struct Inputs {
    pub manifest: Manifest,
    pub bootstrap: Bootstrap,
}

impl Inputs {
    /// Reads and validates the manifest and the bootstrap file (exit 2 on any problem).
    pub fn load(global: &Global) -> Result<Self, Failure> {
        let manifest_path = global.manifest.as_deref().ok_or_else(|| {
            Failure::usage("--manifest FILE is required (the service's vars.yaml)")
        })?;
        // The bootstrap file is read first, for FETCH_ENV_SERVICE; the manifest's problems are
        // still reported before the bootstrap file's.
        let bootstrap = match &global.bootstrap {
            Some(path) => Bootstrap::read(path),
            None => Ok(Bootstrap::empty()),
        };
        let service = service_setting(global, bootstrap.as_ref().ok());
        let manifest =
            Manifest::read_with(manifest_path, service.as_ref()).map_err(Failure::invalid)?;
        Ok(Self {
            manifest,
            bootstrap: bootstrap.map_err(Failure::invalid)?,
        })
    }

    /// The settings context: flag, then process environment, then bootstrap file.
    pub fn lookup(&self, key: &str, flag: Option<&str>) -> Option<Setting> {
        let environment = |key: &str| std::env::var(key).ok();
        SettingsContext {
            environment: &environment,
            bootstrap: &self.bootstrap,
        }
        .lookup(key, flag)
    }

    /// The lookup options of this invocation.
    pub fn options(&self, global: &Global) -> Result<ResolveOptions, Failure> {
        let lookup = &self.manifest.lookup;
        Ok(ResolveOptions {
            namespace: self
                .lookup("NAMESPACE", global.namespace.as_deref())
                .map(|s| s.value),
            ssm_lookup: self.choice(
                "FETCH_ENV_SSM_LOOKUP",
                global.ssm_lookup.as_deref(),
                lookup.ssm,
            )?,
            bundle_lookup: self.choice(
                "FETCH_ENV_SECRETS_LOOKUP",
                global.secrets_lookup.as_deref(),
                lookup.secrets,
            )?,
        })
    }

    /// A setting with a fixed set of values: flag, environment, bootstrap file, then the
    /// manifest's own choice, then the documented default.
    fn choice<T: Choice + Default>(
        &self,
        key: &str,
        flag: Option<&str>,
        manifest: Option<T>,
    ) -> Result<T, Failure> {
        let Some(setting) = self.lookup(key, flag) else {
            return Ok(manifest.unwrap_or_default());
        };
        T::parse(&setting.value).map_err(|unknown| {
            Failure::usage(format!(
                "unknown {} `{}` from {} ({})",
                unknown.what, unknown.found, setting.origin, unknown.expected
            ))
        })
    }

    /// The store named by `--store`, FETCH_ENV_STORE or the bootstrap file.
    pub fn store_spec(&self, global: &Global) -> StoreSpec {
        let spec = self
            .lookup("FETCH_ENV_STORE", global.store.as_deref())
            .map(|s| s.value)
            .unwrap_or_else(|| "aws".to_owned());
        if let Some(path) = spec.strip_prefix("file:") {
            StoreSpec::File(PathBuf::from(path))
        } else if spec == "aws" {
            StoreSpec::Aws
        } else {
            StoreSpec::Unknown(spec)
        }
    }

    /// Opens the store named by `--store`, FETCH_ENV_STORE or the bootstrap file.
    pub fn store(&self, global: &Global) -> Result<Box<dyn Store>, Failure> {
        match self.store_spec(global) {
            StoreSpec::File(path) => {
                let store = FileStore::open(&path).map_err(Failure::invalid)?;
                Ok(Box::new(store))
            }
            StoreSpec::Aws => Ok(Box::new(self.aws_store(global)?)),
            StoreSpec::Unknown(spec) => Err(Failure::usage(format!(
                "unknown store `{}` (expected `aws` or `file:PATH`)",
                spec
            ))),
        }
    }

    /// The AWS store's settings for this invocation (flags, environment, bootstrap file,
    /// profile).
    pub fn aws_settings(&self, global: &Global) -> Result<AwsSettings, Failure> {
        let environment = |key: &str| std::env::var(key).ok();
        let overrides = |key: &str| global.aws_override(key);
        AwsSettings::load(
            &environment,
            &self.bootstrap,
            &overrides,
            &self.manifest.service,
        )
        .map_err(Failure::usage)
    }

    /// The AWS store, with the settings of this invocation.
    pub fn aws_store(&self, global: &Global) -> Result<AwsStore, Failure> {
        AwsStore::new(&self.aws_settings(global)?).map_err(store_failure)
    }

    /// Resolves the manifest; store and setting problems become failures with their exit code.
    pub fn resolve<'m>(
        &'m self,
        global: &Global,
        store: &dyn Store,
    ) -> Result<Resolution<'m>, Failure> {
        let options = self.options(global)?;
        resolve(&self.manifest, &self.bootstrap, &options, store).map_err(|e| match e {
            fetch_env_core::ResolveError::Store(fetch_env_core::StoreError::Unavailable(m)) => {
                Failure::new(Exit::Backend, m)
            }
            fetch_env_core::ResolveError::InvalidNamespace(_) => {
                let origin = self
                    .lookup("NAMESPACE", global.namespace.as_deref())
                    .map(|s| s.origin.to_string())
                    .unwrap_or_default();
                Failure::usage(format!("{e} (from {origin})"))
            }
            other => Failure::usage(other),
        })
    }
}

/// `--service`, then FETCH_ENV_SERVICE in the environment, then in the bootstrap file.
fn service_setting(global: &Global, bootstrap: Option<&Bootstrap>) -> Option<ServiceSetting> {
    let empty = Bootstrap::empty();
    let environment = |key: &str| std::env::var(key).ok();
    let setting = SettingsContext {
        environment: &environment,
        bootstrap: bootstrap.unwrap_or(&empty),
    }
    .lookup("FETCH_ENV_SERVICE", global.service.as_deref())?;
    let origin = match setting.origin {
        SettingOrigin::Flag => "--service".to_owned(),
        SettingOrigin::Environment => "FETCH_ENV_SERVICE in the environment".to_owned(),
        SettingOrigin::Bootstrap { line } => format!(
            "FETCH_ENV_SERVICE at {}:{line}",
            bootstrap.map(|b| b.path().to_string()).unwrap_or_default()
        ),
    };
    Some(ServiceSetting {
        name: setting.value,
        origin,
    })
}

/// Loads the inputs and resolves them, reporting the store's statistics with `--verbose`, and
/// hands the resolution, successful or not, to `then`.
pub fn with_resolution<T>(
    global: &Global,
    container: Option<&str>,
    then: impl FnOnce(&Inputs, &dyn Store, Resolution<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let inputs = Inputs::load(global)?;
    if let Some(container) = container {
        check_container(&inputs, container)?;
    }
    let store = inputs.store(global)?;
    let resolution = inputs.resolve(global, store.as_ref());
    if global.verbose {
        report_statistics(store.as_ref());
    }
    then(&inputs, store.as_ref(), resolution?)
}

/// Like [`with_resolution`], but `then` runs only when resolution succeeded in full, after the
/// `file:` material was written: the path every command that outputs values takes, so that none
/// can output a value from a failed resolution.
pub fn with_resolved<T>(
    global: &Global,
    container: Option<&str>,
    then: impl FnOnce(&Inputs, &Resolution<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    with_resolution(global, container, |inputs, _, resolution| {
        require_success(&resolution)?;
        write_materials(&resolution, container, global.dry_run)?;
        then(inputs, &resolution)
    })
}

/// Writes the `file:` material of a successful resolution (only what `container` receives),
/// or with `dry_run` says what would be written. Files that already hold the same bytes, mode
/// and owner are left alone.
pub fn write_materials(
    resolution: &Resolution<'_>,
    container: Option<&str>,
    dry_run: bool,
) -> Result<(), Failure> {
    for material in resolution.materials(container) {
        let options = WriteOptions {
            mode: material.mode,
            owner: material.owner,
            create_parents: true,
        };
        let path = Path::new(&material.path);
        let owner = material
            .owner
            .map(|(u, g)| format!(", owner {u}:{g}"))
            .unwrap_or_default();
        let what = format!(
            "{} ({}: {} bytes, mode {:04o}{owner})",
            material.path,
            material.variable,
            material.contents.len(),
            material.mode
        );
        if dry_run {
            let outcome = plan(path, &material.contents, options).map_err(Failure::usage)?;
            let verb = match outcome {
                Written::Created => "would create",
                Written::Replaced => "would replace",
                Written::Unchanged => "would leave unchanged",
            };
            crate::exit::info(&format!("{verb} {what}"));
        } else {
            write_atomically(path, &material.contents, options).map_err(Failure::usage)?;
        }
    }
    Ok(())
}

/// `--container NAME` must name a container some variable is declared for: a typo would
/// otherwise silently produce an empty environment.
pub fn check_container(inputs: &Inputs, container: &str) -> Result<(), Failure> {
    let mut known: Vec<&str> = inputs
        .manifest
        .variables()
        .iter()
        .flat_map(|v| v.containers.iter().map(|c| c.name.as_str()))
        .collect();
    known.sort_unstable();
    known.dedup();
    if known.contains(&container) {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "no variable of {} is declared for container `{}` (containers: {})",
        inputs.manifest.path,
        container,
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// What the store's last fetch cost, on stderr (`--verbose`).
pub fn report_statistics(store: &dyn Store) {
    for line in store.statistics() {
        crate::exit::info(&line);
    }
}

/// Turns the failures of a resolution into one failure with exit code 1.
pub fn require_success(resolution: &Resolution<'_>) -> Result<(), Failure> {
    if resolution.succeeded() {
        return Ok(());
    }
    Err(Failure {
        exit: Exit::ResolutionFailed,
        diagnostics: resolution.failures.iter().map(failure_diagnostic).collect(),
    })
}

/// One failure of a resolution as the error it is reported as.
pub fn failure_diagnostic(failure: &fetch_env_core::Failure) -> Diagnostic {
    Diagnostic::error(DiagnosticKind::Resolution, failure.to_string())
}

/// A store that could not be used: a broken store file or setting is exit 2, a backend that
/// could not be reached or refused exit 3.
pub fn store_failure(error: fetch_env_core::StoreError) -> Failure {
    match error {
        fetch_env_core::StoreError::Invalid(m) => Failure::usage(m),
        fetch_env_core::StoreError::Unavailable(m) => Failure::new(Exit::Backend, m),
    }
}

/// The compose files compose reads without `-f`: `COMPOSE_FILE` (environment, then bootstrap
/// file; separated by `COMPOSE_PATH_SEPARATOR`, `:` by default), else the first of its default
/// names in the working directory with its override file.
pub fn default_compose_files(inputs: &Inputs) -> Vec<PathBuf> {
    if let Some(list) = inputs.lookup("COMPOSE_FILE", None) {
        let separator = inputs
            .lookup("COMPOSE_PATH_SEPARATOR", None)
            .map(|s| s.value)
            .unwrap_or_else(|| ":".to_owned());
        return list
            .value
            .split(separator.as_str())
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    let Some(file) = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file()) else {
        return Vec::new();
    };
    // The override file beside it, as compose picks it up.
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let overrides = ["yaml", "yml"].map(|ext| PathBuf::from(format!("{stem}.override.{ext}")));
    std::iter::once(file)
        .chain(overrides.into_iter().filter(|p| p.is_file()).take(1))
        .collect()
}
