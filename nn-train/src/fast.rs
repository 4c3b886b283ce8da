//! The training step of [`network`], fast: what training and evaluation
//! run. The arithmetic is the same, in another order:
//!
//! - the matrix products run on the `gemm` crate (SIMD, split over the rayon pool), through
//!   one checked helper, [`gemm`];
//! - the first layer's weight gradient is fused with Adam's update, block by block of rows
//!   ([`backward_and_step`]), so the 3 MB gradient never goes to memory.
//!
//! The activations and the loss are the plain ones of `network`. The test at the bottom
//! holds a whole fast step to nn-core's plain one ([`nn_core::train::Learner::step`]).

use gemm::Parallelism;

use crate::adam::Adam;
use crate::network::{self, BatchStats, Flat, Network, Workspace, dense_sizes};

// ----------------------------------------------------------------------------------------
// One checked door to gemm

/// A matrix inside a slice: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// `data` as a row-major `(rows, cols)` matrix.
    fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Columns `start .. start + n`, in place.
    fn columns(self, start: usize, n: usize) -> Self {
        assert!(start + n <= self.cols, "gemm: columns beyond the matrix");
        Self {
            data: &self.data[start.min(self.data.len())..],
            cols: n,
            ..self
        }
    }

    /// The transpose, in place: rows and columns (and their strides) swapped.
    fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// A matrix inside a mutable slice, laid out as a [`MatRef`].
#[derive(Debug)]
struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatMut<'a> {
    /// `data` as a row-major `(rows, cols)` matrix.
    fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// `data` as a column-major `(rows, cols)` matrix.
    fn col_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: 1,
            col_stride: rows,
        }
    }
}

/// One past the largest offset a `(rows, cols)` matrix with these strides reaches (0 if it
/// has no element), or `None` if that overflows.
fn extent(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(row_stride)?
        .checked_add((cols - 1).checked_mul(col_stride)?)?
        .checked_add(1)
}

/// Whether no two elements of the matrix share a place: each row's elements are apart and
/// the rows do not interleave, or the same for columns.
fn distinct(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    let row_major = (cols <= 1 || col_stride >= 1)
        && (rows <= 1 || extent(1, cols, 0, col_stride).is_some_and(|e| row_stride >= e));
    let col_major = (rows <= 1 || row_stride >= 1)
        && (cols <= 1 || extent(rows, 1, row_stride, 0).is_some_and(|e| col_stride >= e));
    row_major || col_major
}

