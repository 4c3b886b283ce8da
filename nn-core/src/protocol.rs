//! The serial protocol between a host and the board: the host sends a [`Request`] (one image),
//! the board answers with a [`Response`] (its prediction, or why it could not read the frame).
//!
//! A frame is `COBS(postcard(message) ++ crc32_le(postcard(message))) ++ [0x00]`: COBS removes
//! every zero byte, so the single `0x00` marks the end of a frame and a reader that joins in
//! the middle of a stream (or after garbage) resynchronises at the next one. The CRC is
//! CRC-32/ISO-HDLC, as in the model file. Nothing allocates; [`FrameReader`] collects bytes
//! in a fixed buffer.
//!
//! This is version 3 of the protocol ([`VERSION`]): a request's pixels travel as they are or,
//! when shorter, with each run of zero pixels written as two bytes ([`zero_runs`]), which
//! cuts an MNIST digit's frame from ~796 bytes to ~217 on average. Any other model speaks in
//! raw tensors of any size: a [`TensorRequest`] carries the input (u8 pixels, i8 or f32 LE),
//! a [`TensorResponse`] the output tensor (i8 for an int8 model, f32 LE otherwise); a board
//! sizes its frame buffers for its model with [`max_frame_for`]. nn-core's README has the
//! byte-level spec and what changed from versions 1 and 2.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::format::CRC;
use crate::model::Prediction;
use crate::{CLASSES, IMAGE_PIXELS};

/// One image to classify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Request {
    /// Chosen by the host and echoed in the [`Response`], to pair answers with questions.
    pub id: u32,
    /// Raw 0–255 pixels, row-major; the board scales them as its model file says.
    #[serde(with = "byte_array")]
    pub pixels: [u8; IMAGE_PIXELS],
}

/// The board's answer to one frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Response {
    /// The request's id (0 when the request could not be read).
    pub id: u32,
    /// What the board made of it.
    pub body: ResponseBody,
}

/// A prediction or the reason there is none.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResponseBody {
    /// The model's answer.
    Prediction {
        /// The most probable digit.
        class: u8,
        /// Every digit's probability (the softmax output).
        probabilities: [f32; CLASSES],
    },
    /// The request frame could not be read.
    Error(FrameError),
}

/// Why a frame could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FrameError {
    /// More bytes arrived before the terminator than the reader's buffer holds.
    Oversized,
    /// The bytes are not valid COBS.
    Corrupt,
    /// The frame ends before its checksum or its message does.
    Truncated,
    /// The checksum does not match the message.
    BadCrc,
    /// The checksum matches but the bytes are not the expected message (or have bytes left over).
    Malformed,
    /// A tensor request whose element type or length the board's model does not take.
    WrongInput,
    /// An example the board cannot keep: its store of that kind is full.
    StoreFull,
    /// An example whose label is not one of the model's classes.
    BadLabel,
    /// A learning request this board cannot carry out: it has no head to learn (not an int8
    /// model of two layers or more), no examples, or a plan its buffers do not hold.
    CannotLearn,
    /// A head read that starts beyond the head's end.
    BadOffset,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FrameError::Oversized => "frame longer than the receive buffer",
            FrameError::Corrupt => "frame is not valid COBS",
            FrameError::Truncated => "frame ends early",
            FrameError::BadCrc => "frame checksum mismatch",
            FrameError::Malformed => "frame does not hold the expected message",
            FrameError::WrongInput => {
                "tensor request of an element type or length the model does not take"
            }
            FrameError::StoreFull => "the board's example store is full",
            FrameError::BadLabel => "example label is not one of the model's classes",
            FrameError::CannotLearn => "the board cannot learn with this request",
            FrameError::BadOffset => "head read starts beyond the head's end",
        })
    }
}

impl core::error::Error for FrameError {}

/// The protocol's version. 2: a request starts with a tag and its pixels may be zero-run
/// encoded (version 1 had only the raw request, without a tag). 3: raw tensors of any size
/// (request tag 2, response body tag 2) and the error [`FrameError::WrongInput`]; every
/// version 2 frame reads as before. 4: learning on the board ([`LearnRequest`], request tag
/// 3; [`LearnReply`], response body tag 3) and its errors; every version 3 frame reads as
/// before.
pub const VERSION: u32 = 4;

