//! Dense layers and the two-layer perceptron `IN → H → OUT`, owned ([`Mlp`]) or borrowed
//! from bytes that live elsewhere, e.g. in flash ([`MlpRef`]), or with sizes known only at
//! run time ([`MlpSlices`]). Inference is the network's at depth 2
//! ([`crate::network::ModelF32`]), so it is compiled once.

use crate::activation::Activation;
use crate::error::Error;
use crate::kernels;
use crate::matrix::{Matrix, Vector};
use crate::network::{LayerF32, Layers, ModelF32};
use crate::shape::{Shape, check_lengths};
pub use crate::types::InputScaling;
use crate::types::Tensor;

/// One fully connected layer `y = W x + b` with `W` of shape `(OUT, IN)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense<const IN: usize, const OUT: usize> {
    /// `(OUT, IN)`, row-major: row `o` holds the weights into output `o`.
    pub weights: Matrix<OUT, IN>,
    /// `(OUT)`.
    pub bias: Vector<OUT>,
}

/// A [`Dense`] layer borrowed from storage it does not own (4-byte alignment suffices).
#[derive(Clone, Copy, Debug)]
pub struct DenseRef<'a, const IN: usize, const OUT: usize> {
    /// `(OUT, IN)`, row-major.
    pub weights: &'a [[f32; IN]; OUT],
    /// `(OUT)`.
    pub bias: &'a [f32; OUT],
}

/// `IN → H (hidden activation) → OUT (output activation)`, owned.
///
/// A 784-1024-10 model is 3.2 MB: keep it in a `static` or on the heap, never on a stack.
/// For that reason it is neither `Copy` nor `Clone`: start from [`Mlp::zeroed`] (a `const
/// fn`, so it can initialise a `static`) or decode a model file into one
/// ([`ModelFile::decode_into`](crate::format::ModelFile::decode_into)).
#[derive(Debug, PartialEq)]
pub struct Mlp<const IN: usize, const H: usize, const OUT: usize> {
    /// Input to hidden.
    pub hidden: Dense<IN, H>,
    /// Hidden to output.
    pub output: Dense<H, OUT>,
    /// Applied to the hidden layer's output.
    pub hidden_activation: Activation,
    /// Applied to the output layer's output (softmax for a classifier).
    pub output_activation: Activation,
    /// How pixels are turned into inputs.
    pub scaling: InputScaling,
}

/// An [`Mlp`] whose weights are borrowed, e.g. from flash or from a model file's bytes.
#[derive(Clone, Copy, Debug)]
pub struct MlpRef<'a, const IN: usize, const H: usize, const OUT: usize> {
    /// Input to hidden.
    pub hidden: DenseRef<'a, IN, H>,
    /// Hidden to output.
    pub output: DenseRef<'a, H, OUT>,
    /// Applied to the hidden layer's output.
    pub hidden_activation: Activation,
    /// Applied to the output layer's output.
    pub output_activation: Activation,
    /// How pixels are turned into inputs.
    pub scaling: InputScaling,
}

/// The answer of a classifier: the winning class and every class's probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction<const OUT: usize> {
    /// Index of the largest probability (the first on ties).
    pub class: usize,
    /// The output layer after its activation (sums to 1 for softmax).
    pub probabilities: [f32; OUT],
}

/// The one way [`MlpRef::predict`] can fail: an input is NaN or infinite.
///
/// It converts into [`Error::NonFiniteInput`], so `?` carries it into code that handles
/// every nn-core error in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NonFiniteInput;

impl core::fmt::Display for NonFiniteInput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&Error::NonFiniteInput, f)
    }
}

impl core::error::Error for NonFiniteInput {}

impl From<NonFiniteInput> for Error {
    fn from(_: NonFiniteInput) -> Self {
        Error::NonFiniteInput
    }
}

/// `Err(NonFiniteInput)` if any of `x` is NaN or infinite.
fn check_finite(x: &[f32]) -> Result<(), NonFiniteInput> {
    if x.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(NonFiniteInput)
    }
}

impl<const IN: usize, const H: usize, const OUT: usize> Mlp<IN, H, OUT> {
    /// Number of f32 parameters: `H*IN + H + OUT*H + OUT`, counted by [`crate::format::Shape`].
    pub const PARAMETERS: usize = match (Shape {
        input: IN,
        hidden: H,
        output: OUT,
    })
    .parameters()
    {
        Ok(n) => n,
        Err(_) => panic!("the parameter count overflows usize"),
    };

    /// Every weight and bias 0, both activations [`Activation::Identity`], pixels taken
    /// as they are ([`InputScaling::RAW`]): a model to fill in place.
    ///
    /// `const`, so a `static` can hold even a large one; `Box::new(Mlp::zeroed())` may
    /// build the value on the stack before moving it (3.2 MB for 784-1024-10), which a
    /// host's main thread (8 MB) survives but a board's stack does not.
    pub const fn zeroed() -> Self {
        Self {
            hidden: Dense {
                weights: Matrix::zeros(),
                bias: Vector::zeros(),
            },
            output: Dense {
                weights: Matrix::zeros(),
                bias: Vector::zeros(),
            },
            hidden_activation: Activation::Identity,
            output_activation: Activation::Identity,
            scaling: InputScaling::RAW,
        }
    }

