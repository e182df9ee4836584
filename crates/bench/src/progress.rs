//! Progress bars on stderr (drawn only when stderr is a terminal, so logs
//! and CI output stay clean), plus plain status lines.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `len` steps of the phase named `phase`.
pub fn bar(len: u64, phase: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>28} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta}) {msg}",
    )
    .expect("valid template");
    ProgressBar::new(len)
        .with_style(style)
        .with_prefix(phase.to_string())
}

/// Prints a status line to stderr above any active bar.
pub fn status(message: impl AsRef<str>) {
    eprintln!("{}", message.as_ref());
}
