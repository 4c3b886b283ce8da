//! Pictures a person opens: the training curves of `train --plot`, and the canvas that
//! `eval --report`'s figures ([`crate::outputs::report`]) are drawn on.
//!
//! 1. A figure ([`Figure`]) draws itself on any plotters backend, so one drawing gives a PNG
//!    (plotters' bitmap backend into memory, encoded by `image`) or an SVG, chosen by the
//!    file's extension ([`Format::of`]).
//! 2. Text goes through plotters' `ab_glyph` backend with the DejaVu Sans subset shipped in
//!    `host-trainer/assets/` (Latin-1; its licence beside it): no system font library.
//! 3. The bytes go to disk through [`crate::files::atomic::write`], which refuses the same targets
//!    as for the model file.
//!
//! Colours stay apart in greyscale: series differ in lightness and in marker shape.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

use nn_data::read::show;
use nn_train::{EpochStats, EvalStats, Observer};

/// The font family every figure names; [`register_font`] maps it to the shipped font.
pub const FONT: &str = "sans-serif";

/// Dark blue: the training set's per-epoch values, a confusion matrix's darkest cell.
pub const DARK: RGBColor = RGBColor(8, 48, 107);
/// Orange, lighter than [`DARK`] in greyscale: the test set.
pub const ORANGE: RGBColor = RGBColor(230, 110, 0);
/// Light blue, lightest of the three: the running training values.
pub const LIGHT: RGBColor = RGBColor(140, 180, 225);

/// The two file formats a figure is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PNG image.
    Png,
    /// An SVG drawing (its text in the viewer's sans-serif font).
    Svg,
}

impl Format {
    /// The format `path`'s extension names (`.png` or `.svg`, any case); `flag` names the
    /// option in the error.
    ///
    /// # Errors
    /// Any other extension, or none.
    pub fn of(path: &Path, flag: &str) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => bail!(
                "{flag} {}: the file name must end in .png or .svg",
                show(path)
            ),
        }
    }
}

/// A picture that draws itself on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on `area`, which is [`Figure::size`] large and white.
    ///
    /// # Errors
    /// What the backend reports.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// A plotters error as an `anyhow` one.
pub fn drawing<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing the figure: {e}")
}

/// Makes [`FONT`] the shipped DejaVu Sans subset, once per process.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes = include_bytes!("../../assets/DejaVuSans-subset.ttf");
        // A font compiled into the binary either parses or never does; a test pins it.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, bytes);
    });
}

/// `figure` encoded as `format`.
///
/// # Errors
/// Drawing or encoding failed.
pub fn encode(figure: &impl Figure, format: Format) -> Result<Vec<u8>> {
    register_font();
    let (w, h) = figure.size();
    match format {
        Format::Png => {
            let mut rgb = vec![255u8; w as usize * h as usize * 3];
            {
                let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                area.fill(&WHITE).map_err(drawing)?;
                figure.draw(&area)?;
                area.present().map_err(drawing)?;
            }
            let mut png = Vec::new();
            // Best compression: the figures are mostly flat colour, and go into READMEs.
            let encoder = image::codecs::png::PngEncoder::new_with_quality(
                &mut png,
                image::codecs::png::CompressionType::Best,
                image::codecs::png::FilterType::Adaptive,
            );
            image::ImageEncoder::write_image(encoder, &rgb, w, h, image::ExtendedColorType::Rgb8)
                .context("encoding the PNG")?;
            Ok(png)
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let area = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                area.fill(&WHITE).map_err(drawing)?;
                figure.draw(&area)?;
                area.present().map_err(drawing)?;
            }
            Ok(svg.into_bytes())
        }
    }
}

/// Draws `figure` into `path` (PNG or SVG by its extension), atomically.
///
/// # Errors
/// A bad extension, drawing, or writing; one line naming `flag` and the path.
pub fn write(path: &Path, flag: &str, figure: &impl Figure) -> Result<()> {
    let format = Format::of(path, flag)?;
    let bytes = encode(figure, format).with_context(|| format!("{flag} {}", show(path)))?;
    crate::files::atomic::write(path, &bytes).with_context(|| format!("{flag} {}", show(path)))
}

// ----------------------------------------------------------------------------------------
// Training curves

