//! b24-status: the backend of a Bitrix24 marketplace app with which every employee of a portal
//! sets their own messenger status. [`Application::build`] assembles the whole app from a
//! [`Config`]; [`Application::run_until`] runs it until a shutdown signal.

pub mod application;
pub mod automation;
pub mod command;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod operate;
pub mod portals;
pub mod schedule;
pub mod store;
pub mod telemetry;
pub mod tokens;

/// The Bitrix24 client crate, under the name the app's modules use.
pub use bitrix24 as bitrix;
pub use bitrix24::{clock, domain};
/// The emulated Bitrix24 of the demo and the tests (the `bitrix24-emulator` crate).
#[cfg(feature = "demo")]
pub use bitrix24_emulator as emulator;
pub use config::Config;

/// What the app's requests to Bitrix24 call it (`User-Agent`).
pub const USER_AGENT: &str = concat!("b24-status/", env!("CARGO_PKG_VERSION"));

pub use application::{Application, BuildError, Loops};
pub use http::state::{App, AppState};
use store::{Keyring, Store};

/// `migrate-store`: copies the database at `from` into the empty one at `to` (see
/// [`Store::copy_to`]).
pub async fn migrate_store(
    from: &str,
    to: &str,
    keys: Keyring,
) -> Result<store::RowCounts, store::StoreError> {
    if from == to {
        return Err(store::StoreError::TargetNotEmpty(
            "it is the database being copied".into(),
        ));
    }
    let source = Store::open_existing(from, keys.clone(), true).await?;
    let target = Store::open(to, keys).await?;
    let copied = source.copy_to(&target).await;
    source.close().await;
    target.close().await;
    copied
}