/// How a tensor's elements travel: one byte each (u8, i8) or four (f32, little-endian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TensorElement {
    /// 0–255 pixels, scaled as the model file says (an int8 model: `q = pixel - 128`).
    U8,
    /// int8 values already quantised with the model's input (or an int8 model's output).
    I8,
    /// f32, little-endian: quantised with the input's (scale, zero point) by an int8 model.
    F32,
}

impl TensorElement {
    /// Bytes per element on the wire.
    pub const fn size(self) -> usize {
        match self {
            TensorElement::U8 | TensorElement::I8 => 1,
            TensorElement::F32 => 4,
        }
    }
}

/// One input tensor of any size: `data` holds `len × element.size()` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorRequest<'a> {
    /// Chosen by the host and echoed in the reply.
    pub id: u32,
    /// How `data` is to be read.
    pub element: TensorElement,
    /// The elements, row-major, as they are (f32 little-endian).
    pub data: &'a [u8],
}

/// The output tensor of one [`TensorRequest`], as the model computed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorResponse<'a> {
    /// The request's id.
    pub id: u32,
    /// [`TensorElement::I8`] (an int8 model's output tensor) or [`TensorElement::F32`].
    pub element: TensorElement,
    /// The elements (f32 little-endian).
    pub data: &'a [u8],
}

/// What a board that learns is asked (protocol 4): keep a labelled example, learn from
/// those it keeps, send back the learned head, or go back to the shipped model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LearnRequest<'a> {
    /// Tag 0: keep one labelled example (the board keeps its features, not the input).
    /// Answered with [`LearnReply::Stored`].
    Example {
        /// Chosen by the host and echoed in the reply.
        id: u32,
        /// The example's class.
        label: u8,
        /// Whether it joins the replay set (examples of the original training data mixed
        /// into every batch against forgetting) rather than the examples to learn.
        replay: bool,
        /// [`TensorElement::U8`] pixels or [`TensorElement::I8`] already quantised.
        element: TensorElement,
        /// The model's inputs, as `element` says.
        #[serde(borrow)]
        data: &'a [u8],
    },
    /// Tag 1: learn the head from the kept examples, starting from the shipped model's head
    /// each time. Answered with [`LearnReply::Learned`].
    Learn {
        /// Chosen by the host and echoed in the reply.
        id: u32,
        /// How.
        plan: LearnPlan,
    },
    /// Tag 2: send the head's parameters from byte `offset` on. Answered with
    /// [`LearnReply::Head`].
    ReadHead {
        /// Chosen by the host and echoed in the reply.
        id: u32,
        /// The first byte wanted.
        offset: u32,
    },
    /// Tag 3: forget every example and the learned head: the board serves with the shipped
    /// model again. Answered with [`LearnReply::Stored`] (nothing stored).
    Reset {
        /// Chosen by the host and echoed in the reply.
        id: u32,
    },
}

impl LearnRequest<'_> {
    /// The request's id.
    pub fn id(&self) -> u32 {
        match *self {
            LearnRequest::Example { id, .. }
            | LearnRequest::Learn { id, .. }
            | LearnRequest::ReadHead { id, .. }
            | LearnRequest::Reset { id } => id,
        }
    }
}

/// How the board learns: `nn_core::train::Plan` and the optimizer, as they travel.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LearnPlan {
    /// Passes over the examples.
    pub epochs: u32,
    /// Examples per step.
    pub batch: u32,
    /// Replay examples added to every step.
    pub replay: u32,
    /// Seeds the shuffles.
    pub seed: u64,
    /// The optimizer and its settings.
    pub optimizer: LearnOptimizer,
}

/// The optimizer of a [`LearnPlan`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LearnOptimizer {
    /// Tag 0: Adam.
    Adam {
        /// Learning rate.
        lr: f32,
        /// First moment's decay.
        beta1: f32,
        /// Second moment's decay.
        beta2: f32,
        /// Added to the second moment's root.
        epsilon: f32,
    },
    /// Tag 1: plain gradient descent.
    Sgd {
        /// Learning rate.
        lr: f32,
    },
}

