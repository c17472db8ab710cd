//! Text from files and the ledger shown on a terminal: control characters
//! (C0, DEL, C1, and the bidirectional overrides) are shown escaped, so a
//! name, voucher number or file name holding `ESC ]0;…` or `ESC [2J` cannot
//! retitle, clear or rewrite the officer's terminal, and a right-to-left
//! override cannot reorder what a line appears to say. Only the table output
//! and messages are escaped; CSV and JSON carry the data as it is (JSON
//! escapes control characters itself).

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_with(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c) || keep(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// One value (a table cell, a file name): every unsafe character escaped,
/// newlines and tabs included.
pub fn escaped(text: &str) -> Cow<'_, str> {
    escape_with(text, |_| false)
}

/// A path as shown in a message.
pub fn path(p: &std::path::Path) -> String {
    escaped(&p.display().to_string()).into_owned()
}

/// A whole message of one or more lines: as [`escaped`], but its own line
/// breaks are kept.
pub fn escaped_lines(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| c == '\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        let check = |input: &str, expected: &str| assert_eq!(escaped(input), expected, "{input:?}");
        check("长沙市 JS01", "长沙市 JS01");
        check("\u{1b}]0;pwned\u{7}", "\\x1b]0;pwned\\x07");
        check("\u{1b}[2J", "\\x1b[2J");
        check("a\tb\nc\rd", "a\\x09b\\x0ac\\x0dd");
        check("del\u{7f}", "del\\x7f");
        check("c1\u{9b}31m", "c1\\x9b31m");
        check("\u{202e}fdp.exe", "\\u{202e}fdp.exe");
        check("back\\slash", "back\\slash");
    }

    #[test]
    fn messages_keep_their_line_breaks() {
        assert_eq!(
            escaped_lines("a.csv:2: x\u{1b}[2J\nb"),
            "a.csv:2: x\\x1b[2J\nb"
        );
    }
}
