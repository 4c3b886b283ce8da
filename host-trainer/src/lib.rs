//! The host side of the project, by stage: the commands (`commands/`, where clap lives),
//! model conversion (`convert/`), the firmware as a peer (`devices/`), what a run writes
//! (`outputs/`, `files/`) and the one host model type (`model.rs`). The data sets are
//! nn-data; the training, nn-train.
//! `main.rs` only calls [`commands::main`].

pub mod commands;
pub mod convert;
pub mod devices;
pub mod evaluate;
pub mod files;
pub mod model;
pub mod outputs;
pub mod train;
