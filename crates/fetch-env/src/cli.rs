//! The command line. The compatible call line of the shell script it replaces
//! (`--manifest M --bootstrap B --format export`) is the default command.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fetch_env_aws::AwsSettings;
use fetch_env_core::{BundleLookup, Choice, SsmLookup};

/// The version and the commit the binary was built from (`0.1.0 (commit 1a2b3c4)`), as
/// `build.rs` found it.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FETCH_ENV_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "fetch-env",
    version = VERSION,
    about = "Resolve a service's vars.yaml from the bootstrap file, SSM Parameter Store and Secrets Manager",
    long_about = None,
    args_conflicts_with_subcommands = false,
    subcommand_precedence_over_arg = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The words of a setting with a fixed set of values, as the one parser of those values
/// ([`Choice`]) knows them: for `--help` and shell completion.
fn words<T: Choice>() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(T::VALUES.iter().map(|(word, _)| *word))
}

/// Options every command shares.
#[derive(Debug, Args)]
pub struct Global {
    /// The service manifest (vars.yaml).
    #[arg(long, global = true, value_name = "FILE", env = "FETCH_ENV_MANIFEST")]
    pub manifest: Option<PathBuf>,

    /// The host's bootstrap file (KEY=value, shell-sourceable). Omitted: no bootstrap values.
    #[arg(long, global = true, value_name = "FILE", env = "FETCH_ENV_BOOTSTRAP")]
    pub bootstrap: Option<PathBuf>,

    /// Where remote values live: `aws` or `file:PATH`. Also FETCH_ENV_STORE in the environment
    /// or the bootstrap file.
    #[arg(long, global = true, value_name = "STORE")]
    pub store: Option<String>,

    /// The service, for a manifest written as a bare list of variables (default: the name of
    /// the manifest's directory); must agree with `service:` when the manifest has one. Also
    /// FETCH_ENV_SERVICE in the environment or the bootstrap file.
    #[arg(long, global = true, value_name = "NAME")]
    pub service: Option<String>,

    /// NAMESPACE (e.g. voiceai/staging). Also NAMESPACE in the environment or the bootstrap file.
    #[arg(long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// How SSM parameters are found: `by-path` (every parameter under the service path,
    /// recursively; the default) or `by-name` (only the declared names, in one round trip).
    /// Also FETCH_ENV_SSM_LOOKUP.
    #[arg(long, global = true, value_name = "STRATEGY", value_parser = words::<SsmLookup>())]
    pub ssm_lookup: Option<String>,

    /// How Secrets Manager bundles are found: `prefix` (every secret under
    /// NAMESPACE/service/; the default) or `bundle` (only NAMESPACE/service/secrets, no
    /// ListSecrets permission needed). Also FETCH_ENV_SECRETS_LOOKUP.
    #[arg(long, global = true, value_name = "MODE", value_parser = words::<BundleLookup>())]
    pub secrets_lookup: Option<String>,

    // The AWS settings state their defaults from the constants the AWS store uses, so
    // that the help cannot drift from the code.
    #[arg(long, global = true, value_name = "N", help = aws_help(
        "attempts per request, the first included",
        AwsSettings::DEFAULT_MAX_ATTEMPTS,
        "FETCH_ENV_AWS_MAX_ATTEMPTS",
    ))]
    pub aws_max_attempts: Option<String>,

    #[arg(long, global = true, value_name = "SECONDS", help = aws_help(
        "seconds to wait for a TCP connection",
        AwsSettings::DEFAULT_CONNECT_TIMEOUT.as_secs_f64(),
        "FETCH_ENV_AWS_CONNECT_TIMEOUT",
    ))]
    pub aws_connect_timeout: Option<String>,

    #[arg(long, global = true, value_name = "SECONDS", help = aws_help(
        "seconds one attempt may take",
        AwsSettings::DEFAULT_ATTEMPT_TIMEOUT.as_secs_f64(),
        "FETCH_ENV_AWS_ATTEMPT_TIMEOUT",
    ))]
    pub aws_attempt_timeout: Option<String>,

    #[arg(long, global = true, value_name = "SECONDS", help = aws_help(
        "seconds one request may take, every retry included",
        AwsSettings::DEFAULT_OPERATION_TIMEOUT.as_secs_f64(),
        "FETCH_ENV_AWS_OPERATION_TIMEOUT",
    ))]
    pub aws_operation_timeout: Option<String>,

    #[arg(long, global = true, value_name = "N", help = aws_help(
        "requests of one kind in flight at once, each on a connection of its own",
        AwsSettings::DEFAULT_MAX_IN_FLIGHT,
        "FETCH_ENV_AWS_MAX_IN_FLIGHT",
    ))]
    pub aws_max_in_flight: Option<String>,

    /// Report on stderr the requests made per API operation and the time per phase.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// Show the files (`file:` in the manifest) that would be written, and write none.
    #[arg(long, global = true)]
    pub dry_run: bool,
}

/// The help of an AWS retry or timeout flag: what it sets, its default, its variable.
fn aws_help(what: &str, default: impl fmt::Display, variable: &str) -> String {
    format!("AWS: {what} (default {default}). Also {variable}")
}

impl OutputArgs {
    /// `true` when any option of the default command was given.
    pub fn any(&self) -> bool {
        self.format.is_some()
            || self.output.is_some()
            || self.container.is_some()
            || self.record.is_some()
    }
}

