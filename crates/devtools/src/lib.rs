//! Developer tools for fundledger: the deterministic Hunan 2020 demo fixture
//! generator and the benchmark data generator. Nothing here is shipped.

pub mod bench;
pub mod hunan;
pub mod hunan_files;
pub mod prng;
pub mod readme;
pub mod reference;
pub mod summary;
pub mod text;
pub mod variants;
