//! The checked-in 36号/37号 variants (issue 10) are exactly what the
//! generator writes now; the .xls copy comes from scripts/gen_xls_fixture.py
//! and is the one file the generator does not write.

use fundledger_devtools::hunan::Model;
use fundledger_devtools::variants;
use std::path::PathBuf;

const REGENERATE: &str = "cargo run -p fundledger-devtools -- gen-variants --out fixtures/hunan-2020-variants && python3 scripts/gen_xls_fixture.py";

#[test]
fn checked_in_variants_are_byte_identical_to_a_fresh_run() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hunan-2020-variants");
    let mut checked_in: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "36_wide_wan.xls")
        .collect();
    checked_in.sort();
    let mut fresh = variants::all_files(&Model::build()).unwrap();
    fresh.sort();
    let names: Vec<String> = fresh.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names, checked_in, "file set differs; run {REGENERATE}");
    for (name, bytes) in fresh {
        let on_disk = std::fs::read(dir.join(&name)).unwrap();
        assert!(on_disk == bytes, "{name} is stale; run {REGENERATE}");
    }
    assert!(dir.join("36_wide_wan.xls").exists(), "run {REGENERATE}");
}
