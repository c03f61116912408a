//! Colours, and whether to use them.
//!
//! Everything is printed through `anstream`, which drops the colour codes when the output is
//! not a terminal or when `NO_COLOR` is set. So the functions here always add codes, and piping
//! `cargo workbook diff 02 > my.diff` still gives a clean file.

use anstyle::{AnsiColor, Style};

pub const PASS: Style = AnsiColor::Green.on_default().bold();
pub const FAIL: Style = AnsiColor::Red.on_default().bold();
pub const NOTE: Style = Style::new().dimmed();
pub const STRONG: Style = Style::new().bold();
pub const COMMAND: Style = AnsiColor::Cyan.on_default();

/// `text` in `style`.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// cargo's `--color` for output that goes straight to our stdout: `never` when we would not
/// colour (not a terminal, `NO_COLOR`), `always` when colour is forced (`CLICOLOR_FORCE`) onto
/// a pipe, and otherwise `auto`, which lets cargo ask the terminal itself.
pub fn cargo_colour() -> &'static str {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    match anstream::AutoStream::choice(&stdout) {
        anstream::ColorChoice::Never => "never",
        _ if stdout.is_terminal() => "auto",
        _ => "always",
    }
}