/// Batches behind each running point of the curves: a point every few hundred steps.
pub const STEPS_PER_POINT: usize = 200;

/// Where `train` puts its plot when `--plot` is not given but `--metrics` is: beside it,
/// with `.png` for its extension (`runs/seed.json` → `runs/seed.png`; `x.png` → `x.png.png`).
pub fn beside_metrics(metrics: &Path) -> PathBuf {
    let plot = metrics.with_extension("png");
    if plot == metrics {
        let mut name = metrics.as_os_str().to_owned();
        name.push(".png");
        return PathBuf::from(name);
    }
    plot
}

/// A point of a curve: where in training (in epochs, 1.0 = end of the first) and the values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Epochs of training done at this point.
    pub epoch: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly (0–1).
    pub accuracy: f64,
}

/// What a training run's curves show; records itself as an [`Observer`], which also asks
/// [`crate::train::run`] for the test set's values after every epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Training loss and accuracy over each block of [`STEPS_PER_POINT`] batches (the last
    /// block of an epoch may be shorter).
    pub steps: Vec<Point>,
    /// The training set's mean over each epoch, as Keras reports it.
    pub train: Vec<Point>,
    /// The test set after each epoch.
    pub test: Vec<Point>,
    epoch: usize,
    examples: usize,
    batches: usize,
    /// Examples, summed loss and correct count when the current block started.
    block: (usize, f64, f64),
}

impl Observer for History {
    fn epoch_start(&mut self, epoch: usize, _epochs: usize, examples: usize) {
        (self.epoch, self.examples, self.batches) = (epoch, examples, 0);
        self.block = (0, 0.0, 0.0);
    }

    fn batch_end(&mut self, done: usize, loss: f64, accuracy: f64) {
        self.batches += 1;
        if !self.batches.is_multiple_of(STEPS_PER_POINT) && done < self.examples {
            return;
        }
        // The observer is told running means; the block's own mean is their difference.
        let (loss_sum, correct) = (loss * done as f64, accuracy * done as f64);
        let (start, start_loss, start_correct) = self.block;
        let n = done.saturating_sub(start);
        if n > 0 {
            self.steps.push(Point {
                epoch: (self.epoch - 1) as f64 + done as f64 / self.examples.max(1) as f64,
                loss: (loss_sum - start_loss) / n as f64,
                accuracy: (correct - start_correct) / n as f64,
            });
        }
        self.block = (done, loss_sum, correct);
    }

    fn epoch_end(&mut self, s: &EpochStats) {
        self.train.push(Point {
            epoch: s.epoch as f64,
            loss: s.loss,
            accuracy: s.accuracy,
        });
    }

    fn wants_test_every_epoch(&self) -> bool {
        true
    }

    fn test_end(&mut self, epoch: usize, s: &EvalStats) {
        self.test.push(Point {
            epoch: epoch as f64,
            loss: s.loss,
            accuracy: s.accuracy,
        });
    }
}

/// Which value of a [`Point`] a panel shows.
#[derive(Clone, Copy)]
enum Panel {
    Loss,
    Accuracy,
}

impl Panel {
    fn value(self, p: &Point) -> f64 {
        match self {
            Panel::Loss => p.loss,
            Panel::Accuracy => 100.0 * p.accuracy,
        }
    }
}

impl Figure for History {
    fn size(&self) -> (u32, u32) {
        (1000, 400)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let (left, right) = area.split_horizontally(500);
        self.panel(&left, Panel::Loss)?;
        self.panel(&right, Panel::Accuracy)
    }
}