    /// The borrowed form, on which inference runs.
    pub fn as_ref(&self) -> MlpRef<'_, IN, H, OUT> {
        MlpRef {
            hidden: DenseRef {
                weights: &self.hidden.weights.0,
                bias: &self.hidden.bias.0,
            },
            output: DenseRef {
                weights: &self.output.weights.0,
                bias: &self.output.bias.0,
            },
            hidden_activation: self.hidden_activation,
            output_activation: self.output_activation,
            scaling: self.scaling,
        }
    }

    /// See [`MlpRef::predict`].
    pub fn predict(&self, x: &[f32; IN]) -> Result<Prediction<OUT>, NonFiniteInput> {
        self.as_ref().predict(x)
    }

    /// See [`MlpRef::predict_pixels`].
    ///
    /// A two-pixel "image" whose brighter pixel is the class:
    ///
    /// ```
    /// use nn_core::{Activation, InputScaling, Mlp};
    ///
    /// let mut mlp = Mlp::<2, 2, 2>::zeroed();
    /// mlp.hidden.weights.0 = [[1.0, 0.0], [0.0, 1.0]];
    /// mlp.output.weights.0 = [[1.0, -1.0], [-1.0, 1.0]];
    /// mlp.hidden_activation = Activation::Relu;
    /// mlp.output_activation = Activation::Softmax;
    /// mlp.scaling = InputScaling::UNIT;
    ///
    /// // Pixels (0, 255) → inputs (0, 1) → hidden (0, 1) → logits (−1, 1).
    /// let prediction = mlp.predict_pixels(&[0, 255]);
    /// assert_eq!(prediction.class, 1);
    /// let p1 = 1.0 / (1.0 + (-2.0f32).exp()); // softmax(−1, 1)₁ = e / (e⁻¹ + e)
    /// assert!((prediction.probabilities[1] - p1).abs() < 1e-6);
    /// ```
    pub fn predict_pixels(&self, pixels: &[u8; IN]) -> Prediction<OUT> {
        self.as_ref().predict_pixels(pixels)
    }
}

impl<'a, const IN: usize, const H: usize, const OUT: usize> MlpRef<'a, IN, H, OUT> {
    /// Classifies inputs that are already scaled.
    ///
    /// Stack: `4 * (H + OUT)` bytes of scratch plus a few hundred of frames.
    ///
    /// # Errors
    /// [`NonFiniteInput`] if any input is NaN or infinite: the only check, as the shapes
    /// are in the types. (`?` turns it into [`Error::NonFiniteInput`] where needed.)
    ///
    /// ```
    /// use nn_core::{Mlp, NonFiniteInput};
    ///
    /// let mlp = Mlp::<2, 3, 2>::zeroed();
    /// assert_eq!(mlp.as_ref().predict(&[0.5, f32::NAN]), Err(NonFiniteInput));
    /// // Identity layers of zeros: every output is 0, and the first index wins ties.
    /// assert_eq!(mlp.as_ref().predict(&[0.5, 1.0])?.class, 0);
    /// # Ok::<(), NonFiniteInput>(())
    /// ```
    pub fn predict(&self, x: &[f32; IN]) -> Result<Prediction<OUT>, NonFiniteInput> {
        check_finite(x)?;
        let mut hidden = [0.0f32; H];
        let mut probabilities = [0.0f32; OUT];
        forward(&self.slices(), x, &mut hidden, &mut probabilities);
        Ok(Prediction {
            class: kernels::argmax(&probabilities),
            probabilities,
        })
    }

    /// Scales 0–255 pixels as the model file says ([`InputScaling::apply`]), then
    /// classifies them. Cannot fail: pixels are finite, and a model file's scaling is
    /// checked finite when it is parsed.
    ///
    /// Stack: `4 * (IN + H + OUT)` bytes of scratch (7.7 KB for 784-1024-10).
    ///
    /// An example is on [`Mlp::predict_pixels`].
    pub fn predict_pixels(&self, pixels: &[u8; IN]) -> Prediction<OUT> {
        let mut x = [0.0f32; IN];
        self.scaling.apply(pixels, &mut x);
        let mut hidden = [0.0f32; H];
        let mut probabilities = [0.0f32; OUT];
        forward(&self.slices(), &x, &mut hidden, &mut probabilities);
        Prediction {
            class: kernels::argmax(&probabilities),
            probabilities,
        }
    }

    /// The size-erased form of this model, which borrows the same weights.
    pub fn slices(&self) -> MlpSlices<'a> {
        MlpSlices {
            w1: self.hidden.weights.as_flattened(),
            b1: self.hidden.bias,
            w2: self.output.weights.as_flattened(),
            b2: self.output.bias,
            input: IN,
            hidden: H,
            output: OUT,
            hidden_activation: self.hidden_activation,
            output_activation: self.output_activation,
            scaling: self.scaling,
        }
    }
}

