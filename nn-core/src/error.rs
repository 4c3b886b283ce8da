//! Everything that can go wrong in nn-core, as one flat enum.

/// An error from decoding a model file or running inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// An input to the network was NaN or infinite.
    NonFiniteInput,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::NonFiniteInput => f.write_str("an input is NaN or infinite"),
        }
    }
}

impl core::error::Error for Error {}
