//! The Cortex-M4F kernel's arithmetic, run on the host through its portable twin (the same
//! fused multiply-adds in the same order as the assembly): every shape, including empty
//! ones, odd row counts and column tails, against an f64 reference and its error bound.
//! The assembly itself is checked in QEMU (tests/firmware_qemu.rs and the firmware's boot).

use nn_core::kernels::m4f;
use proptest::prelude::*;

fn shape_and_data() -> impl Strategy<Value = (usize, Vec<f32>, Vec<f32>, Vec<f32>)> {
    (0usize..7, 0usize..40).prop_flat_map(|(rows, cols)| {
        (
            Just(cols),
            prop::collection::vec(-4.0f32..4.0, rows * cols),
            prop::collection::vec(-4.0f32..4.0, cols),
            prop::collection::vec(-4.0f32..4.0, rows),
        )
    })
}

proptest! {
    #[test]
    fn gemv_bias_is_within_the_documented_bound((cols, w, x, b) in shape_and_data()) {
        let mut y = vec![f32::NAN; b.len()];
        m4f::gemv_bias(&w, &x, &b, &mut y);
        for (r, (yr, br)) in y.iter().zip(&b).enumerate() {
            let row = &w[r * cols..(r + 1) * cols];
            let exact: f64 = row.iter().zip(&x).map(|(a, c)| f64::from(*a) * f64::from(*c)).sum::<f64>()
                + f64::from(*br);
            let magnitude: f64 = row.iter().zip(&x).map(|(a, c)| (f64::from(*a) * f64::from(*c)).abs()).sum::<f64>()
                + f64::from(br.abs());
            let bound = (cols as f64 + 2.0) * f64::from(f32::EPSILON) / 2.0 * magnitude + 1e-30;
            prop_assert!((f64::from(*yr) - exact).abs() <= bound, "row {r}: {yr} vs {exact} (bound {bound})");
        }
    }
}

#[test]
#[should_panic(expected = "w is not (rows, cols)")]
fn mismatched_lengths_panic() {
    m4f::gemv_bias(&[1.0; 5], &[1.0; 2], &[0.0; 2], &mut [0.0; 2]);
}
