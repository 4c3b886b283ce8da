//! What a run leaves for a reader: its lines on stdout ([`stdout`]), training curves ([`plot`]), `eval --report`'s figures
//! ([`report`]), the progress bar ([`progress`]) and the JSON record of a run ([`metrics`]).

pub mod metrics;
pub mod plot;
pub mod progress;
pub mod report;
pub mod stdout;
