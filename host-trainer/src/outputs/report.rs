//! `eval --report DIR`: where a model goes wrong, as pictures and numbers.
//!
//! 1. Every test image is classified by `eval`'s own pass,
//!    [`evaluate`](crate::evaluate::evaluate), so the counts agree with its line.
//! 2. The counts become a confusion matrix, per-class accuracy and the list of mistakes,
//!    most confident first ([`Report`]).
//! 3. Three files go to `DIR`, each atomically: [`CONFUSION_PNG`], [`MISTAKES_PNG`] and
//!    [`REPORT_JSON`], which holds every number the pictures show.
//!
//! Classes are named by the model file's class names when it has them, by index otherwise.

use std::path::Path;

use anyhow::{Context, Result, bail};
use nn_core::{CLASSES, IMAGE_PIXELS};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

use nn_core::format::ElementType;

use crate::evaluate::Evaluation;
use crate::model::HostModel;
use crate::outputs::plot::{self, DARK, FONT, Figure, drawing};
use nn_data::Dataset;
use nn_data::read::show;

/// The confusion matrix's picture, in the report directory.
pub const CONFUSION_PNG: &str = "confusion.png";
/// The grid of the most confident mistakes.
pub const MISTAKES_PNG: &str = "mistakes.png";
/// Every number of the report.
pub const REPORT_JSON: &str = "report.json";
/// Mistakes shown in the grid.
pub const MISTAKES_SHOWN: usize = 25;

/// One class's line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassStats {
    /// Its index (the model's output).
    pub class: usize,
    /// Its name: the model file's, or the index.
    pub name: String,
    /// Test images of this class.
    pub examples: usize,
    /// Of those, classified correctly.
    pub correct: usize,
    /// `correct / examples` (0 when there are none).
    pub accuracy: f64,
}

/// A test image the model got wrong.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mistake {
    /// Its index in the test set.
    pub index: usize,
    /// The true class.
    pub label: usize,
    /// The model's class.
    pub predicted: usize,
    /// The model's probability for `predicted`.
    pub confidence: f32,
    /// The model's probability for `label`.
    pub label_probability: f32,
}

/// What `eval --report` writes in [`REPORT_JSON`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The model file.
    pub model: String,
    /// `"f32"` or `"int8"`.
    pub weights: &'static str,
    /// Test images classified.
    pub examples: usize,
    /// Classified correctly.
    pub correct: usize,
    /// `correct / examples`.
    pub accuracy: f64,
    /// Mean cross-entropy, as `eval` prints it (f32 models only: int8 probabilities come
    /// in steps of 1/256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// The class names used, one per output.
    pub classes: Vec<String>,
    /// `confusion[true][predicted]`: how many test images of class `true` the model called
    /// `predicted`.
    pub confusion: Vec<Vec<usize>>,
    /// Per true class.
    pub per_class: Vec<ClassStats>,
    /// Wrong answers, most confident first (ties by index), at most [`MISTAKES_SHOWN`].
    pub most_confident_wrong: Vec<Mistake>,
    /// Wrong answers in all.
    pub mistakes: usize,
    /// The pixels of `most_confident_wrong`, for the grid.
    #[serde(skip)]
    pub mistake_images: Vec<[u8; IMAGE_PIXELS]>,
}

/// Refuses a `--report` target before any work: an existing non-directory, a directory
/// where the report's files cannot be written, or one of them being `model`, the
/// `--model` being evaluated.
///
/// # Errors
/// One line naming `--report` and the path.
pub fn check_target(dir: &Path, model: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("--report {}: exists and is not a directory", show(dir));
    }
    for name in [CONFUSION_PNG, MISTAKES_PNG, REPORT_JSON] {
        let path = dir.join(name);
        crate::files::atomic::check_distinct(("--model", model), ("--report", &path))?;
        crate::files::atomic::check_writable(&path, "--report")?;
    }
    Ok(())
}

impl Report {
    /// The report of `evaluation`, [`evaluate`](crate::evaluate::evaluate)'s pass of `model`
    /// (read from `path`) over `test`.
    ///
    /// # Errors
    /// A label is out of range.
    pub fn build(
        path: &Path,
        model: &HostModel,
        test: &Dataset,
        evaluation: &Evaluation,
    ) -> Result<Self> {
        let weights = match model.element() {
            ElementType::I8 => "int8",
            _ => "f32",
        };
        Self::tally(
            show(path),
            weights,
            evaluation.loss,
            model.class_names(),
            test,
            &evaluation.answers,
        )
    }