/// The board's answer to a [`LearnRequest`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LearnReply<'a> {
    /// Tag 0: what the board keeps now, and how much it can.
    Stored {
        /// Examples to learn.
        examples: u32,
        /// Replay examples.
        replay: u32,
        /// The most examples to learn it keeps.
        capacity: u32,
        /// The most replay examples it keeps.
        replay_capacity: u32,
    },
    /// Tag 1: learning done.
    Learned {
        /// Optimizer steps taken.
        steps: u32,
        /// The last epoch's summed cross-entropy (replay examples included).
        loss_sum: f32,
        /// The last epoch's examples classified right as they were learned.
        correct: u32,
        /// What learning took: instructions in QEMU, cycles on a board.
        count: u64,
        /// The stack's high-water mark in bytes since boot.
        stack_used: u32,
    },
    /// Tag 2: part of the head's parameters, f32 little-endian in `train`'s layout.
    Head {
        /// Where `data` starts.
        offset: u32,
        /// The head's length in bytes.
        total: u32,
        /// At most [`HEAD_CHUNK`] bytes.
        #[serde(borrow)]
        data: &'a [u8],
    },
}

/// A [`LearnReply`] and the id of the request it answers.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LearnResponse<'a> {
    /// The request's id.
    pub id: u32,
    /// The answer.
    pub reply: LearnReply<'a>,
}

/// The most head bytes one [`LearnReply::Head`] carries: its frame stays within
/// [`MAX_FRAME`], which every board's frame buffer holds.
pub const HEAD_CHUNK: usize = 512;

