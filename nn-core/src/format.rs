//! The model file. (Placeholder: the format lands with its decoder.)
