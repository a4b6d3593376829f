//! How commands print: aligned columns for people, JSON for scripts, times in UTC.

use std::io::Write;

use serde::Serialize;

/// Rows under a header, printed with each column as wide as its widest cell.
pub struct Table {
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new(head: &[&'static str]) -> Self {
        Self {
            head: head.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row. Control characters become `�`: cells carry what portals and callers sent
    /// (names, logged bodies), and an escape sequence must not reach the operator's terminal.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.iter().map(|cell| printable(cell)).collect());
    }

    /// Prints the table on stdout.
    pub fn print(&self) {
        let mut widths: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let padded: Vec<String> = cells
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let mut text = line(&mut self.head.iter().copied());
        for row in &self.rows {
            text.push('\n');
            text.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        say(&text);
    }
}

/// `text` with every control character replaced by `�`.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// Prints `value` as pretty JSON on stdout. JSON escapes C0 controls in strings but not C1
/// ones (U+0080–U+009F), which some terminals obey: those are escaped too (`\u0085`), which
/// is still the same JSON.
pub fn print_json(value: &impl Serialize) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let escaped: String = text
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                format!("\\u{:04x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect();
    say(&escaped);
}

/// Prints a line on stdout; a reader that went away (`| head`) is no error.
pub fn say(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _gone = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

/// Unix seconds as `2026-12-04 09:30 UTC`, or `-`.
pub fn when(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(
            || "-".to_owned(),
            |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

/// How long ago `seconds` was, roughly: `12 d`, `5 h`, `3 min`, or `-`.
pub fn ago(now: i64, seconds: Option<i64>) -> String {
    let Some(seconds) = seconds else {
        return "-".to_owned();
    };
    let age = (now - seconds).max(0);
    match age {
        0..3600 => format!("{} min", age / 60),
        3600..86_400 => format!("{} h", age / 3600),
        _ => format!("{} d", age / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(when(Some(1_796_376_600)), "2026-12-04 09:30 UTC");
        assert_eq!(when(None), "-");
        assert_eq!(ago(10_000, Some(10_000 - 180)), "3 min");
        assert_eq!(ago(100_000, Some(100_000 - 7200)), "2 h");
        assert_eq!(ago(1_000_000, Some(0)), "11 d");
        assert_eq!(ago(5, None), "-");
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(
            printable("ok\u{1b}[2Jgone\u{85}\r\n"),
            "ok\u{fffd}[2Jgone\u{fffd}\u{fffd}\u{fffd}"
        );
        let mut table = Table::new(&["body"]);
        table.row(vec!["<html>\u{1b}]0;owned\u{7}</html>".to_owned()]);
        assert!(table.rows[0][0].chars().all(|c| !c.is_control()));
    }
}