impl History {
    fn panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, panel: Panel) -> Result<()> {
        let all = || self.steps.iter().chain(&self.train).chain(&self.test);
        let (lo, hi) = all()
            .map(|p| panel.value(p))
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 1.0) };
        let pad = ((hi - lo) * 0.08).max(1e-3);
        let (y0, y1, caption) = match panel {
            Panel::Loss => (0.0f64.max(lo - pad), hi + pad, "loss (cross-entropy)"),
            Panel::Accuracy => (lo - pad, 100.0f64.min(hi + pad), "accuracy (%)"),
        };
        let x1 = all().map(|p| p.epoch).fold(1.0f64, f64::max);
        let x0 = all().map(|p| p.epoch).fold(x1, f64::min).min(1.0) - 1.0;
        let x0 = x0.max(0.0).floor();
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(drawing)?;
        let whole_epochs = (x1 - x0).round() as usize;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels(whole_epochs.clamp(2, 10) + 1)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| match panel {
                Panel::Loss => format!("{y:.2}"),
                Panel::Accuracy => format!("{y:.1}"),
            })
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(210, 210, 210))
            .draw()
            .map_err(drawing)?;
        let at = |points: &[Point]| -> Vec<(f64, f64)> {
            points.iter().map(|p| (p.epoch, panel.value(p))).collect()
        };
        let running = ShapeStyle::from(&LIGHT).stroke_width(2);
        chart
            .draw_series(LineSeries::new(at(&self.steps), running))
            .map_err(drawing)?
            .label(format!("training, every {STEPS_PER_POINT} steps"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], running));
        let train = ShapeStyle::from(&DARK).stroke_width(2);
        chart
            .draw_series(LineSeries::new(at(&self.train), train))
            .map_err(drawing)?;
        chart
            .draw_series(
                at(&self.train)
                    .into_iter()
                    .map(|c| Circle::new(c, 5, train.filled())),
            )
            .map_err(drawing)?
            .label("training, epoch mean")
            .legend(move |(x, y)| Circle::new((x + 11, y), 5, train.filled()));
        let test = ShapeStyle::from(&ORANGE).stroke_width(2);
        chart
            .draw_series(LineSeries::new(at(&self.test), test))
            .map_err(drawing)?;
        chart
            .draw_series(
                at(&self.test)
                    .into_iter()
                    .map(|c| TriangleMarker::new(c, 7, test.filled())),
            )
            .map_err(drawing)?
            .label("test set, after each epoch")
            .legend(move |(x, y)| TriangleMarker::new((x + 11, y), 7, test.filled()));
        chart
            .configure_series_labels()
            .position(match panel {
                Panel::Loss => SeriesLabelPosition::UpperRight,
                Panel::Accuracy => SeriesLabelPosition::LowerRight,
            })
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(drawing)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(
            Format::of(Path::new("a/b.PNG"), "--plot").unwrap(),
            Format::Png
        );
        assert_eq!(
            Format::of(Path::new("b.svg"), "--plot").unwrap(),
            Format::Svg
        );
        for bad in ["b.jpg", "b", "dir/"] {
            let e = Format::of(Path::new(bad), "--plot")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("--plot ") && e.contains(".png or .svg"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_plot_goes_beside_the_metrics() {
        assert_eq!(
            beside_metrics(Path::new("runs/seed.json")),
            Path::new("runs/seed.png")
        );
        assert_eq!(beside_metrics(Path::new("m")), Path::new("m.png"));
        assert_eq!(beside_metrics(Path::new("x.png")), Path::new("x.png.png"));
    }

    #[test]
    fn the_shipped_font_parses() {
        let bytes = include_bytes!("../../assets/DejaVuSans-subset.ttf");
        assert!(plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok());
    }

    #[test]
    fn running_points_are_block_means_of_the_running_means() {
        let mut h = History::default();
        h.epoch_start(2, 2, 3 * STEPS_PER_POINT);
        // One example a batch: loss 1 for the first block, 3 for the second, 5 for the last.
        let mut sum = 0.0;
        for done in 1..=3 * STEPS_PER_POINT {
            sum += [1.0, 3.0, 5.0][(done - 1) / STEPS_PER_POINT];
            h.batch_end(done, sum / done as f64, 0.5);
        }
        let got: Vec<(f64, f64)> = h.steps.iter().map(|p| (p.epoch, p.loss)).collect();
        let want = [(1.0 + 1.0 / 3.0, 1.0), (1.0 + 2.0 / 3.0, 3.0), (2.0, 5.0)];
        assert_eq!(got.len(), 3);
        for ((ge, gl), (we, wl)) in got.iter().zip(want) {
            assert!((ge - we).abs() < 1e-12 && (gl - wl).abs() < 1e-9, "{got:?}");
        }
        assert!(h.steps.iter().all(|p| (p.accuracy - 0.5).abs() < 1e-9));
    }
}
