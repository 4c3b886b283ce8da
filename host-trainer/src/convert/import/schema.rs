//! Read-only accessors for the few tables of the TFLite flatbuffer schema (`schema.fbs`,
//! file identifier `TFL3`) that the importer needs, written in the style of `flatc --rust`
//! output over the `flatbuffers` crate's [`Table`].
//!
//! Why hand-written and not generated: `flatc --rust` emits code for every table and enum
//! of the schema (well over a hundred option tables alone), of which nine tables are read
//! here; these few hundred lines can be reviewed line by line, need no vendored schema
//! and no `flatc` in the build.
//!
//! Safety story, as in generated code: [`model`] runs the crate's [`Verifier`] over every
//! table, vector and string reachable through the fields declared below (bounds, alignment,
//! offsets, depth), and only then hands out a [`Model`]. Every accessor reads a field that
//! the verifier has checked, with the type it checked it as, which is what `Table::get`'s
//! safety contract asks. Fields not declared here are neither verified nor read.
//! Vector indexing goes through [`at`], which returns `None` out of range instead of
//! panicking.
//!
//! Field slots are `4 + 2 * id`, `id` being the field's position in `schema.fbs`.
//!
//! [`Verifier`]: flatbuffers::Verifier

use flatbuffers::{
    Follow, ForwardsUOffset, InvalidFlatbuffer, Table, VOffsetT, Vector, Verifiable, Verifier,
};

/// `Vector::get` asserts its index; this is the non-panicking form.
pub fn at<'a, T: Follow<'a> + 'a>(v: Vector<'a, T>, i: usize) -> Option<T::Inner> {
    (i < v.len()).then(|| v.get(i))
}

/// Verifies `bytes` as a TFLite model and returns its root table.
pub fn model(bytes: &[u8]) -> Result<Model<'_>, InvalidFlatbuffer> {
    flatbuffers::root::<Model>(bytes)
}

/// Declares a table type: its `Follow` impl, and its `Verifiable` impl visiting `fields`.
macro_rules! table {
    ($(#[$doc:meta])* $name:ident { $($field:literal: $ty:ty = $slot:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name<'a> {
            tab: Table<'a>,
        }

        impl<'a> Follow<'a> for $name<'a> {
            type Inner = $name<'a>;
            unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
                // Safety: the caller promises a table at `loc` (Follow's contract).
                Self { tab: unsafe { Table::new(buf, loc) } }
            }
        }

        impl Verifiable for $name<'_> {
            fn run_verifier(
                v: &mut Verifier,
                pos: usize,
            ) -> Result<(), InvalidFlatbuffer> {
                v.visit_table(pos)?
                    $(.visit_field::<$ty>($field, $slot, false)?)*
                    .finish();
                Ok(())
            }
        }
    };
}

/// Reads an optional field of a verified table.
macro_rules! field {
    ($self:ident, $ty:ty, $slot:expr) => {
        // Safety: `$self` was reached through a verified buffer and the verifier checked
        // this slot as `$ty` (see the table's `table!` declaration).
        unsafe { $self.tab.get::<$ty>($slot, None) }
    };
}

const fn slot(id: VOffsetT) -> VOffsetT {
    4 + 2 * id
}

table!(
    /// `table Model`: the root.
    Model {
        "operator_codes": ForwardsUOffset<Vector<'_, ForwardsUOffset<OperatorCode<'_>>>> = slot(1),
        "subgraphs": ForwardsUOffset<Vector<'_, ForwardsUOffset<SubGraph<'_>>>> = slot(2),
        "buffers": ForwardsUOffset<Vector<'_, ForwardsUOffset<Buffer<'_>>>> = slot(4),
    }
);

impl<'a> Model<'a> {
    /// The operator kinds that `Operator::opcode_index` refers to.
    pub fn operator_codes(&self) -> Option<Vector<'a, ForwardsUOffset<OperatorCode<'a>>>> {
        field!(
            self,
            ForwardsUOffset<Vector<'a, ForwardsUOffset<OperatorCode<'a>>>>,
            slot(1)
        )
    }
    /// The graphs; the first is the main one.
    pub fn subgraphs(&self) -> Option<Vector<'a, ForwardsUOffset<SubGraph<'a>>>> {
        field!(
            self,
            ForwardsUOffset<Vector<'a, ForwardsUOffset<SubGraph<'a>>>>,
            slot(2)
        )
    }
    /// The constant data that `Tensor::buffer` refers to (entry 0 is always empty).
    pub fn buffers(&self) -> Option<Vector<'a, ForwardsUOffset<Buffer<'a>>>> {
        field!(
            self,
            ForwardsUOffset<Vector<'a, ForwardsUOffset<Buffer<'a>>>>,
            slot(4)
        )
    }
}

