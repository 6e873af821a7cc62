//! One precedence rule for settings such as `NAMESPACE` or the store: the command-line flag,
//! then the process environment, then the bootstrap file. The core never reads the process
//! environment itself; the binary hands it in.

use std::fmt;

use crate::bootstrap::Bootstrap;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingOrigin {
    Flag,
    Environment,
    Bootstrap { line: u64 },
}

impl fmt::Display for SettingOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingOrigin::Flag => f.write_str("command line"),
            SettingOrigin::Environment => f.write_str("environment"),
            SettingOrigin::Bootstrap { line } => write!(f, "bootstrap:{line}"),
        }
    }
}

/// A setting's value and origin. Settings are configuration, not secrets (credentials are read
/// by the AWS store as [`crate::SecretValue`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub origin: SettingOrigin,
}

/// The three places a setting can come from.
pub struct SettingsContext<'a> {
    pub environment: &'a dyn Fn(&str) -> Option<String>,
    pub bootstrap: &'a Bootstrap,
}

impl fmt::Debug for SettingsContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SettingsContext")
            .field("bootstrap", &self.bootstrap.path())
            .finish_non_exhaustive()
    }
}

impl SettingsContext<'_> {
    /// `flag` if given, else the environment variable `key`, else `key` in the bootstrap file.
    /// Empty values count as unset.
    pub fn lookup(&self, key: &str, flag: Option<&str>) -> Option<Setting> {
        if let Some(value) = flag.filter(|v| !v.is_empty()) {
            return Some(Setting {
                value: value.to_owned(),
                origin: SettingOrigin::Flag,
            });
        }
        if let Some(value) = (self.environment)(key).filter(|v| !v.is_empty()) {
            return Some(Setting {
                value,
                origin: SettingOrigin::Environment,
            });
        }
        self.bootstrap
            .get(key)
            .filter(|(v, _)| !v.is_empty())
            .map(|(v, line)| Setting {
                value: v.expose().to_owned(),
                origin: SettingOrigin::Bootstrap { line },
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn flag_then_environment_then_bootstrap() {
        let bootstrap = Bootstrap::parse(Arc::from("b"), b"NAMESPACE=from/bootstrap\n").unwrap();
        let env_set = |k: &str| (k == "NAMESPACE").then(|| "from/env".to_owned());
        let env_unset = |_: &str| None;
        let with_env = SettingsContext {
            environment: &env_set,
            bootstrap: &bootstrap,
        };
        let without_env = SettingsContext {
            environment: &env_unset,
            bootstrap: &bootstrap,
        };
        assert_eq!(
            with_env
                .lookup("NAMESPACE", Some("from/flag"))
                .unwrap()
                .origin,
            SettingOrigin::Flag
        );
        assert_eq!(
            with_env.lookup("NAMESPACE", None).unwrap().value,
            "from/env"
        );
        let from_file = without_env.lookup("NAMESPACE", None).unwrap();
        assert_eq!(
            (from_file.value.as_str(), from_file.origin),
            ("from/bootstrap", SettingOrigin::Bootstrap { line: 1 })
        );
        assert_eq!(without_env.lookup("OTHER", None), None);
    }
}