/// A request frame of either kind, as a board reads it.
// Lives only while one frame is answered, and no_std has no Box for the digit.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AnyRequest<'a> {
    /// One 28 × 28 image ([`encode_request`]).
    Digit(Request),
    /// A raw tensor ([`encode_tensor_request`]), borrowed from the frame.
    Tensor(TensorRequest<'a>),
    /// A learning request ([`encode_learn_request`]), an example's data borrowed from the frame.
    Learn(LearnRequest<'a>),
}

/// A response frame of either kind, as a host reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AnyResponse<'a> {
    /// A digit prediction or an error ([`encode_response`]).
    Digit(Response),
    /// A raw output tensor ([`encode_tensor_response`]), borrowed from the frame.
    Tensor(TensorResponse<'a>),
    /// The answer to a learning request ([`encode_learn_response`]).
    Learn(LearnResponse<'a>),
}

/// A [`Request`] as it travels. The host picks the shorter form; the board reads both.
// Lives only while one frame is decoded, and no_std has no Box for the big variant.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize)]
enum WireRequest<'a> {
    /// Tag 0: the id, then the 784 pixels as they are.
    Raw(Request),
    /// Tag 1: the id, then the pixels as [`zero_runs`] writes them (length-prefixed).
    ZeroRuns {
        id: u32,
        #[serde(borrow)]
        runs: &'a [u8],
    },
    /// Tag 2: a raw tensor: the id, the element tag, then the bytes (length-prefixed).
    Tensor(#[serde(borrow)] TensorRequest<'a>),
    /// Tag 3: learning, then [`LearnRequest`]'s own tag.
    Learn(#[serde(borrow)] LearnRequest<'a>),
}

/// A response as it travels: [`Response`]'s layout, with a third body.
#[derive(Serialize, Deserialize)]
struct WireResponse<'a> {
    id: u32,
    #[serde(borrow)]
    body: WireBody<'a>,
}

/// [`ResponseBody`]'s tags 0 and 1, then the tensor.
#[derive(Serialize, Deserialize)]
enum WireBody<'a> {
    Prediction {
        class: u8,
        probabilities: [f32; CLASSES],
    },
    Error(FrameError),
    /// Tag 2: the element tag, then the bytes (length-prefixed).
    Tensor {
        element: TensorElement,
        #[serde(borrow)]
        data: &'a [u8],
    },
    /// Tag 3: learning, then [`LearnReply`]'s own tag.
    Learn(#[serde(borrow)] LearnReply<'a>),
}

/// The most zero pixels one `00 n` pair stands for.
const MAX_RUN: usize = 255;

/// Zero-run encoding: writes each nonzero pixel as itself and each run of zero pixels as
/// the pair `00 n` (n = 1..=255 zeros; a longer run takes several pairs) into `out`, and
/// returns the length written, or `None` when it does not fit in `out`. An MNIST digit is
/// ~80 % zeros, in long runs: 784 pixels become ~200 bytes (at most 363 on the test set).
pub fn zero_runs(pixels: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut written = 0;
    let mut i = 0;
    while let Some(&pixel) = pixels.get(i) {
        if pixel == 0 {
            let run = pixels
                .iter()
                .skip(i)
                .take(MAX_RUN)
                .take_while(|&&p| p == 0)
                .count();
            out.get_mut(written..written + 2)?
                .copy_from_slice(&[0, u8::try_from(run).ok()?]);
            written += 2;
            i += run;
        } else {
            *out.get_mut(written)? = pixel;
            written += 1;
            i += 1;
        }
    }
    Some(written)
}

/// The inverse of [`zero_runs`]: expands `runs` into `out`, which it must fill exactly.
///
/// # Errors
/// [`FrameError::Malformed`] when the runs hold more or fewer pixels than `out`, a run of
/// zero length, or end in the middle of a `00 n` pair.
pub fn expand_zero_runs(runs: &[u8], out: &mut [u8]) -> Result<(), FrameError> {
    let mut filled = 0;
    let mut bytes = runs.iter();
    while let Some(&byte) = bytes.next() {
        let count = if byte == 0 {
            usize::from(*bytes.next().ok_or(FrameError::Malformed)?)
        } else {
            1
        };
        if count == 0 {
            return Err(FrameError::Malformed);
        }
        out.get_mut(filled..filled + count)
            .ok_or(FrameError::Malformed)?
            .fill(byte);
        filled += count;
    }
    if filled == out.len() {
        Ok(())
    } else {
        Err(FrameError::Malformed)
    }
}

impl Response {
    /// The response that carries `prediction`.
    pub fn from_prediction(id: u32, prediction: &Prediction<CLASSES>) -> Self {
        Self {
            id,
            body: ResponseBody::Prediction {
                // A class is an index below CLASSES = 10, so it always fits.
                class: u8::try_from(prediction.class).unwrap_or(u8::MAX),
                probabilities: prediction.probabilities,
            },
        }
    }
}

/// Bytes of the checksum in every frame.
const CRC_LEN: usize = 4;
/// Longest request message: the raw form's tag (1), id (varint ≤ 5) and pixels (no length
/// prefix). The zero-run form is only sent when it is shorter.
pub const REQUEST_MAX_LEN: usize = 1 + 5 + IMAGE_PIXELS;
/// Longest postcard [`Response`]: id (≤ 5), body tag (1), class (1), probabilities (4 each).
/// An error body is shorter: tag, error tag.
pub const RESPONSE_MAX_LEN: usize = 5 + 1 + 1 + 4 * CLASSES;

/// Bytes of a frame around a message of at most `message` bytes: checksum, COBS overhead, terminator.
const fn frame_len(message: usize) -> usize {
    cobs::max_encoding_length(message + CRC_LEN) + 1
}

/// Longest tensor message of either direction carrying `data` bytes: request tag (1), id
/// (≤ 5), element tag (1), length (varint: ≤ 5 below 2^35), the bytes. A response has
/// one body tag in the request tag's place.
const fn tensor_message_len(data: usize) -> usize {
    1 + 5 + 1 + 5 + data
}

/// The longest frame of a tensor message (either direction) carrying `data` bytes,
/// terminator included.
pub const fn tensor_frame_len(data: usize) -> usize {
    frame_len(tensor_message_len(data))
}

/// The longest learning message, request or reply, carrying `data` bytes (an example's
/// input, a head chunk): tags (2), id (≤ 5), the largest fixed fields (a plan's 3 × 5 + 10
/// + 1 + 16 bytes of varints, seed and optimizer), the bytes.
const fn learn_message_len(data: usize) -> usize {
    2 + 5 + 42 + data
}

/// The longest frame of a learning message carrying `data` bytes, terminator included.
pub const fn learn_frame_len(data: usize) -> usize {
    frame_len(learn_message_len(data))
}

const _: () = assert!(learn_frame_len(HEAD_CHUNK) <= MAX_FRAME);

/// The frame buffer a board needs for a model of `inputs` and `outputs` elements: any digit
/// message ([`MAX_FRAME`]), and tensor messages of up to 4 bytes per element (f32) each way.
pub const fn max_frame_for(inputs: usize, outputs: usize) -> usize {
    let input = tensor_frame_len(4 * inputs);
    let output = tensor_frame_len(4 * outputs);
    let tensors = if input > output { input } else { output };
    if tensors > MAX_FRAME {
        tensors
    } else {
        MAX_FRAME
    }
}

/// The longest request frame, terminator included.
pub const MAX_REQUEST_FRAME: usize = frame_len(REQUEST_MAX_LEN);
/// The longest response frame, terminator included.
pub const MAX_RESPONSE_FRAME: usize = frame_len(RESPONSE_MAX_LEN);
/// The longest frame of either kind, terminator included: a buffer this long encodes any
/// message, and a `FrameReader<MAX_FRAME>` receives any frame.
pub const MAX_FRAME: usize = if MAX_REQUEST_FRAME > MAX_RESPONSE_FRAME {
    MAX_REQUEST_FRAME
} else {
    MAX_RESPONSE_FRAME
};

/// Writes `request` as a frame into `out` and returns the frame, terminator included. The
/// pixels are zero-run encoded when that is shorter (for an MNIST digit, ~3.6× fewer
/// bytes), raw otherwise.
///
/// # Errors
/// [`Error::BufferTooSmall`] if `out` is too short ([`MAX_REQUEST_FRAME`] bytes always suffice).
pub fn encode_request<'a>(request: &Request, out: &'a mut [u8]) -> Result<&'a [u8], Error> {
    let mut runs = [0u8; IMAGE_PIXELS];
    // Zero runs plus their 2-byte length prefix must beat the 784 raw pixels.
    match zero_runs(&request.pixels, &mut runs[..IMAGE_PIXELS - 3]) {
        Some(len) => {
            let message = WireRequest::ZeroRuns {
                id: request.id,
                runs: runs.get(..len).unwrap_or_default(),
            };
            encode(&message, out, MAX_REQUEST_FRAME)
        }
        None => encode(&WireRequest::Raw(*request), out, MAX_REQUEST_FRAME),
    }
}

