//! The amount parser never panics, and what it accepts converts back exactly.
#![no_main]

use fundledger_core::Unit;
use fundledger_formats::cells::parse_amount_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for unit in [Unit::Yuan, Unit::Wan] {
        if let Ok(fen) = parse_amount_text(text, unit) {
            // Only ASCII digits, separators, a point, a sign or parentheses were accepted.
            assert!(text
                .trim()
                .bytes()
                .all(|b| b.is_ascii_digit() || b",.+-()".contains(&b)));
            // The printed yuan amount parses back to the same fen.
            assert_eq!(parse_amount_text(&fen.to_string(), Unit::Yuan), Ok(fen));
        }
    }
});
