//! Integration tests: the real app and the emulator over real HTTP on loopback, each test with
//! its own ports and database. The suite runs once per backend (see `db.rs`): this target on
//! SQLite, `it_postgres` on PostgreSQL.

#![expect(
    clippy::expect_used,
    reason = "a test stops at the first broken expectation, and says which"
)]

pub(crate) mod canary;
pub(crate) mod db;
pub(crate) mod harness;

mod api;
mod application;
mod automation;
mod automation_browser;
mod automation_rules;
mod bitrix_client;
mod bot;
mod bot_browser;
mod bot_commands;
mod bot_forgery;
mod browser;
mod contrast;
mod demo;
mod docs;
mod edge;
mod events;
mod faults;
mod focus_page;
mod hostile;
mod install;
mod keepalive;
mod licence;
mod lifecycle;
mod limits;
mod moderation;
mod oauth;
mod observability;
pub(crate) mod operate;
mod operate_keys;
mod outbound;
pub(crate) mod process;
mod properties;
mod refresh;
mod regions;
pub(crate) mod schedule_saves;
mod schedules;
pub(crate) mod service;
mod sessions;
mod status_page;
pub(crate) mod store;
pub(crate) mod team;
mod timers;
mod tokens;
pub(crate) mod trust;
mod uninstall;
mod upgrades;
mod wave;
