//! What fetch-env prints about itself, all generated from the definitions the program uses, so
//! that none can drift from it: shell completions and the man page from the clap definitions
//! (`clap_complete`, `clap_mangen`), the JSON Schema of `vars.yaml` from the manifest reader's
//! own field table ([`fetch_env_core::manifest_schema`]).

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::exit::{Exit, Failure, print};

pub fn completions(shell: clap_complete::Shell) -> Result<Exit, Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "fetch-env", &mut script);
    print(&String::from_utf8_lossy(&script))?;
    Ok(Exit::Success)
}

pub fn manpage() -> Result<Exit, Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| Failure::usage(format!("cannot render the man page: {e}")))?;
    print(&String::from_utf8_lossy(&page))?;
    Ok(Exit::Success)
}

pub fn schema() -> Result<Exit, Failure> {
    let schema = fetch_env_core::manifest_schema();
    let text = serde_json::to_string_pretty(&schema)
        .map_err(|e| Failure::usage(format!("cannot render the schema: {e}")))?;
    print(&format!("{text}\n"))?;
    Ok(Exit::Success)
}
