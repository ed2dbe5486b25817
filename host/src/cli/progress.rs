//! Progress bars on stderr; hidden automatically when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `total` units of `what`.
pub(super) fn bar(total: u64, what: &'static str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:>9} [{bar:40.cyan/blue}] {human_pos}/{human_len} {per_sec} eta {eta}",
    )
    .map(|style| style.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(total).with_style(style).with_message(what)
}
