//! [`Shape`]: the one parameter count of a model, and the one cut of its flat buffer; and
//! the one comparison of a model's slices with the lengths it needs.

use crate::error::Error;
use crate::types::Tensor;

/// The sizes of a model `input → hidden → output`: the one place that counts its parameters
/// and cuts a flat buffer into `W1 (hidden, input)`, `b1 (hidden)`, `W2 (output, hidden)`,
/// `b2 (output)`, in that order (the model file's order, and the trainer's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Inputs (784 for MNIST).
    pub input: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Outputs (10 for MNIST).
    pub output: usize,
}

impl From<[usize; 3]> for Shape {
    fn from([input, hidden, output]: [usize; 3]) -> Self {
        Self {
            input,
            hidden,
            output,
        }
    }
}

impl From<Shape> for [usize; 3] {
    fn from(s: Shape) -> Self {
        [s.input, s.hidden, s.output]
    }
}

impl Shape {
    /// An MNIST classifier with `hidden` hidden units: [`crate::IMAGE_PIXELS`] inputs,
    /// [`crate::CLASSES`] outputs.
    pub const fn mnist(hidden: usize) -> Self {
        Self {
            input: crate::IMAGE_PIXELS,
            hidden,
            output: crate::CLASSES,
        }
    }

    /// Elements of `W1, b1, W2, b2`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if a product overflows `usize`.
    pub const fn tensor_lens(self) -> Result<[usize; 4], Error> {
        let (Some(w1), Some(w2)) = (
            self.hidden.checked_mul(self.input),
            self.output.checked_mul(self.hidden),
        ) else {
            return Err(Error::TooLarge);
        };
        Ok([w1, self.hidden, w2, self.output])
    }

    /// `hidden*input + hidden + output*hidden + output`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the count overflows `usize`.
    pub const fn parameters(self) -> Result<usize, Error> {
        let lens = match self.tensor_lens() {
            Ok(lens) => lens,
            Err(e) => return Err(e),
        };
        // A `const fn` has no iterators: the four sums by hand.
        let mut sum = 0usize;
        let mut i = 0;
        while i < lens.len() {
            sum = match sum.checked_add(lens[i]) {
                Some(s) => s,
                None => return Err(Error::TooLarge),
            };
            i += 1;
        }
        Ok(sum)
    }

    /// The lengths of W1, b1 and W2 for a buffer of `len` values, once `len` is checked to
    /// be exactly [`Shape::parameters`]: where [`Shape::split`] and [`Shape::split_mut`] cut.
    fn split_points(self, len: usize) -> Result<[usize; 4], Error> {
        let expected = self.parameters()?;
        if len != expected {
            return Err(Error::LengthMismatch {
                tensor: None,
                expected,
                found: len,
            });
        }
        self.tensor_lens()
    }

    /// `parameters` cut into `[W1, b1, W2, b2]`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the sizes overflow; [`Error::LengthMismatch`] unless
    /// `parameters` holds exactly [`Shape::parameters`] values.
    pub fn split<T>(self, parameters: &[T]) -> Result<[&[T]; 4], Error> {
        let [w1, b1, w2, _] = self.split_points(parameters.len())?;
        let (w1, rest) = parameters.split_at(w1);
        let (b1, rest) = rest.split_at(b1);
        let (w2, b2) = rest.split_at(w2);
        Ok([w1, b1, w2, b2])
    }

    /// `parameters` cut into `[W1, b1, W2, b2]`, mutable.
    ///
    /// # Errors
    /// As [`Shape::split`].
    pub fn split_mut<T>(self, parameters: &mut [T]) -> Result<[&mut [T]; 4], Error> {
        let [w1, b1, w2, _] = self.split_points(parameters.len())?;
        let (w1, rest) = parameters.split_at_mut(w1);
        let (b1, rest) = rest.split_at_mut(b1);
        let (w2, b2) = rest.split_at_mut(w2);
        Ok([w1, b1, w2, b2])
    }
}

/// The first `(tensor, expected, found)` whose lengths differ, as
/// [`Error::LengthMismatch`]: how every model checks the slices it is given.
pub(crate) fn check_lengths(
    lengths: impl IntoIterator<Item = (Option<Tensor>, usize, usize)>,
) -> Result<(), Error> {
    for (tensor, expected, found) in lengths {
        if expected != found {
            return Err(Error::LengthMismatch {
                tensor,
                expected,
                found,
            });
        }
    }
    Ok(())
}
