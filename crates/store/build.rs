//! `sqlx::migrate!` reads `migrations/` when the crate compiles, and cargo
//! cannot see that: without this a migration added to an already-built
//! tree would be left out of the binary (and of the tests) until some Rust
//! file of this crate changed.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