    /// The report of `answers[i]` (class, probabilities) for test image `i`.
    ///
    /// # Errors
    /// A label is not below [`CLASSES`].
    pub fn tally(
        model: String,
        weights: &'static str,
        loss: Option<f64>,
        names: &[String],
        test: &Dataset,
        answers: &[(usize, [f32; CLASSES])],
    ) -> Result<Self> {
        let classes: Vec<String> = (0..CLASSES)
            .map(|k| names.get(k).cloned().unwrap_or_else(|| k.to_string()))
            .collect();
        let mut confusion = vec![vec![0usize; CLASSES]; CLASSES];
        let mut wrong = Vec::new();
        for (index, (&label, &(predicted, p))) in test.labels.iter().zip(answers).enumerate() {
            let label = usize::from(label);
            let Some(cell) = confusion
                .get_mut(label)
                .and_then(|row| row.get_mut(predicted))
            else {
                bail!(
                    "test image {index}: label {label} or class {predicted} is not below {CLASSES}"
                );
            };
            *cell += 1;
            if label != predicted {
                wrong.push(Mistake {
                    index,
                    label,
                    predicted,
                    confidence: p[predicted],
                    label_probability: p[label],
                });
            }
        }
        let mistakes = wrong.len();
        wrong.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.index.cmp(&b.index))
        });
        wrong.truncate(MISTAKES_SHOWN);
        let per_class: Vec<ClassStats> = confusion
            .iter()
            .enumerate()
            .map(|(class, row)| {
                let examples: usize = row.iter().sum();
                ClassStats {
                    class,
                    name: classes[class].clone(),
                    examples,
                    correct: row[class],
                    accuracy: ratio(row[class], examples),
                }
            })
            .collect();
        let examples = answers.len().min(test.len());
        let correct = per_class.iter().map(|c| c.correct).sum();
        Ok(Self {
            model,
            weights,
            examples,
            correct,
            accuracy: ratio(correct, examples),
            loss,
            classes,
            confusion,
            per_class,
            mistake_images: wrong.iter().map(|m| *test.image(m.index)).collect(),
            most_confident_wrong: wrong,
            mistakes,
        })
    }

    /// Writes [`CONFUSION_PNG`], [`MISTAKES_PNG`] and [`REPORT_JSON`] into `dir`.
    ///
    /// # Errors
    /// Drawing or writing failed; one line naming `--report` and the file.
    pub fn write(&self, dir: &Path) -> Result<()> {
        plot::write(&dir.join(CONFUSION_PNG), "--report", &Confusion(self))?;
        plot::write(&dir.join(MISTAKES_PNG), "--report", &Mistakes(self))?;
        let path = dir.join(REPORT_JSON);
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        crate::files::atomic::write(&path, &json)
            .with_context(|| format!("--report {}", show(&path)))
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// `s`, cut to `max` characters with an ellipsis.
fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Secondary text: headers and notes.
const GREY: RGBColor = RGBColor(90, 90, 90);

/// Text in [`FONT`] at `size` pixels, in `color`, anchored at `h`, `v`.
fn text(size: u32, color: &'static RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
        .color(color)
        .pos(Pos::new(h, v))
}

/// Draws `s` at `(x, y)` in `style`.
fn label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &str,
    (x, y): (i32, i32),
    style: &TextStyle<'_>,
) -> Result<()> {
    area.draw(&Text::new(s.to_owned(), (x, y), style.clone()))
        .map_err(drawing)
}

/// The confusion matrix: counts in cells shaded by their share of the row, per-class
/// accuracy on the right.
struct Confusion<'a>(&'a Report);

/// Side of a confusion-matrix cell, pixels.
const CELL: i32 = 56;
/// Characters of a class name in a row label.
const ROW_NAME: usize = 14;

impl Confusion<'_> {
    /// Row labels: `k` alone when the name is the index, `k name` otherwise.
    fn row_label(&self, k: usize) -> String {
        let name = &self.0.classes[k];
        if *name == k.to_string() {
            name.clone()
        } else {
            format!("{k} {}", fit(name, ROW_NAME))
        }
    }

    /// Left of the matrix: room for the longest row label.
    fn left(&self) -> i32 {
        let chars = (0..CLASSES)
            .map(|k| self.row_label(k).chars().count())
            .max()
            .unwrap_or(1);
        20 + (chars as i32 * 10).max(70)
    }
}

const TOP: i32 = 100;
const ACCURACY_W: i32 = 100;

