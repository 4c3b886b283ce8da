//! The root package of the workspace holds no code of its own: it exists so that the
//! end-to-end tests in `tests/` and the criterion benches in `benches/` can use every
//! crate together. The network lives in `nn-core`, the trainer in `host-trainer`.