/// `dst (m,n) ← lhs (m,k) · rhs (k,n)`; `dst` need not be initialised. Each operand's
/// strides say where its elements are, so a transpose or a block of columns is a view,
/// not a copy. `parallelism` is gemm's: one thread, or the rayon pool.
///
/// # Panics
/// If the shapes disagree, an operand reaches outside its slice, or two elements of `dst`
/// share a place.
fn gemm(dst: MatMut<'_>, lhs: MatRef<'_>, rhs: MatRef<'_>, parallelism: Parallelism) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    assert!(
        lhs.rows == m && rhs.rows == k && rhs.cols == n,
        "gemm: ({m},{n}) ← ({},{}) · ({},{})",
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols
    );
    let inside = |len, rows, cols, rs, cs| extent(rows, cols, rs, cs).is_some_and(|e| e <= len);
    assert!(
        inside(dst.data.len(), m, n, dst.row_stride, dst.col_stride)
            && inside(lhs.data.len(), m, k, lhs.row_stride, lhs.col_stride)
            && inside(rhs.data.len(), k, n, rhs.row_stride, rhs.col_stride),
        "gemm: an operand reaches outside its slice"
    );
    assert!(
        distinct(m, n, dst.row_stride, dst.col_stride),
        "gemm: two elements of dst share a place"
    );
    let stride = |s: usize| isize::try_from(s).expect("gemm: stride beyond isize::MAX");
    // Safety: gemm reads `lhs` and `rhs` and writes `dst` at `i * row_stride + j *
    // col_stride` for the shapes given, all inside their slices (asserted above); `dst`'s
    // elements are distinct places (asserted), so the threads gemm splits over write apart;
    // `dst` is a unique borrow, so it overlaps neither input. With `read_dst` false and
    // alpha 0, `dst` ← 1 · lhs · rhs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            stride(dst.col_stride),
            stride(dst.row_stride),
            false,
            lhs.data.as_ptr(),
            stride(lhs.col_stride),
            stride(lhs.row_stride),
            rhs.data.as_ptr(),
            stride(rhs.col_stride),
            stride(rhs.row_stride),
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Threads for an `(m, k) · (k, n)` product: the output layer's products (32·10·1024) take
/// microseconds, less than waking a second thread costs, so only big ones are split.
fn parallelism(m: usize, n: usize, k: usize) -> Parallelism {
    if m * n * k >= 1 << 20 {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

// ----------------------------------------------------------------------------------------
// Dense layer on gemm

/// [`network::matmul_forward`] on gemm: `out (B,OC) ← inp (B,C) · weightᵀ + bias`.
///
/// # Panics
/// If the lengths are not those shapes.
pub fn matmul_forward(out: &mut [f32], inp: &[f32], weight: &[f32], bias: &[f32], b: usize) {
    let (oc, c) = dense_sizes(b, weight.len(), bias.len(), inp.len(), out.len());
    // gemm transposes a problem whose destination is row-major, and then packs all of
    // `weight` (3 MB for W1) on every call; into a column-major scratch it packs only the
    // small `inp`. Copying the (B, OC) result into place with the bias costs far less
    // (measured: 0.97 ms → 0.47 ms for the seed model's first layer).
    // Kept per thread: a fresh 128 KB buffer per call would be an mmap and page faults.
    thread_local! {
        static COL: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    COL.with_borrow_mut(|col| {
        col.clear();
        col.resize(b * oc, 0.0);
        gemm(
            MatMut::col_major(col, b, oc),
            MatRef::row_major(inp, b, c),
            MatRef::row_major(weight, oc, c).t(),
            parallelism(b, oc, c),
        );
        for (r, row) in out.chunks_exact_mut(oc).enumerate() {
            for (o, (y, &bo)) in row.iter_mut().zip(bias).enumerate() {
                *y = col[o * b + r] + bo;
            }
        }
    });
}

/// [`network::matmul_backward`] on gemm: `dweight (OC,C) ← doutᵀ · inp`,
/// `dbias (OC) ← Σ_rows dout`, and, when asked, `dinp (B,C) ← dout · weight`.
/// Overwriting rather than accumulating saves a pass over the 3 MB weight gradient.
///
/// # Panics
/// If the lengths are not those shapes.
pub fn matmul_backward(
    dinp: Option<&mut [f32]>,
    dweight: &mut [f32],
    dbias: &mut [f32],
    dout: &[f32],
    inp: &[f32],
    weight: &[f32],
    b: usize,
) {
    let (oc, c) = dense_sizes(b, weight.len(), dbias.len(), inp.len(), dout.len());
    if let Some(dinp) = dinp {
        gemm(
            MatMut::row_major(dinp, b, c),
            MatRef::row_major(dout, b, oc),
            MatRef::row_major(weight, oc, c),
            parallelism(b, c, oc),
        );
    }
    gemm(
        MatMut::row_major(dweight, oc, c),
        MatRef::row_major(dout, b, oc).t(),
        MatRef::row_major(inp, b, c),
        parallelism(oc, c, b),
    );
    dbias.fill(0.0);
    for row in dout.chunks_exact(oc) {
        dbias.iter_mut().zip(row).for_each(|(db, &d)| *db += d);
    }
}

// ----------------------------------------------------------------------------------------
// The whole network

/// [`network::forward`] with the products on gemm.
pub fn forward(net: &Network, ws: &mut Workspace, b: usize) -> BatchStats {
    network::forward_with(net, ws, b, matmul_forward)
}

/// Rows of `W1` per fused task: 64 rows of 784 are 200 KB in each of the four buffers, so
/// a block's gradient is still in L2 (2 MB a core here) when Adam reads it; gemm packs the
/// batch's inputs once per block, so fewer, larger blocks pack less. 16 blocks share two cores.
const FUSED_ROWS: usize = 64;

/// [`network::backward`] followed by `adam`'s step, fused where memory traffic decides the
/// speed. Needs the buffers [`forward`] filled for the same `b` examples.
///
/// The step itself is memory-bound (W1, its gradient and both moments are 13 MB for the
/// seed model, far past L2), so the first layer's weight gradient is computed one block of
/// rows at a time into a per-thread scratch and Adam moves that block while it is hot: the
/// 3 MB gradient is never written out and read back, so `grads`' first weights are left
/// untouched. The layers above the first run [`network`]'s reverse loop on gemm.
pub fn backward_and_step(
    net: &mut Network,
    ws: &mut Workspace,
    grads: &mut Flat,
    adam: &mut Adam,
    b: usize,
) {
    use rayon::prelude::*;
    network::backward_down_to(net, ws, grads, b, 1, matmul_backward);
    let (input, h1) = (net.params.sizes[0], net.params.sizes[1]);
    let x = &ws.x[..b * input];
    // dZ1: the gradient at the first layer's pre-activation (the logits' at depth 1).
    let dz1: &[f32] = match ws.dhidden.first() {
        Some(d) => &d[..b * h1],
        None => &ws.dlogits[..b * h1],
    };
    {
        let mut g = grads.layers_mut();
        let gb1 = &mut g[0].1;
        gb1.fill(0.0);
        for row in dz1.chunks_exact(h1) {
            gb1.iter_mut().zip(row).for_each(|(db, &d)| *db += d);
        }
    }
    let step = adam.next_step();
    let w1 = h1 * input;
    let block = FUSED_ROWS * input;
    net.params.data[..w1]
        .par_chunks_mut(block)
        .zip(adam.m.data[..w1].par_chunks_mut(block))
        .zip(adam.v.data[..w1].par_chunks_mut(block))
        .enumerate()
        .for_each_init(
            || vec![0.0f32; block],
            |scratch, (i, ((pw, mw), vw))| {
                let rows = pw.len() / input;
                let gw = &mut scratch[..pw.len()];
                // gw (rows, IN) ← dZ1[:, i·R .. i·R+rows]ᵀ · x: the block's rows of dW1.
                gemm(
                    MatMut::row_major(gw, rows, input),
                    MatRef::row_major(dz1, b, h1)
                        .columns(i * FUSED_ROWS, rows)
                        .t(),
                    MatRef::row_major(x, b, input),
                    Parallelism::None,
                );
                step.update_with(pw, mw, vw, gw, f32::sqrt);
            },
        );
    // b1 and every later layer are contiguous after W1 and small: one pass.
    step.update_with(
        &mut net.params.data[w1..],
        &mut adam.m.data[w1..],
        &mut adam.v.data[w1..],
        &grads.data[w1..],
        f32::sqrt,
    );
}

/// nn-core's [`Learner::step`](nn_core::train::Learner::step), fast: [`forward`], then [`backward_and_step`]. What training runs.
pub fn step(
    net: &mut Network,
    ws: &mut Workspace,
    grads: &mut Flat,
    adam: &mut Adam,
    b: usize,
) -> BatchStats {
    let stats = forward(net, ws, b);
    backward_and_step(net, ws, grads, adam, b);
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adam::AdamConfig;
    use crate::network::Hidden;
    use crate::network::tests::{close, random};
    use nn_core::train::Rng;

    #[test]
    fn gemm_layer_matches_the_plain_one() {
        let mut rng = Rng::new(7);
        let (b, c, oc) = (5, 37, 19);
        let inp = random(b * c, &mut rng);
        let w = random(oc * c, &mut rng);
        let bias = random(oc, &mut rng);
        let dout = random(b * oc, &mut rng);
        let (mut fast, mut plain) = (vec![9.0; b * oc], vec![0.0; b * oc]);
        matmul_forward(&mut fast, &inp, &w, &bias, b);
        network::matmul_forward(&mut plain, &inp, &w, &bias, b);
        close(&fast, &plain, 1e-5);
        let (mut di_f, mut dw_f, mut db_f) = (vec![9.0; b * c], vec![9.0; oc * c], vec![9.0; oc]);
        let (mut di_p, mut dw_p, mut db_p) = (vec![0.0; b * c], vec![0.0; oc * c], vec![0.0; oc]);
        matmul_backward(Some(&mut di_f), &mut dw_f, &mut db_f, &dout, &inp, &w, b);
        network::matmul_backward(Some(&mut di_p), &mut dw_p, &mut db_p, &dout, &inp, &w, b);
        close(&di_f, &di_p, 1e-5);
        close(&dw_f, &dw_p, 1e-5);
        close(&db_f, &db_p, 1e-5);
    }

    /// The fast step against nn-core's plain one on a network of `sizes`, whose first
    /// hidden layer is two full fused blocks and a partial one. The sums run in another
    /// order, so the gradients differ in the last bits; after one Adam step every parameter
    /// and moment agrees within 1e-6 · (1 + |value|).
    fn fast_step_matches_the_plain_step(sizes: &[usize], activation: Hidden) {
        use nn_core::train::{Learn, Learner, Net, Optimizer, state_len, work_len};
        let b = 7;
        let mut rng = Rng::new(5);
        let net = Network {
            params: Flat::glorot(sizes, &mut rng),
            activation,
        };
        let mut ws = Workspace::new(sizes, b);
        ws.x.copy_from_slice(&random(b * sizes[0], &mut rng));
        ws.labels.copy_from_slice(&[0, 9, 2, 3, 3, 7, 1]);

        let mut activations = vec![nn_core::Activation::from(activation); sizes.len() - 2];
        activations.push(nn_core::Activation::Identity);
        let mut plain_params = net.params.data.clone();
        let mut state = vec![0.0; state_len(sizes, Learn::All)];
        let mut work = vec![0.0; work_len(sizes, b)];
        let plain_net = Net {
            sizes,
            activations: &activations,
        };
        let adam = Optimizer::Adam(AdamConfig::default());
        let mut learner = Learner::new(
            plain_net,
            Learn::All,
            adam,
            &mut plain_params,
            &mut state,
            &mut work,
            b,
        )
        .expect("a valid learner");
        let plain = learner.step(&ws.x, &ws.labels).expect("a valid step");
        let n = net.params.data.len();
        let (plain_grads, moments) = state.split_at(n);
        let (plain_m, plain_v) = moments.split_at(n);

        let (mut fast_net, mut fast_grads) = (net.clone(), Flat::zeros(sizes));
        let mut fast_adam = Adam::new(AdamConfig::default(), &net.params);
        let fast = step(&mut fast_net, &mut ws, &mut fast_grads, &mut fast_adam, b);

        assert_eq!(fast.correct, plain.correct);
        assert!((fast.loss_sum - plain.loss_sum).abs() < 1e-5 * plain.loss_sum);
        // The fused step leaves the first weights' gradient alone; the rest it does write.
        let w1 = sizes[1] * sizes[0];
        close(&fast_grads.data[w1..], &plain_grads[w1..], 1e-6);
        close(&fast_adam.m.data, plain_m, 1e-6);
        close(&fast_adam.v.data, plain_v, 1e-6);
        close(&fast_net.params.data, &plain_params, 1e-6);
        assert_ne!(fast_net.params, net.params, "the step moved the parameters");
        assert_eq!(fast_adam.t, 1);
    }

    const FUSED: usize = 2 * FUSED_ROWS + 9;

    #[test]
    fn fast_step_matches_the_plain_step_sigmoid() {
        fast_step_matches_the_plain_step(&[20, FUSED, 10], Hidden::Sigmoid);
    }

    #[test]
    fn fast_step_matches_the_plain_step_relu() {
        fast_step_matches_the_plain_step(&[20, FUSED, 10], Hidden::Relu);
    }

    #[test]
    fn fast_step_matches_the_plain_step_at_depth_3() {
        for activation in Hidden::ALL {
            fast_step_matches_the_plain_step(&[20, FUSED, 33, 10], activation);
        }
    }

    #[test]
    fn fast_step_matches_the_plain_step_at_depth_4() {
        for activation in Hidden::ALL {
            fast_step_matches_the_plain_step(&[20, FUSED, 40, 17, 10], activation);
        }
    }

    #[test]
    fn fast_step_matches_the_plain_step_at_depth_1() {
        fast_step_matches_the_plain_step(&[20, 10], Hidden::Relu);
    }

    #[test]
    fn gemm_reads_transposes_and_column_blocks_in_place() {
        // a (2,3) = [[1, 2, 3], [4, 5, 6]]; its columns 1..3, transposed: [[2, 5], [3, 6]].
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let id = [1.0, 0.0, 0.0, 1.0];
        let mut out = [0.0; 4];
        gemm(
            MatMut::row_major(&mut out, 2, 2),
            MatRef::row_major(&a, 2, 3).columns(1, 2).t(),
            MatRef::row_major(&id, 2, 2),
            Parallelism::None,
        );
        assert_eq!(out, [2.0, 5.0, 3.0, 6.0]);
        // The same product into a column-major destination.
        gemm(
            MatMut::col_major(&mut out, 2, 2),
            MatRef::row_major(&a, 2, 3).columns(1, 2).t(),
            MatRef::row_major(&id, 2, 2),
            Parallelism::None,
        );
        assert_eq!(out, [2.0, 3.0, 5.0, 6.0]);
    }

    #[test]
    #[should_panic(expected = "outside its slice")]
    fn gemm_refuses_an_operand_past_its_slice() {
        let mut out = [0.0; 4];
        gemm(
            MatMut::row_major(&mut out, 2, 2),
            MatRef::row_major(&[1.0; 4], 2, 3),
            MatRef::row_major(&[1.0; 6], 3, 2),
            Parallelism::None,
        );
    }

    #[test]
    #[should_panic(expected = "share a place")]
    fn gemm_refuses_a_destination_that_overlaps_itself() {
        let mut out = [0.0; 4];
        let dst = MatMut {
            data: &mut out,
            rows: 2,
            cols: 2,
            row_stride: 1,
            col_stride: 1,
        };
        gemm(
            dst,
            MatRef::row_major(&[1.0; 4], 2, 2),
            MatRef::row_major(&[1.0; 4], 2, 2),
            Parallelism::None,
        );
    }

    #[test]
    #[should_panic(expected = "output is not (B, OC)")]
    fn fast_layer_refuses_a_short_output() {
        let mut out = [0.0; 2];
        matmul_forward(
            &mut out,
            &[1.0, 2.0],
            &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            &[0.0; 3],
            1,
        );
    }
}
