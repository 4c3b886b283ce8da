//! The std side of the project: MNIST on disk, training with Adam, the command line.
//! `main.rs` only calls [`commands::main`].

pub mod commands;
pub mod convert;
pub mod data;
pub mod devices;
pub mod files;
pub mod model;
pub mod outputs;
pub mod preprocess;
pub mod train;
