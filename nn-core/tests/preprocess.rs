//! MNIST preprocessing on plain grey buffers (no image decoding: that is the trainer's, and
//! its tests in `host-trainer/tests/preprocess.rs` cover files, colour and real MNIST digits):
//! digits drawn here in both polarities, with a fine and a thick pen, tiny and blank
//! pictures, hostile values and wrong buffers.

use nn_core::IMAGE_PIXELS;
use nn_core::preprocess::{
    self, PreprocessError, find_ink, fit_and_centre, grey_over_white, luma, scratch_len,
};

mod common;
use common::mnist_like::{assert_mnist_like, centre_of_mass, ink_box, ink_iou};

/// A grey picture, row-major.
struct Picture {
    width: usize,
    height: usize,
    grey: Vec<f32>,
}

impl Picture {
    fn from_fn(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Self {
        let grey = (0..width * height)
            .map(|i| f(i % width, i / width))
            .collect();
        Self {
            width,
            height,
            grey,
        }
    }

    fn inverted(&self) -> Self {
        Self {
            grey: self.grey.iter().map(|v| 255.0 - v).collect(),
            ..*self
        }
    }

    /// Through [`preprocess::preprocess`] with a scratch buffer of [`scratch_len`].
    fn run(&self) -> Result<[u8; IMAGE_PIXELS], PreprocessError> {
        let mut grey = self.grey.clone();
        let mut scratch = vec![0.0; scratch_len(self.width, self.height)];
        let mut out = [0u8; IMAGE_PIXELS];
        preprocess::preprocess(&mut grey, self.width, self.height, &mut scratch, &mut out)?;
        Ok(out)
    }
}

/// A "7" in black on a white 300x400 canvas, strokes `half_width` either side of the centre
/// lines: a bar on top and a diagonal, placed off-centre so the centring has work to do.
fn seven_with_stroke(half_width: f64) -> Picture {
    let segments = [
        ((60.0, 80.0), (230.0, 80.0)),
        ((230.0, 80.0), (110.0, 330.0)),
    ];
    Picture::from_fn(300, 400, |x, y| {
        let (px, py) = (x as f64, y as f64);
        let near = segments.iter().any(|&((ax, ay), (bx, by))| {
            let (dx, dy) = (bx - ax, by - ay);
            let t = (((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
            (px - ax - t * dx).hypot(py - ay - t * dy) <= half_width
        });
        if near { 0.0 } else { 255.0 }
    })
}

/// Strokes 30 px thick.
fn drawn_seven() -> Picture {
    seven_with_stroke(15.0)
}

#[test]
fn a_drawn_seven_becomes_an_mnist_style_digit() {
    let out = drawn_seven().run().unwrap();
    assert_mnist_like(&out);
    // The ink spans x 45..=245 and y 65..=345 (strokes are 15 px either side of the segments):
    // 201 x 281, so 20 tall and round(201 * 20 / 281) = 14 wide.
    assert_eq!(ink_box(&out, 0), (14, 20));
    assert_eq!([out[0], out[27], out[27 * 28], out[783]], [0; 4]);
}

/// A fine pen (5 px strokes on a 300x400 canvas) would shrink to faint 1-pixel lines; the
/// strokes are thickened, so the digit looks like the one drawn with a 30 px pen.
#[test]
fn a_fine_pen_drawing_gets_mnist_thick_strokes() {
    let thin = seven_with_stroke(2.5).run().unwrap();
    let thick = drawn_seven().run().unwrap();
    assert_mnist_like(&thin);
    let solid = |p: &[u8; 784]| p.iter().filter(|&&v| v >= 128).count();
    // Measured: 74 solid (>= 128) pixels for the fine pen (33 without thickening), 68 for the
    // 30 px pen; ink IoU 0.58 (the strokes' edges fall differently).
    assert!(
        solid(&thin) * 5 >= solid(&thick) * 4,
        "{} vs {} solid pixels",
        solid(&thin),
        solid(&thick)
    );
    assert!(
        ink_iou(&thin, &thick) > 0.5,
        "IoU {}",
        ink_iou(&thin, &thick)
    );
}

#[test]
fn both_polarities_give_the_same_digit() {
    let dark_on_light = drawn_seven().run().unwrap();
    let light_on_dark = drawn_seven().inverted().run().unwrap();
    assert_mnist_like(&light_on_dark);
    let worst = (0..784)
        .map(|i| dark_on_light[i].abs_diff(light_on_dark[i]))
        .max()
        .unwrap();
    assert!(worst <= 1, "polarities differ by up to {worst}");
}

#[test]
fn a_tiny_5x3_dash_is_scaled_up_to_the_box() {
    // Row 1, columns 1-3 black on white: a 3x1 dash, scaled to 20 wide and 7 tall (1 * 20 / 3).
    let tiny = Picture::from_fn(5, 3, |x, y| {
        if y == 1 && (1..4).contains(&x) {
            0.0
        } else {
            255.0
        }
    });
    let out = tiny.run().unwrap();
    assert_eq!(ink_box(&out, 0), (20, 7));
    let (cx, cy) = centre_of_mass(&out);
    assert!(
        (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
        "({cx}, {cy})"
    );
}

#[test]
fn blank_pictures_are_errors() {
    for picture in [
        Picture::from_fn(200, 100, |_, _| 255.0),
        Picture::from_fn(1, 1, |_, _| 0.0),
        // Faint texture (a few grey levels) is not ink.
        Picture::from_fn(64, 64, |x, y| (230 + (x * 7 + y * 13) % 11) as f32),
        Picture::from_fn(0, 0, |_, _| 0.0),
        Picture::from_fn(0, 7, |_, _| 0.0),
    ] {
        assert_eq!(picture.run(), Err(PreprocessError::Blank));
    }
}

#[test]
fn nan_infinities_and_out_of_range_values_are_clamped_not_trusted() {
    // The seven's ink as NaN and -1e30 (both count as 0, black), its paper as +inf (255).
    let seven = drawn_seven();
    let reference = seven.run().unwrap();
    for (ink, paper) in [(f32::NAN, f32::INFINITY), (-1e30, 1e30), (-0.0, 300.0)] {
        let hostile = Picture {
            grey: seven
                .grey
                .iter()
                .map(|&v| if v == 0.0 { ink } else { paper })
                .collect(),
            ..seven
        };
        assert_eq!(
            hostile.run().unwrap(),
            reference,
            "ink {ink}, paper {paper}"
        );
    }
}

#[test]
fn wrong_buffers_are_errors_not_panics() {
    let seven = drawn_seven();
    let mut out = [0u8; IMAGE_PIXELS];
    let mut grey = seven.grey.clone();
    assert_eq!(
        find_ink(&mut grey[1..], 300, 400),
        Err(PreprocessError::SizeMismatch {
            expected: 120_000,
            found: 119_999
        })
    );
    assert!(matches!(
        find_ink(&mut grey, usize::MAX, 2),
        Err(PreprocessError::SizeMismatch { .. })
    ));
    let ink = find_ink(&mut grey, 300, 400).unwrap();
    let needed = ink.scratch_len();
    let mut scratch = vec![0.0; needed];
    assert_eq!(
        fit_and_centre(&grey, ink, &mut scratch[1..], &mut out),
        Err(PreprocessError::ScratchTooSmall {
            needed,
            found: needed - 1
        })
    );
    assert!(matches!(
        fit_and_centre(&grey[..10], ink, &mut scratch, &mut out),
        Err(PreprocessError::SizeMismatch { .. })
    ));
    // The crop alone is far smaller than the picture's worst case.
    assert!(needed < scratch_len(300, 400) / 10, "{needed}");
    fit_and_centre(&grey, ink, &mut scratch, &mut out).unwrap();
    assert_eq!(out, seven.run().unwrap());
}

#[test]
fn grey_levels_follow_the_image_crate() {
    // `image`'s Rec. 709 integer luma, truncated: (2126 r + 7152 g + 722 b) / 10000.
    assert_eq!(luma(255, 255, 255), 255);
    assert_eq!(luma(0, 0, 0), 0);
    assert_eq!(luma(255, 0, 0), 54);
    assert_eq!(luma(0, 255, 0), 182);
    assert_eq!(luma(0, 0, 255), 18);
    assert_eq!(luma(20, 40, 200), 47);
    assert_eq!(grey_over_white(0, 0), 255.0);
    assert_eq!(grey_over_white(0, 255), 0.0);
    assert!((grey_over_white(100, 51) - (100.0 * 0.2 + 255.0 * 0.8)).abs() < 1e-3);
}
