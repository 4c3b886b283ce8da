//! The std side of the project: MNIST on disk, training with Adam, the command line.
//! `main.rs` only calls [`cli::main`].

pub mod atomic;
pub mod cli;
pub mod data;
pub mod device_eval;
pub mod flags;
pub mod import;
pub mod io;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod preprocess;
pub mod progress;
pub mod quantize;
pub mod report;
pub mod serve;
pub mod train;
