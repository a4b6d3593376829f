//! What the product does, in plain Rust, between the HTTP handlers and the token manager:
//! the use cases that span several parts of the app.

pub mod background;
pub mod bindings;
pub mod removal;
