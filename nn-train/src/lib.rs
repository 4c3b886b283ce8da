//! Training the `784 → H1 → … → 10` MLP by hand: mini-batch Adam on sparse categorical
//! cross-entropy. Maths only: no command line, no files, no terminal; the caller saves
//! checkpoints and the model through the callbacks of [`run`].
//!
//! - The maths (each layer's forward pass above its backward pass, the loss, Adam, the
//!   plain step) is nn-core's [`nn_core::train`], shared with the page and the boards.
//!   Start there.
//! - [`network`]: the network as the trainer holds it, and the layer loop `fast` drives.
//! - [`fast`]: the step on gemm, with the first layer's gradient fused into Adam's
//!   update: what training runs, tested equal to nn-core's plain step.
//! - [`flat`]: the flat parameter buffer and its named views.
//! - [`adam`]: the optimizer, one loop over flat buffers.
//! - [`rng`]: the seeded generator behind init and shuffling (nn-core's).
//! - [`presets`]: the named recipes (`seed`, `default`, `mcu`), as plain data.
//! - [`denormals`]: flush-to-zero, without which saturated sigmoids crawl.
//! - [`trainer`]: [`Trainer`] holds the whole state of a run; [`run`] drives it epoch by
//!   epoch; [`evaluate`] measures a network on a data set.

pub mod adam;
pub mod denormals;
pub mod fast;
pub mod flat;
pub mod network;
pub mod presets;
pub use nn_core::train::rng;
pub mod trainer;

pub use trainer::{
    DIVERGED_LOSS, EpochStats, EvalStats, Observer, RunSummary, Silent, Tee, TrainConfig,
    TrainError, Trainer, evaluate, evaluate_each, run,
};