table!(
    /// `table OperatorCode`: which operator an `Operator` runs.
    OperatorCode {
        "deprecated_builtin_code": i8 = slot(0),
        "custom_code": ForwardsUOffset<&str> = slot(1),
        "builtin_code": i32 = slot(3),
    }
);

impl<'a> OperatorCode<'a> {
    /// The builtin operator number. Files carry it twice (a byte for old readers, an int
    /// for codes above 127); as TFLite's `GetBuiltinCode`, the larger one wins.
    pub fn builtin_code(&self) -> i32 {
        let old = field!(self, i8, slot(0)).unwrap_or(0);
        let new = field!(self, i32, slot(3)).unwrap_or(0);
        i32::from(old).max(new)
    }
    /// The name of a custom operator.
    pub fn custom_code(&self) -> Option<&'a str> {
        field!(self, ForwardsUOffset<&str>, slot(1))
    }
}

table!(
    /// `table SubGraph`: tensors, operators in execution order, and the graph's ends.
    SubGraph {
        "tensors": ForwardsUOffset<Vector<'_, ForwardsUOffset<Tensor<'_>>>> = slot(0),
        "inputs": ForwardsUOffset<Vector<'_, i32>> = slot(1),
        "outputs": ForwardsUOffset<Vector<'_, i32>> = slot(2),
        "operators": ForwardsUOffset<Vector<'_, ForwardsUOffset<Operator<'_>>>> = slot(3),
    }
);

impl<'a> SubGraph<'a> {
    /// Every tensor of the graph, indexed by the `i32`s below.
    pub fn tensors(&self) -> Option<Vector<'a, ForwardsUOffset<Tensor<'a>>>> {
        field!(
            self,
            ForwardsUOffset<Vector<'a, ForwardsUOffset<Tensor<'a>>>>,
            slot(0)
        )
    }
    /// The graph's input tensors.
    pub fn inputs(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, slot(1))
    }
    /// The graph's output tensors.
    pub fn outputs(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, slot(2))
    }
    /// The operators, in the order they run.
    pub fn operators(&self) -> Option<Vector<'a, ForwardsUOffset<Operator<'a>>>> {
        field!(
            self,
            ForwardsUOffset<Vector<'a, ForwardsUOffset<Operator<'a>>>>,
            slot(3)
        )
    }
}

table!(
    /// `table Tensor`: shape, element type, data and quantisation of one tensor.
    Tensor {
        "shape": ForwardsUOffset<Vector<'_, i32>> = slot(0),
        "type": i8 = slot(1),
        "buffer": u32 = slot(2),
        "name": ForwardsUOffset<&str> = slot(3),
        "quantization": ForwardsUOffset<QuantizationParameters<'_>> = slot(4),
    }
);

impl<'a> Tensor<'a> {
    /// Dimensions (absent for a scalar).
    pub fn shape(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, slot(0))
    }
    /// `enum TensorType : byte` (FLOAT32 = 0 by default).
    pub fn type_(&self) -> i8 {
        field!(self, i8, slot(1)).unwrap_or(0)
    }
    /// Index into `Model::buffers`; 0 means no constant data.
    pub fn buffer(&self) -> u32 {
        field!(self, u32, slot(2)).unwrap_or(0)
    }
    /// The tensor's name, for messages.
    pub fn name(&self) -> Option<&'a str> {
        field!(self, ForwardsUOffset<&str>, slot(3))
    }
    /// Its quantisation, if any.
    pub fn quantization(&self) -> Option<QuantizationParameters<'a>> {
        field!(self, ForwardsUOffset<QuantizationParameters<'a>>, slot(4))
    }
}

table!(
    /// `table QuantizationParameters`: `real = scale * (q - zero_point)`, per tensor or per
    /// slice along `quantized_dimension`.
    QuantizationParameters {
        "scale": ForwardsUOffset<Vector<'_, f32>> = slot(2),
        "zero_point": ForwardsUOffset<Vector<'_, i64>> = slot(3),
        "details_type": u8 = slot(4),
        "quantized_dimension": i32 = slot(6),
    }
);

impl<'a> QuantizationParameters<'a> {
    /// Scales (one, or one per slice).
    pub fn scale(&self) -> Option<Vector<'a, f32>> {
        field!(self, ForwardsUOffset<Vector<'a, f32>>, slot(2))
    }
    /// Zero points, as many as scales.
    pub fn zero_point(&self) -> Option<Vector<'a, i64>> {
        field!(self, ForwardsUOffset<Vector<'a, i64>>, slot(3))
    }
    /// Nonzero when a custom quantisation replaces scale and zero point.
    pub fn details_type(&self) -> u8 {
        field!(self, u8, slot(4)).unwrap_or(0)
    }
    /// The dimension that per-slice parameters run along.
    pub fn quantized_dimension(&self) -> i32 {
        field!(self, i32, slot(6)).unwrap_or(0)
    }
}

