//! Integration tests: the real app and the emulator over real HTTP on loopback, each test with
//! its own ports and database.

mod harness;

mod bitrix_client;
mod emulator;
mod events;
mod install;
mod oauth;
mod service;
mod store;
mod tokens;
