//! The integration suite of `tests/it` again, every test on a PostgreSQL database of its own
//! (`TEST_POSTGRES_URL`; see `tests/it/db.rs`), plus what only PostgreSQL offers: several
//! instances on several hosts, and moving an installation between backends.

#![expect(
    clippy::expect_used,
    reason = "a test stops at the first broken expectation, and says which"
)]

#[path = "../it/main.rs"]
mod it;

// The suite's helpers, where the modules below look for them.
use it::{db, harness, process, schedule_saves, service, store};

mod buckets;
mod cluster;
mod instances;
mod migrate;
mod records;
mod restart;
mod tls;
