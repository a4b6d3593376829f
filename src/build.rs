//! Rebuilds the app when a migration is added: `sqlx::migrate!` embeds the migrations folders,
//! and cargo would otherwise notice only changes to files it already knew.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