impl Figure for Confusion<'_> {
    fn size(&self) -> (u32, u32) {
        let w = self.left() + CELL * CLASSES as i32 + 20 + ACCURACY_W + 20;
        let h = TOP + CELL * CLASSES as i32 + 60;
        (w as u32, h as u32)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let r = self.0;
        let left = self.left();
        let right = left + CELL * CLASSES as i32;
        label(
            area,
            &format!(
                "{}: accuracy {:.2} % ({}/{}), {}",
                fit(&r.model, 40),
                100.0 * r.accuracy,
                r.correct,
                r.examples,
                r.weights
            ),
            (20, 18),
            &text(20, &BLACK, HPos::Left, VPos::Center),
        )?;
        let head = text(16, &GREY, HPos::Center, VPos::Center);
        label(area, "predicted class →", ((left + right) / 2, 52), &head)?;
        label(area, "true ↓", (left / 2, TOP - 16), &head)?;
        label(
            area,
            "accuracy",
            (right + 20 + ACCURACY_W / 2, TOP - 16),
            &head,
        )?;
        for k in 0..CLASSES {
            let x = left + CELL * k as i32 + CELL / 2;
            label(
                area,
                &k.to_string(),
                (x, TOP - 16),
                &text(17, &BLACK, HPos::Center, VPos::Center),
            )?;
        }
        for (t, row) in r.confusion.iter().enumerate() {
            let y = TOP + CELL * t as i32;
            label(
                area,
                &self.row_label(t),
                (left - 12, y + CELL / 2),
                &text(17, &BLACK, HPos::Right, VPos::Center),
            )?;
            let total: usize = row.iter().sum();
            for (p, &count) in row.iter().enumerate() {
                let x = left + CELL * p as i32;
                // The square root lifts the few mistakes off the white background.
                let shade = ratio(count, total).sqrt();
                let mix = |white: u8, dark: u8| {
                    (f64::from(white) + (f64::from(dark) - f64::from(white)) * shade).round() as u8
                };
                let fill = RGBColor(mix(255, DARK.0), mix(255, DARK.1), mix(255, DARK.2));
                area.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    fill.filled(),
                ))
                .map_err(drawing)?;
                area.draw(&Rectangle::new(
                    [(x, y), (x + CELL, y + CELL)],
                    RGBColor(200, 200, 200),
                ))
                .map_err(drawing)?;
                if count > 0 {
                    let ink = if shade > 0.55 { &WHITE } else { &BLACK };
                    label(
                        area,
                        &count.to_string(),
                        (x + CELL / 2, y + CELL / 2),
                        &text(15, ink, HPos::Center, VPos::Center),
                    )?;
                }
            }
            label(
                area,
                &format!("{:.1} %", 100.0 * r.per_class[t].accuracy),
                (right + 20 + ACCURACY_W / 2, y + CELL / 2),
                &text(16, &BLACK, HPos::Center, VPos::Center),
            )?;
        }
        label(
            area,
            "rows: true class; shade: share of the row (square-root scale)",
            (20, TOP + CELL * CLASSES as i32 + 32),
            &text(15, &GREY, HPos::Left, VPos::Center),
        )
    }
}

/// The grid of the most confidently wrong test digits, each with its label and the
/// model's answer.
struct Mistakes<'a>(&'a Report);

/// Screen pixels per image pixel in the grid.
const ZOOM: i32 = 4;
const TILE_W: i32 = 184;
const TILE_H: i32 = 28 * ZOOM + 56;
const GRID_COLUMNS: usize = 5;
const GRID_TOP: i32 = 50;
/// Characters of a class name in a caption.
const CAPTION_NAME: usize = 9;

impl Mistakes<'_> {
    fn rows(&self) -> usize {
        self.0
            .most_confident_wrong
            .len()
            .div_ceil(GRID_COLUMNS)
            .max(1)
    }

    /// `k` alone when its name is the index, `k name` otherwise.
    fn name(&self, k: usize) -> String {
        let name = &self.0.classes[k];
        if *name == k.to_string() {
            name.clone()
        } else {
            format!("{k} {}", fit(name, CAPTION_NAME))
        }
    }
}

