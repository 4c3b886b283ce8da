//! Turning a photo of a digit into an MNIST-style 28x28 (placeholder).
