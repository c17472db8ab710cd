//! The one text normaliser: how header cells (formats) and project names and
//! aliases (catalog) are compared, so `金额 （万元）` and `金额(万元)`, or
//! `“暖心家园”` and `"暖心家园"`, are the same text.

/// Text as compared: no whitespace (the ideographic space included) and no
/// byte-order mark, full-width ASCII forms (`（`, `）`, `：`, `［`, letters,
/// digits) folded to ASCII, every quote form to `"`/`'`, every bracket form
/// to `[`/`]`. Case is kept.
pub fn normalise_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{FEFF}')
        .map(|c| match c {
            // Full-width ASCII block (！..～) maps onto ASCII by a fixed offset.
            '\u{FF01}'..='\u{FF5E}' => {
                char::from_u32(c as u32 - 0xFEE0).expect("full-width ASCII maps to ASCII")
            }
            '“' | '”' | '„' | '‟' | '「' | '」' | '『' | '』' => '"',
            '‘' | '’' => '\'',
            '【' | '〔' | '〖' => '[',
            '】' | '〕' | '〗' => ']',
            other => other,
        })
        .collect()
}

/// A header cell as matched against column names: [`normalise_text`], then
/// ASCII lower-cased (`Doc_No` names `doc_no`).
pub fn normalise_header(text: &str) -> String {
    let mut normalised = normalise_text(text);
    normalised.make_ascii_lowercase();
    normalised
}

/// The index of the first byte of `bytes` that is in `set`, or
/// `bytes.len()`. Eight bytes are tested at a time, so that a writer that
/// escapes a few ASCII bytes (the canonical journal text, domain details)
/// copies the long runs between them whole. `set` is meant to be a short
/// constant: the word test is repeated once per byte of it.
#[inline]
pub fn first_byte_in(bytes: &[u8], set: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte of `word` equal to `b`. A borrow can also
    // set it in a byte above (later than) a true match, never below one, so
    // the lowest set bit is always a true match.
    let equal = |word: u64, b: u8| {
        let x = word ^ u64::from_ne_bytes([b; 8]);
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        // Little-endian on any target: the first byte is the lowest.
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        let hits = set.iter().fold(0, |hits, &b| hits | equal(word, b));
        if hits != 0 {
            return base + hits.trailing_zeros() as usize / 8;
        }
        base += 8;
    }
    let tail = chunks.remainder();
    base + tail
        .iter()
        .position(|b| set.contains(b))
        .unwrap_or(tail.len())
}

#[cfg(test)]
mod tests {
    use super::{first_byte_in, normalise_header, normalise_text};
    use proptest::prelude::*;

    fn check(input: &str, text: &str, header: &str) {
        assert_eq!(normalise_text(input), text, "text of {input:?}");
        assert_eq!(normalise_header(input), header, "header of {input:?}");
    }

    #[test]
    fn one_fold_for_headers_and_names() {
        check("  金额（万元） ", "金额(万元)", "金额(万元)");
        check("指标\u{3000}文号", "指标文号", "指标文号");
        check("\u{FEFF}doc_no", "doc_no", "doc_no");
        check("Doc_No", "Doc_No", "doc_no");
        check("【备注】", "[备注]", "[备注]");
        check("〔2021〕〖2〗［3］", "[2021][2][3]", "[2021][2][3]");
        check(
            "“暖心家园”‘x’「y」",
            "\"暖心家园\"'x'\"y\"",
            "\"暖心家园\"'x'\"y\"",
        );
        check("ＡＢＣ１２３：", "ABC123:", "abc123:");
        check("", "", "");
    }

    proptest! {
        /// The word-at-a-time search finds what a byte loop finds: bytes
        /// near the searched ones (a borrow's false hits), UTF-8 continuation
        /// bytes, matches at every offset of a word and in the tail.
        #[test]
        fn first_byte_in_is_the_byte_loop(
            text in "[a-z\\\\\t\n\r\u{1}\u{8}\u{b}\u{c}\u{e}\\[\\]\u{4e2d}\u{dc}~;=|{}:<>]{0,40}",
            set in proptest::sample::select(vec![&b"\\\t\n\r"[..], b"\\;=|~", b"\\", b"~|"]),
        ) {
            let bytes = text.as_bytes();
            let simple = bytes.iter().position(|b| set.contains(b)).unwrap_or(bytes.len());
            prop_assert_eq!(first_byte_in(bytes, set), simple);
        }
    }
}
