//! Keras-like training progress: a bar per epoch with loss, accuracy, samples/s and ETA on
//! a terminal; plain lines (every quarter of an epoch, then a summary) when stdout is a
//! file or a pipe, so CI logs stay readable.
//!
//! The bar fits the terminal: it stretches over the width left by its fields
//! (`{wide_bar}`), and under [`WIDE`] columns the fields are shorter. When an epoch ends the
//! bar is cleared and its summary printed as one line of its own, as Keras leaves it.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use nn_train::{EpochStats, Observer};

/// Redraw the bar's numbers every this many batches: formatting a message 1,875 times an
/// epoch is measurable next to a 1 ms training step.
const BAR_EVERY: usize = 16;

/// Terminals at least this wide get the long fields (`Epoch 1/5`, `accuracy`, samples/s).
pub const WIDE: u16 = 100;

/// The bar's template for a terminal `columns` wide.
pub fn template(columns: u16) -> &'static str {
    if columns >= WIDE {
        "Epoch {prefix} [{wide_bar}] {pos:>5}/{len} {msg} ETA {eta:>3}"
    } else {
        "{prefix} [{wide_bar}] {pos:>5}/{len} {msg} ETA {eta:>3}"
    }
}

/// The bar's message: the running loss and accuracy, shorter under [`WIDE`] columns.
pub fn message(columns: u16, loss: f64, accuracy: f64, rate: f64) -> String {
    if columns >= WIDE {
        format!("loss {loss:.4} accuracy {accuracy:.4} {rate:.0} samples/s")
    } else {
        format!("loss {loss:.4} acc {accuracy:.4}")
    }
}

/// The terminal's width in columns (where the bar draws: stderr), 80 when unknown.
fn columns() -> u16 {
    console::Term::stderr()
        .size_checked()
        .map_or(80, |(_rows, columns)| columns)
}

/// Draws the progress of a run.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    terminal: bool,
    epoch: usize,
    epochs: usize,
    examples: usize,
    start: Instant,
    batches: usize,
    next_line: usize,
    columns: u16,
}

impl Progress {
    /// A bar when stdout is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        Self::with_terminal(std::io::stdout().is_terminal())
    }

    /// A bar if `terminal`, plain lines otherwise.
    pub fn with_terminal(terminal: bool) -> Self {
        Self {
            bar: None,
            terminal,
            epoch: 0,
            epochs: 0,
            examples: 0,
            start: Instant::now(),
            batches: 0,
            next_line: 0,
            columns: 80,
        }
    }

    fn rate(&self, done: usize) -> f64 {
        done as f64 / self.start.elapsed().as_secs_f64().max(1e-9)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for Progress {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, examples: usize) {
        (self.epoch, self.epochs, self.examples) = (epoch, epochs, examples);
        self.start = Instant::now();
        self.batches = 0;
        self.next_line = examples / 4;
        if self.terminal {
            self.columns = columns();
            let bar = ProgressBar::new(examples as u64);
            let style = ProgressStyle::with_template(template(self.columns))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{epoch}/{epochs}"));
            self.bar = Some(bar);
        }
    }

    fn batch_end(&mut self, done: usize, loss: f64, accuracy: f64) {
        self.batches += 1;
        if let Some(bar) = &self.bar {
            if self.batches.is_multiple_of(BAR_EVERY) || done == self.examples {
                bar.set_position(done as u64);
                bar.set_message(message(self.columns, loss, accuracy, self.rate(done)));
            }
        } else if done >= self.next_line && done < self.examples {
            self.next_line += self.examples / 4;
            // A closed or full stdout must not stop training: the model file is the result.
            let _ = crate::outputs::stdout::print_line(&format!(
                "epoch {}/{} {:>3}% loss {loss:.4} accuracy {accuracy:.4} {:.0} samples/s",
                self.epoch,
                self.epochs,
                100 * done / self.examples,
                self.rate(done)
            ));
        }
    }

    fn epoch_end(&mut self, s: &EpochStats) {
        let line = format!(
            "epoch {}/{}: loss {:.4} accuracy {:.4} ({:.2} s, {:.0} samples/s)",
            s.epoch,
            self.epochs,
            s.loss,
            s.accuracy,
            s.seconds,
            self.examples as f64 / s.seconds.max(1e-9)
        );
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        // A closed or full stdout must not stop training: the model file is the result.
        let _ = crate::outputs::stdout::print_line(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_parse_and_the_fields_fit_80_columns() {
        for columns in [80, WIDE, 200] {
            assert!(ProgressStyle::with_template(template(columns)).is_ok());
        }
        // Everything but the bar, at its widest: ten bar cells still fit in 80 columns.
        let fields = template(80)
            .replace("{prefix}", "10/10")
            .replace("{wide_bar}", "")
            .replace("{pos:>5}/{len}", "60000/60000")
            .replace("{msg}", &message(80, 12.3456, 0.1135, 0.0))
            .replace("{eta:>3}", "59m");
        assert!(fields.chars().count() + 10 <= 80, "{fields}");
    }
}