/// Writes `response` as a frame into `out` and returns the frame, terminator included.
///
/// # Errors
/// [`Error::BufferTooSmall`] if `out` is too short ([`MAX_RESPONSE_FRAME`] bytes always suffice).
pub fn encode_response<'a>(response: &Response, out: &'a mut [u8]) -> Result<&'a [u8], Error> {
    encode(response, out, MAX_RESPONSE_FRAME)
}

/// Writes a tensor request as a frame into `out` and returns the frame, terminator included.
///
/// # Errors
/// [`Error::BufferTooSmall`] if `out` is too short ([`tensor_frame_len`] of the data's length
/// always suffices).
pub fn encode_tensor_request<'a>(
    request: &TensorRequest<'_>,
    out: &'a mut [u8],
) -> Result<&'a [u8], Error> {
    let enough = tensor_frame_len(request.data.len());
    encode(&WireRequest::Tensor(*request), out, enough)
}

/// Writes a tensor response as a frame into `out` and returns the frame, terminator included.
///
/// # Errors
/// [`Error::BufferTooSmall`] if `out` is too short ([`tensor_frame_len`] of the data's length
/// always suffices).
pub fn encode_tensor_response<'a>(
    response: &TensorResponse<'_>,
    out: &'a mut [u8],
) -> Result<&'a [u8], Error> {
    let message = WireResponse {
        id: response.id,
        body: WireBody::Tensor {
            element: response.element,
            data: response.data,
        },
    };
    encode(&message, out, tensor_frame_len(response.data.len()))
}