table!(
    /// `table Buffer`: constant tensor data, little-endian, or a location outside the
    /// flatbuffer (models over 2 GiB).
    Buffer {
        "data": ForwardsUOffset<Vector<'_, u8>> = slot(0),
        "offset": u64 = slot(1),
        "size": u64 = slot(2),
    }
);

impl<'a> Buffer<'a> {
    /// The bytes, if they are inside the flatbuffer.
    pub fn data(&self) -> Option<&'a [u8]> {
        field!(self, ForwardsUOffset<Vector<'a, u8>>, slot(0)).map(|v| v.bytes())
    }
    /// Nonzero when the data lives after the flatbuffer.
    pub fn external_size(&self) -> u64 {
        field!(self, u64, slot(2)).unwrap_or(0)
    }
}

/// `BuiltinOptions` union tag of `FullyConnectedOptions`.
pub const OPTIONS_FULLY_CONNECTED: u8 = 8;
/// `BuiltinOptions` union tag of `SoftmaxOptions`.
pub const OPTIONS_SOFTMAX: u8 = 9;

/// `table Operator`: one node of the graph. Declared by hand because its verifier must
/// follow the `builtin_options` union into the two option tables read here.
#[derive(Clone, Copy, Debug)]
pub struct Operator<'a> {
    tab: Table<'a>,
}

impl<'a> Follow<'a> for Operator<'a> {
    type Inner = Operator<'a>;
    unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
        // Safety: the caller promises a table at `loc` (Follow's contract).
        let tab = unsafe { Table::new(buf, loc) };
        Self { tab }
    }
}

impl Verifiable for Operator<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<(), InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u32>("opcode_index", slot(0), false)?
            .visit_field::<ForwardsUOffset<Vector<'_, i32>>>("inputs", slot(1), false)?
            .visit_field::<ForwardsUOffset<Vector<'_, i32>>>("outputs", slot(2), false)?
            .visit_union::<u8, _>(
                "builtin_options_type",
                slot(3),
                "builtin_options",
                slot(4),
                false,
                |tag, v, pos| match tag {
                    OPTIONS_FULLY_CONNECTED => v
                        .verify_union_variant::<ForwardsUOffset<FullyConnectedOptions>>(
                            "FullyConnectedOptions",
                            pos,
                        ),
                    OPTIONS_SOFTMAX => v.verify_union_variant::<ForwardsUOffset<SoftmaxOptions>>(
                        "SoftmaxOptions",
                        pos,
                    ),
                    // Other options are never read, so they need no checking.
                    _ => Ok(()),
                },
            )?
            .finish();
        Ok(())
    }
}

impl<'a> Operator<'a> {
    /// Index into `Model::operator_codes`.
    pub fn opcode_index(&self) -> u32 {
        field!(self, u32, slot(0)).unwrap_or(0)
    }
    /// Input tensor indices (-1 for an absent optional input).
    pub fn inputs(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, slot(1))
    }
    /// Output tensor indices.
    pub fn outputs(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, slot(2))
    }
    fn options_type(&self) -> u8 {
        field!(self, u8, slot(3)).unwrap_or(0)
    }
    /// The options of a FULLY_CONNECTED, if this operator carries them.
    pub fn fully_connected_options(&self) -> Option<FullyConnectedOptions<'a>> {
        if self.options_type() != OPTIONS_FULLY_CONNECTED {
            return None;
        }
        field!(self, ForwardsUOffset<FullyConnectedOptions<'a>>, slot(4))
    }
    /// The options of a SOFTMAX, if this operator carries them.
    pub fn softmax_options(&self) -> Option<SoftmaxOptions<'a>> {
        if self.options_type() != OPTIONS_SOFTMAX {
            return None;
        }
        field!(self, ForwardsUOffset<SoftmaxOptions<'a>>, slot(4))
    }
}

table!(
    /// `table FullyConnectedOptions`.
    FullyConnectedOptions {
        "fused_activation_function": i8 = slot(0),
        "weights_format": i8 = slot(1),
    }
);

impl FullyConnectedOptions<'_> {
    /// `enum ActivationFunctionType : byte` (NONE = 0, RELU = 1, ...).
    pub fn fused_activation_function(&self) -> i8 {
        field!(self, i8, slot(0)).unwrap_or(0)
    }
    /// 0 = DEFAULT (row-major); anything else is a shuffled layout.
    pub fn weights_format(&self) -> i8 {
        field!(self, i8, slot(1)).unwrap_or(0)
    }
}

table!(
    /// `table SoftmaxOptions`.
    SoftmaxOptions {
        "beta": f32 = slot(0),
    }
);

impl SoftmaxOptions<'_> {
    /// `softmax(beta * x)`.
    pub fn beta(&self) -> f32 {
        field!(self, f32, slot(0)).unwrap_or(0.0)
    }
}
