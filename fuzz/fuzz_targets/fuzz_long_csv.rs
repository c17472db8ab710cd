//! Any bytes as an indicator file: the reader never panics, and every row it
//! accepts has a non-zero amount.
#![no_main]

use fundledger_core::domain::IndicatorRow;
use fundledger_formats::open_indicators;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file(data);
    if let Ok(reader) = open_indicators(&path, &common::context()) {
        for row in reader.flatten() {
            let amount = match row {
                IndicatorRow::Line(line) => line.amount,
                IndicatorRow::Reduction(reduction) => {
                    assert!(reduction.amount.is_negative());
                    reduction.amount
                }
            };
            assert!(!amount.is_zero());
        }
    }
});