impl Figure for Mistakes<'_> {
    fn size(&self) -> (u32, u32) {
        let w = 20 + TILE_W * GRID_COLUMNS as i32;
        let h = GRID_TOP + TILE_H * self.rows() as i32 + 10;
        (w as u32, h as u32)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let r = self.0;
        let title = if r.mistakes == 0 {
            format!("{}: no test image is misclassified", fit(&r.model, 40))
        } else {
            format!(
                "{}: the {} most confident of {} mistakes",
                fit(&r.model, 40),
                r.most_confident_wrong.len(),
                r.mistakes
            )
        };
        label(
            area,
            &title,
            (20, 22),
            &text(20, &BLACK, HPos::Left, VPos::Center),
        )?;
        for (i, (m, pixels)) in r
            .most_confident_wrong
            .iter()
            .zip(&r.mistake_images)
            .enumerate()
        {
            let x0 = 10 + TILE_W * (i % GRID_COLUMNS) as i32 + (TILE_W - 28 * ZOOM) / 2;
            let y0 = GRID_TOP + TILE_H * (i / GRID_COLUMNS) as i32;
            // Ink dark on white paper.
            for (k, &v) in pixels.iter().enumerate() {
                if v == 0 {
                    continue;
                }
                let (px, py) = (x0 + ZOOM * (k % 28) as i32, y0 + ZOOM * (k / 28) as i32);
                let g = 255 - v;
                area.draw(&Rectangle::new(
                    [(px, py), (px + ZOOM, py + ZOOM)],
                    RGBColor(g, g, g).filled(),
                ))
                .map_err(drawing)?;
            }
            area.draw(&Rectangle::new(
                [(x0 - 1, y0 - 1), (x0 + 28 * ZOOM + 1, y0 + 28 * ZOOM + 1)],
                RGBColor(170, 170, 170),
            ))
            .map_err(drawing)?;
            let cx = 10 + TILE_W * (i % GRID_COLUMNS) as i32 + TILE_W / 2;
            let style = text(15, &BLACK, HPos::Center, VPos::Center);
            label(
                area,
                &format!("label {}", self.name(m.label)),
                (cx, y0 + 28 * ZOOM + 14),
                &style,
            )?;
            label(
                area,
                &format!(
                    "says {} ({:.1} %)",
                    self.name(m.predicted),
                    100.0 * m.confidence
                ),
                (cx, y0 + 28 * ZOOM + 34),
                &style,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three images of each class; class `k` is answered `k`, except image 0 (a 0 called
    /// 7 at 0.9) and image 1 (a 1 called 2 at 0.6).
    fn answers() -> (Dataset, Vec<(usize, [f32; CLASSES])>) {
        let labels: Vec<u8> = (0..30).map(|i| (i % 10) as u8).collect();
        let images = (0..30).flat_map(|i| [i as u8; IMAGE_PIXELS]).collect();
        let answers = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                let (class, confidence) = match i {
                    0 => (7, 0.9),
                    1 => (2, 0.6),
                    _ => (usize::from(l), 0.99),
                };
                let mut p = [0.0; CLASSES];
                p[class] = confidence;
                (class, p)
            })
            .collect();
        (Dataset { images, labels }, answers)
    }

    #[test]
    fn counts_name_classes_and_rank_mistakes() {
        let (test, answers) = answers();
        let names = vec!["zero".to_owned(), "one".to_owned()];
        let r = Report::tally("m.nnm".into(), "f32", Some(0.5), &names, &test, &answers).unwrap();
        assert_eq!((r.examples, r.correct, r.mistakes), (30, 28, 2));
        assert_eq!(r.accuracy, 28.0 / 30.0);
        assert_eq!(r.confusion[0][7], 1);
        assert_eq!(r.confusion[0][0], 2);
        assert_eq!(r.confusion[1][2], 1);
        assert_eq!(r.confusion[5][5], 3);
        assert_eq!(r.confusion.iter().flatten().sum::<usize>(), 30);
        assert_eq!(&r.classes[..3], ["zero", "one", "2"]);
        assert_eq!(r.per_class[0].accuracy, 2.0 / 3.0);
        let ranked: Vec<(usize, usize, usize)> = r
            .most_confident_wrong
            .iter()
            .map(|m| (m.index, m.label, m.predicted))
            .collect();
        assert_eq!(ranked, [(0, 0, 7), (1, 1, 2)]);
        assert_eq!(r.mistake_images[1], [1u8; IMAGE_PIXELS]);
        let json: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(json["confusion"][0][7], 1);
        assert_eq!(json["per_class"][1]["name"], "one");
        assert!(json.get("mistake_images").is_none());
    }

    #[test]
    fn a_label_out_of_range_is_an_error_not_a_panic() {
        let (mut test, answers) = answers();
        test.labels[4] = 12;
        let e = Report::tally("m".into(), "f32", None, &[], &test, &answers).unwrap_err();
        assert!(e.to_string().contains("test image 4"), "{e}");
    }

    #[test]
    fn the_figures_decode_at_their_size() {
        let (test, answers) = answers();
        let names = vec!["a long class name that does not fit".to_owned()];
        let r = Report::tally("m.nnm".into(), "int8", None, &names, &test, &answers).unwrap();
        for (size, png) in [
            (
                Confusion(&r).size(),
                plot::encode(&Confusion(&r), plot::Format::Png),
            ),
            (
                Mistakes(&r).size(),
                plot::encode(&Mistakes(&r), plot::Format::Png),
            ),
        ] {
            let img = image::load_from_memory(&png.unwrap()).unwrap();
            assert_eq!((img.width(), img.height()), size);
        }
        assert_eq!(Mistakes(&r).rows(), 1);
    }
}
