//! The schema between binaries that share a database (`docs/operating.md`, "Backups and upgrades"):
//! migrations only add, so during a rolling upgrade an older binary runs on a database a newer
//! one migrated, says so in one line and leaves the newer parts alone. A binary refuses only a
//! database it cannot use, naming both versions. The server's start and `b24-status migrate`
//! migrate; operator commands never create or migrate a database.

use sqlx::migrate::{MigrateError, Migrator};

use super::{Db, StoreError, on_pool};

/// How a database is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// The server's start and `b24-status migrate`: create what is missing, apply what is new.
    Migrate,
    /// An operator command: the database must exist and hold every migration this binary
    /// knows; nothing is created or migrated, and with `read_only` nothing is written.
    Existing {
        /// The command only reads.
        read_only: bool,
    },
}

/// The schema's version: the newest migration applied, as `YYYYMMDDNNNNNN`.
pub type Version = i64;

fn migrator(db: &Db) -> Migrator {
    let mut migrator = match db {
        Db::Sqlite(_) => sqlx::migrate!("./migrations/sqlite"),
        Db::Postgres(_) => sqlx::migrate!("./migrations/postgres"),
    };
    // Migrations a newer binary applied are not this binary's to judge.
    migrator.set_ignore_missing(true);
    migrator
}

/// The newest migration this binary knows.
fn known(db: &Db) -> Version {
    migrator(db)
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or_default()
}

/// The migrations applied to the database (none in a new one).
async fn applied(db: &Db) -> Result<Vec<Version>, StoreError> {
    let exists = match db {
        Db::Sqlite(pool) => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(pool)
        .await
        .map(|n| n > 0)?,
        Db::Postgres(pool) => {
            sqlx::query_scalar::<_, bool>("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(pool)
                .await?
        }
    };
    if !exists {
        return Ok(Vec::new());
    }
    Ok(on_pool!(db, |pool| sqlx::query_scalar::<_, Version>(
        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version"
    )
    .fetch_all(pool)
    .await)?)
}

/// Applies this binary's new migrations; on a database a newer binary migrated, says so once.
pub(super) async fn migrate(db: &Db) -> Result<(), StoreError> {
    let ours = known(db);
    let run = on_pool!(db, |pool| migrator(db).run(pool).await);
    run.map_err(|error| match error {
        MigrateError::VersionMismatch(version) => StoreError::Schema(format!(
            "migration {version} in the database differs from this binary's (which knows up to {ours}): the database was written by another build; run the build that wrote it"
        )),
        MigrateError::Dirty(version) => StoreError::Schema(format!(
            "migration {version} failed part-way in an earlier start (this binary knows up to {ours}): restore the last backup"
        )),
        other => StoreError::Migrate(other),
    })?;
    let newest = applied(db).await?.into_iter().max().unwrap_or_default();
    if newest > ours {
        tracing::warn!(
            database = newest,
            binary = ours,
            "the database was migrated by a newer b24-status; running on it and leaving what is newer alone"
        );
    }
    Ok(())
}

/// Checks that an existing database holds every migration this binary knows.
pub(super) async fn check(db: &Db) -> Result<(), StoreError> {
    let applied = applied(db).await?;
    let ours = migrator(db);
    let missing = ours.iter().any(|m| !applied.contains(&m.version));
    match (applied.last(), missing) {
        (None, _) => Err(StoreError::Schema(
            "the database holds no b24-status data yet: start the app once, or run `b24-status migrate`".to_owned(),
        )),
        (Some(&newest), true) => Err(StoreError::Schema(format!(
            "the database is at schema {newest}, this binary needs {}: start the new version once, or run `b24-status migrate`",
            known(db)
        ))),
        (Some(_), false) => Ok(()),
    }
}
