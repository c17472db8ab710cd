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

#[cfg(test)]
mod tests {
    use super::{normalise_header, normalise_text};

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
}