impl Global {
    /// The command-line value of an AWS setting, by its environment name.
    pub fn aws_override(&self, key: &str) -> Option<String> {
        match key {
            "FETCH_ENV_AWS_MAX_ATTEMPTS" => self.aws_max_attempts.clone(),
            "FETCH_ENV_AWS_CONNECT_TIMEOUT" => self.aws_connect_timeout.clone(),
            "FETCH_ENV_AWS_ATTEMPT_TIMEOUT" => self.aws_attempt_timeout.clone(),
            "FETCH_ENV_AWS_OPERATION_TIMEOUT" => self.aws_operation_timeout.clone(),
            "FETCH_ENV_AWS_MAX_IN_FLIGHT" => self.aws_max_in_flight.clone(),
            _ => None,
        }
    }
}

/// Options of the default command (printing the environment).
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format [default: export].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,

    /// Write to FILE (mode 0600, atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Only the variables that this docker compose service receives.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// After the output, write the record of where each value came from (no value) to FILE,
    /// for `changed`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// `export NAME='value'` lines for eval in a POSIX shell.
    Export,
    /// `NAME=value` lines (docker compose env_file syntax).
    File,
    /// One JSON object.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command with the resolved environment (no shell, no file): the command's exit
    /// status is fetch-env's.
    Run(RunArgs),
    /// Validate the manifest (and bootstrap file) offline; cross-check a compose file.
    Check(CheckArgs),
    /// One row per variable: status, source, containers; sensitive values masked.
    Explain(ExplainArgs),
    /// Resolve afresh, write the files, then `docker compose up -d` with the resolved
    /// environment (only the named containers, with --no-deps, when --containers is given).
    Restart(RestartArgs),
    /// The containers that receive VARIABLE, directly or through a composed variable.
    Consumers(ConsumersArgs),
    /// Resolve afresh and print each variable whose source or version moved since the record
    /// was written, with the containers to recreate for it; nothing when nothing moved.
    Changed(ChangedArgs),
    /// Write the value of NAME (read from standard input, never from the command line) where a
    /// resolve on this host reads it: its SSM parameter, or its key of the service's bundle.
    Set(SetArgs),
    /// Remove the value of NAME from where a resolve on this host reads it.
    Unset(UnsetArgs),
    /// Write many values at once from FILE (the bootstrap file's syntax), checked against the
    /// manifest first.
    Seed(SeedArgs),
    /// The least-privilege IAM policy this manifest needs on this host, as JSON.
    IamPolicy(IamPolicyArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from these same definitions.
    Manpage,
    /// Print the JSON Schema (draft 2020-12) of vars.yaml, for editors and validators.
    Schema,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only the variables that this docker compose service receives.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// Before the command starts, write the record of where each value came from (no value)
    /// to FILE, for `changed`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// The command and its arguments, passed as they are.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A compose file to cross-check against the manifest; repeat it for several (as `docker
    /// compose -f A -f B`). Without FILE: the files compose reads in the working directory
    /// (COMPOSE_FILE, else compose.yaml or docker-compose.yaml and its override).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "")]
    pub compose: Vec<String>,

    /// Also resolve against the store and report drift (keys no variable declares).
    #[arg(long)]
    pub remote: bool,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Comma-separated compose services to restart (with --no-deps); all when omitted.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub containers: Vec<String>,

    /// The compose command (split on spaces). Also FETCH_ENV_COMPOSE.
    #[arg(long, value_name = "COMMAND")]
    pub compose_command: Option<String>,

    /// Recreate exactly the containers whose values moved since the record was written
    /// (with --no-deps --force-recreate), and nothing when nothing moved.
    #[arg(long, conflicts_with = "containers")]
    pub changed: bool,

    /// The record to compare with and to write after compose succeeded
    /// [default: /run/fetch-env/SERVICE.json].
    #[arg(long, value_name = "FILE", conflicts_with = "no_record")]
    pub record: Option<PathBuf>,

    /// Write no record (compose then replaces fetch-env, as `exec` does).
    #[arg(long, conflicts_with = "changed")]
    pub no_record: bool,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// A declared variable.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Keep a trailing newline of the value (by default one is dropped).
    #[arg(long)]
    pub keep_newline: bool,
}

#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// A declared variable.
    #[arg(value_name = "NAME")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// A file of NAME=value lines, in the bootstrap file's syntax.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
}

#[derive(Debug, Args)]
pub struct ChangedArgs {
    /// The record to compare with [default: /run/fetch-env/SERVICE.json].
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Exit 10 when something changed, 0 when nothing did.
    #[arg(long)]
    pub exit_code: bool,

    /// Print only the containers to recreate, comma-separated (for `restart --containers`).
    #[arg(long)]
    pub names: bool,
}

#[derive(Debug, Args)]
pub struct ConsumersArgs {
    /// A declared variable.
    #[arg(value_name = "VARIABLE")]
    pub variable: String,

    /// Print only the container names, comma-separated (for `restart --containers`).
    #[arg(long)]
    pub names: bool,
}

#[derive(Debug, Args)]
pub struct IamPolicyArgs {
    /// The AWS account id for resource ARNs; by default the account of the `arn_from` ARNs,
    /// else `*`.
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,

    /// Whose policy: the hosts that resolve (`reading`), or the role that runs `set`, `unset`
    /// and `seed` (`provisioning`).
    #[arg(
        long = "for",
        value_enum,
        default_value = "reading",
        value_name = "ROLE"
    )]
    pub role: PolicyRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyRole {
    /// Every host that resolves this manifest.
    Reading,
    /// The role that writes its values with `set`, `unset` and `seed`.
    Provisioning,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Only the variables that this docker compose service receives.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
}