/// A model whose sizes are only known at run time (a host loading any model file): the
/// weights as plain slices, with the sizes they must have. [`MlpRef`] runs on the same
/// private `forward`, so it is compiled once for both.
#[derive(Clone, Copy, Debug)]
pub struct MlpSlices<'a> {
    /// First-layer weights, `(hidden, input)` row-major.
    pub w1: &'a [f32],
    /// First-layer bias, `(hidden)`.
    pub b1: &'a [f32],
    /// Second-layer weights, `(output, hidden)` row-major.
    pub w2: &'a [f32],
    /// Second-layer bias, `(output)`.
    pub b2: &'a [f32],
    /// Inputs.
    pub input: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Outputs.
    pub output: usize,
    /// Applied to the hidden layer's output.
    pub hidden_activation: Activation,
    /// Applied to the output layer's output.
    pub output_activation: Activation,
    /// How pixels are turned into inputs.
    pub scaling: InputScaling,
}

impl<'a> MlpSlices<'a> {
    /// The same model as a depth-2 network, borrowing the same weights: an output softmax
    /// becomes the network's softmax.
    pub fn network(&self) -> ModelF32<'a> {
        let softmax = self.output_activation == Activation::Softmax;
        let output_activation = if softmax {
            Activation::Identity
        } else {
            self.output_activation
        };
        ModelF32 {
            layers: Layers::from_array([
                LayerF32 {
                    weights: self.w1,
                    bias: self.b1,
                    inputs: self.input,
                    outputs: self.hidden,
                    activation: self.hidden_activation,
                },
                LayerF32 {
                    weights: self.w2,
                    bias: self.b2,
                    inputs: self.hidden,
                    outputs: self.output,
                    activation: output_activation,
                },
            ]),
            softmax,
            scaling: self.scaling,
        }
    }

    /// Classifies inputs that are already scaled: writes the output layer (after its
    /// activation) to `probabilities_out` and returns the index of its largest value.
    /// `x` is `(input)`, `hidden_scratch` is `(hidden)` and may hold anything,
    /// `probabilities_out` is `(output)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if a weight slice or an argument has the wrong length (or
    /// [`Error::TooLarge`] if the sizes overflow); [`Error::NonFiniteInput`] if any input is
    /// NaN or infinite.
    ///
    /// ```
    /// use nn_core::{Activation, Error, InputScaling, MlpSlices};
    ///
    /// // 2 inputs → 2 relu units → 2 classes, the weights in plain slices.
    /// let (w1, b1) = ([1.0, 0.0, 0.0, 1.0], [0.0, 0.0]);
    /// let (w2, b2) = ([1.0, -1.0, -1.0, 1.0], [0.0, 0.0]);
    /// let model = MlpSlices {
    ///     w1: &w1, b1: &b1, w2: &w2, b2: &b2,
    ///     input: 2, hidden: 2, output: 2,
    ///     hidden_activation: Activation::Relu,
    ///     output_activation: Activation::Softmax,
    ///     scaling: InputScaling::UNIT,
    /// };
    /// let (mut hidden, mut probabilities) = ([0.0f32; 2], [0.0f32; 2]);
    /// let class = model.predict_into(&[0.0, 1.0], &mut hidden, &mut probabilities)?;
    /// assert_eq!(class, 1);
    /// assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    /// // Three inputs for a two-input model: refused, nothing computed.
    /// let wrong = model.predict_into(&[0.0, 1.0, 2.0], &mut hidden, &mut probabilities);
    /// assert!(matches!(wrong, Err(Error::LengthMismatch { expected: 2, found: 3, .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn predict_into(
        &self,
        x: &[f32],
        hidden_scratch: &mut [f32],
        probabilities_out: &mut [f32],
    ) -> Result<usize, Error> {
        let w1 = self.hidden.checked_mul(self.input).ok_or(Error::TooLarge)?;
        let w2 = self
            .output
            .checked_mul(self.hidden)
            .ok_or(Error::TooLarge)?;
        let lengths = [
            (Some(Tensor::W1), w1, self.w1.len()),
            (Some(Tensor::B1), self.hidden, self.b1.len()),
            (Some(Tensor::W2), w2, self.w2.len()),
            (Some(Tensor::B2), self.output, self.b2.len()),
            (None, self.input, x.len()),
            (None, self.hidden, hidden_scratch.len()),
            (None, self.output, probabilities_out.len()),
        ];
        check_lengths(lengths)?;
        check_finite(x)?;
        forward(self, x, hidden_scratch, probabilities_out);
        Ok(kernels::argmax(probabilities_out))
    }
}

/// `out ← act2(W2 act1(W1 x + b1) + b2)`, the network's code at depth 2; `hidden` is
/// scratch of length `H`. The caller guarantees every length matches (the typed [`MlpRef`]
/// by construction, [`MlpSlices`] by checking).
fn forward(m: &MlpSlices<'_>, x: &[f32], hidden: &mut [f32], out: &mut [f32]) {
    // Layer 1 writes `hidden`, layer 2 `out`, where the result is left.
    m.network().forward(Some(x), out, hidden);
}
