//! Keras-like training progress: a bar per epoch with loss, accuracy, samples/s and ETA on
//! a terminal; plain lines (every quarter of an epoch, then a summary) when stdout is a
//! file or a pipe, so CI logs stay readable.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::train::{EpochStats, Observer};

/// Redraw the bar's numbers every this many batches: formatting a message 1,875 times an
/// epoch is measurable next to a 1 ms training step.
const BAR_EVERY: usize = 16;

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
            let bar = ProgressBar::new(examples as u64);
            let style = ProgressStyle::with_template(
                "Epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
            )
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
                bar.set_message(format!(
                    "loss {loss:.4} accuracy {accuracy:.4} {:.0} samples/s",
                    self.rate(done)
                ));
            }
        } else if done >= self.next_line && done < self.examples {
            self.next_line += self.examples / 4;
            // A closed or full stdout must not stop training: the model file is the result.
            let _ = crate::io::print_line(&format!(
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
        match self.bar.take() {
            Some(bar) => bar.finish_with_message(line),
            None => {
                let _ = crate::io::print_line(&line);
            }
        }
    }
}
