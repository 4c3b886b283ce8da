//! What "MNIST-like" means for a preprocessed 28x28 digit, and the measures it is made of
//! (centre of mass, ink box, ink IoU): one definition for nn-core's preprocessing tests
//! (through `common`) and host-trainer's (`host-trainer/tests/preprocess.rs` includes this
//! file by path), so the two crates' tests cannot drift apart.
//!
//! A test file that includes it may use only part of it.
#![allow(dead_code)]

/// Centre of mass (column, row) in pixel indices, weighted by intensity.
pub fn centre_of_mass(pixels: &[u8; 784]) -> (f64, f64) {
    let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (i, &v) in pixels.iter().enumerate() {
        let v = f64::from(v);
        m += v;
        mx += v * (i % 28) as f64;
        my += v * (i / 28) as f64;
    }
    (mx / m, my / m)
}

/// Width and height of the box around pixels above `threshold`.
pub fn ink_box(pixels: &[u8; 784], threshold: u8) -> (usize, usize) {
    let ink: Vec<(usize, usize)> = (0..784)
        .filter(|&i| pixels[i] > threshold)
        .map(|i| (i % 28, i / 28))
        .collect();
    let w = ink.iter().map(|p| p.0).max().unwrap() - ink.iter().map(|p| p.0).min().unwrap() + 1;
    let h = ink.iter().map(|p| p.1).max().unwrap() - ink.iter().map(|p| p.1).min().unwrap() + 1;
    (w, h)
}

/// Intersection over union of the pixels above 64 (a quarter of full ink).
pub fn ink_iou(a: &[u8; 784], b: &[u8; 784]) -> f64 {
    let both = (0..784).filter(|&i| a[i] > 64 && b[i] > 64).count();
    let either = (0..784).filter(|&i| a[i] > 64 || b[i] > 64).count();
    both as f64 / either as f64
}

/// Asserts what MNIST's own preprocessing gives a digit: the ink's box within 20x20 with
/// its longer side filling it, the centre of mass within half a pixel of (14, 14), and
/// full-strength ink somewhere.
pub fn assert_mnist_like(pixels: &[u8; 784]) {
    let (w, h) = ink_box(pixels, 0);
    assert!(w <= 20 && h <= 20, "ink box {w}x{h}");
    assert!(
        w == 20 || h == 20,
        "longer side should fill the 20x20 box: {w}x{h}"
    );
    let (cx, cy) = centre_of_mass(pixels);
    assert!(
        (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
        "centre of mass ({cx}, {cy})"
    );
    assert!(pixels.contains(&255), "strongest ink should be 255");
}