/// Writes a learning request as a frame into `out` and returns the frame, terminator included.
///
/// # Errors
/// [`Error::BufferTooSmall`] if `out` is too short ([`learn_frame_len`] of an example's data
/// length always suffices).
pub fn encode_learn_request<'a>(
    request: &LearnRequest<'_>,
    out: &'a mut [u8],
) -> Result<&'a [u8], Error> {
    let data = match request {
        LearnRequest::Example { data, .. } => data.len(),
        _ => 0,
    };
    encode(&WireRequest::Learn(*request), out, learn_frame_len(data))
}

/// Writes the answer to a learning request as a frame into `out` and returns the frame,
/// terminator included.
///
/// # Errors
/// [`Error::BufferTooSmall`] if `out` is too short ([`learn_frame_len`] of a head chunk's
/// length always suffices; [`MAX_FRAME`] for a chunk of at most [`HEAD_CHUNK`]).
pub fn encode_learn_response<'a>(
    response: &LearnResponse<'_>,
    out: &'a mut [u8],
) -> Result<&'a [u8], Error> {
    let data = match response.reply {
        LearnReply::Head { data, .. } => data.len(),
        _ => 0,
    };
    let message = WireResponse {
        id: response.id,
        body: WireBody::Learn(response.reply),
    };
    encode(&message, out, learn_frame_len(data))
}

/// Reads a digit request, in either form, from one frame, with or without its terminator.
/// COBS is undone in place, so `frame` holds garbage afterwards. A tensor request is
/// [`FrameError::Malformed`] here: a board that takes both reads [`decode_any_request`].
///
/// # Errors
/// The [`FrameError`] that says what is wrong with the frame.
pub fn decode_request(frame: &mut [u8]) -> Result<Request, FrameError> {
    match decode_any_request(frame)? {
        AnyRequest::Digit(request) => Ok(request),
        AnyRequest::Tensor(_) | AnyRequest::Learn(_) => Err(FrameError::Malformed),
    }
}

/// Reads a request of either kind from one frame; see [`decode_request`]. A tensor request
/// borrows its data from `frame`; its length is the host's business and the board's check
/// (a multiple of the element size is not checked here).
///
/// # Errors
/// The [`FrameError`] that says what is wrong with the frame.
pub fn decode_any_request(frame: &mut [u8]) -> Result<AnyRequest<'_>, FrameError> {
    match decode(frame)? {
        WireRequest::Raw(request) => Ok(AnyRequest::Digit(request)),
        WireRequest::ZeroRuns { id, runs } => {
            let mut pixels = [0u8; IMAGE_PIXELS];
            expand_zero_runs(runs, &mut pixels)?;
            Ok(AnyRequest::Digit(Request { id, pixels }))
        }
        WireRequest::Tensor(request) => Ok(AnyRequest::Tensor(request)),
        WireRequest::Learn(request) => Ok(AnyRequest::Learn(request)),
    }
}

/// Reads a response of either kind from one frame, with or without its terminator; see
/// [`decode_request`].
///
/// # Errors
/// The [`FrameError`] that says what is wrong with the frame.
pub fn decode_any_response(frame: &mut [u8]) -> Result<AnyResponse<'_>, FrameError> {
    let WireResponse { id, body } = decode(frame)?;
    Ok(match body {
        WireBody::Prediction {
            class,
            probabilities,
        } => AnyResponse::Digit(Response {
            id,
            body: ResponseBody::Prediction {
                class,
                probabilities,
            },
        }),
        WireBody::Error(e) => AnyResponse::Digit(Response {
            id,
            body: ResponseBody::Error(e),
        }),
        WireBody::Tensor { element, data } => {
            AnyResponse::Tensor(TensorResponse { id, element, data })
        }
        WireBody::Learn(reply) => AnyResponse::Learn(LearnResponse { id, reply }),
    })
}

/// Reads a digit response from one frame, with or without its terminator; see
/// [`decode_request`]. A tensor response is [`FrameError::Malformed`] here.
///
/// # Errors
/// The [`FrameError`] that says what is wrong with the frame.
pub fn decode_response(frame: &mut [u8]) -> Result<Response, FrameError> {
    decode(frame)
}

