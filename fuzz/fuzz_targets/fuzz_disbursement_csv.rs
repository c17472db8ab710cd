//! Any bytes as a disbursement file: the reader never panics, every voucher
//! it accepts has a non-zero amount, and a refund names its original voucher.
#![no_main]

use fundledger_formats::open_disbursements;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch_file(data);
    if let Ok(reader) = open_disbursements(&path, &common::context()) {
        for voucher in reader.flatten() {
            assert!(!voucher.amount.is_zero());
            assert_eq!(
                voucher.amount.is_negative(),
                voucher.original_voucher_no.is_some()
            );
        }
    }
});
