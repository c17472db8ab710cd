//! Developer tools for fundledger: the deterministic Hunan 2020 demo fixture
//! generator and the benchmark data generator. Nothing here is shipped.

// Every declared dependency is used (test targets are exempt: each test file
// names only some of them).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
// Short functions (clippy.toml: at most 70 lines) outside tests.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

// clap is the binary's (src/main.rs): a package cannot declare a dependency
// for its binary alone.
use clap as _;

pub mod bench;
pub mod hunan;
pub mod hunan_files;
pub mod prng;
pub mod readme;
pub mod reference;
pub mod summary;
pub mod text;
pub mod variants;