/// postcard → CRC → COBS → terminator, in one pass through postcard's flavors: the CRC flavor
/// sees the message bytes and appends their checksum, the COBS flavor below it encodes both.
fn encode<'a, T: Serialize>(
    message: &T,
    out: &'a mut [u8],
    enough: usize,
) -> Result<&'a [u8], Error> {
    use postcard::ser_flavors::{Cobs, Slice, crc::CrcModifier};
    let too_small = Error::BufferTooSmall {
        needed: enough,
        found: out.len(),
    };
    let cobs = Cobs::try_new(Slice::new(out)).map_err(|_| too_small)?;
    postcard::serialize_with_flavor(message, CrcModifier::new(cobs, CRC.digest()))
        .map(|frame: &'a mut [u8]| &*frame)
        .map_err(|_| too_small)
}

/// The inverse of [`encode`], checking each layer: COBS, then the CRC, then postcard, and
/// insisting that the message fills the frame exactly.
fn decode<'de, T: Deserialize<'de>>(frame: &'de mut [u8]) -> Result<T, FrameError> {
    let encoded = match frame {
        [rest @ .., 0] => rest,
        all => all,
    };
    if encoded.is_empty() {
        return Err(FrameError::Truncated);
    }
    // A zero inside would end the frame early: the decoder would silently drop the rest.
    if encoded.contains(&0) {
        return Err(FrameError::Corrupt);
    }
    let len = cobs::decode_in_place(encoded).map_err(|_| FrameError::Corrupt)?;
    let decoded: &'de [u8] = encoded.get(..len).ok_or(FrameError::Corrupt)?;
    let (message, crc) = decoded
        .split_last_chunk::<CRC_LEN>()
        .ok_or(FrameError::Truncated)?;
    if CRC.checksum(message) != u32::from_le_bytes(*crc) {
        return Err(FrameError::BadCrc);
    }
    let (value, rest) = postcard::take_from_bytes(message).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => FrameError::Truncated,
        _ => FrameError::Malformed,
    })?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(FrameError::Malformed)
    }
}

/// Collects bytes from a serial line into frames in a fixed `N`-byte buffer.
///
/// `FrameReader<MAX_REQUEST_FRAME>` (or [`MAX_FRAME`]) holds any request frame. Empty frames
/// (two zeros in a row) are skipped, so a host may send a lone `0x00` first to end whatever
/// garbage the board has seen.
#[derive(Clone, Debug)]
pub struct FrameReader<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// The current frame outgrew `buf`: drop bytes until the terminator, then report it.
    overflowed: bool,
}

impl<const N: usize> Default for FrameReader<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameReader<N> {
    /// An empty reader.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    /// Takes one byte from the line. At a `0x00` that ends a non-empty frame, returns the
    /// frame without its terminator (pass it to [`decode_request`] or [`decode_response`]),
    /// or [`FrameError::Oversized`] if it did not fit in `N` bytes; otherwise `None`. The
    /// next byte starts a new frame either way.
    pub fn push(&mut self, byte: u8) -> Option<Result<&mut [u8], FrameError>> {
        if byte == 0 {
            let len = core::mem::take(&mut self.len);
            if core::mem::take(&mut self.overflowed) {
                return Some(Err(FrameError::Oversized));
            }
            if len == 0 {
                return None;
            }
            return self.buf.get_mut(..len).map(Ok);
        }
        if !self.overflowed {
            match self.buf.get_mut(self.len) {
                Some(slot) => {
                    *slot = byte;
                    self.len += 1;
                }
                None => {
                    self.overflowed = true;
                    self.len = 0;
                }
            }
        }
        None
    }
}

/// serde for `[u8; N]` beyond serde's 32-element limit, as a tuple: postcard writes the `N`
/// bytes as they are, with no length prefix.
mod byte_array {
    use core::fmt;

    use serde::de::{self, SeqAccess, Visitor};
    use serde::ser::SerializeTuple;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut tuple = s.serialize_tuple(N)?;
        for b in bytes {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        struct Bytes<const N: usize>;

        impl<'de, const N: usize> Visitor<'de> for Bytes<N> {
            type Value = [u8; N];

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{N} bytes")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
                let mut out = [0u8; N];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(out)
            }
        }

        d.deserialize_tuple(N, Bytes::<N>)
    }
}
