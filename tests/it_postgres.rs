//! The integration suite of `tests/it` again, every test on a PostgreSQL database of its own
//! (`TEST_POSTGRES_URL`); see `tests/it/db.rs`.

#[path = "it/main.rs"]
mod it;
