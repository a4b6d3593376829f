//! The operator's commands (`b24-status portals`, `rekey`, `check`, …): the same binary and
//! configuration as the app, a table for people and `--json` for scripts. Each opens the
//! database the app uses, does one thing, and says what it did in one line or a table.

mod admin;
mod check;
mod inventory;
mod table;
mod vendor;

use std::process::ExitCode;

use crate::config::{Cli, Command, ConfigError, Secrets, keyring};
use crate::store::{Store, StoreError};
use bitrix24::clock::unix_now;
use bitrix24::domain::MemberId;

/// Why a command failed: said in one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The configuration or the command line is wrong (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The command could not do its work (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Failed(error.to_string())
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Self::Usage(error.to_string())
    }
}

/// Runs `command` and returns the process's exit code.
pub async fn run(command: Command, cli: Cli, secrets: Secrets) -> ExitCode {
    let name = command_name(&command);
    finish(name, dispatch(command, cli, &secrets, name).await)
}

async fn dispatch(
    command: Command,
    cli: Cli,
    secrets: &Secrets,
    name: &str,
) -> Result<(), Failure> {
    let json = cli.json;
    if json && !has_table(&command) {
        return Err(Failure::Usage(format!(
            "{name} says what it did in one line and has no table: run it without --json"
        )));
    }
    match command {
        Command::Check => return check::check(cli, secrets.clone(), json).await,
        Command::Healthcheck => return check::healthcheck(&cli).await,
        Command::MigrateStore => return admin::migrate_store(secrets).await,
        Command::Migrate => return admin::migrate(secrets).await,
        Command::VendorFields => return vendor::vendor_fields(&cli, json),
        _ => {}
    }
    let read_only = matches!(
        command,
        Command::Portals
            | Command::Accounts { .. }
            | Command::Export { .. }
            | Command::Calls { .. }
    );
    let store = open(secrets, name, read_only).await?;
    let done = match command {
        Command::Portals => inventory::portals(&store, json).await,
        Command::Accounts { portal: name } => {
            inventory::accounts(&store, &portal(&store, &name).await?, json).await
        }
        Command::Export { portal: name } => {
            inventory::export(&store, &portal(&store, &name).await?).await
        }
        Command::Calls {
            portal: name,
            since,
            limit,
        } => {
            let member = portal(&store, &name).await?;
            inventory::calls(&store, &member, &since, limit, json).await
        }
        Command::Reauth { portal: name, user } => {
            admin::reauth(&store, &portal(&store, &name).await?, user).await
        }
        Command::Suspend { portal: name } => {
            admin::pause(&store, &portal(&store, &name).await?, true).await
        }
        Command::Resume { portal: name } => {
            admin::pause(&store, &portal(&store, &name).await?, false).await
        }
        Command::Purge { portal: name, yes } => {
            admin::purge(&store, &portal(&store, &name).await?, yes).await
        }
        Command::Rekey => admin::rekey(&store, json).await,
        Command::Backup { file } => admin::backup(&store, &file).await,
        Command::Check
        | Command::Healthcheck
        | Command::MigrateStore
        | Command::Migrate
        | Command::VendorFields => Ok(()),
    };
    store.close().await;
    done
}

/// Whether a command prints a table (or, like `export`, JSON anyway), so `--json` means something.
fn has_table(command: &Command) -> bool {
    matches!(
        command,
        Command::Portals
            | Command::Accounts { .. }
            | Command::Export { .. }
            | Command::Calls { .. }
            | Command::Rekey
            | Command::Check
            | Command::VendorFields
    )
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Portals => "portals",
        Command::Accounts { .. } => "accounts",
        Command::Reauth { .. } => "reauth",
        Command::Suspend { .. } => "suspend",
        Command::Resume { .. } => "resume",
        Command::Export { .. } => "export",
        Command::Purge { .. } => "purge",
        Command::Rekey => "rekey",
        Command::Check => "check",
        Command::Backup { .. } => "backup",
        Command::Calls { .. } => "calls",
        Command::Healthcheck => "healthcheck",
        Command::MigrateStore => "migrate-store",
        Command::Migrate => "migrate",
        Command::VendorFields => "vendor-fields",
    }
}

fn finish(name: &str, done: Result<(), Failure>) -> ExitCode {
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(why)) => {
            eprintln!("b24-status {name}: {why}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(why)) => {
            eprintln!("b24-status {name}: {why}");
            ExitCode::from(1)
        }
    }
}

/// The app's database as it is, with its keys: never created or migrated here, and opened
/// read-only for a command that only reads.
async fn open(secrets: &Secrets, name: &str, read_only: bool) -> Result<Store, Failure> {
    let keys = keyring(secrets, name)?;
    Ok(Store::open_existing(secrets.database_url(), keys, read_only).await?)
}

/// The portal an operator named by domain or member id.
async fn portal(store: &Store, name: &str) -> Result<MemberId, Failure> {
    store.find_portal(name.trim()).await?.ok_or_else(|| {
        Failure::Usage(format!(
            "no portal {name:?} in this database: `b24-status portals` lists them"
        ))
    })
}

/// Unix seconds now.
fn now() -> i64 {
    unix_now()
}
