//! MNIST on disk (placeholder).
